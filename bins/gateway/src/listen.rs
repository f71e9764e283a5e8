//! The accept side of the gateway's three listeners, bounded against hostile
//! clients: idle sockets, half-open handshakes and floods.
//!
//! Every listener admits a connection only under its caps (in total and per
//! remote address); the excess is accepted and closed at once, so it never
//! waits in the kernel's backlog. Admitted sockets get `TCP_NODELAY`. A TLS
//! client has `handshake_timeout` to finish its handshake, in its own task, so
//! a slow one holds up nobody else. After that, [`Conn`] closes the connection
//! once no request has been in flight for `idle_timeout`, and on HTTP/1 hyper
//! closes a connection whose next request's headers take longer than
//! `header_read_timeout`. The HTTP API and the federation listener share
//! [`serve_http`]; the agent-node listener hands tonic the stream of
//! [`tls_incoming`] connections.

mod conn;

use conn::{Admission, Refusal};
pub use conn::{Conn, ConnInfo, Slot, TrackInFlightLayer};

use crate::federation::PeerChain;
use axum::Router;
use axum::body::Body;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use mosaic_config::ListenerLimits;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;

/// Open files kept back from the connection caps: the store's pool, the data
/// dir, outbound peer connections, logs.
const RESERVED_FILES: u64 = 256;

/// The listeners sharing the process's open-file limit.
const LISTENERS: u64 = 3;

/// How often refusals over a cap are logged, at most.
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(10);

fn secs(v: std::num::NonZeroU64) -> Duration {
    Duration::from_secs(v.get())
}

/// Raises this process's open-file soft limit to its hard limit and returns
/// the soft limit in force afterwards.
///
/// # Errors
/// When the limits cannot be read; a refused raise leaves the old limit.
pub fn raise_open_file_limit() -> Result<u64, nix::errno::Errno> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    // An unlimited hard limit is capped by the kernel (nr_open, OPEN_MAX) anyway.
    let want = hard.min(1 << 20);
    if soft < want
        && let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, want, hard)
    {
        tracing::warn!(error = %e, soft, hard, "cannot raise the open-file limit");
    }
    Ok(getrlimit(Resource::RLIMIT_NOFILE)?.0)
}

/// The open-file soft limit in force, when it can be read.
pub fn open_file_limit() -> Option<u64> {
    nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .ok()
        .map(|(soft, _)| soft)
}

/// `limits` with `max_connections` lowered, when needed, so that every
/// listener full at once still leaves [`RESERVED_FILES`] of `open_files`.
pub fn fit_open_files(mut limits: ListenerLimits, open_files: Option<u64>) -> ListenerLimits {
    let Some(open_files) = open_files else {
        return limits;
    };
    let fits = open_files.saturating_sub(RESERVED_FILES) / LISTENERS;
    let fits = usize::try_from(fits).unwrap_or(usize::MAX);
    if let Some(fits) = std::num::NonZeroUsize::new(fits)
        && fits < limits.max_connections
    {
        limits.max_connections = fits;
    }
    if limits.max_connections_per_ip > limits.max_connections {
        limits.max_connections_per_ip = limits.max_connections;
    }
    limits
}

/// A bound TCP listener with its caps.
#[derive(Debug)]
pub struct Listener {
    tcp: TcpListener,
    admission: Arc<Admission>,
    name: &'static str,
    refused: RefusalLog,
}

#[derive(Debug)]
struct RefusalLog {
    since_last: u64,
    last: Option<Instant>,
}

impl Listener {
    /// `tcp` under the caps of `limits`; `name` labels its log lines.
    pub fn new(tcp: TcpListener, limits: &ListenerLimits, name: &'static str) -> Self {
        Self {
            tcp,
            admission: Admission::new(
                limits.max_connections.get(),
                limits.max_connections_per_ip.get(),
            ),
            name,
            refused: RefusalLog {
                since_last: 0,
                last: None,
            },
        }
    }

