//! Outbound peers on every backend: an enrollment recorded whole or not at
//! all, and listed for its own user only, while usable.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fixture;

use fixture::{audit_rows, counts, new_grant, outbound, t0, user};
use mosaic_grants::{Grants, OutboundEnrollment, PeerDirection};
use mosaic_store::testing::all_backends;
use mosaic_types::{ErrorCode, FederationRefusal, PeerState, UserId};

#[tokio::test]
async fn an_enrollment_is_recorded_and_queried_by_its_user_only() {
    for db in all_backends().await {
        let conn = db.store.conn();
        user(conn, "me").await;
        user(conn, "other").await;
        let grants = Grants::new(conn);
        assert_eq!(
            grants
                .check_outbound_enrollment("work", "https://gw-b.example:7443/", "me")
                .await
                .unwrap(),
            "https://gw-b.example:7443"
        );
        let enrollment = outbound("work", "me");
        let id = enrollment.peer_id.clone();
        let peer = grants
            .record_outbound_enrollment(enrollment, t0())
            .await
            .unwrap();
        assert_eq!(peer.id, id, "the caller's id, which sealed the key");
        assert_eq!(peer.state, PeerState::Active);
        assert_eq!(peer.direction, PeerDirection::Outbound);
        assert_eq!(
            peer.endpoint_url.as_deref(),
            Some("https://gw-b.example:7443")
        );
        assert_eq!(peer.local_user_id.as_ref().map(UserId::as_str), Some("me"));
        assert_eq!(peer.cert_serial, "0A1B");
        let audit = audit_rows(conn, "federation.peer.enroll").await;
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0].peer_id.as_deref(), Some(id.as_str()));
        assert_eq!(
            audit[0].details.as_ref().unwrap()["remote_grant"],
            "remote-grant-1"
        );

        // A second peer for me, listed by name, and one for the other user.
        grants
            .record_outbound_enrollment(outbound("archive", "me"), t0())
            .await
            .unwrap();
        grants
            .record_outbound_enrollment(outbound("theirs", "other"), t0())
            .await
            .unwrap();
        // An inbound peer is never queried.
        grants
            .create_grant(new_grant("inbound", "me"), t0())
            .await
            .unwrap();

        let me = UserId::new("me").unwrap();
        let mine = grants.peers_a_user_may_query(&me).await.unwrap();
        let names: Vec<&str> = mine.iter().map(|p| p.common_name.as_str()).collect();
        assert_eq!(names, vec!["archive", "work"]);
        let work = &mine[1];
        assert_eq!(work.id, id);
        assert_eq!(work.endpoint_url, "https://gw-b.example:7443");
        assert_eq!(work.sealed_client_key, "sealed:v1:…");
        assert_eq!(
            work.ca_pem.as_deref(),
            Some("-----BEGIN CERTIFICATE-----\nca")
        );
        assert_eq!(grants.outbound_peer(&id).await.unwrap(), *work);
        let other = grants
            .peers_a_user_may_query(&UserId::new("other").unwrap())
            .await
            .unwrap();
        assert_eq!(other.len(), 1);
        assert_eq!(other[0].common_name, "theirs");
        assert!(
            grants
                .peers_a_user_may_query(&UserId::new("nobody").unwrap())
                .await
                .unwrap()
                .is_empty()
        );

        // Suspended: not queried until activated again.
        grants.suspend_peer(&id, t0()).await.unwrap();
        let names: Vec<String> = grants
            .peers_a_user_may_query(&me)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.common_name)
            .collect();
        assert_eq!(names, vec!["archive"]);
        assert_eq!(
            grants.outbound_peer(&id).await.unwrap().state,
            PeerState::Suspended
        );
        grants.activate_peer(&id, t0()).await.unwrap();
        assert_eq!(grants.peers_a_user_may_query(&me).await.unwrap().len(), 2);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_refused_enrollment_records_nothing() {
    for db in all_backends().await {
        let conn = db.store.conn();
        user(conn, "me").await;
        let grants = Grants::new(conn);
        let before = counts(conn).await;
        let cases: Vec<(&str, OutboundEnrollment, ErrorCode, &str)> = vec![
            (
                "plain http",
                OutboundEnrollment {
                    url: "http://gw-b.example:7443".into(),
                    ..outbound("work", "me")
                },
                ErrorCode::InvalidRequest,
                "url: ",
            ),
            (
                "not a URL",
                OutboundEnrollment {
                    url: "gw-b.example".into(),
                    ..outbound("work", "me")
                },
                ErrorCode::InvalidRequest,
                "url: ",
            ),
            (
                "bad name",
                outbound("my work", "me"),
                ErrorCode::InvalidRequest,
                "name: `my work`",
            ),
            (
                "unknown user",
                outbound("work", "nobody"),
                ErrorCode::NotFound,
                "no user with id `nobody`",
            ),
        ];
        for (case, enrollment, code, message) in cases {
            let (name, url, user_id) = (
                enrollment.name.clone(),
                enrollment.url.clone(),
                enrollment.user_id.clone(),
            );
            let checked = grants
                .check_outbound_enrollment(&name, &url, &user_id)
                .await
                .unwrap_err();
            let err = grants
                .record_outbound_enrollment(enrollment, t0())
                .await
                .unwrap_err();
            for err in [checked, err] {
                assert_eq!(err.code(), code, "{case}: {err}");
                assert!(err.to_string().starts_with(message), "{case}: {err}");
            }
            assert_eq!(counts(conn).await, before, "{case} left rows behind");
        }

        // Outbound peers are not granted to, and inbound ones hold no client.
        let peer = grants
            .record_outbound_enrollment(outbound("work", "me"), t0())
            .await
            .unwrap();
        let before = counts(conn).await;
        let err = grants
            .create_grant(new_grant(peer.id.as_str(), "me"), t0())
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Conflict);
        assert_eq!(counts(conn).await, before);
        let inbound = grants.add_inbound_peer("gw-a", None, t0()).await.unwrap();
        let err = grants.outbound_peer(&inbound.id).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "peer: `gw-a` is inbound: we hold no grant from it"
        );
        db.cleanup().await;
    }
}

