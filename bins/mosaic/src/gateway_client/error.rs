//! What can go wrong talking to a gateway, each as one line that names the
//! gateway.

use mosaic_types::{ErrorBody, ErrorCode, ErrorEnvelope};
use std::fmt;

/// A failed gateway call.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The client could not be set up: a bad `--gateway`, no token.
    #[error("{0}")]
    Setup(String),
    /// The config file (its `[client]` table) cannot be used.
    #[error("{0}")]
    Config(mosaic_config::ConfigError),
    /// No answer at all.
    #[error(
        "cannot reach the gateway at {gateway}: {reason} (is it running? set --gateway or MOSAIC_GATEWAY_URL)"
    )]
    Unreachable {
        /// The gateway, as given.
        gateway: String,
        /// Why, in a few words.
        reason: String,
    },
    /// A non-2xx answer.
    #[error("{0}")]
    Refused(Box<Refusal>),
    /// The answer broke off.
    #[error("reading the answer of the gateway at {gateway}: {reason}")]
    Read {
        /// The gateway, as given.
        gateway: String,
        /// Why.
        reason: String,
    },
    /// The answer is not what this command expects.
    #[error("the answer of the gateway at {gateway} is not the expected JSON: {reason}")]
    Decode {
        /// The gateway, as given.
        gateway: String,
        /// What did not fit.
        reason: String,
    },
}

impl From<mosaic_config::ConfigError> for GatewayError {
    fn from(err: mosaic_config::ConfigError) -> Self {
        Self::Config(err)
    }
}

impl GatewayError {
    /// A refusal.
    pub fn refused(r: Refusal) -> Self {
        Self::Refused(Box::new(r))
    }

    /// Replaces a refusal's hint with `hint(refusal)` when that gives one.
    #[must_use]
    pub fn with_hint(self, hint: impl FnOnce(&Refusal) -> Option<String>) -> Self {
        match self {
            Self::Refused(mut r) => {
                if let Some(h) = hint(&r) {
                    r.hint = Some(h);
                }
                Self::Refused(r)
            }
            other => other,
        }
    }
}

/// A gateway's error answer: its status, the envelope
/// `{"error":{"code","message","details?"}}` when it sent one (else the body
/// as text), and how to fix it when that is known.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    gateway: String,
    status: u16,
    envelope: Option<ErrorBody>,
    text: String,
    hint: Option<String>,
}

impl Refusal {
    /// Reads an error answer; the hint is the generic one for `status`.
    pub fn new(gateway: &str, status: u16, body: &[u8]) -> Self {
        let envelope = serde_json::from_slice::<ErrorEnvelope>(body)
            .ok()
            .map(|e| e.error);
        let text = String::from_utf8_lossy(body)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let hint = default_hint(status, envelope.is_some());
        Self {
            gateway: gateway.to_owned(),
            status,
            envelope,
            text,
            hint,
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Whether the body was the error envelope (a bare 404 comes from the
    /// router: no such endpoint).
    pub fn has_envelope(&self) -> bool {
        self.envelope.is_some()
    }

    /// The envelope's code.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn code(&self) -> Option<ErrorCode> {
        self.envelope.as_ref().map(|e| e.code)
    }
}

fn default_hint(status: u16, enveloped: bool) -> Option<String> {
    match status {
        401 => Some("check --token or MOSAIC_TOKEN".to_owned()),
        404 if !enveloped => Some(
            "this gateway has no such endpoint: it may be an older version, or --gateway points elsewhere"
                .to_owned(),
        ),
        // An enveloped 429 says which limit and how long to wait.
        429 if !enveloped => Some("too many requests: retry in a moment".to_owned()),
        _ => None,
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.status == 401 {
            "refused the token"
        } else {
            "refused"
        };
        write!(
            f,
            "the gateway at {} {what} ({}): ",
            self.gateway, self.status
        )?;
        match &self.envelope {
            Some(e) => write!(f, "{}: {}", e.code, one_line(&e.message))?,
            None if self.text.is_empty() => f.write_str("no details")?,
            None => f.write_str(&self.text)?,
        }
        match &self.hint {
            Some(h) => write!(f, "; {h}"),
            None => Ok(()),
        }
    }
}

fn one_line(s: &str) -> String {
    s.lines().map(str::trim).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const GW: &str = "http://127.0.0.1:7420";

    #[test]
    fn refusals_name_the_gateway_status_and_envelope() {
        let r = Refusal::new(
            GW,
            409,
            br#"{"error":{"code":"conflict","message":"A1 is claimed by w-1, not by w-2"}}"#,
        );
        assert_eq!(r.code(), Some(ErrorCode::Conflict));
        assert_eq!(
            r.to_string(),
            "the gateway at http://127.0.0.1:7420 refused (409): conflict: A1 is claimed by w-1, not by w-2"
        );
    }

    #[test]
    fn a_rate_limit_says_the_wait_the_gateway_gave() {
        let r = Refusal::new(
            GW,
            429,
            br#"{"error":{"code":"rate_limited","message":"peer work is rate limiting this grant (2 requests a minute, burst 1): retry in 30 s","details":{"retryAfterSeconds":30}}}"#,
        );
        assert_eq!(
            r.to_string(),
            "the gateway at http://127.0.0.1:7420 refused (429): rate_limited: peer work is rate limiting this grant (2 requests a minute, burst 1): retry in 30 s"
        );
        let bare = Refusal::new(GW, 429, b"");
        assert!(
            bare.to_string()
                .ends_with("no details; too many requests: retry in a moment")
        );
    }

    #[test]
    fn a_refused_token_says_so_and_what_to_check() {
        let r = Refusal::new(
            GW,
            401,
            br#"{"error":{"code":"unauthorized","message":"invalid token"}}"#,
        );
        assert_eq!(
            r.to_string(),
            "the gateway at http://127.0.0.1:7420 refused the token (401): unauthorized: invalid token; check --token or MOSAIC_TOKEN"
        );
    }

    #[test]
    fn text_bodies_stay_on_one_line_and_empty_ones_say_so() {
        let r = Refusal::new(GW, 422, b"Failed to deserialize\ninto the target type");
        assert_eq!(
            r.to_string(),
            "the gateway at http://127.0.0.1:7420 refused (422): Failed to deserialize into the target type"
        );
        let bare = Refusal::new(GW, 404, b"");
        assert!(!bare.has_envelope());
        assert!(
            bare.to_string()
                .contains("(404): no details; this gateway has no such endpoint")
        );
    }

    #[test]
    fn a_hint_can_be_replaced_by_the_caller() {
        let e = GatewayError::refused(Refusal::new(GW, 401, b""))
            .with_hint(|r| (r.status() == 401).then(|| "use a user token".to_owned()));
        assert!(
            e.to_string().ends_with("no details; use a user token"),
            "{e}"
        );
        let kept = GatewayError::refused(Refusal::new(GW, 401, b"")).with_hint(|_| None);
        assert!(kept.to_string().ends_with("check --token or MOSAIC_TOKEN"));
    }
}
