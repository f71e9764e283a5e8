//! `mosaic node` and `mosaic session` (user token): invite agent nodes, see
//! and remove them, group them in sessions, run shell commands on them and
//! follow the output.
//!
//! `session dispatch` exits with the remote command's status (124 when it
//! timed out, 130 when cancelled, 1 when refused, failed, lost or killed by
//! a signal), so it can stand in for the command in scripts; 75 when the
//! gateway shut down while it followed the output (as `session logs
//! --follow` does).

mod args;
mod hints;
mod render;
mod session;
mod stream;

pub use session::{SessionCommand, run_session};

use crate::gateway_client::{ApiPath, Connection};
use crate::output::{self, JsonArgs, OutputArgs};
use anyhow::bail;
use chrono::Utc;
use clap::Subcommand;
use hints::{Hinted as _, Target, user_client};
use mosaic_types::nodes::{InviteRequest, InviteResponse, NodeList, NodeView};
use serde_json::json;
use std::path::{Path, PathBuf};

/// `mosaic node`.
#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// Invite a node: a one-time token and a ready agent-node.yaml.
    Invite(InviteArgs),
    /// List your nodes.
    #[command(alias = "ls")]
    List {
        #[command(flatten)]
        conn: Connection,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Show one node: policy, capabilities, tools, health.
    Show {
        /// Node id.
        id: String,
        #[command(flatten)]
        conn: Connection,
        #[command(flatten)]
        out: JsonArgs,
    },
    /// Remove a node: it can no longer connect.
    #[command(alias = "rm")]
    Remove {
        /// Node id.
        id: String,
        #[command(flatten)]
        conn: Connection,
        #[command(flatten)]
        out: JsonArgs,
    },
}

/// `mosaic node invite`.
#[derive(Debug, clap::Args)]
pub struct InviteArgs {
    /// Name for the node (default: its host name).
    #[arg(long)]
    name: Option<String>,
    /// How long the invite stays usable: seconds (3600) or 30m, 1h, 7d; 1m to 7d (default 1h).
    #[arg(long, value_name = "DURATION", value_parser = args::parse_ttl)]
    ttl: Option<u32>,
    /// Strict sandbox: the node runs only the programs given with --allow.
    #[arg(long)]
    strict: bool,
    /// A program a strict node runs (repeat, or separate with commas).
    #[arg(long, value_name = "PROGRAM", value_delimiter = ',')]
    allow: Vec<String>,
    /// A program the node refuses (repeat, or separate with commas; not with --strict).
    #[arg(long, value_name = "PROGRAM", value_delimiter = ',')]
    deny: Vec<String>,
    /// Write the agent-node.yaml to FILE (mode 0600) instead of printing it.
    #[arg(long, value_name = "FILE")]
    write: Option<PathBuf>,
    #[command(flatten)]
    conn: Connection,
    #[command(flatten)]
    out: JsonArgs,
}

fn node_path(id: &str) -> ApiPath {
    ApiPath::new("/api/nodes").seg(id)
}

/// Runs `mosaic node`.
pub async fn node(cmd: NodeCommand) -> anyhow::Result<()> {
    match cmd {
        NodeCommand::Invite(a) => invite(a).await,
        NodeCommand::List { conn, out } => {
            let list: NodeList = user_client(&conn)?
                .get(&ApiPath::new("/api/nodes"))
                .await
                .about(Target::Nodes)?;
            let ids = |l: &NodeList| l.nodes.iter().map(|n| n.id.clone()).collect();
            out.print(&list, ids, |l| {
                if l.nodes.is_empty() {
                    "no nodes yet: `mosaic node invite` makes an invite for one".to_owned()
                } else {
                    render::node_table(&l.nodes, Utc::now())
                }
            })
        }
        NodeCommand::Show { id, conn, out } => {
            let n: NodeView = user_client(&conn)?
                .get(&node_path(&id))
                .await
                .about(Target::Node(&id))?;
            if out.json {
                output::json(&n)
            } else {
                print!("{}", render::node_detail(&n, Utc::now()));
                Ok(())
            }
        }
        NodeCommand::Remove { id, conn, out } => remove(&conn, &id, out).await,
    }
}

async fn remove(conn: &Connection, id: &str, out: JsonArgs) -> anyhow::Result<()> {
    let client = user_client(conn)?;
    let path = node_path(id);
    // Fetched first to say which node went.
    let n: NodeView = client.get(&path).await.about(Target::Node(id))?;
    client.delete(&path).await.about(Target::Node(id))?;
    out.print(&json!({ "removed": n.id }), |_| {
        format!(
            "removed node {} ({}, {}/{})",
            n.id, n.name, n.capabilities.os, n.capabilities.arch
        )
    })
}

async fn invite(a: InviteArgs) -> anyhow::Result<()> {
    let policy = args::invite_policy(a.strict, &a.allow, &a.deny)?;
    let name = a.name.map(|n| n.trim().to_owned());
    if name.as_deref() == Some("") {
        bail!("--name is empty: give a name, or leave --name out to use the node's host name");
    }
    if let Some(path) = &a.write {
        check_writable(path)?;
    }
    let req = InviteRequest {
        name,
        ttl_seconds: a.ttl,
        policy,
    };
    let inv: InviteResponse = user_client(&a.conn)?
        .post(&ApiPath::new("/api/nodes/invite"), &req)
        .await
        .about(Target::Invite)?;
    invite_done(&inv, a.write.as_deref(), a.out.json)
}

/// Fails early, before an invite is spent, when `--write` cannot work.
fn check_writable(path: &Path) -> anyhow::Result<()> {
    if path.is_dir() {
        bail!("--write {} is a directory: name a file", path.display());
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        bail!(
            "--write {}: directory {} does not exist",
            path.display(),
            dir.display()
        );
    }
    Ok(())
}

/// Writes `contents` to `path`, readable by its owner only.
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut file = opts.open(path)?;
    // `mode` only applies to a new file: tighten an existing one too,
    // before the token goes in.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

/// Prints (and writes) a fresh invite. If the file cannot be written, the
/// configuration is printed instead so the one-time token is not lost.
fn invite_done(inv: &InviteResponse, write: Option<&Path>, json: bool) -> anyhow::Result<()> {
    let now = Utc::now();
    let written = match write {
        Some(path) => match write_private(path, &inv.config_yaml) {
            Ok(()) => Some(path),
            Err(e) => {
                if json {
                    output::json(inv)?;
                } else {
                    print!("{}", render::invite(inv, None, now));
                }
                bail!(
                    "could not write {}: {e}; the invite's configuration is printed above instead",
                    path.display()
                );
            }
        },
        None => None,
    };
    if json {
        if let Some(path) = written {
            eprintln!(
                "wrote the node configuration to {} (mode 0600)",
                path.display()
            );
        }
        return output::json(inv);
    }
    print!("{}", render::invite(inv, written, now));
    Ok(())
}
