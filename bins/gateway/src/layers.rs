//! Request limits for the HTTP API and federation routers, each a tower layer:
//! requests in flight ([`ShedLayer`]), time to the response head
//! ([`HeadTimeoutLayer`]) and request body size ([`BodyLimitLayer`]). Each
//! refusal is the error envelope. [`request_limits`] stacks the three.

use crate::error::ApiError;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::header::CONTENT_LENGTH;
use axum::response::IntoResponse as _;
use axum::response::Response;
use hyper::body::{Frame, SizeHint};
use mosaic_config::ListenerLimits;
use mosaic_types::ErrorCode;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tower::layer::util::Stack;
use tower::{Layer, Service, ServiceExt as _};

/// Renders an error the layers answer with: the envelope, like every other.
fn error(code: ErrorCode, message: impl Into<String>) -> Response {
    ApiError::new(code, message).into_response()
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

/// The three limits, outermost first: shed, head timeout, body limit.
pub type RequestLimitsLayer = Stack<BodyLimitLayer, Stack<HeadTimeoutLayer, ShedLayer>>;

/// The request limits of `limits`, for one router. Each call makes its own
/// count of requests in flight.
pub fn request_limits(limits: &ListenerLimits) -> RequestLimitsLayer {
    Stack::new(
        BodyLimitLayer::new(limits.max_body_bytes.get()),
        Stack::new(
            HeadTimeoutLayer::new(Duration::from_secs(limits.request_timeout_secs.get())),
            ShedLayer::new(limits.max_concurrent_requests.get()),
        ),
    )
}

/// At most `max` requests are handled at once across every clone of the
/// layer; one more is answered 503 `unavailable` at once rather than queued.
/// A request counts until its response head, so long streamed bodies do not.
#[derive(Debug, Clone)]
pub struct ShedLayer {
    permits: Arc<Semaphore>,
}

impl ShedLayer {
    /// A limit of `max` requests in flight.
    pub fn new(max: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max)),
        }
    }
}

impl<S> Layer<S> for ShedLayer {
    type Service = Shed<S>;

    fn layer(&self, inner: S) -> Shed<S> {
        Shed {
            inner,
            permits: self.permits.clone(),
        }
    }
}

/// See [`ShedLayer`].
#[derive(Debug, Clone)]
pub struct Shed<S> {
    inner: S,
    permits: Arc<Semaphore>,
}

impl<S> Service<Request> for Shed<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> BoxFuture {
        let Ok(permit) = self.permits.clone().try_acquire_owned() else {
            tracing::warn!(
                path = request.uri().path(),
                "request shed: too many in flight"
            );
            return Box::pin(std::future::ready(Ok(error(
                ErrorCode::Unavailable,
                "too many requests in flight; retry shortly",
            ))));
        };
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await;
            drop(permit);
            response
        })
    }
}

/// When the head timeout answers 504 for a request, set as the request's
/// extension: a handler that waits on others (a peer) gives up before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseDeadline {
    /// When the 504 goes out.
    pub at: Instant,
    /// The timeout it was set from.
    pub timeout: Duration,
}

impl ResponseDeadline {
    /// The deadline for work the answer waits on: a tenth of the timeout
    /// (at most 1 s) before the 504, left for answering.
    pub fn for_work(&self) -> Instant {
        let margin = (self.timeout / 10).min(Duration::from_secs(1));
        self.at.checked_sub(margin).unwrap_or(self.at)
    }
}

/// A request has `timeout` to produce its response head, or gets 504
/// `timeout`. The body is not timed: a followed output stream may run for
/// as long as its task does. The request carries its [`ResponseDeadline`].
#[derive(Debug, Clone, Copy)]
pub struct HeadTimeoutLayer {
    timeout: Duration,
}

impl HeadTimeoutLayer {
    /// A limit of `timeout` to the response head.
    pub fn new(timeout: Duration) -> Self {
        Self { timeout }
    }
}

impl<S> Layer<S> for HeadTimeoutLayer {
    type Service = HeadTimeout<S>;

    fn layer(&self, inner: S) -> HeadTimeout<S> {
        HeadTimeout {
            inner,
            timeout: self.timeout,
        }
    }
}

/// See [`HeadTimeoutLayer`].
#[derive(Debug, Clone)]
pub struct HeadTimeout<S> {
    inner: S,
    timeout: Duration,
}

