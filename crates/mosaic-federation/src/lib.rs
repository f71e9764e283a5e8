//! The serving side of federation: what a gateway does with a request from a
//! peer once TLS has verified the peer's certificate.
//!
//! 1. [`context::resolve`] checks the certificate's claims (grant id, subject
//!    user id, serial) against the store and yields a
//!    [`FederationContext`](mosaic_scope::FederationContext), or a refusal.
//! 2. [`verbs`] runs `capabilities`, `list`, `get` and `search`: request
//!    validation, scope evaluation ([`mosaic_scope`]), native access from team
//!    membership, then a read-only query shaped by the resulting filter.
//!    `search` goes through exactly the pipeline of `list`, then matches the
//!    words of [`search_query`] with the database's own full-text search.
//! 3. Rows leave tagged `_source: "local"`. Nothing from the request or the
//!    response is stored, except the record of the request itself in the
//!    federation audit log ([`audit`]): who asked what, and the outcome.
//!
//! [`limit`] holds the request budgets of grants: a grant's quota (its
//! scope's `rate_limit`, else the gateway's default) and one GCRA limiter per
//! grant, deciding "fits" or "wait this long". The gateway applies it to every
//! verb, before the verb runs.
//!
//! ```no_run
//! # async fn demo(store: &mosaic_store::Store, ctx: mosaic_scope::FederationContext) {
//! use serde_json::json;
//! let page = mosaic_federation::verbs::list(store.conn(), Some(&ctx), "tasks", &json!({"limit": 10})).await;
//! match page {
//!     Ok(page) => println!("{} rows, more: {}", page.items.len(), page.truncated),
//!     Err(e) => println!("{}", e.envelope),
//! }
//! # }
//! ```
//!
//! This crate knows the store and the scope rules. It knows nothing of TLS,
//! certificates or HTTP frameworks: the gateway supplies claims and renders
//! results.

#[cfg(feature = "store")]
pub mod audit;
#[cfg(feature = "store")]
pub mod context;
pub mod cursor;
#[cfg(feature = "limit")]
pub mod limit;
#[cfg(feature = "store")]
pub mod query;
pub mod search_query;
#[cfg(feature = "store")]
pub mod verbs;
