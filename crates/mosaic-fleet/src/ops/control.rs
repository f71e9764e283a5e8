//! Running the fleet: install, start, stop, status, verify, restart.
//!
//! With a systemd user manager, agents are `mosaic-agent@<name>.service`
//! instances and these operations go through `systemctl --user`. Without one
//! (containers, CI, macOS), the same launcher runs directly and the agents
//! live in tmux until stopped; they do not come back after a reboot.

use super::lifecycle::{first_text, write_env};
use super::{Fleet, Report, RestartGuard};
use crate::envfile::{generate_fleet_env, parse_env};
use crate::error::{Error, Result};
use crate::roster::{Agent, Roster, write_file};
use crate::runner::Cmd;
use crate::systemd::{self, ServiceAction};
use crate::{library, scripts, tmux};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What `install` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct InstallReport {
    /// Files written.
    pub written: Vec<PathBuf>,
    /// Whether units were enabled through systemd.
    pub systemd: bool,
    /// Messages and warnings.
    #[serde(flatten)]
    pub report: Report,
}

/// Installs the fleet on this host: seeds the persona library, profiles,
/// presets and schema; writes the tools (launcher, comms tool, stand-in
/// agent), the env files and the systemd user units; and, where systemd
/// runs, reloads it, enables the holder and every agent unit and enables
/// lingering. Without systemd the units are written but not enabled, and
/// the report says how to run the fleet instead.
pub fn install(fleet: &Fleet<'_>, mosaic_bin: &Path) -> Result<InstallReport> {
    let paths = fleet.paths;
    let mut out = InstallReport {
        systemd: fleet.systemd,
        ..InstallReport::default()
    };
    out.written.extend(library::seed(paths)?.written);
    out.written
        .extend(scripts::install_tools(paths, mosaic_bin)?);
    let roster = match fleet.roster() {
        Ok(roster) => Some(roster),
        Err(Error::NoRoster { .. }) => {
            out.report.warn(
                "no roster yet: create one with `mosaic fleet init --profile general --write`, then run `mosaic fleet install` again",
            );
            None
        }
        Err(e) => return Err(e),
    };
    if let Some(roster) = &roster {
        for agent in &roster.agents {
            write_env(fleet, roster, agent)?;
            out.written.push(paths.env_file(agent.name.as_str()));
        }
        write_file(&paths.fleet_env_file(), &generate_fleet_env(roster))?;
        out.written.push(paths.fleet_env_file());
    }
    write_file(
        &paths.agent_unit_file(),
        &systemd::render_agent_unit(paths)?,
    )?;
    write_file(
        &paths.holder_unit_file(),
        &systemd::render_holder_unit(paths)?,
    )?;
    out.written
        .extend([paths.agent_unit_file(), paths.holder_unit_file()]);
    out.report.say(format!(
        "Installed the persona library, profiles, presets and tools under {}.",
        paths.home().display()
    ));
    if !fleet.systemd {
        out.report.say(format!(
            "systemd is not available on this host (no user manager): units were written to {} but not enabled. \
             Run the fleet with `mosaic fleet start`; agents then run in tmux until stopped and do not return after a reboot.",
            paths.systemd_user_dir().display()
        ));
        return Ok(out);
    }
    let mut steps: Vec<Vec<String>> = vec![
        systemd::daemon_reload(),
        systemd::enable(systemd::HOLDER_UNIT),
    ];
    if let Some(roster) = &roster {
        steps.extend(
            roster
                .agents
                .iter()
                .map(|a| systemd::enable(&systemd::agent_unit(a.name.as_str()))),
        );
    }
    steps.push(systemd::enable_linger(&crate::util::user_name()));
    for argv in steps {
        let cmd = Cmd::new(argv);
        match fleet.runner.run(&cmd) {
            Ok(o) if o.success() => {}
            Ok(o) => out.report.warn(format!(
                "`{}` failed: {}",
                cmd.display(),
                first_text(&o.stderr, &o.stdout)
            )),
            Err(e) => out.report.warn(format!("`{}`: {e}", cmd.display())),
        }
    }
    out.report.say(
        "Enabled mosaic-tmux-holder.service and every agent unit for boot; start them with `mosaic fleet start`.",
    );
    Ok(out)
}

