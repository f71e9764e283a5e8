//! Resolving certificate claims to a federation context: every refusal.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fixture;

use chrono::{Duration, Utc};
use fixture::{Fx, at};
use mosaic_federation::context::{ContextError, PresentedClaims, resolve};
use mosaic_store::entity::{federation_grants, federation_peers, instance_identity};
use mosaic_store::sea_orm::{ActiveModelTrait, DatabaseConnection, IntoActiveModel};
use mosaic_store::testing::all_backends;
use mosaic_types::{FederationRefusal, InstanceId};
use serde_json::json;

const SERIAL: &str = "0F1E2D3C4B5A69788796A5B4C3D2E1F0";

async fn peer(
    db: &DatabaseConnection,
    id: &str,
    name: &str,
    serial: &str,
    state: &str,
    not_after_days: i64,
) {
    federation_peers::Model {
        id: id.into(),
        common_name: name.into(),
        display_name: name.into(),
        cert_pem: String::new(),
        cert_serial: serial.into(),
        cert_not_after: Utc::now() + Duration::days(not_after_days),
        state: state.into(),
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
}

async fn grant(
    db: &DatabaseConnection,
    id: &str,
    peer: &str,
    status: &str,
    expires_in_days: Option<i64>,
) {
    federation_grants::Model {
        id: id.into(),
        peer_id: peer.into(),
        subject_user_id: "S".into(),
        status: status.into(),
        scope: json!({"resources": ["tasks"], "max_rows_per_query": 2}),
        expires_at: expires_in_days.map(|d| Utc::now() + Duration::days(d)),
        revoked_at: None,
        revoked_reason: None,
        created_at: at(0),
        updated_at: at(0),
    }
    .into_active_model()
    .insert(db)
    .await
    .unwrap();
}

fn claims(grant: &str, subject: &str, serial: &str) -> PresentedClaims {
    PresentedClaims {
        grant_id: grant.parse().unwrap(),
        subject_user_id: subject.parse().unwrap(),
        serial_hex: serial.into(),
        peer_id: None,
        instance_id: None,
    }
}

fn with_ids(mut c: PresentedClaims, peer: Option<&str>, instance: Option<&str>) -> PresentedClaims {
    c.peer_id = peer.map(|p| p.parse().unwrap());
    c.instance_id = instance.map(|i| InstanceId::new(i).unwrap());
    c
}

async fn instance(db: &DatabaseConnection, id: &str) {
    instance_identity::Model {
        id: id.into(),
        name: "gw".into(),
        url: None,
        signing_public_key: String::new(),
        signing_private_key_sealed: String::new(),
        capabilities: json!({}),
        created_at: at(0),
        updated_at: at(0),
    }
    .into_active_model()
    .insert(db)
    .await
    .unwrap();
}

#[tokio::test]
async fn every_refusal_and_the_one_acceptance() {
    for db in all_backends().await {
        let conn = db.store.conn();
        let fx = Fx(conn);
        fx.user("S").await;
        fx.user("O").await;
        peer(conn, "p-active", "peer-a", SERIAL, "active", 1).await;
        // A second peer whose serial extends the first: matching is exact.
        peer(
            conn,
            "p-longer",
            "peer-b",
            &format!("{SERIAL}ABCDEF01"),
            "active",
            1,
        )
        .await;
        peer(conn, "p-suspended", "peer-c", "AA", "suspended", 1).await;
        peer(conn, "p-expired-cert", "peer-d", "BB", "active", -1).await;
        grant(conn, "g-active", "p-active", "active", None).await;
        grant(conn, "g-revoked", "p-active", "revoked", None).await;
        grant(conn, "g-expired", "p-active", "active", Some(-1)).await;
        grant(conn, "g-future", "p-active", "active", Some(30)).await;
        grant(conn, "g-suspended", "p-suspended", "active", None).await;
        grant(conn, "g-old-cert", "p-expired-cert", "active", None).await;
        grant(conn, "g-longer", "p-longer", "active", None).await;
        // Stored values Mosaic does not know are refused like inactive ones.
        peer(conn, "p-odd", "peer-e", "CC", "Active", 1).await;
        grant(conn, "g-odd-peer", "p-odd", "active", None).await;
        grant(conn, "g-odd", "p-active", "ACTIVE", None).await;

        let ok = resolve(conn, &claims("g-active", "S", SERIAL))
            .await
            .unwrap();
        assert_eq!(
            (
                ok.grant_id.as_str(),
                ok.peer_id.as_str(),
                ok.subject_user_id.as_str()
            ),
            ("g-active", "p-active", "S")
        );
        assert_eq!(ok.scope["max_rows_per_query"], 2);
        // Case and a DER sign byte do not matter.
        resolve(
            conn,
            &claims("g-active", "S", &format!("00{}", SERIAL.to_lowercase())),
        )
        .await
        .unwrap();
        resolve(conn, &claims("g-future", "S", SERIAL))
            .await
            .unwrap();

        // (claims, what our log says, what the peer is told).
        let refused = [
            (claims("g-missing", "S", SERIAL), "does not exist", None),
            (
                claims("g-revoked", "S", SERIAL),
                "is revoked",
                Some(FederationRefusal::GrantRevoked),
            ),
            (
                claims("g-expired", "S", SERIAL),
                "has expired",
                Some(FederationRefusal::GrantExpired),
            ),
            (
                claims("g-active", "O", SERIAL),
                "does not match grant subject",
                None,
            ),
            (
                claims("g-suspended", "S", "AA"),
                "is suspended",
                Some(FederationRefusal::PeerSuspended),
            ),
            (claims("g-odd", "S", SERIAL), "is ACTIVE", None),
            (
                claims("g-odd-peer", "S", "CC"),
                "peer p-odd is Active",
                None,
            ),
            (
                claims("g-old-cert", "S", "BB"),
                "certificate has expired",
                Some(FederationRefusal::CertificateExpired),
            ),
            (
                claims("g-active", "S", &format!("{SERIAL}ABCDEF01")),
                "serial",
                None,
            ),
            (claims("g-longer", "S", SERIAL), "serial", None),
            (claims("g-active", "S", &SERIAL[..30]), "serial", None),
            // The sign is part of the serial.
            (
                claims("g-active", "S", &format!("-{SERIAL}")),
                "serial",
                None,
            ),
            // A revoked grant presented with another certificate: nothing
            // about the grant is disclosed.
            (claims("g-revoked", "S", "0A"), "serial", None),
        ];
        for (c, needle, told) in refused {
            let err = resolve(conn, &c).await.unwrap_err();
            assert!(!matches!(err, ContextError::Db(_)));
            assert!(err.to_string().contains(needle), "{c:?}: {err}");
            assert_eq!(err.refusal(), told, "{c:?}: {err}");
        }
        db.cleanup().await;
    }
}

#[tokio::test]
async fn peer_and_instance_ids_are_cross_checked_when_present() {
    for db in all_backends().await {
        let conn = db.store.conn();
        Fx(conn).user("S").await;
        peer(conn, "p-active", "peer-a", SERIAL, "active", 1).await;
        peer(conn, "p-other", "peer-b", "0B", "active", 1).await;
        grant(conn, "g-active", "p-active", "active", None).await;
        let base = || claims("g-active", "S", SERIAL);

        // Absent, they are not required; a certificate naming an instance
        // is refused while this gateway has recorded none.
        resolve(conn, &with_ids(base(), Some("p-active"), None))
            .await
            .unwrap();
        let err = resolve(conn, &with_ids(base(), None, Some("inst-b")))
            .await
            .unwrap_err();
        assert!(
            matches!(err, ContextError::InstanceIdMismatch { .. }),
            "{err}"
        );

        instance(conn, "inst-b").await;
        resolve(conn, &with_ids(base(), Some("p-active"), Some("inst-b")))
            .await
            .unwrap();
        for (c, needle) in [
            (
                with_ids(base(), Some("p-other"), Some("inst-b")),
                "certificate peer id p-other does not match grant peer p-active",
            ),
            (
                with_ids(base(), Some("p-active"), Some("inst-a")),
                "certificate instance id inst-a does not name this gateway (inst-b)",
            ),
        ] {
            let err = resolve(conn, &c).await.unwrap_err();
            assert_eq!(err.to_string(), needle);
            assert_eq!(err.refusal(), None, "a mismatch discloses nothing");
        }
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_stored_peer_id_that_is_not_an_id_is_an_error_not_a_panic() {
    for db in all_backends().await {
        let conn = db.store.conn();
        Fx(conn).user("S").await;
        peer(conn, "p\u{7}bell", "peer-bell", SERIAL, "active", 1).await;
        grant(conn, "g-bell", "p\u{7}bell", "active", None).await;
        let err = resolve(conn, &claims("g-bell", "S", SERIAL))
            .await
            .unwrap_err();
        assert!(matches!(err, ContextError::InvalidStoredId(_)), "{err:?}");
        db.cleanup().await;
    }
}
