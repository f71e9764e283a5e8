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
mod layers;
mod listen;
mod metrics;
mod native;
pub mod nodes;
mod query;
mod search;
mod settings;

pub use error::ApiError;
pub use http::{AppState, Input, RouteInfo, route_table, router};
pub use listen::raise_open_file_limit;
pub use mosaic_config::{ListenerLimits, RateLimitSettings};
pub use settings::{Flags, Settings};

use anyhow::Context as _;
use mosaic_auth::Tokens;
use mosaic_federation::audit::AuditWriter;
use mosaic_store::{DataDirLock, Store, StoreOptions};
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

/// Opens storage, migrates, binds the three listeners and serves until
/// `shutdown` resolves. Every failure is returned with one line of context
/// naming the cause.
pub async fn run(
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let sweep_every = backlog::sweep_interval_from_env().map_err(anyhow::Error::msg)?;
    // Held until `run` returns: one gateway per embedded database.
    let (store, _data_dir_lock) = open_store(&settings).await?;
    let pki = identity::bootstrap(&settings, &store).await?;
    let limits = connection_limits(&settings);
    print_first_admin_token(&store).await?;

    // The federation listener comes up first, so once the HTTP ready line is
    // printed every port answers.
    let (federation_listener, federation_local) = bind(
        settings.federation_addr,
        "for federation ",
        "MOSAIC_FEDERATION_ADDR or --federation-addr",
    )
    .await?;
    let federation_tls =
        federation::FederationTls::from_pki(&pki).context("federation TLS set-up")?;
    println!("{FEDERATION_READY_PREFIX}{federation_local}");
    tracing::info!(addr = %federation_local, "federation listener (mTLS) listening");

    // Every listener, the node hub and the sweeper stop on shutdown.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (node_listener, node_local) = bind(
        settings.node_addr,
        "for agent nodes ",
        "MOSAIC_NODE_ADDR or --node-addr",
    )
    .await?;
    let node_hub = nodes::hub(&settings, &store, &pki, node_local, stop_rx.clone()).await;
    println!("{NODE_READY_PREFIX}{node_local}");
    tracing::info!(addr = %node_local, endpoint = %node_hub.endpoint, "agent-node listener (gRPC over TLS) listening");

    let (listener, local) = bind(settings.http_addr, "", "MOSAIC_HTTP_ADDR or --http-addr").await?;
    println!("{READY_PREFIX}{local}");
    tracing::info!(addr = %local, "HTTP API listening");

    let sweeper = backlog::spawn_sweeper(store.clone(), sweep_every, stop_rx.clone());
    let audit = AuditWriter::start(
        store.conn().clone(),
        settings.federation.audit_queue_capacity,
    );
    let pruner = federation::audit::spawn_pruner(
        store.clone(),
        settings.federation.audit_retention_days,
        stop_rx.clone(),
    );
    let shutdown = async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    };
    let state = AppState::new(store.clone())
        .with_pki(pki.clone())
        .with_nodes(node_hub.clone())
        .with_audit(audit.clone())
        .with_rate_limits(settings.federation.default_rate_limit);
    let node_task = tokio::spawn(nodes::grpc::serve(
        node_listener,
        node_hub,
        pki.clone(),
        limits,
        stop_rx.clone(),
    ));
    let federation_task = tokio::spawn(federation::serve(
        federation_listener,
        federation_tls,
        state.clone(),
        limits,
        stop_rx.clone(),
    ));
    let app = router(state, &limits);
    let listener = listen::Listener::new(listener, &limits, "http");
    let http_task = tokio::spawn(async move {
        listen::serve_http(listener, None, app, &limits, stop_rx).await;
    });
    shutdown.await;
    // From the stop signal on, everything shares one grace period: open
    // output streams end with a last line saying so, node streams end with
    // `UNAVAILABLE`, in-flight requests finish; what is left then is cut.
    let grace = std::time::Duration::from_secs(limits.shutdown_grace_secs.get());
    let deadline = tokio::time::Instant::now() + grace;
    let stopped = tokio::time::timeout_at(deadline, async {
        if let Err(e) = http_task.await {
            tracing::warn!(error = %e, "HTTP listener ended abnormally");
        }
        wait_for_background(federation_task, node_task, sweeper, pruner).await;
    })
    .await;
    // The listeners have stopped: no request records any more. What the
    // audit queue holds is written now, in what is left of the grace;
    // whatever cannot be is counted and logged as lost.
    audit.shutdown(deadline).await;
    let finished = match stopped {
        Ok(()) => {
            tracing::info!("shutting down");
            tokio::time::timeout_at(deadline, store.close()).await
        }
        Err(elapsed) => Err(elapsed),
    };
    match finished {
        Ok(closed) => closed?,
        Err(_) => tracing::warn!(
            grace_secs = grace.as_secs(),
            "still busy after limits.shutdown_grace_secs: exiting anyway"
        ),
    }
    Ok(())
}

