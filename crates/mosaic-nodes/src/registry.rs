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

use crate::sandbox::{Policy, PolicyMode};
use crate::secret;
use chrono::{DateTime, Duration, Utc};
use mosaic_store::entity::{
    node_invites, node_session_nodes, node_sessions, node_task_output, node_tasks, nodes,
};
use mosaic_types::nodes::{
    CapabilitiesView, HealthView, NodeView, PolicyView, SessionView, TaskView,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, DatabaseConnection, DbErr, EntityTrait as _,
    ExprTrait as _, QueryFilter as _, QueryOrder as _, Set, TransactionTrait as _,
};

/// Seconds without news after which an `online` node shows as offline.
pub const ONLINE_TTL_SECS: i64 = 45;
/// Default invite lifetime.
pub const DEFAULT_INVITE_TTL_SECS: u32 = 3600;
/// Shortest and longest invite lifetimes.
pub const INVITE_TTL_RANGE: std::ops::RangeInclusive<u32> = 60..=7 * 24 * 3600;

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
    #[error("node registry storage failed: {0}")]
    Db(#[from] DbErr),
}

/// Result alias.
pub type Result<T> = std::result::Result<T, RegistryError>;

/// An invite just created: the token exists only here.
#[derive(Debug, Clone)]
pub struct NewInvite {
    /// Invite id.
    pub id: String,
    /// The one-time token.
    pub token: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// A node that authenticated.
#[derive(Debug, Clone)]
pub struct AuthenticatedNode {
    /// Node id.
    pub id: String,
    /// Owner.
    pub owner: String,
    /// Name.
    pub name: String,
    /// Its sandbox policy.
    pub policy: Policy,
    /// Set when an invite was just redeemed: the credential to hand over.
    pub new_credential: Option<String>,
}

/// What a node reports about itself at registration.
#[derive(Debug, Clone, Default)]
pub struct Registration {
    /// Display name (empty: keep the current one, or the host name).
    pub name: String,
    /// agent-node version.
    pub version: String,
    /// Its capabilities.
    pub capabilities: CapabilitiesView,
}

/// A task to record before it is sent.
#[derive(Debug, Clone)]
pub struct NewTask {
    /// Task id.
    pub id: String,
    /// Session.
    pub session_id: String,
    /// Target node.
    pub node_id: String,
    /// Owner.
    pub owner: String,
    /// Shell command.
    pub command: String,
    /// Working directory.
    pub cwd: Option<String>,
    /// Time limit.
    pub timeout_secs: Option<u32>,
}

/// How a task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskEnd {
    /// `completed`, `refused`, `cancelled`, `timed_out`, `failed` or `lost`.
    pub status: String,
    /// Exit code.
    pub exit_code: Option<i32>,
    /// Why, when it did not complete.
    pub error: Option<String>,
    /// Run time on the node.
    pub duration_ms: Option<i64>,
}

/// The registry over a connection.
#[derive(Debug, Clone, Copy)]
pub struct Registry<'a> {
    db: &'a DatabaseConnection,
}

