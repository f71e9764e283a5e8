//! The lifecycle states of federation grants and peers, as stored and as sent.
//!
//! Both travel as lower-case strings (`"active"`, `"revoked"`, …). Parsing is
//! strict: a value outside the enumeration is an error naming the accepted
//! ones, so a corrupted row or a typo never passes for a usable state.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where a grant is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantStatus {
    /// The peer may read through it (until `expires_at`, when set).
    Active,
    /// Withdrawn by an admin; final.
    Revoked,
}

impl GrantStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [Self; 2] = [Self::Active, Self::Revoked];

    /// The stored and wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Revoked => "revoked",
        }
    }
}

/// Where a peer is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeerState {
    /// Known, but has not enrolled yet.
    Pending,
    /// Enrolled; its grants may be used.
    Active,
    /// Paused by an admin; may be activated again.
    Suspended,
    /// Withdrawn for good.
    Revoked,
}

impl PeerState {
    /// Every state, in lifecycle order.
    pub const ALL: [Self; 4] = [Self::Pending, Self::Active, Self::Suspended, Self::Revoked];

    /// The stored and wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Revoked => "revoked",
        }
    }
}

/// A stored or sent state that is not one of the enumeration's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{value}` (expected one of {expected})")]
pub struct UnknownState {
    /// `grant status` or `peer state`.
    pub kind: &'static str,
    /// What was given.
    pub value: String,
    /// The accepted values, comma-separated.
    pub expected: &'static str,
}

impl FromStr for GrantStatus {
    type Err = UnknownState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| UnknownState {
                kind: "grant status",
                value: s.to_owned(),
                expected: "active, revoked",
            })
    }
}

impl FromStr for PeerState {
    type Err = UnknownState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| UnknownState {
                kind: "peer state",
                value: s.to_owned(),
                expected: "pending, active, suspended, revoked",
            })
    }
}

impl fmt::Display for GrantStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for PeerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_through_their_names() {
        for s in GrantStatus::ALL {
            assert_eq!(s.as_str().parse::<GrantStatus>(), Ok(s));
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::json!(s.as_str())
            );
        }
        for s in PeerState::ALL {
            assert_eq!(s.as_str().parse::<PeerState>(), Ok(s));
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::json!(s.as_str())
            );
        }
    }

    #[test]
    fn unknown_states_name_the_accepted_ones() {
        let err = "Active".parse::<GrantStatus>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown grant status `Active` (expected one of active, revoked)"
        );
        assert!("gone".parse::<PeerState>().is_err());
    }
}
