//! The connection loop: register with the gateway, hold the task stream and
//! the health stream, run what arrives, and reconnect with back-off when the
//! gateway goes away.
//!
//! Tasks, their output queue and the nonce memory of the task verifier all
//! belong to the daemon rather than to one connection, so running tasks keep
//! running across reconnects and their output is delivered on the next
//! stream.

use crate::backoff::Backoff;
use crate::config::Settings;
use crate::health::{self, HealthProbe};
use crate::outbox::Outbox;
use crate::runner::{self, ProgressSink, ShellSpec, TaskControl, TaskWatch};
use crate::state::{self, NodeState};
use mosaic_agent_proto::v1::{
    Capabilities, GatewayMessage, Heartbeat, NodeMessage, RegistrationRequest, SignedTask,
    StreamHello, TaskRequest, TaskResult, agent_node_client::AgentNodeClient, gateway_message,
    node_message::Kind, task_request::Payload, task_result::Status,
};
use mosaic_nodes::{Policy, TaskVerifier};
use prost::Message as _;
use std::collections::HashMap;
use std::future::Future;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use tonic::{Code, Request, Streaming};
use tracing::{debug, info, warn};

/// Heartbeat interval when the gateway asks for none.
pub const DEFAULT_HEARTBEAT_SECS: u32 = 10;
/// How long shutdown waits for cancelled tasks to end and their results to go out.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Time allowed for TCP + TLS set-up with the gateway.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection that stayed up this long starts the back-off afresh when it
/// drops; one that drops sooner keeps the back-off growing, so a gateway
/// that accepts and then drops the node is not hammered.
pub const STABLE_AFTER: Duration = Duration::from_secs(10);

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

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
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

/// What is shared between the connection loop and the running tasks.
#[derive(Debug)]
struct Shared {
    outbox: Arc<Outbox>,
    tasks: Mutex<HashMap<String, TaskControl>>,
    slots: Arc<Semaphore>,
    max_tasks: usize,
    stopping: AtomicBool,
}

