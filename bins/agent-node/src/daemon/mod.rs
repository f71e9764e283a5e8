//! The connection loop: register with the gateway, hold the task stream and
//! the health stream, run what arrives, and reconnect with back-off when the
//! gateway goes away.
//!
//! Tasks, their output queue and the nonce memory of the task verifier all
//! belong to the daemon rather than to one connection, so running tasks keep
//! running across reconnects and their output is delivered on the next
//! stream.

mod registration;
mod tasks;

use crate::backoff::Backoff;
use crate::config::Settings;
use crate::health::{self, HealthProbe};
use crate::state::{self, NodeState};
use mosaic_agent_proto::v1::{
    Capabilities, GatewayMessage, HealthAck, Heartbeat, NodeMessage, StreamHello,
    agent_node_client::AgentNodeClient, node_message::Kind,
};
use mosaic_nodes::{Policy, TaskVerifier};
use std::future::Future;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tasks::Shared;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use tonic::{Request, Streaming};
use tracing::{debug, info, warn};

/// Heartbeat interval when the gateway asks for none.
pub const DEFAULT_HEARTBEAT_SECS: u32 = 10;
/// How long shutdown waits for cancelled tasks to end and their results to go out.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Time allowed for TCP + TLS set-up with the gateway.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the daemon stopped. Each kind has its own exit code.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The configuration cannot work (exit code 2).
    #[error("{0}")]
    Config(String),
    /// The gateway refused this node, or no longer matches it: a person must
    /// act before a restart can help (exit code 3).
    #[error("{0}")]
    Refused(String),
    /// Anything else (exit code 1).
    #[error("{0}")]
    Failed(String),
}

impl DaemonError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Failed(_) => crate::exit::FAILURE,
            Self::Config(_) => crate::exit::CONFIG,
            Self::Refused(_) => crate::exit::REFUSED,
        }
    }
}

/// How one connection ended, short of a fatal error.
enum SessionError {
    /// Permanent: stop the daemon.
    Fatal(DaemonError),
    /// Transient: back off and reconnect.
    Lost(String),
}

impl From<DaemonError> for SessionError {
    fn from(e: DaemonError) -> Self {
        Self::Fatal(e)
    }
}

/// A connection that ended because the daemon was asked to stop.
struct Stopped;

/// Renders an error with its chain of causes.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn status_text(status: &tonic::Status) -> String {
    let mut text = format!("{:?}", status.code());
    if !status.message().is_empty() {
        text.push_str(": ");
        text.push_str(status.message());
    }
    if let Some(source) = std::error::Error::source(status) {
        let cause = error_chain(source);
        if !text.contains(&cause) {
            text.push_str(" (");
            text.push_str(&cause);
            text.push(')');
        }
    }
    text
}

/// Prints one line to stdout and flushes it.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn bearer(credential: &str) -> Result<AsciiMetadataValue, DaemonError> {
    MetadataValue::try_from(format!("Bearer {credential}")).map_err(|_| {
        DaemonError::Failed(
            "the stored node credential is not valid header text: delete the node state and re-invite"
                .to_owned(),
        )
    })
}

async fn stopped(rx: &mut watch::Receiver<bool>) {
    loop {
        if *rx.borrow_and_update() {
            return;
        }
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// `work`'s output, or `None` when the daemon is asked to stop first.
async fn or_stopped<T>(
    work: impl Future<Output = T>,
    stop: &mut watch::Receiver<bool>,
) -> Option<T> {
    tokio::select! {
        out = work => Some(out),
        () = stopped(stop) => None,
    }
}

/// Builds the gRPC endpoint: TLS checked against the configured CA, for the
/// configured server name.
///
/// # Errors
/// When the gateway URL or CA cannot be used.
pub fn endpoint(settings: &Settings) -> Result<Endpoint, DaemonError> {
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(settings.config.ca_cert.as_bytes()))
        .domain_name(settings.server_name.clone());
    let bad = |what: &str, e: &(dyn std::error::Error + 'static)| {
        DaemonError::Config(format!(
            "config file {}: `{what}` cannot be used: {}",
            settings.file.display(),
            error_chain(e)
        ))
    };
    let endpoint = Endpoint::from_shared(settings.gateway.clone())
        .map_err(|e| bad("gateway", &e))?
        .tls_config(tls)
        .map_err(|e| bad("ca_cert", &e))?;
    Ok(endpoint
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_keepalive(Some(Duration::from_secs(30)))
        .http2_keep_alive_interval(Duration::from_secs(15))
        .keep_alive_timeout(Duration::from_secs(20))
        .keep_alive_while_idle(true))
}

/// The registration the current connection runs under.
struct Registered {
    node_id: String,
    heartbeat: Duration,
}

struct Node {
    settings: Settings,
    endpoint: Endpoint,
    capabilities: Capabilities,
    state_path: PathBuf,
    state: Option<NodeState>,
    verifier: Option<TaskVerifier>,
    policy: Policy,
    shared: Arc<Shared>,
    backoff: Backoff,
    connected_since: Option<Instant>,
    stop: watch::Receiver<bool>,
}

/// Runs the daemon until `shutdown` resolves (then running tasks are
/// cancelled and their results sent if the gateway is reachable) or a
/// permanent error occurs.
///
/// # Errors
/// A configuration that cannot work, a refusal by the gateway, a gateway
/// whose task-signing key changed, or a state file that cannot be used.
pub async fn run(
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), DaemonError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        stop_tx.send_replace(true);
    });
    let mut node = Node::new(settings, stop_rx)?;
    node.run().await
}

