//! The records inside one v2 batch: bounded decoding (after capped decompression), encoding
//! into a fresh batch with another codec, and per-record offsets and timestamps.
//!
//! Record layout, as in Kafka's `DefaultRecord` (varints are zig-zag): a `length varint`, then
//! the fields `body.rs` reads. Two walks share that grammar: [`decode_records`] decompresses a
//! batch into one buffer and hands out records whose fields are slices of it (for the
//! metadata and offsets logs and tests); `stream.rs` ([`check_records`],
//! [`recompress_batch`], [`record_timestamps`]) reads records straight from the decompressing
//! stream and holds no more than a read buffer, which is what the produce path runs.
//!
//! INVARIANT: no length or count read from a record sizes an allocation before it has been
//! checked against the bytes that remain, and every record's length prefix must equal the
//! bytes its fields occupy.

mod body;
mod stream;

pub use stream::{batch_memory, check_records, recompress_batch, record_timestamps};

use bytes::Bytes;
use schloss_model::batch::{
    compute_crc, put_varlong, BatchError, BatchHeader, Compression, HEADER_LEN, LOG_OVERHEAD,
    MIN_RECORD_LEN,
};

use crate::codec::{self, CodecError};
use body::RecordInput;

const COMPRESSION_MASK: i16 = 0x07;
/// Where the CRC32C lies in the batch header.
const CRC_AT: usize = 17;

/// One record of a v2 batch, with its deltas relative to the batch header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub attributes: i8,
    pub timestamp_delta: i64,
    pub offset_delta: i32,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<RecordHeader>,
}

/// A record header. The key is kept as raw bytes: Kafka reads it as a string but decodes
/// invalid UTF-8 lossily rather than rejecting the batch, and keeping the bytes makes
/// re-encoding exact. [`RecordHeader::key_str`] gives the string view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordHeader {
    pub key: Bytes,
    pub value: Option<Bytes>,
}

impl RecordHeader {
    /// The key as a string, if it is valid UTF-8.
    pub fn key_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.key).ok()
    }
}

/// What is wrong with one record's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MalformedRecord {
    #[error("truncated")]
    Truncated,
    #[error("varint longer than its type allows")]
    VarintTooLong,
    #[error("invalid length `{0}`")]
    Length(i32),
    #[error("invalid header count `{0}`")]
    HeaderCount(i32),
    #[error("record length {declared} but its fields take {consumed} bytes")]
    SizeMismatch { declared: usize, consumed: usize },
}

/// Why the records of a batch could not be decoded or encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Batch(#[from] BatchError),
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("record {index}: {kind}")]
    Malformed { index: usize, kind: MalformedRecord },
    #[error("{0} bytes remain after the declared records")]
    TrailingBytes(usize),
    #[error("{what} of {len} does not fit an i32")]
    TooLarge { what: &'static str, len: usize },
}

/// Decodes every record of one whole batch (exactly `batch`): checks length and CRC32C,
/// decompresses with output capped at `max_uncompressed`, and parses exactly `records_count`
/// records with nothing left over.
pub fn decode_records(batch: &[u8], max_uncompressed: usize) -> Result<Vec<Record>, RecordError> {
    let mut records = Vec::new();
    walk_records(batch, max_uncompressed, |record, capacity| {
        if records.is_empty() {
            records.reserve(capacity);
        }
        records.push(record);
    })?;
    Ok(records)
}

/// Calls `each` with every record of the batch and a capacity hint for the whole set.
fn walk_records(
    batch: &[u8],
    max_uncompressed: usize,
    mut each: impl FnMut(Record, usize),
) -> Result<(), RecordError> {
    let (header, payload, count) = checked_batch(batch)?;
    let codec = header.compression()?;
    let data = Bytes::from(codec::decompress(codec, payload, max_uncompressed)?);
    let mut cursor = Cursor { data, pos: 0 };
    // INVARIANT: the hint is bounded by what the bytes present could hold.
    let capacity = count.min(cursor.remaining() / MIN_RECORD_LEN);
    for index in 0..count {
        let record =
            read_record(&mut cursor).map_err(|kind| RecordError::Malformed { index, kind })?;
        each(record, capacity);
    }
    match cursor.remaining() {
        0 => Ok(()),
        left => Err(RecordError::TrailingBytes(left)),
    }
}

/// Builds one v2 batch holding `records`, compressed with `codec`, copying from `template`
/// the base offset, partition leader epoch, last offset delta, timestamps, producer id, epoch
/// and base sequence, and every attribute bit but the codec. The record count and batch length
/// are those of `records`; the CRC32C is computed afresh.
pub fn encode_batch(
    template: &BatchHeader,
    records: &[Record],
    codec: Compression,
) -> Result<Vec<u8>, RecordError> {
    let mut body = Vec::new();
    let mut scratch = Vec::new();
    for record in records {
        scratch.clear();
        write_record(&mut scratch, record)?;
        put_varlong(&mut body, i64::from(i32_len("record", scratch.len())?));
        body.extend_from_slice(&scratch);
    }
    let payload = codec::compress(codec, &body)?;
    seal(template, records.len(), codec, &payload)
}

