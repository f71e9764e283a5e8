//! `fleet ps`: one row per agent, joining systemd, tmux, the process tree,
//! pane idle time and the heartbeat. Rows cover the roster's agents and any
//! other session on the fleet's socket.

use crate::error::{Error, Result};
use crate::names::Runtime;
use crate::panes::{PaneInfo, parse_list_panes, parse_sessions};
use crate::paths::FleetPaths;
use crate::procs::ProcessTable;
use crate::readiness::{Liveness, Readiness, classify};
use crate::roster::Roster;
use crate::runner::{Cmd, CommandRunner, Output};
use crate::systemd::UnitState;
use crate::{systemd, tmux};
use serde::Serialize;
use std::path::Path;

/// The knobs and facts `ps` works from.
#[derive(Debug, Clone, PartialEq)]
pub struct PsOptions {
    /// Now, in Unix seconds.
    pub now: f64,
    /// Idle seconds before an agent is `available`.
    pub idle_threshold: u64,
    /// Heartbeat age in seconds after which an agent is `stale`.
    pub stale_threshold: u64,
    /// Whether to ask systemd about units.
    pub systemd: bool,
    /// The tenant rows are tagged with (the login name).
    pub tenant_id: String,
    /// The host rows are tagged with (the short host name).
    pub host: String,
}

impl PsOptions {
    /// Options from the environment and this host.
    pub fn from_env(systemd: bool) -> Self {
        PsOptions {
            now: crate::util::unix_now(),
            idle_threshold: crate::readiness::idle_threshold(),
            stale_threshold: crate::readiness::stale_threshold(),
            systemd,
            tenant_id: crate::util::user_name(),
            host: crate::util::short_hostname(),
        }
    }
}

/// A flag on a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Flag {
    /// The pane does not run the roster's runtime.
    #[serde(rename = "DRIFT")]
    Drift,
    /// The unit is active but disabled: it will not survive a reboot.
    #[serde(rename = "BOOT-ENABLE")]
    BootEnable,
}

impl Flag {
    /// The flag as shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Flag::Drift => "DRIFT",
            Flag::BootEnable => "BOOT-ENABLE",
        }
    }
}

/// One agent's row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PsRow {
    /// Agent or session name.
    pub name: String,
    /// In the roster (`false`: an ad-hoc session on the fleet's socket).
    pub managed: bool,
    /// Tenant tag.
    pub tenant_id: String,
    /// Host tag.
    pub host: String,
    /// The roster's runtime.
    pub runtime: Option<Runtime>,
    /// The roster's class.
    pub class: Option<String>,
    /// The systemd unit's state, when systemd was asked.
    pub unit: Option<UnitState>,
    /// Whether the tmux session exists.
    pub session: bool,
    /// The pane's first process.
    pub pane_pid: Option<u32>,
    /// The pane's foreground program.
    pub pane_command: Option<String>,
    /// Seconds since the pane's last activity.
    pub idle_seconds: Option<u64>,
    /// Seconds since the last heartbeat.
    pub heartbeat_age_seconds: Option<u64>,
    /// The state the agent wrote into its heartbeat (`busy`, `idle`).
    pub heartbeat_state: Option<String>,
    /// Whether it is there.
    pub liveness: Liveness,
    /// What it can do now.
    pub readiness: Readiness,
    /// DRIFT, BOOT-ENABLE.
    pub flags: Vec<Flag>,
}

impl PsRow {
    /// The HB column: `<age>s/<readiness>`, or `unknown` without a heartbeat.
    pub fn hb_text(&self) -> String {
        match self.heartbeat_age_seconds {
            Some(age) => format!("{age}s/{}", self.readiness.as_str()),
            None => "unknown".to_owned(),
        }
    }
}

/// A heartbeat read from `fleet/run/<name>.hb`: its age from the file's
/// modification time, and the state word on its first line, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Heartbeat {
    /// Seconds since it was written.
    pub age_seconds: f64,
    /// `busy`, `idle`, or `None`.
    pub state: Option<String>,
}

