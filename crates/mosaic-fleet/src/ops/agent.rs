//! `mosaic agent status|tail|reset|watch`: one agent's session.

use super::Fleet;
use crate::error::{Error, Result};
use crate::names::Runtime;
use crate::runner::Cmd;
use crate::tmux;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// What `agent status` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentStatus {
    /// The agent, or `None` for the whole socket.
    pub agent: Option<String>,
    /// Whether the session exists (or, for the socket, whether tmux answered).
    pub running: bool,
    /// What tmux printed.
    pub output: String,
}

/// With an agent: whether its exact session exists. Without: `tmux ls` on
/// the roster's socket.
pub fn agent_status(fleet: &Fleet<'_>, agent: Option<&str>) -> Result<AgentStatus> {
    let roster = fleet.roster()?;
    let argv = match agent {
        Some(name) => {
            roster.agent(name)?;
            tmux::has_session(name, roster.socket())
        }
        None => tmux::ls(roster.socket()),
    };
    let out = fleet.runner.run(&Cmd::new(argv))?;
    Ok(AgentStatus {
        agent: agent.map(str::to_owned),
        running: out.success(),
        output: if out.success() {
            out.stdout
        } else {
            out.stderr
        },
    })
}

/// The last `lines` lines of the agent's pane, trailing blank lines
/// dropped. Full-screen programs may show little here; use `watch`.
pub fn tail(fleet: &Fleet<'_>, agent: &str, lines: u32) -> Result<String> {
    let roster = fleet.roster()?;
    roster.agent(agent)?;
    let cmd = Cmd::new(tmux::tail(agent, lines, roster.socket()));
    let out = fleet.runner.run(&cmd)?.checked(&cmd)?;
    let kept: Vec<&str> = out.stdout.lines().collect();
    let end = kept
        .iter()
        .rposition(|l| !l.trim().is_empty())
        .map_or(0, |i| i + 1);
    let start = end.saturating_sub(lines as usize);
    Ok(kept[start..end].join("\n"))
}

/// The command a runtime uses to start a fresh conversation.
pub fn default_reset_command(runtime: Runtime) -> &'static str {
    match runtime {
        Runtime::Claude => "/clear",
        Runtime::Codex | Runtime::Pi | Runtime::Opencode => "/new",
    }
}

/// Types the runtime's reset command (or `command`) into the agent's pane,
/// on the roster's socket only.
pub fn reset(fleet: &Fleet<'_>, agent: &str, command: Option<&str>) -> Result<String> {
    let roster = fleet.roster()?;
    let entry = roster.agent(agent)?;
    let command = command.unwrap_or(default_reset_command(entry.runtime));
    let cmd = Cmd::new(tmux::agent_reset(
        fleet.paths,
        agent,
        command,
        roster.socket(),
    ));
    let out = fleet.runner.run(&cmd).map_err(|e| match e {
        Error::NotInstalled { program, .. } => Error::NotInstalled {
            program,
            hint: "; install the fleet tools with `mosaic fleet install`".to_owned(),
        },
        other => other,
    })?;
    out.checked(&cmd)?;
    Ok(command.to_owned())
}

/// Watches the agent read-only: a viewer session grouped with the agent's,
/// attached with `-r` (no keystrokes, no resizing the agent's window), and
/// removed afterwards. A raised [`Fleet::interrupt`] removes the viewer,
/// which detaches its client, and ends the watch with
/// [`Error::Interrupted`].
pub fn watch(fleet: &Fleet<'_>, agent: &str) -> Result<()> {
    let roster = fleet.roster()?;
    roster.agent(agent)?;
    let socket = roster.socket();
    let viewer = tmux::viewer_session_name(agent);
    let create = Cmd::new(tmux::watch_create_viewer(agent, &viewer, socket));
    fleet.runner.run(&create)?.checked(&create)?;
    let kill = Cmd::new(tmux::watch_kill_viewer(&viewer, socket));
    let done = AtomicBool::new(false);
    let attached = std::thread::scope(|scope| {
        scope.spawn(|| {
            while !done.load(Ordering::SeqCst) {
                if fleet.interrupt.raised().is_some() {
                    let _ = fleet.runner.run(&kill);
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let attached = fleet
            .runner
            .run_interactive(&Cmd::new(tmux::watch_attach(&viewer, socket)));
        done.store(true, Ordering::SeqCst);
        attached
    });
    let _ = fleet.runner.run(&kill);
    fleet.interrupt.check(|| format!("watching {agent}"))?;
    attached.map(|_| ())
}