impl<S> Service<Request> for HeadTimeout<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> BoxFuture {
        let timeout = self.timeout;
        let path = request.uri().path().to_owned();
        request.extensions_mut().insert(ResponseDeadline {
            at: Instant::now() + timeout,
            timeout,
        });
        let response = self.inner.call(request);
        Box::pin(async move {
            match tokio::time::timeout(timeout, response).await {
                Ok(response) => response,
                Err(_) => {
                    tracing::warn!(%path, ?timeout, "request timed out before its response");
                    Ok(error(
                        ErrorCode::Timeout,
                        format!("no response within {}s", timeout.as_secs_f64()),
                    ))
                }
            }
        })
    }
}

/// Request bodies over `max` bytes get 413 `payload_too_large`: at once when
/// `Content-Length` declares it, and otherwise as soon as the handler has read
/// past `max`, whatever the handler then answered. Reading stops there, so a
/// streamed body is never buffered beyond the limit. It replaces axum's own
/// default extractor limit, so there is one limit and one answer.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimitLayer {
    max: u64,
}

impl BodyLimitLayer {
    /// A limit of `max` bytes.
    pub fn new(max: u64) -> Self {
        Self { max }
    }
}

impl<S> Layer<S> for BodyLimitLayer {
    type Service = BodyLimit<S>;

    fn layer(&self, inner: S) -> BodyLimit<S> {
        BodyLimit {
            inner,
            max: self.max,
        }
    }
}

/// See [`BodyLimitLayer`].
#[derive(Debug, Clone)]
pub struct BodyLimit<S> {
    inner: S,
    max: u64,
}

impl<S> BodyLimit<S> {
    fn too_large(&self) -> Response {
        error(
            ErrorCode::PayloadTooLarge,
            format!("the request body is over the limit of {} bytes", self.max),
        )
    }
}

impl<S> Service<Request> for BodyLimit<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Readiness is checked on the clone that serves the request.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> BoxFuture {
        let declared = request
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > self.max) {
            return Box::pin(std::future::ready(Ok(self.too_large())));
        }
        let exceeded = Arc::new(AtomicBool::new(false));
        let request = request.map(|body| {
            Body::new(Limited {
                inner: body,
                left: self.max,
                exceeded: exceeded.clone(),
            })
        });
        let too_large = self.too_large();
        let inner = DefaultBodyLimit::disable().layer(self.inner.clone());
        Box::pin(async move {
            let response = inner.oneshot(request).await?;
            Ok(if exceeded.load(Ordering::SeqCst) {
                too_large
            } else {
                response
            })
        })
    }
}

/// A request body that fails once more than `left` bytes have been read.
struct Limited {
    inner: Body,
    left: u64,
    exceeded: Arc<AtomicBool>,
}

/// The error a handler sees when it reads past the limit.
#[derive(Debug, thiserror::Error)]
#[error("the request body is over the size limit")]
struct BodyTooLarge;

