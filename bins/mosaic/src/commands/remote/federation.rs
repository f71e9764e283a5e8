//! `mosaic federation`: grants and peers on a gateway (admin token).

mod render;

use crate::gateway_client::{ApiPath, Connection, GatewayClient};
use crate::output::{JsonArgs, OutputArgs};
use anyhow::Context as _;
use clap::Subcommand;
use mosaic_types::FederationCapabilitiesResponse;
use mosaic_types::admin::{
    CreatedGrant, EnrolledPeer, EnrollmentCodeView, GrantView, PeerDirection, PeerView,
};
use serde_json::{Value, json};
use std::path::PathBuf;

pub(super) const PEERS: &str = "/api/admin/v1/federation/peers";
const GRANTS: &str = "/api/admin/v1/federation/grants";

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
        #[command(flatten)]
        out: OutputArgs,
    },
    /// List grants (same as `grant list`).
    Grants {
        #[command(flatten)]
        conn: Connection,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Ask an outbound peer what our grant there allows.
    Capabilities {
        /// Peer name or id.
        #[arg(long)]
        peer: String,
        #[command(flatten)]
        conn: Connection,
        #[command(flatten)]
        out: JsonArgs,
    },
    /// What peers asked this gateway, allowed or refused, newest first.
    Audit(super::audit::AuditArgs),
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
        /// `-q` prints only the enrollment code.
        #[command(flatten)]
        out: OutputArgs,
    },
    /// List grants.
    #[command(alias = "ls")]
    List {
        #[command(flatten)]
        conn: Connection,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Show one grant.
    Show {
        /// Grant id.
        id: String,
        #[command(flatten)]
        conn: Connection,
        #[command(flatten)]
        out: JsonArgs,
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
        #[command(flatten)]
        out: JsonArgs,
    },
    /// A new enrollment code for an active grant.
    Token {
        /// Grant id.
        id: String,
        #[command(flatten)]
        conn: Connection,
        #[command(flatten)]
        out: JsonArgs,
    },
}

/// `mosaic federation peer`.
#[derive(Debug, Subcommand)]
pub enum PeerCommand {
    /// Enroll with another gateway using the code its admin printed.
    Enroll(EnrollArgs),
    /// Register an inbound peer by name (grants can also create it).
    Add {
        /// Peer name.
        name: String,
        #[command(flatten)]
        conn: Connection,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// List peers.
    #[command(alias = "ls")]
    List {
        #[command(flatten)]
        conn: Connection,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Suspend a peer: its requests are refused until activated.
    Suspend {
        /// Peer id.
        id: String,
        #[command(flatten)]
        conn: Connection,
        #[command(flatten)]
        out: JsonArgs,
    },
    /// Activate a suspended peer, or a refused outbound peer once its admin has restored our access.
    Activate {
        /// Peer id.
        id: String,
        #[command(flatten)]
        conn: Connection,
        #[command(flatten)]
        out: JsonArgs,
    },
    /// Remove a peer and its grants.
    Remove {
        /// Peer id.
        id: String,
        #[command(flatten)]
        conn: Connection,
        #[command(flatten)]
        out: JsonArgs,
    },
}

/// `mosaic federation peer enroll`: `--token` is the enrollment code here,
/// so the admin token has its own flag.
#[derive(Debug, clap::Args)]
pub struct EnrollArgs {
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
    /// This gateway's HTTP API base URL [env: MOSAIC_GATEWAY_URL] [config: client.gateway_url]
    /// [default: http://127.0.0.1:7420].
    #[arg(long, value_name = "URL")]
    gateway: Option<String>,
    /// This gateway's admin token (`--token` here is the enrollment code)
    /// [env: MOSAIC_TOKEN] [config: client.token].
    #[arg(long, value_name = "TOKEN")]
    admin_token: Option<String>,
    #[command(flatten)]
    out: JsonArgs,
}

/// What a peer name or id matched.
pub(super) enum PeerMatch {
    /// Exactly this peer.
    One(Box<PeerView>),
    /// No peer.
    None,
    /// Several peers of that direction share the name.
    Several,
}

/// The peer with id `peer`, or the `direction` peer named `peer`.
pub(super) async fn find_peer(
    client: &GatewayClient,
    peer: &str,
    direction: PeerDirection,
) -> anyhow::Result<PeerMatch> {
    let peers: Vec<PeerView> = client.get(&ApiPath::new(PEERS)).await?;
    let mut found: Vec<PeerView> = peers
        .into_iter()
        .filter(|p| p.id.as_str() == peer || (p.common_name == peer && p.direction == direction))
        .collect();
    Ok(match found.len() {
        1 => PeerMatch::One(Box::new(found.remove(0))),
        0 => PeerMatch::None,
        _ => PeerMatch::Several,
    })
}

/// The outbound peer named `peer` (or with that id).
async fn resolve_peer(client: &GatewayClient, peer: &str) -> anyhow::Result<PeerView> {
    match find_peer(client, peer, PeerDirection::Outbound).await? {
        PeerMatch::One(p) => Ok(*p),
        PeerMatch::None => {
            anyhow::bail!("no outbound peer named `{peer}` (see `mosaic federation peers`)")
        }
        PeerMatch::Several => {
            anyhow::bail!("several outbound peers are named `{peer}`; give the peer id instead")
        }
    }
}

/// Runs `mosaic federation`.
pub async fn run(cmd: FederationCommand) -> anyhow::Result<()> {
    match cmd {
        FederationCommand::Peers { conn, out } => peer(PeerCommand::List { conn, out }).await,
        FederationCommand::Grants { conn, out } => grant(GrantCommand::List { conn, out }).await,
        FederationCommand::Capabilities { peer, conn, out } => {
            let client = conn.client()?;
            let found = resolve_peer(&client, &peer).await?;
            let caps: FederationCapabilitiesResponse = client
                .get(&ApiPath::new(PEERS).seg(&found.id).seg("capabilities"))
                .await?;
            out.print(&caps, render::capabilities)
        }
        FederationCommand::Audit(args) => super::audit::run(args).await,
        FederationCommand::Grant(g) => grant(g).await,
        FederationCommand::Peer(p) => peer(p).await,
    }
}

/// The body of `POST …/grants`, the scope read from its file.
fn new_grant(
    peer: &str,
    user: &str,
    scope: &std::path::Path,
    expires_in_days: Option<i64>,
    token_ttl_hours: Option<i64>,
) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(scope)
        .with_context(|| format!("reading scope file {}", scope.display()))?;
    let scope_json: Value = serde_json::from_str(&text)
        .with_context(|| format!("scope file {} is not JSON", scope.display()))?;
    Ok(json!({
        "peer": peer,
        "user_id": user,
        "scope": scope_json,
        "expires_in_days": expires_in_days,
        "token_ttl_hours": token_ttl_hours,
    }))
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
            out,
        } => {
            let body = new_grant(&peer, &user, &scope, expires_in_days, token_ttl_hours)?;
            let created: CreatedGrant = conn.client()?.post(&ApiPath::new(GRANTS), &body).await?;
            out.print(
                &created,
                |c| vec![c.enrollment.enrollment_code.clone()],
                render::created_grant,
            )
        }
        GrantCommand::List { conn, out } => {
            let grants: Vec<GrantView> = conn.client()?.get(&ApiPath::new(GRANTS)).await?;
            out.print(&grants, ids(|g: &GrantView| g.id.to_string()), |g| {
                render::grant_table(g)
            })
        }
        GrantCommand::Show { id, conn, out } => {
            let g: GrantView = conn.client()?.get(&ApiPath::new(GRANTS).seg(&id)).await?;
            out.print(&g, render::grant_detail)
        }
        GrantCommand::Revoke {
            id,
            reason,
            conn,
            out,
        } => {
            let path = ApiPath::new(GRANTS).seg(&id).seg("revoke");
            let g: GrantView = conn
                .client()?
                .post(&path, &json!({ "reason": reason }))
                .await?;
            out.print(&g, |g| {
                let why = crate::output::or_dash(g.revoked_reason.as_deref());
                format!("revoked grant {} ({why})", g.id)
            })
        }
        GrantCommand::Token { id, conn, out } => {
            let path = ApiPath::new(GRANTS).seg(&id).seg("tokens");
            let code: EnrollmentCodeView = conn.client()?.post(&path, &json!({})).await?;
            out.print(&code, |c| c.enrollment_code.clone())
        }
    }
}