/// What `start` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StartReport {
    /// Agents started (or already running).
    pub started: Vec<String>,
    /// Agents not started, with why.
    pub skipped: Vec<(String, String)>,
    /// Messages and warnings.
    #[serde(flatten)]
    pub report: Report,
}

fn selected<'r>(roster: &'r Roster, names: &[String]) -> Result<Vec<&'r Agent>> {
    if names.is_empty() {
        return Ok(roster.agents.iter().collect());
    }
    names.iter().map(|n| roster.agent(n)).collect()
}

/// Why `agent` cannot start here: its runtime is missing and no launch
/// command replaces it.
fn missing_runtime(agent: &Agent) -> Option<String> {
    if agent.command.is_some() {
        return None;
    }
    crate::launch::locate(agent.runtime)
        .err()
        .map(|e| e.to_string())
}

/// Starts the holder session and the named agents (all when `names` is
/// empty). An agent whose runtime is not installed is skipped with the
/// reason; the others start.
pub fn start(fleet: &Fleet<'_>, names: &[String]) -> Result<StartReport> {
    let roster = fleet.roster()?;
    let agents = selected(&roster, names)?;
    let mut out = StartReport::default();
    let socket = roster.socket();
    if fleet.systemd {
        let holder = Cmd::new(systemd::unit_action(
            ServiceAction::Start,
            systemd::HOLDER_UNIT,
        ));
        fleet.runner.run(&holder)?.checked(&holder)?;
    } else {
        let has = fleet.runner.run(&Cmd::new(tmux::has_session(
            &roster.tmux.holder_session,
            socket,
        )))?;
        if !has.success() {
            let new = Cmd::new(tmux::new_holder_session(
                &roster.tmux.holder_session,
                socket,
            ));
            fleet.runner.run(&new)?.checked(&new)?;
        }
        if !fleet.paths.start_script().exists() {
            return Err(Error::invalid(
                fleet.paths.start_script().display().to_string(),
                "the session launcher is not installed; run `mosaic fleet install` first",
            ));
        }
    }
    for agent in agents {
        let name = agent.name.as_str();
        if let Some(why) = missing_runtime(agent) {
            out.skipped.push((name.to_owned(), why));
            continue;
        }
        if fleet.systemd {
            let cmd = Cmd::new(systemd::service(ServiceAction::Start, name));
            fleet.runner.run(&cmd)?.checked(&cmd)?;
            out.report
                .say(format!("Started {}.", systemd::agent_unit(name)));
        } else {
            let cmd = launcher(fleet, &roster, agent)?;
            let o = fleet.runner.run(&cmd)?.checked(&cmd)?;
            out.report.say(o.stdout.trim().to_owned());
        }
        out.started.push(name.to_owned());
    }
    Ok(out)
}

