//! One gateway per embedded database: an advisory lock on a file in the
//! data dir, held for the life of the process and released by the kernel
//! when it ends, however it ends.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// File name of the lock inside the data dir.
pub const LOCK_FILE_NAME: &str = "gateway.lock";

/// The data dir is already held, or the lock file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds the lock.
    #[error(
        "data dir {dir} is in use by another gateway ({holder}): stop it first, or give this one its own --data-dir"
    )]
    Held {
        /// The data dir.
        dir: PathBuf,
        /// `pid N`, or what is known of the holder.
        holder: String,
    },
    /// The lock file could not be opened, locked or written.
    #[error(
        "data dir {dir} is not usable: cannot lock {}: {cause} (set MOSAIC_DATA_DIR to a writable directory)",
        LOCK_FILE_NAME
    )]
    Io {
        /// The data dir.
        dir: PathBuf,
        /// What the system said.
        cause: std::io::Error,
    },
}

/// A held lock on a data dir. Dropping it releases the lock.
#[derive(Debug)]
pub struct DataDirLock {
    // Held open: the lock lives as long as the handle.
    _file: File,
    path: PathBuf,
}

impl DataDirLock {
    /// Takes the lock on `dir` (created when missing) without waiting, and
    /// writes this process's id into it.
    ///
    /// # Errors
    /// [`LockError::Held`] naming the holder's pid when another process has
    /// it; [`LockError::Io`] when the file cannot be used.
    pub fn acquire(dir: &Path) -> Result<Self, LockError> {
        let io = |cause| LockError::Io {
            dir: dir.to_path_buf(),
            cause,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let path = dir.join(LOCK_FILE_NAME);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                let holder = match text.trim().parse::<u32>() {
                    Ok(pid) => format!("pid {pid}"),
                    // Locked a moment ago and not yet written.
                    Err(_) => "pid not yet recorded".to_owned(),
                };
                return Err(LockError::Held {
                    dir: dir.to_path_buf(),
                    holder,
                });
            }
            Err(TryLockError::Error(cause)) => return Err(io(cause)),
        }
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(Self { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid_until_it_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDirLock::acquire(dir.path()).unwrap();
        let text = std::fs::read_to_string(first.path()).unwrap();
        assert_eq!(text.trim(), std::process::id().to_string());

        // A second open file description conflicts even within one process.
        let err = DataDirLock::acquire(dir.path()).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, LockError::Held { .. }), "{message}");
        assert!(
            message.contains(&format!("pid {}", std::process::id())),
            "{message}"
        );
        assert!(message.contains("--data-dir"), "{message}");

        drop(first);
        DataDirLock::acquire(dir.path()).unwrap();
    }
}
