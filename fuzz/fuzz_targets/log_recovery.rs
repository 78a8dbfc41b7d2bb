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
//! Known bugs, not by design (reported; remove the allowances once fixed, or set
//! `SCHLOSS_FUZZ_STRICT=1` to see them):
//!
//! 1. A log-start checkpoint above the recovered log end (a DeleteRecords checkpoint fsynced
//!    before a crash took the unsynced tail) is clamped to the log end in memory but left on
//!    disk. Appends then reuse offsets below it, and the next recovery moves the log start past
//!    them: acknowledged records vanish. One empty segment at 0, checkpoint 5; the records
//!    appended at 0 and 1 are gone after reopening: `0200000000000000000000ffffffff0004300a350a`.
//! 2. Offsets near `i64::MAX` overflow: recovery computes `BatchHeader::last_offset` (base +
//!    delta) on a batch whose stored base offset is near the top before it checks anything
//!    (a panic with overflow checks, as in this build and `cargo test`; a wrap that the next
//!    check happens to catch in release), and `append` computes `log_end + delta` unchecked
//!    (partition.rs), so a segment named `09223372036854775807` panics (or wraps to negative
//!    offsets in release) on the first append: `007fffffffffffffff0000ffffffff`.
#![no_main]

use std::path::Path;
use std::sync::LazyLock;

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use schloss_fuzz::scratch::ScratchDir;
use schloss_log::{Appended, Durability, Flusher, LogConfig, PartitionLog, TimestampType};
use schloss_model::batch::{build_uncompressed, Batches};

static FLUSHER: LazyLock<Flusher> = LazyLock::new(Flusher::start);

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

/// Writes one segment's files; says whether a batch in its log has offsets that overflow
/// (known bug 2).
fn write_segment(dir: &Path, parts: &mut Parts<'_>) -> bool {
    let Some(base) = parts.u64() else {
        return false;
    };
    let log = parts.file();
    write(dir, &format!("{base:020}.log"), log);
    write(dir, &format!("{base:020}.index"), parts.file());
    write(dir, &format!("{base:020}.timeindex"), parts.file());
    Batches::new(log.unwrap_or_default())
        .map_while(Result::ok)
        .any(|(h, _)| {
            h.base_offset
                .checked_add(i64::from(h.last_offset_delta))
                .is_none()
        })
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
    let mut overflow = write_segment(dir.path(), &mut parts);
    if flags & 1 != 0 {
        overflow |= write_segment(dir.path(), &mut parts);
    }
    if flags & 2 != 0 {
        write(dir.path(), "log-start-offset.checkpoint", parts.file());
    }
    if overflow && !*STRICT {
        return; // known bug 2
    }
    exercise(dir.path(), flags);
    // `dir` is removed here.
});

/// Whether known, reported bugs fail the target too.
static STRICT: LazyLock<bool> = LazyLock::new(|| std::env::var_os("SCHLOSS_FUZZ_STRICT").is_some());

/// The log start checkpoint as the log reads it (`0`, then the offset, nothing else).
fn checkpoint(dir: &Path) -> Option<i64> {
    let text = std::fs::read_to_string(dir.join("log-start-offset.checkpoint")).ok()?;
    let mut lines = text.lines();
    match (
        lines.next(),
        lines.next().map(str::parse::<i64>),
        lines.next(),
    ) {
        (Some("0"), Some(Ok(offset)), None) if offset >= 0 => Some(offset),
        _ => None,
    }
}

fn exercise(dir: &Path, flags: u8) {
    let stale_checkpoint = checkpoint(dir);
    let Ok(log) = PartitionLog::open(dir, config(flags), FLUSHER.clone()) else {
        return;
    };
    let known_bug_1 =
        !*STRICT && stale_checkpoint.is_some_and(|offset| offset > log.log_end_offset());
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
    if log.log_end_offset() > i64::MAX - 2 && !*STRICT {
        return; // known bug 2: the append below would overflow
    }
    append_one(&log);
    let (start, end) = (log.log_start_offset(), log.log_end_offset());
    if log.close().is_err() {
        return;
    }
    match PartitionLog::open(dir, config(flags), FLUSHER.clone()) {
        Ok(again) => {
            let reopened = (again.log_start_offset(), again.log_end_offset());
            if known_bug_1 {
                assert_eq!(
                    reopened.1, end,
                    "a cleanly closed log recovers a different end"
                );
            } else {
                assert_eq!(
                    reopened,
                    (start, end),
                    "a cleanly closed log recovers with different offsets"
                );
            }
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
