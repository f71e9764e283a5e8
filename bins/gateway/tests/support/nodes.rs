//! Agent nodes in tests: the real agent-node process, the HTTP API as a
//! node's owner uses it, and gateways set up for them.

use mosaic_types::nodes::{InviteResponse, NodeList, OutputEvent, PolicyView, TaskView};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The agent-node binary, built from the current sources.
pub fn agent_node_bin() -> PathBuf {
    super::bins::current("agent-node")
}

/// A running agent-node, killed on drop.
pub struct Node {
    pub child: Child,
    pub stdout: mpsc::Receiver<String>,
    pub stderr: mpsc::Receiver<String>,
}

impl Node {
    pub fn start(config: &Path, home: &Path) -> Node {
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
    pub fn wait_line(&self, prefix: &str) -> String {
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

impl Node {
    /// Waits for a stderr (log) line containing `needle`; lines before it
    /// are read and dropped.
    pub fn wait_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(line) => seen.push(line),
                Err(_) => panic!("agent-node never logged `{needle}`:\n{}", seen.join("\n")),
            }
        }
    }

    /// Waits up to `within` for the process to exit; its exit code.
    pub fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "agent-node still running after {within:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A `mosaic` command run against a gateway as a user, its output
/// collected as it runs.
pub struct Cli {
    pub child: Child,
    stdout: std::sync::Arc<std::sync::Mutex<String>>,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Cli {
    /// Starts `mosaic ARGS` with `MOSAIC_GATEWAY_URL` and `MOSAIC_TOKEN` set.
    pub fn start(gateway: &str, token: &str, args: &[&str]) -> Cli {
        let mut child = Command::new(super::bins::current("mosaic"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", std::env::temp_dir())
            .env("MOSAIC_GATEWAY_URL", gateway)
            .env("MOSAIC_TOKEN", token)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mosaic");
        let collect = |pipe: Box<dyn std::io::Read + Send>| {
            let text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
            let sink = std::sync::Arc::clone(&text);
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let mut t = sink.lock().unwrap();
                    t.push_str(&line);
                    t.push('\n');
                }
            });
            text
        };
        let stdout = collect(Box::new(child.stdout.take().unwrap()));
        let stderr = collect(Box::new(child.stderr.take().unwrap()));
        Cli {
            child,
            stdout,
            stderr,
        }
    }

    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits up to `within` for it to exit; its exit code.
    pub fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the reader threads take the last lines.
                std::thread::sleep(Duration::from_millis(100));
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "mosaic still running after {within:?}; stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Cli {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
}

impl Api {
    pub fn new(base: &str) -> Api {
        Api {
            // Idle connections are dropped well before the gateway's
            // header-read timeout closes them (a request on a connection
            // the gateway just closed fails).
            http: reqwest::Client::builder()
                .pool_idle_timeout(Duration::from_secs(5))
                .build()
                .unwrap(),
            base: base.to_owned(),
        }
    }

    pub async fn call(
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

    pub async fn ok<T: serde::de::DeserializeOwned>(
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
    pub async fn user(&self, admin: &str, id: &str) -> String {
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

    pub async fn wait_status(&self, token: &str, node: &str, want: &str) {
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
    pub async fn run(
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

    pub async fn follow(
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

pub fn text(events: &[OutputEvent], stream: &str) -> String {
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

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn gateway_command(home: &Path, node_port: u16, db: Option<&str>) -> Command {
    let mut cmd = super::command(home);
    cmd.env("MOSAIC_DATA_DIR", home.join("gw"))
        .env("MOSAIC_NODE_ADDR", format!("127.0.0.1:{node_port}"));
    if let Some(url) = db {
        cmd.env("DATABASE_URL", url);
    }
    cmd
}

/// Each backend under test: SQLite, and a fresh PostgreSQL database when
/// `DATABASE_URL` is set.
pub async fn backends() -> Vec<Option<mosaic_store::testing::TestDatabase>> {
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

pub async fn invite(api: &Api, token: &str, policy: Option<PolicyView>, dir: &Path) -> PathBuf {
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
