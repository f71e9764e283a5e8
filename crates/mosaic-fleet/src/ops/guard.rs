//! The restart guard: a second `fleet restart` of an agent while one is in
//! flight is refused, so a restart triggered from inside the restarting pane
//! (or a supervisor retrying in a tight loop) cannot pile up.

use crate::error::{Error, Result};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A guard older than this is taken over even if its process lives: no
/// restart takes that long, so it was left behind.
pub const RESTART_GUARD_TTL: Duration = Duration::from_secs(120);

/// Held for the length of a restart; removes its file when dropped.
#[derive(Debug)]
pub struct RestartGuard {
    path: PathBuf,
}

impl RestartGuard {
    /// Takes the guard at `path` for `agent`, or refuses while a live process
    /// holds a fresh one. A guard whose process is gone, or that is older
    /// than [`RESTART_GUARD_TTL`], is taken over.
    pub fn acquire(path: &Path, agent: &str) -> Result<RestartGuard> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| Error::Write {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
            {
                Ok(mut file) => {
                    let _ = writeln!(file, "{}", std::process::id());
                    return Ok(RestartGuard {
                        path: path.to_path_buf(),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(path)
                        .ok()
                        .and_then(|t| t.trim().parse::<u32>().ok());
                    let age = std::fs::metadata(path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .unwrap_or_default();
                    if let Some(pid) = holder
                        && process_alive(pid)
                        && age < RESTART_GUARD_TTL
                    {
                        return Err(Error::RestartInFlight {
                            name: agent.to_owned(),
                            pid,
                            age_secs: age.as_secs(),
                            lock: path.to_path_buf(),
                        });
                    }
                    // Left behind by a restart that died: clear it and retry.
                    let _ = std::fs::remove_file(path);
                }
                Err(source) => {
                    return Err(Error::Write {
                        path: path.to_path_buf(),
                        source,
                    });
                }
            }
        }
        Err(Error::Write {
            path: path.to_path_buf(),
            source: std::io::Error::other("another restart took the guard at the same moment"),
        })
    }
}

impl Drop for RestartGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn process_alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}