/// Reads a heartbeat file; `None` when there is none.
pub fn read_heartbeat(path: &Path, now: f64) -> Option<Heartbeat> {
    let meta = std::fs::metadata(path).ok()?;
    let mtime = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs_f64();
    let state = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| t.lines().next().map(|l| l.trim().to_ascii_lowercase()))
        .filter(|s| s == "busy" || s == "idle");
    Some(Heartbeat {
        age_seconds: (now - mtime).max(0.0),
        state,
    })
}

/// The commands `ps` issues for `roster`, in order: per agent the unit's
/// state (when systemd is used) and its pane, then the socket's sessions.
pub fn commands(roster: &Roster, systemd: bool) -> Vec<Vec<String>> {
    let socket = roster.socket();
    let mut cmds = Vec::new();
    for agent in &roster.agents {
        if systemd {
            cmds.push(systemd::show(agent.name.as_str()));
        }
        cmds.push(tmux::list_panes(agent.name.as_str(), socket));
    }
    cmds.push(tmux::list_sessions(socket));
    cmds
}

fn ok_stdout(result: Option<&Result<Output>>) -> Option<&str> {
    match result {
        Some(Ok(out)) if out.success() => Some(out.stdout.as_str()),
        _ => None,
    }
}

/// Joins everything into rows.
pub fn ps(
    runner: &dyn CommandRunner,
    paths: &FleetPaths,
    roster: &Roster,
    procs: &dyn ProcessTable,
    opts: &PsOptions,
) -> Result<Vec<PsRow>> {
    let socket = roster.socket();
    let cmds: Vec<Cmd> = commands(roster, opts.systemd)
        .into_iter()
        .map(Cmd::new)
        .collect();
    let results = runner.run_all(&cmds);
    // tmux itself missing makes every row meaningless: say so instead.
    if let Some(Err(e @ Error::NotInstalled { .. })) = results.last() {
        return Err(Error::NotInstalled {
            program: "tmux".to_owned(),
            hint: format!("; install it (Debian: apt-get install tmux) ({e})"),
        });
    }
    let per_agent = if opts.systemd { 2 } else { 1 };
    let mut rows = Vec::new();
    for (i, agent) in roster.agents.iter().enumerate() {
        let base = i * per_agent;
        let unit = if opts.systemd {
            ok_stdout(results.get(base)).map(UnitState::parse)
        } else {
            None
        };
        let pane = ok_stdout(results.get(base + per_agent - 1))
            .and_then(|out| parse_list_panes(out, opts.now));
        let mut row = build_row(
            agent.name.as_str(),
            true,
            pane,
            unit,
            paths,
            procs,
            opts,
            Some(agent.runtime),
        );
        row.class = Some(agent.class.clone());
        rows.push(row);
    }
    let sessions = ok_stdout(results.last())
        .map(parse_sessions)
        .unwrap_or_default();
    let unmanaged: Vec<String> = sessions
        .into_iter()
        .filter(|s| {
            s != &roster.tmux.holder_session
                && !roster.agents.iter().any(|a| a.name == s.as_str())
                && !is_viewer_session(s)
        })
        .collect();
    if !unmanaged.is_empty() {
        let cmds: Vec<Cmd> = unmanaged
            .iter()
            .map(|s| Cmd::new(tmux::list_panes(s, socket)))
            .collect();
        let results = runner.run_all(&cmds);
        for (name, result) in unmanaged.iter().zip(&results) {
            let pane = ok_stdout(Some(result)).and_then(|out| parse_list_panes(out, opts.now));
            rows.push(build_row(name, false, pane, None, paths, procs, opts, None));
        }
    }
    Ok(rows)
}

