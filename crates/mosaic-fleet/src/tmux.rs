//! tmux command lines, built by pure functions.
//!
//! The socket rule holds everywhere: an empty socket name is the default tmux
//! socket and renders no `-L`; a named socket renders `-L <name>`. Spawning,
//! observing (`fleet ps`, `agent watch`), verifying and the comms cheat-sheet
//! all go through [`socket_args`], so they always agree.
//!
//! Targets are exact, so `coder1` never matches a session `coder10`, and
//! typed for what each command takes: a command on a session
//! (`has-session`, `kill-session`, `attach`, `new-session -t`) gets
//! [`session_target`], `=name`; a command on a pane (`send-keys`,
//! `capture-pane`, `list-panes`) gets [`pane_target`],
//! `=name:^.{top-left}`, the first window's top-left pane. A bare `=name`
//! is no pane target ("can't find pane: =name"), and `=name:0.0` breaks
//! under a `base-index 1` or `pane-base-index 1` tmux configuration, which
//! the fleet's server reads like any other.

use crate::paths::FleetPaths;

/// `-L <socket>` for a named socket, nothing for the default socket.
pub fn socket_args(socket: &str) -> Vec<String> {
    if socket.is_empty() {
        Vec::new()
    } else {
        vec!["-L".to_owned(), socket.to_owned()]
    }
}

/// The `list-panes` format `fleet ps` parses: pane pid, current command,
/// dead flag, then the pane, window and session activity timestamps (the
/// first valid one is the pane's last activity; tmux 3.4 leaves
/// `pane_activity` empty). Fields are separated by single spaces so empty
/// fields keep their position.
pub const PANE_FORMAT: &str = "#{pane_pid} #{pane_current_command} #{pane_dead} #{pane_activity} #{window_activity} #{session_activity}";

fn tmux(socket: &str, rest: &[&str]) -> Vec<String> {
    let mut argv = vec!["tmux".to_owned()];
    argv.extend(socket_args(socket));
    argv.extend(rest.iter().map(|s| (*s).to_owned()));
    argv
}

/// The exact target of a session: `=name`.
pub fn session_target(session: &str) -> String {
    format!("={session}")
}

/// The exact target of an agent's pane: the top-left pane of its session's
/// first window, whatever the window and pane base indexes are.
pub fn pane_target(session: &str) -> String {
    format!("={session}:^.{{top-left}}")
}

/// `tmux list-panes` for an agent's first pane, in [`PANE_FORMAT`].
pub fn list_panes(agent: &str, socket: &str) -> Vec<String> {
    tmux(
        socket,
        &["list-panes", "-t", &pane_target(agent), "-F", PANE_FORMAT],
    )
}

/// `tmux list-sessions`, names only: finds sessions outside the roster.
pub fn list_sessions(socket: &str) -> Vec<String> {
    tmux(socket, &["list-sessions", "-F", "#{session_name}"])
}

/// `tmux has-session` on exactly `session`.
pub fn has_session(session: &str, socket: &str) -> Vec<String> {
    tmux(socket, &["has-session", "-t", &session_target(session)])
}

/// `tmux ls`.
pub fn ls(socket: &str) -> Vec<String> {
    tmux(socket, &["ls"])
}

/// `tmux new-session` for the holder session that keeps the server alive.
pub fn new_holder_session(holder: &str, socket: &str) -> Vec<String> {
    tmux(socket, &["new-session", "-d", "-s", holder])
}

/// `tmux kill-session` on exactly `session`.
pub fn kill_session(session: &str, socket: &str) -> Vec<String> {
    tmux(socket, &["kill-session", "-t", &session_target(session)])
}

/// The last `lines` lines of an agent's pane (`agent tail`).
pub fn tail(agent: &str, lines: u32, socket: &str) -> Vec<String> {
    tmux(
        socket,
        &[
            "capture-pane",
            "-t",
            &pane_target(agent),
            "-p",
            "-S",
            &format!("-{lines}"),
        ],
    )
}

/// The capture `send --verify` compares before and after a send: the bottom
/// of the pane plus `lines` lines of history, wrapped lines joined.
pub fn verify_accepted(agent: &str, socket: &str, lines: u32) -> Vec<String> {
    tmux(
        socket,
        &[
            "capture-pane",
            "-t",
            &pane_target(agent),
            "-p",
            "-J",
            "-S",
            &format!("-{lines}"),
        ],
    )
}

/// A viewer session grouped with the agent's session, for `agent watch`:
/// attaching to it never resizes or steals the agent's own client.
pub fn watch_create_viewer(agent: &str, viewer: &str, socket: &str) -> Vec<String> {
    tmux(
        socket,
        &[
            "new-session",
            "-d",
            "-t",
            &session_target(agent),
            "-s",
            viewer,
        ],
    )
}

/// Attaches read-only (`-r`: no keystrokes reach the agent).
pub fn watch_attach(viewer: &str, socket: &str) -> Vec<String> {
    tmux(socket, &["attach", "-r", "-t", &session_target(viewer)])
}

/// Removes the viewer session after `agent watch`.
pub fn watch_kill_viewer(viewer: &str, socket: &str) -> Vec<String> {
    tmux(socket, &["kill-session", "-t", &session_target(viewer)])
}

/// A read-only attach straight to the agent's session (no viewer session).
pub fn watch(agent: &str, socket: &str) -> Vec<String> {
    tmux(socket, &["attach", "-r", "-t", &session_target(agent)])
}

/// The viewer session's name: unique per watching process.
pub fn viewer_session_name(agent: &str) -> String {
    format!("{agent}-viewer-{}", std::process::id())
}

/// `agent-send.sh`: sends `message` to an agent with a preamble naming the
/// sender (`source`) and the receiver.
pub fn agent_send(
    paths: &FleetPaths,
    agent: &str,
    message: &str,
    socket: &str,
    source: &str,
) -> Vec<String> {
    let mut argv = vec![paths.agent_send().display().to_string()];
    argv.extend(socket_args(socket));
    argv.extend(
        ["-S", source, "-s", agent, "-m", message]
            .iter()
            .map(|s| (*s).to_owned()),
    );
    argv
}

/// `send-message.sh`: types `command` into the agent's pane as-is (no
/// preamble), for `agent reset`. The tool hands its `-t` to `send-keys`,
/// so it gets the pane target.
pub fn agent_reset(paths: &FleetPaths, agent: &str, command: &str, socket: &str) -> Vec<String> {
    let mut argv = vec![paths.send_message().display().to_string()];
    argv.extend(socket_args(socket));
    argv.extend(
        ["-t", &pane_target(agent), "-m", command]
            .iter()
            .map(|s| (*s).to_owned()),
    );
    argv
}

/// The source label the CLI sends with when the caller gives none:
/// `<short host>:operator`, so operator traffic never poses as an agent.
pub fn default_source_label() -> String {
    format!("{}:operator", crate::util::short_hostname())
}
