//! `cargo xtask bench node-dispatch`: what it costs to run a command on an
//! agent node through the gateway, and what the gateway pays to keep nodes
//! connected.
//!
//! 1. Round trip of `true`: a real `agent-node` connected to a real gateway
//!    (both release builds, on loopback), and for each run one
//!    `POST /api/sessions/{id}/dispatch` followed by
//!    `GET …/tasks/{task}/output?follow=true` read to its `end` line, on one
//!    keep-alive HTTP client. Beside it, `ssh` to a local sshd (Debian's
//!    openssh-server, started here on a loopback port with throwaway keys)
//!    running `true` over an already-open ControlMaster connection, timed
//!    from spawning `ssh` to its exit. Both sides start from a warm, already
//!    authenticated connection, send one command over an encrypted channel
//!    (TLS 1.3 to the node, SSH to sshd), have a shell run `true` and wait
//!    for its exit status; the ssh side pays a process spawn, as a person
//!    typing it does, and the mosaic side pays its task record, signature
//!    and the HTTP hop from client to gateway. Neither side's shell reads
//!    rc files: the node's `sh -c` reads none, and the benchmark's sshd sets
//!    `SHLVL=1` so the user's bash does not source `~/.bashrc` (which would
//!    time the user's dotfiles, not ssh). A round trip ends when the `end`
//!    line arrives (the result is known), as an ssh run ends when `ssh`
//!    exits with the status. p50, p99 and mean of the same number of
//!    sequential runs, after the same warm-up, as ratios mosaic / ssh.
//! 2. Memory: the gateway's resident set (`VmRSS`) with no node connected,
//!    then with `--nodes` simulated nodes connected, each on its own TCP+TLS
//!    connection, registered with its own invite, holding its task stream
//!    and health stream open and heartbeating at the interval the gateway
//!    asks for, exactly as `agent-node` does. The comparison is the same
//!    gateway idle: RSS(nodes) / RSS(idle) and the cost per node.
//!
//! Options: `--iterations N` (default 300), `--nodes N` (default 1000),
//! `--skip-ssh`, `--skip-memory`. Everything runs in a temporary directory
//! and every process started here is stopped on the way out, failures
//! included.

use super::percentile;
use crate::util;
use anyhow::{Context as _, bail};
use mosaic_agent_proto::v1::{
    Capabilities, Heartbeat, NodeMessage, RegistrationRequest, StreamHello,
    agent_node_client::AgentNodeClient, node_message::Kind,
};
use mosaic_nodes::NodeConfig;
use mosaic_types::nodes::{
    AttachNode, CreateSession, DispatchRequest, InviteRequest, InviteResponse, NodeList,
    OutputEvent, SessionView, TaskView,
};
use serde_json::json;
use std::collections::VecDeque;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

const WARM_UP: usize = 20;
/// Simulated nodes connecting at once.
const CONNECT_CONCURRENCY: usize = 32;
const SSHD: &str = "/usr/sbin/sshd";

struct Options {
    iterations: usize,
    nodes: usize,
    skip_ssh: bool,
    skip_memory: bool,
}

fn parse(args: &[String]) -> anyhow::Result<Options> {
    let mut o = Options {
        iterations: 300,
        nodes: 1000,
        skip_ssh: false,
        skip_memory: false,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--iterations" => {
                o.iterations = it.next().context("--iterations needs a number")?.parse()?;
            }
            "--nodes" => o.nodes = it.next().context("--nodes needs a number")?.parse()?,
            "--skip-ssh" => o.skip_ssh = true,
            "--skip-memory" => o.skip_memory = true,
            other => bail!(
                "unknown option `{other}` (expected --iterations N, --nodes N, --skip-ssh, --skip-memory)"
            ),
        }
    }
    anyhow::ensure!(
        o.iterations > 0 && o.nodes > 0,
        "--iterations and --nodes must be positive"
    );
    Ok(o)
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// p50, p99, mean of one side.
struct Figures {
    p50: Duration,
    p99: Duration,
    mean: Duration,
}

impl Figures {
    fn of(mut samples: Vec<Duration>) -> Figures {
        samples.sort();
        let total: Duration = samples.iter().sum();
        Figures {
            p50: percentile(&samples, 0.50),
            p99: percentile(&samples, 0.99),
            mean: total / u32::try_from(samples.len().max(1)).unwrap_or(u32::MAX),
        }
    }
}

