//! One accepted connection: its slot under the listener's caps, and the idle
//! clock that closes it when no request has been in flight for a while.

use axum::http::{Request, Response};
use hyper::body::{Body, Frame, SizeHint};
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// The connection caps of one listener: in total, and per remote address.
#[derive(Debug)]
pub struct Admission {
    max_total: usize,
    max_per_ip: usize,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The listener holds its maximum of connections.
    ListenerFull,
    /// The remote address holds its maximum of connections.
    AddressFull,
}

impl Refusal {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::ListenerFull => "listener at max_connections",
            Self::AddressFull => "address at max_connections_per_ip",
        }
    }
}

impl Admission {
    /// Caps of `max_total` connections, `max_per_ip` of them from one address.
    pub fn new(max_total: usize, max_per_ip: usize) -> Arc<Self> {
        Arc::new(Self {
            max_total,
            max_per_ip,
            open: Mutex::new(Open::default()),
        })
    }

    fn open(&self) -> MutexGuard<'_, Open> {
        // The counts stay consistent under a panic: each update is one statement.
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A slot for a connection from `ip`, held until the slot is dropped.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, Refusal> {
        // An IPv4 client on a dual-stack socket counts as its IPv4 address.
        let ip = ip.to_canonical();
        let mut open = self.open();
        if open.total >= self.max_total {
            return Err(Refusal::ListenerFull);
        }
        let from_ip = open.per_ip.entry(ip).or_default();
        if *from_ip >= self.max_per_ip {
            return Err(Refusal::AddressFull);
        }
        *from_ip += 1;
        open.total += 1;
        Ok(Slot {
            admission: self.clone(),
            ip,
        })
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        self.open().total
    }
}

/// One admitted connection's place under the caps; dropping it frees the place.
#[derive(Debug)]
pub struct Slot {
    admission: Arc<Admission>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.admission.open();
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.per_ip.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.per_ip.remove(&self.ip);
            }
        }
    }
}

/// Requests in flight on one connection, and since when it has had none.
#[derive(Debug)]
pub struct Activity {
    in_flight: AtomicUsize,
    idle: Mutex<Idle>,
}

#[derive(Debug)]
struct Idle {
    since: Instant,
    /// The connection's reader, woken when the last request ends so that it
    /// starts the idle clock.
    reader: Option<Waker>,
}

impl Activity {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            in_flight: AtomicUsize::new(0),
            idle: Mutex::new(Idle {
                since: Instant::now(),
                reader: None,
            }),
        })
    }

    fn idle(&self) -> MutexGuard<'_, Idle> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks a request in flight until the returned guard is dropped.
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(self.clone())
    }

    /// When the connection becomes idle past `timeout`; `None` while a request
    /// is in flight (the reader is then woken when the last one ends).
    fn idle_deadline(&self, timeout: Duration, reader: &Waker) -> Option<Instant> {
        let mut idle = self.idle();
        if !idle.reader.as_ref().is_some_and(|w| w.will_wake(reader)) {
            idle.reader = Some(reader.clone());
        }
        (self.in_flight.load(Ordering::SeqCst) == 0).then(|| idle.since + timeout)
    }
}

/// A request in flight; the connection is not idle while one exists.
#[derive(Debug)]
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            let mut idle = self.0.idle();
            idle.since = Instant::now();
            if let Some(reader) = idle.reader.take() {
                reader.wake();
            }
        }
    }
}

/// What every request on a connection can learn about it: tonic hands it to
/// the service as the IO's connect info, the HTTP listeners insert it.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// The remote address.
    pub remote: SocketAddr,
    activity: Arc<Activity>,
}

/// An accepted (and, on TLS listeners, handshaken) connection. Reads end
/// (EOF) once no request has been in flight for the idle timeout, which makes
/// hyper close the connection; the slot is freed when the connection is dropped.
#[derive(Debug)]
pub struct Conn<IO> {
    io: IO,
    info: ConnInfo,
    idle_timeout: Duration,
    clock: Pin<Box<Sleep>>,
    expired: bool,
    _slot: Slot,
}

impl<IO> Conn<IO> {
    /// Wraps `io` from `remote`, holding `slot` for as long as it lives.
    pub fn new(io: IO, remote: SocketAddr, slot: Slot, idle_timeout: Duration) -> Self {
        let activity = Activity::new();
        let clock = Box::pin(tokio::time::sleep(idle_timeout));
        Self {
            io,
            info: ConnInfo { remote, activity },
            idle_timeout,
            clock,
            expired: false,
            _slot: slot,
        }
    }

