//! `/api/admin/v1/federation/…`: peers and grants, admin token required.
//!
//! A thin edge over `mosaic-grants`, which owns every lifecycle rule and makes
//! each change in one transaction with its audit row. Serving side
//! ([`grants`], [`peers`]): create a grant for a peer (the peer is made,
//! pending, if new) and hand out a one-time enrollment code that also pins
//! this gateway's CA; list, show and revoke grants; suspend, activate and
//! remove peers. Enrolling side ([`outbound`]): `peers/enroll` trades a code
//! from another gateway for a client certificate and records it as an
//! outbound peer for one local user, its key sealed. [`audit`] reads the
//! federation audit log: who read what here, and what was refused.

mod audit;
mod grants;
mod outbound;
mod peers;

use crate::error::ApiError;
use crate::http::{AppState, Input, Routes};
use axum::http::Method;
use mosaic_federation_client::enroll::EnrollmentCode;
use mosaic_grants::{Grant, Grants, IssuedToken, Peer};
use mosaic_identity::GatewayPki;
use mosaic_types::IdError;
use mosaic_types::admin::{EnrollmentCodeView, GrantView, PeerView};

/// Federation administration routes.
pub(crate) fn routes() -> Routes {
    use Input::{Json as Body, Nothing, OptionalJson, Query};
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
        .add(
            Method::GET,
            "/api/admin/v1/federation/audit",
            Query,
            audit::list,
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

/// A peer as the admin API shows it (never the sealed key).
fn peer_view(p: Peer) -> PeerView {
    PeerView {
        id: p.id,
        common_name: p.common_name,
        display_name: p.display_name,
        state: p.state,
        refusal: p.refusal,
        direction: p.direction,
        endpoint_url: p.endpoint_url,
        local_user_id: p.local_user_id,
        cert_serial: p.cert_serial,
        cert_not_after: p.cert_not_after,
    }
}

/// A grant as the admin API shows it; `peer` is the peer's name where the
/// answer carries it.
fn grant_view(g: Grant, peer: Option<String>) -> GrantView {
    GrantView {
        id: g.id,
        peer_id: g.peer_id,
        peer,
        subject_user_id: g.subject_user_id,
        status: g.status,
        scope: g.scope,
        expires_at: g.expires_at,
        revoked_at: g.revoked_at,
        revoked_reason: g.revoked_reason,
        created_at: g.created_at,
    }
}

/// What a peer's admin needs to enroll: the token and this gateway's CA pin,
/// as one code.
fn enrollment_code_view(pki: &GatewayPki, token: &IssuedToken) -> EnrollmentCodeView {
    let fingerprint = pki.ca.fingerprint().to_string();
    let code = EnrollmentCode::new(token.secret.as_str(), &fingerprint).to_code();
    EnrollmentCodeView {
        enrollment_code: code.to_string(),
        enrollment_expires_at: token.expires_at,
        ca_fingerprint: fingerprint,
    }
}
