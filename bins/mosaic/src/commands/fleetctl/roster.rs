//! Roster and library verbs.

use super::{Ctx, print_report};
use crate::output::table;
use anyhow::Context as _;
use clap::Args;
use mosaic_fleet::library::{PersonaLibrary, ProfileSet, Source};
use mosaic_fleet::ops::{self, AddRequest, EditRequest, InitOutcome};
use mosaic_fleet::{AgentName, Runtime};
use serde::Serialize;
use std::path::PathBuf;

pub use crate::output::JsonArgs;

/// `fleet init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The preset: general, coding, research, hybrid, minimal or local-canary.
    #[arg(long, default_value = "general")]
    profile: String,
    /// Write the roster to the fleet's roster.yaml (otherwise just print it).
    #[arg(long)]
    write: bool,
    /// Replace an existing roster.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    out: JsonArgs,
}

/// `fleet provision`.
#[derive(Debug, Args)]
pub struct ProvisionArgs {
    /// The system-type profile id (see `mosaic fleet profiles`).
    #[arg(long)]
    profile: String,
    /// Write the roster to the fleet's roster.yaml (otherwise just print it).
    #[arg(long)]
    write: bool,
    /// Replace an existing roster.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    out: JsonArgs,
}

#[derive(Serialize)]
struct InitJson<'a> {
    roster: String,
    written: bool,
    summary: &'a str,
    agents: usize,
    orchestrators: usize,
    enhancers: usize,
}

fn print_init(ctx: &Ctx, out: &InitOutcome, json: bool) -> anyhow::Result<()> {
    let path = ctx.paths.roster();
    if json {
        return crate::output::json(&InitJson {
            roster: if out.written {
                path.display().to_string()
            } else {
                out.yaml.clone()
            },
            written: out.written,
            summary: &out.summary,
            agents: out.floor.agents,
            orchestrators: out.floor.orchestrators,
            enhancers: out.floor.enhancers,
        });
    }
    if out.written {
        println!("Wrote {}.", path.display());
        println!("{}", out.summary);
    } else {
        print!("{}", out.yaml);
        eprintln!(
            "(not written; add --write to save it to {})",
            path.display()
        );
    }
    Ok(())
}

pub fn init(ctx: &Ctx, a: InitArgs) -> anyhow::Result<()> {
    let preset = a.profile.parse()?;
    let out = ops::init(&ctx.fleet(), preset, a.write, a.force)?;
    print_init(ctx, &out, a.out.json)
}

pub fn provision(ctx: &Ctx, a: ProvisionArgs) -> anyhow::Result<()> {
    let out = ops::provision(&ctx.fleet(), &a.profile, a.write, a.force)?;
    print_init(ctx, &out, a.out.json)
}

/// `fleet add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// The agent's name (its tmux session and systemd instance).
    name: String,
    /// Its runtime: claude, codex, pi or opencode.
    #[arg(long)]
    runtime: String,
    /// Its persona class: one that has a persona (`mosaic fleet roles` lists them).
    #[arg(long, default_value = "code")]
    class: String,
    /// Its model (passed as --model).
    #[arg(long)]
    model: Option<String>,
    /// A launch command that replaces the runtime (e.g. the stand-in agent).
    #[arg(long)]
    command: Option<String>,
    /// Add it without starting it.
    #[arg(long)]
    no_start: bool,
    /// After starting it, watch it for SECS seconds and fail, undoing the
    /// add, if it exits meanwhile.
    #[arg(long, value_name = "SECS", conflicts_with = "no_start")]
    wait: Option<u64>,
    #[command(flatten)]
    out: JsonArgs,
}

pub fn add(ctx: &Ctx, a: AddArgs) -> anyhow::Result<()> {
    if !a.no_start {
        ctx.forward_signals()?;
    }
    let report = ops::add(
        &ctx.fleet(),
        AddRequest {
            name: AgentName::new(a.name)?,
            runtime: a.runtime.parse::<Runtime>()?,
            class: a.class,
            model: a.model,
            command: a.command,
            start: !a.no_start,
            wait: a.wait.map(std::time::Duration::from_secs),
        },
    )?;
    print_report(&report, a.out.json)
}

/// `fleet edit`.
#[derive(Debug, Args)]
pub struct EditArgs {
    /// The agent.
    name: String,
    /// Set its model.
    #[arg(long, conflicts_with = "clear_model")]
    model: Option<String>,
    /// Go back to the runtime's default model.
    #[arg(long)]
    clear_model: bool,
    /// Set a launch command that replaces the runtime.
    #[arg(long, conflicts_with = "clear_command")]
    command: Option<String>,
    /// Launch the runtime again instead of a command.
    #[arg(long)]
    clear_command: bool,
    /// Set its persona class.
    #[arg(long)]
    class: Option<String>,
    /// Set its runtime.
    #[arg(long)]
    runtime: Option<String>,
    #[command(flatten)]
    out: JsonArgs,
}

pub fn edit(ctx: &Ctx, a: EditArgs) -> anyhow::Result<()> {
    let req = EditRequest {
        model: if a.clear_model {
            Some(None)
        } else {
            a.model.map(Some)
        },
        command: if a.clear_command {
            Some(None)
        } else {
            a.command.map(Some)
        },
        class: a.class,
        runtime: a.runtime.map(|r| r.parse::<Runtime>()).transpose()?,
    };
    print_report(&ops::edit(&ctx.fleet(), &a.name, req)?, a.out.json)
}