/// A child process whose stdout lines can be awaited and whose last stderr
/// lines are kept for error messages; killed on drop.
struct Proc {
    name: &'static str,
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: Arc<Mutex<VecDeque<String>>>,
}

impl Proc {
    fn spawn(name: &'static str, cmd: &mut Command) -> anyhow::Result<Proc> {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {name}: {cmd:?}"))?;
        let stdout = child.stdout.take().context("child stdout")?;
        let stderr = child.stderr.take().context("child stderr")?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let keep = Arc::clone(&tail);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(mut t) = keep.lock() {
                    if t.len() == 40 {
                        t.pop_front();
                    }
                    t.push_back(line);
                }
            }
        });
        Ok(Proc {
            name,
            child,
            lines,
            stderr: tail,
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stderr_tail(&self) -> String {
        self.stderr
            .lock()
            .map(|t| t.iter().cloned().collect::<Vec<_>>().join("\n"))
            .unwrap_or_default()
    }

    /// Waits for the first stdout line starting with `prefix`; returns the
    /// rest of it. Lines before it go to `seen`.
    fn wait_line(
        &self,
        prefix: &str,
        timeout: Duration,
        seen: &mut dyn FnMut(&str),
    ) -> anyhow::Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix(prefix) {
                        return Ok(rest.to_owned());
                    }
                    seen(&line);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => bail!(
                    "{} printed no `{prefix}` line within {}s; its stderr:\n{}",
                    self.name,
                    timeout.as_secs(),
                    self.stderr_tail()
                ),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    std::thread::sleep(Duration::from_millis(100));
                    bail!(
                        "{} exited before printing `{prefix}`; its stderr:\n{}",
                        self.name,
                        self.stderr_tail()
                    )
                }
            }
        }
    }

    /// SIGTERM, then SIGKILL after `grace`.
    fn stop(&mut self, grace: Duration) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The gateway's HTTP API with one keep-alive client.
struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
        want: u16,
    ) -> anyhow::Result<Vec<u8>> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = resp.status();
        let bytes = resp.bytes().await?;
        if status.as_u16() != want {
            bail!(
                "{method} {path}: HTTP {status} (expected {want}): {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        Ok(bytes.to_vec())
    }

    async fn post(
        &self,
        path: &str,
        body: serde_json::Value,
        want: u16,
    ) -> anyhow::Result<Vec<u8>> {
        self.call(reqwest::Method::POST, path, Some(body), want)
            .await
    }

    async fn nodes(&self) -> anyhow::Result<NodeList> {
        let body = self
            .call(reqwest::Method::GET, "/api/nodes", None, 200)
            .await?;
        Ok(serde_json::from_slice(&body)?)
    }

    async fn online(&self) -> anyhow::Result<usize> {
        Ok(self
            .nodes()
            .await?
            .nodes
            .iter()
            .filter(|n| n.status == "online")
            .count())
    }

    async fn invite(&self, name: String) -> anyhow::Result<InviteResponse> {
        let req = InviteRequest {
            name: Some(name),
            ..InviteRequest::default()
        };
        let body = self
            .post("/api/nodes/invite", serde_json::to_value(&req)?, 201)
            .await?;
        Ok(serde_json::from_slice(&body)?)
    }

    /// One measured round trip: dispatch `true`, follow its output until
    /// the `end` line arrives, check it succeeded. The rest of the body (its
    /// closing chunk) is read after the clock stops, so the connection is
    /// reused.
    async fn round_trip(&self, session: &str) -> anyhow::Result<RoundTrip> {
        let start = Instant::now();
        let req = DispatchRequest {
            command: "true".into(),
            ..DispatchRequest::default()
        };
        let resp = self
            .http
            .post(format!("{}/api/sessions/{session}/dispatch", self.base))
            .bearer_auth(&self.token)
            .json(&req)
            .send()
            .await?;
        if resp.status().as_u16() != 202 {
            let status = resp.status();
            bail!("dispatch: HTTP {status}: {}", resp.text().await?);
        }
        let task: TaskView = resp.json().await?;
        let accepted = start.elapsed();
        let mut resp = self
            .http
            .get(format!(
                "{}/api/sessions/{session}/tasks/{}/output?follow=true",
                self.base, task.id
            ))
            .bearer_auth(&self.token)
            .send()
            .await?;
        if !resp.status().is_success() {
            let status = resp.status();
            bail!("output: HTTP {status}: {}", resp.text().await?);
        }
        let mut buf: Vec<u8> = Vec::new();
        let mut end = None;
        while end.is_none() {
            let Some(chunk) = resp.chunk().await? else {
                bail!(
                    "the output stream closed without an `end` line: {}",
                    String::from_utf8_lossy(&buf)
                );
            };
            buf.extend_from_slice(&chunk);
            while let Some(nl) = buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buf.drain(..=nl).collect();
                if let OutputEvent::End { task } = serde_json::from_slice(&line)? {
                    end = Some(task);
                }
            }
        }
        let result = start.elapsed();
        while resp.chunk().await?.is_some() {}
        let closed = start.elapsed();
        let task = end.context("no end line")?;
        anyhow::ensure!(
            task.status == "completed" && task.exit_code == Some(0),
            "`true` did not succeed on the node: status {}, exit code {:?}, error {:?}",
            task.status,
            task.exit_code,
            task.error
        );
        Ok(RoundTrip {
            accepted,
            result,
            closed,
            node_ms: task.duration_ms,
        })
    }
}

