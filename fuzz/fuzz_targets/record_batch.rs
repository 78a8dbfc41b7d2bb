//! Record batches from a client or the disk. The first byte picks a mode (high nibble) and
//! its low nibble is a parameter:
//!
//! * `0x0_`: the rest is raw bytes: walked with `Batches`, each batch header parsed,
//!   `validate`d and its records decoded with `decode_records` (1 MiB cap); the streaming
//!   `check_records` must agree and stay within its declared `batch_memory`.
//! * `0x1_`: the next byte is a record count and the rest the (compressed) records of a batch
//!   built around them with a valid header and CRC32C; the low nibble is the attributes' codec
//!   and timestamp-type bits (codecs 5..7 are invalid). This reaches decompression and record
//!   parsing, which a CRC would otherwise keep the fuzzer from.
//! * `0x2_` and above: the rest goes straight to `codec::decompress` for codec `low % 5`.
//!
//! Decoded records must re-encode (with the batch's codec and another) and decode to the same
//! records; a decompressed output must recompress and round trip, and be refused one byte
//! below its size. The heap held by every decode is metered and bounded by what the cap
//! implies (see `decode_bound`), whatever the input claims.
#![no_main]

use libfuzzer_sys::fuzz_target;
use schloss_fuzz::alloc_meter::{metered, Meter};
use schloss_fuzz::batches::Template;
use schloss_model::batch::{validate, BatchHeader, Batches, Compression, MIN_RECORD_LEN};
use schloss_protocol::codec::{self, CodecError};
use schloss_protocol::records::{
    batch_memory, check_records, decode_records, encode_batch, record_timestamps, Record,
};

#[global_allocator]
static METER: Meter = Meter;

/// Decompressed bytes allowed per batch.
const CAP: usize = 1 << 20;
/// Per-codec working memory beside the output (codec.rs: LZ4 block buffers up to ~12 MiB, a
/// zstd window of at least 8 MiB for this cap, gzip's window, a 64 KiB scratch buffer).
const CODEC_WORK: usize = 24 << 20;
/// The smallest record header: a key length and a value length of one byte each.
const MIN_HEADER_LEN: usize = 2;

const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

/// The most a `decode_records` call may hold for a batch of `len` bytes: the capped output, the
/// codec's working memory, and the decoded records and their headers, of which the capped
/// output can hold at most one per `MIN_RECORD_LEN` (records) or `MIN_HEADER_LEN` (headers)
/// bytes. The record and header values are slices of the output, never copies.
fn decode_bound(len: usize) -> usize {
    let records = CAP / MIN_RECORD_LEN * std::mem::size_of::<Record>();
    let headers =
        CAP / MIN_HEADER_LEN * std::mem::size_of::<schloss_protocol::records::RecordHeader>();
    len + CAP + CODEC_WORK + records + headers
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let low = selector & 0x0f;
    match selector >> 4 {
        0 => raw_batches(rest, low),
        1 => sealed_batch(rest, low),
        _ => decompress_directly(rest, low),
    }
});

fn raw_batches(data: &[u8], low: u8) {
    let _ = BatchHeader::parse(data);
    for item in Batches::new(data) {
        let Ok((header, batch)) = item else {
            break;
        };
        assert_eq!(batch.len(), header.total_len());
        check_batch(batch, low);
    }
}

fn sealed_batch(data: &[u8], low: u8) {
    let Some((&count, payload)) = data.split_first() else {
        return;
    };
    let count = i32::from(count);
    let Some(batch) = Template::new(i16::from(low), count).seal(payload) else {
        return;
    };
    let header = BatchHeader::parse(&batch);
    assert!(
        header.is_ok(),
        "a sealed batch has a valid header: {header:?}"
    );
    // `validate` accepts exactly what the header promises; records are not looked at.
    let codec_ok = low & 0x07 <= 4;
    let count_fits = count > 0
        && (low & 0x07 != 0 || (count as usize).saturating_mul(MIN_RECORD_LEN) <= payload.len());
    assert_eq!(validate(&batch).is_ok(), codec_ok && count_fits);
    check_batch(&batch, low);
}

fn check_batch(batch: &[u8], low: u8) {
    let _ = validate(batch);
    let (decoded, peak) = metered(|| decode_records(batch, CAP));
    assert!(
        peak <= decode_bound(batch.len()),
        "decode_records held {peak} bytes for a {}-byte batch",
        batch.len()
    );
    // The produce path's streaming walk accepts exactly what the buffered decode accepts, and
    // holds no more than the working memory it declared up front (what is charged to the
    // request memory pool).
    let (checked, peak) = metered(|| check_records(batch, CAP));
    assert_eq!(
        checked.as_ref().ok(),
        decoded.as_ref().ok().map(Vec::len).as_ref(),
        "check_records {checked:?} vs decode_records {decoded:?}"
    );
    if let Ok(declared) = batch_memory(batch, CAP, None) {
        assert!(peak <= declared, "check_records held {peak} bytes, declared {declared}");
    }
    let Ok(records) = decoded else {
        return;
    };
    let Ok(header) = BatchHeader::parse(batch) else {
        panic!("decode_records accepted a batch whose header does not parse");
    };
    assert_eq!(Ok(records.len()), usize::try_from(header.records_count));
    let Ok(codec) = header.compression() else {
        panic!("decode_records accepted an unknown codec");
    };
    let other = CODECS[usize::from(low) % CODECS.len()];
    for target in [codec, other] {
        let encoded = match encode_batch(&header, &records, target) {
            Ok(encoded) => encoded,
            Err(e) => panic!("cannot re-encode decoded records with {target:?}: {e}"),
        };
        // Canonical varints: never more record bytes than the original, so within the cap.
        match decode_records(&encoded, CAP) {
            Ok(again) => assert_eq!(again, records, "{codec:?} -> {target:?}"),
            Err(e) => panic!("{codec:?} -> {target:?}: re-encoded batch does not decode: {e}"),
        }
    }
    if let Ok(stamps) = record_timestamps(batch, CAP) {
        assert_eq!(stamps.len(), records.len());
    }
}

fn decompress_directly(data: &[u8], low: u8) {
    let codec = CODECS[usize::from(low) % CODECS.len()];
    let (out, peak) = metered(|| codec::decompress(codec, data, CAP));
    assert!(
        peak <= data.len() + CAP + CODEC_WORK,
        "{codec:?} decompression held {peak} bytes"
    );
    let Ok(out) = out else {
        return;
    };
    assert!(out.len() <= CAP);
    if let Some(below) = out.len().checked_sub(1) {
        match codec::decompress(codec, data, below) {
            Err(CodecError::OutputTooLarge { limit }) => assert_eq!(limit, below),
            other => panic!(
                "{codec:?}: {} bytes decoded, but with a cap one below: {other:?}",
                out.len()
            ),
        }
    }
    let compressed = match codec::compress(codec, &out) {
        Ok(compressed) => compressed,
        Err(e) => panic!("{codec:?}: cannot compress decompressed output: {e}"),
    };
    assert_eq!(
        codec::decompress(codec, &compressed, CAP).as_ref(),
        Ok(&out)
    );
}
