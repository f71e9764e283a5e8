//! The search verb over a real store, on every backend: what it finds in each
//! resource and in what order, its cursor, the indexes kept in step with
//! every write, hostile queries, and the pipeline it shares with `list`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fixture;

use fixture::{Fx, at};
use mosaic_federation::verbs;
use mosaic_scope::FederationContext;
use mosaic_store::Backend;
use mosaic_store::entity::{insights, mission_tasks, preferences, projects, tasks};
use mosaic_store::sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel, Set,
    Statement,
};
use mosaic_store::testing::all_backends;
use mosaic_types::{ErrorCode, FederatedRow, FederationListResponse, Sourced};
use serde_json::{Value, json};

fn ctx(scope: Value) -> FederationContext {
    FederationContext {
        grant_id: "grant-1".parse().unwrap(),
        peer_id: "peer-1".parse().unwrap(),
        subject_user_id: "S".parse().unwrap(),
        scope,
    }
}

/// Tasks (teams allowed), notes and memory, 50 rows a query.
fn everything() -> FederationContext {
    ctx(json!({"resources": ["tasks", "notes", "memory"], "max_rows_per_query": 50}))
}

type Page = FederationListResponse<Sourced<FederatedRow>>;

fn ids(page: &Page) -> Vec<&str> {
    page.items.iter().map(|i| i.row.id()).collect()
}

fn sorted(mut v: Vec<&str>) -> Vec<&str> {
    v.sort_unstable();
    v
}

async fn task(db: &DatabaseConnection, id: &str, project: Option<&str>, title: &str, desc: &str) {
    task_in(db, id, project, None, title, desc).await;
}

async fn task_in(
    db: &DatabaseConnection,
    id: &str,
    project: Option<&str>,
    mission: Option<&str>,
    title: &str,
    desc: &str,
) {
    tasks::Model {
        id: id.into(),
        title: title.into(),
        description: (!desc.is_empty()).then(|| desc.to_owned()),
        status: "not-started".into(),
        priority: "medium".into(),
        project_id: project.map(Into::into),
        mission_id: mission.map(Into::into),
        assignee: None,
        tags: None,
        due_date: None,
        metadata: None,
        created_at: at(1),
        updated_at: at(1),
    }
    .into_active_model()
    .insert(db)
    .await
    .unwrap();
}

async fn insight(db: &DatabaseConnection, id: &str, user: &str, content: &str) {
    insights::Model {
        id: id.into(),
        user_id: user.into(),
        content: content.into(),
        source: "agent".into(),
        category: None,
        relevance_score: 0.5,
        metadata: None,
        created_at: at(1),
        updated_at: at(1),
    }
    .into_active_model()
    .insert(db)
    .await
    .unwrap();
}

async fn preference(db: &DatabaseConnection, id: &str, user: &str, key: &str, value: Value) {
    preferences::Model {
        id: id.into(),
        user_id: user.into(),
        key: key.into(),
        value,
        category: None,
        source: "user".into(),
        mutable: true,
        created_at: at(1),
        updated_at: at(1),
    }
    .into_active_model()
    .insert(db)
    .await
    .unwrap();
}

/// S and O; S in teams T and U; projects PS (S), PO (O), PT (team T), PU
/// (team U); mission M_S on PS. Every resource has rows of S and of O
/// holding the word "release".
async fn fixture(db: &DatabaseConnection) {
    let fx = Fx(db);
    fx.user("S").await;
    fx.user("O").await;
    fx.team("T", "S").await;
    fx.team("U", "O").await;
    fx.member("T", "S").await;
    fx.member("U", "S").await;
    fx.personal_project("PS", "S").await;
    fx.personal_project("PO", "O").await;
    fx.team_project("PT", "T", "S").await;
    fx.team_project("PU", "U", "O").await;
    fx.mission("M_S", "PS", "S").await;
    task(
        db,
        "s-release",
        Some("PS"),
        "Release checklist",
        "release the release candidate",
    )
    .await;
    task(
        db,
        "s-deploy",
        Some("PS"),
        "Deploy to production",
        "after the release",
    )
    .await;
    task_in(
        db,
        "s-mission",
        None,
        Some("M_S"),
        "Mission release task",
        "",
    )
    .await;
    task(db, "t-team", Some("PT"), "Team release plan", "").await;
    task(db, "u-team", Some("PU"), "Other team release", "").await;
    task(
        db,
        "o-release",
        Some("PO"),
        "Release of O",
        "release secret",
    )
    .await;
    task(
        db,
        "hostile",
        Some("PS"),
        "NEAR(a b) or maybe",
        "\"quoted\" *star* (paren",
    )
    .await;
    task(db, "lonely-a", Some("PS"), "a only", "").await;
    fx.note("n-s", "M_S", "S", Some("release notes for S"), at(1))
        .await;
    fx.note("n-o", "M_S", "O", Some("release notes by O"), at(1))
        .await;
    fx.note("n-empty", "M_S", "S", Some(""), at(1)).await;
    insight(db, "i-s", "S", "release day went well").await;
    insight(db, "i-o", "O", "release insight of O").await;
    preference(db, "p-s", "S", "release.channel", json!({"name": "stable"})).await;
    preference(db, "p-o", "O", "release.other", json!(true)).await;
}