    /// The next admitted connection. Connections over a cap are closed as
    /// soon as they are accepted; accept errors (out of file descriptors)
    /// pause the loop briefly instead of spinning.
    pub async fn accept(&mut self) -> (TcpStream, SocketAddr, Slot) {
        loop {
            let (tcp, remote) = match self.tcp.accept().await {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(listener = self.name, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            match self.admission.admit(remote.ip()) {
                Ok(slot) => {
                    // Small messages (task output lines, gRPC frames) must not
                    // wait for the peer's delayed ACK.
                    let _ = tcp.set_nodelay(true);
                    return (tcp, remote, slot);
                }
                Err(refusal) => {
                    drop(tcp);
                    self.log_refusal(remote, refusal);
                }
            }
        }
    }

    fn log_refusal(&mut self, remote: SocketAddr, refusal: Refusal) {
        self.refused.since_last += 1;
        let due = self
            .refused
            .last
            .is_none_or(|at| at.elapsed() >= REFUSAL_LOG_EVERY);
        if due {
            tracing::warn!(
                listener = self.name,
                %remote,
                reason = refusal.as_str(),
                refused = self.refused.since_last,
                open = self.admission.open_connections(),
                "connections refused over the cap"
            );
            self.refused.since_last = 0;
            self.refused.last = Some(Instant::now());
        } else {
            tracing::debug!(listener = self.name, %remote, reason = refusal.as_str(), "connection refused");
        }
    }
}

/// Completes a TLS handshake within `timeout`.
async fn handshake(
    acceptor: &TlsAcceptor,
    tcp: TcpStream,
    remote: SocketAddr,
    timeout: Duration,
    listener: &'static str,
) -> Option<TlsStream<TcpStream>> {
    match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => Some(stream),
        Ok(Err(e)) => {
            tracing::debug!(listener, %remote, error = %e, "TLS handshake refused");
            None
        }
        Err(_) => {
            tracing::debug!(listener, %remote, "TLS handshake timed out");
            None
        }
    }
}

/// Serves `app` over HTTP/1 on `listener` (over TLS when `tls` is given, each
/// request then carrying the client's [`PeerChain`]) until `shutdown` turns
/// true; then stops accepting and lets in-flight requests finish for at most
/// `limits.shutdown_grace_secs`.
pub async fn serve_http(
    mut listener: Listener,
    tls: Option<TlsAcceptor>,
    app: Router,
    limits: &ListenerLimits,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    // Without a timer hyper enforces no header-read timeout at all. The timer
    // also runs while a keep-alive connection waits for its next request.
    http.timer(TokioTimer::new())
        .header_read_timeout(secs(limits.header_read_timeout_secs));
    let handshake_timeout = secs(limits.handshake_timeout_secs);
    let idle_timeout = secs(limits.idle_timeout_secs);
    let grace = secs(limits.shutdown_grace_secs);
    let name = listener.name;
    let graceful = GracefulShutdown::new();
    loop {
        let (tcp, remote, slot) = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.wait_for(|stop| *stop) => break,
        };
        let (app, http, tls, watcher) =
            (app.clone(), http.clone(), tls.clone(), graceful.watcher());
        tokio::spawn(async move {
            match tls {
                None => {
                    let conn = Conn::new(tcp, remote, slot, idle_timeout);
                    serve_connection(conn, None, app, &http, watcher).await;
                }
                Some(acceptor) => {
                    let Some(stream) =
                        handshake(&acceptor, tcp, remote, handshake_timeout, name).await
                    else {
                        return;
                    };
                    let chain = stream
                        .get_ref()
                        .1
                        .peer_certificates()
                        .map(|c| c.iter().map(|d| d.clone().into_owned()).collect())
                        .unwrap_or_default();
                    let conn = Conn::new(stream, remote, slot, idle_timeout);
                    let chain = PeerChain(Arc::new(chain));
                    serve_connection(conn, Some(chain), app, &http, watcher).await;
                }
            }
        });
    }
    // Close the port first: new clients are refused rather than left waiting.
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::info!(
            listener = name,
            "requests still in flight at shutdown: closed"
        );
    }
}

async fn serve_connection<IO>(
    conn: Conn<IO>,
    chain: Option<PeerChain>,
    app: Router,
    http: &hyper::server::conn::http1::Builder,
    watcher: Watcher,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let info = conn.info();
    let remote = info.remote;
    let service = tower::ServiceBuilder::new()
        .map_request(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(info.clone());
            if let Some(chain) = &chain {
                request.extensions_mut().insert(chain.clone());
            }
            request.map(Body::new)
        })
        .layer(TrackInFlightLayer)
        .service(app);
    let connection = http.serve_connection(TokioIo::new(conn), TowerToHyperService::new(service));
    if let Err(e) = watcher.watch(connection).await {
        tracing::debug!(%remote, error = %e, "connection ended");
    }
}

