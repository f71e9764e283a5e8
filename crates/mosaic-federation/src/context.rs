//! From a presented client certificate's claims to a [`FederationContext`].
//!
//! The TLS layer has already verified the chain against our trust anchors and
//! extracted the Mosaic OIDs; this step checks the claims against the store.
//!
//! First it establishes that the certificate is the one this gateway issued
//! for the grant: the grant and its peer exist, the serial equals the peer's
//! recorded serial exactly (sign included), the subject is the grant's, and
//! the optional peer id and instance id, when present, name the grant's peer
//! and this gateway. A certificate that fails any of these is refused with
//! the bare `Federation access denied`: the reason is for our logs only, so a
//! probing peer learns nothing about which grants or peers exist.
//!
//! Only then are the grant's and the peer's states checked. Their holder is
//! the grant's own peer, so those refusals say why
//! ([`ContextError::refusal`]): the grant was revoked or has expired, the peer
//! is suspended or revoked, its certificate has expired.

use chrono::Utc;
use mosaic_scope::FederationContext;
use mosaic_store::entity::{federation_grants, federation_peers, instance_identity};
use mosaic_store::sea_orm::{DatabaseConnection, DbErr, EntityTrait};
use mosaic_types::{
    FederationRefusal, GrantId, GrantStatus, GrantUsability, IdError, InstanceId, PeerId,
    PeerState, UserId,
};

/// What the certificate claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedClaims {
    /// The grant id OID.
    pub grant_id: GrantId,
    /// The subject user id OID.
    pub subject_user_id: UserId,
    /// The certificate's serial number, hex, with a leading `-` when the
    /// certificate's serial is negative.
    pub serial_hex: String,
    /// The peer id OID, when the certificate carries it.
    pub peer_id: Option<PeerId>,
    /// The instance id OID, when the certificate carries it.
    pub instance_id: Option<InstanceId>,
}

/// Why a presented identity was refused. Every variant is `forbidden` for the
/// peer; only those with a [`ContextError::refusal`] tell it why.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// No grant has that id.
    #[error("grant {0} does not exist")]
    UnknownGrant(String),
    /// The grant's peer row is gone.
    #[error("grant {grant}'s peer {peer} does not exist")]
    MissingPeer {
        /// The grant.
        grant: String,
        /// The peer it names.
        peer: String,
    },
    /// The certificate is not the one issued to that peer.
    #[error("certificate serial {presented} does not match peer {peer}'s serial")]
    SerialMismatch {
        /// The peer.
        peer: String,
        /// The serial presented.
        presented: String,
    },
    /// The certificate names a different subject than the grant.
    #[error("certificate subject {presented} does not match grant subject {stored}")]
    SubjectMismatch {
        /// What the certificate says.
        presented: String,
        /// What the grant says.
        stored: String,
    },
    /// The certificate's peer id OID names another peer than the grant's.
    #[error("certificate peer id {presented} does not match grant peer {stored}")]
    PeerIdMismatch {
        /// What the certificate says.
        presented: String,
        /// The grant's peer.
        stored: String,
    },
    /// The certificate's instance id OID names another gateway than this one.
    #[error("certificate instance id {presented} does not name this gateway ({ours})")]
    InstanceIdMismatch {
        /// What the certificate says.
        presented: String,
        /// This gateway's instance id, or `none recorded`.
        ours: String,
    },
    /// The grant is revoked or otherwise not active (including a stored status
    /// that is not one Mosaic knows).
    #[error("grant {grant} is {status}")]
    GrantNotActive {
        /// The grant.
        grant: String,
        /// Its status, as stored.
        status: String,
    },
    /// The grant's expiry has passed.
    #[error("grant {0} has expired")]
    GrantExpired(String),
    /// The grant's peer is not active (including a stored state that is not
    /// one Mosaic knows).
    #[error("peer {peer} is {state}")]
    PeerNotActive {
        /// The peer.
        peer: String,
        /// Its state as stored.
        state: String,
    },
    /// The peer's certificate record has expired.
    #[error("peer {0}'s certificate has expired")]
    PeerCertExpired(String),
    /// A stored id is not a valid id (the store is inconsistent, not the peer).
    #[error("stored peer id is invalid: {0}")]
    InvalidStoredId(#[from] IdError),
    /// Storage failed.
    // Said once, in the message: not a `source`, so a printed chain
    // does not repeat the driver's words.
    #[error("grant lookup failed: {}", mosaic_store::describe_db_err(.0))]
    Db(DbErr),
}

impl From<DbErr> for ContextError {
    fn from(err: DbErr) -> Self {
        Self::Db(err)
    }
}

impl ContextError {
    /// What the peer may be told: the reason for refusing a certificate
    /// proven to be the one issued for the grant. `None` for every other
    /// refusal (and for a stored state Mosaic does not know), which the peer
    /// sees only as `Federation access denied`.
    pub fn refusal(&self) -> Option<FederationRefusal> {
        match self {
            Self::GrantNotActive { status, .. } => match status.parse::<GrantStatus>() {
                Ok(GrantStatus::Revoked) => Some(FederationRefusal::GrantRevoked),
                _ => None,
            },
            Self::GrantExpired(_) => Some(FederationRefusal::GrantExpired),
            Self::PeerNotActive { state, .. } => match state.parse::<PeerState>() {
                Ok(PeerState::Suspended) => Some(FederationRefusal::PeerSuspended),
                Ok(PeerState::Revoked) => Some(FederationRefusal::PeerRevoked),
                _ => None,
            },
            Self::PeerCertExpired(_) => Some(FederationRefusal::CertificateExpired),
            _ => None,
        }
    }
}

