//! Rate limits per grant on two real gateways, through real enrollment and
//! real mTLS (AC-6): a grant at 2 requests a minute with a burst of 1 gets
//! 429 `rate_limited` with `Retry-After` on its second immediate request and
//! 200 once it waited that long; a grant without a limit gets the serving
//! gateway's default, and says so in capabilities; one grant's budget does
//! not slow another; and a user querying through the home gateway sees 429
//! with the wait (`federated:<peer>`), or the peer named with it (`all`),
//! also from `mosaic query`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use mosaic_federation_client::enroll::{EnrollmentCode, enroll};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
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
    async fn post(&self, path: &str, body: Value) -> Value {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        assert!((200..300).contains(&status), "POST {path}: {status} {v}");
        v
    }
    async fn get(&self, path: &str) -> Answer {
        Answer::read(
            self.http
                .get(format!("{}{path}", self.base))
                .bearer_auth(&self.token)
                .send()
                .await
                .unwrap(),
        )
        .await
    }
}

/// Status, `Retry-After` and body of an answer.
#[derive(Debug)]
struct Answer {
    status: u16,
    retry_after: Option<u64>,
    body: Value,
}

impl Answer {
    async fn read(resp: reqwest::Response) -> Self {
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().parse().unwrap());
        Self {
            status,
            retry_after,
            body: resp.json().await.unwrap_or(Value::Null),
        }
    }

    /// A 429 `rate_limited` whose `Retry-After` is within `secs` and agrees
    /// with the details; returns the wait.
    fn limited(&self, secs: std::ops::RangeInclusive<u64>) -> u64 {
        assert_eq!(self.status, 429, "{self:?}");
        assert_eq!(self.body["error"]["code"], "rate_limited", "{self:?}");
        let wait = self.retry_after.expect("Retry-After");
        assert!(secs.contains(&wait), "{self:?}");
        wait
    }
}

/// A peer holding a certificate for one grant, calling the federation
/// listener directly.
struct Peer {
    base: String,
    http: reqwest::Client,
}

impl Peer {
    /// Enrolls with `code` at `federation_url`, as a peer gateway would.
    async fn enroll(federation_url: &str, code: &str, name: &str) -> Self {
        support::crypto();
        let csr = mosaic_identity::generate_csr(name).unwrap();
        let code: EnrollmentCode = code.parse().unwrap();
        let enrolled = enroll(federation_url, &code, &csr.csr_pem, Duration::from_secs(10))
            .await
            .unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(enrolled.ca_pem.as_bytes()).unwrap())
            .unwrap();
        let chain = CertificateDer::pem_slice_iter(enrolled.response.certificate.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_slice(csr.key_pem.as_bytes()).unwrap();
        let tls = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .unwrap();
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .build()
            .unwrap();
        Self {
            base: format!("{federation_url}/api/federation/v1"),
            http,
        }
    }

