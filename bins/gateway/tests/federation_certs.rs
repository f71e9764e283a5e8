//! The certificate checks docs/federation/OIDS.md promises, over real mTLS
//! against the real gateway binary, with certificates from its own CA: the
//! peer id and instance id OIDs are cross-checked, the serial keeps its sign,
//! a chain longer than the CA's path length fails the handshake, and the
//! grant's own certificate refused for a state learns why, on SQLite and on
//! PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use chrono::{Duration, Utc};
use mosaic_federation_client::{
    ClientErrorCode, FederationClientError, PeerClient, PeerClientConfig,
};
use mosaic_identity::testing::{TestCert, TestPki, claims, utf8_value};
use mosaic_identity::{CLIENT_LIFETIME, CertificateAuthority, MosaicClaims, MosaicOid, Validity};
use mosaic_store::entity::{federation_grants, federation_peers, users};
use mosaic_store::sea_orm::{
    ActiveModelTrait, DatabaseConnection, EntityTrait, IntoActiveModel, Set,
};
use mosaic_store::{Store, StoreOptions};
use mosaic_types::{InstanceId, PeerId};
use serde_json::json;
use support::{Gateway, command};

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

/// Peer `p-{n}` with certificate serial `serial` in `state`, and its active
/// grant `g-{n}` for user S.
async fn pair(db: &DatabaseConnection, n: u32, serial: &str, state: &str) {
    let now = Utc::now();
    federation_peers::Model {
        id: format!("p-{n}"),
        common_name: format!("peer-{n}"),
        display_name: format!("peer-{n}"),
        cert_pem: String::new(),
        cert_serial: serial.into(),
        cert_not_after: now + Duration::days(1),
        state: state.into(),
        endpoint_url: None,
        client_key_pem: None,
        ca_pem: None,
        local_user_id: None,
        refusal: None,
        created_at: now,
        updated_at: now,
    }
    .into_active_model()
    .insert(db)
    .await
    .unwrap();
    federation_grants::Model {
        id: format!("g-{n}"),
        peer_id: format!("p-{n}"),
        subject_user_id: "S".into(),
        status: "active".into(),
        scope: json!({"resources": ["tasks"], "max_rows_per_query": 10}),
        expires_at: None,
        revoked_at: None,
        revoked_reason: None,
        created_at: now,
        updated_at: now,
    }
    .into_active_model()
    .insert(db)
    .await
    .unwrap();
}

/// The claims the gateway's enrollment writes for grant `g-{n}`: its peer and
/// the issuing instance.
fn issued(n: u32, peer: u32, instance: &str) -> MosaicClaims {
    claims(&format!("g-{n}"), "S")
        .with_peer(PeerId::new(format!("p-{peer}")).unwrap())
        .with_instance(InstanceId::new(instance).unwrap())
}

fn assert_bare_refusal(err: &FederationClientError, case: &str) {
    assert_eq!(
        (err.code, err.status),
        (ClientErrorCode::Forbidden, Some(403)),
        "{case}: {err}"
    );
    let env = err.envelope.as_deref().unwrap();
    assert_eq!(env.error.message, "Federation access denied", "{case}");
    assert_eq!(env.error.details, None, "{case}: nothing is disclosed");
}

