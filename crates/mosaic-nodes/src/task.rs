//! Signed tasks: the gateway signs every task it sends (Ed25519 over the
//! task's exact encoded bytes); the node verifies the signature, that the task
//! is meant for it, that it has not expired and that its nonce is new.

use mosaic_agent_proto::v1::{SignedTask, TaskRequest};
use prost::Message as _;
use ring::signature::{ED25519, UnparsedPublicKey};
use std::collections::HashMap;

/// Longest lifetime a node accepts between `issued_at_ms` and `expires_at_ms`.
pub const MAX_TASK_LIFETIME_MS: i64 = 5 * 60 * 1000;
/// How far ahead of the node's clock `issued_at_ms` may be.
pub const CLOCK_SKEW_MS: i64 = 60 * 1000;
/// Nonce length the gateway uses and the node requires.
pub const NONCE_LEN: usize = 16;

/// Why a node refused a task. The message is sent back to the gateway.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskRefusal {
    /// The bytes do not decode as a task.
    #[error("task refused: not a valid task message ({0})")]
    Malformed(String),
    /// The signature does not verify with the gateway's key.
    #[error("task refused: signature does not verify with the gateway's task-signing key")]
    BadSignature,
    /// Signed for another node.
    #[error("task refused: signed for node `{0}`, not this node")]
    WrongNode(String),
    /// Past its expiry.
    #[error("task refused: expired {0} ms ago")]
    Expired(i64),
    /// Issued in the future, or valid for longer than a node accepts.
    #[error("task refused: validity window is not acceptable ({0})")]
    BadWindow(String),
    /// The nonce has been seen before.
    #[error("task refused: replayed (nonce already used)")]
    Replayed,
    /// Refused by the node's sandbox policy.
    #[error("task refused by sandbox policy: {0}")]
    Sandbox(String),
}