/// `-q` for a list: one id a line.
fn ids<T>(id: impl Fn(&T) -> String) -> impl FnOnce(&Vec<T>) -> Vec<String> {
    move |items| items.iter().map(&id).collect()
}

async fn enroll(a: EnrollArgs) -> anyhow::Result<()> {
    let name = match a.name {
        Some(n) => n,
        None => url::Url::parse(&a.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .context("--url is not a URL; give --name as well")?,
    };
    let gateway = crate::settings::gateway_url(a.gateway.as_deref(), "--gateway")?;
    let admin_token = crate::settings::token(a.admin_token.as_deref(), "--admin-token")?;
    let client = GatewayClient::new(
        &gateway.value,
        admin_token.as_ref().map(|t| t.value.as_str()),
    )?;
    let body = json!({"url": a.url, "code": a.code, "name": name, "user_id": a.user});
    let enrolled: EnrolledPeer = client
        .post(&ApiPath::new(PEERS).seg("enroll"), &body)
        .await?;
    a.out
        .print(&enrolled, |e| render::enrolled(e, &a.url, &a.user, &name))
}

/// Suspends or activates a peer.
async fn set_state(conn: &Connection, id: &str, action: &str, out: JsonArgs) -> anyhow::Result<()> {
    let path = ApiPath::new(PEERS).seg(id).seg(action);
    let p: PeerView = conn.client()?.post(&path, &json!({})).await?;
    out.print(&p, |p| format!("peer {} is {}", p.common_name, p.state))
}

async fn peer(cmd: PeerCommand) -> anyhow::Result<()> {
    match cmd {
        PeerCommand::Enroll(a) => enroll(a).await,
        PeerCommand::Add { name, conn, out } => {
            let p: PeerView = conn
                .client()?
                .post(&ApiPath::new(PEERS), &json!({ "common_name": name }))
                .await?;
            out.print(
                &p,
                |p| vec![p.id.to_string()],
                |p| format!("added peer {} ({})", p.common_name, p.id),
            )
        }
        PeerCommand::List { conn, out } => {
            let peers: Vec<PeerView> = conn.client()?.get(&ApiPath::new(PEERS)).await?;
            out.print(&peers, ids(|p: &PeerView| p.id.to_string()), |p| {
                render::peer_table(p)
            })
        }
        PeerCommand::Suspend { id, conn, out } => set_state(&conn, &id, "suspend", out).await,
        PeerCommand::Activate { id, conn, out } => set_state(&conn, &id, "activate", out).await,
        PeerCommand::Remove { id, conn, out } => {
            conn.client()?.delete(&ApiPath::new(PEERS).seg(&id)).await?;
            out.print(&json!({ "removed": id }), |_| format!("removed peer {id}"))
        }
    }
}