/// Where one dispatch round trip's time went, from the start of the POST.
struct RoundTrip {
    /// The dispatch answered (`202` and its body read).
    accepted: Duration,
    /// The `end` line arrived: the result is known. The measured figure.
    result: Duration,
    /// The output body closed.
    closed: Duration,
    /// The node's own run time of `sh -c true`, as it reports it.
    node_ms: Option<i64>,
}

/// Runs the benchmark.
pub fn run(args: &[String]) -> anyhow::Result<()> {
    let opts = parse(args)?;
    let nofile = raise_nofile_limit()?;
    if !opts.skip_memory {
        anyhow::ensure!(
            nofile >= opts.nodes as u64 + 512,
            "the open-file limit ({nofile}) is too low for {} simulated nodes; raise the hard limit (`ulimit -Hn`) or pass a smaller --nodes",
            opts.nodes
        );
    }
    util::step(
        "build gateway and agent-node",
        util::cargo().args([
            "build",
            "--release",
            "--quiet",
            "--bin",
            "gateway",
            "--bin",
            "agent-node",
        ]),
    )?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| util::root().join("target"), PathBuf::from)
        .join("release");
    if !opts.skip_ssh {
        ensure_sshd()?;
    }
    let dir = tempfile::Builder::new()
        .prefix("mosaic-bench-node-dispatch-")
        .tempdir()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let _ = rustls::crypto::ring::default_provider().install_default();

    // The gateway inherits the raised open-file limit.
    let gateway = start_gateway(&target.join("gateway"), dir.path())?;
    let gw_limit = open_file_limit(gateway.proc.pid())?;
    let api = rt.block_on(user_api(&gateway))?;

    let mut node = start_node(&rt, &api, &target.join("agent-node"), dir.path())?;
    let trips = rt.block_on(async {
        for _ in 0..WARM_UP {
            api.round_trip(&node.session).await?;
        }
        let mut trips = Vec::with_capacity(opts.iterations);
        for _ in 0..opts.iterations {
            trips.push(api.round_trip(&node.session).await?);
        }
        anyhow::Ok(trips)
    })?;
    let mosaic = Figures::of(trips.iter().map(|t| t.result).collect());
    let accepted = Figures::of(trips.iter().map(|t| t.accepted).collect());
    let closed = Figures::of(trips.iter().map(|t| t.closed).collect());
    let mut node_ms: Vec<i64> = trips.iter().filter_map(|t| t.node_ms).collect();
    node_ms.sort_unstable();

    let ssh = if opts.skip_ssh {
        None
    } else {
        Some(ssh_baseline(dir.path(), opts.iterations)?)
    };

    println!(
        "node-dispatch: round trip of `true`, {} sequential runs after {WARM_UP} warm-up, release builds, loopback",
        opts.iterations
    );
    println!(
        "  {:<24} {:>10} {:>10} {:>10}",
        "round trip of `true`", "p50", "p99", "mean"
    );
    let row = |name: &str, f: &Figures| {
        println!(
            "  {name:<24} {:>10} {:>10} {:>10}",
            ms(f.p50),
            ms(f.p99),
            ms(f.mean)
        );
    };
    row("mosaic dispatch", &mosaic);
    if let Some(ssh) = &ssh {
        row("ssh ControlMaster", ssh);
        let r = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-9);
        println!(
            "  {:<24} {:>10.2} {:>10.2} {:>10.2}   (ratio < 1 means mosaic is faster)",
            "ratio mosaic / ssh",
            r(mosaic.p50, ssh.p50),
            r(mosaic.p99, ssh.p99),
            r(mosaic.mean, ssh.mean)
        );
    } else {
        println!("  ssh ControlMaster        skipped (--skip-ssh)");
    }
    println!(
        "  mosaic, from the POST: dispatch answered p50 {} p99 {}; end line (the figure above); body closed p50 {} p99 {}",
        ms(accepted.p50),
        ms(accepted.p99),
        ms(closed.p50),
        ms(closed.p99)
    );
    if let Some(m) = node_ms.get(node_ms.len() / 2) {
        println!("  `sh -c true` on the node, as it reports its run time: p50 {m} ms");
    }

    if opts.skip_memory {
        return Ok(());
    }
    // The real node leaves; the gateway is idle before the simulated nodes.
    node.proc.stop(Duration::from_secs(5));
    rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(30);
        while api.online().await? > 0 {
            anyhow::ensure!(
                Instant::now() < deadline,
                "the gateway still shows the stopped agent-node online after 30s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        anyhow::Ok(())
    })?;
    let idle = rss_kib(gateway.proc.pid())?;
    let loaded = rt.block_on(simulated_nodes(&api, gateway.proc.pid(), opts.nodes))?;
    let n = opts.nodes;
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!(
        "gateway resident memory (VmRSS; its open-file limit {gw_limit}; each node on its own TCP+TLS connection)"
    );
    println!(
        "  {:<34} {:>10.1} MiB",
        "idle, no node connected",
        mib(idle)
    );
    println!(
        "  {:<34} {:>10.1} MiB",
        format!("{n} simulated nodes connected"),
        mib(loaded)
    );
    let delta = loaded.saturating_sub(idle);
    println!(
        "  {:<34} {:>10.1} MiB   ({:.1} KiB per node)",
        "difference",
        mib(delta),
        delta as f64 / n as f64
    );
    println!(
        "  {:<34} {:>10.2}",
        format!("ratio {n} nodes / idle"),
        loaded as f64 / idle.max(1) as f64
    );
    drop(node);
    drop(gateway);
    drop(rt);
    Ok(())
}

