//! Two (and three) real gateway processes federated through real enrollment
//! and real mTLS: onboarding (AC-1), reading within the scope (AC-2), no
//! reading of users without a grant (AC-3), revocation on the very next
//! request, said as such and recorded as a refused peer (AC-4), enrolling
//! again, garbage cursors, and `source=all` naming each peer that did not
//! answer and why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use support::{Gateway, command};

struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Api {
    fn new(gw: &Gateway, token: &str) -> Self {
        support::crypto();
        Self {
            base: gw.base_url.clone(),
            token: token.to_owned(),
            http: reqwest::Client::new(),
        }
    }
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
    async fn post(&self, path: &str, body: Value) -> Value {
        let (status, v) = self.call(reqwest::Method::POST, path, Some(body)).await;
        assert!((200..300).contains(&status), "POST {path}: {status} {v}");
        v
    }
    async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }
}

fn start(home: &std::path::Path, db: Option<&str>) -> Gateway {
    let mut cmd = command(home);
    if let Some(url) = db {
        cmd.env("DATABASE_URL", url);
    }
    Gateway::start(cmd, home.join("data/mosaic"))
}

/// A user and a token acting as them.
async fn user(admin: &Api, id: &str) -> String {
    admin
        .post(
            "/api/admin/v1/users",
            json!({"id": id, "name": id, "email": format!("{id}@example.test")}),
        )
        .await;
    let t = admin
        .post(
            &format!("/api/admin/v1/users/{id}/tokens"),
            json!({"label": "e2e"}),
        )
        .await;
    t["token"].as_str().unwrap().to_owned()
}

