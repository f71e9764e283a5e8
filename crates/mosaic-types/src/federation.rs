//! Federation resources, verbs and the bodies of the `list`, `get`,
//! `search` and `capabilities` verbs.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What a peer can ask a gateway for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FederationResource {
    /// Tasks in projects the subject can reach.
    Tasks,
    /// The subject's own notes on missions the subject can reach.
    Notes,
    /// The subject's insights and preferences.
    Memory,
    /// Stored credentials: never served over federation.
    Credentials,
    /// API keys: never served over federation.
    ApiKeys,
}

/// Every resource, in the order they are listed to peers.
pub const FEDERATION_RESOURCE_VALUES: [FederationResource; 5] = [
    FederationResource::Tasks,
    FederationResource::Notes,
    FederationResource::Memory,
    FederationResource::Credentials,
    FederationResource::ApiKeys,
];

impl FederationResource {
    /// The wire name (`tasks`, `api_keys`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Tasks => "tasks",
            Self::Notes => "notes",
            Self::Memory => "memory",
            Self::Credentials => "credentials",
            Self::ApiKeys => "api_keys",
        }
    }

    /// Resources whose rows never cross a federation boundary, whatever a scope says.
    pub const fn is_secret(self) -> bool {
        matches!(self, Self::Credentials | Self::ApiKeys)
    }
}

/// A resource name that is not one of [`FEDERATION_RESOURCE_VALUES`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown federation resource `{0}` (expected one of tasks, notes, memory, credentials, api_keys)"
)]
pub struct UnknownResource(pub String);

impl FromStr for FederationResource {
    type Err = UnknownResource;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FEDERATION_RESOURCE_VALUES
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownResource(s.to_owned()))
    }
}

impl fmt::Display for FederationResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verbs a federation server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FederationVerb {
    /// `POST /api/federation/v1/list/:resource`
    List,
    /// `POST /api/federation/v1/get/:resource/:id`
    Get,
    /// `GET /api/federation/v1/capabilities`
    Capabilities,
    /// `POST /api/federation/v1/search/:resource`
    Search,
}

/// Every verb, in wire order.
pub const FEDERATION_VERBS: [FederationVerb; 4] = [
    FederationVerb::List,
    FederationVerb::Get,
    FederationVerb::Capabilities,
    FederationVerb::Search,
];

impl FederationVerb {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::List => "list",
            Self::Get => "get",
            Self::Capabilities => "capabilities",
            Self::Search => "search",
        }
    }
}

/// A verb name that is not one of [`FEDERATION_VERBS`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown federation verb `{0}` (expected list, get, capabilities or search)")]
pub struct UnknownVerb(pub String);

impl FromStr for FederationVerb {
    type Err = UnknownVerb;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FEDERATION_VERBS
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| UnknownVerb(s.to_owned()))
    }
}

impl fmt::Display for FederationVerb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Body of `POST /api/federation/v1/list/:resource`, as a client sends it.
///
/// Servers accept a looser body (the limit may arrive as a numeric string) and
/// validate it themselves; this is the canonical form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FederationListRequest {
    /// Rows wanted; the server caps it at the grant's `max_rows_per_query`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Opaque cursor from a previous page's `nextCursor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// Body of `POST /api/federation/v1/search/:resource`, as a client sends it.
///
/// `q` is words only: anything that is not a letter or a digit separates
/// words, and search operators (`OR`, `NEAR`, `*`, quotes, parentheses) are
/// matched as the words they spell or dropped as separators, never obeyed.
/// The server validates it (at least one word, at most 1000 bytes and 32
/// words).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FederationSearchRequest {
    /// The words to look for; a row must contain every one.
    pub q: String,
    /// Rows wanted; the server caps it at the grant's `max_rows_per_query`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Opaque cursor from a previous page of the same search's `nextCursor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A page of rows. Flags that are not set are omitted from the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FederationListResponse<T> {
    /// The rows, newest first.
    pub items: Vec<T>,
    /// Cursor for the next page; present only when there is more.
    #[serde(
        rename = "nextCursor",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub next_cursor: Option<String>,
    /// Some source could not be read (fan-out only).
    #[serde(rename = "_partial", default, skip_serializing_if = "is_false")]
    pub partial: bool,
    /// Which sources could not be read, and why (fan-out only; omitted when
    /// every source answered).
    #[serde(
        rename = "_partialDetails",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub partial_details: Vec<UnansweredSource>,
    /// More rows exist than were returned.
    #[serde(rename = "_truncated", default, skip_serializing_if = "is_false")]
    pub truncated: bool,
}

