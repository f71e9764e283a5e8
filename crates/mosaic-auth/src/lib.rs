//! Bearer tokens for Mosaic's HTTP APIs.
//!
//! A token is `mosaic_` followed by 32 random bytes in base64url. Only its
//! SHA-256 hash is stored, so a leaked database does not leak usable tokens; the
//! secret is shown once, when issued. Tokens carry a role: `admin` manages the
//! gateway (users, peers, grants, tokens), `user` acts as one local user.
//!
//! ```no_run
//! # async fn demo(store: &mosaic_store::Store) -> Result<(), mosaic_auth::AuthError> {
//! use mosaic_auth::{Role, Tokens};
//!
//! let tokens = Tokens::new(store.conn());
//! let issued = tokens.issue(Role::Admin, None, "bootstrap").await?;
//! let principal = tokens.verify(&issued.secret).await?;
//! assert_eq!(principal.role, Role::Admin);
//! # Ok(()) }
//! ```
//!
//! This crate depends on the store and nothing above it: no HTTP types. The
//! gateway turns [`AuthError`] into 401/403 responses.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use mosaic_store::entity::api_tokens;
use mosaic_store::now;
use mosaic_store::sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, Set,
};
use ring::rand::{SecureRandom, SystemRandom};
use serde::Serialize;
use std::fmt;

/// Every secret starts with this, so a leaked token is recognisable in logs
/// and by secret scanners.
pub const TOKEN_PREFIX: &str = "mosaic_";
const SECRET_BYTES: usize = 32;

/// What a token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Manages the gateway.
    Admin,
    /// Acts as one local user.
    User,
}

impl Role {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::User => "user",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Self::Admin),
            "user" => Some(Self::User),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who a verified token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's id (not its secret): safe to log.
    pub token_id: String,
    /// What it may do.
    pub role: Role,
    /// The user it acts as; `None` for admin tokens not tied to a user.
    pub user_id: Option<String>,
}

/// A freshly issued token. The secret exists only here.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// Id, for listing and revoking.
    pub id: String,
    /// The bearer secret: show it once, never store it.
    pub secret: String,
}

/// A token's record, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    /// Id.
    pub id: String,
    /// Role.
    pub role: Role,
    /// User it acts as.
    pub user_id: Option<String>,
    /// Free-form label.
    pub label: String,
    /// When issued (RFC 3339).
    pub created_at: String,
    /// When last presented, to the minute.
    pub last_used_at: Option<String>,
    /// When revoked.
    pub revoked_at: Option<String>,
}

/// Why a token was not accepted, or could not be managed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No token was presented.
    #[error("no bearer token was presented (send `Authorization: Bearer mosaic_…`)")]
    Missing,
    /// The string is not shaped like a Mosaic token.
    #[error("the bearer token is malformed (Mosaic tokens start with `mosaic_`)")]
    Malformed,
    /// No live token has that secret (never issued, or revoked).
    #[error("the bearer token is not valid (unknown or revoked)")]
    Invalid,
    /// The token is valid but its role may not do this.
    #[error("this token's role ({actual}) may not do this; it needs {needed}")]
    WrongRole {
        /// The role the action needs.
        needed: Role,
        /// The role presented.
        actual: Role,
    },
    /// No token with that id.
    #[error("no token with id {0}")]
    NotFound(String),
    /// Randomness was unavailable.
    #[error("the system random number generator failed")]
    Random,
    /// Storage failed.
    // Said once, in the message: not a `source`, so a printed chain
    // does not repeat the driver's words.
    #[error("token storage failed: {}", mosaic_store::describe_db_err(.0))]
    Db(DbErr),
}

impl From<DbErr> for AuthError {
    fn from(err: DbErr) -> Self {
        Self::Db(err)
    }
}

