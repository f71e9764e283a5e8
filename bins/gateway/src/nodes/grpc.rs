//! The `mosaic.agent.v1.AgentNode` service agent nodes connect to.
//!
//! Authentication: the first `SyncConfiguration` redeems a one-time invite
//! token and returns the node's credential; every other call carries that
//! credential as `authorization: Bearer …` metadata. Unknown, used or expired
//! invites and unknown credentials are `UNAUTHENTICATED`.

use super::{HEARTBEAT_SECS, NodeHub};
use mosaic_agent_proto::v1::{
    GatewayMessage, HealthAck, Heartbeat, NodeMessage, RegistrationRequest, RegistrationResponse,
    StreamHello, agent_node_server::AgentNode, node_message::Kind,
    task_progress::Stream as OutStream, task_result::Status as ResultStatus,
};
use mosaic_nodes::registry::{AuthenticatedNode, Registration, Registry, RegistryError, TaskEnd};
use mosaic_types::nodes::{CapabilitiesView, HealthView};
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt as _};
use tonic::{Request, Response, Status, Streaming};

/// The service.
#[derive(Debug, Clone)]
pub struct NodeService {
    hub: Arc<NodeHub>,
}

impl NodeService {
    /// A service over `hub`.
    pub fn new(hub: Arc<NodeHub>) -> Self {
        Self { hub }
    }

    fn registry(&self) -> Registry<'_> {
        Registry::new(self.hub.store().conn())
    }

    async fn authenticate<T>(&self, request: &Request<T>) -> Result<AuthenticatedNode, Status> {
        let credential = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| {
                Status::unauthenticated(
                    "missing node credential: send `authorization: Bearer <credential>`, or an invite token on first registration",
                )
            })?;
        self.registry()
            .authenticate(credential)
            .await
            .map_err(registry_status)
    }
}

fn registry_status(e: RegistryError) -> Status {
    match e {
        RegistryError::InviteRefused | RegistryError::CredentialRefused => {
            Status::unauthenticated(e.to_string())
        }
        RegistryError::NotFound { .. } => Status::not_found(e.to_string()),
        RegistryError::Conflict(m) => Status::failed_precondition(m),
        RegistryError::Invalid(m) => Status::invalid_argument(m),
        RegistryError::Random(_) | RegistryError::Db(_) => {
            tracing::error!(error = %e, "node registry failure");
            Status::unavailable("the gateway's storage is unavailable; retry shortly")
        }
    }
}

fn registration(req: &RegistrationRequest) -> Registration {
    let caps = req.capabilities.clone().unwrap_or_default();
    Registration {
        name: req.name.chars().take(100).collect(),
        version: req.version.chars().take(64).collect(),
        capabilities: CapabilitiesView {
            os: caps.os,
            arch: caps.arch,
            cpus: caps.cpus,
            memory_bytes: caps.memory_bytes,
            hostname: caps.hostname,
            tools: caps.tools.into_iter().take(64).collect(),
            skills: caps.skills.into_iter().take(16).collect(),
        },
    }
}

