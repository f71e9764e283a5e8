//! Tasks: which node a dispatch goes to, and each task from being sent to
//! its one end.

use super::{Registry, RegistryError, Result, now};
use mosaic_store::entity::node_tasks;
use mosaic_types::nodes::TaskView;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, EntityTrait as _, QueryFilter as _, QueryOrder as _,
    Set, TransactionTrait as _,
};

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

impl Registry<'_> {
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
                "session `{session_id}` is {}: it runs nothing more; create a new one (`mosaic session create`)",
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

    /// Settles `node_id`'s running tasks when it opens a new stream: the ones
    /// it does not name in `known` (the tasks it still runs, and those that
    /// ended with a result it has yet to deliver) end as lost, in one
    /// transaction. A task the node knows is left running: its result is on
    /// its way. Returns the ids of the tasks lost.
    ///
    /// # Errors
    /// Storage failure.
    pub async fn lose_unknown_tasks(&self, node_id: &str, known: &[String]) -> Result<Vec<String>> {
        let txn = self.db.begin().await?;
        let unknown: Vec<String> = node_tasks::Entity::find()
            .filter(node_tasks::Column::NodeId.eq(node_id))
            .filter(node_tasks::Column::Status.eq("running"))
            .filter(node_tasks::Column::Id.is_not_in(known.iter().cloned()))
            .order_by_asc(node_tasks::Column::CreatedAt)
            .order_by_asc(node_tasks::Column::Id)
            .all(&txn)
            .await?
            .into_iter()
            .map(|t| t.id)
            .collect();
        if !unknown.is_empty() {
            node_tasks::Entity::update_many()
                .col_expr(node_tasks::Column::Status, Expr::value("lost"))
                .col_expr(
                    node_tasks::Column::Error,
                    Expr::value(
                        "the node does not know this task: it restarted, or the task never reached it",
                    ),
                )
                .col_expr(node_tasks::Column::FinishedAt, Expr::value(now()))
                .filter(node_tasks::Column::Id.is_in(unknown.iter().cloned()))
                .filter(node_tasks::Column::Status.eq("running"))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(unknown)
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
}
