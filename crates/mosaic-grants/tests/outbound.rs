//! Outbound peers on every backend: an enrollment recorded whole or not at
//! all, and listed for its own user only, while usable.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fixture;

use fixture::{audit_rows, counts, new_grant, outbound, t0, user};
use mosaic_grants::{Grants, OutboundEnrollment, PeerDirection};
use mosaic_store::testing::all_backends;
use mosaic_types::{ErrorCode, PeerState, UserId};

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
