//! Bounded reading of Kafka wire primitives from untrusted bytes.
//!
//! `Reader` walks a `Bytes` buffer; strings and byte fields come back as zero-copy slices of it.
//! INVARIANT: every length or count read from the wire is checked against `remaining()` before
//! anything is allocated or sliced. A length larger than what remains is an error; an array count
//! larger than the remaining bytes is an error (every element occupies at least one byte), and
//! the capacity reserved up front is further capped at `MAX_PREALLOC_BYTES`, so a hostile count
//! can never size an allocation on its own: the vector only grows as elements actually decode.

use std::collections::BTreeMap;

use bytes::{Buf, Bytes};
use kafka_protocol::protocol::StrBytes;
use schloss_model::TopicId;

/// The most memory an array decoder reserves before its elements have been read.
const MAX_PREALLOC_BYTES: usize = 64 * 1024;

/// Decoded array elements may take this many times the input's size, plus
/// [`MIN_DECODE_BUDGET`]. A struct decoded from a few bytes can be a hundred bytes in memory, so
/// without a budget a frame of tiny elements could decode to ~50x its size; legitimate
/// requests stay far below (their bulk is record data and names, shared zero-copy with the frame).
pub const DECODE_AMPLIFICATION: usize = 8;
/// The budget every input gets regardless of its size.
pub const MIN_DECODE_BUDGET: usize = 64 * 1024;

/// Why a request (or header) could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ends before the value does.
    #[error("truncated input: needed {needed} bytes, {remaining} remaining")]
    Truncated { needed: usize, remaining: usize },
    /// A length or count that is negative (other than the null marker) or larger than the input.
    #[error("invalid length {length} with {remaining} bytes remaining")]
    InvalidLength { length: i64, remaining: usize },
    /// A null marker in a field that is not nullable.
    #[error("null value in a non-nullable field")]
    UnexpectedNull,
    /// A string that is not valid UTF-8.
    #[error("string is not valid utf-8")]
    InvalidUtf8,
    /// A varint longer than its type allows or with bits beyond its width.
    #[error("varint is too long or out of range")]
    VarintOverflow,
    /// A tagged field number beyond `i32::MAX`.
    #[error("tagged field number {0} is out of range")]
    InvalidTag(u32),
    /// A known tagged field outside the versions that define it (Kafka: "Tag N is not valid
    /// for version V").
    #[error("tag {tag} is not valid for version {version}")]
    TagNotValid { tag: i32, version: i16 },
    /// A known tagged field whose value does not fill its declared size.
    #[error("tagged field {tag} has {left} bytes beyond its value")]
    TaggedFieldSize { tag: i32, left: usize },
    /// The decoded elements would take more memory than the input's budget.
    #[error("request decodes to more than {DECODE_AMPLIFICATION}x its size")]
    OverBudget,
    /// The api key is known but this version is outside the range we decode.
    #[error("unsupported version {version} for api key {api_key}")]
    UnsupportedVersion { api_key: i16, version: i16 },
    /// An api key we do not decode at all.
    #[error("unknown api key {0}")]
    UnknownApiKey(i16),
}

impl From<bytes::TryGetError> for DecodeError {
    fn from(e: bytes::TryGetError) -> Self {
        DecodeError::Truncated {
            needed: e.requested,
            remaining: e.available,
        }
    }
}

/// One tagged field as read from the wire: its number and its raw value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaggedField {
    pub tag: i32,
    pub data: Bytes,
}

impl TaggedField {
    /// A reader over this field's value, for decoding a known tag.
    pub fn reader(&self) -> Reader {
        Reader::new(self.data.clone())
    }

    /// Decodes a known tag's value with `f`, which must consume exactly the declared size.
    pub fn decode<T>(
        &self,
        f: impl FnOnce(&mut Reader) -> Result<T, DecodeError>,
    ) -> Result<T, DecodeError> {
        let mut r = self.reader();
        let value = f(&mut r)?;
        match r.remaining() {
            0 => Ok(value),
            left => Err(DecodeError::TaggedFieldSize {
                tag: self.tag,
                left,
            }),
        }
    }

