//! Every listener against hostile clients, with the real gateway binary on
//! loopback: floods of silent sockets, TLS sessions that go silent after the
//! handshake and half-open handshakes neither stop `/healthz`, a granted
//! federation request or a gRPC call from answering, nor outlive their
//! timeouts; a per-address cap refuses its excess at once; an oversized body
//! gets 413 with the error envelope.
//!
//! Hostile clients connect from their own loopback addresses (127.0.0.2 and
//! up), so the caps they fill are not the legitimate client's (127.0.0.1).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use chrono::Utc;
use mosaic_agent_proto::v1::RegistrationRequest;
use mosaic_agent_proto::v1::agent_node_client::AgentNodeClient;
use mosaic_federation_client::{PeerClient, PeerClientConfig};
use mosaic_identity::CertificateAuthority;
use mosaic_identity::testing::TestPki;
use mosaic_store::entity::{federation_grants, federation_peers, users};
use mosaic_store::sea_orm::{ActiveModelTrait, IntoActiveModel};
use mosaic_store::{Store, StoreOptions};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use support::{Gateway, command};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;

/// Silent TCP connections per listener.
const SILENT: usize = 300;
/// TLS sessions (or, on the plain HTTP listener, half-sent request heads)
/// per listener.
const SESSIONS: usize = 40;
/// Half-open handshakes per listener.
const HALF_OPEN: usize = 40;
/// How late after its timeout a connection may close on a busy machine.
const SLACK: Duration = Duration::from_secs(3);
/// How long a legitimate request may take while the flood is on.
const ANSWER_WITHIN: Duration = Duration::from_secs(2);

/// The start of a ClientHello announcing 512 bytes, of which 11 ever arrive.
const PARTIAL_CLIENT_HELLO: &[u8] = &[
    0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
];

fn loopback(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

fn addr(s: &str) -> SocketAddr {
    s.trim_start_matches("http://")
        .trim_start_matches("https://")
        .parse()
        .unwrap()
}

/// The flood needs a few thousand descriptors on each side.
fn raise_fd_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    let want = hard.min(1 << 16);
    if soft < want {
        setrlimit(Resource::RLIMIT_NOFILE, want, hard).unwrap();
    }
    let (soft, _) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    assert!(
        soft >= 4096,
        "open-file limit {soft} is too low for the flood"
    );
}

/// A gateway with `[limits]` overridden through `MOSAIC_LIMITS__*`.
fn start(home: &Path, limits: &[(&str, &str)]) -> Gateway {
    support::crypto();
    raise_fd_limit();
    let mut cmd = command(home);
    for (key, value) in limits {
        cmd.env(format!("MOSAIC_LIMITS__{}", key.to_uppercase()), value);
    }
    Gateway::start(cmd, home.join("data/mosaic"))
}

fn ca_pem(gw: &Gateway) -> String {
    std::fs::read_to_string(gw.data_dir.join("pki/ca.crt")).unwrap()
}

async fn connect_from(source: IpAddr, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(source, 0)).unwrap();
    socket.connect(to).await.unwrap()
}

fn tls_connector(ca_pem: &str, alpn: &[u8]) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    TlsConnector::from(Arc::new(config))
}

fn localhost() -> ServerName<'static> {
    ServerName::try_from("localhost").unwrap()
}

/// A group of connections the server must close, each watched by a reader
/// that notes when its read ended (EOF or reset).
struct Flood {
    what: String,
    started: Instant,
    all_open: Instant,
    readers: JoinSet<Instant>,
}

impl Flood {
    fn new(what: impl Into<String>) -> Flood {
        Flood {
            what: what.into(),
            started: Instant::now(),
            all_open: Instant::now(),
            readers: JoinSet::new(),
        }
    }

