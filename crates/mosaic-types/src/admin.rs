//! The federation admin API's answers (`/api/admin/v1/federation/…` and the
//! user-token route): peers, grants, enrollment codes, issued tokens and the
//! federation audit log.
//!
//! These are what an admin sees, never secrets at rest: a peer's sealed key is
//! not part of [`PeerView`]. Timestamps travel as RFC 3339 in UTC with
//! milliseconds (`2026-11-22T10:00:00.000Z`); any RFC 3339 form is accepted
//! when reading. Absent optional values are sent as `null`.
//!
//! ```
//! use mosaic_types::admin::{PeerDirection, PeerView};
//! use mosaic_types::PeerState;
//!
//! let peer: PeerView = serde_json::from_value(serde_json::json!({
//!     "id": "p1", "common_name": "work", "display_name": "work",
//!     "state": "active", "direction": "outbound",
//!     "endpoint_url": "https://work.example:7443", "local_user_id": "me",
//!     "cert_serial": "01ab", "cert_not_after": "2027-01-01T00:00:00.000Z"
//! })).unwrap();
//! assert_eq!(peer.state, PeerState::Active);
//! assert_eq!(peer.direction, PeerDirection::Outbound);
//! ```

use crate::{
    AuditId, ErrorCode, FederationRefusal, GrantId, GrantStatus, PeerId, PeerState, UserId,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Which way a peer reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeerDirection {
    /// A gateway that reads from us through a grant we gave it.
    Inbound,
    /// A gateway we read from through a grant it gave us.
    Outbound,
}

impl PeerDirection {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Inbound => "inbound",
            Self::Outbound => "outbound",
        }
    }
}

impl fmt::Display for PeerDirection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A peer gateway as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerView {
    /// Its id here.
    pub id: PeerId,
    /// Its name: the certificate common name for inbound peers, the name
    /// chosen at enrollment for outbound ones.
    pub common_name: String,
    /// A name for people.
    pub display_name: String,
    /// Where it is in its life.
    pub state: PeerState,
    /// Why an outbound peer is `refused`: what it answered when it refused
    /// our grant. `null` otherwise (and when read from an older gateway).
    #[serde(default)]
    pub refusal: Option<FederationRefusal>,
    /// Which way it reads.
    pub direction: PeerDirection,
    /// Its federation address (outbound peers).
    pub endpoint_url: Option<String>,
    /// The local user whose queries use its grant (outbound peers).
    pub local_user_id: Option<UserId>,
    /// Serial of its certificate; empty until it has one.
    pub cert_serial: String,
    /// When its certificate expires.
    #[serde(with = "millis")]
    pub cert_not_after: DateTime<Utc>,
}

/// A grant this gateway gave a peer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GrantView {
    /// The grant.
    pub id: GrantId,
    /// The peer it was given to.
    pub peer_id: PeerId,
    /// The peer's name, where the answer carries it (lists and creation).
    pub peer: Option<String>,
    /// The local user whose access it lends.
    pub subject_user_id: UserId,
    /// Active or revoked.
    pub status: GrantStatus,
    /// What it allows, as given (see `mosaic-scope`).
    pub scope: serde_json::Value,
    /// When it stops working, if ever.
    #[serde(with = "millis::option")]
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    #[serde(with = "millis::option")]
    pub revoked_at: Option<DateTime<Utc>>,
    /// Why it was revoked.
    pub revoked_reason: Option<String>,
    /// When it was made.
    #[serde(with = "millis")]
    pub created_at: DateTime<Utc>,
}

/// A one-time enrollment code for a grant, and the CA pin it carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrollmentCodeView {
    /// The code to give the peer's admin: token plus this gateway's CA pin.
    pub enrollment_code: String,
    /// Until when it can be used.
    #[serde(with = "millis")]
    pub enrollment_expires_at: DateTime<Utc>,
    /// SHA-256 of this gateway's CA certificate.
    pub ca_fingerprint: String,
}

/// The answer to creating a grant: the grant and its first enrollment code,
/// side by side: `{"grant": {…}, "enrollment_code", "enrollment_expires_at",
/// "ca_fingerprint"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatedGrant {
    /// The new grant.
    pub grant: GrantView,
    /// Its enrollment code.
    #[serde(flatten)]
    pub enrollment: EnrollmentCodeView,
}

/// The answer to enrolling with another gateway: the outbound peer made here
/// and what the other gateway granted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrolledPeer {
    /// The new outbound peer.
    pub peer: PeerView,
    /// The grant's id on the other gateway.
    pub remote_grant_id: GrantId,
    /// Whose access the grant lends, on the other gateway.
    pub remote_subject_user_id: UserId,
}

