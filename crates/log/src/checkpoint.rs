//! The log start offset checkpoint: a small text file in the partition directory, replaced
//! atomically (write a temporary file, fsync, rename, fsync the directory). Format: a version
//! line `0` and the offset on the next line.

use std::fs::File;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use crate::error::{Corruption, IoResultExt, LogError};
use crate::file_cache::open_error;

pub(crate) const FILE_NAME: &str = "log-start-offset.checkpoint";
pub(crate) const TMP_SUFFIX: &str = ".tmp";
const VERSION: &str = "0";

fn path(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

pub(crate) fn read(dir: &Path) -> Result<Option<i64>, LogError> {
    let path = path(dir);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(None),
        Err(err) if err.kind() == ErrorKind::InvalidData => {
            return Err(Corruption::Checkpoint(path).into())
        }
        Err(err) => return Err(err).ctx("read checkpoint", &path),
    };
    let mut lines = text.lines();
    match (
        lines.next(),
        lines.next().map(str::parse::<i64>),
        lines.next(),
    ) {
        (Some(VERSION), Some(Ok(offset)), None) if offset >= 0 => Ok(Some(offset)),
        _ => Err(Corruption::Checkpoint(path).into()),
    }
}

pub(crate) fn write(dir: &Path, log_start: i64) -> Result<(), LogError> {
    let path = path(dir);
    let tmp = dir.join(format!("{FILE_NAME}{TMP_SUFFIX}"));
    let mut file = File::create(&tmp).map_err(|e| open_error(e, "create checkpoint", &tmp))?;
    file.write_all(format!("{VERSION}\n{log_start}\n").as_bytes())
        .ctx("write checkpoint", &tmp)?;
    file.sync_all().ctx("fsync checkpoint", &tmp)?;
    std::fs::rename(&tmp, &path).ctx("rename checkpoint", &path)?;
    sync_dir(dir)
}

/// Makes file creations, renames and deletions in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), LogError> {
    let handle = File::open(dir).map_err(|e| open_error(e, "open directory", dir))?;
    handle.sync_all().ctx("fsync directory", dir)
}
