//! The backlog served by the real gateway binary: agents claim over HTTP with
//! their tokens, the sweeper returns lapsed claims, and every request without
//! a usable token is refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};
use support::{Gateway, command};

const BASE: &str = "/api/fleet/v1/backlog";

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    fn new(gw: &Gateway) -> Self {
        support::crypto();
        Self {
            http: reqwest::Client::new(),
            base: gw.base_url.clone(),
        }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!("{}{BASE}{path}", self.base);
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.http.request(method, url);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.call("POST", path, Some(token), Some(body)).await
    }

    async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.call("GET", path, Some(token), None).await
    }
}

/// A user token issued directly in the gateway's store.
async fn user_token(data_dir: &Path, database_url: Option<&str>) -> String {
    use mosaic_store::sea_orm::{ActiveModelTrait, Set};
    let opts =
        mosaic_store::StoreOptions::embedded(data_dir).with_url(database_url.map(str::to_owned));
    let store = mosaic_store::Store::open(&opts).await.unwrap();
    mosaic_store::entity::users::ActiveModel {
        id: Set("agent-user".into()),
        name: Set("Agent".into()),
        email: Set("agent@x.test".into()),
        email_verified: Set(false),
        created_at: Set(mosaic_store::now()),
        updated_at: Set(mosaic_store::now()),
    }
    .insert(store.conn())
    .await
    .unwrap();
    let token = mosaic_auth::Tokens::new(store.conn())
        .issue(mosaic_auth::Role::User, Some("agent-user"), "agent")
        .await
        .unwrap();
    store.close().await.unwrap();
    token.secret
}

fn start(home: &Path, database_url: Option<&str>) -> Gateway {
    let mut cmd = command(home);
    cmd.env("MOSAIC_BACKLOG_SWEEP_SECS", "0.2");
    if let Some(url) = database_url {
        cmd.env("DATABASE_URL", url);
    }
    Gateway::start(cmd, home.join("data/mosaic"))
}

/// The seed's walk-through, over HTTP, with a user token and the admin token.
async fn agents_work_the_backlog(api: &Api, user: &str, admin: &str) {
    let (status, a1) = api
        .post(
            "/cards",
            user,
            json!({"id": "A1", "title": "schema", "priority": 5}),
        )
        .await;
    assert_eq!(status, 200, "{a1}");
    assert_eq!(a1["status"], "ready");
    let (status, _) = api
        .post(
            "/cards",
            admin,
            json!({"id": "A2", "title": "service", "priority": 9, "dependsOn": ["A1"], "idempotencyKey": "k2"}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, again) = api
        .post(
            "/cards",
            admin,
            json!({"id": "other", "title": "x", "idempotencyKey": "k2"}),
        )
        .await;
    assert_eq!(again["id"], "A2", "idempotent create");

    let (status, claimed) = api
        .post(
            "/claim",
            user,
            json!({"owner": "worker-1", "ttlSeconds": 600}),
        )
        .await;
    assert_eq!(status, 200, "{claimed}");
    assert_eq!(claimed["id"], "A1", "A2 is gated on A1");
    assert_eq!(claimed["claimOwner"], "worker-1");
    let (status, nothing) = api
        .post("/claim", admin, json!({"owner": "worker-2"}))
        .await;
    assert_eq!((status, nothing), (200, Value::Null));

    let (status, err) = api
        .post("/cards/A1/complete", admin, json!({"owner": "worker-2"}))
        .await;
    assert_eq!(status, 409, "{err}");
    assert_eq!(err["error"]["code"], "conflict");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("claimed by worker-1")
    );
    let (status, err) = api.post("/cards/A1/complete", user, json!({})).await;
    assert_eq!(status, 400, "owner or force: {err}");

    let (status, renewed) = api
        .post(
            "/cards/A1/renew",
            user,
            json!({"owner": "worker-1", "ttlSeconds": 900}),
        )
        .await;
    assert_eq!(
        (status, renewed["claimTtlSeconds"].clone()),
        (200, json!(900))
    );
    let (status, done) = api
        .post("/cards/A1/complete", user, json!({"owner": "worker-1"}))
        .await;
    assert_eq!((status, done["status"].clone()), (200, json!("done")));

    let (status, ready) = api.get("/cards?readyOnly=true", user).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = ready
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["A2"]);

    let (status, err) = api.get("/cards/nope", user).await;
    assert_eq!(
        (status, err["error"]["code"].clone()),
        (404, json!("not_found"))
    );
    let (status, err) = api.post("/cards/A1/link", user, json!({"to": "A2"})).await;
    assert_eq!(status, 400, "a cycle is a bad request: {err}");
    assert!(err["error"]["message"].as_str().unwrap().contains("cycle"));
    let (status, err) = api
        .post("/cards", user, json!({"id": "", "title": "x"}))
        .await;
    assert_eq!(
        (status, err["error"]["code"].clone()),
        (400, json!("invalid_request"))
    );
    let (status, err) = api.get("/cards?status=open", user).await;
    assert_eq!(
        (status, err["error"]["code"].clone()),
        (400, json!("invalid_request"))
    );

    let (_, a2) = api
        .post("/claim", user, json!({"owner": "w", "id": "A2"}))
        .await;
    assert_eq!(a2["id"], "A2");
    let (status, failed) = api
        .post(
            "/cards/A2/fail",
            user,
            json!({"owner": "w", "error": "flaky test"}),
        )
        .await;
    assert_eq!(
        (status, failed["lastError"].clone()),
        (200, json!("flaky test"))
    );
    let (_, blocked) = api.post("/cards/A2/block", user, json!(null)).await;
    assert_eq!(blocked["status"], "blocked");
    let (_, unblocked) = api.post("/cards/A2/unblock", user, json!(null)).await;
    assert_eq!(unblocked["status"], "ready");
    let (_, _) = api.post("/claim", user, json!({"owner": "w"})).await;
    let (_, released) = api
        .post("/cards/A2/release", user, json!({"owner": "w"}))
        .await;
    assert_eq!(released["status"], "ready");
    let (_, _) = api.post("/claim", user, json!({"owner": "w"})).await;
    let (status, reclaimed) = api.post("/reclaim", admin, json!({"id": "A2"})).await;
    assert_eq!((status, reclaimed), (200, json!({"reclaimed": ["A2"]})));

    let (status, stats) = api.get("/stats", user).await;
    assert_eq!(status, 200);
    assert_eq!(
        stats["counts"],
        json!({"ready": 1, "claimed": 0, "blocked": 0, "done": 1})
    );
    assert_eq!(stats["total"], 2);
}

