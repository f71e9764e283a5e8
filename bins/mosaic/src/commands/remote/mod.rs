//! Commands that talk to a gateway's HTTP API: people, data, federation and
//! cross-gateway queries. Each takes `--gateway` (default
//! `http://127.0.0.1:7420`, env `MOSAIC_GATEWAY_URL`) and `--token` (env
//! `MOSAIC_TOKEN`): an admin token for `user`, `team` and `federation`, a user
//! token for `project`, `task`, `note`, `memory` and `query`.

mod client;
pub mod data;
pub mod federation;
pub mod nodes;
pub mod query;

pub use client::{Connection, GatewayClient};
