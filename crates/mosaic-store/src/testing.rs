//! Test stores on every backend under test.
//!
//! SQLite always runs, in a temporary directory. PostgreSQL runs when
//! `DATABASE_URL` names a server: each [`TestDb`] gets its own schema there, so
//! tests run in parallel without seeing each other's rows, and dropping the
//! database afterwards (as CI does) removes everything. With `CI` set, a missing
//! `DATABASE_URL` is an error rather than a silent skip.

use crate::{Backend, Store, StoreError, StoreOptions};
use sea_orm::ConnectionTrait;
use sqlx::postgres::PgConnectOptions;
use std::str::FromStr;
use std::time::Duration;

/// Options for test stores: a loaded CI machine runs many tests and gateways
/// at once, so waiting for a connection gets far more slack than in service.
fn test_options() -> StoreOptions {
    StoreOptions {
        connect_timeout: Duration::from_secs(60),
        ..StoreOptions::embedded(std::env::temp_dir())
    }
}

/// Runs `setup` up to three times: setting up a test database can meet
/// transient refusals (a busy server, a connection slot race) that say
/// nothing about the code under test.
async fn with_retries<T, F, Fut>(mut setup: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match setup().await {
            Ok(v) => return Ok(v),
            Err(e) if attempt >= 3 => return Err(e),
            Err(e) => {
                eprintln!("test store setup failed (attempt {attempt} of 3), retrying: {e}");
                tokio::time::sleep(Duration::from_millis(500 * attempt)).await;
            }
        }
    }
}

/// A migrated store plus whatever keeps it alive.
#[derive(Debug)]
pub struct TestDb {
    /// The store, migrated to the latest schema.
    pub store: Store,
    /// Held so the SQLite directory outlives the store.
    _dir: Option<tempfile::TempDir>,
    /// PostgreSQL schema to drop on [`TestDb::cleanup`].
    schema: Option<(String, String)>,
}

impl TestDb {
    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        self.store.backend()
    }

    /// A fresh, migrated SQLite store in a temporary directory.
    pub async fn sqlite() -> Result<Self, StoreError> {
        with_retries(Self::sqlite_once).await
    }

    async fn sqlite_once() -> Result<Self, StoreError> {
        let dir = tempfile::tempdir().map_err(|cause| StoreError::DataDir {
            path: std::env::temp_dir(),
            cause,
        })?;
        let store = Store::open(&StoreOptions {
            data_dir: dir.path().to_path_buf(),
            ..test_options()
        })
        .await?;
        store.migrate().await?;
        Ok(Self {
            store,
            _dir: Some(dir),
            schema: None,
        })
    }

    /// A fresh, migrated PostgreSQL store in a new schema of `url`'s database.
    pub async fn postgres(url: &str) -> Result<Self, StoreError> {
        with_retries(|| Self::postgres_once(url)).await
    }

    async fn postgres_once(url: &str) -> Result<Self, StoreError> {
        let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
        let opts = test_options();
        let admin = Store::connect(
            url,
            &StoreOptions {
                max_connections: 1,
                ..opts.clone()
            },
        )
        .await?;
        admin
            .conn()
            .execute_unprepared(&format!("CREATE SCHEMA \"{schema}\""))
            .await?;
        admin.close().await?;
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::InvalidUrl {
                url: crate::redact_url(url),
                reason: e.to_string(),
            })?
            .options([("search_path", schema.as_str())]);
        let store = Store::connect_postgres(options, &opts, crate::redact_url(url)).await?;
        if let Err(e) = store.migrate().await {
            let _ = store.close().await;
            drop_schema(url, &schema).await;
            return Err(e);
        }
        Ok(Self {
            store,
            _dir: None,
            schema: Some((url.to_owned(), schema)),
        })
    }

    /// Another store on the same database, with its own pool of at most
    /// `max_connections`: tests of concurrency use it to act as separate
    /// processes would.
    pub async fn connect_again(&self, max_connections: u32) -> Result<Store, StoreError> {
        let opts = StoreOptions {
            max_connections,
            ..test_options()
        };
        match (&self.schema, &self._dir) {
            (Some((url, schema)), _) => {
                let options = PgConnectOptions::from_str(url)
                    .map_err(|e| StoreError::InvalidUrl {
                        url: crate::redact_url(url),
                        reason: e.to_string(),
                    })?
                    .options([("search_path", schema.as_str())]);
                Store::connect_postgres(options, &opts, crate::redact_url(url)).await
            }
            (None, Some(dir)) => {
                Store::open(&StoreOptions {
                    data_dir: dir.path().to_path_buf(),
                    ..opts
                })
                .await
            }
            (None, None) => Err(StoreError::InvalidUrl {
                url: self.store.url().to_owned(),
                reason: "this test store has no database to connect to again".to_owned(),
            }),
        }
    }

    /// Closes the store and drops its PostgreSQL schema.
    pub async fn cleanup(self) {
        let _ = self.store.close().await;
        if let Some((url, schema)) = self.schema {
            drop_schema(&url, &schema).await;
        }
    }
}