/// A token issued to act as a user; the secret appears in this answer only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedUserToken {
    /// The token's record id (for listing and revoking).
    pub id: String,
    /// The user it acts as.
    pub user_id: UserId,
    /// The secret, `mosaic_…`.
    pub token: String,
}

/// What a federation request asked for, as the audit log records it: a verb,
/// one of the two onboarding routes, or `other` for a path the listener does
/// not serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditVerb {
    /// `POST /api/federation/v1/list/{resource}`.
    List,
    /// `POST /api/federation/v1/get/{resource}/{id}`.
    Get,
    /// `POST /api/federation/v1/search/{resource}`.
    Search,
    /// `GET /api/federation/v1/capabilities`.
    Capabilities,
    /// `GET /api/federation/v1/ca`.
    Ca,
    /// `POST /api/federation/v1/enroll`.
    Enroll,
    /// Any other path.
    Other,
}

impl AuditVerb {
    /// Every value, in wire order.
    pub const ALL: [Self; 7] = [
        Self::List,
        Self::Get,
        Self::Search,
        Self::Capabilities,
        Self::Ca,
        Self::Enroll,
        Self::Other,
    ];

    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::List => "list",
            Self::Get => "get",
            Self::Search => "search",
            Self::Capabilities => "capabilities",
            Self::Ca => "ca",
            Self::Enroll => "enroll",
            Self::Other => "other",
        }
    }
}

impl fmt::Display for AuditVerb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not an [`AuditVerb`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown audit verb `{0}` (expected list, get, search, capabilities, ca, enroll or other)")]
pub struct UnknownAuditVerb(pub String);

impl FromStr for AuditVerb {
    type Err = UnknownAuditVerb;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| UnknownAuditVerb(s.to_owned()))
    }
}

/// One request a peer made to this gateway's federation listener, allowed or
/// refused (`GET /api/admin/v1/federation/audit`). Unlike the rest of this
/// module its members are camelCase; absent values are `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntryView {
    /// The row.
    pub id: AuditId,
    /// When the request arrived.
    #[serde(with = "millis")]
    pub occurred_at: DateTime<Utc>,
    /// The peer, once its certificate named one.
    pub peer_id: Option<PeerId>,
    /// The grant the certificate claimed.
    pub grant_id: Option<GrantId>,
    /// The local user the grant lends.
    pub subject_user_id: Option<UserId>,
    /// What was asked.
    pub verb: AuditVerb,
    /// The resource named in the path.
    pub resource: Option<String>,
    /// The item id of a `get`, the words of a `search` (at most 256
    /// characters).
    pub target: Option<String>,
    /// The HTTP status answered.
    pub status: u16,
    /// The error envelope's code, when the answer was an error.
    pub error_code: Option<ErrorCode>,
    /// Rows the answer carried.
    pub rows: Option<u32>,
    /// Time to the response head, in milliseconds.
    pub latency_ms: f64,
    /// Serial of the client certificate presented (uppercase hex).
    pub cert_serial: Option<String>,
    /// The W3C trace id, from the request's `traceparent` or made here.
    pub trace_id: String,
    /// The address the request came from.
    pub remote_addr: Option<String>,
}

/// One page of the federation audit log, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    /// The entries.
    pub items: Vec<AuditEntryView>,
    /// Where the next page starts; omitted on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Timestamps as the admin API writes them: RFC 3339, UTC, milliseconds,