/// Raises this process's open-file soft limit to its hard limit; children
/// (the gateway) inherit it. Returns the limit in force.
fn raise_nofile_limit() -> anyhow::Result<u64> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).context("getrlimit(NOFILE)")?;
    // An unlimited hard limit is capped by the kernel's nr_open anyway.
    let want = hard.min(1 << 20);
    if soft < want {
        setrlimit(Resource::RLIMIT_NOFILE, want, hard).context("setrlimit(NOFILE)")?;
    }
    Ok(getrlimit(Resource::RLIMIT_NOFILE)?.0)
}

fn proc_field(pid: u32, file: &str, prefix: &str) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{file}"))
        .with_context(|| format!("reading /proc/{pid}/{file}"))?;
    text.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .map(|s| s.trim().to_owned())
        .with_context(|| format!("no `{prefix}` in /proc/{pid}/{file}"))
}

/// `VmRSS` of `pid`, in KiB.
fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let v = proc_field(pid, "status", "VmRSS:")?;
    Ok(v.trim_end_matches("kB").trim().parse()?)
}

fn open_file_limit(pid: u32) -> anyhow::Result<u64> {
    let v = proc_field(pid, "limits", "Max open files")?;
    Ok(v.split_whitespace()
        .next()
        .context("empty open-files limit")?
        .parse()?)
}

struct Gateway {
    proc: Proc,
    base: String,
    admin_token: String,
}

