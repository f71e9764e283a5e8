//! Opening a store: URL parsing, pool set-up per backend, migrations, status.

use crate::{SQLITE_FILE_NAME, StoreError};
use mosaic_migration::{Migrator, MigratorTrait};
use sea_orm::{DatabaseConnection, SqlxPostgresConnector, SqlxSqliteConnector};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// Which database engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// The embedded default: one file in the data dir.
    Sqlite,
    /// The multi-host tier: several gateways may share one database.
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
        })
    }
}

/// Where a store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// `postgres://…`, `sqlite://…` or `sqlite::memory:`; `None` means the
    /// embedded SQLite file in `data_dir`.
    pub database_url: Option<String>,
    /// Created when missing; holds the SQLite file when no URL is given.
    pub data_dir: PathBuf,
    /// Most pooled connections.
    pub max_connections: u32,
    /// How long to wait for the first connection before giving up.
    pub connect_timeout: Duration,
}

impl StoreOptions {
    /// The embedded default in `data_dir`.
    pub fn embedded(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            database_url: None,
            data_dir: data_dir.into(),
            max_connections: 8,
            connect_timeout: Duration::from_secs(5),
        }
    }

    /// A store at `url`, keeping `data_dir` for other state.
    #[must_use]
    pub fn with_url(mut self, url: Option<String>) -> Self {
        self.database_url = url.filter(|u| !u.trim().is_empty());
        self
    }
}

/// Schema state as `mosaic db status` reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SchemaStatus {
    /// Which backend.
    pub backend: Backend,
    /// The URL with any password removed.
    pub url: String,
    /// The newest applied migration, if any.
    pub current: Option<String>,
    /// Every applied migration, oldest first.
    pub applied: Vec<String>,
    /// Migrations this build knows that are not applied yet.
    pub pending: Vec<String>,
}

/// A connection pool to the store, on either backend.
#[derive(Debug, Clone)]
pub struct Store {
    conn: DatabaseConnection,
    backend: Backend,
    url: String,
}

impl Store {
    /// Opens the store described by `opts`: creates the data dir, connects (failing
    /// fast when the database is unreachable). Does not migrate.
    pub async fn open(opts: &StoreOptions) -> Result<Self, StoreError> {
        ensure_dir(&opts.data_dir)?;
        let url = match &opts.database_url {
            Some(url) => url.clone(),
            None => sqlite_url_for(&opts.data_dir.join(SQLITE_FILE_NAME)),
        };
        Self::connect(&url, opts).await
    }

