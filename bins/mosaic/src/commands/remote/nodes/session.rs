//! `mosaic session`: sessions of agent nodes, and the commands run on them.

use super::hints::{Hinted as _, Target, user_client};
use super::stream::{self, TaskRef};
use super::{args, render};
use crate::gateway_client::{ApiPath, Connection, GatewayClient};
use crate::output::{self, JsonArgs, OutputArgs};
use anyhow::{Context as _, bail};
use chrono::Utc;
use clap::Subcommand;
use mosaic_types::nodes::{
    AttachNode, CreateSession, DispatchRequest, NodeList, OutputEvent, SessionList, SessionView,
    TaskList, TaskView,
};
use std::process::ExitCode;

/// Exit status after Ctrl-C (128 + SIGINT), as a shell reports it.
const INTERRUPTED: u8 = 130;
/// Exit status when our stdout reader went away (128 + SIGPIPE).
const BROKEN_PIPE: u8 = 141;
/// Exit status when the gateway shut down while we followed a task: a
/// temporary failure, worth trying again (`EX_TEMPFAIL`).
pub const GATEWAY_STOPPING: u8 = 75;

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
        #[command(flatten)]
        out: OutputArgs,
    },
    /// List your sessions.
    #[command(alias = "ls")]
    List {
        #[command(flatten)]
        conn: Connection,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Show one session and its nodes.
    Show {
        /// Session id.
        id: String,
        #[command(flatten)]
        conn: Connection,
        #[command(flatten)]
        out: JsonArgs,
    },
    /// Attach a node to a session.
    Attach {
        /// Session id.
        session: String,
        /// Node id.
        node: String,
        #[command(flatten)]
        conn: Connection,
        #[command(flatten)]
        out: JsonArgs,
    },
    /// Close a session: it takes no more nodes and runs no more commands.
    ///
    /// Tasks already running go on to their end. Closing a closed session
    /// changes nothing.
    Close {
        /// Session id.
        id: String,
        #[command(flatten)]
        conn: Connection,
        #[command(flatten)]
        out: JsonArgs,
    },
    /// Run a command on a session's node and follow its output; exits with its status.
    ///
    /// The words after `--` are joined with spaces and run by `sh -c` on the
    /// node. Exit status: the command's own; 124 if it timed out; 130 if it
    /// was cancelled (Ctrl-C cancels it); 1 if it was refused, failed, was
    /// lost or was killed by a signal; 75 if the gateway shut down while
    /// the command ran (it may still be running: `session logs --follow`).
    Dispatch(DispatchArgs),
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
        /// `--json` prints the task list, or the task's output events.
        #[command(flatten)]
        out: JsonArgs,
    },
    /// Cancel a running task.
    Cancel {
        /// Session id.
        session: String,
        /// Task id.
        task: String,
        #[command(flatten)]
        conn: Connection,
        #[command(flatten)]
        out: JsonArgs,
    },
}

