//! `/api/v1/…`: a user's own data (projects, missions, tasks, notes, memory),
//! written with a user token, and `/api/admin/v1/…` people management.

use crate::auth::{AdminAuth, UserAuth, reject};
use crate::http::{AppState, error};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use axum::{Json, Router};
use mosaic_auth::{Role, Tokens};
use mosaic_native::{
    Native, NativeError, NewInsight, NewMission, NewNote, NewPreference, NewProject, NewTask,
    NewTeam, NewUser, Owner,
};
use mosaic_types::ErrorCode;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Routes for native data and people.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/v1/users", post(create_user).get(list_users))
        .route("/api/admin/v1/users/{id}/tokens", post(issue_user_token))
        .route("/api/admin/v1/teams", post(create_team))
        .route(
            "/api/admin/v1/teams/{team}/members/{user}",
            put(add_member).delete(remove_member),
        )
        .route("/api/v1/projects", post(create_project))
        .route("/api/v1/missions", post(create_mission))
        .route("/api/v1/tasks", post(create_task))
        .route("/api/v1/notes", post(create_note))
        .route("/api/v1/memory/insights", post(create_insight))
        .route("/api/v1/memory/preferences", put(set_preference))
}

fn native_error(e: &NativeError) -> Response {
    let code = match e {
        NativeError::Invalid { .. } => ErrorCode::InvalidRequest,
        NativeError::NotFound { .. } => ErrorCode::NotFound,
        NativeError::Duplicate { .. } => ErrorCode::Conflict,
        NativeError::Forbidden(_) => ErrorCode::Forbidden,
        NativeError::Db(_) => {
            tracing::error!(error = %e, "native write failed");
            return error(ErrorCode::Internal, "storage failed");
        }
    };
    error(code, e.to_string())
}

fn created<T: Serialize>(result: Result<T, NativeError>) -> Response {
    match result {
        Ok(body) => (StatusCode::CREATED, Json(body)).into_response(),
        Err(e) => native_error(&e),
    }
}

async fn create_user(
    _a: AdminAuth,
    State(s): State<AppState>,
    Json(body): Json<NewUser>,
) -> Response {
    created(Native::new(s.store().conn()).create_user(body).await)
}

async fn list_users(_a: AdminAuth, State(s): State<AppState>) -> Response {
    match Native::new(s.store().conn()).list_users().await {
        Ok(users) => Json(users).into_response(),
        Err(e) => native_error(&e),
    }
}

#[derive(Deserialize)]
struct TokenRequest {
    #[serde(default)]
    label: Option<String>,
}

/// Issues a token acting as the user; the secret is in this answer only.
async fn issue_user_token(
    _a: AdminAuth,
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Option<Json<TokenRequest>>,
) -> Response {
    let known = Native::new(s.store().conn())
        .list_users()
        .await
        .map(|u| u.iter().any(|u| u.id == id));
    match known {
        Ok(true) => {}
        Ok(false) => return error(ErrorCode::NotFound, format!("no user with id `{id}`")),
        Err(e) => return native_error(&e),
    }
    let label = body
        .and_then(|b| b.0.label)
        .unwrap_or_else(|| "cli".to_owned());
    match Tokens::new(s.store().conn())
        .issue(Role::User, Some(&id), &label)
        .await
    {
        Ok(t) => (
            StatusCode::CREATED,
            Json(json!({"id": t.id, "user_id": id, "token": t.secret})),
        )
            .into_response(),
        Err(e) => reject(&e),
    }
}

async fn create_team(
    _a: AdminAuth,
    State(s): State<AppState>,
    Json(body): Json<NewTeam>,
) -> Response {
    created(Native::new(s.store().conn()).create_team(body).await)
}

#[derive(Deserialize, Default)]
struct MemberRequest {
    #[serde(default)]
    role: Option<String>,
}

async fn add_member(
    _a: AdminAuth,
    State(s): State<AppState>,
    Path((team, user)): Path<(String, String)>,
    body: Option<Json<MemberRequest>>,
) -> Response {
    let role = body
        .and_then(|b| b.0.role)
        .unwrap_or_else(|| "member".to_owned());
    match Native::new(s.store().conn())
        .add_member(&team, &user, &role)
        .await
    {
        Ok(m) => Json(m).into_response(),
        Err(e) => native_error(&e),
    }
}

async fn remove_member(
    _a: AdminAuth,
    State(s): State<AppState>,
    Path((team, user)): Path<(String, String)>,
) -> Response {
    match Native::new(s.store().conn())
        .remove_member(&team, &user)
        .await
    {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => native_error(&e),
    }
}

#[derive(Deserialize)]
struct ProjectRequest {
    name: String,
    /// A team project when set; otherwise the caller's personal project.
    #[serde(default)]
    team_id: Option<String>,
}

async fn create_project(
    user: UserAuth,
    State(s): State<AppState>,
    Json(body): Json<ProjectRequest>,
) -> Response {
    let owner = match body.team_id {
        Some(team) => Owner::Team(team),
        None => Owner::User(user.user_id.clone()),
    };
    created(
        Native::new(s.store().conn())
            .create_project(NewProject {
                name: body.name,
                owner,
                created_by: user.user_id,
            })
            .await,
    )
}

async fn create_mission(
    user: UserAuth,
    State(s): State<AppState>,
    Json(body): Json<NewMission>,
) -> Response {
    created(
        Native::new(s.store().conn())
            .create_mission(&user.user_id, body)
            .await
            .map(|id| json!({ "id": id })),
    )
}

async fn create_task(
    user: UserAuth,
    State(s): State<AppState>,
    Json(body): Json<NewTask>,
) -> Response {
    created(
        Native::new(s.store().conn())
            .create_task(&user.user_id, body)
            .await,
    )
}

async fn create_note(
    user: UserAuth,
    State(s): State<AppState>,
    Json(body): Json<NewNote>,
) -> Response {
    created(
        Native::new(s.store().conn())
            .create_note(&user.user_id, body)
            .await
            .map(|id| json!({ "id": id })),
    )
}

async fn create_insight(
    user: UserAuth,
    State(s): State<AppState>,
    Json(body): Json<NewInsight>,
) -> Response {
    created(
        Native::new(s.store().conn())
            .create_insight(&user.user_id, body)
            .await
            .map(|id| json!({ "id": id })),
    )
}

async fn set_preference(
    user: UserAuth,
    State(s): State<AppState>,
    Json(body): Json<NewPreference>,
) -> Response {
    match Native::new(s.store().conn())
        .set_preference(&user.user_id, body)
        .await
    {
        Ok(id) => Json(json!({ "id": id })).into_response(),
        Err(e) => native_error(&e),
    }
}
