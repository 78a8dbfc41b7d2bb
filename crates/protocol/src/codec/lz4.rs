//! LZ4: the standard LZ4 frame format. The Java client writes independent 64 KiB blocks
//! without checksums or content size; librdkafka (liblz4) may add a content checksum and
//! content size; both, and linked blocks and block checksums, decode here.

use std::io::Read;

use lz4_flex::frame::{BlockMode, BlockSize, FrameDecoder, FrameEncoder, FrameInfo};

use super::{CappedWriter, CodecError, Compression};

/// Magic number, FLG, BD and header checksum: the shortest frame header.
const MIN_FRAME_LEN: usize = 7;
/// The LZ4 frame magic number as it appears on the wire (little-endian 0x184D2204).
const MAGIC: [u8; 4] = [0x04, 0x22, 0x4d, 0x18];
/// The legacy frame magic (0x184C2102): 8 MiB blocks, written by `lz4 -l`, never by a Kafka
/// client (the Java client and librdkafka write the standard frame format). Refused, so the
/// decoder's buffers stay within what [`working_memory`] reports.
const LEGACY_MAGIC: [u8; 4] = [0x02, 0x21, 0x4c, 0x18];
/// The largest block the format allows (block size id 7).
const MAX_BLOCK: usize = 4 << 20;
/// The dictionary a linked-block decoder keeps beside its output block.
const WINDOW: usize = 64 * 1024;
/// Encoder: one 64 KiB input block, its compressed form and the hash table.
pub(super) const ENCODER_MEMORY: usize = 256 * 1024;

/// The largest block a frame starting at `frame` may hold, from its BD byte; the format's
/// largest for anything that is not a plain LZ4 frame header (skippable frames, garbage).
fn block_size(frame: &[u8]) -> usize {
    if frame.get(..4) != Some(&MAGIC[..]) {
        return MAX_BLOCK;
    }
    match frame.get(5).map(|bd| (bd >> 4) & 0x07) {
        Some(4) => 64 * 1024,
        Some(5) => 256 * 1024,
        Some(6) => 1 << 20,
        _ => MAX_BLOCK,
    }
}

/// The decoder keeps the compressed block and, for linked blocks, two output blocks and the
/// dictionary: sized by the first frame's declared block size. Later frames may not declare
/// a larger one ([`Frames`] refuses them), so this holds for the whole payload.
pub(super) fn working_memory(input: &[u8]) -> Result<usize, CodecError> {
    Ok(3 * block_size(input) + WINDOW)
}

/// Every frame of a payload in turn (concatenated frames are legal in the format). The
/// frame's content size is never used to size a buffer: the decoder works block by block.
pub(super) struct Frames<'a> {
    decoder: Option<FrameDecoder<&'a [u8]>>,
    rest: &'a [u8],
    max_block: usize,
}

impl<'a> Frames<'a> {
    pub(super) fn new(input: &'a [u8]) -> Result<Self, CodecError> {
        Ok(Self {
            decoder: None,
            rest: input,
            max_block: block_size(input),
        })
    }

    pub(super) fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let Some(decoder) = &mut self.decoder else {
                if self.rest.is_empty() {
                    return Ok(0);
                }
                // The decoder reads a stream that ends inside a frame header as a clean end.
                if self.rest.len() < MIN_FRAME_LEN {
                    return Err(corrupt("truncated frame header"));
                }
                if self.rest.starts_with(&LEGACY_MAGIC) {
                    return Err(corrupt("legacy LZ4 frames are not a Kafka format"));
                }
                if block_size(self.rest) > self.max_block {
                    return Err(corrupt("frame declares larger blocks than the first frame"));
                }
                self.decoder = Some(FrameDecoder::new(self.rest));
                continue;
            };
            let n = decoder.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            let after = self.decoder.take().map(FrameDecoder::into_inner);
            let after = after.unwrap_or_default();
            if after.len() >= self.rest.len() {
                return Err(corrupt("frame made no progress"));
            }
            self.rest = after;
        }
    }
}

fn corrupt(detail: &str) -> std::io::Error {
    std::io::Error::other(CodecError::corrupt(Compression::Lz4, detail))
}

/// Writes one frame as Kafka's `Lz4BlockOutputStream` does: independent 64 KiB blocks, no
/// block or content checksum, no content size (its reader supports only independent blocks).
pub(super) fn writer(out: CappedWriter) -> FrameEncoder<CappedWriter> {
    let info = FrameInfo::new()
        .block_size(BlockSize::Max64KB)
        .block_mode(BlockMode::Independent);
    FrameEncoder::with_frame_info(info, out)
}
