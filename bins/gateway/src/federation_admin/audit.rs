//! `GET /api/admin/v1/federation/audit?peer=&grant=&user=&denied=&since=&limit=&cursor=`:
//! the federation audit log, newest first. `mosaic-federation` checks the
//! parameters (each refusal names its parameter) and reads the page.

use crate::auth::AdminAuth;
use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::http::AppState;
use axum::extract::State;
use mosaic_federation::audit::{AuditLog, AuditParams, AuditQuery};
use mosaic_types::admin::AuditPage;

pub(super) async fn list(
    _a: AdminAuth,
    State(s): State<AppState>,
    Query(params): Query<AuditParams>,
) -> Result<Json<AuditPage>, ApiError> {
    let query = AuditQuery::from_params(&params, chrono::Utc::now())?;
    Ok(Json(AuditLog::new(s.store().conn()).list(&query).await?))
}
