//! `/api/admin/v1/federation/…`: peers and grants, admin token required.
//!
//! Serving side: create a grant for a peer (the peer row is created, pending,
//! if new) and hand out a one-time enrollment code that also pins this
//! gateway's CA; list, show and revoke grants; suspend, activate and remove
//! peers. Enrolling side: `peers/enroll` trades a code from another gateway for
//! a client certificate and stores it as an outbound peer for one local user,
//! its key sealed.

use crate::auth::AdminAuth;
use crate::extract::{Json, Path};
use crate::http::{AppState, Input, Routes, error};
use crate::query::{client_for_row, client_key_purpose};
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{Duration, SecondsFormat, Utc};
use mosaic_federation_client::enroll::{EnrollmentCode, enroll};
use mosaic_identity::enrollment::{DEFAULT_TOKEN_TTL, Enrollment};
use mosaic_store::entity::{audit_log, federation_grants, federation_peers, users};
use mosaic_store::now;
use mosaic_store::sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, Set,
};
use mosaic_types::{ErrorCode, GrantId};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Federation administration routes.
pub(crate) fn routes() -> Routes {
    use Input::{Json as Body, Nothing, OptionalJson};
    const PEERS: &str = "/api/admin/v1/federation/peers";
    const PEER: &str = "/api/admin/v1/federation/peers/{id}";
    const GRANTS: &str = "/api/admin/v1/federation/grants";
    Routes::new()
        .add(Method::GET, PEERS, Nothing, list_peers)
        .add(Method::POST, PEERS, Body, add_peer)
        .add(
            Method::POST,
            "/api/admin/v1/federation/peers/enroll",
            Body,
            enroll_outbound,
        )
        .add(Method::GET, PEER, Nothing, show_peer)
        .add(Method::DELETE, PEER, Nothing, remove_peer)
        .add(
            Method::POST,
            "/api/admin/v1/federation/peers/{id}/suspend",
            Nothing,
            suspend_peer,
        )
        .add(
            Method::POST,
            "/api/admin/v1/federation/peers/{id}/activate",
            Nothing,
            activate_peer,
        )
        .add(
            Method::GET,
            "/api/admin/v1/federation/peers/{id}/capabilities",
            Nothing,
            peer_capabilities,
        )
        .add(Method::GET, GRANTS, Nothing, list_grants)
        .add(Method::POST, GRANTS, Body, create_grant)
        .add(
            Method::GET,
            "/api/admin/v1/federation/grants/{id}",
            Nothing,
            show_grant,
        )
        .add(
            Method::POST,
            "/api/admin/v1/federation/grants/{id}/revoke",
            Body,
            revoke_grant,
        )
        .add(
            Method::POST,
            "/api/admin/v1/federation/grants/{id}/tokens",
            OptionalJson,
            new_token,
        )
}

fn ts(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn db_error(e: &impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "federation admin storage failed");
    error(ErrorCode::Internal, "storage failed")
}

/// A peer as the admin API shows it (never the sealed key).
#[derive(Debug, Serialize)]
struct PeerView {
    id: String,
    common_name: String,
    display_name: String,
    state: String,
    /// `inbound`: a gateway that reads from us; `outbound`: one we read from.
    direction: &'static str,
    endpoint_url: Option<String>,
    local_user_id: Option<String>,
    cert_serial: String,
    cert_not_after: String,
}

fn peer_view(p: federation_peers::Model) -> PeerView {
    let outbound = p.endpoint_url.is_some() && p.client_key_pem.is_some();
    PeerView {
        id: p.id,
        common_name: p.common_name,
        display_name: p.display_name,
        state: p.state,
        direction: if outbound { "outbound" } else { "inbound" },
        endpoint_url: p.endpoint_url,
        local_user_id: p.local_user_id,
        cert_serial: p.cert_serial,
        cert_not_after: ts(p.cert_not_after),
    }
}

#[derive(Debug, Serialize)]
struct GrantView {
    id: String,
    peer_id: String,
    peer: Option<String>,
    subject_user_id: String,
    status: String,
    scope: Value,
    expires_at: Option<String>,
    revoked_at: Option<String>,
    revoked_reason: Option<String>,
    created_at: String,
}

