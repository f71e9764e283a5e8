//! The client against a peer that rate limits it: a real HTTP server over
//! mutual TLS (certificates from a test CA) that answers from a script.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use mosaic_federation_client::{ClientErrorCode, PeerClient, PeerClientConfig, RetryPolicy};
use mosaic_identity::testing::TestPki;
use mosaic_types::FederationListRequest;
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// One scripted answer: status, `Retry-After`, body.
#[derive(Clone)]
struct Answer {
    status: u16,
    retry_after: Option<&'static str>,
    body: &'static str,
}

const PAGE: Answer = Answer {
    status: 200,
    retry_after: None,
    body: r#"{"items": [{"id": "t1", "title": "a task"}]}"#,
};

const LIMITED: &str = r#"{"error": {"code": "rate_limited", "message": "grant g-1 is limited to 2 requests a minute (burst 1): retry in 27 s", "details": {"retryAfterSeconds": 27, "requestsPerMinute": 2, "burst": 1}}}"#;

fn limited(retry_after: &'static str) -> Answer {
    Answer {
        status: 429,
        retry_after: Some(retry_after),
        body: LIMITED,
    }
}

/// The answers still to give (the last one repeats) and when each request came.
#[derive(Default)]
struct Script {
    answers: Mutex<VecDeque<Answer>>,
    seen: Mutex<Vec<Instant>>,
}

impl Script {
    fn next(&self) -> Answer {
        self.seen.lock().unwrap().push(Instant::now());
        let mut answers = self.answers.lock().unwrap();
        if answers.len() > 1 {
            answers.pop_front().unwrap()
        } else {
            answers.front().cloned().unwrap()
        }
    }

    fn requests(&self) -> Vec<Instant> {
        self.seen.lock().unwrap().clone()
    }
}

/// A peer over mTLS (client certificates required, from `pki`) answering
/// `answers` in order; returns its base URL and the script.
async fn peer(pki: &TestPki, answers: Vec<Answer>) -> (String, Arc<Script>) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = pki.server(&["127.0.0.1"]);
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(pki.ca_pem().as_bytes()).unwrap())
        .unwrap();
    let verifier = WebPkiClientVerifier::builder(Arc::new(roots))
        .build()
        .unwrap();
    let config = rustls::ServerConfig::builder()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![server.der.clone()],
            PrivateKeyDer::from_pem_slice(server.key_pem.as_bytes()).unwrap(),
        )
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let script = Arc::new(Script {
        answers: Mutex::new(answers.into()),
        ..Script::default()
    });
    let serving = script.clone();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            let script = serving.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = service_fn(move |_request| {
                    let answer = script.next();
                    async move {
                        let mut response = hyper::Response::builder()
                            .status(answer.status)
                            .header("content-type", "application/json");
                        if let Some(secs) = answer.retry_after {
                            response = response.header("retry-after", secs);
                        }
                        response.body(Full::new(Bytes::from_static(answer.body.as_bytes())))
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (format!("https://127.0.0.1:{}", addr.port()), script)
}

fn peer_client(pki: &TestPki, endpoint: &str, retry: RetryPolicy) -> PeerClient {
    let cert = pki.client("g-1", "alice");
    let mut config =
        PeerClientConfig::new("work", endpoint, pki.ca_pem(), cert.cert_pem, cert.key_pem);
    config.retry = retry;
    PeerClient::new(config).unwrap()
}

fn fast_retries(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts: NonZeroU32::new(attempts).unwrap(),
        base_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
    }
}

async fn list(
    client: &PeerClient,
) -> Result<usize, mosaic_federation_client::FederationClientError> {
    client
        .list("tasks", &FederationListRequest::default())
        .await
        .map(|page| page.items.len())
}

#[tokio::test]
async fn a_429_is_retried_after_the_peers_wait_then_answered() {
    let pki = TestPki::new();
    let (url, script) = peer(&pki, vec![limited("1"), PAGE]).await;
    let client = peer_client(&pki, &url, RetryPolicy::default());
    let started = Instant::now();
    assert_eq!(list(&client).await.unwrap(), 1);
    let seen = script.requests();
    assert_eq!(seen.len(), 2, "one 429, then the page");
    let gap = seen[1] - seen[0];
    assert!(gap >= Duration::from_secs(1), "waited Retry-After: {gap:?}");
    assert!(
        gap < Duration::from_millis(1_500),
        "plus a jitter below the backoff: {gap:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_long_retry_after_gives_up_at_once_and_says_the_wait() {
    let pki = TestPki::new();
    let (url, script) = peer(&pki, vec![limited("27")]).await;
    let client = peer_client(&pki, &url, RetryPolicy::default());
    let started = Instant::now();
    let e = list(&client).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        script.requests().len(),
        1,
        "27 s is past the 10 s call timeout"
    );
    assert_eq!(e.code, ClientErrorCode::RateLimited);
    assert_eq!(e.status, Some(429));
    assert_eq!(e.retry_after, Some(Duration::from_secs(27)));
    assert_eq!(
        e.message,
        "peer work is rate limiting this grant (2 requests a minute, burst 1): retry in 27 s"
    );
    assert_eq!(
        e.envelope.unwrap().error.code,
        mosaic_types::ErrorCode::RateLimited,
        "the peer's own answer is kept"
    );
}

#[tokio::test]
async fn retries_are_bounded() {
    let pki = TestPki::new();
    let (url, script) = peer(&pki, vec![limited("0")]).await;
    let client = peer_client(&pki, &url, fast_retries(3));
    let e = list(&client).await.unwrap_err();
    assert_eq!(script.requests().len(), 3, "three attempts in all");
    assert_eq!(e.code, ClientErrorCode::RateLimited);
    assert!(e.message.ends_with("retry in 1 s"), "{}", e.message);

    let (url, script) = peer(&pki, vec![limited("0")]).await;
    let never = peer_client(&pki, &url, RetryPolicy::never());
    assert!(list(&never).await.is_err());
    assert_eq!(script.requests().len(), 1);
}

#[tokio::test]
async fn a_callers_deadline_is_never_waited_past() {
    let pki = TestPki::new();
    // The peer asks for 1 s; the caller has 600 ms: no retry.
    let (url, script) = peer(&pki, vec![limited("1"), PAGE]).await;
    let started = Instant::now();
    let deadline = started + Duration::from_millis(600);
    let client = peer_client(&pki, &url, RetryPolicy::default()).with_deadline(deadline);
    let e = list(&client).await.unwrap_err();
    assert!(Instant::now() < deadline, "gave up before the deadline");
    assert_eq!(script.requests().len(), 1);
    assert_eq!(e.code, ClientErrorCode::RateLimited);
    assert_eq!(e.retry_after, Some(Duration::from_secs(1)));

    // With room for the wait, the same answers end in the page.
    let (url, script) = peer(&pki, vec![limited("1"), PAGE]).await;
    let roomy = peer_client(&pki, &url, RetryPolicy::default())
        .with_deadline(Instant::now() + Duration::from_secs(5));
    assert_eq!(list(&roomy).await.unwrap(), 1);
    assert_eq!(script.requests().len(), 2);

    // A deadline already past: nothing is sent.
    let (url, script) = peer(&pki, vec![PAGE]).await;
    let late = peer_client(&pki, &url, RetryPolicy::default()).with_deadline(Instant::now());
    assert_eq!(
        list(&late).await.unwrap_err().code,
        ClientErrorCode::Timeout
    );
    assert!(script.requests().is_empty());
}
