//! Reads: fetch by offset, and the timestamp lookups behind ListOffsets. Each takes the state
//! lock only to snapshot segment bounds and committed lengths, then opens (through the file
//! cache) one segment at a time, as it gets there, and reads with no lock held.

use bytes::Bytes;
use schloss_model::batch::Batches;

use super::{LogState, PartitionLog, ReadSlice};
use crate::error::LogError;
use crate::segment::{MaxTimestamp, Segment, SegmentView};

/// A segment as a reader needs it.
struct Snapshot {
    base_offset: i64,
    size: u64,
    next_offset: i64,
    max_timestamp: Option<MaxTimestamp>,
    /// Where to start scanning for the first batch at or after log start.
    log_start_position: u64,
    /// Where to start scanning for a timestamp query, when one is asked.
    timestamp_position: u64,
}

impl Snapshot {
    fn new(segment: &Segment, log_start: i64, timestamp: Option<i64>) -> Self {
        Self {
            base_offset: segment.base_offset,
            size: segment.size,
            next_offset: segment.next_offset,
            max_timestamp: segment.max_timestamp,
            log_start_position: segment.scan_start(log_start),
            timestamp_position: timestamp.map_or(0, |ts| segment.scan_start_for_timestamp(ts)),
        }
    }
}

impl LogState {
    /// Segments holding offsets at or above log start, oldest first.
    fn live_segments(&self, timestamp: Option<i64>) -> Vec<Snapshot> {
        self.segments
            .iter()
            .filter(|s| s.next_offset > self.log_start)
            .map(|s| Snapshot::new(s, self.log_start, timestamp))
            .collect()
    }
}

impl PartitionLog {
    /// Whole batches from the one containing `offset`, up to `max_bytes`; if `min_one_batch`
    /// and the first batch is larger, that batch alone (KIP-74). `offset == log end` gives an
    /// empty slice; outside `[log start, log end]` is [`LogError::OffsetOutOfRange`].
    pub fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one_batch: bool,
    ) -> Result<ReadSlice, LogError> {
        self.check_poison()?;
        let (log_start, log_end, mut next) = {
            let state = self.state.read();
            let (log_start, log_end) = (state.log_start, state.log_end());
            if offset < log_start || offset > log_end {
                return Err(LogError::OffsetOutOfRange {
                    offset,
                    log_start,
                    log_end,
                });
            }
            let first = state.segment_index_for(offset);
            let next: Vec<(i64, u64, u64)> = state
                .segments
                .iter()
                .skip(first)
                .map(|s| (s.base_offset, s.size, s.scan_start(offset)))
                .collect();
            (log_start, log_end, next.into_iter())
        };
        let slice = |data: Bytes| ReadSlice {
            data,
            log_start_offset: log_start,
            log_end_offset: log_end,
        };
        if offset == log_end {
            return Ok(slice(Bytes::new()));
        }
        // The containing batch is in the first segment unless `offset` falls in a gap.
        let found = loop {
            let Some((base, size, from)) = next.next() else {
                return Ok(slice(Bytes::new()));
            };
            let Some(view) = self.view(base, size)? else {
                // Retention removed the segment meanwhile: the offset is below log start now.
                let state = self.state.read();
                return Err(LogError::OffsetOutOfRange {
                    offset,
                    log_start: state.log_start,
                    log_end: state.log_end(),
                });
            };
            if let Some(position) =
                view.find(from, |pos, h| (h.last_offset() >= offset).then_some(pos))?
            {
                break (view, position);
            }
        };
        let (view, position) = found;
        let available = view.size.saturating_sub(position);
        let want = usize::try_from(available)
            .unwrap_or(usize::MAX)
            .min(max_bytes);
        let data = view.read(position, want)?;
        let whole: usize = Batches::new(&data)
            .map_while(Result::ok)
            .map(|(_, raw)| raw.len())
            .sum();
        if whole > 0 {
            return Ok(slice(data.slice(..whole)));
        }
        if min_one_batch {
            return Ok(slice(view.read_batch(position)?));
        }
        Ok(slice(Bytes::new()))
    }

    /// The first batch (from log start) whose max timestamp is at least `timestamp`, found
    /// through the time index. The caller picks the exact record inside it.
    pub fn first_batch_at_or_after_timestamp(
        &self,
        timestamp: i64,
    ) -> Result<Option<Bytes>, LogError> {
        self.check_poison()?;
        let (log_start, segments) = {
            let state = self.state.read();
            (state.log_start, state.live_segments(Some(timestamp)))
        };
        for segment in segments {
            if segment
                .max_timestamp
                .is_none_or(|m| m.timestamp < timestamp)
            {
                continue;
            }
            // Removed by retention meanwhile: everything in it is below log start now.
            let Some(view) = self.view(segment.base_offset, segment.size)? else {
                continue;
            };
            let from = segment.timestamp_position.max(segment.log_start_position);
            let found = view.find(from, |pos, h| {
                (h.max_timestamp >= timestamp && h.last_offset() >= log_start).then_some(pos)
            })?;
            if let Some(position) = found {
                return view.read_batch(position).map(Some);
            }
        }
        Ok(None)
    }

    /// The batch holding the largest timestamp at or above log start (the earliest such batch
    /// on ties), for ListOffsets `MAX_TIMESTAMP`.
    pub fn batch_with_max_timestamp(&self) -> Result<Option<Bytes>, LogError> {
        self.check_poison()?;
        let (log_start, segments) = {
            let state = self.state.read();
            (state.log_start, state.live_segments(None))
        };
        let mut best: Option<(i64, usize, u64)> = None;
        for (i, segment) in segments.iter().enumerate() {
            let candidate = match segment.max_timestamp {
                None => None,
                Some(m) if m.last_offset >= log_start => Some((m.timestamp, m.position)),
                // The segment's maximum lies below log start: look at what is left of it.
                Some(_) => match self.view(segment.base_offset, segment.size)? {
                    Some(view) => rescan_max(&view, segment, log_start)?,
                    None => None,
                },
            };
            if let Some((ts, position)) = candidate {
                if best.is_none_or(|(best_ts, _, _)| ts > best_ts) {
                    best = Some((ts, i, position));
                }
            }
        }
        let Some((_, i, position)) = best else {
            return Ok(None);
        };
        let Some(segment) = segments.get(i) else {
            return Ok(None);
        };
        match self.view(segment.base_offset, segment.size)? {
            Some(view) => view.read_batch(position).map(Some),
            None => Ok(None),
        }
    }
}

/// Largest timestamp (and its batch position) among a segment's batches at or above log start.
fn rescan_max(
    view: &SegmentView,
    segment: &Snapshot,
    log_start: i64,
) -> Result<Option<(i64, u64)>, LogError> {
    debug_assert!(segment.base_offset <= log_start && log_start < segment.next_offset);
    let mut best: Option<(i64, u64)> = None;
    view.find(segment.log_start_position, |pos, h| {
        if h.last_offset() >= log_start && best.is_none_or(|(ts, _)| h.max_timestamp > ts) {
            best = Some((h.max_timestamp, pos));
        }
        None::<()>
    })?;
    Ok(best)
}
