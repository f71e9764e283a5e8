//! The verbs end to end over a real store: the seed's controller and
//! integration cases, every refusal by its error code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fixture;

use chrono::{Duration, Utc};
use fixture::{Fx, at};
use mosaic_federation::context::{PresentedClaims, resolve};
use mosaic_federation::limit::GrantQuota;
use mosaic_federation::verbs;
use mosaic_scope::FederationContext;
use mosaic_store::entity::{federation_grants, federation_peers};
use mosaic_store::sea_orm::{ActiveModelTrait, DatabaseConnection, IntoActiveModel};
use mosaic_store::testing::all_backends;
use mosaic_types::{ErrorCode, ErrorEnvelope, FederatedRow, Sourced};
use serde_json::{Value, json};
use std::num::NonZeroU32;

/// The integration fixture: S and O; teams T (S) and U (O), S a member of both;
/// projects S-personal, O-personal, U-team; mission M_S on S's project; tasks
/// t0 (on M_S, 03:00), t1 (02:00), t2 (01:00) for S, x0 (O's, 04:00), x1 (U's,
/// 05:00); a note each for S and O on M_S.
async fn integration_fixture(db: &DatabaseConnection) {
    let fx = Fx(db);
    fx.user("S").await;
    fx.user("O").await;
    fx.team("T", "S").await;
    fx.team("U", "O").await;
    fx.member("T", "S").await;
    fx.member("U", "S").await;
    fx.personal_project("PS", "S").await;
    fx.personal_project("PO", "O").await;
    fx.team_project("PU", "U", "O").await;
    fx.mission("M_S", "PS", "S").await;
    fx.task("t0", None, Some("M_S"), at(3)).await;
    fx.task("t1", Some("PS"), None, at(2)).await;
    fx.task("t2", Some("PS"), None, at(1)).await;
    fx.task("x0", Some("PO"), None, at(4)).await;
    fx.task("x1", Some("PU"), None, at(5)).await;
    fx.note("note-s", "M_S", "S", Some("S note"), at(1)).await;
    fx.note("note-o", "M_S", "O", Some("O note"), at(2)).await;
}

fn ctx(scope: Value) -> FederationContext {
    FederationContext {
        grant_id: "grant-1".parse().unwrap(),
        peer_id: "peer-1".parse().unwrap(),
        subject_user_id: "S".parse().unwrap(),
        scope,
    }
}

fn granted() -> FederationContext {
    ctx(json!({
        "resources": ["tasks", "notes"],
        "excluded_resources": [],
        "filters": {
            "tasks": {"include_personal": true, "include_teams": []},
            "notes": {"include_personal": true, "include_teams": []}
        },
        "max_rows_per_query": 2
    }))
}

fn ids(items: &[Sourced<FederatedRow>]) -> Vec<&str> {
    items.iter().map(|i| i.row.id()).collect()
}

