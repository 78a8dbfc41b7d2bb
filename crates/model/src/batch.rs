//! A view of Kafka's v2 record batch header (magic 2), the unit in which records travel on the
//! wire and lie on disk. Parsing never allocates and never trusts a length it has not checked
//! against the bytes present.
//!
//! Layout (big-endian), as in Kafka's `DefaultRecordBatch`:
//! ```text
//!  0 base_offset i64        12 partition_leader_epoch i32   16 magic i8   17 crc u32
//! 21 attributes i16         23 last_offset_delta i32        27 base_timestamp i64
//! 35 max_timestamp i64      43 producer_id i64              51 producer_epoch i16
//! 53 base_sequence i32      57 records_count i32            61 records...
//!  8 batch_length i32 counts the bytes after itself; the CRC32C covers bytes 21.. end.
//! ```

/// Bytes before `batch_length` ends: base offset and the length itself.
pub const LOG_OVERHEAD: usize = 12;
/// Size of the whole v2 header, up to the first record.
pub const HEADER_LEN: usize = 61;
/// The smallest encoding of one uncompressed record: seven one-byte varints / fields.
pub const MIN_RECORD_LEN: usize = 7;
/// Start of the CRC-covered region.
const CRC_START: usize = 21;

const COMPRESSION_MASK: i16 = 0x07;
const TIMESTAMP_TYPE_BIT: i16 = 0x08;
const TRANSACTIONAL_BIT: i16 = 0x10;
const CONTROL_BIT: i16 = 0x20;

/// Producer id of a batch written without idempotence.
pub const NO_PRODUCER_ID: i64 = -1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("batch truncated: {present} bytes present, {needed} needed")]
    Truncated { needed: usize, present: usize },
    #[error("unsupported record batch magic {0}")]
    Magic(i8),
    #[error("invalid batch length {0}")]
    Length(i32),
    #[error("batch crc mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    Crc { stored: u32, computed: u32 },
    #[error("unknown compression codec {0}")]
    Codec(i16),
    #[error("record count {count} does not fit the batch (last offset delta {last_offset_delta}, {bytes} record bytes)")]
    RecordCount {
        count: i32,
        last_offset_delta: i32,
        bytes: usize,
    },
}

/// Compression codec of a batch, numbered as in the batch attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    None = 0,
    Gzip = 1,
    Snappy = 2,
    Lz4 = 3,
    Zstd = 4,
}

impl Compression {
    pub fn from_attributes(attributes: i16) -> Result<Self, BatchError> {
        match attributes & COMPRESSION_MASK {
            0 => Ok(Self::None),
            1 => Ok(Self::Gzip),
            2 => Ok(Self::Snappy),
            3 => Ok(Self::Lz4),
            4 => Ok(Self::Zstd),
            other => Err(BatchError::Codec(other)),
        }
    }

    /// The name Kafka uses in `compression.type`.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Gzip => "gzip",
            Self::Snappy => "snappy",
            Self::Lz4 => "lz4",
            Self::Zstd => "zstd",
        }
    }
}

/// Timestamp semantics of a batch (attribute bit 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampType {
    CreateTime,
    LogAppendTime,
}

/// The decoded fixed header of one v2 batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    pub batch_length: i32,
    pub partition_leader_epoch: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub records_count: i32,
}

fn be<const N: usize>(buf: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(src) = buf.get(at..at + N) {
        out.copy_from_slice(src);
    }
    out
}

