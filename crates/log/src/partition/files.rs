//! The log's files through the broker-wide [`FileCache`]: cache keys, opening a segment for
//! a reader or the appender, and persisting the active segment's indexes.

use std::sync::Arc;

use super::{PartitionLog, Writer};
use crate::error::LogError;
use crate::file_cache::FileKey;
use crate::flusher::SyncFile;
use crate::segment::{Segment, SegmentView};

impl PartitionLog {
    pub(crate) fn key(&self, base_offset: i64) -> FileKey {
        FileKey {
            owner: self.owner,
            base_offset,
        }
    }

    /// The open file of `segment` (which must be in `state`, whose lock the caller holds).
    pub(super) fn file_of(&self, segment: &Segment) -> Result<Arc<SyncFile>, LogError> {
        self.files.acquire(
            self.key(segment.base_offset),
            &segment.paths.log,
            &self.poisoned,
        )
    }

    /// A reader's view of the segment starting at `base_offset`, up to `size` bytes; `None` if
    /// retention removed the segment since the caller looked.
    pub(crate) fn view(
        &self,
        base_offset: i64,
        size: u64,
    ) -> Result<Option<SegmentView>, LogError> {
        let state = self.state.read();
        let Some(segment) = state.segment_at(base_offset) else {
            return Ok(None);
        };
        Ok(Some(SegmentView {
            file: self.file_of(segment)?,
            size,
        }))
    }

    /// Writes the active segment's new index entries and fsyncs them and the segment.
    pub(super) fn sync_active(&self, writer: &mut Writer) -> Result<(), LogError> {
        let state = self.state.read();
        let Some(active) = state.active() else {
            return Ok(());
        };
        // The appender (whose lock we hold) is the only one who changes `state`, so holding
        // the read lock over this I/O delays nobody but readers of a concurrent write.
        writer
            .indexes
            .persist(&self.files, &active.offset_index, &active.time_index)?;
        // A segment file that is not open has nothing to fsync (the cache closes only synced
        // files).
        match self.files.cached(self.key(active.base_offset)) {
            Some(file) => file.sync_now(),
            None => Ok(()),
        }
    }
}
