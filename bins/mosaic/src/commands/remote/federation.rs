//! `mosaic federation`: grants and peers on a gateway (admin token).

use super::client::seg;
use super::{Connection, GatewayClient};
use crate::output;
use anyhow::Context as _;
use clap::Subcommand;
use serde_json::{Value, json};
use std::path::PathBuf;

/// Federation commands.
#[derive(Debug, Subcommand)]
pub enum FederationCommand {
    /// Grants this gateway gives to peers.
    #[command(subcommand)]
    Grant(GrantCommand),
    /// Peer gateways, in both directions.
    #[command(subcommand)]
    Peer(PeerCommand),
    /// List peers (same as `peer list`).
    Peers {
        #[command(flatten)]
        conn: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List grants (same as `grant list`).
    Grants {
        #[command(flatten)]
        conn: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Ask an outbound peer what our grant there allows.
    Capabilities {
        /// Peer name or id.
        #[arg(long)]
        peer: String,
        #[command(flatten)]
        conn: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `mosaic federation grant`.
#[derive(Debug, Subcommand)]
pub enum GrantCommand {
    /// Grant a peer read access as one local user; prints a one-time enrollment code.
    Create {
        /// Peer name (created if new) or id.
        #[arg(long)]
        peer: String,
        /// The local user whose access the grant lends.
        #[arg(long)]
        user: String,
        /// Scope JSON file (see docs/federation/README.md).
        #[arg(long, value_name = "FILE")]
        scope: PathBuf,
        /// Expire the grant after this many days.
        #[arg(long)]
        expires_in_days: Option<i64>,
        /// Hours the enrollment code stays usable (default 24).
        #[arg(long)]
        token_ttl_hours: Option<i64>,
        #[command(flatten)]
        conn: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Print only the enrollment code, for scripts.
        #[arg(long, short = 'q', conflicts_with = "json")]
        quiet: bool,
    },
    /// List grants.
    #[command(alias = "ls")]
    List {
        #[command(flatten)]
        conn: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one grant.
    Show {
        /// Grant id.
        id: String,
        #[command(flatten)]
        conn: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a grant: the peer's next request is refused.
    Revoke {
        /// Grant id.
        id: String,
        /// Why (kept in the grant and the audit log).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        conn: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// A new enrollment code for an active grant.
    Token {
        /// Grant id.
        id: String,
        #[command(flatten)]
        conn: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `mosaic federation peer`.
#[derive(Debug, Subcommand)]
pub enum PeerCommand {
    /// Enroll with another gateway using the code its admin printed.
    Enroll {
        /// The other gateway's federation address, e.g. https://work.example.com:7443.
        #[arg(long)]
        url: String,
        /// The enrollment code from `mosaic federation grant create` there.
        #[arg(long = "token", value_name = "CODE")]
        code: String,
        /// Name for the peer here; its rows are tagged with it (default: the URL's host).
        #[arg(long)]
        name: Option<String>,
        /// The local user whose queries may use the grant.
        #[arg(long)]
        user: String,
        /// This gateway's HTTP API base URL.
        #[arg(
            long,
            env = "MOSAIC_GATEWAY_URL",
            default_value = "http://127.0.0.1:7420",
            value_name = "URL"
        )]
        gateway: String,
        /// This gateway's admin token (`--token` here is the enrollment code).
        #[arg(
            long,
            env = "MOSAIC_TOKEN",
            value_name = "TOKEN",
            hide_env_values = true
        )]
        admin_token: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Register an inbound peer by name (grants can also create it).
    Add {
        /// Peer name.
        name: String,
        #[command(flatten)]
        conn: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List peers.
    #[command(alias = "ls")]
    List {
        #[command(flatten)]
        conn: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Suspend a peer: its requests are refused until activated.
    Suspend {
        /// Peer id.
        id: String,
        #[command(flatten)]
        conn: Connection,
    },
    /// Activate a suspended peer.
    Activate {
        /// Peer id.
        id: String,
        #[command(flatten)]
        conn: Connection,
    },
    /// Remove a peer and its grants.
    Remove {
        /// Peer id.
        id: String,
        #[command(flatten)]
        conn: Connection,
    },
}

fn s(v: &Value, k: &str) -> String {
    v[k].as_str().map_or_else(
        || {
            if v[k].is_null() {
                "-".to_owned()
            } else {
                v[k].to_string()
            }
        },
        str::to_owned,
    )
}

fn print_peers(v: &Value) {
    println!(
        "{:<36}  {:<16}  {:<9}  {:<9}  ENDPOINT",
        "ID", "NAME", "DIRECTION", "STATE"
    );
    for p in v.as_array().into_iter().flatten() {
        println!(
            "{:<36}  {:<16}  {:<9}  {:<9}  {}",
            s(p, "id"),
            s(p, "common_name"),
            s(p, "direction"),
            s(p, "state"),
            s(p, "endpoint_url")
        );
    }
}

fn print_grants(v: &Value) {
    println!(
        "{:<36}  {:<16}  {:<16}  {:<8}  RESOURCES",
        "ID", "PEER", "USER", "STATUS"
    );
    for g in v.as_array().into_iter().flatten() {
        let resources = g["scope"]["resources"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default();
        println!(
            "{:<36}  {:<16}  {:<16}  {:<8}  {}",
            s(g, "id"),
            s(g, "peer"),
            s(g, "subject_user_id"),
            s(g, "status"),
            resources
        );
    }
}

async fn resolve_peer(client: &GatewayClient, peer: &str) -> anyhow::Result<String> {
    let peers: Value = client.get("/api/admin/v1/federation/peers").await?;
    let list = peers.as_array().cloned().unwrap_or_default();
    let found: Vec<&Value> = list
        .iter()
        .filter(|p| {
            s(p, "id") == peer || (s(p, "common_name") == peer && s(p, "direction") == "outbound")
        })
        .collect();
    match found.as_slice() {
        [one] => Ok(s(one, "id")),
        [] => anyhow::bail!("no outbound peer named `{peer}` (see `mosaic federation peers`)"),
        _ => anyhow::bail!("several outbound peers are named `{peer}`; give the peer id instead"),
    }
}

/// Runs `mosaic federation`.
pub async fn run(cmd: FederationCommand) -> anyhow::Result<()> {
    match cmd {
        FederationCommand::Peers { conn, json } => peer(PeerCommand::List { conn, json }).await,
        FederationCommand::Grants { conn, json } => grant(GrantCommand::List { conn, json }).await,
        FederationCommand::Capabilities { peer, conn, json } => {
            let client = GatewayClient::new(&conn)?;
            let id = resolve_peer(&client, &peer).await?;
            let v: Value = client
                .get(&format!(
                    "/api/admin/v1/federation/peers/{}/capabilities",
                    seg(&id)
                ))
                .await?;
            if json {
                return output::json(&v);
            }
            println!("resources:          {}", v["resources"]);
            println!("excluded_resources: {}", v["excluded_resources"]);
            println!("max_rows_per_query: {}", v["max_rows_per_query"]);
            println!("supported_verbs:    {}", v["supported_verbs"]);
            Ok(())
        }
        FederationCommand::Grant(g) => grant(g).await,
        FederationCommand::Peer(p) => peer(p).await,
    }
}

async fn grant(cmd: GrantCommand) -> anyhow::Result<()> {
    match cmd {
        GrantCommand::Create {
            peer,
            user,
            scope,
            expires_in_days,
            token_ttl_hours,
            conn,
            json,
            quiet,
        } => {
            let text = std::fs::read_to_string(&scope)
                .with_context(|| format!("reading scope file {}", scope.display()))?;
            let scope_json: Value = serde_json::from_str(&text)
                .with_context(|| format!("scope file {} is not JSON", scope.display()))?;
            let v: Value = GatewayClient::new(&conn)?
                .post(
                    "/api/admin/v1/federation/grants",
                    &json!({"peer": peer, "user_id": user, "scope": scope_json, "expires_in_days": expires_in_days, "token_ttl_hours": token_ttl_hours}),
                )
                .await?;
            if quiet {
                println!("{}", s(&v, "enrollment_code"));
                return Ok(());
            }
            if json {
                return output::json(&v);
            }
            println!(
                "grant {} for peer {} as user {}",
                s(&v["grant"], "id"),
                s(&v["grant"], "peer"),
                s(&v["grant"], "subject_user_id")
            );
            println!(
                "enrollment code (one use, until {}):",
                s(&v, "enrollment_expires_at")
            );
            println!("{}", s(&v, "enrollment_code"));
            println!("CA fingerprint (SHA-256): {}", s(&v, "ca_fingerprint"));
            Ok(())
        }
        GrantCommand::List { conn, json } => {
            let v: Value = GatewayClient::new(&conn)?
                .get("/api/admin/v1/federation/grants")
                .await?;
            if json {
                output::json(&v)
            } else {
                print_grants(&v);
                Ok(())
            }
        }
        GrantCommand::Show { id, conn, json } => {
            let v: Value = GatewayClient::new(&conn)?
                .get(&format!("/api/admin/v1/federation/grants/{}", seg(&id)))
                .await?;
            if json {
                return output::json(&v);
            }
            for k in [
                "id",
                "peer_id",
                "subject_user_id",
                "status",
                "expires_at",
                "revoked_at",
                "revoked_reason",
                "created_at",
            ] {
                println!("{k:<16} {}", s(&v, k));
            }
            println!("{:<16} {}", "scope", v["scope"]);
            Ok(())
        }
        GrantCommand::Revoke {
            id,
            reason,
            conn,
            json,
        } => {
            let v: Value = GatewayClient::new(&conn)?
                .post(
                    &format!("/api/admin/v1/federation/grants/{}/revoke", seg(&id)),
                    &json!({"reason": reason}),
                )
                .await?;
            if json {
                output::json(&v)
            } else {
                println!(
                    "revoked grant {} ({})",
                    s(&v, "id"),
                    s(&v, "revoked_reason")
                );
                Ok(())
            }
        }
        GrantCommand::Token { id, conn, json } => {
            let v: Value = GatewayClient::new(&conn)?
                .post(
                    &format!("/api/admin/v1/federation/grants/{}/tokens", seg(&id)),
                    &json!({}),
                )
                .await?;
            if json {
                output::json(&v)
            } else {
                println!("{}", s(&v, "enrollment_code"));
                Ok(())
            }
        }
    }
}

async fn peer(cmd: PeerCommand) -> anyhow::Result<()> {
    match cmd {
        PeerCommand::Enroll {
            url,
            code,
            name,
            user,
            gateway,
            admin_token,
            json,
        } => {
            let conn = Connection {
                gateway,
                token: admin_token,
            };
            let name = match name {
                Some(n) => n,
                None => url::Url::parse(&url)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_owned))
                    .context("--url is not a URL; give --name as well")?,
            };
            let v: Value = GatewayClient::new(&conn)?
                .post(
                    "/api/admin/v1/federation/peers/enroll",
                    &json!({"url": url, "code": code, "name": name, "user_id": user}),
                )
                .await?;
            if json {
                return output::json(&v);
            }
            println!(
                "enrolled with {url} as peer {} ({}); queries by {user} can now use source federated:{name}",
                s(&v["peer"], "common_name"),
                s(&v["peer"], "id")
            );
            Ok(())
        }
        PeerCommand::Add { name, conn, json } => {
            let v: Value = GatewayClient::new(&conn)?
                .post(
                    "/api/admin/v1/federation/peers",
                    &json!({"common_name": name}),
                )
                .await?;
            if json {
                output::json(&v)
            } else {
                println!("added peer {} ({})", s(&v, "common_name"), s(&v, "id"));
                Ok(())
            }
        }
        PeerCommand::List { conn, json } => {
            let v: Value = GatewayClient::new(&conn)?
                .get("/api/admin/v1/federation/peers")
                .await?;
            if json {
                output::json(&v)
            } else {
                print_peers(&v);
                Ok(())
            }
        }
        PeerCommand::Suspend { id, conn } => {
            let v: Value = GatewayClient::new(&conn)?
                .post(
                    &format!("/api/admin/v1/federation/peers/{}/suspend", seg(&id)),
                    &json!({}),
                )
                .await?;
            println!("peer {} is {}", s(&v, "common_name"), s(&v, "state"));
            Ok(())
        }
        PeerCommand::Activate { id, conn } => {
            let v: Value = GatewayClient::new(&conn)?
                .post(
                    &format!("/api/admin/v1/federation/peers/{}/activate", seg(&id)),
                    &json!({}),
                )
                .await?;
            println!("peer {} is {}", s(&v, "common_name"), s(&v, "state"));
            Ok(())
        }
        PeerCommand::Remove { id, conn } => {
            GatewayClient::new(&conn)?
                .delete(&format!("/api/admin/v1/federation/peers/{}", seg(&id)))
                .await?;
            println!("removed peer {id}");
            Ok(())
        }
    }
}
