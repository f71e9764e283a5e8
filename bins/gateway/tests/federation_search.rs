//! Search across two real gateway processes, federated through real
//! enrollment and real mTLS (AC-9), on SQLite and on PostgreSQL: the serving
//! gateway finds the subject's matching tasks and notes, and never a
//! credential, a row of a resource the scope excludes, or another user's
//! row, however well they match; asked directly with the federation verb
//! and through the home gateway's `source=federated:<peer>` and `all`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use mosaic_federation_client::enroll::{EnrollmentCode, enroll};
use mosaic_federation_client::{ClientErrorCode, PeerClient, PeerClientConfig};
use mosaic_store::entity::credentials;
use mosaic_store::sea_orm::{ActiveModelTrait, IntoActiveModel};
use mosaic_store::{Store, StoreOptions};
use mosaic_types::FederationSearchRequest;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
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

/// (title or content, `_source`) of each row, sorted.
fn found(v: &Value) -> Vec<(String, String)> {
    let mut rows: Vec<(String, String)> = v["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items: {v}"))
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
        .collect();
    rows.sort();
    rows
}

fn rows(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = pairs
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    v.sort();
    v
}

/// Words of rows that must never leave B for this grant.
const NEVER: [&str; 4] = ["release deploy key", "alice prefers", "of bob", "from bob"];

fn assert_nothing_forbidden(what: &str, v: &Value) {
    let text = v.to_string();
    for words in NEVER {
        assert!(!text.contains(words), "{what}: `{words}` leaked: {text}");
    }
}

/// Alice's rows on B, and Bob's, all holding the word "release"; a
/// credential of alice's named with it too.
async fn seed_b(b: &Gateway, b_admin: &Api, db_b: Option<&str>) {
    let alice = Api::new(b, &user(b_admin, "alice").await);
    let bob = Api::new(b, &user(b_admin, "bob").await);
    let project = alice
        .post("/api/v1/projects", json!({"name": "Alice at work"}))
        .await;
    for (title, description) in [
        ("Release checklist", "ship the release on time"),
        ("Deploy the release train", ""),
        ("Unrelated chores", "nothing to see"),
    ] {
        alice
            .post(
                "/api/v1/tasks",
                json!({"title": title, "description": description, "project_id": project["id"]}),
            )
            .await;
    }
    let mission = alice
        .post(
            "/api/v1/missions",
            json!({"name": "Q4", "project_id": project["id"]}),
        )
        .await;
    alice
        .post(
            "/api/v1/notes",
            json!({"mission_id": mission["id"], "content": "release notes from alice"}),
        )
        .await;
    alice
        .post(
            "/api/v1/memory/insights",
            json!({"content": "release insight: alice prefers Friday releases"}),
        )
        .await;
    let bobs = bob.post("/api/v1/projects", json!({"name": "Bob's"})).await;
    bob.post(
        "/api/v1/tasks",
        json!({"title": "Release of bob", "project_id": bobs["id"]}),
    )
    .await;
    let bob_mission = bob
        .post(
            "/api/v1/missions",
            json!({"name": "B", "project_id": bobs["id"]}),
        )
        .await;
    bob.post(
        "/api/v1/notes",
        json!({"mission_id": bob_mission["id"], "content": "release notes from bob"}),
    )
    .await;

    // No API writes credentials: straight into B's store.
    let opts = StoreOptions::embedded(&b.data_dir).with_url(db_b.map(str::to_owned));
    let store = Store::open(&opts).await.unwrap();
    credentials::Model {
        id: "cred-release".into(),
        user_id: "alice".into(),
        name: "release deploy key".into(),
        provider: Some("release".into()),
        sealed_value: "sealed:release".into(),
        created_at: mosaic_store::now(),
        updated_at: mosaic_store::now(),
    }
    .into_active_model()
    .insert(store.conn())
    .await
    .unwrap();
    store.close().await.unwrap();
}

