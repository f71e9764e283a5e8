//! Nodes: their credentials, what they report at registration, and how
//! their owner sees them.

use super::policy::{policy_from_json, policy_view};
use super::{Registry, RegistryError, Result, check_name, now};
use crate::sandbox::Policy;
use crate::secret;
use chrono::{DateTime, Duration, Utc};
use mosaic_store::entity::nodes;
use mosaic_types::nodes::{CapabilitiesView, NodeView};
use sea_orm::sea_query::{CaseStatement, Expr};
use sea_orm::{
    ColumnTrait as _, EntityTrait as _, ExprTrait as _, QueryFilter as _, QueryOrder as _,
};

/// Seconds without news after which an `online` node shows as offline.
pub const ONLINE_TTL_SECS: i64 = 45;

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

impl Registry<'_> {
    // ---- the node's side ----------------------------------------------

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
            let fill_default = CaseStatement::new()
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

    pub(super) async fn owned_node(&self, owner: &str, id: &str) -> Result<nodes::Model> {
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
}
