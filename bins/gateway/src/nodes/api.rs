//! `/api/nodes` and `/api/sessions`: what a user does with their nodes.
//!
//! Every route takes a user token and acts only on that user's rows: another
//! user's node, session or task is `404`, exactly like one that does not exist.

use super::{DispatchError, NodeHub};
use crate::auth::UserAuth;
use crate::error::ApiError;
use crate::extract::{Json, Path, Query};
use crate::http::{AppState, Input, Routes};
use axum::body::Body as HttpBody;
use axum::extract::State;
use axum::http::{Method, StatusCode, header};
use axum::response::IntoResponse;
use mosaic_nodes::NodeConfig;
use mosaic_nodes::registry::{Registry, policy_from_view};
use mosaic_types::nodes::{
    AttachNode, CreateSession, DispatchRequest, InviteRequest, InviteResponse, NodeList, NodeView,
    OutputEvent, SessionList, SessionView, TaskList, TaskView,
};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// Node and session routes.
pub(crate) fn routes() -> Routes {
    use Input::{Json as Body, Nothing, Query as Params};
    Routes::new()
        .add(Method::POST, "/api/nodes/invite", Body, invite)
        .add(Method::GET, "/api/nodes", Nothing, list_nodes)
        .add(Method::GET, "/api/nodes/{id}", Nothing, show_node)
        .add(Method::DELETE, "/api/nodes/{id}", Nothing, remove_node)
        .add(Method::POST, "/api/sessions", Body, create_session)
        .add(Method::GET, "/api/sessions", Nothing, list_sessions)
        .add(Method::GET, "/api/sessions/{id}", Nothing, show_session)
        .add(Method::POST, "/api/sessions/{id}/attach", Body, attach)
        .add(
            Method::POST,
            "/api/sessions/{id}/close",
            Nothing,
            close_session,
        )
        .add(Method::POST, "/api/sessions/{id}/dispatch", Body, dispatch)
        .add(Method::GET, "/api/sessions/{id}/tasks", Nothing, list_tasks)
        .add(
            Method::GET,
            "/api/sessions/{id}/tasks/{task}",
            Nothing,
            show_task,
        )
        .add(
            Method::GET,
            "/api/sessions/{id}/tasks/{task}/output",
            Params,
            output,
        )
        .add(
            Method::POST,
            "/api/sessions/{id}/tasks/{task}/cancel",
            Nothing,
            cancel,
        )
}

fn hub(state: &AppState) -> Result<&Arc<NodeHub>, ApiError> {
    state
        .nodes()
        .ok_or_else(|| ApiError::unavailable("this gateway runs no node service"))
}

fn registry(state: &AppState) -> Registry<'_> {
    Registry::new(state.store().conn())
}

impl From<DispatchError> for ApiError {
    fn from(e: DispatchError) -> Self {
        match e {
            DispatchError::Registry(e) => e.into(),
            e @ DispatchError::Offline(_) => ApiError::conflict(e.to_string()),
            e @ DispatchError::NoSigningKey(_) => ApiError::unavailable(e.to_string()),
        }
    }
}

/// A JSON answer or an error.
type Reply<T> = Result<Json<T>, ApiError>;

async fn invite(
    State(state): State<AppState>,
    auth: UserAuth,
    Json(req): Json<InviteRequest>,
) -> Result<(StatusCode, Json<InviteResponse>), ApiError> {
    let hub = hub(&state)?;
    let policy = match &req.policy {
        Some(view) => policy_from_view(view)?,
        None => mosaic_nodes::Policy::default(),
    };
    let invite = registry(&state)
        .create_invite(&auth.user_id, req.name.clone(), &policy, req.ttl_seconds)
        .await?;
    let config = NodeConfig::for_invite(
        hub.endpoint.clone(),
        hub.ca_pem.clone(),
        invite.token.clone(),
        req.name.clone(),
    );
    let yaml = serde_norway::to_string(&config)
        .map_err(|e| ApiError::internal("cannot render the node config", &e))?;
    let yaml = format!(
        "# agent-node configuration for {}; the invite token works once, until {}.\n{yaml}",
        hub.endpoint,
        invite.expires_at.to_rfc3339()
    );
    tracing::info!(invite = %invite.id, user = %auth.user_id, "node invite created");
    Ok((
        StatusCode::CREATED,
        Json(InviteResponse {
            invite_id: invite.id,
            token: invite.token,
            expires_at: invite.expires_at,
            gateway: hub.endpoint.clone(),
            config_yaml: yaml,
        }),
    ))
}

async fn list_nodes(State(state): State<AppState>, auth: UserAuth) -> Reply<NodeList> {
    let nodes = registry(&state).list_nodes(&auth.user_id).await?;
    Ok(Json(NodeList { nodes }))
}

async fn show_node(
    State(state): State<AppState>,
    auth: UserAuth,
    Path(id): Path<String>,
) -> Reply<NodeView> {
    Ok(Json(registry(&state).node(&auth.user_id, &id).await?))
}

