//! The HTTP API: health and readiness today; every later API mounts here.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use mosaic_store::Store;
use mosaic_types::{ErrorCode, ErrorEnvelope};
use serde::Serialize;

/// Shared state of every handler.
#[derive(Debug, Clone)]
pub struct AppState {
    store: Store,
    pki: Option<std::sync::Arc<mosaic_identity::GatewayPki>>,
    peer_clients: crate::query::PeerClients,
    nodes: Option<std::sync::Arc<crate::nodes::NodeHub>>,
}

impl AppState {
    /// State over an opened, migrated store.
    pub fn new(store: Store) -> Self {
        Self {
            store,
            pki: None,
            peer_clients: crate::query::PeerClients::default(),
            nodes: None,
        }
    }

    /// Adds the gateway's PKI (CA, server identity, sealer).
    #[must_use]
    pub fn with_pki(mut self, pki: std::sync::Arc<mosaic_identity::GatewayPki>) -> Self {
        self.pki = Some(pki);
        self
    }

    /// Adds the agent-node hub.
    #[must_use]
    pub fn with_nodes(mut self, hub: std::sync::Arc<crate::nodes::NodeHub>) -> Self {
        self.nodes = Some(hub);
        self
    }

    /// The agent-node hub; `None` in states built without one.
    pub fn nodes(&self) -> Option<&std::sync::Arc<crate::nodes::NodeHub>> {
        self.nodes.as_ref()
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Cached mTLS clients for outbound peers.
    pub(crate) fn peer_clients(&self) -> &crate::query::PeerClients {
        &self.peer_clients
    }

    /// The gateway's PKI; `None` only in states built without one.
    pub fn pki(&self) -> Option<&std::sync::Arc<mosaic_identity::GatewayPki>> {
        self.pki.as_ref()
    }
}

/// The gateway's HTTP routes. Each API group is a `Router<AppState>` built in
/// its own module and merged here; every route is under the request limits.
pub fn router(state: AppState, limits: &mosaic_config::ListenerLimits) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(crate::admin::routes())
        .merge(crate::native::routes())
        .merge(crate::federation_admin::routes())
        .route("/api/v1/query/{resource}", get(crate::query::query))
        .merge(crate::identity::routes())
        .merge(crate::backlog::routes())
        .merge(crate::nodes::api::routes())
        .fallback(not_found)
        .layer(crate::layers::request_limits(limits))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
}

/// Liveness: the process is up and serving. Never touches storage.
async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}

#[derive(Serialize)]
struct Ready {
    status: &'static str,
    backend: mosaic_store::Backend,
    schema: Option<String>,
}

/// Readiness: storage answers a query.
async fn readyz(State(state): State<AppState>) -> Response {
    let ping = async {
        state.store.ping().await?;
        state.store.status().await
    };
    match ping.await {
        Ok(status) => Json(Ready {
            status: "ready",
            backend: status.backend,
            schema: status.current,
        })
        .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            error(
                ErrorCode::Unavailable,
                format!("storage is unreachable: {e}"),
            )
        }
    }
}

async fn not_found() -> Response {
    error(ErrorCode::NotFound, "no such route")
}

/// Renders the error envelope with the status its code travels with.
pub(crate) fn error(code: ErrorCode, message: impl Into<String>) -> Response {
    let status =
        StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(ErrorEnvelope::new(code, message))).into_response()
}
