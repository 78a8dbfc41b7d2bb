//! zstd: standard zstd frames (RFC 8878), as zstd-jni and librdkafka write them.

use zstd::stream::read::Decoder;
use zstd::stream::write::Encoder;
use zstd::zstd_safe;

use super::{CappedWriter, CodecError, Compression};

/// Kafka's default `compression.zstd.level`.
const LEVEL: i32 = 3;
/// Smallest window accepted whatever the cap: 8 MiB covers the windows streaming encoders
/// declare at levels 1..=19 (Java's zstd-jni writes frames without a content size, so the
/// window comes from the level table rather than from the payload size).
const MIN_WINDOW_LOG: u32 = 23;
/// zstd's own default limit (128 MiB); frames needing more are refused.
const MAX_WINDOW_LOG: u32 = 27;
/// zstd's smallest window (ZSTD_WINDOWLOG_ABSOLUTEMIN).
const ABSOLUTE_MIN_WINDOW_LOG: u32 = 10;
/// The frame magic number as it appears on the wire (little-endian 0xFD2FB528).
const MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
/// Beside its window a decoding context holds a 128 KiB block buffer and its own tables.
const DECODER_OVERHEAD: usize = 512 * 1024;
/// Level 3 without a pledged size: a 2 MiB window, hash and chain tables, stream buffers.
pub(super) const ENCODER_MEMORY: usize = 4 << 20;

/// The largest window worth allowing for an output of at most `limit` bytes.
fn window_log_for(limit: usize) -> u32 {
    ceil_log2(limit).clamp(MIN_WINDOW_LOG, MAX_WINDOW_LOG)
}

fn ceil_log2(n: usize) -> u32 {
    usize::BITS - n.saturating_sub(1).leading_zeros()
}

/// The window the first frame of `input` declares (RFC 8878 3.1.1.1: the window descriptor,
/// or the content size of a single-segment frame), as a power-of-two log; `None` when the
/// input does not start with a zstd frame header (a skippable frame, or garbage the decoder
/// will refuse).
fn declared_window_log(input: &[u8]) -> Option<u32> {
    if input.get(..4)? != &MAGIC[..] {
        return None;
    }
    let descriptor = *input.get(4)?;
    let single_segment = descriptor & 0x20 != 0;
    let window = if single_segment {
        let size = zstd_safe::get_frame_content_size(input).ok()??;
        usize::try_from(size).unwrap_or(usize::MAX)
    } else {
        let wd = *input.get(5)?;
        let base = 1usize.checked_shl(10 + u32::from(wd >> 3))?;
        base.checked_add((base >> 3).checked_mul(usize::from(wd & 0x07))?)?
    };
    Some(ceil_log2(window).max(ABSOLUTE_MIN_WINDOW_LOG))
}

/// The window the decoder will allow for `input`: what the frame declares, refused if that is
/// more than an output of `limit` bytes could need.
fn window_log(input: &[u8], limit: usize) -> Result<u32, CodecError> {
    // A declared content size is only used to refuse early, never to preallocate.
    if let Ok(Some(size)) = zstd_safe::get_frame_content_size(input) {
        if size > limit as u64 {
            return Err(CodecError::OutputTooLarge { limit });
        }
    }
    let allowed = window_log_for(limit);
    match declared_window_log(input) {
        Some(log) if log > allowed => Err(CodecError::corrupt(
            Compression::Zstd,
            format!("frame window of 2^{log} bytes exceeds the 2^{allowed} allowed"),
        )),
        Some(log) => Ok(log),
        None => Ok(allowed),
    }
}

pub(super) fn working_memory(input: &[u8], limit: usize) -> Result<usize, CodecError> {
    let log = window_log(input, limit)?;
    Ok((1usize << log).saturating_add(DECODER_OVERHEAD))
}

pub(super) fn reader(input: &[u8], limit: usize) -> Result<Decoder<'static, &[u8]>, CodecError> {
    let log = window_log(input, limit)?;
    let corrupt = |e: std::io::Error| CodecError::corrupt(Compression::Zstd, e);
    let mut decoder = Decoder::with_buffer(input).map_err(corrupt)?;
    // Later frames may not need a larger window than the first declared (and was charged).
    decoder.window_log_max(log).map_err(corrupt)?;
    Ok(decoder)
}

pub(super) fn writer(out: CappedWriter) -> Result<Encoder<'static, CappedWriter>, CodecError> {
    Encoder::new(out, LEVEL).map_err(|e| CodecError::compress(Compression::Zstd, e))
}
