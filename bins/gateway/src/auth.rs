//! Bearer-token extractors for the HTTP API.
//!
//! Handlers take [`AdminAuth`] or [`UserAuth`] as an argument; a request without
//! the right token never reaches the handler body. 401 means "no usable token",
//! 403 means "valid token, wrong role".

use crate::error::ApiError;
use crate::http::AppState;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use mosaic_auth::{Principal, Role, Tokens};
use mosaic_types::ErrorCode;

/// A request made with a live admin token.
#[derive(Debug, Clone)]
pub struct AdminAuth(pub Principal);

/// A request made with a live user token; `user_id` is the user it acts as.
#[derive(Debug, Clone)]
pub struct UserAuth {
    /// The verified token.
    pub principal: Principal,
    /// The user the token acts as.
    pub user_id: String,
}

/// A request made with any live token, admin or user: for APIs every
/// authenticated caller may use, such as the backlog.
#[derive(Debug, Clone)]
pub struct AnyAuth(pub Principal);

fn bearer(parts: &Parts) -> &str {
    parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .unwrap_or("")
}

impl FromRequestParts<AppState> for AdminAuth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let principal = Tokens::new(state.store().conn())
            .require(bearer(parts), Role::Admin)
            .await?;
        Ok(AdminAuth(principal))
    }
}

impl FromRequestParts<AppState> for UserAuth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let principal = Tokens::new(state.store().conn())
            .require(bearer(parts), Role::User)
            .await?;
        let user_id = principal.user_id.clone().ok_or_else(|| {
            ApiError::new(ErrorCode::Forbidden, "this token is not bound to a user")
        })?;
        Ok(UserAuth { principal, user_id })
    }
}

impl FromRequestParts<AppState> for AnyAuth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let principal = Tokens::new(state.store().conn())
            .verify(bearer(parts))
            .await?;
        Ok(AnyAuth(principal))
    }
}
