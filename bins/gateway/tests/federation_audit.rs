//! The federation audit log on two real gateway processes, federated through
//! real enrollment and mTLS: a federated list and a refused request both
//! appear in the serving gateway's audit within a second of the answer, with
//! who, what and how it ended; a caller's `traceparent` is kept and answered;
//! the admin API and `/metrics` take the admin token only; and a clean
//! shutdown right after a burst of requests loses no row.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::{Gateway, command};

const AUDIT: &str = "/api/admin/v1/federation/audit";

#[derive(Clone)]
struct Api {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl Api {
    fn new(gw: &Gateway, token: Option<&str>) -> Self {
        support::crypto();
        Self {
            base: gw.base_url.clone(),
            token: token.map(str::to_owned),
            http: reqwest::Client::new(),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
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

    async fn text(&self, path: &str) -> (u16, String, String) {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let kind = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        (status, kind, resp.text().await.unwrap())
    }
}

/// Request bodies the serving gateway takes at most.
const MAX_BODY: usize = 65_536;

fn start(home: &std::path::Path, db: Option<&str>) -> Gateway {
    let mut cmd = command(home);
    if let Some(url) = db {
        cmd.env("DATABASE_URL", url);
    }
    cmd.env("MOSAIC_LIMITS__MAX_BODY_BYTES", MAX_BODY.to_string());
    // The burst below (200 lists at once by one grant) is over the default
    // rate limit; rate limits have their own test.
    cmd.env(
        "MOSAIC_FEDERATION__DEFAULT_RATE_LIMIT__REQUESTS_PER_MINUTE",
        "100000",
    )
    .env("MOSAIC_FEDERATION__DEFAULT_RATE_LIMIT__BURST", "1000");
    Gateway::start(cmd, home.join("data/mosaic"))
}

/// A user and a token acting as them.
async fn user(admin: &Api, gw: &Gateway, id: &str) -> Api {
    admin
        .post(
            "/api/admin/v1/users",
            json!({"id": id, "name": id, "email": format!("{id}@example.test")}),
        )
        .await;
    let t = admin
        .post(
            &format!("/api/admin/v1/users/{id}/tokens"),
            json!({"label": "audit"}),
        )
        .await;
    Api::new(gw, t["token"].as_str())
}

/// Polls the audit every 50 ms for an entry `matches` accepts, and asserts
/// it appeared within a second of `answered`.
async fn appears_within_a_second(
    admin: &Api,
    query: &str,
    answered: Instant,
    matches: impl Fn(&Value) -> bool,
) -> Value {
    loop {
        let (status, page) = admin.get(&format!("{AUDIT}?{query}")).await;
        assert_eq!(status, 200, "{page}");
        if let Some(e) = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| matches(e))
        {
            let after = answered.elapsed();
            assert!(
                after < Duration::from_secs(1),
                "visible {after:?} after the answer"
            );
            return e.clone();
        }
        assert!(
            answered.elapsed() < Duration::from_secs(1),
            "no matching audit entry within 1 s of the answer; last page: {page}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every entry `query` selects, through every page.
async fn every_entry(admin: &Api, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("{AUDIT}?{query}&cursor={c}"),
            None => format!("{AUDIT}?{query}"),
        };
        let (status, page) = admin.get(&path).await;
        assert_eq!(status, 200, "{page}");
        out.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}

/// A client of B's federation listener that trusts B's CA and presents no
/// certificate.
fn anonymous(b: &Gateway) -> reqwest::Client {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    support::crypto();
    let ca = std::fs::read_to_string(b.data_dir.join("pki/ca.crt")).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .build()
        .unwrap()
}

/// The figures of a Prometheus text exposition, checking that every sample
/// follows its `# HELP` and `# TYPE` lines.
fn parse_metrics(text: &str) -> Vec<(String, String, f64)> {
    let mut out = Vec::new();
    let mut help = None;
    let mut kind = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, words) = rest.split_once(' ').unwrap();
            assert!(!words.is_empty(), "{line}");
            help = Some(name.to_owned());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, k) = rest.split_once(' ').unwrap();
            assert_eq!(help.as_deref(), Some(name), "TYPE after its HELP: {line}");
            assert!(k == "counter" || k == "gauge", "{line}");
            kind = Some((name.to_owned(), k.to_owned()));
        } else {
            let (name, value) = line.split_once(' ').unwrap();
            let (typed, k) = kind.clone().unwrap();
            assert_eq!(typed, name, "sample after its TYPE: {line}");
            if k == "counter" {
                assert!(name.ends_with("_total"), "{line}");
            }
            out.push((name.to_owned(), k, value.parse::<f64>().unwrap()));
        }
    }
    out
}

