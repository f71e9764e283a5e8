//! The gateway's identity over HTTP, against the real binary: the instance
//! identity (public, stable across restarts), admin-only key regeneration,
//! and CSR enrollment with one-time tokens.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use chrono::{Duration, Utc};
use mosaic_identity::enrollment::{DEFAULT_TOKEN_TTL, Enrollment};
use mosaic_identity::{TrustAnchors, generate_csr, pem_certificates, verify_client_chain};
use mosaic_store::entity::{federation_grants, federation_peers, users};
use mosaic_store::sea_orm::{ActiveModelTrait, EntityTrait, Set};
use mosaic_store::{Store, StoreOptions};
use mosaic_types::GrantId;
use serde_json::{Value, json};
use std::path::Path;
use support::{Gateway, command};

fn rt() -> tokio::runtime::Runtime {
    support::crypto();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn send(method: &str, url: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    rt().block_on(async {
        let client = reqwest::Client::new();
        let mut req = match method {
            "GET" => client.get(url),
            _ => client.post(url),
        };
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    })
}

fn with_store<T>(data_dir: &Path, f: impl AsyncFnOnce(&Store) -> T) -> T {
    rt().block_on(async {
        let store = Store::open(&StoreOptions::embedded(data_dir))
            .await
            .unwrap();
        let out = f(&store).await;
        store.close().await.unwrap();
        out
    })
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn instance_identity_is_public_and_survives_restart() {
    let home = tempfile::tempdir().unwrap();
    let data_dir = home.path().join("data/mosaic");
    let mut cmd = command(home.path());
    cmd.env("MOSAIC_IDENTITY__NAME", "gw-b")
        .env("MOSAIC_IDENTITY__URL", "https://gw-b.example.test:7443");
    let gw = Gateway::start(cmd, data_dir.clone());

    let (status, first) = send("GET", &gw.url("/api/v1/federation/instance"), None, None);
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["name"], "gw-b");
    assert_eq!(first["url"], "https://gw-b.example.test:7443");
    assert_eq!(first["keyAlgorithm"], "ed25519");
    assert!(
        first["publicKey"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
    assert!(first["instanceId"].as_str().unwrap().len() >= 32);
    assert!(
        first["capabilities"]
            .as_array()
            .unwrap()
            .contains(&json!("federation.list"))
    );
    assert!(!first.to_string().contains("PRIVATE"), "{first}");
    assert!(!first.to_string().contains("mosaic-sealed"), "{first}");

    let pki = data_dir.join("pki");
    let ca_pem = std::fs::read_to_string(pki.join("ca.crt")).unwrap();
    let fingerprint = mosaic_identity::Fingerprint::of(&pem_certificates(&ca_pem).unwrap()[0]);
    assert_eq!(first["caFingerprint"], fingerprint.as_str());
    #[cfg(unix)]
    {
        assert_eq!(mode(&pki), 0o700);
        for key in ["ca.key", "server.key", "secret.key"] {
            assert_eq!(mode(&pki.join(key)), 0o600, "{key}");
        }
    }
    assert!(gw.terminate().success());

    let mut cmd = command(home.path());
    cmd.env("MOSAIC_IDENTITY__NAME", "gw-b");
    let gw = Gateway::start(cmd, data_dir);
    let (status, again) = send("GET", &gw.url("/api/v1/federation/instance"), None, None);
    assert_eq!(status, 200);
    assert_eq!(again["instanceId"], first["instanceId"]);
    assert_eq!(again["publicKey"], first["publicKey"]);
    assert_eq!(again["caFingerprint"], first["caFingerprint"]);
    assert_eq!(again["createdAt"], first["createdAt"]);
    assert!(gw.terminate().success());
}

#[test]
fn regenerating_keys_needs_an_admin_token() {
    let home = tempfile::tempdir().unwrap();
    let data_dir = home.path().join("data/mosaic");
    let gw = Gateway::start(command(home.path()), data_dir.clone());
    let url = gw.url("/api/v1/federation/instance/regenerate-keys");
    let (_, before) = send("GET", &gw.url("/api/v1/federation/instance"), None, None);

    let (status, body) = send("POST", &url, None, None);
    assert_eq!(status, 401, "no token: {body}");
    assert_eq!(body["error"]["code"], "unauthorized");
    let (status, _) = send("POST", &url, Some("not-a-token"), None);
    assert_eq!(status, 401, "malformed token");
    let (status, _) = send(
        "POST",
        &url,
        Some(&mosaic_auth::generate_secret().unwrap()),
        None,
    );
    assert_eq!(status, 401, "unknown token");

    let user_token = with_store(&data_dir, async |store: &Store| {
        let now = mosaic_store::now();
        users::ActiveModel {
            id: Set("u1".into()),
            name: Set("U".into()),
            email: Set("u@x.test".into()),
            email_verified: Set(false),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(store.conn())
        .await
        .unwrap();
        mosaic_auth::Tokens::new(store.conn())
            .issue(mosaic_auth::Role::User, Some("u1"), "t")
            .await
            .unwrap()
            .secret
    });
    let (status, body) = send("POST", &url, Some(&user_token), None);
    assert_eq!(status, 403, "user token: {body}");
    assert_eq!(body["error"]["code"], "forbidden");
    let (_, unchanged) = send("GET", &gw.url("/api/v1/federation/instance"), None, None);
    assert_eq!(unchanged["publicKey"], before["publicKey"]);

    let admin = gw.admin_token.clone().unwrap();
    let (status, after) = send("POST", &url, Some(&admin), None);
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["instanceId"], before["instanceId"]);
    assert_ne!(after["publicKey"], before["publicKey"]);
    let (_, current) = send("GET", &gw.url("/api/v1/federation/instance"), None, None);
    assert_eq!(current["publicKey"], after["publicKey"]);
}

/// A user, a peer and a grant on the serving gateway.
async fn seed_grant(store: &Store, grant: &str, status: &str) {
    let conn = store.conn();
    let now = mosaic_store::now();
    if users::Entity::find_by_id("alice")
        .one(conn)
        .await
        .unwrap()
        .is_none()
    {
        users::ActiveModel {
            id: Set("alice".into()),
            name: Set("Alice".into()),
            email: Set("alice@x.test".into()),
            email_verified: Set(true),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(conn)
        .await
        .unwrap();
    }
    federation_peers::ActiveModel {
        id: Set(format!("peer-{grant}")),
        common_name: Set(format!("gw-a-{grant}")),
        display_name: Set("A".into()),
        cert_pem: Set(String::new()),
        cert_serial: Set(String::new()),
        cert_not_after: Set(now),
        state: Set("pending".into()),
        endpoint_url: Set(None),
        client_key_pem: Set(None),
        ca_pem: Set(None),
        local_user_id: Set(None),
        refusal: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(conn)
    .await
    .unwrap();
    federation_grants::ActiveModel {
        id: Set(grant.into()),
        peer_id: Set(format!("peer-{grant}")),
        subject_user_id: Set("alice".into()),
        status: Set(status.into()),
        scope: Set(json!({"resources": ["tasks"]})),
        expires_at: Set(None),
        revoked_at: Set(None),
        revoked_reason: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(conn)
    .await
    .unwrap();
}

#[test]
fn enrollment_by_csr_with_a_one_time_token() {
    let home = tempfile::tempdir().unwrap();
    let data_dir = home.path().join("data/mosaic");
    let gw = Gateway::start(command(home.path()), data_dir.clone());
    let (_, instance) = send("GET", &gw.url("/api/v1/federation/instance"), None, None);
    let url = gw.url("/api/v1/federation/enroll");

    let (token, expired, revoked_token) = with_store(&data_dir, async |store: &Store| {
        seed_grant(store, "g1", "active").await;
        seed_grant(store, "g2", "active").await;
        seed_grant(store, "g3", "active").await;
        let e = Enrollment::new(store.conn());
        let now = Utc::now();
        let token = e
            .issue_token(&GrantId::new("g1").unwrap(), DEFAULT_TOKEN_TTL, now)
            .await
            .unwrap();
        let expired = e
            .issue_token(
                &GrantId::new("g2").unwrap(),
                Duration::seconds(1),
                now - Duration::minutes(5),
            )
            .await
            .unwrap();
        let revoked = e
            .issue_token(&GrantId::new("g3").unwrap(), DEFAULT_TOKEN_TTL, now)
            .await
            .unwrap();
        let mut grant: federation_grants::ActiveModel = federation_grants::Entity::find_by_id("g3")
            .one(store.conn())
            .await
            .unwrap()
            .unwrap()
            .into();
        grant.status = Set("revoked".into());
        grant.update(store.conn()).await.unwrap();
        (
            token.secret.to_string(),
            expired.secret.to_string(),
            revoked.secret.to_string(),
        )
    });

    // The requester's key stays here; only the CSR travels.
    let request = generate_csr("gw-a").unwrap();
    let body = json!({"token": token, "csr": request.csr_pem});
    assert!(!body.to_string().contains("PRIVATE KEY"));

    let (status, bad) = send(
        "POST",
        &url,
        None,
        Some(json!({"token": token, "csr": "garbage"})),
    );
    assert_eq!(status, 400, "{bad}");
    assert_eq!(bad["error"]["code"], "invalid_request");
    let (status, bad) = send("POST", &url, None, Some(json!({"nothing": 1})));
    assert_eq!(status, 400, "{bad}");

    let (status, enrolled) = send("POST", &url, None, Some(body.clone()));
    assert_eq!(status, 201, "{enrolled}");
    assert_eq!(enrolled["grantId"], "g1");
    assert_eq!(enrolled["subjectUserId"], "alice");
    let anchors = TrustAnchors::from_pem(enrolled["caCertificate"].as_str().unwrap()).unwrap();
    let chain = pem_certificates(enrolled["certificate"].as_str().unwrap()).unwrap();
    let id = verify_client_chain(&chain, &anchors, Utc::now()).unwrap();
    assert_eq!(id.claims.grant_id.as_str(), "g1");
    assert_eq!(id.claims.peer_id.as_ref().unwrap().as_str(), "peer-g1");
    assert_eq!(
        id.claims.instance_id.as_ref().unwrap().as_str(),
        instance["instanceId"].as_str().unwrap()
    );
    assert_eq!(id.serial.as_str(), enrolled["serial"]);

    let (status, again) = send("POST", &url, None, Some(body));
    assert_eq!(status, 401, "reused token: {again}");
    assert!(
        again["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already used")
    );

    let csr = generate_csr("gw-a").unwrap().csr_pem;
    let (status, late) = send(
        "POST",
        &url,
        None,
        Some(json!({"token": expired, "csr": csr})),
    );
    assert_eq!(status, 401, "expired token: {late}");
    assert!(
        late["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );

    let (status, unknown) = send(
        "POST",
        &url,
        None,
        Some(json!({"token": format!("mosaic_enroll_{}", "B".repeat(43)), "csr": csr})),
    );
    assert_eq!(status, 401, "{unknown}");
    let (status, malformed) = send("POST", &url, None, Some(json!({"token": "x", "csr": csr})));
    assert_eq!(status, 401, "{malformed}");

    let (status, forbidden) = send(
        "POST",
        &url,
        None,
        Some(json!({"token": revoked_token, "csr": csr})),
    );
    assert_eq!(status, 403, "revoked grant: {forbidden}");
    assert_eq!(forbidden["error"]["code"], "forbidden");

    let peer = with_store(&data_dir, async |store: &Store| {
        federation_peers::Entity::find_by_id("peer-g1")
            .one(store.conn())
            .await
            .unwrap()
            .unwrap()
    });
    assert_eq!(peer.cert_serial, enrolled["serial"].as_str().unwrap());
    assert_eq!(peer.state, "active");
}

#[test]
fn half_configured_external_ca_stops_the_gateway_with_one_line() {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = command(home.path());
    cmd.env("MOSAIC_IDENTITY__CA_CERT", home.path().join("ca.crt"));
    let (status, _out, err) = support::run_to_exit(cmd);
    assert!(!status.success());
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("gateway:")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains("MOSAIC_IDENTITY__CA_KEY"), "{err}");
}
