//! The operations. Each validates its input before it begins a transaction,
//! then makes every write it needs, audit row included, in that one
//! transaction: it happens whole or not at all.

use crate::error::GrantsError;
use crate::model::{CreatedGrant, Grant, NewGrant, Peer, PeerDirection};
use crate::validate;
use chrono::{DateTime, Utc};
use mosaic_identity::enrollment::{Enrollment, IssuedToken};
use mosaic_store::entity::{
    audit_log, federation_enrollment_tokens, federation_grants, federation_peers, users,
};
use mosaic_store::sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, Set, TransactionTrait,
};
use mosaic_store::truncate_to_millis;
use mosaic_types::{GrantId, GrantStatus, GrantUsability, PeerId, PeerState, UserId};
use serde_json::{Value, json};

mod outbound;

/// A fresh id for a peer: [`Grants::record_outbound_enrollment`] takes it from
/// the caller, who seals the peer's client key under a purpose naming it.
#[allow(clippy::expect_used)]
pub fn new_peer_id() -> PeerId {
    // Infallible: a UUID's 36 ASCII characters are never empty, too long or
    // control characters.
    PeerId::new(new_id()).expect("a UUID is a valid id")
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Grant and peer lifecycle over one connection.
#[derive(Debug, Clone)]
pub struct Grants<'a> {
    db: &'a DatabaseConnection,
    actor: String,
}

impl<'a> Grants<'a> {
    /// Operations on `db`, audited as done by `admin`.
    pub fn new(db: &'a DatabaseConnection) -> Self {
        Self {
            db,
            actor: "admin".to_owned(),
        }
    }

    /// The same operations, audited as done by `actor`.
    pub fn acting_as(mut self, actor: impl Into<String>) -> Self {
        self.actor = actor.into();
        self
    }

    fn audit(
        &self,
        action: &str,
        target: (&str, &str),
        peer_id: Option<&PeerId>,
        details: Value,
        now: DateTime<Utc>,
    ) -> audit_log::ActiveModel {
        audit_log::ActiveModel {
            id: Set(new_id()),
            occurred_at: Set(now),
            actor: Set(self.actor.clone()),
            action: Set(action.to_owned()),
            target_type: Set(Some(target.0.to_owned())),
            target_id: Set(Some(target.1.to_owned())),
            peer_id: Set(peer_id.map(|p| p.as_str().to_owned())),
            details: Set(Some(details)),
        }
    }

