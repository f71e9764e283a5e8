//! `agent-node`: the workstation daemon that registers with a gateway and runs
//! the work it dispatches. This build carries its command-line surface only; the
//! node protocol arrives with the agent-node crates.

use clap::Parser;

/// The Mosaic agent node: attaches this workstation to a gateway.
#[derive(Debug, Parser)]
#[command(name = "agent-node", version, about, arg_required_else_help = true)]
struct Cli {
    /// Path to the agent-node YAML config given by `mosaic node invite`.
    #[arg(long, value_name = "FILE")]
    config: std::path::PathBuf,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    eprintln!(
        "agent-node: this build cannot connect to a gateway yet (config {} not read)",
        cli.config.display()
    );
    std::process::ExitCode::from(2)
}