impl Node {
    fn new(settings: Settings, stop: watch::Receiver<bool>) -> Result<Self, DaemonError> {
        std::fs::create_dir_all(&settings.workspace).map_err(|e| {
            DaemonError::Config(format!(
                "config file {}: `workspace`: cannot create {} ({e}): set it to a directory this user can write",
                settings.file.display(),
                settings.workspace.display()
            ))
        })?;
        let state_path = settings.state_file();
        let state = state::load(&state_path).map_err(|e| DaemonError::Failed(e.to_string()))?;
        match (&state, settings.invite_token()) {
            (None, None) => {
                return Err(DaemonError::Config(format!(
                    "config file {}: `invite_token`: this node is not registered yet ({} does not exist) and there is no invite token: create one with `mosaic node invite` and put it in the file (or set MOSAIC_NODE_INVITE_TOKEN)",
                    settings.file.display(),
                    state_path.display()
                )));
            }
            (Some(s), Some(_)) => info!(
                node_id = %s.node_id,
                "already registered: the invite token in the configuration is ignored"
            ),
            _ => {}
        }
        let endpoint = endpoint(&settings)?;
        let max_tasks = settings.max_concurrent_tasks.max(1);
        Ok(Self {
            endpoint,
            capabilities: health::capabilities(),
            state_path,
            state,
            verifier: None,
            policy: Policy::default(),
            shared: Arc::new(Shared::new(max_tasks)),
            backoff: Backoff::new(settings.reconnect_max),
            connected_since: None,
            settings,
            stop,
        })
    }

