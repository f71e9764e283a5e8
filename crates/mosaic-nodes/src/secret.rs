//! Invite tokens and node credentials: random secrets the gateway hands out
//! once and keeps only as SHA-256 hashes.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SecureRandom as _;

/// Prefix of invite tokens (`mosaic node invite`).
pub const INVITE_PREFIX: &str = "mni_";
/// Prefix of node credentials (issued when an invite is redeemed).
pub const CREDENTIAL_PREFIX: &str = "mnc_";
const SECRET_BYTES: usize = 32;

/// The system's random source failed.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the system random source failed")]
pub struct RandomError;

fn generate(prefix: &str) -> Result<String, RandomError> {
    let mut bytes = [0u8; SECRET_BYTES];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| RandomError)?;
    Ok(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// A new invite token.
///
/// # Errors
/// When the random source fails.
pub fn new_invite_token() -> Result<String, RandomError> {
    generate(INVITE_PREFIX)
}

/// A new node credential.
///
/// # Errors
/// When the random source fails.
pub fn new_credential() -> Result<String, RandomError> {
    generate(CREDENTIAL_PREFIX)
}

/// Whether `secret` has the shape of a secret with `prefix` (cheap check
/// before any storage lookup).
pub fn well_formed(secret: &str, prefix: &str) -> bool {
    secret
        .strip_prefix(prefix)
        .and_then(|rest| URL_SAFE_NO_PAD.decode(rest).ok())
        .is_some_and(|b| b.len() == SECRET_BYTES)
}

/// SHA-256 of the secret, hex: what the gateway stores.
pub fn hash(secret: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, secret.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_distinct_well_formed_and_hashed() {
        let a = new_invite_token().unwrap();
        let b = new_invite_token().unwrap();
        assert_ne!(a, b);
        assert!(well_formed(&a, INVITE_PREFIX));
        assert!(!well_formed(&a, CREDENTIAL_PREFIX));
        assert!(well_formed(&new_credential().unwrap(), CREDENTIAL_PREFIX));
        assert!(!well_formed("mni_short", INVITE_PREFIX));
        assert_eq!(hash(&a).len(), 64);
        assert_ne!(hash(&a), hash(&b));
    }
}
