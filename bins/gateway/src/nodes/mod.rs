//! Agent nodes on the gateway: the gRPC service nodes connect to
//! ([`grpc`]), the HTTP API their owners use ([`api`]), and the hub that joins
//! them: which nodes hold a live stream here, and who is watching which
//! task's output.
//!
//! Durable state (invites, nodes, sessions, tasks, output) lives in the
//! database through [`mosaic_nodes::registry`]; the hub holds only what dies
//! with the process: open streams and output subscribers.

pub mod api;
pub mod grpc;

use chrono::Utc;
use mosaic_agent_proto::v1::{GatewayMessage, ShellTask, TaskRequest, task_request::Payload};
use mosaic_identity::instance::SigningKey;
use mosaic_nodes::registry::{NewTask, Registry, TaskEnd};
use mosaic_store::Store;
use mosaic_types::nodes::{OutputEvent, TaskView};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, mpsc, watch};
use tonic::Status;

/// How long a signed task stays valid: long enough to cross a slow link,
/// short enough that a captured task is useless soon after.
pub const TASK_VALIDITY_MS: i64 = 60_000;
/// Heartbeat interval asked of nodes.
pub const HEARTBEAT_SECS: u32 = 10;

/// What the gateway sends down a node's task stream: messages, or the
/// status that ends the stream.
type ToNode = mpsc::Sender<Result<GatewayMessage, Status>>;

/// A node's stream on this gateway.
#[derive(Debug, Clone)]
struct LiveNode {
    stream_id: u64,
    tx: ToNode,
}

/// Shared state of the node service.
#[derive(Debug)]
pub struct NodeHub {
    store: Store,
    signing: Option<SigningKey>,
    instance: String,
    /// The URL and CA written into invite configs.
    pub(crate) endpoint: String,
    pub(crate) ca_pem: String,
    live: Mutex<HashMap<String, LiveNode>>,
    watchers: Mutex<HashMap<String, broadcast::Sender<OutputEvent>>>,
    next_seq: Mutex<HashMap<String, i32>>,
    next_stream: std::sync::atomic::AtomicU64,
    /// Turns true when the gateway begins to shut down.
    stop: watch::Receiver<bool>,
}

/// Why a dispatch could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    /// The registry refused (ownership, attachment, storage).
    #[error(transparent)]
    Registry(#[from] mosaic_nodes::registry::RegistryError),
    /// The node holds no stream here.
    #[error(
        "node `{0}` is offline: start its agent-node (or wait for it to reconnect) and dispatch again"
    )]
    Offline(String),
    /// The gateway cannot sign.
    #[error("this gateway's task-signing key is unavailable: {0}")]
    NoSigningKey(String),
}

impl NodeHub {
    /// A hub over `store`, signing with `signing`, until `stop` turns true.
    pub fn new(
        store: Store,
        signing: Result<SigningKey, String>,
        instance: String,
        endpoint: String,
        ca_pem: String,
        stop: watch::Receiver<bool>,
    ) -> Self {
        let signing = match signing {
            Ok(k) => Some(k),
            Err(e) => {
                tracing::warn!(error = %e, "task-signing key unavailable: dispatch to nodes is disabled");
                None
            }
        };
        Self {
            store,
            signing,
            instance,
            endpoint,
            ca_pem,
            live: Mutex::new(HashMap::new()),
            watchers: Mutex::new(HashMap::new()),
            next_seq: Mutex::new(HashMap::new()),
            next_stream: std::sync::atomic::AtomicU64::new(1),
            stop,
        }
    }

    /// Turns true when the gateway begins to shut down: output followers
    /// then end their streams with a last line saying so.
    pub fn stopping(&self) -> watch::Receiver<bool> {
        self.stop.clone()
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn registry(&self) -> Registry<'_> {
        Registry::new(self.store.conn())
    }

    /// The raw Ed25519 public key nodes verify tasks with.
    pub fn signing_public_key(&self) -> Vec<u8> {
        self.signing
            .as_ref()
            .map(SigningKey::public_key_raw)
            .unwrap_or_default()
    }

