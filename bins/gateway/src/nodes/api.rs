//! `/api/nodes` and `/api/sessions`: what a user does with their nodes.
//!
//! Every route takes a user token and acts only on that user's rows: another
//! user's node, session or task is `404`, exactly like one that does not exist.

use super::{DispatchError, NodeHub};
use crate::auth::UserAuth;
use crate::backlog::Body;
use crate::http::{AppState, error};
use axum::body::Body as HttpBody;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use mosaic_nodes::NodeConfig;
use mosaic_nodes::registry::{Registry, RegistryError, policy_from_view};
use mosaic_types::ErrorCode;
use mosaic_types::nodes::{
    AttachNode, CreateSession, DispatchRequest, InviteRequest, InviteResponse, NodeList,
    OutputEvent, SessionList, TaskList,
};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// Node and session routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/nodes/invite", post(invite))
        .route("/api/nodes", get(list_nodes))
        .route("/api/nodes/{id}", get(show_node).delete(remove_node))
        .route("/api/sessions", post(create_session).get(list_sessions))
        .route("/api/sessions/{id}", get(show_session))
        .route("/api/sessions/{id}/attach", post(attach))
        .route("/api/sessions/{id}/dispatch", post(dispatch))
        .route("/api/sessions/{id}/tasks", get(list_tasks))
        .route("/api/sessions/{id}/tasks/{task}", get(show_task))
        .route("/api/sessions/{id}/tasks/{task}/output", get(output))
        .route("/api/sessions/{id}/tasks/{task}/cancel", post(cancel))
}

#[allow(clippy::result_large_err)] // the error is the finished response
fn hub(state: &AppState) -> Result<&Arc<NodeHub>, Response> {
    state
        .nodes()
        .ok_or_else(|| error(ErrorCode::Unavailable, "this gateway runs no node service"))
}

fn registry(state: &AppState) -> Registry<'_> {
    Registry::new(state.store().conn())
}

pub(crate) fn registry_error(e: &RegistryError) -> Response {
    match e {
        RegistryError::NotFound { .. } => error(ErrorCode::NotFound, e.to_string()),
        RegistryError::Conflict(_) => error(ErrorCode::Conflict, e.to_string()),
        RegistryError::Invalid(_) => error(ErrorCode::InvalidRequest, e.to_string()),
        RegistryError::InviteRefused | RegistryError::CredentialRefused => {
            error(ErrorCode::Unauthorized, e.to_string())
        }
        RegistryError::Random(_) | RegistryError::Db(_) => {
            tracing::error!(error = %e, "node registry failure");
            error(
                ErrorCode::Internal,
                "node registry failure; see the gateway's log",
            )
        }
    }
}

fn reply<T: serde::Serialize>(status: StatusCode, r: Result<T, RegistryError>) -> Response {
    match r {
        Ok(v) => (status, Json(v)).into_response(),
        Err(e) => registry_error(&e),
    }
}

async fn invite(
    State(state): State<AppState>,
    auth: UserAuth,
    Body(req): Body<InviteRequest>,
) -> Response {
    let hub = match hub(&state) {
        Ok(h) => h,
        Err(r) => return r,
    };
    let policy = match &req.policy {
        Some(view) => match policy_from_view(view) {
            Ok(p) => p,
            Err(e) => return registry_error(&e),
        },
        None => mosaic_nodes::Policy::default(),
    };
    let invite = match registry(&state)
        .create_invite(&auth.user_id, req.name.clone(), &policy, req.ttl_seconds)
        .await
    {
        Ok(i) => i,
        Err(e) => return registry_error(&e),
    };
    let config = NodeConfig::for_invite(
        hub.endpoint.clone(),
        hub.ca_pem.clone(),
        invite.token.clone(),
        req.name.clone(),
    );
    let yaml = match serde_norway::to_string(&config) {
        Ok(y) => format!(
            "# agent-node configuration for {}; the invite token works once, until {}.\n{y}",
            hub.endpoint,
            invite.expires_at.to_rfc3339()
        ),
        Err(e) => {
            return error(
                ErrorCode::Internal,
                format!("cannot render the node config: {e}"),
            );
        }
    };
    tracing::info!(invite = %invite.id, user = %auth.user_id, "node invite created");
    (
        StatusCode::CREATED,
        Json(InviteResponse {
            invite_id: invite.id,
            token: invite.token,
            expires_at: invite.expires_at,
            gateway: hub.endpoint.clone(),
            config_yaml: yaml,
        }),
    )
        .into_response()
}

