//! Peers on every backend: adding, suspending, activating, removing with
//! their grants, unknown ids, and the usability rule on the typed views.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fixture;

use chrono::Duration;
use fixture::{Counts, audit_rows, counts, new_grant, t0, user};
use mosaic_grants::{Grant, Grants, GrantsError, Peer, PeerDirection};
use mosaic_store::entity::federation_peers;
use mosaic_store::sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};
use mosaic_store::testing::all_backends;
use mosaic_types::{ErrorCode, GrantId, GrantStatus, PeerId, PeerState, UserId};
use serde_json::json;

#[tokio::test]
async fn inbound_peers_are_added_pending_and_named_once() {
    for db in all_backends().await {
        let conn = db.store.conn();
        let grants = Grants::new(conn);
        let peer = grants
            .add_inbound_peer("gw-a", Some("Gateway A"), t0())
            .await
            .unwrap();
        assert_eq!(peer.common_name, "gw-a");
        assert_eq!(peer.display_name, "Gateway A");
        assert_eq!(peer.state, PeerState::Pending);
        assert_eq!(peer.direction, PeerDirection::Inbound);
        assert!(!peer.is_usable());
        let plain = grants.add_inbound_peer("gw-b", None, t0()).await.unwrap();
        assert_eq!(plain.display_name, "gw-b");
        assert_eq!(audit_rows(conn, "federation.peer.add").await.len(), 2);

        let before = counts(conn).await;
        let dup = grants
            .add_inbound_peer("gw-a", None, t0())
            .await
            .unwrap_err();
        assert_eq!(dup.code(), ErrorCode::Conflict);
        let bad = grants
            .add_inbound_peer("gw a", None, t0())
            .await
            .unwrap_err();
        assert!(bad.to_string().starts_with("common_name: `gw a`"), "{bad}");
        assert_eq!(counts(conn).await, before);

        let listed: Vec<String> = grants
            .list_peers()
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.common_name)
            .collect();
        assert_eq!(listed, vec!["gw-a", "gw-b"]);
        assert_eq!(grants.peer(&peer.id).await.unwrap(), peer);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn suspend_and_activate() {
    for db in all_backends().await {
        let conn = db.store.conn();
        let grants = Grants::new(conn);
        let peer = grants.add_inbound_peer("gw-a", None, t0()).await.unwrap();
        let t1 = t0() + Duration::minutes(1);
        let active = grants.activate_peer(&peer.id, t1).await.unwrap();
        assert_eq!(active.state, PeerState::Active);
        assert_eq!(active.updated_at, t1);
        assert!(active.is_usable());
        let suspended = grants.suspend_peer(&peer.id, t1).await.unwrap();
        assert_eq!(suspended.state, PeerState::Suspended);
        assert!(!suspended.is_usable());
        assert_eq!(
            grants.peer(&peer.id).await.unwrap().state,
            PeerState::Suspended
        );
        let again = grants.activate_peer(&peer.id, t1).await.unwrap();
        assert!(again.is_usable());

        let suspends = audit_rows(conn, "federation.peer.suspend").await;
        assert_eq!(suspends.len(), 1);
        assert_eq!(suspends[0].details.as_ref().unwrap()["state"], "suspended");
        assert_eq!(suspends[0].peer_id.as_deref(), Some(peer.id.as_str()));
        assert_eq!(audit_rows(conn, "federation.peer.activate").await.len(), 2);

        // Revoked is final.
        let mut row = federation_peers::Entity::find_by_id(peer.id.as_str())
            .one(conn)
            .await
            .unwrap()
            .unwrap()
            .into_active_model();
        row.state = Set("revoked".into());
        row.update(conn).await.unwrap();
        let before = counts(conn).await;
        let err = grants.activate_peer(&peer.id, t1).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::Conflict);
        assert_eq!(counts(conn).await, before);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn removing_a_peer_removes_its_grants_and_tokens() {
    for db in all_backends().await {
        let conn = db.store.conn();
        user(conn, "alice").await;
        let grants = Grants::new(conn);
        let home = grants
            .create_grant(new_grant("home", "alice"), t0())
            .await
            .unwrap();
        grants
            .issue_enrollment_token(&home.grant.id, None, t0())
            .await
            .unwrap();
        grants
            .create_grant(new_grant("home", "alice"), t0())
            .await
            .unwrap();
        let away = grants
            .create_grant(new_grant("away", "alice"), t0())
            .await
            .unwrap();

        let removed = grants.remove_peer(&home.peer.id, t0()).await.unwrap();
        assert_eq!(removed, 2);
        let after = counts(conn).await;
        assert_eq!(
            after,
            Counts {
                peers: 1,
                grants: 1,
                tokens: 1,
                // three creations, one token, one removal
                audit: 5
            }
        );
        assert!(matches!(
            grants.grant(&home.grant.id).await.unwrap_err(),
            GrantsError::NotFound { what: "grant", .. }
        ));
        assert!(grants.grant(&away.grant.id).await.is_ok());
        let audit = audit_rows(conn, "federation.peer.remove").await;
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0].target_id.as_deref(), Some(home.peer.id.as_str()));
        assert_eq!(
            audit[0].details.clone().unwrap(),
            json!({"common_name": "home", "grants_removed": 2})
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn unknown_peers_are_not_found() {
    for db in all_backends().await {
        let conn = db.store.conn();
        let grants = Grants::new(conn);
        let missing = PeerId::new("no-such-peer").unwrap();
        let errors = [
            grants.peer(&missing).await.unwrap_err(),
            grants.suspend_peer(&missing, t0()).await.unwrap_err(),
            grants.activate_peer(&missing, t0()).await.unwrap_err(),
            grants.remove_peer(&missing, t0()).await.unwrap_err(),
            grants.outbound_peer(&missing).await.unwrap_err(),
        ];
        for err in errors {
            assert_eq!(err.code(), ErrorCode::NotFound);
            assert_eq!(err.to_string(), "no peer with id `no-such-peer`");
        }
        assert_eq!(counts(conn).await.audit, 0);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_corrupt_peer_state_is_an_error_naming_the_row() {
    for db in all_backends().await {
        let conn = db.store.conn();
        let grants = Grants::new(conn);
        let peer = grants.add_inbound_peer("gw-a", None, t0()).await.unwrap();
        let mut row = federation_peers::Entity::find_by_id(peer.id.as_str())
            .one(conn)
            .await
            .unwrap()
            .unwrap()
            .into_active_model();
        row.state = Set("Active".into());
        row.update(conn).await.unwrap();
        for err in [
            grants.peer(&peer.id).await.unwrap_err(),
            grants.list_peers().await.unwrap_err(),
        ] {
            assert_eq!(err.code(), ErrorCode::Internal);
            assert_eq!(
                err.to_string(),
                format!(
                    "stored federation_peers row `{}`: unknown peer state `Active` (expected one of pending, active, suspended, revoked, refused)",
                    peer.id
                )
            );
        }
        db.cleanup().await;
    }
}

fn grant(status: GrantStatus, expires_in: Option<Duration>) -> Grant {
    Grant {
        id: GrantId::new("g").unwrap(),
        peer_id: PeerId::new("p").unwrap(),
        subject_user_id: UserId::new("u").unwrap(),
        status,
        scope: json!({}),
        expires_at: expires_in.map(|d| t0() + d),
        revoked_at: None,
        revoked_reason: None,
        created_at: t0(),
        updated_at: t0(),
    }
}

fn peer(state: PeerState) -> Peer {
    Peer {
        id: PeerId::new("p").unwrap(),
        common_name: "p".into(),
        display_name: "p".into(),
        state,
        refusal: None,
        direction: PeerDirection::Inbound,
        endpoint_url: None,
        local_user_id: None,
        cert_serial: String::new(),
        cert_not_after: t0(),
        created_at: t0(),
        updated_at: t0(),
    }
}

#[test]
fn usability_table() {
    let ms = Duration::milliseconds;
    let grants = [
        (GrantStatus::Active, None, true),
        (GrantStatus::Active, Some(ms(1)), true),
        (GrantStatus::Active, Some(Duration::days(365)), true),
        (GrantStatus::Active, Some(ms(0)), false),
        (GrantStatus::Active, Some(ms(-1)), false),
        (GrantStatus::Revoked, None, false),
        (GrantStatus::Revoked, Some(ms(1)), false),
    ];
    for (status, expires_in, usable) in grants {
        assert_eq!(
            grant(status, expires_in).is_usable(t0()),
            usable,
            "{status} expiring in {expires_in:?}"
        );
    }
    let peers = [
        (PeerState::Pending, false),
        (PeerState::Active, true),
        (PeerState::Suspended, false),
        (PeerState::Revoked, false),
        (PeerState::Refused, false),
    ];
    for (state, usable) in peers {
        assert_eq!(peer(state).is_usable(), usable, "{state}");
    }
}