/// Signs `task` with `sign` (the gateway's Ed25519 key).
pub fn sign_task(task: &TaskRequest, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> SignedTask {
    let bytes = task.encode_to_vec();
    let signature = sign(&bytes);
    SignedTask {
        task: bytes,
        signature,
    }
}

/// A fresh random nonce.
///
/// # Errors
/// When the system's random source fails.
pub fn new_nonce() -> Result<Vec<u8>, ring::error::Unspecified> {
    use ring::rand::SecureRandom as _;
    let mut nonce = vec![0u8; NONCE_LEN];
    ring::rand::SystemRandom::new().fill(&mut nonce)?;
    Ok(nonce)
}

/// Verifies tasks on a node, remembering nonces until their tasks expire.
#[derive(Debug)]
pub struct TaskVerifier {
    public_key: Vec<u8>,
    node_id: String,
    seen: HashMap<Vec<u8>, i64>,
}

impl TaskVerifier {
    /// A verifier for tasks signed by `public_key` (raw 32-byte Ed25519) and
    /// meant for `node_id`.
    pub fn new(public_key: Vec<u8>, node_id: impl Into<String>) -> Self {
        Self {
            public_key,
            node_id: node_id.into(),
            seen: HashMap::new(),
        }
    }

    /// The gateway key tasks must be signed with.
    pub fn public_key(&self) -> &[u8] {
        &self.public_key
    }

    /// Checks `signed` at `now_ms` (Unix milliseconds) and returns the task.
    /// A task that passes is remembered, so the same nonce is refused later.
    ///
    /// # Errors
    /// The first check that fails, in this order: signature, decoding, node,
    /// validity window, expiry, nonce.
    pub fn verify(&mut self, signed: &SignedTask, now_ms: i64) -> Result<TaskRequest, TaskRefusal> {
        UnparsedPublicKey::new(&ED25519, &self.public_key)
            .verify(&signed.task, &signed.signature)
            .map_err(|_| TaskRefusal::BadSignature)?;
        let task = TaskRequest::decode(signed.task.as_slice())
            .map_err(|e| TaskRefusal::Malformed(e.to_string()))?;
        if task.node_id != self.node_id {
            return Err(TaskRefusal::WrongNode(task.node_id));
        }
        if task.nonce.len() != NONCE_LEN {
            return Err(TaskRefusal::Malformed(format!(
                "nonce must be {NONCE_LEN} bytes, got {}",
                task.nonce.len()
            )));
        }
        if task.issued_at_ms > now_ms.saturating_add(CLOCK_SKEW_MS) {
            return Err(TaskRefusal::BadWindow(
                "issued in the future; check both clocks".to_owned(),
            ));
        }
        let lifetime = task.expires_at_ms.saturating_sub(task.issued_at_ms);
        if !(0..=MAX_TASK_LIFETIME_MS).contains(&lifetime) {
            return Err(TaskRefusal::BadWindow(format!(
                "lifetime {lifetime} ms is outside 0..={MAX_TASK_LIFETIME_MS} ms"
            )));
        }
        if now_ms > task.expires_at_ms {
            return Err(TaskRefusal::Expired(now_ms - task.expires_at_ms));
        }
        self.seen.retain(|_, expires| *expires >= now_ms);
        if self.seen.contains_key(&task.nonce) {
            return Err(TaskRefusal::Replayed);
        }
        self.seen.insert(task.nonce.clone(), task.expires_at_ms);
        Ok(task)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use mosaic_agent_proto::v1::{ShellTask, task_request::Payload};
    use ring::signature::{Ed25519KeyPair, KeyPair as _};

    fn key() -> Ed25519KeyPair {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
        Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()
    }

    fn task(now: i64) -> TaskRequest {
        TaskRequest {
            task_id: "t1".into(),
            session_id: "s1".into(),
            node_id: "n1".into(),
            payload: Some(Payload::Shell(ShellTask {
                command: "echo hi".into(),
                ..Default::default()
            })),
            nonce: new_nonce().unwrap(),
            issued_at_ms: now,
            expires_at_ms: now + 30_000,
        }
    }

    #[test]
    fn a_signed_task_verifies_once() {
        let k = key();
        let mut v = TaskVerifier::new(k.public_key().as_ref().to_vec(), "n1");
        let signed = sign_task(&task(1_000), |b| k.sign(b).as_ref().to_vec());
        assert_eq!(v.verify(&signed, 2_000).unwrap().task_id, "t1");
        assert_eq!(v.verify(&signed, 2_001), Err(TaskRefusal::Replayed));
    }

    #[test]
    fn every_refusal() {
        let k = key();
        let other = key();
        let mut v = TaskVerifier::new(k.public_key().as_ref().to_vec(), "n1");
        let sign = |t: &TaskRequest| sign_task(t, |b| k.sign(b).as_ref().to_vec());

        let forged = sign_task(&task(1_000), |b| other.sign(b).as_ref().to_vec());
        assert_eq!(v.verify(&forged, 1_000), Err(TaskRefusal::BadSignature));

        let mut altered = sign(&task(1_000));
        let last = altered.task.len() - 1;
        altered.task[last] ^= 1;
        assert_eq!(v.verify(&altered, 1_000), Err(TaskRefusal::BadSignature));

        let mut elsewhere = task(1_000);
        elsewhere.node_id = "n2".into();
        assert_eq!(
            v.verify(&sign(&elsewhere), 1_000),
            Err(TaskRefusal::WrongNode("n2".into()))
        );

        assert_eq!(
            v.verify(&sign(&task(1_000)), 31_001),
            Err(TaskRefusal::Expired(1))
        );

        let mut long = task(1_000);
        long.expires_at_ms = 1_000 + MAX_TASK_LIFETIME_MS + 1;
        assert!(matches!(
            v.verify(&sign(&long), 1_000),
            Err(TaskRefusal::BadWindow(_))
        ));

        let future = task(1_000 + CLOCK_SKEW_MS + 10);
        assert!(matches!(
            v.verify(&sign(&future), 1_000),
            Err(TaskRefusal::BadWindow(_))
        ));

        let mut short_nonce = task(1_000);
        short_nonce.nonce = vec![1, 2, 3];
        assert!(matches!(
            v.verify(&sign(&short_nonce), 1_000),
            Err(TaskRefusal::Malformed(_))
        ));

        let garbage = SignedTask {
            task: b"\xff\xff".to_vec(),
            signature: k.sign(b"\xff\xff").as_ref().to_vec(),
        };
        assert!(matches!(
            v.verify(&garbage, 1_000),
            Err(TaskRefusal::Malformed(_))
        ));
    }

    #[test]
    fn nonces_are_forgotten_only_after_their_task_expires() {
        let k = key();
        let mut v = TaskVerifier::new(k.public_key().as_ref().to_vec(), "n1");
        for i in 0..100 {
            let signed = sign_task(&task(i * 1_000), |b| k.sign(b).as_ref().to_vec());
            v.verify(&signed, i * 1_000).unwrap();
        }
        // Tasks live 30 s: only the last ~31 are still remembered.
        assert!(v.seen.len() <= 31, "{}", v.seen.len());
    }
}
