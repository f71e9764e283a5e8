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
    #[error("data dir {path} is not usable: {cause} (set MOSAIC_DATA_DIR to a writable directory)")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The underlying I/O error (in the message, so not a `source`).
        cause: std::io::Error,
    },
    /// The database did not accept a connection.
    // The driver's error is in the message, said once, and deliberately not
    // a `source`: printing the chain would repeat it.
    #[error("cannot connect to {backend} at {url}: {}", describe_sqlx(cause))]
    Connect {
        /// Which backend.
        backend: crate::Backend,
        /// The URL with any password removed.
        url: String,
        /// The driver's error.
        cause: sqlx::Error,
    },
    /// A migration failed; the schema was left at the last applied migration.
    #[error("migration failed: {}", describe_db_err(.0))]
    Migrate(sea_orm::DbErr),
    /// Any other database error.
    #[error("database error: {}", describe_db_err(.0))]
    Db(sea_orm::DbErr),
}

impl From<sea_orm::DbErr> for StoreError {
    fn from(err: sea_orm::DbErr) -> Self {
        Self::Db(err)
    }
}

/// A driver error in one line, for people: the server's own message for a
/// database error (without the server's source-file line number), the I/O
/// error for a refused connection, and the wrapping words only once.
pub fn describe_sqlx(err: &sqlx::Error) -> String {
    match err {
        sqlx::Error::Database(db) => db.message().to_owned(),
        sqlx::Error::Io(io) => io.to_string(),
        sqlx::Error::PoolTimedOut => {
            "no connection within the time limit (is the server running and reachable?)".to_owned()
        }
        other => other.to_string(),
    }
}

/// A sea-orm error in one line, the driver's part as [`describe_sqlx`] says it.
pub fn describe_db_err(err: &sea_orm::DbErr) -> String {
    use sea_orm::{DbErr, RuntimeErr};
    match err {
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => describe_sqlx(e),
        DbErr::ConnectionAcquire(_) => {
            "no database connection free within the time limit".to_owned()
        }
        other => other.to_string(),
    }
}
