//! Agent nodes and sessions on the gateway's HTTP API (`/api/nodes`,
//! `/api/sessions`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A node's sandbox policy as the API shows and accepts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PolicyView {
    /// `strict` (allow list) or `permissive` (deny list).
    pub mode: String,
    /// Programs a strict policy runs.
    #[serde(default)]
    pub allowed: Vec<String>,
    /// Programs a permissive policy refuses.
    #[serde(default)]
    pub denied: Vec<String>,
}

/// `POST /api/nodes/invite` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    /// Name for the node (default: its host name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Invite lifetime in seconds, 60..=604800 (default 3600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<u32>,
    /// Sandbox policy (default: permissive with an empty deny list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyView>,
}

/// `POST /api/nodes/invite` answer: the token is shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteResponse {
    /// Invite id.
    pub invite_id: String,
    /// The one-time token.
    pub token: String,
    /// When the token stops working.
    pub expires_at: DateTime<Utc>,
    /// The node endpoint, `https://host:port`.
    pub gateway: String,
    /// A ready-to-use `agent-node.yaml`.
    pub config_yaml: String,
}

/// Static facts a node reported when it registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CapabilitiesView {
    /// `linux`, `macos`, …
    pub os: String,
    /// `x86_64`, `aarch64`, …
    pub arch: String,
    /// Logical CPUs.
    pub cpus: u32,
    /// Total memory.
    pub memory_bytes: u64,
    /// Host name.
    pub hostname: String,
    /// Tools found on PATH.
    #[serde(default)]
    pub tools: Vec<String>,
    /// Task kinds it runs.
    #[serde(default)]
    pub skills: Vec<String>,
}

/// A node's last reported health.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct HealthView {
    /// Whole-machine CPU use, 0–100.
    pub cpu_percent: f32,
    /// Memory in use.
    pub memory_used_bytes: u64,
    /// Memory in total.
    pub memory_total_bytes: u64,
    /// Disk in use on the workspace's filesystem.
    pub disk_used_bytes: u64,
    /// Disk in total on the workspace's filesystem.
    pub disk_total_bytes: u64,
    /// Tasks running.
    pub running_tasks: u32,
    /// 1-minute load average.
    pub load_average: f32,
    /// When the gateway received it.
    pub reported_at: DateTime<Utc>,
}

/// A node as its owner sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeView {
    /// Node id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Owning user.
    pub owner: String,
    /// `online` or `offline`.
    pub status: String,
    /// agent-node version.
    pub version: String,
    /// The sandbox policy it enforces.
    pub policy: PolicyView,
    /// What it reported at registration.
    pub capabilities: CapabilitiesView,
    /// Its last heartbeat.
    pub health: Option<HealthView>,
    /// When the gateway last heard from it.
    pub last_seen_at: Option<DateTime<Utc>>,
    /// When its current (or last) stream opened.
    pub connected_at: Option<DateTime<Utc>>,
    /// When it first registered.
    pub created_at: DateTime<Utc>,
}

/// `GET /api/nodes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeList {
    /// The caller's nodes, oldest first.
    pub nodes: Vec<NodeView>,
}

/// `POST /api/sessions` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CreateSession {
    /// Name (default: `session-<short id>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `POST /api/sessions/{id}/attach` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachNode {
    /// A node of the caller's.
    pub node_id: String,
}

/// A session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    /// Session id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Owning user.
    pub owner: String,
    /// `active` or `closed`.
    pub status: String,
    /// Attached node ids, in attach order.
    pub nodes: Vec<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Closed (`null` while active).
    #[serde(default)]
    pub closed_at: Option<DateTime<Utc>>,
}

/// `GET /api/sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionList {
    /// The caller's sessions, newest first.
    pub sessions: Vec<SessionView>,
}

/// `POST /api/sessions/{id}/dispatch` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DispatchRequest {
    /// Shell command, run by `sh -c` on the node.
    pub command: String,
    /// Which attached node (default: the session's only node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
    /// Working directory on the node (default: its workspace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// Time limit in seconds (default: the node's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u32>,
}

/// A dispatched task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskView {
    /// Task id.
    pub id: String,
    /// Session.
    pub session_id: String,
    /// Node it runs on.
    pub node_id: String,
    /// The command.
    pub command: String,
    /// Working directory asked for.
    pub cwd: Option<String>,
    /// `running`, `completed`, `refused`, `cancelled`, `timed_out`, `failed`
    /// or `lost`.
    pub status: String,
    /// Exit code, when the process exited with one.
    pub exit_code: Option<i32>,
    /// Why it was refused or failed.
    pub error: Option<String>,
    /// Run time on the node.
    pub duration_ms: Option<i64>,
    /// Dispatched.
    pub created_at: DateTime<Utc>,
    /// Ended.
    pub finished_at: Option<DateTime<Utc>>,
}

impl TaskView {
    /// Whether the task has ended (any status but `running`).
    pub fn finished(&self) -> bool {
        self.status != "running"
    }
}

/// `GET /api/sessions/{id}/tasks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskList {
    /// The session's tasks, newest first.
    pub tasks: Vec<TaskView>,
}

/// One line of `GET /api/sessions/{id}/tasks/{task}/output` (NDJSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutputEvent {
    /// A chunk of output.
    Output {
        /// Position in the task's output, from 1.
        seq: i32,
        /// `stdout` or `stderr`.
        stream: String,
        /// The text (invalid UTF-8 replaced).
        data: String,
    },
    /// The task has ended; the last line.
    End {
        /// The task as it ended.
        task: TaskView,
    },
    /// The gateway is shutting down; the last line. The task may still be
    /// running: follow it again once the gateway is back.
    Stopping {
        /// What happened and what to do.
        message: String,
    },
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn output_events_have_their_wire_shape() {
        let e = OutputEvent::Output {
            seq: 1,
            stream: "stdout".into(),
            data: "hi\n".into(),
        };
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"type":"output","seq":1,"stream":"stdout","data":"hi\n"})
        );
        let line = r#"{"type":"end","task":{"id":"t","session_id":"s","node_id":"n","command":"true","cwd":null,"status":"completed","exit_code":0,"error":null,"duration_ms":3,"created_at":"2026-11-22T10:00:00Z","finished_at":"2026-11-22T10:00:01Z"}}"#;
        let OutputEvent::End { task } = serde_json::from_str(line).unwrap() else {
            panic!("not an end event")
        };
        assert!(task.finished());
        assert_eq!(task.exit_code, Some(0));
        let stopping = OutputEvent::Stopping {
            message: "the gateway is stopping".into(),
        };
        assert_eq!(
            serde_json::to_value(&stopping).unwrap(),
            serde_json::json!({"type":"stopping","message":"the gateway is stopping"})
        );
    }

    #[test]
    fn dispatch_refuses_unknown_fields() {
        assert!(serde_json::from_str::<DispatchRequest>(r#"{"command":"ls","cmd":"x"}"#).is_err());
        let d: DispatchRequest = serde_json::from_str(r#"{"command":"ls"}"#).unwrap();
        assert_eq!(d.node_id, None);
    }
}
