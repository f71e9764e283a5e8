//! The federation listener over real TLS on a loopback port, with real
//! certificates from the gateway's own CA: every refusal path and a granted,
//! capped, paged list — on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use chrono::{Duration, TimeZone, Utc};
use mosaic_federation_client::{ClientErrorCode, PeerClient, PeerClientConfig};
use mosaic_identity::CertificateAuthority;
use mosaic_identity::testing::{TestCert, TestPki, foreign_client};
use mosaic_store::entity::*;
use mosaic_store::sea_orm::{ActiveModelTrait, DatabaseConnection, IntoActiveModel};
use mosaic_store::{Store, StoreOptions};
use mosaic_types::FederationListRequest;
use serde_json::json;
use support::{Gateway, command};

fn at(h: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 24, h, 0, 0).unwrap()
}

/// Users S and O; teams T (S) and U (O), S in both; projects S, O and team U;
/// mission M_S on S's project; tasks t0 (M_S) t1 t2 (S) x0 (O) x1 (U); notes
/// for S and O on M_S; an active peer and grant, and a revoked grant.
async fn seed(db: &DatabaseConnection, active_serial: &str, revoked_serial: &str) {
    macro_rules! ins {
        ($m:expr) => {
            $m.into_active_model().insert(db).await.unwrap();
        };
    }
    for u in ["S", "O"] {
        ins!(users::Model {
            id: u.into(),
            name: u.into(),
            email: format!("{u}@x.test"),
            email_verified: true,
            created_at: at(0),
            updated_at: at(0)
        });
    }
    for (t, o) in [("T", "S"), ("U", "O")] {
        ins!(teams::Model {
            id: t.into(),
            name: t.into(),
            slug: t.into(),
            owner_id: o.into(),
            manager_id: None,
            created_at: at(0),
            updated_at: at(0)
        });
        ins!(team_members::Model {
            team_id: t.into(),
            user_id: "S".into(),
            role: "member".into(),
            created_at: at(0)
        });
    }
    for (id, ty, owner, team) in [
        ("PS", "user", Some("S"), None),
        ("PO", "user", Some("O"), None),
        ("PU", "team", Some("O"), Some("U")),
    ] {
        ins!(projects::Model {
            id: id.into(),
            name: id.into(),
            owner_type: ty.into(),
            owner_id: owner.map(Into::into),
            team_id: team.map(Into::into),
            created_at: at(0),
            updated_at: at(0)
        });
    }
    ins!(missions::Model {
        id: "M_S".into(),
        name: "M".into(),
        project_id: "PS".into(),
        user_id: Some("S".into()),
        created_at: at(0),
        updated_at: at(0)
    });
    for (id, project, mission, h) in [
        ("t0", None, Some("M_S"), 3),
        ("t1", Some("PS"), None, 2),
        ("t2", Some("PS"), None, 1),
        ("x0", Some("PO"), None, 4),
        ("x1", Some("PU"), None, 5),
    ] {
        ins!(tasks::Model {
            id: id.into(),
            title: format!("Task {id}"),
            description: None,
            status: "open".into(),
            priority: "medium".into(),
            project_id: project.map(Into::into),
            mission_id: mission.map(Into::into),
            assignee: None,
            tags: None,
            due_date: None,
            metadata: None,
            created_at: at(h),
            updated_at: at(h),
        });
    }
    for (id, user) in [("note-s", "S"), ("note-o", "O")] {
        ins!(mission_tasks::Model {
            id: id.into(),
            mission_id: "M_S".into(),
            task_id: None,
            user_id: user.into(),
            status: "open".into(),
            notes: Some(format!("{user} note")),
            created_at: at(1),
            updated_at: at(1)
        });
    }
    for (id, cn, serial) in [
        ("peer-1", "peer-a", active_serial),
        ("peer-2", "peer-z", revoked_serial),
    ] {
        ins!(federation_peers::Model {
            id: id.into(),
            common_name: cn.into(),
            display_name: cn.into(),
            cert_pem: String::new(),
            cert_serial: serial.into(),
            cert_not_after: Utc::now() + Duration::days(1),
            state: "active".into(),
            endpoint_url: None,
            client_key_pem: None,
            ca_pem: None,
            local_user_id: None,
            refusal: None,
            created_at: at(0),
            updated_at: at(0),
        });
    }
    ins!(federation_grants::Model {
        id: "grant-active".into(),
        peer_id: "peer-1".into(),
        subject_user_id: "S".into(),
        status: "active".into(),
        scope: json!({"resources": ["tasks", "notes"], "excluded_resources": [], "filters": {
            "tasks": {"include_personal": true, "include_teams": []},
            "notes": {"include_personal": true, "include_teams": []}}, "max_rows_per_query": 2}),
        expires_at: None,
        revoked_at: None,
        revoked_reason: None,
        created_at: at(0),
        updated_at: at(0),
    });
    ins!(federation_grants::Model {
        id: "grant-revoked".into(),
        peer_id: "peer-2".into(),
        subject_user_id: "S".into(),
        status: "revoked".into(),
        scope: json!({"resources": ["tasks"], "excluded_resources": [], "max_rows_per_query": 2}),
        expires_at: None,
        revoked_at: Some(at(6)),
        revoked_reason: Some("rotated".into()),
        created_at: at(0),
        updated_at: at(6),
    });
}