async fn scenario(database_url: Option<String>) {
    let home = tempfile::tempdir().unwrap();
    let data_dir = home.path().join("data/mosaic");
    let mut cmd = command(home.path());
    if let Some(url) = &database_url {
        cmd.env("DATABASE_URL", url);
    }
    let gw = Gateway::start(cmd, data_dir.clone());
    let pki = TestPki {
        ca: CertificateAuthority::from_pem(
            &std::fs::read_to_string(data_dir.join("pki/ca.crt")).unwrap(),
            &std::fs::read_to_string(data_dir.join("pki/ca.key")).unwrap(),
        )
        .unwrap(),
    };
    let ca_pem = pki.ca_pem().to_owned();
    support::crypto();
    let instance: serde_json::Value = reqwest::get(gw.url("/api/v1/federation/instance"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ours = instance["instanceId"].as_str().unwrap().to_owned();

    let store = Store::open(&StoreOptions::embedded(&data_dir).with_url(database_url.clone()))
        .await
        .unwrap();
    let db = store.conn();
    users::Model {
        id: "S".into(),
        name: "S".into(),
        email: "s@x.test".into(),
        email_verified: true,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
    .into_active_model()
    .insert(db)
    .await
    .unwrap();

    // 1. What enrollment issues: the grant's peer, this gateway. Accepted.
    let good = pki.client_with(&issued(1, 1, &ours), current());
    pair(db, 1, good.serial.as_str(), "active").await;
    client(&gw, &ca_pem, &good).capabilities().await.unwrap();

    // 2. The peer id OID names another (existing) peer: refused.
    let other_peer = pki.client_with(&issued(2, 1, &ours), current());
    pair(db, 2, other_peer.serial.as_str(), "active").await;
    let err = client(&gw, &ca_pem, &other_peer)
        .capabilities()
        .await
        .unwrap_err();
    assert_bare_refusal(&err, "peer id of another peer");

    // 3. The instance id OID names another gateway: refused.
    let other_instance = pki.client_with(&issued(3, 3, "another-gateway"), current());
    pair(db, 3, other_instance.serial.as_str(), "active").await;
    let err = client(&gw, &ca_pem, &other_instance)
        .capabilities()
        .await
        .unwrap_err();
    assert_bare_refusal(&err, "instance id of another gateway");

    // 4. A negative serial never matches the positive serial with the same
    // bytes...
    let negative = pki.client_with_negative_serial(&issued(4, 4, &ours));
    assert!(negative.serial.is_negative());
    pair(db, 4, negative.unsigned_serial().as_str(), "active").await;
    let err = client(&gw, &ca_pem, &negative)
        .capabilities()
        .await
        .unwrap_err();
    assert_bare_refusal(&err, "negative serial, positive record");
    // ... only itself, sign included (the handshake accepts it: the refusal
    // above was the comparison's).
    let mut peer: federation_peers::ActiveModel = federation_peers::Entity::find_by_id("p-4")
        .one(db)
        .await
        .unwrap()
        .unwrap()
        .into();
    peer.cert_serial = Set(negative.serial.to_string());
    peer.update(db).await.unwrap();
    client(&gw, &ca_pem, &negative)
        .capabilities()
        .await
        .unwrap();

    // 5. Leaf → intermediate → gateway CA: the CA's path length is 0, so the
    // handshake fails and no HTTP request exists.
    let intermediate = pki.intermediate("Mosaic rogue intermediate");
    let chained = intermediate
        .client_with(&issued(5, 5, &ours), current())
        .chained_through(&intermediate);
    pair(db, 5, chained.serial.as_str(), "active").await;
    let err = client(&gw, &ca_pem, &chained)
        .capabilities()
        .await
        .unwrap_err();
    assert_eq!(err.code, ClientErrorCode::Network, "{err}");
    assert_eq!(err.status, None, "the auth layer never ran: {err}");

    // 6. A peer id OID that is not an id is a malformed OID: 401.
    let mut extensions = mosaic_identity::testing::mosaic_extensions("g-6", "S");
    extensions.push((MosaicOid::PeerId, utf8_value("")));
    let malformed = pki.client_with_extensions(&extensions, current());
    pair(db, 6, malformed.serial.as_str(), "active").await;
    let err = client(&gw, &ca_pem, &malformed)
        .capabilities()
        .await
        .unwrap_err();
    assert_eq!(
        (err.code, err.status),
        (ClientErrorCode::Unauthorized, Some(401)),
        "{err}"
    );
    let message = err.envelope.unwrap().error.message;
    assert!(message.contains("missing required OID"), "{message}");

    // 7. The grant's own certificate, its peer suspended here: 403 saying so.
    let suspended = pki.client_with(&issued(7, 7, &ours), current());
    pair(db, 7, suspended.serial.as_str(), "suspended").await;
    let err = client(&gw, &ca_pem, &suspended)
        .capabilities()
        .await
        .unwrap_err();
    assert_eq!(err.status, Some(403));
    let env = err.envelope.unwrap();
    assert_eq!(
        env.error.message,
        "Federation access denied: this peer is suspended"
    );
    assert_eq!(
        env.error.details,
        Some(json!({"refusal": "peer_suspended"}))
    );

    store.close().await.unwrap();
    assert!(gw.terminate().success());
}

fn current() -> Validity {
    Validity::starting(Utc::now(), CLIENT_LIFETIME)
}

#[tokio::test(flavor = "multi_thread")]
async fn certificate_cross_checks_on_sqlite() {
    scenario(None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn certificate_cross_checks_on_postgres() {
    let Some(admin) = mosaic_store::testing::postgres_url() else {
        return;
    };
    let db = mosaic_store::testing::TestDatabase::create(&admin)
        .await
        .unwrap();
    scenario(Some(db.url.clone())).await;
    db.drop_database().await;
}
