//! The scope document and its parser.
//!
//! Where the wire contract leaves room, this parser is strict, because a scope is
//! written by an administrator and a typo must not silently widen or narrow a
//! grant:
//! - `resources` is required and non-empty; duplicates are folded.
//! - every resource name (in `resources`, `excluded_resources` and the keys of
//!   `filters`) must be a known federation resource;
//! - `max_rows_per_query` is required, an integer from 1 to
//!   [`MAX_ROWS_PER_QUERY_LIMIT`];
//! - unknown keys are rejected, at the top level and inside filters;
//! - a resource both granted and excluded is allowed, and exclusion wins, so an
//!   exclusion list can be laid over a broader template.

use mosaic_types::FederationResource;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The largest `max_rows_per_query` a scope may set. Pages larger than this put
/// memory and latency of one request out of proportion; clients page instead.
pub const MAX_ROWS_PER_QUERY_LIMIT: u32 = 1000;

/// Why a scope document was refused. The message names the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// The document is not a JSON object of the expected shape.
    #[error("scope is not a valid scope object: {0}")]
    Shape(String),
    /// `resources` is empty.
    #[error("scope.resources must name at least one resource")]
    NoResources,
    /// A resource name is not one the federation knows.
    #[error(
        "{field} names unknown resource `{name}` (expected tasks, notes, memory, credentials or api_keys)"
    )]
    UnknownResource {
        /// Where it appeared, e.g. `scope.excluded_resources`.
        field: String,
        /// The name.
        name: String,
    },
    /// `max_rows_per_query` is out of range.
    #[error("scope.max_rows_per_query must be an integer from 1 to {max}, got {got}")]
    MaxRows {
        /// What was given.
        got: String,
        /// The upper bound.
        max: u32,
    },
    /// A team id in `include_teams` is empty.
    #[error("scope.filters.{resource}.include_teams contains an empty team id")]
    EmptyTeamId {
        /// The resource whose filter is at fault.
        resource: String,
    },
    /// The rate limit block is out of range.
    #[error("scope.rate_limit.{field} must be a positive integer")]
    RateLimit {
        /// Which field.
        field: &'static str,
    },
}

/// Per-resource narrowing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceFilter {
    /// Rows the subject owns personally. Absent means `true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_personal: Option<bool>,
    /// Teams whose rows may be read. Absent means every team the subject's native
    /// access allows; `[]` means none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_teams: Option<Vec<String>>,
}

/// A request budget for the peer. Parsed and validated now so grants can carry
/// it; enforcement is the federation server's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Sustained requests per minute.
    pub requests_per_minute: u32,
    /// Requests allowed in a burst above the sustained rate. Absent: equal to the
    /// per-minute rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
}

/// A validated scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FederationScope {
    /// Resources granted, in the order given, without duplicates.
    pub resources: Vec<FederationResource>,
    /// Resources refused even if granted.
    pub excluded_resources: Vec<FederationResource>,
    /// Narrowing per resource.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub filters: BTreeMap<FederationResource, ResourceFilter>,
    /// Most rows one query returns.
    pub max_rows_per_query: u32,
    /// Request budget.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
}

impl FederationScope {
    /// The filter for `resource`, if the scope sets one.
    pub fn filter(&self, resource: FederationResource) -> Option<&ResourceFilter> {
        self.filters.get(&resource)
    }
}

/// The document as written, before names are checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScope {
    resources: Vec<String>,
    #[serde(default)]
    excluded_resources: Vec<String>,
    #[serde(default)]
    filters: BTreeMap<String, ResourceFilter>,
    max_rows_per_query: serde_json::Value,
    #[serde(default)]
    rate_limit: Option<RateLimit>,
}

fn resource(field: &str, name: &str) -> Result<FederationResource, ScopeError> {
    name.parse().map_err(|_| ScopeError::UnknownResource {
        field: field.to_owned(),
        name: name.to_owned(),
    })
}

fn resources(field: &str, names: &[String]) -> Result<Vec<FederationResource>, ScopeError> {
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let r = resource(field, name)?;
        if !out.contains(&r) {
            out.push(r);
        }
    }
    Ok(out)
}