async fn list_nodes(State(state): State<AppState>, auth: UserAuth) -> Response {
    reply(
        StatusCode::OK,
        registry(&state)
            .list_nodes(&auth.user_id)
            .await
            .map(|nodes| NodeList { nodes }),
    )
}

async fn show_node(
    State(state): State<AppState>,
    auth: UserAuth,
    Path(id): Path<String>,
) -> Response {
    reply(
        StatusCode::OK,
        registry(&state).node(&auth.user_id, &id).await,
    )
}

async fn remove_node(
    State(state): State<AppState>,
    auth: UserAuth,
    Path(id): Path<String>,
) -> Response {
    match registry(&state).remove_node(&auth.user_id, &id).await {
        Ok(()) => {
            if let Some(hub) = state.nodes() {
                hub.disconnect(&id);
            }
            tracing::info!(node = %id, user = %auth.user_id, "node removed");
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => registry_error(&e),
    }
}

async fn create_session(
    State(state): State<AppState>,
    auth: UserAuth,
    Body(req): Body<CreateSession>,
) -> Response {
    reply(
        StatusCode::CREATED,
        registry(&state)
            .create_session(&auth.user_id, req.name)
            .await,
    )
}

async fn list_sessions(State(state): State<AppState>, auth: UserAuth) -> Response {
    reply(
        StatusCode::OK,
        registry(&state)
            .list_sessions(&auth.user_id)
            .await
            .map(|sessions| SessionList { sessions }),
    )
}

async fn show_session(
    State(state): State<AppState>,
    auth: UserAuth,
    Path(id): Path<String>,
) -> Response {
    reply(
        StatusCode::OK,
        registry(&state).session(&auth.user_id, &id).await,
    )
}

async fn attach(
    State(state): State<AppState>,
    auth: UserAuth,
    Path(id): Path<String>,
    Body(req): Body<AttachNode>,
) -> Response {
    reply(
        StatusCode::OK,
        registry(&state)
            .attach(&auth.user_id, &id, &req.node_id)
            .await,
    )
}

async fn dispatch(
    State(state): State<AppState>,
    auth: UserAuth,
    Path(id): Path<String>,
    Body(req): Body<DispatchRequest>,
) -> Response {
    let hub = match hub(&state) {
        Ok(h) => h,
        Err(r) => return r,
    };
    if req.command.trim().is_empty() {
        return error(ErrorCode::InvalidRequest, "`command` must not be empty");
    }
    if req.command.len() > 64 * 1024 {
        return error(ErrorCode::InvalidRequest, "`command` is longer than 64 KiB");
    }
    if req.timeout_secs == Some(0) {
        return error(
            ErrorCode::InvalidRequest,
            "`timeout_secs` must be at least 1 (leave it out for the node's default)",
        );
    }
    match hub.dispatch(&auth.user_id, &id, &req).await {
        Ok(task) => (StatusCode::ACCEPTED, Json(task)).into_response(),
        Err(DispatchError::Registry(e)) => registry_error(&e),
        Err(e @ DispatchError::Offline(_)) => error(ErrorCode::Conflict, e.to_string()),
        Err(e @ DispatchError::NoSigningKey(_)) => error(ErrorCode::Unavailable, e.to_string()),
    }
}

async fn list_tasks(
    State(state): State<AppState>,
    auth: UserAuth,
    Path(id): Path<String>,
) -> Response {
    reply(
        StatusCode::OK,
        registry(&state)
            .list_tasks(&auth.user_id, &id)
            .await
            .map(|tasks| TaskList { tasks }),
    )
}

async fn show_task(
    State(state): State<AppState>,
    auth: UserAuth,
    Path((id, task)): Path<(String, String)>,
) -> Response {
    reply(
        StatusCode::OK,
        registry(&state).task(&auth.user_id, &id, &task).await,
    )
}

async fn cancel(
    State(state): State<AppState>,
    auth: UserAuth,
    Path((id, task)): Path<(String, String)>,
) -> Response {
    let hub = match hub(&state) {
        Ok(h) => h,
        Err(r) => return r,
    };
    let view = match registry(&state).task(&auth.user_id, &id, &task).await {
        Ok(v) => v,
        Err(e) => return registry_error(&e),
    };
    hub.cancel(&view).await;
    reply(
        StatusCode::ACCEPTED,
        registry(&state).task(&auth.user_id, &id, &task).await,
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutputQuery {
    #[serde(default)]
    follow: bool,
    #[serde(default)]
    after: i32,
}

/// NDJSON output of a task: what is stored after `after`, then (with
/// `follow`) what arrives, then an `end` line once the task has ended.
async fn output(
    State(state): State<AppState>,
    auth: UserAuth,
    Path((id, task)): Path<(String, String)>,
    query: Result<Query<OutputQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(q) = match query {
        Ok(q) => q,
        Err(e) => {
            return error(
                ErrorCode::InvalidRequest,
                format!(
                    "invalid output query (follow=true|false, after=<seq>): {}",
                    e.body_text()
                ),
            );
        }
    };
    let hub = match hub(&state) {
        Ok(h) => h.clone(),
        Err(r) => return r,
    };
    // Subscribe before reading what is stored, so nothing falls between.
    let mut live = hub.subscribe(&task);
    if let Err(e) = registry(&state).task(&auth.user_id, &id, &task).await {
        return registry_error(&e);
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<String, std::io::Error>>(64);
    tokio::spawn(async move {
        follow_output(&hub, &task, q, &mut live, &tx).await;
        drop(live);
        hub.release(&task);
    });
    let body = HttpBody::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    ([(header::CONTENT_TYPE, "application/x-ndjson")], body).into_response()
}

type Lines = tokio::sync::mpsc::Sender<Result<String, std::io::Error>>;

async fn follow_output(
    hub: &NodeHub,
    task: &str,
    q: OutputQuery,
    live: &mut tokio::sync::broadcast::Receiver<OutputEvent>,
    tx: &Lines,
) {
    let registry = Registry::new(hub.store().conn());
    let mut last = q.after;
    let mut tick = tokio::time::interval(Duration::from_millis(1000));
    loop {
        // Catch up from storage: covers the start, lagging, and output
        // recorded by another gateway sharing the database.
        match registry.output_after(task, last).await {
            Ok(rows) => {
                for (seq, stream, data) in rows {
                    last = seq;
                    let line = ndjson(&OutputEvent::Output { seq, stream, data });
                    if tx.send(Ok(line)).await.is_err() {
                        return;
                    }
                }
            }
            Err(e) => {
                tracing::warn!(task, error = %e, "cannot read task output");
                return;
            }
        }
        match registry.task_by_id(task).await {
            Ok(Some(view)) if view.finished() => {
                // Output stored after the end was read? Read once more.
                if let Ok(rows) = registry.output_after(task, last).await {
                    for (seq, stream, data) in rows {
                        let line = ndjson(&OutputEvent::Output { seq, stream, data });
                        if tx.send(Ok(line)).await.is_err() {
                            return;
                        }
                    }
                }
                let _ = tx.send(Ok(ndjson(&OutputEvent::End { task: view }))).await;
                return;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(task, error = %e, "cannot read task");
                return;
            }
        }
        if !q.follow {
            return;
        }
        // Wait for live events; storage is the source of truth, so each
        // wake-up just catches up from it.
        tokio::select! {
            event = live.recv() => match event {
                Ok(OutputEvent::Output { seq, stream, data }) if seq == last + 1 => {
                    last = seq;
                    if tx.send(Ok(ndjson(&OutputEvent::Output { seq, stream, data }))).await.is_err() {
                        return;
                    }
                }
                // Closed: the task ended; the next pass reads the end.
                Ok(_) | Err(RecvError::Lagged(_) | RecvError::Closed) => {}
            },
            _ = tick.tick() => {}
            () = tx.closed() => return,
        }
    }
}

fn ndjson(event: &OutputEvent) -> String {
    let mut line = serde_json::to_string(event).unwrap_or_default();
    line.push('\n');
    line
}