    fn watch<S: AsyncRead + Unpin + Send + 'static>(&mut self, mut stream: S) {
        self.readers.spawn(async move {
            let mut buf = [0u8; 4096];
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return Instant::now(),
                    Ok(_) => {}
                }
            }
        });
        self.all_open = Instant::now();
    }

    /// Silent TCP connections.
    async fn silent(mut self, n: usize, from: IpAddr, to: SocketAddr) -> Flood {
        for _ in 0..n {
            self.watch(connect_from(from, to).await);
        }
        self
    }

    /// Connections that send `bytes` and then nothing.
    async fn sending(mut self, n: usize, from: IpAddr, to: SocketAddr, bytes: &[u8]) -> Flood {
        for _ in 0..n {
            let mut tcp = connect_from(from, to).await;
            tcp.write_all(bytes).await.unwrap();
            self.watch(tcp);
        }
        self
    }

    /// TLS sessions without a client certificate: handshake completed, then
    /// nothing.
    async fn tls_sessions(
        mut self,
        n: usize,
        from: IpAddr,
        to: SocketAddr,
        tls: &TlsConnector,
    ) -> Flood {
        let mut handshakes = JoinSet::new();
        for _ in 0..n {
            let tls = tls.clone();
            handshakes.spawn(async move {
                let tcp = connect_from(from, to).await;
                tls.connect(localhost(), tcp).await.expect("TLS handshake")
            });
        }
        while let Some(stream) = handshakes.join_next().await {
            self.watch(stream.unwrap());
        }
        self
    }

    /// Asserts that the server closed every connection: none sooner than
    /// `timeout` after the first was opened (they were admitted, not refused),
    /// all by `timeout` + [`SLACK`] after the last. Returns when the last closed,
    /// from the first opened.
    async fn closed_after(mut self, timeout: Duration) -> Duration {
        let deadline = self.all_open + timeout + SLACK;
        let total = self.readers.len();
        let mut first = None::<Instant>;
        let mut last = self.started;
        while !self.readers.is_empty() {
            let Ok(joined) = tokio::time::timeout_at(deadline, self.readers.join_next()).await
            else {
                panic!(
                    "{}: {} of {total} connections still open {:?} after the last was opened",
                    self.what,
                    self.readers.len(),
                    deadline - self.all_open
                );
            };
            let at = joined.unwrap().unwrap();
            first = Some(first.map_or(at, |f| f.min(at)));
            last = last.max(at);
        }
        let first = first.unwrap() - self.started;
        assert!(
            first + Duration::from_millis(250) >= timeout,
            "{}: a connection closed after {first:?}, before its {timeout:?} timeout",
            self.what
        );
        let took = last - self.started;
        println!(
            "{}: {total} closed between {first:?} and {took:?} (timeout {timeout:?})",
            self.what
        );
        took
    }

    /// How many connections have closed so far.
    fn closed_now(&mut self) -> usize {
        let mut closed = 0;
        while self.readers.try_join_next().is_some() {
            closed += 1;
        }
        closed
    }
}

/// A granted peer for the federation listener: user, peer and grant rows,
/// and a client certificate from the gateway's own CA.
async fn granted_peer(gw: &Gateway) -> PeerClient {
    let ca = CertificateAuthority::from_pem(
        &std::fs::read_to_string(gw.data_dir.join("pki/ca.crt")).unwrap(),
        &std::fs::read_to_string(gw.data_dir.join("pki/ca.key")).unwrap(),
    )
    .unwrap();
    let pki = TestPki { ca };
    let cert = pki.client("grant-flood", "S");
    let store = Store::open(&StoreOptions::embedded(&gw.data_dir))
        .await
        .unwrap();
    let db = store.conn();
    let now = Utc::now();
    users::Model {
        id: "S".into(),
        name: "S".into(),
        email: "s@example.test".into(),
        email_verified: true,
        created_at: now,
        updated_at: now,
    }
    .into_active_model()
    .insert(db)
    .await
    .unwrap();
    federation_peers::Model {
        id: "peer-flood".into(),
        common_name: "peer-flood".into(),
        display_name: "peer-flood".into(),
        cert_pem: String::new(),
        cert_serial: cert.serial.to_string(),
        cert_not_after: now + chrono::Duration::days(1),
        state: "active".into(),
        endpoint_url: None,
        client_key_pem: None,
        ca_pem: None,
        local_user_id: None,
        refusal: None,
        created_at: now,
        updated_at: now,
    }
    .into_active_model()
    .insert(db)
    .await
    .unwrap();
    federation_grants::Model {
        id: "grant-flood".into(),
        peer_id: "peer-flood".into(),
        subject_user_id: "S".into(),
        status: "active".into(),
        scope: json!({"resources": ["tasks"], "excluded_resources": [], "max_rows_per_query": 10}),
        expires_at: None,
        revoked_at: None,
        revoked_reason: None,
        created_at: now,
        updated_at: now,
    }
    .into_active_model()
    .insert(db)
    .await
    .unwrap();
    store.close().await.unwrap();
    PeerClient::new(PeerClientConfig::new(
        "gw",
        gw.federation_url.clone(),
        pki.ca_pem(),
        cert.cert_pem.clone(),
        cert.key_pem.clone(),
    ))
    .unwrap()
}

async fn healthz_answers(gw: &Gateway) -> Duration {
    let started = Instant::now();
    let response = reqwest::Client::new()
        .get(gw.url("/healthz"))
        .timeout(ANSWER_WITHIN)
        .send()
        .await
        .expect("/healthz answers in time");
    assert_eq!(response.status(), 200);
    started.elapsed()
}