/// Parses and validates a scope document.
pub fn parse_scope(raw: &serde_json::Value) -> Result<FederationScope, ScopeError> {
    let raw: RawScope = RawScope::deserialize(raw).map_err(|e| ScopeError::Shape(e.to_string()))?;
    if raw.resources.is_empty() {
        return Err(ScopeError::NoResources);
    }
    let granted = resources("scope.resources", &raw.resources)?;
    let excluded = resources("scope.excluded_resources", &raw.excluded_resources)?;

    let max_rows = raw
        .max_rows_per_query
        .as_u64()
        .filter(|n| (1..=u64::from(MAX_ROWS_PER_QUERY_LIMIT)).contains(n))
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| ScopeError::MaxRows {
            got: raw.max_rows_per_query.to_string(),
            max: MAX_ROWS_PER_QUERY_LIMIT,
        })?;

    let mut filters = BTreeMap::new();
    for (name, mut filter) in raw.filters {
        let r = resource("scope.filters", &name)?;
        if let Some(teams) = &mut filter.include_teams {
            if teams.iter().any(|t| t.trim().is_empty()) {
                return Err(ScopeError::EmptyTeamId { resource: name });
            }
            let mut seen = Vec::with_capacity(teams.len());
            teams.retain(|t| {
                let fresh = !seen.contains(t);
                if fresh {
                    seen.push(t.clone());
                }
                fresh
            });
        }
        filters.insert(r, filter);
    }

    if let Some(rl) = raw.rate_limit {
        if rl.requests_per_minute == 0 {
            return Err(ScopeError::RateLimit {
                field: "requests_per_minute",
            });
        }
        if rl.burst == Some(0) {
            return Err(ScopeError::RateLimit { field: "burst" });
        }
    }

    Ok(FederationScope {
        resources: granted,
        excluded_resources: excluded,
        filters,
        max_rows_per_query: max_rows,
        rate_limit: raw.rate_limit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn minimal_scope_gets_defaults() {
        let s = parse_scope(&json!({"resources": ["memory"], "max_rows_per_query": 10})).unwrap();
        assert_eq!(s.resources, vec![FederationResource::Memory]);
        assert!(s.excluded_resources.is_empty());
        assert!(s.filters.is_empty());
        assert_eq!(s.max_rows_per_query, 10);
        assert_eq!(s.rate_limit, None);
    }

    #[test]
    fn full_scope_round_trips_through_its_serialization() {
        let doc = json!({
            "resources": ["tasks", "notes", "tasks"],
            "excluded_resources": ["credentials"],
            "filters": {"tasks": {"include_personal": false, "include_teams": ["t1", "t1", "t2"]}},
            "max_rows_per_query": 250,
            "rate_limit": {"requests_per_minute": 60, "burst": 10}
        });
        let s = parse_scope(&doc).unwrap();
        assert_eq!(s.resources.len(), 2, "duplicates fold");
        let f = s.filter(FederationResource::Tasks).unwrap();
        assert_eq!(
            f.include_teams.as_deref(),
            Some(&["t1".to_owned(), "t2".to_owned()][..])
        );
        let again = parse_scope(&serde_json::to_value(&s).unwrap()).unwrap();
        assert_eq!(again, s);
    }

    #[test]
    fn bad_documents_name_the_field() {
        let cases = [
            (
                json!({"resources": [], "max_rows_per_query": 100}),
                "at least one",
            ),
            (
                json!({"resources": [], "max_rows_per_query": 0}),
                "at least one",
            ),
            (
                json!({"resources": ["tasks"], "max_rows_per_query": 0}),
                "max_rows_per_query",
            ),
            (
                json!({"resources": ["tasks"], "max_rows_per_query": 1001}),
                "from 1 to 1000",
            ),
            (
                json!({"resources": ["tasks"], "max_rows_per_query": 2.5}),
                "max_rows_per_query",
            ),
            (
                json!({"resources": ["tasks"], "max_rows_per_query": "10"}),
                "max_rows_per_query",
            ),
            (json!({"resources": ["tasks"]}), "max_rows_per_query"),
            (
                json!({"resources": ["widgets"], "max_rows_per_query": 1}),
                "scope.resources names unknown resource `widgets`",
            ),
            (
                json!({"resources": ["tasks"], "excluded_resources": ["secrets"], "max_rows_per_query": 1}),
                "scope.excluded_resources",
            ),
            (
                json!({"resources": ["tasks"], "filters": {"task": {}}, "max_rows_per_query": 1}),
                "scope.filters names unknown resource `task`",
            ),
            (
                json!({"resources": ["tasks"], "filters": {"tasks": {"include_team": []}}, "max_rows_per_query": 1}),
                "include_team",
            ),
            (
                json!({"resources": ["tasks"], "filters": {"tasks": {"include_teams": [" "]}}, "max_rows_per_query": 1}),
                "empty team id",
            ),
            (
                json!({"resources": ["tasks"], "max_rows_per_query": 1, "extra": true}),
                "extra",
            ),
            (
                json!({"resources": ["tasks"], "max_rows_per_query": 1, "rate_limit": {"requests_per_minute": 0}}),
                "requests_per_minute",
            ),
            (json!(["tasks"]), "not a valid scope"),
            (json!("tasks"), "not a valid scope"),
        ];
        for (doc, needle) in cases {
            let err = parse_scope(&doc).unwrap_err().to_string();
            assert!(err.contains(needle), "{doc}: {err}");
        }
    }

    #[test]
    fn overlap_of_granted_and_excluded_is_allowed() {
        let s = parse_scope(&json!({
            "resources": ["tasks", "notes"], "excluded_resources": ["notes"], "max_rows_per_query": 5
        }))
        .unwrap();
        assert!(s.excluded_resources.contains(&FederationResource::Notes));
    }
}
