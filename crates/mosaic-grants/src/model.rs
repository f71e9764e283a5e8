//! The domain types: grants and peers as parsed from their rows, and the
//! inputs of the operations that make them.

use crate::error::GrantsError;
use chrono::{DateTime, Utc};
use mosaic_identity::enrollment::IssuedToken;
use mosaic_store::entity::{federation_grants, federation_peers};
use mosaic_types::{FederationRefusal, GrantId, GrantStatus, IdError, PeerId, PeerState, UserId};
use serde_json::Value;
use std::fmt;

/// What one peer may read on behalf of one local user.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    /// The grant.
    pub id: GrantId,
    /// The peer that holds it.
    pub peer_id: PeerId,
    /// The local user it reads for.
    pub subject_user_id: UserId,
    /// Where it is in its life.
    pub status: GrantStatus,
    /// The scope document (it parsed when the grant was made).
    pub scope: Value,
    /// When it stops working; never when `None`.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Why it was revoked.
    pub revoked_reason: Option<String>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl Grant {
    /// Active and not expired at `now` (the rule is [`GrantStatus::is_usable`]).
    pub fn is_usable(&self, now: DateTime<Utc>) -> bool {
        self.status.is_usable(self.expires_at, now)
    }
}

pub use mosaic_types::admin::PeerDirection;

/// Another gateway, never with its sealed key (see [`OutboundPeer`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// The peer.
    pub id: PeerId,
    /// Its name: the certificate common name inbound, our name for it outbound.
    pub common_name: String,
    /// How people call it.
    pub display_name: String,
    /// Where it is in its life.
    pub state: PeerState,
    /// Why it is [`PeerState::Refused`]: what it answered when it refused
    /// our grant. `None` in every other state.
    pub refusal: Option<FederationRefusal>,
    /// Which way it reads.
    pub direction: PeerDirection,
    /// Outbound: its federation address.
    pub endpoint_url: Option<String>,
    /// Outbound: the local user whose queries may use it.
    pub local_user_id: Option<UserId>,
    /// The serial of its certificate (empty until it enrolls).
    pub cert_serial: String,
    /// End of its certificate's validity.
    pub cert_not_after: DateTime<Utc>,
    /// When it was added.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl Peer {
    /// Whether its grants may be used (the rule is [`PeerState::is_usable`]).
    pub fn is_usable(&self) -> bool {
        self.state.is_usable()
    }
}

/// An outbound peer with what a client needs to read from it.
#[derive(Clone, PartialEq, Eq)]
pub struct OutboundPeer {
    /// The peer.
    pub id: PeerId,
    /// Our name for it; its rows are tagged with it.
    pub common_name: String,
    /// Where it is in its life.
    pub state: PeerState,
    /// Why it is [`PeerState::Refused`], when it is.
    pub refusal: Option<FederationRefusal>,
    /// Its federation address, `https://host:port`.
    pub endpoint_url: String,
    /// The local user whose queries may use it.
    pub local_user_id: Option<UserId>,
    /// Our client certificate for it, PEM.
    pub cert_pem: String,
    /// Our client key, sealed under the purpose
    /// `federation-client-key:{id}` by the caller.
    pub sealed_client_key: String,
    /// Its CA certificate, pinned at enrollment.
    pub ca_pem: Option<String>,
    /// When the row last changed (a cached client built before is stale).
    pub updated_at: DateTime<Utc>,
}

impl fmt::Debug for OutboundPeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboundPeer")
            .field("id", &self.id)
            .field("common_name", &self.common_name)
            .field("state", &self.state)
            .field("refusal", &self.refusal)
            .field("endpoint_url", &self.endpoint_url)
            .field("local_user_id", &self.local_user_id)
            .field("updated_at", &self.updated_at)
            .finish_non_exhaustive()
    }
}

/// A grant to make.
#[derive(Debug, Clone, PartialEq)]
pub struct NewGrant {
    /// The peer's id, or the name of an inbound peer (made, pending, when no
    /// peer has it).
    pub peer: String,
    /// The local user the peer reads for.
    pub user_id: String,
    /// The scope document; it must parse.
    pub scope: Value,
    /// Days until the grant expires (1 to [`crate::MAX_EXPIRES_IN_DAYS`]);
    /// never when `None`.
    pub expires_in_days: Option<i64>,
    /// Hours the enrollment token lives (1 to [`crate::MAX_TOKEN_TTL_HOURS`]);
    /// the default token lifetime when `None`.
    pub token_ttl_hours: Option<i64>,
}

/// A made grant, its peer and the one-time token to enroll with.
#[derive(Debug)]
pub struct CreatedGrant {
    /// The grant.
    pub grant: Grant,
    /// Its peer.
    pub peer: Peer,
    /// Whether the peer was made for this grant.
    pub peer_created: bool,
    /// The enrollment token; its secret exists only here.
    pub token: IssuedToken,
}