fn is_viewer_session(name: &str) -> bool {
    name.rsplit_once("-viewer-")
        .is_some_and(|(_, pid)| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
}

#[allow(clippy::too_many_arguments)]
fn build_row(
    name: &str,
    managed: bool,
    pane: Option<PaneInfo>,
    unit: Option<UnitState>,
    paths: &FleetPaths,
    procs: &dyn ProcessTable,
    opts: &PsOptions,
    runtime: Option<Runtime>,
) -> PsRow {
    let heartbeat = read_heartbeat(&paths.heartbeat(name), opts.now);
    let alive = pane.as_ref().is_some_and(|p| !p.dead);
    let liveness = match &heartbeat {
        _ if !alive => Liveness::Dead,
        None => Liveness::Unknown,
        Some(hb) if hb.age_seconds > opts.stale_threshold as f64 => Liveness::Stale,
        Some(_) => Liveness::Healthy,
    };
    let busy = heartbeat
        .as_ref()
        .is_some_and(|hb| hb.state.as_deref() == Some("busy"));
    let idle = pane.as_ref().and_then(|p| p.idle_seconds);
    let readiness = classify(liveness, busy, idle, opts.idle_threshold);
    let mut flags = Vec::new();
    if let (Some(rt), Some(p)) = (runtime, pane.as_ref())
        && alive
        && drifted(rt, p, procs)
    {
        flags.push(Flag::Drift);
    }
    if unit.as_ref().is_some_and(UnitState::boot_gap) {
        flags.push(Flag::BootEnable);
    }
    PsRow {
        name: name.to_owned(),
        managed,
        tenant_id: opts.tenant_id.clone(),
        host: opts.host.clone(),
        runtime,
        class: None,
        unit,
        session: pane.is_some(),
        pane_pid: pane.as_ref().and_then(|p| p.pid),
        pane_command: pane.as_ref().map(|p| p.current_command.clone()),
        idle_seconds: idle.map(|s| s.round() as u64),
        heartbeat_age_seconds: heartbeat.as_ref().map(|hb| hb.age_seconds.round() as u64),
        heartbeat_state: heartbeat.and_then(|hb| hb.state),
        liveness,
        readiness,
        flags,
    }
}

/// The runtime appears neither as the pane's foreground program nor
/// anywhere in the process tree under the pane.
fn drifted(runtime: Runtime, pane: &PaneInfo, procs: &dyn ProcessTable) -> bool {
    let program = runtime.program();
    if pane.current_command == program {
        return false;
    }
    let Some(pid) = pane.pid else {
        return false;
    };
    !procs.tree(pid).iter().any(|p| p.runs(program))
}

/// The rows as a table for people.
pub fn render_table(rows: &[PsRow]) -> String {
    let header = [
        "NAME", "RUNTIME", "CLASS", "UNIT", "PANE", "PID", "IDLE", "HB", "FLAGS",
    ];
    let mut table: Vec<[String; 9]> = vec![header.map(str::to_owned)];
    for r in rows {
        let unit = r.unit.as_ref().map_or_else(
            || "-".to_owned(),
            |u| format!("{}/{}", u.active_state, u.unit_file_state),
        );
        let name = if r.managed {
            r.name.clone()
        } else {
            format!("{} (unmanaged)", r.name)
        };
        table.push([
            name,
            r.runtime.map_or("-".to_owned(), |rt| rt.to_string()),
            r.class.clone().unwrap_or_else(|| "-".to_owned()),
            unit,
            r.pane_command.clone().unwrap_or_else(|| "-".to_owned()),
            r.pane_pid.map_or("-".to_owned(), |p| p.to_string()),
            r.idle_seconds.map_or("-".to_owned(), |s| format!("{s}s")),
            if r.liveness == Liveness::Dead {
                "dead".to_owned()
            } else {
                r.hb_text()
            },
            r.flags
                .iter()
                .map(|f| f.as_str())
                .collect::<Vec<_>>()
                .join(","),
        ]);
    }
    let widths: Vec<usize> = (0..9)
        .map(|c| {
            table
                .iter()
                .map(|row| row[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in &table {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}