    /// Makes a grant for a peer (made, pending, when `new.peer` names no peer
    /// yet) and a one-time enrollment token for it.
    ///
    /// Every input is checked first: the scope parses, the peer name is valid,
    /// the lifetimes are in range, the user exists. Then the peer, the grant,
    /// the token and the audit row are written in one transaction.
    pub async fn create_grant(
        &self,
        new: NewGrant,
        now: DateTime<Utc>,
    ) -> Result<CreatedGrant, GrantsError> {
        let now = truncate_to_millis(now);
        validate::scope(&new.scope)?;
        validate::peer_name("peer", &new.peer)?;
        let user_id = user_id(&new.user_id)?;
        let lifetime = validate::grant_lifetime(new.expires_in_days)?;
        let ttl = validate::token_ttl(new.token_ttl_hours)?;

        let txn = self.db.begin().await?;
        require_user(&txn, &user_id).await?;
        let (peer, peer_created) = match find_grantee(&txn, &new.peer).await? {
            Some(row) => (Peer::try_from(row)?, false),
            None => (
                Peer::try_from(insert_inbound_peer(&txn, &new.peer, &new.peer, now).await?)?,
                true,
            ),
        };
        if peer.direction == PeerDirection::Outbound {
            return Err(GrantsError::Conflict(format!(
                "peer `{}` is one we read from; grants are made to inbound peers",
                peer.common_name
            )));
        }
        if peer.state == PeerState::Revoked {
            return Err(GrantsError::Conflict(format!(
                "peer `{}` is revoked; it can hold no new grant",
                peer.common_name
            )));
        }
        let grant = federation_grants::ActiveModel {
            id: Set(new_id()),
            peer_id: Set(peer.id.as_str().to_owned()),
            subject_user_id: Set(user_id.as_str().to_owned()),
            status: Set(GrantStatus::Active.as_str().to_owned()),
            scope: Set(new.scope),
            expires_at: Set(lifetime.map(|d| now + d)),
            revoked_at: Set(None),
            revoked_reason: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await?;
        let grant = Grant::try_from(grant)?;
        let token = Enrollment::new(&txn)
            .issue_token(&grant.id, ttl, now)
            .await?;
        self.audit(
            "federation.grant.create",
            ("grant", grant.id.as_str()),
            Some(&peer.id),
            json!({
                "subject_user_id": grant.subject_user_id.as_str(),
                "peer_created": peer_created,
                "token_id": token.id.as_str(),
                "token_expires_at": token.expires_at.to_rfc3339(),
            }),
            now,
        )
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(CreatedGrant {
            grant,
            peer,
            peer_created,
            token,
        })
    }

    /// Revokes a grant for good; `reason` must say why.
    pub async fn revoke_grant(
        &self,
        id: &GrantId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Grant, GrantsError> {
        let now = truncate_to_millis(now);
        let reason = validate::reason(reason)?;
        let txn = self.db.begin().await?;
        let row = find_grant(&txn, id).await?;
        let grant = Grant::try_from(row.clone())?;
        if grant.status == GrantStatus::Revoked {
            return Err(GrantsError::Conflict(format!(
                "grant `{id}` is already revoked"
            )));
        }
        let mut row = row.into_active_model();
        row.status = Set(GrantStatus::Revoked.as_str().to_owned());
        row.revoked_at = Set(Some(now));
        row.revoked_reason = Set(Some(reason.clone()));
        row.updated_at = Set(now);
        let grant = Grant::try_from(row.update(&txn).await?)?;
        self.audit(
            "federation.grant.revoke",
            ("grant", id.as_str()),
            Some(&grant.peer_id),
            json!({ "reason": reason }),
            now,
        )
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(grant)
    }

    /// A new one-time enrollment token for a usable grant, living
    /// `ttl_hours` (1–[`crate::MAX_TOKEN_TTL_HOURS`], default when `None`).
    /// A revoked or expired grant is a [`GrantsError::Conflict`].
    pub async fn issue_enrollment_token(
        &self,
        grant_id: &GrantId,
        ttl_hours: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<IssuedToken, GrantsError> {
        let now = truncate_to_millis(now);
        let ttl = validate::token_ttl(ttl_hours)?;
        let txn = self.db.begin().await?;
        let grant = Grant::try_from(find_grant(&txn, grant_id).await?)?;
        match grant.status.usability(grant.expires_at, now) {
            GrantUsability::Usable => {}
            GrantUsability::NotActive(status) => {
                return Err(GrantsError::Conflict(format!(
                    "grant `{grant_id}` is {status}; only active grants enroll"
                )));
            }
            GrantUsability::Expired => {
                return Err(GrantsError::Conflict(format!(
                    "grant `{grant_id}` has expired; only unexpired grants enroll"
                )));
            }
        }
        let token = Enrollment::new(&txn)
            .issue_token(grant_id, ttl, now)
            .await?;
        self.audit(
            "federation.grant.token",
            ("grant", grant_id.as_str()),
            Some(&grant.peer_id),
            json!({
                "token_id": token.id.as_str(),
                "token_expires_at": token.expires_at.to_rfc3339(),
            }),
            now,
        )
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(token)
    }

    /// Every grant, newest first.
    pub async fn list_grants(&self) -> Result<Vec<Grant>, GrantsError> {
        federation_grants::Entity::find()
            .order_by_desc(federation_grants::Column::CreatedAt)
            .order_by_desc(federation_grants::Column::Id)
            .all(self.db)
            .await?
            .into_iter()
            .map(Grant::try_from)
            .collect()
    }

    /// One grant.
    pub async fn grant(&self, id: &GrantId) -> Result<Grant, GrantsError> {
        Grant::try_from(find_grant(self.db, id).await?)
    }

    /// Adds an inbound peer, pending until it enrolls. Its name must be new
    /// among inbound peers (grants find inbound peers by name).
    pub async fn add_inbound_peer(
        &self,
        name: &str,
        display_name: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Peer, GrantsError> {
        let now = truncate_to_millis(now);
        validate::peer_name("common_name", name)?;
        let display = display_name
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .unwrap_or(name);
        let txn = self.db.begin().await?;
        if find_inbound_by_name(&txn, name).await?.is_some() {
            return Err(GrantsError::Conflict(format!(
                "an inbound peer named `{name}` already exists"
            )));
        }
        let peer = Peer::try_from(insert_inbound_peer(&txn, name, display, now).await?)?;
        self.audit(
            "federation.peer.add",
            ("peer", peer.id.as_str()),
            Some(&peer.id),
            json!({ "common_name": name }),
            now,
        )
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(peer)
    }

    /// Pauses a peer: its grants stop working until it is activated again.
    pub async fn suspend_peer(&self, id: &PeerId, now: DateTime<Utc>) -> Result<Peer, GrantsError> {
        self.set_state(id, PeerState::Suspended, "federation.peer.suspend", now)
            .await
    }

    /// Makes a peer active again.
    pub async fn activate_peer(
        &self,
        id: &PeerId,
        now: DateTime<Utc>,
    ) -> Result<Peer, GrantsError> {
        self.set_state(id, PeerState::Active, "federation.peer.activate", now)
            .await
    }

    async fn set_state(
        &self,
        id: &PeerId,
        state: PeerState,
        action: &str,
        now: DateTime<Utc>,
    ) -> Result<Peer, GrantsError> {
        let now = truncate_to_millis(now);
        let txn = self.db.begin().await?;
        let row = find_peer(&txn, id).await?;
        let current = Peer::try_from(row.clone())?;
        if current.state == PeerState::Revoked {
            return Err(GrantsError::Conflict(format!(
                "peer `{}` is revoked; that is final",
                current.common_name
            )));
        }
        let mut row = row.into_active_model();
        row.state = Set(state.as_str().to_owned());
        // A refusal explains the refused state only.
        row.refusal = Set(None);
        row.updated_at = Set(now);
        let peer = Peer::try_from(row.update(&txn).await?)?;
        self.audit(
            action,
            ("peer", id.as_str()),
            Some(id),
            json!({ "state": state.as_str() }),
            now,
        )
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(peer)
    }

    /// Removes a peer; its grants and their enrollment tokens go with it.
    /// Returns how many grants were removed.
    pub async fn remove_peer(&self, id: &PeerId, now: DateTime<Utc>) -> Result<u64, GrantsError> {
        let now = truncate_to_millis(now);
        let txn = self.db.begin().await?;
        let peer = find_peer(&txn, id).await?;
        let grant_ids: Vec<String> = federation_grants::Entity::find()
            .filter(federation_grants::Column::PeerId.eq(id.as_str()))
            .all(&txn)
            .await?
            .into_iter()
            .map(|g| g.id)
            .collect();
        if !grant_ids.is_empty() {
            federation_enrollment_tokens::Entity::delete_many()
                .filter(federation_enrollment_tokens::Column::GrantId.is_in(grant_ids.clone()))
                .exec(&txn)
                .await?;
        }
        let removed = federation_grants::Entity::delete_many()
            .filter(federation_grants::Column::PeerId.eq(id.as_str()))
            .exec(&txn)
            .await?
            .rows_affected;
        federation_peers::Entity::delete_by_id(id.as_str())
            .exec(&txn)
            .await?;
        // The row is gone, so the audit row names it by target only.
        self.audit(
            "federation.peer.remove",
            ("peer", id.as_str()),
            None,
            json!({ "common_name": peer.common_name, "grants_removed": removed }),
            now,
        )
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(removed)
    }

    /// Every peer, by name.
    pub async fn list_peers(&self) -> Result<Vec<Peer>, GrantsError> {
        federation_peers::Entity::find()
            .order_by_asc(federation_peers::Column::CommonName)
            .order_by_asc(federation_peers::Column::Id)
            .all(self.db)
            .await?
            .into_iter()
            .map(Peer::try_from)
            .collect()
    }

    /// One peer.
    pub async fn peer(&self, id: &PeerId) -> Result<Peer, GrantsError> {
        Peer::try_from(find_peer(self.db, id).await?)
    }
}

fn user_id(raw: &str) -> Result<UserId, GrantsError> {
    UserId::new(raw).map_err(|e| GrantsError::invalid("user_id", e.to_string()))
}

async fn require_user(db: &impl ConnectionTrait, id: &UserId) -> Result<(), GrantsError> {
    match users::Entity::find_by_id(id.as_str()).one(db).await? {
        Some(_) => Ok(()),
        None => Err(GrantsError::NotFound {
            what: "user",
            id: id.to_string(),
        }),
    }
}

async fn find_grant(
    db: &impl ConnectionTrait,
    id: &GrantId,
) -> Result<federation_grants::Model, GrantsError> {
    federation_grants::Entity::find_by_id(id.as_str())
        .one(db)
        .await?
        .ok_or_else(|| GrantsError::NotFound {
            what: "grant",
            id: id.to_string(),
        })
}

async fn find_peer(
    db: &impl ConnectionTrait,
    id: &PeerId,
) -> Result<federation_peers::Model, GrantsError> {
    federation_peers::Entity::find_by_id(id.as_str())
        .one(db)
        .await?
        .ok_or_else(|| GrantsError::NotFound {
            what: "peer",
            id: id.to_string(),
        })
}

async fn find_inbound_by_name(
    db: &impl ConnectionTrait,
    name: &str,
) -> Result<Option<federation_peers::Model>, GrantsError> {
    Ok(federation_peers::Entity::find()
        .filter(federation_peers::Column::CommonName.eq(name))
        .filter(federation_peers::Column::EndpointUrl.is_null())
        .order_by_asc(federation_peers::Column::CreatedAt)
        .order_by_asc(federation_peers::Column::Id)
        .one(db)
        .await?)
}

/// The peer a new grant is for: by id, else an inbound peer by name.
async fn find_grantee(
    db: &impl ConnectionTrait,
    peer: &str,
) -> Result<Option<federation_peers::Model>, GrantsError> {
    if let Some(row) = federation_peers::Entity::find_by_id(peer).one(db).await? {
        return Ok(Some(row));
    }
    find_inbound_by_name(db, peer).await
}

async fn insert_inbound_peer(
    db: &impl ConnectionTrait,
    name: &str,
    display: &str,
    now: DateTime<Utc>,
) -> Result<federation_peers::Model, GrantsError> {
    Ok(federation_peers::ActiveModel {
        id: Set(new_id()),
        common_name: Set(name.to_owned()),
        display_name: Set(display.to_owned()),
        // No certificate until it enrolls.
        cert_pem: Set(String::new()),
        cert_serial: Set(String::new()),
        cert_not_after: Set(now),
        state: Set(PeerState::Pending.as_str().to_owned()),
        endpoint_url: Set(None),
        client_key_pem: Set(None),
        ca_pem: Set(None),
        local_user_id: Set(None),
        refusal: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?)
}