fn client(gw: &Gateway, ca_pem: &str, cert: &TestCert) -> PeerClient {
    support::crypto();
    PeerClient::new(PeerClientConfig::new(
        "gw",
        gw.federation_url.clone(),
        ca_pem,
        cert.cert_pem.clone(),
        cert.key_pem.clone(),
    ))
    .unwrap()
}

/// A raw HTTPS client presenting `cert`, for requests `PeerClient` would
/// never send.
fn raw_client(ca_pem: &str, cert: &TestCert) -> reqwest::Client {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let chain = CertificateDer::pem_slice_iter(cert.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes()).unwrap();
    let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_client_auth_cert(chain, key)
    .unwrap();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .build()
        .unwrap()
}

/// Every route of the federation listener, from its own route table, given a
/// malformed body, a bad path parameter, an unknown path and a wrong method
/// by a granted peer: each answers the envelope with its code's status.
async fn walk_federation_routes(gw: &Gateway, ca_pem: &str, cert: &TestCert) {
    let http = raw_client(ca_pem, cert);
    let send = |method: reqwest::Method, path: String, body: Option<&'static str>| {
        let mut req = http.request(method, format!("{}{path}", gw.federation_url));
        if let Some(body) = body {
            req = req.header("content-type", "application/json").body(body);
        }
        async move {
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap();
            let env: mosaic_types::ErrorEnvelope = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{path}: {status} outside the envelope ({e}): {text}"));
            assert_eq!(env.error.code.http_status(), status, "{path}: {text}");
            (status, env)
        }
    };
    let fill = |path: &str, value: &str| {
        path.split('/')
            .map(|seg| if seg.starts_with('{') { value } else { seg })
            .collect::<Vec<_>>()
            .join("/")
    };
    for route in mosaic_gateway::federation::route_table() {
        let what = format!("{} {}", route.method, route.path);
        if route.input == mosaic_gateway::Input::Json {
            let (status, env) = send(
                route.method.clone(),
                fill(route.path, "tasks"),
                Some("{\"limit\":"),
            )
            .await;
            assert_eq!(status, 400, "{what} with a malformed body");
            assert_eq!(env.error.code.as_str(), "invalid_request", "{what}");
        }
        if route.path.contains('{') {
            let (status, _) = send(route.method.clone(), fill(route.path, "%FF%FE"), None).await;
            assert_eq!(status, 400, "{what} with a bad path parameter");
        }
    }
    let (status, _) = send(
        reqwest::Method::GET,
        "/api/federation/v1/nothing-here".into(),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = send(
        reqwest::Method::DELETE,
        "/api/federation/v1/capabilities".into(),
        None,
    )
    .await;
    assert_eq!(status, 405);
}

