//! Agent nodes end to end with real processes on loopback: the gateway
//! binary, the agent-node binary, TLS, and PostgreSQL too when `DATABASE_URL`
//! is set.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use mosaic_types::nodes::{NodeList, PolicyView, SessionView, TaskView};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::Gateway;
use support::nodes::{Api, Node, backends, free_port, gateway_command, invite, text};

#[tokio::test]
async fn invite_register_dispatch_cancel_restart() {
    support::crypto();
    for db in backends().await {
        let home = tempfile::tempdir().unwrap();
        let node_port = free_port();
        let url = db.as_ref().map(|d| d.url.clone());
        let gw = Gateway::start(
            gateway_command(home.path(), node_port, url.as_deref()),
            home.path().join("gw"),
        );
        let api = Api::new(&gw.base_url);
        let admin = gw.admin_token.clone().unwrap();
        let alice = api.user(&admin, "alice").await;

        // Invite → the node registers and shows online.
        let config = invite(&api, &alice, None, home.path()).await;
        let node_home = home.path().join("node");
        std::fs::create_dir_all(&node_home).unwrap();
        let node = Node::start(&config, &node_home);
        let registered = node.wait_line("agent-node registered as ");
        node.wait_line("agent-node connected");
        let list: NodeList = api.ok("GET", "/api/nodes", &alice, None).await;
        assert_eq!(list.nodes.len(), 1, "{list:?}");
        let node_id = list.nodes[0].id.clone();
        assert!(registered.contains(&node_id), "{registered}");
        assert_eq!(list.nodes[0].name, "workstation");
        api.wait_status(&alice, &node_id, "online").await;
        assert!(!list.nodes[0].capabilities.os.is_empty());

        let session: SessionView = api
            .ok(
                "POST",
                "/api/sessions",
                &alice,
                Some(json!({"name": "e2e"})),
            )
            .await;
        let _: SessionView = api
            .ok(
                "POST",
                &format!("/api/sessions/{}/attach", session.id),
                &alice,
                Some(json!({"node_id": node_id})),
            )
            .await;

        // Dispatch: output streams back and the exit code is kept.
        let (events, task, _) = api
            .run(
                &alice,
                &session.id,
                json!({"command": "echo hello; echo oops >&2; exit 3"}),
            )
            .await;
        assert_eq!(task.status, "completed", "{task:?}");
        assert_eq!(task.exit_code, Some(3));
        assert_eq!(text(&events, "stdout"), "hello\n");
        assert_eq!(text(&events, "stderr"), "oops\n");

        // Output arrives while the command still runs.
        let started = Instant::now();
        let (events, task, first) = api
            .run(
                &alice,
                &session.id,
                json!({"command": "echo first; sleep 3; echo second"}),
            )
            .await;
        assert_eq!(task.exit_code, Some(0));
        assert_eq!(text(&events, "stdout"), "first\nsecond\n");
        assert!(
            first + Duration::from_secs(2) < started.elapsed(),
            "first output after {first:?}, end after {:?}",
            started.elapsed()
        );

        // Working directory.
        std::fs::create_dir_all(node_home.join("ws/sub")).unwrap();
        let (events, _, _) = api
            .run(&alice, &session.id, json!({"command": "pwd", "cwd": "sub"}))
            .await;
        assert!(
            text(&events, "stdout").trim_end().ends_with("ws/sub"),
            "{events:?}"
        );

        // Cancel stops a long task.
        let long: TaskView = api
            .ok(
                "POST",
                &format!("/api/sessions/{}/dispatch", session.id),
                &alice,
                Some(json!({"command": "sleep 60"})),
            )
            .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let t0 = Instant::now();
        let _: TaskView = api
            .ok(
                "POST",
                &format!("/api/sessions/{}/tasks/{}/cancel", session.id, long.id),
                &alice,
                None,
            )
            .await;
        let (_, ended, _) = api.follow(&alice, &session.id, &long.id).await;
        assert_eq!(ended.status, "cancelled", "{ended:?}");
        assert!(t0.elapsed() < Duration::from_secs(15), "{:?}", t0.elapsed());

        // Kill the gateway: the node goes on trying; restart it on the same
        // ports and data: the node reconnects by itself, its entry intact.
        let base = gw.base_url.clone();
        drop(gw);
        let mut again = gateway_command(home.path(), node_port, url.as_deref());
        again.env("MOSAIC_HTTP_ADDR", base.trim_start_matches("http://"));
        let gw = Gateway::start(again, home.path().join("gw"));
        node.wait_line("agent-node registered as ");
        node.wait_line("agent-node connected");
        let api = Api::new(&gw.base_url);
        api.wait_status(&alice, &node_id, "online").await;
        let list: NodeList = api.ok("GET", "/api/nodes", &alice, None).await;
        assert_eq!(list.nodes.len(), 1);
        let (events, task, _) = api
            .run(&alice, &session.id, json!({"command": "echo back"}))
            .await;
        assert_eq!(task.exit_code, Some(0));
        assert_eq!(text(&events, "stdout"), "back\n");
        let tasks: Value = api
            .ok(
                "GET",
                &format!("/api/sessions/{}/tasks", session.id),
                &alice,
                None,
            )
            .await;
        assert_eq!(
            tasks["tasks"].as_array().unwrap().len(),
            5,
            "results are kept"
        );

        // Health arrives with real figures.
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            let n: mosaic_types::nodes::NodeView = api
                .ok("GET", &format!("/api/nodes/{node_id}"), &alice, None)
                .await;
            if let Some(h) = n.health {
                assert!(h.memory_total_bytes > 0 && h.disk_total_bytes > 0, "{h:?}");
                break;
            }
            assert!(Instant::now() < deadline, "no heartbeat arrived");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }

        // Removing the node closes it out: the daemon is told its credential
        // is refused and stops.
        let (status, _) = api
            .call("DELETE", &format!("/api/nodes/{node_id}"), &alice, None)
            .await;
        assert_eq!(status, 204);
        let mut node = node;
        let deadline = Instant::now() + Duration::from_secs(30);
        let code = loop {
            if let Some(s) = node.child.try_wait().unwrap() {
                break s.code();
            }
            assert!(
                Instant::now() < deadline,
                "agent-node kept running after removal"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        assert_eq!(code, Some(3));
        drop(gw);
        if let Some(db) = db {
            db.drop_database().await;
        }
    }
}

#[tokio::test]
async fn strict_policy_and_ownership_hold() {
    support::crypto();
    for db in backends().await {
        let home = tempfile::tempdir().unwrap();
        let url = db.as_ref().map(|d| d.url.clone());
        let gw = Gateway::start(
            gateway_command(home.path(), 0, url.as_deref()),
            home.path().join("gw"),
        );
        let api = Api::new(&gw.base_url);
        let admin = gw.admin_token.clone().unwrap();
        let alice = api.user(&admin, "alice").await;
        let bob = api.user(&admin, "bob").await;

        let strict = PolicyView {
            mode: "strict".into(),
            allowed: vec!["echo".into()],
            denied: vec![],
        };
        let config = invite(&api, &alice, Some(strict), home.path()).await;
        let node_home = home.path().join("node");
        std::fs::create_dir_all(&node_home).unwrap();
        let node = Node::start(&config, &node_home);
        node.wait_line("agent-node connected");
        let list: NodeList = api.ok("GET", "/api/nodes", &alice, None).await;
        let node_id = list.nodes[0].id.clone();
        assert_eq!(list.nodes[0].policy.mode, "strict");
        let session: SessionView = api
            .ok("POST", "/api/sessions", &alice, Some(json!({})))
            .await;
        let _: SessionView = api
            .ok(
                "POST",
                &format!("/api/sessions/{}/attach", session.id),
                &alice,
                Some(json!({"node_id": node_id})),
            )
            .await;

        let (_, ok, _) = api
            .run(&alice, &session.id, json!({"command": "echo allowed"}))
            .await;
        assert_eq!(ok.status, "completed");
        let marker = node_home.join("ws/created-by-touch");
        let (_, refused, _) = api
            .run(
                &alice,
                &session.id,
                json!({"command": format!("echo x; touch {}", marker.display())}),
            )
            .await;
        assert_eq!(refused.status, "refused", "{refused:?}");
        let reason = refused.error.unwrap_or_default();
        assert!(
            reason.contains("`touch` is not on the allow list"),
            "{reason}"
        );
        assert!(!marker.exists(), "a refused command ran");

        // Bob sees nothing of Alice's and cannot use it.
        let theirs: NodeList = api.ok("GET", "/api/nodes", &bob, None).await;
        assert!(theirs.nodes.is_empty());
        for (method, path, body) in [
            ("GET", format!("/api/nodes/{node_id}"), None),
            ("DELETE", format!("/api/nodes/{node_id}"), None),
            ("GET", format!("/api/sessions/{}", session.id), None),
            (
                "POST",
                format!("/api/sessions/{}/dispatch", session.id),
                Some(json!({"command": "echo hi"})),
            ),
            (
                "GET",
                format!("/api/sessions/{}/tasks/{}", session.id, ok.id),
                None,
            ),
            (
                "GET",
                format!("/api/sessions/{}/tasks/{}/output", session.id, ok.id),
                None,
            ),
        ] {
            let (status, body) = api.call(method, &path, &bob, body).await;
            assert_eq!(status, 404, "{method} {path}: {body}");
        }
        let bobs: SessionView = api.ok("POST", "/api/sessions", &bob, Some(json!({}))).await;
        let (status, _) = api
            .call(
                "POST",
                &format!("/api/sessions/{}/attach", bobs.id),
                &bob,
                Some(json!({"node_id": node_id})),
            )
            .await;
        assert_eq!(status, 404);
        let (status, _) = api
            .call(
                "POST",
                &format!("/api/sessions/{}/dispatch", bobs.id),
                &bob,
                Some(json!({"command": "echo hi", "node_id": node_id})),
            )
            .await;
        assert_eq!(status, 404);

        // No token, a bad token, an admin token with no user.
        let (status, _) = api.call("GET", "/api/nodes", "", None).await;
        assert_eq!(status, 401);
        let (status, _) = api.call("GET", "/api/nodes", "mosaic_nope", None).await;
        assert_eq!(status, 401);
        let (status, _) = api
            .call("POST", "/api/nodes/invite", &admin, Some(json!({})))
            .await;
        assert_eq!(status, 403);

        // Bad input says what to fix.
        let (status, body) = api
            .call(
                "POST",
                "/api/nodes/invite",
                &alice,
                Some(json!({"policy": {"mode": "strict", "allowed": []}})),
            )
            .await;
        assert_eq!(status, 400, "{body}");
        assert!(body.to_string().contains("allowed program"), "{body}");
        let (status, _) = api
            .call(
                "POST",
                &format!("/api/sessions/{}/dispatch", session.id),
                &alice,
                Some(json!({"command": "  "})),
            )
            .await;
        assert_eq!(status, 400);
        drop(node);
        drop(gw);
        if let Some(db) = db {
            db.drop_database().await;
        }
    }
}

#[tokio::test]
async fn an_invite_works_once() {
    support::crypto();
    let home = tempfile::tempdir().unwrap();
    let gw = Gateway::start(
        gateway_command(home.path(), 0, None),
        home.path().join("gw"),
    );
    let api = Api::new(&gw.base_url);
    let admin = gw.admin_token.clone().unwrap();
    let alice = api.user(&admin, "alice").await;
    let config = invite(&api, &alice, None, home.path()).await;
    let first = home.path().join("first");
    let second = home.path().join("second");
    std::fs::create_dir_all(&first).unwrap();
    std::fs::create_dir_all(&second).unwrap();
    let node = Node::start(&config, &first);
    node.wait_line("agent-node connected");
    // A second machine with the same (now used) invite is turned away.
    let mut other = Node::start(&config, &second);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = other.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "a reused invite was not refused");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(3));
    let err: Vec<String> = other.stderr.try_iter().collect();
    assert!(err.join("\n").contains("invite"), "{err:?}");
    let list: NodeList = api.ok("GET", "/api/nodes", &alice, None).await;
    assert_eq!(list.nodes.len(), 1);
}
