//! `/api/admin/v1/…`: gateway administration, admin token required.

use crate::auth::{AdminAuth, reject};
use crate::http::AppState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use mosaic_auth::Tokens;

/// Admin routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/v1/tokens", get(list_tokens))
        .route("/api/admin/v1/tokens/{id}", delete(revoke_token))
}

/// Every API token, without secrets.
async fn list_tokens(_admin: AdminAuth, State(state): State<AppState>) -> Response {
    match Tokens::new(state.store().conn()).list().await {
        Ok(list) => Json(list).into_response(),
        Err(e) => reject(&e),
    }
}

/// Revokes one token.
async fn revoke_token(
    _admin: AdminAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Response {
    match Tokens::new(state.store().conn()).revoke(&id).await {
        Ok(()) => axum::http::StatusCode::NO_CONTENT.into_response(),
        Err(e) => reject(&e),
    }
}
