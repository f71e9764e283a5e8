//! Fleet operations: what the `mosaic fleet` and `mosaic agent` commands do,
//! as functions over a [`Fleet`] (paths, a command runner, and whether a
//! systemd user manager is there). They return reports; printing is the
//! caller's business.

mod agent;
mod changes;
mod classes;
mod control;
mod guard;
mod lifecycle;
mod start;

pub use agent::{AgentStatus, agent_status, default_reset_command, reset, tail, watch};
pub use classes::{check_class, class_warnings};
pub use control::{InstallReport, StatusRow, install, restart, status, stop, verify};
pub use guard::{RESTART_GUARD_TTL, RestartGuard};
pub use lifecycle::{AddRequest, EditRequest, InitOutcome, add, edit, init, provision, remove};
pub use start::{StartOptions, StartReport, start};

use crate::error::Result;
use crate::interrupt::Interrupt;
use crate::paths::FleetPaths;
use crate::roster::Roster;
use crate::runner::CommandRunner;

/// What fleet operations act on.
#[derive(Clone, Copy)]
pub struct Fleet<'a> {
    /// Where the files are.
    pub paths: &'a FleetPaths,
    /// How commands run.
    pub runner: &'a dyn CommandRunner,
    /// Whether a systemd user manager manages the agents. Without one,
    /// agents run in tmux directly (started by `fleet start`).
    pub systemd: bool,
    /// Raised by the binary on SIGINT or SIGTERM: operations that wait stop
    /// waiting, undo what they had changed and return
    /// [`crate::Error::Interrupted`].
    pub interrupt: &'a Interrupt,
}

impl std::fmt::Debug for Fleet<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("paths", &self.paths)
            .field("systemd", &self.systemd)
            .field("interrupt", &self.interrupt.raised())
            .finish_non_exhaustive()
    }
}

impl Fleet<'_> {
    /// The roster at its usual place.
    pub fn roster(&self) -> Result<Roster> {
        Roster::load(&self.paths.roster())
    }
}

/// An outcome for people: what happened, and what went wrong without
/// stopping the operation.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// What was done, one line each.
    pub messages: Vec<String>,
    /// Problems that did not stop it, one line each.
    pub warnings: Vec<String>,
}

impl Report {
    fn say(&mut self, line: impl Into<String>) {
        self.messages.push(line.into());
    }
    fn warn(&mut self, line: impl Into<String>) {
        self.warnings.push(line.into());
    }
}