/// The launcher command for `agent` without systemd: the env file's
/// variables (regenerated when missing) plus `MOSAIC_HOME`.
fn launcher(fleet: &Fleet<'_>, roster: &Roster, agent: &Agent) -> Result<Cmd> {
    let env_path = fleet.paths.env_file(agent.name.as_str());
    if !env_path.exists() {
        write_env(fleet, roster, agent)?;
    }
    let text = std::fs::read_to_string(&env_path).map_err(|source| Error::Read {
        path: env_path.clone(),
        source,
    })?;
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

/// Stops the named agents (all, and the holder, when `names` is empty).
pub fn stop(fleet: &Fleet<'_>, names: &[String]) -> Result<Report> {
    let roster = fleet.roster()?;
    let agents = selected(&roster, names)?;
    let socket = roster.socket();
    let mut report = Report::default();
    for agent in agents {
        let name = agent.name.as_str();
        let cmd = if fleet.systemd {
            Cmd::new(systemd::service(ServiceAction::Stop, name))
        } else {
            Cmd::new(tmux::kill_session(name, socket))
        };
        match fleet.runner.run(&cmd)? {
            o if o.success() => report.say(format!("Stopped {name}.")),
            o if !fleet.systemd => report.say(format!(
                "{name} was not running ({})",
                first_text(&o.stderr, &o.stdout)
            )),
            o => report.warn(format!(
                "could not stop {name}: {}",
                first_text(&o.stderr, &o.stdout)
            )),
        }
    }
    if names.is_empty() {
        let holder = &roster.tmux.holder_session;
        let cmd = if fleet.systemd {
            Cmd::new(systemd::unit_action(
                ServiceAction::Stop,
                systemd::HOLDER_UNIT,
            ))
        } else {
            Cmd::new(tmux::kill_session(holder, socket))
        };
        if fleet.runner.run(&cmd)?.success() {
            report.say(format!("Stopped the holder session {holder}."));
        }
    }
    Ok(report)
}

/// One agent's session state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusRow {
    /// Agent (or holder) name.
    pub name: String,
    /// Whether its tmux session exists.
    pub running: bool,
}

/// Whether each named agent's session (all when `names` is empty) exists.
pub fn status(fleet: &Fleet<'_>, names: &[String]) -> Result<Vec<StatusRow>> {
    let roster = fleet.roster()?;
    let agents = selected(&roster, names)?;
    let cmds: Vec<Cmd> = agents
        .iter()
        .map(|a| Cmd::new(tmux::has_session(a.name.as_str(), roster.socket())))
        .collect();
    let results = fleet.runner.run_all(&cmds);
    agents
        .iter()
        .zip(results)
        .map(|(a, r)| {
            Ok(StatusRow {
                name: a.name.to_string(),
                running: r?.success(),
            })
        })
        .collect()
}

/// Checks that the holder and every agent have their exact session on the
/// roster's socket; returns each result, and fails when any is missing.
pub fn verify(fleet: &Fleet<'_>) -> Result<Vec<StatusRow>> {
    let roster = fleet.roster()?;
    let socket = roster.socket();
    let names = std::iter::once(roster.tmux.holder_session.clone())
        .chain(roster.agents.iter().map(|a| a.name.to_string()));
    let mut rows = Vec::new();
    for name in names {
        let out = fleet
            .runner
            .run(&Cmd::new(tmux::has_session(&name, socket)))?;
        rows.push(StatusRow {
            name,
            running: out.success(),
        });
    }
    let missing: Vec<&str> = rows
        .iter()
        .filter(|r| !r.running)
        .map(|r| r.name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(Error::invalid(
            format!(
                "fleet on the {} tmux socket",
                if socket.is_empty() { "default" } else { socket }
            ),
            format!(
                "no session for {}; start with `mosaic fleet start`",
                missing.join(", ")
            ),
        ));
    }
    Ok(rows)
}

/// Restarts one agent, refusing while another restart of it is in flight.
pub fn restart(fleet: &Fleet<'_>, name: &str) -> Result<Report> {
    let roster = fleet.roster()?;
    let agent = roster.agent(name)?;
    let _guard = RestartGuard::acquire(&fleet.paths.restart_guard(name), name)?;
    let mut report = Report::default();
    if fleet.systemd {
        let cmd = Cmd::new(systemd::service(ServiceAction::Restart, name));
        fleet.runner.run(&cmd)?.checked(&cmd)?;
    } else {
        if let Some(why) = missing_runtime(agent) {
            return Err(Error::invalid(format!("agent {name}"), why));
        }
        // Missing session is fine: restart then just starts it.
        let _ = fleet
            .runner
            .run(&Cmd::new(tmux::kill_session(name, roster.socket())))?;
        let cmd = launcher(fleet, &roster, agent)?;
        fleet.runner.run(&cmd)?.checked(&cmd)?;
    }
    report.say(format!("Restarted {name}."));
    Ok(report)
}