/// Locks the data dir when the store is SQLite, opens and migrates the
/// store, and logs what it is. Two gateways on one SQLite database would
/// each believe they own it (sweepers, node streams, the CA); on PostgreSQL
/// sharing is the design.
async fn open_store(settings: &Settings) -> anyhow::Result<(Store, Option<DataDirLock>)> {
    let opts = StoreOptions::embedded(&settings.data_dir).with_url(settings.database_url.clone());
    let sqlite = opts
        .database_url
        .as_deref()
        .is_none_or(|url| url.starts_with("sqlite:"));
    let lock = if sqlite {
        Some(DataDirLock::acquire(&settings.data_dir)?)
    } else {
        None
    };
    let store = Store::open(&opts).await?;
    store.migrate().await?;
    let status = store.status().await?;
    tracing::info!(
        backend = %status.backend,
        url = %status.url,
        schema = status.current.as_deref().unwrap_or("none"),
        "storage ready"
    );
    Ok((store, lock))
}

/// The configured limits, with the connection caps lowered where every
/// listener full at once would not leave files for the store.
fn connection_limits(settings: &Settings) -> ListenerLimits {
    let open_files = listen::open_file_limit();
    let limits = listen::fit_open_files(settings.limits, open_files);
    if limits.max_connections < settings.limits.max_connections {
        tracing::warn!(
            configured = settings.limits.max_connections,
            open_files = ?open_files,
            max_connections = limits.max_connections,
            "max_connections lowered to fit the open-file limit"
        );
    }
    tracing::info!(
        open_files = ?open_files,
        max_connections = limits.max_connections,
        max_connections_per_ip = limits.max_connections_per_ip,
        "connection caps per listener"
    );
    limits
}

/// On first start, issues the admin token and prints it: the only time the
/// secret exists outside the caller's hands.
async fn print_first_admin_token(store: &Store) -> anyhow::Result<()> {
    if let Some(token) = Tokens::new(store.conn()).bootstrap_admin().await? {
        println!("{ADMIN_TOKEN_PREFIX}{}", token.secret);
        println!("(shown once; rotate with `mosaic admin rotate-token`)");
    }
    Ok(())
}

/// Binds `addr`; a failure names the address and the setting that moves it.
async fn bind(
    addr: std::net::SocketAddr,
    purpose: &str,
    setting: &str,
) -> anyhow::Result<(TcpListener, std::net::SocketAddr)> {
    let listener = TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr} {purpose}(set {setting} to a free address)")
    })?;
    let local = listener
        .local_addr()
        .with_context(|| format!("reading the bound address {}", purpose.trim_end()))?;
    Ok((listener, local))
}

/// Waits for the listeners, the sweeper and the audit pruner to end,
/// logging any that failed.
async fn wait_for_background(
    federation: tokio::task::JoinHandle<()>,
    nodes: tokio::task::JoinHandle<anyhow::Result<()>>,
    sweeper: tokio::task::JoinHandle<()>,
    pruner: tokio::task::JoinHandle<()>,
) {
    if let Err(e) = federation.await {
        tracing::warn!(error = %e, "federation listener ended abnormally");
    }
    match nodes.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "agent-node listener failed"),
        Err(e) => tracing::warn!(error = %e, "agent-node listener ended abnormally"),
    }
    if let Err(e) = sweeper.await {
        tracing::warn!(error = %e, "backlog sweeper ended abnormally");
    }
    if let Err(e) = pruner.await {
        tracing::warn!(error = %e, "federation audit pruner ended abnormally");
    }
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