#[tokio::test]
async fn agents_claim_through_the_gateway_on_sqlite() {
    let home = tempfile::tempdir().unwrap();
    let gw = start(home.path(), None);
    let admin = gw.admin_token.clone().unwrap();
    let user = user_token(&gw.data_dir, None).await;
    let api = Api::new(&gw);
    agents_work_the_backlog(&api, &user, &admin).await;
    assert!(
        gw.terminate().success(),
        "clean shutdown with the sweeper running"
    );
}

#[tokio::test]
async fn agents_claim_through_the_gateway_on_postgres() {
    let Some(admin_url) = mosaic_store::testing::postgres_url() else {
        return;
    };
    let db = mosaic_store::testing::TestDatabase::create(&admin_url)
        .await
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let gw = start(home.path(), Some(&db.url));
    let admin = gw.admin_token.clone().unwrap();
    let user = user_token(&gw.data_dir, Some(&db.url)).await;
    let api = Api::new(&gw);
    agents_work_the_backlog(&api, &user, &admin).await;

    // Agents on other hosts racing for the same cards: each wins a different one.
    for i in 0..6 {
        api.post(
            "/cards",
            &user,
            json!({"id": format!("r{i}"), "title": "race"}),
        )
        .await;
    }
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..10 {
        let http = api.http.clone();
        let url = format!("{}{BASE}/claim", api.base);
        let user = user.clone();
        tasks.spawn(async move {
            let resp = http
                .post(url)
                .bearer_auth(user)
                .json(&json!({"owner": format!("agent-{i}")}))
                .send()
                .await
                .unwrap();
            resp.json::<Value>().await.unwrap()
        });
    }
    let won: Vec<String> = tasks
        .join_all()
        .await
        .into_iter()
        .filter(|c| !c.is_null())
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    let mut unique = won.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        (won.len(), unique.len()),
        (7, 7),
        "6 racers + A2, no card twice: {won:?}"
    );

    assert!(gw.terminate().success());
    db.drop_database().await;
}

