//! `/api/v1/…`: a user's own data (projects, missions, tasks, notes, memory),
//! written with a user token, and `/api/admin/v1/…` people management.

use crate::auth::{AdminAuth, UserAuth};
use crate::error::ApiError;
use crate::extract::{Json, Path};
use crate::http::{AppState, Input, Routes};
use axum::extract::State;
use axum::http::{Method, StatusCode};
use mosaic_auth::{Role, Tokens};
use mosaic_native::{
    Membership, Native, NewInsight, NewMission, NewNote, NewPreference, NewProject, NewTask,
    NewTeam, NewUser, Owner, Project, Task, Team, User,
};
use mosaic_types::UserId;
use mosaic_types::admin::IssuedUserToken;
use serde::{Deserialize, Serialize};

/// Routes for native data and people.
pub(crate) fn routes() -> Routes {
    use Input::{Json as Body, Nothing, OptionalJson};
    Routes::new()
        .add(Method::POST, "/api/admin/v1/users", Body, create_user)
        .add(Method::GET, "/api/admin/v1/users", Nothing, list_users)
        .add(
            Method::POST,
            "/api/admin/v1/users/{id}/tokens",
            OptionalJson,
            issue_user_token,
        )
        .add(Method::POST, "/api/admin/v1/teams", Body, create_team)
        .add(
            Method::PUT,
            "/api/admin/v1/teams/{team}/members/{user}",
            OptionalJson,
            add_member,
        )
        .add(
            Method::DELETE,
            "/api/admin/v1/teams/{team}/members/{user}",
            Nothing,
            remove_member,
        )
        .add(Method::POST, "/api/v1/projects", Body, create_project)
        .add(Method::POST, "/api/v1/missions", Body, create_mission)
        .add(Method::POST, "/api/v1/tasks", Body, create_task)
        .add(Method::POST, "/api/v1/notes", Body, create_note)
        .add(
            Method::POST,
            "/api/v1/memory/insights",
            Body,
            create_insight,
        )
        .add(
            Method::PUT,
            "/api/v1/memory/preferences",
            Body,
            set_preference,
        )
}

/// A created row: `201` and its JSON.
type Created<T> = Result<(StatusCode, Json<T>), ApiError>;

fn created<T: Serialize>(value: T) -> (StatusCode, Json<T>) {
    (StatusCode::CREATED, Json(value))
}

/// `{"id": …}`, the answer of writes that return only the new id.
#[derive(Debug, Serialize)]
struct NewId {
    id: String,
}

async fn create_user(
    _a: AdminAuth,
    State(s): State<AppState>,
    Json(body): Json<NewUser>,
) -> Created<User> {
    Ok(created(
        Native::new(s.store().conn()).create_user(body).await?,
    ))
}

async fn list_users(_a: AdminAuth, State(s): State<AppState>) -> Result<Json<Vec<User>>, ApiError> {
    Ok(Json(Native::new(s.store().conn()).list_users().await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
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
) -> Created<IssuedUserToken> {
    let user_id = UserId::new(id.clone()).map_err(|e| ApiError::invalid(format!("id: {e}")))?;
    let users = Native::new(s.store().conn()).list_users().await?;
    if !users.iter().any(|u| u.id == id) {
        return Err(ApiError::not_found(format!("no user with id `{id}`")));
    }
    let label = body
        .and_then(|b| b.0.label)
        .unwrap_or_else(|| "cli".to_owned());
    let token = Tokens::new(s.store().conn())
        .issue(Role::User, Some(&id), &label)
        .await?;
    Ok(created(IssuedUserToken {
        id: token.id,
        user_id,
        token: token.secret.to_string(),
    }))
}

async fn create_team(
    _a: AdminAuth,
    State(s): State<AppState>,
    Json(body): Json<NewTeam>,
) -> Created<Team> {
    Ok(created(
        Native::new(s.store().conn()).create_team(body).await?,
    ))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct MemberRequest {
    #[serde(default)]
    role: Option<String>,
}

async fn add_member(
    _a: AdminAuth,
    State(s): State<AppState>,
    Path((team, user)): Path<(String, String)>,
    body: Option<Json<MemberRequest>>,
) -> Result<Json<Membership>, ApiError> {
    let role = body
        .and_then(|b| b.0.role)
        .unwrap_or_else(|| "member".to_owned());
    let membership = Native::new(s.store().conn())
        .add_member(&team, &user, &role)
        .await?;
    Ok(Json(membership))
}

async fn remove_member(
    _a: AdminAuth,
    State(s): State<AppState>,
    Path((team, user)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    Native::new(s.store().conn())
        .remove_member(&team, &user)
        .await?;
    Ok(StatusCode::NO_CONTENT)
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
) -> Created<Project> {
    let owner = match body.team_id {
        Some(team) => Owner::Team(team),
        None => Owner::User(user.user_id.clone()),
    };
    let project = Native::new(s.store().conn())
        .create_project(NewProject {
            name: body.name,
            owner,
            created_by: user.user_id,
        })
        .await?;
    Ok(created(project))
}

async fn create_mission(
    user: UserAuth,
    State(s): State<AppState>,
    Json(body): Json<NewMission>,
) -> Created<NewId> {
    let id = Native::new(s.store().conn())
        .create_mission(&user.user_id, body)
        .await?;
    Ok(created(NewId { id }))
}

async fn create_task(
    user: UserAuth,
    State(s): State<AppState>,
    Json(body): Json<NewTask>,
) -> Created<Task> {
    let task = Native::new(s.store().conn())
        .create_task(&user.user_id, body)
        .await?;
    Ok(created(task))
}

async fn create_note(
    user: UserAuth,
    State(s): State<AppState>,
    Json(body): Json<NewNote>,
) -> Created<NewId> {
    let id = Native::new(s.store().conn())
        .create_note(&user.user_id, body)
        .await?;
    Ok(created(NewId { id }))
}

async fn create_insight(
    user: UserAuth,
    State(s): State<AppState>,
    Json(body): Json<NewInsight>,
) -> Created<NewId> {
    let id = Native::new(s.store().conn())
        .create_insight(&user.user_id, body)
        .await?;
    Ok(created(NewId { id }))
}

async fn set_preference(
    user: UserAuth,
    State(s): State<AppState>,
    Json(body): Json<NewPreference>,
) -> Result<Json<NewId>, ApiError> {
    let id = Native::new(s.store().conn())
        .set_preference(&user.user_id, body)
        .await?;
    Ok(Json(NewId { id }))
}
