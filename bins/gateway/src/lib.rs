//! The Mosaic gateway as a library: settings, the HTTP application and the
//! server loop. `main.rs` only parses flags and calls [`run`]; tests start the
//! same code, or the real binary, on loopback ports.

mod admin;
pub mod auth;
pub mod backlog;
pub mod error;
pub mod extract;
pub mod federation;
mod federation_admin;
mod http;
pub mod identity;
mod native;
pub mod nodes;
mod query;
mod settings;

pub use error::ApiError;
pub use http::{AppState, Input, RouteInfo, route_table, router};
pub use settings::{Flags, Settings};

use anyhow::Context as _;
use mosaic_auth::Tokens;
use mosaic_store::{Store, StoreOptions};
use std::future::Future;
use tokio::net::TcpListener;

/// The line printed on stdout once the HTTP listener is up; scripts and tests
/// wait for it and read the bound address from it.
pub const READY_PREFIX: &str = "mosaic gateway listening on http://";

/// The line printed on stdout once the federation (mTLS) listener is up.
pub const FEDERATION_READY_PREFIX: &str = "mosaic federation listening on https://";

/// The line printed on stdout once the agent-node (gRPC over TLS) listener is up.
pub const NODE_READY_PREFIX: &str = "mosaic nodes listening on https://";

/// The line printed on stdout, on first start only, before the admin token.
pub const ADMIN_TOKEN_PREFIX: &str = "admin token: ";

/// Opens storage, migrates, binds the HTTP listener and serves until `shutdown`
/// resolves. Every failure is returned with one line of context naming the cause.
pub async fn run(
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let sweep_every = backlog::sweep_interval_from_env().map_err(anyhow::Error::msg)?;
    let opts = StoreOptions::embedded(&settings.data_dir).with_url(settings.database_url.clone());
    let store = Store::open(&opts).await?;
    store.migrate().await?;
    let status = store.status().await?;
    tracing::info!(
        backend = %status.backend,
        url = %status.url,
        schema = status.current.as_deref().unwrap_or("none"),
        "storage ready"
    );

    let pki = identity::bootstrap(&settings, &store).await?;

    if let Some(token) = Tokens::new(store.conn()).bootstrap_admin().await? {
        // The only time this secret exists outside the caller's hands.
        println!("{ADMIN_TOKEN_PREFIX}{}", token.secret);
        println!("(shown once; rotate with `mosaic admin rotate-token`)");
    }

    // The federation listener comes up first, so once the HTTP ready line is
    // printed both ports answer.
    let federation_listener = TcpListener::bind(settings.federation_addr)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} for federation (set MOSAIC_FEDERATION_ADDR or --federation-addr to a free address)",
                settings.federation_addr
            )
        })?;
    let federation_local = federation_listener
        .local_addr()
        .context("reading the bound federation address")?;
    let federation_tls =
        federation::FederationTls::from_pki(&pki).context("federation TLS set-up")?;
    println!("{FEDERATION_READY_PREFIX}{federation_local}");
    tracing::info!(addr = %federation_local, "federation listener (mTLS) listening");

    let node_listener = TcpListener::bind(settings.node_addr)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} for agent nodes (set MOSAIC_NODE_ADDR or --node-addr to a free address)",
                settings.node_addr
            )
        })?;
    let node_local = node_listener
        .local_addr()
        .context("reading the bound agent-node address")?;
    let node_hub = nodes::hub(&settings, &store, &pki, node_local).await;
    println!("{NODE_READY_PREFIX}{node_local}");
    tracing::info!(addr = %node_local, endpoint = %node_hub.endpoint, "agent-node listener (gRPC over TLS) listening");

    let listener = TcpListener::bind(settings.http_addr)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (set MOSAIC_HTTP_ADDR or --http-addr to a free address)",
                settings.http_addr
            )
        })?;
    let local = listener.local_addr().context("reading the bound address")?;
    println!("{READY_PREFIX}{local}");
    tracing::info!(addr = %local, "HTTP API listening");

    // The sweeper stops with the server: on shutdown, or when `stop_tx` is
    // dropped because serving failed.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stop_rx_federation = stop_rx.clone();
    let stop_rx_nodes = stop_rx.clone();
    let sweeper = backlog::spawn_sweeper(store.clone(), sweep_every, stop_rx);
    let shutdown = async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    };

    let state = AppState::new(store.clone())
        .with_pki(pki.clone())
        .with_nodes(node_hub.clone());
    let node_task = tokio::spawn(nodes::grpc::serve(
        node_listener,
        node_hub,
        pki.clone(),
        stop_rx_nodes,
    ));
    let federation_task = tokio::spawn(federation::serve(
        federation_listener,
        federation_tls,
        state.clone(),
        stop_rx_federation,
    ));
    let app = router(state);
    // Small streamed responses (task output lines) must not wait for the
    // peer's delayed ACK.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp: &mut tokio::net::TcpStream| {
        let _ = tcp.set_nodelay(true);
    });
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .context("HTTP server failed");
    if let Err(e) = federation_task.await {
        tracing::warn!(error = %e, "federation listener ended abnormally");
    }
    match node_task.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "agent-node listener failed"),
        Err(e) => tracing::warn!(error = %e, "agent-node listener ended abnormally"),
    }
    if let Err(e) = sweeper.await {
        tracing::warn!(error = %e, "backlog sweeper ended abnormally");
    }
    served?;
    tracing::info!("shutting down");
    store.close().await?;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received"),
        () = term => tracing::info!("SIGTERM received"),
    }
}
