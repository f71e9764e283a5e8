//! Gateway settings: the shared layers plus the gateway's own flags.

use clap::Args;
use mosaic_config::{ConfigError, GatewaySettings, Loader};
use serde::Serialize;
use std::path::PathBuf;

/// What the gateway runs with.
pub type Settings = GatewaySettings;

/// Flags that override every other configuration layer.
#[derive(Debug, Clone, Default, Args, Serialize)]
pub struct Flags {
    /// Config file to read instead of $MOSAIC_CONFIG or ~/.config/mosaic/mosaic.toml.
    #[arg(long, value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Directory for the embedded database and keys [env: MOSAIC_DATA_DIR].
    #[arg(long, value_name = "DIR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// postgres://… or sqlite://… (default: SQLite in the data dir) [env: DATABASE_URL].
    #[arg(long, value_name = "URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// HTTP API listen address [env: MOSAIC_HTTP_ADDR] [default: 127.0.0.1:7420].
    #[arg(long, value_name = "ADDR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_addr: Option<String>,
    /// Federation (mTLS) listen address [env: MOSAIC_FEDERATION_ADDR] [default: 127.0.0.1:7443].
    #[arg(long, value_name = "ADDR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub federation_addr: Option<String>,
    /// Agent-node (gRPC over TLS) listen address [env: MOSAIC_NODE_ADDR] [default: 127.0.0.1:7421].
    #[arg(long, value_name = "ADDR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_addr: Option<String>,
    /// URL agent nodes reach the node listener at, for invite configs [env: MOSAIC_NODE_URL].
    #[arg(long, value_name = "URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_url: Option<String>,
    /// Log filter, e.g. `info` or `debug,sqlx=warn` [env: MOSAIC_LOG].
    #[arg(long, value_name = "FILTER")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
}

impl Flags {
    /// Loads settings: defaults < file < environment < these flags.
    pub fn load(&self) -> Result<Settings, ConfigError> {
        Loader::new()
            .config_file(self.config.as_ref())
            .flags(self)
            .load()
    }
}