impl<T> FederationListResponse<T> {
    /// A complete page with no flags set.
    pub fn complete(items: Vec<T>) -> Self {
        Self {
            items,
            next_cursor: None,
            partial: false,
            partial_details: Vec::new(),
            truncated: false,
        }
    }
}

/// A source a fan-out query could not read, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnansweredSource {
    /// The peer's name: the `_source` its rows would have carried.
    pub source: String,
    /// What kind of failure, as the federation client names it (`FORBIDDEN`,
    /// `NETWORK`, `TIMEOUT`, …).
    pub code: String,
    /// The HTTP status the peer answered with; absent when it did not answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why, in words.
    pub message: String,
}

/// Body of a successful `get`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FederationGetResponse<T> {
    /// The row.
    pub item: T,
}

/// Body of `GET /api/federation/v1/capabilities`: what the caller's grant allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FederationCapabilitiesResponse {
    /// Resources the grant names.
    pub resources: Vec<FederationResource>,
    /// Resources the grant explicitly excludes.
    pub excluded_resources: Vec<FederationResource>,
    /// Most rows any one list returns.
    pub max_rows_per_query: u32,
    /// Verbs this server answers.
    pub supported_verbs: Vec<FederationVerb>,
    /// The request budget this server holds the grant to; absent when the
    /// server enforces none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<FederationRateLimit>,
}

/// A grant's effective request budget, as capabilities advertise it: the
/// grant's own `rate_limit` or, when its scope sets none, the serving
/// gateway's default. Spelled like the scope's `rate_limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FederationRateLimit {
    /// Sustained requests per minute.
    pub requests_per_minute: u32,
    /// Requests that may come at once before the sustained rate applies.
    pub burst: u32,
    /// Where the budget comes from.
    pub source: RateLimitSource,
}

