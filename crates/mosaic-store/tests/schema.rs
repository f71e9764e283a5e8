//! The schema on both backends: migrations go up, down and up again, and every
//! table accepts and returns a row exactly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration, TimeZone, Utc};
use mosaic_migration::{MigratorTrait, SQLITE_ONLY_TABLES, TABLES};
use mosaic_store::entity::*;
use mosaic_store::sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel,
    PaginatorTrait, Statement,
};
use mosaic_store::testing::all_backends;
use mosaic_store::{Backend, Store, StoreError, StoreOptions, now};
use serde_json::json;

/// Ordinary tables (on SQLite, neither FTS5 virtual tables nor their
/// shadow tables).
async fn table_count(db: &DatabaseConnection, backend: Backend) -> usize {
    let sql = match backend {
        Backend::Sqlite => {
            "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'seaql_migrations'"
        }
        Backend::Postgres => {
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_name <> 'seaql_migrations'"
        }
    };
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap();
    rows.len()
}

/// How many ordinary tables the full schema has on `backend`.
fn expected_tables(backend: Backend) -> usize {
    match backend {
        Backend::Sqlite => TABLES.len() + SQLITE_ONLY_TABLES.len(),
        Backend::Postgres => TABLES.len(),
    }
}

/// Every object on SQLite besides tables (indexes, triggers, the FTS5
/// virtual tables and their shadows) and, on PostgreSQL, every index: what
/// a migration's `down` must leave exactly as it found.
async fn schema_objects(db: &DatabaseConnection, backend: Backend) -> Vec<String> {
    let sql = match backend {
        Backend::Sqlite => {
            "SELECT type || ' ' || name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY 1"
        }
        Backend::Postgres => {
            "SELECT 'index ' || indexname FROM pg_indexes WHERE schemaname = current_schema() ORDER BY 1"
        }
    };
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get_by_index::<String>(0).unwrap())
        .collect()
}

#[tokio::test]
async fn migrations_go_up_down_and_up_again() {
    for db in all_backends().await {
        let store = &db.store;
        let backend = store.backend();
        assert_eq!(
            table_count(store.conn(), backend).await,
            expected_tables(backend),
            "{backend}"
        );
        let status = store.status().await.unwrap();
        assert!(status.pending.is_empty(), "{backend}: {status:?}");
        assert_eq!(
            status.applied.len(),
            mosaic_migration::Migrator::migrations().len()
        );
        assert_eq!(
            status.current.as_deref(),
            status.applied.last().map(String::as_str)
        );

        store.rollback(None).await.unwrap();
        assert_eq!(
            table_count(store.conn(), backend).await,
            0,
            "{backend}: down leaves nothing"
        );
        let status = store.status().await.unwrap();
        assert!(status.applied.is_empty() && status.current.is_none());
        assert_eq!(
            status.pending.len(),
            mosaic_migration::Migrator::migrations().len()
        );

        store.migrate().await.unwrap();
        assert_eq!(
            table_count(store.conn(), backend).await,
            expected_tables(backend)
        );
        // Migrating an up-to-date schema is a no-op, not an error.
        store.migrate().await.unwrap();
        db.cleanup().await;
    }
}

#[tokio::test]
async fn one_step_down_removes_only_the_newest_migration() {
    for db in all_backends().await {
        let store = &db.store;
        let backend = store.backend();
        let full = schema_objects(store.conn(), backend).await;
        store.rollback(Some(1)).await.unwrap();
        let status = store.status().await.unwrap();
        let total = mosaic_migration::Migrator::migrations().len();
        assert_eq!(status.applied.len(), total - 1);
        assert_eq!(status.pending.len(), 1);
        assert!(status.pending[0].contains("search"), "{:?}", status.pending);
        // The newest migration adds the full-text indexes: every table of
        // both backends stays; what it made goes, and comes back with `up`.
        assert_eq!(table_count(store.conn(), backend).await, TABLES.len());
        let before = schema_objects(store.conn(), backend).await;
        let made: Vec<&String> = full.iter().filter(|o| !before.contains(o)).collect();
        assert!(
            before.iter().all(|o| full.contains(o)),
            "{backend}: down removed more than up made"
        );
        let expected: &[&str] = match backend {
            Backend::Sqlite => &[
                "index search_rowids_source_id_idx",
                "table insights_search",
                "table mission_tasks_search",
                "table preferences_search",
                "table search_rowids",
                "table tasks_search",
                "trigger insights_search_delete",
                "trigger tasks_search_update",
            ],
            Backend::Postgres => &[
                "index insights_search_idx",
                "index mission_tasks_search_idx",
                "index preferences_search_idx",
                "index tasks_search_idx",
            ],
        };
        for object in expected {
            assert!(
                made.iter().any(|m| m == object),
                "{backend}: {object} not among {made:?}"
            );
        }
        store.migrate().await.unwrap();
        assert_eq!(schema_objects(store.conn(), backend).await, full);
        db.cleanup().await;
    }
}

