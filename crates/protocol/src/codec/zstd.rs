//! zstd: standard zstd frames (RFC 8878), as zstd-jni and librdkafka write them.

use zstd::stream::read::Decoder;
use zstd::zstd_safe;

use super::{CappedVec, CodecError, Compression};

/// Kafka's default `compression.zstd.level`.
const LEVEL: i32 = 3;
/// Smallest window accepted whatever the cap: 8 MiB covers the windows streaming encoders
/// declare at levels 1..=19 (Java's zstd-jni writes frames without a content size, so the
/// window comes from the level table rather than from the payload size).
const MIN_WINDOW_LOG: u32 = 23;
/// zstd's own default limit (128 MiB); frames needing more are refused.
const MAX_WINDOW_LOG: u32 = 27;

pub(super) fn decompress(input: &[u8], out: &mut CappedVec) -> Result<(), CodecError> {
    // A declared content size is only used to refuse early, never to preallocate.
    if let Ok(Some(size)) = zstd_safe::get_frame_content_size(input) {
        if size > out.limit() as u64 {
            return Err(CodecError::OutputTooLarge { limit: out.limit() });
        }
    }
    let corrupt = |e: std::io::Error| CodecError::corrupt(Compression::Zstd, e);
    let mut decoder = Decoder::with_buffer(input).map_err(corrupt)?;
    decoder
        .window_log_max(window_log_for(out.limit()))
        .map_err(corrupt)?;
    out.read_from(decoder, Compression::Zstd)
}

/// The largest window worth allowing for an output of at most `limit` bytes.
fn window_log_for(limit: usize) -> u32 {
    let ceil_log2 = usize::BITS - limit.saturating_sub(1).leading_zeros();
    ceil_log2.clamp(MIN_WINDOW_LOG, MAX_WINDOW_LOG)
}

pub(super) fn compress(input: &[u8]) -> Result<Vec<u8>, CodecError> {
    zstd::bulk::compress(input, LEVEL).map_err(|e| CodecError::compress(Compression::Zstd, e))
}
