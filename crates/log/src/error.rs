//! Everything a partition log can fail with. Messages follow the cedar style: lowercase, no
//! trailing period, values from outside in backticks.

use std::path::PathBuf;

use schloss_model::batch::BatchError;

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("i/o error while {context}")]
    Io {
        context: IoContext,
        #[source]
        source: std::io::Error,
    },
    #[error("offset `{offset}` is outside the log [{log_start}, {log_end}]")]
    OffsetOutOfRange {
        offset: i64,
        log_start: i64,
        log_end: i64,
    },
    /// A write or an fsync failed earlier: nothing written since can be trusted to be durable,
    /// so the partition refuses all further work until it is reopened (and recovered).
    #[error("partition log is poisoned after an earlier write or fsync failure")]
    Poisoned,
    /// The partition's offsets would pass `i64::MAX` (only reachable through a damaged or
    /// hand-made segment name).
    #[error("offsets exhausted: the log ends at {log_end}")]
    OffsetOverflow { log_end: i64 },
    #[error("partition log was deleted")]
    Deleted,
    #[error(
        "out of order sequence for producer `{producer_id}`: expected `{expected}`, got `{found}`"
    )]
    OutOfOrderSequence {
        producer_id: i64,
        expected: i32,
        found: i32,
    },
    #[error(
        "producer `{producer_id}` epoch `{found}` is older than the current epoch `{current}`"
    )]
    InvalidProducerEpoch {
        producer_id: i64,
        current: i16,
        found: i16,
    },
    #[error("batch of {size} bytes exceeds the largest storable batch of {max} bytes")]
    RecordTooLarge { size: usize, max: u64 },
    #[error("appended bytes are not exactly one record batch")]
    InvalidBatch(#[source] BatchError),
    #[error(transparent)]
    Corrupt(#[from] Corruption),
    /// No file descriptor could be had to open `path`. Nothing was written, so the log is not
    /// poisoned: the operation may be retried once descriptors are free again.
    #[error("cannot open `{path}`: {shortage}")]
    OutOfFiles {
        path: PathBuf,
        #[source]
        shortage: FileShortage,
    },
}

/// Why no file descriptor was available.
#[derive(Debug, thiserror::Error)]
pub enum FileShortage {
    #[error("all {capacity} descriptors of the log's open-file budget are in use")]
    Budget { capacity: usize },
    #[error("the process or system is out of file descriptors")]
    System(#[source] std::io::Error),
}

/// What the log was doing when an I/O call failed: the file and the operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoContext {
    pub op: &'static str,
    pub path: PathBuf,
}

impl std::fmt::Display for IoContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} `{}`", self.op, self.path.display())
    }
}

/// Damage found on disk that recovery will not repair by truncating the active segment.
#[derive(Debug, thiserror::Error)]
pub enum Corruption {
    #[error("segment `{path}` has a bad batch at position {position}: {reason}")]
    Segment {
        path: PathBuf,
        position: u64,
        reason: String,
    },
    #[error("segments overlap: `{path}` starts at offset {base} below the previous segment's end {previous_end}")]
    Overlap {
        path: PathBuf,
        base: i64,
        previous_end: i64,
    },
    #[error("checkpoint file `{0}` is malformed")]
    Checkpoint(PathBuf),
    #[error("segment `{path}` exceeds the 4 GiB addressable by its index")]
    SegmentTooLarge { path: PathBuf },
}

pub(crate) trait IoResultExt<T> {
    /// Attaches the operation and file to an I/O error.
    fn ctx(self, op: &'static str, path: &std::path::Path) -> Result<T, LogError>;
}

impl<T> IoResultExt<T> for std::io::Result<T> {
    fn ctx(self, op: &'static str, path: &std::path::Path) -> Result<T, LogError> {
        self.map_err(|source| LogError::Io {
            context: IoContext {
                op,
                path: path.to_path_buf(),
            },
            source,
        })
    }
}