/// The connections of a TLS listener, handshaken, for tonic's
/// `serve_with_incoming_shutdown`. Accepting stops when `shutdown` turns true.
pub fn tls_incoming(
    mut listener: Listener,
    acceptor: TlsAcceptor,
    limits: &ListenerLimits,
    mut shutdown: watch::Receiver<bool>,
) -> ReceiverStream<std::io::Result<Conn<TlsStream<TcpStream>>>> {
    let handshake_timeout = secs(limits.handshake_timeout_secs);
    let idle_timeout = secs(limits.idle_timeout_secs);
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        let name = listener.name;
        loop {
            let (tcp, remote, slot) = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = shutdown.wait_for(|stop| *stop) => break,
            };
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                if let Some(stream) =
                    handshake(&acceptor, tcp, remote, handshake_timeout, name).await
                {
                    let _ = tx
                        .send(Ok(Conn::new(stream, remote, slot, idle_timeout)))
                        .await;
                }
            });
        }
    });
    ReceiverStream::new(rx)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::num::NonZeroUsize;

    fn with_caps(total: usize, per_ip: usize) -> ListenerLimits {
        ListenerLimits {
            max_connections: NonZeroUsize::new(total).unwrap(),
            max_connections_per_ip: NonZeroUsize::new(per_ip).unwrap(),
            ..ListenerLimits::default()
        }
    }

    fn with_timeouts(header_read: u64, idle: u64) -> ListenerLimits {
        use std::num::NonZeroU64;
        ListenerLimits {
            header_read_timeout_secs: NonZeroU64::new(header_read).unwrap(),
            idle_timeout_secs: NonZeroU64::new(idle).unwrap(),
            ..ListenerLimits::default()
        }
    }

    /// A plain HTTP listener serving `/` and a `/stream` that sends a line
    /// every 600 ms for 2.4 s.
    async fn server(limits: ListenerLimits) -> (SocketAddr, watch::Sender<bool>) {
        use axum::body::Bytes;
        use axum::routing::get;
        let app = Router::new().route("/", get(|| async { "ok" })).route(
            "/stream",
            get(|| async {
                let ticks = futures_util::stream::unfold(0, |n| async move {
                    (n < 4).then_some(())?;
                    tokio::time::sleep(Duration::from_millis(600)).await;
                    Some((
                        Ok::<_, std::io::Error>(Bytes::from(format!("{n}\n"))),
                        n + 1,
                    ))
                });
                Body::from_stream(ticks)
            }),
        );
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(async move {
            serve_http(
                Listener::new(tcp, &limits, "test"),
                None,
                app,
                &limits,
                stopped,
            )
            .await;
        });
        (addr, stop)
    }

    /// Sends one keep-alive request on a fresh connection, reads its whole
    /// response, then returns how long the idle connection stayed open.
    async fn open_after_response(addr: SocketAddr, path: &str) -> (String, Duration) {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n");
        tcp.write_all(request.as_bytes()).await.unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        let mut answered = None;
        loop {
            match tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut buf)).await {
                Ok(Ok(0) | Err(_)) => break,
                Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
                Err(_) => panic!("connection never closed"),
            }
            // The end of a chunked body, or of a short fixed-length one.
            if got.ends_with(b"0\r\n\r\n") || got.ends_with(b"\r\n\r\nok") {
                answered = Some(Instant::now());
            }
        }
        let answered = answered.expect("a complete response");
        (
            String::from_utf8_lossy(&got).into_owned(),
            answered.elapsed(),
        )
    }

    #[tokio::test]
    async fn an_idle_keep_alive_connection_closes_on_either_timeout() {
        for (header_read, idle) in [(1, 30), (30, 1)] {
            let (addr, _stop) = server(with_timeouts(header_read, idle)).await;
            let (_, open) = open_after_response(addr, "/").await;
            assert!(
                open >= Duration::from_millis(900) && open < Duration::from_secs(3),
                "header read {header_read}s, idle {idle}s: open {open:?} after the response"
            );
        }
    }

    #[tokio::test]
    async fn a_streamed_response_is_not_idle() {
        let (addr, _stop) = server(with_timeouts(30, 1)).await;
        let (response, open) = open_after_response(addr, "/stream").await;
        assert!(
            response.contains("0\n") && response.contains("3\n"),
            "{response}"
        );
        assert!(
            open >= Duration::from_millis(900),
            "then idle: open {open:?}"
        );
    }

    #[test]
    fn caps_fit_under_the_open_file_limit() {
        for (caps, files, want) in [
            ((1024, 256), Some(1_048_576), (1024, 256)),
            ((1024, 256), None, (1024, 256)),
            // (1024 - 256) / 3 listeners
            ((1024, 256), Some(1024), (256, 256)),
            ((1024, 512), Some(1024), (256, 256)),
            // Nothing fits: the configured caps stand.
            ((1024, 256), Some(100), (1024, 256)),
        ] {
            let got = fit_open_files(with_caps(caps.0, caps.1), files);
            assert_eq!(
                (got.max_connections.get(), got.max_connections_per_ip.get()),
                want,
                "{caps:?} under {files:?}"
            );
        }
    }
}
