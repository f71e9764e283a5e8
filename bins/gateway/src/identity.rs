//! The gateway's identity: PKI and instance identity created on first start,
//! and their HTTP routes.
//!
//! - `GET  /api/v1/federation/instance`: the public identity, no token needed.
//! - `POST /api/v1/federation/instance/regenerate-keys`: admin token.
//! - `POST /api/v1/federation/enroll`: a one-time enrollment token and a CSR
//!   in, a client certificate out. The token is the credential.

use crate::auth::AdminAuth;
use crate::error::ApiError;
use crate::extract::Json;
use crate::http::{AppState, Input, Routes};
use crate::settings::Settings;
use anyhow::Context as _;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use mosaic_identity::enrollment::{EnrollRequest, Enrollment};
use mosaic_identity::instance::{InstanceConfig, Instances};
use mosaic_identity::{GatewayPki, PkiEvent, PkiOptions, instance_name};
use mosaic_store::Store;
use mosaic_types::{EnrollmentRequest, EnrollmentResponse, PublicInstanceIdentity};
use std::path::Path;
use std::sync::Arc;
use zeroize::Zeroizing;

/// Identity routes.
pub(crate) fn routes() -> Routes {
    Routes::new()
        .add(
            Method::GET,
            "/api/v1/federation/instance",
            Input::Nothing,
            instance,
        )
        .add(
            Method::POST,
            "/api/v1/federation/instance/regenerate-keys",
            Input::Nothing,
            regenerate_keys,
        )
        .add(
            Method::POST,
            "/api/v1/federation/enroll",
            Input::Json,
            enroll,
        )
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

/// The PKI, or `unavailable` in states built without one.
pub(crate) fn pki(state: &AppState) -> Result<&Arc<GatewayPki>, ApiError> {
    state
        .pki()
        .ok_or_else(|| ApiError::unavailable("the gateway's PKI is not initialised"))
}

fn with_fingerprint(
    mut identity: PublicInstanceIdentity,
    pki: &GatewayPki,
) -> PublicInstanceIdentity {
    identity.ca_fingerprint = Some(pki.ca.fingerprint().to_string());
    identity
}

/// The public identity: never a private key.
async fn instance(State(state): State<AppState>) -> Result<Json<PublicInstanceIdentity>, ApiError> {
    let pki = pki(&state)?;
    let identity = Instances::new(state.store().conn(), &pki.sealer)
        .get()
        .await?;
    Ok(Json(with_fingerprint(identity, pki)))
}

/// Replaces the instance signing key; the id stays.
async fn regenerate_keys(
    admin: AdminAuth,
    State(state): State<AppState>,
) -> Result<Json<PublicInstanceIdentity>, ApiError> {
    let pki = pki(&state)?;
    let identity = Instances::new(state.store().conn(), &pki.sealer)
        .regenerate_keys(chrono::Utc::now())
        .await?;
    tracing::info!(token = %admin.0.token_id, "instance signing key regenerated");
    Ok(Json(with_fingerprint(identity, pki)))
}

/// Trades a one-time token and a CSR for a client certificate.
pub(crate) async fn enroll(
    State(state): State<AppState>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<EnrollmentResponse>), ApiError> {
    let pki = pki(&state)?;
    let request: EnrollmentRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::invalid(format!(
            "expected {{\"token\": \"mosaic_enroll_…\", \"csr\": \"-----BEGIN CERTIFICATE REQUEST-----…\"}}: {e}"
        ))
    })?;
    let conn = state.store().conn();
    let instance_id = Some(Instances::new(conn, &pki.sealer).get().await?.instance_id);
    let enroll = EnrollRequest {
        token: Zeroizing::new(request.token),
        csr_pem: request.csr,
        instance_id,
    };
    let cert = Enrollment::new(conn)
        .enroll(&pki.ca, &enroll, chrono::Utc::now())
        .await?;
    tracing::info!(grant = %cert.grant_id, peer = %cert.peer_id, serial = %cert.serial, "peer enrolled");
    Ok((
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
    ))
}