/// Where a grant's effective request budget comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateLimitSource {
    /// The grant's scope sets `rate_limit`.
    Grant,
    /// The scope sets none: the serving gateway's default applies.
    Default,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Sourced;
    use serde_json::{Map, Value, json};

    type Row = Sourced<Map<String, Value>>;

    #[test]
    fn list_response_omits_absent_flags() {
        // The seed's list controller: `{items:[{…task-1, _source:'local'}]}`, nothing else.
        let literal = json!({"items": [{"id": "task-1", "_source": "local"}]});
        let parsed: FederationListResponse<Row> = serde_json::from_value(literal.clone()).unwrap();
        assert!(!parsed.truncated && !parsed.partial && parsed.next_cursor.is_none());
        assert_eq!(serde_json::to_value(&parsed).unwrap(), literal);
    }

    #[test]
    fn list_response_carries_cursor_and_flags() {
        for literal in [
            json!({"items": [{"id": "task-1", "_source": "local"}], "nextCursor": "cursor-2", "_truncated": true}),
            json!({"items": [{"id": "local-1", "_source": "local"}, {"id": "remote-a", "_source": "peer-a"}], "_partial": true, "_truncated": true}),
            json!({"items": [], "_partial": true}),
            json!({"items": [], "_partial": true, "_partialDetails": [
                {"source": "work", "code": "FORBIDDEN", "status": 403, "message": "the grant for peer work was revoked"},
                {"source": "lab", "code": "NETWORK", "message": "connection refused"}
            ]}),
        ] {
            let parsed: FederationListResponse<Row> =
                serde_json::from_value(literal.clone()).unwrap();
            assert_eq!(serde_json::to_value(&parsed).unwrap(), literal);
        }
    }

    #[test]
    fn get_response_round_trips() {
        let literal = json!({"item": {"id": "task-1", "title": "Federated task", "createdAt": "2026-06-24T05:00:00.000Z", "_source": "local"}});
        let parsed: FederationGetResponse<Row> = serde_json::from_value(literal.clone()).unwrap();
        assert_eq!(parsed.item.source, "local");
        assert_eq!(serde_json::to_value(&parsed).unwrap(), literal);
    }

    #[test]
    fn capabilities_match_the_seed() {
        let literal = json!({
            "resources": ["tasks", "notes"],
            "excluded_resources": ["credentials"],
            "max_rows_per_query": 250,
            "supported_verbs": ["list", "get", "capabilities", "search"]
        });
        let parsed: FederationCapabilitiesResponse =
            serde_json::from_value(literal.clone()).unwrap();
        assert_eq!(parsed.supported_verbs, FEDERATION_VERBS.to_vec());
        assert_eq!(parsed.rate_limit, None);
        assert_eq!(serde_json::to_value(&parsed).unwrap(), literal);
    }

    #[test]
    fn capabilities_advertise_the_effective_rate_limit() {
        for (literal, source) in [
            (
                json!({"requests_per_minute": 2, "burst": 1, "source": "grant"}),
                RateLimitSource::Grant,
            ),
            (
                json!({"requests_per_minute": 600, "burst": 60, "source": "default"}),
                RateLimitSource::Default,
            ),
        ] {
            let caps = json!({
                "resources": ["tasks"],
                "excluded_resources": [],
                "max_rows_per_query": 10,
                "supported_verbs": ["list"],
                "rate_limit": literal
            });
            let parsed: FederationCapabilitiesResponse =
                serde_json::from_value(caps.clone()).unwrap();
            assert_eq!(parsed.rate_limit.map(|l| l.source), Some(source));
            assert_eq!(serde_json::to_value(&parsed).unwrap(), caps);
        }
    }

    #[test]
    fn list_request_is_minimal_on_the_wire() {
        assert_eq!(
            serde_json::to_value(FederationListRequest::default()).unwrap(),
            json!({})
        );
        let req = FederationListRequest {
            limit: Some(10),
            cursor: Some("c".into()),
        };
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            json!({"limit": 10, "cursor": "c"})
        );
    }

    #[test]
    fn search_request_is_minimal_on_the_wire() {
        let req = FederationSearchRequest {
            q: "release notes".into(),
            ..FederationSearchRequest::default()
        };
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            json!({"q": "release notes"})
        );
        let full = json!({"q": "x", "limit": 5, "cursor": "c"});
        let parsed: FederationSearchRequest = serde_json::from_value(full.clone()).unwrap();
        assert_eq!(serde_json::to_value(&parsed).unwrap(), full);
    }

    #[test]
    fn resources_and_verbs_parse_by_wire_name_only() {
        for r in FEDERATION_RESOURCE_VALUES {
            assert_eq!(r.as_str().parse::<FederationResource>().unwrap(), r);
            assert_eq!(serde_json::to_value(r).unwrap(), json!(r.as_str()));
        }
        for bad in ["widgets", "unknown_resource", "Tasks", "api-keys", ""] {
            assert!(bad.parse::<FederationResource>().is_err(), "{bad}");
        }
        assert!(FederationResource::Credentials.is_secret());
        assert!(FederationResource::ApiKeys.is_secret());
        assert!(!FederationResource::Memory.is_secret());
        for v in FEDERATION_VERBS {
            assert_eq!(v.as_str().parse::<FederationVerb>().unwrap(), v);
        }
        assert_eq!(
            "search".parse::<FederationVerb>().unwrap(),
            FederationVerb::Search
        );
        assert!("grep".parse::<FederationVerb>().is_err());
    }
}