impl hyper::body::Body for Limited {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        if self.exceeded.load(Ordering::SeqCst) {
            return Poll::Ready(Some(Err(axum::Error::new(BodyTooLarge))));
        }
        let frame = std::task::ready!(Pin::new(&mut self.inner).poll_frame(cx));
        if let Some(Ok(frame)) = &frame
            && let Some(data) = frame.data_ref()
        {
            let len = data.len() as u64;
            if len > self.left {
                self.exceeded.store(true, Ordering::SeqCst);
                return Poll::Ready(Some(Err(axum::Error::new(BodyTooLarge))));
            }
            self.left -= len;
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use axum::Router;
    use axum::routing::{get, post};
    use http_body_util::BodyExt as _;
    use std::num::{NonZeroU64, NonZeroUsize};
    use tokio::sync::Notify;

    fn limits(timeout_secs: u64, in_flight: usize, max_body: u64) -> ListenerLimits {
        ListenerLimits {
            request_timeout_secs: NonZeroU64::new(timeout_secs).unwrap(),
            max_concurrent_requests: NonZeroUsize::new(in_flight).unwrap(),
            max_body_bytes: NonZeroU64::new(max_body).unwrap(),
            ..ListenerLimits::default()
        }
    }

    async fn envelope(response: Response) -> (u16, String) {
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let value: serde_json::Value = serde_json::from_slice(&body).expect("an envelope");
        (status, value["error"]["code"].as_str().unwrap().to_owned())
    }

    fn post_body(path: &str, body: Body) -> Request {
        Request::post(path).body(body).unwrap()
    }

    #[tokio::test]
    async fn bodies_over_the_limit_get_413_declared_or_streamed() {
        let app = Router::new()
            .route("/echo", post(|body: Bytes| async move { body }))
            .route("/ignore", post(|| async { "ignored" }))
            .layer(request_limits(&limits(30, 8, 16)));

        let ok = app
            .clone()
            .oneshot(post_body("/echo", Body::from("0123456789abcdef")))
            .await;
        assert_eq!(ok.unwrap().status(), 200, "exactly at the limit");

        // Declared too large: refused before any handler runs.
        let declared = Request::post("/ignore")
            .header(CONTENT_LENGTH, "17")
            .body(Body::from("0123456789abcdefg"))
            .unwrap();
        let response = app.clone().oneshot(declared).await.unwrap();
        assert_eq!(envelope(response).await, (413, "payload_too_large".into()));

        // Streamed without a length: cut once read past the limit.
        let chunks = (0..100).map(|_| Ok::<_, std::io::Error>(Bytes::from_static(b"0123456789")));
        let streamed = Body::from_stream(futures_util::stream::iter(chunks));
        let response = app
            .clone()
            .oneshot(post_body("/echo", streamed))
            .await
            .unwrap();
        assert_eq!(envelope(response).await, (413, "payload_too_large".into()));

        // Above axum's own 2 MB extractor default, below ours: accepted.
        let app = Router::new()
            .route(
                "/echo",
                post(|body: Bytes| async move { body.len().to_string() }),
            )
            .layer(request_limits(&limits(30, 8, 4 << 20)));
        let big = Body::from(vec![b'x'; 3 << 20]);
        let response = app.oneshot(post_body("/echo", big)).await.unwrap();
        assert_eq!(response.status(), 200);
    }

    #[tokio::test]
    async fn handlers_see_when_the_timeout_would_answer() {
        let app = Router::new()
            .route(
                "/deadline",
                get(|deadline: axum::Extension<ResponseDeadline>| async move {
                    let left = deadline.at.saturating_duration_since(Instant::now());
                    let work = deadline.at - deadline.for_work();
                    format!("{} {}", left.as_secs_f64().ceil(), work.as_millis())
                }),
            )
            .layer(request_limits(&limits(30, 8, 16)));
        let response = app
            .oneshot(Request::get("/deadline").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "30 1000", "30 s to answer, work ends 1 s before");
        let short = ResponseDeadline {
            at: Instant::now(),
            timeout: Duration::from_secs(2),
        };
        assert_eq!(short.at - short.for_work(), Duration::from_millis(200));
    }

    #[tokio::test]
    async fn the_timeout_covers_the_head_and_not_a_streamed_body() {
        let app = Router::new()
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_millis(1500)).await;
                    "late"
                }),
            )
            .route(
                "/stream",
                get(|| async {
                    let ticks = futures_util::stream::unfold(0, |n| async move {
                        (n < 3).then_some(())?;
                        tokio::time::sleep(Duration::from_millis(600)).await;
                        Some((
                            Ok::<_, std::io::Error>(Bytes::from(format!("{n}\n"))),
                            n + 1,
                        ))
                    });
                    Body::from_stream(ticks)
                }),
            )
            .layer(request_limits(&limits(1, 8, 1024)));

        let response = app
            .clone()
            .oneshot(Request::get("/slow").body(Body::empty()).unwrap());
        assert_eq!(
            envelope(response.await.unwrap()).await,
            (504, "timeout".into())
        );

        let response = app
            .oneshot(Request::get("/stream").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"0\n1\n2\n", "1.8 s of body past a 1 s timeout");
    }

    #[tokio::test]
    async fn requests_over_the_in_flight_limit_get_503_at_once() {
        let release = Arc::new(Notify::new());
        let held = release.clone();
        let app = Router::new()
            .route(
                "/hold",
                get(move || {
                    let held = held.clone();
                    async move {
                        held.notified().await;
                        "released"
                    }
                }),
            )
            .route("/other", get(|| async { "other" }))
            .layer(request_limits(&limits(30, 2, 1024)));
        let get = |path: &str| Request::get(path).body(Body::empty()).unwrap();
        let first = tokio::spawn(app.clone().oneshot(get("/hold")));
        let second = tokio::spawn(app.clone().oneshot(get("/hold")));
        tokio::time::sleep(Duration::from_millis(100)).await;

        // The limit is shared by every route of the router.
        let response =
            tokio::time::timeout(Duration::from_secs(1), app.clone().oneshot(get("/other")))
                .await
                .expect("refused at once, not queued")
                .unwrap();
        assert_eq!(envelope(response).await, (503, "unavailable".into()));

        release.notify_waiters();
        assert_eq!(first.await.unwrap().unwrap().status(), 200);
        assert_eq!(second.await.unwrap().unwrap().status(), 200);
        let response = app.oneshot(get("/other")).await.unwrap();
        assert_eq!(response.status(), 200, "permits come back");
    }
}
