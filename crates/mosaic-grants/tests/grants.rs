//! Grants on every backend: creation whole or not at all, revocation,
//! enrollment tokens, typed reads.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fixture;

use chrono::Duration;
use fixture::{audit_rows, counts, new_grant, t0, user};
use mosaic_grants::{Grants, GrantsError, NewGrant, PeerDirection};
use mosaic_identity::enrollment::{EnrollRequest, Enrollment, hash_token};
use mosaic_identity::testing::TestPki;
use mosaic_store::entity::{federation_enrollment_tokens, federation_grants};
use mosaic_store::sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set,
};
use mosaic_store::testing::all_backends;
use mosaic_types::{ErrorCode, GrantId, GrantStatus, PeerState};
use serde_json::json;
use zeroize::Zeroizing;

#[tokio::test]
async fn a_grant_comes_with_its_pending_peer_token_and_audit_row() {
    for db in all_backends().await {
        let conn = db.store.conn();
        user(conn, "alice").await;
        let grants = Grants::new(conn);
        let created = grants
            .create_grant(
                NewGrant {
                    expires_in_days: Some(30),
                    token_ttl_hours: Some(2),
                    ..new_grant("home", "alice")
                },
                t0(),
            )
            .await
            .unwrap();

        assert!(created.peer_created);
        assert_eq!(created.peer.common_name, "home");
        assert_eq!(created.peer.state, PeerState::Pending);
        assert_eq!(created.peer.direction, PeerDirection::Inbound);
        let g = &created.grant;
        assert_eq!(g.peer_id, created.peer.id);
        assert_eq!(g.subject_user_id.as_str(), "alice");
        assert_eq!(g.status, GrantStatus::Active);
        assert_eq!(g.scope, fixture::scope());
        assert_eq!(g.expires_at, Some(t0() + Duration::days(30)));
        assert!(g.is_usable(t0()));
        assert!(!g.is_usable(t0() + Duration::days(30)));

        // The token is stored hashed, lives two hours, and enrolls.
        let token = &created.token;
        assert_eq!(token.grant_id, g.id);
        assert_eq!(token.expires_at, t0() + Duration::hours(2));
        let row = federation_enrollment_tokens::Entity::find_by_id(token.id.as_str())
            .one(conn)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.token_hash, hash_token(&token.secret));

        let audit = audit_rows(conn, "federation.grant.create").await;
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0].actor, "admin");
        assert_eq!(audit[0].target_id.as_deref(), Some(g.id.as_str()));
        assert_eq!(audit[0].peer_id.as_deref(), Some(created.peer.id.as_str()));
        let details = audit[0].details.clone().unwrap();
        assert_eq!(details["subject_user_id"], "alice");
        assert_eq!(details["peer_created"], true);
        assert_eq!(details["token_id"], token.id.as_str());

        let pki = TestPki::new();
        let enrolled = Enrollment::new(conn)
            .enroll(
                &pki.ca,
                &EnrollRequest {
                    token: Zeroizing::new(token.secret.to_string()),
                    csr_pem: mosaic_identity::generate_csr("home").unwrap().csr_pem,
                    instance_id: None,
                },
                t0(),
            )
            .await
            .unwrap();
        assert_eq!(enrolled.grant_id, g.id);
        assert_eq!(
            grants.peer(&created.peer.id).await.unwrap().state,
            PeerState::Active
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_second_grant_finds_its_peer_by_name_or_by_id() {
    for db in all_backends().await {
        let conn = db.store.conn();
        user(conn, "alice").await;
        user(conn, "bob").await;
        let grants = Grants::new(conn).acting_as("admin-token:ops");
        let first = grants
            .create_grant(new_grant("home", "alice"), t0())
            .await
            .unwrap();
        let by_name = grants
            .create_grant(new_grant("home", "bob"), t0())
            .await
            .unwrap();
        let by_id = grants
            .create_grant(new_grant(first.peer.id.as_str(), "bob"), t0())
            .await
            .unwrap();
        assert!(!by_name.peer_created && !by_id.peer_created);
        assert_eq!(by_name.peer.id, first.peer.id);
        assert_eq!(by_id.peer.id, first.peer.id);
        let after = counts(conn).await;
        assert_eq!(
            (after.peers, after.grants, after.tokens, after.audit),
            (1, 3, 3, 3)
        );
        let audit = audit_rows(conn, "federation.grant.create").await;
        assert!(audit.iter().all(|a| a.actor == "admin-token:ops"));
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_refused_grant_leaves_nothing_behind() {
    for db in all_backends().await {
        let conn = db.store.conn();
        user(conn, "alice").await;
        let grants = Grants::new(conn);
        // One grant already there, so an existing peer is also exercised.
        grants
            .create_grant(new_grant("existing", "alice"), t0())
            .await
            .unwrap();
        let before = counts(conn).await;

        let cases: Vec<(&str, NewGrant, ErrorCode, &str)> = vec![
            (
                "token ttl 0",
                NewGrant {
                    token_ttl_hours: Some(0),
                    ..new_grant("home", "alice")
                },
                ErrorCode::InvalidRequest,
                "token_ttl_hours: must be between 1 and 720 (got 0)",
            ),
            (
                "token ttl too long",
                NewGrant {
                    token_ttl_hours: Some(721),
                    ..new_grant("existing", "alice")
                },
                ErrorCode::InvalidRequest,
                "token_ttl_hours: must be between 1 and 720 (got 721)",
            ),
            (
                "expires in 0 days",
                NewGrant {
                    expires_in_days: Some(0),
                    ..new_grant("home", "alice")
                },
                ErrorCode::InvalidRequest,
                "expires_in_days: must be between 1 and 3650 (got 0)",
            ),
            (
                "expires in the past",
                NewGrant {
                    expires_in_days: Some(-3),
                    ..new_grant("home", "alice")
                },
                ErrorCode::InvalidRequest,
                "expires_in_days: must be between 1 and 3650 (got -3)",
            ),
            (
                "expires absurdly late",
                NewGrant {
                    expires_in_days: Some(i64::MAX),
                    ..new_grant("home", "alice")
                },
                ErrorCode::InvalidRequest,
                "expires_in_days: must be between 1 and 3650",
            ),
            (
                "scope without resources",
                NewGrant {
                    scope: json!({"resources": [], "max_rows_per_query": 5}),
                    ..new_grant("home", "alice")
                },
                ErrorCode::InvalidRequest,
                "scope: ",
            ),
            (
                "scope with an unknown key",
                NewGrant {
                    scope: json!({"resources": ["tasks"], "max_rows_per_query": 5, "rows": 1}),
                    ..new_grant("existing", "alice")
                },
                ErrorCode::InvalidRequest,
                "scope: ",
            ),
            (
                "unknown user",
                new_grant("home", "nobody"),
                ErrorCode::NotFound,
                "no user with id `nobody`",
            ),
            (
                "blank user",
                new_grant("home", " "),
                ErrorCode::InvalidRequest,
                "user_id: ",
            ),
            (
                "bad peer name",
                new_grant("home sweet home", "alice"),
                ErrorCode::InvalidRequest,
                "peer: `home sweet home`: use 1–64 letters",
            ),
        ];
        for (case, new, code, message) in cases {
            let err = grants.create_grant(new, t0()).await.unwrap_err();
            assert_eq!(err.code(), code, "{case}: {err}");
            assert!(err.to_string().starts_with(message), "{case}: {err}");
            assert_eq!(counts(conn).await, before, "{case} left rows behind");
        }
        db.cleanup().await;
    }
}

#[tokio::test]
async fn revocation_makes_a_grant_unusable_for_good() {
    for db in all_backends().await {
        let conn = db.store.conn();
        user(conn, "alice").await;
        let grants = Grants::new(conn);
        let created = grants
            .create_grant(new_grant("home", "alice"), t0())
            .await
            .unwrap();
        let id = created.grant.id.clone();

        let blank = grants.revoke_grant(&id, "  ", t0()).await.unwrap_err();
        assert_eq!(blank.to_string(), "reason: say why the grant is revoked");
        assert!(grants.grant(&id).await.unwrap().is_usable(t0()));

        let later = t0() + Duration::minutes(5);
        let revoked = grants
            .revoke_grant(&id, " laptop lost ", later)
            .await
            .unwrap();
        assert_eq!(revoked.status, GrantStatus::Revoked);
        assert_eq!(revoked.revoked_at, Some(later));
        assert_eq!(revoked.revoked_reason.as_deref(), Some("laptop lost"));
        assert!(!revoked.is_usable(later));
        assert_eq!(grants.grant(&id).await.unwrap(), revoked);
        let audit = audit_rows(conn, "federation.grant.revoke").await;
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0].details.as_ref().unwrap()["reason"], "laptop lost");

        let again = grants.revoke_grant(&id, "again", later).await.unwrap_err();
        assert_eq!(again.code(), ErrorCode::Conflict);
        assert!(matches!(
            grants.issue_enrollment_token(&id, None, later).await.unwrap_err(),
            GrantsError::Conflict(m) if m == format!("grant `{id}` is revoked; only active grants enroll")
        ));
        assert_eq!(audit_rows(conn, "federation.grant.revoke").await.len(), 1);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn new_tokens_only_for_usable_grants() {
    for db in all_backends().await {
        let conn = db.store.conn();
        user(conn, "alice").await;
        let grants = Grants::new(conn);
        let created = grants
            .create_grant(
                NewGrant {
                    expires_in_days: Some(1),
                    ..new_grant("home", "alice")
                },
                t0(),
            )
            .await
            .unwrap();
        let id = created.grant.id.clone();

        let later = t0() + Duration::hours(3);
        let token = grants
            .issue_enrollment_token(&id, Some(5), later)
            .await
            .unwrap();
        assert_eq!(token.expires_at, later + Duration::hours(5));
        assert_ne!(*token.secret, *created.token.secret);
        let audit = audit_rows(conn, "federation.grant.token").await;
        assert_eq!(audit.len(), 1);
        assert_eq!(
            audit[0].details.as_ref().unwrap()["token_id"],
            token.id.as_str()
        );

        let before = counts(conn).await;
        let err = grants
            .issue_enrollment_token(&id, Some(0), later)
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidRequest);
        let expired = grants
            .issue_enrollment_token(&id, None, t0() + Duration::days(1))
            .await
            .unwrap_err();
        assert_eq!(expired.code(), ErrorCode::Conflict);
        assert!(expired.to_string().contains("has expired"), "{expired}");
        assert_eq!(counts(conn).await, before);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn unknown_grants_are_not_found() {
    for db in all_backends().await {
        let conn = db.store.conn();
        let grants = Grants::new(conn);
        let missing = GrantId::new("no-such-grant").unwrap();
        let errors = [
            grants.grant(&missing).await.unwrap_err(),
            grants
                .revoke_grant(&missing, "why", t0())
                .await
                .unwrap_err(),
            grants
                .issue_enrollment_token(&missing, None, t0())
                .await
                .unwrap_err(),
        ];
        for err in errors {
            assert_eq!(err.code(), ErrorCode::NotFound);
            assert_eq!(err.to_string(), "no grant with id `no-such-grant`");
        }
        assert_eq!(counts(conn).await.audit, 0);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn grants_list_newest_first_and_a_corrupt_status_is_named() {
    for db in all_backends().await {
        let conn = db.store.conn();
        user(conn, "alice").await;
        let grants = Grants::new(conn);
        let old = grants
            .create_grant(new_grant("home", "alice"), t0())
            .await
            .unwrap();
        let new = grants
            .create_grant(new_grant("away", "alice"), t0() + Duration::hours(1))
            .await
            .unwrap();
        let listed = grants.list_grants().await.unwrap();
        let ids: Vec<_> = listed.iter().map(|g| g.id.clone()).collect();
        assert_eq!(ids, vec![new.grant.id.clone(), old.grant.id.clone()]);
        assert_eq!(listed[0], new.grant);

        let mut row = federation_grants::Entity::find()
            .filter(federation_grants::Column::Id.eq(old.grant.id.as_str()))
            .one(conn)
            .await
            .unwrap()
            .unwrap()
            .into_active_model();
        row.status = Set("paused".into());
        row.update(conn).await.unwrap();
        let err = grants.grant(&old.grant.id).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::Internal);
        assert_eq!(
            err.to_string(),
            format!(
                "stored federation_grants row `{}`: unknown grant status `paused` (expected one of active, revoked)",
                old.grant.id
            )
        );
        assert!(matches!(
            grants.list_grants().await.unwrap_err(),
            GrantsError::CorruptRow {
                table: "federation_grants",
                ..
            }
        ));
        db.cleanup().await;
    }
}
