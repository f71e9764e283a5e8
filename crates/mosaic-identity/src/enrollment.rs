//! Enrollment: a peer trades a one-time token and a CSR for a client
//! certificate carrying the OIDs of the grant the token was made for.
//!
//! Tokens are `mosaic_enroll_` + 32 random bytes (base64url). Only their
//! SHA-256 is stored; each has an expiry and works once. An enrollment either
//! happens whole (token spent, peer's certificate recorded, audit row
//! written) or not at all.
//!
//! [`Enrollment`] works over a connection or over a transaction already under
//! way, so a token can be issued in the same transaction that creates its
//! grant.
//!
//! ```no_run
//! # async fn demo(db: &mosaic_store::sea_orm::DatabaseConnection, ca: &mosaic_identity::CertificateAuthority)
//! # -> Result<(), Box<dyn std::error::Error>> {
//! use mosaic_identity::enrollment::{EnrollRequest, Enrollment, DEFAULT_TOKEN_TTL};
//! use mosaic_types::GrantId;
//!
//! let now = chrono::Utc::now();
//! let enrollment = Enrollment::new(db);
//! // On the serving gateway, for a grant made to the peer:
//! let token = enrollment.issue_token(&GrantId::new("grant-1")?, DEFAULT_TOKEN_TTL, now).await?;
//! // The peer sends the token with a CSR whose key it generated itself:
//! let request = mosaic_identity::generate_csr("gw-a")?;
//! let cert = enrollment
//!     .enroll(ca, &EnrollRequest { token: token.secret.clone(), csr_pem: request.csr_pem, instance_id: None }, now)
//!     .await?;
//! println!("enrolled, serial {}", cert.serial);
//! # Ok(()) }
//! ```

use crate::ca::{CaError, CertificateAuthority, IssuedCert};
use crate::claims::MosaicClaims;
use crate::csr::{CsrError, VerifiedCsr};
use crate::profile::{CLIENT_LIFETIME, Validity};
use crate::serial::CertSerial;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use mosaic_store::entity::{
    audit_log, federation_enrollment_tokens, federation_grants, federation_peers,
};
use mosaic_store::sea_orm::sea_query::Expr;
use mosaic_store::sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr,
    EntityTrait, IntoActiveModel, QueryFilter, Set, TransactionTrait,
};
use mosaic_store::truncate_to_millis;
use mosaic_types::{
    EnrollmentTokenId, GrantId, GrantStatus, GrantUsability, InstanceId, PeerId, PeerState, UserId,
};
use ring::rand::{SecureRandom, SystemRandom};
use serde::Serialize;
use std::fmt;
use zeroize::Zeroizing;

/// Every enrollment token starts with this.
pub const TOKEN_PREFIX: &str = "mosaic_enroll_";
/// How long a token lives unless told otherwise.
pub const DEFAULT_TOKEN_TTL: Duration = Duration::hours(24);
const TOKEN_BYTES: usize = 32;

