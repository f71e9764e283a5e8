//! `mosaic fleet`: the agent fleet and its shared backlog.

use crate::commands::Global;
use clap::Subcommand;

/// Fleet commands.
#[derive(Debug, Subcommand)]
pub enum FleetCommand {
    /// The shared backlog: create, claim and complete cards.
    Backlog(crate::commands::backlog::BacklogCommand),
    #[command(flatten)]
    Ops(crate::commands::fleetctl::FleetOps),
}

/// Runs a `mosaic fleet` command.
pub fn run(global: &Global, cmd: FleetCommand) -> anyhow::Result<()> {
    match cmd {
        FleetCommand::Backlog(cmd) => {
            crate::commands::block_on(crate::commands::backlog::run(global, cmd))
        }
        FleetCommand::Ops(cmd) => crate::commands::fleetctl::run(cmd),
    }
}
