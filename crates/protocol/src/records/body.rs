//! The grammar of one record after its length prefix, written once for both ways records are
//! read: from a decompressed buffer (fields become shared slices) and from the decompressing
//! stream itself (fields are skipped; nothing larger than a read buffer is held).
//!
//! ```text
//! attributes i8 | timestamp_delta varlong | offset_delta varint
//! key_length varint | key | value_length varint | value
//! header_count varint | (key_length varint | key | value_length varint | value)*
//! ```

use super::MalformedRecord;

/// A header needs at least its key length and value length, one byte each.
pub(super) const MIN_HEADER_LEN: usize = 2;

/// The bytes of one record, bounded by its declared length.
pub(super) trait RecordInput {
    /// What a key, value or header field becomes.
    type Field;
    type Error: From<MalformedRecord>;

    fn byte(&mut self) -> Result<u8, Self::Error>;
    /// The next `len` bytes as a field; `Truncated` if the record has fewer left.
    fn field(&mut self, len: usize) -> Result<Self::Field, Self::Error>;
    /// Bytes of the record not read yet.
    fn remaining(&self) -> usize;
}

/// A record's fields but its headers, which go to the caller one by one.
pub(super) struct Fields<F> {
    pub(super) attributes: i8,
    pub(super) timestamp_delta: i64,
    pub(super) offset_delta: i32,
    pub(super) key: Option<F>,
    pub(super) value: Option<F>,
}

/// Reads a record's fields, handing each header to `header` with the header count (checked
/// against the bytes left, so it may size a buffer). The caller checks that nothing is left.
pub(super) fn read_fields<I: RecordInput>(
    input: &mut I,
    mut header: impl FnMut(usize, I::Field, Option<I::Field>),
) -> Result<Fields<I::Field>, I::Error> {
    let attributes = input.byte()? as i8;
    let timestamp_delta = varlong(input)?;
    let offset_delta = varint(input)?;
    let key = nullable(input)?;
    let value = nullable(input)?;
    let header_count = varint(input)?;
    let count =
        usize::try_from(header_count).map_err(|_| MalformedRecord::HeaderCount(header_count))?;
    if count > input.remaining() / MIN_HEADER_LEN {
        return Err(MalformedRecord::Truncated.into());
    }
    for _ in 0..count {
        let key = length(input)?;
        let key = input.field(key)?;
        let value = nullable(input)?;
        header(count, key, value);
    }
    Ok(Fields {
        attributes,
        timestamp_delta,
        offset_delta,
        key,
        value,
    })
}

/// A non-negative length.
pub(super) fn length<I: RecordInput>(input: &mut I) -> Result<usize, I::Error> {
    let len = varint(input)?;
    Ok(usize::try_from(len).map_err(|_| MalformedRecord::Length(len))?)
}

/// A length-prefixed field where -1 means null.
fn nullable<I: RecordInput>(input: &mut I) -> Result<Option<I::Field>, I::Error> {
    match varint(input)? {
        -1 => Ok(None),
        len => {
            let len = usize::try_from(len).map_err(|_| MalformedRecord::Length(len))?;
            input.field(len).map(Some)
        }
    }
}

/// Zig-zag varint of at most 5 bytes, decoded as Kafka's `ByteUtils.readVarint` does.
pub(super) fn varint<I: RecordInput>(input: &mut I) -> Result<i32, I::Error> {
    let raw = unsigned_varint(input, 5)? as u32;
    Ok(((raw >> 1) as i32) ^ -((raw & 1) as i32))
}

/// Zig-zag varlong of at most 10 bytes.
fn varlong<I: RecordInput>(input: &mut I) -> Result<i64, I::Error> {
    let raw = unsigned_varint(input, 10)?;
    Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64))
}

fn unsigned_varint<I: RecordInput>(input: &mut I, max_bytes: u32) -> Result<u64, I::Error> {
    let mut value = 0u64;
    for i in 0..max_bytes {
        let b = input.byte()?;
        value |= u64::from(b & 0x7f).wrapping_shl(7 * i);
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(MalformedRecord::VarintTooLong.into())
}