async fn scenario(database_url: Option<String>) {
    let home = tempfile::tempdir().unwrap();
    let data_dir = home.path().join("data/mosaic");
    let mut cmd = command(home.path());
    if let Some(url) = &database_url {
        cmd.env("DATABASE_URL", url);
    }
    let gw = Gateway::start(cmd, data_dir.clone());

    // The gateway's own CA, as it wrote it on first start.
    let ca = CertificateAuthority::from_pem(
        &std::fs::read_to_string(data_dir.join("pki/ca.crt")).unwrap(),
        &std::fs::read_to_string(data_dir.join("pki/ca.key")).unwrap(),
    )
    .unwrap();
    let pki = TestPki { ca };
    let ca_pem = pki.ca_pem().to_owned();
    let active = pki.client("grant-active", "S");
    let revoked = pki.client("grant-revoked", "S");

    let opts = StoreOptions::embedded(&data_dir).with_url(database_url.clone());
    let store = Store::open(&opts).await.unwrap();
    seed(
        store.conn(),
        &active.serial.to_string(),
        &revoked.serial.to_string(),
    )
    .await;

    // A foreign CA's certificate: the TLS handshake refuses it.
    let foreign = foreign_client("grant-active", "S");
    let err = client(&gw, &ca_pem, &foreign)
        .capabilities()
        .await
        .unwrap_err();
    assert_eq!(err.code, ClientErrorCode::Network, "{err}");
    assert_eq!(err.status, None, "no HTTP answer: the auth layer never ran");

    // Our CA, but no Mosaic OIDs: 401 naming the missing OID.
    let err = client(&gw, &ca_pem, &pki.client_without_oids())
        .capabilities()
        .await
        .unwrap_err();
    assert_eq!(
        (err.code, err.status),
        (ClientErrorCode::Unauthorized, Some(401))
    );
    let env = err.envelope.unwrap();
    assert_eq!(env.error.code.as_str(), "unauthorized");
    assert!(
        env.error.message.contains("missing required OID"),
        "{}",
        env.error.message
    );

    // Revoked grant, presented by its own certificate: 403 saying why.
    let err = client(&gw, &ca_pem, &revoked)
        .list("tasks", &FederationListRequest::default())
        .await
        .unwrap_err();
    assert_eq!(
        (err.code, err.status),
        (ClientErrorCode::Forbidden, Some(403))
    );
    let env = err.envelope.unwrap();
    assert_eq!(
        (env.error.code.as_str(), env.error.message.as_str()),
        (
            "forbidden",
            "Federation access denied: the grant was revoked"
        )
    );
    assert_eq!(env.error.details, Some(json!({"refusal": "grant_revoked"})));
    // The same revoked grant with any other certificate of our CA: the bare
    // refusal, nothing about the grant.
    let err = client(&gw, &ca_pem, &pki.client("grant-revoked", "S"))
        .list("tasks", &FederationListRequest::default())
        .await
        .unwrap_err();
    let env = err.envelope.unwrap();
    assert_eq!(env.error.message, "Federation access denied");
    assert_eq!(env.error.details, None);

    // A grant that does not exist, and a valid grant presented with another
    // certificate (serial mismatch): the same 403.
    for cert in [
        pki.client("grant-missing", "S"),
        pki.client("grant-active", "S"),
    ] {
        let err = client(&gw, &ca_pem, &cert)
            .capabilities()
            .await
            .unwrap_err();
        assert_eq!(err.status, Some(403));
    }
    // The subject in the certificate must be the grant's subject.
    let err = client(&gw, &ca_pem, &pki.client("grant-active", "O"))
        .capabilities()
        .await
        .unwrap_err();
    assert_eq!(err.status, Some(403));

    // Expired certificate: TLS refuses it.
    let err = client(&gw, &ca_pem, &pki.expired_client("grant-active", "S"))
        .capabilities()
        .await
        .unwrap_err();
    assert_eq!(err.code, ClientErrorCode::Network);

    // The granted peer.
    let c = client(&gw, &ca_pem, &active);
    let caps = c.capabilities().await.unwrap();
    assert_eq!(caps.max_rows_per_query, 2);
    let page = c
        .list(
            "tasks",
            &FederationListRequest {
                limit: Some(100),
                cursor: None,
            },
        )
        .await
        .unwrap();
    let ids: Vec<&str> = page
        .items
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec!["t0", "t1"],
        "capped at max_rows_per_query; others' and team U's tasks absent"
    );
    assert!(page.truncated);
    assert!(page.items.iter().all(|r| r["_source"] == "local"));
    let next = c
        .list(
            "tasks",
            &FederationListRequest {
                limit: None,
                cursor: page.next_cursor.clone(),
            },
        )
        .await
        .unwrap();
    let ids: Vec<&str> = next
        .items
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["t2"]);
    assert!(!next.truncated && next.next_cursor.is_none());

    let notes = c
        .list(
            "notes",
            &FederationListRequest {
                limit: Some(10),
                cursor: None,
            },
        )
        .await
        .unwrap();
    let ids: Vec<&str> = notes
        .items
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["note-s"]);

    let err = c
        .list("widgets", &FederationListRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.status, Some(403));
    let env = err.envelope.unwrap();
    assert_eq!(
        (env.error.code.as_str(), env.error.message.as_str()),
        (
            "scope_violation",
            "Requested federation resource is not supported"
        )
    );

    for secret in ["credentials", "api_keys"] {
        let err = c
            .list(secret, &FederationListRequest::default())
            .await
            .unwrap_err();
        assert_eq!(err.status, Some(403), "{secret}");
    }
    let got = c.get("tasks", "t1").await.unwrap();
    assert_eq!(got.item["title"], "Task t1");
    // Another user's task answers exactly like one that does not exist.
    let unknown = c.get("tasks", "nope").await.unwrap_err();
    assert_eq!(
        (unknown.code, unknown.status),
        (ClientErrorCode::NotFound, Some(404))
    );
    let other = c.get("tasks", "x0").await.unwrap_err();
    assert_eq!(
        (other.code, other.status, other.message.as_str()),
        (unknown.code, unknown.status, unknown.message.as_str())
    );
    assert_eq!(other.envelope, unknown.envelope);

    walk_federation_routes(&gw, &ca_pem, &active).await;

    // Nothing the peer asked for was written: the store's row counts are unchanged.
    use mosaic_store::sea_orm::{EntityTrait, PaginatorTrait};
    assert_eq!(
        audit_log::Entity::find().count(store.conn()).await.unwrap(),
        0
    );
    assert_eq!(tasks::Entity::find().count(store.conn()).await.unwrap(), 5);

    // Revoking takes effect on the very next request.
    use mosaic_store::sea_orm::Set;
    let mut g: federation_grants::ActiveModel =
        federation_grants::Entity::find_by_id("grant-active".to_owned())
            .one(store.conn())
            .await
            .unwrap()
            .unwrap()
            .into();
    g.status = Set("revoked".into());
    g.update(store.conn()).await.unwrap();
    let err = c.capabilities().await.unwrap_err();
    assert_eq!(err.status, Some(403));

    store.close().await.unwrap();
    assert!(gw.terminate().success());
}

#[tokio::test(flavor = "multi_thread")]
async fn mtls_refusals_and_grants_on_sqlite() {
    scenario(None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mtls_refusals_and_grants_on_postgres() {
    let Some(admin) = mosaic_store::testing::postgres_url() else {
        return;
    };
    let db = mosaic_store::testing::TestDatabase::create(&admin)
        .await
        .unwrap();
    scenario(Some(db.url.clone())).await;
    db.drop_database().await;
}
