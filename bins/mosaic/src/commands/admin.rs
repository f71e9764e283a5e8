//! `mosaic admin`: local administration with direct access to the store.

use crate::commands::Global;
use crate::output::{self, JsonArgs, OutputArgs};
use clap::Subcommand;
use mosaic_auth::{TokenInfo, Tokens};
use serde::Serialize;

/// Administration commands. They open the gateway's store directly, so they run
/// on the gateway's host (or anywhere with its `DATABASE_URL`).
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Revoke every admin token and print a new one (shown once).
    RotateToken {
        #[command(flatten)]
        out: JsonArgs,
    },
    /// List API tokens (never their secrets).
    Tokens {
        #[command(flatten)]
        out: OutputArgs,
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
        AdminCommand::RotateToken { out } => {
            let issued = tokens.rotate_admin().await?;
            let rotated = Rotated {
                id: issued.id,
                token: issued.secret,
            };
            out.print(&rotated, |r| {
                format!(
                    "admin token: {}\n(shown once; every earlier admin token is revoked)",
                    r.token
                )
            })?;
        }
        AdminCommand::Tokens { out } => {
            let list = tokens.list().await?;
            let ids = |l: &Vec<TokenInfo>| l.iter().map(|t| t.id.clone()).collect();
            out.print(&list, ids, |l| token_table(l))?;
        }
    }
    store.close().await?;
    Ok(())
}

/// `mosaic admin tokens`.
fn token_table(list: &[TokenInfo]) -> String {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|t| {
            vec![
                t.id.clone(),
                t.role.to_string(),
                output::or_dash(t.user_id.as_deref()),
                t.label.clone(),
                if t.revoked_at.is_some() {
                    "revoked"
                } else {
                    "live"
                }
                .to_owned(),
            ]
        })
        .collect();
    output::table(&["ID", "ROLE", "USER", "LABEL", "STATE"], &rows)
}
