//! `mosaic fleet …` agent-fleet verbs: the roster (init, provision, add,
//! edit, remove), the host (install, start, stop, status, verify, restart),
//! observation (ps) and onboarding (comms-block, profiles, roles,
//! north-star). The work is done by `mosaic_fleet::ops`; this module parses
//! arguments and prints.

mod host;
mod roster;
pub(crate) mod signals;

use clap::Subcommand;
use mosaic_fleet::interrupt::Interrupt;
use mosaic_fleet::ops::{Fleet, Report};
use mosaic_fleet::paths::FleetPaths;
use mosaic_fleet::runner::SystemRunner;

/// The fleet verbs (flattened into `mosaic fleet`).
#[derive(Debug, Subcommand)]
pub enum FleetOps {
    /// Write a roster from a preset (general, coding, research, hybrid, minimal, local-canary).
    Init(roster::InitArgs),
    /// Write a roster from a system-type profile (software-delivery, business, …).
    Provision(roster::ProvisionArgs),
    /// Add an agent to the roster, enable it for boot and start it.
    Add(roster::AddArgs),
    /// Change an agent's model, launch command, class or runtime.
    Edit(roster::EditArgs),
    /// Remove an agent: stop it, disable its unit, delete its files.
    Remove(roster::RemoveArgs),
    /// List the system-type profiles and whether each is valid.
    Profiles(roster::JsonArgs),
    /// List the persona library (baseline and your overrides).
    Roles(roster::JsonArgs),
    /// Render NORTH_STAR.yaml as Markdown.
    NorthStar(roster::NorthStarArgs),
    /// Print the comms cheat-sheet an agent receives at launch.
    CommsBlock(roster::CommsBlockArgs),
    /// Install the persona library, tools, env files and systemd user units.
    Install(roster::JsonArgs),
    /// Start agents (all when none are named); all or nothing.
    Start(host::StartArgs),
    /// Stop agents (all, and the holder session, when none are named).
    Stop(host::AgentsArgs),
    /// Whether each agent's tmux session is running.
    Status(host::AgentsArgs),
    /// Check the holder and every agent have their exact tmux session.
    Verify(roster::JsonArgs),
    /// Show every agent: unit, pane, idle time, heartbeat, readiness, flags.
    Ps(host::PsArgs),
    /// Restart one agent (refused while another restart of it is running).
    Restart(host::RestartArgs),
}

/// Runs a fleet verb. One stopped by a signal exits with the signal's
/// status (130, 143) after saying what it was doing.
pub fn run(cmd: FleetOps) -> anyhow::Result<()> {
    let ctx = Ctx::from_env()?;
    signals::exit_if_interrupted(dispatch(&ctx, cmd))
}

fn dispatch(ctx: &Ctx, cmd: FleetOps) -> anyhow::Result<()> {
    match cmd {
        FleetOps::Init(a) => roster::init(ctx, a),
        FleetOps::Provision(a) => roster::provision(ctx, a),
        FleetOps::Add(a) => roster::add(ctx, a),
        FleetOps::Edit(a) => roster::edit(ctx, a),
        FleetOps::Remove(a) => roster::remove(ctx, a),
        FleetOps::Profiles(a) => roster::profiles(ctx, a),
        FleetOps::Roles(a) => roster::roles(ctx, a),
        FleetOps::NorthStar(a) => roster::north_star(a),
        FleetOps::CommsBlock(a) => roster::comms_block(ctx, a),
        FleetOps::Install(a) => host::install(ctx, a),
        FleetOps::Start(a) => host::start(ctx, a),
        FleetOps::Stop(a) => host::stop(ctx, a),
        FleetOps::Status(a) => host::status(ctx, a),
        FleetOps::Verify(a) => host::verify(ctx, a),
        FleetOps::Ps(a) => host::ps(ctx, a),
        FleetOps::Restart(a) => host::restart(ctx, a),
    }
}

/// Paths, the real runner, whether systemd is there, and the flag a signal
/// raises.
pub(crate) struct Ctx {
    pub paths: FleetPaths,
    pub runner: SystemRunner,
    pub systemd: bool,
    pub interrupt: Interrupt,
}

impl Ctx {
    pub fn from_env() -> anyhow::Result<Ctx> {
        Ok(Ctx {
            paths: FleetPaths::from_env()?,
            runner: SystemRunner,
            systemd: mosaic_fleet::systemd::detect(),
            interrupt: Interrupt::new(),
        })
    }

    pub fn fleet(&self) -> Fleet<'_> {
        Fleet {
            paths: &self.paths,
            runner: &self.runner,
            systemd: self.systemd,
            interrupt: &self.interrupt,
        }
    }

    /// From now on SIGINT and SIGTERM raise [`Ctx::interrupt`]: for the
    /// commands that wait, which check it and undo what they changed.
    pub fn forward_signals(&self) -> anyhow::Result<()> {
        signals::forward(&self.interrupt)
    }
}

/// Prints a report: messages on stdout, warnings on stderr; or the report
/// as JSON.
pub(crate) fn print_report(report: &Report, json: bool) -> anyhow::Result<()> {
    if json {
        return crate::output::json(report);
    }
    for line in &report.messages {
        println!("{line}");
    }
    for line in &report.warnings {
        eprintln!("warning: {line}");
    }
    Ok(())
}