    /// The connection's info, to attach to its requests.
    pub fn info(&self) -> ConnInfo {
        self.info.clone()
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Conn<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.expired {
            return Poll::Ready(Ok(()));
        }
        // What the client already sent is read first, even at the deadline.
        if let Poll::Ready(read) = Pin::new(&mut this.io).poll_read(cx, buf) {
            return Poll::Ready(read);
        }
        let Some(deadline) = this
            .info
            .activity
            .idle_deadline(this.idle_timeout, cx.waker())
        else {
            return Poll::Pending;
        };
        if this.clock.deadline() != deadline {
            this.clock.as_mut().reset(deadline);
        }
        match this.clock.as_mut().poll(cx) {
            Poll::Ready(()) => {
                tracing::debug!(remote = %this.info.remote, "idle connection closed");
                this.expired = true;
                Poll::Ready(Ok(()))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Conn<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

impl<IO> tonic::transport::server::Connected for Conn<IO> {
    type ConnectInfo = ConnInfo;

    fn connect_info(&self) -> ConnInfo {
        self.info()
    }
}

/// A response body that keeps its request in flight until it is dropped, so a
/// long stream is never taken for an idle connection.
#[derive(Debug)]
pub struct Tracked<B> {
    inner: B,
    _in_flight: Option<InFlight>,
}

impl<B: Body + Unpin> Body for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Counts each request as in flight on its connection (found through the
/// request's [`ConnInfo`]) from its arrival to the end of its response body.
#[derive(Debug, Clone, Copy, Default)]
pub struct TrackInFlightLayer;

impl<S> tower::Layer<S> for TrackInFlightLayer {
    type Service = TrackInFlight<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TrackInFlight { inner }
    }
}

/// See [`TrackInFlightLayer`].
#[derive(Debug, Clone)]
pub struct TrackInFlight<S> {
    inner: S,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, ReqBody, ResBody> tower::Service<Request<ReqBody>> for TrackInFlight<S>
where
    S: tower::Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = Response<Tracked<ResBody>>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let in_flight = request
            .extensions()
            .get::<ConnInfo>()
            .map(|info| info.activity.begin());
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            Ok(response.map(|inner| Tracked {
                inner,
                _in_flight: in_flight,
            }))
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn caps_count_per_listener_and_per_address_and_free_on_drop() {
        let caps = Admission::new(3, 2);
        let a1 = caps.admit(ip("10.0.0.1")).unwrap();
        let a2 = caps.admit(ip("10.0.0.1")).unwrap();
        assert_eq!(
            caps.admit(ip("10.0.0.1")).unwrap_err(),
            Refusal::AddressFull
        );
        // The same client over IPv4-mapped IPv6 is the same address.
        assert_eq!(
            caps.admit(ip("::ffff:10.0.0.1")).unwrap_err(),
            Refusal::AddressFull
        );
        let b1 = caps.admit(ip("10.0.0.2")).unwrap();
        assert_eq!(
            caps.admit(ip("10.0.0.3")).unwrap_err(),
            Refusal::ListenerFull
        );
        assert_eq!(caps.open_connections(), 3);
        drop(a1);
        let _a3 = caps.admit(ip("10.0.0.1")).unwrap();
        drop((a2, b1));
        assert_eq!(caps.open_connections(), 1);
        assert_eq!(
            caps.open().per_ip.len(),
            1,
            "emptied addresses are forgotten"
        );
    }

    #[tokio::test]
    async fn the_idle_clock_runs_only_while_nothing_is_in_flight() {
        let caps = Admission::new(1, 1);
        let (client, server) = tokio::io::duplex(64);
        let remote = SocketAddr::from(([127, 0, 0, 1], 1));
        let mut conn = Conn::new(
            server,
            remote,
            caps.admit(remote.ip()).unwrap(),
            Duration::from_millis(150),
        );
        let request = conn.info().activity.begin();
        let mut buf = [0u8; 8];
        use tokio::io::AsyncReadExt as _;
        let busy = tokio::time::timeout(Duration::from_millis(400), conn.read(&mut buf)).await;
        assert!(
            busy.is_err(),
            "a request in flight keeps the connection open"
        );
        drop(request);
        let started = Instant::now();
        let n = tokio::time::timeout(Duration::from_secs(2), conn.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n, 0, "idle past the timeout: end of input");
        assert!(started.elapsed() >= Duration::from_millis(140));
        drop(conn);
        assert_eq!(
            caps.open_connections(),
            0,
            "the slot is freed with the connection"
        );
        drop(client);
    }
}
