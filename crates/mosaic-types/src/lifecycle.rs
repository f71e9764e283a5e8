//! The lifecycle states of federation grants and peers, as stored and as sent.
//!
//! Both travel as lower-case strings (`"active"`, `"revoked"`, …). Parsing is
//! strict: a value outside the enumeration is an error naming the accepted
//! ones, so a corrupted row or a typo never passes for a usable state.
//!
//! Whether a grant or a peer may be used is decided here and nowhere else:
//! [`GrantStatus::usability`] (active and not expired) and
//! [`PeerState::is_usable`] (active). The federation listener, enrollment and
//! the outbound query directory all ask these.
//!
//! ```
//! use chrono::{Duration, Utc};
//! use mosaic_types::{GrantStatus, GrantUsability, PeerState};
//!
//! let now = Utc::now();
//! assert!(GrantStatus::Active.is_usable(None, now));
//! assert_eq!(
//!     GrantStatus::Active.usability(Some(now - Duration::seconds(1)), now),
//!     GrantUsability::Expired
//! );
//! assert!(!GrantStatus::Revoked.is_usable(None, now));
//! assert!(!PeerState::Suspended.is_usable());
//! ```

use chrono::{DateTime, Utc};
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

    /// Whether a grant in this status, expiring at `expires_at` (never when
    /// `None`), may be used at `now`, and if not, why. A grant expires at the
    /// instant `expires_at`: from then on it is unusable.
    pub fn usability(
        self,
        expires_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> GrantUsability {
        match self {
            Self::Active if expires_at.is_some_and(|at| at <= now) => GrantUsability::Expired,
            Self::Active => GrantUsability::Usable,
            other => GrantUsability::NotActive(other),
        }
    }

    /// Active and not expired at `now`: a peer may read through it and enroll
    /// for it.
    pub fn is_usable(self, expires_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
        self.usability(expires_at, now) == GrantUsability::Usable
    }
}

/// The answer of [`GrantStatus::usability`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GrantUsability {
    /// The grant may be used.
    Usable,
    /// The grant is not active (it is in this status).
    NotActive(GrantStatus),
    /// The grant is active but its expiry has passed.
    Expired,
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
    /// Outbound only: the peer refused our grant for good (it was revoked or
    /// expired there, or our certificate did). Not queried until an admin
    /// activates it again or a new enrollment replaces it.
    Refused,
}

impl PeerState {
    /// Every state, in lifecycle order.
    pub const ALL: [Self; 5] = [
        Self::Pending,
        Self::Active,
        Self::Suspended,
        Self::Revoked,
        Self::Refused,
    ];

    /// The stored and wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Revoked => "revoked",
            Self::Refused => "refused",
        }
    }

    /// Only an active peer's grants may be used, and only an active outbound
    /// peer may be queried. Pending, suspended, revoked and refused peers may
    /// not.
    pub const fn is_usable(self) -> bool {
        matches!(self, Self::Active)
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
                expected: "pending, active, suspended, revoked, refused",
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
    fn usability_table() {
        let now = DateTime::parse_from_rfc3339("2026-11-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let earlier = Some(now - chrono::Duration::milliseconds(1));
        let later = Some(now + chrono::Duration::milliseconds(1));
        let cases = [
            (GrantStatus::Active, None, GrantUsability::Usable),
            (GrantStatus::Active, later, GrantUsability::Usable),
            (GrantStatus::Active, Some(now), GrantUsability::Expired),
            (GrantStatus::Active, earlier, GrantUsability::Expired),
            (
                GrantStatus::Revoked,
                None,
                GrantUsability::NotActive(GrantStatus::Revoked),
            ),
            (
                GrantStatus::Revoked,
                later,
                GrantUsability::NotActive(GrantStatus::Revoked),
            ),
            (
                GrantStatus::Revoked,
                earlier,
                GrantUsability::NotActive(GrantStatus::Revoked),
            ),
        ];
        for (status, expires_at, expected) in cases {
            assert_eq!(
                status.usability(expires_at, now),
                expected,
                "{status} expiring {expires_at:?}"
            );
            assert_eq!(
                status.is_usable(expires_at, now),
                expected == GrantUsability::Usable
            );
        }
        let usable: Vec<PeerState> = PeerState::ALL
            .into_iter()
            .filter(|s| s.is_usable())
            .collect();
        assert_eq!(usable, vec![PeerState::Active]);
    }

    #[test]
    fn unknown_states_name_the_accepted_ones() {
        let err = "Active".parse::<GrantStatus>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown grant status `Active` (expected one of active, revoked)"
        );
        assert_eq!(
            "gone".parse::<PeerState>().unwrap_err().to_string(),
            "unknown peer state `gone` (expected one of pending, active, suspended, revoked, refused)"
        );
    }
}