async fn drop_schema(url: &str, schema: &str) {
    let opts = StoreOptions {
        max_connections: 1,
        ..test_options()
    };
    if let Ok(admin) = Store::connect(url, &opts).await {
        let _ = admin
            .conn()
            .execute_unprepared(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
            .await;
        let _ = admin.close().await;
    }
}

/// The PostgreSQL URL tests should use, if any.
///
/// # Panics
/// When `CI` is set and `DATABASE_URL` is not: CI must test both backends.
pub fn postgres_url() -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if url.starts_with("postgres") => Some(url),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but DATABASE_URL is not a postgres:// URL: storage tests must run on PostgreSQL too"
            );
            None
        }
    }
}

/// A fresh store on every backend under test: SQLite, then PostgreSQL when
/// `DATABASE_URL` is set.
///
/// # Panics
/// When a backend cannot be set up: a test without its database is no test.
#[allow(clippy::expect_used)]
pub async fn all_backends() -> Vec<TestDb> {
    let mut dbs = vec![TestDb::sqlite().await.expect("SQLite test store")];
    if let Some(url) = postgres_url() {
        dbs.push(TestDb::postgres(&url).await.expect("PostgreSQL test store"));
    }
    dbs
}

/// A whole PostgreSQL database of its own, for tests that start gateway
/// processes (which migrate the default schema of the database they are given).
#[derive(Debug)]
pub struct TestDatabase {
    admin_url: String,
    name: String,
    /// URL of the new database.
    pub url: String,
}

impl TestDatabase {
    /// Creates `mosaic_t_<random>` on the server `admin_url` names.
    pub async fn create(admin_url: &str) -> Result<Self, StoreError> {
        let name = format!("mosaic_t_{}", uuid::Uuid::new_v4().simple());
        let opts = test_options();
        let admin = Store::connect(
            admin_url,
            &StoreOptions {
                max_connections: 1,
                ..opts
            },
        )
        .await?;
        admin
            .conn()
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await?;
        admin.close().await?;
        let url = replace_database(admin_url, &name);
        Ok(Self {
            admin_url: admin_url.to_owned(),
            name,
            url,
        })
    }

    /// Drops the database, closing whatever is still connected to it.
    pub async fn drop_database(self) {
        let opts = test_options();
        if let Ok(admin) = Store::connect(&self.admin_url, &opts).await {
            let _ = admin
                .conn()
                .execute_unprepared(&format!(
                    "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                    self.name
                ))
                .await;
            let _ = admin.close().await;
        }
    }
}

/// `postgres://u@h:p/old?x` with the database name replaced.
fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_names_are_replaced() {
        assert_eq!(
            super::replace_database("postgres://u@h:5432/ci?sslmode=disable", "x"),
            "postgres://u@h:5432/x?sslmode=disable"
        );
        assert_eq!(
            super::replace_database("postgres://u@h", "x"),
            "postgres://u@h/x"
        );
    }
}
