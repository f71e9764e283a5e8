//! [`ApiError`]: the one error type of the gateway's HTTP edge.
//!
//! Handlers return `Result<T, ApiError>` and use `?` on library errors; each
//! library error converts here, once, into an [`ErrorCode`] and a message. The
//! HTTP status of a code is decided by [`ErrorCode::http_status`] and nowhere
//! else, and every error leaves as the envelope
//! `{"error":{"code","message","details?"}}`.
//!
//! Failures that are the server's (storage, randomness, a corrupt row) are
//! logged here with their cause and reach the client as `internal` with a
//! message that names what failed but never leaks internals.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use mosaic_auth::AuthError;
use mosaic_backlog::BacklogError;
use mosaic_federation::audit::AuditError;
use mosaic_federation::verbs::VerbError;
use mosaic_grants::GrantsError;
use mosaic_identity::enrollment::EnrollError;
use mosaic_identity::instance::InstanceError;
use mosaic_native::NativeError;
use mosaic_nodes::registry::RegistryError;
use mosaic_store::sea_orm::DbErr;
use mosaic_types::{ErrorCode, ErrorEnvelope};
use std::fmt;

/// An error answer: a code, a message for people, optional details, and
/// for a `rate_limited` answer the wait it asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    envelope: ErrorEnvelope,
    /// Seconds for `Retry-After`.
    retry_after: Option<u64>,
}

impl ApiError {
    /// An error with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            envelope: ErrorEnvelope::new(code, message),
            retry_after: None,
        }
    }

    /// Asks the client to wait `wait` before retrying: `Retry-After` in
    /// whole seconds, rounded up, at least 1.
    #[must_use]
    pub fn with_retry_after(mut self, wait: std::time::Duration) -> Self {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        self.retry_after = Some(secs.max(1));
        self
    }

    /// The `Retry-After` seconds, when set.
    pub fn retry_after(&self) -> Option<u64> {
        self.retry_after
    }

    /// `invalid_request`: the request is malformed; `message` says which part.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    /// `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    /// `conflict`.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }

    /// `unavailable`.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unavailable, message)
    }

    /// `internal`: logs `cause` under `what` and answers with `what` only.
    pub fn internal(what: &str, cause: &dyn fmt::Display) -> Self {
        tracing::error!(error = %cause, "{what}");
        Self::new(ErrorCode::Internal, what)
    }

    /// Attaches structured details to the envelope.
    #[must_use]
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.envelope = self.envelope.with_details(details);
        self
    }

    /// The code.
    pub fn code(&self) -> ErrorCode {
        self.envelope.error.code
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.envelope.error.message
    }

    /// The envelope as sent.
    pub fn envelope(&self) -> &ErrorEnvelope {
        &self.envelope
    }

    /// The HTTP status the code travels with.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.code().http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.envelope.fmt(f)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = self.code();
        let retry_after = self.retry_after;
        let mut response = (self.status(), Json(self.envelope)).into_response();
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        // Layers outside the handler (the federation audit) read the code
        // without parsing the body.
        response.extensions_mut().insert(code);
        response
    }
}

impl From<ErrorEnvelope> for ApiError {
    fn from(envelope: ErrorEnvelope) -> Self {
        Self {
            envelope,
            retry_after: None,
        }
    }
}

impl From<DbErr> for ApiError {
    fn from(e: DbErr) -> Self {
        Self::internal("storage failed", &e)
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        let code = match &e {
            AuthError::Missing | AuthError::Malformed | AuthError::Invalid => {
                ErrorCode::Unauthorized
            }
            AuthError::WrongRole { .. } => ErrorCode::Forbidden,
            AuthError::NotFound(_) => ErrorCode::NotFound,
            AuthError::Random | AuthError::Db(_) => {
                return Self::internal("token check failed", &e);
            }
        };
        Self::new(code, e.to_string())
    }
}

impl From<NativeError> for ApiError {
    fn from(e: NativeError) -> Self {
        let code = match &e {
            NativeError::Invalid { .. } => ErrorCode::InvalidRequest,
            NativeError::NotFound { .. } => ErrorCode::NotFound,
            NativeError::Duplicate { .. } => ErrorCode::Conflict,
            NativeError::Forbidden(_) => ErrorCode::Forbidden,
            NativeError::Db(_) => return Self::internal("storage failed", &e),
        };
        Self::new(code, e.to_string())
    }
}

impl From<BacklogError> for ApiError {
    fn from(e: BacklogError) -> Self {
        let code = backlog_code(&e);
        if code == ErrorCode::Internal {
            return Self::internal("backlog operation failed", &e);
        }
        Self::new(code, e.to_string())
    }
}

/// The code each backlog error travels with.
pub(crate) fn backlog_code(err: &BacklogError) -> ErrorCode {
    match err {
        BacklogError::Invalid(_)
        | BacklogError::SelfDependency { .. }
        | BacklogError::Cycle { .. } => ErrorCode::InvalidRequest,
        BacklogError::NotFound { .. } | BacklogError::DependencyNotFound { .. } => {
            ErrorCode::NotFound
        }
        BacklogError::DuplicateId { .. }
        | BacklogError::WrongOwner { .. }
        | BacklogError::WrongStatus { .. } => ErrorCode::Conflict,
        BacklogError::Corrupt { .. } | BacklogError::Db(_) => ErrorCode::Internal,
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        let code = match &e {
            RegistryError::NotFound { .. } => ErrorCode::NotFound,
            RegistryError::Conflict(_) => ErrorCode::Conflict,
            RegistryError::Invalid(_) => ErrorCode::InvalidRequest,
            RegistryError::InviteRefused | RegistryError::CredentialRefused => {
                ErrorCode::Unauthorized
            }
            RegistryError::Random(_) | RegistryError::Db(_) => {
                return Self::internal("node registry failure; see the gateway's log", &e);
            }
        };
        Self::new(code, e.to_string())
    }
}

