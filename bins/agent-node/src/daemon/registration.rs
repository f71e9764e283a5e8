//! `SyncConfiguration`: redeeming the invite on first start, authenticating
//! with the stored credential after that, and checking that the gateway is
//! still the one this node registered with.

use super::{
    DEFAULT_HEARTBEAT_SECS, DaemonError, Node, Registered, SessionError, bearer, say, status_text,
};
use crate::state::{self, NodeState};
use mosaic_agent_proto::v1::{
    RegistrationRequest, RegistrationResponse, agent_node_client::AgentNodeClient,
};
use mosaic_nodes::{Policy, TaskVerifier};
use std::time::Duration;
use tonic::transport::Channel;
use tonic::{Code, Request};
use tracing::info;

impl Node {
    /// `SyncConfiguration`: redeems the invite on first start, authenticates
    /// with the credential after that.
    pub(super) async fn register(
        &mut self,
        client: &mut AgentNodeClient<Channel>,
    ) -> Result<Registered, SessionError> {
        let first = self.state.is_none();
        let request = self.registration_request()?;
        let response = match client.sync_configuration(request).await {
            Ok(r) => r.into_inner(),
            Err(status) => return Err(self.registration_failed(&status, first)),
        };
        check_answer(&response)?;
        self.remember(&response)?;
        Ok(self.adopt(response))
    }

    /// What this node says about itself: the invite token the first time,
    /// its credential after that.
    fn registration_request(&self) -> Result<Request<RegistrationRequest>, SessionError> {
        let first = self.state.is_none();
        let body = RegistrationRequest {
            invite_token: if first {
                self.settings.invite_token().unwrap_or_default().to_owned()
            } else {
                String::new()
            },
            name: self.settings.name.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            capabilities: Some(self.capabilities.clone()),
        };
        let mut request = Request::new(body);
        if let Some(state) = &self.state {
            request
                .metadata_mut()
                .insert("authorization", bearer(&state.credential)?);
        }
        Ok(request)
    }

    /// A refusal is fatal and says what a person must do; anything else is
    /// worth another try.
    fn registration_failed(&self, status: &tonic::Status, first: bool) -> SessionError {
        match status.code() {
            Code::Unauthenticated | Code::PermissionDenied if first => {
                SessionError::Fatal(DaemonError::Refused(format!(
                    "the invite was already used or has expired (gateway: {}): create a new one with `mosaic node invite` and put its token in {}",
                    status.message(),
                    self.settings.file.display()
                )))
            }
            Code::Unauthenticated | Code::PermissionDenied => {
                SessionError::Fatal(DaemonError::Refused(format!(
                    "this node's credential was refused (was it removed?) (gateway: {}): delete {} and re-invite with `mosaic node invite`",
                    status.message(),
                    self.state_path.display()
                )))
            }
            _ => SessionError::Lost(format!("registration failed: {}", status_text(status))),
        }
    }

    /// Writes the node state on first registration; after that, refuses a
    /// gateway that changed its signing key or calls this node otherwise,
    /// and stores a credential the gateway replaced.
    fn remember(&mut self, response: &RegistrationResponse) -> Result<(), SessionError> {
        match &mut self.state {
            None => {
                if response.credential.is_empty() {
                    return Err(unusable(
                        "the invite was accepted but no credential came with it",
                    ));
                }
                let fresh = NodeState {
                    node_id: response.node_id.clone(),
                    credential: response.credential.clone(),
                    task_signing_key: response.task_signing_key.clone(),
                    gateway: self.settings.gateway.clone(),
                };
                state::save(&self.state_path, &fresh)
                    .map_err(|e| DaemonError::Failed(e.to_string()))?;
                info!(
                    node_id = %fresh.node_id,
                    state = %self.state_path.display(),
                    "invite redeemed; node state written"
                );
                self.state = Some(fresh);
            }
            Some(known) => {
                if known.task_signing_key != response.task_signing_key {
                    return Err(SessionError::Fatal(DaemonError::Refused(format!(
                        "the gateway's task-signing key is not the one this node registered with, so its tasks cannot be trusted: refusing to continue. If the gateway was reinstalled on purpose, delete {} and re-invite with `mosaic node invite`",
                        self.state_path.display()
                    ))));
                }
                if known.node_id != response.node_id {
                    return Err(SessionError::Fatal(DaemonError::Refused(format!(
                        "the gateway calls this node `{}` but it registered as `{}`: refusing to continue. Delete {} and re-invite with `mosaic node invite`",
                        response.node_id,
                        known.node_id,
                        self.state_path.display()
                    ))));
                }
                if !response.credential.is_empty() && response.credential != known.credential {
                    known.credential.clone_from(&response.credential);
                    state::save(&self.state_path, known)
                        .map_err(|e| DaemonError::Failed(e.to_string()))?;
                    info!("the gateway issued a new credential; node state updated");
                }
            }
        }
        Ok(())
    }

    /// Takes on what the gateway decided: the key tasks are verified with
    /// (kept across reconnects, with its nonce memory), the sandbox policy
    /// and the heartbeat interval.
    fn adopt(&mut self, response: RegistrationResponse) -> Registered {
        if self.verifier.is_none() {
            self.verifier = Some(TaskVerifier::new(
                response.task_signing_key.clone(),
                response.node_id.clone(),
            ));
        }
        self.policy = Policy::from_proto(&response.policy.unwrap_or_default());
        let every = match response.heartbeat_interval_secs {
            0 => DEFAULT_HEARTBEAT_SECS,
            n => n,
        };
        info!(
            node_id = %response.node_id,
            owner = %response.owner,
            policy = ?self.policy.mode,
            heartbeat_secs = every,
            "registered"
        );
        say(&format!(
            "agent-node registered as {} ({})",
            response.node_id, self.settings.name
        ));
        Registered {
            node_id: response.node_id,
            heartbeat: Duration::from_secs(u64::from(every)),
        }
    }
}

/// Refuses an answer without a node id or with a key that cannot be an
/// Ed25519 public key.
fn check_answer(response: &RegistrationResponse) -> Result<(), SessionError> {
    if response.node_id.is_empty() {
        return Err(unusable("it has no node id"));
    }
    if response.task_signing_key.len() != 32 {
        return Err(unusable(
            "its task-signing key is not a 32-byte Ed25519 public key",
        ));
    }
    Ok(())
}

fn unusable(what: &str) -> SessionError {
    SessionError::Fatal(DaemonError::Failed(format!(
        "the gateway's registration answer cannot be used: {what}"
    )))
}