async fn federation_answers(peer: &PeerClient) -> Duration {
    let started = Instant::now();
    let caps = tokio::time::timeout(ANSWER_WITHIN, peer.capabilities())
        .await
        .expect("the granted peer is answered in time")
        .expect("the granted peer is served");
    assert_eq!(caps.max_rows_per_query, 10);
    started.elapsed()
}

/// A gRPC call over a fresh TLS connection: an unknown invite is refused by
/// the service itself, so handshake, HTTP/2 and tonic all answered.
async fn grpc_answers(gw: &Gateway, ca_pem: &str) -> Duration {
    use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};
    let started = Instant::now();
    let endpoint = Endpoint::from_shared(format!("https://{}", gw.node_addr))
        .unwrap()
        .tls_config(
            ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(ca_pem))
                .domain_name("localhost"),
        )
        .unwrap();
    let status = tokio::time::timeout(ANSWER_WITHIN, async {
        let channel = endpoint
            .connect()
            .await
            .expect("TLS handshake with the node listener");
        AgentNodeClient::new(channel)
            .sync_configuration(RegistrationRequest {
                invite_token: "not-an-invite".into(),
                ..Default::default()
            })
            .await
    })
    .await
    .expect("the node listener answers in time")
    .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated, "{status}");
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_listener_serves_through_a_flood_and_closes_it_on_time() {
    let home = tempfile::tempdir().unwrap();
    let (handshake, header_read, idle) = (2, 2, 3);
    let gw = start(
        home.path(),
        &[
            ("handshake_timeout_secs", &handshake.to_string()),
            ("header_read_timeout_secs", &header_read.to_string()),
            ("idle_timeout_secs", &idle.to_string()),
            ("max_connections", "2000"),
            ("max_connections_per_ip", &SILENT.to_string()),
        ],
    );
    let secs = Duration::from_secs;
    let ca = ca_pem(&gw);
    let peer = granted_peer(&gw).await;
    let (http, federation, nodes) = (
        addr(&gw.base_url),
        addr(&gw.federation_url),
        addr(&gw.node_addr),
    );
    let (silent, sessions, half_open) = (loopback(2), loopback(3), loopback(4));

    let flood_started = Instant::now();
    let floods = vec![
        // The plain HTTP listener: silent sockets and half-sent heads meet the
        // header-read timeout, as does a keep-alive connection after its request.
        (
            Flood::new("http silent").silent(SILENT, silent, http).await,
            secs(header_read),
        ),
        (
            Flood::new("http half-sent head")
                .sending(
                    SESSIONS,
                    sessions,
                    http,
                    b"GET /healthz HTTP/1.1\r\nHost: flood\r\n",
                )
                .await,
            secs(header_read),
        ),
        (
            Flood::new("http keep-alive after one request")
                .sending(
                    HALF_OPEN,
                    half_open,
                    http,
                    b"GET /healthz HTTP/1.1\r\nHost: flood\r\n\r\n",
                )
                .await,
            secs(header_read),
        ),
        // Federation (mTLS, certificate optional at the handshake).
        (
            Flood::new("federation silent")
                .silent(SILENT, silent, federation)
                .await,
            secs(handshake),
        ),
        (
            Flood::new("federation TLS sessions without a certificate")
                .tls_sessions(
                    SESSIONS,
                    sessions,
                    federation,
                    &tls_connector(&ca, b"http/1.1"),
                )
                .await,
            secs(header_read),
        ),
        (
            Flood::new("federation half-open handshakes")
                .sending(HALF_OPEN, half_open, federation, PARTIAL_CLIENT_HELLO)
                .await,
            secs(handshake),
        ),
        // Agent nodes (gRPC over TLS): a completed session with no stream is idle.
        (
            Flood::new("nodes silent")
                .silent(SILENT, silent, nodes)
                .await,
            secs(handshake),
        ),
        (
            Flood::new("nodes TLS sessions")
                .tls_sessions(SESSIONS, sessions, nodes, &tls_connector(&ca, b"h2"))
                .await,
            secs(idle),
        ),
        (
            Flood::new("nodes half-open handshakes")
                .sending(HALF_OPEN, half_open, nodes, PARTIAL_CLIENT_HELLO)
                .await,
            secs(handshake),
        ),
    ];
    println!(
        "flood of {} connections opened in {:?}",
        3 * (SILENT + SESSIONS + HALF_OPEN),
        flood_started.elapsed()
    );

    // Everything legitimate still answers, from 127.0.0.1.
    let took = healthz_answers(&gw).await;
    println!("/healthz answered in {took:?} during the flood");
    let took = federation_answers(&peer).await;
    println!("federation capabilities answered in {took:?} during the flood");
    let took = grpc_answers(&gw, &ca).await;
    println!("gRPC call answered in {took:?} during the flood");

    // And the server closes every flooding connection on its timeout.
    let mut closing = JoinSet::new();
    for (flood, timeout) in floods {
        closing.spawn(flood.closed_after(timeout));
    }
    while let Some(closed) = closing.join_next().await {
        closed.unwrap();
    }
    println!("flood shed {:?} after it started", flood_started.elapsed());

    // The slots came back: the flooding address is admitted again.
    let mut again = Flood::new("http silent, again")
        .silent(10, silent, http)
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(again.closed_now(), 0, "admitted once the flood is gone");
    healthz_answers(&gw).await;
    assert!(gw.terminate().success());
}

