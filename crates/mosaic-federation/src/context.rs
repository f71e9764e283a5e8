//! From a presented client certificate's claims to a [`FederationContext`].
//!
//! The TLS layer has already verified the chain against our trust anchors and
//! extracted the Mosaic OIDs; this step checks the claims against the store.
//! Every refusal is the same `forbidden` (`Federation access denied`); the
//! precise reason is for our logs only, so a probing peer learns nothing about
//! which grants or peers exist.

use chrono::Utc;
use mosaic_scope::FederationContext;
use mosaic_store::entity::{federation_grants, federation_peers};
use mosaic_store::sea_orm::{DatabaseConnection, DbErr, EntityTrait};
use mosaic_types::{GrantId, GrantStatus, GrantUsability, IdError, PeerId, PeerState, UserId};

/// What the certificate claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedClaims {
    /// The grant id OID.
    pub grant_id: GrantId,
    /// The subject user id OID.
    pub subject_user_id: UserId,
    /// The certificate's serial number, hex.
    pub serial_hex: String,
}

/// Why a presented identity was refused (for logs; the peer sees `forbidden`).
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// No grant has that id.
    #[error("grant {0} does not exist")]
    UnknownGrant(String),
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
    /// The certificate names a different subject than the grant.
    #[error("certificate subject {presented} does not match grant subject {stored}")]
    SubjectMismatch {
        /// What the certificate says.
        presented: String,
        /// What the grant says.
        stored: String,
    },
    /// The grant's peer is missing or not active (including a stored state
    /// that is not one Mosaic knows).
    #[error("peer {peer} is {state}")]
    PeerNotActive {
        /// The peer.
        peer: String,
        /// Its state as stored, or `missing`.
        state: String,
    },
    /// The certificate is not the one issued to that peer.
    #[error("certificate serial {presented} does not match peer {peer}'s serial")]
    SerialMismatch {
        /// The peer.
        peer: String,
        /// The serial presented.
        presented: String,
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

/// Serials compare as numbers: case and leading zero bytes (which DER adds to
/// keep a positive integer positive) do not matter; every other digit does.
pub fn normalize_serial(hex: &str) -> String {
    let cleaned: String = hex
        .chars()
        .filter(|c| *c != ':' && !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let trimmed = cleaned.trim_start_matches('0');
    if trimmed.is_empty() {
        "0".to_owned()
    } else {
        trimmed.to_owned()
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
    let now = Utc::now();
    // A status that does not parse is refused like an inactive one.
    let usability = grant
        .status
        .parse::<GrantStatus>()
        .map(|s| s.usability(grant.expires_at, now));
    match usability {
        Ok(GrantUsability::Usable) => {}
        Ok(GrantUsability::Expired) => return Err(ContextError::GrantExpired(grant.id)),
        Ok(GrantUsability::NotActive(_)) | Err(_) => {
            return Err(ContextError::GrantNotActive {
                grant: grant.id,
                status: grant.status,
            });
        }
    }
    if grant.subject_user_id != claims.subject_user_id.as_str() {
        return Err(ContextError::SubjectMismatch {
            presented: claims.subject_user_id.to_string(),
            stored: grant.subject_user_id,
        });
    }
    let peer = federation_peers::Entity::find_by_id(grant.peer_id.clone())
        .one(db)
        .await?
        .ok_or_else(|| ContextError::PeerNotActive {
            peer: grant.peer_id.clone(),
            state: "missing".to_owned(),
        })?;
    let usable = peer
        .state
        .parse::<PeerState>()
        .is_ok_and(PeerState::is_usable);
    if !usable {
        return Err(ContextError::PeerNotActive {
            peer: peer.id,
            state: peer.state,
        });
    }
    if normalize_serial(&peer.cert_serial) != normalize_serial(&claims.serial_hex) {
        return Err(ContextError::SerialMismatch {
            peer: peer.id,
            presented: claims.serial_hex.clone(),
        });
    }
    if peer.cert_not_after <= now {
        return Err(ContextError::PeerCertExpired(peer.id));
    }
    // The grant was found by the claimed id and its subject equals the claimed
    // one, so those are the stored values; only the peer id is read from a row.
    Ok(FederationContext {
        grant_id: claims.grant_id.clone(),
        peer_id: PeerId::new(peer.id)?,
        subject_user_id: claims.subject_user_id.clone(),
        scope: grant.scope,
    })
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
}
