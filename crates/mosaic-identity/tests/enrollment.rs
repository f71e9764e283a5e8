//! CSR enrollment with one-time tokens, on every backend: the happy path, a
//! reused token, an expired token, a revoked grant, a bad CSR that does not
//! burn the token, and the race for a single token.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, Utc};
use mosaic_identity::enrollment::{
    DEFAULT_TOKEN_TTL, EnrollError, EnrollRequest, Enrollment, hash_token,
};
use mosaic_identity::testing::TestPki;
use mosaic_identity::{generate_csr, verify_client_chain};
use mosaic_store::entity::{
    audit_log, federation_enrollment_tokens, federation_grants, federation_peers, users,
};
use mosaic_store::sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, Set};
use mosaic_store::testing::all_backends;
use mosaic_types::{GrantId, InstanceId};
use zeroize::Zeroizing;

async fn seed(
    db: &DatabaseConnection,
    grant: &str,
    status: &str,
    expires_at: Option<DateTime<Utc>>,
) {
    let now = mosaic_store::now();
    if users::Entity::find_by_id("alice")
        .one(db)
        .await
        .unwrap()
        .is_none()
    {
        users::ActiveModel {
            id: Set("alice".into()),
            name: Set("Alice".into()),
            email: Set("alice@example.test".into()),
            email_verified: Set(true),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(db)
        .await
        .unwrap();
    }
    let peer_id = format!("peer-{grant}");
    federation_peers::ActiveModel {
        id: Set(peer_id.clone()),
        common_name: Set(format!("gw-{grant}")),
        display_name: Set("Gateway A".into()),
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
    .insert(db)
    .await
    .unwrap();
    federation_grants::ActiveModel {
        id: Set(grant.into()),
        peer_id: Set(peer_id),
        subject_user_id: Set("alice".into()),
        status: Set(status.into()),
        scope: Set(serde_json::json!({"resources": ["tasks"]})),
        expires_at: Set(expires_at),
        revoked_at: Set(None),
        revoked_reason: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .unwrap();
}

fn request(token: &str) -> EnrollRequest {
    EnrollRequest {
        token: Zeroizing::new(token.to_owned()),
        csr_pem: generate_csr("gw-a").unwrap().csr_pem,
        instance_id: Some(InstanceId::new("instance-b").unwrap()),
    }
}

#[tokio::test]
async fn enrollment_issues_a_verifiable_certificate_and_records_it() {
    for db in all_backends().await {
        let conn = db.store.conn();
        let pki = TestPki::new();
        let now = Utc::now();
        let grant_expiry = now + Duration::days(30);
        seed(conn, "g-ok", "active", Some(grant_expiry)).await;
        let enrollment = Enrollment::new(conn);
        let token = enrollment
            .issue_token(&GrantId::new("g-ok").unwrap(), DEFAULT_TOKEN_TTL, now)
            .await
            .unwrap();
        assert!(token.secret.starts_with("mosaic_enroll_"));
        let stored = federation_enrollment_tokens::Entity::find_by_id(token.id.as_str())
            .one(conn)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.token_hash, hash_token(&token.secret));
        assert_ne!(stored.token_hash, *token.secret, "only the hash is stored");
        assert_eq!(stored.expires_at, token.expires_at);

        let enrolled = enrollment
            .enroll(&pki.ca, &request(&token.secret), now)
            .await
            .unwrap();
        assert_eq!(enrolled.ca_certificate_pem, pki.ca_pem());
        // The certificate never outlives the grant.
        assert!(enrolled.not_after <= grant_expiry);

        let der = mosaic_identity::pem_certificates(&enrolled.certificate_pem).unwrap();
        let id = verify_client_chain(&der, &pki.anchors(), now).unwrap();
        assert_eq!(id.claims.grant_id.as_str(), "g-ok");
        assert_eq!(id.claims.subject_user_id.as_str(), "alice");
        assert_eq!(id.claims.peer_id.as_ref().unwrap().as_str(), "peer-g-ok");
        assert_eq!(
            id.claims.instance_id.as_ref().unwrap().as_str(),
            "instance-b"
        );
        assert_eq!(id.common_name.as_deref(), Some("gw-g-ok"));
        assert_eq!(id.serial, enrolled.serial);

        let peer = federation_peers::Entity::find_by_id("peer-g-ok")
            .one(conn)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(peer.cert_serial, enrolled.serial.as_str());
        assert_eq!(peer.cert_pem, enrolled.certificate_pem);
        assert_eq!(peer.state, "active");
        let token_row = federation_enrollment_tokens::Entity::find_by_id(token.id.as_str())
            .one(conn)
            .await
            .unwrap()
            .unwrap();
        assert!(token_row.used_at.is_some());
        let audit = audit_log::Entity::find().all(conn).await.unwrap();
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0].action, "federation.enroll");
        assert_eq!(audit[0].target_id.as_deref(), Some("g-ok"));
        assert_eq!(audit[0].peer_id.as_deref(), Some("peer-g-ok"));
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_reused_token_is_refused() {
    for db in all_backends().await {
        let conn = db.store.conn();
        let pki = TestPki::new();
        let now = Utc::now();
        seed(conn, "g-reuse", "active", None).await;
        let enrollment = Enrollment::new(conn);
        let token = enrollment
            .issue_token(&GrantId::new("g-reuse").unwrap(), DEFAULT_TOKEN_TTL, now)
            .await
            .unwrap();
        enrollment
            .enroll(&pki.ca, &request(&token.secret), now)
            .await
            .unwrap();
        let err = enrollment
            .enroll(&pki.ca, &request(&token.secret), now + Duration::seconds(1))
            .await
            .unwrap_err();
        assert!(matches!(err, EnrollError::TokenUsed { .. }), "{err:?}");
        assert!(err.to_string().contains("already used"), "{err}");
        assert_eq!(audit_log::Entity::find().all(conn).await.unwrap().len(), 1);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn an_expired_token_is_refused_and_stores_nothing() {
    for db in all_backends().await {
        let conn = db.store.conn();
        let pki = TestPki::new();
        let now = Utc::now();
        seed(conn, "g-exp", "active", None).await;
        let enrollment = Enrollment::new(conn);
        let token = enrollment
            .issue_token(&GrantId::new("g-exp").unwrap(), Duration::minutes(10), now)
            .await
            .unwrap();
        let err = enrollment
            .enroll(
                &pki.ca,
                &request(&token.secret),
                now + Duration::minutes(11),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, EnrollError::TokenExpired { .. }), "{err:?}");
        assert!(err.to_string().contains("expired"), "{err}");
        let peer = federation_peers::Entity::find_by_id("peer-g-exp")
            .one(conn)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(peer.state, "pending");
        assert_eq!(peer.cert_serial, "");
        assert!(
            audit_log::Entity::find()
                .all(conn)
                .await
                .unwrap()
                .is_empty()
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn unknown_malformed_tokens_and_bad_csrs_are_refused_without_burning_the_token() {
    for db in all_backends().await {
        let conn = db.store.conn();
        let pki = TestPki::new();
        let now = Utc::now();
        seed(conn, "g-bad", "active", None).await;
        let enrollment = Enrollment::new(conn);
        let token = enrollment
            .issue_token(&GrantId::new("g-bad").unwrap(), DEFAULT_TOKEN_TTL, now)
            .await
            .unwrap();

        let err = enrollment
            .enroll(&pki.ca, &request("not-a-token"), now)
            .await
            .unwrap_err();
        assert!(matches!(err, EnrollError::MalformedToken), "{err:?}");
        let other = format!("mosaic_enroll_{}", "A".repeat(43));
        let err = enrollment
            .enroll(&pki.ca, &request(&other), now)
            .await
            .unwrap_err();
        assert!(matches!(err, EnrollError::UnknownToken), "{err:?}");

        let mut bad_csr = request(&token.secret);
        bad_csr.csr_pem =
            "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n".into();
        let err = enrollment.enroll(&pki.ca, &bad_csr, now).await.unwrap_err();
        assert!(matches!(err, EnrollError::Csr(_)), "{err:?}");
        // The token survived the bad CSR.
        assert!(
            enrollment
                .enroll(&pki.ca, &request(&token.secret), now)
                .await
                .is_ok()
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn revoked_or_expired_grants_get_no_tokens_and_no_certificates() {
    for db in all_backends().await {
        let conn = db.store.conn();
        let pki = TestPki::new();
        let now = Utc::now();
        seed(conn, "g-rev", "revoked", None).await;
        seed(conn, "g-old", "active", Some(now - Duration::days(1))).await;
        seed(conn, "g-later", "active", None).await;
        let enrollment = Enrollment::new(conn);
        for grant in ["g-rev", "g-old"] {
            let err = enrollment
                .issue_token(&GrantId::new(grant).unwrap(), DEFAULT_TOKEN_TTL, now)
                .await
                .unwrap_err();
            assert!(
                matches!(err, EnrollError::GrantNotActive { .. }),
                "{grant}: {err:?}"
            );
        }
        let err = enrollment
            .issue_token(&GrantId::new("g-none").unwrap(), DEFAULT_TOKEN_TTL, now)
            .await
            .unwrap_err();
        assert!(matches!(err, EnrollError::GrantNotFound(_)), "{err:?}");
        assert!(matches!(
            enrollment
                .issue_token(&GrantId::new("g-later").unwrap(), Duration::zero(), now)
                .await,
            Err(EnrollError::BadTtl(_))
        ));

        // A grant revoked after its token was issued cannot be enrolled for.
        let token = enrollment
            .issue_token(&GrantId::new("g-later").unwrap(), DEFAULT_TOKEN_TTL, now)
            .await
            .unwrap();
        let mut grant: federation_grants::ActiveModel =
            federation_grants::Entity::find_by_id("g-later")
                .one(conn)
                .await
                .unwrap()
                .unwrap()
                .into();
        grant.status = Set("revoked".into());
        grant.update(conn).await.unwrap();
        let err = enrollment
            .enroll(&pki.ca, &request(&token.secret), now)
            .await
            .unwrap_err();
        assert!(matches!(err, EnrollError::GrantNotActive { .. }), "{err:?}");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn two_concurrent_enrollments_with_one_token_yield_one_certificate() {
    for db in all_backends().await {
        let second = db.connect_again(4).await.unwrap();
        let conn = db.store.conn();
        let pki = TestPki::new();
        let now = Utc::now();
        seed(conn, "g-race", "active", None).await;
        let token = Enrollment::new(conn)
            .issue_token(&GrantId::new("g-race").unwrap(), DEFAULT_TOKEN_TTL, now)
            .await
            .unwrap();
        let (ea, eb) = (Enrollment::new(conn), Enrollment::new(second.conn()));
        let (ra, rb) = (request(&token.secret), request(&token.secret));
        let (a, b) = tokio::join!(ea.enroll(&pki.ca, &ra, now), eb.enroll(&pki.ca, &rb, now));
        let ok = [a.is_ok(), b.is_ok()].iter().filter(|x| **x).count();
        assert_eq!(ok, 1, "{a:?} {b:?}");
        assert_eq!(audit_log::Entity::find().all(conn).await.unwrap().len(), 1);
        second.close().await.unwrap();
        db.cleanup().await;
    }
}
