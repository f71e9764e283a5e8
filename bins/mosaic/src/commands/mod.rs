//! Command groups and what they share: global flags, settings, the runtime.

pub mod admin;
pub mod agent;
pub mod backlog;
pub mod config;
pub mod db;
pub mod fleet;
pub mod fleetctl;
pub mod login;
pub mod pki;
pub mod remote;

use clap::Args;
use mosaic_config::GatewaySettings;
use mosaic_store::{Store, StoreOptions};
use serde::Serialize;
use std::future::Future;
use std::path::PathBuf;

/// Flags every command accepts.
#[derive(Debug, Clone, Default, Args, Serialize)]
pub struct Global {
    /// Config file to read instead of $MOSAIC_CONFIG or ~/.config/mosaic/mosaic.toml.
    #[arg(long, global = true, value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Data directory (embedded database, keys) [env: MOSAIC_DATA_DIR].
    #[arg(long, global = true, value_name = "DIR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// postgres://… or sqlite://… (default: SQLite in the data dir) [env: DATABASE_URL].
    #[arg(long, global = true, value_name = "URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
}

impl Global {
    /// Settings from every layer, these flags on top.
    pub fn settings(&self) -> anyhow::Result<GatewaySettings> {
        Ok(crate::settings::loader().flags(self).load()?)
    }

    /// Opens the store the settings name, without migrating.
    pub async fn store(&self) -> anyhow::Result<Store> {
        let settings = self.settings()?;
        let opts = StoreOptions::embedded(&settings.data_dir).with_url(settings.database_url);
        Ok(Store::open(&opts).await?)
    }
}

/// Runs a future on a fresh runtime: commands are short-lived.
pub fn block_on<F: Future<Output = anyhow::Result<()>>>(fut: F) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(fut)
}
