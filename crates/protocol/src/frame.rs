//! Request frame length checks: the 4-byte big-endian size prefix of every Kafka request.

/// Kafka's `socket.request.max.bytes` default.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 104_857_600;

/// Frame cap before authentication, Kafka's `sasl.server.max.receive.size` default.
pub const PRE_AUTH_MAX_BYTES: usize = 524_288;

/// How large a request frame may be on a connection in its current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLimits {
    pub max_bytes: usize,
}

impl FrameLimits {
    /// The limit for authenticated connections.
    pub const AUTHENTICATED: FrameLimits = FrameLimits {
        max_bytes: DEFAULT_MAX_REQUEST_BYTES,
    };

    /// The limit before authentication has completed.
    pub const PRE_AUTH: FrameLimits = FrameLimits {
        max_bytes: PRE_AUTH_MAX_BYTES,
    };

    /// Checks a size prefix against this limit.
    pub fn check(&self, raw: i32) -> Result<usize, FrameError> {
        check_frame_len(raw, self.max_bytes)
    }
}

impl Default for FrameLimits {
    fn default() -> Self {
        Self::AUTHENTICATED
    }
}

/// Why a frame's size prefix was rejected; the connection should be closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("negative frame size {0}")]
    Negative(i32),
    #[error("frame size {size} exceeds the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
}

/// Validates a frame's size prefix and returns the body length to read.
///
/// Like Kafka, a negative size or one above `limit` is rejected; a zero size is accepted here
/// and then fails request-header parsing.
pub fn check_frame_len(raw: i32, limit: usize) -> Result<usize, FrameError> {
    let size = usize::try_from(raw).map_err(|_| FrameError::Negative(raw))?;
    if size > limit {
        return Err(FrameError::TooLarge { size, limit });
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_size_is_rejected() {
        assert_eq!(check_frame_len(-1, 100), Err(FrameError::Negative(-1)));
        assert_eq!(
            check_frame_len(i32::MIN, 100),
            Err(FrameError::Negative(i32::MIN))
        );
    }

    #[test]
    fn size_above_limit_is_rejected_and_limit_itself_accepted() {
        assert_eq!(check_frame_len(524_288, PRE_AUTH_MAX_BYTES), Ok(524_288));
        assert_eq!(
            FrameLimits::PRE_AUTH.check(524_289),
            Err(FrameError::TooLarge {
                size: 524_289,
                limit: PRE_AUTH_MAX_BYTES
            })
        );
        assert_eq!(
            FrameLimits::default().check(i32::MAX),
            Err(FrameError::TooLarge {
                size: i32::MAX as usize,
                limit: DEFAULT_MAX_REQUEST_BYTES
            })
        );
    }

    #[test]
    fn zero_size_passes_the_frame_check() {
        assert_eq!(check_frame_len(0, 10), Ok(0));
    }
}
