//! Commands that talk to a gateway's HTTP API: people, data, federation,
//! cross-gateway queries and searches, agent nodes. Each takes `--gateway` (default
//! `http://127.0.0.1:7420`, env `MOSAIC_GATEWAY_URL`) and `--token` (env
//! `MOSAIC_TOKEN`): an admin token for `user`, `team` and `federation`, a user
//! token for `new`, `query`, `search`, `node` and `session`. All of them go through
//! [`GatewayClient`](crate::gateway_client::GatewayClient).

pub mod audit;
pub mod data;
pub mod federation;
pub mod nodes;
pub mod query;
pub mod search;
