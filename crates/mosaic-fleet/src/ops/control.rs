//! Running the fleet: install, start, stop, status, verify, restart.
//!
//! With a systemd user manager, agents are `mosaic-agent@<name>.service`
//! instances and these operations go through `systemctl --user`. Without one
//! (containers, CI, macOS), the same launcher runs directly and the agents
//! live in tmux until stopped; they do not come back after a reboot.

use super::changes::Changes;
use super::lifecycle::first_text;
use super::start::{check_startable, launcher, selected};
use super::{Fleet, Report, RestartGuard, class_warnings};
use crate::envfile::{generate_agent_env, generate_fleet_env};
use crate::error::{Error, Result};
use crate::runner::Cmd;
use crate::systemd::{self, ServiceAction};
use crate::{library, scripts, tmux};
use serde::Serialize;
use std::path::{Path, PathBuf};

fn write_all(changes: &mut Changes<'_>, files: &[(PathBuf, String, bool)]) -> Result<()> {
    for (path, text, executable) in files {
        changes.write_mode(path, text, executable.then_some(0o755))?;
    }
    Ok(())
}

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
///
/// Every file's contents are worked out before the first is written, so an
/// input that cannot be installed (a unit path with a space, an env value
/// with a newline) changes nothing; a write that fails part-way puts back
/// the files already written. systemd steps that fail are warnings.
pub fn install(fleet: &Fleet<'_>, mosaic_bin: &Path) -> Result<InstallReport> {
    let paths = fleet.paths;
    let mut out = InstallReport {
        systemd: fleet.systemd,
        ..InstallReport::default()
    };
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
    // (path, contents, executable)
    let mut files: Vec<(PathBuf, String, bool)> = Vec::new();
    files.extend(
        library::seed_files(paths)?
            .into_iter()
            .map(|(p, t)| (p, t, false)),
    );
    files.extend(
        scripts::tool_files(paths, mosaic_bin)
            .into_iter()
            .map(|(p, t)| (p, t, true)),
    );
    if let Some(roster) = &roster {
        for agent in &roster.agents {
            let env = generate_agent_env(roster, agent, paths.user_home())?;
            files.push((paths.env_file(agent.name.as_str()), env, false));
        }
        files.push((paths.fleet_env_file(), generate_fleet_env(roster), false));
        out.report.warnings.extend(class_warnings(fleet, roster)?);
    }
    files.push((
        paths.agent_unit_file(),
        systemd::render_agent_unit(paths)?,
        false,
    ));
    files.push((
        paths.holder_unit_file(),
        systemd::render_holder_unit(paths)?,
        false,
    ));
    let mut changes = Changes::new(fleet);
    let written =
        write_all(&mut changes, &files).and_then(|()| library::create_override_dirs(paths));
    changes.finish(written)?;
    out.written.extend(files.into_iter().map(|(p, _, _)| p));
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
/// Without systemd, what the new session needs (its runtime, the launcher)
/// is checked before the old one is stopped.
pub fn restart(fleet: &Fleet<'_>, name: &str) -> Result<Report> {
    let roster = fleet.roster()?;
    let agent = roster.agent(name)?;
    let _guard = RestartGuard::acquire(&fleet.paths.restart_guard(name), name)?;
    let mut report = Report::default();
    if fleet.systemd {
        let cmd = Cmd::new(systemd::service(ServiceAction::Restart, name));
        fleet.runner.run(&cmd)?.checked(&cmd)?;
    } else {
        check_startable(fleet, &[agent])?;
        // Missing session is fine: restart then just starts it.
        let _ = fleet
            .runner
            .run(&Cmd::new(tmux::kill_session(name, roster.socket())))?;
        let mut changes = Changes::new(fleet);
        let launched = launcher(fleet, &roster, agent, &mut changes)
            .and_then(|cmd| fleet.runner.run(&cmd)?.checked(&cmd));
        changes.finish(launched)?;
    }
    report.say(format!("Restarted {name}."));
    Ok(report)
}