impl From<VerbError> for ApiError {
    fn from(e: VerbError) -> Self {
        Self::from(e.envelope)
    }
}

impl From<EnrollError> for ApiError {
    fn from(e: EnrollError) -> Self {
        use EnrollError as E;
        let code = match &e {
            E::MalformedToken | E::UnknownToken | E::TokenUsed { .. } | E::TokenExpired { .. } => {
                ErrorCode::Unauthorized
            }
            E::GrantNotFound(_) | E::GrantNotActive { .. } | E::PeerNotFound(_) => {
                ErrorCode::Forbidden
            }
            E::Csr(_) | E::BadTtl(_) => ErrorCode::InvalidRequest,
            E::Ca(_) | E::BadStoredId(_) | E::Random | E::Db(_) => {
                return Self::internal("enrollment failed", &e);
            }
        };
        Self::new(code, e.to_string())
    }
}

impl From<GrantsError> for ApiError {
    fn from(e: GrantsError) -> Self {
        match e.code() {
            ErrorCode::Internal => match &e {
                GrantsError::Db(_) => Self::internal("storage failed", &e),
                _ => Self::internal(
                    "federation administration failed; see the gateway's log",
                    &e,
                ),
            },
            code => Self::new(code, e.to_string()),
        }
    }
}

impl From<AuditError> for ApiError {
    fn from(e: AuditError) -> Self {
        match e.code() {
            ErrorCode::Internal => Self::internal("reading the federation audit log failed", &e),
            code => Self::new(code, e.to_string()),
        }
    }
}

impl From<InstanceError> for ApiError {
    fn from(e: InstanceError) -> Self {
        match &e {
            InstanceError::NotInitialised => Self::unavailable(e.to_string()),
            _ => Self::internal("instance identity failed", &e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_error_renders_as_the_envelope_with_its_codes_status() {
        let response = ApiError::conflict("busy")
            .with_details(serde_json::json!({"card": "c1"}))
            .into_response();
        assert_eq!(response.status(), StatusCode::CONFLICT);
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"error": {"code": "conflict", "message": "busy", "details": {"card": "c1"}}})
        );
    }

    #[test]
    fn a_wait_is_sent_as_retry_after_in_whole_seconds() {
        for (wait, header) in [
            (std::time::Duration::from_millis(29_100), "30"),
            (std::time::Duration::from_secs(30), "30"),
            (std::time::Duration::ZERO, "1"),
        ] {
            let response = ApiError::new(ErrorCode::RateLimited, "slow down")
                .with_retry_after(wait)
                .into_response();
            assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
            assert_eq!(
                response.headers()[axum::http::header::RETRY_AFTER],
                header,
                "{wait:?}"
            );
        }
        let plain = ApiError::new(ErrorCode::RateLimited, "slow down").into_response();
        assert!(
            !plain
                .headers()
                .contains_key(axum::http::header::RETRY_AFTER)
        );
    }

    #[test]
    fn library_errors_map_to_the_codes_clients_act_on() {
        let id = mosaic_backlog::CardId::new("c").unwrap();
        let owner = mosaic_backlog::Owner::new("w").unwrap();
        for (err, code) in [
            (
                BacklogError::NotFound { id: id.clone() },
                ErrorCode::NotFound,
            ),
            (
                BacklogError::WrongOwner {
                    id: id.clone(),
                    owner,
                    holder: None,
                },
                ErrorCode::Conflict,
            ),
            (
                BacklogError::SelfDependency { id: id.clone() },
                ErrorCode::InvalidRequest,
            ),
            (BacklogError::DuplicateId { id }, ErrorCode::Conflict),
        ] {
            assert_eq!(ApiError::from(err).code(), code);
        }
        assert_eq!(
            ApiError::from(AuthError::Missing).code(),
            ErrorCode::Unauthorized
        );
        assert_eq!(
            ApiError::from(AuthError::WrongRole {
                needed: mosaic_auth::Role::Admin,
                actual: mosaic_auth::Role::User,
            })
            .code(),
            ErrorCode::Forbidden
        );
        assert_eq!(
            ApiError::from(RegistryError::CredentialRefused).code(),
            ErrorCode::Unauthorized
        );
        assert_eq!(
            ApiError::from(GrantsError::invalid(
                "token_ttl_hours",
                "must be between 1 and 720 (got 0)"
            )),
            ApiError::invalid("token_ttl_hours: must be between 1 and 720 (got 0)")
        );
        assert_eq!(
            ApiError::from(GrantsError::Conflict("grant `g` is revoked".into())).code(),
            ErrorCode::Conflict
        );
        let corrupt = ApiError::from(GrantsError::CorruptRow {
            table: "federation_peers",
            id: "p".into(),
            message: "unknown peer state `x`".into(),
        });
        assert_eq!(corrupt.code(), ErrorCode::Internal);
        assert!(!corrupt.message().contains("unknown"), "{corrupt}");
        let internal = ApiError::from(DbErr::Custom("disk on fire".into()));
        assert_eq!(internal.code(), ErrorCode::Internal);
        assert!(!internal.message().contains("fire"), "{internal}");
    }
}
