//! Records read straight from the decompressing stream: what the produce path runs on every
//! batch. Nothing larger than one read buffer of decompressed bytes is held (besides the
//! codec's own working memory, see [`batch_memory`]), however large the batch expands: keys
//! and values are skipped, not kept, and a recompression writes each decompressed chunk into
//! the new codec as it comes.

use schloss_model::batch::{BatchHeader, Compression, TimestampType, HEADER_LEN};

use super::body::{self, RecordInput};
use super::{checked_batch, seal, MalformedRecord, RecordError};
use crate::codec::{self, CodecError, Compressor, Decompressor};

/// The read buffer decompressed bytes pass through.
const READ_BUFFER: usize = 64 * 1024;
/// Small allocations beside it: the decoder's own structs, an error's message.
const BOOKKEEPING: usize = 4 * 1024;

/// Checks a whole batch (exactly `batch`) the way Kafka's log validator does before it is
/// stored: length and CRC32C, then its payload must decompress (within `max_uncompressed`)
/// into exactly the records it declares, each well formed, with nothing left over. Returns the
/// number of records.
pub fn check_records(batch: &[u8], max_uncompressed: usize) -> Result<usize, RecordError> {
    let (_, count) = walk(batch, max_uncompressed, None, |_| {})?;
    Ok(count)
}

/// Re-encodes one batch with the `target` codec (for a topic whose `compression.type` differs
/// from the producer's), checking it as [`check_records`] does. The records' bytes are the same
/// in every codec, so the decompressed stream is fed to the new codec as it is read. Header
/// fields other than codec, length and CRC are kept. The new batch may not pass `max_batch`
/// bytes ([`CodecError::CompressedTooLarge`] as soon as it would).
pub fn recompress_batch(
    batch: &[u8],
    target: Compression,
    max_uncompressed: usize,
    max_batch: usize,
) -> Result<Vec<u8>, RecordError> {
    let mut compressor = Compressor::new(target, max_batch.saturating_sub(HEADER_LEN))?;
    let (header, count) = walk(batch, max_uncompressed, Some(&mut compressor), |_| {})?;
    let payload = compressor.finish()?;
    seal(&header, count, target, &payload)
}

/// Each record's absolute offset and timestamp, in batch order. In a LogAppendTime batch every
/// record carries the batch's max timestamp, as in Kafka.
pub fn record_timestamps(
    batch: &[u8],
    max_uncompressed: usize,
) -> Result<Vec<(i64, i64)>, RecordError> {
    let header = BatchHeader::parse(batch)?;
    let log_append = header.timestamp_type() == TimestampType::LogAppendTime;
    // Not reserved from the declared count: one entry per record actually read.
    let mut stamps = Vec::new();
    walk(batch, max_uncompressed, None, |fields| {
        let offset = header
            .base_offset
            .wrapping_add(i64::from(fields.offset_delta));
        let timestamp = if log_append {
            header.max_timestamp
        } else {
            header.base_timestamp.wrapping_add(fields.timestamp_delta)
        };
        stamps.push((offset, timestamp));
    })?;
    Ok(stamps)
}

/// The memory a [`check_records`] (or, with `recompress = Some((target, max_batch))`, a
/// [`recompress_batch`]) of this batch holds at most: the read buffer, the decoder's working
/// memory for what the payload declares, and the encoder with its capped output. Known before
/// anything is decompressed, so the produce path charges it to the request memory pool first;
/// fails early where the payload already declares more output than `max_uncompressed`.
pub fn batch_memory(
    batch: &[u8],
    max_uncompressed: usize,
    recompress: Option<(Compression, usize)>,
) -> Result<usize, RecordError> {
    let header = BatchHeader::parse(batch)?;
    let payload = batch.get(HEADER_LEN..).unwrap_or_default();
    let decoder = codec::decompression_memory(header.compression()?, payload, max_uncompressed)?;
    let encoder = recompress.map_or(0, |(target, max_batch)| {
        codec::compression_memory(target).saturating_add(max_batch)
    });
    Ok((READ_BUFFER + BOOKKEEPING)
        .saturating_add(decoder)
        .saturating_add(encoder))
}

