//! Record batches with a valid v2 header and a correct CRC32C around an arbitrary payload, so
//! that the fuzzer's bytes get past the header and CRC checks into decompression and record
//! parsing.

use schloss_model::batch::{compute_crc, HEADER_LEN, LOG_OVERHEAD};

/// Where the CRC32C lies in the batch header.
const CRC_AT: usize = 17;

/// The header fields a sealed batch gets; everything else is derived.
#[derive(Debug, Clone, Copy)]
pub struct Template {
    pub base_offset: i64,
    /// Low three bits: codec (5..7 are invalid); bit 3 LogAppendTime; bit 4 transactional;
    /// bit 5 control.
    pub attributes: i16,
    pub records_count: i32,
    pub timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
}

impl Template {
    /// A plain, non-idempotent batch of `records_count` records with codec bits `attributes`.
    pub fn new(attributes: i16, records_count: i32) -> Self {
        Self {
            base_offset: 0,
            attributes,
            records_count,
            timestamp: 1_700_000_000_000,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
        }
    }

    /// The whole batch: header (last offset delta = count - 1) and `payload` as the records,
    /// with the CRC32C computed over the result. `None` if the payload is too large for the
    /// batch length field.
    pub fn seal(&self, payload: &[u8]) -> Option<Vec<u8>> {
        let batch_length = i32::try_from(HEADER_LEN - LOG_OVERHEAD + payload.len()).ok()?;
        let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
        out.extend_from_slice(&self.base_offset.to_be_bytes());
        out.extend_from_slice(&batch_length.to_be_bytes());
        out.extend_from_slice(&0i32.to_be_bytes()); // partition leader epoch
        out.push(2); // magic
        out.extend_from_slice(&0u32.to_be_bytes()); // crc, sealed below
        out.extend_from_slice(&self.attributes.to_be_bytes());
        out.extend_from_slice(&self.records_count.wrapping_sub(1).to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.producer_id.to_be_bytes());
        out.extend_from_slice(&self.producer_epoch.to_be_bytes());
        out.extend_from_slice(&self.base_sequence.to_be_bytes());
        out.extend_from_slice(&self.records_count.to_be_bytes());
        out.extend_from_slice(payload);
        let crc = compute_crc(&out);
        out.get_mut(CRC_AT..CRC_AT + 4)?
            .copy_from_slice(&crc.to_be_bytes());
        Some(out)
    }
}