fn start_gateway(bin: &Path, dir: &Path) -> anyhow::Result<Gateway> {
    let home = dir.join("gateway");
    std::fs::create_dir_all(&home)?;
    let mut cmd = Command::new(bin);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("MOSAIC_DATA_DIR", home.join("mosaic"))
        .env("MOSAIC_HTTP_ADDR", "127.0.0.1:0")
        .env("MOSAIC_FEDERATION_ADDR", "127.0.0.1:0")
        .env("MOSAIC_NODE_ADDR", "127.0.0.1:0")
        .env("MOSAIC_LOG", "warn");
    let proc = Proc::spawn("gateway", &mut cmd)?;
    let mut admin_token = None;
    let addr = proc.wait_line(
        mosaic_gateway::READY_PREFIX,
        Duration::from_secs(60),
        &mut |line| {
            if let Some(t) = line.strip_prefix(mosaic_gateway::ADMIN_TOKEN_PREFIX) {
                admin_token = Some(t.to_owned());
            }
        },
    )?;
    Ok(Gateway {
        proc,
        base: format!("http://{addr}"),
        admin_token: admin_token.context("the gateway printed no admin token")?,
    })
}

/// A user and a user token, made with the admin token.
async fn user_api(gateway: &Gateway) -> anyhow::Result<Api> {
    let http = reqwest::Client::builder().no_proxy().http1_only().build()?;
    let admin = Api {
        http: http.clone(),
        base: gateway.base.clone(),
        token: gateway.admin_token.clone(),
    };
    let user: serde_json::Value = serde_json::from_slice(
        &admin
            .post(
                "/api/admin/v1/users",
                json!({"name": "bench", "email": "bench@bench.invalid"}),
                201,
            )
            .await?,
    )?;
    let id = user["id"].as_str().context("the new user has no id")?;
    let token: serde_json::Value = serde_json::from_slice(
        &admin
            .post(
                &format!("/api/admin/v1/users/{id}/tokens"),
                json!({"label": "bench"}),
                201,
            )
            .await?,
    )?;
    Ok(Api {
        http,
        base: gateway.base.clone(),
        token: token["token"]
            .as_str()
            .context("no token in the answer")?
            .to_owned(),
    })
}

struct RealNode {
    proc: Proc,
    session: String,
}

/// Invites and starts a real agent-node, waits for it online, and attaches
/// it to a new session.
fn start_node(
    rt: &tokio::runtime::Runtime,
    api: &Api,
    bin: &Path,
    dir: &Path,
) -> anyhow::Result<RealNode> {
    let home = dir.join("node");
    let (state, workspace) = (home.join("state"), home.join("workspace"));
    std::fs::create_dir_all(&state)?;
    std::fs::create_dir_all(&workspace)?;
    let invite = rt.block_on(api.invite("bench-node".into()))?;
    let config = home.join("agent-node.yaml");
    std::fs::write(
        &config,
        format!(
            "{}\nstate_dir: {}\nworkspace: {}\n",
            invite.config_yaml.trim_end(),
            state.display(),
            workspace.display()
        ),
    )?;
    let mut cmd = Command::new(bin);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .arg("--config")
        .arg(&config)
        .args(["--log", "warn"]);
    let proc = Proc::spawn("agent-node", &mut cmd)?;
    proc.wait_line("agent-node connected", Duration::from_secs(60), &mut |_| {})?;
    let session = rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(30);
        let node_id = loop {
            let list = api.nodes().await?;
            if let Some(n) = list.nodes.iter().find(|n| n.status == "online") {
                break n.id.clone();
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "agent-node said it connected but the gateway shows it offline after 30s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let session: SessionView = serde_json::from_slice(
            &api.post(
                "/api/sessions",
                serde_json::to_value(CreateSession {
                    name: Some("bench".into()),
                })?,
                201,
            )
            .await?,
        )?;
        api.post(
            &format!("/api/sessions/{}/attach", session.id),
            serde_json::to_value(AttachNode { node_id })?,
            200,
        )
        .await?;
        anyhow::Ok(session.id)
    })?;
    Ok(RealNode { proc, session })
}

// ---- the ssh baseline -------------------------------------------------

