//! Idempotent-producer bookkeeping, after Kafka's `ProducerStateManager`: per producer id, the
//! current epoch and the sequence/offset ranges of its last five batches. A retried batch is
//! recognised and answered with its original offsets; a gap or a stale epoch is refused.
//!
//! The state is rebuilt on open by scanning every batch header of the log. Snapshots (Kafka's
//! `.snapshot` files) would bound that scan and are not written yet. Transactional state
//! (ongoing transactions, markers) is not tracked yet; transactional batches are stored intact
//! and checked like idempotent ones.

use std::collections::{HashMap, VecDeque};

use schloss_model::batch::BatchHeader;

use crate::error::LogError;

/// How many recent batches per producer are remembered for duplicate detection.
pub const RETAINED_BATCHES: usize = 5;

const NO_EPOCH: i16 = -1;

/// One appended batch of a producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMetadata {
    pub first_seq: i32,
    pub last_seq: i32,
    pub first_offset: i64,
    pub last_offset: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerEntry {
    pub epoch: i16,
    /// Oldest first.
    pub batches: VecDeque<BatchMetadata>,
}

impl ProducerEntry {
    fn last_seq(&self) -> Option<i32> {
        self.batches.back().map(|b| b.last_seq)
    }

    fn last_offset(&self) -> Option<i64> {
        self.batches.back().map(|b| b.last_offset)
    }
}

/// The verdict on a batch before it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// Write it.
    Append,
    /// Already in the log at these offsets: write nothing.
    Duplicate(BatchMetadata),
}

#[derive(Debug, Default, Clone)]
pub struct ProducerState {
    producers: HashMap<i64, ProducerEntry>,
}

fn in_sequence(last: i32, next: i32) -> bool {
    (last != i32::MAX && next == last + 1) || (last == i32::MAX && next == 0)
}

impl ProducerState {
    pub fn get(&self, producer_id: i64) -> Option<&ProducerEntry> {
        self.producers.get(&producer_id)
    }

    pub fn len(&self) -> usize {
        self.producers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }

    /// Kafka's client-origin validation of `header` against the producer's state.
    pub(crate) fn check(&self, header: &BatchHeader) -> Result<Check, LogError> {
        if !header.has_producer_id() || header.is_control() {
            return Ok(Check::Append);
        }
        let producer_id = header.producer_id;
        let Some(entry) = self.producers.get(&producer_id) else {
            // Unknown producer (new, or its batches were removed by retention or
            // DeleteRecords): any sequence is accepted.
            return Ok(Check::Append);
        };
        let (epoch, first_seq) = (header.producer_epoch, header.base_sequence);
        if epoch < entry.epoch {
            return Err(LogError::InvalidProducerEpoch {
                producer_id,
                current: entry.epoch,
                found: epoch,
            });
        }
        if epoch == entry.epoch {
            let last_seq = header.last_sequence();
            if let Some(dup) = entry
                .batches
                .iter()
                .find(|b| b.first_seq == first_seq && b.last_seq == last_seq)
            {
                return Ok(Check::Duplicate(*dup));
            }
            if let Some(last) = entry.last_seq() {
                if !in_sequence(last, first_seq) {
                    return Err(LogError::OutOfOrderSequence {
                        producer_id,
                        expected: if last == i32::MAX { 0 } else { last + 1 },
                        found: first_seq,
                    });
                }
            }
            return Ok(Check::Append);
        }
        // A newer epoch starts its sequences at 0.
        if first_seq != 0 && entry.epoch != NO_EPOCH {
            return Err(LogError::OutOfOrderSequence {
                producer_id,
                expected: 0,
                found: first_seq,
            });
        }
        Ok(Check::Append)
    }

    /// Records a batch that is now in the log (after `check`, or while rebuilding on open).
    pub(crate) fn update(&mut self, header: &BatchHeader) {
        if !header.has_producer_id() {
            return;
        }
        let entry = self
            .producers
            .entry(header.producer_id)
            .or_insert_with(|| ProducerEntry {
                epoch: header.producer_epoch,
                batches: VecDeque::new(),
            });
        if header.producer_epoch != entry.epoch {
            entry.epoch = header.producer_epoch;
            entry.batches.clear();
        }
        if header.is_control() {
            return;
        }
        if entry.batches.len() >= RETAINED_BATCHES {
            entry.batches.pop_front();
        }
        entry.batches.push_back(BatchMetadata {
            first_seq: header.base_sequence,
            last_seq: header.last_sequence(),
            first_offset: header.base_offset,
            last_offset: header.last_offset(),
        });
    }

    /// Forgets producers whose last batch lies wholly below the new log start, as Kafka does
    /// when retention or DeleteRecords moves it.
    pub(crate) fn evict_below(&mut self, log_start: i64) {
        self.producers
            .retain(|_, entry| entry.last_offset().is_some_and(|last| last >= log_start));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schloss_model::batch::build_uncompressed;

    type Record<'a> = (Option<&'a [u8]>, Option<&'a [u8]>);

    fn header(offset: i64, epoch: i16, seq: i32, records: usize) -> BatchHeader {
        let recs: Vec<Record<'_>> = vec![(None, Some(b"v")); records];
        let raw = build_uncompressed(offset, 0, (7, epoch, seq), &recs);
        BatchHeader::parse(&raw).unwrap()
    }

    #[test]
    fn only_the_last_five_batches_are_remembered() {
        let mut state = ProducerState::default();
        for i in 0..7 {
            state.update(&header(i, 0, i as i32, 1));
        }
        let entry = state.get(7).unwrap();
        assert_eq!(entry.batches.len(), RETAINED_BATCHES);
        assert_eq!(entry.batches.front().unwrap().first_seq, 2);
        assert_eq!(
            state.check(&header(0, 0, 1, 1)).unwrap_err().to_string(),
            "out of order sequence for producer `7`: expected `7`, got `1`"
        );
        assert_eq!(
            state.check(&header(0, 0, 2, 1)).unwrap(),
            Check::Duplicate(BatchMetadata {
                first_seq: 2,
                last_seq: 2,
                first_offset: 2,
                last_offset: 2
            })
        );
    }

    #[test]
    fn sequences_wrap_at_i32_max() {
        assert!(in_sequence(i32::MAX, 0));
        assert!(!in_sequence(i32::MAX, i32::MIN));
        assert!(in_sequence(4, 5));
    }

    #[test]
    fn eviction_forgets_producers_below_log_start() {
        let mut state = ProducerState::default();
        state.update(&header(0, 0, 0, 3));
        state.evict_below(3);
        assert!(state.is_empty());
    }
}
