//! Liveness: a node's task stream opening and closing, heartbeats and any
//! other sign of life. What counts as online is decided when reading (see
//! [`ONLINE_TTL_SECS`](super::ONLINE_TTL_SECS)); this only records.

use super::{Registry, Result, now};
use chrono::{DateTime, Utc};
use mosaic_store::entity::nodes;
use mosaic_types::nodes::HealthView;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _};

impl Registry<'_> {
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
}
