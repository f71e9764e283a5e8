//! The opaque list cursor: base64url (no padding) of
//! `{"createdAt":"<RFC 3339, ms, Z>","id":"<id>","source"?:"insights"|"preferences"}`.
//!
//! The cursor comes from the peer, so decoding treats it as hostile: bounded
//! length, strict shape, and one error for every way it can be wrong.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

/// Longest cursor accepted. A real one is well under 200 bytes.
pub const MAX_CURSOR_LEN: usize = 1024;

/// Which memory table a cursor position is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemorySource {
    /// The `insights` block (listed first).
    Insights,
    /// The `preferences` block (listed second).
    Preferences,
}

/// A position in a newest-first listing: the last row returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The row's creation time, in milliseconds.
    pub created_at: DateTime<Utc>,
    /// The row's id (ties on time are broken by id, descending).
    pub id: String,
    /// For `memory`, which table the row is in.
    pub source: Option<MemorySource>,
}

/// The cursor could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Invalid federation list cursor")]
pub struct InvalidCursor;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    #[serde(rename = "createdAt")]
    created_at: String,
    id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source: Option<MemorySource>,
}

impl Cursor {
    /// The opaque string handed to the peer.
    pub fn encode(&self) -> String {
        let wire = Wire {
            created_at: self.created_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            id: self.id.clone(),
            source: self.source,
        };
        // Serializing a struct of strings cannot fail.
        let json = serde_json::to_vec(&wire).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }

    /// Parses a cursor from a peer.
    pub fn decode(raw: &str) -> Result<Self, InvalidCursor> {
        if raw.is_empty() || raw.len() > MAX_CURSOR_LEN {
            return Err(InvalidCursor);
        }
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| InvalidCursor)?;
        let wire: Wire = serde_json::from_slice(&bytes).map_err(|_| InvalidCursor)?;
        if wire.id.is_empty() {
            return Err(InvalidCursor);
        }
        let created_at = DateTime::parse_from_rfc3339(&wire.created_at)
            .map_err(|_| InvalidCursor)?
            .with_timezone(&Utc);
        Ok(Self {
            created_at: created_at.trunc_subsecs(3),
            id: wire.id,
            source: wire.source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 24, 5, 0, 0).unwrap() + chrono::Duration::milliseconds(7)
    }

    #[test]
    fn round_trips_with_and_without_source() {
        for source in [
            None,
            Some(MemorySource::Insights),
            Some(MemorySource::Preferences),
        ] {
            let c = Cursor {
                created_at: at(),
                id: "task-2".into(),
                source,
            };
            let encoded = c.encode();
            assert!(!encoded.contains('=') && !encoded.contains('+') && !encoded.contains('/'));
            assert_eq!(Cursor::decode(&encoded).unwrap(), c);
        }
    }

    #[test]
    fn wire_shape_is_the_documented_json() {
        let c = Cursor {
            created_at: at(),
            id: "x".into(),
            source: Some(MemorySource::Insights),
        };
        let json = URL_SAFE_NO_PAD.decode(c.encode()).unwrap();
        assert_eq!(
            String::from_utf8(json).unwrap(),
            r#"{"createdAt":"2026-06-24T05:00:00.007Z","id":"x","source":"insights"}"#
        );
    }

    #[test]
    fn garbage_is_refused_with_one_error() {
        let enc = |s: &str| URL_SAFE_NO_PAD.encode(s);
        for bad in [
            "not-base64-json".to_owned(),
            String::new(),
            "%%%".to_owned(),
            enc("[]"),
            enc("42"),
            enc(r#"{"createdAt":1,"id":"x"}"#),
            enc(r#"{"createdAt":"2026-06-24T05:00:00.000Z","id":""}"#),
            enc(r#"{"createdAt":"2026-06-24T05:00:00.000Z"}"#),
            enc(r#"{"createdAt":"yesterday","id":"x"}"#),
            enc(r#"{"createdAt":"2026-06-24T05:00:00.000Z","id":"x","source":"tasks"}"#),
            enc(r#"{"createdAt":"2026-06-24T05:00:00.000Z","id":"x","extra":1}"#),
            "A".repeat(MAX_CURSOR_LEN + 1),
        ] {
            assert_eq!(Cursor::decode(&bad), Err(InvalidCursor), "{bad}");
        }
    }
}
