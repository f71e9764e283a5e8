//! The federation listener: its own port, TLS 1.2+ with client certificates
//! required and verified against the gateway's trust anchors, then an auth
//! layer that turns the verified certificate into a [`FederationContext`], then
//! the three verbs.
//!
//! A certificate from a foreign CA, or from an intermediate below a CA whose
//! path length allows none, fails the TLS handshake and never reaches the
//! auth layer. A trusted certificate without Mosaic OIDs gets 401. One that is
//! not the certificate issued for its grant (unknown grant, other serial,
//! subject, peer id or instance id) gets 403 `Federation access denied`; the
//! grant's own certificate refused for the grant's or the peer's state gets
//! 403 with the reason (`Federation access denied: the grant was revoked`,
//! details `{"refusal": "grant_revoked"}`). No handler runs without a
//! context. Behind the auth layer, the rate limit ([`limit`]) counts every
//! verb against its grant's budget before the verb runs.
//!
//! Every request, whatever its answer, is recorded in the federation audit
//! log by the outermost layer ([`audit`]), when the state has an audit
//! writer.

pub mod audit;
pub mod limit;

use crate::error::ApiError;
use crate::extract::{Json, Path};
use crate::http::{AppState, Input, Routes};
use audit::PeerFacts;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use mosaic_config::ListenerLimits;
use mosaic_federation::context::{self, PresentedClaims};
use mosaic_federation::search_query::SearchQuery;
use mosaic_federation::verbs;
use mosaic_identity::{GatewayPki, TrustAnchors, verify_chain, verify_client_chain};
use mosaic_scope::FederationContext;
use mosaic_types::{ErrorCode, FederationCapabilitiesResponse};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, RootCertStore};
use serde_json::Value;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

/// What a verb's handler says about its answer, for the audit layer: set as a
/// response extension, read once the response is made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerbOutcome {
    /// Rows the answer carries.
    pub rows: Option<u32>,
    /// The item id a `get` asked for, or the words a `search` looked for.
    pub target: Option<String>,
}

impl VerbOutcome {
    fn attach<T: IntoResponse>(self, answer: T) -> Response {
        let mut response = answer.into_response();
        response.extensions_mut().insert(self);
        response
    }
}

/// The certificate chain a peer presented, as the TLS layer verified it.
#[derive(Debug, Clone)]
pub struct PeerChain(pub Arc<Vec<CertificateDer<'static>>>);

/// The TLS set-up of the federation listener.
#[derive(Debug, Clone)]
pub struct FederationTls {
    config: Arc<rustls::ServerConfig>,
    anchors: TrustAnchors,
}

impl FederationTls {
    /// Server certificate from the PKI; client certificates must chain to the
    /// gateway CA.
    pub fn from_pki(pki: &GatewayPki) -> anyhow::Result<Self> {
        let anchors = pki.ca.trust_anchors();
        let mut roots = RootCertStore::empty();
        for cert in anchors.certs() {
            roots.add(cert.clone())?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        // A client may come without a certificate, to fetch the CA or enroll;
        // a certificate it does present must chain to our CA or the handshake
        // fails. The auth layer refuses verbs to certificate-less clients.
        let webpki = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .allow_unauthenticated()
            .build()?;
        let verifier = Arc::new(AnchorPathLength {
            inner: webpki,
            anchors: anchors.clone(),
        });
        let chain = CertificateDer::pem_slice_iter(pki.server.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()?;
        let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(pki.server.key_pem.as_bytes())?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            config: Arc::new(config),
            anchors,
        })
    }

    /// The rustls configuration (benchmarks reuse it for a bare server).
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        self.config.clone()
    }
}

/// rustls' client verifier plus the trust anchor's path length constraint,
/// which rustls-webpki does not apply: without it a leaf signed by an
/// intermediate below the gateway CA (path length 0) would pass the
/// handshake. The rule is `mosaic_identity::verify_chain`'s, the one the auth
/// layer applies too.
#[derive(Debug)]
struct AnchorPathLength {
    inner: Arc<dyn ClientCertVerifier>,
    anchors: TrustAnchors,
}

