//! Simulated nodes: many gRPC connections that behave as `agent-node`
//! does on the wire, to measure what the gateway pays to keep them.

use super::CONNECT_CONCURRENCY;
use super::api::Api;
use super::memory::rss_kib;
use anyhow::{Context as _, bail};
use mosaic_agent_proto::v1::{
    Capabilities, Heartbeat, NodeMessage, RegistrationRequest, StreamHello,
    agent_node_client::AgentNodeClient, node_message::Kind,
};
use mosaic_nodes::NodeConfig;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

/// Connects `n` simulated nodes, checks the gateway shows them all online,
/// and returns the gateway's `VmRSS` (KiB) with them connected.
pub(super) async fn simulated_nodes(api: &Api, gateway_pid: u32, n: usize) -> anyhow::Result<u64> {
    let (tokens, config) = invite(api, n).await?;
    let endpoint = endpoint(&config)?;
    let started = Instant::now();
    let (mut fleet, mut ready) = Fleet::spawn(&endpoint, tokens);
    wait_connected(&mut ready, n, started).await?;
    wait_online(api, n).await?;
    // Let the connection burst settle, then read.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss = rss_kib(gateway_pid)?;
    let dropped = fleet.lost.load(Ordering::Relaxed);
    anyhow::ensure!(
        dropped == 0,
        "{dropped} simulated nodes lost their streams during the measurement"
    );
    let _ = fleet.stop.send(true);
    fleet.nodes.shutdown().await;
    Ok(rss)
}

/// `n` invites, and the node configuration they share.
async fn invite(api: &Api, n: usize) -> anyhow::Result<(Vec<String>, NodeConfig)> {
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
    Ok((tokens, config.context("no invite")?))
}

/// The same connection settings as agent-node.
fn endpoint(config: &NodeConfig) -> anyhow::Result<Endpoint> {
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(config.ca_cert.as_bytes()))
        .domain_name("127.0.0.1");
    Ok(Endpoint::from_shared(config.gateway.clone())?
        .tls_config(tls)?
        .connect_timeout(Duration::from_secs(10))
        .tcp_keepalive(Some(Duration::from_secs(30)))
        .http2_keep_alive_interval(Duration::from_secs(15))
        .keep_alive_timeout(Duration::from_secs(20))
        .keep_alive_while_idle(true))
}

/// The simulated nodes' tasks, and how to stop them.
struct Fleet {
    stop: watch::Sender<bool>,
    /// Nodes whose streams ended before `stop`.
    lost: Arc<AtomicUsize>,
    nodes: tokio::task::JoinSet<()>,
}

/// Each node reports once whether it connected.
type Ready = tokio::sync::mpsc::UnboundedReceiver<anyhow::Result<()>>;

impl Fleet {
    /// One task per invite token: connect ([`CONNECT_CONCURRENCY`] at a
    /// time), report on the returned channel, then hold the streams open.
    fn spawn(endpoint: &Endpoint, tokens: Vec<String>) -> (Fleet, Ready) {
        let (stop_tx, stop_rx) = watch::channel(false);
        let lost = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
        let (ready_tx, ready_rx) = tokio::sync::mpsc::unbounded_channel::<anyhow::Result<()>>();
        let mut nodes = tokio::task::JoinSet::new();
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
        let fleet = Fleet {
            stop: stop_tx,
            lost,
            nodes,
        };
        (fleet, ready_rx)
    }
}

/// Waits for `n` nodes to report connected; the first failure fails.
async fn wait_connected(ready: &mut Ready, n: usize, started: Instant) -> anyhow::Result<()> {
    let mut connected = 0;
    while connected < n {
        match tokio::time::timeout(Duration::from_secs(120), ready.recv()).await {
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
    Ok(())
}

/// Waits until the gateway shows all `n` nodes online.
async fn wait_online(api: &Api, n: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let online = api.online().await?;
        if online == n {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the gateway shows {online} of {n} simulated nodes online"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
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
                    ended_task_ids: Vec::new(),
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