async fn remove_node(
    State(state): State<AppState>,
    auth: UserAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    registry(&state).remove_node(&auth.user_id, &id).await?;
    if let Some(hub) = state.nodes() {
        // Told at once, not at its next reconnect: the daemon stops.
        hub.disconnect(
            &id,
            tonic::Status::unauthenticated(
                "this node was removed by its owner: its credential no longer works",
            ),
        );
    }
    tracing::info!(node = %id, user = %auth.user_id, "node removed");
    Ok(StatusCode::NO_CONTENT)
}

async fn create_session(
    State(state): State<AppState>,
    auth: UserAuth,
    Json(req): Json<CreateSession>,
) -> Result<(StatusCode, Json<SessionView>), ApiError> {
    let session = registry(&state)
        .create_session(&auth.user_id, req.name)
        .await?;
    Ok((StatusCode::CREATED, Json(session)))
}

async fn list_sessions(State(state): State<AppState>, auth: UserAuth) -> Reply<SessionList> {
    let sessions = registry(&state).list_sessions(&auth.user_id).await?;
    Ok(Json(SessionList { sessions }))
}

async fn show_session(
    State(state): State<AppState>,
    auth: UserAuth,
    Path(id): Path<String>,
) -> Reply<SessionView> {
    Ok(Json(registry(&state).session(&auth.user_id, &id).await?))
}

async fn attach(
    State(state): State<AppState>,
    auth: UserAuth,
    Path(id): Path<String>,
    Json(req): Json<AttachNode>,
) -> Reply<SessionView> {
    let session = registry(&state)
        .attach(&auth.user_id, &id, &req.node_id)
        .await?;
    Ok(Json(session))
}

async fn close_session(
    State(state): State<AppState>,
    auth: UserAuth,
    Path(id): Path<String>,
) -> Reply<SessionView> {
    let session = registry(&state).close_session(&auth.user_id, &id).await?;
    tracing::info!(session = %id, user = %auth.user_id, "session closed");
    Ok(Json(session))
}

/// Checks a dispatch request before anything is stored or sent.
fn check_dispatch(req: &DispatchRequest) -> Result<(), ApiError> {
    if req.command.trim().is_empty() {
        return Err(ApiError::invalid("`command` must not be empty"));
    }
    if req.command.len() > 64 * 1024 {
        return Err(ApiError::invalid("`command` is longer than 64 KiB"));
    }
    if req.timeout_secs == Some(0) {
        return Err(ApiError::invalid(
            "`timeout_secs` must be at least 1 (leave it out for the node's default)",
        ));
    }
    Ok(())
}

async fn dispatch(
    State(state): State<AppState>,
    auth: UserAuth,
    Path(id): Path<String>,
    Json(req): Json<DispatchRequest>,
) -> Result<(StatusCode, Json<TaskView>), ApiError> {
    let hub = hub(&state)?;
    check_dispatch(&req)?;
    let task = hub.dispatch(&auth.user_id, &id, &req).await?;
    Ok((StatusCode::ACCEPTED, Json(task)))
}

async fn list_tasks(
    State(state): State<AppState>,
    auth: UserAuth,
    Path(id): Path<String>,
) -> Reply<TaskList> {
    let tasks = registry(&state).list_tasks(&auth.user_id, &id).await?;
    Ok(Json(TaskList { tasks }))
}

async fn show_task(
    State(state): State<AppState>,
    auth: UserAuth,
    Path((id, task)): Path<(String, String)>,
) -> Reply<TaskView> {
    Ok(Json(
        registry(&state).task(&auth.user_id, &id, &task).await?,
    ))
}

async fn cancel(
    State(state): State<AppState>,
    auth: UserAuth,
    Path((id, task)): Path<(String, String)>,
) -> Result<(StatusCode, Json<TaskView>), ApiError> {
    let hub = hub(&state)?;
    let view = registry(&state).task(&auth.user_id, &id, &task).await?;
    hub.cancel(&view).await;
    let view = registry(&state).task(&auth.user_id, &id, &task).await?;
    Ok((StatusCode::ACCEPTED, Json(view)))
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
    Query(q): Query<OutputQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let hub = hub(&state)?.clone();
    // Subscribe before reading what is stored, so nothing falls between.
    let mut live = hub.subscribe(&task);
    if let Err(e) = registry(&state).task(&auth.user_id, &id, &task).await {
        drop(live);
        hub.release(&task);
        return Err(e.into());
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<String, std::io::Error>>(64);
    tokio::spawn(async move {
        follow_output(&hub, &task, q, &mut live, &tx).await;
        drop(live);
        hub.release(&task);
    });
    let body = HttpBody::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], body))
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
    let mut stop = hub.stopping();
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
        if *stop.borrow_and_update() {
            let _ = tx.send(Ok(ndjson(&stopping()))).await;
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
            // Checked at the top of the loop, after one more catch-up; a
            // gateway without a stop signal any more is stopping too.
            changed = stop.changed() => if changed.is_err() {
                let _ = tx.send(Ok(ndjson(&stopping()))).await;
                return;
            },
            () = tx.closed() => return,
        }
    }
}

/// The last line of a followed output when the gateway shuts down.
fn stopping() -> OutputEvent {
    OutputEvent::Stopping {
        message: "the gateway is stopping; the task may still be running: follow its output again once the gateway is back".to_owned(),
    }
}

fn ndjson(event: &OutputEvent) -> String {
    let mut line = serde_json::to_string(event).unwrap_or_default();
    line.push('\n');
    line
}