fn ids_and_sources(v: &Value) -> Vec<(String, String)> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["title"]
                    .as_str()
                    .or(r["content"].as_str())
                    .unwrap_or("")
                    .to_owned(),
                r["_source"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn scenario(db_b: Option<&str>, db_a: Option<&str>, db_c: Option<&str>) {
    let (home_a, home_b, home_c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let b = start(home_b.path(), db_b);
    let a = start(home_a.path(), db_a);
    let b_admin = Api::new(&b, b.admin_token.as_deref().unwrap());
    let a_admin = Api::new(&a, a.admin_token.as_deref().unwrap());

    // B: alice (granted) and bob (not granted), a team, their data.
    let alice_b = Api::new(&b, &user(&b_admin, "alice").await);
    let bob_b = Api::new(&b, &user(&b_admin, "bob").await);
    b_admin
        .post(
            "/api/admin/v1/teams",
            json!({"id": "ops", "name": "Ops", "owner_id": "alice"}),
        )
        .await;
    let personal = alice_b
        .post("/api/v1/projects", json!({"name": "Alice at work"}))
        .await;
    let team = alice_b
        .post(
            "/api/v1/projects",
            json!({"name": "Ops board", "team_id": "ops"}),
        )
        .await;
    alice_b
        .post(
            "/api/v1/tasks",
            json!({"title": "alice personal task", "project_id": personal["id"]}),
        )
        .await;
    alice_b
        .post(
            "/api/v1/tasks",
            json!({"title": "ops team task", "project_id": team["id"]}),
        )
        .await;
    let mission = alice_b
        .post(
            "/api/v1/missions",
            json!({"name": "Q4", "project_id": personal["id"]}),
        )
        .await;
    alice_b
        .post(
            "/api/v1/notes",
            json!({"mission_id": mission["id"], "content": "alice's note"}),
        )
        .await;
    alice_b
        .post(
            "/api/v1/memory/insights",
            json!({"content": "alice likes mornings"}),
        )
        .await;
    let bob_project = bob_b
        .post("/api/v1/projects", json!({"name": "Bob's"}))
        .await;
    bob_b
        .post(
            "/api/v1/tasks",
            json!({"title": "bob secret task", "project_id": bob_project["id"]}),
        )
        .await;

    // AC-1: B grants peer "home" alice's personal tasks, notes and memory (no team rows).
    let scope = json!({"resources": ["tasks", "notes", "memory"], "filters": {"tasks": {"include_teams": []}}, "max_rows_per_query": 50});
    let created = b_admin
        .post(
            "/api/admin/v1/federation/grants",
            json!({"peer": "home", "user_id": "alice", "scope": scope}),
        )
        .await;
    let code = created["enrollment_code"].as_str().unwrap().to_owned();
    let grant_id = created["grant"]["id"].as_str().unwrap().to_owned();

    // A: its own user, who enrolls with B.
    let me_a = Api::new(&a, &user(&a_admin, "me").await);
    let other_a = Api::new(&a, &user(&a_admin, "other").await);
    let local_project = me_a.post("/api/v1/projects", json!({"name": "Home"})).await;
    me_a.post(
        "/api/v1/tasks",
        json!({"title": "home task", "project_id": local_project["id"]}),
    )
    .await;

    // A wrong pin fails and stores nothing.
    let wrong_pin = format!("{}.{}", code.rsplit_once('.').unwrap().0, "0".repeat(64));
    let (status, v) = a_admin.call(reqwest::Method::POST, "/api/admin/v1/federation/peers/enroll",
        Some(json!({"url": b.federation_url, "code": wrong_pin, "name": "work", "user_id": "me"}))).await;
    assert_eq!(status, 400, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not the one the enrollment code pins"),
        "{v}"
    );
    let (_, peers) = a_admin.get("/api/admin/v1/federation/peers").await;
    assert!(
        peers.as_array().unwrap().is_empty(),
        "nothing stored after a failed enrollment"
    );

    let enrolled = a_admin
        .post(
            "/api/admin/v1/federation/peers/enroll",
            json!({"url": b.federation_url, "code": code, "name": "work", "user_id": "me"}),
        )
        .await;
    assert_eq!(enrolled["peer"]["direction"], "outbound");

    // The same code again: refused (single use), nothing stored.
    let (status, v) = a_admin
        .call(
            reqwest::Method::POST,
            "/api/admin/v1/federation/peers/enroll",
            Some(json!({"url": b.federation_url, "code": code, "name": "work2", "user_id": "me"})),
        )
        .await;
    assert_eq!(status, 400, "{v}");
    let (_, peers) = a_admin.get("/api/admin/v1/federation/peers").await;
    assert_eq!(peers.as_array().unwrap().len(), 1);

    // AC-2: A reads B's tasks, notes and memory within the scope, tagged "work".
    let (status, v) = me_a.get("/api/v1/query/tasks?source=federated:work").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        ids_and_sources(&v),
        vec![("alice personal task".to_owned(), "work".to_owned())],
        "team task excluded by include_teams []"
    );
    let (_, v) = me_a.get("/api/v1/query/notes?source=federated:work").await;
    assert_eq!(
        ids_and_sources(&v),
        vec![("alice's note".to_owned(), "work".to_owned())]
    );
    let (_, v) = me_a.get("/api/v1/query/memory?source=federated:work").await;
    assert_eq!(
        ids_and_sources(&v),
        vec![("alice likes mornings".to_owned(), "work".to_owned())]
    );
    let (_, v) = me_a.get("/api/v1/query/tasks?source=all").await;
    let mut all = ids_and_sources(&v);
    all.sort();
    assert_eq!(
        all,
        vec![
            ("alice personal task".to_owned(), "work".to_owned()),
            ("home task".to_owned(), "local".to_owned())
        ]
    );
    assert!(v.get("_partial").is_none());
    assert!(v.get("_partialDetails").is_none());

    // A garbage cursor is the caller's mistake, named, on either path.
    for source in ["local", "federated:work"] {
        let (status, v) = me_a
            .get(&format!(
                "/api/v1/query/tasks?source={source}&cursor=not-a-cursor"
            ))
            .await;
        assert_eq!(status, 400, "{source}: {v}");
        assert_eq!(v["error"]["code"], "invalid_request", "{source}: {v}");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.contains("cursor"), "{source}: {v}");
    }
    let (_, caps) = a_admin
        .get(&format!(
            "/api/admin/v1/federation/peers/{}/capabilities",
            enrolled["peer"]["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(caps["max_rows_per_query"], 50);

    // AC-3: bob on B has no grant: nothing of his is reachable; and A's other
    // user cannot use me's grant at all.
    assert!(!v.to_string().contains("bob secret task"));
    let (status, v) = other_a
        .get("/api/v1/query/tasks?source=federated:work")
        .await;
    assert_eq!(status, 404, "another local user cannot use this grant: {v}");
    let (_, v) = other_a.get("/api/v1/query/tasks?source=all").await;
    assert!(v["items"].as_array().unwrap().is_empty());

    // A third gateway C holds a valid grant from B for alice; its certificate
    // cannot be bent to read bob: the subject is fixed in the certificate and
    // the grant. (C presenting its cert for alice sees only alice.)
    let c = start(home_c.path(), db_c);
    let c_admin = Api::new(&c, c.admin_token.as_deref().unwrap());
    let c_user = Api::new(&c, &user(&c_admin, "carol").await);
    let grant_c = b_admin.post("/api/admin/v1/federation/grants", json!({"peer": "third", "user_id": "alice", "scope": {"resources": ["tasks"], "max_rows_per_query": 10}})).await;
    c_admin.post("/api/admin/v1/federation/peers/enroll",
        json!({"url": b.federation_url, "code": grant_c["enrollment_code"], "name": "work", "user_id": "carol"})).await;
    let (_, v) = c_user
        .get("/api/v1/query/tasks?source=federated:work")
        .await;
    let titles: Vec<String> = ids_and_sources(&v).into_iter().map(|(t, _)| t).collect();
    assert!(titles.contains(&"alice personal task".to_owned()));
    assert!(!titles.iter().any(|t| t.contains("bob")));

    // AC-4: B revokes; A's very next request says who refused and why.
    b_admin
        .post(
            &format!("/api/admin/v1/federation/grants/{grant_id}/revoke"),
            json!({"reason": "laptop lost"}),
        )
        .await;
    let (status, v) = me_a.get("/api/v1/query/tasks?source=federated:work").await;
    assert_eq!(status, 403, "{v}");
    assert_eq!(v["error"]["code"], "forbidden", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("the grant for peer work was revoked;"),
        "{v}"
    );
    assert_eq!(v["error"]["details"]["refusal"], "grant_revoked", "{v}");
    assert_eq!(v["error"]["details"]["peerStatus"], 403, "{v}");
    // A records the peer as refused, with why.
    let (_, peers) = a_admin.get("/api/admin/v1/federation/peers").await;
    let work = &peers.as_array().unwrap()[0];
    assert_eq!(
        (&work["state"], &work["refusal"]),
        (&json!("refused"), &json!("grant_revoked")),
        "{peers}"
    );
    // ... the next request answers from that record, the same way ...
    let (status, v) = me_a.get("/api/v1/query/tasks?source=federated:work").await;
    assert_eq!(status, 403, "{v}");
    assert_eq!(v["error"]["details"]["refusal"], "grant_revoked", "{v}");
    // ... and `all` keeps A's rows and names work, and why.
    let (_, v) = me_a.get("/api/v1/query/tasks?source=all").await;
    assert_eq!(
        ids_and_sources(&v),
        vec![("home task".to_owned(), "local".to_owned())]
    );
    assert_eq!(v["_partial"], true);
    let missing = v["_partialDetails"].as_array().unwrap();
    assert_eq!(missing.len(), 1, "{v}");
    assert_eq!(missing[0]["source"], "work");
    assert_eq!(missing[0]["code"], "FORBIDDEN");
    assert!(
        missing[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("the grant for peer work was revoked"),
        "{v}"
    );

    // B grants again; enrolling under the same name replaces the refused peer.
    let again = b_admin
        .post(
            "/api/admin/v1/federation/grants",
            json!({"peer": "home", "user_id": "alice", "scope": scope}),
        )
        .await;
    let renewed = a_admin
        .post(
            "/api/admin/v1/federation/peers/enroll",
            json!({"url": b.federation_url, "code": again["enrollment_code"], "name": "work", "user_id": "me"}),
        )
        .await;
    assert_eq!(renewed["peer"]["state"], "active");
    let (_, peers) = a_admin.get("/api/admin/v1/federation/peers").await;
    assert_eq!(peers.as_array().unwrap().len(), 1, "{peers}");
    let (status, v) = me_a.get("/api/v1/query/tasks?source=federated:work").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        ids_and_sources(&v),
        vec![("alice personal task".to_owned(), "work".to_owned())]
    );

    // B stopped: C's `all` still answers with its local rows and `_partial`.
    assert!(b.terminate().success());
    let (status, v) = c_user.get("/api/v1/query/tasks?source=all").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["_partial"], true);
    let missing = &v["_partialDetails"][0];
    assert_eq!(
        (&missing["source"], &missing["code"]),
        (&json!("work"), &json!("NETWORK")),
        "{v}"
    );
    assert!(missing.get("status").is_none(), "work never answered: {v}");
    assert!(!missing["message"].as_str().unwrap().is_empty(), "{v}");
    let (status, v) = c_user
        .get("/api/v1/query/tasks?source=federated:work")
        .await;
    assert_eq!(status, 503, "{v}");
    assert_eq!(v["error"]["details"]["peerCode"], "NETWORK");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_gateways_federate_on_sqlite() {
    scenario(None, None, None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_gateways_federate_on_postgres() {
    let Some(admin) = mosaic_store::testing::postgres_url() else {
        return;
    };
    let mut dbs = Vec::new();
    for _ in 0..3 {
        dbs.push(
            mosaic_store::testing::TestDatabase::create(&admin)
                .await
                .unwrap(),
        );
    }
    scenario(Some(&dbs[0].url), Some(&dbs[1].url), Some(&dbs[2].url)).await;
    for db in dbs {
        db.drop_database().await;
    }
}

/// A grant request refused for any of its inputs answers 400 (404 for an
/// unknown user) and leaves no grant and no peer behind; the lifecycle
/// answers that follow are unchanged.
async fn refused_grants_leave_nothing(db: Option<&str>) {
    let home = tempfile::tempdir().unwrap();
    let gw = start(home.path(), db);
    let admin = Api::new(&gw, gw.admin_token.as_deref().unwrap());
    user(&admin, "alice").await;
    let scope = json!({"resources": ["tasks"], "max_rows_per_query": 10});
    admin
        .post(
            "/api/admin/v1/federation/grants",
            json!({"peer": "existing", "user_id": "alice", "scope": scope}),
        )
        .await;
    let (_, grants_before) = admin.get("/api/admin/v1/federation/grants").await;
    let (_, peers_before) = admin.get("/api/admin/v1/federation/peers").await;

    let refused = [
        (
            json!({"peer": "home", "user_id": "alice", "scope": scope, "token_ttl_hours": 0}),
            400,
            "token_ttl_hours: must be between 1 and 720 (got 0)",
        ),
        (
            json!({"peer": "existing", "user_id": "alice", "scope": scope, "token_ttl_hours": 0}),
            400,
            "token_ttl_hours: must be between 1 and 720 (got 0)",
        ),
        (
            json!({"peer": "home", "user_id": "alice", "scope": scope, "expires_in_days": 0}),
            400,
            "expires_in_days: must be between 1 and 3650 (got 0)",
        ),
        (
            json!({"peer": "home", "user_id": "alice", "scope": {"resources": ["tasks"]}}),
            400,
            "scope: ",
        ),
        (
            json!({"peer": "home", "user_id": "nobody", "scope": scope}),
            404,
            "no user with id `nobody`",
        ),
    ];
    for (body, status, message) in refused {
        let (got, v) = admin
            .call(
                reqwest::Method::POST,
                "/api/admin/v1/federation/grants",
                Some(body.clone()),
            )
            .await;
        assert_eq!(got, status, "{body}: {v}");
        assert!(
            v["error"]["message"].as_str().unwrap().starts_with(message),
            "{body}: {v}"
        );
        let (_, grants) = admin.get("/api/admin/v1/federation/grants").await;
        let (_, peers) = admin.get("/api/admin/v1/federation/peers").await;
        assert_eq!(grants, grants_before, "{body} left a grant behind");
        assert_eq!(peers, peers_before, "{body} left a peer behind");
    }
    assert!(gw.terminate().success());
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_grants_leave_nothing_on_sqlite() {
    refused_grants_leave_nothing(None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_grants_leave_nothing_on_postgres() {
    let Some(admin) = mosaic_store::testing::postgres_url() else {
        return;
    };
    let db = mosaic_store::testing::TestDatabase::create(&admin)
        .await
        .unwrap();
    refused_grants_leave_nothing(Some(&db.url)).await;
    db.drop_database().await;
}
