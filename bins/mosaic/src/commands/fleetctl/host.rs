//! Host verbs: install, start, stop, status, verify, ps, restart.

use super::roster::JsonArgs;
use super::{Ctx, print_report};
use clap::Args;
use mosaic_fleet::ops;
use mosaic_fleet::procs::ProcSnapshot;
use mosaic_fleet::ps::{self, PsOptions};
use std::time::Duration;

/// Agents to act on, all when none are named.
#[derive(Debug, Args)]
pub struct AgentsArgs {
    /// Agent names (default: every agent in the roster).
    agents: Vec<String>,
    #[command(flatten)]
    out: JsonArgs,
}

pub fn install(ctx: &Ctx, a: JsonArgs) -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    let report = ops::install(&ctx.fleet(), &exe)?;
    if a.json {
        return crate::output::json(&report);
    }
    print_report(&report.report, false)
}

/// `fleet start`.
#[derive(Debug, Args)]
pub struct StartArgs {
    /// Agent names (default: every agent in the roster).
    agents: Vec<String>,
    /// After starting, watch the agents for SECS seconds and fail, stopping
    /// them again, if any exits meanwhile.
    #[arg(long, value_name = "SECS")]
    wait: Option<u64>,
    #[command(flatten)]
    out: JsonArgs,
}

pub fn start(ctx: &Ctx, a: StartArgs) -> anyhow::Result<()> {
    ctx.forward_signals()?;
    let opts = ops::StartOptions {
        wait: a.wait.map(Duration::from_secs),
    };
    if let Some(secs) = a.wait
        && !a.out.json
    {
        eprintln!("Starting, then watching the started agents for {secs}s…");
    }
    let report = ops::start(&ctx.fleet(), &a.agents, &opts)?;
    if a.out.json {
        return crate::output::json(&report);
    }
    print_report(&report.report, false)
}

pub fn stop(ctx: &Ctx, a: AgentsArgs) -> anyhow::Result<()> {
    print_report(&ops::stop(&ctx.fleet(), &a.agents)?, a.out.json)
}

fn print_status(rows: &[ops::StatusRow], json: bool) -> anyhow::Result<()> {
    if json {
        return crate::output::json(&rows);
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let session = if r.running { "running" } else { "not running" };
            vec![r.name.to_string(), session.to_owned()]
        })
        .collect();
    println!("{}", crate::output::table(&["AGENT", "SESSION"], &cells));
    Ok(())
}

pub fn status(ctx: &Ctx, a: AgentsArgs) -> anyhow::Result<()> {
    print_status(&ops::status(&ctx.fleet(), &a.agents)?, a.out.json)
}

pub fn verify(ctx: &Ctx, a: JsonArgs) -> anyhow::Result<()> {
    let rows = ops::verify(&ctx.fleet())?;
    print_status(&rows, a.json)?;
    if !a.json {
        println!("Every session is in place.");
    }
    Ok(())
}

/// `fleet ps`.
#[derive(Debug, Args)]
pub struct PsArgs {
    #[command(flatten)]
    out: JsonArgs,
    /// Refresh every --interval seconds until interrupted.
    #[arg(long)]
    watch: bool,
    /// Seconds between refreshes with --watch.
    #[arg(long, default_value_t = 2)]
    interval: u64,
}

pub fn ps(ctx: &Ctx, a: PsArgs) -> anyhow::Result<()> {
    if a.watch {
        ctx.forward_signals()?;
    }
    let roster = ctx.fleet().roster()?;
    loop {
        let rows = ps::ps(
            &ctx.runner,
            &ctx.paths,
            &roster,
            &ProcSnapshot::read(),
            &PsOptions::from_env(ctx.systemd),
        )?;
        if a.out.json {
            if a.watch {
                println!("{}", serde_json::to_string(&rows)?);
            } else {
                crate::output::json(&rows)?;
            }
        } else {
            if a.watch && std::io::IsTerminal::is_terminal(&std::io::stdout()) {
                // Clear the screen so the table refreshes in place; a pipe
                // gets the tables one after another, without escapes.
                print!("\x1b[H\x1b[2J");
            }
            print!("{}", ps::render_table(&rows));
        }
        if !a.watch {
            return Ok(());
        }
        let interval = a.interval.max(1);
        ctx.interrupt.sleep(Duration::from_secs(interval), || {
            format!("refreshing fleet ps every {interval}s")
        })?;
    }
}

/// `fleet restart`.
#[derive(Debug, Args)]
pub struct RestartArgs {
    /// The agent.
    agent: String,
    #[command(flatten)]
    out: JsonArgs,
}

pub fn restart(ctx: &Ctx, a: RestartArgs) -> anyhow::Result<()> {
    print_report(&ops::restart(&ctx.fleet(), &a.agent)?, a.out.json)
}