/// A whole batch around `payload` (`count` records compressed with `codec`): the header
/// fields of `template` but the codec bits, length and record count, and a fresh CRC32C.
fn seal(
    template: &BatchHeader,
    count: usize,
    codec: Compression,
    payload: &[u8],
) -> Result<Vec<u8>, RecordError> {
    let batch_length = i32_len("batch", HEADER_LEN - LOG_OVERHEAD + payload.len())?;
    let attributes = (template.attributes & !COMPRESSION_MASK) | codec as i16;

    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&template.base_offset.to_be_bytes());
    out.extend_from_slice(&batch_length.to_be_bytes());
    out.extend_from_slice(&template.partition_leader_epoch.to_be_bytes());
    out.push(2); // magic
    out.extend_from_slice(&0u32.to_be_bytes()); // crc, sealed below
    out.extend_from_slice(&attributes.to_be_bytes());
    out.extend_from_slice(&template.last_offset_delta.to_be_bytes());
    out.extend_from_slice(&template.base_timestamp.to_be_bytes());
    out.extend_from_slice(&template.max_timestamp.to_be_bytes());
    out.extend_from_slice(&template.producer_id.to_be_bytes());
    out.extend_from_slice(&template.producer_epoch.to_be_bytes());
    out.extend_from_slice(&template.base_sequence.to_be_bytes());
    out.extend_from_slice(&i32_len("record count", count)?.to_be_bytes());
    out.extend_from_slice(payload);
    let crc = compute_crc(&out);
    if let Some(dst) = out.get_mut(CRC_AT..CRC_AT + 4) {
        dst.copy_from_slice(&crc.to_be_bytes());
    }
    Ok(out)
}

/// Parses the header and checks the parts that do not need the records: the batch fills
/// `batch` exactly, its CRC32C matches and its record count is not negative. Returns the
/// header, the (maybe compressed) record bytes and the record count.
fn checked_batch(batch: &[u8]) -> Result<(BatchHeader, &[u8], usize), RecordError> {
    let header = BatchHeader::parse(batch)?;
    if header.total_len() != batch.len() {
        return Err(BatchError::Length(header.batch_length).into());
    }
    let computed = compute_crc(batch);
    if computed != header.crc {
        return Err(BatchError::Crc {
            stored: header.crc,
            computed,
        }
        .into());
    }
    let payload = batch.get(HEADER_LEN..).unwrap_or_default();
    let count = usize::try_from(header.records_count).map_err(|_| BatchError::RecordCount {
        count: header.records_count,
        last_offset_delta: header.last_offset_delta,
        bytes: payload.len(),
    })?;
    Ok((header, payload, count))
}

fn i32_len(what: &'static str, len: usize) -> Result<i32, RecordError> {
    i32::try_from(len).map_err(|_| RecordError::TooLarge { what, len })
}

fn write_record(out: &mut Vec<u8>, record: &Record) -> Result<(), RecordError> {
    out.push(record.attributes as u8);
    put_varlong(out, record.timestamp_delta);
    put_varlong(out, i64::from(record.offset_delta));
    write_nullable(out, "key", record.key.as_deref())?;
    write_nullable(out, "value", record.value.as_deref())?;
    put_varlong(
        out,
        i64::from(i32_len("header count", record.headers.len())?),
    );
    for header in &record.headers {
        write_nullable(out, "header key", Some(&header.key))?;
        write_nullable(out, "header value", header.value.as_deref())?;
    }
    Ok(())
}

fn write_nullable(
    out: &mut Vec<u8>,
    what: &'static str,
    field: Option<&[u8]>,
) -> Result<(), RecordError> {
    match field {
        Some(bytes) => {
            put_varlong(out, i64::from(i32_len(what, bytes.len())?));
            out.extend_from_slice(bytes);
        }
        None => put_varlong(out, -1),
    }
    Ok(())
}

/// Reads one length-prefixed record; its fields are parsed within the declared length.
fn read_record(cursor: &mut Cursor) -> Result<Record, MalformedRecord> {
    let len = body::length(cursor)?;
    let mut body = Cursor {
        data: cursor.take(len)?,
        pos: 0,
    };
    let mut headers = Vec::new();
    let fields = body::read_fields(&mut body, |count, key, value| {
        if headers.is_empty() {
            // INVARIANT: `read_fields` checked the count against the bytes left.
            headers.reserve(count);
        }
        headers.push(RecordHeader { key, value });
    })?;
    if body.remaining() != 0 {
        return Err(MalformedRecord::SizeMismatch {
            declared: len,
            consumed: body.pos,
        });
    }
    Ok(Record {
        attributes: fields.attributes,
        timestamp_delta: fields.timestamp_delta,
        offset_delta: fields.offset_delta,
        key: fields.key,
        value: fields.value,
        headers,
    })
}

/// A read position in decompressed record bytes; slices share the underlying buffer.
struct Cursor {
    data: Bytes,
    pos: usize,
}

impl Cursor {
    fn take(&mut self, len: usize) -> Result<Bytes, MalformedRecord> {
        if len > self.remaining() {
            return Err(MalformedRecord::Truncated);
        }
        let slice = self.data.slice(self.pos..self.pos + len);
        self.pos += len;
        Ok(slice)
    }
}

impl RecordInput for Cursor {
    type Field = Bytes;
    type Error = MalformedRecord;

    fn byte(&mut self) -> Result<u8, MalformedRecord> {
        let b = *self.data.get(self.pos).ok_or(MalformedRecord::Truncated)?;
        self.pos += 1;
        Ok(b)
    }

    fn field(&mut self, len: usize) -> Result<Bytes, MalformedRecord> {
        self.take(len)
    }

    fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }
}