    async fn list(&self) -> Answer {
        Answer::read(
            self.http
                .post(format!("{}/list/tasks", self.base))
                .json(&json!({}))
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    async fn capabilities(&self) -> Answer {
        Answer::read(
            self.http
                .get(format!("{}/capabilities", self.base))
                .send()
                .await
                .unwrap(),
        )
        .await
    }
}

fn start(home: &std::path::Path, db: Option<&str>, env: &[(&str, &str)]) -> Gateway {
    let mut cmd = command(home);
    if let Some(url) = db {
        cmd.env("DATABASE_URL", url);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    Gateway::start(cmd, home.join("data/mosaic"))
}

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

/// A grant of alice's tasks to `peer`, with `rate_limit` when given; its
/// enrollment code.
async fn grant(admin: &Api, peer: &str, rate_limit: Option<Value>) -> String {
    let mut scope = json!({"resources": ["tasks"], "max_rows_per_query": 10});
    if let Some(limit) = rate_limit {
        scope["rate_limit"] = limit;
    }
    let created = admin
        .post(
            "/api/admin/v1/federation/grants",
            json!({"peer": peer, "user_id": "alice", "scope": scope}),
        )
        .await;
    created["enrollment_code"].as_str().unwrap().to_owned()
}

/// `mosaic query tasks --source SOURCE` against `gw` as `token`: exit
/// success, stdout, stderr.
fn mosaic_query(gw: &Gateway, token: &str, source: &str) -> (bool, String, String) {
    let out = Command::new(support::bins::current("mosaic"))
        .args(["query", "tasks", "--source", source])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .env("MOSAIC_GATEWAY_URL", &gw.base_url)
        .env("MOSAIC_TOKEN", token)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn scenario(db_b: Option<&str>, db_a: Option<&str>) {
    // Built before any budget is spent: the build takes longer than a wait.
    support::bins::current("mosaic");
    let (home_a, home_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // B serves, with a low default for grants that set no limit.
    let b = start(
        home_b.path(),
        db_b,
        &[
            (
                "MOSAIC_FEDERATION__DEFAULT_RATE_LIMIT__REQUESTS_PER_MINUTE",
                "3",
            ),
            ("MOSAIC_FEDERATION__DEFAULT_RATE_LIMIT__BURST", "2"),
        ],
    );
    // A answers its users within 10 s: a peer's 30 s wait is past that.
    let a = start(
        home_a.path(),
        db_a,
        &[("MOSAIC_LIMITS__REQUEST_TIMEOUT_SECS", "10")],
    );
    let b_admin = Api::new(&b, b.admin_token.as_deref().unwrap());
    let a_admin = Api::new(&a, a.admin_token.as_deref().unwrap());

    let alice = Api::new(&b, &user(&b_admin, "alice").await);
    let project = alice
        .post("/api/v1/projects", json!({"name": "Alice at work"}))
        .await;
    alice
        .post(
            "/api/v1/tasks",
            json!({"title": "alice task", "project_id": project["id"]}),
        )
        .await;

    let two_a_minute = json!({"requests_per_minute": 2, "burst": 1});
    let limited = Peer::enroll(
        &b.federation_url,
        &grant(&b_admin, "limited", Some(two_a_minute.clone())).await,
        "limited",
    )
    .await;
    let plain = Peer::enroll(
        &b.federation_url,
        &grant(&b_admin, "plain", None).await,
        "plain",
    )
    .await;

    // 2 a minute, burst 1: the first list is served, the next one waits ≈30 s.
    let first = limited.list().await;
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(first.body["items"][0]["title"], "alice task");
    let second = limited.list().await;
    let limited_at = Instant::now();
    let wait = second.limited(29..=30);
    assert_eq!(
        second.body["error"]["details"],
        json!({"retryAfterSeconds": wait, "requestsPerMinute": 2, "burst": 1}),
        "{second:?}"
    );
    let message = second.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("is limited to 2 requests a minute (burst 1): retry in"),
        "{message}"
    );
    // Every verb counts: capabilities waits too.
    limited.capabilities().await.limited(1..=30);

    // A grant without a limit has the default (3 a minute, burst 2), says so,
    // and is not slowed by the first grant's budget.
    let caps = plain.capabilities().await;
    assert_eq!(caps.status, 200, "{caps:?}");
    assert_eq!(
        caps.body["rate_limit"],
        json!({"requests_per_minute": 3, "burst": 2, "source": "default"})
    );
    assert_eq!(plain.list().await.status, 200);
    let third = plain.list().await;
    third.limited(19..=20);
    assert_eq!(
        (
            &third.body["error"]["details"]["requestsPerMinute"],
            &third.body["error"]["details"]["burst"]
        ),
        (&json!(3), &json!(2)),
        "{third:?}"
    );

    // Through the home gateway: A enrolls with its own grant at 2 a minute.
    let me_token = user(&a_admin, "me").await;
    let me = Api::new(&a, &me_token);
    let local_project = me.post("/api/v1/projects", json!({"name": "Home"})).await;
    me.post(
        "/api/v1/tasks",
        json!({"title": "home task", "project_id": local_project["id"]}),
    )
    .await;
    a_admin
        .post(
            "/api/admin/v1/federation/peers/enroll",
            json!({"url": b.federation_url, "code": grant(&b_admin, "home", Some(two_a_minute)).await, "name": "work", "user_id": "me"}),
        )
        .await;
    let served = me.get("/api/v1/query/tasks?source=federated:work").await;
    assert_eq!(served.status, 200, "{served:?}");
    assert_eq!(served.body["items"][0]["_source"], "work");
    // The peer's wait (≈30 s) is past the user's request timeout (10 s): A
    // gives up at once and says so.
    let asked = Instant::now();
    let refused = me.get("/api/v1/query/tasks?source=federated:work").await;
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "{:?}",
        asked.elapsed()
    );
    let wait_home = refused.limited(29..=30);
    let message = refused.body["error"]["message"].as_str().unwrap();
    assert_eq!(
        message,
        format!(
            "peer work is rate limiting this grant (2 requests a minute, burst 1): retry in {wait_home} s"
        ),
        "{refused:?}"
    );
    assert_eq!(
        refused.body["error"]["details"],
        json!({"peer": "work", "peerCode": "RATE_LIMITED", "peerStatus": 429, "retryAfterSeconds": wait_home})
    );
    // `all` keeps the local rows and names the peer with the wait.
    let all = me.get("/api/v1/query/tasks?source=all").await;
    assert_eq!(all.status, 200, "{all:?}");
    assert_eq!(all.body["items"][0]["title"], "home task");
    assert_eq!(all.body["_partial"], true);
    let missing = &all.body["_partialDetails"][0];
    assert_eq!(
        (&missing["source"], &missing["code"], &missing["status"]),
        (&json!("work"), &json!("RATE_LIMITED"), &json!(429)),
        "{all:?}"
    );
    assert!(
        missing["message"].as_str().unwrap().contains("retry in"),
        "{all:?}"
    );
    // The command line says the wait.
    let (ok, _, stderr) = mosaic_query(&a, &me_token, "federated:work");
    assert!(!ok);
    assert!(
        stderr.contains("refused (429): rate_limited: peer work is rate limiting this grant")
            && stderr.contains(" s"),
        "{stderr}"
    );
    let (ok, stdout, stderr) = mosaic_query(&a, &me_token, "all");
    assert!(ok, "{stderr}");
    assert!(stdout.contains("home task"), "{stdout}");
    assert!(
        stderr.contains("work: RATE_LIMITED (429): peer work is rate limiting this grant"),
        "{stderr}"
    );

    // After waiting what Retry-After said, the limited grant is served again,
    // and its capabilities show its own limit.
    let resume = limited_at + Duration::from_secs(wait);
    tokio::time::sleep(resume.saturating_duration_since(Instant::now())).await;
    let caps = limited.capabilities().await;
    assert_eq!(caps.status, 200, "{caps:?}");
    assert_eq!(
        caps.body["rate_limit"],
        json!({"requests_per_minute": 2, "burst": 1, "source": "grant"})
    );
    limited.list().await.limited(1..=30);
    assert!(b.terminate().success());
    assert!(a.terminate().success());
}

#[tokio::test(flavor = "multi_thread")]
async fn grants_are_rate_limited_on_sqlite() {
    scenario(None, None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn grants_are_rate_limited_on_postgres() {
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