/// A peer that refuses our grant for good is recorded `refused`, with why,
/// in one transaction with its audit row; queries still name it, and it is
/// usable again once activated or replaced by a new enrollment.
#[tokio::test]
async fn a_refusal_is_recorded_once_and_lifted_by_activation_or_enrolling_again() {
    for db in all_backends().await {
        let conn = db.store.conn();
        user(conn, "me").await;
        let grants = Grants::new(conn).acting_as("gateway");
        let me = UserId::new("me").unwrap();
        let work = grants
            .record_outbound_enrollment(outbound("work", "me"), t0())
            .await
            .unwrap();

        // A suspension there may be lifted: it marks nothing here.
        let before = counts(conn).await;
        let err = grants
            .refuse_outbound_peer(&work.id, FederationRefusal::PeerSuspended, t0())
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidRequest);
        assert!(err.to_string().starts_with("refusal: "), "{err}");
        assert_eq!(counts(conn).await, before);

        let refused = grants
            .refuse_outbound_peer(&work.id, FederationRefusal::GrantRevoked, t0())
            .await
            .unwrap();
        assert_eq!(
            (refused.state, refused.refusal),
            (PeerState::Refused, Some(FederationRefusal::GrantRevoked))
        );
        let audit = audit_rows(conn, "federation.peer.refused").await;
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0].actor, "gateway");
        assert_eq!(
            audit[0].details.as_ref().unwrap()["refusal"],
            "grant_revoked"
        );
        // Concurrent queries see the same refusal: recorded once.
        let again = grants
            .refuse_outbound_peer(&work.id, FederationRefusal::GrantExpired, t0())
            .await
            .unwrap();
        assert_eq!(again.refusal, Some(FederationRefusal::GrantRevoked));
        assert_eq!(audit_rows(conn, "federation.peer.refused").await.len(), 1);

        // Not usable, but still named by the user's queries.
        assert!(grants.peers_a_user_may_query(&me).await.unwrap().is_empty());
        let named = grants.peers_a_user_queries(&me).await.unwrap();
        assert_eq!(named.len(), 1);
        assert_eq!(named[0].state, PeerState::Refused);

        // Activation lifts it and forgets the reason.
        let active = grants.activate_peer(&work.id, t0()).await.unwrap();
        assert_eq!((active.state, active.refusal), (PeerState::Active, None));

        // Enrolling again under the same name replaces a refused peer.
        grants
            .refuse_outbound_peer(&work.id, FederationRefusal::GrantExpired, t0())
            .await
            .unwrap();
        let renewed = grants
            .record_outbound_enrollment(outbound("work", "me"), t0())
            .await
            .unwrap();
        let peers = grants.list_peers().await.unwrap();
        assert_eq!(peers.len(), 1, "{peers:?}");
        assert_eq!(peers[0].id, renewed.id);
        assert_eq!(peers[0].state, PeerState::Active);
        let enrolls = audit_rows(conn, "federation.peer.enroll").await;
        assert!(
            enrolls
                .iter()
                .any(|a| a.details.as_ref().unwrap()["replaced"]
                    == serde_json::json!([work.id.as_str()])),
            "{enrolls:?}"
        );
        // An active peer of the same name is not replaced: names are not unique.
        grants
            .record_outbound_enrollment(outbound("work", "me"), t0())
            .await
            .unwrap();
        assert_eq!(grants.list_peers().await.unwrap().len(), 2);

        // Only a peer we read from can refuse us.
        let inbound = grants.add_inbound_peer("gw-a", None, t0()).await.unwrap();
        let err = grants
            .refuse_outbound_peer(&inbound.id, FederationRefusal::GrantRevoked, t0())
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidRequest);
        db.cleanup().await;
    }
}
