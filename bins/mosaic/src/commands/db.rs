//! `mosaic db`: schema migrations and status.

use crate::commands::Global;
use crate::output::{self, JsonArgs};
use clap::Subcommand;
use serde::Serialize;

/// Database commands.
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply every pending migration.
    Migrate {
        #[command(flatten)]
        out: JsonArgs,
    },
    /// Show the backend, the schema version and pending migrations.
    Status {
        #[command(flatten)]
        out: JsonArgs,
    },
}

#[derive(Serialize)]
struct MigrateReport {
    backend: mosaic_store::Backend,
    url: String,
    applied_now: Vec<String>,
    current: Option<String>,
}

/// Runs a `mosaic db` command.
pub async fn run(global: &Global, cmd: DbCommand) -> anyhow::Result<()> {
    let store = global.store().await?;
    match cmd {
        DbCommand::Migrate {
            out: JsonArgs { json },
        } => {
            let before = store.status().await?;
            store.migrate().await?;
            let after = store.status().await?;
            let report = MigrateReport {
                backend: after.backend,
                url: after.url.clone(),
                applied_now: before.pending,
                current: after.current,
            };
            if json {
                output::json(&report)?;
            } else if report.applied_now.is_empty() {
                println!(
                    "{} schema is up to date at {} ({})",
                    report.backend,
                    report.current.as_deref().unwrap_or("none"),
                    report.url
                );
            } else {
                for name in &report.applied_now {
                    println!("applied {name}");
                }
                println!(
                    "{} schema now at {} ({})",
                    report.backend,
                    report.current.as_deref().unwrap_or("none"),
                    report.url
                );
            }
        }
        DbCommand::Status {
            out: JsonArgs { json },
        } => {
            let status = store.status().await?;
            if json {
                output::json(&status)?;
            } else {
                println!("backend:  {}", status.backend);
                println!("database: {}", status.url);
                println!(
                    "schema:   {}",
                    status
                        .current
                        .as_deref()
                        .unwrap_or("empty (run `mosaic db migrate`)")
                );
                println!("applied:  {}", status.applied.len());
                if status.pending.is_empty() {
                    println!("pending:  none");
                } else {
                    println!("pending:  {}", status.pending.len());
                    for name in &status.pending {
                        println!("  {name}");
                    }
                }
            }
        }
    }
    store.close().await?;
    Ok(())
}