impl ClientCertVerifier for AnchorPathLength {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        let now = i64::try_from(now.as_secs())
            .ok()
            .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
            .unwrap_or_else(chrono::Utc::now);
        verify_chain(end_entity, intermediates, &self.anchors, now).map_err(|e| {
            tracing::info!(error = %e, "client certificate chain refused");
            rustls::Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(
                Arc::new(e),
            )))
        })?;
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The two unauthenticated onboarding routes: the CA certificate (which
/// enrolling peers check against their pin) and enrollment itself (the
/// one-time token is the credential).
fn onboarding() -> Routes {
    Routes::new()
        .add(
            Method::GET,
            "/api/federation/v1/ca",
            Input::Nothing,
            ca_certificate,
        )
        .add(
            Method::POST,
            "/api/federation/v1/enroll",
            Input::Json,
            crate::identity::enroll,
        )
}

/// The verbs; they run only behind the auth layer.
fn verbs() -> Routes {
    Routes::new()
        .add(
            Method::GET,
            "/api/federation/v1/capabilities",
            Input::Nothing,
            capabilities,
        )
        .add(
            Method::POST,
            "/api/federation/v1/list/{resource}",
            Input::Json,
            list,
        )
        .add(
            Method::POST,
            "/api/federation/v1/get/{resource}/{id}",
            Input::Nothing,
            get_one,
        )
        .add(
            Method::POST,
            "/api/federation/v1/search/{resource}",
            Input::Json,
            search,
        )
}

/// Every route of the federation listener.
pub fn route_table() -> Vec<crate::http::RouteInfo> {
    onboarding().merge(verbs()).table().to_vec()
}

/// The verbs behind the auth layer, plus the onboarding routes.
pub fn routes(state: AppState, anchors: TrustAnchors) -> Router {
    let onboarding = onboarding().into_router().with_state(state.clone());
    let verbs = verbs()
        .into_router()
        .fallback(|| async { ApiError::not_found("no such federation route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                ErrorCode::MethodNotAllowed,
                "this federation route does not take that method",
            )
        })
        // The last layer added runs first: authenticate, then the rate limit.
        .route_layer(limit::RateLimitLayer::new(&state))
        .route_layer(middleware::from_fn_with_state(
            (state.clone(), anchors),
            authenticate,
        ))
        .with_state(state);
    onboarding.merge(verbs)
}

/// `GET /api/federation/v1/ca`: the CA this gateway issues peer certificates
/// from. Public: enrolling peers compare its fingerprint with their pin.
async fn ca_certificate(
    State(state): State<AppState>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let pki = crate::identity::pki(&state)?;
    Ok(Json(
        serde_json::json!({ "ca_certificate": pki.ca.cert_pem() }),
    ))
}

fn refuse(code: ErrorCode, message: impl Into<String>) -> Response {
    ApiError::new(code, message).into_response()
}

/// The auth layer: certificate → claims → grant → context. Every answer it
/// makes or passes on carries the [`PeerFacts`] it learned, for the audit.
async fn authenticate(
    State((state, anchors)): State<(AppState, TrustAnchors)>,
    request: Request,
    next: Next,
) -> Response {
    let mut facts = PeerFacts::default();
    let mut response = admit(&state, &anchors, request, next, &mut facts).await;
    response.extensions_mut().insert(facts);
    response
}

/// The serial of the leaf `chain` starts with, when it parses.
fn leaf_serial(chain: &PeerChain) -> Option<String> {
    let leaf = chain.0.first()?;
    mosaic_identity::inspect(leaf)
        .ok()
        .map(|summary| summary.serial.to_string())
}

async fn admit(
    state: &AppState,
    anchors: &TrustAnchors,
    mut request: Request,
    next: Next,
    facts: &mut PeerFacts,
) -> Response {
    let Some(chain) = request.extensions().get::<PeerChain>().cloned() else {
        return refuse(
            ErrorCode::Unauthorized,
            "no client certificate was presented",
        );
    };
    let identity = match verify_client_chain(&chain.0, anchors, chrono::Utc::now()) {
        Ok(identity) => identity,
        Err(e) if e.is_oid_error() => {
            facts.cert_serial = leaf_serial(&chain);
            return refuse(
                ErrorCode::Unauthorized,
                format!("Client certificate is missing required OID: {e}"),
            );
        }
        Err(e) => {
            facts.cert_serial = leaf_serial(&chain);
            return refuse(
                ErrorCode::Unauthorized,
                format!("Client certificate is not acceptable: {e}"),
            );
        }
    };
    facts.cert_serial = Some(identity.serial.to_string());
    facts.grant_id = Some(identity.claims.grant_id.clone());
    facts.subject_user_id = Some(identity.claims.subject_user_id.clone());
    facts.peer_id.clone_from(&identity.claims.peer_id);
    let claims = PresentedClaims {
        grant_id: identity.claims.grant_id,
        subject_user_id: identity.claims.subject_user_id,
        serial_hex: identity.serial.to_string(),
        peer_id: identity.claims.peer_id,
        instance_id: identity.claims.instance_id,
    };
    match context::resolve(state.store().conn(), &claims).await {
        Ok(ctx) => {
            facts.grant_id = Some(ctx.grant_id.clone());
            facts.peer_id = Some(ctx.peer_id.clone());
            facts.subject_user_id = Some(ctx.subject_user_id.clone());
            request.extensions_mut().insert(ctx);
            next.run(request).await
        }
        Err(e @ (context::ContextError::Db(_) | context::ContextError::InvalidStoredId(_))) => {
            tracing::error!(error = %e, "grant lookup failed");
            refuse(ErrorCode::Internal, "Federation request failed")
        }
        Err(reason) => {
            tracing::warn!(grant = %claims.grant_id, %reason, "federation access denied");
            match reason.refusal() {
                // The certificate is the grant's own: its holder may know why.
                Some(refusal) => ApiError::new(ErrorCode::Forbidden, refusal.server_message())
                    .with_details(refusal.details())
                    .into_response(),
                // Anything else learns only that it was refused.
                None => refuse(ErrorCode::Forbidden, "Federation access denied"),
            }
        }
    }
}

async fn capabilities(
    State(state): State<AppState>,
    ctx: Option<Extension<FederationContext>>,
) -> Result<Json<FederationCapabilitiesResponse>, ApiError> {
    let default_rate_limit = state.rate_limits().map(|l| l.default_quota());
    Ok(Json(verbs::capabilities(
        ctx.as_deref(),
        default_rate_limit,
    )?))
}

/// A verb's JSON body; an empty one is `null`, which the verb reads as `{}`.
fn json_body(verb: &str, body: &Bytes) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid(format!("Federation {verb} body is not JSON: {e}")))
}