fn end_from(result: &mosaic_agent_proto::v1::TaskResult) -> TaskEnd {
    let status = match result.status() {
        ResultStatus::Completed => "completed",
        ResultStatus::Refused => "refused",
        ResultStatus::Cancelled => "cancelled",
        ResultStatus::TimedOut => "timed_out",
        ResultStatus::Failed | ResultStatus::Unspecified => "failed",
    };
    TaskEnd {
        status: status.to_owned(),
        exit_code: result.exit_code,
        error: Some(result.error.clone()).filter(|e| !e.is_empty()),
        duration_ms: i64::try_from(result.duration_ms).ok(),
    }
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

#[tonic::async_trait]
impl AgentNode for NodeService {
    async fn sync_configuration(
        &self,
        request: Request<RegistrationRequest>,
    ) -> Result<Response<RegistrationResponse>, Status> {
        let node = if request.get_ref().invite_token.is_empty() {
            let node = self.authenticate(&request).await?;
            self.registry()
                .update_registration(&node.id, &registration(request.get_ref()))
                .await
                .map_err(registry_status)?;
            node
        } else {
            let reg = registration(request.get_ref());
            let node = self
                .registry()
                .redeem_invite(&request.get_ref().invite_token, &reg)
                .await
                .map_err(registry_status)?;
            tracing::info!(node = %node.id, owner = %node.owner, "invite redeemed: node registered");
            node
        };
        Ok(Response::new(RegistrationResponse {
            node_id: node.id,
            credential: node.new_credential.unwrap_or_default(),
            task_signing_key: self.hub.signing_public_key(),
            policy: Some(node.policy.to_proto()),
            heartbeat_interval_secs: HEARTBEAT_SECS,
            owner: node.owner,
        }))
    }

    type TaskStreamStream = BoxStream<GatewayMessage>;

    async fn task_stream(
        &self,
        request: Request<Streaming<NodeMessage>>,
    ) -> Result<Response<Self::TaskStreamStream>, Status> {
        let node = self.authenticate(&request).await?;
        let mut inbound = request.into_inner();
        let hello = read_hello(&mut inbound, &node).await?;
        let (tx, rx) = mpsc::channel::<Result<GatewayMessage, Status>>(256);
        let stream_id = self.hub.attach_stream(&node.id, tx);
        let connected_at = self.go_online(&node, &hello).await?;
        tracing::info!(node = %node.id, name = %node.name, "node connected");
        tokio::spawn(follow_node(
            self.hub.clone(),
            node.id.clone(),
            stream_id,
            connected_at,
            inbound,
        ));
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    type ReportHealthStream = BoxStream<HealthAck>;

    async fn report_health(
        &self,
        request: Request<Streaming<Heartbeat>>,
    ) -> Result<Response<Self::ReportHealthStream>, Status> {
        let node = self.authenticate(&request).await?;
        let mut inbound = request.into_inner();
        let (tx, rx) = mpsc::channel::<Result<HealthAck, Status>>(8);
        let hub = self.hub.clone();
        tokio::spawn(async move {
            while let Some(Ok(beat)) = inbound.next().await {
                let at = mosaic_store::now();
                let health = HealthView {
                    cpu_percent: beat.cpu_percent.clamp(0.0, 100.0),
                    memory_used_bytes: beat.memory_used_bytes,
                    memory_total_bytes: beat.memory_total_bytes,
                    disk_used_bytes: beat.disk_used_bytes,
                    disk_total_bytes: beat.disk_total_bytes,
                    running_tasks: beat.running_tasks,
                    load_average: beat.load_average,
                    reported_at: at,
                };
                if let Err(e) = Registry::new(hub.store().conn())
                    .record_health(&node.id, &health)
                    .await
                {
                    tracing::warn!(node = %node.id, error = %e, "cannot store heartbeat");
                }
                let ack = HealthAck {
                    received_at_ms: at.timestamp_millis(),
                };
                if tx.send(Ok(ack)).await.is_err() {
                    break;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

/// Streams per connection: a node opens three (registration, tasks, health).
const MAX_STREAMS_PER_CONNECTION: u32 = 16;

/// The first message of a task stream: the node's `hello`, naming the node
/// the credential belongs to.
async fn read_hello(
    inbound: &mut Streaming<NodeMessage>,
    node: &AuthenticatedNode,
) -> Result<StreamHello, Status> {
    let hello = match inbound.next().await {
        Some(Ok(NodeMessage {
            kind: Some(Kind::Hello(h)),
        })) => h,
        Some(Err(e)) => return Err(e),
        _ => {
            return Err(Status::invalid_argument(
                "the first message on a task stream must be `hello`",
            ));
        }
    };
    if hello.node_id != node.id {
        return Err(Status::permission_denied(format!(
            "this credential belongs to node `{}`, not `{}`",
            node.id, hello.node_id
        )));
    }
    Ok(hello)
}

impl NodeService {
    /// Marks the node online here and settles the tasks it does not know
    /// (neither running nor ended with a result still to deliver); answers
    /// when this connection began.
    async fn go_online(
        &self,
        node: &AuthenticatedNode,
        hello: &StreamHello,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, Status> {
        let registry = self.registry();
        registry
            .mark_online(&node.id, &self.hub.instance)
            .await
            .map_err(registry_status)?;
        let connected_at = registry
            .connected_at(&node.id)
            .await
            .map_err(registry_status)?;
        let known: Vec<String> = hello
            .running_task_ids
            .iter()
            .chain(&hello.ended_task_ids)
            .cloned()
            .collect();
        match registry.lose_unknown_tasks(&node.id, &known).await {
            Ok(lost) if !lost.is_empty() => {
                tracing::warn!(node = %node.id, ?lost, "tasks the node does not know: lost");
                for task in lost {
                    self.hub.publish_end_from_store(&task).await;
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(node = %node.id, error = %e, "cannot reconcile running tasks"),
        }
        Ok(connected_at)
    }
}

/// Reads what a node sends on its task stream until the stream ends, then
/// marks it offline unless a newer stream has replaced this one.
async fn follow_node(
    hub: Arc<NodeHub>,
    node_id: String,
    stream_id: u64,
    connected_at: Option<chrono::DateTime<chrono::Utc>>,
    mut inbound: Streaming<NodeMessage>,
) {
    let mut last_touch = std::time::Instant::now();
    while let Some(message) = inbound.next().await {
        let message = match message {
            Ok(m) => m,
            Err(e) => {
                tracing::info!(node = %node_id, error = %e, "node stream ended with an error");
                break;
            }
        };
        if last_touch.elapsed() > std::time::Duration::from_secs(5) {
            let _ = Registry::new(hub.store().conn()).touch(&node_id).await;
            last_touch = std::time::Instant::now();
        }
        record_message(&hub, &node_id, message.kind).await;
    }
    if hub.detach_stream(&node_id, stream_id) {
        if let Err(e) = Registry::new(hub.store().conn())
            .mark_offline(&node_id, connected_at)
            .await
        {
            tracing::warn!(node = %node_id, error = %e, "cannot mark node offline");
        }
        tracing::info!(node = %node_id, "node disconnected");
    }
}

/// Stores task output or a result the node sent, if the task is the node's.
async fn record_message(hub: &NodeHub, node_id: &str, kind: Option<Kind>) {
    match kind {
        Some(Kind::Progress(p)) => {
            if !hub.task_belongs(&p.task_id, node_id).await {
                return;
            }
            let stream = match p.stream() {
                OutStream::Stderr => "stderr",
                _ => "stdout",
            };
            let data = String::from_utf8_lossy(&p.data).into_owned();
            hub.record_output(&p.task_id, p.seq, stream, data).await;
        }
        Some(Kind::Result(r)) => {
            // Acknowledged once stored (or when the task had ended already:
            // a repeat), and when there is nothing it could be stored to;
            // not when storage failed, so the node sends it again later.
            let settled = match hub.task_node(&r.task_id).await {
                Ok(Some(owner)) if owner == node_id => {
                    hub.record_end(&r.task_id, &end_from(&r)).await
                }
                Ok(_) => {
                    tracing::debug!(node = %node_id, task = %r.task_id, "result for a task that is not this node's: dropped");
                    true
                }
                Err(e) => {
                    tracing::warn!(node = %node_id, task = %r.task_id, error = %e, "cannot look up the task of a result");
                    false
                }
            };
            if settled {
                hub.acknowledge_result(node_id, &r.task_id).await;
            }
        }
        Some(Kind::Hello(_)) | None => {}
    }
}

/// Serves the node service with TLS (the gateway's server certificate) on
/// `listener` until `stop` turns true. TLS is taken in the gateway's own
/// accept loop (`listen::tls_incoming`): connection caps, handshake
/// and idle timeouts as on every listener. Node streams never end by
/// themselves, so on stop each is ended with `UNAVAILABLE` and the server
/// is given the shutdown grace period to drain.
///
/// # Errors
/// When the TLS identity is unusable or the server fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    hub: Arc<NodeHub>,
    pki: Arc<mosaic_identity::GatewayPki>,
    limits: mosaic_config::ListenerLimits,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let tls = tls_config(&pki).context("agent-node TLS set-up")?;
    let listener = crate::listen::Listener::new(listener, &limits, "nodes");
    let incoming = crate::listen::tls_incoming(
        listener,
        tokio_rustls::TlsAcceptor::from(tls),
        &limits,
        stop.clone(),
    );
    let server = tonic::transport::Server::builder()
        // A stream in flight keeps its connection from counting as idle.
        .layer(crate::listen::TrackInFlightLayer)
        // To the response head: streams are not cut.
        .timeout(std::time::Duration::from_secs(
            limits.request_timeout_secs.get(),
        ))
        .max_concurrent_streams(MAX_STREAMS_PER_CONNECTION)
        // A node that stops answering pings is gone.
        .http2_keepalive_interval(Some(std::time::Duration::from_secs(20)))
        .http2_keepalive_timeout(Some(std::time::Duration::from_secs(20)))
        .add_service(
            mosaic_agent_proto::v1::agent_node_server::AgentNodeServer::new(NodeService::new(
                hub.clone(),
            )),
        );
    let mut stop_signal = stop.clone();
    let serving = server.serve_with_incoming_shutdown(incoming, async move {
        let _ = stop_signal.wait_for(|s| *s).await;
    });
    tokio::pin!(serving);
    tokio::select! {
        result = &mut serving => return result.context("agent-node listener failed"),
        _ = stop.wait_for(|s| *s) => {}
    }
    hub.disconnect_all();
    let grace = std::time::Duration::from_secs(limits.shutdown_grace_secs.get());
    match tokio::time::timeout(grace, serving).await {
        Ok(result) => result.context("agent-node listener failed"),
        Err(_) => {
            tracing::info!("agent-node streams still open at shutdown: closed");
            Ok(())
        }
    }
}

/// The gateway's server certificate, HTTP/2 only, no client certificates:
/// nodes authenticate with their credential.
fn tls_config(pki: &mosaic_identity::GatewayPki) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_slice_iter(pki.server.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_slice(pki.server.key_pem.as_bytes())?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}
