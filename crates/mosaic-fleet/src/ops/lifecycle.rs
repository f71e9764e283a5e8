//! Changing the roster: init, provision, add, edit, remove.

use super::changes::Changes;
use super::start::{StartOptions, StartReport, check_startable, missing_runtime, start_checked};
use super::{Fleet, Report, check_class};
use crate::envfile::generate_agent_env;
use crate::error::{Error, Result};
use crate::library::{PersonaLibrary, ProfileSet};
use crate::names::{AgentName, Runtime};
use crate::presets::{FloorSummary, Preset, check_floor, init_summary};
use crate::roster::{Agent, add_agent, remove_agent, to_yaml, write_file};
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
    /// After starting it, watch it this long and fail (undoing the add) if
    /// it exits meanwhile.
    pub wait: Option<std::time::Duration>,
}

/// Adds an agent: writes it into the roster, writes its env file, enables
/// its unit for boot (a failure there is a warning: the agent is added
/// either way) and, unless told not to, starts it, waiting `wait` for it to
/// stay up.
///
/// All or nothing. Before anything is written: the name is free, the class
/// has a persona and, when it is to start, its runtime is installed (or a
/// launch command replaces it) and the launcher is in place. When starting
/// fails after that, the agent is stopped again, its unit disabled when this
/// command enabled it, and the roster and env file are put back byte for
/// byte.
pub fn add(fleet: &Fleet<'_>, req: AddRequest) -> Result<Report> {
    let roster = fleet.roster()?;
    let name = req.name.as_str().to_owned();
    let mut agent = Agent::new(req.name.clone(), req.runtime, req.class.clone());
    agent.model_hint = req.model;
    agent.command = req.command;
    let roster = add_agent(&roster, agent.clone())?;
    check_class(fleet, &format!("agent `{name}`"), &agent.class)?;
    if req.start {
        check_startable(fleet, &[&agent]).map_err(|e| match e {
            Error::CannotStart { problems } => Error::invalid(
                format!("fleet add {name}"),
                format!(
                    "not added, the roster is unchanged: {}; or add it with --no-start and \
                     start it once its runtime is installed",
                    problems
                        .into_iter()
                        .map(|(_, why)| why)
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            ),
            other => other,
        })?;
    }
    let env = generate_agent_env(&roster, &agent, fleet.paths.user_home())?;
    let mut report = Report::default();
    let mut changes = Changes::new(fleet);
    let result = (|| {
        changes.write(&fleet.paths.roster(), &to_yaml(&roster))?;
        changes.write(&fleet.paths.env_file(&name), &env)?;
        report.say(format!(
            "Added {name} ({}/{}) to the fleet.",
            req.runtime, req.class
        ));
        if fleet.systemd {
            enable_unit(fleet, &name, &mut changes, &mut report);
        }
        if req.start {
            let mut started = StartReport::default();
            let opts = StartOptions { wait: req.wait };
            start_checked(fleet, &roster, &[&agent], &opts, &mut changes, &mut started)?;
            report.messages.extend(started.report.messages);
            report.warnings.extend(started.report.warnings);
        } else {
            if let Some(why) = missing_runtime(&agent) {
                report.warn(format!("{name} cannot start on this host yet: {why}"));
            }
            if !fleet.systemd {
                report.say(format!("Start it with `mosaic fleet start {name}`."));
            }
        }
        Ok(())
    })();
    changes.finish(result).map(|()| report)
}

/// Enables the agent's unit for boot, recording it when it was not enabled
/// before; a failure is a warning.
fn enable_unit(fleet: &Fleet<'_>, name: &str, changes: &mut Changes<'_>, report: &mut Report) {
    let unit = systemd::agent_unit(name);
    let was_enabled = fleet
        .runner
        .run(&Cmd::new(systemd::is_enabled(&unit)))
        // Unknown counts as enabled: an undo never disables what it cannot
        // prove this command enabled.
        .map_or(true, |o| o.success());
    match fleet.runner.run(&Cmd::new(systemd::enable(&unit))) {
        Ok(out) if out.success() => {
            if !was_enabled {
                changes.enabled_unit(&unit);
            }
        }
        Ok(out) => report.warn(format!(
            "could not enable {unit}: {}",
            first_text(&out.stderr, &out.stdout)
        )),
        Err(e) => report.warn(format!("enable command failed for {name}: {e}")),
    }
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
/// agent picks the change up at its next restart. A new class must have a
/// persona; both files are written or neither is.
pub fn edit(fleet: &Fleet<'_>, name: &str, req: EditRequest) -> Result<Report> {
    let mut roster = fleet.roster()?;
    let agent = roster.agent_mut(name)?;
    let mut changed = Vec::new();
    let mut report = Report::default();
    if let Some(class) = &req.class {
        check_class(fleet, &format!("agent `{name}`"), class)?;
    }
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
    if let Some(why) = missing_runtime(&agent) {
        report.warn(format!("{name} cannot start on this host: {why}"));
    }
    let env = generate_agent_env(&roster, &agent, fleet.paths.user_home())?;
    let mut changes = Changes::new(fleet);
    let written = changes
        .write(&fleet.paths.roster(), &to_yaml(&roster))
        .and_then(|()| changes.write(&fleet.paths.env_file(name), &env));
    changes.finish(written)?;
    if changed.is_empty() {
        report.say(format!("{name}: nothing to change"));
    } else {
        report.say(format!("{name}: {}", changed.join(", ")));
        report.say(format!("Restart it to apply: mosaic fleet restart {name}"));
    }
    Ok(report)
}

/// Removes an agent: refuses the sole orchestrator and the sole enhancer
/// before touching anything, writes the roster without it, then stops it,
/// disables its unit and deletes its env and heartbeat files (kept with
/// `keep_files`). The roster goes first: if it cannot be written, nothing
/// else has happened; what fails after it is a warning.
pub fn remove(fleet: &Fleet<'_>, name: &str, keep_files: bool) -> Result<Report> {
    let roster = fleet.roster()?;
    let updated = remove_agent(&roster, name)?;
    updated.save(&fleet.paths.roster())?;
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
