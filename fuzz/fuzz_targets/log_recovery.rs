//! A partition directory as found on disk after a crash or tampering, recovered by
//! `PartitionLog::open`, read back, appended to, closed, and recovered once more.
//!
//! Input layout (every part optional: the input may end anywhere):
//!
//! ```text
//! flags u8            bit 0: a second segment follows the first
//!                     bit 1: a log-start checkpoint file follows the segments
//!                     bit 2: topic uses LogAppendTime
//!                     bit 3: enforce retention (retention.bytes = 1) after reading
//!                     bit 4: delete records before the log end after reading
//! segment:            base u64 BE (file name `{base:020}`; above i64::MAX it is not a segment)
//!                     .log, .index, .timeindex: each `len u16 BE | bytes`, len 0xffff = no file
//! checkpoint:         `len u16 BE | bytes`, the text of `log-start-offset.checkpoint`
//! ```
//!
//! Opening may fail (corruption is reported, not repaired, below the active segment); it must
//! not panic. A log that opens must read back, take a valid append at its log end, and after
//! a clean close open again with the same offsets.
//!
//! Every input gets a fresh scratch directory (see `schloss_fuzz::scratch`), removed
//! afterwards; segments are tiny so appends roll.
//!
//! Found by this target and fixed (regression tests in crates/log/tests/recovery.rs and
//! crates/model/src/batch.rs): a log-start checkpoint above the recovered log end let appends
//! reuse offsets the next recovery hid (acknowledged records lost), and offsets near `i64::MAX`
//! overflowed in recovery and append.
#![no_main]

use std::path::Path;
use std::sync::LazyLock;

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use schloss_fuzz::scratch::ScratchDir;
use schloss_log::{
    Appended, Durability, FileCache, Flusher, LogConfig, PartitionLog, TimestampType,
};
use schloss_model::batch::{build_uncompressed, Batches};

static FLUSHER: LazyLock<Flusher> = LazyLock::new(Flusher::start);
/// A small file budget, so eviction and reopening are exercised too.
static FILES: LazyLock<FileCache> = LazyLock::new(|| FileCache::new(schloss_log::MIN_OPEN_FILES));

const SEGMENT_BYTES: u64 = 1024;
const NOW_MS: i64 = 1_700_000_100_000;
/// Reads per log: enough for every batch of a 64 KiB input, a stop for anything that loops.
const MAX_READS: usize = 4096;

/// Takes input parts front to back; a missing part reads as absent.
struct Parts<'a>(&'a [u8]);

impl<'a> Parts<'a> {
    fn u8(&mut self) -> u8 {
        let (&b, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        b
    }

    fn u64(&mut self) -> Option<u64> {
        let (head, rest) = self.0.split_first_chunk::<8>()?;
        self.0 = rest;
        Some(u64::from_be_bytes(*head))
    }

    /// `len u16 | bytes`; `None` for 0xffff or when the input has ended.
    fn file(&mut self) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_first_chunk::<2>()?;
        let len = u16::from_be_bytes(*head);
        if len == u16::MAX {
            self.0 = rest;
            return None;
        }
        let (file, rest) = rest.split_at(usize::from(len).min(rest.len()));
        self.0 = rest;
        Some(file)
    }
}

fn write(dir: &Path, name: &str, bytes: Option<&[u8]>) {
    if let Some(bytes) = bytes {
        if let Err(e) = std::fs::write(dir.join(name), bytes) {
            panic!("cannot write the fuzz input to {}: {e}", dir.display());
        }
    }
}

/// Writes one segment's files.
fn write_segment(dir: &Path, parts: &mut Parts<'_>) {
    let Some(base) = parts.u64() else {
        return;
    };
    write(dir, &format!("{base:020}.log"), parts.file());
    write(dir, &format!("{base:020}.index"), parts.file());
    write(dir, &format!("{base:020}.timeindex"), parts.file());
}

fn config(flags: u8) -> LogConfig {
    LogConfig {
        segment_bytes: SEGMENT_BYTES,
        index_interval_bytes: 64,
        durability: Durability::OsCache,
        retention_ms: -1,
        timestamp_type: if flags & 4 != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        },
        ..LogConfig::default()
    }
}

fuzz_target!(|data: &[u8]| {
    let dir = ScratchDir::new("log");
    let mut parts = Parts(data);
    let flags = parts.u8();
    write_segment(dir.path(), &mut parts);
    if flags & 1 != 0 {
        write_segment(dir.path(), &mut parts);
    }
    if flags & 2 != 0 {
        write(dir.path(), "log-start-offset.checkpoint", parts.file());
    }
    exercise(dir.path(), flags);
    // `dir` is removed here.
});

fn exercise(dir: &Path, flags: u8) {
    let Ok(log) = PartitionLog::open(dir, config(flags), FLUSHER.clone(), FILES.clone()) else {
        return;
    };
    assert!(log.log_start_offset() <= log.log_end_offset());
    read_all(&log);
    let _ = log.first_batch_at_or_after_timestamp(0);
    let _ = log.batch_with_max_timestamp();
    if flags & 8 != 0 {
        let mut retained = config(flags);
        retained.retention_bytes = 1;
        log.update_config(retained);
        let _ = log.enforce_retention(NOW_MS);
    }
    if flags & 16 != 0 {
        let _ = log.delete_records_before(log.log_end_offset());
    }
    append_one(&log);
    let (start, end) = (log.log_start_offset(), log.log_end_offset());
    if log.close().is_err() {
        return;
    }
    match PartitionLog::open(dir, config(flags), FLUSHER.clone(), FILES.clone()) {
        Ok(again) => {
            let reopened = (again.log_start_offset(), again.log_end_offset());
            assert_eq!(
                reopened,
                (start, end),
                "a cleanly closed log recovers with different offsets"
            );
            read_all(&again);
            let _ = again.close();
        }
        Err(e) => panic!("a log we closed cleanly does not open again: {e}"),
    }
}

/// Reads from log start to log end, batch by batch.
fn read_all(log: &PartitionLog) {
    let mut offset = log.log_start_offset();
    for _ in 0..MAX_READS {
        if offset >= log.log_end_offset() {
            break;
        }
        let Ok(slice) = log.read(offset, 64 << 10, true) else {
            break;
        };
        let last = Batches::new(&slice.data)
            .map_while(Result::ok)
            .map(|(header, _)| header.last_offset())
            .last();
        match last {
            Some(last) if last >= offset => offset = last.saturating_add(1),
            _ => break,
        }
    }
}

/// Appends one valid batch at the log end and reads it back.
fn append_one(log: &PartitionLog) {
    let batch = build_uncompressed(
        0,
        NOW_MS,
        (-1, -1, -1),
        &[(Some(b"key"), Some(b"value")), (None, Some(b"second"))],
    );
    let Ok(appended) = log.append(BytesMut::from(&batch[..]), NOW_MS, 0) else {
        return;
    };
    let Appended::Written {
        base_offset,
        last_offset,
        ..
    } = appended
    else {
        panic!("a batch without a producer id was taken for a duplicate");
    };
    assert_eq!(last_offset, base_offset + 1);
    assert_eq!(log.log_end_offset(), last_offset + 1);
    match log.read(base_offset, 64 << 10, true) {
        Ok(slice) => {
            let first = Batches::new(&slice.data).next();
            assert!(
                matches!(first, Some(Ok((h, _))) if h.base_offset == base_offset),
                "the batch just appended at {base_offset} does not read back: {first:?}"
            );
        }
        Err(e) => panic!("the batch just appended at {base_offset} does not read back: {e}"),
    }
}
