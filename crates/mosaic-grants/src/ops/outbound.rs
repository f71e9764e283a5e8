//! Outbound peers: the gateways we read from. Recording an enrollment with
//! one, recording that one refused our grant for good, and which of them a
//! local user's queries name.

use super::{Grants, find_peer, require_user, user_id};
use crate::error::GrantsError;
use crate::model::{OutboundEnrollment, OutboundPeer, Peer, PeerDirection};
use crate::validate;
use chrono::{DateTime, Utc};
use mosaic_store::entity::federation_peers;
use mosaic_store::sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, Set,
    TransactionTrait,
};
use mosaic_store::truncate_to_millis;
use mosaic_types::{FederationRefusal, PeerId, PeerState, UserId};
use serde_json::json;

impl Grants<'_> {
    /// One outbound peer with what a client needs, whatever its state. An
    /// inbound peer is [`GrantsError::Invalid`]: we hold no grant from it.
    pub async fn outbound_peer(&self, id: &PeerId) -> Result<OutboundPeer, GrantsError> {
        let row = find_peer(self.db, id).await?;
        let name = row.common_name.clone();
        OutboundPeer::from_row(row)?.ok_or_else(|| {
            GrantsError::invalid(
                "peer",
                format!("`{name}` is inbound: we hold no grant from it"),
            )
        })
    }

    /// Checks what an outbound enrollment will be recorded with (name, URL,
    /// user) without writing: callers ask before the network exchange, so a
    /// request that cannot be recorded does not spend the peer's token.
    /// Returns the URL as it will be stored.
    pub async fn check_outbound_enrollment(
        &self,
        name: &str,
        url: &str,
        user_id: &str,
    ) -> Result<String, GrantsError> {
        validate::peer_name("name", name)?;
        let url = validate::endpoint_url(url)?;
        require_user(self.db, &super::user_id(user_id)?).await?;
        Ok(url)
    }

    /// Records an enrollment with another gateway that has happened: the
    /// outbound peer, active, for one local user, and its audit row.
    ///
    /// Enrolling again is how a [refused](PeerState::Refused) peer becomes
    /// usable: an outbound peer of the same user with the same name that is
    /// refused is replaced, in the same transaction (its id is in the audit
    /// row).
    pub async fn record_outbound_enrollment(
        &self,
        e: OutboundEnrollment,
        now: DateTime<Utc>,
    ) -> Result<Peer, GrantsError> {
        let now = truncate_to_millis(now);
        validate::peer_name("name", &e.name)?;
        let url = validate::endpoint_url(&e.url)?;
        let user_id = user_id(&e.user_id)?;
        let txn = self.db.begin().await?;
        require_user(&txn, &user_id).await?;
        let replaced: Vec<String> = federation_peers::Entity::find()
            .filter(federation_peers::Column::CommonName.eq(e.name.as_str()))
            .filter(federation_peers::Column::LocalUserId.eq(user_id.as_str()))
            .filter(federation_peers::Column::State.eq(PeerState::Refused.as_str()))
            .filter(federation_peers::Column::EndpointUrl.is_not_null())
            .all(&txn)
            .await?
            .into_iter()
            .map(|p| p.id)
            .collect();
        if !replaced.is_empty() {
            federation_peers::Entity::delete_many()
                .filter(federation_peers::Column::Id.is_in(replaced.clone()))
                .exec(&txn)
                .await?;
        }
        let row = federation_peers::ActiveModel {
            id: Set(e.peer_id.as_str().to_owned()),
            common_name: Set(e.name.clone()),
            display_name: Set(e.name.clone()),
            cert_pem: Set(e.cert_pem),
            cert_serial: Set(e.cert_serial),
            cert_not_after: Set(truncate_to_millis(e.cert_not_after)),
            state: Set(PeerState::Active.as_str().to_owned()),
            endpoint_url: Set(Some(url.clone())),
            client_key_pem: Set(Some(e.sealed_key)),
            ca_pem: Set(Some(e.ca_pem)),
            local_user_id: Set(Some(user_id.as_str().to_owned())),
            refusal: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await?;
        let peer = Peer::try_from(row)?;
        self.audit(
            "federation.peer.enroll",
            ("peer", peer.id.as_str()),
            Some(&peer.id),
            json!({ "url": url, "remote_grant": e.remote_grant_id, "replaced": replaced }),
            now,
        )
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(peer)
    }

    /// Records that an outbound peer refused our grant for good: the peer
    /// becomes [`PeerState::Refused`] with `refusal` beside it, and an audit
    /// row says so, in one transaction. Queries stop asking it until an admin
    /// activates it again or a new enrollment replaces it.
    ///
    /// Only an active peer changes; for a peer already refused, or paused by
    /// our own admin meanwhile, nothing is written and the peer is returned
    /// as it is (concurrent queries may all see the same refusal). A refusal
    /// that is not [final](FederationRefusal::is_final) is
    /// [`GrantsError::Invalid`]: a suspension there may be lifted, so the
    /// peer stays active here.
    pub async fn refuse_outbound_peer(
        &self,
        id: &PeerId,
        refusal: FederationRefusal,
        now: DateTime<Utc>,
    ) -> Result<Peer, GrantsError> {
        let now = truncate_to_millis(now);
        if !refusal.is_final() {
            return Err(GrantsError::invalid(
                "refusal",
                format!("`{refusal}` can be lifted; only final refusals mark a peer refused"),
            ));
        }
        let txn = self.db.begin().await?;
        let row = find_peer(&txn, id).await?;
        let current = Peer::try_from(row.clone())?;
        if current.direction != PeerDirection::Outbound {
            return Err(GrantsError::invalid(
                "peer",
                format!(
                    "`{}` is inbound: only a peer we read from can refuse us",
                    current.common_name
                ),
            ));
        }
        if current.state != PeerState::Active {
            return Ok(current);
        }
        let mut row = row.into_active_model();
        row.state = Set(PeerState::Refused.as_str().to_owned());
        row.refusal = Set(Some(refusal.as_str().to_owned()));
        row.updated_at = Set(now);
        let peer = Peer::try_from(row.update(&txn).await?)?;
        self.audit(
            "federation.peer.refused",
            ("peer", id.as_str()),
            Some(id),
            json!({
                "state": PeerState::Refused.as_str(),
                "refusal": refusal.as_str(),
                "endpoint_url": peer.endpoint_url,
            }),
            now,
        )
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(peer)
    }

    /// The outbound peers `user_id` may query: theirs, and usable. By name.
    pub async fn peers_a_user_may_query(
        &self,
        user_id: &UserId,
    ) -> Result<Vec<OutboundPeer>, GrantsError> {
        Ok(self
            .peers_a_user_queries(user_id)
            .await?
            .into_iter()
            .filter(|p| p.state.is_usable())
            .collect())
    }

    /// The outbound peers a query by `user_id` names: theirs, usable or
    /// [refused](PeerState::Refused). A refused one is not asked; the query
    /// says it refused, and why. By name, a usable peer before a refused one
    /// of the same name.
    pub async fn peers_a_user_queries(
        &self,
        user_id: &UserId,
    ) -> Result<Vec<OutboundPeer>, GrantsError> {
        let rows = federation_peers::Entity::find()
            .filter(federation_peers::Column::LocalUserId.eq(user_id.as_str()))
            .filter(federation_peers::Column::EndpointUrl.is_not_null())
            .filter(federation_peers::Column::ClientKeyPem.is_not_null())
            .order_by_asc(federation_peers::Column::CommonName)
            .order_by_asc(federation_peers::Column::Id)
            .all(self.db)
            .await?;
        let mut peers = Vec::with_capacity(rows.len());
        for row in rows {
            // A state that does not parse is refused like an inactive one.
            let named = row
                .state
                .parse::<PeerState>()
                .is_ok_and(|s| s.is_usable() || s == PeerState::Refused);
            if !named {
                continue;
            }
            peers.extend(OutboundPeer::from_row(row)?);
        }
        peers.sort_by(|a, b| {
            a.common_name
                .cmp(&b.common_name)
                .then(b.state.is_usable().cmp(&a.state.is_usable()))
        });
        Ok(peers)
    }
}

#[cfg(test)]
mod tests {
    use crate::model;

    #[test]
    fn a_stored_refusal_that_is_not_one_is_a_corrupt_row() {
        let row = mosaic_store::entity::federation_peers::Model {
            id: "p1".into(),
            common_name: "work".into(),
            display_name: "work".into(),
            cert_pem: String::new(),
            cert_serial: String::new(),
            cert_not_after: chrono::Utc::now(),
            state: "refused".into(),
            endpoint_url: Some("https://work.example:7443".into()),
            client_key_pem: Some("sealed".into()),
            ca_pem: None,
            local_user_id: Some("me".into()),
            refusal: Some("tired".into()),
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        };
        let err = model::parse_refusal(&row).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "stored federation_peers row `p1`: unknown federation refusal `tired`"
            ),
            "{err}"
        );
    }
}
