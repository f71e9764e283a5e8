//! A gateway's HTTP API on a loopback port, served in the test process from
//! a migrated SQLite store, with an admin token.

use std::path::Path;

/// Serves the API from a store in `dir` on `rt`; returns its base URL and an
/// admin token.
pub fn gateway(rt: &tokio::runtime::Runtime, dir: &Path) -> (String, String) {
    rt.block_on(async {
        let store = mosaic_store::Store::open(&mosaic_store::StoreOptions::embedded(dir))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let token = mosaic_auth::Tokens::new(store.conn())
            .issue(mosaic_auth::Role::Admin, None, "cli test")
            .await
            .unwrap()
            .secret;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = mosaic_gateway::router(
            mosaic_gateway::AppState::new(store),
            &mosaic_gateway::ListenerLimits::default(),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (format!("http://{addr}"), token)
    })
}

/// A runtime for [`gateway`], kept alive by the test.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}
