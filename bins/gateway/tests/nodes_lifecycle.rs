//! Agent nodes across the life of a gateway, with real processes on
//! loopback: the gateway stopping while people follow task output, a task
//! that finishes while the gateway restarts, a node removed while
//! connected, and a session closed. PostgreSQL too when `DATABASE_URL` is
//! set.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use mosaic_types::nodes::{NodeList, SessionView, TaskList, TaskView};
use serde_json::json;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use support::Gateway;
use support::nodes::{Api, Cli, Node, backends, free_port, gateway_command, invite, text};

/// A gateway with one user, one connected node and a session it is attached
/// to.
struct Setup {
    gw: Gateway,
    api: Api,
    token: String,
    node: Node,
    node_id: String,
    session: String,
}

async fn setup(home: &Path, cmd: Command) -> Setup {
    support::crypto();
    // Built before anything starts: a first build takes a while.
    support::nodes::agent_node_bin();
    support::bins::current("mosaic");
    let gw = Gateway::start(cmd, home.join("gw"));
    let api = Api::new(&gw.base_url);
    let admin = gw.admin_token.clone().unwrap();
    let token = api.user(&admin, "alice").await;
    let config = invite(&api, &token, None, home).await;
    let node_home = home.join("node");
    std::fs::create_dir_all(&node_home).unwrap();
    let node = Node::start(&config, &node_home);
    node.wait_line("agent-node connected");
    let list: NodeList = api.ok("GET", "/api/nodes", &token, None).await;
    let node_id = list.nodes[0].id.clone();
    api.wait_status(&token, &node_id, "online").await;
    let session: SessionView = api
        .ok(
            "POST",
            "/api/sessions",
            &token,
            Some(json!({"name": "life"})),
        )
        .await;
    let _: SessionView = api
        .ok(
            "POST",
            &format!("/api/sessions/{}/attach", session.id),
            &token,
            Some(json!({"node_id": node_id})),
        )
        .await;
    Setup {
        gw,
        api,
        token,
        node,
        node_id,
        session: session.id,
    }
}

