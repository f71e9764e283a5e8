//! One peer, one mTLS client.

use crate::error::{ClientErrorCode, FederationClientError};
use crate::retry::{self, Next, RetryPolicy};
use crate::source::SourceRequest;
use mosaic_types::{
    ErrorEnvelope, FederationCapabilitiesResponse, FederationGetResponse, FederationListRequest,
    FederationListResponse, FederationSearchRequest,
};
use reqwest::StatusCode;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::{Duration, Instant};
use url::Url;
use zeroize::Zeroizing;

/// A federated row: a JSON object (with `_source` once tagged).
pub type Row = serde_json::Map<String, serde_json::Value>;

/// Makes ring the process-wide TLS crypto provider if none is set. Programs
/// that build plain `reqwest` clients call this once at start.
pub fn ensure_crypto_provider() {
    // Err means one is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Everything needed to talk to one peer.
#[derive(Clone)]
pub struct PeerClientConfig {
    /// How the peer is named in errors and logs (its common name).
    pub peer: String,
    /// Base URL of the peer's federation listener, e.g. `https://work:7443`.
    pub endpoint: String,
    /// The peer's CA certificate(s), PEM. Only these are trusted for the
    /// peer's server certificate: no system roots.
    pub ca_pem: String,
    /// Our client certificate chain for this peer, PEM.
    pub cert_pem: String,
    /// Its private key, PEM. Wiped from memory when the config is dropped.
    pub key_pem: Zeroizing<String>,
    /// Time a call may take, retries included, unless the caller sets a
    /// deadline ([`PeerClient::with_deadline`]).
    pub timeout: Duration,
    /// Connection (TCP + TLS) deadline.
    pub connect_timeout: Duration,
    /// What a call does when the peer answers 429.
    pub retry: RetryPolicy,
}

impl std::fmt::Debug for PeerClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerClientConfig")
            .field("peer", &self.peer)
            .field("endpoint", &self.endpoint)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl PeerClientConfig {
    /// A config with default timeouts (10 s per call, 5 s to connect) and
    /// the default retry policy (three attempts in all on 429).
    pub fn new(
        peer: impl Into<String>,
        endpoint: impl Into<String>,
        ca_pem: impl Into<String>,
        cert_pem: impl Into<String>,
        key_pem: impl Into<String>,
    ) -> Self {
        Self {
            peer: peer.into(),
            endpoint: endpoint.into(),
            ca_pem: ca_pem.into(),
            cert_pem: cert_pem.into(),
            key_pem: Zeroizing::new(key_pem.into()),
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
        }
    }
}

/// An mTLS client for one peer. Cheap to clone; connections are pooled and
/// kept alive.
///
/// A call the peer answers 429 is retried as its [`RetryPolicy`] says,
/// waiting at least the peer's `Retry-After`, and never past the call's
/// deadline: the configured timeout from the call's start, or the one set
/// with [`PeerClient::with_deadline`]. A call that gives up on 429 fails
/// with `RATE_LIMITED`, `retry_after` set and a message saying the wait.
#[derive(Debug, Clone)]
pub struct PeerClient {
    peer: String,
    base: Url,
    http: reqwest::Client,
    timeout: Duration,
    retry: RetryPolicy,
    deadline: Option<Instant>,
}

impl PeerClient {
    /// Builds the client. Fails with `CONFIG` when a PEM or the URL is unusable.
    pub fn new(config: PeerClientConfig) -> Result<Self, FederationClientError> {
        let peer = config.peer.clone();
        let bad = |what: String| FederationClientError::new(ClientErrorCode::Config, &peer, what);
        let base = Url::parse(&config.endpoint)
            .map_err(|e| bad(format!("endpoint `{}` is not a URL: {e}", config.endpoint)))?;
        if base.scheme() != "https" {
            return Err(bad(format!(
                "endpoint `{}` must be https://",
                config.endpoint
            )));
        }

        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(config.ca_pem.as_bytes()) {
            let cert = cert.map_err(|e| bad(format!("peer CA PEM is unreadable: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| bad(format!("peer CA certificate is unusable: {e}")))?;
        }
        if roots.is_empty() {
            return Err(bad("peer CA PEM holds no certificate".to_owned()));
        }
        let chain = CertificateDer::pem_slice_iter(config.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(format!("client certificate PEM is unreadable: {e}")))?;
        if chain.is_empty() {
            return Err(bad("client certificate PEM holds no certificate".to_owned()));
        }
        let key = PrivateKeyDer::from_pem_slice(config.key_pem.as_bytes())
            .map_err(|e| bad(format!("client key PEM is unreadable: {e}")))?;

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| bad(format!("TLS set-up failed: {e}")))?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| {
                bad(format!(
                    "client certificate and key do not fit together: {e}"
                ))
            })?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .https_only(true)
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .map_err(|e| bad(format!("HTTP client set-up failed: {e}")))?;
        Ok(Self {
            peer,
            base,
            http,
            timeout: config.timeout,
            retry: config.retry,
            deadline: None,
        })
    }

    /// The peer's name.
    pub fn peer(&self) -> &str {
        &self.peer
    }

    /// This client with every call ending by `deadline`: no attempt runs
    /// and no wait for a retry lasts past it (each attempt is also bounded
    /// by the configured timeout). A call made after the deadline fails with
    /// `TIMEOUT` without being sent.
    #[must_use]
    pub fn with_deadline(&self, deadline: Instant) -> Self {
        Self {
            deadline: Some(deadline),
            ..self.clone()
        }
    }

    fn url(&self, segments: &[&str]) -> Result<Url, FederationClientError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| {
                FederationClientError::new(
                    ClientErrorCode::Config,
                    &self.peer,
                    "endpoint cannot take a path",
                )
            })?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// `GET /api/federation/v1/capabilities`.
    pub async fn capabilities(
        &self,
    ) -> Result<FederationCapabilitiesResponse, FederationClientError> {
        let url = self.url(&["api", "federation", "v1", "capabilities"])?;
        self.send(self.http.get(url)).await
    }

    /// `POST /api/federation/v1/list/:resource`.
    pub async fn list(
        &self,
        resource: &str,
        request: &FederationListRequest,
    ) -> Result<FederationListResponse<Row>, FederationClientError> {
        let url = self.url(&["api", "federation", "v1", "list", resource])?;
        self.send(self.http.post(url).json(request)).await
    }

    /// `POST /api/federation/v1/search/:resource`: the rows of `resource`
    /// holding every word of `request.q`, best match first.
    pub async fn search(
        &self,
        resource: &str,
        request: &FederationSearchRequest,
    ) -> Result<FederationListResponse<Row>, FederationClientError> {
        let url = self.url(&["api", "federation", "v1", "search", resource])?;
        self.send(self.http.post(url).json(request)).await
    }

    /// A listing or a search, as `request` says.
    pub async fn fetch(
        &self,
        resource: &str,
        request: &SourceRequest,
    ) -> Result<FederationListResponse<Row>, FederationClientError> {
        match request {
            SourceRequest::List(list) => self.list(resource, list).await,
            SourceRequest::Search(search) => self.search(resource, search).await,
        }
    }

    /// `POST /api/federation/v1/get/:resource/:id`.
    pub async fn get(
        &self,
        resource: &str,
        id: &str,
    ) -> Result<FederationGetResponse<Row>, FederationClientError> {
        let url = self.url(&["api", "federation", "v1", "get", resource, id])?;
        self.send(self.http.post(url)).await
    }

    /// Sends `request`, retrying on 429 as the policy allows before the
    /// deadline.
    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, FederationClientError> {
        let deadline = self
            .deadline
            .unwrap_or_else(|| Instant::now() + self.timeout);
        let mut attempt = 1;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(FederationClientError::new(
                    ClientErrorCode::Timeout,
                    &self.peer,
                    "the call's deadline passed before the request could be sent",
                ));
            }
            let this = request.try_clone().ok_or_else(|| {
                FederationClientError::new(
                    ClientErrorCode::Config,
                    &self.peer,
                    "the request cannot be repeated",
                )
            })?;
            let e = match self.send_once(this.timeout(left.min(self.timeout))).await {
                Err(e) if e.code == ClientErrorCode::RateLimited => e,
                answer => return answer,
            };
            let jitter = retry::jitter();
            match self
                .retry
                .next(attempt, e.retry_after, jitter, Instant::now(), deadline)
            {
                Next::Retry(wait) => {
                    tracing::debug!(
                        peer = %self.peer, attempt, wait_ms = wait.as_millis(),
                        "peer rate limited the call; retrying after the wait"
                    );
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Next::GiveUp => {
                    let fallback = self.retry.wait(attempt, None, jitter);
                    return Err(retry::gave_up(e, fallback));
                }
            }
        }
    }

    async fn send_once<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, FederationClientError> {
        let response = request.send().await.map_err(|e| self.transport(&e))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response.bytes().await.map_err(|e| self.transport(&e))?;
        if status.is_success() {
            return serde_json::from_slice(&body).map_err(|e| {
                FederationClientError::new(
                    ClientErrorCode::InvalidResponse,
                    &self.peer,
                    format!("answer is not a federation response: {e}"),
                )
            });
        }
        Err(self.refusal(status, &body, retry_after))
    }

    fn transport(&self, e: &reqwest::Error) -> FederationClientError {
        let code = if e.is_timeout() {
            ClientErrorCode::Timeout
        } else {
            ClientErrorCode::Network
        };
        // The full chain: the TLS or socket cause is what a person needs.
        let mut message = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        FederationClientError::new(code, &self.peer, message)
    }

    fn refusal(
        &self,
        status: StatusCode,
        body: &[u8],
        retry_after: Option<Duration>,
    ) -> FederationClientError {
        let envelope: Option<ErrorEnvelope> = serde_json::from_slice(body).ok();
        let message = envelope
            .as_ref()
            .map_or_else(|| format!("HTTP {status}"), |e| e.error.message.clone());
        let mut err = FederationClientError::new(
            FederationClientError::code_for_status(status.as_u16()),
            &self.peer,
            message,
        );
        err.status = Some(status.as_u16());
        err.envelope = envelope.map(Box::new);
        err.retry_after = retry_after;
        err
    }
}
