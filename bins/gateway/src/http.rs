//! The HTTP API: shared state, the route table every API group registers
//! in, health and readiness, and the fallbacks for unknown routes.

use crate::error::ApiError;
use crate::extract::Json;
use axum::Router;
use axum::extract::State;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodFilter, on};
use mosaic_store::Store;
use mosaic_types::ErrorCode;
use mosaic_types::whoami::{TokenRole, WhoAmI};
use serde::Serialize;

/// Shared state of every handler.
#[derive(Debug, Clone)]
pub struct AppState {
    store: Store,
    pki: Option<std::sync::Arc<mosaic_identity::GatewayPki>>,
    peer_clients: crate::query::PeerClients,
    nodes: Option<std::sync::Arc<crate::nodes::NodeHub>>,
    rate_limits: Option<std::sync::Arc<mosaic_federation::limit::GrantLimiters>>,
    audit: Option<mosaic_federation::audit::AuditWriter>,
}

impl AppState {
    /// State over an opened, migrated store.
    pub fn new(store: Store) -> Self {
        Self {
            store,
            pki: None,
            peer_clients: crate::query::PeerClients::default(),
            nodes: None,
            rate_limits: None,
            audit: None,
        }
    }

    /// Rate limits the federation verbs per grant, `default` for grants
    /// whose scope sets none; without this, federation requests are not
    /// limited (benchmarks compare the two).
    #[must_use]
    pub fn with_rate_limits(mut self, default: mosaic_config::RateLimitSettings) -> Self {
        let default =
            mosaic_federation::limit::GrantQuota::new(default.requests_per_minute, default.burst);
        self.rate_limits = Some(std::sync::Arc::new(
            mosaic_federation::limit::GrantLimiters::new(default),
        ));
        self
    }

    /// The per-grant rate limiters; `None` in states built without them.
    pub fn rate_limits(&self) -> Option<&std::sync::Arc<mosaic_federation::limit::GrantLimiters>> {
        self.rate_limits.as_ref()
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

    /// Adds the federation audit writer: the federation listener then
    /// records every request, and `/metrics` reports the writer's figures.
    #[must_use]
    pub fn with_audit(mut self, writer: mosaic_federation::audit::AuditWriter) -> Self {
        self.audit = Some(writer);
        self
    }

    /// The federation audit writer; `None` in states built without one.
    pub fn audit(&self) -> Option<&mosaic_federation::audit::AuditWriter> {
        self.audit.as_ref()
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

/// What a route reads from a request besides its path, so a test can send
/// each route the malformed input it must refuse with the envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// Path parameters at most.
    Nothing,
    /// A JSON body it cannot do without.
    Json,
    /// A JSON body it may do without.
    OptionalJson,
    /// Query-string parameters.
    Query,
}

/// One registered route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    /// The method.
    pub method: Method,
    /// The path template, `{name}` for a parameter.
    pub path: &'static str,
    /// What it reads.
    pub input: Input,
}

/// A router that remembers what it routes: every API group registers through
/// it, so [`route_table`] lists exactly what [`router`] serves.
#[derive(Debug)]
pub(crate) struct Routes<S = AppState> {
    router: Router<S>,
    table: Vec<RouteInfo>,
}

impl<S: Clone + Send + Sync + 'static> Routes<S> {
    pub(crate) fn new() -> Self {
        Self {
            router: Router::new(),
            table: Vec::new(),
        }
    }

    /// Adds `handler` for `method` on `path`.
    pub(crate) fn add<H, T>(
        mut self,
        method: Method,
        path: &'static str,
        input: Input,
        handler: H,
    ) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        let filter = match method {
            Method::GET => MethodFilter::GET,
            Method::POST => MethodFilter::POST,
            Method::PUT => MethodFilter::PUT,
            Method::DELETE => MethodFilter::DELETE,
            Method::PATCH => MethodFilter::PATCH,
            // Only the methods above are used; a new one is added here.
            _ => MethodFilter::GET,
        };
        self.router = self.router.route(path, on(filter, handler));
        self.table.push(RouteInfo {
            method,
            path,
            input,
        });
        self
    }

    /// Adds every route of `other`.
    pub(crate) fn merge(mut self, other: Self) -> Self {
        self.router = self.router.merge(other.router);
        self.table.extend(other.table);
        self
    }

    /// The routes registered so far.
    pub(crate) fn table(&self) -> &[RouteInfo] {
        &self.table
    }

    /// The axum router.
    pub(crate) fn into_router(self) -> Router<S> {
        self.router
    }
}

fn api() -> Routes {
    Routes::new()
        .add(Method::GET, "/healthz", Input::Nothing, healthz)
        .add(Method::GET, "/readyz", Input::Nothing, readyz)
        .add(Method::GET, "/api/v1/whoami", Input::Nothing, whoami)
        .merge(crate::admin::routes())
        .merge(crate::native::routes())
        .merge(crate::federation_admin::routes())
        .merge(crate::query::routes())
        .merge(crate::search::routes())
        .merge(crate::identity::routes())
        .merge(crate::backlog::routes())
        .merge(crate::nodes::api::routes())
        .merge(crate::metrics::routes())
}

/// Every route of the HTTP API, as [`router`] serves them.
pub fn route_table() -> Vec<RouteInfo> {
    api().table().to_vec()
}

/// The gateway's HTTP routes. Each API group is a [`Routes`] built in its own
/// module and merged here; unknown paths and methods answer with the envelope,
/// and every route is under the request limits.
pub fn router(state: AppState, limits: &mosaic_config::ListenerLimits) -> Router {
    api()
        .into_router()
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
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
async fn readyz(State(state): State<AppState>) -> Result<Json<Ready>, ApiError> {
    let ping = async {
        state.store.ping().await?;
        state.store.status().await
    };
    match ping.await {
        Ok(status) => Ok(Json(Ready {
            status: "ready",
            backend: status.backend,
            schema: status.current,
        })),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            Err(ApiError::unavailable(format!(
                "storage is unreachable: {e}"
            )))
        }
    }
}

/// Whom the presented token speaks for: any live token, admin or user.
async fn whoami(crate::auth::AnyAuth(principal): crate::auth::AnyAuth) -> Json<WhoAmI> {
    Json(WhoAmI {
        role: match principal.role {
            mosaic_auth::Role::Admin => TokenRole::Admin,
            mosaic_auth::Role::User => TokenRole::User,
        },
        user_id: principal.user_id,
        token_id: principal.token_id,
    })
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "this route does not take that method",
    )
}
