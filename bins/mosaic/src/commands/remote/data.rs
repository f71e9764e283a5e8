//! `mosaic user|team` (admin token) and `mosaic project|task|note|memory`
//! (user token): the native data a gateway holds.

use super::client::seg;
use super::{Connection, GatewayClient};
use crate::output;
use clap::Subcommand;
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
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Print only the new id (or token), for scripts.
        #[arg(long, short = 'q', conflicts_with = "json")]
        quiet: bool,
    },
    /// List users.
    #[command(alias = "ls")]
    List {
        #[command(flatten)]
        conn: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Print only the new id (or token), for scripts.
        #[arg(long, short = 'q', conflicts_with = "json")]
        quiet: bool,
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
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Print only the new id (or token), for scripts.
        #[arg(long, short = 'q', conflicts_with = "json")]
        quiet: bool,
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
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Print only the new id (or token), for scripts.
        #[arg(long, short = 'q', conflicts_with = "json")]
        quiet: bool,
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
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Print only the new id (or token), for scripts.
        #[arg(long, short = 'q', conflicts_with = "json")]
        quiet: bool,
    },
    /// Remove a user from a team.
    Leave {
        /// Team id.
        team: String,
        /// User id.
        user: String,
        #[command(flatten)]
        conn: Connection,
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
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Print only the new id (or token), for scripts.
        #[arg(long, short = 'q', conflicts_with = "json")]
        quiet: bool,
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
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Print only the new id (or token), for scripts.
        #[arg(long, short = 'q', conflicts_with = "json")]
        quiet: bool,
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
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Print only the new id (or token), for scripts.
        #[arg(long, short = 'q', conflicts_with = "json")]
        quiet: bool,
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
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Print only the new id (or token), for scripts.
        #[arg(long, short = 'q', conflicts_with = "json")]
        quiet: bool,
    },
    /// Record an insight.
    Insight {
        /// Text.
        #[arg(long)]
        content: String,
        #[command(flatten)]
        conn: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Print only the new id (or token), for scripts.
        #[arg(long, short = 'q', conflicts_with = "json")]
        quiet: bool,
    },
}

fn show_q(
    json: bool,
    quiet: bool,
    key: &str,
    value: &Value,
    human: impl FnOnce(&Value) -> String,
) -> anyhow::Result<()> {
    if quiet {
        println!("{}", s(value, key));
        Ok(())
    } else if json {
        output::json(value)
    } else {
        println!("{}", human(value));
        Ok(())
    }
}

fn s(v: &Value, k: &str) -> String {
    v[k].as_str()
        .map_or_else(|| v[k].to_string(), str::to_owned)
}

/// Runs `mosaic user`.
pub async fn user(cmd: UserCommand) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Add {
            id,
            name,
            email,
            conn,
            json,
            quiet,
        } => {
            let v: Value = GatewayClient::new(&conn)?
                .post(
                    "/api/admin/v1/users",
                    &json!({"id": id, "name": name, "email": email}),
                )
                .await?;
            show_q(json, quiet, "id", &v, |v| {
                format!("created user {} ({})", s(v, "id"), s(v, "email"))
            })
        }
        UserCommand::List { conn, json, quiet } => {
            let v: Value = GatewayClient::new(&conn)?
                .get("/api/admin/v1/users")
                .await?;
            if quiet {
                for u in v.as_array().into_iter().flatten() {
                    println!("{}", s(u, "id"));
                }
                return Ok(());
            }
            show_q(json, false, "id", &v, |v| {
                let mut out = format!("{:<24}  {:<24}  EMAIL", "ID", "NAME");
                for u in v.as_array().into_iter().flatten() {
                    out.push_str(&format!(
                        "\n{:<24}  {:<24}  {}",
                        s(u, "id"),
                        s(u, "name"),
                        s(u, "email")
                    ));
                }
                out
            })
        }
        UserCommand::Token {
            id,
            label,
            conn,
            json,
            quiet,
        } => {
            let v: Value = GatewayClient::new(&conn)?
                .post(
                    &format!("/api/admin/v1/users/{}/tokens", seg(&id)),
                    &json!({"label": label}),
                )
                .await?;
            show_q(json, quiet, "token", &v, |v| {
                format!("user token: {}\n(shown once)", s(v, "token"))
            })
        }
    }
}