impl Shared {
    fn tasks(&self) -> MutexGuard<'_, HashMap<String, TaskControl>> {
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn task_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.tasks().keys().cloned().collect();
        ids.sort();
        ids
    }

    fn running(&self) -> u32 {
        let busy = self
            .max_tasks
            .saturating_sub(self.slots.available_permits());
        u32::try_from(busy).unwrap_or(u32::MAX)
    }

    fn send_result(&self, result: TaskResult) {
        self.outbox.push(NodeMessage {
            kind: Some(Kind::Result(result)),
        });
    }
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
            shared: Arc::new(Shared {
                outbox: Outbox::new(),
                tasks: Mutex::new(HashMap::new()),
                slots: Arc::new(Semaphore::new(max_tasks)),
                max_tasks,
                stopping: AtomicBool::new(false),
            }),
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
                    if self
                        .connected_since
                        .take()
                        .is_some_and(|since| since.elapsed() >= STABLE_AFTER)
                    {
                        self.backoff.reset();
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
        let channel: Channel = tokio::select! {
            r = self.endpoint.connect() => r.map_err(|e| {
                SessionError::Lost(format!("cannot connect: {}", error_chain(&e)))
            })?,
            () = stopped(&mut stop) => return Ok(Stopped),
        };
        let mut client = AgentNodeClient::new(channel);
        let registered = tokio::select! {
            r = self.register(&mut client) => r?,
            () = stopped(&mut stop) => return Ok(Stopped),
        };
        let credential = self
            .state
            .as_ref()
            .map(|s| s.credential.clone())
            .unwrap_or_default();
        let auth = bearer(&credential)?;

        let hello = NodeMessage {
            kind: Some(Kind::Hello(StreamHello {
                node_id: registered.node_id.clone(),
                running_task_ids: self.shared.task_ids(),
            })),
        };
        let mut request = Request::new(self.shared.outbox.attach(hello));
        request.metadata_mut().insert("authorization", auth.clone());
        let mut inbound: Streaming<GatewayMessage> = tokio::select! {
            r = client.task_stream(request) => r
                .map_err(|s| SessionError::Lost(format!("cannot open the task stream: {}", status_text(&s))))?
                .into_inner(),
            () = stopped(&mut stop) => return Ok(Stopped),
        };
        say("agent-node connected");
        self.connected_since = Some(Instant::now());
        info!(node_id = %registered.node_id, "task stream open");

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
        let mut acks = tokio::select! {
            r = client.report_health(request) => r
                .map_err(|s| SessionError::Lost(format!("cannot open the health stream: {}", status_text(&s))))?
                .into_inner(),
            () = stopped(&mut stop) => {
                self.stop_tasks(Some(&mut inbound)).await;
                return Ok(Stopped);
            }
        };

        let ended = loop {
            tokio::select! {
                msg = inbound.message() => match msg {
                    Ok(Some(msg)) => self.handle(msg),
                    Ok(None) => break SessionError::Lost("the gateway closed the task stream".to_owned()),
                    Err(s) => break SessionError::Lost(format!("task stream failed: {}", status_text(&s))),
                },
                ack = acks.message() => match ack {
                    Ok(Some(ack)) => debug!(received_at_ms = ack.received_at_ms, "heartbeat acknowledged"),
                    Ok(None) => break SessionError::Lost("the gateway closed the health stream".to_owned()),
                    Err(s) => break SessionError::Lost(format!("health stream failed: {}", status_text(&s))),
                },
                () = stopped(&mut stop) => {
                    drop(beats);
                    self.stop_tasks(Some(&mut inbound)).await;
                    return Ok(Stopped);
                }
            }
        };
        Err(ended)
    }

    /// `SyncConfiguration`: redeems the invite on first start, authenticates
    /// with the credential after that.
    async fn register(
        &mut self,
        client: &mut AgentNodeClient<Channel>,
    ) -> Result<Registered, SessionError> {
        let first = self.state.is_none();
        let body = RegistrationRequest {
            invite_token: if first {
                self.settings.invite_token().unwrap_or_default().to_owned()
            } else {
                String::new()
            },
            name: self.settings.name.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            capabilities: Some(self.capabilities.clone()),
        };
        let mut request = Request::new(body);
        if let Some(state) = &self.state {
            request
                .metadata_mut()
                .insert("authorization", bearer(&state.credential)?);
        }
        let response = match client.sync_configuration(request).await {
            Ok(r) => r.into_inner(),
            Err(status) => {
                return Err(match status.code() {
                    Code::Unauthenticated | Code::PermissionDenied if first => {
                        SessionError::Fatal(DaemonError::Refused(format!(
                            "the invite was already used or has expired (gateway: {}): create a new one with `mosaic node invite` and put its token in {}",
                            status.message(),
                            self.settings.file.display()
                        )))
                    }
                    Code::Unauthenticated | Code::PermissionDenied => {
                        SessionError::Fatal(DaemonError::Refused(format!(
                            "this node's credential was refused (was it removed?) (gateway: {}): delete {} and re-invite with `mosaic node invite`",
                            status.message(),
                            self.state_path.display()
                        )))
                    }
                    _ => {
                        SessionError::Lost(format!("registration failed: {}", status_text(&status)))
                    }
                });
            }
        };
        let failed = |what: &str| {
            SessionError::Fatal(DaemonError::Failed(format!(
                "the gateway's registration answer cannot be used: {what}"
            )))
        };
        if response.node_id.is_empty() {
            return Err(failed("it has no node id"));
        }
        if response.task_signing_key.len() != 32 {
            return Err(failed(
                "its task-signing key is not a 32-byte Ed25519 public key",
            ));
        }
        match &mut self.state {
            None => {
                if response.credential.is_empty() {
                    return Err(failed(
                        "the invite was accepted but no credential came with it",
                    ));
                }
                let fresh = NodeState {
                    node_id: response.node_id.clone(),
                    credential: response.credential.clone(),
                    task_signing_key: response.task_signing_key.clone(),
                    gateway: self.settings.gateway.clone(),
                };
                state::save(&self.state_path, &fresh)
                    .map_err(|e| DaemonError::Failed(e.to_string()))?;
                info!(
                    node_id = %fresh.node_id,
                    state = %self.state_path.display(),
                    "invite redeemed; node state written"
                );
                self.state = Some(fresh);
            }
            Some(known) => {
                if known.task_signing_key != response.task_signing_key {
                    return Err(SessionError::Fatal(DaemonError::Refused(format!(
                        "the gateway's task-signing key is not the one this node registered with, so its tasks cannot be trusted: refusing to continue. If the gateway was reinstalled on purpose, delete {} and re-invite with `mosaic node invite`",
                        self.state_path.display()
                    ))));
                }
                if known.node_id != response.node_id {
                    return Err(SessionError::Fatal(DaemonError::Refused(format!(
                        "the gateway calls this node `{}` but it registered as `{}`: refusing to continue. Delete {} and re-invite with `mosaic node invite`",
                        response.node_id,
                        known.node_id,
                        self.state_path.display()
                    ))));
                }
                if !response.credential.is_empty() && response.credential != known.credential {
                    known.credential.clone_from(&response.credential);
                    state::save(&self.state_path, known)
                        .map_err(|e| DaemonError::Failed(e.to_string()))?;
                    info!("the gateway issued a new credential; node state updated");
                }
            }
        }
        if self.verifier.is_none() {
            self.verifier = Some(TaskVerifier::new(
                response.task_signing_key.clone(),
                response.node_id.clone(),
            ));
        }
        self.policy = Policy::from_proto(&response.policy.unwrap_or_default());
        let every = match response.heartbeat_interval_secs {
            0 => DEFAULT_HEARTBEAT_SECS,
            n => n,
        };
        info!(
            node_id = %response.node_id,
            owner = %response.owner,
            policy = ?self.policy.mode,
            heartbeat_secs = every,
            "registered"
        );
        say(&format!(
            "agent-node registered as {} ({})",
            response.node_id, self.settings.name
        ));
        Ok(Registered {
            node_id: response.node_id,
            heartbeat: Duration::from_secs(u64::from(every)),
        })
    }

    fn handle(&mut self, msg: GatewayMessage) {
        match msg.kind {
            Some(gateway_message::Kind::Task(signed)) => self.on_task(&signed),
            Some(gateway_message::Kind::Cancel(cancel)) => {
                match self.shared.tasks().get(&cancel.task_id) {
                    Some(control) => {
                        info!(task_id = %cancel.task_id, "cancelling task");
                        control.cancel();
                    }
                    None => {
                        debug!(task_id = %cancel.task_id, "cancel for a task that is not running")
                    }
                }
            }
            None => debug!("ignoring an empty message from the gateway"),
        }
    }

    fn refuse(&self, task_id: &str, error: String) {
        warn!(task_id, "{error}");
        self.shared.send_result(TaskResult {
            task_id: task_id.to_owned(),
            status: Status::Refused as i32,
            exit_code: None,
            error,
            duration_ms: 0,
        });
    }

    fn on_task(&mut self, signed: &SignedTask) {
        let Some(verifier) = self.verifier.as_mut() else {
            return;
        };
        let task = match verifier.verify(signed, now_ms()) {
            Ok(task) => task,
            Err(refusal) => {
                let task_id = TaskRequest::decode(signed.task.as_slice())
                    .map(|t| t.task_id)
                    .unwrap_or_default();
                self.refuse(&task_id, refusal.to_string());
                return;
            }
        };
        let task_id = task.task_id;
        let Some(Payload::Shell(shell)) = task.payload else {
            self.refuse(
                &task_id,
                "task refused: it carries no shell command (this node runs shell tasks)".to_owned(),
            );
            return;
        };
        if self.shared.stopping.load(Ordering::SeqCst) {
            self.refuse(
                &task_id,
                "task refused: the node is shutting down".to_owned(),
            );
            return;
        }
        if let Err(reason) = self.policy.check(&shell.command) {
            self.refuse(&task_id, format!("refused by sandbox policy: {reason}"));
            return;
        }
        let (control, watch) = TaskControl::new();
        {
            let mut tasks = self.shared.tasks();
            if tasks.contains_key(&task_id) {
                drop(tasks);
                self.refuse(
                    &task_id,
                    "task refused: a task with this id is already running".to_owned(),
                );
                return;
            }
            tasks.insert(task_id.clone(), control);
        }
        let timeout = match shell.timeout_secs {
            0 => self.settings.task_timeout,
            n => Duration::from_secs(u64::from(n)),
        };
        info!(task_id = %task_id, command = %shell.command, cwd = %shell.cwd, "task accepted");
        let spec = ShellSpec {
            task_id,
            command: shell.command,
            cwd: shell.cwd,
            timeout,
        };
        tokio::spawn(run_task(
            Arc::clone(&self.shared),
            spec,
            self.settings.workspace.clone(),
            watch,
        ));
    }

    /// Stops taking tasks, cancels the running ones (killing their process
    /// groups) and, with a stream, tries for [`SHUTDOWN_GRACE`] to deliver
    /// their results.
    async fn stop_tasks(&mut self, inbound: Option<&mut Streaming<GatewayMessage>>) {
        if self.shared.stopping.swap(true, Ordering::SeqCst) {
            // Already done once; just make sure nothing is left running.
            for control in self.shared.tasks().values() {
                control.kill_now();
            }
            return;
        }
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        let count = {
            let tasks = self.shared.tasks();
            for control in tasks.values() {
                control.cancel();
            }
            tasks.len()
        };
        if count > 0 {
            info!(tasks = count, "cancelling running tasks");
        }
        while !self.shared.tasks().is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for control in self.shared.tasks().values() {
            control.kill_now();
        }
        let Some(inbound) = inbound else {
            return;
        };
        self.shared.outbox.close();
        while !self.shared.outbox.is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // The request stream has ended; a gateway ends its side once it has
        // read everything, which is the sign the results arrived.
        let _ = tokio::time::timeout_at(deadline, async {
            while let Ok(Some(_)) = inbound.message().await {}
        })
        .await;
        if !self.shared.outbox.is_empty() {
            warn!(
                unsent = self.shared.outbox.len(),
                "stopping with messages the gateway has not received"
            );
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

/// Waits for a slot, runs the task, queues its result.
async fn run_task(shared: Arc<Shared>, spec: ShellSpec, workspace: PathBuf, mut watch: TaskWatch) {
    let queued = Instant::now();
    let permit = tokio::select! {
        permit = Arc::clone(&shared.slots).acquire_owned() => permit.ok(),
        () = watch.cancelled() => None,
    };
    let result = match permit {
        Some(_permit) => {
            let outbox = Arc::clone(&shared.outbox);
            let sink: ProgressSink = Arc::new(move |progress| {
                outbox.push(NodeMessage {
                    kind: Some(Kind::Progress(progress)),
                });
            });
            runner::run_shell(spec.clone(), &workspace, sink, watch).await
        }
        None => runner::result(
            &spec.task_id,
            Status::Cancelled,
            "cancelled before it started",
            queued,
        ),
    };
    info!(
        task_id = %spec.task_id,
        status = result.status().as_str_name(),
        exit_code = ?result.exit_code,
        duration_ms = result.duration_ms,
        error = %result.error,
        "task finished"
    );
    shared.send_result(result);
    shared.tasks().remove(&spec.task_id);
}