fn grant_view(g: federation_grants::Model, peer: Option<String>) -> GrantView {
    GrantView {
        id: g.id,
        peer_id: g.peer_id,
        peer,
        subject_user_id: g.subject_user_id,
        status: g.status,
        scope: g.scope,
        expires_at: g.expires_at.map(ts),
        revoked_at: g.revoked_at.map(ts),
        revoked_reason: g.revoked_reason,
        created_at: ts(g.created_at),
    }
}

async fn list_peers(_a: AdminAuth, State(s): State<AppState>) -> Response {
    match federation_peers::Entity::find()
        .order_by_asc(federation_peers::Column::CommonName)
        .all(s.store().conn())
        .await
    {
        Ok(rows) => Json(rows.into_iter().map(peer_view).collect::<Vec<_>>()).into_response(),
        Err(e) => db_error(&e),
    }
}

async fn find_peer(s: &AppState, id: &str) -> Result<federation_peers::Model, Response> {
    match federation_peers::Entity::find_by_id(id.to_owned())
        .one(s.store().conn())
        .await
    {
        Ok(Some(p)) => Ok(p),
        Ok(None) => Err(error(
            ErrorCode::NotFound,
            format!("no peer with id `{id}`"),
        )),
        Err(e) => Err(db_error(&e)),
    }
}