    /// Number of nodes with a live stream here.
    pub fn live_count(&self) -> usize {
        self.live.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// Registers `node`'s new stream, replacing (and so closing) an older one.
    fn attach_stream(&self, node: &str, tx: ToNode) -> u64 {
        let stream_id = self
            .next_stream
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Ok(mut live) = self.live.lock() {
            live.insert(node.to_owned(), LiveNode { stream_id, tx });
        }
        stream_id
    }

    /// Forgets `node`'s stream if it is still `stream_id`; true if it was.
    fn detach_stream(&self, node: &str, stream_id: u64) -> bool {
        let Ok(mut live) = self.live.lock() else {
            return false;
        };
        if live.get(node).is_some_and(|l| l.stream_id == stream_id) {
            live.remove(node);
            true
        } else {
            false
        }
    }

    /// Ends `node`'s stream here, if it has one, with `status` as its last
    /// word (a removed node learns at once that it is refused).
    pub fn disconnect(&self, node: &str, status: Status) {
        let removed = self.live.lock().ok().and_then(|mut live| live.remove(node));
        if let Some(l) = removed {
            // A full channel only loses the reason: the stream still ends.
            let _ = l.tx.try_send(Err(status));
        }
    }

    /// Ends every node stream here with `UNAVAILABLE` (shutdown): the
    /// nodes reconnect once a gateway is back.
    pub fn disconnect_all(&self) {
        let all: Vec<LiveNode> = match self.live.lock() {
            Ok(mut live) => live.drain().map(|(_, l)| l).collect(),
            Err(_) => Vec::new(),
        };
        for l in all {
            let _ = l.tx.try_send(Err(Status::unavailable(
                "the gateway is stopping: reconnect once it is back",
            )));
        }
    }

    fn sender(&self, node: &str) -> Option<ToNode> {
        self.live
            .lock()
            .ok()
            .and_then(|m| m.get(node).map(|l| l.tx.clone()))
    }

    /// Subscribes to `task`'s live output events.
    pub fn subscribe(&self, task: &str) -> broadcast::Receiver<OutputEvent> {
        let mut w = match self.watchers.lock() {
            Ok(w) => w,
            Err(poisoned) => poisoned.into_inner(),
        };
        w.entry(task.to_owned())
            .or_insert_with(|| broadcast::channel(1024).0)
            .subscribe()
    }

    /// Drops `task`'s subscription entry once nobody listens.
    pub fn release(&self, task: &str) {
        if let Ok(mut w) = self.watchers.lock()
            && w.get(task).is_some_and(|tx| tx.receiver_count() == 0)
        {
            w.remove(task);
        }
    }

    fn publish(&self, task: &str, event: OutputEvent, last: bool) {
        let Ok(mut w) = self.watchers.lock() else {
            return;
        };
        if let Some(tx) = w.get(task) {
            let _ = tx.send(event);
        }
        if last {
            w.remove(task);
        }
    }

    /// The next output sequence number of `task`, continuing from what is
    /// stored (after a gateway restart the counter starts from the database).
    async fn next_seq(&self, task: &str) -> Result<i32, mosaic_nodes::registry::RegistryError> {
        let known = self.next_seq.lock().ok().and_then(|m| m.get(task).copied());
        let next = match known {
            Some(n) => n,
            None => {
                let stored = self.registry().output_after(task, 0).await?;
                stored.last().map_or(1, |(seq, _, _)| seq + 1)
            }
        };
        if let Ok(mut m) = self.next_seq.lock() {
            m.insert(task.to_owned(), next + 1);
        }
        Ok(next)
    }

    /// Records a chunk of `task`'s output at the position the node gave it
    /// (`node_seq`, from 1; 0 when the node does not number its output) and
    /// passes it to watchers. A position already stored (the node sent it
    /// again after a reconnect) is dropped.
    async fn record_output(&self, task: &str, node_seq: u32, stream: &str, data: String) {
        let seq = match i32::try_from(node_seq) {
            Ok(seq) if seq > 0 => seq,
            _ => match self.next_seq(task).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(task, error = %e, "cannot number task output");
                    return;
                }
            },
        };
        match self
            .registry()
            .append_output(task, seq, stream, &data)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::debug!(task, seq, "output chunk delivered again: already stored");
                return;
            }
            Err(e) => {
                tracing::warn!(task, error = %e, "cannot store task output");
                return;
            }
        }
        self.publish(
            task,
            OutputEvent::Output {
                seq,
                stream: stream.to_owned(),
                data,
            },
            false,
        );
    }

    /// Records how `task` ended and tells watchers; a task that had already
    /// ended keeps its first end. False when storage failed (the end is not
    /// recorded).
    async fn record_end(&self, task: &str, end: &TaskEnd) -> bool {
        let recorded = match self.registry().finish_task(task, end).await {
            Ok(Some(view)) => {
                self.publish(task, OutputEvent::End { task: view }, true);
                true
            }
            Ok(None) => true,
            Err(e) => {
                tracing::warn!(task, error = %e, "cannot store task result");
                false
            }
        };
        if let Ok(mut m) = self.next_seq.lock() {
            m.remove(task);
        }
        recorded
    }

    /// Tells `node` that `task`'s result is stored, so it may forget the task.
    async fn acknowledge_result(&self, node: &str, task: &str) {
        if let Some(tx) = self.sender(node) {
            let ack = GatewayMessage {
                kind: Some(mosaic_agent_proto::v1::gateway_message::Kind::ResultAck(
                    mosaic_agent_proto::v1::ResultAck {
                        task_id: task.to_owned(),
                    },
                )),
            };
            // A stream gone by now: the node sends the result again on its
            // next stream, and gets its acknowledgement there.
            let _ = tx.send(Ok(ack)).await;
        }
    }

    /// Whether `task` was sent to `node` (a node may only report on its own
    /// tasks).
    async fn task_belongs(&self, task: &str, node: &str) -> bool {
        matches!(self.task_node(task).await, Ok(Some(n)) if n == node)
    }

    /// The node `task` was sent to, if the task exists.
    async fn task_node(
        &self,
        task: &str,
    ) -> Result<Option<String>, mosaic_nodes::registry::RegistryError> {
        Ok(self.registry().task_by_id(task).await?.map(|t| t.node_id))
    }

    /// Tells watchers of `task` how it ended, from the stored record.
    async fn publish_end_from_store(&self, task: &str) {
        if let Ok(Some(view)) = self.registry().task_by_id(task).await {
            self.publish(task, OutputEvent::End { task: view }, true);
        }
    }

    /// Signs and sends a shell task to one of `owner`'s nodes attached to
    /// `session`, recording it first so its output has somewhere to go.
    pub async fn dispatch(
        &self,
        owner: &str,
        session: &str,
        req: &mosaic_types::nodes::DispatchRequest,
    ) -> Result<TaskView, DispatchError> {
        let node = self
            .registry()
            .dispatch_target(owner, session, req.node_id.as_deref())
            .await?;
        let signing = self
            .signing
            .as_ref()
            .ok_or_else(|| DispatchError::NoSigningKey("see the gateway's log".to_owned()))?;
        let tx = self
            .sender(&node)
            .ok_or_else(|| DispatchError::Offline(node.clone()))?;
        let task_id = format!("task_{}", uuid::Uuid::new_v4().simple());
        let view = self
            .registry()
            .create_task(&NewTask {
                id: task_id.clone(),
                session_id: session.to_owned(),
                node_id: node.clone(),
                owner: owner.to_owned(),
                command: req.command.clone(),
                cwd: req.cwd.clone(),
                timeout_secs: req.timeout_secs,
            })
            .await?;
        let now = Utc::now().timestamp_millis();
        let nonce = mosaic_nodes::task::new_nonce()
            .map_err(|_| DispatchError::NoSigningKey("the random source failed".to_owned()))?;
        let request = TaskRequest {
            task_id: task_id.clone(),
            session_id: session.to_owned(),
            node_id: node.clone(),
            payload: Some(Payload::Shell(ShellTask {
                command: req.command.clone(),
                cwd: req.cwd.clone().unwrap_or_default(),
                timeout_secs: req.timeout_secs.unwrap_or(0),
            })),
            nonce,
            issued_at_ms: now,
            expires_at_ms: now + TASK_VALIDITY_MS,
        };
        let signed = mosaic_nodes::sign_task(&request, |b| signing.sign(b));
        let message = GatewayMessage {
            kind: Some(mosaic_agent_proto::v1::gateway_message::Kind::Task(signed)),
        };
        if tx.send(Ok(message)).await.is_err() {
            self.record_end(
                &task_id,
                &TaskEnd {
                    status: "lost".to_owned(),
                    exit_code: None,
                    error: Some("the node disconnected before the task was sent".to_owned()),
                    duration_ms: None,
                },
            )
            .await;
            return Err(DispatchError::Offline(node));
        }
        tracing::info!(task = %task_id, node = %node, session, "task dispatched");
        Ok(view)
    }

    /// Asks the node running `task` to cancel it; a task whose node is not
    /// connected here ends at once as cancelled.
    pub async fn cancel(&self, task: &TaskView) {
        if task.finished() {
            return;
        }
        if let Some(tx) = self.sender(&task.node_id) {
            let message = GatewayMessage {
                kind: Some(mosaic_agent_proto::v1::gateway_message::Kind::Cancel(
                    mosaic_agent_proto::v1::CancelTask {
                        task_id: task.id.clone(),
                    },
                )),
            };
            if tx.send(Ok(message)).await.is_ok() {
                return;
            }
        }
        self.record_end(
            &task.id,
            &TaskEnd {
                status: "cancelled".to_owned(),
                exit_code: None,
                error: Some("cancelled at the gateway; the node was not connected".to_owned()),
                duration_ms: None,
            },
        )
        .await;
    }
}