async fn search(
    db: &DatabaseConnection,
    c: &FederationContext,
    resource: &str,
    body: Value,
) -> Page {
    verbs::search(db, Some(c), resource, &body)
        .await
        .unwrap_or_else(|e| panic!("{resource} {body}: {}", e.envelope))
}

#[tokio::test]
async fn the_bundled_sqlite_has_fts5() {
    for db in all_backends().await {
        if db.backend() == Backend::Sqlite {
            let conn = db.store.conn();
            let row = conn
                .query_one_raw(Statement::from_string(
                    conn.get_database_backend(),
                    "SELECT sqlite_compileoption_used('ENABLE_FTS5') AS fts5",
                ))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(row.try_get::<i64>("", "fts5").unwrap(), 1);
        }
        db.cleanup().await;
    }
}

#[tokio::test]
async fn finds_the_subjects_rows_of_every_resource_best_first() {
    for db in all_backends().await {
        let conn = db.store.conn();
        fixture(conn).await;
        let c = everything();
        let backend = db.backend();

        let page = search(conn, &c, "tasks", json!({"q": "Release"})).await;
        assert_eq!(
            ids(&page)[0],
            "s-release",
            "{backend}: three mentions rank first"
        );
        assert_eq!(
            sorted(ids(&page)),
            vec!["s-deploy", "s-mission", "s-release", "t-team", "u-team"],
            "{backend}: O's personal task never appears"
        );
        assert!(page.items.iter().all(|i| i.source == "local"));
        assert!(!page.truncated && page.next_cursor.is_none());
        let wire = serde_json::to_value(&page).unwrap();
        assert_eq!(wire["items"][0]["title"], "Release checklist");
        assert_eq!(wire["items"][0]["_source"], "local");

        // Every word must be there.
        let page = search(conn, &c, "tasks", json!({"q": "release production"})).await;
        assert_eq!(ids(&page), vec!["s-deploy"], "{backend}");
        // Case does not matter.
        let page = search(conn, &c, "tasks", json!({"q": "CHECKLIST"})).await;
        assert_eq!(ids(&page), vec!["s-release"], "{backend}");

        let page = search(conn, &c, "notes", json!({"q": "release"})).await;
        assert_eq!(
            ids(&page),
            vec!["n-s"],
            "{backend}: only the subject's notes"
        );

        let page = search(conn, &c, "memory", json!({"q": "release"})).await;
        assert_eq!(sorted(ids(&page)), vec!["i-s", "p-s"], "{backend}");
        // A preference is found by its key and by its value's text.
        let page = search(conn, &c, "memory", json!({"q": "stable"})).await;
        assert_eq!(ids(&page), vec!["p-s"], "{backend}");
        let page = search(conn, &c, "memory", json!({"q": "channel"})).await;
        assert_eq!(ids(&page), vec!["p-s"], "{backend}");

        // Team rows follow the scope's filter exactly as list does.
        let personal_only = ctx(
            json!({"resources": ["tasks"], "filters": {"tasks": {"include_teams": []}}, "max_rows_per_query": 50}),
        );
        let page = search(conn, &personal_only, "tasks", json!({"q": "release"})).await;
        assert_eq!(
            sorted(ids(&page)),
            vec!["s-deploy", "s-mission", "s-release"],
            "{backend}"
        );
        let one_team = ctx(
            json!({"resources": ["tasks"], "filters": {"tasks": {"include_personal": false, "include_teams": ["U"]}}, "max_rows_per_query": 50}),
        );
        let page = search(conn, &one_team, "tasks", json!({"q": "release"})).await;
        assert_eq!(ids(&page), vec!["u-team"], "{backend}");

        // Beyond ASCII: case folds on both backends (PostgreSQL by the
        // database's UTF-8 locale); SQLite also drops diacritics.
        task(conn, "cafe", Some("PS"), "Café CRÈME à Zürich", "").await;
        for q in ["café crème", "CAFÉ zürich"] {
            let page = search(conn, &c, "tasks", json!({ "q": q })).await;
            assert_eq!(ids(&page), vec!["cafe"], "{backend} {q}");
        }
        let page = search(conn, &c, "tasks", json!({"q": "cafe creme zurich"})).await;
        let without_diacritics = ids(&page);
        match backend {
            Backend::Sqlite => assert_eq!(without_diacritics, vec!["cafe"]),
            Backend::Postgres => assert!(without_diacritics.is_empty()),
        }

        // Words nobody wrote: an empty page, not an error.
        let page = search(conn, &c, "tasks", json!({"q": "xylophone"})).await;
        assert!(page.items.is_empty());
        db.cleanup().await;
    }
}