fn t(h: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 24, h, 0, 0).unwrap() + Duration::milliseconds(123)
}

/// Inserts `model` and reads it back by primary key, asserting equality.
macro_rules! round_trip {
    ($db:expr, $module:ident, $model:expr, $($pk:expr),+) => {{
        let model: $module::Model = $model;
        model.clone().into_active_model().insert($db).await.unwrap_or_else(|e| {
            panic!(concat!("insert into ", stringify!($module), ": {}"), e)
        });
        let back = $module::Entity::find_by_id(($($pk.to_owned()),+)).one($db).await.unwrap();
        assert_eq!(back.as_ref(), Some(&model), stringify!($module));
        assert_eq!($module::Entity::find().count($db).await.unwrap(), 1, stringify!($module));
    }};
}

#[tokio::test]
async fn every_table_round_trips_a_row() {
    for test_db in all_backends().await {
        let db = test_db.store.conn();
        let backend = test_db.backend();
        round_trip!(
            db,
            users,
            users::Model {
                id: "user-s".into(),
                name: "Subject".into(),
                email: "s@example.test".into(),
                email_verified: true,
                created_at: t(1),
                updated_at: t(2),
            },
            "user-s"
        );
        round_trip!(
            db,
            teams,
            teams::Model {
                id: "team-t".into(),
                name: "Team T".into(),
                slug: "team-t".into(),
                owner_id: "user-s".into(),
                manager_id: None,
                created_at: t(1),
                updated_at: t(1),
            },
            "team-t"
        );
        round_trip!(
            db,
            team_members,
            team_members::Model {
                team_id: "team-t".into(),
                user_id: "user-s".into(),
                role: "member".into(),
                created_at: t(1),
            },
            "team-t",
            "user-s"
        );
        round_trip!(
            db,
            projects,
            projects::Model {
                id: "proj-1".into(),
                name: "P".into(),
                owner_type: "team".into(),
                owner_id: Some("user-s".into()),
                team_id: Some("team-t".into()),
                created_at: t(1),
                updated_at: t(1),
            },
            "proj-1"
        );
        round_trip!(
            db,
            missions,
            missions::Model {
                id: "mission-1".into(),
                name: "M".into(),
                project_id: "proj-1".into(),
                user_id: Some("user-s".into()),
                created_at: t(1),
                updated_at: t(1),
            },
            "mission-1"
        );
        round_trip!(
            db,
            tasks,
            tasks::Model {
                id: "task-1".into(),
                title: "Federated task".into(),
                description: Some("d".into()),
                status: "in-progress".into(),
                priority: "high".into(),
                project_id: Some("proj-1".into()),
                mission_id: Some("mission-1".into()),
                assignee: Some("user-s".into()),
                tags: Some(json!(["a", "b"])),
                due_date: Some(t(9)),
                metadata: Some(json!({"k": 1})),
                created_at: t(3),
                updated_at: t(4),
            },
            "task-1"
        );
        round_trip!(
            db,
            mission_tasks,
            mission_tasks::Model {
                id: "note-1".into(),
                mission_id: "mission-1".into(),
                task_id: Some("task-1".into()),
                user_id: "user-s".into(),
                status: "done".into(),
                notes: Some("subject note".into()),
                created_at: t(5),
                updated_at: t(5),
            },
            "note-1"
        );
        round_trip!(
            db,
            insights,
            insights::Model {
                id: "insight-1".into(),
                user_id: "user-s".into(),
                content: "likes rust".into(),
                source: "agent".into(),
                category: Some("general".into()),
                relevance_score: 0.75,
                metadata: None,
                created_at: t(5),
                updated_at: t(5),
            },
            "insight-1"
        );
        round_trip!(
            db,
            preferences,
            preferences::Model {
                id: "pref-1".into(),
                user_id: "user-s".into(),
                key: "editor.vim".into(),
                value: json!({"enabled": true}),
                category: Some("editor".into()),
                source: "user".into(),
                mutable: false,
                created_at: t(5),
                updated_at: t(5),
            },
            "pref-1"
        );
        round_trip!(
            db,
            credentials,
            credentials::Model {
                id: "cred-1".into(),
                user_id: "user-s".into(),
                name: "github".into(),
                provider: Some("github".into()),
                sealed_value: "sealed:abc".into(),
                created_at: t(5),
                updated_at: t(5),
            },
            "cred-1"
        );
        round_trip!(
            db,
            instance_identity,
            instance_identity::Model {
                id: "inst-1".into(),
                name: "home".into(),
                url: Some("https://home.test".into()),
                signing_public_key: "pk".into(),
                signing_private_key_sealed: "sealed".into(),
                capabilities: json!(["federation"]),
                created_at: t(1),
                updated_at: t(1),
            },
            "inst-1"
        );
        round_trip!(
            db,
            federation_peers,
            federation_peers::Model {
                id: "peer-1".into(),
                common_name: "peer-a".into(),
                display_name: "Peer A".into(),
                cert_pem: "-----BEGIN CERTIFICATE-----\nMOCK\n-----END CERTIFICATE-----\n".into(),
                cert_serial: "0123456789ABCDEF0123456789ABCDEF".into(),
                cert_not_after: t(23),
                state: "active".into(),
                endpoint_url: Some("https://peer-a.example.com".into()),
                client_key_pem: Some("sealed-key-a".into()),
                ca_pem: None,
                local_user_id: None,
                refusal: None,
                created_at: t(1),
                updated_at: t(1),
            },
            "peer-1"
        );
        round_trip!(
            db,
            federation_grants,
            federation_grants::Model {
                id: "grant-1".into(),
                peer_id: "peer-1".into(),
                subject_user_id: "user-s".into(),
                status: "revoked".into(),
                scope: json!({"resources": ["tasks"], "excluded_resources": [], "max_rows_per_query": 2}),
                expires_at: Some(t(20)),
                revoked_at: Some(t(6)),
                revoked_reason: Some("rotated".into()),
                created_at: t(1),
                updated_at: t(6),
            },
            "grant-1"
        );
        round_trip!(
            db,
            federation_enrollment_tokens,
            federation_enrollment_tokens::Model {
                id: "tok-1".into(),
                token_hash: "hash".into(),
                grant_id: "grant-1".into(),
                expires_at: t(2),
                used_at: None,
                created_at: t(1),
            },
            "tok-1"
        );
        round_trip!(
            db,
            audit_log,
            audit_log::Model {
                id: "audit-1".into(),
                occurred_at: t(7),
                actor: "admin".into(),
                action: "grant.revoke".into(),
                target_type: Some("grant".into()),
                target_id: Some("grant-1".into()),
                peer_id: Some("peer-1".into()),
                details: Some(json!({"reason": "rotated"})),
            },
            "audit-1"
        );
        round_trip!(
            db,
            api_tokens,
            api_tokens::Model {
                id: "tok-a".into(),
                token_hash: "h".into(),
                role: "user".into(),
                user_id: Some("user-s".into()),
                label: "laptop".into(),
                created_at: t(1),
                last_used_at: Some(t(2)),
                revoked_at: None,
            },
            "tok-a"
        );
        round_trip!(
            db,
            backlog,
            backlog::Model {
                id: "A4".into(),
                title: "Backlog".into(),
                body: None,
                phase: Some("fleet".into()),
                priority: 5,
                status: "claimed".into(),
                depends_on: json!(["A3"]),
                claim_owner: Some("agent-1".into()),
                claim_ttl_seconds: Some(900),
                claimed_at: Some(t(8)),
                attempts: 1,
                max_attempts: 3,
                idempotency_key: Some("k-1".into()),
                acceptance: Some(json!(["works"])),
                last_error: None,
                created_at: t(1),
                updated_at: t(8),
            },
            "A4"
        );
        round_trip!(
            db,
            federation_audit_log,
            federation_audit_log::Model {
                id: "fa-1".into(),
                occurred_at: t(9),
                peer_id: Some("peer-a".into()),
                grant_id: Some("grant-1".into()),
                subject_user_id: Some("user-s".into()),
                verb: "get".into(),
                resource: Some("tasks".into()),
                target: Some("task-1".into()),
                status: 200,
                error_code: None,
                rows: Some(1),
                latency_us: 5_000_000_000,
                cert_serial: Some("01AB".into()),
                trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
                remote_addr: Some("127.0.0.1:50000".into()),
            },
            "fa-1"
        );

        // Defaults written by the database itself, for rows inserted by other tools.
        db.execute_unprepared("INSERT INTO backlog (id, title) VALUES ('raw', 'raw insert')")
            .await
            .unwrap();
        let raw = backlog::Entity::find_by_id("raw".to_owned())
            .one(db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(raw.status, "ready", "{backend}");
        assert_eq!(raw.depends_on, json!([]), "{backend}");
        assert_eq!(
            (raw.priority, raw.attempts, raw.max_attempts),
            (0, 0, 5),
            "{backend}"
        );

        test_db.cleanup().await;
    }
}

#[tokio::test]
async fn foreign_keys_and_unique_keys_are_enforced() {
    for test_db in all_backends().await {
        let db = test_db.store.conn();
        let orphan = missions::Model {
            id: "m".into(),
            name: "m".into(),
            project_id: "nope".into(),
            user_id: None,
            created_at: now(),
            updated_at: now(),
        };
        assert!(
            orphan.into_active_model().insert(db).await.is_err(),
            "{}",
            test_db.backend()
        );
        let card = |id: &str| backlog::Model {
            id: id.into(),
            title: "t".into(),
            body: None,
            phase: None,
            priority: 0,
            status: "ready".into(),
            depends_on: json!([]),
            claim_owner: None,
            claim_ttl_seconds: None,
            claimed_at: None,
            attempts: 0,
            max_attempts: 5,
            idempotency_key: Some("same".into()),
            acceptance: None,
            last_error: None,
            created_at: now(),
            updated_at: now(),
        };
        card("c1").into_active_model().insert(db).await.unwrap();
        assert!(
            card("c2").into_active_model().insert(db).await.is_err(),
            "idempotency key is unique"
        );
        test_db.cleanup().await;
    }
}

#[tokio::test]
async fn embedded_default_creates_its_file_in_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nested/data");
    let store = Store::open(&StoreOptions::embedded(&data)).await.unwrap();
    store.migrate().await.unwrap();
    store.ping().await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    assert!(data.join(mosaic_store::SQLITE_FILE_NAME).is_file());
    store.close().await.unwrap();

    // Reopening finds the schema already there.
    let store = Store::open(&StoreOptions::embedded(&data)).await.unwrap();
    assert!(store.status().await.unwrap().pending.is_empty());
}

#[tokio::test]
async fn unusable_urls_and_dirs_fail_with_their_name() {
    let dir = tempfile::tempdir().unwrap();
    let opts = StoreOptions::embedded(dir.path());

    let err = Store::connect("mysql://x/y", &opts).await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidUrl { .. }), "{err}");
    assert!(err.to_string().contains("mysql://x/y"));

    // Nothing listens on port 1.
    let err = Store::connect("postgres://mosaic:hunter2@127.0.0.1:1/mosaic", &opts)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StoreError::Connect { .. }), "{text}");
    assert!(
        text.contains("127.0.0.1:1") && !text.contains("hunter2"),
        "{text}"
    );

    let file = dir.path().join("a-file");
    std::fs::write(&file, b"").unwrap();
    let err = Store::open(&StoreOptions::embedded(file.join("sub")))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::DataDir { .. }), "{err}");
    assert!(err.to_string().contains("a-file"));
}

#[tokio::test]
async fn in_memory_sqlite_keeps_one_database() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect("sqlite::memory:", &StoreOptions::embedded(dir.path()))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let status = store.status().await.unwrap();
    assert!(status.pending.is_empty(), "{status:?}");
}
