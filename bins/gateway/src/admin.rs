//! `/api/admin/v1/…`: gateway administration, admin token required.

use crate::auth::AdminAuth;
use crate::error::ApiError;
use crate::extract::{Json, Path};
use crate::http::{AppState, Input, Routes};
use axum::extract::State;
use axum::http::{Method, StatusCode};
use mosaic_auth::{TokenInfo, Tokens};

/// Admin routes.
pub(crate) fn routes() -> Routes {
    Routes::new()
        .add(
            Method::GET,
            "/api/admin/v1/tokens",
            Input::Nothing,
            list_tokens,
        )
        .add(
            Method::DELETE,
            "/api/admin/v1/tokens/{id}",
            Input::Nothing,
            revoke_token,
        )
}

/// Every API token, without secrets.
async fn list_tokens(
    _admin: AdminAuth,
    State(state): State<AppState>,
) -> Result<Json<Vec<TokenInfo>>, ApiError> {
    Ok(Json(Tokens::new(state.store().conn()).list().await?))
}

/// Revokes one token.
async fn revoke_token(
    _admin: AdminAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    Tokens::new(state.store().conn()).revoke(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