#[tokio::test]
async fn cursors_page_through_ties_and_belong_to_one_search() {
    for db in all_backends().await {
        let conn = db.store.conn();
        fixture(conn).await;
        for id in ["d3", "d1", "d5", "d2", "d4"] {
            task(conn, id, Some("PS"), "same words here", "").await;
        }
        for id in ["zi-1", "zi-2"] {
            insight(conn, id, "S", "zebra crossing").await;
        }
        preference(conn, "zp-1", "S", "zebra.crossing", json!("a")).await;
        preference(conn, "zp-2", "S", "crossing.zebra", json!("b")).await;
        let c = everything();
        let backend = db.backend();

        // Equal scores: ascending ids, two at a time.
        let mut seen = Vec::new();
        let mut body = json!({"q": "same words", "limit": 2});
        loop {
            let page = search(conn, &c, "tasks", body.clone()).await;
            seen.extend(ids(&page).into_iter().map(str::to_owned));
            assert_eq!(page.truncated, page.next_cursor.is_some());
            match page.next_cursor {
                Some(cursor) => body["cursor"] = json!(cursor),
                None => break,
            }
        }
        assert_eq!(seen, vec!["d1", "d2", "d3", "d4", "d5"], "{backend}");

        // Memory merges its two tables by score, one row a page, none twice.
        let mut seen = Vec::new();
        let mut body = json!({"q": "zebra crossing", "limit": 1});
        for _ in 0..10 {
            let page = search(conn, &c, "memory", body.clone()).await;
            seen.extend(ids(&page).into_iter().map(str::to_owned));
            match page.next_cursor {
                Some(cursor) => body["cursor"] = json!(cursor),
                None => break,
            }
        }
        let mut all = seen.clone();
        all.sort();
        assert_eq!(
            all,
            vec!["zi-1", "zi-2", "zp-1", "zp-2"],
            "{backend}: {seen:?}"
        );

        // A cursor continues its own search only.
        let first = search(conn, &c, "tasks", json!({"q": "same words", "limit": 2})).await;
        let cursor = first.next_cursor.unwrap();
        let foreign = "Federation search cursor belongs to another search: pass the nextCursor of the previous page of the same q and resource, or no cursor to start over";
        let list_cursor = verbs::list(conn, Some(&c), "tasks", &json!({"limit": 1}))
            .await
            .unwrap()
            .next_cursor
            .unwrap();
        for (resource, body, message) in [
            ("tasks", json!({"q": "same", "cursor": cursor}), foreign),
            (
                "tasks",
                json!({"q": "words same", "cursor": cursor}),
                foreign,
            ),
            (
                "notes",
                json!({"q": "same words", "cursor": cursor}),
                foreign,
            ),
            (
                "tasks",
                json!({"q": "same words", "cursor": "not-a-cursor"}),
                "Federation search cursor is invalid",
            ),
            (
                "tasks",
                json!({"q": "same words", "cursor": list_cursor}),
                "Federation search cursor is invalid",
            ),
        ] {
            let e = verbs::search(conn, Some(&c), resource, &body)
                .await
                .unwrap_err();
            assert_eq!(
                (e.code(), e.envelope.error.message.as_str()),
                (ErrorCode::InvalidRequest, message),
                "{backend} {resource} {body}"
            );
        }
        // Nor does a search cursor continue a list.
        let e = verbs::list(conn, Some(&c), "tasks", &json!({"cursor": cursor}))
            .await
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidRequest);
        // The same words written otherwise are the same search.
        let next = search(
            conn,
            &c,
            "tasks",
            json!({"q": "SAME, words!", "limit": 2, "cursor": cursor}),
        )
        .await;
        assert_eq!(ids(&next), vec!["d3", "d4"], "{backend}");
        db.cleanup().await;
    }
}

