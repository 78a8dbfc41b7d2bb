//! Removing data: retention by time and size, DeleteRecords, and deleting the whole
//! partition directory. Only whole segments are deleted; the log start offset records the rest.

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use super::{PartitionLog, Writer};
use crate::checkpoint;
use crate::error::{IoResultExt, LogError};
use crate::segment::Segment;

/// What a retention pass removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetentionOutcome {
    pub deleted_segments: usize,
    pub deleted_bytes: u64,
    pub log_start_offset: i64,
}

/// Newest timestamp of a segment as Kafka judges it for retention: its largest batch timestamp,
/// or the file's modification time when no batch carried one.
fn largest_timestamp(segment: &Segment) -> i64 {
    match segment.max_timestamp {
        Some(m) if m.timestamp >= 0 => m.timestamp,
        _ => std::fs::metadata(&segment.paths.log)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(i64::MAX, |d| {
                i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
            }),
    }
}

impl PartitionLog {
    /// DeleteRecords: moves the log start offset up to `offset` (persisted first, atomically)
    /// and deletes segments wholly below it. Returns the new log start offset.
    pub fn delete_records_before(&self, offset: i64) -> Result<i64, LogError> {
        let mut writer = self.writer.lock();
        self.check_poison()?;
        let (log_start, log_end) = {
            let state = self.state.read();
            (state.log_start, state.log_end())
        };
        if offset > log_end || offset < 0 {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start,
                log_end,
            });
        }
        if offset <= log_start {
            return Ok(log_start);
        }
        checkpoint::write(&self.dir, offset)?;
        let removed = {
            let mut state = self.state.write();
            state.log_start = offset;
            // A segment is wholly below log start when the next one starts at or below it.
            let count = state
                .segments
                .windows(2)
                .take_while(|pair| pair.get(1).is_some_and(|next| next.base_offset <= offset))
                .count();
            state.segments.drain(..count).collect::<Vec<_>>()
        };
        writer.producers.evict_below(offset);
        drop(writer);
        self.remove_files(removed)?;
        Ok(offset)
    }

    /// Applies `retention.ms` and `retention.bytes` (and drops segments wholly below log start).
    /// The active segment goes too if it must; a new empty one is rolled first.
    pub fn enforce_retention(&self, now_ms: i64) -> Result<RetentionOutcome, LogError> {
        let mut writer = self.writer.lock();
        self.check_poison()?;
        let count = self.segments_to_delete(&writer, now_ms);
        let (total, log_end) = {
            let state = self.state.read();
            (state.segments.len(), state.log_end())
        };
        if count == 0 {
            return Ok(RetentionOutcome {
                log_start_offset: self.log_start_offset(),
                ..RetentionOutcome::default()
            });
        }
        if count >= total {
            let rolled = self.roll(&mut writer, log_end);
            self.poison_on_err(rolled)?;
        }
        let (removed, log_start) = {
            let mut state = self.state.write();
            let removed: Vec<Segment> = state.segments.drain(..count).collect();
            let first_base = state.segments.first().map_or(log_end, |s| s.base_offset);
            state.log_start = state.log_start.max(first_base);
            (removed, state.log_start)
        };
        writer.producers.evict_below(log_start);
        drop(writer);
        let outcome = RetentionOutcome {
            deleted_segments: removed.len(),
            deleted_bytes: removed.iter().map(|s| s.size).sum(),
            log_start_offset: log_start,
        };
        tracing::info!(dir = %self.dir.display(), ?outcome, "retention deleted segments");
        self.remove_files(removed)?;
        Ok(outcome)
    }

    /// How many of the oldest segments retention removes, by Kafka's rules applied in turn:
    /// below log start, then older than `retention.ms`, then beyond `retention.bytes`.
    fn segments_to_delete(&self, writer: &Writer, now_ms: i64) -> usize {
        let config = &writer.config;
        let state = self.state.read();
        let segments = &state.segments;
        let mut count = segments
            .windows(2)
            .take_while(|pair| {
                pair.get(1)
                    .is_some_and(|n| n.base_offset <= state.log_start)
            })
            .count();
        if config.retention_ms >= 0 {
            let cutoff = now_ms.saturating_sub(config.retention_ms);
            count += segments
                .iter()
                .skip(count)
                .take_while(|s| !s.is_empty() && largest_timestamp(s) < cutoff)
                .count();
        }
        if config.retention_bytes >= 0 {
            let total = i128::from(state.size_bytes());
            let mut excess = total - i128::from(config.retention_bytes);
            excess -= segments
                .iter()
                .take(count)
                .map(|s| i128::from(s.size))
                .sum::<i128>();
            for segment in segments.iter().skip(count) {
                let size = i128::from(segment.size);
                if segment.is_empty() || excess - size < 0 {
                    break;
                }
                excess -= size;
                count += 1;
            }
        }
        count
    }

    fn remove_files(&self, removed: Vec<Segment>) -> Result<(), LogError> {
        if removed.is_empty() {
            return Ok(());
        }
        for segment in &removed {
            // Readers still holding the file keep reading it; the cache lets go of it.
            self.files.forget(self.key(segment.base_offset));
            segment.paths.remove()?;
        }
        checkpoint::sync_dir(&self.dir)
    }

    /// DeleteTopics: renames the directory to `<name>.<uuid>-delete` (so a crash leaves
    /// something recognisably doomed), then removes it. Takes `&self` because readers may
    /// still hold the log: after this every append and read fails with `LogError::Deleted`.
    pub fn delete_dir(&self) -> Result<(), LogError> {
        // Wait for an append in progress, and keep new ones out while the files go.
        let _writer = self.writer.lock();
        self.deleted.store(true, Ordering::Release);
        self.closed.store(true, Ordering::Release);
        let name = self
            .dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let doomed: PathBuf = self
            .dir
            .with_file_name(format!("{name}.{}-delete", uuid::Uuid::new_v4().simple()));
        std::fs::rename(&self.dir, &doomed).ctx("rename partition directory", &self.dir)?;
        if let Some(parent) = doomed.parent() {
            checkpoint::sync_dir(parent)?;
        }
        std::fs::remove_dir_all(&doomed).ctx("remove partition directory", &doomed)
    }
}