impl BatchHeader {
    /// Reads the header fields without checking the CRC. `buf` must hold at least
    /// [`HEADER_LEN`] bytes; the records are not looked at.
    pub fn parse(buf: &[u8]) -> Result<Self, BatchError> {
        if buf.len() < HEADER_LEN {
            return Err(BatchError::Truncated {
                needed: HEADER_LEN,
                present: buf.len(),
            });
        }
        let header = Self {
            base_offset: i64::from_be_bytes(be(buf, 0)),
            batch_length: i32::from_be_bytes(be(buf, 8)),
            partition_leader_epoch: i32::from_be_bytes(be(buf, 12)),
            magic: i8::from_be_bytes(be(buf, 16)),
            crc: u32::from_be_bytes(be(buf, 17)),
            attributes: i16::from_be_bytes(be(buf, 21)),
            last_offset_delta: i32::from_be_bytes(be(buf, 23)),
            base_timestamp: i64::from_be_bytes(be(buf, 27)),
            max_timestamp: i64::from_be_bytes(be(buf, 35)),
            producer_id: i64::from_be_bytes(be(buf, 43)),
            producer_epoch: i16::from_be_bytes(be(buf, 51)),
            base_sequence: i32::from_be_bytes(be(buf, 53)),
            records_count: i32::from_be_bytes(be(buf, 57)),
        };
        if header.magic != 2 {
            return Err(BatchError::Magic(header.magic));
        }
        let min = (HEADER_LEN - LOG_OVERHEAD) as i32;
        if header.batch_length < min {
            return Err(BatchError::Length(header.batch_length));
        }
        Ok(header)
    }

    /// Length of the whole batch including base offset and length fields.
    pub fn total_len(&self) -> usize {
        LOG_OVERHEAD + self.batch_length.max(0) as usize
    }

    /// The offset of the batch's last record (saturating: a header near `i64::MAX` is
    /// refused through [`BatchHeader::next_offset`] by whoever assigns or recovers offsets).
    pub fn last_offset(&self) -> i64 {
        self.base_offset
            .saturating_add(i64::from(self.last_offset_delta))
    }

    /// The offset after the batch, or `None` if it would not fit an `i64`.
    pub fn next_offset(&self) -> Option<i64> {
        self.base_offset
            .checked_add(i64::from(self.last_offset_delta))?
            .checked_add(1)
    }

    pub fn compression(&self) -> Result<Compression, BatchError> {
        Compression::from_attributes(self.attributes)
    }

    pub fn timestamp_type(&self) -> TimestampType {
        if self.attributes & TIMESTAMP_TYPE_BIT != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_BIT != 0
    }

    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_BIT != 0
    }

    pub fn has_producer_id(&self) -> bool {
        self.producer_id >= 0
    }

    /// Sequence number of the batch's last record, wrapping at i32::MAX as Kafka does.
    pub fn last_sequence(&self) -> i32 {
        let next = i64::from(self.base_sequence) + i64::from(self.last_offset_delta);
        if next > i64::from(i32::MAX) {
            (next - i64::from(i32::MAX) - 1) as i32
        } else {
            next as i32
        }
    }
}

/// CRC32C of the covered region of a whole batch.
pub fn compute_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c(batch.get(CRC_START..).unwrap_or_default())
}

/// Fully validates one batch occupying exactly `batch`: magic, length, CRC32C, codec, and that
/// the record count agrees with the last offset delta and (for uncompressed batches) with the
/// bytes present.
pub fn validate(batch: &[u8]) -> Result<BatchHeader, BatchError> {
    let header = BatchHeader::parse(batch)?;
    if header.total_len() != batch.len() {
        return Err(BatchError::Length(header.batch_length));
    }
    let computed = compute_crc(batch);
    if computed != header.crc {
        return Err(BatchError::Crc {
            stored: header.crc,
            computed,
        });
    }
    let codec = header.compression()?;
    let record_bytes = batch.len() - HEADER_LEN;
    let count = header.records_count;
    let count_fits = match codec {
        Compression::None => {
            count >= 0 && (count as usize).saturating_mul(MIN_RECORD_LEN) <= record_bytes
        }
        _ => count >= 0,
    };
    // An empty batch (count 0) only arises from compaction; producers never send one.
    if !count_fits || count == 0 || header.last_offset_delta != count - 1 {
        return Err(BatchError::RecordCount {
            count,
            last_offset_delta: header.last_offset_delta,
            bytes: record_bytes,
        });
    }
    Ok(header)
}

