//! `mosaic user|team` (admin token) and `mosaic project|task|note|memory`
//! (user token): the native data a gateway holds.

use crate::gateway_client::{ApiPath, Connection};
use crate::output::{JsonArgs, OutputArgs, table};
use clap::Subcommand;
use mosaic_types::admin::IssuedUserToken;
use serde_json::{Value, json};

/// `mosaic user`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user.
    Add {
        /// Id (letters, digits, `-`, `_`, `.`); a UUID when omitted.
        #[arg(long)]
        id: Option<String>,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Email (unique on this gateway).
        #[arg(long)]
        email: String,
        #[command(flatten)]
        conn: Connection,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// List users.
    #[command(alias = "ls")]
    List {
        #[command(flatten)]
        conn: Connection,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Issue a token that acts as the user (shown once).
    Token {
        /// The user.
        id: String,
        /// A label to recognise the token by.
        #[arg(long, default_value = "cli")]
        label: String,
        #[command(flatten)]
        conn: Connection,
        #[command(flatten)]
        out: OutputArgs,
    },
}

/// `mosaic team`.
#[derive(Debug, Subcommand)]
pub enum TeamCommand {
    /// Create a team; the owner becomes a member.
    Add {
        /// Id; a UUID when omitted.
        #[arg(long)]
        id: Option<String>,
        /// Name.
        #[arg(long)]
        name: String,
        /// Owning user.
        #[arg(long)]
        owner: String,
        #[command(flatten)]
        conn: Connection,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Add a user to a team (or change their role).
    Join {
        /// Team id.
        team: String,
        /// User id.
        user: String,
        /// Role.
        #[arg(long, default_value = "member")]
        role: String,
        #[command(flatten)]
        conn: Connection,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Remove a user from a team.
    Leave {
        /// Team id.
        team: String,
        /// User id.
        user: String,
        #[command(flatten)]
        conn: Connection,
        #[command(flatten)]
        out: JsonArgs,
    },
}

/// `mosaic project|task|note|memory`: writes as the token's user.
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Create a project (personal, or a team's with --team).
    Project {
        /// Name.
        #[arg(long)]
        name: String,
        /// Owning team.
        #[arg(long)]
        team: Option<String>,
        #[command(flatten)]
        conn: Connection,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Create a mission in a project.
    Mission {
        /// Name.
        #[arg(long)]
        name: String,
        /// Project id.
        #[arg(long)]
        project: String,
        #[command(flatten)]
        conn: Connection,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Create a task in a project or mission.
    Task {
        /// Title.
        #[arg(long)]
        title: String,
        /// Project id.
        #[arg(long)]
        project: Option<String>,
        /// Mission id.
        #[arg(long)]
        mission: Option<String>,
        /// Status.
        #[arg(long)]
        status: Option<String>,
        #[command(flatten)]
        conn: Connection,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Write a note on a mission.
    Note {
        /// Mission id.
        #[arg(long)]
        mission: String,
        /// Text.
        #[arg(long)]
        content: String,
        #[command(flatten)]
        conn: Connection,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Record an insight.
    Insight {
        /// Text.
        #[arg(long)]
        content: String,
        #[command(flatten)]
        conn: Connection,
        #[command(flatten)]
        out: OutputArgs,
    },
}

/// A string field of a gateway answer (`-` when absent).
fn s(v: &Value, k: &str) -> String {
    match &v[k] {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

/// Prints a created record: JSON, its `key` field with `-q`, else `human`.
fn created(
    out: OutputArgs,
    v: &Value,
    key: &str,
    human: impl FnOnce(&Value) -> String,
) -> anyhow::Result<()> {
    out.print(v, |v| vec![s(v, key)], human)
}

/// `mosaic user ls`.
fn user_table(users: &Value) -> String {
    let rows: Vec<Vec<String>> = users
        .as_array()
        .into_iter()
        .flatten()
        .map(|u| vec![s(u, "id"), s(u, "name"), s(u, "email")])
        .collect();
    table(&["ID", "NAME", "EMAIL"], &rows)
}

/// Runs `mosaic user`.
pub async fn user(cmd: UserCommand) -> anyhow::Result<()> {
    const USERS: &str = "/api/admin/v1/users";
    match cmd {
        UserCommand::Add {
            id,
            name,
            email,
            conn,
            out,
        } => {
            let body = json!({"id": id, "name": name, "email": email});
            let v: Value = conn.client()?.post(&ApiPath::new(USERS), &body).await?;
            created(out, &v, "id", |v| {
                format!("created user {} ({})", s(v, "id"), s(v, "email"))
            })
        }
        UserCommand::List { conn, out } => {
            let v: Value = conn.client()?.get(&ApiPath::new(USERS)).await?;
            let ids = |v: &Value| {
                let users = v.as_array().into_iter().flatten();
                users.map(|u| s(u, "id")).collect()
            };
            out.print(&v, ids, user_table)
        }
        UserCommand::Token {
            id,
            label,
            conn,
            out,
        } => {
            let path = ApiPath::new(USERS).seg(&id).seg("tokens");
            let t: IssuedUserToken = conn
                .client()?
                .post(&path, &json!({ "label": label }))
                .await?;
            out.print(
                &t,
                |t| vec![t.token.clone()],
                |t| format!("user token: {}\n(shown once)", t.token),
            )
        }
    }
}

fn membership(team: &str, user: &str) -> ApiPath {
    ApiPath::new("/api/admin/v1/teams")
        .seg(team)
        .seg("members")
        .seg(user)
}

/// Runs `mosaic team`.
pub async fn team(cmd: TeamCommand) -> anyhow::Result<()> {
    match cmd {
        TeamCommand::Add {
            id,
            name,
            owner,
            conn,
            out,
        } => {
            let body = json!({"id": id, "name": name, "owner_id": owner});
            let v: Value = conn
                .client()?
                .post(&ApiPath::new("/api/admin/v1/teams"), &body)
                .await?;
            created(out, &v, "id", |v| {
                format!("created team {} (slug {})", s(v, "id"), s(v, "slug"))
            })
        }
        TeamCommand::Join {
            team,
            user,
            role,
            conn,
            out,
        } => {
            let v: Value = conn
                .client()?
                .put(&membership(&team, &user), &json!({ "role": role }))
                .await?;
            created(out, &v, "user_id", |v| {
                let (u, r, t) = (s(v, "user_id"), s(v, "role"), s(v, "team_id"));
                format!("{u} is a {r} of {t}")
            })
        }
        TeamCommand::Leave {
            team,
            user,
            conn,
            out,
        } => {
            conn.client()?.delete(&membership(&team, &user)).await?;
            let left = json!({ "team_id": team, "user_id": user, "left": true });
            out.print(&left, |_| format!("{user} left {team}"))
        }
    }
}

/// Runs `mosaic new project|mission|task|note|insight`.
pub async fn data(cmd: DataCommand) -> anyhow::Result<()> {
    let (path, body, out, what) = match cmd {
        DataCommand::Project {
            name,
            team,
            conn,
            out,
        } => (
            "/api/v1/projects",
            json!({"name": name, "team_id": team}),
            (conn, out),
            "created project",
        ),
        DataCommand::Mission {
            name,
            project,
            conn,
            out,
        } => (
            "/api/v1/missions",
            json!({"name": name, "project_id": project}),
            (conn, out),
            "created mission",
        ),
        DataCommand::Task {
            title,
            project,
            mission,
            status,
            conn,
            out,
        } => (
            "/api/v1/tasks",
            json!({"title": title, "project_id": project, "mission_id": mission, "status": status}),
            (conn, out),
            "created task",
        ),
        DataCommand::Note {
            mission,
            content,
            conn,
            out,
        } => (
            "/api/v1/notes",
            json!({"mission_id": mission, "content": content}),
            (conn, out),
            "created note",
        ),
        DataCommand::Insight { content, conn, out } => (
            "/api/v1/memory/insights",
            json!({ "content": content }),
            (conn, out),
            "recorded insight",
        ),
    };
    let (conn, out) = out;
    let v: Value = conn.client()?.post(&ApiPath::new(path), &body).await?;
    created(out, &v, "id", |v| match v["title"].as_str() {
        // Tasks are named by their title as well.
        Some(title) if path == "/api/v1/tasks" => format!("{what} {} ({title})", s(v, "id")),
        _ => format!("{what} {}", s(v, "id")),
    })
}