/// Rows of `source` in `search_rowids` (SQLite's stable index keys).
async fn index_keys(db: &DatabaseConnection, source: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT count(*) AS n FROM search_rowids WHERE source = ?",
            [source.into()],
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

#[tokio::test]
async fn every_write_keeps_the_index_in_step() {
    for db in all_backends().await {
        let conn = db.store.conn();
        fixture(conn).await;
        let c = everything();
        let backend = db.backend();
        let find = |resource: &'static str, q: &'static str| {
            let c = c.clone();
            async move {
                search(conn, &c, resource, json!({ "q": q }))
                    .await
                    .items
                    .iter()
                    .map(|i| i.row.id().to_owned())
                    .collect::<Vec<String>>()
            }
        };

        // A title rewritten: the old word is gone, the new one found.
        let mut t: tasks::ActiveModel = tasks::Entity::find_by_id("s-deploy".to_owned())
            .one(conn)
            .await
            .unwrap()
            .unwrap()
            .into();
        t.title = Set("Deploy to staging".into());
        t.update(conn).await.unwrap();
        assert!(find("tasks", "production").await.is_empty(), "{backend}");
        assert_eq!(
            find("tasks", "staging").await,
            vec!["s-deploy"],
            "{backend}"
        );
        // A change to a column that is not indexed leaves it found.
        let mut t: tasks::ActiveModel = tasks::Entity::find_by_id("s-deploy".to_owned())
            .one(conn)
            .await
            .unwrap()
            .unwrap()
            .into();
        t.status = Set("done".into());
        t.update(conn).await.unwrap();
        assert_eq!(
            find("tasks", "staging").await,
            vec!["s-deploy"],
            "{backend}"
        );
        // Deleted: gone.
        tasks::Entity::delete_by_id("s-deploy".to_owned())
            .exec(conn)
            .await
            .unwrap();
        assert!(find("tasks", "staging").await.is_empty(), "{backend}");

        // Notes: emptied, then written again.
        let note = |text: &'static str| async move {
            let mut n: mission_tasks::ActiveModel =
                mission_tasks::Entity::find_by_id("n-s".to_owned())
                    .one(conn)
                    .await
                    .unwrap()
                    .unwrap()
                    .into();
            n.notes = Set(Some(text.to_owned()));
            n.update(conn).await.unwrap();
        };
        note("").await;
        assert!(find("notes", "release").await.is_empty(), "{backend}");
        note("fresh words").await;
        assert_eq!(find("notes", "fresh").await, vec!["n-s"], "{backend}");

        // Memory: an insight deleted, a preference's value changed.
        insights::Entity::delete_by_id("i-s".to_owned())
            .exec(conn)
            .await
            .unwrap();
        assert_eq!(find("memory", "release").await, vec!["p-s"], "{backend}");
        let mut p: preferences::ActiveModel = preferences::Entity::find_by_id("p-s".to_owned())
            .one(conn)
            .await
            .unwrap()
            .unwrap()
            .into();
        p.value = Set(json!({"name": "nightly"}));
        p.update(conn).await.unwrap();
        assert!(find("memory", "stable").await.is_empty(), "{backend}");
        assert_eq!(find("memory", "nightly").await, vec!["p-s"], "{backend}");

        // A project deleted takes its tasks (by cascade) out of the index.
        projects::Entity::delete_by_id("PS".to_owned())
            .exec(conn)
            .await
            .unwrap();
        assert!(find("tasks", "checklist").await.is_empty(), "{backend}");
        if backend == Backend::Sqlite {
            let tasks_left = tasks::Entity::find().all(conn).await.unwrap().len();
            assert_eq!(
                index_keys(conn, "tasks").await,
                i64::try_from(tasks_left).unwrap(),
                "no key outlives its row"
            );
        }
        db.cleanup().await;
    }
}