/// Installs Debian's openssh-server when sshd is missing and we are root.
fn ensure_sshd() -> anyhow::Result<()> {
    // openssh-client brings ssh and ssh-keygen together.
    if Path::new(SSHD).exists() && util::have("ssh", "-V") {
        return Ok(());
    }
    let uid = Command::new("id").arg("-u").output()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        bail!(
            "the ssh baseline needs {SSHD}, ssh and ssh-keygen: install them (Debian: `sudo apt-get install openssh-server openssh-client`) or pass --skip-ssh"
        );
    }
    let install = || {
        let mut c = Command::new("apt-get");
        c.args(["install", "-y", "-qq", "openssh-server", "openssh-client"])
            .env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    if util::step("install openssh-server", &mut install()).is_err() {
        util::step(
            "apt-get update",
            Command::new("apt-get")
                .args(["update", "-qq"])
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )?;
        util::step("install openssh-server", &mut install())?;
    }
    anyhow::ensure!(
        Path::new(SSHD).exists(),
        "{SSHD} is still missing after installing openssh-server"
    );
    Ok(())
}

/// The ControlMaster connection: `-O exit`, then killed, on drop.
struct Master {
    proc: Proc,
    base: Vec<String>,
    target: String,
}

impl Drop for Master {
    fn drop(&mut self) {
        let _ = Command::new("ssh")
            .args(&self.base)
            .args(["-O", "exit", &self.target])
            .output();
        self.proc.stop(Duration::from_secs(2));
    }
}

