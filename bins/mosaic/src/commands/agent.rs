//! `mosaic agent …` (one fleet agent) and `mosaic compose-contract`.

use crate::commands::fleetctl::Ctx;
use crate::output::JsonArgs;
use clap::{Args, Subcommand};
use mosaic_fleet::contract::{ContractContext, compose_contract};
use mosaic_fleet::launch::{LaunchSpec, launch_argv, locate};
use mosaic_fleet::ops;
use mosaic_fleet::send::{self, SendOptions, Verdict};
use mosaic_fleet::{Runtime, tmux};
use std::time::Duration;

/// Agent commands.
#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Send a message through agent-send.sh; --verify waits for ACCEPTED.
    Send {
        /// The agent.
        agent: String,
        /// The message.
        message: String,
        /// Confirm the agent took the message in.
        #[arg(long)]
        verify: bool,
        /// Sender label host:session (default: <this host>:operator).
        #[arg(long = "from", value_name = "LABEL")]
        source: Option<String>,
        /// Seconds --verify waits.
        #[arg(long, default_value_t = 10)]
        timeout: u64,
        #[command(flatten)]
        out: JsonArgs,
    },
    /// Watch an agent read-only (tmux attach -r on a viewer session).
    Watch {
        /// The agent.
        agent: String,
    },
    /// Print the last lines of an agent's pane.
    Tail {
        /// The agent.
        agent: String,
        /// How many lines.
        #[arg(short = 'n', long, default_value_t = 80)]
        lines: u32,
        #[command(flatten)]
        out: JsonArgs,
    },
    /// Start a fresh conversation in an agent (types its runtime's reset command).
    Reset {
        /// The agent.
        agent: String,
        /// The command to type instead of the runtime's default (/clear or /new).
        #[arg(long)]
        command: Option<String>,
        #[command(flatten)]
        out: JsonArgs,
    },
    /// Whether an agent's session runs (without an agent: tmux ls on the fleet's socket).
    Status {
        /// The agent.
        agent: Option<String>,
        #[command(flatten)]
        out: JsonArgs,
    },
    /// Run an agent runtime with its composed contract (used inside agent panes).
    Launch(LaunchArgs),
}

/// `agent launch`.
#[derive(Debug, Args)]
pub struct LaunchArgs {
    /// claude, codex, pi or opencode.
    runtime: String,
    /// The model.
    #[arg(long)]
    model: Option<String>,
    /// Skip the runtime's permission prompts (unattended panes).
    #[arg(long)]
    yolo: bool,
    /// Print the command line as JSON instead of running it.
    #[arg(long)]
    dry_run: bool,
    /// Extra arguments for the runtime.
    #[arg(last = true)]
    extra: Vec<String>,
}

/// `compose-contract`.
#[derive(Debug, Args)]
pub struct ComposeContractArgs {
    /// claude, codex, pi or opencode.
    runtime: String,
    #[command(flatten)]
    out: JsonArgs,
}

fn env(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.is_empty())
}

fn contract(ctx: &Ctx, runtime: Runtime) -> anyhow::Result<String> {
    let name = env("MOSAIC_AGENT_NAME");
    let class = env("MOSAIC_AGENT_CLASS");
    let host = mosaic_fleet::short_hostname();
    Ok(compose_contract(
        runtime,
        &ctx.paths,
        &ContractContext {
            agent_name: name.as_deref(),
            agent_class: class.as_deref(),
            fleet_host: &host,
        },
    )?)
}

/// Runs `mosaic compose-contract`.
pub fn compose(a: ComposeContractArgs) -> anyhow::Result<()> {
    let ctx = Ctx::from_env()?;
    let runtime: Runtime = a.runtime.parse()?;
    let text = contract(&ctx, runtime)?;
    if a.out.json {
        return crate::output::json(&serde_json::json!({ "runtime": runtime, "contract": text }));
    }
    println!("{text}");
    Ok(())
}

/// Runs a `mosaic agent` command. One stopped by a signal exits with the
/// signal's status (130, 143) after saying what it was doing.
pub fn run(cmd: AgentCommand) -> anyhow::Result<()> {
    let ctx = Ctx::from_env()?;
    crate::commands::fleetctl::signals::exit_if_interrupted(dispatch(&ctx, cmd))
}

fn dispatch(ctx: &Ctx, cmd: AgentCommand) -> anyhow::Result<()> {
    let fleet = ctx.fleet();
    match cmd {
        AgentCommand::Send {
            agent,
            message,
            verify,
            source,
            timeout,
            out: JsonArgs { json },
        } => {
            let roster = fleet.roster()?;
            let mut opts =
                SendOptions::new(source.unwrap_or_else(tmux::default_source_label), verify);
            opts.timeout = Duration::from_secs(timeout);
            if verify {
                ctx.forward_signals()?;
                opts.interrupt = ctx.interrupt.clone();
            }
            let report = send::send(&ctx.runner, &ctx.paths, &roster, &agent, &message, &opts)?;
            if json {
                crate::output::json(&report)?;
            } else {
                println!("{}", report.describe());
            }
            match report.verdict {
                Some(Verdict::Draft | Verdict::Unchanged) => {
                    anyhow::bail!("message to {agent} was not accepted")
                }
                _ => Ok(()),
            }
        }
        AgentCommand::Watch { agent } => {
            ctx.forward_signals()?;
            Ok(ops::watch(&fleet, &agent)?)
        }
        AgentCommand::Tail {
            agent,
            lines,
            out: JsonArgs { json },
        } => {
            let text = ops::tail(&fleet, &agent, lines)?;
            if json {
                return crate::output::json(&serde_json::json!({ "agent": agent, "text": text }));
            }
            println!("{text}");
            Ok(())
        }
        AgentCommand::Reset {
            agent,
            command,
            out: JsonArgs { json },
        } => {
            let typed = ops::reset(&fleet, &agent, command.as_deref())?;
            if json {
                return crate::output::json(&serde_json::json!({ "agent": agent, "typed": typed }));
            }
            println!("Typed {typed} into {agent}.");
            Ok(())
        }
        AgentCommand::Status {
            agent,
            out: JsonArgs { json },
        } => {
            let status = ops::agent_status(&fleet, agent.as_deref())?;
            if json {
                crate::output::json(&status)?;
            } else if let Some(name) = &status.agent {
                println!(
                    "{name}: {}",
                    if status.running {
                        "running"
                    } else {
                        "not running"
                    }
                );
            } else {
                print!("{}", status.output);
            }
            Ok(())
        }
        AgentCommand::Launch(a) => launch(ctx, a),
    }
}

fn launch(ctx: &Ctx, a: LaunchArgs) -> anyhow::Result<()> {
    let runtime: Runtime = a.runtime.parse()?;
    let text = contract(ctx, runtime)?;
    let argv = launch_argv(&LaunchSpec {
        runtime,
        model: a.model.as_deref(),
        yolo: a.yolo,
        contract: &text,
        extra: &a.extra,
    });
    if a.dry_run {
        return crate::output::json(&argv);
    }
    let program = locate(runtime)?;
    use std::os::unix::process::CommandExt as _;
    // exec only returns on failure: the runtime replaces this process so the
    // pane's foreground program is the runtime itself.
    let err = std::process::Command::new(program).args(&argv[1..]).exec();
    Err(anyhow::anyhow!("cannot run {}: {err}", runtime.program()))
}