/// Runs `mosaic team`.
pub async fn team(cmd: TeamCommand) -> anyhow::Result<()> {
    match cmd {
        TeamCommand::Add {
            id,
            name,
            owner,
            conn,
            json,
            quiet,
        } => {
            let v: Value = GatewayClient::new(&conn)?
                .post(
                    "/api/admin/v1/teams",
                    &json!({"id": id, "name": name, "owner_id": owner}),
                )
                .await?;
            show_q(json, quiet, "id", &v, |v| {
                format!("created team {} (slug {})", s(v, "id"), s(v, "slug"))
            })
        }
        TeamCommand::Join {
            team,
            user,
            role,
            conn,
            json,
            quiet,
        } => {
            let v: Value = GatewayClient::new(&conn)?
                .put(
                    &format!("/api/admin/v1/teams/{}/members/{}", seg(&team), seg(&user)),
                    &json!({"role": role}),
                )
                .await?;
            show_q(json, quiet, "user_id", &v, |v| {
                format!(
                    "{} is a {} of {}",
                    s(v, "user_id"),
                    s(v, "role"),
                    s(v, "team_id")
                )
            })
        }
        TeamCommand::Leave { team, user, conn } => {
            GatewayClient::new(&conn)?
                .delete(&format!(
                    "/api/admin/v1/teams/{}/members/{}",
                    seg(&team),
                    seg(&user)
                ))
                .await?;
            println!("{user} left {team}");
            Ok(())
        }
    }
}

/// Runs `mosaic project|mission|task|note|insight`.
pub async fn data(cmd: DataCommand) -> anyhow::Result<()> {
    match cmd {
        DataCommand::Project {
            name,
            team,
            conn,
            json,
            quiet,
        } => {
            let v: Value = GatewayClient::new(&conn)?
                .post("/api/v1/projects", &json!({"name": name, "team_id": team}))
                .await?;
            show_q(json, quiet, "id", &v, |v| {
                format!("created project {}", s(v, "id"))
            })
        }
        DataCommand::Mission {
            name,
            project,
            conn,
            json,
            quiet,
        } => {
            let v: Value = GatewayClient::new(&conn)?
                .post(
                    "/api/v1/missions",
                    &json!({"name": name, "project_id": project}),
                )
                .await?;
            show_q(json, quiet, "id", &v, |v| {
                format!("created mission {}", s(v, "id"))
            })
        }
        DataCommand::Task {
            title,
            project,
            mission,
            status,
            conn,
            json,
            quiet,
        } => {
            let v: Value = GatewayClient::new(&conn)?
                .post("/api/v1/tasks", &json!({"title": title, "project_id": project, "mission_id": mission, "status": status}))
                .await?;
            show_q(json, quiet, "id", &v, |v| {
                format!("created task {} ({})", s(v, "id"), s(v, "title"))
            })
        }
        DataCommand::Note {
            mission,
            content,
            conn,
            json,
            quiet,
        } => {
            let v: Value = GatewayClient::new(&conn)?
                .post(
                    "/api/v1/notes",
                    &json!({"mission_id": mission, "content": content}),
                )
                .await?;
            show_q(json, quiet, "id", &v, |v| {
                format!("created note {}", s(v, "id"))
            })
        }
        DataCommand::Insight {
            content,
            conn,
            json,
            quiet,
        } => {
            let v: Value = GatewayClient::new(&conn)?
                .post("/api/v1/memory/insights", &json!({"content": content}))
                .await?;
            show_q(json, quiet, "id", &v, |v| {
                format!("recorded insight {}", s(v, "id"))
            })
        }
    }
}
