//! The command line: `agent-node [--config FILE] [--log FILTER] [COMMAND]`.

use crate::config::{self, ConfigPath, Settings};
use crate::{daemon, exit, state};
use clap::{Parser, Subcommand};
use serde::Serialize;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// The Mosaic agent node: attaches this workstation to a gateway and runs
/// the work it dispatches.
#[derive(Debug, Parser)]
#[command(name = "agent-node", version, about)]
pub struct Cli {
    /// The agent-node YAML config written by `mosaic node invite` [default:
    /// $MOSAIC_NODE_CONFIG, else ~/.config/mosaic/agent-node.yaml].
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log filter for stderr, e.g. `debug` [default: the config's `log`,
    /// $MOSAIC_NODE_LOG, else `info`].
    #[arg(long, global = true, value_name = "FILTER")]
    pub log: Option<String>,
    /// What to do (default: run the daemon).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Run the daemon: register, connect and run tasks (the default).
    Run,
    /// Check the configuration and print it (the invite token redacted).
    CheckConfig {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print a systemd user unit that runs this agent-node with this config
    /// (and the MOSAIC_NODE_* variables set now).
    SystemdUnit,
}

/// Runs the command line and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command.clone().unwrap_or(Command::Run) {
        Command::Run => run_daemon(&cli),
        Command::CheckConfig { json } => check_config(cli.config.as_deref(), json),
        Command::SystemdUnit => systemd_unit(cli.config.as_deref()),
    }
}

/// Prints the unit that starts this binary with the config file this
/// invocation would read, so it runs the node as started by hand.
fn systemd_unit(flag: Option<&Path>) -> ExitCode {
    let config = match config::resolve_path(flag) {
        Ok(c) => c,
        Err(e) => return fail(exit::CONFIG, &e),
    };
    let file = std::path::absolute(&config.path).unwrap_or(config.path);
    if !file.is_file() {
        eprintln!(
            "agent-node: note: config file {} does not exist yet; the unit expects it there",
            file.display()
        );
    }
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            return fail(
                exit::FAILURE,
                &format!("cannot tell where this agent-node binary is: {e}"),
            );
        }
    };
    let text = crate::unit::render(&exe, &file, &config::env_overrides());
    let mut out = std::io::stdout().lock();
    if out
        .write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        return ExitCode::from(exit::FAILURE);
    }
    ExitCode::SUCCESS
}

fn fail(code: u8, message: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("agent-node: {message}");
    ExitCode::from(code)
}

fn load(flag: Option<&Path>) -> Result<Settings, ExitCode> {
    let path: ConfigPath = config::resolve_path(flag).map_err(|e| fail(exit::CONFIG, &e))?;
    Settings::load(&path).map_err(|e| fail(exit::CONFIG, &e))
}

fn run_daemon(cli: &Cli) -> ExitCode {
    let settings = match load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let (filter, named_by) = match (&cli.log, &settings.log) {
        (Some(flag), _) => (flag.clone(), "--log"),
        (None, Some(from_config)) => (from_config.clone(), "`log`"),
        (None, None) => ("info".to_owned(), "the default"),
    };
    let filter = match tracing_subscriber::EnvFilter::try_new(&filter) {
        Ok(f) => f,
        Err(e) => {
            return fail(
                exit::CONFIG,
                &format!(
                    "{named_by}: `{filter}` is not a log filter ({e}): use e.g. `info` or `debug`"
                ),
            );
        }
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(mosaic_config::colour_on_stderr())
        .try_init();

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return fail(
                exit::FAILURE,
                &format!("cannot start the async runtime: {e}"),
            );
        }
    };
    let outcome = runtime.block_on(async move {
        let shutdown = shutdown_signal().map_err(|e| {
            daemon::DaemonError::Failed(format!("cannot listen for SIGTERM/SIGINT: {e}"))
        })?;
        daemon::run(settings, shutdown).await
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e.exit_code(), &e),
    }
}

/// Resolves on SIGTERM or SIGINT.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::info!("{name} received: stopping");
    })
}

#[derive(Debug, Serialize)]
struct Report {
    config_file: PathBuf,
    valid: bool,
    config: config::EffectiveConfig,
    state_file: PathBuf,
    state_file_exists: bool,
    node_id: Option<String>,
    problem: Option<String>,
}

fn check_config(flag: Option<&Path>, json: bool) -> ExitCode {
    let settings = match load(flag) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let state_file = settings.state_file();
    let (state, state_error) = match state::load(&state_file) {
        Ok(s) => (s, None),
        Err(e) => (None, Some(e.to_string())),
    };
    let exists = state_file.exists();
    let problem = state_error.or_else(|| {
        (!exists && settings.invite_token().is_none()).then(|| {
            format!(
                "`invite_token`: this node is not registered yet ({} does not exist) and there is no invite token: create one with `mosaic node invite`",
                state_file.display()
            )
        })
    });
    let report = Report {
        config_file: settings.file.clone(),
        valid: problem.is_none(),
        config: settings.effective(),
        state_file: state_file.clone(),
        state_file_exists: exists,
        node_id: state.as_ref().map(|s| s.node_id.clone()),
        problem: problem.clone(),
    };
    let text = if json {
        match serde_json::to_string_pretty(&report) {
            Ok(j) => j + "\n",
            Err(e) => return fail(exit::FAILURE, &e),
        }
    } else {
        human(&report, &settings)
    };
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
    match problem {
        None => ExitCode::SUCCESS,
        Some(p) => fail(
            exit::CONFIG,
            &format!("config file {}: {p}", settings.file.display()),
        ),
    }
}

fn human(r: &Report, settings: &Settings) -> String {
    let c = &r.config;
    let certs = config::check_pem(&c.ca_cert).unwrap_or(0);
    let none = || "(none)".to_owned();
    let lines = [
        (
            "config file",
            format!(
                "{} ({})",
                r.config_file.display(),
                if r.valid { "valid" } else { "not usable" }
            ),
        ),
        ("gateway", c.gateway.clone()),
        ("server_name", c.server_name.clone()),
        ("ca_cert", format!("{certs} PEM certificate(s)")),
        (
            "invite_token",
            match (&c.invite_token, r.state_file_exists) {
                (Some(t), true) => format!("{t} (ignored: this node is already registered)"),
                (Some(t), false) => t.clone(),
                (None, _) => none(),
            },
        ),
        ("name", c.name.clone()),
        ("workspace", c.workspace.display().to_string()),
        ("state_dir", c.state_dir.display().to_string()),
        ("task_timeout_secs", c.task_timeout_secs.to_string()),
        ("max_concurrent_tasks", c.max_concurrent_tasks.to_string()),
        ("reconnect_max_secs", c.reconnect_max_secs.to_string()),
        (
            "log",
            c.log.clone().unwrap_or_else(|| "info (default)".to_owned()),
        ),
        (
            "node state",
            match (&r.node_id, r.state_file_exists) {
                (Some(id), _) => format!("{} exists: registered as {id}", r.state_file.display()),
                (None, true) => format!("{} exists but cannot be used", r.state_file.display()),
                (None, false) => format!(
                    "{} does not exist: the first start redeems the invite",
                    settings.state_file().display()
                ),
            },
        ),
    ];
    lines
        .iter()
        .map(|(k, v)| format!("{k:<21} {v}\n"))
        .collect()
}
