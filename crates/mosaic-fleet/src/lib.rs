//! The Mosaic agent fleet: AI agents running in durable tmux sessions on a
//! user's workstations, described by a roster and managed through systemd
//! user units (or directly, where systemd is absent).
//!
//! - [`roster`]: the roster model, read from YAML or JSON, written as YAML,
//!   with the R5 and two-agent-floor edits; [`presets`]: the six shipped
//!   rosters; [`library`]: personas and system-type profiles with their
//!   override layer; [`northstar`]: `NORTH_STAR.yaml` and its Markdown.
//! - [`tmux`] and [`systemd`]: pure command-line builders; [`runner`]: the
//!   one trait that runs them; [`envfile`], [`scripts`]: what gets installed.
//! - [`ps`] with [`panes`], [`readiness`] and [`procs`]: `fleet ps`;
//!   [`send`]: `agent send --verify`; [`comms`] and [`contract`]: what an
//!   agent is told at launch; [`ops`]: the operations behind the CLI, all
//!   or nothing; [`interrupt`]: how a binary's signal stops them.
//! - Feature `testing`: [`testing`], what tests that need real tmux share.
//!
//! Command lines are data, so behaviour can be pinned exactly:
//!
//! ```
//! use mosaic_fleet::roster::Roster;
//! use mosaic_fleet::{ops, paths::FleetPaths, runner::RecordingRunner, tmux};
//!
//! // An absent socket is the default tmux socket: no `-L` anywhere.
//! let roster = Roster::from_yaml(
//!     "version: 1\nagents:\n  - name: coder0\n    runtime: pi\n",
//!     "example",
//! )?;
//! assert_eq!(roster.socket(), "");
//! assert_eq!(tmux::list_sessions(roster.socket()), ["tmux", "list-sessions", "-F", "#{session_name}"]);
//!
//! // Operations run through a `CommandRunner`; tests record what they ran.
//! let home = tempfile::tempdir()?;
//! let paths = FleetPaths::under(home.path().join(".config/mosaic"), home.path());
//! roster.save(&paths.roster())?;
//! let runner = RecordingRunner::succeeding();
//! let interrupt = mosaic_fleet::interrupt::Interrupt::new();
//! let fleet = ops::Fleet { paths: &paths, runner: &runner, systemd: false, interrupt: &interrupt };
//! ops::verify(&fleet)?;
//! assert_eq!(runner.calls(), [
//!     ["tmux", "has-session", "-t", "=_holder"],
//!     ["tmux", "has-session", "-t", "=coder0"],
//! ]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! This crate knows nothing about HTTP, the database or the CLI's argument
//! parsing: it depends on serde, regex and thiserror only, and effects go
//! through [`runner::CommandRunner`] and the file system under
//! [`paths::FleetPaths`].

pub mod comms;
pub mod contract;
pub mod envfile;
mod error;
pub mod interrupt;
pub mod launch;
pub mod library;
pub mod names;
pub mod northstar;
pub mod ops;
pub mod panes;
pub mod paths;
pub mod presets;
pub mod procs;
pub mod ps;
pub mod readiness;
pub mod roster;
pub mod runner;
pub mod scripts;
pub mod send;
pub mod systemd;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tmux;
mod util;

pub use error::{Error, Result};
pub use names::{AgentName, Runtime};
pub use util::{find_on_path, on_path, short_hostname, unix_now, user_name};