async fn show_peer(_a: AdminAuth, State(s): State<AppState>, Path(id): Path<String>) -> Response {
    match find_peer(&s, &id).await {
        Ok(p) => Json(peer_view(p)).into_response(),
        Err(r) => r,
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
}

#[derive(Deserialize)]
struct NewPeer {
    common_name: String,
    #[serde(default)]
    display_name: Option<String>,
}

async fn create_inbound_peer(
    s: &AppState,
    name: &str,
    display: Option<String>,
) -> Result<federation_peers::Model, Response> {
    if !valid_name(name) {
        return Err(error(
            ErrorCode::InvalidRequest,
            format!("peer name `{name}`: use 1–64 letters, digits, `-`, `.` or `_`"),
        ));
    }
    let t = now();
    federation_peers::ActiveModel {
        id: Set(uuid_v4()),
        common_name: Set(name.to_owned()),
        display_name: Set(display.unwrap_or_else(|| name.to_owned())),
        cert_pem: Set(String::new()),
        cert_serial: Set(String::new()),
        cert_not_after: Set(t),
        state: Set("pending".to_owned()),
        endpoint_url: Set(None),
        client_key_pem: Set(None),
        ca_pem: Set(None),
        local_user_id: Set(None),
        created_at: Set(t),
        updated_at: Set(t),
    }
    .insert(s.store().conn())
    .await
    .map_err(|e| db_error(&e))
}

fn uuid_v4() -> String {
    uuid::Uuid::new_v4().to_string()
}

async fn add_peer(_a: AdminAuth, State(s): State<AppState>, Json(body): Json<NewPeer>) -> Response {
    match create_inbound_peer(&s, &body.common_name, body.display_name).await {
        Ok(p) => (StatusCode::CREATED, Json(peer_view(p))).into_response(),
        Err(r) => r,
    }
}

async fn set_state(s: &AppState, id: &str, state: &str, action: &str) -> Response {
    let peer = match find_peer(s, id).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let mut row = peer.into_active_model();
    row.state = Set(state.to_owned());
    row.updated_at = Set(now());
    match row.update(s.store().conn()).await {
        Ok(p) => {
            audit(
                s,
                action,
                "peer",
                &p.id,
                Some(&p.id),
                json!({ "state": state }),
            )
            .await;
            Json(peer_view(p)).into_response()
        }
        Err(e) => db_error(&e),
    }
}

async fn suspend_peer(
    _a: AdminAuth,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Response {
    set_state(&s, &id, "suspended", "federation.peer.suspend").await
}

async fn activate_peer(
    _a: AdminAuth,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Response {
    set_state(&s, &id, "active", "federation.peer.activate").await
}

async fn remove_peer(_a: AdminAuth, State(s): State<AppState>, Path(id): Path<String>) -> Response {
    if let Err(r) = find_peer(&s, &id).await {
        return r;
    }
    // Grants of the peer go with it (foreign key cascade).
    match federation_peers::Entity::delete_by_id(id.clone())
        .exec(s.store().conn())
        .await
    {
        Ok(_) => {
            audit(&s, "federation.peer.remove", "peer", &id, None, json!({})).await;
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => db_error(&e),
    }
}

async fn audit(
    s: &AppState,
    action: &str,
    target_type: &str,
    target_id: &str,
    peer: Option<&str>,
    details: Value,
) {
    let row = audit_log::ActiveModel {
        id: Set(uuid_v4()),
        occurred_at: Set(now()),
        actor: Set("admin".to_owned()),
        action: Set(action.to_owned()),
        target_type: Set(Some(target_type.to_owned())),
        target_id: Set(Some(target_id.to_owned())),
        peer_id: Set(peer.map(str::to_owned)),
        details: Set(Some(details)),
    };
    if let Err(e) = row.insert(s.store().conn()).await {
        tracing::warn!(error = %e, action, "audit write failed");
    }
}

#[derive(Deserialize)]
struct NewGrant {
    /// Peer name (created, pending, when unknown) or id.
    peer: String,
    user_id: String,
    scope: Value,
    #[serde(default)]
    expires_in_days: Option<i64>,
    #[serde(default)]
    token_ttl_hours: Option<i64>,
}

#[derive(Serialize)]
struct CreatedGrant {
    grant: GrantView,
    /// The one-time code to give the peer: token plus this gateway's CA pin.
    enrollment_code: String,
    enrollment_expires_at: String,
    ca_fingerprint: String,
}

async fn issue_code(
    s: &AppState,
    grant_id: &str,
    ttl_hours: Option<i64>,
) -> Result<(String, String, String), Response> {
    let Some(pki) = s.pki() else {
        return Err(error(ErrorCode::Unavailable, "this gateway has no PKI"));
    };
    let ttl = ttl_hours.map_or(DEFAULT_TOKEN_TTL, Duration::hours);
    if ttl <= Duration::zero() || ttl > Duration::days(30) {
        return Err(error(
            ErrorCode::InvalidRequest,
            "token_ttl_hours must be between 1 and 720",
        ));
    }
    let gid =
        GrantId::new(grant_id).map_err(|e| error(ErrorCode::InvalidRequest, e.to_string()))?;
    let token = Enrollment::new(s.store().conn())
        .issue_token(&gid, ttl, Utc::now())
        .await
        .map_err(|e| error(ErrorCode::InvalidRequest, e.to_string()))?;
    let fingerprint = pki.ca.fingerprint().to_string();
    let code = EnrollmentCode::new(token.secret.as_str(), &fingerprint).to_code();
    Ok((code.to_string(), ts(token.expires_at), fingerprint))
}

async fn create_grant(
    _a: AdminAuth,
    State(s): State<AppState>,
    Json(body): Json<NewGrant>,
) -> Response {
    if let Err(e) = mosaic_scope::parse_scope(&body.scope) {
        return error(ErrorCode::InvalidRequest, format!("scope: {e}"));
    }
    let conn = s.store().conn();
    match users::Entity::find_by_id(body.user_id.clone())
        .one(conn)
        .await
    {
        Ok(Some(_)) => {}
        Ok(None) => {
            return error(
                ErrorCode::NotFound,
                format!("no user with id `{}`", body.user_id),
            );
        }
        Err(e) => return db_error(&e),
    }
    // The peer by id, else by name among inbound peers, else a new pending one.
    let existing = federation_peers::Entity::find()
        .filter(
            mosaic_store::sea_orm::Condition::any()
                .add(federation_peers::Column::Id.eq(body.peer.as_str()))
                .add(
                    mosaic_store::sea_orm::Condition::all()
                        .add(federation_peers::Column::CommonName.eq(body.peer.as_str()))
                        .add(federation_peers::Column::EndpointUrl.is_null()),
                ),
        )
        .one(conn)
        .await;
    let peer = match existing {
        Ok(Some(p)) => p,
        Ok(None) => match create_inbound_peer(&s, &body.peer, None).await {
            Ok(p) => p,
            Err(r) => return r,
        },
        Err(e) => return db_error(&e),
    };
    let expires_at = match body.expires_in_days {
        Some(d) if d < 1 => {
            return error(
                ErrorCode::InvalidRequest,
                "expires_in_days must be at least 1",
            );
        }
        Some(d) => Some(now() + Duration::days(d)),
        None => None,
    };
    let t = now();
    let grant = federation_grants::ActiveModel {
        id: Set(uuid_v4()),
        peer_id: Set(peer.id.clone()),
        subject_user_id: Set(body.user_id.clone()),
        status: Set("active".to_owned()),
        scope: Set(body.scope.clone()),
        expires_at: Set(expires_at),
        revoked_at: Set(None),
        revoked_reason: Set(None),
        created_at: Set(t),
        updated_at: Set(t),
    }
    .insert(conn)
    .await;
    let grant = match grant {
        Ok(g) => g,
        Err(e) => return db_error(&e),
    };
    audit(
        &s,
        "federation.grant.create",
        "grant",
        &grant.id,
        Some(&peer.id),
        json!({ "subject_user_id": grant.subject_user_id }),
    )
    .await;
    match issue_code(&s, &grant.id, body.token_ttl_hours).await {
        Ok((code, expires, fingerprint)) => (
            StatusCode::CREATED,
            Json(CreatedGrant {
                grant: grant_view(grant, Some(peer.common_name)),
                enrollment_code: code,
                enrollment_expires_at: expires,
                ca_fingerprint: fingerprint,
            }),
        )
            .into_response(),
        Err(r) => r,
    }
}

async fn list_grants(_a: AdminAuth, State(s): State<AppState>) -> Response {
    let conn = s.store().conn();
    let grants = match federation_grants::Entity::find()
        .order_by_desc(federation_grants::Column::CreatedAt)
        .all(conn)
        .await
    {
        Ok(g) => g,
        Err(e) => return db_error(&e),
    };
    let peers = match federation_peers::Entity::find().all(conn).await {
        Ok(p) => p,
        Err(e) => return db_error(&e),
    };
    let name = |id: &str| {
        peers
            .iter()
            .find(|p| p.id == id)
            .map(|p| p.common_name.clone())
    };
    Json(
        grants
            .into_iter()
            .map(|g| {
                let n = name(&g.peer_id);
                grant_view(g, n)
            })
            .collect::<Vec<_>>(),
    )
    .into_response()
}

async fn find_grant(s: &AppState, id: &str) -> Result<federation_grants::Model, Response> {
    match federation_grants::Entity::find_by_id(id.to_owned())
        .one(s.store().conn())
        .await
    {
        Ok(Some(g)) => Ok(g),
        Ok(None) => Err(error(
            ErrorCode::NotFound,
            format!("no grant with id `{id}`"),
        )),
        Err(e) => Err(db_error(&e)),
    }
}

async fn show_grant(_a: AdminAuth, State(s): State<AppState>, Path(id): Path<String>) -> Response {
    match find_grant(&s, &id).await {
        Ok(g) => Json(grant_view(g, None)).into_response(),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
struct Revoke {
    reason: String,
}

async fn revoke_grant(
    _a: AdminAuth,
    State(s): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<Revoke>,
) -> Response {
    let reason = body.reason.trim().to_owned();
    if reason.is_empty() {
        return error(
            ErrorCode::InvalidRequest,
            "reason: say why the grant is revoked",
        );
    }
    let grant = match find_grant(&s, &id).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    let peer = grant.peer_id.clone();
    let mut row = grant.into_active_model();
    row.status = Set("revoked".to_owned());
    row.revoked_at = Set(Some(now()));
    row.revoked_reason = Set(Some(reason.clone()));
    row.updated_at = Set(now());
    match row.update(s.store().conn()).await {
        Ok(g) => {
            audit(
                &s,
                "federation.grant.revoke",
                "grant",
                &g.id,
                Some(&peer),
                json!({ "reason": reason }),
            )
            .await;
            Json(grant_view(g, None)).into_response()
        }
        Err(e) => db_error(&e),
    }
}

#[derive(Deserialize, Default)]
struct TokenBody {
    #[serde(default)]
    token_ttl_hours: Option<i64>,
}

async fn new_token(
    _a: AdminAuth,
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Option<Json<TokenBody>>,
) -> Response {
    let grant = match find_grant(&s, &id).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    if grant.status != "active" {
        return error(
            ErrorCode::Conflict,
            format!(
                "grant `{id}` is {}; only active grants enroll",
                grant.status
            ),
        );
    }
    match issue_code(&s, &id, body.and_then(|b| b.0.token_ttl_hours)).await {
        Ok((code, expires, fingerprint)) => (
            StatusCode::CREATED,
            Json(json!({ "enrollment_code": code, "enrollment_expires_at": expires, "ca_fingerprint": fingerprint })),
        )
            .into_response(),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
struct EnrollOutbound {
    /// The peer's federation address, `https://host:port`.
    url: String,
    /// The code the peer's admin printed.
    code: String,
    /// What to call the peer here (its rows are tagged with it).
    name: String,
    /// The local user whose queries may use this grant.
    user_id: String,
}

async fn enroll_outbound(
    _a: AdminAuth,
    State(s): State<AppState>,
    Json(body): Json<EnrollOutbound>,
) -> Response {
    let Some(pki) = s.pki() else {
        return error(ErrorCode::Unavailable, "this gateway has no PKI");
    };
    if !valid_name(&body.name) {
        return error(
            ErrorCode::InvalidRequest,
            format!(
                "name `{}`: use 1–64 letters, digits, `-`, `.` or `_`",
                body.name
            ),
        );
    }
    let code: EnrollmentCode = match body.code.parse() {
        Ok(c) => c,
        Err(e) => return error(ErrorCode::InvalidRequest, e.to_string()),
    };
    let conn = s.store().conn();
    match users::Entity::find_by_id(body.user_id.clone())
        .one(conn)
        .await
    {
        Ok(Some(_)) => {}
        Ok(None) => {
            return error(
                ErrorCode::NotFound,
                format!("no local user with id `{}`", body.user_id),
            );
        }
        Err(e) => return db_error(&e),
    }
    // The key is made here and never leaves this gateway unsealed.
    let csr = match mosaic_identity::generate_csr(&body.name) {
        Ok(c) => c,
        Err(e) => return error(ErrorCode::Internal, format!("cannot make a key: {e}")),
    };
    let enrolled = match enroll(
        &body.url,
        &code,
        &csr.csr_pem,
        std::time::Duration::from_secs(15),
    )
    .await
    {
        Ok(e) => e,
        Err(e) => {
            let code = match e.code {
                mosaic_federation_client::ClientErrorCode::Network
                | mosaic_federation_client::ClientErrorCode::Timeout => ErrorCode::Unavailable,
                _ => ErrorCode::InvalidRequest,
            };
            return error(
                code,
                format!(
                    "enrollment with {} failed: {}: {}",
                    body.url, e.code, e.message
                ),
            );
        }
    };
    let not_after = chrono::DateTime::parse_from_rfc3339(&enrolled.response.not_after)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|_| now());
    let id = uuid_v4();
    let sealed = match pki
        .sealer
        .seal(&client_key_purpose(&id), csr.key_pem.as_bytes())
    {
        Ok(v) => v,
        Err(e) => return error(ErrorCode::Internal, format!("cannot seal the key: {e}")),
    };
    let t = now();
    let row = federation_peers::ActiveModel {
        id: Set(id),
        common_name: Set(body.name.clone()),
        display_name: Set(body.name.clone()),
        cert_pem: Set(enrolled.response.certificate.clone()),
        cert_serial: Set(enrolled.response.serial.clone()),
        cert_not_after: Set(mosaic_store::truncate_to_millis(not_after)),
        state: Set("active".to_owned()),
        endpoint_url: Set(Some(body.url.trim_end_matches('/').to_owned())),
        client_key_pem: Set(Some(sealed)),
        ca_pem: Set(Some(enrolled.ca_pem.clone())),
        local_user_id: Set(Some(body.user_id.clone())),
        created_at: Set(t),
        updated_at: Set(t),
    }
    .insert(conn)
    .await;
    match row {
        Ok(p) => {
            audit(
                &s,
                "federation.peer.enroll",
                "peer",
                &p.id,
                Some(&p.id),
                json!({ "url": body.url, "remote_grant": enrolled.response.grant_id }),
            )
            .await;
            (StatusCode::CREATED, Json(json!({ "peer": peer_view(p), "remote_grant_id": enrolled.response.grant_id, "remote_subject_user_id": enrolled.response.subject_user_id }))).into_response()
        }
        Err(e) => db_error(&e),
    }
}

async fn peer_capabilities(
    _a: AdminAuth,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Response {
    let peer = match find_peer(&s, &id).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if peer.endpoint_url.is_none() || peer.client_key_pem.is_none() {
        return error(
            ErrorCode::InvalidRequest,
            format!(
                "peer `{}` is inbound: we hold no grant from it",
                peer.common_name
            ),
        );
    }
    let client = match client_for_row(&s, &peer) {
        Ok(c) => c,
        Err(e) => return error(ErrorCode::Internal, e.to_string()),
    };
    match client.capabilities().await {
        Ok(c) => Json(c).into_response(),
        Err(e) => error(
            ErrorCode::Unavailable,
            format!("{}: {}: {}", peer.common_name, e.code, e.message),
        ),
    }
}