/// Why a token could not be issued or an enrollment did not happen.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    /// The token is not shaped like an enrollment token.
    #[error("the enrollment token is malformed (it starts with `{TOKEN_PREFIX}`)")]
    MalformedToken,
    /// No token has that secret.
    #[error("the enrollment token is not valid; ask the serving gateway's admin for a new one")]
    UnknownToken,
    /// The token was already used.
    #[error(
        "the enrollment token was already used at {used_at}; enrollment tokens work once, ask for a new one"
    )]
    TokenUsed {
        /// When.
        used_at: DateTime<Utc>,
    },
    /// The token expired.
    #[error("the enrollment token expired at {expired_at}; ask for a new one")]
    TokenExpired {
        /// When.
        expired_at: DateTime<Utc>,
    },
    /// The grant does not exist.
    #[error("grant {0} does not exist")]
    GrantNotFound(String),
    /// The grant is not active (revoked) or has expired.
    #[error("grant {grant_id} is not active ({status}); nothing can enroll for it")]
    GrantNotActive {
        /// The grant.
        grant_id: String,
        /// Its status, or `expired`.
        status: String,
    },
    /// The grant's peer row is missing.
    #[error("peer {0} of the grant does not exist")]
    PeerNotFound(String),
    /// A TTL that is zero or negative.
    #[error("an enrollment token's lifetime must be positive (got {0})")]
    BadTtl(Duration),
    /// The CSR is unusable.
    #[error(transparent)]
    Csr(#[from] CsrError),
    /// Signing failed.
    #[error(transparent)]
    Ca(#[from] CaError),
    /// A stored id is not a valid id.
    #[error("stored row has an invalid id: {0}")]
    BadStoredId(String),
    /// Randomness was unavailable.
    #[error("the system random number generator failed")]
    Random,
    /// Storage failed.
    // Said once, in the message: not a `source`, so a printed chain
    // does not repeat the driver's words.
    #[error("enrollment storage failed: {}", mosaic_store::describe_db_err(.0))]
    Db(DbErr),
}

impl From<DbErr> for EnrollError {
    fn from(err: DbErr) -> Self {
        Self::Db(err)
    }
}

/// A freshly issued token. The secret exists only here.
pub struct IssuedToken {
    /// Record id (safe to log).
    pub id: EnrollmentTokenId,
    /// The secret to hand to the peer once.
    pub secret: Zeroizing<String>,
    /// The grant it enrolls for.
    pub grant_id: GrantId,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("id", &self.id)
            .field("grant_id", &self.grant_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// What a peer sends.
#[derive(Debug, Clone)]
pub struct EnrollRequest {
    /// The one-time token.
    pub token: Zeroizing<String>,
    /// PEM CSR for a key the peer generated.
    pub csr_pem: String,
    /// This (issuing) gateway's instance id, recorded in the certificate.
    pub instance_id: Option<InstanceId>,
}

/// What a peer gets back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnrolledCert {
    /// The grant.
    pub grant_id: GrantId,
    /// The peer the grant belongs to.
    pub peer_id: PeerId,
    /// The user the grant acts for.
    pub subject_user_id: UserId,
    /// The client certificate, PEM.
    pub certificate_pem: String,
    /// The issuing CA certificate, PEM: what the peer pins.
    pub ca_certificate_pem: String,
    /// The certificate's serial.
    pub serial: CertSerial,
    /// End of validity.
    pub not_after: DateTime<Utc>,
}

/// SHA-256 of a token secret, hex: what the table stores.
pub fn hash_token(secret: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, secret.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn well_formed(secret: &str) -> bool {
    secret
        .strip_prefix(TOKEN_PREFIX)
        .and_then(|rest| URL_SAFE_NO_PAD.decode(rest).ok())
        .is_some_and(|bytes| bytes.len() == TOKEN_BYTES)
}

fn generate_secret() -> Result<Zeroizing<String>, EnrollError> {
    let mut bytes = Zeroizing::new([0u8; TOKEN_BYTES]);
    SystemRandom::new()
        .fill(bytes.as_mut())
        .map_err(|_| EnrollError::Random)?;
    Ok(Zeroizing::new(format!(
        "{TOKEN_PREFIX}{}",
        URL_SAFE_NO_PAD.encode(bytes.as_ref())
    )))
}

fn id<T: TryFrom<String, Error = mosaic_types::IdError>>(s: String) -> Result<T, EnrollError> {
    T::try_from(s).map_err(|e| EnrollError::BadStoredId(e.to_string()))
}

/// Enrollment operations over a connection, or over a transaction under way.
pub struct Enrollment<'a, C = DatabaseConnection> {
    db: &'a C,
}

impl<C> Clone for Enrollment<'_, C> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<C> Copy for Enrollment<'_, C> {}

impl<C> fmt::Debug for Enrollment<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Enrollment").finish_non_exhaustive()
    }
}

