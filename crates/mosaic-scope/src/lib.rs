//! Federation grant scopes and the evaluation pipeline.
//!
//! A grant's scope says which resources a peer may read on behalf of one local
//! user, how many rows at a time, and how to narrow personal and team rows. This
//! crate parses that JSON into a [`FederationScope`] and evaluates a request
//! against it in a fixed order of stages; the first failing stage decides the
//! answer:
//!
//! | # | stage | deny code | answered as ([`ErrorCode`](mosaic_types::ErrorCode)) |
//! |---|---|---|---|
//! | 1 | `scope_parse` | `invalid_scope` | `InvalidRequest` |
//! | 2 | `resource_allowlist` | `invalid_resource` | `ScopeViolation` |
//! | 3 | `resource_exclusion` | `resource_excluded` | `ScopeViolation` |
//! | 4 | `resource_allowlist` | `resource_not_granted` | `ScopeViolation` |
//! | 5 | `row_cap` | `invalid_limit` | `InvalidRequest` |
//! | 6 | `native_rbac` | `native_rbac_denied` | `ScopeViolation` |
//!
//! [`ScopeDeny::error_code`] gives the code; the crate names no HTTP status
//! (the edge maps codes to statuses through `ErrorCode::http_status`). Stage 1
//! alone is [`check_scope`], for verbs that name no resource.
//!
//! Native access (what the subject user could read locally) is asked only after
//! stages 1–5 pass, and the result is the **intersection** of scope and native
//! access: a scope can narrow what the user may read, never widen it.
//!
//! ```
//! use mosaic_scope::{EvaluationInput, FederationContext, NativeAccess, Evaluation};
//! use mosaic_types::{GrantId, PeerId, UserId};
//! use serde_json::json;
//!
//! let context = FederationContext {
//!     grant_id: GrantId::new("grant-1")?,
//!     peer_id: PeerId::new("peer-1")?,
//!     subject_user_id: UserId::new("user-1")?,
//!     scope: json!({
//!         "resources": ["tasks"],
//!         "filters": {"tasks": {"include_teams": ["team-2"]}},
//!         "max_rows_per_query": 50
//!     }),
//! };
//! let input = EvaluationInput { context: &context, resource: "tasks", requested_limit: Some(500) };
//! // Stages 1–5 are pure; only then is native access needed.
//! let pending = mosaic_scope::prepare(&input).unwrap();
//! let filter = pending.finish(Ok(NativeAccess {
//!     include_personal: true,
//!     team_ids: vec!["team-1".into(), "team-2".into()],
//! })).unwrap();
//! assert_eq!(filter.team_ids, vec!["team-2".to_string()]);
//! assert_eq!(filter.limit, 50); // capped at the grant's max_rows_per_query
//! # Ok::<(), mosaic_types::IdError>(())
//! ```
//!
//! The crate is pure: no I/O, no database, no HTTP. Native access is supplied by
//! the caller (see [`NativeRbac`]).

mod evaluate;
mod scope;

pub use evaluate::{
    DenyCode, DenyStage, Evaluation, EvaluationInput, FederationContext, NativeAccess,
    NativeDenied, NativeRbac, NativeRbacRequest, Pending, QueryFilter, ScopeDeny, check_scope,
    evaluate, prepare,
};
pub use scope::{
    FederationScope, MAX_ROWS_PER_QUERY_LIMIT, RateLimit, ResourceFilter, ScopeError, parse_scope,
};
