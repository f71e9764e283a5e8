//! `agent-node`: the workstation daemon that registers with a Mosaic gateway
//! and runs the work it dispatches. See the `mosaic_agent_node` library.

use clap::Parser as _;

fn main() -> std::process::ExitCode {
    mosaic_agent_node::cli::run(mosaic_agent_node::cli::Cli::parse())
}