/// Rewrites the base offset in place (outside the CRC, so the CRC stays valid).
pub fn set_base_offset(batch: &mut [u8], offset: i64) {
    if let Some(dst) = batch.get_mut(0..8) {
        dst.copy_from_slice(&offset.to_be_bytes());
    }
}

/// Rewrites the partition leader epoch in place (outside the CRC).
pub fn set_partition_leader_epoch(batch: &mut [u8], epoch: i32) {
    if let Some(dst) = batch.get_mut(12..16) {
        dst.copy_from_slice(&epoch.to_be_bytes());
    }
}

/// Marks the batch as LogAppendTime with `timestamp` as its max timestamp, and re-seals the
/// CRC (both fields are inside the covered region), as Kafka does for
/// `message.timestamp.type=LogAppendTime`.
pub fn set_log_append_time(batch: &mut [u8], timestamp: i64) {
    if batch.len() < HEADER_LEN {
        return;
    }
    let attributes = i16::from_be_bytes(be(batch, 21)) | TIMESTAMP_TYPE_BIT;
    if let Some(dst) = batch.get_mut(21..23) {
        dst.copy_from_slice(&attributes.to_be_bytes());
    }
    if let Some(dst) = batch.get_mut(35..43) {
        dst.copy_from_slice(&timestamp.to_be_bytes());
    }
    let crc = compute_crc(batch);
    if let Some(dst) = batch.get_mut(17..21) {
        dst.copy_from_slice(&crc.to_be_bytes());
    }
}

/// Walks consecutive batches in a buffer. Stops (returns `None`) at the end of the buffer;
/// yields an error for a batch that is truncated or malformed, after which iteration ends.
pub struct Batches<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Batches<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self {
            rest: buf,
            failed: false,
        }
    }

    /// Bytes not yet consumed (useful after an error to know where the bad tail starts).
    pub fn remaining(&self) -> usize {
        self.rest.len()
    }
}

impl<'a> Iterator for Batches<'a> {
    /// The header (CRC not checked: call [`validate`] on the slice for that) and the whole
    /// batch's bytes.
    type Item = Result<(BatchHeader, &'a [u8]), BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let header = match BatchHeader::parse(self.rest) {
            Ok(h) => h,
            Err(e) => {
                self.failed = true;
                return Some(Err(e));
            }
        };
        let len = header.total_len();
        match (self.rest.get(..len), self.rest.get(len..)) {
            (Some(batch), Some(rest)) => {
                self.rest = rest;
                Some(Ok((header, batch)))
            }
            _ => {
                self.failed = true;
                Some(Err(BatchError::Truncated {
                    needed: len,
                    present: self.rest.len(),
                }))
            }
        }
    }
}

/// A record as `(key, value)` for [`build_uncompressed`].
pub type KeyValue<'a> = (Option<&'a [u8]>, Option<&'a [u8]>);

