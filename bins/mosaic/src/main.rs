//! `mosaic`: the command line for a Mosaic installation.
//!
//! Each command group lives in its own module under `commands/`; this file only
//! declares the tree and dispatches. Every command that prints data takes
//! `--json`.

mod commands;
mod gateway_client;
mod output;
mod settings;

use clap::{CommandFactory, Parser, Subcommand};
use std::process::ExitCode;

/// Mosaic: federated gateways, agent fleets, a shared backlog.
#[derive(Debug, Parser)]
#[command(name = "mosaic", version, about, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    global: commands::Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Database: apply migrations, show schema status.
    #[command(subcommand)]
    Db(commands::db::DbCommand),
    /// The agent fleet and its shared backlog.
    #[command(subcommand)]
    Fleet(commands::fleet::FleetCommand),
    /// One fleet agent: send (--verify), watch, tail, reset, status, launch.
    #[command(subcommand)]
    Agent(commands::agent::AgentCommand),
    /// Print the system prompt a fleet agent launches with.
    ComposeContract(commands::agent::ComposeContractArgs),
    /// Local administration: API tokens.
    #[command(subcommand)]
    Admin(commands::admin::AdminCommand),
    /// The gateway CA: create it, show it.
    #[command(subcommand)]
    Ca(commands::pki::CaCommand),
    /// Certificates: inspect one, Mosaic OIDs included.
    #[command(subcommand)]
    Cert(commands::pki::CertCommand),
    /// Federation: grants to peers, enrollment with peers, capabilities.
    #[command(subcommand)]
    Federation(commands::remote::federation::FederationCommand),
    /// Query tasks, notes or memory here and on peers: --source local|all|federated:<host>.
    Query(commands::remote::query::QueryArgs),
    /// Search tasks, notes and memory by words, here and on peers: --source local|all|federated:<host>.
    Search(commands::remote::search::SearchArgs),
    /// Users on a gateway (admin token).
    #[command(subcommand)]
    User(commands::remote::data::UserCommand),
    /// Teams and membership on a gateway (admin token).
    #[command(subcommand)]
    Team(commands::remote::data::TeamCommand),
    /// Write projects, missions, tasks, notes and insights as a user (user token).
    #[command(subcommand)]
    New(commands::remote::data::DataCommand),
    /// Agent nodes (user token): invite one, list, show, remove.
    #[command(subcommand)]
    Node(commands::remote::nodes::NodeCommand),
    /// Sessions on agent nodes (user token): create, attach, dispatch commands, follow output.
    #[command(subcommand)]
    Session(commands::remote::nodes::SessionCommand),
    /// Keep a gateway URL and token in the config file (checked with the gateway first).
    Login(commands::login::LoginArgs),
    /// Remove the token kept by `mosaic login`.
    Logout(commands::login::LogoutArgs),
    /// The gateway this CLI reaches, whether it is ready, and whom the token speaks for.
    Status(commands::login::StatusArgs),
    /// This CLI's settings: `config show` prints each value and where it came from.
    #[command(subcommand)]
    Config(commands::config::ConfigCommand),
    /// Print a shell completion script.
    Completions {
        /// Shell to generate for.
        shell: clap_complete::Shell,
    },
}

/// A reader that stops early (`mosaic … | head`) closes the pipe; `println!`
/// then panics. Exit quietly instead, with the status a shell expects from a
/// process ended by SIGPIPE.
fn exit_quietly_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    exit_quietly_on_broken_pipe();
    let cli = Cli::parse();
    settings::set_config_flag(cli.global.config.clone());
    let result = match cli.command {
        Command::Db(cmd) => commands::block_on(commands::db::run(&cli.global, cmd)),
        Command::Fleet(cmd) => commands::fleet::run(&cli.global, cmd),
        Command::Agent(cmd) => commands::agent::run(cmd),
        Command::ComposeContract(args) => commands::agent::compose(args),
        Command::Ca(cmd) => commands::pki::run_ca(&cli.global, cmd),
        Command::Cert(cmd) => commands::pki::run_cert(cmd),
        Command::Admin(cmd) => commands::block_on(commands::admin::run(&cli.global, cmd)),
        Command::Federation(cmd) => commands::block_on(commands::remote::federation::run(cmd)),
        Command::Query(args) => commands::block_on(commands::remote::query::run(args)),
        Command::Search(args) => commands::block_on(commands::remote::search::run(args)),
        Command::User(cmd) => commands::block_on(commands::remote::data::user(cmd)),
        Command::Team(cmd) => commands::block_on(commands::remote::data::team(cmd)),
        Command::New(cmd) => commands::block_on(commands::remote::data::data(cmd)),
        Command::Node(cmd) => commands::block_on(commands::remote::nodes::node(cmd)),
        // `session dispatch` exits with the remote command's status.
        Command::Session(cmd) => match commands::remote::nodes::run_session(cmd) {
            Ok(code) => return code,
            Err(e) => Err(e),
        },
        Command::Login(args) => commands::block_on(commands::login::login(args)),
        Command::Logout(args) => commands::login::logout(args),
        Command::Status(args) => commands::block_on(commands::login::status(&cli.global, args)),
        Command::Config(cmd) => commands::config::run(&cli.global, cmd),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "mosaic", &mut std::io::stdout());
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mosaic: {e:#}");
            ExitCode::from(exit_code(&e))
        }
    }
}

/// Bad configuration exits with the status every Mosaic program uses for
/// it; anything else with 1.
fn exit_code(e: &anyhow::Error) -> u8 {
    let config = e.chain().any(|cause| {
        cause.is::<mosaic_config::ConfigError>()
            || matches!(
                cause.downcast_ref::<gateway_client::GatewayError>(),
                Some(gateway_client::GatewayError::Config(_))
            )
    });
    if config {
        mosaic_config::EXIT_CONFIG
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// Catches clashing flag names and other clap mistakes in every subcommand.
    #[test]
    fn the_command_tree_is_well_formed() {
        Cli::command().debug_assert();
    }
}
