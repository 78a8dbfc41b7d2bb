//! The produce path's record walk holds a read buffer and the codec's working memory, never
//! the decompressed batch: metered with a counting allocator (this test binary's own), for
//! batches that really expand to many times that and for bombs that expand past the cap.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]
// A counting global allocator needs `unsafe impl GlobalAlloc`; it only forwards to `System`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use bytes::Bytes;
use schloss_model::batch::{validate, Compression, HEADER_LEN};
use schloss_protocol::codec::{self, CodecError};
use schloss_protocol::records::{
    batch_memory, check_records, encode_batch, recompress_batch, Record, RecordError,
};

struct Meter;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// Tests in one binary run on several threads, and the meter counts every thread's memory:
/// each test holds this for its whole run.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

// SAFETY: every call is forwarded to `System` unchanged; only counters are added.
unsafe impl GlobalAlloc for Meter {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
        PEAK.fetch_max(live, Ordering::SeqCst);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Meter = Meter;

/// Runs `f` and returns its result with the most it allocated beyond what was live before.
fn metered<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let out = f();
    (out, PEAK.load(Ordering::SeqCst).saturating_sub(base))
}

const MIB: usize = 1 << 20;

/// `n` records of `value_len` zero bytes each, in one batch compressed with `codec`.
fn zero_batch(codec: Compression, n: usize, value_len: usize) -> Vec<u8> {
    let template = validate(&schloss_model::batch::build_uncompressed(
        0,
        1_700_000_000_000,
        (-1, -1, -1),
        &[(None, None)],
    ))
    .unwrap();
    let value = Bytes::from(vec![0u8; value_len]);
    let records: Vec<Record> = (0..n)
        .map(|i| Record {
            attributes: 0,
            timestamp_delta: 0,
            offset_delta: i as i32,
            key: None,
            value: Some(value.clone()),
            headers: Vec::new(),
        })
        .collect();
    let mut template = template;
    template.last_offset_delta = n as i32 - 1;
    encode_batch(&template, &records, codec).unwrap()
}

#[test]
fn a_batch_expanding_to_64_mib_is_checked_within_its_declared_working_memory() {
    let _turn = one_at_a_time();
    for codec in [Compression::Gzip, Compression::Lz4, Compression::Zstd] {
        let batch = zero_batch(codec, 64, MIB);
        let declared = batch_memory(&batch, 128 * MIB, None).unwrap();
        let (count, peak) = metered(|| check_records(&batch, 128 * MIB));
        assert_eq!(count.unwrap(), 64, "{}", codec.name());
        assert!(
            peak <= declared,
            "{}: held {peak} bytes, declared {declared}",
            codec.name()
        );
        assert!(peak < 16 * MIB, "{}: held {peak} bytes", codec.name());
    }
}

#[test]
fn recompressing_a_large_batch_holds_the_output_not_the_records() {
    let _turn = one_at_a_time();
    let batch = zero_batch(Compression::Zstd, 32, MIB);
    let max_batch = 4 * MIB;
    let declared = batch_memory(&batch, 64 * MIB, Some((Compression::Lz4, max_batch))).unwrap();
    let (out, peak) = metered(|| recompress_batch(&batch, Compression::Lz4, 64 * MIB, max_batch));
    let out = out.unwrap();
    assert!(out.len() <= max_batch);
    assert_eq!(check_records(&out, 64 * MIB).unwrap(), 32);
    assert!(peak <= declared, "held {peak} bytes, declared {declared}");
}

/// A zstd frame without a content size: a raw block holding the start of one well-formed
/// record whose value claims 2 GiB - 1, then RLE blocks of `blocks` x 128 KiB zeros for that
/// value. Every byte it expands to is a valid part of the record, so only the cap stops it.
fn zstd_rle_bomb(blocks: usize) -> Vec<u8> {
    let mut out = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x50]; // magic, 1 MiB window
    let value_len = i64::from(i32::MAX) - 16;
    let mut fields = vec![0u8]; // attributes
    for f in [0, 0, -1, value_len] {
        schloss_model::batch::put_varlong(&mut fields, f); // ts, offset, null key, value length
    }
    let mut record = Vec::new();
    schloss_model::batch::put_varlong(&mut record, fields.len() as i64 + value_len + 1);
    record.extend_from_slice(&fields);
    let header = (record.len() as u32) << 3; // raw block, not last
    out.extend_from_slice(&header.to_le_bytes()[..3]);
    out.extend_from_slice(&record);
    for i in 0..blocks {
        let last = u32::from(i + 1 == blocks);
        let header = last | (1 << 1) | ((128 * 1024) << 3);
        out.extend_from_slice(&header.to_le_bytes()[..3]);
        out.push(0);
    }
    out
}

/// An uncompressed-header batch around a raw payload, claiming one record.
fn raw_batch(codec: Compression, payload: &[u8]) -> Vec<u8> {
    let mut batch = zero_batch(Compression::None, 1, 0);
    batch.truncate(HEADER_LEN);
    batch[22] = (batch[22] & !0x07) | codec as u8;
    batch.extend_from_slice(payload);
    let len = (batch.len() - 12) as i32;
    batch[8..12].copy_from_slice(&len.to_be_bytes());
    let crc = schloss_model::batch::compute_crc(&batch);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
    batch
}

#[test]
fn a_10_gib_zstd_bomb_stops_at_the_cap_holding_only_a_read_buffer_and_the_window() {
    let _turn = one_at_a_time();
    let bomb = raw_batch(Compression::Zstd, &zstd_rle_bomb(10 * 1024 * 8 + 1));
    let cap = 256 * MIB;
    let declared = batch_memory(&bomb, cap, None).unwrap();
    let (result, peak) = metered(|| check_records(&bomb, cap));
    assert_eq!(
        result,
        Err(RecordError::Codec(CodecError::OutputTooLarge {
            limit: cap
        }))
    );
    assert!(peak <= declared, "held {peak} bytes, declared {declared}");
    assert!(peak < 4 * MIB, "held {peak} bytes");
}

#[test]
fn working_memory_follows_what_the_payload_declares() {
    let _turn = one_at_a_time();
    // A zstd frame declaring a 128 MiB window is charged for it, and refused under a cap too
    // small to need it.
    let mut big_window = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, (27 - 10) << 3];
    big_window.extend_from_slice(&[0x01, 0x00, 0x00]); // an empty last raw block
    assert!(
        codec::decompression_memory(Compression::Zstd, &big_window, 256 * MIB).unwrap()
            >= 128 * MIB
    );
    assert!(codec::decompression_memory(Compression::Zstd, &big_window, MIB).is_err());
    // Java's LZ4 frames (64 KiB blocks) cost a few hundred KiB; raw snappy is one block.
    let lz4 = codec::compress(Compression::Lz4, &[0u8; 100_000]).unwrap();
    assert!(codec::decompression_memory(Compression::Lz4, &lz4, MIB).unwrap() <= 512 * 1024);
    let raw = snap::raw::Encoder::new()
        .compress_vec(&[0u8; 300_000])
        .unwrap();
    assert_eq!(
        codec::decompression_memory(Compression::Snappy, &raw, MIB).unwrap(),
        300_000
    );
    assert_eq!(
        codec::decompression_memory(Compression::Snappy, &raw, 100_000),
        Err(CodecError::OutputTooLarge { limit: 100_000 })
    );
}