impl<'a, C: ConnectionTrait> Enrollment<'a, C> {
    /// Operations on `db`: a connection, or a transaction whose writes the
    /// token joins.
    pub fn new(db: &'a C) -> Self {
        Self { db }
    }

    /// Issues a token for an active grant, valid for `ttl` from `now`.
    pub async fn issue_token(
        &self,
        grant_id: &GrantId,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<IssuedToken, EnrollError> {
        if ttl <= Duration::zero() {
            return Err(EnrollError::BadTtl(ttl));
        }
        let now = truncate_to_millis(now);
        let grant = federation_grants::Entity::find_by_id(grant_id.as_str())
            .one(self.db)
            .await?
            .ok_or_else(|| EnrollError::GrantNotFound(grant_id.to_string()))?;
        check_grant(&grant, now)?;
        let secret = generate_secret()?;
        let token_id = uuid::Uuid::new_v4().to_string();
        let expires_at = now + ttl;
        federation_enrollment_tokens::ActiveModel {
            id: Set(token_id.clone()),
            token_hash: Set(hash_token(&secret)),
            grant_id: Set(grant_id.as_str().to_owned()),
            expires_at: Set(expires_at),
            used_at: Set(None),
            created_at: Set(now),
        }
        .insert(self.db)
        .await?;
        Ok(IssuedToken {
            id: id(token_id)?,
            secret,
            grant_id: grant_id.clone(),
            expires_at,
        })
    }
}

impl Enrollment<'_, DatabaseConnection> {
    /// Spends the token and signs the CSR with the grant's claims. The CSR is
    /// checked first, so a bad CSR does not burn the token; everything after
    /// happens in one transaction.
    pub async fn enroll(
        &self,
        ca: &CertificateAuthority,
        request: &EnrollRequest,
        now: DateTime<Utc>,
    ) -> Result<EnrolledCert, EnrollError> {
        let now = truncate_to_millis(now);
        let secret = request.token.trim();
        if !well_formed(secret) {
            return Err(EnrollError::MalformedToken);
        }
        let csr = VerifiedCsr::from_pem(&request.csr_pem)?;

        let txn = self.db.begin().await?;
        let token = spend_token(&txn, secret, now).await?;
        let (grant, peer) = grant_and_peer(&txn, &token.grant_id, now).await?;
        let grant_id: GrantId = id(grant.id.clone())?;
        let peer_id: PeerId = id(peer.id.clone())?;
        let subject_user_id: UserId = id(grant.subject_user_id.clone())?;
        let mut claims =
            MosaicClaims::new(grant_id.clone(), subject_user_id.clone()).with_peer(peer_id.clone());
        if let Some(instance) = &request.instance_id {
            claims = claims.with_instance(instance.clone());
        }
        let validity = Validity::starting(now, CLIENT_LIFETIME).capped_at(grant.expires_at);
        let cert = ca.sign_csr(&csr, &peer.common_name, &claims, validity)?;
        let not_after = truncate_to_millis(cert.validity.not_after);
        record_certificate(&txn, peer, &cert, not_after, now).await?;
        audit_log::ActiveModel {
            id: Set(uuid::Uuid::new_v4().to_string()),
            occurred_at: Set(now),
            actor: Set(format!("enrollment-token:{}", token.id)),
            action: Set("federation.enroll".to_owned()),
            target_type: Set(Some("grant".to_owned())),
            target_id: Set(Some(grant_id.to_string())),
            peer_id: Set(Some(peer_id.to_string())),
            details: Set(Some(serde_json::json!({
                "serial": cert.serial.as_str(),
                "not_after": not_after.to_rfc3339(),
                "subject_user_id": subject_user_id.as_str(),
            }))),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;

        Ok(EnrolledCert {
            grant_id,
            peer_id,
            subject_user_id,
            certificate_pem: cert.pem,
            ca_certificate_pem: ca.cert_pem().to_owned(),
            serial: cert.serial,
            not_after,
        })
    }
}

/// Finds the token by its secret and spends it, in `txn`. Spending is
/// conditional: of two concurrent enrollments with the same token, exactly one
/// sees a row change.
async fn spend_token(
    txn: &DatabaseTransaction,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<federation_enrollment_tokens::Model, EnrollError> {
    let token = federation_enrollment_tokens::Entity::find()
        .filter(federation_enrollment_tokens::Column::TokenHash.eq(hash_token(secret)))
        .one(txn)
        .await?
        .ok_or(EnrollError::UnknownToken)?;
    if let Some(used_at) = token.used_at {
        return Err(EnrollError::TokenUsed { used_at });
    }
    if token.expires_at <= now {
        return Err(EnrollError::TokenExpired {
            expired_at: token.expires_at,
        });
    }
    let spent = federation_enrollment_tokens::Entity::update_many()
        .col_expr(
            federation_enrollment_tokens::Column::UsedAt,
            Expr::value(now),
        )
        .filter(federation_enrollment_tokens::Column::Id.eq(token.id.clone()))
        .filter(federation_enrollment_tokens::Column::UsedAt.is_null())
        .exec(txn)
        .await?;
    if spent.rows_affected != 1 {
        return Err(EnrollError::TokenUsed { used_at: now });
    }
    Ok(token)
}

/// The token's grant, which must be usable, and its peer.
async fn grant_and_peer(
    txn: &DatabaseTransaction,
    grant_id: &str,
    now: DateTime<Utc>,
) -> Result<(federation_grants::Model, federation_peers::Model), EnrollError> {
    let grant = federation_grants::Entity::find_by_id(grant_id.to_owned())
        .one(txn)
        .await?
        .ok_or_else(|| EnrollError::GrantNotFound(grant_id.to_owned()))?;
    check_grant(&grant, now)?;
    let peer = federation_peers::Entity::find_by_id(grant.peer_id.clone())
        .one(txn)
        .await?
        .ok_or_else(|| EnrollError::PeerNotFound(grant.peer_id.clone()))?;
    Ok((grant, peer))
}

/// Stores the peer's new certificate. A peer becomes active by enrolling; a
/// suspended or revoked one stays so.
async fn record_certificate(
    txn: &DatabaseTransaction,
    peer: federation_peers::Model,
    cert: &IssuedCert,
    not_after: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), EnrollError> {
    let mut peer_row = peer.into_active_model();
    peer_row.cert_pem = Set(cert.pem.clone());
    peer_row.cert_serial = Set(cert.serial.to_string());
    peer_row.cert_not_after = Set(not_after);
    if peer_row.state.as_ref() == PeerState::Pending.as_str() {
        peer_row.state = Set(PeerState::Active.as_str().to_owned());
    }
    peer_row.updated_at = Set(now);
    peer_row.update(txn).await?;
    Ok(())
}

/// Only a usable grant is enrolled for; a stored status Mosaic does not know
/// is refused like an inactive one.
fn check_grant(grant: &federation_grants::Model, now: DateTime<Utc>) -> Result<(), EnrollError> {
    let usability = grant
        .status
        .parse::<GrantStatus>()
        .map(|s| s.usability(grant.expires_at, now));
    let status = match usability {
        Ok(GrantUsability::Usable) => return Ok(()),
        Ok(GrantUsability::Expired) => "expired".to_owned(),
        Ok(GrantUsability::NotActive(_)) | Err(_) => grant.status.clone(),
    };
    Err(EnrollError::GrantNotActive {
        grant_id: grant.id.clone(),
        status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_random_and_hashed() {
        let a = generate_secret().unwrap();
        let b = generate_secret().unwrap();
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_ne!(*a, *b);
        assert!(well_formed(&a));
        assert!(!well_formed("mosaic_enroll_short"));
        assert!(!well_formed(&a.replace(TOKEN_PREFIX, "mosaic_")));
        assert_eq!(hash_token("x").len(), 64);
        assert_ne!(hash_token(&a), hash_token(&b));
    }
}
