//! The client's one error type.

use mosaic_types::ErrorEnvelope;
use std::fmt;
use std::time::Duration;

/// What kind of failure, for programs to branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ClientErrorCode {
    /// The peer could not be reached (DNS, refused, TLS handshake failed).
    Network,
    /// The peer did not answer in time.
    Timeout,
    /// 400: the peer found our request malformed.
    InvalidRequest,
    /// 401: the peer did not accept our certificate's identity.
    Unauthorized,
    /// 403: the grant is revoked or does not cover the request.
    Forbidden,
    /// 404: no such row.
    NotFound,
    /// 429: slow down; see `retry_after`.
    RateLimited,
    /// 5xx: the peer failed.
    Server,
    /// The peer answered something that is not the federation protocol.
    InvalidResponse,
    /// Our own configuration is unusable (bad PEM, bad URL).
    Config,
    /// Enrollment: the peer's CA is not the one the enrollment code pins.
    CaMismatch,
}

impl fmt::Display for ClientErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Self::Network => "NETWORK",
            Self::Timeout => "TIMEOUT",
            Self::InvalidRequest => "INVALID_REQUEST",
            Self::Unauthorized => "UNAUTHORIZED",
            Self::Forbidden => "FORBIDDEN",
            Self::NotFound => "NOT_FOUND",
            Self::RateLimited => "RATE_LIMITED",
            Self::Server => "SERVER",
            Self::InvalidResponse => "INVALID_RESPONSE",
            Self::Config => "CONFIG",
            Self::CaMismatch => "CA_MISMATCH",
        };
        f.write_str(s)
    }
}

/// A failed call to a peer.
#[derive(Debug, Clone, thiserror::Error)]
#[error("peer {peer}: {code}: {message}")]
pub struct FederationClientError {
    /// What kind.
    pub code: ClientErrorCode,
    /// Human-readable: the peer's own message when it sent one.
    pub message: String,
    /// Which peer (its name or id).
    pub peer: String,
    /// HTTP status, when the peer answered.
    pub status: Option<u16>,
    /// The peer's error envelope, when it sent one.
    pub envelope: Option<Box<ErrorEnvelope>>,
    /// For `RATE_LIMITED`: how long the peer asked us to wait.
    pub retry_after: Option<Duration>,
}

impl FederationClientError {
    pub(crate) fn new(code: ClientErrorCode, peer: &str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            peer: peer.to_owned(),
            status: None,
            envelope: None,
            retry_after: None,
        }
    }

    /// The code for an HTTP status the peer answered with.
    pub fn code_for_status(status: u16) -> ClientErrorCode {
        match status {
            400 => ClientErrorCode::InvalidRequest,
            401 => ClientErrorCode::Unauthorized,
            403 => ClientErrorCode::Forbidden,
            404 => ClientErrorCode::NotFound,
            429 => ClientErrorCode::RateLimited,
            500..=599 => ClientErrorCode::Server,
            _ => ClientErrorCode::InvalidResponse,
        }
    }
}
