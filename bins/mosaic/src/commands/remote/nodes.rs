//! `mosaic node` and `mosaic session` (user token): invite agent nodes, see
//! and remove them, group them in sessions, run shell commands on them and
//! follow the output.
//!
//! `session dispatch` exits with the remote command's status (124 when it
//! timed out, 130 when cancelled, 1 when refused, failed, lost or killed by
//! a signal), so it can stand in for the command in scripts.

mod api;
mod args;
mod render;
mod stream;

use super::Connection;
use super::client::seg;
use anyhow::{Context as _, bail};
use api::{Api, Target};
use chrono::Utc;
use clap::Subcommand;
use mosaic_types::nodes::{
    AttachNode, CreateSession, DispatchRequest, InviteRequest, InviteResponse, NodeList, NodeView,
    OutputEvent, SessionList, SessionView, TaskList, TaskView,
};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use stream::TaskRef;

use crate::output;

/// Exit status after Ctrl-C (128 + SIGINT), as a shell reports it.
const INTERRUPTED: u8 = 130;
/// Exit status when our stdout reader went away (128 + SIGPIPE).
const BROKEN_PIPE: u8 = 141;

/// `mosaic node`.
#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// Invite a node: a one-time token and a ready agent-node.yaml.
    Invite {
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
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List your nodes.
    #[command(alias = "ls")]
    List {
        #[command(flatten)]
        conn: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Print only node ids, one per line, for scripts.
        #[arg(short, long, conflicts_with = "json")]
        quiet: bool,
    },
    /// Show one node: policy, capabilities, tools, health.
    Show {
        /// Node id.
        id: String,
        #[command(flatten)]
        conn: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a node: it can no longer connect.
    #[command(alias = "rm")]
    Remove {
        /// Node id.
        id: String,
        #[command(flatten)]
        conn: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `mosaic session`.
#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// Create a session and attach nodes to it.
    Create {
        /// Name (default: `session-<short id>`).
        #[arg(long)]
        name: Option<String>,
        /// A node to attach (repeat for several).
        #[arg(long = "node", value_name = "ID")]
        nodes: Vec<String>,
        #[command(flatten)]
        conn: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Print only the new session's id, for scripts.
        #[arg(short, long, conflicts_with = "json")]
        quiet: bool,
    },
    /// List your sessions.
    #[command(alias = "ls")]
    List {
        #[command(flatten)]
        conn: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one session and its nodes.
    Show {
        /// Session id.
        id: String,
        #[command(flatten)]
        conn: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Attach a node to a session.
    Attach {
        /// Session id.
        session: String,
        /// Node id.
        node: String,
        #[command(flatten)]
        conn: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run a command on a session's node and follow its output; exits with its status.
    ///
    /// The words after `--` are joined with spaces and run by `sh -c` on the
    /// node. Exit status: the command's own; 124 if it timed out; 130 if it
    /// was cancelled (Ctrl-C cancels it); 1 if it was refused, failed, was
    /// lost or was killed by a signal.
    Dispatch {
        /// Session id.
        session: String,
        /// Which attached node (default: the session's only node).
        #[arg(long, value_name = "ID")]
        node: Option<String>,
        /// Working directory on the node (default: its workspace).
        #[arg(long, value_name = "DIR")]
        cwd: Option<String>,
        /// Time limit in seconds (default: the node's).
        #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u32).range(1..))]
        timeout: Option<u32>,
        /// Do not follow: print the task id (the task with --json) and return.
        #[arg(long)]
        detach: bool,
        #[command(flatten)]
        conn: Connection,
        /// Print JSON: the task (with --detach), else the ended task and its output.
        #[arg(long)]
        json: bool,
        /// The command to run, after `--`.
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
    /// List a session's tasks, or print one task's output.
    Logs {
        /// Session id.
        session: String,
        /// Task id: print its output instead of listing tasks.
        task: Option<String>,
        /// Keep printing output as it arrives, until the task ends.
        #[arg(long, short = 'f', requires = "task")]
        follow: bool,
        #[command(flatten)]
        conn: Connection,
        /// Print JSON: the task list, or the task's output events.
        #[arg(long)]
        json: bool,
    },
    /// Cancel a running task.
    Cancel {
        /// Session id.
        session: String,
        /// Task id.
        task: String,
        #[command(flatten)]
        conn: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `mosaic node`.
pub async fn node(cmd: NodeCommand) -> anyhow::Result<()> {
    match cmd {
        NodeCommand::Invite {
            name,
            ttl,
            strict,
            allow,
            deny,
            write,
            conn,
            json,
        } => {
            let policy = args::invite_policy(strict, &allow, &deny)?;
            let name = name.map(|n| n.trim().to_owned());
            if name.as_deref() == Some("") {
                bail!(
                    "--name is empty: give a name, or leave --name out to use the node's host name"
                );
            }
            if let Some(path) = &write {
                check_writable(path)?;
            }
            let api = Api::new(&conn)?;
            let req = InviteRequest {
                name,
                ttl_seconds: ttl,
                policy,
            };
            let inv: InviteResponse = api.post("/api/nodes/invite", &req, Target::Invite).await?;
            invite_done(&inv, write.as_deref(), json)
        }
        NodeCommand::List { conn, json, quiet } => {
            let list: NodeList = Api::new(&conn)?.get("/api/nodes", Target::Nodes).await?;
            if json {
                return output::json(&list);
            }
            if quiet {
                for n in &list.nodes {
                    println!("{}", n.id);
                }
                return Ok(());
            }
            if list.nodes.is_empty() {
                println!("no nodes yet: `mosaic node invite` makes an invite for one");
            } else {
                println!("{}", render::node_table(&list.nodes, Utc::now()));
            }
            Ok(())
        }
        NodeCommand::Show { id, conn, json } => {
            let n: NodeView = Api::new(&conn)?
                .get(&format!("/api/nodes/{}", seg(&id)), Target::Node(&id))
                .await?;
            if json {
                output::json(&n)
            } else {
                print!("{}", render::node_detail(&n, Utc::now()));
                Ok(())
            }
        }
        NodeCommand::Remove { id, conn, json } => {
            let api = Api::new(&conn)?;
            let path = format!("/api/nodes/{}", seg(&id));
            // Fetched first to say which node went.
            let n: NodeView = api.get(&path, Target::Node(&id)).await?;
            api.delete(&path, Target::Node(&id)).await?;
            if json {
                output::json(&json!({ "removed": n.id }))
            } else {
                println!(
                    "removed node {} ({}, {}/{})",
                    n.id, n.name, n.capabilities.os, n.capabilities.arch
                );
                Ok(())
            }
        }
    }
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

/// Runs `mosaic session` on a fresh runtime; the exit status is the remote
/// command's for `dispatch`, else success.
pub fn run_session(cmd: SessionCommand) -> anyhow::Result<ExitCode> {
    let mut code = 0u8;
    crate::commands::block_on(async {
        code = session(cmd).await?;
        Ok(())
    })?;
    Ok(ExitCode::from(code))
}

/// Runs `mosaic session`; returns the exit status.
pub async fn session(cmd: SessionCommand) -> anyhow::Result<u8> {
    match cmd {
        SessionCommand::Create {
            name,
            nodes,
            conn,
            json,
            quiet,
        } => {
            let api = Api::new(&conn)?;
            let mut s: SessionView = api
                .post("/api/sessions", &CreateSession { name }, Target::Sessions)
                .await?;
            for node in &nodes {
                s = attach(&api, &s.id, node).await.with_context(|| {
                    format!(
                        "session {} ({}) was created, but attaching node {node} failed",
                        s.name, s.id
                    )
                })?;
            }
            if json {
                output::json(&s)?;
            } else if quiet {
                println!("{}", s.id);
            } else if s.nodes.is_empty() {
                println!(
                    "created session {} ({}); `mosaic session attach {} <node>` adds a node",
                    s.name, s.id, s.id
                );
            } else {
                println!(
                    "created session {} ({}) with nodes {}",
                    s.name,
                    s.id,
                    s.nodes.join(", ")
                );
            }
            Ok(0)
        }
        SessionCommand::List { conn, json } => {
            let list: SessionList = Api::new(&conn)?
                .get("/api/sessions", Target::Sessions)
                .await?;
            if json {
                output::json(&list)?;
            } else if list.sessions.is_empty() {
                println!("no sessions yet: `mosaic session create --node <node>` makes one");
            } else {
                println!("{}", render::session_table(&list.sessions, Utc::now()));
            }
            Ok(0)
        }
        SessionCommand::Show { id, conn, json } => {
            let api = Api::new(&conn)?;
            let s: SessionView = api
                .get(&format!("/api/sessions/{}", seg(&id)), Target::Session(&id))
                .await?;
            if json {
                output::json(&s)?;
                return Ok(0);
            }
            // Names and states of the attached nodes, when they can be had.
            let nodes = if s.nodes.is_empty() {
                Vec::new()
            } else {
                api.get::<NodeList>("/api/nodes", Target::Nodes)
                    .await
                    .map(|l| l.nodes)
                    .unwrap_or_default()
            };
            print!("{}", render::session_detail(&s, &nodes, Utc::now()));
            Ok(0)
        }
        SessionCommand::Attach {
            session,
            node,
            conn,
            json,
        } => {
            let s = attach(&Api::new(&conn)?, &session, &node).await?;
            if json {
                output::json(&s)?;
            } else {
                println!(
                    "attached node {node} to session {} ({}); its nodes: {}",
                    s.name,
                    s.id,
                    s.nodes.join(", ")
                );
            }
            Ok(0)
        }
        SessionCommand::Dispatch {
            session,
            node,
            cwd,
            timeout,
            detach,
            conn,
            json,
            command,
        } => {
            let req = DispatchRequest {
                command: command.join(" "),
                node_id: node,
                cwd,
                timeout_secs: timeout,
            };
            if req.command.trim().is_empty() {
                bail!("nothing to run: put the command after `--`, e.g. `-- ls -la`");
            }
            dispatch(&Api::new(&conn)?, &session, &req, detach, json).await
        }
        SessionCommand::Logs {
            session,
            task: None,
            conn,
            json,
            ..
        } => {
            let list: TaskList = Api::new(&conn)?
                .get(
                    &format!("/api/sessions/{}/tasks", seg(&session)),
                    Target::Session(&session),
                )
                .await?;
            if json {
                output::json(&list)?;
            } else if list.tasks.is_empty() {
                println!(
                    "no tasks in session {session} yet: `mosaic session dispatch {session} -- <command>` runs one"
                );
            } else {
                println!("{}", render::task_table(&list.tasks, Utc::now()));
            }
            Ok(0)
        }
        SessionCommand::Logs {
            session,
            task: Some(task),
            follow,
            conn,
            json,
        } => logs(&Api::new(&conn)?, &session, &task, follow, json).await,
        SessionCommand::Cancel {
            session,
            task,
            conn,
            json,
        } => {
            let t = cancel(&Api::new(&conn)?, &session, &task).await?;
            if json {
                output::json(&t)?;
            } else {
                println!("{}", render::cancelled(&t));
            }
            Ok(0)
        }
    }
}

async fn attach(api: &Api, session: &str, node: &str) -> anyhow::Result<SessionView> {
    api.post(
        &format!("/api/sessions/{}/attach", seg(session)),
        &AttachNode {
            node_id: node.to_owned(),
        },
        Target::Attach { session, node },
    )
    .await
}

async fn cancel(api: &Api, session: &str, task: &str) -> anyhow::Result<TaskView> {
    api.post_empty(
        &format!("/api/sessions/{}/tasks/{}/cancel", seg(session), seg(task)),
        Target::Cancel { session, task },
    )
    .await
}

/// Says why an ended task failed, and returns the exit status it maps to.
fn finish(task: &TaskView) -> u8 {
    let o = args::outcome(task);
    if let Some(m) = o.message {
        eprintln!("mosaic: {m}");
    }
    o.code
}

/// `session dispatch`: sends the command, then follows it to its end.
async fn dispatch(
    api: &Api,
    session: &str,
    req: &DispatchRequest,
    detach: bool,
    json: bool,
) -> anyhow::Result<u8> {
    let task: TaskView = api
        .post(
            &format!("/api/sessions/{}/dispatch", seg(session)),
            req,
            Target::Dispatch { session },
        )
        .await?;
    if detach {
        if json {
            output::json(&task)?;
        } else {
            println!("{}", task.id);
        }
        // Refused at once: say so even though we do not follow.
        return Ok(if task.finished() { finish(&task) } else { 0 });
    }
    let at = TaskRef {
        session,
        task: &task.id,
    };
    let mut events: Vec<OutputEvent> = Vec::new();
    let followed = {
        let mut sink = |event: OutputEvent| {
            if json {
                events.push(event);
                Ok(())
            } else {
                stream::print_event(event)
            }
        };
        let follow = async {
            if task.status == "refused" {
                // Nothing ran, so there is no output to wait for.
                Ok(Some(task.clone()))
            } else {
                stream::read_output(api, at, true, &mut sink).await
            }
        };
        tokio::select! {
            r = follow => Some(r),
            _ = tokio::signal::ctrl_c() => None,
        }
    };
    let ended = match followed {
        None => return Ok(interrupted(api, at).await),
        Some(Err(e)) if stream::is_broken_pipe(&e) => return Ok(BROKEN_PIPE),
        Some(r) => r?,
    };
    let Some(ended) = ended else {
        bail!("the output stream ended before task {} did", task.id);
    };
    if json {
        output::json(&Followed {
            task: &ended,
            output: &events,
        })?;
    }
    Ok(finish(&ended))
}

/// `session dispatch --json`: the ended task and the output it wrote.
#[derive(Debug, serde::Serialize)]
struct Followed<'a> {
    task: &'a TaskView,
    output: &'a [OutputEvent],
}

/// Ctrl-C while following: cancel the task (a second Ctrl-C stops waiting
/// for that), then exit 130.
async fn interrupted(api: &Api, at: TaskRef<'_>) -> u8 {
    eprintln!("\nmosaic: interrupted: cancelling task {}", at.task);
    tokio::select! {
        r = cancel(api, at.session, at.task) => match r {
            Ok(t) => eprintln!("mosaic: {}", render::cancelled(&t)),
            Err(e) => eprintln!(
                "mosaic: could not cancel task {}: {e:#}; it may still be running: `mosaic session cancel {} {}`",
                at.task, at.session, at.task
            ),
        },
        _ = tokio::signal::ctrl_c() => eprintln!(
            "mosaic: not waiting for the cancellation; `mosaic session logs {} {}` shows how the task ended",
            at.session, at.task
        ),
    }
    INTERRUPTED
}

/// `session logs <session> <task>`: the output so far, or (following) to
/// the end.
async fn logs(
    api: &Api,
    session: &str,
    task: &str,
    follow: bool,
    json: bool,
) -> anyhow::Result<u8> {
    let at = TaskRef { session, task };
    let mut events: Vec<OutputEvent> = Vec::new();
    let ended = {
        let mut sink = |event: OutputEvent| {
            if json {
                events.push(event);
                Ok(())
            } else {
                stream::print_event(event)
            }
        };
        stream::read_output(api, at, follow, &mut sink).await
    };
    let ended = match ended {
        Err(e) if stream::is_broken_pipe(&e) => return Ok(BROKEN_PIPE),
        r => r?,
    };
    if json {
        if let Some(t) = ended {
            events.push(OutputEvent::End { task: t });
        }
        output::json(&events)?;
    } else if let Some(t) = &ended
        && let Some(m) = args::outcome(t).message
    {
        // How it ended, when it did not just exit: refused, timed out, …
        eprintln!("mosaic: {m}");
    }
    Ok(0)
}
