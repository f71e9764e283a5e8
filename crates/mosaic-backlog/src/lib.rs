//! Mosaic's native backlog: the cards a fleet of agents pulls work from.
//!
//! Agents on several hosts claim cards from one backlog. The invariants:
//!
//! - **One holder.** A claim locks and updates exactly one row in one
//!   statement (`FOR UPDATE SKIP LOCKED` on PostgreSQL, an atomic
//!   `UPDATE … RETURNING` on SQLite), so two claimers never hold the same card
//!   and concurrent claimers fan out over distinct cards.
//! - **Claims lapse.** Every claim has a TTL; [`Backlog::reclaim`] returns
//!   lapsed claims to `ready`, so a crashed agent's card comes back.
//! - **Dependencies gate.** A card is claimable only when every card in its
//!   `depends_on` is done; the gate is part of the claim's selection.
//! - **Nothing fails silently.** A wrong owner, an unknown id or a cycle is a
//!   [`BacklogError`] variant, never a no-op.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use mosaic_backlog::{Backlog, CardId, ClaimRequest, Completion, NewCard, Owner};
//! use mosaic_store::{Store, StoreOptions};
//!
//! let store = Store::open(&StoreOptions::embedded("/tmp/mosaic-data")).await?;
//! store.migrate().await?;
//! let backlog = Backlog::new(&store);
//!
//! let schema = CardId::new("A1")?;
//! backlog.create(NewCard::new(schema.clone(), "schema").priority(5)).await?;
//! backlog
//!     .create(NewCard::new(CardId::new("A2")?, "service").priority(9).depends_on([schema]))
//!     .await?;
//!
//! // A2 has the higher priority but waits for A1.
//! let me = Owner::new("worker-1")?;
//! let card = backlog.claim(&ClaimRequest::new(me.clone()).ttl_seconds(600)).await?;
//! let card = card.ok_or("nothing to do")?;
//! assert_eq!(card.id.as_str(), "A1");
//! backlog.complete(&card.id, &Completion::Owner(me)).await?;
//! # Ok(()) }
//! ```
//!
//! This crate owns the backlog's semantics and SQL. It knows nothing of HTTP,
//! the CLI or authentication: the gateway serves it (see [`api`] for the wire
//! contract) and the CLI calls it directly or through the gateway.

pub mod api;
mod clock;
mod error;
mod graph;
mod model;
mod rows;
mod service;
mod sql;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{BacklogError, InvalidInput, Path};
pub use model::{
    Card, CardId, ClaimRequest, Completion, Counts, DEFAULT_CLAIM_TTL_SECONDS,
    DEFAULT_MAX_ATTEMPTS, ListFilter, MAX_NAME_LEN, NewCard, Owner, ReclaimResult, Stats, Status,
};
pub use service::Backlog;
