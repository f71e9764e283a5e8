//! `gateway`: the Mosaic gateway process.

use clap::Parser;
use mosaic_gateway::{Flags, raise_open_file_limit, run, shutdown_signal};
use std::process::ExitCode;

/// The Mosaic gateway: HTTP API and storage, on the embedded SQLite default or PostgreSQL.
#[derive(Debug, Parser)]
#[command(name = "gateway", version, about)]
struct Cli {
    #[command(flatten)]
    flags: Flags,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match cli.flags.load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("gateway: {e}");
            return ExitCode::from(e.exit_code());
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.log).unwrap_or_else(|e| {
        eprintln!("gateway: ignoring log filter `{}`: {e}", settings.log);
        tracing_subscriber::EnvFilter::new("info")
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(mosaic_config::colour_on_stderr())
        .init();
    // Each connection is a file: take all the process may have.
    match raise_open_file_limit() {
        Ok(limit) => tracing::info!(open_files = limit, "open-file limit"),
        Err(e) => tracing::warn!(error = %e, "cannot read the open-file limit"),
    }

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("gateway: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(settings, shutdown_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the context chain joined, most general first.
            eprintln!("gateway: {e:#}");
            ExitCode::FAILURE
        }
    }
}
