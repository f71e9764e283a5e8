//! One-time invites: created by a user, redeemed exactly once into a node
//! owned by that user.

use super::nodes::{AuthenticatedNode, Registration};
use super::policy::{policy_from_json, policy_json};
use super::{Registry, RegistryError, Result, check_name, new_id, now};
use crate::sandbox::Policy;
use crate::secret;
use chrono::{DateTime, Duration, Utc};
use mosaic_store::entity::{node_invites, nodes};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, DatabaseTransaction, EntityTrait as _,
    QueryFilter as _, Set, TransactionTrait as _,
};

/// Default invite lifetime.
pub const DEFAULT_INVITE_TTL_SECS: u32 = 3600;
/// Shortest and longest invite lifetimes.
pub const INVITE_TTL_RANGE: std::ops::RangeInclusive<u32> = 60..=7 * 24 * 3600;

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

impl Registry<'_> {
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
        let Some(invite) = claim_invite(&txn, &hash, &node_id, at).await? else {
            txn.rollback().await?;
            return Err(RegistryError::InviteRefused);
        };
        let credential = secret::new_credential()?;
        let name = node_name(&invite, reg, &node_id);
        insert_node(&txn, &invite, reg, &node_id, &name, &credential, at).await?;
        txn.commit().await?;
        Ok(AuthenticatedNode {
            id: node_id,
            owner: invite.owner_user_id,
            name,
            policy: policy_from_json(&invite.policy),
            new_credential: Some(credential),
        })
    }
}

/// Marks the invite with `hash` redeemed by `node_id`, if it is still
/// unredeemed and unexpired; the conditional update is what lets exactly one
/// of several concurrent callers win. `None` when this caller lost.
async fn claim_invite(
    txn: &DatabaseTransaction,
    hash: &str,
    node_id: &str,
    at: DateTime<Utc>,
) -> Result<Option<node_invites::Model>> {
    let won = node_invites::Entity::update_many()
        .col_expr(node_invites::Column::RedeemedAt, Expr::value(at))
        .col_expr(
            node_invites::Column::NodeId,
            Expr::value(node_id.to_owned()),
        )
        .filter(node_invites::Column::TokenHash.eq(hash.to_owned()))
        .filter(node_invites::Column::RedeemedAt.is_null())
        .filter(node_invites::Column::ExpiresAt.gt(at))
        .exec(txn)
        .await?;
    if won.rows_affected != 1 {
        return Ok(None);
    }
    let invite = node_invites::Entity::find()
        .filter(node_invites::Column::TokenHash.eq(hash.to_owned()))
        .one(txn)
        .await?
        .ok_or(RegistryError::InviteRefused)?;
    Ok(Some(invite))
}

/// The invite's name, else the one the node reported, else its id.
fn node_name(invite: &node_invites::Model, reg: &Registration, node_id: &str) -> String {
    invite
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .or_else(|| Some(reg.name.clone()).filter(|n| !n.is_empty()))
        .unwrap_or_else(|| node_id.to_owned())
}

/// The node an invite becomes: its owner and policy come from the invite,
/// the rest from what the node reported.
async fn insert_node(
    txn: &DatabaseTransaction,
    invite: &node_invites::Model,
    reg: &Registration,
    node_id: &str,
    name: &str,
    credential: &str,
    at: DateTime<Utc>,
) -> Result<()> {
    nodes::ActiveModel {
        id: Set(node_id.to_owned()),
        owner_user_id: Set(invite.owner_user_id.clone()),
        name: Set(name.to_owned()),
        credential_hash: Set(secret::hash(credential)),
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
    .insert(txn)
    .await?;
    Ok(())
}
