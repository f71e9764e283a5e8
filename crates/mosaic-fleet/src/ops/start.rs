//! `fleet start`: check everything first, then bring up the holder and the
//! agents; when something fails after that (a launcher that exits, an agent
//! that dies while `--wait` watches it, a signal), stop again what this
//! command started, and only that.

use super::changes::Changes;
use super::{Fleet, Report, class_warnings};
use crate::envfile::{generate_agent_env, parse_env};
use crate::error::{Error, Result};
use crate::roster::{Agent, Roster};
use crate::runner::Cmd;
use crate::systemd::{self, ServiceAction};
use crate::tmux;
use serde::Serialize;
use std::time::{Duration, Instant};

/// How often `--wait` looks at the started agents.
const WATCH_INTERVAL: Duration = Duration::from_millis(250);

/// How to start.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// After starting, watch the agents this command started for this long,
    /// and fail (stopping them again) if any of them exits meanwhile.
    pub wait: Option<Duration>,
}

/// What `start` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StartReport {
    /// Agents this command started.
    pub started: Vec<String>,
    /// Agents that were running already, left as they were.
    pub running: Vec<String>,
    /// Messages and warnings.
    #[serde(flatten)]
    pub report: Report,
}

pub(super) fn selected<'r>(roster: &'r Roster, names: &[String]) -> Result<Vec<&'r Agent>> {
    if names.is_empty() {
        return Ok(roster.agents.iter().collect());
    }
    names.iter().map(|n| roster.agent(n)).collect()
}

/// Why `agent` cannot start here: its runtime is missing and no launch
/// command replaces it.
pub(super) fn missing_runtime(agent: &Agent) -> Option<String> {
    if agent.command.is_some() {
        return None;
    }
    crate::launch::locate(agent.runtime)
        .err()
        .map(|e| e.to_string())
}

/// Everything `start` needs before it changes anything: every agent's
/// runtime (or launch command) and, without systemd, the launcher.
pub(super) fn check_startable(fleet: &Fleet<'_>, agents: &[&Agent]) -> Result<()> {
    let problems: Vec<(String, String)> = agents
        .iter()
        .filter_map(|a| missing_runtime(a).map(|why| (a.name.to_string(), why)))
        .collect();
    if !problems.is_empty() {
        return Err(Error::CannotStart { problems });
    }
    if !fleet.systemd && !fleet.paths.start_script().exists() {
        return Err(Error::invalid(
            fleet.paths.start_script().display().to_string(),
            "the session launcher is not installed; run `mosaic fleet install` first",
        ));
    }
    Ok(())
}

/// Starts the holder and the named agents (all when `names` is empty).
///
/// All or nothing: every agent's runtime and the launcher are checked
/// before anything is started, and an agent that cannot start stops the
/// whole command with every such agent named. When a later step fails, or
/// a signal raises [`Fleet::interrupt`], the sessions and units this command
/// started are stopped again; ones that were running before are left alone.
pub fn start(fleet: &Fleet<'_>, names: &[String], opts: &StartOptions) -> Result<StartReport> {
    let roster = fleet.roster()?;
    let agents = selected(&roster, names)?;
    check_startable(fleet, &agents)?;
    let mut out = StartReport::default();
    out.report.warnings.extend(class_warnings(fleet, &roster)?);
    let mut changes = Changes::new(fleet);
    let result = start_checked(fleet, &roster, &agents, opts, &mut changes, &mut out);
    changes.finish(result).map(|()| out)
}

/// [`start`] after its checks, recording what it starts in `changes`.
pub(super) fn start_checked(
    fleet: &Fleet<'_>,
    roster: &Roster,
    agents: &[&Agent],
    opts: &StartOptions,
    changes: &mut Changes<'_>,
    out: &mut StartReport,
) -> Result<()> {
    let names: Vec<&str> = agents.iter().map(|a| a.name.as_str()).collect();
    fleet
        .interrupt
        .check(|| format!("starting {}", names.join(", ")))?;
    if fleet.systemd {
        start_units(fleet, agents, changes, out)?;
    } else {
        start_sessions(fleet, roster, agents, changes, out)?;
    }
    if let Some(wait) = opts.wait.filter(|w| !w.is_zero()) {
        watch_started(fleet, roster, &out.started, wait)?;
    }
    fleet
        .interrupt
        .check(|| format!("starting {}", names.join(", ")))
}