/// Tasks and notes of alice; memory and credentials excluded.
fn scope() -> Value {
    json!({
        "resources": ["tasks", "notes"],
        "excluded_resources": ["memory", "credentials"],
        "max_rows_per_query": 50
    })
}

/// Enrolls with B as a peer of our own, for the verb itself.
async fn direct_client(b: &Gateway, b_admin: &Api) -> (PeerClient, String, String) {
    let grant = b_admin
        .post(
            "/api/admin/v1/federation/grants",
            json!({"peer": "direct", "user_id": "alice", "scope": scope()}),
        )
        .await;
    let code: EnrollmentCode = grant["enrollment_code"].as_str().unwrap().parse().unwrap();
    let csr = mosaic_identity::generate_csr("direct").unwrap();
    let enrolled = enroll(
        &b.federation_url,
        &code,
        &csr.csr_pem,
        std::time::Duration::from_secs(10),
    )
    .await
    .unwrap();
    let client = PeerClient::new(PeerClientConfig::new(
        "b",
        b.federation_url.clone(),
        enrolled.ca_pem.clone(),
        enrolled.response.certificate,
        csr.key_pem.as_str(),
    ))
    .unwrap();
    (
        client,
        grant["grant"]["id"].as_str().unwrap().to_owned(),
        enrolled.ca_pem,
    )
}

fn words(q: &str) -> FederationSearchRequest {
    FederationSearchRequest {
        q: q.to_owned(),
        limit: None,
        cursor: None,
    }
}