#[tokio::test]
async fn the_migration_indexes_rows_written_before_it() {
    for db in all_backends().await {
        let store = &db.store;
        // Back to just before the search migration, wherever it now sits.
        while store
            .status()
            .await
            .unwrap()
            .applied
            .iter()
            .any(|m| m.contains("_search"))
        {
            store.rollback(Some(1)).await.unwrap();
        }
        let conn = store.conn();
        fixture(conn).await;
        store.migrate().await.unwrap();
        let c = everything();
        let page = search(conn, &c, "tasks", json!({"q": "checklist"})).await;
        assert_eq!(ids(&page), vec!["s-release"], "{}", db.backend());
        let page = search(conn, &c, "memory", json!({"q": "release"})).await;
        assert_eq!(sorted(ids(&page)), vec!["i-s", "p-s"], "{}", db.backend());
        // And the triggers work on rows the migration indexed.
        tasks::Entity::delete_by_id("s-release".to_owned())
            .exec(conn)
            .await
            .unwrap();
        let page = search(conn, &c, "tasks", json!({"q": "checklist"})).await;
        assert!(page.items.is_empty());
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_long_text_is_stored_and_found() {
    for db in all_backends().await {
        let conn = db.store.conn();
        fixture(conn).await;
        // 1.5 MB of distinct words: more than a PostgreSQL tsvector holds.
        let text: String = (0..200_000).map(|i| format!("w{i:06} ")).collect();
        task(conn, "long", Some("PS"), "Long one", &text).await;
        let c = everything();
        let page = search(conn, &c, "tasks", json!({"q": "w000001 long"})).await;
        assert_eq!(ids(&page), vec!["long"], "{}", db.backend());
        db.cleanup().await;
    }
}

#[tokio::test]
async fn hostile_queries_are_refused_clearly_or_matched_literally() {
    for db in all_backends().await {
        let conn = db.store.conn();
        fixture(conn).await;
        let c = everything();
        let backend = db.backend();
        let no_words = "Federation search q must contain at least one word: letters or digits (punctuation and search operators are not words)";
        let ten_kb = "release ".repeat(1280);
        let refused: [(&str, &str); 5] = [
            ("\"", no_words),
            ("*", no_words),
            ("(", no_words),
            ("\u{0}", no_words),
            (
                &ten_kb,
                "Federation search q is 10240 bytes; at most 1000: search for fewer or shorter words",
            ),
        ];
        for (q, message) in refused {
            let e = verbs::search(conn, Some(&c), "tasks", &json!({ "q": q }))
                .await
                .unwrap_err();
            assert_eq!(
                (e.code(), e.envelope.error.message.as_str()),
                (ErrorCode::InvalidRequest, message),
                "{backend} {q:?}"
            );
        }
        for (q, want) in [
            // Operators spelled out are words: no row holds all of them.
            ("NEAR() OR AND -", vec![]),
            ("NEAR(a b)", vec!["hostile"]),
            ("a OR b", vec!["hostile"]),
            ("(unbalanced", vec![]),
            ("paren)", vec!["hostile"]),
            ("\"quoted\"", vec!["hostile"]),
            ("star*", vec!["hostile"]),
            ("^maybe", vec!["hostile"]),
            ("title:checklist", vec![]),
            ("'; DROP TABLE tasks; --", vec![]),
            ("checklist\u{0}", vec!["s-release"]),
        ] {
            let page = search(conn, &c, "tasks", json!({ "q": q })).await;
            assert_eq!(ids(&page), want, "{backend} {q:?}");
        }
        assert_eq!(tasks::Entity::find().all(conn).await.unwrap().len(), 8);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn search_denies_exactly_as_list_denies() {
    for db in all_backends().await {
        let conn = db.store.conn();
        fixture(conn).await;
        let excluded = ctx(
            json!({"resources": ["tasks"], "excluded_resources": ["memory", "credentials"], "max_rows_per_query": 10}),
        );
        let secrets =
            ctx(json!({"resources": ["credentials", "api_keys"], "max_rows_per_query": 10}));
        let broken = ctx(json!({"resources": "tasks"}));
        let body = json!({"q": "release"});
        for (c, resource) in [
            (Some(&excluded), "memory"),
            (Some(&excluded), "credentials"),
            (Some(&excluded), "notes"),
            (Some(&excluded), "widgets"),
            (Some(&secrets), "credentials"),
            (Some(&secrets), "api_keys"),
            (Some(&broken), "tasks"),
            (None, "tasks"),
        ] {
            let listed = verbs::list(conn, c, resource, &json!({}))
                .await
                .unwrap_err();
            let searched = verbs::search(conn, c, resource, &body).await.unwrap_err();
            assert_eq!(searched.code(), listed.code(), "{resource}");
            let say = |m: &str| m.replace(" list ", " search ");
            assert_eq!(
                searched.envelope.error.message,
                say(&listed.envelope.error.message),
                "{resource}"
            );
            assert_eq!(
                searched
                    .envelope
                    .error
                    .details
                    .as_ref()
                    .map(ToString::to_string),
                listed
                    .envelope
                    .error
                    .details
                    .as_ref()
                    .map(|d| say(&d.to_string())),
                "{resource}"
            );
            assert_ne!(searched.code(), ErrorCode::Internal);
        }
        let secret = verbs::search(conn, Some(&secrets), "credentials", &body)
            .await
            .unwrap_err();
        assert_eq!(
            (secret.code(), secret.envelope.error.message.as_str()),
            (
                ErrorCode::ScopeViolation,
                "credentials federation search access is never granted"
            )
        );

        // The row cap holds: at most max_rows_per_query, whatever is asked.
        let capped = ctx(json!({"resources": ["tasks"], "max_rows_per_query": 2}));
        let page = search(
            conn,
            &capped,
            "tasks",
            json!({"q": "release", "limit": 100}),
        )
        .await;
        assert_eq!(page.items.len(), 2);
        assert!(page.truncated && page.next_cursor.is_some());

        // Bad input names the field.
        let c = everything();
        for (body, message) in [
            (
                json!({}),
                "Federation search q is required: the words to search for",
            ),
            (
                json!({"q": 7}),
                "Federation search q must be a string of words",
            ),
            (
                json!({"q": "x", "limit": 0}),
                "Federation search limit must be a positive integer",
            ),
            (
                json!({"q": "x", "cursor": 5}),
                "Federation search cursor must be a string",
            ),
            (json!("q"), "Federation search body must be a JSON object"),
        ] {
            let e = verbs::search(conn, Some(&c), "tasks", &body)
                .await
                .unwrap_err();
            assert_eq!(
                (e.code(), e.envelope.error.message.as_str()),
                (ErrorCode::InvalidRequest, message),
                "{body}"
            );
        }
        db.cleanup().await;
    }
}

/// Arbitrary text as `q`: every answer is rows or a clear 400, never a
/// database error, on every backend.
#[test]
fn any_q_is_rows_or_a_clear_refusal() {
    use proptest::strategy::Strategy as _;
    use proptest::test_runner::{Config, TestRunner};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dbs = rt.block_on(all_backends());
    for db in &dbs {
        rt.block_on(fixture(db.store.conn()));
    }
    let c = everything();
    let mut runner = TestRunner::new(Config {
        cases: 96,
        ..Config::default()
    });
    let strategy = proptest::prop_oneof![
        "\\PC{0,80}",
        "[a-z \"*()^:{}+\\-]{0,60}",
        proptest::collection::vec(
            proptest::prop_oneof![
                proptest::strategy::Just("NEAR"),
                proptest::strategy::Just("OR"),
                proptest::strategy::Just("\""),
                proptest::strategy::Just("("),
                proptest::strategy::Just("*"),
                proptest::strategy::Just("release"),
            ],
            0..20
        )
        .prop_map(|v| v.join(" ")),
    ];
    runner
        .run(&strategy, |q| {
            for db in &dbs {
                for resource in ["tasks", "notes", "memory"] {
                    let answer = rt.block_on(verbs::search(
                        db.store.conn(),
                        Some(&c),
                        resource,
                        &json!({ "q": q }),
                    ));
                    if let Err(e) = answer {
                        proptest::prop_assert_eq!(
                            e.code(),
                            ErrorCode::InvalidRequest,
                            "{} {}: {}",
                            db.backend(),
                            resource,
                            e.envelope
                        );
                        proptest::prop_assert!(
                            e.envelope.error.message.starts_with("Federation search q ")
                        );
                    }
                }
            }
            Ok(())
        })
        .unwrap();
    for db in dbs {
        rt.block_on(db.cleanup());
    }
}
