//! Agent nodes: what a gateway and a workstation daemon must agree on beyond
//! the wire format of `mosaic-agent-proto`.
//!
//! - [`task`]: Ed25519-signed tasks with a nonce and an expiry, and the
//!   node-side verifier that refuses forged, altered, misdirected, expired or
//!   replayed tasks.
//! - [`sandbox`]: the STRICT (allow list) / PERMISSIVE (deny list) policy a
//!   node enforces on every command.
//! - [`secret`]: invite tokens and node credentials, stored hashed.
//! - [`config`]: the `agent-node.yaml` the gateway writes for each invite.
//! - [`registry`] (feature `store`): the persistent registry of invites,
//!   nodes, sessions and task results on a `mosaic-store` database.
//!
//! Without the `store` feature the crate has no database dependency, which is
//! how `agent-node` uses it.

pub mod config;
pub mod sandbox;
pub mod secret;
pub mod task;

#[cfg(feature = "store")]
pub mod registry;

pub use config::NodeConfig;
pub use sandbox::{Policy, PolicyMode};
pub use task::{TaskRefusal, TaskVerifier, sign_task};