async fn list(
    State(state): State<AppState>,
    ctx: Option<Extension<FederationContext>>,
    Path(resource): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = json_body("list", &body)?;
    let page = verbs::list(state.store().conn(), ctx.as_deref(), &resource, &body).await?;
    let outcome = VerbOutcome {
        rows: Some(u32::try_from(page.items.len()).unwrap_or(u32::MAX)),
        target: None,
    };
    Ok(outcome.attach(Json(page)))
}

async fn get_one(
    State(state): State<AppState>,
    ctx: Option<Extension<FederationContext>>,
    Path((resource, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let answer = verbs::get(state.store().conn(), ctx.as_deref(), &resource, &id).await;
    let outcome = VerbOutcome {
        rows: Some(u32::from(answer.is_ok())),
        target: Some(id),
    };
    Ok(match answer {
        Ok(item) => outcome.attach(Json(item)),
        Err(e) => outcome.attach(ApiError::from(e)),
    })
}

async fn search(
    State(state): State<AppState>,
    ctx: Option<Extension<FederationContext>>,
    Path(resource): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = json_body("search", &body)?;
    // The words searched for, as the verb reads them, recorded whether the
    // search is answered or refused.
    let target = body
        .get("q")
        .and_then(Value::as_str)
        .and_then(|q| SearchQuery::parse(q).ok())
        .map(|q| q.plain_text());
    let answer = verbs::search(state.store().conn(), ctx.as_deref(), &resource, &body).await;
    let outcome = VerbOutcome {
        rows: answer
            .as_ref()
            .ok()
            .map(|page| u32::try_from(page.items.len()).unwrap_or(u32::MAX)),
        target,
    };
    Ok(match answer {
        Ok(page) => outcome.attach(Json(page)),
        Err(e) => outcome.attach(ApiError::from(e)),
    })
}

/// The federation application as [`serve`] runs it: the routes under the
/// request limits and, outermost, the audit layer when `state` has an audit
/// writer ([`AppState::with_audit`]); without one, nothing is recorded.
pub fn app(state: AppState, anchors: TrustAnchors, limits: &ListenerLimits) -> Router {
    let writer = state.audit().cloned();
    let app = routes(state, anchors).layer(crate::layers::request_limits(limits));
    match writer {
        Some(writer) => app.layer(middleware::from_fn_with_state(writer, audit::record)),
        None => app,
    }
}

/// Serves the federation routes under the request limits on `listener`, TLS
/// connections bounded by `limits` (see the `listen` module), until `shutdown`
/// turns true; then lets in-flight requests finish. Requests are audited when
/// `state` has an audit writer (see [`app`]).
pub async fn serve(
    listener: TcpListener,
    tls: FederationTls,
    state: AppState,
    limits: ListenerLimits,
    shutdown: watch::Receiver<bool>,
) {
    let app = app(state, tls.anchors.clone(), &limits);
    let listener = crate::listen::Listener::new(listener, &limits, "federation");
    let acceptor = TlsAcceptor::from(tls.config.clone());
    crate::listen::serve_http(listener, Some(acceptor), app, &limits, shutdown).await;
}