/// Walks every record of the batch, feeding the decompressed bytes to `tee` when given, and
/// calls `each` with each record's fields. Returns the header and the record count.
fn walk(
    batch: &[u8],
    max_uncompressed: usize,
    tee: Option<&mut Compressor>,
    mut each: impl FnMut(&body::Fields<()>),
) -> Result<(BatchHeader, usize), RecordError> {
    let (header, payload, count) = checked_batch(batch)?;
    let mut stream = Stream {
        source: Decompressor::new(header.compression()?, payload, max_uncompressed)?,
        buf: vec![0u8; READ_BUFFER],
        start: 0,
        end: 0,
        tee,
    };
    let malformed = |index| {
        move |e| match e {
            WalkError::Malformed(kind) => RecordError::Malformed { index, kind },
            WalkError::Codec(e) => RecordError::Codec(e),
        }
    };
    for index in 0..count {
        let fields = read_record(&mut stream).map_err(malformed(index))?;
        each(&fields);
    }
    match stream.skip_to_end()? {
        0 => Ok((header, count)),
        left => Err(RecordError::TrailingBytes(left)),
    }
}

/// One length-prefixed record; its fields are read within the declared length.
fn read_record(stream: &mut Stream) -> Result<body::Fields<()>, WalkError> {
    let len = body::length(&mut Record {
        stream: &mut *stream,
        left: usize::MAX,
    })?;
    let mut record = Record { stream, left: len };
    let fields = body::read_fields(&mut record, |_, (), _| {})?;
    if record.left != 0 {
        return Err(MalformedRecord::SizeMismatch {
            declared: len,
            consumed: len - record.left,
        }
        .into());
    }
    Ok(fields)
}

/// Why a streamed record could not be read: its bytes, or the stream under them.
enum WalkError {
    Malformed(MalformedRecord),
    Codec(CodecError),
}

impl From<MalformedRecord> for WalkError {
    fn from(e: MalformedRecord) -> Self {
        Self::Malformed(e)
    }
}

impl From<CodecError> for WalkError {
    fn from(e: CodecError) -> Self {
        Self::Codec(e)
    }
}

/// Decompressed bytes, one read buffer at a time.
struct Stream<'a, 'c> {
    source: Decompressor<'a>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Where every decompressed chunk also goes (a recompression).
    tee: Option<&'c mut Compressor>,
}

impl Stream<'_, '_> {
    /// Refills an empty buffer; `false` at the end of the stream.
    fn fill(&mut self) -> Result<bool, CodecError> {
        let n = self.source.read(&mut self.buf)?;
        if let Some(tee) = &mut self.tee {
            tee.write(self.buf.get(..n).unwrap_or_default())?;
        }
        self.start = 0;
        self.end = n;
        Ok(n > 0)
    }

    fn byte(&mut self) -> Result<Option<u8>, CodecError> {
        if self.start == self.end && !self.fill()? {
            return Ok(None);
        }
        let b = self.buf.get(self.start).copied();
        self.start += 1;
        Ok(b)
    }

    /// Skips `n` bytes; `false` if the stream ends first.
    fn skip(&mut self, mut n: usize) -> Result<bool, CodecError> {
        while n > 0 {
            if self.start == self.end && !self.fill()? {
                return Ok(false);
            }
            let step = n.min(self.end - self.start);
            self.start += step;
            n -= step;
        }
        Ok(true)
    }

    /// Reads to the end of the stream; returns how many bytes were left.
    fn skip_to_end(&mut self) -> Result<usize, CodecError> {
        let mut left = self.end - self.start;
        while self.fill()? {
            left = left.saturating_add(self.end);
        }
        Ok(left)
    }
}

/// One record's bytes in the stream: at most `left` more.
struct Record<'s, 'a, 'c> {
    stream: &'s mut Stream<'a, 'c>,
    left: usize,
}

impl RecordInput for Record<'_, '_, '_> {
    /// Fields are skipped: the produce path needs their bounds, not their bytes.
    type Field = ();
    type Error = WalkError;

    fn byte(&mut self) -> Result<u8, WalkError> {
        if self.left == 0 {
            return Err(MalformedRecord::Truncated.into());
        }
        let b = self.stream.byte()?.ok_or(MalformedRecord::Truncated)?;
        self.left -= 1;
        Ok(b)
    }

    fn field(&mut self, len: usize) -> Result<(), WalkError> {
        if len > self.left || !self.stream.skip(len)? {
            return Err(MalformedRecord::Truncated.into());
        }
        self.left -= len;
        Ok(())
    }

    fn remaining(&self) -> usize {
        self.left
    }
}
