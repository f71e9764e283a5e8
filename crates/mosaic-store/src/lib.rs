//! Mosaic's storage layer: one connection type for SQLite (the embedded default)
//! and PostgreSQL (the multi-host tier), migrations applied on open, and the
//! sea-orm entities for every table.
//!
//! ```no_run
//! # async fn demo() -> Result<(), mosaic_store::StoreError> {
//! use mosaic_store::{Store, StoreOptions};
//!
//! // No URL: a SQLite file in the data dir, created on first use.
//! let store = Store::open(&StoreOptions::embedded("/tmp/mosaic-data")).await?;
//! store.migrate().await?;
//! let status = store.status().await?;
//! println!("{} schema at {:?}", status.backend, status.current);
//! # Ok(()) }
//! ```
//!
//! This crate knows tables and connections; it knows nothing of HTTP, TLS,
//! federation rules or the CLI. Domain crates (backlog, federation) build their
//! queries on [`Store::conn`].

mod connect;
pub mod entity;
mod error;
mod lock;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod time;

pub use connect::{Backend, SchemaStatus, Store, StoreOptions, redact_url};
pub use error::{StoreError, describe_db_err, describe_sqlx};
pub use lock::{DataDirLock, LOCK_FILE_NAME, LockError};
pub use sea_orm;
pub use time::{now, truncate_to_millis};

/// File name of the embedded database inside the data dir.
pub const SQLITE_FILE_NAME: &str = "mosaic.db";
