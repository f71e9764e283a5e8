use std::path::PathBuf;

/// What can go wrong opening or using the store. Each message names the thing
/// at fault and, where there is one, the fix.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL is not one we can use.
    #[error("database URL `{url}` is not usable: {reason}")]
    InvalidUrl {
        /// The URL with any password removed.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The data dir could not be created or written.
    #[error(
        "data dir {path} is not usable: {source} (set MOSAIC_DATA_DIR to a writable directory)"
    )]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The database did not accept a connection.
    #[error("cannot connect to {backend} at {url}: {source}")]
    Connect {
        /// Which backend.
        backend: crate::Backend,
        /// The URL with any password removed.
        url: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A migration failed; the schema was left at the last applied migration.
    #[error("migration failed: {0}")]
    Migrate(#[source] sea_orm::DbErr),
    /// Any other database error.
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
}
