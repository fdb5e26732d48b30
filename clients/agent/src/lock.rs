//! One pusher per outbox: an exclusive lock on a file in the data directory,
//! released by the operating system however the process ends (SIGKILL too).
//! Two pushers would not break exactly-once (the centre recognises repeats),
//! but they would send everything twice and race on the outbox's records.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Held while a pusher runs.
#[derive(Debug)]
pub struct PusherLock {
    _file: File,
}

fn lock_path(data_dir: &Path) -> PathBuf {
    data_dir.join("pusher.lock")
}

fn open(data_dir: &Path) -> Result<File> {
    let path = lock_path(data_dir);
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| Error::Io {
            action: "open the lock file",
            path,
            source,
        })
}

impl PusherLock {
    /// Takes the lock, or says another pusher holds it.
    pub fn acquire(data_dir: &Path) -> Result<Self> {
        let mut file = open(data_dir)?;
        match file.try_lock() {
            Ok(()) => {
                // For a person wondering who holds it; failing to write is harmless.
                let _ = file
                    .set_len(0)
                    .and_then(|()| writeln!(file, "{}", std::process::id()));
                Ok(Self { _file: file })
            }
            Err(TryLockError::WouldBlock) => Err(Error::PusherBusy(data_dir.to_owned())),
            Err(TryLockError::Error(source)) => Err(Error::Io {
                action: "lock",
                path: lock_path(data_dir),
                source,
            }),
        }
    }

    /// Whether some pusher (in this process or another) holds the lock now.
    pub fn is_held(data_dir: &Path) -> bool {
        match open(data_dir).map(|file| file.try_lock()) {
            Ok(Ok(())) => false,
            Ok(Err(TryLockError::WouldBlock)) => true,
            Ok(Err(TryLockError::Error(_))) | Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pusher_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!PusherLock::is_held(dir.path()));
        let lock = PusherLock::acquire(dir.path()).unwrap();
        assert!(PusherLock::is_held(dir.path()));
        assert!(matches!(
            PusherLock::acquire(dir.path()),
            Err(Error::PusherBusy(_))
        ));
        drop(lock);
        assert!(!PusherLock::is_held(dir.path()));
        PusherLock::acquire(dir.path()).unwrap();
    }
}
