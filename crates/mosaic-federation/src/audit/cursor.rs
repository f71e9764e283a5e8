//! The audit log's opaque cursor: base64url (no padding) of
//! `{"occurredAt":"<RFC 3339, ms, Z>","id":"<id>"}`, the last row of a page.
//! Decoding treats it as hostile, like the federation list cursor: bounded
//! length, strict shape, one error for every way it can be wrong.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

/// Longest cursor accepted. A real one is about 100 bytes.
pub const MAX_CURSOR_LEN: usize = 512;

/// A position in the newest-first listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCursor {
    /// The row's time, in milliseconds.
    pub occurred_at: DateTime<Utc>,
    /// The row's id (ties on time are broken by id, descending).
    pub id: String,
}

/// The cursor could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cursor: not a cursor this gateway gave out; start again without one")]
pub struct InvalidAuditCursor;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    #[serde(rename = "occurredAt")]
    occurred_at: String,
    id: String,
}

impl AuditCursor {
    /// The opaque string handed out.
    pub fn encode(&self) -> String {
        let wire = Wire {
            occurred_at: self
                .occurred_at
                .to_rfc3339_opts(SecondsFormat::Millis, true),
            id: self.id.clone(),
        };
        // Serializing a struct of two strings cannot fail.
        let json = serde_json::to_vec(&wire).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }

    /// Parses a cursor from a client.
    pub fn decode(raw: &str) -> Result<Self, InvalidAuditCursor> {
        if raw.is_empty() || raw.len() > MAX_CURSOR_LEN {
            return Err(InvalidAuditCursor);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(raw)
            .map_err(|_| InvalidAuditCursor)?;
        let wire: Wire = serde_json::from_slice(&bytes).map_err(|_| InvalidAuditCursor)?;
        if wire.id.is_empty() {
            return Err(InvalidAuditCursor);
        }
        let occurred_at = DateTime::parse_from_rfc3339(&wire.occurred_at)
            .map_err(|_| InvalidAuditCursor)?
            .with_timezone(&Utc);
        Ok(Self {
            occurred_at: occurred_at.trunc_subsecs(3),
            id: wire.id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-02T09:15:00.042Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn round_trips_as_the_documented_json() {
        let c = AuditCursor {
            occurred_at: at(),
            id: "abc".into(),
        };
        let encoded = c.encode();
        assert_eq!(AuditCursor::decode(&encoded), Ok(c));
        assert_eq!(
            String::from_utf8(URL_SAFE_NO_PAD.decode(encoded).unwrap()).unwrap(),
            r#"{"occurredAt":"2026-12-02T09:15:00.042Z","id":"abc"}"#
        );
    }

    #[test]
    fn garbage_is_refused_with_one_error() {
        let enc = |s: &str| URL_SAFE_NO_PAD.encode(s);
        for bad in [
            String::new(),
            "not a cursor".to_owned(),
            enc("[]"),
            enc(r#"{"occurredAt":"2026-12-02T09:15:00.042Z","id":""}"#),
            enc(r#"{"occurredAt":"soon","id":"x"}"#),
            enc(r#"{"occurredAt":"2026-12-02T09:15:00.042Z","id":"x","more":1}"#),
            // A federation list cursor is not an audit cursor.
            enc(r#"{"createdAt":"2026-12-02T09:15:00.042Z","id":"x"}"#),
            "A".repeat(MAX_CURSOR_LEN + 1),
        ] {
            assert_eq!(AuditCursor::decode(&bad), Err(InvalidAuditCursor), "{bad}");
        }
    }
}
