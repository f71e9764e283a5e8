//! The enrolling side: trading another gateway's code for a client
//! certificate (the network exchange and the sealing of the key happen here;
//! `mosaic-grants` records the result), and asking an outbound peer what our
//! grant there allows.

use super::{lifecycle, path_id, peer_view, pki};
use crate::auth::AdminAuth;
use crate::error::ApiError;
use crate::extract::{Json, Path};
use crate::http::AppState;
use crate::query::client_key_purpose;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use mosaic_federation_client::ClientErrorCode;
use mosaic_federation_client::enroll::{EnrollmentCode, MalformedCode, enroll as enroll_with};
use mosaic_grants::{OutboundEnrollment, new_peer_id};
use mosaic_types::admin::EnrolledPeer;
use mosaic_types::{ErrorCode, FederationCapabilitiesResponse, GrantId, PeerId, UserId};
use serde::Deserialize;

/// How long the enrollment exchange with the peer may take.
const ENROLL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

#[derive(Deserialize)]
pub(super) struct EnrollBody {
    /// The peer's federation address, `https://host:port`.
    url: String,
    /// The code the peer's admin printed.
    code: String,
    /// What to call the peer here (its rows are tagged with it).
    name: String,
    /// The local user whose queries may use this grant.
    user_id: String,
}

pub(super) async fn enroll(
    _a: AdminAuth,
    State(s): State<AppState>,
    Json(body): Json<EnrollBody>,
) -> Result<(StatusCode, Json<EnrolledPeer>), ApiError> {
    let pki = pki(&s)?;
    let lifecycle = lifecycle(&s);
    // Everything that could stop the result from being recorded is checked
    // before the exchange, which spends the peer's one-time token.
    let url = lifecycle
        .check_outbound_enrollment(&body.name, &body.url, &body.user_id)
        .await?;
    let code: EnrollmentCode = body
        .code
        .parse()
        .map_err(|e: MalformedCode| ApiError::invalid(e.to_string()))?;
    // The key is made here and never leaves this gateway unsealed.
    let csr = mosaic_identity::generate_csr(&body.name)
        .map_err(|e| ApiError::internal("cannot make a key", &e))?;
    let enrolled = enroll_with(&url, &code, &csr.csr_pem, ENROLL_TIMEOUT)
        .await
        .map_err(|e| {
            let code = match e.code {
                ClientErrorCode::Network | ClientErrorCode::Timeout => ErrorCode::Unavailable,
                _ => ErrorCode::InvalidRequest,
            };
            ApiError::new(
                code,
                format!(
                    "enrollment with {} failed: {}: {}",
                    body.url, e.code, e.message
                ),
            )
        })?;
    let response = enrolled.response;
    let remote_ids = GrantId::new(response.grant_id.clone())
        .and_then(|g| UserId::new(response.subject_user_id.clone()).map(|u| (g, u)));
    let (remote_grant_id, remote_subject_user_id) = remote_ids.map_err(|e| {
        ApiError::new(
            ErrorCode::Unavailable,
            format!("enrollment with {} answered an unusable id: {e}", body.url),
        )
    })?;
    let not_after = chrono::DateTime::parse_from_rfc3339(&response.not_after)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|_| Utc::now());
    // The key is sealed under a purpose naming the peer, so its id comes first.
    let peer_id = new_peer_id();
    let sealed_key = pki
        .sealer
        .seal(
            &client_key_purpose(peer_id.as_str()),
            csr.key_pem.as_bytes(),
        )
        .map_err(|e| ApiError::internal("cannot seal the key", &e))?;
    let peer = lifecycle
        .record_outbound_enrollment(
            OutboundEnrollment {
                peer_id,
                name: body.name,
                url,
                user_id: body.user_id,
                cert_pem: response.certificate,
                cert_serial: response.serial,
                cert_not_after: not_after,
                ca_pem: enrolled.ca_pem,
                sealed_key,
                remote_grant_id: response.grant_id.clone(),
            },
            Utc::now(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(EnrolledPeer {
            peer: peer_view(peer),
            remote_grant_id,
            remote_subject_user_id,
        }),
    ))
}

/// What our grant at an outbound peer allows, asked of the peer.
pub(super) async fn capabilities(
    _a: AdminAuth,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<FederationCapabilitiesResponse>, ApiError> {
    let peer = lifecycle(&s)
        .outbound_peer(&path_id::<PeerId>(&id)?)
        .await?;
    let caps = crate::query::capabilities(&s, &peer)
        .await
        .map_err(|e| match e.code {
            ClientErrorCode::Config => ApiError::internal("cannot build a client for the peer", &e),
            // A refusal, worded and recorded as for a query.
            ClientErrorCode::Forbidden => ApiError::new(ErrorCode::Forbidden, e.message),
            _ => ApiError::unavailable(format!("{}: {}: {}", peer.common_name, e.code, e.message)),
        })?;
    Ok(Json(caps))
}
