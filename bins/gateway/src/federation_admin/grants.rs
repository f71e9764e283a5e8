//! Grants: create (with the first enrollment code), list, show, revoke, and
//! new enrollment codes.

use super::{enrollment_code_view, grant_view, lifecycle, path_id, pki};
use crate::auth::AdminAuth;
use crate::error::ApiError;
use crate::extract::{Json, Path};
use crate::http::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use mosaic_grants::NewGrant;
use mosaic_types::GrantId;
use mosaic_types::admin::{CreatedGrant, EnrollmentCodeView, GrantView};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;

#[derive(Deserialize)]
pub(super) struct CreateBody {
    /// Peer name (made, pending, when unknown) or id.
    peer: String,
    user_id: String,
    scope: Value,
    #[serde(default)]
    expires_in_days: Option<i64>,
    #[serde(default)]
    token_ttl_hours: Option<i64>,
}

pub(super) async fn create(
    _a: AdminAuth,
    State(s): State<AppState>,
    Json(body): Json<CreateBody>,
) -> Result<(StatusCode, Json<CreatedGrant>), ApiError> {
    // Before anything is written: without a CA there is no code to hand out.
    let pki = pki(&s)?;
    let created = lifecycle(&s)
        .create_grant(
            NewGrant {
                peer: body.peer,
                user_id: body.user_id,
                scope: body.scope,
                expires_in_days: body.expires_in_days,
                token_ttl_hours: body.token_ttl_hours,
            },
            Utc::now(),
        )
        .await?;
    let code = enrollment_code_view(pki, &created.token);
    Ok((
        StatusCode::CREATED,
        Json(CreatedGrant {
            grant: grant_view(created.grant, Some(created.peer.common_name)),
            enrollment: code,
        }),
    ))
}

pub(super) async fn list(
    _a: AdminAuth,
    State(s): State<AppState>,
) -> Result<Json<Vec<GrantView>>, ApiError> {
    let lifecycle = lifecycle(&s);
    let grants = lifecycle.list_grants().await?;
    let names: HashMap<_, _> = lifecycle
        .list_peers()
        .await?
        .into_iter()
        .map(|p| (p.id, p.common_name))
        .collect();
    Ok(Json(
        grants
            .into_iter()
            .map(|g| {
                let name = names.get(&g.peer_id).cloned();
                grant_view(g, name)
            })
            .collect(),
    ))
}

pub(super) async fn show(
    _a: AdminAuth,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<GrantView>, ApiError> {
    let grant = lifecycle(&s).grant(&path_id::<GrantId>(&id)?).await?;
    Ok(Json(grant_view(grant, None)))
}

#[derive(Deserialize)]
pub(super) struct RevokeBody {
    reason: String,
}

pub(super) async fn revoke(
    _a: AdminAuth,
    State(s): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<RevokeBody>,
) -> Result<Json<GrantView>, ApiError> {
    let grant = lifecycle(&s)
        .revoke_grant(&path_id::<GrantId>(&id)?, &body.reason, Utc::now())
        .await?;
    Ok(Json(grant_view(grant, None)))
}

#[derive(Deserialize, Default)]
pub(super) struct TokenBody {
    #[serde(default)]
    token_ttl_hours: Option<i64>,
}

pub(super) async fn new_token(
    _a: AdminAuth,
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Option<Json<TokenBody>>,
) -> Result<(StatusCode, Json<EnrollmentCodeView>), ApiError> {
    let pki = pki(&s)?;
    let ttl_hours = body.and_then(|Json(b)| b.token_ttl_hours);
    let token = lifecycle(&s)
        .issue_enrollment_token(&path_id::<GrantId>(&id)?, ttl_hours, Utc::now())
        .await?;
    Ok((StatusCode::CREATED, Json(enrollment_code_view(pki, &token))))
}