/// With systemd: the holder unit, then each agent's unit. `is-active`
/// first, so an undo stops only the units this command started.
fn start_units(
    fleet: &Fleet<'_>,
    agents: &[&Agent],
    changes: &mut Changes<'_>,
    out: &mut StartReport,
) -> Result<()> {
    let units: Vec<String> = std::iter::once(systemd::HOLDER_UNIT.to_owned())
        .chain(agents.iter().map(|a| systemd::agent_unit(a.name.as_str())))
        .collect();
    let active = systemd::parse_is_active(
        &fleet
            .runner
            .run(&Cmd::new(systemd::is_active(&units)))?
            .stdout,
        units.len(),
    );
    let mut start_unit = |unit: &str, was_active: bool| -> Result<()> {
        if was_active {
            return Ok(());
        }
        let cmd = Cmd::new(systemd::unit_action(ServiceAction::Start, unit));
        fleet.runner.run(&cmd)?.checked(&cmd)?;
        changes.started_unit(unit);
        Ok(())
    };
    start_unit(systemd::HOLDER_UNIT, active[0])?;
    for (agent, (unit, was_active)) in agents.iter().zip(units.iter().zip(&active).skip(1)) {
        let name = agent.name.as_str();
        fleet.interrupt.check(|| format!("starting {name}"))?;
        let started = start_unit(unit, *was_active);
        if started.is_err() {
            fleet.interrupt.check(|| format!("starting {name}"))?;
        }
        started?;
        if *was_active {
            out.report.say(format!("{unit} is already running."));
            out.running.push(name.to_owned());
        } else {
            out.report.say(format!("Started {unit}."));
            out.started.push(name.to_owned());
        }
    }
    Ok(())
}

/// Without systemd: the holder session, then each agent through the
/// launcher. `has-session` first, so an undo kills only the sessions this
/// command created.
fn start_sessions(
    fleet: &Fleet<'_>,
    roster: &Roster,
    agents: &[&Agent],
    changes: &mut Changes<'_>,
    out: &mut StartReport,
) -> Result<()> {
    let socket = roster.socket();
    let exists = |name: &str| -> Result<bool> {
        Ok(fleet
            .runner
            .run(&Cmd::new(tmux::has_session(name, socket)))?
            .success())
    };
    let holder = &roster.tmux.holder_session;
    if !exists(holder)? {
        let new = Cmd::new(tmux::new_holder_session(holder, socket));
        fleet.runner.run(&new)?.checked(&new)?;
        changes.created_session(holder, socket);
    }
    for agent in agents {
        let name = agent.name.as_str();
        fleet.interrupt.check(|| format!("starting {name}"))?;
        if exists(name)? {
            out.report.say(format!(
                "{name} is already running on the {} tmux socket.",
                socket_label(socket)
            ));
            out.running.push(name.to_owned());
            continue;
        }
        let cmd = launcher(fleet, roster, agent, changes)?;
        let launched = fleet.runner.run(&cmd).and_then(|o| o.checked(&cmd));
        match launched {
            Ok(o) => {
                changes.created_session(name, socket);
                out.report.say(o.stdout.trim().to_owned());
                out.started.push(name.to_owned());
            }
            Err(e) => {
                // A launcher that failed after creating the session (or was
                // killed by the same Ctrl-C) may have left it behind.
                if exists(name).unwrap_or(false) {
                    changes.created_session(name, socket);
                }
                fleet.interrupt.check(|| format!("starting {name}"))?;
                return Err(e);
            }
        }
    }
    Ok(())
}

fn socket_label(socket: &str) -> &str {
    if socket.is_empty() { "default" } else { socket }
}

/// Watches `started` for `wait`: each must keep a live pane throughout.
fn watch_started(
    fleet: &Fleet<'_>,
    roster: &Roster,
    started: &[String],
    wait: Duration,
) -> Result<()> {
    if started.is_empty() {
        return Ok(());
    }
    let begun = Instant::now();
    let deadline = begun + wait;
    let doing = || {
        format!(
            "waiting {}s for {} to stay up after starting",
            wait.as_secs(),
            started.join(", ")
        )
    };
    let cmds: Vec<Cmd> = started
        .iter()
        .map(|n| Cmd::new(tmux::list_panes(n, roster.socket())))
        .collect();
    loop {
        for (name, result) in started.iter().zip(fleet.runner.run_all(&cmds)) {
            let out = result?;
            let dead = !out.success()
                || crate::panes::parse_list_panes(&out.stdout, 0.0).is_some_and(|p| p.dead);
            if dead {
                return Err(Error::AgentExited {
                    name: name.clone(),
                    secs: begun.elapsed().as_secs(),
                });
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        fleet.interrupt.sleep(left.min(WATCH_INTERVAL), doing)?;
    }
}

/// The launcher command for `agent` without systemd: the env file's
/// variables (written first when missing) plus `MOSAIC_HOME`.
pub(super) fn launcher(
    fleet: &Fleet<'_>,
    roster: &Roster,
    agent: &Agent,
    changes: &mut Changes<'_>,
) -> Result<Cmd> {
    let env_path = fleet.paths.env_file(agent.name.as_str());
    let text = match std::fs::read_to_string(&env_path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let text = generate_agent_env(roster, agent, fleet.paths.user_home())?;
            changes.write(&env_path, &text)?;
            text
        }
        Err(source) => {
            return Err(Error::Read {
                path: env_path,
                source,
            });
        }
    };
    let mut env = parse_env(&text);
    env.push((
        "MOSAIC_HOME".to_owned(),
        fleet.paths.home().display().to_string(),
    ));
    Ok(Cmd::new(vec![
        "bash".to_owned(),
        fleet.paths.start_script().display().to_string(),
        agent.name.to_string(),
    ])
    .with_env(env))
}
