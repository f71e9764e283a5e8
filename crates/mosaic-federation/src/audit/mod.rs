//! The federation audit log: one row for every request that reaches the
//! federation listener's HTTP layer, allowed or refused: when, which peer,
//! grant and subject user, the verb, resource and item id or search words,
//! the outcome (status and error code, or rows returned), the latency, the
//! presented certificate's serial, the trace id and the remote address.
//!
//! - [`AuditRecord`] is one row, built by the gateway from the request path
//!   ([`RequestPath`]), the answer and what the auth layer learned.
//! - [`AuditWriter`] writes rows asynchronously in batches through a bounded
//!   queue that applies back-pressure when full and drains on shutdown
//!   (see [`writer`]); [`AuditStats`] are its figures.
//! - [`AuditLog`] reads the log newest first with filters and an opaque
//!   keyset cursor ([`AuditQuery`], checked from the admin API's
//!   [`AuditParams`]), and prunes rows older than the retention.
//! - [`TraceContext`] reads and answers the W3C `traceparent` header.
//!
//! ```no_run
//! # async fn demo(store: &mosaic_store::Store) -> Result<(), mosaic_federation::audit::AuditError> {
//! use mosaic_federation::audit::{AuditLog, AuditQuery, AuditRecord, AuditWriter, TraceId};
//! use std::num::NonZeroUsize;
//! use std::time::Duration;
//!
//! let writer = AuditWriter::start(store.conn().clone(), NonZeroUsize::new(10_000).unwrap());
//! let record = AuditRecord::new(
//!     "/api/federation/v1/list/tasks",
//!     chrono::Utc::now(),
//!     200,
//!     Duration::from_micros(850),
//!     TraceId::random(),
//! );
//! writer.record(record).await;
//! writer.shutdown(tokio::time::Instant::now() + Duration::from_secs(10)).await;
//! let page = AuditLog::new(store.conn()).list(&AuditQuery::default()).await?;
//! println!("{} entries", page.items.len());
//! # Ok(()) }
//! ```

mod cursor;
mod log;
mod params;
mod record;
mod trace;
pub mod writer;

pub use cursor::{AuditCursor, InvalidAuditCursor};
pub use log::{AuditError, AuditLog, PRUNE_BATCH};
pub use params::{AuditParams, AuditQuery, DEFAULT_LIMIT, MAX_LIMIT, parse_since};
pub use record::{AuditRecord, MAX_TEXT_CHARS, RequestPath, clean_text};
pub use trace::{InvalidTraceId, TraceContext, TraceId};
pub use writer::{AuditStats, AuditWriter, WriterOptions};