#[tokio::test]
async fn the_sweeper_returns_lapsed_claims_without_being_asked() {
    let home = tempfile::tempdir().unwrap();
    let gw = start(home.path(), None);
    let admin = gw.admin_token.clone().unwrap();
    let api = Api::new(&gw);
    api.post("/cards", &admin, json!({"id": "c1", "title": "crash me"}))
        .await;
    let (_, claimed) = api
        .post(
            "/claim",
            &admin,
            json!({"owner": "doomed", "ttlSeconds": 1}),
        )
        .await;
    assert_eq!(claimed["id"], "c1");

    // The claimer "crashes": nobody renews, completes or reclaims.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, card) = api.get("/cards/c1", &admin).await;
        if card["status"] == "ready" {
            assert!(card["claimOwner"].is_null());
            assert_eq!(card["attempts"], 1);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the sweeper never reclaimed: {card}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, again) = api
        .post("/claim", &admin, json!({"owner": "survivor"}))
        .await;
    assert_eq!(
        (again["id"].clone(), again["attempts"].clone()),
        (json!("c1"), json!(2))
    );
    assert!(gw.terminate().success());
}

#[tokio::test]
async fn every_backlog_route_refuses_requests_without_a_usable_token() {
    let home = tempfile::tempdir().unwrap();
    let gw = start(home.path(), None);
    let admin = gw.admin_token.clone().unwrap();
    let api = Api::new(&gw);
    api.post("/cards", &admin, json!({"id": "c1", "title": "t"}))
        .await;

    // A revoked token: issue a user token, then revoke it.
    let revoked = {
        let user = user_token(&gw.data_dir, None).await;
        let (_, list) = {
            let http = reqwest::Client::new();
            let resp = http
                .get(gw.url("/api/admin/v1/tokens"))
                .bearer_auth(&admin)
                .send()
                .await
                .unwrap();
            (resp.status(), resp.json::<Value>().await.unwrap())
        };
        let id = list
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["role"] == "user")
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let resp = reqwest::Client::new()
            .delete(gw.url(&format!("/api/admin/v1/tokens/{id}")))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 204);
        user
    };
    let unknown = mosaic_auth::generate_secret().unwrap();

    let routes: &[(&str, &str, Option<Value>)] = &[
        ("POST", "/cards", Some(json!({"id": "x", "title": "x"}))),
        ("GET", "/cards", None),
        ("GET", "/cards/c1", None),
        ("POST", "/claim", Some(json!({"owner": "w"}))),
        ("POST", "/reclaim", Some(json!({}))),
        ("GET", "/stats", None),
        ("POST", "/cards/c1/renew", Some(json!({"owner": "w"}))),
        ("POST", "/cards/c1/release", Some(json!({"owner": "w"}))),
        ("POST", "/cards/c1/link", Some(json!({"to": "c1"}))),
        ("POST", "/cards/c1/block", None),
        ("POST", "/cards/c1/unblock", None),
        ("POST", "/cards/c1/complete", Some(json!({"force": true}))),
        (
            "POST",
            "/cards/c1/fail",
            Some(json!({"owner": "w", "error": "e"})),
        ),
    ];
    for (method, path, body) in routes {
        for (why, token) in [
            ("no token", None),
            ("malformed token", Some("not-a-token")),
            ("unknown token", Some(unknown.as_str())),
            ("revoked token", Some(revoked.as_str())),
        ] {
            let (status, err) = api.call(method, path, token, body.clone()).await;
            assert_eq!(status, 401, "{method} {path} with {why}: {err}");
            assert_eq!(
                err["error"]["code"], "unauthorized",
                "{method} {path} with {why}"
            );
        }
    }
    // Nothing above reached the backlog.
    let (_, stats) = api.get("/stats", &admin).await;
    assert_eq!(stats["total"], 1);
    let (_, card) = api.get("/cards/c1", &admin).await;
    assert_eq!(card["status"], "ready");
    assert!(gw.terminate().success());
}

#[test]
fn a_bad_sweep_interval_stops_the_gateway_with_one_line() {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = command(home.path());
    cmd.env("MOSAIC_BACKLOG_SWEEP_SECS", "soon");
    let (status, _out, err) = support::run_to_exit(cmd);
    assert!(!status.success());
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("gateway:")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].contains("MOSAIC_BACKLOG_SWEEP_SECS=`soon`"),
        "{err}"
    );
}
