//! snappy: the xerial framing the Java client writes (`SnappyOutputStream`): a 16-byte header
//! (`\x82SNAPPY\0`, version 1, compatible version 1, both i32 big-endian) and then blocks, each
//! an i32 big-endian length and one raw snappy block of at most 32 KiB input. Input without the
//! header is decoded as one raw snappy block, as xerial's `SnappyInputStream` does.

use snap::raw::{decompress_len, max_compress_len, Decoder, Encoder};

use super::{CappedVec, CodecError, Compression};

const MAGIC: &[u8; 8] = b"\x82SNAPPY\0";
const HEADER_LEN: usize = 16;
/// xerial's default block size, which the Java client uses.
const BLOCK_SIZE: usize = 32 * 1024;
const VERSION: i32 = 1;
const MIN_COMPATIBLE_VERSION: i32 = 1;

fn corrupt(detail: impl ToString) -> CodecError {
    CodecError::corrupt(Compression::Snappy, detail)
}

fn be_i32(bytes: &[u8]) -> Option<i32> {
    Some(i32::from_be_bytes(bytes.get(..4)?.try_into().ok()?))
}

/// The blocks after a valid xerial header, or `None` when `input` is raw snappy.
fn framed_body(input: &[u8]) -> Result<Option<&[u8]>, CodecError> {
    if input.len() < HEADER_LEN || !input.starts_with(MAGIC) {
        return Ok(None);
    }
    let version = be_i32(input.get(8..).unwrap_or_default()).unwrap_or_default();
    if version < MIN_COMPATIBLE_VERSION {
        return Err(corrupt(format!("unsupported xerial version `{version}`")));
    }
    Ok(input.get(HEADER_LEN..))
}

pub(super) fn decompress(input: &[u8], out: &mut CappedVec) -> Result<(), CodecError> {
    let Some(mut rest) = framed_body(input)? else {
        return decode_block(input, out);
    };
    while !rest.is_empty() {
        // xerial tolerates a second stream header where a block length would be.
        if let Some(body) = framed_body(rest)? {
            rest = body;
            continue;
        }
        let len = be_i32(rest).ok_or_else(|| corrupt("truncated block length"))?;
        let len =
            usize::try_from(len).map_err(|_| corrupt(format!("negative block length `{len}`")))?;
        let block = rest
            .get(4..4 + len)
            .ok_or_else(|| corrupt("block runs past the end of the data"))?;
        decode_block(block, out)?;
        rest = rest.get(4 + len..).unwrap_or_default();
    }
    Ok(())
}

/// Decodes one raw snappy block. Its declared length is checked against the cap before any
/// byte is reserved for it.
fn decode_block(block: &[u8], out: &mut CappedVec) -> Result<(), CodecError> {
    let len = decompress_len(block).map_err(corrupt)?;
    let dst = out.zeroed_tail(len)?;
    let written = Decoder::new().decompress(block, dst).map_err(corrupt)?;
    if written != len {
        return Err(corrupt("block shorter than its declared length"));
    }
    Ok(())
}

pub(super) fn compress(input: &[u8]) -> Result<Vec<u8>, CodecError> {
    let fail = |e: snap::Error| CodecError::compress(Compression::Snappy, e);
    let blocks = input.len().div_ceil(BLOCK_SIZE);
    let mut out = Vec::with_capacity(HEADER_LEN + blocks * (4 + max_compress_len(BLOCK_SIZE)));
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_be_bytes());
    out.extend_from_slice(&MIN_COMPATIBLE_VERSION.to_be_bytes());
    let mut encoder = Encoder::new();
    for chunk in input.chunks(BLOCK_SIZE) {
        let compressed = encoder.compress_vec(chunk).map_err(fail)?;
        let len = i32::try_from(compressed.len())
            .map_err(|_| CodecError::compress(Compression::Snappy, "block too large"))?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&compressed);
    }
    Ok(out)
}