    /// Keeps an unrecognised field verbatim, as kafka-protocol does.
    pub fn keep(self, unknown: &mut BTreeMap<i32, Bytes>) {
        unknown.insert(self.tag, self.data);
    }
}

/// A cursor over untrusted bytes that never allocates more than it has checked, and whose
/// decoded arrays never take more than a fixed multiple of the input (see
/// [`DECODE_AMPLIFICATION`]).
#[derive(Debug, Clone)]
pub struct Reader {
    buf: Bytes,
    /// Bytes of decoded array elements still allowed.
    budget: usize,
}

impl Default for Reader {
    fn default() -> Self {
        Self::new(Bytes::new())
    }
}

impl Reader {
    pub fn new(buf: Bytes) -> Self {
        let budget = buf
            .len()
            .saturating_mul(DECODE_AMPLIFICATION)
            .saturating_add(MIN_DECODE_BUDGET);
        Self { buf, budget }
    }

    /// Charges `bytes` of decoded memory against the budget.
    fn charge(&mut self, bytes: usize) -> Result<(), DecodeError> {
        self.budget = self
            .budget
            .checked_sub(bytes)
            .ok_or(DecodeError::OverBudget)?;
        Ok(())
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// The unconsumed rest of the input.
    pub fn into_rest(self) -> Bytes {
        self.buf
    }

    /// Takes exactly `n` bytes as a zero-copy slice.
    pub fn take(&mut self, n: usize) -> Result<Bytes, DecodeError> {
        if n > self.buf.len() {
            return Err(DecodeError::Truncated {
                needed: n,
                remaining: self.buf.len(),
            });
        }
        Ok(self.buf.split_to(n))
    }

    pub fn i8(&mut self) -> Result<i8, DecodeError> {
        Ok(self.buf.try_get_i8()?)
    }

    pub fn i16(&mut self) -> Result<i16, DecodeError> {
        Ok(self.buf.try_get_i16()?)
    }

    pub fn i32(&mut self) -> Result<i32, DecodeError> {
        Ok(self.buf.try_get_i32()?)
    }

    pub fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(self.buf.try_get_i64()?)
    }

    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(self.buf.try_get_u16()?)
    }

    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(self.buf.try_get_u32()?)
    }

    pub fn f64(&mut self) -> Result<f64, DecodeError> {
        Ok(self.buf.try_get_f64()?)
    }

    /// Kafka booleans: any non-zero byte is true.
    pub fn bool(&mut self) -> Result<bool, DecodeError> {
        Ok(self.buf.try_get_u8()? != 0)
    }

    pub fn uuid(&mut self) -> Result<TopicId, DecodeError> {
        Ok(TopicId::from_u128(self.buf.try_get_u128()?))
    }

    /// An unsigned LEB128 varint of at most 5 bytes that fits in 32 bits.
    pub fn unsigned_varint(&mut self) -> Result<u32, DecodeError> {
        let mut value: u32 = 0;
        for i in 0..5u32 {
            let b = self.buf.try_get_u8()?;
            // The fifth byte may only carry the top 4 bits and must end the varint.
            if i == 4 && b > 0x0f {
                return Err(DecodeError::VarintOverflow);
            }
            value |= u32::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(value);
            }
        }
        Err(DecodeError::VarintOverflow)
    }

    /// An unsigned LEB128 varint of at most 10 bytes that fits in 64 bits.
    pub fn unsigned_varlong(&mut self) -> Result<u64, DecodeError> {
        let mut value: u64 = 0;
        for i in 0..10u32 {
            let b = self.buf.try_get_u8()?;
            if i == 9 && b > 0x01 {
                return Err(DecodeError::VarintOverflow);
            }
            value |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(value);
            }
        }
        Err(DecodeError::VarintOverflow)
    }

    /// A zigzag-encoded signed varint.
    pub fn varint(&mut self) -> Result<i32, DecodeError> {
        let raw = self.unsigned_varint()?;
        Ok(((raw >> 1) as i32) ^ -((raw & 1) as i32))
    }

    /// A zigzag-encoded signed varlong.
    pub fn varlong(&mut self) -> Result<i64, DecodeError> {
        let raw = self.unsigned_varlong()?;
        Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64))
    }

    /// A length prefix: classic (`i16` or `i32`, -1 = null) or compact (uvarint, 0 = null).
    /// Returns `None` for null and checks the length against the remaining input.
    fn length(&mut self, compact: bool, wide: bool) -> Result<Option<usize>, DecodeError> {
        let length: i64 = if compact {
            i64::from(self.unsigned_varint()?) - 1
        } else if wide {
            i64::from(self.i32()?)
        } else {
            i64::from(self.i16()?)
        };
        if length == -1 {
            return Ok(None);
        }
        match usize::try_from(length) {
            Ok(n) if n <= self.remaining() => Ok(Some(n)),
            _ => Err(DecodeError::InvalidLength {
                length,
                remaining: self.remaining(),
            }),
        }
    }

    /// A nullable string: classic (`i16` length) or compact (uvarint length + 1).
    pub fn nullable_string(&mut self, compact: bool) -> Result<Option<StrBytes>, DecodeError> {
        match self.length(compact, false)? {
            None => Ok(None),
            Some(n) => {
                let raw = self.take(n)?;
                StrBytes::from_utf8(raw)
                    .map(Some)
                    .map_err(|_| DecodeError::InvalidUtf8)
            }
        }
    }

    /// A non-nullable string; a null marker is an error.
    pub fn string(&mut self, compact: bool) -> Result<StrBytes, DecodeError> {
        self.nullable_string(compact)?
            .ok_or(DecodeError::UnexpectedNull)
    }

    /// Nullable bytes: classic (`i32` length) or compact (uvarint length + 1).
    pub fn nullable_bytes(&mut self, compact: bool) -> Result<Option<Bytes>, DecodeError> {
        match self.length(compact, true)? {
            None => Ok(None),
            Some(n) => self.take(n).map(Some),
        }
    }

    /// Non-nullable bytes; a null marker is an error.
    pub fn bytes(&mut self, compact: bool) -> Result<Bytes, DecodeError> {
        self.nullable_bytes(compact)?
            .ok_or(DecodeError::UnexpectedNull)
    }

    /// A nullable array: classic (`i32` count, -1 = null) or compact (uvarint count + 1,
    /// 0 = null), each element read by `element`.
    pub fn nullable_array<T>(
        &mut self,
        compact: bool,
        mut element: impl FnMut(&mut Reader) -> Result<T, DecodeError>,
    ) -> Result<Option<Vec<T>>, DecodeError> {
        // INVARIANT: `count <= remaining()` (checked by `length`) because each element takes at
        // least one byte; the reservation is further capped so it never depends on the wire alone.
        let Some(count) = self.length(compact, true)? else {
            return Ok(None);
        };
        let cap = count.min(MAX_PREALLOC_BYTES / std::mem::size_of::<T>().max(1));
        let mut items = Vec::with_capacity(cap);
        for _ in 0..count {
            self.charge(std::mem::size_of::<T>())?;
            items.push(element(self)?);
        }
        Ok(Some(items))
    }

    /// A non-nullable array; a null marker is an error.
    pub fn array<T>(
        &mut self,
        compact: bool,
        element: impl FnMut(&mut Reader) -> Result<T, DecodeError>,
    ) -> Result<Vec<T>, DecodeError> {
        self.nullable_array(compact, element)?
            .ok_or(DecodeError::UnexpectedNull)
    }

    /// An optional struct: an `i8` marker (negative = absent) followed by the struct.
    pub fn optional<T>(
        &mut self,
        element: impl FnOnce(&mut Reader) -> Result<T, DecodeError>,
    ) -> Result<Option<T>, DecodeError> {
        if self.i8()? < 0 {
            Ok(None)
        } else {
            element(self).map(Some)
        }
    }

    /// The tagged-field section of a flexible struct: a count, then tag, size and value each.
    pub fn tagged_fields(&mut self) -> Result<Vec<TaggedField>, DecodeError> {
        let count = self.unsigned_varint()?;
        let count = usize::try_from(count).unwrap_or(usize::MAX);
        // INVARIANT: each field takes at least two bytes (tag and size), so a count beyond the
        // remaining input is rejected before anything is reserved.
        if count > self.remaining() {
            return Err(DecodeError::InvalidLength {
                length: i64::try_from(count).unwrap_or(i64::MAX),
                remaining: self.remaining(),
            });
        }
        let mut fields = Vec::with_capacity(count.min(MAX_PREALLOC_BYTES / 64));
        for _ in 0..count {
            let tag = self.unsigned_varint()?;
            let tag = i32::try_from(tag).map_err(|_| DecodeError::InvalidTag(tag))?;
            let size = self.unsigned_varint()?;
            let data = self.take(usize::try_from(size).unwrap_or(usize::MAX))?;
            // A kept field ends up as a map entry: the field plus a share of a tree node.
            self.charge(std::mem::size_of::<TaggedField>() + 32)?;
            fields.push(TaggedField { tag, data });
        }
        Ok(fields)
    }

    /// The tagged-field section of a struct that knows no tags: everything is kept verbatim.
    pub fn unknown_tagged_fields(&mut self) -> Result<BTreeMap<i32, Bytes>, DecodeError> {
        let mut unknown = BTreeMap::new();
        for field in self.tagged_fields()? {
            field.keep(&mut unknown);
        }
        Ok(unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(bytes: &'static [u8]) -> Reader {
        Reader::new(Bytes::from_static(bytes))
    }

    #[test]
    fn unsigned_varint_accepts_five_bytes_up_to_u32_max() {
        assert_eq!(reader(&[0x00]).unsigned_varint(), Ok(0));
        assert_eq!(reader(&[0x96, 0x01]).unsigned_varint(), Ok(150));
        assert_eq!(
            reader(&[0xff, 0xff, 0xff, 0xff, 0x0f]).unsigned_varint(),
            Ok(u32::MAX)
        );
    }

    #[test]
    fn unsigned_varint_rejects_overflow_and_overlong() {
        assert_eq!(
            reader(&[0xff, 0xff, 0xff, 0xff, 0x10]).unsigned_varint(),
            Err(DecodeError::VarintOverflow)
        );
        assert_eq!(
            reader(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x00]).unsigned_varint(),
            Err(DecodeError::VarintOverflow)
        );
        assert!(matches!(
            reader(&[0x80]).unsigned_varint(),
            Err(DecodeError::Truncated { .. })
        ));
    }

    #[test]
    fn zigzag_varint_and_varlong_decode_signs() {
        assert_eq!(reader(&[0x01]).varint(), Ok(-1));
        assert_eq!(reader(&[0x02]).varint(), Ok(1));
        assert_eq!(
            reader(&[0xff, 0xff, 0xff, 0xff, 0x0f]).varint(),
            Ok(i32::MIN)
        );
        assert_eq!(reader(&[0x03]).varlong(), Ok(-2));
        assert_eq!(
            reader(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]).varlong(),
            Ok(i64::MIN)
        );
        assert_eq!(
            reader(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]).varlong(),
            Err(DecodeError::VarintOverflow)
        );
    }

    #[test]
    fn strings_classic_and_compact_with_null() {
        let mut r = reader(&[0, 2, b'h', b'i', 0xff, 0xff, 3, b'y', b'o', 0]);
        assert_eq!(r.string(false).unwrap().as_str(), "hi");
        assert_eq!(r.nullable_string(false), Ok(None));
        assert_eq!(r.string(true).unwrap().as_str(), "yo");
        assert_eq!(r.string(true), Err(DecodeError::UnexpectedNull));
        assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn string_longer_than_input_is_invalid_length() {
        assert_eq!(
            reader(&[0, 5, b'a']).string(false),
            Err(DecodeError::InvalidLength {
                length: 5,
                remaining: 1
            })
        );
        assert_eq!(
            reader(&[0xff, 0xfe]).nullable_string(false),
            Err(DecodeError::InvalidLength {
                length: -2,
                remaining: 0
            })
        );
    }

    #[test]
    fn bytes_are_zero_copy_slices_of_the_input() {
        let input = Bytes::from_static(&[0, 0, 0, 3, 7, 8, 9, 0]);
        let mut r = Reader::new(input.clone());
        let got = r.bytes(false).unwrap();
        assert_eq!(&got[..], &[7, 8, 9]);
        assert_eq!(got.as_ptr(), input[4..].as_ptr());
        assert_eq!(r.nullable_bytes(true), Ok(None));
    }

    #[test]
    fn array_count_beyond_remaining_bytes_is_rejected_before_reading() {
        let mut calls = 0;
        let err = reader(&[0, 0, 0, 9, 1, 2, 3])
            .array(false, |r| {
                calls += 1;
                r.i8()
            })
            .unwrap_err();
        assert_eq!(
            err,
            DecodeError::InvalidLength {
                length: 9,
                remaining: 3
            }
        );
        assert_eq!(calls, 0);
        assert_eq!(reader(&[0]).nullable_array(true, Reader::i8), Ok(None));
        assert_eq!(reader(&[3, 4, 5]).array(true, Reader::i8), Ok(vec![4, 5]));
    }

    #[test]
    fn decoded_arrays_stay_within_the_budget() {
        // Compact array of 20,000 empty strings' worth of 1-byte elements decoding to
        // 64-byte values: 20 KB of input may not become 1.28 MB of elements.
        let n = 20_000usize;
        let mut input = vec![];
        let mut count = (n + 1) as u32;
        while count >= 0x80 {
            input.push((count as u8 & 0x7f) | 0x80);
            count >>= 7;
        }
        input.push(count as u8);
        input.extend(std::iter::repeat_n(0u8, n));
        let err = Reader::new(Bytes::from(input.clone()))
            .array(true, |r| r.i8().map(|_| [0u64; 8]))
            .unwrap_err();
        assert_eq!(err, DecodeError::OverBudget);
        // The same input decoding to 8-byte values fits.
        let ok = Reader::new(Bytes::from(input))
            .array(true, |r| r.i8().map(i64::from))
            .unwrap();
        assert_eq!(ok.len(), n);
    }

    #[test]
    fn tagged_fields_are_bounded_and_kept() {
        assert!(matches!(
            reader(&[0x7f]).tagged_fields(),
            Err(DecodeError::InvalidLength { .. })
        ));
        let unknown = reader(&[2, 1, 1, 0xaa, 7, 0])
            .unknown_tagged_fields()
            .unwrap();
        assert_eq!(unknown.len(), 2);
        assert_eq!(&unknown[&1][..], &[0xaa]);
        assert!(unknown[&7].is_empty());
        assert!(matches!(
            reader(&[1, 1, 5, 0]).tagged_fields(),
            Err(DecodeError::Truncated { .. })
        ));
    }

    #[test]
    fn optional_struct_marker() {
        assert_eq!(reader(&[0xff]).optional(Reader::i8), Ok(None));
        assert_eq!(reader(&[1, 4]).optional(Reader::i8), Ok(Some(4)));
    }
}