/// Builds the hub at start-up: the instance's signing key, the endpoint
/// written into invite configs, and the CA nodes verify the gateway with.
/// `stop` turns true when the gateway begins to shut down.
pub async fn hub(
    settings: &crate::Settings,
    store: &Store,
    pki: &Arc<mosaic_identity::GatewayPki>,
    bound: std::net::SocketAddr,
    stop: watch::Receiver<bool>,
) -> Arc<NodeHub> {
    let instances = mosaic_identity::instance::Instances::new(store.conn(), &pki.sealer);
    let signing = instances.signing_key().await.map_err(|e| e.to_string());
    let instance = instances
        .get()
        .await
        .map(|i| i.instance_id.to_string())
        .unwrap_or_default();
    let endpoint = settings
        .node_url
        .clone()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| default_endpoint(&settings.identity.server_names, bound));
    Arc::new(NodeHub::new(
        store.clone(),
        signing,
        instance,
        endpoint,
        pki.ca.cert_pem().to_owned(),
        stop,
    ))
}

/// `https://<addr>` for a specific bound address; for a wildcard bind, the
/// first DNS name on the server certificate (nodes must reach a name the
/// certificate carries).
fn default_endpoint(server_names: &[String], bound: std::net::SocketAddr) -> String {
    let port = bound.port();
    if bound.ip().is_unspecified() {
        let host = server_names
            .iter()
            .find(|n| n.parse::<std::net::IpAddr>().is_err())
            .cloned()
            .unwrap_or_else(|| "localhost".to_owned());
        return format!("https://{host}:{port}");
    }
    match bound.ip() {
        std::net::IpAddr::V6(ip) => format!("https://[{ip}]:{port}"),
        std::net::IpAddr::V4(ip) => format!("https://{ip}:{port}"),
    }
}

#[cfg(test)]
mod tests {
    use super::default_endpoint;

    #[test]
    fn endpoints_name_what_the_certificate_carries() {
        let names = vec!["127.0.0.1".to_owned(), "gw.example".to_owned()];
        assert_eq!(
            default_endpoint(
                &names,
                "127.0.0.1:7421".parse().unwrap_or_else(|_| unreachable!())
            ),
            "https://127.0.0.1:7421"
        );
        assert_eq!(
            default_endpoint(
                &names,
                "0.0.0.0:7421".parse().unwrap_or_else(|_| unreachable!())
            ),
            "https://gw.example:7421"
        );
        assert_eq!(
            default_endpoint(&names, "[::1]:9".parse().unwrap_or_else(|_| unreachable!())),
            "https://[::1]:9"
        );
    }
}
