//! The node registry on every backend: invites, ownership, liveness, tasks.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration, Utc};
use mosaic_nodes::Policy;
use mosaic_nodes::registry::{NewTask, Registration, Registry, RegistryError, TaskEnd};
use mosaic_store::entity::{node_invites, users};
use mosaic_store::testing::all_backends;
use mosaic_types::nodes::HealthView;
use sea_orm::{ActiveModelTrait as _, ColumnTrait as _, EntityTrait as _, QueryFilter as _, Set};

async fn user(db: &sea_orm::DatabaseConnection, id: &str) {
    let now = mosaic_store::now();
    users::ActiveModel {
        id: Set(id.to_owned()),
        name: Set(id.to_owned()),
        email: Set(format!("{id}@example.test")),
        email_verified: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .unwrap();
}

/// A node of `owner`'s, through an invite.
async fn invited(r: &Registry<'_>, owner: &str) -> mosaic_nodes::registry::AuthenticatedNode {
    let inv = r
        .create_invite(owner, None, &Policy::default(), None)
        .await
        .unwrap();
    r.redeem_invite(&inv.token, &reg("a")).await.unwrap()
}

fn reg(name: &str) -> Registration {
    Registration {
        name: name.to_owned(),
        version: "0.1.0".to_owned(),
        ..Default::default()
    }
}

#[tokio::test]
async fn an_invite_is_redeemed_once_and_yields_a_working_credential() {
    for db in all_backends().await {
        let conn = db.store.conn();
        user(conn, "alice").await;
        let r = Registry::new(conn);
        let invite = r
            .create_invite("alice", Some("laptop".into()), &Policy::default(), None)
            .await
            .unwrap();
        let node = r
            .redeem_invite(&invite.token, &reg("host-a"))
            .await
            .unwrap();
        assert_eq!(node.owner, "alice");
        assert_eq!(node.name, "laptop", "the invite's name wins");
        let credential = node.new_credential.clone().unwrap();
        assert!(matches!(
            r.redeem_invite(&invite.token, &reg("again")).await,
            Err(RegistryError::InviteRefused)
        ));
        r.update_registration(&node.id, &reg("renamed"))
            .await
            .unwrap();
        let again = r.authenticate(&credential).await.unwrap();
        assert_eq!(
            again.name, "laptop",
            "a reported name does not replace the invite's"
        );
        assert_eq!(again.id, node.id);
        assert!(again.new_credential.is_none());
        assert!(matches!(
            r.authenticate("mnc_nope").await,
            Err(RegistryError::CredentialRefused)
        ));
        assert!(matches!(
            r.authenticate(&invite.token).await,
            Err(RegistryError::CredentialRefused)
        ));
        db.cleanup().await;
    }
}

#[tokio::test]
async fn racing_redemptions_make_one_node() {
    for db in all_backends().await {
        user(db.store.conn(), "alice").await;
        let invite = Registry::new(db.store.conn())
            .create_invite("alice", None, &Policy::default(), None)
            .await
            .unwrap();
        let mut handles = Vec::new();
        for i in 0..6 {
            let store = db.connect_again(2).await.unwrap();
            let token = invite.token.clone();
            handles.push(tokio::spawn(async move {
                let out = Registry::new(store.conn())
                    .redeem_invite(&token, &reg(&format!("h{i}")))
                    .await;
                store.close().await.unwrap();
                out.is_ok()
            }));
        }
        let mut wins = 0;
        for h in handles {
            wins += usize::from(h.await.unwrap());
        }
        assert_eq!(wins, 1, "{}", db.backend());
        db.cleanup().await;
    }
}

#[tokio::test]
async fn expired_and_malformed_invites_are_refused_and_ttls_are_bounded() {
    for db in all_backends().await {
        let conn = db.store.conn();
        user(conn, "alice").await;
        let r = Registry::new(conn);
        let invite = r
            .create_invite("alice", None, &Policy::default(), Some(60))
            .await
            .unwrap();
        node_invites::Entity::update_many()
            .col_expr(
                node_invites::Column::ExpiresAt,
                sea_orm::sea_query::Expr::value(Utc::now() - Duration::seconds(1)),
            )
            .filter(node_invites::Column::Id.eq(invite.id.clone()))
            .exec(conn)
            .await
            .unwrap();
        assert!(matches!(
            r.redeem_invite(&invite.token, &reg("h")).await,
            Err(RegistryError::InviteRefused)
        ));
        assert!(matches!(
            r.redeem_invite("garbage", &reg("h")).await,
            Err(RegistryError::InviteRefused)
        ));
        assert!(matches!(
            r.create_invite("alice", None, &Policy::default(), Some(10))
                .await,
            Err(RegistryError::Invalid(_))
        ));
        db.cleanup().await;
    }
}

#[tokio::test]
async fn users_see_and_use_only_their_own_nodes_and_sessions() {
    for db in all_backends().await {
        let conn = db.store.conn();
        user(conn, "alice").await;
        user(conn, "bob").await;
        let r = Registry::new(conn);
        let node = invited(&r, "alice").await;
        assert_eq!(r.list_nodes("alice").await.unwrap().len(), 1);
        assert!(r.list_nodes("bob").await.unwrap().is_empty());
        assert!(matches!(
            r.node("bob", &node.id).await,
            Err(RegistryError::NotFound { .. })
        ));
        assert!(matches!(
            r.remove_node("bob", &node.id).await,
            Err(RegistryError::NotFound { .. })
        ));

        let bobs = r.create_session("bob", None).await.unwrap();
        assert!(matches!(
            r.attach("bob", &bobs.id, &node.id).await,
            Err(RegistryError::NotFound { kind: "node", .. })
        ));
        assert!(matches!(
            r.dispatch_target("bob", &bobs.id, Some(&node.id)).await,
            Err(RegistryError::NotFound { kind: "node", .. })
        ));
        let alices = r
            .create_session("alice", Some("work".into()))
            .await
            .unwrap();
        assert!(matches!(
            r.attach("bob", &alices.id, &node.id).await,
            Err(RegistryError::NotFound {
                kind: "session",
                ..
            })
        ));
        assert!(matches!(
            r.session("bob", &alices.id).await,
            Err(RegistryError::NotFound { .. })
        ));
        assert!(matches!(
            r.dispatch_target("alice", &alices.id, None).await,
            Err(RegistryError::Conflict(_))
        ));
        let s = r.attach("alice", &alices.id, &node.id).await.unwrap();
        assert_eq!(s.nodes, vec![node.id.clone()]);
        r.attach("alice", &alices.id, &node.id).await.unwrap();
        assert_eq!(
            r.dispatch_target("alice", &alices.id, None).await.unwrap(),
            node.id
        );
        assert_eq!(r.list_sessions("bob").await.unwrap().len(), 1);

        r.remove_node("alice", &node.id).await.unwrap();
        assert!(matches!(
            r.authenticate(node.new_credential.as_deref().unwrap())
                .await,
            Err(RegistryError::CredentialRefused)
        ));
        assert!(
            r.session("alice", &alices.id)
                .await
                .unwrap()
                .nodes
                .is_empty()
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn liveness_follows_the_stream_and_a_ttl() {
    for db in all_backends().await {
        let conn = db.store.conn();
        user(conn, "alice").await;
        let r = Registry::new(conn);
        let node = invited(&r, "alice").await;
        assert_eq!(r.node("alice", &node.id).await.unwrap().status, "offline");
        r.mark_online(&node.id, "gw1").await.unwrap();
        let first = r.connected_at(&node.id).await.unwrap();
        assert_eq!(r.node("alice", &node.id).await.unwrap().status, "online");
        let health = HealthView {
            cpu_percent: 12.5,
            memory_used_bytes: 1,
            memory_total_bytes: 2,
            reported_at: mosaic_store::now() - Duration::seconds(600),
            ..Default::default()
        };
        r.record_health(&node.id, &health).await.unwrap();
        let seen = r.node("alice", &node.id).await.unwrap();
        assert_eq!(seen.status, "offline", "silent for longer than the TTL");
        assert_eq!(seen.health.unwrap().cpu_percent, 12.5);
        r.touch(&node.id).await.unwrap();
        assert_eq!(r.node("alice", &node.id).await.unwrap().status, "online");

        // A newer stream: the old one closing late leaves it online.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        r.mark_online(&node.id, "gw2").await.unwrap();
        r.mark_offline(&node.id, first).await.unwrap();
        assert_eq!(r.node("alice", &node.id).await.unwrap().status, "online");
        let current = r.connected_at(&node.id).await.unwrap();
        r.mark_offline(&node.id, current).await.unwrap();
        assert_eq!(r.node("alice", &node.id).await.unwrap().status, "offline");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn tasks_keep_output_in_order_and_end_once() {
    for db in all_backends().await {
        let conn = db.store.conn();
        user(conn, "alice").await;
        let r = Registry::new(conn);
        let node = invited(&r, "alice").await;
        let s = r.create_session("alice", None).await.unwrap();
        r.attach("alice", &s.id, &node.id).await.unwrap();
        let t = r
            .create_task(&NewTask {
                id: "task_1".into(),
                session_id: s.id.clone(),
                node_id: node.id.clone(),
                owner: "alice".into(),
                command: "echo hi".into(),
                cwd: None,
                timeout_secs: Some(5),
            })
            .await
            .unwrap();
        assert_eq!(t.status, "running");
        assert!(
            r.append_output("task_1", 1, "stdout", "hi\n")
                .await
                .unwrap()
        );
        assert!(
            r.append_output("task_1", 2, "stderr", "warn\n")
                .await
                .unwrap()
        );
        let out = r.output_after("task_1", 0).await.unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[1], (2, "stderr".to_owned(), "warn\n".to_owned()));
        assert_eq!(r.output_after("task_1", 1).await.unwrap().len(), 1);
        let end = TaskEnd {
            status: "completed".into(),
            exit_code: Some(0),
            error: None,
            duration_ms: Some(4),
        };
        let done = r.finish_task("task_1", &end).await.unwrap().unwrap();
        assert_eq!(done.exit_code, Some(0));
        assert!(
            r.finish_task(
                "task_1",
                &TaskEnd {
                    status: "lost".into(),
                    ..end
                }
            )
            .await
            .unwrap()
            .is_none()
        );
        assert_eq!(
            r.task("alice", &s.id, "task_1").await.unwrap().status,
            "completed"
        );
        assert!(matches!(
            r.task("bob", &s.id, "task_1").await,
            Err(RegistryError::NotFound { .. })
        ));
        assert_eq!(r.list_tasks("alice", &s.id).await.unwrap().len(), 1);
        db.cleanup().await;
    }
}

/// `alice`'s node with a session and the tasks `ids`, all running.
async fn running_tasks(
    r: &Registry<'_>,
    ids: &[&str],
) -> (mosaic_nodes::registry::AuthenticatedNode, String) {
    let node = invited(r, "alice").await;
    let s = r.create_session("alice", None).await.unwrap();
    for id in ids {
        r.create_task(&NewTask {
            id: (*id).into(),
            session_id: s.id.clone(),
            node_id: node.id.clone(),
            owner: "alice".into(),
            command: "sleep 9".into(),
            cwd: None,
            timeout_secs: None,
        })
        .await
        .unwrap();
    }
    (node, s.id)
}

#[tokio::test]
async fn only_tasks_the_node_does_not_know_are_lost() {
    for db in all_backends().await {
        let conn = db.store.conn();
        user(conn, "alice").await;
        let r = Registry::new(conn);
        let (node, s) = running_tasks(&r, &["t1", "t2", "t3"]).await;
        // The node still runs t2 and has t3's result on its way: only t1,
        // which it does not know, is lost.
        let lost = r
            .lose_unknown_tasks(&node.id, &["t2".to_owned(), "t3".to_owned()])
            .await
            .unwrap();
        assert_eq!(lost, vec!["t1".to_owned()]);
        let t1 = r.task("alice", &s, "t1").await.unwrap();
        assert_eq!(t1.status, "lost");
        assert!(t1.finished_at.is_some());
        assert!(
            t1.error
                .unwrap()
                .contains("the node does not know this task"),
            "the reason names the node's answer"
        );
        for id in ["t2", "t3"] {
            assert_eq!(r.task("alice", &s, id).await.unwrap().status, "running");
        }
        // Nothing to lose when the node knows everything.
        assert!(
            r.lose_unknown_tasks(&node.id, &["t2".to_owned(), "t3".to_owned()])
                .await
                .unwrap()
                .is_empty()
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_result_delivered_twice_completes_the_task_once() {
    for db in all_backends().await {
        let conn = db.store.conn();
        user(conn, "alice").await;
        let r = Registry::new(conn);
        let (node, s) = running_tasks(&r, &["t"]).await;
        // Delivered after a reconnect, then again (the node did not learn
        // that the first delivery arrived).
        r.lose_unknown_tasks(&node.id, &["t".to_owned()])
            .await
            .unwrap();
        let end = TaskEnd {
            status: "completed".into(),
            exit_code: Some(0),
            error: None,
            duration_ms: Some(3000),
        };
        for _ in 0..2 {
            r.append_output("t", 1, "stdout", "ok\n").await.unwrap();
            r.finish_task("t", &end).await.unwrap();
        }
        assert!(
            !r.append_output("t", 1, "stdout", "ok\n").await.unwrap(),
            "a position already stored is not stored again"
        );
        assert_eq!(
            r.output_after("t", 0).await.unwrap(),
            vec![(1, "stdout".to_owned(), "ok\n".to_owned())]
        );
        // A later, different end changes nothing either.
        let failed = TaskEnd {
            status: "failed".into(),
            exit_code: None,
            error: Some("late".into()),
            duration_ms: None,
        };
        assert!(r.finish_task("t", &failed).await.unwrap().is_none());
        let t = r.task("alice", &s, "t").await.unwrap();
        assert_eq!(
            (t.status.as_str(), t.exit_code, t.duration_ms),
            ("completed", Some(0), Some(3000))
        );
        // And the node's next hello no longer names it: it is not running.
        assert!(
            r.lose_unknown_tasks(&node.id, &[])
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(r.task("alice", &s, "t").await.unwrap().status, "completed");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_closed_session_takes_no_node_and_runs_nothing() {
    for db in all_backends().await {
        let conn = db.store.conn();
        user(conn, "alice").await;
        user(conn, "bob").await;
        let r = Registry::new(conn);
        let (node, s) = running_tasks(&r, &["t"]).await;
        r.attach("alice", &s, &node.id).await.unwrap();
        assert!(matches!(
            r.close_session("bob", &s).await,
            Err(RegistryError::NotFound { .. })
        ));
        let closed = r.close_session("alice", &s).await.unwrap();
        assert_eq!(closed.status, "closed");
        let at = closed.closed_at.expect("closed_at set");
        assert_eq!(closed.nodes, vec![node.id.clone()], "its nodes stay listed");
        // Closing again changes nothing, not even the time.
        let again = r.close_session("alice", &s).await.unwrap();
        assert_eq!(again.closed_at, Some(at));
        assert_eq!(r.list_sessions("alice").await.unwrap()[0].status, "closed");

        for refused in [
            r.dispatch_target("alice", &s, None).await.map(|_| ()),
            r.attach("alice", &s, &node.id).await.map(|_| ()),
            // Refused as closed before the node is even looked up.
            r.attach("alice", &s, "node_unknown").await.map(|_| ()),
        ] {
            match refused {
                Err(RegistryError::Conflict(m)) => {
                    assert!(m.contains("is closed"), "{m}");
                    assert!(m.contains("mosaic session create"), "{m}");
                }
                other => panic!("not a conflict: {other:?}"),
            }
        }
        // A task running when it closed still ends as the node reports.
        let end = TaskEnd {
            status: "completed".into(),
            exit_code: Some(0),
            error: None,
            duration_ms: Some(1),
        };
        assert!(r.finish_task("t", &end).await.unwrap().is_some());
        db.cleanup().await;
    }
}
