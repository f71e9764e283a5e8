//! `/api/admin/v1/federation/…`: peers and grants, admin token required.
//!
//! A thin edge over `mosaic-grants`, which owns every lifecycle rule and makes
//! each change in one transaction with its audit row. Serving side
//! ([`grants`], [`peers`]): create a grant for a peer (the peer is made,
//! pending, if new) and hand out a one-time enrollment code that also pins
//! this gateway's CA; list, show and revoke grants; suspend, activate and
//! remove peers. Enrolling side ([`outbound`]): `peers/enroll` trades a code
//! from another gateway for a client certificate and records it as an
//! outbound peer for one local user, its key sealed.

mod grants;
mod outbound;
mod peers;

use crate::error::ApiError;
use crate::http::{AppState, Input, Routes};
use axum::http::Method;
use chrono::{DateTime, SecondsFormat, Utc};
use mosaic_federation_client::enroll::EnrollmentCode;
use mosaic_grants::{Grant, Grants, IssuedToken, Peer};
use mosaic_identity::GatewayPki;
use mosaic_types::IdError;
use serde::Serialize;
use serde_json::Value;

/// Federation administration routes.
pub(crate) fn routes() -> Routes {
    use Input::{Json as Body, Nothing, OptionalJson};
    const PEERS: &str = "/api/admin/v1/federation/peers";
    const PEER: &str = "/api/admin/v1/federation/peers/{id}";
    const GRANTS: &str = "/api/admin/v1/federation/grants";
    Routes::new()
        .add(Method::GET, PEERS, Nothing, peers::list)
        .add(Method::POST, PEERS, Body, peers::add)
        .add(
            Method::POST,
            "/api/admin/v1/federation/peers/enroll",
            Body,
            outbound::enroll,
        )
        .add(Method::GET, PEER, Nothing, peers::show)
        .add(Method::DELETE, PEER, Nothing, peers::remove)
        .add(
            Method::POST,
            "/api/admin/v1/federation/peers/{id}/suspend",
            Nothing,
            peers::suspend,
        )
        .add(
            Method::POST,
            "/api/admin/v1/federation/peers/{id}/activate",
            Nothing,
            peers::activate,
        )
        .add(
            Method::GET,
            "/api/admin/v1/federation/peers/{id}/capabilities",
            Nothing,
            outbound::capabilities,
        )
        .add(Method::GET, GRANTS, Nothing, grants::list)
        .add(Method::POST, GRANTS, Body, grants::create)
        .add(
            Method::GET,
            "/api/admin/v1/federation/grants/{id}",
            Nothing,
            grants::show,
        )
        .add(
            Method::POST,
            "/api/admin/v1/federation/grants/{id}/revoke",
            Body,
            grants::revoke,
        )
        .add(
            Method::POST,
            "/api/admin/v1/federation/grants/{id}/tokens",
            OptionalJson,
            grants::new_token,
        )
}

/// Lifecycle operations on the gateway's store, audited as the admin's.
fn lifecycle(s: &AppState) -> Grants<'_> {
    Grants::new(s.store().conn())
}

/// The gateway's PKI, without which no code can be handed out and no
/// enrollment made.
fn pki(s: &AppState) -> Result<&GatewayPki, ApiError> {
    s.pki()
        .map(|p| &**p)
        .ok_or_else(|| ApiError::unavailable("this gateway has no PKI"))
}

/// A path id as its typed id.
fn path_id<T: std::str::FromStr<Err = IdError>>(id: &str) -> Result<T, ApiError> {
    id.parse()
        .map_err(|e: IdError| ApiError::invalid(format!("id: {e}")))
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A peer as the admin API shows it (never the sealed key).
#[derive(Debug, Serialize)]
struct PeerView {
    id: String,
    common_name: String,
    display_name: String,
    state: &'static str,
    /// `inbound`: a gateway that reads from us; `outbound`: one we read from.
    direction: &'static str,
    endpoint_url: Option<String>,
    local_user_id: Option<String>,
    cert_serial: String,
    cert_not_after: String,
}

impl From<Peer> for PeerView {
    fn from(p: Peer) -> Self {
        Self {
            id: p.id.into_inner(),
            common_name: p.common_name,
            display_name: p.display_name,
            state: p.state.as_str(),
            direction: p.direction.as_str(),
            endpoint_url: p.endpoint_url,
            local_user_id: p.local_user_id.map(|u| u.into_inner()),
            cert_serial: p.cert_serial,
            cert_not_after: ts(p.cert_not_after),
        }
    }
}

/// A grant as the admin API shows it; `peer` is the peer's name where the
/// answer carries it.
#[derive(Debug, Serialize)]
struct GrantView {
    id: String,
    peer_id: String,
    peer: Option<String>,
    subject_user_id: String,
    status: &'static str,
    scope: Value,
    expires_at: Option<String>,
    revoked_at: Option<String>,
    revoked_reason: Option<String>,
    created_at: String,
}

impl GrantView {
    fn new(g: Grant, peer: Option<String>) -> Self {
        Self {
            id: g.id.into_inner(),
            peer_id: g.peer_id.into_inner(),
            peer,
            subject_user_id: g.subject_user_id.into_inner(),
            status: g.status.as_str(),
            scope: g.scope,
            expires_at: g.expires_at.map(ts),
            revoked_at: g.revoked_at.map(ts),
            revoked_reason: g.revoked_reason,
            created_at: ts(g.created_at),
        }
    }
}

/// What a peer's admin needs to enroll: the token and this gateway's CA pin,
/// as one code.
#[derive(Debug, Serialize)]
struct EnrollmentCodeView {
    enrollment_code: String,
    enrollment_expires_at: String,
    ca_fingerprint: String,
}

impl EnrollmentCodeView {
    fn new(pki: &GatewayPki, token: &IssuedToken) -> Self {
        let fingerprint = pki.ca.fingerprint().to_string();
        let code = EnrollmentCode::new(token.secret.as_str(), &fingerprint).to_code();
        Self {
            enrollment_code: code.to_string(),
            enrollment_expires_at: ts(token.expires_at),
            ca_fingerprint: fingerprint,
        }
    }
}
