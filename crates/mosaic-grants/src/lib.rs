//! The lifecycle of federation grants and peers.
//!
//! A **grant** lets a peer gateway read some of one local user's data; a
//! **peer** is another gateway, *inbound* (it reads from us through our
//! grants) or *outbound* (we read from it through its grant, holding its
//! endpoint and our sealed client key). This crate owns every change to
//! them — create, revoke and new enrollment tokens for grants; add, suspend,
//! activate and remove for peers; recording an outbound enrollment — and the
//! typed views of them ([`Grant`], [`Peer`], [`OutboundPeer`]).
//!
//! Each operation validates all of its input first, then writes everything it
//! writes (audit row included) in one transaction: it happens whole or leaves
//! nothing behind. Whether a grant or peer may be used is decided by
//! [`mosaic_types::GrantStatus::is_usable`] and
//! [`mosaic_types::PeerState::is_usable`], the rule the federation listener
//! and enrollment apply too. Errors are one [`GrantsError`] naming the input
//! at fault, with a [`mosaic_types::ErrorCode`] the edge turns into a status.
//!
//! ```no_run
//! # async fn demo(db: &mosaic_store::sea_orm::DatabaseConnection) -> Result<(), mosaic_grants::GrantsError> {
//! use mosaic_grants::{Grants, NewGrant};
//! use serde_json::json;
//!
//! let grants = Grants::new(db);
//! let now = chrono::Utc::now();
//! let created = grants
//!     .create_grant(
//!         NewGrant {
//!             peer: "home".into(), // made, pending, when no peer has that name
//!             user_id: "alice".into(),
//!             scope: json!({"resources": ["tasks"], "max_rows_per_query": 50}),
//!             expires_in_days: Some(90),
//!             token_ttl_hours: None, // the default token lifetime
//!         },
//!         now,
//!     )
//!     .await?;
//! // Hand the one-time secret to the peer's admin; only its hash is stored.
//! println!("enroll with {}", created.token.secret.as_str());
//! assert!(created.grant.is_usable(now));
//!
//! grants.revoke_grant(&created.grant.id, "laptop lost", now).await?;
//! assert!(!grants.grant(&created.grant.id).await?.is_usable(now));
//! # Ok(()) }
//! ```
//!
//! This crate knows nothing of HTTP, TLS sessions, configuration or the CLI:
//! the network side of an outbound enrollment and the sealing of its key stay
//! with the caller, which records the result with
//! [`Grants::record_outbound_enrollment`].

mod error;
mod model;
mod ops;
mod validate;

pub use error::GrantsError;
pub use model::{
    CreatedGrant, Grant, NewGrant, OutboundEnrollment, OutboundPeer, Peer, PeerDirection,
};
pub use mosaic_identity::enrollment::IssuedToken;
pub use ops::{Grants, new_peer_id};
pub use validate::{MAX_EXPIRES_IN_DAYS, MAX_TOKEN_TTL_HOURS};