/// SHA-256 of the secret, hex-encoded: what the store keeps.
pub fn hash_secret(secret: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, secret.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// A new random secret.
pub fn generate_secret() -> Result<String, AuthError> {
    let mut bytes = [0u8; SECRET_BYTES];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| AuthError::Random)?;
    Ok(format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

fn well_formed(secret: &str) -> bool {
    secret
        .strip_prefix(TOKEN_PREFIX)
        .and_then(|rest| URL_SAFE_NO_PAD.decode(rest).ok())
        .is_some_and(|bytes| bytes.len() == SECRET_BYTES)
}

/// Token operations over a connection.
#[derive(Debug, Clone, Copy)]
pub struct Tokens<'a> {
    db: &'a DatabaseConnection,
}

impl<'a> Tokens<'a> {
    /// Operations on `db`.
    pub fn new(db: &'a DatabaseConnection) -> Self {
        Self { db }
    }

    /// Issues a token and returns its secret, which is not stored.
    pub async fn issue(
        &self,
        role: Role,
        user_id: Option<&str>,
        label: &str,
    ) -> Result<IssuedToken, AuthError> {
        let secret = generate_secret()?;
        let id = uuid::Uuid::new_v4().to_string();
        api_tokens::ActiveModel {
            id: Set(id.clone()),
            token_hash: Set(hash_secret(&secret)),
            role: Set(role.as_str().to_owned()),
            user_id: Set(user_id.map(str::to_owned)),
            label: Set(label.to_owned()),
            created_at: Set(now()),
            last_used_at: Set(None),
            revoked_at: Set(None),
        }
        .insert(self.db)
        .await?;
        Ok(IssuedToken { id, secret })
    }

    /// Resolves a presented secret to its principal.
    pub async fn verify(&self, secret: &str) -> Result<Principal, AuthError> {
        let secret = secret.trim();
        if secret.is_empty() {
            return Err(AuthError::Missing);
        }
        if !well_formed(secret) {
            return Err(AuthError::Malformed);
        }
        let row = api_tokens::Entity::find()
            .filter(api_tokens::Column::TokenHash.eq(hash_secret(secret)))
            .filter(api_tokens::Column::RevokedAt.is_null())
            .one(self.db)
            .await?
            .ok_or(AuthError::Invalid)?;
        let role = Role::parse(&row.role).ok_or(AuthError::Invalid)?;
        let principal = Principal {
            token_id: row.id.clone(),
            role,
            user_id: row.user_id.clone(),
        };
        // Record use at minute granularity: enough to spot stale tokens without a
        // write on every request.
        let stale = row
            .last_used_at
            .is_none_or(|t| now() - t > Duration::minutes(1));
        if stale {
            let mut active = row.into_active_model();
            active.last_used_at = Set(Some(now()));
            active.update(self.db).await?;
        }
        Ok(principal)
    }

    /// Verifies and requires `role`.
    pub async fn require(&self, secret: &str, role: Role) -> Result<Principal, AuthError> {
        let principal = self.verify(secret).await?;
        if principal.role != role {
            return Err(AuthError::WrongRole {
                needed: role,
                actual: principal.role,
            });
        }
        Ok(principal)
    }

    /// Revokes one token by id. Revoking a revoked token is not an error.
    pub async fn revoke(&self, id: &str) -> Result<(), AuthError> {
        let row = api_tokens::Entity::find_by_id(id.to_owned())
            .one(self.db)
            .await?
            .ok_or_else(|| AuthError::NotFound(id.to_owned()))?;
        if row.revoked_at.is_none() {
            let mut active = row.into_active_model();
            active.revoked_at = Set(Some(now()));
            active.update(self.db).await?;
        }
        Ok(())
    }

    /// Every token, newest first, without secrets.
    pub async fn list(&self) -> Result<Vec<TokenInfo>, AuthError> {
        let rows = api_tokens::Entity::find()
            .order_by_desc(api_tokens::Column::CreatedAt)
            .all(self.db)
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                Some(TokenInfo {
                    role: Role::parse(&r.role)?,
                    id: r.id,
                    user_id: r.user_id,
                    label: r.label,
                    created_at: r.created_at.to_rfc3339(),
                    last_used_at: r.last_used_at.map(|t| t.to_rfc3339()),
                    revoked_at: r.revoked_at.map(|t| t.to_rfc3339()),
                })
            })
            .collect())
    }

    /// Issues the first admin token when no live one exists; `None` otherwise.
    /// Gateways call this on start and print the secret once.
    pub async fn bootstrap_admin(&self) -> Result<Option<IssuedToken>, AuthError> {
        let live = api_tokens::Entity::find()
            .filter(api_tokens::Column::Role.eq(Role::Admin.as_str()))
            .filter(api_tokens::Column::RevokedAt.is_null())
            .one(self.db)
            .await?;
        match live {
            Some(_) => Ok(None),
            None => self.issue(Role::Admin, None, "bootstrap").await.map(Some),
        }
    }

    /// Revokes every live admin token and issues a new one.
    pub async fn rotate_admin(&self) -> Result<IssuedToken, AuthError> {
        let live = api_tokens::Entity::find()
            .filter(api_tokens::Column::Role.eq(Role::Admin.as_str()))
            .filter(api_tokens::Column::RevokedAt.is_null())
            .all(self.db)
            .await?;
        let issued = self.issue(Role::Admin, None, "rotated").await?;
        for row in live {
            let mut active = row.into_active_model();
            active.revoked_at = Set(Some(now()));
            active.update(self.db).await?;
        }
        Ok(issued)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_random_and_well_formed() {
        let a = generate_secret().unwrap();
        let b = generate_secret().unwrap();
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_ne!(a, b);
        assert!(well_formed(&a));
        assert!(!well_formed("mosaic_short"));
        assert!(!well_formed(&a.replace(TOKEN_PREFIX, "other_")));
        assert_eq!(hash_secret("x").len(), 64);
        assert_ne!(hash_secret(&a), hash_secret(&b));
    }
}