/// `fleet remove`.
#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// The agent.
    name: String,
    /// Keep its env file and leave its unit enabled.
    #[arg(long)]
    keep_files: bool,
    #[command(flatten)]
    out: JsonArgs,
}

pub fn remove(ctx: &Ctx, a: RemoveArgs) -> anyhow::Result<()> {
    print_report(
        &ops::remove(&ctx.fleet(), &a.name, a.keep_files)?,
        a.out.json,
    )
}

#[derive(Serialize)]
struct ProfileRow {
    id: String,
    title: String,
    lead: String,
    seats: u32,
    problems: Vec<String>,
}

pub fn profiles(ctx: &Ctx, a: JsonArgs) -> anyhow::Result<()> {
    let lib = PersonaLibrary::with_overrides(&ctx.paths.override_roles_dir())?;
    let set = ProfileSet::with_overrides(&ctx.paths.override_profiles_dir())?;
    let rows: Vec<ProfileRow> = set
        .iter()
        .map(|p| ProfileRow {
            id: p.id.clone(),
            title: p.title.clone(),
            lead: p.lead.clone(),
            seats: p.roster.iter().map(|s| s.multiplicity).sum(),
            problems: p.problems(&lib),
        })
        .collect();
    if a.json {
        return crate::output::json(&rows);
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let valid = if r.problems.is_empty() {
                "yes".to_owned()
            } else {
                r.problems.join("; ")
            };
            vec![
                r.id.clone(),
                r.title.clone(),
                r.lead.clone(),
                r.seats.to_string(),
                valid,
            ]
        })
        .collect();
    println!(
        "{}",
        table(&["ID", "TITLE", "LEAD", "SEATS", "VALID"], &cells)
    );
    Ok(())
}

#[derive(Serialize)]
struct RoleRow {
    class: String,
    title: String,
    domain: String,
    persistent: Option<bool>,
    source: String,
}

pub fn roles(ctx: &Ctx, a: JsonArgs) -> anyhow::Result<()> {
    let lib = PersonaLibrary::with_overrides(&ctx.paths.override_roles_dir())?;
    let rows: Vec<RoleRow> = lib
        .iter()
        .map(|p| RoleRow {
            class: p.class.clone(),
            title: p.title.clone(),
            domain: p.domain.clone().unwrap_or_else(|| "engineering".to_owned()),
            persistent: p.persistent,
            source: match &p.source {
                Source::Baseline => "baseline".to_owned(),
                Source::Override(path) => path.display().to_string(),
            },
        })
        .collect();
    if a.json {
        return crate::output::json(&rows);
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let seat = match r.persistent {
                Some(true) => "persistent",
                Some(false) => "task",
                None => "-",
            };
            vec![
                r.class.clone(),
                r.domain.clone(),
                seat.to_owned(),
                r.source.clone(),
            ]
        })
        .collect();
    println!("{}", table(&["CLASS", "DOMAIN", "SEAT", "SOURCE"], &cells));
    Ok(())
}

/// `fleet north-star`.
#[derive(Debug, Args)]
pub struct NorthStarArgs {
    /// The north-star YAML.
    #[arg(long, default_value = "docs/fleet/NORTH_STAR.yaml")]
    file: PathBuf,
    /// Write the Markdown here instead of printing it.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Fail when --output differs from what the YAML renders.
    #[arg(long, requires = "output")]
    check: bool,
    #[command(flatten)]
    out: JsonArgs,
}

pub fn north_star(a: NorthStarArgs) -> anyhow::Result<()> {
    let yaml = std::fs::read_to_string(&a.file)
        .with_context(|| format!("cannot read {}", a.file.display()))?;
    let ns = mosaic_fleet::northstar::NorthStar::parse(&yaml, &a.file.display().to_string())?;
    let md = mosaic_fleet::northstar::render_markdown(&ns);
    match (a.output, a.check) {
        (Some(out), true) => {
            let current = std::fs::read_to_string(&out).unwrap_or_default();
            anyhow::ensure!(
                current == md,
                "{} is stale; regenerate it with `mosaic fleet north-star --file {} --output {}`",
                out.display(),
                a.file.display(),
                out.display()
            );
            println!("{} is current.", out.display());
        }
        (Some(out), false) => {
            std::fs::write(&out, &md).with_context(|| format!("cannot write {}", out.display()))?;
            println!("Wrote {}.", out.display());
        }
        (None, _) if a.out.json => crate::output::json(&serde_json::json!({ "markdown": md }))?,
        (None, _) => print!("{md}"),
    }
    Ok(())
}

/// `fleet comms-block`.
#[derive(Debug, Args)]
pub struct CommsBlockArgs {
    /// The agent (role) whose block to print.
    role: String,
    /// View from this host instead of this machine (cross-host preview).
    #[arg(long)]
    host: Option<String>,
    #[command(flatten)]
    out: JsonArgs,
}

pub fn comms_block(ctx: &Ctx, a: CommsBlockArgs) -> anyhow::Result<()> {
    let host = a.host.unwrap_or_else(mosaic_fleet::short_hostname);
    let block = mosaic_fleet::comms::resolve_comms_block(ctx.paths.home(), &a.role, &host)?;
    if a.out.json {
        return crate::output::json(
            &serde_json::json!({ "role": a.role, "host": host, "block": block }),
        );
    }
    println!("{block}");
    Ok(())
}