/// Waits until the session has a task whose command is `command`, running.
async fn running_task(s: &Setup, command: &str) -> TaskView {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let list: TaskList = s
            .api
            .ok(
                "GET",
                &format!("/api/sessions/{}/tasks", s.session),
                &s.token,
                None,
            )
            .await;
        if let Some(t) = list.tasks.into_iter().find(|t| t.command == command) {
            assert_eq!(t.status, "running", "{t:?}");
            return t;
        }
        assert!(Instant::now() < deadline, "no task `{command}` appeared");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn stopping_the_gateway_ends_followed_output_and_exits_within_the_grace() {
    let home = tempfile::tempdir().unwrap();
    let grace = Duration::from_secs(4);
    let mut cmd = gateway_command(home.path(), 0, None);
    cmd.env(
        "MOSAIC_LIMITS__SHUTDOWN_GRACE_SECS",
        grace.as_secs().to_string(),
    );
    let s = setup(home.path(), cmd).await;

    // Two people follow a long task: the one who dispatched it, and one
    // reading its log.
    let mut dispatch = Cli::start(
        &s.gw.base_url,
        &s.token,
        &["session", "dispatch", &s.session, "--", "sleep 30"],
    );
    let task = running_task(&s, "sleep 30").await;
    let mut logs = Cli::start(
        &s.gw.base_url,
        &s.token,
        &["session", "logs", &s.session, &task.id, "--follow"],
    );
    s.node.wait_log("task accepted");
    tokio::time::sleep(Duration::from_millis(500)).await;

    let stopped = Instant::now();
    let Setup { gw, mut node, .. } = s;
    let status = gw.terminate();
    let took = stopped.elapsed();
    assert!(status.success(), "{status:?}");
    assert!(took < grace, "the gateway took {took:?} to stop");

    for (what, cli) in [("dispatch", &mut dispatch), ("logs --follow", &mut logs)] {
        let code = cli.wait_exit(Duration::from_secs(10));
        let stderr = cli.stderr();
        assert_eq!(code, Some(75), "{what}: {stderr}");
        assert!(
            stderr.contains("the gateway is stopping"),
            "{what} says why: {stderr}"
        );
        assert!(
            stderr.contains(&format!("mosaic session logs {}", task.session_id)),
            "{what} says how to follow again: {stderr}"
        );
    }

    // The node's stream was ended with the reason; it waits for the
    // gateway to come back.
    let line = node.wait_log("reconnecting in");
    assert!(line.contains("the gateway is stopping"), "{line}");
    assert!(
        node.child.try_wait().unwrap().is_none(),
        "the node keeps running"
    );
    node.child.kill().unwrap();
    node.wait_exit(Duration::from_secs(10));
}

#[tokio::test]
async fn a_result_delivered_after_a_gateway_restart_completes_the_task_once() {
    for db in backends().await {
        let home = tempfile::tempdir().unwrap();
        let url = db.as_ref().map(|d| d.url.clone());
        let node_port = free_port();
        let s = setup(
            home.path(),
            gateway_command(home.path(), node_port, url.as_deref()),
        )
        .await;
        let task: TaskView = s
            .api
            .ok(
                "POST",
                &format!("/api/sessions/{}/dispatch", s.session),
                &s.token,
                Some(json!({"command": "sleep 3; echo ok"})),
            )
            .await;
        s.node.wait_log("task accepted");

        // The gateway restarts; the task ends while it is away.
        let Setup {
            gw,
            token,
            node,
            node_id,
            session,
            ..
        } = s;
        let base = gw.base_url.clone();
        assert!(gw.terminate().success());
        node.wait_log("task finished");
        let mut again = gateway_command(home.path(), node_port, url.as_deref());
        again.env("MOSAIC_HTTP_ADDR", base.trim_start_matches("http://"));
        let gw = Gateway::start(again, home.path().join("gw"));
        node.wait_line("agent-node connected");
        let api = Api::new(&gw.base_url);
        api.wait_status(&token, &node_id, "online").await;

        let (events, ended, _) = api.follow(&token, &session, &task.id).await;
        assert_eq!(ended.status, "completed", "{ended:?}");
        assert_eq!(ended.exit_code, Some(0));
        assert_eq!(ended.error, None);
        assert_eq!(text(&events, "stdout"), "ok\n", "the output, once");

        // Delivered once: nothing changes on the next reconnect either.
        drop(gw);
        let mut third = gateway_command(home.path(), node_port, url.as_deref());
        third.env("MOSAIC_HTTP_ADDR", base.trim_start_matches("http://"));
        let gw = Gateway::start(third, home.path().join("gw"));
        node.wait_line("agent-node connected");
        let api = Api::new(&gw.base_url);
        api.wait_status(&token, &node_id, "online").await;
        let (events, same, _) = api.follow(&token, &session, &task.id).await;
        assert_eq!(same, ended);
        assert_eq!(text(&events, "stdout"), "ok\n");
        drop(node);
        drop(gw);
        if let Some(db) = db {
            db.drop_database().await;
        }
    }
}

#[tokio::test]
async fn a_removed_node_is_told_at_once_and_stops() {
    let home = tempfile::tempdir().unwrap();
    let s = setup(home.path(), gateway_command(home.path(), 0, None)).await;
    let Setup {
        gw,
        api,
        token,
        mut node,
        node_id,
        ..
    } = s;
    let removed = Instant::now();
    let (status, _) = api
        .call("DELETE", &format!("/api/nodes/{node_id}"), &token, None)
        .await;
    assert_eq!(status, 204);
    assert_eq!(node.wait_exit(Duration::from_secs(10)), Some(3));
    assert!(
        removed.elapsed() < Duration::from_secs(5),
        "{:?}",
        removed.elapsed()
    );
    // Told by the gateway on its open stream, not refused at a reconnect.
    let logs: Vec<String> = node.stderr.try_iter().collect();
    let last = logs.last().unwrap();
    assert!(last.contains("removed by its owner"), "{logs:#?}");
    assert!(
        !logs.iter().any(|l| l.contains("reconnecting in")),
        "{logs:#?}"
    );
    drop(gw);
}

#[tokio::test]
async fn a_closed_session_runs_nothing_more() {
    let home = tempfile::tempdir().unwrap();
    let s = setup(home.path(), gateway_command(home.path(), 0, None)).await;
    let mut close = Cli::start(
        &s.gw.base_url,
        &s.token,
        &["session", "close", &s.session, "--json"],
    );
    assert_eq!(
        close.wait_exit(Duration::from_secs(30)),
        Some(0),
        "{}",
        close.stderr()
    );
    let closed: SessionView = serde_json::from_str(&close.stdout()).unwrap();
    assert_eq!(closed.status, "closed");
    assert!(closed.closed_at.is_some());

    // Dispatch and attach are conflicts that say what to do.
    let (status, body) = s
        .api
        .call(
            "POST",
            &format!("/api/sessions/{}/dispatch", s.session),
            &s.token,
            Some(json!({"command": "echo hi"})),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "conflict");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("is closed"), "{message}");
    assert!(message.contains("mosaic session create"), "{message}");
    let (status, body) = s
        .api
        .call(
            "POST",
            &format!("/api/sessions/{}/attach", s.session),
            &s.token,
            Some(json!({"node_id": s.node_id})),
        )
        .await;
    assert_eq!(status, 409, "{body}");

    // The CLI says so too, and lists the session as closed.
    let mut dispatch = Cli::start(
        &s.gw.base_url,
        &s.token,
        &["session", "dispatch", &s.session, "--", "echo", "hi"],
    );
    assert_eq!(dispatch.wait_exit(Duration::from_secs(30)), Some(1));
    assert!(
        dispatch.stderr().contains("is closed"),
        "{}",
        dispatch.stderr()
    );
    let mut ls = Cli::start(&s.gw.base_url, &s.token, &["session", "ls"]);
    assert_eq!(ls.wait_exit(Duration::from_secs(30)), Some(0));
    assert!(
        ls.stdout()
            .lines()
            .any(|l| l.contains(&s.session) && l.contains("closed")),
        "{}",
        ls.stdout()
    );
    let mut show = Cli::start(&s.gw.base_url, &s.token, &["session", "show", &s.session]);
    assert_eq!(show.wait_exit(Duration::from_secs(30)), Some(0));
    assert!(show.stdout().contains("closed"), "{}", show.stdout());

    // Closing again changes nothing.
    let again: SessionView = s
        .api
        .ok(
            "POST",
            &format!("/api/sessions/{}/close", s.session),
            &s.token,
            None,
        )
        .await;
    assert_eq!(again, closed);
}