/// A serial's sign and digits: case, colons and leading zero bytes (which DER
/// adds to keep a positive integer positive) do not matter; the sign and
/// every other digit do. Zero has no sign.
pub fn normalize_serial(hex: &str) -> String {
    let hex = hex.trim();
    let (negative, digits) = match hex.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, hex),
    };
    let cleaned: String = digits
        .chars()
        .filter(|c| *c != ':' && !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let trimmed = cleaned.trim_start_matches('0');
    match (trimmed.is_empty(), negative) {
        (true, _) => "0".to_owned(),
        (false, true) => format!("-{trimmed}"),
        (false, false) => trimmed.to_owned(),
    }
}

/// Resolves the claims to a context, or says why not.
pub async fn resolve(
    db: &DatabaseConnection,
    claims: &PresentedClaims,
) -> Result<FederationContext, ContextError> {
    let grant = federation_grants::Entity::find_by_id(claims.grant_id.as_str())
        .one(db)
        .await?
        .ok_or_else(|| ContextError::UnknownGrant(claims.grant_id.to_string()))?;
    let peer = federation_peers::Entity::find_by_id(grant.peer_id.clone())
        .one(db)
        .await?
        .ok_or_else(|| ContextError::MissingPeer {
            grant: grant.id.clone(),
            peer: grant.peer_id.clone(),
        })?;
    check_identity(db, claims, &grant, &peer).await?;
    check_states(&grant, &peer)?;
    // The grant was found by the claimed id and its subject equals the claimed
    // one, so those are the stored values; only the peer id is read from a row.
    Ok(FederationContext {
        grant_id: claims.grant_id.clone(),
        peer_id: PeerId::new(peer.id)?,
        subject_user_id: claims.subject_user_id.clone(),
        scope: grant.scope,
    })
}

/// Is the certificate the one this gateway issued for the grant?
async fn check_identity(
    db: &DatabaseConnection,
    claims: &PresentedClaims,
    grant: &federation_grants::Model,
    peer: &federation_peers::Model,
) -> Result<(), ContextError> {
    if normalize_serial(&peer.cert_serial) != normalize_serial(&claims.serial_hex) {
        return Err(ContextError::SerialMismatch {
            peer: peer.id.clone(),
            presented: claims.serial_hex.clone(),
        });
    }
    if grant.subject_user_id != claims.subject_user_id.as_str() {
        return Err(ContextError::SubjectMismatch {
            presented: claims.subject_user_id.to_string(),
            stored: grant.subject_user_id.clone(),
        });
    }
    if let Some(presented) = &claims.peer_id
        && presented.as_str() != grant.peer_id
    {
        return Err(ContextError::PeerIdMismatch {
            presented: presented.to_string(),
            stored: grant.peer_id.clone(),
        });
    }
    if let Some(presented) = &claims.instance_id {
        let ours = instance_identity::Entity::find()
            .one(db)
            .await?
            .map(|i| i.id);
        if ours.as_deref() != Some(presented.as_str()) {
            return Err(ContextError::InstanceIdMismatch {
                presented: presented.to_string(),
                ours: ours.unwrap_or_else(|| "none recorded".to_owned()),
            });
        }
    }
    Ok(())
}

/// May the grant's peer read through it now?
fn check_states(
    grant: &federation_grants::Model,
    peer: &federation_peers::Model,
) -> Result<(), ContextError> {
    let now = Utc::now();
    // A status or state that does not parse is refused like an inactive one.
    // The grant comes first: its refusals are final, a suspension is not.
    let usability = grant
        .status
        .parse::<GrantStatus>()
        .map(|s| s.usability(grant.expires_at, now));
    match usability {
        Ok(GrantUsability::Usable) => {}
        Ok(GrantUsability::Expired) => return Err(ContextError::GrantExpired(grant.id.clone())),
        Ok(GrantUsability::NotActive(_)) | Err(_) => {
            return Err(ContextError::GrantNotActive {
                grant: grant.id.clone(),
                status: grant.status.clone(),
            });
        }
    }
    if !peer
        .state
        .parse::<PeerState>()
        .is_ok_and(PeerState::is_usable)
    {
        return Err(ContextError::PeerNotActive {
            peer: peer.id.clone(),
            state: peer.state.clone(),
        });
    }
    if peer.cert_not_after <= now {
        return Err(ContextError::PeerCertExpired(peer.id.clone()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::normalize_serial;

    #[test]
    fn serials_compare_as_numbers_but_exactly() {
        assert_eq!(normalize_serial("00ab:CD"), "ABCD");
        assert_eq!(normalize_serial("abcd"), "ABCD");
        assert_ne!(normalize_serial("ABCD"), normalize_serial("ABCD01"));
        assert_ne!(normalize_serial("ABCD"), normalize_serial("ABC"));
        assert_eq!(normalize_serial("000"), "0");
    }

    #[test]
    fn serials_keep_their_sign() {
        assert_eq!(normalize_serial("-00ff"), "-FF");
        assert_ne!(normalize_serial("-FF01"), normalize_serial("FF01"));
        assert_ne!(normalize_serial("-FF01"), normalize_serial("00FF01"));
        assert_eq!(normalize_serial("-00"), "0");
    }
}
