//! The four compression codecs of Kafka's v2 record batches, as streams whose output is capped.
//!
//! Wire formats are those the Java client and librdkafka produce: gzip members, snappy in
//! xerial framing (raw snappy accepted on input), the standard LZ4 frame format and standard
//! zstd frames.
//!
//! The produce path never holds a whole decompressed batch: a [`Decompressor`] yields the
//! output chunk by chunk (the record walk in `records::stream` reads it through a small
//! buffer) and fails with [`CodecError::OutputTooLarge`] as soon as more than its limit has
//! come out; a [`Compressor`] writes into a buffer that refuses to grow past its own limit.
//! What each needs besides that (a zstd window, LZ4 or snappy block buffers, an encoder's
//! tables) is known before the first byte is decoded: [`decompression_memory`] and
//! [`compression_memory`] give it, so a caller can charge it to a memory pool first.
//!
//! INVARIANT: no size field read from a compressed stream sizes an allocation before it is
//! checked against the limit; a decoder's working memory never exceeds what
//! [`decompression_memory`] reported for the same input and limit.

mod gzip;
mod lz4;
mod snappy;
mod zstd;

use std::io::{ErrorKind, Read, Write};

pub use schloss_model::batch::Compression;

/// Why a payload could not be compressed or decompressed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("decompressed output exceeds the limit of {limit} bytes")]
    OutputTooLarge { limit: usize },
    #[error("compressed output exceeds the limit of {limit} bytes")]
    CompressedTooLarge { limit: usize },
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

    /// Our own error carried through an `io::Error` (a capped writer inside an encoder), or
    /// `fallback` for an error of the codec library.
    fn from_io(e: std::io::Error, fallback: impl FnOnce(std::io::Error) -> Self) -> Self {
        match e.get_ref().and_then(|inner| inner.downcast_ref::<Self>()) {
            Some(ours) => ours.clone(),
            None => fallback(e),
        }
    }
}

/// Size of the buffer a whole-output [`decompress`] drains the stream through.
const SCRATCH_LEN: usize = 64 * 1024;

/// Decompresses `input` into one buffer, failing with [`CodecError::OutputTooLarge`] as soon
/// as the output would exceed `max_output` bytes. Empty input decodes to empty output for
/// every codec (Kafka writes header-only batches when compaction empties one). For callers
/// that need the whole output (the metadata and offsets logs, tests); the produce path streams.
pub fn decompress(
    codec: Compression,
    input: &[u8],
    max_output: usize,
) -> Result<Vec<u8>, CodecError> {
    let mut stream = Decompressor::new(codec, input, max_output)?;
    let mut out = Vec::new();
    let mut scratch = vec![0u8; SCRATCH_LEN];
    loop {
        let n = stream.read(&mut scratch)?;
        if n == 0 {
            return Ok(out);
        }
        // INVARIANT: `read` has checked that the total stays within `max_output`.
        out.extend_from_slice(scratch.get(..n).unwrap_or_default());
    }
}

/// Compresses `input` the way the Java client does with its default levels: gzip level 6
/// (`compression.gzip.level=-1`, zlib's default), snappy in 32 KiB xerial blocks, LZ4 frames
/// with independent 64 KiB blocks and no checksums (lz4_flex has no high-compression mode, so
/// `compression.lz4.level=9` is not reproduced), zstd level 3.
pub fn compress(codec: Compression, input: &[u8]) -> Result<Vec<u8>, CodecError> {
    let mut compressor = Compressor::new(codec, usize::MAX)?;
    compressor.write(input)?;
    compressor.finish()
}

/// Working memory a [`Decompressor`] over `input` with output limit `max_output` may hold,
/// besides the caller's own read buffer: gzip's window and state, the largest snappy block
/// (raw snappy is one block holding the whole output), the LZ4 block buffers of the frame's
/// declared block size, the zstd window the frame declares. Fails early when a size the input
/// declares already passes the limit.
pub fn decompression_memory(
    codec: Compression,
    input: &[u8],
    max_output: usize,
) -> Result<usize, CodecError> {
    if input.is_empty() {
        return Ok(0);
    }
    match codec {
        Compression::None => Ok(0),
        Compression::Gzip => Ok(gzip::WORKING_MEMORY),
        Compression::Snappy => snappy::working_memory(input, max_output),
        Compression::Lz4 => lz4::working_memory(input),
        Compression::Zstd => zstd::working_memory(input, max_output),
    }
}

/// Working memory a [`Compressor`] for `codec` holds besides its output: the encoder's tables
/// and block buffers.
pub fn compression_memory(codec: Compression) -> usize {
    match codec {
        Compression::None => 0,
        Compression::Gzip => gzip::ENCODER_MEMORY,
        Compression::Snappy => snappy::ENCODER_MEMORY,
        Compression::Lz4 => lz4::ENCODER_MEMORY,
        Compression::Zstd => zstd::ENCODER_MEMORY,
    }
}

/// A decompressing stream over one payload whose total output may not pass `limit` bytes.
pub struct Decompressor<'a> {
    source: Source<'a>,
    codec: Compression,
    limit: usize,
    produced: usize,
}