fn now() -> DateTime<Utc> {
    mosaic_store::now()
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

fn policy_json(p: &Policy) -> serde_json::Value {
    serde_json::to_value(p).unwrap_or(serde_json::Value::Null)
}

fn policy_from_json(v: &serde_json::Value) -> Policy {
    // A stored policy that does not parse runs nothing rather than anything.
    serde_json::from_value(v.clone()).unwrap_or(Policy {
        mode: PolicyMode::Strict,
        allowed: Vec::new(),
        denied: Vec::new(),
    })
}

/// The API's view of a policy.
pub fn policy_view(p: &Policy) -> PolicyView {
    PolicyView {
        mode: match p.mode {
            PolicyMode::Strict => "strict",
            PolicyMode::Permissive => "permissive",
        }
        .to_owned(),
        allowed: p.allowed.clone(),
        denied: p.denied.clone(),
    }
}

/// A policy from the API's view, checked.
///
/// # Errors
/// [`RegistryError::Invalid`] naming what to fix.
pub fn policy_from_view(v: &PolicyView) -> Result<Policy> {
    Policy::parse(&v.mode, v.allowed.clone(), v.denied.clone())
        .map_err(|e| RegistryError::Invalid(e.to_string()))
}

fn node_view(m: nodes::Model, at: DateTime<Utc>) -> NodeView {
    let online = m.status == "online"
        && m.last_seen_at
            .is_some_and(|t| at - t <= Duration::seconds(ONLINE_TTL_SECS));
    NodeView {
        policy: policy_view(&policy_from_json(&m.policy)),
        capabilities: serde_json::from_value(m.capabilities).unwrap_or_default(),
        health: m.health.and_then(|h| serde_json::from_value(h).ok()),
        id: m.id,
        name: m.name,
        owner: m.owner_user_id,
        status: if online { "online" } else { "offline" }.to_owned(),
        version: m.version,
        last_seen_at: m.last_seen_at,
        connected_at: m.connected_at,
        created_at: m.created_at,
    }
}

fn task_view(m: node_tasks::Model) -> TaskView {
    TaskView {
        id: m.id,
        session_id: m.session_id,
        node_id: m.node_id,
        command: m.command,
        cwd: m.cwd,
        status: m.status,
        exit_code: m.exit_code,
        error: m.error,
        duration_ms: m.duration_ms,
        created_at: m.created_at,
        finished_at: m.finished_at,
    }
}

impl<'a> Registry<'a> {
    /// The registry on `db` (migrated by `mosaic-store`).
    pub fn new(db: &'a DatabaseConnection) -> Self {
        Self { db }
    }

    // ---- invites -------------------------------------------------------

    /// Creates a one-time invite for `owner`.
    ///
    /// # Errors
    /// A lifetime outside [`INVITE_TTL_RANGE`], or storage failure.
    pub async fn create_invite(
        &self,
        owner: &str,
        name: Option<String>,
        policy: &Policy,
        ttl_secs: Option<u32>,
    ) -> Result<NewInvite> {
        let ttl = ttl_secs.unwrap_or(DEFAULT_INVITE_TTL_SECS);
        if !INVITE_TTL_RANGE.contains(&ttl) {
            return Err(RegistryError::Invalid(format!(
                "ttl_seconds must be between {} and {} (got {ttl})",
                INVITE_TTL_RANGE.start(),
                INVITE_TTL_RANGE.end()
            )));
        }
        if let Some(n) = &name {
            check_name(n)?;
        }
        let token = secret::new_invite_token()?;
        let created = now();
        let expires_at = created + Duration::seconds(i64::from(ttl));
        let id = new_id("inv");
        node_invites::ActiveModel {
            id: Set(id.clone()),
            token_hash: Set(secret::hash(&token)),
            owner_user_id: Set(owner.to_owned()),
            name: Set(name),
            policy: Set(policy_json(policy)),
            created_at: Set(created),
            expires_at: Set(expires_at),
            redeemed_at: Set(None),
            node_id: Set(None),
        }
        .insert(self.db)
        .await?;
        Ok(NewInvite {
            id,
            token,
            expires_at,
        })
    }

    /// Redeems an invite: exactly one caller wins a given token, which
    /// becomes a new node owned by the inviting user with a fresh credential.
    ///
    /// # Errors
    /// [`RegistryError::InviteRefused`] for unknown, used or expired tokens.
    pub async fn redeem_invite(
        &self,
        token: &str,
        reg: &Registration,
    ) -> Result<AuthenticatedNode> {
        if !secret::well_formed(token, secret::INVITE_PREFIX) {
            return Err(RegistryError::InviteRefused);
        }
        let hash = secret::hash(token);
        let at = now();
        let txn = self.db.begin().await?;
        let node_id = new_id("node");
        let won = node_invites::Entity::update_many()
            .col_expr(node_invites::Column::RedeemedAt, Expr::value(at))
            .col_expr(node_invites::Column::NodeId, Expr::value(node_id.clone()))
            .filter(node_invites::Column::TokenHash.eq(hash.clone()))
            .filter(node_invites::Column::RedeemedAt.is_null())
            .filter(node_invites::Column::ExpiresAt.gt(at))
            .exec(&txn)
            .await?;
        if won.rows_affected != 1 {
            txn.rollback().await?;
            return Err(RegistryError::InviteRefused);
        }
        let invite = node_invites::Entity::find()
            .filter(node_invites::Column::TokenHash.eq(hash))
            .one(&txn)
            .await?
            .ok_or(RegistryError::InviteRefused)?;
        let credential = secret::new_credential()?;
        let name = invite
            .name
            .clone()
            .filter(|n| !n.is_empty())
            .or_else(|| Some(reg.name.clone()).filter(|n| !n.is_empty()))
            .unwrap_or_else(|| node_id.clone());
        nodes::ActiveModel {
            id: Set(node_id.clone()),
            owner_user_id: Set(invite.owner_user_id.clone()),
            name: Set(name.clone()),
            credential_hash: Set(secret::hash(&credential)),
            policy: Set(invite.policy.clone()),
            capabilities: Set(serde_json::to_value(&reg.capabilities).unwrap_or_default()),
            version: Set(reg.version.clone()),
            status: Set("offline".to_owned()),
            gateway_instance: Set(None),
            health: Set(None),
            last_seen_at: Set(Some(at)),
            connected_at: Set(None),
            created_at: Set(at),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(AuthenticatedNode {
            id: node_id,
            owner: invite.owner_user_id,
            name,
            policy: policy_from_json(&invite.policy),
            new_credential: Some(credential),
        })
    }

    /// The node a credential belongs to.
    ///
    /// # Errors
    /// [`RegistryError::CredentialRefused`] when it belongs to none.
    pub async fn authenticate(&self, credential: &str) -> Result<AuthenticatedNode> {
        if !secret::well_formed(credential, secret::CREDENTIAL_PREFIX) {
            return Err(RegistryError::CredentialRefused);
        }
        let m = nodes::Entity::find()
            .filter(nodes::Column::CredentialHash.eq(secret::hash(credential)))
            .one(self.db)
            .await?
            .ok_or(RegistryError::CredentialRefused)?;
        Ok(AuthenticatedNode {
            policy: policy_from_json(&m.policy),
            id: m.id,
            owner: m.owner_user_id,
            name: m.name,
            new_credential: None,
        })
    }

    /// Records what a node reported at (re-)registration.
    ///
    /// # Errors
    /// Storage failure.
    pub async fn update_registration(&self, node_id: &str, reg: &Registration) -> Result<()> {
        let mut update = nodes::Entity::update_many()
            .col_expr(nodes::Column::Version, Expr::value(reg.version.clone()))
            .col_expr(
                nodes::Column::Capabilities,
                Expr::value(serde_json::to_value(&reg.capabilities).unwrap_or_default()),
            )
            .col_expr(nodes::Column::LastSeenAt, Expr::value(now()));
        if !reg.name.is_empty() && check_name(&reg.name).is_ok() {
            // The invite's name wins; a reported name only fills the default.
            let fill_default = sea_orm::sea_query::CaseStatement::new()
                .case(
                    Expr::col(nodes::Column::Name).equals(nodes::Column::Id),
                    Expr::value(reg.name.clone()),
                )
                .finally(Expr::col(nodes::Column::Name));
            update = update.col_expr(nodes::Column::Name, fill_default.into());
        }
        update
            .filter(nodes::Column::Id.eq(node_id))
            .exec(self.db)
            .await?;
        Ok(())
    }

    // ---- liveness ------------------------------------------------------

    /// The node's stream opened on gateway `instance`.
    ///
    /// # Errors
    /// Storage failure.
    pub async fn mark_online(&self, node_id: &str, instance: &str) -> Result<()> {
        let at = now();
        nodes::Entity::update_many()
            .col_expr(nodes::Column::Status, Expr::value("online"))
            .col_expr(
                nodes::Column::GatewayInstance,
                Expr::value(instance.to_owned()),
            )
            .col_expr(nodes::Column::LastSeenAt, Expr::value(at))
            .col_expr(nodes::Column::ConnectedAt, Expr::value(at))
            .filter(nodes::Column::Id.eq(node_id))
            .exec(self.db)
            .await?;
        Ok(())
    }

    /// The node's stream closed. Only the stream that marked it online can
    /// mark it offline: `connected_at` must match, so a stale stream closing
    /// late does not hide a newer one.
    ///
    /// # Errors
    /// Storage failure.
    pub async fn mark_offline(
        &self,
        node_id: &str,
        connected_at: Option<DateTime<Utc>>,
    ) -> Result<()> {
        let mut q = nodes::Entity::update_many()
            .col_expr(nodes::Column::Status, Expr::value("offline"))
            .filter(nodes::Column::Id.eq(node_id));
        if let Some(at) = connected_at {
            q = q.filter(nodes::Column::ConnectedAt.eq(at));
        }
        q.exec(self.db).await?;
        Ok(())
    }

    /// When the node's current stream opened.
    ///
    /// # Errors
    /// Storage failure.
    pub async fn connected_at(&self, node_id: &str) -> Result<Option<DateTime<Utc>>> {
        Ok(nodes::Entity::find_by_id(node_id.to_owned())
            .one(self.db)
            .await?
            .and_then(|m| m.connected_at))
    }

    /// A heartbeat arrived.
    ///
    /// # Errors
    /// Storage failure.
    pub async fn record_health(&self, node_id: &str, health: &HealthView) -> Result<()> {
        nodes::Entity::update_many()
            .col_expr(
                nodes::Column::Health,
                Expr::value(serde_json::to_value(health).unwrap_or_default()),
            )
            .col_expr(nodes::Column::LastSeenAt, Expr::value(health.reported_at))
            .filter(nodes::Column::Id.eq(node_id))
            .exec(self.db)
            .await?;
        Ok(())
    }

    /// Any sign of life (a message on the task stream).
    ///
    /// # Errors
    /// Storage failure.
    pub async fn touch(&self, node_id: &str) -> Result<()> {
        nodes::Entity::update_many()
            .col_expr(nodes::Column::LastSeenAt, Expr::value(now()))
            .filter(nodes::Column::Id.eq(node_id))
            .exec(self.db)
            .await?;
        Ok(())
    }

    // ---- nodes, as their owner sees them ------------------------------

    /// `owner`'s nodes, oldest first.
    ///
    /// # Errors
    /// Storage failure.
    pub async fn list_nodes(&self, owner: &str) -> Result<Vec<NodeView>> {
        let at = now();
        Ok(nodes::Entity::find()
            .filter(nodes::Column::OwnerUserId.eq(owner))
            .order_by_asc(nodes::Column::CreatedAt)
            .order_by_asc(nodes::Column::Id)
            .all(self.db)
            .await?
            .into_iter()
            .map(|m| node_view(m, at))
            .collect())
    }

    /// One of `owner`'s nodes.
    ///
    /// # Errors
    /// [`RegistryError::NotFound`] when it is not theirs or does not exist.
    pub async fn node(&self, owner: &str, id: &str) -> Result<NodeView> {
        let m = self.owned_node(owner, id).await?;
        Ok(node_view(m, now()))
    }

    async fn owned_node(&self, owner: &str, id: &str) -> Result<nodes::Model> {
        nodes::Entity::find_by_id(id.to_owned())
            .filter(nodes::Column::OwnerUserId.eq(owner))
            .one(self.db)
            .await?
            .ok_or_else(|| RegistryError::NotFound {
                kind: "node",
                id: id.to_owned(),
            })
    }

    /// Removes one of `owner`'s nodes; its credential stops working.
    ///
    /// # Errors
    /// [`RegistryError::NotFound`] when it is not theirs.
    pub async fn remove_node(&self, owner: &str, id: &str) -> Result<()> {
        let done = nodes::Entity::delete_many()
            .filter(nodes::Column::Id.eq(id))
            .filter(nodes::Column::OwnerUserId.eq(owner))
            .exec(self.db)
            .await?;
        if done.rows_affected == 0 {
            return Err(RegistryError::NotFound {
                kind: "node",
                id: id.to_owned(),
            });
        }
        Ok(())
    }

    // ---- sessions ------------------------------------------------------

    /// A new session for `owner`.
    ///
    /// # Errors
    /// A bad name, or storage failure.
    pub async fn create_session(&self, owner: &str, name: Option<String>) -> Result<SessionView> {
        let id = new_id("ses");
        let name = match name {
            Some(n) => {
                check_name(&n)?;
                n
            }
            None => format!("session-{}", &id[4..12]),
        };
        let m = node_sessions::ActiveModel {
            id: Set(id),
            owner_user_id: Set(owner.to_owned()),
            name: Set(name),
            status: Set("active".to_owned()),
            created_at: Set(now()),
            closed_at: Set(None),
        }
        .insert(self.db)
        .await?;
        self.session_view(m).await
    }

    async fn session_view(&self, m: node_sessions::Model) -> Result<SessionView> {
        let nodes = node_session_nodes::Entity::find()
            .filter(node_session_nodes::Column::SessionId.eq(m.id.clone()))
            .order_by_asc(node_session_nodes::Column::AttachedAt)
            .order_by_asc(node_session_nodes::Column::NodeId)
            .all(self.db)
            .await?
            .into_iter()
            .map(|r| r.node_id)
            .collect();
        Ok(SessionView {
            id: m.id,
            name: m.name,
            owner: m.owner_user_id,
            status: m.status,
            nodes,
            created_at: m.created_at,
        })
    }

    async fn owned_session(&self, owner: &str, id: &str) -> Result<node_sessions::Model> {
        node_sessions::Entity::find_by_id(id.to_owned())
            .filter(node_sessions::Column::OwnerUserId.eq(owner))
            .one(self.db)
            .await?
            .ok_or_else(|| RegistryError::NotFound {
                kind: "session",
                id: id.to_owned(),
            })
    }

    /// `owner`'s sessions, newest first.
    ///
    /// # Errors
    /// Storage failure.
    pub async fn list_sessions(&self, owner: &str) -> Result<Vec<SessionView>> {
        let rows = node_sessions::Entity::find()
            .filter(node_sessions::Column::OwnerUserId.eq(owner))
            .order_by_desc(node_sessions::Column::CreatedAt)
            .order_by_desc(node_sessions::Column::Id)
            .all(self.db)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for m in rows {
            out.push(self.session_view(m).await?);
        }
        Ok(out)
    }

    /// One of `owner`'s sessions.
    ///
    /// # Errors
    /// [`RegistryError::NotFound`] when it is not theirs.
    pub async fn session(&self, owner: &str, id: &str) -> Result<SessionView> {
        let m = self.owned_session(owner, id).await?;
        self.session_view(m).await
    }

    /// Attaches one of `owner`'s nodes to one of their sessions (attaching
    /// twice is a no-op).
    ///
    /// # Errors
    /// [`RegistryError::NotFound`] when either is not theirs.
    pub async fn attach(
        &self,
        owner: &str,
        session_id: &str,
        node_id: &str,
    ) -> Result<SessionView> {
        let session = self.owned_session(owner, session_id).await?;
        self.owned_node(owner, node_id).await?;
        if session.status != "active" {
            return Err(RegistryError::Conflict(format!(
                "session `{session_id}` is {}; create a new session",
                session.status
            )));
        }
        let exists =
            node_session_nodes::Entity::find_by_id((session_id.to_owned(), node_id.to_owned()))
                .one(self.db)
                .await?
                .is_some();
        if !exists {
            node_session_nodes::ActiveModel {
                session_id: Set(session_id.to_owned()),
                node_id: Set(node_id.to_owned()),
                attached_at: Set(now()),
            }
            .insert(self.db)
            .await?;
        }
        self.session_view(session).await
    }

    // ---- tasks ---------------------------------------------------------

    /// Picks the node a dispatch goes to: the one named (which must be
    /// attached) or the session's only node.
    ///
    /// # Errors
    /// [`RegistryError::NotFound`] for a session that is not the owner's,
    /// [`RegistryError::Conflict`] when no node or several are attached, or
    /// the named one is not attached.
    pub async fn dispatch_target(
        &self,
        owner: &str,
        session_id: &str,
        node_id: Option<&str>,
    ) -> Result<String> {
        let session = self.session(owner, session_id).await?;
        if session.status != "active" {
            return Err(RegistryError::Conflict(format!(
                "session `{session_id}` is {}",
                session.status
            )));
        }
        match node_id {
            Some(n) if session.nodes.iter().any(|a| a == n) => Ok(n.to_owned()),
            Some(n) => {
                // Say "not found" for nodes that are not the caller's.
                self.owned_node(owner, n).await?;
                Err(RegistryError::Conflict(format!(
                    "node `{n}` is not attached to session `{session_id}`: attach it first (`mosaic session attach {session_id} {n}`)"
                )))
            }
            None => match session.nodes.as_slice() {
                [only] => Ok(only.clone()),
                [] => Err(RegistryError::Conflict(format!(
                    "session `{session_id}` has no node attached: attach one with `mosaic session attach {session_id} <node>`"
                ))),
                _ => Err(RegistryError::Conflict(format!(
                    "session `{session_id}` has {} nodes attached: name one with node_id (--node)",
                    session.nodes.len()
                ))),
            },
        }
    }

    /// Records a task about to be sent.
    ///
    /// # Errors
    /// Storage failure.
    pub async fn create_task(&self, t: &NewTask) -> Result<TaskView> {
        let m = node_tasks::ActiveModel {
            id: Set(t.id.clone()),
            session_id: Set(t.session_id.clone()),
            node_id: Set(t.node_id.clone()),
            owner_user_id: Set(t.owner.clone()),
            command: Set(t.command.clone()),
            cwd: Set(t.cwd.clone()),
            timeout_secs: Set(t.timeout_secs.map(|s| i32::try_from(s).unwrap_or(i32::MAX))),
            status: Set("running".to_owned()),
            exit_code: Set(None),
            error: Set(None),
            duration_ms: Set(None),
            created_at: Set(now()),
            finished_at: Set(None),
        }
        .insert(self.db)
        .await?;
        Ok(task_view(m))
    }

    /// Appends a chunk of output; returns its sequence number.
    ///
    /// # Errors
    /// Storage failure.
    pub async fn append_output(
        &self,
        task_id: &str,
        seq: i32,
        stream: &str,
        data: &str,
    ) -> Result<()> {
        node_task_output::ActiveModel {
            task_id: Set(task_id.to_owned()),
            seq: Set(seq),
            stream: Set(stream.to_owned()),
            data: Set(data.to_owned()),
        }
        .insert(self.db)
        .await?;
        Ok(())
    }

    /// Ends a running task. A task that already ended keeps its first end.
    ///
    /// # Errors
    /// Storage failure.
    pub async fn finish_task(&self, task_id: &str, end: &TaskEnd) -> Result<Option<TaskView>> {
        let done = node_tasks::Entity::update_many()
            .col_expr(node_tasks::Column::Status, Expr::value(end.status.clone()))
            .col_expr(node_tasks::Column::ExitCode, Expr::value(end.exit_code))
            .col_expr(node_tasks::Column::Error, Expr::value(end.error.clone()))
            .col_expr(node_tasks::Column::DurationMs, Expr::value(end.duration_ms))
            .col_expr(node_tasks::Column::FinishedAt, Expr::value(now()))
            .filter(node_tasks::Column::Id.eq(task_id))
            .filter(node_tasks::Column::Status.eq("running"))
            .exec(self.db)
            .await?;
        if done.rows_affected == 0 {
            return Ok(None);
        }
        Ok(node_tasks::Entity::find_by_id(task_id.to_owned())
            .one(self.db)
            .await?
            .map(task_view))
    }

    /// Marks `node_id`'s running tasks that are not in `still_running` as
    /// lost (the node restarted and no longer has them).
    ///
    /// # Errors
    /// Storage failure.
    pub async fn lose_tasks_except(
        &self,
        node_id: &str,
        still_running: &[String],
    ) -> Result<Vec<String>> {
        let running = node_tasks::Entity::find()
            .filter(node_tasks::Column::NodeId.eq(node_id))
            .filter(node_tasks::Column::Status.eq("running"))
            .all(self.db)
            .await?;
        let mut lost = Vec::new();
        for t in running {
            if !still_running.contains(&t.id) {
                self.finish_task(
                    &t.id,
                    &TaskEnd {
                        status: "lost".to_owned(),
                        exit_code: None,
                        error: Some("the node restarted and no longer runs this task".to_owned()),
                        duration_ms: None,
                    },
                )
                .await?;
                lost.push(t.id);
            }
        }
        Ok(lost)
    }

    /// One of `owner`'s tasks in one of their sessions.
    ///
    /// # Errors
    /// [`RegistryError::NotFound`] when it is not theirs.
    pub async fn task(&self, owner: &str, session_id: &str, task_id: &str) -> Result<TaskView> {
        node_tasks::Entity::find_by_id(task_id.to_owned())
            .filter(node_tasks::Column::SessionId.eq(session_id))
            .filter(node_tasks::Column::OwnerUserId.eq(owner))
            .one(self.db)
            .await?
            .map(task_view)
            .ok_or_else(|| RegistryError::NotFound {
                kind: "task",
                id: task_id.to_owned(),
            })
    }

    /// A task by id alone (for the node service, which has no user).
    ///
    /// # Errors
    /// Storage failure.
    pub async fn task_by_id(&self, task_id: &str) -> Result<Option<TaskView>> {
        Ok(node_tasks::Entity::find_by_id(task_id.to_owned())
            .one(self.db)
            .await?
            .map(task_view))
    }

    /// The session's tasks, newest first.
    ///
    /// # Errors
    /// [`RegistryError::NotFound`] when the session is not `owner`'s.
    pub async fn list_tasks(&self, owner: &str, session_id: &str) -> Result<Vec<TaskView>> {
        self.owned_session(owner, session_id).await?;
        Ok(node_tasks::Entity::find()
            .filter(node_tasks::Column::SessionId.eq(session_id))
            .order_by_desc(node_tasks::Column::CreatedAt)
            .order_by_desc(node_tasks::Column::Id)
            .all(self.db)
            .await?
            .into_iter()
            .map(task_view)
            .collect())
    }

    /// Output chunks after `after_seq`, in order.
    ///
    /// # Errors
    /// Storage failure.
    pub async fn output_after(
        &self,
        task_id: &str,
        after_seq: i32,
    ) -> Result<Vec<(i32, String, String)>> {
        Ok(node_task_output::Entity::find()
            .filter(node_task_output::Column::TaskId.eq(task_id))
            .filter(node_task_output::Column::Seq.gt(after_seq))
            .order_by_asc(node_task_output::Column::Seq)
            .all(self.db)
            .await?
            .into_iter()
            .map(|r| (r.seq, r.stream, r.data))
            .collect())
    }
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
