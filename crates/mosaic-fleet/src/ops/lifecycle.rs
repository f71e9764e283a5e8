//! Changing the roster: init, provision, add, edit, remove.

use super::{Fleet, Report, control};
use crate::envfile::generate_agent_env;
use crate::error::{Error, Result};
use crate::library::{PersonaLibrary, ProfileSet};
use crate::names::{AgentName, Runtime};
use crate::presets::{FloorSummary, Preset, check_floor, init_summary};
use crate::roster::{Agent, Roster, add_agent, remove_agent, to_yaml, write_file};
use crate::runner::Cmd;
use crate::systemd;

/// What `init` or `provision` produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitOutcome {
    /// The roster as YAML (what was, or would be, written).
    pub yaml: String,
    /// Whether it was written.
    pub written: bool,
    /// The summary line.
    pub summary: String,
    /// The roster's agent counts.
    pub floor: FloorSummary,
}

fn guard_overwrite(fleet: &Fleet<'_>, force: bool) -> Result<()> {
    let path = fleet.paths.roster();
    if path.exists() && !force {
        return Err(Error::RosterExists { path });
    }
    Ok(())
}

/// A roster from a preset. The two-agent floor is checked before anything
/// is written, so a corrupted preset never lands on disk; `minimal` is exempt.
/// With `write`, the preset is written as shipped (comments included).
pub fn init(fleet: &Fleet<'_>, preset: Preset, write: bool, force: bool) -> Result<InitOutcome> {
    let roster = preset.roster()?;
    let floor = check_floor(preset.name(), &roster)?;
    if write {
        guard_overwrite(fleet, force)?;
        write_file(&fleet.paths.roster(), preset.yaml())?;
    }
    Ok(InitOutcome {
        yaml: preset.yaml().to_owned(),
        written: write,
        summary: init_summary(preset.name(), &floor),
        floor,
    })
}

/// A roster from a system-type profile (baseline or override), validated
/// against the effective persona library.
pub fn provision(
    fleet: &Fleet<'_>,
    profile_id: &str,
    write: bool,
    force: bool,
) -> Result<InitOutcome> {
    let library = PersonaLibrary::with_overrides(&fleet.paths.override_roles_dir())?;
    let profiles = ProfileSet::with_overrides(&fleet.paths.override_profiles_dir())?;
    let profile = profiles.get(profile_id)?;
    let roster = crate::library::provision(profile, &library)?;
    let floor = FloorSummary {
        agents: roster.agents.len(),
        orchestrators: crate::roster::count_orchestrators(&roster),
        enhancers: crate::roster::count_enhancers(&roster),
    };
    let yaml = to_yaml(&roster);
    if write {
        guard_overwrite(fleet, force)?;
        roster.save(&fleet.paths.roster())?;
    }
    let summary = format!(
        "Provisioned {} fleet from profile `{}`: {} agent(s), lead {}. Next: mosaic fleet install",
        profile.title, profile.id, floor.agents, profile.lead
    );
    Ok(InitOutcome {
        yaml,
        written: write,
        summary,
        floor,
    })
}

/// What `add` should create.
#[derive(Debug, Clone)]
pub struct AddRequest {
    /// Its name.
    pub name: AgentName,
    /// Its runtime.
    pub runtime: Runtime,
    /// Its class.
    pub class: String,
    /// Its model.
    pub model: Option<String>,
    /// A launch command replacing the runtime.
    pub command: Option<String>,
    /// Start it now.
    pub start: bool,
}

pub(super) fn write_env(fleet: &Fleet<'_>, roster: &Roster, agent: &Agent) -> Result<()> {
    let env = generate_agent_env(roster, agent, fleet.paths.user_home())?;
    write_file(&fleet.paths.env_file(agent.name.as_str()), &env)
}

/// Adds an agent, writes its env file, enables its unit for boot (a failure
/// there is a warning: the agent is added either way) and, unless told not
/// to, starts it.
pub fn add(fleet: &Fleet<'_>, req: AddRequest) -> Result<Report> {
    let roster = fleet.roster()?;
    let mut agent = Agent::new(req.name.clone(), req.runtime, req.class.clone());
    agent.model_hint = req.model;
    agent.command = req.command;
    let roster = add_agent(&roster, agent.clone())?;
    roster.save(&fleet.paths.roster())?;
    write_env(fleet, &roster, &agent)?;
    let name = req.name.as_str();
    let mut report = Report::default();
    report.say(format!(
        "Added {name} ({}/{}) to the fleet.",
        req.runtime, req.class
    ));
    if fleet.systemd {
        let unit = systemd::agent_unit(name);
        match fleet.runner.run(&Cmd::new(systemd::enable(&unit))) {
            Ok(out) if out.success() => {}
            Ok(out) => report.warn(format!(
                "could not enable {unit}: {}",
                first_text(&out.stderr, &out.stdout)
            )),
            Err(e) => report.warn(format!("enable command failed for {name}: {e}")),
        }
    }
    if req.start {
        let started = control::start(fleet, &[name.to_owned()])?;
        report.messages.extend(started.report.messages);
        report.warnings.extend(started.report.warnings);
        if let Some((_, why)) = started.skipped.first() {
            return Err(Error::invalid(format!("agent {name}"), why.clone()));
        }
    } else if !fleet.systemd {
        report.say(format!("Start it with `mosaic fleet start {name}`."));
    }
    Ok(report)
}