/// Builds one uncompressed v2 batch with the given records, no headers, all with `timestamp`
/// and `producer` = (producer id, epoch, base sequence). Used for metadata records and tests.
pub fn build_uncompressed(
    base_offset: i64,
    timestamp: i64,
    producer: (i64, i16, i32),
    records: &[KeyValue<'_>],
) -> Vec<u8> {
    let mut body = Vec::new();
    for (i, (key, value)) in records.iter().enumerate() {
        let mut rec = Vec::new();
        rec.push(0u8); // attributes
        put_varlong(&mut rec, 0); // timestamp delta
        put_varlong(&mut rec, i as i64); // offset delta
        for field in [key, value] {
            match field {
                Some(b) => {
                    put_varlong(&mut rec, b.len() as i64);
                    rec.extend_from_slice(b);
                }
                None => put_varlong(&mut rec, -1),
            }
        }
        put_varlong(&mut rec, 0); // headers
        put_varlong(&mut body, rec.len() as i64);
        body.extend_from_slice(&rec);
    }
    let count = records.len() as i32;
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(&base_offset.to_be_bytes());
    out.extend_from_slice(&((HEADER_LEN - LOG_OVERHEAD + body.len()) as i32).to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes()); // leader epoch
    out.push(2); // magic
    out.extend_from_slice(&0u32.to_be_bytes()); // crc placeholder
    out.extend_from_slice(&0i16.to_be_bytes()); // attributes
    out.extend_from_slice(&(count - 1).to_be_bytes());
    out.extend_from_slice(&timestamp.to_be_bytes());
    out.extend_from_slice(&timestamp.to_be_bytes());
    out.extend_from_slice(&producer.0.to_be_bytes());
    out.extend_from_slice(&producer.1.to_be_bytes());
    out.extend_from_slice(&producer.2.to_be_bytes());
    out.extend_from_slice(&count.to_be_bytes());
    out.extend_from_slice(&body);
    let crc = compute_crc(&out);
    if let Some(dst) = out.get_mut(17..21) {
        dst.copy_from_slice(&crc.to_be_bytes());
    }
    out
}

/// Zig-zag varlong as used inside records.
pub fn put_varlong(out: &mut Vec<u8>, value: i64) {
    let mut v = ((value << 1) ^ (value >> 63)) as u64;
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        build_uncompressed(
            0,
            1_700_000_000_000,
            (-1, -1, -1),
            &[(None, Some(b"a")), (Some(b"k"), Some(b"bc"))],
        )
    }

    #[test]
    fn a_built_batch_validates() {
        let b = sample();
        let h = validate(&b).unwrap();
        assert_eq!(h.records_count, 2);
        assert_eq!(h.last_offset_delta, 1);
        assert_eq!(h.compression().unwrap(), Compression::None);
        assert_eq!(h.total_len(), b.len());
    }

    #[test]
    fn base_offset_rewrite_keeps_the_crc_valid() {
        let mut b = sample();
        set_base_offset(&mut b, 42);
        set_partition_leader_epoch(&mut b, 7);
        let h = validate(&b).unwrap();
        assert_eq!(h.base_offset, 42);
        assert_eq!(h.last_offset(), 43);
        assert_eq!(h.partition_leader_epoch, 7);
    }

    #[test]
    fn log_append_time_reseals_the_crc() {
        let mut b = sample();
        set_log_append_time(&mut b, 5);
        let h = validate(&b).unwrap();
        assert_eq!(h.timestamp_type(), TimestampType::LogAppendTime);
        assert_eq!(h.max_timestamp, 5);
    }

    #[test]
    fn a_flipped_bit_fails_the_crc() {
        let mut b = sample();
        let last = b.len() - 1;
        b[last] ^= 1;
        assert!(matches!(validate(&b), Err(BatchError::Crc { .. })));
    }

    #[test]
    fn an_inflated_record_count_is_rejected() {
        let mut b = sample();
        b[57..61].copy_from_slice(&i32::MAX.to_be_bytes());
        let crc = compute_crc(&b);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        assert!(matches!(validate(&b), Err(BatchError::RecordCount { .. })));
    }

    #[test]
    fn iteration_reports_a_torn_tail() {
        let mut buf = sample();
        buf.extend_from_slice(&sample());
        buf.extend_from_slice(&sample()[..30]);
        let items: Vec<_> = Batches::new(&buf).collect();
        assert_eq!(items.len(), 3);
        assert!(items[0].is_ok() && items[1].is_ok());
        assert!(items[2].is_err());
    }

    #[test]
    fn offsets_at_the_end_of_the_offset_space_do_not_overflow() {
        let mut raw = build_uncompressed(i64::MAX - 1, 0, (-1, -1, -1), &[(None, Some(&b"v"[..]))]);
        let h = BatchHeader::parse(&raw).unwrap();
        assert_eq!(h.next_offset(), Some(i64::MAX));
        raw[23..27].copy_from_slice(&5i32.to_be_bytes()); // last_offset_delta
        let h = BatchHeader::parse(&raw).unwrap();
        assert_eq!(h.last_offset(), i64::MAX);
        assert_eq!(h.next_offset(), None);
    }
}
