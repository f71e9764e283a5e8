//! `mosaic admin`: local administration with direct access to the store.

use crate::commands::Global;
use crate::output;
use clap::Subcommand;
use mosaic_auth::Tokens;
use serde::Serialize;

/// Administration commands. They open the gateway's store directly, so they run
/// on the gateway's host (or anywhere with its `DATABASE_URL`).
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Revoke every admin token and print a new one (shown once).
    RotateToken {
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List API tokens (never their secrets).
    Tokens {
        /// Print the list as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Serialize)]
struct Rotated {
    id: String,
    token: String,
}

/// Runs a `mosaic admin` command.
pub async fn run(global: &Global, cmd: AdminCommand) -> anyhow::Result<()> {
    let store = global.store().await?;
    store.migrate().await?;
    let tokens = Tokens::new(store.conn());
    match cmd {
        AdminCommand::RotateToken { json } => {
            let issued = tokens.rotate_admin().await?;
            if json {
                output::json(&Rotated {
                    id: issued.id,
                    token: issued.secret,
                })?;
            } else {
                println!("admin token: {}", issued.secret);
                println!("(shown once; every earlier admin token is revoked)");
            }
        }
        AdminCommand::Tokens { json } => {
            let list = tokens.list().await?;
            if json {
                output::json(&list)?;
            } else {
                println!(
                    "{:<36}  {:<5}  {:<16}  {:<20}  STATE",
                    "ID", "ROLE", "USER", "LABEL"
                );
                for t in list {
                    println!(
                        "{:<36}  {:<5}  {:<16}  {:<20}  {}",
                        t.id,
                        t.role,
                        t.user_id.as_deref().unwrap_or("-"),
                        t.label,
                        if t.revoked_at.is_some() {
                            "revoked"
                        } else {
                            "live"
                        }
                    );
                }
            }
        }
    }
    store.close().await?;
    Ok(())
}