/// What `edit` changes; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct EditRequest {
    /// New model (`Some(None)` clears it).
    pub model: Option<Option<String>>,
    /// New launch command (`Some(None)` clears it).
    pub command: Option<Option<String>>,
    /// New class.
    pub class: Option<String>,
    /// New runtime.
    pub runtime: Option<Runtime>,
}

/// Changes an agent in the roster and rewrites its env file. A running
/// agent picks the change up at its next restart.
pub fn edit(fleet: &Fleet<'_>, name: &str, req: EditRequest) -> Result<Report> {
    let mut roster = fleet.roster()?;
    let agent = roster.agent_mut(name)?;
    let mut changed = Vec::new();
    if let Some(model) = req.model {
        changed.push(format!(
            "model_hint = {}",
            model.as_deref().unwrap_or("(runtime default)")
        ));
        agent.model_hint = model.filter(|m| !m.is_empty());
    }
    if let Some(command) = req.command {
        changed.push(format!(
            "command = {}",
            command.as_deref().unwrap_or("(the runtime)")
        ));
        agent.command = command.filter(|c| !c.is_empty());
    }
    if let Some(class) = req.class {
        changed.push(format!("class = {class}"));
        agent.class = class;
    }
    if let Some(runtime) = req.runtime {
        changed.push(format!("runtime = {runtime}"));
        agent.runtime = runtime;
    }
    let agent = agent.clone();
    roster.save(&fleet.paths.roster())?;
    write_env(fleet, &roster, &agent)?;
    let mut report = Report::default();
    if changed.is_empty() {
        report.say(format!("{name}: nothing to change"));
    } else {
        report.say(format!("{name}: {}", changed.join(", ")));
        report.say(format!("Restart it to apply: mosaic fleet restart {name}"));
    }
    Ok(report)
}

/// Removes an agent: refuses the sole orchestrator and the sole enhancer
/// before touching anything, then stops it, disables its unit and deletes
/// its env and heartbeat files (kept with `keep_files`), and writes the
/// roster.
pub fn remove(fleet: &Fleet<'_>, name: &str, keep_files: bool) -> Result<Report> {
    let roster = fleet.roster()?;
    let updated = remove_agent(&roster, name)?;
    let mut report = Report::default();
    let socket = roster.socket();
    if fleet.systemd {
        let unit = systemd::agent_unit(name);
        match fleet.runner.run(&Cmd::new(systemd::service(
            systemd::ServiceAction::Stop,
            name,
        ))) {
            Ok(out) if out.success() => report.say(format!("Stopped {unit}.")),
            Ok(out) => report.warn(format!(
                "could not stop {unit}: {}",
                first_text(&out.stderr, &out.stdout)
            )),
            Err(e) => report.warn(format!("stop command failed for {name}: {e}")),
        }
        if !keep_files {
            match fleet.runner.run(&Cmd::new(systemd::disable(&unit))) {
                Ok(out) if out.success() => report.say(format!("Disabled {unit}.")),
                Ok(out) => report.warn(format!(
                    "could not disable {unit}: {}",
                    first_text(&out.stderr, &out.stdout)
                )),
                Err(e) => report.warn(format!("disable command failed for {name}: {e}")),
            }
        }
    } else {
        let kill = Cmd::new(crate::tmux::kill_session(name, socket));
        if let Ok(out) = fleet.runner.run(&kill)
            && out.success()
        {
            report.say(format!("Stopped {name}'s tmux session."));
        }
    }
    if !keep_files {
        for path in [fleet.paths.env_file(name), fleet.paths.heartbeat(name)] {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => report.warn(format!("could not delete {}: {e}", path.display())),
            }
        }
    }
    updated.save(&fleet.paths.roster())?;
    report.say(format!("Removed {name} from the fleet."));
    Ok(report)
}

pub(super) fn first_text<'a>(a: &'a str, b: &'a str) -> &'a str {
    let a = a.trim();
    if a.is_empty() {
        let b = b.trim();
        if b.is_empty() { "non-zero exit" } else { b }
    } else {
        a
    }
}
