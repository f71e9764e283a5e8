//! Inputs and outputs of native writes, as they travel over the HTTP API.

use serde::{Deserialize, Serialize};

/// A new user. Without an id, a UUID is chosen.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct NewUser {
    /// Chosen id (letters, digits, `-`, `_`, `.`), or none for a UUID.
    #[serde(default)]
    pub id: Option<String>,
    /// Display name.
    pub name: String,
    /// Email, unique per gateway.
    pub email: String,
}

/// A user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Email.
    pub email: String,
}

/// A new team.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct NewTeam {
    /// Chosen id, or none for a UUID.
    #[serde(default)]
    pub id: Option<String>,
    /// Display name.
    pub name: String,
    /// URL-safe short name, unique; derived from the name when absent.
    #[serde(default)]
    pub slug: Option<String>,
    /// The owning user (also made a member).
    pub owner_id: String,
}

/// A team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Slug.
    pub slug: String,
    /// Owner.
    pub owner_id: String,
}

/// A user's membership of a team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// Team.
    pub team_id: String,
    /// User.
    pub user_id: String,
    /// Role, e.g. `member`.
    pub role: String,
}

/// Who owns a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "lowercase")]
pub enum Owner {
    /// A user's personal project.
    User(String),
    /// A team's project.
    Team(String),
}

/// A new project.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct NewProject {
    /// Name.
    pub name: String,
    /// Owner.
    pub owner: Owner,
    /// The user creating it (recorded; grants no access to a team project).
    pub created_by: String,
}

/// A project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Owner.
    pub owner: Owner,
}

/// A new mission.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct NewMission {
    /// Name.
    pub name: String,
    /// Its project.
    pub project_id: String,
}

/// A new task.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct NewTask {
    /// Title.
    pub title: String,
    /// Longer text.
    #[serde(default)]
    pub description: Option<String>,
    /// Status (default `not-started`).
    #[serde(default)]
    pub status: Option<String>,
    /// Priority (default `medium`).
    #[serde(default)]
    pub priority: Option<String>,
    /// Project.
    #[serde(default)]
    pub project_id: Option<String>,
    /// Mission.
    #[serde(default)]
    pub mission_id: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// A task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Status.
    pub status: String,
    /// Project.
    pub project_id: Option<String>,
    /// Mission.
    pub mission_id: Option<String>,
    /// Created (RFC 3339).
    pub created_at: String,
}

/// A user's note on a mission (optionally about one task).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct NewNote {
    /// The mission.
    pub mission_id: String,
    /// The task, if the note is about one.
    #[serde(default)]
    pub task_id: Option<String>,
    /// The text.
    pub content: String,
}

/// Something learned about the user.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct NewInsight {
    /// The text.
    pub content: String,
    /// Category.
    #[serde(default)]
    pub category: Option<String>,
}

/// A user preference.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct NewPreference {
    /// Key, unique per user.
    pub key: String,
    /// Value (any JSON).
    pub value: serde_json::Value,
    /// Category.
    #[serde(default)]
    pub category: Option<String>,
}