/// `mosaic session dispatch`.
#[derive(Debug, clap::Args)]
pub struct DispatchArgs {
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
    /// `--json` prints the task (with --detach), else the ended task and its output.
    #[command(flatten)]
    out: JsonArgs,
    /// Words before `--` that are not ours: a command written without `--`,
    /// answered with how to write it.
    #[arg(hide = true, value_name = "WORD", allow_hyphen_values = true)]
    stray: Vec<String>,
    /// The command to run, after `--`.
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

impl DispatchArgs {
    /// The options clap read, as they would be written (to repeat them in
    /// advice).
    fn options(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(node) = &self.node {
            out.push(format!("--node {}", render::shell_quote(node)));
        }
        if let Some(cwd) = &self.cwd {
            out.push(format!("--cwd {}", render::shell_quote(cwd)));
        }
        if let Some(secs) = self.timeout {
            out.push(format!("--timeout {secs}"));
        }
        if self.detach {
            out.push("--detach".to_owned());
        }
        if self.out.json {
            out.push("--json".to_owned());
        }
        out
    }
}

fn session_path(id: &str) -> ApiPath {
    ApiPath::new("/api/sessions").seg(id)
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
async fn session(cmd: SessionCommand) -> anyhow::Result<u8> {
    match cmd {
        SessionCommand::Create {
            name,
            nodes,
            conn,
            out,
        } => create(&user_client(&conn)?, name, &nodes, out).await?,
        SessionCommand::List { conn, out } => list(&user_client(&conn)?, out).await?,
        SessionCommand::Show { id, conn, out } => show(&user_client(&conn)?, &id, out).await?,
        SessionCommand::Attach {
            session,
            node,
            conn,
            out,
        } => {
            let s = attach(&user_client(&conn)?, &session, &node).await?;
            out.print(&s, |s| {
                format!(
                    "attached node {node} to session {} ({}); its nodes: {}",
                    s.name,
                    s.id,
                    s.nodes.join(", ")
                )
            })?;
        }
        SessionCommand::Close { id, conn, out } => {
            let s: SessionView = user_client(&conn)?
                .post_empty(&session_path(&id).seg("close"))
                .await
                .about(Target::Session(&id))?;
            out.print(&s, |s| format!("closed session {} ({})", s.name, s.id))?;
        }
        SessionCommand::Dispatch(a) => return dispatch(a).await,
        SessionCommand::Logs {
            session,
            task: None,
            conn,
            out,
            ..
        } => tasks(&user_client(&conn)?, &session, out).await?,
        SessionCommand::Logs {
            session,
            task: Some(task),
            follow,
            conn,
            out,
        } => return logs(&user_client(&conn)?, &session, &task, follow, out.json).await,
        SessionCommand::Cancel {
            session,
            task,
            conn,
            out,
        } => {
            let t = cancel(&user_client(&conn)?, &session, &task).await?;
            out.print(&t, render::cancelled)?;
        }
    }
    Ok(0)
}

async fn create(
    client: &GatewayClient,
    name: Option<String>,
    nodes: &[String],
    out: OutputArgs,
) -> anyhow::Result<()> {
    let mut s: SessionView = client
        .post(&ApiPath::new("/api/sessions"), &CreateSession { name })
        .await
        .about(Target::Sessions)?;
    for node in nodes {
        s = attach(client, &s.id, node).await.with_context(|| {
            format!(
                "session {} ({}) was created, but attaching node {node} failed",
                s.name, s.id
            )
        })?;
    }
    out.print(
        &s,
        |s| vec![s.id.clone()],
        |s| {
            if s.nodes.is_empty() {
                format!(
                    "created session {} ({}); `mosaic session attach {} <node>` adds a node",
                    s.name, s.id, s.id
                )
            } else {
                format!(
                    "created session {} ({}) with nodes {}",
                    s.name,
                    s.id,
                    s.nodes.join(", ")
                )
            }
        },
    )
}

async fn list(client: &GatewayClient, out: OutputArgs) -> anyhow::Result<()> {
    let list: SessionList = client
        .get(&ApiPath::new("/api/sessions"))
        .await
        .about(Target::Sessions)?;
    let ids = |l: &SessionList| l.sessions.iter().map(|s| s.id.clone()).collect();
    out.print(&list, ids, |l| {
        if l.sessions.is_empty() {
            "no sessions yet: `mosaic session create --node <node>` makes one".to_owned()
        } else {
            render::session_table(&l.sessions, Utc::now())
        }
    })
}

async fn show(client: &GatewayClient, id: &str, out: JsonArgs) -> anyhow::Result<()> {
    let s: SessionView = client
        .get(&session_path(id))
        .await
        .about(Target::Session(id))?;
    if out.json {
        return output::json(&s);
    }
    // Names and states of the attached nodes, when they can be had.
    let nodes = if s.nodes.is_empty() {
        Vec::new()
    } else {
        client
            .get::<NodeList>(&ApiPath::new("/api/nodes"))
            .await
            .map(|l| l.nodes)
            .unwrap_or_default()
    };
    print!("{}", render::session_detail(&s, &nodes, Utc::now()));
    Ok(())
}

/// `session logs <session>`: its tasks.
async fn tasks(client: &GatewayClient, session: &str, out: JsonArgs) -> anyhow::Result<()> {
    let list: TaskList = client
        .get(&session_path(session).seg("tasks"))
        .await
        .about(Target::Session(session))?;
    out.print(&list, |l| {
        if l.tasks.is_empty() {
            format!(
                "no tasks in session {session} yet: `mosaic session dispatch {session} -- <command>` runs one"
            )
        } else {
            render::task_table(&l.tasks, Utc::now())
        }
    })
}

async fn attach(client: &GatewayClient, session: &str, node: &str) -> anyhow::Result<SessionView> {
    let body = AttachNode {
        node_id: node.to_owned(),
    };
    client
        .post(&session_path(session).seg("attach"), &body)
        .await
        .about(Target::Attach { session, node })
}

async fn cancel(client: &GatewayClient, session: &str, task: &str) -> anyhow::Result<TaskView> {
    let path = session_path(session).seg("tasks").seg(task).seg("cancel");
    client
        .post_empty(&path)
        .await
        .about(Target::Cancel { session, task })
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
async fn dispatch(a: DispatchArgs) -> anyhow::Result<u8> {
    let req = DispatchRequest {
        command: args::dispatch_command(&a.session, &a.options(), &a.stray, &a.command)?,
        node_id: a.node,
        cwd: a.cwd,
        timeout_secs: a.timeout,
    };
    let client = user_client(&a.conn)?;
    let session = a.session.as_str();
    let task: TaskView = client
        .post(&session_path(session).seg("dispatch"), &req)
        .await
        .about(Target::Dispatch { session })?;
    if a.detach {
        if a.out.json {
            output::json(&task)?;
        } else {
            println!("{}", task.id);
        }
        // Refused at once: say so even though we do not follow.
        return Ok(if task.finished() { finish(&task) } else { 0 });
    }
    follow(&client, session, task, a.out.json).await
}

/// Follows a dispatched task to its end (Ctrl-C cancels it); prints its
/// output as it comes, or everything as JSON at the end.
async fn follow(
    client: &GatewayClient,
    session: &str,
    task: TaskView,
    json: bool,
) -> anyhow::Result<u8> {
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
                stream::read_output(client, at, true, &mut sink).await
            }
        };
        tokio::select! {
            r = follow => Some(r),
            _ = tokio::signal::ctrl_c() => None,
        }
    };
    let ended = match followed {
        None => return Ok(interrupted(client, at).await),
        Some(Err(e)) => return ended_early(e, at),
        Some(Ok(ended)) => ended,
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

/// Following a task's output failed before the task ended: our reader went
/// away (141), the gateway is stopping (the gateway's line, and 75), or an
/// error.
fn ended_early(e: anyhow::Error, at: TaskRef<'_>) -> anyhow::Result<u8> {
    if stream::is_broken_pipe(&e) {
        return Ok(BROKEN_PIPE);
    }
    if let Some(stopping) = e.downcast_ref::<stream::GatewayStopping>() {
        eprintln!(
            "mosaic: {stopping}: `mosaic session logs {} {} --follow`",
            at.session, at.task
        );
        return Ok(GATEWAY_STOPPING);
    }
    Err(e)
}

/// `session dispatch --json`: the ended task and the output it wrote.
#[derive(Debug, serde::Serialize)]
struct Followed<'a> {
    task: &'a TaskView,
    output: &'a [OutputEvent],
}

/// Ctrl-C while following: cancel the task (a second Ctrl-C stops waiting
/// for that), then exit 130.
async fn interrupted(client: &GatewayClient, at: TaskRef<'_>) -> u8 {
    eprintln!("\nmosaic: interrupted: cancelling task {}", at.task);
    tokio::select! {
        r = cancel(client, at.session, at.task) => match r {
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
    client: &GatewayClient,
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
        stream::read_output(client, at, follow, &mut sink).await
    };
    let ended = match ended {
        Err(e) => return ended_early(e, at),
        Ok(ended) => ended,
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
