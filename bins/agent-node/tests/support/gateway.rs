//! The fake gateway: a throwaway PKI, the state a test inspects and
//! steers, and the tonic service on its own runtime.

use super::{WAIT, now_ms};
use mosaic_agent_proto::v1::{
    CancelTask, GatewayMessage, HealthAck, Heartbeat, NodeMessage, RegistrationRequest,
    RegistrationResponse, ResultAck, SandboxPolicy, ShellTask, SignedTask, StreamHello,
    TaskProgress, TaskRequest, TaskResult,
    agent_node_server::{AgentNode, AgentNodeServer},
    gateway_message, node_message,
    task_progress::Stream as OutStream,
    task_request::Payload,
};
use mosaic_nodes::task::{new_nonce, sign_task};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tokio_stream::{Stream, StreamExt as _};
use tonic::transport::{Identity, Server, ServerTlsConfig};
use tonic::{Code, Request, Response, Status, Streaming};

/// A throwaway CA and a server certificate for `localhost` / 127.0.0.1.
#[derive(Debug, Clone)]
pub struct Pki {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

impl Pki {
    pub fn new() -> Self {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "agent-node test CA");
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);

        let key = KeyPair::generate().unwrap();
        let mut server =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        server
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = server.signed_by(&key, &issuer).unwrap();
        Self {
            ca_pem: ca_cert.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

/// What the fake gateway saw.
#[derive(Debug, Clone)]
pub enum Event {
    Registered {
        invite_token: String,
        authorization: Option<String>,
        request: RegistrationRequest,
    },
    RegistrationRefused {
        invite_token: String,
        authorization: Option<String>,
    },
    TaskStreamOpened {
        authorization: Option<String>,
    },
    Hello(StreamHello),
    Progress(TaskProgress),
    Result(TaskResult),
    HealthStreamOpened {
        authorization: Option<String>,
    },
    Heartbeat(Heartbeat),
}

#[derive(Debug, Clone)]
pub struct Seen {
    pub at: Instant,
    /// Which run of the gateway saw it (1 for the first, 2 after a restart…).
    pub instance: u32,
    pub event: Event,
}

type ToNode = mpsc::UnboundedSender<Result<GatewayMessage, Status>>;

/// The gateway's state; survives restarts of the server.
pub struct GatewayState {
    pub node_id: String,
    pub credential: String,
    pub invite: String,
    redeemed: AtomicBool,
    key: Ed25519KeyPair,
    pub policy: Mutex<SandboxPolicy>,
    pub heartbeat_secs: AtomicU32,
    /// When set, every registration is refused with this code.
    pub refuse: Mutex<Option<Code>>,
    /// Whether results are acknowledged, as a real gateway does once it
    /// has stored them (on by default).
    pub acknowledge: AtomicBool,
    events: Mutex<Vec<Seen>>,
    to_node: Mutex<Option<(u64, ToNode)>>,
    streams: AtomicU32,
    instance: AtomicU32,
}

fn ed25519() -> Ed25519KeyPair {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
    Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()
}

fn authorization<T>(request: &Request<T>) -> Option<String> {
    request
        .metadata()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

impl GatewayState {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            node_id: "node-test-1".to_owned(),
            credential: mosaic_nodes::secret::new_credential().unwrap(),
            invite: mosaic_nodes::secret::new_invite_token().unwrap(),
            redeemed: AtomicBool::new(false),
            key: ed25519(),
            policy: Mutex::new(SandboxPolicy {
                mode: mosaic_agent_proto::v1::sandbox_policy::Mode::Permissive as i32,
                allowed: vec![],
                denied: vec![],
            }),
            heartbeat_secs: AtomicU32::new(1),
            refuse: Mutex::new(None),
            acknowledge: AtomicBool::new(true),
            events: Mutex::new(Vec::new()),
            to_node: Mutex::new(None),
            streams: AtomicU32::new(0),
            instance: AtomicU32::new(0),
        })
    }

    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.credential)
    }

    pub fn public_key(&self) -> Vec<u8> {
        self.key.public_key().as_ref().to_vec()
    }

    fn record(&self, instance: u32, event: Event) {
        self.events.lock().unwrap().push(Seen {
            at: Instant::now(),
            instance,
            event,
        });
    }

    pub fn events(&self) -> Vec<Seen> {
        self.events.lock().unwrap().clone()
    }

    /// Polls the events until `f` finds what it looks for.
    pub fn wait_for<T>(&self, what: &str, f: impl Fn(&[Seen]) -> Option<T>) -> T {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(found) = f(&self.events()) {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; events: {:#?}",
                self.events()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The first result for `task_id`, waiting for it.
    pub fn result_of(&self, task_id: &str) -> TaskResult {
        self.results_of(task_id, 1).remove(0)
    }

    /// The first `n` results for `task_id`, waiting for them.
    pub fn results_of(&self, task_id: &str, n: usize) -> Vec<TaskResult> {
        self.wait_for(&format!("{n} result(s) of {task_id}"), |events| {
            let results: Vec<TaskResult> = events
                .iter()
                .filter_map(|s| match &s.event {
                    Event::Result(r) if r.task_id == task_id => Some(r.clone()),
                    _ => None,
                })
                .collect();
            (results.len() >= n).then_some(results)
        })
    }

    /// When the result of `task_id` was received, and by which instance.
    pub fn result_seen(&self, task_id: &str) -> Seen {
        self.wait_for(&format!("the result of {task_id}"), |events| {
            events
                .iter()
                .find(|s| matches!(&s.event, Event::Result(r) if r.task_id == task_id))
                .cloned()
        })
    }

    /// All output of `task_id` on `stream` received so far, each numbered
    /// chunk once (as the gateway stores it), in order of number.
    pub fn output(&self, task_id: &str, stream: OutStream) -> String {
        let mut chunks: Vec<(u32, Vec<u8>)> = Vec::new();
        for s in self.events() {
            if let Event::Progress(p) = s.event
                && p.task_id == task_id
                && p.stream == stream as i32
                && !chunks.iter().any(|(seq, _)| *seq == p.seq)
            {
                chunks.push((p.seq, p.data));
            }
        }
        chunks.sort_by_key(|(seq, _)| *seq);
        String::from_utf8(chunks.into_iter().flat_map(|(_, d)| d).collect()).unwrap()
    }

    /// Every chunk of `task_id`'s output as received, repeats included:
    /// (instance, seq, data).
    pub fn chunks(&self, task_id: &str) -> Vec<(u32, u32, String)> {
        self.events()
            .into_iter()
            .filter_map(|s| match s.event {
                Event::Progress(p) if p.task_id == task_id => Some((
                    s.instance,
                    p.seq,
                    String::from_utf8_lossy(&p.data).into_owned(),
                )),
                _ => None,
            })
            .collect()
    }

    /// Every result of `task_id` received so far, repeats included, with
    /// the instance that received it.
    pub fn results_seen(&self, task_id: &str) -> Vec<(u32, TaskResult)> {
        self.events()
            .into_iter()
            .filter_map(|s| match s.event {
                Event::Result(r) if r.task_id == task_id => Some((s.instance, r)),
                _ => None,
            })
            .collect()
    }

    /// Ends the current task stream with `status`.
    pub fn end_stream(&self, status: Status) {
        let guard = self.to_node.lock().unwrap();
        let (_, tx) = guard.as_ref().expect("no task stream is open");
        tx.send(Err(status)).expect("the task stream is closed");
    }

    /// Waits until the output of `task_id` on stdout contains `text`.
    pub fn wait_output(&self, task_id: &str, text: &str) -> Seen {
        self.wait_for(&format!("`{text}` from {task_id}"), |events| {
            let mut so_far = Vec::new();
            for s in events {
                if let Event::Progress(p) = &s.event
                    && p.task_id == task_id
                    && p.stream == OutStream::Stdout as i32
                {
                    so_far.extend_from_slice(&p.data);
                    if String::from_utf8_lossy(&so_far).contains(text) {
                        return Some(s.clone());
                    }
                }
            }
            None
        })
    }

    pub fn hellos(&self) -> Vec<(u32, StreamHello)> {
        self.events()
            .into_iter()
            .filter_map(|s| match s.event {
                Event::Hello(h) => Some((s.instance, h)),
                _ => None,
            })
            .collect()
    }

    /// Waits for the `n`th hello.
    pub fn wait_hellos(&self, n: usize) -> Vec<(u32, StreamHello)> {
        self.wait_for(&format!("{n} hello(s)"), |_| {
            let hellos = self.hellos();
            (hellos.len() >= n).then_some(hellos)
        })
    }

    pub fn registrations(&self) -> Vec<(u32, String, Option<String>)> {
        self.events()
            .into_iter()
            .filter_map(|s| match s.event {
                Event::Registered {
                    invite_token,
                    authorization,
                    ..
                } => Some((s.instance, invite_token, authorization)),
                _ => None,
            })
            .collect()
    }

    /// A task for this gateway's node, valid for a minute.
    pub fn task(&self, task_id: &str, command: &str) -> TaskRequest {
        let now = now_ms();
        TaskRequest {
            task_id: task_id.to_owned(),
            session_id: "session-1".to_owned(),
            node_id: self.node_id.clone(),
            payload: Some(Payload::Shell(ShellTask {
                command: command.to_owned(),
                cwd: String::new(),
                timeout_secs: 0,
            })),
            nonce: new_nonce().unwrap(),
            issued_at_ms: now,
            expires_at_ms: now + 60_000,
        }
    }

    pub fn sign(&self, task: &TaskRequest) -> SignedTask {
        sign_task(task, |bytes| self.key.sign(bytes).as_ref().to_vec())
    }

    /// Sends a message on the current task stream.
    pub fn send(&self, msg: GatewayMessage) {
        let guard = self.to_node.lock().unwrap();
        let (_, tx) = guard.as_ref().expect("no task stream is open");
        tx.send(Ok(msg)).expect("the task stream is closed");
    }

    pub fn send_signed(&self, signed: SignedTask) {
        self.send(GatewayMessage {
            kind: Some(gateway_message::Kind::Task(signed)),
        });
    }

    /// Signs and sends `task`.
    pub fn dispatch(&self, task: &TaskRequest) {
        self.send_signed(self.sign(task));
    }

    pub fn cancel(&self, task_id: &str) {
        self.send(GatewayMessage {
            kind: Some(gateway_message::Kind::Cancel(CancelTask {
                task_id: task_id.to_owned(),
            })),
        });
    }
}

type Out<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

struct Service {
    state: Arc<GatewayState>,
    instance: u32,
}

#[tonic::async_trait]
impl AgentNode for Service {
    async fn sync_configuration(
        &self,
        request: Request<RegistrationRequest>,
    ) -> Result<Response<RegistrationResponse>, Status> {
        let st = &self.state;
        let auth = authorization(&request);
        let req = request.into_inner();
        let refuse = |st: &GatewayState, status: Status| {
            st.record(
                self.instance,
                Event::RegistrationRefused {
                    invite_token: req.invite_token.clone(),
                    authorization: auth.clone(),
                },
            );
            Err(status)
        };
        if let Some(code) = *st.refuse.lock().unwrap() {
            return refuse(st, Status::new(code, "this node has been removed"));
        }
        let credential = if req.invite_token.is_empty() {
            if auth.as_deref() != Some(st.bearer().as_str()) {
                return refuse(st, Status::unauthenticated("unknown node credential"));
            }
            String::new()
        } else {
            if req.invite_token != st.invite || st.redeemed.swap(true, Ordering::SeqCst) {
                return refuse(
                    st,
                    Status::unauthenticated("invite token unknown, used or expired"),
                );
            }
            st.credential.clone()
        };
        st.record(
            self.instance,
            Event::Registered {
                invite_token: req.invite_token.clone(),
                authorization: auth,
                request: req,
            },
        );
        Ok(Response::new(RegistrationResponse {
            node_id: st.node_id.clone(),
            credential,
            task_signing_key: st.public_key(),
            policy: Some(st.policy.lock().unwrap().clone()),
            heartbeat_interval_secs: st.heartbeat_secs.load(Ordering::SeqCst),
            owner: "tester".to_owned(),
        }))
    }

    type TaskStreamStream = Out<GatewayMessage>;

    async fn task_stream(
        &self,
        request: Request<Streaming<NodeMessage>>,
    ) -> Result<Response<Self::TaskStreamStream>, Status> {
        let st = Arc::clone(&self.state);
        let auth = authorization(&request);
        st.record(
            self.instance,
            Event::TaskStreamOpened {
                authorization: auth.clone(),
            },
        );
        if auth.as_deref() != Some(st.bearer().as_str()) {
            return Err(Status::unauthenticated("unknown node credential"));
        }
        let mut inbound = request.into_inner();
        let (tx, rx) = mpsc::unbounded_channel();
        let id = u64::from(st.streams.fetch_add(1, Ordering::SeqCst));
        let acks = tx.clone();
        *st.to_node.lock().unwrap() = Some((id, tx));
        let instance = self.instance;
        tokio::spawn(async move {
            while let Some(Ok(msg)) = inbound.next().await {
                let event = match msg.kind {
                    Some(node_message::Kind::Hello(h)) => Event::Hello(h),
                    Some(node_message::Kind::Progress(p)) => Event::Progress(p),
                    Some(node_message::Kind::Result(r)) => {
                        if st.acknowledge.load(Ordering::SeqCst) {
                            let _ = acks.send(Ok(GatewayMessage {
                                kind: Some(gateway_message::Kind::ResultAck(ResultAck {
                                    task_id: r.task_id.clone(),
                                })),
                            }));
                        }
                        Event::Result(r)
                    }
                    None => continue,
                };
                st.record(instance, event);
            }
            drop(acks);
            // The node closed its side: close ours too.
            let mut current = st.to_node.lock().unwrap();
            if current.as_ref().is_some_and(|(i, _)| *i == id) {
                *current = None;
            }
        });
        Ok(Response::new(Box::pin(UnboundedReceiverStream::new(rx))))
    }

    type ReportHealthStream = Out<HealthAck>;

    async fn report_health(
        &self,
        request: Request<Streaming<Heartbeat>>,
    ) -> Result<Response<Self::ReportHealthStream>, Status> {
        let st = Arc::clone(&self.state);
        let auth = authorization(&request);
        st.record(
            self.instance,
            Event::HealthStreamOpened {
                authorization: auth.clone(),
            },
        );
        if auth.as_deref() != Some(st.bearer().as_str()) {
            return Err(Status::unauthenticated("unknown node credential"));
        }
        let mut inbound = request.into_inner();
        let (tx, rx) = mpsc::unbounded_channel();
        let instance = self.instance;
        tokio::spawn(async move {
            while let Some(Ok(beat)) = inbound.next().await {
                st.record(instance, Event::Heartbeat(beat));
                let _ = tx.send(Ok(HealthAck {
                    received_at_ms: now_ms(),
                }));
            }
        });
        Ok(Response::new(Box::pin(UnboundedReceiverStream::new(rx))))
    }
}

/// The fake gateway's server, on a runtime of its own: stopping it drops
/// every connection at once, as a gateway restart would.
pub struct FakeGateway {
    pub state: Arc<GatewayState>,
    pub pki: Pki,
    pub addr: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
}

impl FakeGateway {
    pub fn start(state: Arc<GatewayState>) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut gw = Self {
            state,
            pki: Pki::new(),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            runtime: None,
        };
        gw.serve();
        gw
    }

    fn serve(&mut self) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let instance = self.state.instance.fetch_add(1, Ordering::SeqCst) + 1;
        let addr = self.addr;
        let listener = runtime.block_on(async move {
            // The port may still be held by connections of the previous run.
            let deadline = Instant::now() + WAIT;
            loop {
                let socket = tokio::net::TcpSocket::new_v4().unwrap();
                socket.set_reuseaddr(true).unwrap();
                match socket.bind(addr).and_then(|()| socket.listen(128)) {
                    Ok(l) => break l,
                    Err(e) => {
                        assert!(Instant::now() < deadline, "cannot bind {addr}: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        });
        self.addr = listener.local_addr().unwrap();
        let service = Service {
            state: Arc::clone(&self.state),
            instance,
        };
        let tls = ServerTlsConfig::new()
            .identity(Identity::from_pem(&self.pki.cert_pem, &self.pki.key_pem));
        let server = Server::builder()
            .tls_config(tls)
            .unwrap()
            .add_service(AgentNodeServer::new(service))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
        runtime.spawn(server);
        self.runtime = Some(runtime);
    }

    /// Stops the server and drops every connection.
    pub fn stop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(5));
        }
        *self.state.to_node.lock().unwrap() = None;
    }

    /// Starts the server again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        self.serve();
    }

    pub fn instance(&self) -> u32 {
        self.state.instance.load(Ordering::SeqCst)
    }
}

impl Drop for FakeGateway {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}
