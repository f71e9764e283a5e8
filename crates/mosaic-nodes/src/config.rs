//! The agent-node configuration file: written by the gateway for each invite
//! (`mosaic node invite`), read by `agent-node`.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Default per-task time limit.
pub const DEFAULT_TASK_TIMEOUT_SECS: u32 = 600;
/// Default number of tasks a node runs at once.
pub const DEFAULT_MAX_CONCURRENT_TASKS: u32 = 4;
/// Default cap of the reconnection back-off.
pub const DEFAULT_RECONNECT_MAX_SECS: u32 = 30;

/// `agent-node.yaml`. Every key can be overridden by `MOSAIC_NODE_<KEY>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// The gateway's node endpoint, `https://host:port`.
    pub gateway: String,
    /// PEM of the CA that signed the gateway's certificate.
    pub ca_cert: String,
    /// Host name to expect on the gateway's certificate (default: the host of
    /// `gateway`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// One-time invite token; used on first start only, after which the
    /// node's credential in `state_dir` takes over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite_token: Option<String>,
    /// The node's display name (default: host name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Where tasks run when they name no working directory (default:
    /// `~/mosaic-workspace`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<PathBuf>,
    /// Where the node keeps its credential (default: the XDG data directory,
    /// `mosaic/agent-node`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_dir: Option<PathBuf>,
    /// Time limit of a task that sets none.
    #[serde(default = "default_timeout")]
    pub task_timeout_secs: u32,
    /// Tasks run at once; more wait their turn.
    #[serde(default = "default_concurrency")]
    pub max_concurrent_tasks: u32,
    /// Longest wait between reconnection attempts (the wait doubles from
    /// half a second up to this, with jitter).
    #[serde(default = "default_reconnect_max")]
    pub reconnect_max_secs: u32,
    /// Log filter, e.g. `info` or `debug`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
}

fn default_timeout() -> u32 {
    DEFAULT_TASK_TIMEOUT_SECS
}

fn default_reconnect_max() -> u32 {
    DEFAULT_RECONNECT_MAX_SECS
}

fn default_concurrency() -> u32 {
    DEFAULT_MAX_CONCURRENT_TASKS
}

impl NodeConfig {
    /// A configuration for a fresh invite.
    pub fn for_invite(
        gateway: String,
        ca_cert: String,
        invite_token: String,
        name: Option<String>,
    ) -> Self {
        Self {
            gateway,
            ca_cert,
            server_name: None,
            invite_token: Some(invite_token),
            name,
            workspace: None,
            state_dir: None,
            task_timeout_secs: DEFAULT_TASK_TIMEOUT_SECS,
            max_concurrent_tasks: DEFAULT_MAX_CONCURRENT_TASKS,
            reconnect_max_secs: DEFAULT_RECONNECT_MAX_SECS,
            log: None,
        }
    }
}