async fn scenario(db_b: Option<&str>, db_a: Option<&str>) {
    let (home_a, home_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let b = start(home_b.path(), db_b);
    let a = start(home_a.path(), db_a);
    let b_token = b.admin_token.clone().unwrap();
    let b_admin = Api::new(&b, Some(&b_token));
    let a_admin = Api::new(&a, a.admin_token.as_deref());

    // B: alice's task; a grant for peer "home" to her tasks only.
    let alice_b = user(&b_admin, &b, "alice").await;
    let project = alice_b
        .post("/api/v1/projects", json!({"name": "Alice at work"}))
        .await;
    alice_b
        .post(
            "/api/v1/tasks",
            json!({"title": "audited task", "project_id": project["id"]}),
        )
        .await;
    let created = b_admin
        .post(
            "/api/admin/v1/federation/grants",
            json!({"peer": "home", "user_id": "alice",
                   "scope": {"resources": ["tasks"], "max_rows_per_query": 50}}),
        )
        .await;
    let grant_id = created["grant"]["id"].as_str().unwrap().to_owned();
    let peer_id = created["grant"]["peer_id"].as_str().unwrap().to_owned();
    let me_a = user(&a_admin, &a, "me").await;
    a_admin
        .post(
            "/api/admin/v1/federation/peers/enroll",
            json!({"url": b.federation_url, "code": created["enrollment_code"],
                   "name": "work", "user_id": "me"}),
        )
        .await;
    let (_, peers) = b_admin.get("/api/admin/v1/federation/peers").await;
    let serial = peers[0]["cert_serial"].as_str().unwrap().to_owned();
    assert!(!serial.is_empty(), "{peers}");

    // A federated list made through the home gateway: on B's audit within
    // a second, with who, what and how it ended.
    let (status, v) = me_a.get("/api/v1/query/tasks?source=federated:work").await;
    let answered = Instant::now();
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["items"].as_array().unwrap().len(), 1, "{v}");
    let allowed = appears_within_a_second(&b_admin, "limit=50", answered, |e| {
        e["verb"] == "list" && e["resource"] == "tasks" && e["status"] == 200
    })
    .await;
    assert_eq!(allowed["rows"], 1, "{allowed}");
    assert_eq!(allowed["grantId"], grant_id.as_str(), "{allowed}");
    assert_eq!(allowed["peerId"], peer_id.as_str(), "{allowed}");
    assert_eq!(allowed["subjectUserId"], "alice", "{allowed}");
    assert_eq!(allowed["certSerial"], serial.as_str(), "{allowed}");
    assert_eq!(allowed["errorCode"], Value::Null, "{allowed}");
    let trace = allowed["traceId"].as_str().unwrap();
    assert!(
        trace.len() == 32 && trace.bytes().all(|c| c.is_ascii_hexdigit()),
        "{allowed}"
    );
    assert!(allowed["latencyMs"].as_f64().unwrap() > 0.0, "{allowed}");
    assert!(
        allowed["remoteAddr"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:"),
        "{allowed}"
    );

    // A refused request: notes are outside the scope.
    let (status, v) = me_a.get("/api/v1/query/notes?source=federated:work").await;
    let answered = Instant::now();
    assert_eq!(status, 403, "{v}");
    let denied = appears_within_a_second(&b_admin, "denied=true", answered, |e| {
        e["verb"] == "list" && e["resource"] == "notes"
    })
    .await;
    assert_eq!(denied["status"], 403, "{denied}");
    assert_eq!(denied["errorCode"], "scope_violation", "{denied}");
    assert_eq!(denied["rows"], Value::Null, "{denied}");
    assert_eq!(denied["grantId"], grant_id.as_str(), "{denied}");
    assert_eq!(denied["certSerial"], serial.as_str(), "{denied}");

    // A caller's trace is kept and answered; a request without a
    // certificate is recorded too, with nothing to say who it was.
    let sent_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let resp = anonymous(&b)
        .get(format!(
            "{}/api/federation/v1/capabilities",
            b.federation_url
        ))
        .header(
            "traceparent",
            format!("00-{sent_trace}-00f067aa0ba902b7-01"),
        )
        .send()
        .await
        .unwrap();
    let answered = Instant::now();
    assert_eq!(resp.status().as_u16(), 401);
    let back = resp.headers()["traceparent"].to_str().unwrap().to_owned();
    assert!(back.starts_with(&format!("00-{sent_trace}-")), "{back}");
    assert!(
        back.ends_with("-01") && !back.contains("00f067aa0ba902b7"),
        "{back}"
    );
    let anonymous_entry = appears_within_a_second(&b_admin, "denied=true", answered, |e| {
        e["traceId"] == sent_trace
    })
    .await;
    assert_eq!(
        (
            &anonymous_entry["verb"],
            &anonymous_entry["status"],
            &anonymous_entry["errorCode"]
        ),
        (&json!("capabilities"), &json!(401), &json!("unauthorized")),
        "{anonymous_entry}"
    );
    for key in ["peerId", "grantId", "subjectUserId", "certSerial"] {
        assert_eq!(anonymous_entry[key], Value::Null, "{anonymous_entry}");
    }

    // The request limits sit inside the audit: an oversized body, refused
    // before any handler runs, is on record too.
    let resp = anonymous(&b)
        .post(format!("{}/api/federation/v1/list/tasks", b.federation_url))
        .header("content-type", "application/json")
        .body(vec![b' '; MAX_BODY * 2])
        .send()
        .await
        .unwrap();
    let answered = Instant::now();
    assert_eq!(resp.status().as_u16(), 413);
    let too_large =
        appears_within_a_second(&b_admin, "denied=true", answered, |e| e["status"] == 413).await;
    assert_eq!(
        (
            &too_large["verb"],
            &too_large["resource"],
            &too_large["errorCode"]
        ),
        (&json!("list"), &json!("tasks"), &json!("payload_too_large")),
        "{too_large}"
    );

    // The filters: denied only, by grant, peer and user; newest first.
    let refused = every_entry(&b_admin, "denied=true&limit=1").await;
    assert!(refused.iter().all(|e| e["status"].as_u64().unwrap() >= 400));
    assert!(refused.len() >= 2, "{refused:?}");
    for filter in [
        format!("grant={grant_id}"),
        format!("peer={peer_id}"),
        "user=alice".to_owned(),
    ] {
        let entries = every_entry(&b_admin, &format!("{filter}&limit=1")).await;
        let ids: Vec<&Value> = entries.iter().map(|e| &e["id"]).collect();
        assert!(
            ids.contains(&&allowed["id"]) && ids.contains(&&denied["id"]),
            "{filter}"
        );
        assert!(!ids.contains(&&anonymous_entry["id"]), "{filter}");
        let times: Vec<&str> = entries
            .iter()
            .map(|e| e["occurredAt"].as_str().unwrap())
            .collect();
        assert!(
            times.windows(2).all(|w| w[0] >= w[1]),
            "newest first: {times:?}"
        );
    }
    let (status, v) = b_admin.get(&format!("{AUDIT}?limit=0")).await;
    assert_eq!(status, 400, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("limit: "),
        "{v}"
    );

    // Admin token only, for the audit and for the metrics.
    let nobody = Api::new(&b, None);
    for path in [AUDIT, "/metrics"] {
        let (status, v) = nobody.get(path).await;
        assert_eq!(status, 401, "{path} without a token: {v}");
        assert_eq!(v["error"]["code"], "unauthorized", "{v}");
        let (status, v) = alice_b.get(path).await;
        assert_eq!(status, 403, "{path} with a user token: {v}");
        assert_eq!(v["error"]["code"], "forbidden", "{v}");
    }
    let (status, kind, text) = b_admin.text("/metrics").await;
    assert_eq!(status, 200, "{text}");
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    let figures = parse_metrics(&text);
    let names: Vec<&str> = figures.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "mosaic_federation_audit_queue_depth",
            "mosaic_federation_audit_rows_written_total",
            "mosaic_federation_audit_backpressure_waits_total",
            "mosaic_federation_audit_write_failures_total",
            "mosaic_federation_audit_rows_lost_total",
        ]
    );
    let written = figures[1].2;
    assert!(written >= 3.0, "at least the three rows read above: {text}");
    assert_eq!(figures[4].2, 0.0, "{text}");

    // A burst of 200 federated lists, then SIGTERM right after the last
    // answer: the queue drains, and B started again on the same data has
    // every row.
    let listed = |entries: &[Value]| {
        entries
            .iter()
            .filter(|e| e["verb"] == "list" && e["resource"] == "tasks" && e["status"] == 200)
            .count()
    };
    let before = listed(&every_entry(&b_admin, &format!("grant={grant_id}&limit=1000")).await);
    assert_eq!(before, 1);
    let mut burst = Vec::new();
    for _ in 0..8 {
        let me_a = me_a.clone();
        burst.push(tokio::spawn(async move {
            for _ in 0..25 {
                let (status, v) = me_a.get("/api/v1/query/tasks?source=federated:work").await;
                assert_eq!(status, 200, "{v}");
            }
        }));
    }
    for task in burst {
        task.await.unwrap();
    }
    let status = b.terminate();
    assert!(status.success(), "a clean shutdown: {status:?}");
    let b = start(home_b.path(), db_b);
    let b_admin = Api::new(&b, Some(&b_token));
    let after = listed(&every_entry(&b_admin, &format!("grant={grant_id}&limit=1000")).await);
    assert_eq!(after, 201, "every row of the burst survived the shutdown");
    assert!(a.terminate().success());
    assert!(b.terminate().success());
}

#[tokio::test(flavor = "multi_thread")]
async fn federated_requests_are_audited_on_sqlite() {
    scenario(None, None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn federated_requests_are_audited_on_postgres() {
    let Some(admin) = mosaic_store::testing::postgres_url() else {
        return;
    };
    let db_b = mosaic_store::testing::TestDatabase::create(&admin)
        .await
        .unwrap();
    let db_a = mosaic_store::testing::TestDatabase::create(&admin)
        .await
        .unwrap();
    scenario(Some(&db_b.url), Some(&db_a.url)).await;
    db_b.drop_database().await;
    db_a.drop_database().await;
}