/// `Z` (`2026-11-22T10:00:00.000Z`). Reading accepts any RFC 3339 form.
///
/// Use with `#[serde(with = "mosaic_types::admin::millis")]`, or
/// `millis::option` for an `Option`.
pub mod millis {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    /// The wire form of `t`.
    pub fn format(t: &DateTime<Utc>) -> String {
        t.to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    fn parse<E: serde::de::Error>(s: &str) -> Result<DateTime<Utc>, E> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| E::custom(format_args!("`{s}` is not an RFC 3339 time: {e}")))
    }

    /// Serializes as RFC 3339 with milliseconds.
    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(t))
    }

    /// Deserializes any RFC 3339 time.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        parse(&s)
    }

    /// The same for `Option<DateTime<Utc>>`; `None` is `null`.
    pub mod option {
        use chrono::{DateTime, Utc};
        use serde::{Deserialize, Deserializer, Serializer};

        /// Serializes `Some` as RFC 3339 with milliseconds, `None` as `null`.
        pub fn serialize<S: Serializer>(
            t: &Option<DateTime<Utc>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.serialize_str(&super::format(t)),
                None => s.serialize_none(),
            }
        }

        /// Deserializes `null` or any RFC 3339 time.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<DateTime<Utc>>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|s| super::parse(&s))
                .transpose()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::DeserializeOwned;
    use serde_json::{Value, json};

    /// Reads `literal`, checks it, and writes it back unchanged.
    fn round_trip<T: Serialize + DeserializeOwned>(literal: Value) -> T {
        let typed: T = serde_json::from_value(literal.clone()).unwrap();
        assert_eq!(serde_json::to_value(&typed).unwrap(), literal);
        typed
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn peer_json() -> Value {
        json!({
            "id": "0b7e6a38-5d1c-4a8e-9d55-2f8f6c1e0a11",
            "common_name": "home",
            "display_name": "home",
            "state": "pending",
            "refusal": null,
            "direction": "inbound",
            "endpoint_url": null,
            "local_user_id": null,
            "cert_serial": "",
            "cert_not_after": "2026-11-22T10:00:00.123Z"
        })
    }

    fn grant_json() -> Value {
        json!({
            "id": "7c0d2f4e-1a2b-4c3d-8e9f-0a1b2c3d4e5f",
            "peer_id": "0b7e6a38-5d1c-4a8e-9d55-2f8f6c1e0a11",
            "peer": "home",
            "subject_user_id": "alice",
            "status": "active",
            "scope": {"resources": ["tasks"], "max_rows_per_query": 100},
            "expires_at": "2026-12-22T10:00:00.000Z",
            "revoked_at": null,
            "revoked_reason": null,
            "created_at": "2026-11-22T10:00:00.000Z"
        })
    }

    #[test]
    fn peer_view_keeps_the_admin_api_shape() {
        let p: PeerView = round_trip(peer_json());
        assert_eq!(p.state, PeerState::Pending);
        assert_eq!(p.direction, PeerDirection::Inbound);
        assert_eq!(p.cert_not_after, at("2026-11-22T10:00:00.123Z"));
        let mut outbound = peer_json();
        outbound["direction"] = json!("outbound");
        outbound["state"] = json!("suspended");
        outbound["endpoint_url"] = json!("https://127.0.0.1:7544");
        outbound["local_user_id"] = json!("me");
        let p: PeerView = round_trip(outbound.clone());
        assert_eq!(p.local_user_id, Some(UserId::new("me").unwrap()));
        outbound["state"] = json!("refused");
        outbound["refusal"] = json!("grant_revoked");
        let p: PeerView = round_trip(outbound);
        assert_eq!(
            (p.state, p.refusal),
            (PeerState::Refused, Some(FederationRefusal::GrantRevoked))
        );
    }

    #[test]
    fn grant_view_keeps_the_admin_api_shape() {
        let g: GrantView = round_trip(grant_json());
        assert_eq!(g.status, GrantStatus::Active);
        assert_eq!(g.expires_at, Some(at("2026-12-22T10:00:00Z")));
        let mut revoked = grant_json();
        revoked["peer"] = Value::Null;
        revoked["status"] = json!("revoked");
        revoked["expires_at"] = Value::Null;
        revoked["revoked_at"] = json!("2026-11-23T08:30:00.500Z");
        revoked["revoked_reason"] = json!("quickstart done");
        let g: GrantView = round_trip(revoked);
        assert_eq!(g.status, GrantStatus::Revoked);
        assert_eq!(g.peer, None);
    }

    #[test]
    fn created_grant_puts_the_code_beside_the_grant() {
        let c: CreatedGrant = round_trip(json!({
            "grant": grant_json(),
            "enrollment_code": "mosaic-enroll:abc.def",
            "enrollment_expires_at": "2026-11-23T10:00:00.000Z",
            "ca_fingerprint": "ab:cd"
        }));
        assert_eq!(c.enrollment.enrollment_code, "mosaic-enroll:abc.def");
        assert_eq!(c.grant.peer.as_deref(), Some("home"));
    }

    #[test]
    fn enrollment_code_view_keeps_the_new_token_shape() {
        let e: EnrollmentCodeView = round_trip(json!({
            "enrollment_code": "mosaic-enroll:abc.def",
            "enrollment_expires_at": "2026-11-23T10:00:00.000Z",
            "ca_fingerprint": "ab:cd"
        }));
        assert_eq!(e.enrollment_expires_at, at("2026-11-23T10:00:00Z"));
    }

    #[test]
    fn enrolled_peer_names_the_remote_grant() {
        let mut peer = peer_json();
        peer["direction"] = json!("outbound");
        peer["state"] = json!("active");
        let e: EnrolledPeer = round_trip(json!({
            "peer": peer,
            "remote_grant_id": "g-remote",
            "remote_subject_user_id": "alice"
        }));
        assert_eq!(e.remote_grant_id.as_str(), "g-remote");
        assert_eq!(e.peer.direction, PeerDirection::Outbound);
    }

    #[test]
    fn issued_user_token_keeps_its_shape() {
        let t: IssuedUserToken = round_trip(json!({
            "id": "tok-1",
            "user_id": "alice",
            "token": "mosaic_secret"
        }));
        assert_eq!(t.user_id.as_str(), "alice");
    }

    fn audit_entry_json() -> Value {
        json!({
            "id": "0f9b0c6e2f7d4a51b1d1c9a2e3f40001",
            "occurredAt": "2026-12-02T09:15:00.042Z",
            "peerId": "0b7e6a38-5d1c-4a8e-9d55-2f8f6c1e0a11",
            "grantId": "7c0d2f4e-1a2b-4c3d-8e9f-0a1b2c3d4e5f",
            "subjectUserId": "alice",
            "verb": "list",
            "resource": "tasks",
            "target": null,
            "status": 200,
            "errorCode": null,
            "rows": 12,
            "latencyMs": 3.25,
            "certSerial": "01AB",
            "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
            "remoteAddr": "127.0.0.1:50412"
        })
    }

    #[test]
    fn audit_page_keeps_its_shape() {
        let page: AuditPage = round_trip(json!({
            "items": [audit_entry_json()],
            "nextCursor": "eyJvY2N1cnJlZEF0Ijoi"
        }));
        let e = &page.items[0];
        assert_eq!(e.verb, AuditVerb::List);
        assert_eq!(e.rows, Some(12));
        assert_eq!(e.occurred_at, at("2026-12-02T09:15:00.042Z"));

        // A refusal: no peer known, the code; the last page has no cursor.
        let mut denied = audit_entry_json();
        for key in ["peerId", "grantId", "subjectUserId", "rows", "resource"] {
            denied[key] = Value::Null;
        }
        denied["verb"] = json!("other");
        denied["status"] = json!(403);
        denied["errorCode"] = json!("scope_violation");
        let page: AuditPage = round_trip(json!({"items": [denied]}));
        assert_eq!(page.next_cursor, None);
        assert_eq!(page.items[0].error_code, Some(ErrorCode::ScopeViolation));
        assert_eq!(page.items[0].peer_id, None);
    }

    #[test]
    fn audit_verbs_read_and_write_their_wire_names() {
        for verb in AuditVerb::ALL {
            assert_eq!(verb.as_str().parse::<AuditVerb>(), Ok(verb));
            assert_eq!(serde_json::to_value(verb).unwrap(), json!(verb.as_str()));
        }
        assert_eq!(
            "delete".parse::<AuditVerb>(),
            Err(UnknownAuditVerb("delete".into()))
        );
        let mut bad = audit_entry_json();
        bad["verb"] = json!("delete");
        assert!(serde_json::from_value::<AuditEntryView>(bad).is_err());
    }

    #[test]
    fn times_are_written_with_millis_and_read_in_any_rfc3339_form() {
        let mut g = grant_json();
        g["created_at"] = json!("2026-11-22T11:00:00+01:00");
        g["expires_at"] = json!("2026-12-22T10:00:00.5Z");
        let typed: GrantView = serde_json::from_value(g).unwrap();
        let back = serde_json::to_value(&typed).unwrap();
        assert_eq!(back["created_at"], "2026-11-22T10:00:00.000Z");
        assert_eq!(back["expires_at"], "2026-12-22T10:00:00.500Z");
    }

    #[test]
    fn bad_values_are_refused() {
        for (key, bad) in [
            ("state", json!("gone")),
            ("direction", json!("sideways")),
            ("cert_not_after", json!("yesterday")),
            ("id", json!("")),
        ] {
            let mut p = peer_json();
            p[key] = bad;
            assert!(serde_json::from_value::<PeerView>(p).is_err(), "{key}");
        }
        let mut g = grant_json();
        g["status"] = json!("paused");
        assert!(serde_json::from_value::<GrantView>(g).is_err());
    }
}
