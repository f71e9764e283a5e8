//! The opaque cursors, base64url (no padding) of JSON:
//!
//! - a list's: `{"createdAt":"<RFC 3339, ms, Z>","id":"<id>","source"?:"insights"|"preferences"}`;
//! - a search's ([`SearchCursor`]): `{"resource":"tasks","query":"<16 hex>","score":"<16 hex>","id":"<id>","source"?:…}`,
//!   bound to the resource and the words it was issued for.
//!
//! The cursor comes from the peer, so decoding treats it as hostile: bounded
//! length, strict shape, and one error for every way it can be wrong.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use mosaic_types::FederationResource;
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

/// A position in a ranked search: the last row returned, the search it
/// belongs to, and the row's score (lower ranks first).
#[derive(Debug, Clone, PartialEq)]
pub struct SearchCursor {
    /// The resource searched.
    pub resource: FederationResource,
    /// The fingerprint of the search's words
    /// ([`SearchQuery::fingerprint`](crate::search_query::SearchQuery::fingerprint)).
    pub query: u64,
    /// The row's score, exactly (carried as its bits: a decimal rendering
    /// might not read back to the same number, and ties compare by equality).
    pub score: f64,
    /// The row's id (ties on score are broken by id, ascending bytes).
    pub id: String,
    /// For `memory`, which table the row is in.
    pub source: Option<MemorySource>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchWire {
    resource: FederationResource,
    query: String,
    score: String,
    id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source: Option<MemorySource>,
}

fn hex_u64(raw: &str) -> Result<u64, InvalidCursor> {
    if raw.len() != 16 {
        return Err(InvalidCursor);
    }
    u64::from_str_radix(raw, 16).map_err(|_| InvalidCursor)
}

impl SearchCursor {
    /// The opaque string handed to the caller.
    pub fn encode(&self) -> String {
        let wire = SearchWire {
            resource: self.resource,
            query: format!("{:016x}", self.query),
            score: format!("{:016x}", self.score.to_bits()),
            id: self.id.clone(),
            source: self.source,
        };
        // Serializing a struct of strings cannot fail.
        let json = serde_json::to_vec(&wire).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }

    /// Parses a cursor from a caller. Whether it belongs to the search at
    /// hand is the caller's check (`resource`, `query`).
    pub fn decode(raw: &str) -> Result<Self, InvalidCursor> {
        if raw.is_empty() || raw.len() > MAX_CURSOR_LEN {
            return Err(InvalidCursor);
        }
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| InvalidCursor)?;
        let wire: SearchWire = serde_json::from_slice(&bytes).map_err(|_| InvalidCursor)?;
        let score = f64::from_bits(hex_u64(&wire.score)?);
        if wire.id.is_empty() || !score.is_finite() {
            return Err(InvalidCursor);
        }
        // Only memory spans two tables.
        if (wire.resource == FederationResource::Memory) != wire.source.is_some() {
            return Err(InvalidCursor);
        }
        Ok(Self {
            resource: wire.resource,
            query: hex_u64(&wire.query)?,
            score,
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

    #[test]
    fn search_cursors_round_trip_exactly() {
        for (resource, source, score) in [
            (FederationResource::Tasks, None, -1.234_567_890_123_456_7e-6),
            (FederationResource::Notes, None, 0.0),
            (
                FederationResource::Memory,
                Some(MemorySource::Preferences),
                -0.1 - 0.2,
            ),
        ] {
            let c = SearchCursor {
                resource,
                query: 0xdead_beef_0000_0001,
                score,
                id: "row-1".into(),
                source,
            };
            let back = SearchCursor::decode(&c.encode()).unwrap();
            assert_eq!(back.score.to_bits(), score.to_bits());
            assert_eq!(back, c);
        }
    }

    #[test]
    fn search_cursor_garbage_and_list_cursors_are_refused() {
        let enc = |s: &str| URL_SAFE_NO_PAD.encode(s);
        let list = Cursor {
            created_at: at(),
            id: "x".into(),
            source: None,
        }
        .encode();
        let nan = format!("{:016x}", f64::NAN.to_bits());
        for bad in [
            list,
            String::new(),
            enc("{}"),
            enc(r#"{"resource":"tasks","query":"00","score":"0000000000000000","id":"x"}"#),
            enc(
                r#"{"resource":"tasks","query":"0000000000000000","score":"zz00000000000000","id":"x"}"#,
            ),
            enc(&format!(
                r#"{{"resource":"tasks","query":"0000000000000000","score":"{nan}","id":"x"}}"#
            )),
            enc(
                r#"{"resource":"tasks","query":"0000000000000000","score":"0000000000000000","id":""}"#,
            ),
            enc(
                r#"{"resource":"widgets","query":"0000000000000000","score":"0000000000000000","id":"x"}"#,
            ),
            enc(
                r#"{"resource":"memory","query":"0000000000000000","score":"0000000000000000","id":"x"}"#,
            ),
            enc(
                r#"{"resource":"tasks","query":"0000000000000000","score":"0000000000000000","id":"x","source":"insights"}"#,
            ),
            enc(
                r#"{"resource":"tasks","query":"0000000000000000","score":"0000000000000000","id":"x","extra":1}"#,
            ),
            "A".repeat(MAX_CURSOR_LEN + 1),
        ] {
            assert_eq!(SearchCursor::decode(&bad), Err(InvalidCursor), "{bad}");
        }
        // And a search cursor is not a list cursor.
        let search = SearchCursor {
            resource: FederationResource::Tasks,
            query: 1,
            score: -1.0,
            id: "x".into(),
            source: None,
        };
        assert_eq!(Cursor::decode(&search.encode()), Err(InvalidCursor));
    }
}
