//! LZ4: the standard LZ4 frame format. The Java client writes independent 64 KiB blocks
//! without checksums or content size; librdkafka (liblz4) may add a content checksum and
//! content size; both, and linked blocks and block checksums, decode here.

use std::io::Write;

use lz4_flex::frame::{BlockMode, BlockSize, FrameDecoder, FrameEncoder, FrameInfo};

use super::{CappedVec, CodecError, Compression};

/// Magic number, FLG, BD and header checksum: the shortest frame header.
const MIN_FRAME_LEN: usize = 7;

/// Decodes every frame in `input` (concatenated frames are legal in the format). The frame's
/// content size is never used to size a buffer: the decoder works block by block (blocks are
/// at most 4 MiB) and the output is capped by `out`.
pub(super) fn decompress(input: &[u8], out: &mut CappedVec) -> Result<(), CodecError> {
    let mut rest = input;
    while !rest.is_empty() {
        // The decoder reads a stream that ends inside a frame header as a clean end.
        if rest.len() < MIN_FRAME_LEN {
            return Err(CodecError::corrupt(
                Compression::Lz4,
                "truncated frame header",
            ));
        }
        let mut decoder = FrameDecoder::new(rest);
        out.read_from(&mut decoder, Compression::Lz4)?;
        let after = decoder.into_inner();
        if after.len() >= rest.len() {
            return Err(CodecError::corrupt(
                Compression::Lz4,
                "frame made no progress",
            ));
        }
        rest = after;
    }
    Ok(())
}

/// Writes one frame as Kafka's `Lz4BlockOutputStream` does: independent 64 KiB blocks, no
/// block or content checksum, no content size (its reader supports only independent blocks).
pub(super) fn compress(input: &[u8]) -> Result<Vec<u8>, CodecError> {
    let fail = |e: std::io::Error| CodecError::compress(Compression::Lz4, e);
    let info = FrameInfo::new()
        .block_size(BlockSize::Max64KB)
        .block_mode(BlockMode::Independent);
    let mut encoder = FrameEncoder::with_frame_info(info, Vec::new());
    encoder.write_all(input).map_err(fail)?;
    encoder
        .finish()
        .map_err(|e| CodecError::compress(Compression::Lz4, e))
}
