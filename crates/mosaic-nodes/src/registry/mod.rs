//! The persistent side of agent nodes (feature `store`): invites, the node
//! registry, sessions and the task log, on any `mosaic-store` database.
//!
//! Ownership lives here: every read and write that a user makes takes the
//! user's id and only ever touches that user's rows, so an API built on this
//! cannot show or use another user's node by forgetting a check.
//!
//! A node is *online* when its status says so **and** the gateway heard from
//! it within [`ONLINE_TTL_SECS`]; a gateway that died without marking its
//! nodes offline therefore cannot leave them looking alive.
//!
//! One job per module, all on the one [`Registry`]:
//! - `invites`: one-time invites, redeemed exactly once into a node;
//! - `nodes`: credentials, what a node reports at registration, and the
//!   owner's view of their nodes;
//! - `liveness`: streams opening and closing, heartbeats;
//! - `sessions`: sessions and the nodes attached to them;
//! - `tasks`: where a dispatch goes, and each task from start to end;
//! - `output`: the output a task streams back;
//! - `policy`: sandbox policies as stored and as the API shows them.

mod invites;
mod liveness;
mod nodes;
mod output;
mod policy;
mod sessions;
mod tasks;

pub use invites::{DEFAULT_INVITE_TTL_SECS, INVITE_TTL_RANGE, NewInvite};
pub use nodes::{AuthenticatedNode, ONLINE_TTL_SECS, Registration};
pub use policy::{policy_from_view, policy_view};
pub use tasks::{NewTask, TaskEnd};

use crate::secret;
use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DbErr};

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The invite token is unknown, used or expired (deliberately one case:
    /// the caller learns nothing about which).
    #[error(
        "the invite token is unknown, already used or expired: create a new one with `mosaic node invite`"
    )]
    InviteRefused,
    /// The node credential is unknown (never issued, or the node was removed).
    #[error("the node credential was refused: the node may have been removed; re-invite it")]
    CredentialRefused,
    /// No such row for this user.
    #[error("{kind} `{id}` not found")]
    NotFound {
        /// `node`, `session` or `task`.
        kind: &'static str,
        /// The id asked for.
        id: String,
    },
    /// The request conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// The request is malformed.
    #[error("{0}")]
    Invalid(String),
    /// Random source failure.
    #[error(transparent)]
    Random(#[from] secret::RandomError),
    /// Storage failed.
    // Said once, in the message: not a `source`, so a printed chain
    // does not repeat the driver's words.
    #[error("node registry storage failed: {}", mosaic_store::describe_db_err(.0))]
    Db(DbErr),
}

impl From<DbErr> for RegistryError {
    fn from(err: DbErr) -> Self {
        Self::Db(err)
    }
}

/// Result alias.
pub type Result<T> = std::result::Result<T, RegistryError>;

/// The registry over a connection.
#[derive(Debug, Clone, Copy)]
pub struct Registry<'a> {
    db: &'a DatabaseConnection,
}

impl<'a> Registry<'a> {
    /// The registry on `db` (migrated by `mosaic-store`).
    pub fn new(db: &'a DatabaseConnection) -> Self {
        Self { db }
    }
}

fn now() -> DateTime<Utc> {
    mosaic_store::now()
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// Names: 1–100 printable characters.
fn check_name(name: &str) -> Result<()> {
    if name.trim().is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(RegistryError::Invalid(
            "name must be 1–100 printable characters".to_owned(),
        ));
    }
    Ok(())
}
