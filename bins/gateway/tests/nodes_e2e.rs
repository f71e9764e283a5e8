//! Agent nodes end to end with real processes on loopback: the gateway
//! binary, the agent-node binary, TLS, and PostgreSQL too when `DATABASE_URL`
//! is set.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use mosaic_types::nodes::{
    InviteResponse, NodeList, OutputEvent, PolicyView, SessionView, TaskView,
};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use support::Gateway;

/// The agent-node binary next to the gateway's (built with the workspace).
fn agent_node_bin() -> PathBuf {
    let dir = Path::new(support::GATEWAY).parent().unwrap().to_path_buf();
    let bin = dir.join("agent-node");
    if !bin.is_file() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--bin", "agent-node"])
            .status()
            .unwrap();
        assert!(status.success(), "building agent-node failed");
    }
    bin
}

/// A running agent-node, killed on drop.
struct Node {
    child: Child,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
}

impl Node {
    fn start(config: &Path, home: &Path) -> Node {
        let mut child = Command::new(agent_node_bin())
            .arg("--config")
            .arg(config)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home)
            .env("MOSAIC_NODE_STATE_DIR", home.join("state"))
            .env("MOSAIC_NODE_WORKSPACE", home.join("ws"))
            .env("MOSAIC_NODE_RECONNECT_MAX_SECS", "1")
            .env("MOSAIC_NODE_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn agent-node");
        let (out_tx, stdout) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = out_tx.send(line);
            }
        });
        let (err_tx, stderr) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = err_tx.send(line);
            }
        });
        Node {
            child,
            stdout,
            stderr,
        }
    }

    /// Waits for a stdout line starting with `prefix`.
    fn wait_line(&self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(_) => {}
                Err(_) => {
                    let logs: Vec<String> = self.stderr.try_iter().collect();
                    panic!("agent-node never printed `{prefix}`:\n{}", logs.join("\n"));
                }
            }
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    fn new(base: &str) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: base.to_owned(),
        }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let mut req = match method {
            "GET" => self.http.get(url),
            "POST" => self.http.post(url),
            "DELETE" => self.http.delete(url),
            other => panic!("method {other}"),
        };
        if !token.is_empty() {
            req = req.bearer_auth(token);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn ok<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> T {
        let (status, value) = self.call(method, path, token, body).await;
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {value}"
        );
        serde_json::from_value(value).unwrap()
    }

    /// A user and a user token.
    async fn user(&self, admin: &str, id: &str) -> String {
        let _: Value = self
            .ok(
                "POST",
                "/api/admin/v1/users",
                admin,
                Some(json!({"id": id, "name": id, "email": format!("{id}@example.test")})),
            )
            .await;
        let t: Value = self
            .ok(
                "POST",
                &format!("/api/admin/v1/users/{id}/tokens"),
                admin,
                None,
            )
            .await;
        t["token"].as_str().unwrap().to_owned()
    }

    async fn wait_status(&self, token: &str, node: &str, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let list: NodeList = self.ok("GET", "/api/nodes", token, None).await;
            if list.nodes.iter().any(|n| n.id == node && n.status == want) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "node {node} never became {want}: {list:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Dispatches and follows the output to the end: (events, the task).
    async fn run(
        &self,
        token: &str,
        session: &str,
        body: Value,
    ) -> (Vec<OutputEvent>, TaskView, Duration) {
        let task: TaskView = self
            .ok(
                "POST",
                &format!("/api/sessions/{session}/dispatch"),
                token,
                Some(body),
            )
            .await;
        self.follow(token, session, &task.id).await
    }

    async fn follow(
        &self,
        token: &str,
        session: &str,
        task: &str,
    ) -> (Vec<OutputEvent>, TaskView, Duration) {
        let started = Instant::now();
        let mut res = self
            .http
            .get(format!(
                "{}/api/sessions/{session}/tasks/{task}/output?follow=true",
                self.base
            ))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200);
        let mut buf = String::new();
        let mut events = Vec::new();
        let mut first_output = None;
        while let Some(chunk) = tokio::time::timeout(Duration::from_secs(60), res.chunk())
            .await
            .expect("output stalled")
            .unwrap()
        {
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(i) = buf.find('\n') {
                let line: String = buf.drain(..=i).collect();
                let event: OutputEvent = serde_json::from_str(line.trim()).unwrap();
                if matches!(event, OutputEvent::Output { .. }) && first_output.is_none() {
                    first_output = Some(started.elapsed());
                }
                if let OutputEvent::End { task } = &event {
                    let task = task.clone();
                    events.push(event);
                    return (events, task, first_output.unwrap_or_default());
                }
                events.push(event);
            }
        }
        panic!("output ended without an end line: {events:?}");
    }
}

fn text(events: &[OutputEvent], stream: &str) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            OutputEvent::Output {
                stream: s, data, ..
            } if s == stream => Some(data.as_str()),
            _ => None,
        })
        .collect()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn gateway_command(home: &Path, node_port: u16, db: Option<&str>) -> Command {
    let mut cmd = support::command(home);
    cmd.env("MOSAIC_DATA_DIR", home.join("gw"))
        .env("MOSAIC_NODE_ADDR", format!("127.0.0.1:{node_port}"));
    if let Some(url) = db {
        cmd.env("DATABASE_URL", url);
    }
    cmd
}

/// Each backend under test: SQLite, and a fresh PostgreSQL database when
/// `DATABASE_URL` is set.
async fn backends() -> Vec<Option<mosaic_store::testing::TestDatabase>> {
    let mut out = vec![None];
    if let Some(url) = mosaic_store::testing::postgres_url() {
        out.push(Some(
            mosaic_store::testing::TestDatabase::create(&url)
                .await
                .unwrap(),
        ));
    }
    out
}

async fn invite(api: &Api, token: &str, policy: Option<PolicyView>, dir: &Path) -> PathBuf {
    let mut body = json!({"name": "workstation"});
    if let Some(p) = policy {
        body["policy"] = serde_json::to_value(p).unwrap();
    }
    let inv: InviteResponse = api.ok("POST", "/api/nodes/invite", token, Some(body)).await;
    assert!(inv.config_yaml.contains(&inv.token));
    let path = dir.join("agent-node.yaml");
    std::fs::write(&path, &inv.config_yaml).unwrap();
    path
}

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