enum Source<'a> {
    Plain(&'a [u8]),
    Gzip(Box<flate2::read::MultiGzDecoder<&'a [u8]>>),
    Snappy(snappy::Blocks<'a>),
    Lz4(lz4::Frames<'a>),
    Zstd(Box<::zstd::stream::read::Decoder<'static, &'a [u8]>>),
}

impl<'a> Decompressor<'a> {
    pub fn new(codec: Compression, input: &'a [u8], limit: usize) -> Result<Self, CodecError> {
        let source = if input.is_empty() {
            Source::Plain(input)
        } else {
            match codec {
                Compression::None => Source::Plain(input),
                Compression::Gzip => Source::Gzip(Box::new(gzip::reader(input))),
                Compression::Snappy => Source::Snappy(snappy::Blocks::new(input, limit)?),
                Compression::Lz4 => Source::Lz4(lz4::Frames::new(input)?),
                Compression::Zstd => Source::Zstd(Box::new(zstd::reader(input, limit)?)),
            }
        };
        Ok(Self {
            source,
            codec,
            limit,
            produced: 0,
        })
    }

    /// Bytes of output so far.
    pub fn produced(&self) -> usize {
        self.produced
    }

    /// Fills `buf` with the next output bytes; `Ok(0)` is the end of the stream.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, CodecError> {
        // Asking for one byte past the limit is how an over-long stream is detected without
        // producing more than a buffer's worth beyond it.
        let room = self.limit.saturating_sub(self.produced).saturating_add(1);
        let len = buf.len().min(room);
        let buf = buf.get_mut(..len).unwrap_or_default();
        let n = loop {
            let read = match &mut self.source {
                Source::Plain(rest) => rest.read(buf),
                Source::Gzip(r) => r.read(buf),
                Source::Lz4(r) => r.read(buf),
                Source::Zstd(r) => r.read(buf),
                Source::Snappy(r) => break r.read(buf)?,
            };
            match read {
                Ok(n) => break n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    let codec = self.codec;
                    return Err(CodecError::from_io(e, |e| CodecError::corrupt(codec, e)));
                }
            }
        };
        self.produced = self.produced.saturating_add(n);
        if self.produced > self.limit {
            return Err(CodecError::OutputTooLarge { limit: self.limit });
        }
        Ok(n)
    }
}

/// A compressing sink whose output may not pass `limit` bytes.
pub struct Compressor {
    sink: Sink,
    codec: Compression,
}

enum Sink {
    Plain(CappedWriter),
    Gzip(Box<flate2::write::GzEncoder<CappedWriter>>),
    Snappy(Box<snappy::Writer>),
    Lz4(Box<lz4_flex::frame::FrameEncoder<CappedWriter>>),
    Zstd(Box<::zstd::stream::write::Encoder<'static, CappedWriter>>),
}

impl Compressor {
    pub fn new(codec: Compression, limit: usize) -> Result<Self, CodecError> {
        let out = CappedWriter::new(limit);
        let sink = match codec {
            Compression::None => Sink::Plain(out),
            Compression::Gzip => Sink::Gzip(Box::new(gzip::writer(out))),
            Compression::Snappy => Sink::Snappy(Box::new(snappy::Writer::new(out)?)),
            Compression::Lz4 => Sink::Lz4(Box::new(lz4::writer(out))),
            Compression::Zstd => Sink::Zstd(Box::new(zstd::writer(out)?)),
        };
        Ok(Self { sink, codec })
    }

    pub fn write(&mut self, data: &[u8]) -> Result<(), CodecError> {
        let written = match &mut self.sink {
            Sink::Plain(w) => w.write_all(data),
            Sink::Gzip(w) => w.write_all(data),
            Sink::Lz4(w) => w.write_all(data),
            Sink::Zstd(w) => w.write_all(data),
            Sink::Snappy(w) => return w.write(data),
        };
        written.map_err(|e| self.error(e))
    }

    /// Ends the stream and returns the compressed bytes.
    pub fn finish(self) -> Result<Vec<u8>, CodecError> {
        let codec = self.codec;
        let fail = |e: std::io::Error| {
            CodecError::from_io(e, |e| CodecError::compress(codec, e.to_string()))
        };
        let out = match self.sink {
            Sink::Plain(w) => w,
            Sink::Gzip(w) => w.finish().map_err(fail)?,
            Sink::Lz4(w) => w.finish().map_err(|e| fail(e.into()))?,
            Sink::Zstd(w) => w.finish().map_err(fail)?,
            Sink::Snappy(w) => w.finish()?,
        };
        Ok(out.into_vec())
    }

    fn error(&self, e: std::io::Error) -> CodecError {
        CodecError::from_io(e, |e| CodecError::compress(self.codec, e))
    }
}

/// A `Vec` sink that refuses to grow past `limit` bytes, in length or in capacity.
pub(crate) struct CappedWriter {
    buf: Vec<u8>,
    limit: usize,
}

/// Smallest capacity step, so that tiny outputs do not reallocate byte by byte.
const MIN_GROWTH: usize = 4 * 1024;

impl CappedWriter {
    fn new(limit: usize) -> Self {
        Self {
            buf: Vec::new(),
            limit,
        }
    }

    fn into_vec(self) -> Vec<u8> {
        self.buf
    }

    pub(crate) fn append(&mut self, data: &[u8]) -> Result<(), CodecError> {
        let too_large = CodecError::CompressedTooLarge { limit: self.limit };
        let needed = self
            .buf
            .len()
            .checked_add(data.len())
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
        self.buf.extend_from_slice(data);
        Ok(())
    }
}

impl Write for CappedWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.append(data).map_err(std::io::Error::other)?;
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