fn run_quiet(what: &str, cmd: &mut Command) -> anyhow::Result<()> {
    let out = cmd.output().with_context(|| format!("cannot run {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn ssh_baseline(dir: &Path, iterations: usize) -> anyhow::Result<Figures> {
    let ssh_dir = dir.join("ssh");
    std::fs::create_dir_all(&ssh_dir)?;
    let host_key = ssh_dir.join("host_ed25519");
    let client_key = ssh_dir.join("client_ed25519");
    for key in [&host_key, &client_key] {
        run_quiet(
            "ssh-keygen",
            Command::new("ssh-keygen")
                .args(["-q", "-N", "", "-t", "ed25519", "-f"])
                .arg(key),
        )?;
    }
    let authorized = ssh_dir.join("authorized_keys");
    std::fs::copy(client_key.with_extension("pub"), &authorized)?;
    // sshd's privilege-separation directory.
    std::fs::create_dir_all("/run/sshd")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let config = ssh_dir.join("sshd_config");
    // `SetEnv SHLVL=1`: the node runs `sh -c true`, which reads no rc file;
    // Debian's bash, the user's login shell under sshd, sources ~/.bashrc
    // for a command sent over ssh unless it is a nested shell (SHLVL ≥ 2 once
    // it starts). Without this the baseline would time the user's ~/.bashrc
    // (on a machine with pyenv set up there, ~150 ms), not ssh.
    std::fs::write(
        &config,
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
             UsePAM no\nStrictModes no\nPidFile {}\nPermitRootLogin yes\nSetEnv SHLVL=1\n",
            host_key.display(),
            authorized.display(),
            ssh_dir.join("sshd.pid").display()
        ),
    )?;
    let sshd = Proc::spawn(
        "sshd",
        Command::new(SSHD).args(["-D", "-e", "-f"]).arg(&config),
    )?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        anyhow::ensure!(
            Instant::now() < deadline,
            "sshd did not listen on 127.0.0.1:{port} within 10s; its stderr:\n{}",
            sshd.stderr_tail()
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let user = String::from_utf8(Command::new("id").arg("-un").output()?.stdout)?
        .trim()
        .to_owned();
    let target = format!("{user}@127.0.0.1");
    let ctl = ssh_dir.join("ctl");
    // What every ssh call shares: no user config, this control socket.
    let base: Vec<String> = vec![
        "-F".into(),
        "/dev/null".into(),
        "-S".into(),
        ctl.display().to_string(),
        "-p".into(),
        port.to_string(),
    ];
    // The master stays in the foreground as our child (no -f and no
    // ControlPersist, which would daemonize it) so it is stopped by pid;
    // the sessions multiplexed over it are the same either way.
    let master = Master {
        proc: Proc::spawn(
            "ssh master",
            Command::new("ssh")
                .args(["-M", "-N", "-F", "/dev/null", "-S"])
                .arg(&ctl)
                .args([
                    "-o",
                    "StrictHostKeyChecking=no",
                    "-o",
                    "UserKnownHostsFile=/dev/null",
                    "-o",
                    "BatchMode=yes",
                    "-o",
                    "IdentitiesOnly=yes",
                    "-o",
                    "LogLevel=ERROR",
                    "-i",
                ])
                .arg(&client_key)
                .args(["-p", &port.to_string(), &target]),
        )?,
        base: base.clone(),
        target: target.clone(),
    };
    let check = || {
        Command::new("ssh")
            .args(&base)
            .args(["-O", "check", &target])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while !check() {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the ssh ControlMaster did not come up within 15s; ssh said:\n{}\nsshd said:\n{}",
            master.proc.stderr_tail(),
            sshd.stderr_tail()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let once = || -> anyhow::Result<Duration> {
        let t = Instant::now();
        let out = Command::new("ssh")
            .args(&base)
            .args([&target, "true"])
            .output()?;
        let took = t.elapsed();
        if !out.status.success() {
            bail!(
                "ssh … true failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(took)
    };
    for _ in 0..WARM_UP {
        once()?;
    }
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        samples.push(once()?);
    }
    // Every run went through the master, not a fresh connection.
    anyhow::ensure!(check(), "the ssh ControlMaster went away during the runs");
    drop(master);
    drop(sshd);
    Ok(Figures::of(samples))
}

// ---- simulated nodes ----------------------------------------------------

/// Connects `n` simulated nodes, checks the gateway shows them all online,
/// and returns the gateway's `VmRSS` (KiB) with them connected.
async fn simulated_nodes(api: &Api, gateway_pid: u32, n: usize) -> anyhow::Result<u64> {
    let mut tokens = Vec::with_capacity(n);
    let mut config: Option<NodeConfig> = None;
    for i in 0..n {
        let invite = api.invite(format!("sim-{i:04}")).await?;
        if config.is_none() {
            config = Some(
                serde_norway::from_str(&invite.config_yaml)
                    .context("parsing the invite's agent-node.yaml")?,
            );
        }
        tokens.push(invite.token);
        if (i + 1) % 100 == 0 {
            eprintln!("  invites: {}/{n}", i + 1);
        }
    }
    let config = config.context("no invite")?;
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(config.ca_cert.as_bytes()))
        .domain_name("127.0.0.1");
    // The same connection settings as agent-node.
    let endpoint = Endpoint::from_shared(config.gateway.clone())?
        .tls_config(tls)?
        .connect_timeout(Duration::from_secs(10))
        .tcp_keepalive(Some(Duration::from_secs(30)))
        .http2_keep_alive_interval(Duration::from_secs(15))
        .keep_alive_timeout(Duration::from_secs(20))
        .keep_alive_while_idle(true);

    let (stop_tx, stop_rx) = watch::channel(false);
    let lost = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel::<anyhow::Result<()>>();
    let mut nodes = tokio::task::JoinSet::new();
    let started = Instant::now();
    for (i, token) in tokens.into_iter().enumerate() {
        let (endpoint, gate, ready, stop, lost) = (
            endpoint.clone(),
            Arc::clone(&gate),
            ready_tx.clone(),
            stop_rx.clone(),
            Arc::clone(&lost),
        );
        nodes.spawn(async move {
            let node = {
                let _permit = gate.acquire_owned().await;
                SimNode::connect(&endpoint, token, i).await
            };
            match node {
                Ok(node) => {
                    let _ = ready.send(Ok(()));
                    node.hold(stop, &lost).await;
                }
                Err(e) => {
                    let _ = ready.send(Err(e.context(format!("simulated node {i}"))));
                }
            }
        });
    }
    drop(ready_tx);
    let mut connected = 0;
    while connected < n {
        match tokio::time::timeout(Duration::from_secs(120), ready_rx.recv()).await {
            Ok(Some(Ok(()))) => {
                connected += 1;
                if connected % 100 == 0 || connected == n {
                    eprintln!(
                        "  simulated nodes connected: {connected}/{n} ({:.1}s)",
                        started.elapsed().as_secs_f64()
                    );
                }
            }
            Ok(Some(Err(e))) => return Err(e),
            Ok(None) => bail!("simulated nodes stopped before all connected"),
            Err(_) => bail!("no simulated node connected for 120s ({connected}/{n} so far)"),
        }
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let online = api.online().await?;
        if online == n {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the gateway shows {online} of {n} simulated nodes online"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Let the connection burst settle, then read.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss = rss_kib(gateway_pid)?;
    let dropped = lost.load(Ordering::Relaxed);
    anyhow::ensure!(
        dropped == 0,
        "{dropped} simulated nodes lost their streams during the measurement"
    );
    let _ = stop_tx.send(true);
    nodes.shutdown().await;
    Ok(rss)
}

/// One simulated node: its own connection, both streams open.
struct SimNode {
    node_id: String,
    every: Duration,
    _task_tx: tokio::sync::mpsc::Sender<NodeMessage>,
    tasks: tonic::Streaming<mosaic_agent_proto::v1::GatewayMessage>,
    beats: tokio::sync::mpsc::Sender<Heartbeat>,
    acks: tonic::Streaming<mosaic_agent_proto::v1::HealthAck>,
}

fn heartbeat(node_id: &str) -> Heartbeat {
    Heartbeat {
        node_id: node_id.to_owned(),
        cpu_percent: 3.5,
        memory_used_bytes: 6 << 30,
        memory_total_bytes: 16 << 30,
        disk_used_bytes: 120 << 30,
        disk_total_bytes: 500 << 30,
        running_tasks: 0,
        load_average: 0.4,
    }
}

impl SimNode {
    async fn connect(endpoint: &Endpoint, invite: String, i: usize) -> anyhow::Result<SimNode> {
        // `connect` opens a new connection each time.
        let channel = endpoint.connect().await?;
        let mut client = AgentNodeClient::new(channel);
        let name = format!("sim-{i:04}");
        let reg = client
            .sync_configuration(RegistrationRequest {
                invite_token: invite,
                name: name.clone(),
                version: "bench".into(),
                capabilities: Some(Capabilities {
                    os: std::env::consts::OS.into(),
                    arch: std::env::consts::ARCH.into(),
                    cpus: 8,
                    memory_bytes: 16 << 30,
                    hostname: name,
                    tools: vec!["git".into(), "cargo".into()],
                    skills: vec!["shell".into()],
                }),
            })
            .await?
            .into_inner();
        let auth: tonic::metadata::AsciiMetadataValue =
            format!("Bearer {}", reg.credential).parse()?;

        let (task_tx, task_rx) = tokio::sync::mpsc::channel(4);
        task_tx
            .send(NodeMessage {
                kind: Some(Kind::Hello(StreamHello {
                    node_id: reg.node_id.clone(),
                    running_task_ids: Vec::new(),
                })),
            })
            .await?;
        let mut req = tonic::Request::new(ReceiverStream::new(task_rx));
        req.metadata_mut().insert("authorization", auth.clone());
        let tasks = client.task_stream(req).await?.into_inner();

        let (beats, beat_rx) = tokio::sync::mpsc::channel(2);
        beats.send(heartbeat(&reg.node_id)).await?;
        let mut req = tonic::Request::new(ReceiverStream::new(beat_rx));
        req.metadata_mut().insert("authorization", auth);
        let mut acks = client.report_health(req).await?.into_inner();
        acks.message()
            .await?
            .context("the gateway closed the health stream before acknowledging")?;
        Ok(SimNode {
            node_id: reg.node_id,
            every: Duration::from_secs(u64::from(reg.heartbeat_interval_secs.max(1))),
            _task_tx: task_tx,
            tasks,
            beats,
            acks,
        })
    }

    /// Keeps both streams open, heartbeating, until `stop`.
    async fn hold(mut self, mut stop: watch::Receiver<bool>, lost: &AtomicUsize) {
        let mut tick =
            tokio::time::interval_at(tokio::time::Instant::now() + self.every, self.every);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if self.beats.send(heartbeat(&self.node_id)).await.is_err() {
                        break;
                    }
                }
                ack = self.acks.message() => if !matches!(ack, Ok(Some(_))) { break },
                msg = self.tasks.message() => if !matches!(msg, Ok(Some(_))) { break },
                _ = stop.changed() => return,
            }
        }
        if !*stop.borrow() {
            lost.fetch_add(1, Ordering::Relaxed);
        }
    }
}