    async fn run(&mut self) -> Result<(), DaemonError> {
        loop {
            match self.session().await {
                Ok(Stopped) => {
                    self.stop_tasks(None).await;
                    info!("stopped");
                    return Ok(());
                }
                Err(SessionError::Fatal(e)) => {
                    self.shared.outbox.detach();
                    self.stop_tasks(None).await;
                    return Err(e);
                }
                Err(SessionError::Lost(reason)) => {
                    self.shared.outbox.detach();
                    // The connection had succeeded: the waits start over.
                    if let Some(since) = self.connected_since.take() {
                        self.backoff.connection_ended(since.elapsed());
                    }
                    let delay = self.backoff.next_delay();
                    warn!(
                        attempt = self.backoff.attempt(),
                        delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        queued = self.shared.outbox.len(),
                        "gateway {}: {reason}; reconnecting in {:.1} s",
                        self.settings.gateway,
                        delay.as_secs_f64()
                    );
                    let mut stop = self.stop.clone();
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        () = stopped(&mut stop) => {
                            self.stop_tasks(None).await;
                            info!("stopped");
                            return Ok(());
                        }
                    }
                }
            }
        }
    }

    /// One connection: connect, register, open both streams and serve them
    /// until they end or the daemon is asked to stop.
    async fn session(&mut self) -> Result<Stopped, SessionError> {
        let mut stop = self.stop.clone();
        if *stop.borrow_and_update() {
            return Ok(Stopped);
        }
        info!(
            gateway = %self.settings.gateway,
            attempt = self.backoff.attempt() + 1,
            "connecting"
        );
        let Some(connected) = or_stopped(self.endpoint.connect(), &mut stop).await else {
            return Ok(Stopped);
        };
        let channel: Channel = connected
            .map_err(|e| SessionError::Lost(format!("cannot connect: {}", error_chain(&e))))?;
        let mut client = AgentNodeClient::new(channel);
        let Some(registered) = or_stopped(self.register(&mut client), &mut stop).await else {
            return Ok(Stopped);
        };
        let registered = registered?;
        let credential = self
            .state
            .as_ref()
            .map(|s| s.credential.clone())
            .unwrap_or_default();
        let auth = bearer(&credential)?;

        let request = self.task_stream_request(&registered, auth.clone());
        let Some(opened) = or_stopped(client.task_stream(request), &mut stop).await else {
            return Ok(Stopped);
        };
        let mut inbound: Streaming<GatewayMessage> = opened
            .map_err(|s| {
                SessionError::Lost(format!("cannot open the task stream: {}", status_text(&s)))
            })?
            .into_inner();
        say("agent-node connected");
        self.connected_since = Some(Instant::now());
        info!(node_id = %registered.node_id, "task stream open");

        let (beats, request) = self.start_heartbeats(&registered, auth);
        let Some(opened) = or_stopped(client.report_health(request), &mut stop).await else {
            self.stop_tasks(Some(&mut inbound)).await;
            return Ok(Stopped);
        };
        let mut acks = opened
            .map_err(|s| {
                SessionError::Lost(format!(
                    "cannot open the health stream: {}",
                    status_text(&s)
                ))
            })?
            .into_inner();
        self.serve(&mut inbound, &mut acks, beats, &mut stop).await
    }

    /// The task stream's request: a hello naming the tasks this node knows
    /// (still running, or ended with a result not yet acknowledged), then
    /// whatever the outbox holds and receives.
    fn task_stream_request(
        &self,
        registered: &Registered,
        auth: AsciiMetadataValue,
    ) -> Request<impl tokio_stream::Stream<Item = NodeMessage> + Send + 'static> {
        let (running_task_ids, ended_task_ids) = self.shared.known_tasks();
        let hello = NodeMessage {
            kind: Some(Kind::Hello(StreamHello {
                node_id: registered.node_id.clone(),
                running_task_ids,
                ended_task_ids,
            })),
        };
        let mut request = Request::new(self.shared.outbox.attach(hello));
        request.metadata_mut().insert("authorization", auth);
        request
    }

    /// Starts sampling health every heartbeat interval; returns the sampler
    /// (stopped when dropped) and the health stream's request.
    fn start_heartbeats(
        &self,
        registered: &Registered,
        auth: AsciiMetadataValue,
    ) -> (AbortOnDrop, Request<ReceiverStream<Heartbeat>>) {
        let (beat_tx, beat_rx) = mpsc::channel::<Heartbeat>(2);
        let beats = AbortOnDrop(tokio::spawn(heartbeats(
            beat_tx,
            HealthProbe::new(&self.settings.workspace),
            registered.node_id.clone(),
            registered.heartbeat,
            Arc::clone(&self.shared),
        )));
        let mut request = Request::new(ReceiverStream::new(beat_rx));
        request.metadata_mut().insert("authorization", auth);
        (beats, request)
    }

    /// Serves both open streams until one of them ends (the connection is
    /// lost) or the daemon is asked to stop.
    async fn serve(
        &mut self,
        inbound: &mut Streaming<GatewayMessage>,
        acks: &mut Streaming<HealthAck>,
        beats: AbortOnDrop,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<Stopped, SessionError> {
        let ended = loop {
            tokio::select! {
                msg = inbound.message() => match msg {
                    Ok(Some(msg)) => self.handle(msg),
                    Ok(None) => break SessionError::Lost("the gateway closed the task stream".to_owned()),
                    Err(s) => break self.stream_ended(&s),
                },
                ack = acks.message() => match ack {
                    Ok(Some(ack)) => debug!(received_at_ms = ack.received_at_ms, "heartbeat acknowledged"),
                    Ok(None) => break SessionError::Lost("the gateway closed the health stream".to_owned()),
                    Err(s) => break SessionError::Lost(format!("health stream failed: {}", status_text(&s))),
                },
                () = stopped(stop) => {
                    drop(beats);
                    self.stop_tasks(Some(inbound)).await;
                    return Ok(Stopped);
                }
            }
        };
        Err(ended)
    }
}

impl Node {
    /// How a task stream that the gateway ended with `status` ends the
    /// connection: a refusal (the node was removed) is permanent, anything
    /// else (a gateway stopping, a broken connection) is worth a reconnect.
    fn stream_ended(&self, status: &tonic::Status) -> SessionError {
        match status.code() {
            tonic::Code::Unauthenticated | tonic::Code::PermissionDenied => {
                SessionError::Fatal(DaemonError::Refused(format!(
                    "the gateway ended this node's stream: {}: delete {} and re-invite with `mosaic node invite`",
                    status.message(),
                    self.state_path.display()
                )))
            }
            _ => SessionError::Lost(format!("task stream failed: {}", status_text(status))),
        }
    }
}

/// Aborts the task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn heartbeats(
    tx: mpsc::Sender<Heartbeat>,
    mut probe: HealthProbe,
    node_id: String,
    every: Duration,
    shared: Arc<Shared>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let beat = probe.sample(&node_id, shared.running()).await;
        if tx.send(beat).await.is_err() {
            return;
        }
    }
}
