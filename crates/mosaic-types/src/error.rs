//! The error envelope every Mosaic API answers with: `{"error":{"code","message"}}`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Machine-readable error codes. The HTTP status each one travels with is fixed
/// by [`ErrorCode::http_status`], so server and client agree on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: the request itself is malformed (bad limit, bad cursor, empty id…).
    InvalidRequest,
    /// 401: no usable identity was presented (e.g. a certificate without Mosaic OIDs).
    Unauthorized,
    /// 403: the identity is known but may not do this (revoked grant, inactive peer).
    Forbidden,
    /// 403: the grant's scope does not cover the request.
    ScopeViolation,
    /// 404: nothing with that id is visible.
    NotFound,
    /// 405: the route exists but does not take that method.
    MethodNotAllowed,
    /// 409: the request conflicts with current state.
    Conflict,
    /// 413: the request body is larger than the server accepts.
    PayloadTooLarge,
    /// 429: too many requests; retry later.
    RateLimited,
    /// 500: the server failed; nothing about the request was wrong.
    Internal,
    /// 503: a dependency (e.g. storage) is unavailable.
    Unavailable,
}

impl ErrorCode {
    /// The HTTP status code this error is sent with.
    pub const fn http_status(self) -> u16 {
        match self {
            Self::InvalidRequest => 400,
            Self::Unauthorized => 401,
            Self::Forbidden | Self::ScopeViolation => 403,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::Conflict => 409,
            Self::PayloadTooLarge => 413,
            Self::RateLimited => 429,
            Self::Internal => 500,
            Self::Unavailable => 503,
        }
    }

    /// The code as it appears on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::ScopeViolation => "scope_violation",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Conflict => "conflict",
            Self::PayloadTooLarge => "payload_too_large",
            Self::RateLimited => "rate_limited",
            Self::Internal => "internal",
            Self::Unavailable => "unavailable",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The inner object of the envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Machine-readable code.
    pub code: ErrorCode,
    /// Human-readable message; stable for the messages the seed fixes.
    pub message: String,
    /// Optional structured context. Omitted from the wire when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

/// `{"error": {...}}`: the body of every non-2xx answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    /// The error.
    pub error: ErrorBody,
}

impl ErrorEnvelope {
    /// An envelope without details.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            error: ErrorBody {
                code,
                message: message.into(),
                details: None,
            },
        }
    }

    /// Attaches structured details.
    #[must_use]
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.error.details = Some(details);
        self
    }
}

impl fmt::Display for ErrorEnvelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error.code, self.error.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn envelope_matches_the_seed_wire_shape() {
        // Literals from the seed's guard and controller tests.
        for (literal, code, status) in [
            (
                json!({"error": {"code": "unauthorized", "message": "Federation context missing"}}),
                ErrorCode::Unauthorized,
                401,
            ),
            (
                json!({"error": {"code": "forbidden", "message": "Federation access denied"}}),
                ErrorCode::Forbidden,
                403,
            ),
            (
                json!({"error": {"code": "scope_violation", "message": "Requested federation resource is not supported"}}),
                ErrorCode::ScopeViolation,
                403,
            ),
            (
                json!({"error": {"code": "invalid_request", "message": "Federation list limit must be a positive integer"}}),
                ErrorCode::InvalidRequest,
                400,
            ),
            (
                json!({"error": {"code": "not_found", "message": "Requested federation resource was not found"}}),
                ErrorCode::NotFound,
                404,
            ),
        ] {
            let parsed: ErrorEnvelope = serde_json::from_value(literal.clone()).unwrap();
            assert_eq!(parsed.error.code, code);
            assert_eq!(code.http_status(), status);
            assert_eq!(serde_json::to_value(&parsed).unwrap(), literal);
        }
    }

    #[test]
    fn details_are_carried_when_present() {
        let env = ErrorEnvelope::new(ErrorCode::InvalidRequest, "bad")
            .with_details(json!({"requestedLimit": 0}));
        assert_eq!(
            serde_json::to_value(&env).unwrap(),
            json!({"error": {"code": "invalid_request", "message": "bad", "details": {"requestedLimit": 0}}})
        );
    }

    #[test]
    fn every_code_round_trips_by_its_wire_name() {
        for code in [
            ErrorCode::InvalidRequest,
            ErrorCode::Unauthorized,
            ErrorCode::Forbidden,
            ErrorCode::ScopeViolation,
            ErrorCode::NotFound,
            ErrorCode::MethodNotAllowed,
            ErrorCode::Conflict,
            ErrorCode::PayloadTooLarge,
            ErrorCode::RateLimited,
            ErrorCode::Internal,
            ErrorCode::Unavailable,
        ] {
            let wire = serde_json::to_value(code).unwrap();
            assert_eq!(wire, json!(code.as_str()));
            assert_eq!(serde_json::from_value::<ErrorCode>(wire).unwrap(), code);
        }
    }
}
