//! Fresh directories for targets that need a filesystem, under /dev/shm when it exists (no
//! disk wear, cheap fsync) or the temp dir. Each is removed when dropped, and also when the
//! target panics (libFuzzer then aborts, which skips destructors); only an abort elsewhere,
//! such as a failed allocation, leaves one behind.

use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex, PoisonError};

static ROOT: LazyLock<PathBuf> = LazyLock::new(|| {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
});

/// The directories alive now, for the panic hook.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

static HOOK: LazyLock<()> = LazyLock::new(|| {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let live = LIVE.lock().unwrap_or_else(PoisonError::into_inner);
        for dir in live.iter() {
            let _ = std::fs::remove_dir_all(dir);
        }
        drop(live);
        previous(info);
    }));
});

/// A scratch directory, removed on drop.
pub struct ScratchDir {
    dir: tempfile::TempDir,
}

impl ScratchDir {
    /// Creates `<root>/schloss-fuzz-<prefix>-XXXXXX`; panics if it cannot (the target cannot
    /// run without it).
    pub fn new(prefix: &str) -> Self {
        LazyLock::force(&HOOK);
        let dir = match tempfile::Builder::new()
            .prefix(&format!("schloss-fuzz-{prefix}-"))
            .tempdir_in(ROOT.as_path())
        {
            Ok(dir) => dir,
            Err(e) => panic!(
                "cannot create a scratch directory in {}: {e}",
                ROOT.display()
            ),
        };
        LIVE.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(dir.path().to_path_buf());
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        LIVE.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|p| p != self.dir.path());
        // The TempDir field removes the directory after this.
    }
}
