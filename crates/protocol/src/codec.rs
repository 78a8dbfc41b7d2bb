//! The four compression codecs of Kafka's v2 record batches, with the output of every
//! decompression capped.
//!
//! Wire formats are those the Java client and librdkafka produce: gzip members, snappy in
//! xerial framing (raw snappy accepted on input), the standard LZ4 frame format and standard
//! zstd frames.
//!
//! INVARIANT: `decompress` never holds more than `max_output` bytes of output (length and
//! capacity), plus bounded per-codec working memory: a 64 KiB scratch buffer, gzip's 32 KiB
//! window, LZ4 block buffers (blocks are at most 4 MiB, so about 12 MiB at worst), or a zstd
//! window of the next power of two >= `max_output`, at least 8 MiB and at most 128 MiB. No size
//! field read from a compressed stream sizes an allocation before it is checked against the cap.

mod gzip;
mod lz4;
mod snappy;
mod zstd;

use std::io::{ErrorKind, Read};

pub use schloss_model::batch::Compression;

/// Why a payload could not be compressed or decompressed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("decompressed output exceeds the limit of {limit} bytes")]
    OutputTooLarge { limit: usize },
    #[error("invalid {codec} data: {detail}")]
    Corrupt { codec: &'static str, detail: String },
    #[error("{codec} compression failed: {detail}")]
    Compress { codec: &'static str, detail: String },
}

impl CodecError {
    pub(crate) fn corrupt(codec: Compression, detail: impl ToString) -> Self {
        Self::Corrupt {
            codec: codec.name(),
            detail: detail.to_string(),
        }
    }

    pub(crate) fn compress(codec: Compression, detail: impl ToString) -> Self {
        Self::Compress {
            codec: codec.name(),
            detail: detail.to_string(),
        }
    }
}

/// Decompresses `input`, failing with [`CodecError::OutputTooLarge`] as soon as the output
/// would exceed `max_output` bytes. Empty input decodes to empty output for every codec (Kafka
/// writes header-only batches when compaction empties one).
pub fn decompress(
    codec: Compression,
    input: &[u8],
    max_output: usize,
) -> Result<Vec<u8>, CodecError> {
    let mut out = CappedVec::new(max_output);
    if input.is_empty() {
        return Ok(out.into_vec());
    }
    match codec {
        Compression::None => out.extend(input)?,
        Compression::Gzip => gzip::decompress(input, &mut out)?,
        Compression::Snappy => snappy::decompress(input, &mut out)?,
        Compression::Lz4 => lz4::decompress(input, &mut out)?,
        Compression::Zstd => zstd::decompress(input, &mut out)?,
    }
    Ok(out.into_vec())
}

/// Compresses `input` the way the Java client does with its default levels: gzip level 6
/// (`compression.gzip.level=-1`, zlib's default), snappy in 32 KiB xerial blocks, LZ4 frames
/// with independent 64 KiB blocks and no checksums (lz4_flex has no high-compression mode, so
/// `compression.lz4.level=9` is not reproduced), zstd level 3.
pub fn compress(codec: Compression, input: &[u8]) -> Result<Vec<u8>, CodecError> {
    match codec {
        Compression::None => Ok(input.to_vec()),
        Compression::Gzip => gzip::compress(input),
        Compression::Snappy => snappy::compress(input),
        Compression::Lz4 => lz4::compress(input),
        Compression::Zstd => zstd::compress(input),
    }
}

/// Smallest capacity step, so that tiny outputs do not reallocate byte by byte.
const MIN_GROWTH: usize = 4 * 1024;
/// Size of the scratch buffer streaming decoders are drained through.
const SCRATCH_LEN: usize = 64 * 1024;

/// An output buffer that refuses to grow past `limit` bytes, in length or in capacity.
pub(crate) struct CappedVec {
    buf: Vec<u8>,
    limit: usize,
}

impl CappedVec {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            buf: Vec::new(),
            limit,
        }
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    pub(crate) fn into_vec(self) -> Vec<u8> {
        self.buf
    }

    /// Makes room for `additional` more bytes, or fails if they would pass the limit.
    fn reserve(&mut self, additional: usize) -> Result<(), CodecError> {
        let too_large = CodecError::OutputTooLarge { limit: self.limit };
        let needed = self
            .buf
            .len()
            .checked_add(additional)
            .filter(|n| *n <= self.limit)
            .ok_or(too_large)?;
        if needed > self.buf.capacity() {
            // INVARIANT: capacity stays <= limit: grow geometrically, clamped to the limit.
            let target = needed
                .max(self.buf.capacity().saturating_mul(2))
                .max(MIN_GROWTH)
                .min(self.limit);
            self.buf.reserve_exact(target - self.buf.len());
        }
        Ok(())
    }

    pub(crate) fn extend(&mut self, data: &[u8]) -> Result<(), CodecError> {
        self.reserve(data.len())?;
        self.buf.extend_from_slice(data);
        Ok(())
    }

    /// Appends `len` zero bytes and returns them for a block decoder to fill.
    pub(crate) fn zeroed_tail(&mut self, len: usize) -> Result<&mut [u8], CodecError> {
        self.reserve(len)?;
        let start = self.buf.len();
        self.buf.resize(start + len, 0);
        Ok(self.buf.get_mut(start..).unwrap_or_default())
    }

    /// Drains a streaming decoder into the buffer, stopping at the first chunk that would pass
    /// the limit.
    pub(crate) fn read_from(
        &mut self,
        mut reader: impl Read,
        codec: Compression,
    ) -> Result<(), CodecError> {
        let mut scratch = vec![0u8; SCRATCH_LEN];
        loop {
            match reader.read(&mut scratch) {
                Ok(0) => return Ok(()),
                Ok(n) => self.extend(scratch.get(..n).unwrap_or_default())?,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(CodecError::corrupt(codec, e)),
            }
        }
    }
}
