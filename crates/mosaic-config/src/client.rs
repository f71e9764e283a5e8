//! The CLI's connection to a gateway, kept in the `[client]` table of
//! `mosaic.toml` so a person need not export it in every shell.

use serde::{Deserialize, Serialize};

/// `[client]`: where the `mosaic` CLI finds its gateway, and as whom.
///
/// Flags (`--gateway`, `--token`) win, then `MOSAIC_GATEWAY_URL` and
/// `MOSAIC_TOKEN`, then this table, then the default address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientSettings {
    /// The gateway's HTTP API base URL, e.g. `http://127.0.0.1:7420`.
    pub gateway_url: Option<String>,
    /// A bearer token (user or admin). The file holding it should be
    /// readable by its owner only; `mosaic login` writes it so.
    pub token: Option<String>,
}
