//! What a command has changed so far, so a failure part-way can put it back.
//!
//! Fleet commands check everything they can before they change anything;
//! what can only fail later (a launcher that exits, a disk that fills, a
//! signal) is undone from this log, newest first. Only what this command
//! did is recorded: a session or unit that was already there before is never
//! recorded, so it is never stopped by an undo.

use super::Fleet;
use crate::error::{Error, Result};
use crate::runner::Cmd;
use crate::{systemd, tmux};
use std::path::{Path, PathBuf};

enum Step {
    /// A file written over `before` (`None`: it did not exist).
    File {
        path: PathBuf,
        before: Option<Vec<u8>>,
    },
    /// A tmux session this command created.
    Session { name: String, socket: String },
    /// A unit this command enabled.
    Enabled(String),
    /// A unit this command started.
    Started(String),
}

/// The changes of one command.
pub(super) struct Changes<'a> {
    fleet: Fleet<'a>,
    steps: Vec<Step>,
}

impl<'a> Changes<'a> {
    pub fn new(fleet: &Fleet<'a>) -> Self {
        Changes {
            fleet: *fleet,
            steps: Vec::new(),
        }
    }

    /// Writes `contents` to `path` (atomically), remembering what was there.
    pub fn write(&mut self, path: &Path, contents: &str) -> Result<()> {
        self.write_mode(path, contents, None)
    }

    /// [`Self::write`] with permission bits.
    pub fn write_mode(&mut self, path: &Path, contents: &str, mode: Option<u32>) -> Result<()> {
        let before = match std::fs::read(path) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(Error::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        crate::util::write_atomic(path, contents.as_bytes(), mode)?;
        self.steps.push(Step::File {
            path: path.to_path_buf(),
            before,
        });
        Ok(())
    }

    /// Records a tmux session this command created.
    pub fn created_session(&mut self, name: &str, socket: &str) {
        self.steps.push(Step::Session {
            name: name.to_owned(),
            socket: socket.to_owned(),
        });
    }

    /// Records a unit this command enabled (it was not enabled before).
    pub fn enabled_unit(&mut self, unit: &str) {
        self.steps.push(Step::Enabled(unit.to_owned()));
    }

    /// Records a unit this command started (it was not active before).
    pub fn started_unit(&mut self, unit: &str) {
        self.steps.push(Step::Started(unit.to_owned()));
    }

    /// `result` as is when it succeeded; otherwise its error, after undoing
    /// every recorded change and saying so.
    pub fn finish<T>(self, result: Result<T>) -> Result<T> {
        result.map_err(|e| self.fail(e))
    }

    /// Undoes every recorded change, newest first, and returns `error` with
    /// what was undone (and what could not be) attached.
    pub fn fail(self, error: Error) -> Error {
        let mut undone = Vec::new();
        let mut problems = Vec::new();
        for step in self.steps.into_iter().rev() {
            match undo(&self.fleet, &step) {
                Ok(what) => undone.push(what),
                Err(why) => problems.push(why),
            }
        }
        if undone.is_empty() && problems.is_empty() {
            return error;
        }
        Error::RolledBack {
            source: Box::new(error),
            undone,
            problems,
        }
    }
}

fn undo(fleet: &Fleet<'_>, step: &Step) -> std::result::Result<String, String> {
    match step {
        Step::File { path, before } => {
            // Files under the Mosaic home are named from there.
            let shown = path
                .strip_prefix(fleet.paths.home())
                .unwrap_or(path)
                .display();
            match before {
                Some(bytes) => crate::util::write_atomic(path, bytes, None)
                    .map(|()| format!("restored {shown}"))
                    .map_err(|e| e.to_string()),
                None => match std::fs::remove_file(path) {
                    Ok(()) => Ok(format!("removed {shown}")),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        Ok(format!("removed {shown}"))
                    }
                    Err(e) => Err(format!("cannot remove {shown}: {e}")),
                },
            }
        }
        Step::Session { name, socket } => run(
            fleet,
            tmux::kill_session(name, socket),
            format!("stopped the tmux session {name}"),
        ),
        Step::Enabled(unit) => run(fleet, systemd::disable(unit), format!("disabled {unit}")),
        Step::Started(unit) => run(
            fleet,
            systemd::unit_action(systemd::ServiceAction::Stop, unit),
            format!("stopped {unit}"),
        ),
    }
}

fn run(fleet: &Fleet<'_>, argv: Vec<String>, done: String) -> std::result::Result<String, String> {
    let cmd = Cmd::new(argv);
    fleet
        .runner
        .run(&cmd)
        .and_then(|out| out.checked(&cmd))
        .map(|_| done)
        .map_err(|e| e.to_string())
}