/// An enrollment with another gateway that has happened: what to record.
///
/// The network exchange and the sealing of the key are the caller's; the
/// key is sealed under a purpose naming [`OutboundEnrollment::peer_id`], so
/// the caller picks it first with [`crate::new_peer_id`].
#[derive(Clone)]
pub struct OutboundEnrollment {
    /// The new peer's id.
    pub peer_id: PeerId,
    /// Our name for the peer.
    pub name: String,
    /// Its federation address, `https://host:port`.
    pub url: String,
    /// The local user whose queries may use the grant.
    pub user_id: String,
    /// The client certificate the peer issued, PEM.
    pub cert_pem: String,
    /// Its serial.
    pub cert_serial: String,
    /// Its end of validity.
    pub cert_not_after: DateTime<Utc>,
    /// The peer's CA certificate, PEM (pinned by the enrollment code).
    pub ca_pem: String,
    /// Our client key, sealed.
    pub sealed_key: String,
    /// The grant the peer made for us (its id, for the audit log).
    pub remote_grant_id: String,
}

impl fmt::Debug for OutboundEnrollment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboundEnrollment")
            .field("peer_id", &self.peer_id)
            .field("name", &self.name)
            .field("url", &self.url)
            .field("user_id", &self.user_id)
            .field("cert_serial", &self.cert_serial)
            .field("remote_grant_id", &self.remote_grant_id)
            .finish_non_exhaustive()
    }
}

fn corrupt(table: &'static str, id: &str, message: impl fmt::Display) -> GrantsError {
    GrantsError::CorruptRow {
        table,
        id: id.to_owned(),
        message: message.to_string(),
    }
}

fn stored_id<T: TryFrom<String, Error = IdError>>(
    table: &'static str,
    row: &str,
    value: &str,
) -> Result<T, GrantsError> {
    T::try_from(value.to_owned()).map_err(|e| corrupt(table, row, e))
}

const GRANTS: &str = "federation_grants";
const PEERS: &str = "federation_peers";

impl TryFrom<federation_grants::Model> for Grant {
    type Error = GrantsError;
    fn try_from(row: federation_grants::Model) -> Result<Self, GrantsError> {
        Ok(Self {
            id: stored_id(GRANTS, &row.id, &row.id)?,
            peer_id: stored_id(GRANTS, &row.id, &row.peer_id)?,
            subject_user_id: stored_id(GRANTS, &row.id, &row.subject_user_id)?,
            status: row
                .status
                .parse()
                .map_err(|e| corrupt(GRANTS, &row.id, e))?,
            scope: row.scope,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
            revoked_reason: row.revoked_reason,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// Outbound rows carry an endpoint and our sealed key; every other row is
/// inbound.
pub(crate) fn direction(row: &federation_peers::Model) -> PeerDirection {
    if row.endpoint_url.is_some() && row.client_key_pem.is_some() {
        PeerDirection::Outbound
    } else {
        PeerDirection::Inbound
    }
}

pub(crate) fn parse_state(row: &federation_peers::Model) -> Result<PeerState, GrantsError> {
    row.state.parse().map_err(|e| corrupt(PEERS, &row.id, e))
}

pub(crate) fn parse_refusal(
    row: &federation_peers::Model,
) -> Result<Option<FederationRefusal>, GrantsError> {
    row.refusal
        .as_deref()
        .map(|r| r.parse().map_err(|e| corrupt(PEERS, &row.id, e)))
        .transpose()
}

fn local_user(row: &federation_peers::Model) -> Result<Option<UserId>, GrantsError> {
    row.local_user_id
        .as_deref()
        .map(|u| stored_id(PEERS, &row.id, u))
        .transpose()
}

impl TryFrom<federation_peers::Model> for Peer {
    type Error = GrantsError;
    fn try_from(row: federation_peers::Model) -> Result<Self, GrantsError> {
        Ok(Self {
            id: stored_id(PEERS, &row.id, &row.id)?,
            state: parse_state(&row)?,
            refusal: parse_refusal(&row)?,
            direction: direction(&row),
            local_user_id: local_user(&row)?,
            common_name: row.common_name,
            display_name: row.display_name,
            endpoint_url: row.endpoint_url,
            cert_serial: row.cert_serial,
            cert_not_after: row.cert_not_after,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

impl OutboundPeer {
    /// The row as an outbound peer, or `None` for an inbound one.
    pub(crate) fn from_row(row: federation_peers::Model) -> Result<Option<Self>, GrantsError> {
        let id = stored_id(PEERS, &row.id, &row.id)?;
        let state = parse_state(&row)?;
        let refusal = parse_refusal(&row)?;
        let local_user_id = local_user(&row)?;
        let (Some(endpoint_url), Some(sealed_client_key)) = (row.endpoint_url, row.client_key_pem)
        else {
            return Ok(None);
        };
        Ok(Some(Self {
            id,
            common_name: row.common_name,
            state,
            refusal,
            endpoint_url,
            local_user_id,
            cert_pem: row.cert_pem,
            sealed_client_key,
            ca_pem: row.ca_pem,
            updated_at: row.updated_at,
        }))
    }
}
