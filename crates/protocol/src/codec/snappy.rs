//! snappy: the xerial framing the Java client writes (`SnappyOutputStream`): a 16-byte header
//! (`\x82SNAPPY\0`, version 1, compatible version 1, both i32 big-endian) and then blocks, each
//! an i32 big-endian length and one raw snappy block of at most 32 KiB input. Input without the
//! header is decoded as one raw snappy block, as xerial's `SnappyInputStream` does.

use snap::raw::{decompress_len, max_compress_len, Decoder, Encoder};

use super::{CappedWriter, CodecError, Compression};

const MAGIC: &[u8; 8] = b"\x82SNAPPY\0";
const HEADER_LEN: usize = 16;
/// xerial's default block size, which the Java client uses.
const BLOCK_SIZE: usize = 32 * 1024;
const VERSION: i32 = 1;
const MIN_COMPATIBLE_VERSION: i32 = 1;
/// Encoder: the pending input block, its compressed form and the hash table.
pub(super) const ENCODER_MEMORY: usize = 128 * 1024;

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

/// One raw block of a framed body, and the bytes after it.
type Block<'a> = (&'a [u8], &'a [u8]);

/// The next raw block of a framed body and what follows it, or `None` at the end. xerial
/// tolerates a second stream header where a block length would be.
fn next_block(mut rest: &[u8]) -> Result<Option<Block<'_>>, CodecError> {
    loop {
        if rest.is_empty() {
            return Ok(None);
        }
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
        return Ok(Some((block, rest.get(4 + len..).unwrap_or_default())));
    }
}

/// A raw block's declared output length, refused if it passes the limit.
fn block_len(block: &[u8], limit: usize) -> Result<usize, CodecError> {
    let len = decompress_len(block).map_err(corrupt)?;
    if len > limit {
        return Err(CodecError::OutputTooLarge { limit });
    }
    Ok(len)
}

/// The largest block's output: raw snappy holds the whole output in one block, so a block
/// is decoded whole. Walks the block lengths only (no decoding).
pub(super) fn working_memory(input: &[u8], limit: usize) -> Result<usize, CodecError> {
    let Some(mut rest) = framed_body(input)? else {
        return block_len(input, limit);
    };
    let mut largest = 0;
    while let Some((block, after)) = next_block(rest)? {
        largest = largest.max(block_len(block, limit)?);
        rest = after;
    }
    Ok(largest)
}

/// Decodes one block at a time into a reused buffer and hands it out in pieces.
pub(super) struct Blocks<'a> {
    /// Framed blocks still to decode, or the one raw block.
    rest: &'a [u8],
    framed: bool,
    limit: usize,
    block: Vec<u8>,
    pos: usize,
    decoder: Decoder,
}

impl<'a> Blocks<'a> {
    pub(super) fn new(input: &'a [u8], limit: usize) -> Result<Self, CodecError> {
        let (rest, framed) = match framed_body(input)? {
            Some(body) => (body, true),
            None => (input, false),
        };
        Ok(Self {
            rest,
            framed,
            limit,
            block: Vec::new(),
            pos: 0,
            decoder: Decoder::new(),
        })
    }

    pub(super) fn read(&mut self, buf: &mut [u8]) -> Result<usize, CodecError> {
        while self.pos >= self.block.len() {
            if !self.next()? {
                return Ok(0);
            }
        }
        let available = self.block.get(self.pos..).unwrap_or_default();
        let n = available.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), available.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.pos += n;
        Ok(n)
    }

    /// Decodes the next block; `false` at the end.
    fn next(&mut self) -> Result<bool, CodecError> {
        let raw = if self.framed {
            match next_block(self.rest)? {
                Some((block, after)) => {
                    self.rest = after;
                    block
                }
                None => return Ok(false),
            }
        } else if self.rest.is_empty() {
            return Ok(false);
        } else {
            std::mem::take(&mut self.rest)
        };
        // Its declared length is checked against the limit before any byte is reserved.
        let len = block_len(raw, self.limit)?;
        self.block.clear();
        // Exactly the block: growing by doubling could hold up to twice the largest one.
        self.block.reserve_exact(len);
        self.block.resize(len, 0);
        let written = self
            .decoder
            .decompress(raw, &mut self.block)
            .map_err(corrupt)?;
        if written != len {
            return Err(corrupt("block shorter than its declared length"));
        }
        self.pos = 0;
        Ok(true)
    }
}

/// xerial framing: the header, then one length-prefixed raw block per 32 KiB of input.
pub(super) struct Writer {
    out: CappedWriter,
    pending: Vec<u8>,
    encoder: Encoder,
}

impl Writer {
    pub(super) fn new(mut out: CappedWriter) -> Result<Self, CodecError> {
        out.append(MAGIC)?;
        out.append(&VERSION.to_be_bytes())?;
        out.append(&MIN_COMPATIBLE_VERSION.to_be_bytes())?;
        Ok(Self {
            out,
            pending: Vec::with_capacity(BLOCK_SIZE),
            encoder: Encoder::new(),
        })
    }

    pub(super) fn write(&mut self, mut data: &[u8]) -> Result<(), CodecError> {
        while !data.is_empty() {
            let take = (BLOCK_SIZE - self.pending.len()).min(data.len());
            let (now, later) = data.split_at(take);
            self.pending.extend_from_slice(now);
            data = later;
            if self.pending.len() == BLOCK_SIZE {
                self.flush_block()?;
            }
        }
        Ok(())
    }

    pub(super) fn finish(mut self) -> Result<CappedWriter, CodecError> {
        if !self.pending.is_empty() {
            self.flush_block()?;
        }
        Ok(self.out)
    }

    fn flush_block(&mut self) -> Result<(), CodecError> {
        let fail = |e: snap::Error| CodecError::compress(Compression::Snappy, e);
        let mut compressed = vec![0u8; max_compress_len(self.pending.len())];
        let n = self
            .encoder
            .compress(&self.pending, &mut compressed)
            .map_err(fail)?;
        let block = compressed.get(..n).unwrap_or_default();
        let len = i32::try_from(block.len())
            .map_err(|_| CodecError::compress(Compression::Snappy, "block too large"))?;
        self.out.append(&len.to_be_bytes())?;
        self.out.append(block)?;
        self.pending.clear();
        Ok(())
    }
}