async fn asked_directly(b: &Gateway, b_admin: &Api) {
    let (c, grant_id, ca_pem) = direct_client(b, b_admin).await;

    let page = c.search("tasks", &words("release")).await.unwrap();
    let v = serde_json::to_value(&page).unwrap();
    assert_eq!(
        found(&v),
        rows(&[
            ("Deploy the release train", "local"),
            ("Release checklist", "local")
        ])
    );
    assert_eq!(
        v["items"][0]["title"], "Release checklist",
        "two mentions rank first: {v}"
    );
    let page = c.search("notes", &words("release notes")).await.unwrap();
    let v = serde_json::to_value(&page).unwrap();
    assert_eq!(found(&v), rows(&[("release notes from alice", "local")]));

    // An excluded resource and the secrets: refused, whatever matches.
    for (resource, message) in [
        (
            "memory",
            "Requested federation resource is explicitly excluded by grant scope",
        ),
        (
            "credentials",
            "Requested federation resource is explicitly excluded by grant scope",
        ),
        (
            "api_keys",
            "Requested federation resource is not granted by scope",
        ),
    ] {
        let err = c.search(resource, &words("release")).await.unwrap_err();
        assert_eq!(
            (err.code, err.status),
            (ClientErrorCode::Forbidden, Some(403)),
            "{resource}"
        );
        let env = err.envelope.unwrap();
        assert_eq!(
            (env.error.code.as_str(), env.error.message.as_str()),
            ("scope_violation", message),
            "{resource}"
        );
    }

    // Hostile words: a clear 400 naming q, or literal matching; never a
    // database error.
    let ten_kb = "release ".repeat(1280);
    for q in ["\"", "*", "(", ten_kb.as_str()] {
        let err = c.search("tasks", &words(q)).await.unwrap_err();
        assert_eq!(
            (err.code, err.status),
            (ClientErrorCode::InvalidRequest, Some(400)),
            "{q:.20}"
        );
        let env = err.envelope.unwrap();
        assert_eq!(env.error.code.as_str(), "invalid_request");
        assert!(
            env.error.message.starts_with("Federation search q "),
            "{}",
            env.error.message
        );
    }
    for (q, want) in [
        ("NEAR(release train)", vec![]),
        ("release OR chores", vec![]),
        (
            "\"release\" train*",
            vec![("Deploy the release train", "local")],
        ),
        ("(checklist", vec![("Release checklist", "local")]),
    ] {
        let page = c.search("tasks", &words(q)).await.unwrap();
        assert_eq!(
            found(&serde_json::to_value(&page).unwrap()),
            rows(&want),
            "{q}"
        );
    }

    // A cursor pages the same search, and only that one.
    let first = c
        .search(
            "tasks",
            &FederationSearchRequest {
                limit: Some(1),
                ..words("release")
            },
        )
        .await
        .unwrap();
    let cursor = first.next_cursor.clone().unwrap();
    let next = c
        .search(
            "tasks",
            &FederationSearchRequest {
                limit: Some(1),
                cursor: Some(cursor.clone()),
                ..words("release")
            },
        )
        .await
        .unwrap();
    assert_eq!(next.items.len(), 1);
    assert_ne!(next.items[0]["id"], first.items[0]["id"]);
    assert!(next.next_cursor.is_none());
    let err = c
        .search(
            "notes",
            &FederationSearchRequest {
                cursor: Some(cursor),
                ..words("release")
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.status, Some(400));
    assert!(err.message.contains("belongs to another search"), "{err}");

    // No certificate: 401 from the auth layer, before the verb.
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let anonymous = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .build()
        .unwrap();
    let resp = anonymous
        .post(format!(
            "{}/api/federation/v1/search/tasks",
            b.federation_url
        ))
        .json(&json!({"q": "release"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "unauthorized", "{v}");

    // Revoked: the very next search is refused, and says why.
    b_admin
        .post(
            &format!("/api/admin/v1/federation/grants/{grant_id}/revoke"),
            json!({"reason": "done"}),
        )
        .await;
    let err = c.search("tasks", &words("release")).await.unwrap_err();
    assert_eq!(err.status, Some(403));
    assert_eq!(
        err.envelope.unwrap().error.message,
        "Federation access denied: the grant was revoked"
    );
}

async fn through_the_home_gateway(a: &Gateway, a_admin: &Api, b: &Gateway, b_admin: &Api) {
    let created = b_admin
        .post(
            "/api/admin/v1/federation/grants",
            json!({"peer": "home", "user_id": "alice", "scope": scope()}),
        )
        .await;
    let me = Api::new(a, &user(a_admin, "me").await);
    let other = Api::new(a, &user(a_admin, "other").await);
    a_admin
        .post(
            "/api/admin/v1/federation/peers/enroll",
            json!({"url": b.federation_url, "code": created["enrollment_code"], "name": "work", "user_id": "me"}),
        )
        .await;
    let home = me.post("/api/v1/projects", json!({"name": "Home"})).await;
    me.post(
        "/api/v1/tasks",
        json!({"title": "release at home", "project_id": home["id"]}),
    )
    .await;
    me.post(
        "/api/v1/memory/insights",
        json!({"content": "release memo at home"}),
    )
    .await;

    let (status, v) = me
        .get("/api/v1/search/tasks?q=release&source=federated:work")
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        found(&v),
        rows(&[
            ("Deploy the release train", "work"),
            ("Release checklist", "work")
        ])
    );
    let (_, v) = me
        .get("/api/v1/search/notes?q=release&source=federated:work")
        .await;
    assert_eq!(found(&v), rows(&[("release notes from alice", "work")]));
    assert_nothing_forbidden("notes", &v);

    // Memory is excluded by the grant: the peer's refusal is the answer.
    let (status, v) = me
        .get("/api/v1/search/memory?q=release&source=federated:work")
        .await;
    assert_eq!(status, 403, "{v}");
    assert_eq!(v["error"]["code"], "forbidden", "{v}");
    assert_eq!(v["error"]["details"]["peerStatus"], 403, "{v}");
    assert_nothing_forbidden("memory", &v);
    // Credentials are never searched, here or anywhere.
    let (status, v) = me
        .get("/api/v1/search/credentials?q=release&source=all")
        .await;
    assert_eq!(status, 403, "{v}");
    assert_eq!(v["error"]["message"], "credentials are never searched");

    // `all`: this gateway's rows and the peer's, each source best first.
    let (status, v) = me.get("/api/v1/search/tasks?q=release&source=all").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        found(&v),
        rows(&[
            ("Deploy the release train", "work"),
            ("Release checklist", "work"),
            ("release at home", "local")
        ])
    );
    assert_eq!(v["items"][0]["_source"], "local", "local first: {v}");
    assert!(v.get("_partial").is_none() && v.get("nextCursor").is_none());
    assert_nothing_forbidden("all tasks", &v);
    // The excluded resource: our rows, and the peer named as not answering.
    let (status, v) = me.get("/api/v1/search/memory?q=release&source=all").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(found(&v), rows(&[("release memo at home", "local")]));
    assert_eq!(v["_partial"], true);
    assert_eq!(v["_partialDetails"][0]["source"], "work");
    assert_eq!(v["_partialDetails"][0]["code"], "FORBIDDEN");
    assert_nothing_forbidden("all memory", &v);

    // Words no source could search for are refused here, naming q.
    for q in ["%22", "*", "%28", ""] {
        let (status, v) = me
            .get(&format!("/api/v1/search/tasks?q={q}&source=all"))
            .await;
        assert_eq!(status, 400, "{q}: {v}");
        assert_eq!(v["error"]["code"], "invalid_request");
        assert!(
            v["error"]["message"].as_str().unwrap().starts_with("q "),
            "{v}"
        );
    }
    let (status, v) = me.get("/api/v1/search/tasks?source=all").await;
    assert_eq!(status, 400, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("q is required")
    );

    // A peer's cursor pages through that peer.
    let (_, first) = me
        .get("/api/v1/search/tasks?q=release&source=federated:work&limit=1")
        .await;
    let cursor = first["nextCursor"].as_str().unwrap();
    let (status, next) = me
        .get(&format!(
            "/api/v1/search/tasks?q=release&source=federated:work&limit=1&cursor={cursor}"
        ))
        .await;
    assert_eq!(status, 200, "{next}");
    assert_ne!(next["items"][0]["id"], first["items"][0]["id"]);

    // Another local user holds no grant: nothing of B's for them.
    let (status, _) = other
        .get("/api/v1/search/tasks?q=release&source=federated:work")
        .await;
    assert_eq!(status, 404);
    let (_, v) = other.get("/api/v1/search/tasks?q=release&source=all").await;
    assert!(v["items"].as_array().unwrap().is_empty(), "{v}");
}

async fn scenario(db_b: Option<&str>, db_a: Option<&str>) {
    let (home_a, home_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let b = start(home_b.path(), db_b);
    let a = start(home_a.path(), db_a);
    let b_admin = Api::new(&b, b.admin_token.as_deref().unwrap());
    let a_admin = Api::new(&a, a.admin_token.as_deref().unwrap());
    seed_b(&b, &b_admin, db_b).await;

    through_the_home_gateway(&a, &a_admin, &b, &b_admin).await;
    // Capabilities advertise the verb.
    let (_, peers) = a_admin.get("/api/admin/v1/federation/peers").await;
    let (_, caps) = a_admin
        .get(&format!(
            "/api/admin/v1/federation/peers/{}/capabilities",
            peers[0]["id"].as_str().unwrap()
        ))
        .await;
    assert!(
        caps["supported_verbs"]
            .as_array()
            .unwrap()
            .contains(&json!("search")),
        "{caps}"
    );
    asked_directly(&b, &b_admin).await;
    assert!(a.terminate().success());
    assert!(b.terminate().success());
}

#[tokio::test(flavor = "multi_thread")]
async fn search_never_crosses_the_scope_on_sqlite() {
    scenario(None, None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn search_never_crosses_the_scope_on_postgres() {
    let Some(admin) = mosaic_store::testing::postgres_url() else {
        return;
    };
    let mut dbs = Vec::new();
    for _ in 0..2 {
        dbs.push(
            mosaic_store::testing::TestDatabase::create(&admin)
                .await
                .unwrap(),
        );
    }
    scenario(Some(&dbs[0].url), Some(&dbs[1].url)).await;
    for db in dbs {
        db.drop_database().await;
    }
}