    /// Connects to `url` with the pool limits of `opts`.
    pub async fn connect(url: &str, opts: &StoreOptions) -> Result<Self, StoreError> {
        let redacted = redact_url(url);
        let invalid = |reason: String| StoreError::InvalidUrl {
            url: redacted.clone(),
            reason,
        };
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url).map_err(|e| invalid(e.to_string()))?;
            Self::connect_postgres(options, opts, redacted.clone()).await
        } else if url.starts_with("sqlite:") {
            let options =
                SqliteConnectOptions::from_str(url).map_err(|e| invalid(e.to_string()))?;
            if let Some(parent) = sqlite_parent(url) {
                ensure_dir(&parent)?;
            }
            let memory = url.contains(":memory:") || url.contains("mode=memory");
            Self::connect_sqlite(options, opts, memory, redacted.clone()).await
        } else {
            Err(invalid(
                "expected postgres://user@host/db or sqlite://path/to/file.db".to_owned(),
            ))
        }
    }

    /// Connects to PostgreSQL with explicit options (tests use this to pin a schema).
    pub async fn connect_postgres(
        options: PgConnectOptions,
        opts: &StoreOptions,
        url: String,
    ) -> Result<Self, StoreError> {
        let failed = |cause| StoreError::Connect {
            backend: Backend::Postgres,
            url: url.clone(),
            cause,
        };
        // One direct connection first: a pool that cannot connect only says
        // it timed out, while this says why (refused, no such database, …).
        let first = tokio::time::timeout(
            opts.connect_timeout,
            <sqlx::PgConnection as sqlx::Connection>::connect_with(&options),
        )
        .await
        .map_err(|_| failed(sqlx::Error::PoolTimedOut))?
        .map_err(failed)?;
        let _ = sqlx::Connection::close(first).await;
        let pool = PgPoolOptions::new()
            .max_connections(opts.max_connections)
            .acquire_timeout(opts.connect_timeout)
            .connect_with(options)
            .await
            .map_err(failed)?;
        Ok(Self {
            conn: SqlxPostgresConnector::from_sqlx_postgres_pool(pool),
            backend: Backend::Postgres,
            url,
        })
    }

    async fn connect_sqlite(
        options: SqliteConnectOptions,
        opts: &StoreOptions,
        memory: bool,
        url: String,
    ) -> Result<Self, StoreError> {
        // WAL lets readers proceed during a write; the busy timeout makes writers
        // queue instead of failing when several connections write at once.
        let options = options
            .create_if_missing(true)
            .foreign_keys(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10));
        // Every connection to `:memory:` is its own database, so keep exactly one.
        let max = if memory { 1 } else { opts.max_connections };
        let pool = SqlitePoolOptions::new()
            .max_connections(max)
            .min_connections(if memory { 1 } else { 0 })
            .idle_timeout(if memory {
                None
            } else {
                Some(Duration::from_secs(600))
            })
            .max_lifetime(if memory {
                None
            } else {
                Some(Duration::from_secs(1800))
            })
            .acquire_timeout(opts.connect_timeout)
            .connect_with(options)
            .await
            .map_err(|cause| StoreError::Connect {
                backend: Backend::Sqlite,
                url: url.clone(),
                cause,
            })?;
        Ok(Self {
            conn: SqlxSqliteConnector::from_sqlx_sqlite_pool(pool),
            backend: Backend::Sqlite,
            url,
        })
    }

    /// The sea-orm connection, for queries.
    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// Which backend this store runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL with any password removed, for logs and status output.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Applies every pending migration. Each migration runs in its own
    /// transaction, so a failure leaves the schema at the last good one.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        Migrator::up(&self.conn, None)
            .await
            .map_err(StoreError::Migrate)
    }

    /// Rolls back `steps` migrations (all when `None`).
    pub async fn rollback(&self, steps: Option<u32>) -> Result<(), StoreError> {
        Migrator::down(&self.conn, steps)
            .await
            .map_err(StoreError::Migrate)
    }

    /// Which migrations are applied and which are pending.
    pub async fn status(&self) -> Result<SchemaStatus, StoreError> {
        let applied: Vec<String> = Migrator::get_applied_migrations(&self.conn)
            .await?
            .iter()
            .map(|m| m.name().to_owned())
            .collect();
        let pending = Migrator::get_pending_migrations(&self.conn)
            .await?
            .iter()
            .map(|m| m.name().to_owned())
            .collect();
        Ok(SchemaStatus {
            backend: self.backend,
            url: self.url.clone(),
            current: applied.last().cloned(),
            applied,
            pending,
        })
    }

    /// Round-trips a trivial query: storage is reachable.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.conn.ping().await?;
        Ok(())
    }

    /// Closes every pooled connection.
    pub async fn close(self) -> Result<(), StoreError> {
        self.conn.close().await?;
        Ok(())
    }
}

fn ensure_dir(path: &Path) -> Result<(), StoreError> {
    let err = |cause| StoreError::DataDir {
        path: path.to_path_buf(),
        cause,
    };
    std::fs::create_dir_all(path).map_err(err)?;
    // Creating the directory succeeds on an existing read-only one; probe that we
    // can write, so an unwritable data dir fails here with its name, not later
    // inside SQLite with a vaguer message.
    let probe = path.join(".mosaic-write-probe");
    std::fs::write(&probe, b"").map_err(err)?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

fn sqlite_url_for(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

fn sqlite_parent(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    if path.is_empty() || path.contains(":memory:") {
        return None;
    }
    Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
}

/// Replaces the password in a URL with `***`, leaving the rest readable.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://mosaic:s3cret@db:5432/mosaic"),
            "postgres://mosaic:***@db:5432/mosaic"
        );
        assert_eq!(
            redact_url("postgres://root@127.0.0.1/x"),
            "postgres://root@127.0.0.1/x"
        );
        assert_eq!(redact_url("sqlite:///tmp/a.db"), "sqlite:///tmp/a.db");
    }

    #[test]
    fn sqlite_parent_dirs_are_found() {
        assert_eq!(
            sqlite_parent("sqlite:///tmp/x/a.db?mode=rwc"),
            Some(PathBuf::from("/tmp/x"))
        );
        assert_eq!(sqlite_parent("sqlite::memory:"), None);
    }
}