/// Reads one HTTP/1 response: status and JSON body.
async fn read_response<S: AsyncRead + Unpin>(stream: &mut S) -> (u16, Value) {
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).to_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            if got.len() >= end + 4 + length {
                let status = head[9..12].parse().unwrap();
                let body = serde_json::from_slice(&got[end + 4..end + 4 + length]).unwrap();
                return (status, body);
            }
        }
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => panic!(
                "connection closed mid-response: {}",
                String::from_utf8_lossy(&got)
            ),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!("no response: {}", String::from_utf8_lossy(&got)),
        }
    }
}

/// Sends a request head announcing a body over the limit, and no body.
async fn declared_too_large<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    path: &str,
    token: &str,
) -> (u16, Value) {
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 1048576\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    read_response(stream).await
}

fn assert_too_large((status, body): (u16, Value), max_body: u64) {
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["code"], "payload_too_large", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&max_body.to_string()),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn caps_refuse_the_excess_at_once_and_bodies_are_bounded() {
    let home = tempfile::tempdir().unwrap();
    let per_ip = 50;
    let max_body = 65_536;
    let gw = start(
        home.path(),
        &[
            ("max_connections_per_ip", &per_ip.to_string()),
            ("max_body_bytes", &max_body.to_string()),
            ("handshake_timeout_secs", "30"),
            ("header_read_timeout_secs", "30"),
        ],
    );
    let ca = ca_pem(&gw);
    let excess = 10;
    let source = loopback(5);

    // Per address, on each listener: the excess is closed at once, the rest
    // stays open.
    for (name, to) in [
        ("http", addr(&gw.base_url)),
        ("federation", addr(&gw.federation_url)),
        ("nodes", addr(&gw.node_addr)),
    ] {
        let mut flood = Flood::new(name).silent(per_ip + excess, source, to).await;
        let opened = Instant::now();
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let closed = flood.closed_now();
        println!(
            "{name}: {closed} of {} refused within {:?}",
            per_ip + excess,
            opened.elapsed()
        );
        assert_eq!(
            closed, excess,
            "{name}: exactly the excess is refused, at once"
        );
        drop(flood);
        // The refused address is admitted again once its connections close.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut again = Flood::new(name).silent(per_ip, source, to).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(again.closed_now(), 0, "{name}: slots are freed on close");
    }
    healthz_answers(&gw).await;

    let token = gw.admin_token.clone().unwrap();
    let http = addr(&gw.base_url);

    // Declared too large: 413 before any handler runs.
    let mut tcp = TcpStream::connect(http).await.unwrap();
    assert_too_large(
        declared_too_large(&mut tcp, "/api/admin/v1/users", &token).await,
        max_body,
    );

    // Streamed without a length: cut once the handler reads past the limit.
    let mut tcp = TcpStream::connect(http).await.unwrap();
    let head = format!(
        "POST /api/admin/v1/users HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let (mut reader, mut writer) = tcp.into_split();
    let sent = tokio::spawn(async move {
        let chunk = vec![b' '; 8192];
        let mut sent = 0usize;
        while sent < 16 << 20 {
            let frame = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
            if writer.write_all(&frame).await.is_err() {
                break;
            }
            sent += chunk.len();
        }
        sent
    });
    assert_too_large(read_response(&mut reader).await, max_body);
    drop(reader);
    let sent = tokio::time::timeout(Duration::from_secs(10), sent)
        .await
        .expect("the gateway closed the connection")
        .unwrap();
    assert!(
        sent < 16 << 20,
        "the gateway stopped reading ({sent} bytes sent)"
    );

    // The federation router has the same limit, before its auth layer.
    let tls = tls_connector(&ca, b"http/1.1");
    let tcp = TcpStream::connect(addr(&gw.federation_url)).await.unwrap();
    let mut stream = tls.connect(localhost(), tcp).await.unwrap();
    assert_too_large(
        declared_too_large(&mut stream, "/api/federation/v1/list/tasks", "none").await,
        max_body,
    );

    assert!(gw.terminate().success());
}
