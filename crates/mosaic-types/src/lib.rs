//! Wire types shared by Mosaic gateways and the programs that talk to them.
//!
//! This crate owns the JSON contract of the federation API and nothing else: typed
//! identifiers, the federation resources and verbs, the list/get/capabilities
//! response bodies, the rows they carry, the `_source` tag and the error
//! envelope. It does no I/O and
//! knows nothing of HTTP frameworks, databases or TLS, so both the gateway and any
//! client (ours or another project's) can depend on it cheaply.
//!
//! ```
//! use mosaic_types::{FederationListResponse, SOURCE_LOCAL, Sourced};
//! use serde_json::json;
//!
//! let page: FederationListResponse<Sourced<serde_json::Value>> = FederationListResponse {
//!     items: vec![Sourced::new(json!({"id": "task-1"}), SOURCE_LOCAL)],
//!     next_cursor: None,
//!     partial: false,
//!     partial_details: Vec::new(),
//!     truncated: false,
//! };
//! // Absent flags are omitted from the wire, never sent as `false` or `null`.
//! assert_eq!(
//!     serde_json::to_value(&page).unwrap(),
//!     json!({"items": [{"id": "task-1", "_source": "local"}]})
//! );
//! ```

pub mod admin;
mod error;
mod federation;
mod ids;
mod instance;
mod lifecycle;
pub mod nodes;
mod refusal;
pub mod rows;
mod source;
pub mod whoami;

pub use error::{ErrorBody, ErrorCode, ErrorEnvelope};
pub use federation::{
    FEDERATION_RESOURCE_VALUES, FEDERATION_VERBS, FederationCapabilitiesResponse,
    FederationGetResponse, FederationListRequest, FederationListResponse, FederationRateLimit,
    FederationResource, FederationSearchRequest, FederationVerb, RateLimitSource, UnansweredSource,
    UnknownResource, UnknownVerb,
};
pub use ids::{
    AuditId, EnrollmentTokenId, GrantId, IdError, InsightId, InstanceId, MissionId, NoteId, PeerId,
    PreferenceId, ProjectId, TaskId, TeamId, UserId,
};
pub use instance::{EnrollmentRequest, EnrollmentResponse, PublicInstanceIdentity};
pub use lifecycle::{GrantStatus, GrantUsability, PeerState, UnknownState};
pub use refusal::{FederationRefusal, REFUSAL_KEY, UnknownRefusal};
pub use rows::{FederatedInsight, FederatedNote, FederatedPreference, FederatedRow, FederatedTask};
pub use source::{SOURCE_KEY, SOURCE_LOCAL, SourceTag, Sourced, tag_object, tag_with_source};
