//! Sessions: a user's named groups of attached nodes that tasks run in.

use super::{Registry, RegistryError, Result, check_name, new_id, now};
use mosaic_store::entity::{node_session_nodes, node_sessions};
use mosaic_types::nodes::SessionView;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, EntityTrait as _, QueryFilter as _, QueryOrder as _,
    Set,
};

impl Registry<'_> {
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
            closed_at: m.closed_at,
        })
    }

    pub(super) async fn owned_session(
        &self,
        owner: &str,
        id: &str,
    ) -> Result<node_sessions::Model> {
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

    /// Closes one of `owner`'s sessions: it takes no more nodes and runs no
    /// more tasks. Tasks already running go on to their end and are
    /// recorded as usual. Closing a closed session changes nothing.
    ///
    /// # Errors
    /// [`RegistryError::NotFound`] when it is not theirs.
    pub async fn close_session(&self, owner: &str, id: &str) -> Result<SessionView> {
        let session = self.owned_session(owner, id).await?;
        if session.status == "closed" {
            return self.session_view(session).await;
        }
        node_sessions::Entity::update_many()
            .col_expr(node_sessions::Column::Status, Expr::value("closed"))
            .col_expr(node_sessions::Column::ClosedAt, Expr::value(now()))
            .filter(node_sessions::Column::Id.eq(id))
            .filter(node_sessions::Column::OwnerUserId.eq(owner))
            .filter(node_sessions::Column::Status.ne("closed"))
            .exec(self.db)
            .await?;
        self.session(owner, id).await
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
        // A closed session takes no node, whichever it is.
        if session.status != "active" {
            return Err(RegistryError::Conflict(format!(
                "session `{session_id}` is {}: it takes no more nodes; create a new one (`mosaic session create`)",
                session.status
            )));
        }
        self.owned_node(owner, node_id).await?;
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
}
