//! The gateway's identity: PKI and instance identity created on first start,
//! and their HTTP routes.
//!
//! - `GET  /api/v1/federation/instance`: the public identity, no token needed.
//! - `POST /api/v1/federation/instance/regenerate-keys`: admin token.
//! - `POST /api/v1/federation/enroll`: a one-time enrollment token and a CSR
//!   in, a client certificate out. The token is the credential.

use crate::auth::AdminAuth;
use crate::http::{AppState, error};
use crate::settings::Settings;
use anyhow::Context as _;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use mosaic_identity::enrollment::{EnrollError, EnrollRequest, Enrollment};
use mosaic_identity::instance::{InstanceConfig, InstanceError, Instances};
use mosaic_identity::{GatewayPki, PkiEvent, PkiOptions, instance_name};
use mosaic_store::Store;
use mosaic_types::{EnrollmentRequest, EnrollmentResponse, ErrorCode, PublicInstanceIdentity};
use std::path::Path;
use std::sync::Arc;
use zeroize::Zeroizing;

/// Identity routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/federation/instance", get(instance))
        .route(
            "/api/v1/federation/instance/regenerate-keys",
            post(regenerate_keys),
        )
        .route("/api/v1/federation/enroll", post(enroll))
}

/// Loads (or on first start creates) the PKI in the data dir and the
/// instance identity in the store, logging what was created.
pub async fn bootstrap(settings: &Settings, store: &Store) -> anyhow::Result<Arc<GatewayPki>> {
    let name = instance_name(&settings.identity);
    let options = PkiOptions::from_settings(&settings.identity, &name)?;
    let now = chrono::Utc::now();
    let pki =
        GatewayPki::load_or_create(&settings.data_dir, &options, now).context("gateway PKI")?;
    log_events(&pki.events, &settings.data_dir);
    tracing::info!(
        fingerprint = %pki.ca.fingerprint(),
        server_names = ?options.server_names,
        "gateway CA ready"
    );
    let ensured = Instances::new(store.conn(), &pki.sealer)
        .ensure(
            &InstanceConfig {
                name,
                url: settings.identity.url.clone(),
            },
            now,
        )
        .await
        .context("instance identity")?;
    if ensured.created {
        tracing::info!(instance = %ensured.identity.instance_id, "instance identity created");
    }
    if !ensured.signing_key_usable {
        tracing::warn!(
            "the instance signing key does not open with this gateway's secret; regenerate it with POST /api/v1/federation/instance/regenerate-keys"
        );
    }
    Ok(Arc::new(pki))
}

fn log_events(events: &[PkiEvent], data_dir: &Path) {
    for event in events {
        match event {
            PkiEvent::CaCreated => {
                tracing::info!(dir = %data_dir.display(), "created the gateway CA")
            }
            PkiEvent::SecretCreated => tracing::info!(
                "created the gateway secret (back it up: sealed keys cannot be opened without it)"
            ),
            PkiEvent::ServerCertIssued { names } => {
                tracing::info!(?names, "issued the federation server certificate")
            }
            PkiEvent::PermissionsTightened(path) => {
                tracing::warn!(path = %path.display(), "key file was readable by others; set it back to 0600")
            }
        }
    }
}

fn no_pki() -> Response {
    error(
        ErrorCode::Unavailable,
        "the gateway's PKI is not initialised",
    )
}

fn instance_failure(e: &InstanceError) -> Response {
    match e {
        InstanceError::NotInitialised => error(ErrorCode::Unavailable, e.to_string()),
        _ => {
            tracing::error!(error = %e, "instance identity failed");
            error(ErrorCode::Internal, "instance identity failed")
        }
    }
}

fn with_fingerprint(
    mut identity: PublicInstanceIdentity,
    pki: &GatewayPki,
) -> PublicInstanceIdentity {
    identity.ca_fingerprint = Some(pki.ca.fingerprint().to_string());
    identity
}

/// The public identity: never a private key.
async fn instance(State(state): State<AppState>) -> Response {
    let Some(pki) = state.pki() else {
        return no_pki();
    };
    match Instances::new(state.store().conn(), &pki.sealer)
        .get()
        .await
    {
        Ok(identity) => Json(with_fingerprint(identity, pki)).into_response(),
        Err(e) => instance_failure(&e),
    }
}

/// Replaces the instance signing key; the id stays.
async fn regenerate_keys(admin: AdminAuth, State(state): State<AppState>) -> Response {
    let Some(pki) = state.pki() else {
        return no_pki();
    };
    match Instances::new(state.store().conn(), &pki.sealer)
        .regenerate_keys(chrono::Utc::now())
        .await
    {
        Ok(identity) => {
            tracing::info!(token = %admin.0.token_id, "instance signing key regenerated");
            Json(with_fingerprint(identity, pki)).into_response()
        }
        Err(e) => instance_failure(&e),
    }
}

fn enroll_failure(e: &EnrollError) -> Response {
    use EnrollError as E;
    match e {
        E::MalformedToken | E::UnknownToken | E::TokenUsed { .. } | E::TokenExpired { .. } => {
            error(ErrorCode::Unauthorized, e.to_string())
        }
        E::GrantNotFound(_) | E::GrantNotActive { .. } | E::PeerNotFound(_) => {
            error(ErrorCode::Forbidden, e.to_string())
        }
        E::Csr(_) | E::BadTtl(_) => error(ErrorCode::InvalidRequest, e.to_string()),
        E::Ca(_) | E::BadStoredId(_) | E::Random | E::Db(_) => {
            tracing::error!(error = %e, "enrollment failed");
            error(ErrorCode::Internal, "enrollment failed")
        }
    }
}

/// Trades a one-time token and a CSR for a client certificate.
pub(crate) async fn enroll(State(state): State<AppState>, body: axum::body::Bytes) -> Response {
    let Some(pki) = state.pki() else {
        return no_pki();
    };
    let request: EnrollmentRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                ErrorCode::InvalidRequest,
                format!(
                    "expected {{\"token\": \"mosaic_enroll_…\", \"csr\": \"-----BEGIN CERTIFICATE REQUEST-----…\"}}: {e}"
                ),
            );
        }
    };
    let conn = state.store().conn();
    let instance_id = match Instances::new(conn, &pki.sealer).get().await {
        Ok(identity) => Some(identity.instance_id),
        Err(e) => return instance_failure(&e),
    };
    let enroll = EnrollRequest {
        token: Zeroizing::new(request.token),
        csr_pem: request.csr,
        instance_id,
    };
    match Enrollment::new(conn)
        .enroll(&pki.ca, &enroll, chrono::Utc::now())
        .await
    {
        Ok(cert) => {
            tracing::info!(grant = %cert.grant_id, peer = %cert.peer_id, serial = %cert.serial, "peer enrolled");
            (
                StatusCode::CREATED,
                Json(EnrollmentResponse {
                    certificate: cert.certificate_pem,
                    ca_certificate: cert.ca_certificate_pem,
                    serial: cert.serial.to_string(),
                    not_after: cert
                        .not_after
                        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    grant_id: cert.grant_id.to_string(),
                    peer_id: cert.peer_id.to_string(),
                    subject_user_id: cert.subject_user_id.to_string(),
                }),
            )
                .into_response()
        }
        Err(e) => enroll_failure(&e),
    }
}
