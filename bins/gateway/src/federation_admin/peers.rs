//! Peers: list, show, add an inbound one, suspend, activate, remove.

use super::{lifecycle, path_id, peer_view};
use crate::auth::AdminAuth;
use crate::error::ApiError;
use crate::extract::{Json, Path};
use crate::http::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use mosaic_types::PeerId;
use mosaic_types::admin::PeerView;
use serde::Deserialize;

pub(super) async fn list(
    _a: AdminAuth,
    State(s): State<AppState>,
) -> Result<Json<Vec<PeerView>>, ApiError> {
    let peers = lifecycle(&s).list_peers().await?;
    Ok(Json(peers.into_iter().map(peer_view).collect()))
}

pub(super) async fn show(
    _a: AdminAuth,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PeerView>, ApiError> {
    let peer = lifecycle(&s).peer(&path_id::<PeerId>(&id)?).await?;
    Ok(Json(peer_view(peer)))
}

#[derive(Deserialize)]
pub(super) struct AddBody {
    common_name: String,
    #[serde(default)]
    display_name: Option<String>,
}

pub(super) async fn add(
    _a: AdminAuth,
    State(s): State<AppState>,
    Json(body): Json<AddBody>,
) -> Result<(StatusCode, Json<PeerView>), ApiError> {
    let peer = lifecycle(&s)
        .add_inbound_peer(&body.common_name, body.display_name.as_deref(), Utc::now())
        .await?;
    Ok((StatusCode::CREATED, Json(peer_view(peer))))
}

pub(super) async fn suspend(
    _a: AdminAuth,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PeerView>, ApiError> {
    let peer = lifecycle(&s)
        .suspend_peer(&path_id::<PeerId>(&id)?, Utc::now())
        .await?;
    Ok(Json(peer_view(peer)))
}

pub(super) async fn activate(
    _a: AdminAuth,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PeerView>, ApiError> {
    let peer = lifecycle(&s)
        .activate_peer(&path_id::<PeerId>(&id)?, Utc::now())
        .await?;
    Ok(Json(peer_view(peer)))
}

/// Removes the peer with its grants.
pub(super) async fn remove(
    _a: AdminAuth,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    lifecycle(&s)
        .remove_peer(&path_id::<PeerId>(&id)?, Utc::now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
