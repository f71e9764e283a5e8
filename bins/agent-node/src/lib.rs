//! `agent-node`: the Mosaic workstation daemon. It registers with a gateway,
//! keeps a command-and-control stream open, and runs the shell tasks the
//! gateway signs and sends, streaming their output back.
//!
//! The pieces, each usable on its own:
//!
//! - [`config`]: `agent-node.yaml` plus `MOSAIC_NODE_*` variables, checked
//!   into [`config::Settings`]; errors name the file, the key and the fix.
//! - [`state`]: `<state_dir>/node.json`, the credential and task-signing key
//!   the gateway handed out, written atomically with mode 0600.
//! - [`runner`]: `sh -c` in its own process group, output streamed in chunks
//!   as it is produced, time limits and cancellation that kill the group.
//! - [`health`]: capabilities at registration, heartbeats with live CPU,
//!   memory and disk figures.
//! - [`outbox`]: the queue of progress and results that outlives any one
//!   connection.
//! - [`backoff`]: exponential back-off with full jitter.
//! - [`daemon`]: the connection loop tying them together.
//! - [`unit`]: the systemd user unit, made to start this node as configured.
//! - [`cli`]: the command line (`run`, `check-config`, `systemd-unit`).
//!
//! # Exit codes
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | stopped by SIGTERM/SIGINT, or a subcommand succeeded |
//! | 1 | an unexpected failure (e.g. the state file cannot be written) |
//! | 2 | the configuration is wrong: the message names the key |
//! | 3 | the gateway refused the node (used invite, removed node, at connect or on its open stream) or its signing key changed |
//!
//! # Output
//!
//! Logs go to stderr. Stdout carries two kinds of line, for supervisors and
//! scripts: `agent-node registered as <node id> (<name>)` after every
//! successful registration, and `agent-node connected` once the task stream
//! is open.

pub mod backoff;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod health;
pub mod outbox;
pub mod runner;
pub mod state;
pub mod unit;

/// Process exit codes.
pub mod exit {
    /// Unexpected failure.
    pub const FAILURE: u8 = 1;
    /// Bad configuration: the same status in every Mosaic program.
    pub const CONFIG: u8 = mosaic_config::EXIT_CONFIG;
    /// Refused by the gateway, or the gateway no longer matches this node.
    pub const REFUSED: u8 = 3;
}
