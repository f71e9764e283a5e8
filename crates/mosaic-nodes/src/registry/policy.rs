//! Sandbox policies as the database stores them and as the API shows them.

use super::{RegistryError, Result};
use crate::sandbox::{Policy, PolicyMode};
use mosaic_types::nodes::PolicyView;

pub(super) fn policy_json(p: &Policy) -> serde_json::Value {
    serde_json::to_value(p).unwrap_or(serde_json::Value::Null)
}

pub(super) fn policy_from_json(v: &serde_json::Value) -> Policy {
    // A stored policy that does not parse runs nothing rather than anything.
    serde_json::from_value(v.clone()).unwrap_or(Policy {
        mode: PolicyMode::Strict,
        allowed: Vec::new(),
        denied: Vec::new(),
    })
}

/// The API's view of a policy.
pub fn policy_view(p: &Policy) -> PolicyView {
    PolicyView {
        mode: match p.mode {
            PolicyMode::Strict => "strict",
            PolicyMode::Permissive => "permissive",
        }
        .to_owned(),
        allowed: p.allowed.clone(),
        denied: p.denied.clone(),
    }
}

/// A policy from the API's view, checked.
///
/// # Errors
/// [`RegistryError::Invalid`] naming what to fix.
pub fn policy_from_view(v: &PolicyView) -> Result<Policy> {
    Policy::parse(&v.mode, v.allowed.clone(), v.denied.clone())
        .map_err(|e| RegistryError::Invalid(e.to_string()))
}