#[tokio::test]
async fn granted_list_is_capped_tagged_and_pages() {
    for db in all_backends().await {
        let conn = db.store.conn();
        integration_fixture(conn).await;
        let c = granted();
        let page = verbs::list(conn, Some(&c), "tasks", &json!({"limit": 100}))
            .await
            .unwrap();
        assert_eq!(
            ids(&page.items),
            vec!["t0", "t1"],
            "x0 (O's) and x1 (team U, excluded by include_teams []) absent"
        );
        assert!(page.truncated);
        assert!(page.items.iter().all(|i| i.source == "local"));
        let cursor = page.next_cursor.clone().unwrap();
        let next = verbs::list(conn, Some(&c), "tasks", &json!({"cursor": cursor}))
            .await
            .unwrap();
        assert_eq!(ids(&next.items), vec!["t2"]);
        assert!(!next.truncated && next.next_cursor.is_none());
        let wire = serde_json::to_value(&next).unwrap();
        assert!(wire.get("_truncated").is_none() && wire.get("nextCursor").is_none());

        let notes = verbs::list(conn, Some(&c), "notes", &json!({"limit": 10}))
            .await
            .unwrap();
        assert_eq!(
            ids(&notes.items),
            vec!["note-s"],
            "O's note is never visible"
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn list_refusals_have_their_code_and_message() {
    for db in all_backends().await {
        let conn = db.store.conn();
        integration_fixture(conn).await;
        let c = granted();
        let cases = [
            (
                Some(&c),
                "widgets",
                json!({}),
                "scope_violation",
                "Requested federation resource is not supported",
            ),
            (
                Some(&c),
                "memory",
                json!({}),
                "scope_violation",
                "Requested federation resource is not granted by scope",
            ),
            (
                Some(&c),
                "tasks",
                json!({"limit": false}),
                "invalid_request",
                "Federation list limit must be a positive integer",
            ),
            (
                Some(&c),
                "tasks",
                json!({"limit": "abc"}),
                "invalid_request",
                "Federation list limit must be a positive integer",
            ),
            (
                Some(&c),
                "tasks",
                json!({"cursor": 123}),
                "invalid_request",
                "Federation list cursor must be a string",
            ),
            (
                Some(&c),
                "tasks",
                json!({"cursor": "not-base64-json"}),
                "invalid_request",
                "Federation list cursor is invalid",
            ),
            (
                Some(&c),
                "tasks",
                json!([1]),
                "invalid_request",
                "Federation list body must be a JSON object",
            ),
            (
                None,
                "tasks",
                json!({}),
                "unauthorized",
                "Federation context missing",
            ),
        ];
        for (context, resource, body, code, message) in cases {
            let e = verbs::list(conn, context, resource, &body)
                .await
                .unwrap_err();
            assert_eq!(
                (
                    e.envelope.error.code.as_str(),
                    e.envelope.error.message.as_str()
                ),
                (code, message),
                "{resource} {body}"
            );
        }
        db.cleanup().await;
    }
}

#[tokio::test]
async fn secrets_never_return_a_row_whatever_the_scope() {
    for db in all_backends().await {
        let conn = db.store.conn();
        integration_fixture(conn).await;
        let c = ctx(json!({"resources": ["credentials", "api_keys"], "max_rows_per_query": 10}));
        for resource in ["credentials", "api_keys"] {
            let e = verbs::list(conn, Some(&c), resource, &json!({}))
                .await
                .unwrap_err();
            assert_eq!(e.code(), ErrorCode::ScopeViolation);
            let e = verbs::get(conn, Some(&c), resource, "cred-1")
                .await
                .unwrap_err();
            assert_eq!(e.code(), ErrorCode::ScopeViolation);
        }
        let excluded = ctx(
            json!({"resources": ["tasks"], "excluded_resources": ["credentials"], "max_rows_per_query": 10}),
        );
        let e = verbs::list(conn, Some(&excluded), "credentials", &json!({}))
            .await
            .unwrap_err();
        assert_eq!(
            e.envelope.error.message,
            "Requested federation resource is explicitly excluded by grant scope"
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn get_outcomes() {
    for db in all_backends().await {
        let conn = db.store.conn();
        integration_fixture(conn).await;
        let c = granted();
        let found = verbs::get(conn, Some(&c), "tasks", "t1").await.unwrap();
        let found = serde_json::to_value(&found).unwrap();
        assert_eq!(found["item"]["id"], "t1");
        assert_eq!(found["item"]["title"], "Task t1");
        assert_eq!(found["item"]["_source"], "local");

        let e = verbs::get(conn, Some(&c), "tasks", "nope")
            .await
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::NotFound);
        assert_eq!(
            e.envelope.error.message,
            "Requested federation resource was not found"
        );

        // Another user's task exists, but answers exactly like an id that
        // does not: the peer learns nothing about which ids exist.
        let unknown = e.envelope.clone();
        let e = verbs::get(conn, Some(&c), "tasks", "x0").await.unwrap_err();
        assert_eq!(e.envelope, unknown);
        for (resource, id) in [("notes", "note-o"), ("notes", "no-such-note")] {
            let e = verbs::get(conn, Some(&c), resource, id).await.unwrap_err();
            assert_eq!(e.envelope, unknown, "{resource}/{id}");
        }

        let e = verbs::get(conn, Some(&c), "tasks", " ").await.unwrap_err();
        assert_eq!(
            (e.code(), e.envelope.error.message.as_str()),
            (
                ErrorCode::InvalidRequest,
                "Federation get id must not be empty"
            )
        );

        let e = verbs::get(conn, None, "tasks", "t1").await.unwrap_err();
        assert_eq!(e.code(), ErrorCode::Unauthorized);

        let e = verbs::get(conn, Some(&c), "unknown-resource", "t1")
            .await
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::ScopeViolation);
        assert_eq!(
            e.envelope.error.message,
            "Requested federation resource is not supported"
        );

        let excluded = ctx(
            json!({"resources": ["tasks"], "excluded_resources": ["notes"], "max_rows_per_query": 10}),
        );
        let e = verbs::get(conn, Some(&excluded), "notes", "note-s")
            .await
            .unwrap_err();
        assert_eq!(
            e.envelope.error.message,
            "Requested federation resource is explicitly excluded by grant scope"
        );
        db.cleanup().await;
    }
}

#[test]
fn capabilities_report_the_grant() {
    let c = ctx(
        json!({"resources": ["tasks", "notes"], "excluded_resources": ["credentials"], "max_rows_per_query": 250}),
    );
    let caps = verbs::capabilities(Some(&c), None).unwrap();
    assert_eq!(
        serde_json::to_value(&caps).unwrap(),
        json!({"resources": ["tasks", "notes"], "excluded_resources": ["credentials"], "max_rows_per_query": 250, "supported_verbs": ["list", "get", "capabilities", "search"]})
    );
    let c = ctx(json!({"resources": ["memory"], "max_rows_per_query": 10}));
    let caps = verbs::capabilities(Some(&c), None).unwrap();
    assert!(caps.excluded_resources.is_empty());
    assert_eq!(
        verbs::capabilities(None, None).unwrap_err().code(),
        ErrorCode::Unauthorized
    );
}

#[test]
fn capabilities_advertise_the_grants_rate_limit_or_the_default() {
    let default = GrantQuota::new(NonZeroU32::new(600).unwrap(), NonZeroU32::new(60).unwrap());
    let own = ctx(
        json!({"resources": ["tasks"], "max_rows_per_query": 5, "rate_limit": {"requests_per_minute": 2, "burst": 1}}),
    );
    let none = ctx(json!({"resources": ["tasks"], "max_rows_per_query": 5}));
    for (c, want) in [
        (
            &own,
            json!({"requests_per_minute": 2, "burst": 1, "source": "grant"}),
        ),
        (
            &none,
            json!({"requests_per_minute": 600, "burst": 60, "source": "default"}),
        ),
    ] {
        let caps = verbs::capabilities(Some(c), Some(default)).unwrap();
        assert_eq!(serde_json::to_value(&caps).unwrap()["rate_limit"], want);
    }
    // A server that enforces no budgets advertises none, whatever the scope says.
    let caps = verbs::capabilities(Some(&own), None).unwrap();
    assert!(
        serde_json::to_value(&caps)
            .unwrap()
            .get("rate_limit")
            .is_none()
    );
}

/// Stores peer `peer-1` and grant `grant-broken` for S with `scope`, and
/// resolves a context from them as the auth layer does.
async fn stored_grant_context(db: &DatabaseConnection, scope: Value) -> FederationContext {
    federation_peers::Model {
        id: "peer-1".into(),
        common_name: "peer-one".into(),
        display_name: "Peer One".into(),
        cert_pem: String::new(),
        cert_serial: "0A1B".into(),
        cert_not_after: Utc::now() + Duration::days(1),
        state: "active".into(),
        endpoint_url: None,
        client_key_pem: None,
        ca_pem: None,
        local_user_id: None,
        refusal: None,
        created_at: at(0),
        updated_at: at(0),
    }
    .into_active_model()
    .insert(db)
    .await
    .unwrap();
    federation_grants::Model {
        id: "grant-broken".into(),
        peer_id: "peer-1".into(),
        subject_user_id: "S".into(),
        status: "active".into(),
        scope,
        expires_at: None,
        revoked_at: None,
        revoked_reason: None,
        created_at: at(0),
        updated_at: at(0),
    }
    .into_active_model()
    .insert(db)
    .await
    .unwrap();
    let claims = PresentedClaims {
        grant_id: "grant-broken".parse().unwrap(),
        subject_user_id: "S".parse().unwrap(),
        serial_hex: "0A1B".into(),
        peer_id: None,
        instance_id: None,
    };
    resolve(db, &claims).await.unwrap()
}

/// A grant whose stored scope does not parse gets one answer, whichever verb
/// asks: the `scope_parse` denial as `invalid_request`.
#[tokio::test]
async fn an_invalid_stored_scope_gets_the_same_answer_on_every_verb() {
    for db in all_backends().await {
        let conn = db.store.conn();
        integration_fixture(conn).await;
        let broken = json!({"resources": [], "max_rows_per_query": 0});
        let c = stored_grant_context(conn, broken).await;
        let expected = ErrorEnvelope::new(
            ErrorCode::InvalidRequest,
            "Federation grant scope is invalid",
        )
        .with_details(json!({
            "code": "invalid_scope",
            "stage": "scope_parse",
            "statusCode": 400,
            "message": "Federation grant scope is invalid",
            "grantId": "grant-broken",
            "peerId": "peer-1",
            "subjectUserId": "S",
            "details": {"reason": "scope.resources must name at least one resource"}
        }));
        let capabilities = verbs::capabilities(Some(&c), None).unwrap_err().envelope;
        let list = verbs::list(conn, Some(&c), "tasks", &json!({}))
            .await
            .unwrap_err()
            .envelope;
        let get = verbs::get(conn, Some(&c), "tasks", "t1")
            .await
            .unwrap_err()
            .envelope;
        let search = verbs::search(conn, Some(&c), "tasks", &json!({"q": "task"}))
            .await
            .unwrap_err()
            .envelope;
        assert_eq!(capabilities, expected);
        // list, get and search name the resource they asked for; nothing
        // else differs.
        for (verb, mut envelope) in [("list", list), ("get", get), ("search", search)] {
            let details = envelope.error.details.as_mut().unwrap();
            assert_eq!(details["resource"], "tasks", "{verb}");
            details.as_object_mut().unwrap().remove("resource");
            assert_eq!(envelope, expected, "{verb}");
        }
        db.cleanup().await;
    }
}
