//! Why a gateway refused a federated request, as far as it tells the peer.
//!
//! A serving gateway answers every refusal of a certificate with 403
//! `forbidden`. When the certificate is proven to be the one it issued for
//! the grant (its serial, subject, peer and instance all match), the holder
//! is the grant's own peer, and the gateway says why in the envelope's
//! details: `{"refusal": "grant_revoked"}`. A certificate that does not
//! prove that much gets the bare `Federation access denied`, so a prober
//! learns nothing about which grants or peers exist.
//!
//! The calling gateway reads the refusal back with
//! [`FederationRefusal::from_envelope`], tells its user in their terms
//! ([`FederationRefusal::describe`]) and, for a [final](FederationRefusal::is_final)
//! one, records the outbound peer as [`crate::PeerState::Refused`].
//!
//! ```
//! use mosaic_types::{ErrorCode, ErrorEnvelope, FederationRefusal};
//!
//! let refusal = FederationRefusal::GrantRevoked;
//! let sent = ErrorEnvelope::new(ErrorCode::Forbidden, refusal.server_message())
//!     .with_details(refusal.details());
//! assert_eq!(FederationRefusal::from_envelope(&sent), Some(refusal));
//! assert_eq!(refusal.describe("work"), "the grant for peer work was revoked");
//! assert!(refusal.is_final());
//! ```

use crate::error::{ErrorCode, ErrorEnvelope};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The details key a refusal travels under.
pub const REFUSAL_KEY: &str = "refusal";

/// Why a serving gateway refused the holder of a certificate it issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FederationRefusal {
    /// The grant was revoked by the serving gateway's admin.
    GrantRevoked,
    /// The grant's expiry has passed.
    GrantExpired,
    /// The serving gateway suspended the peer; it may activate it again.
    PeerSuspended,
    /// The serving gateway revoked the peer.
    PeerRevoked,
    /// The certificate the serving gateway issued to the peer has expired.
    CertificateExpired,
}

impl FederationRefusal {
    /// Every refusal.
    pub const ALL: [Self; 5] = [
        Self::GrantRevoked,
        Self::GrantExpired,
        Self::PeerSuspended,
        Self::PeerRevoked,
        Self::CertificateExpired,
    ];

    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::GrantRevoked => "grant_revoked",
            Self::GrantExpired => "grant_expired",
            Self::PeerSuspended => "peer_suspended",
            Self::PeerRevoked => "peer_revoked",
            Self::CertificateExpired => "certificate_expired",
        }
    }

    /// Whether the same certificate can never be accepted again: everything
    /// but a suspension, which the serving gateway's admin may lift.
    pub const fn is_final(self) -> bool {
        !matches!(self, Self::PeerSuspended)
    }

    /// The message of the serving gateway's 403.
    pub const fn server_message(self) -> &'static str {
        match self {
            Self::GrantRevoked => "Federation access denied: the grant was revoked",
            Self::GrantExpired => "Federation access denied: the grant has expired",
            Self::PeerSuspended => "Federation access denied: this peer is suspended",
            Self::PeerRevoked => "Federation access denied: this peer is revoked",
            Self::CertificateExpired => {
                "Federation access denied: the certificate issued to this peer has expired"
            }
        }
    }

    /// What the calling side tells its user, naming the serving gateway by
    /// `peer`, the name it has there.
    pub fn describe(self, peer: &str) -> String {
        match self {
            Self::GrantRevoked => format!("the grant for peer {peer} was revoked"),
            Self::GrantExpired => format!("the grant for peer {peer} has expired"),
            Self::PeerSuspended => format!("peer {peer} has suspended this gateway's access"),
            Self::PeerRevoked => format!("peer {peer} has revoked this gateway's access"),
            Self::CertificateExpired => {
                format!("the certificate peer {peer} issued to this gateway has expired")
            }
        }
    }

    /// The details object of the serving gateway's 403.
    pub fn details(self) -> serde_json::Value {
        serde_json::json!({ REFUSAL_KEY: self.as_str() })
    }

    /// The refusal a 403 `forbidden` envelope carries, if any. Any other
    /// code, or a refusal this version does not know, is `None`.
    pub fn from_envelope(envelope: &ErrorEnvelope) -> Option<Self> {
        if envelope.error.code != ErrorCode::Forbidden {
            return None;
        }
        envelope
            .error
            .details
            .as_ref()?
            .get(REFUSAL_KEY)?
            .as_str()?
            .parse()
            .ok()
    }
}

/// A refusal name this version does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown federation refusal `{0}` (expected one of grant_revoked, grant_expired, peer_suspended, peer_revoked, certificate_expired)"
)]
pub struct UnknownRefusal(pub String);

impl FromStr for FederationRefusal {
    type Err = UnknownRefusal;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRefusal(s.to_owned()))
    }
}

impl fmt::Display for FederationRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refusals_round_trip_through_their_names() {
        for r in FederationRefusal::ALL {
            assert_eq!(r.as_str().parse::<FederationRefusal>(), Ok(r));
            assert_eq!(serde_json::to_value(r).unwrap(), json!(r.as_str()));
            assert!(r.server_message().starts_with("Federation access denied: "));
        }
        assert!("revoked".parse::<FederationRefusal>().is_err());
    }

    #[test]
    fn only_a_suspension_is_not_final() {
        let lifted: Vec<_> = FederationRefusal::ALL
            .into_iter()
            .filter(|r| !r.is_final())
            .collect();
        assert_eq!(lifted, vec![FederationRefusal::PeerSuspended]);
    }

    #[test]
    fn the_refusal_is_read_from_forbidden_envelopes_only() {
        let with = |code, details| ErrorEnvelope::new(code, "x").with_details(details);
        assert_eq!(
            FederationRefusal::from_envelope(&with(
                ErrorCode::Forbidden,
                json!({"refusal": "grant_expired"})
            )),
            Some(FederationRefusal::GrantExpired)
        );
        for env in [
            ErrorEnvelope::new(ErrorCode::Forbidden, "Federation access denied"),
            with(ErrorCode::Forbidden, json!({"refusal": "gone_fishing"})),
            with(ErrorCode::Forbidden, json!({"refusal": 3})),
            with(
                ErrorCode::ScopeViolation,
                json!({"refusal": "grant_revoked"}),
            ),
        ] {
            assert_eq!(FederationRefusal::from_envelope(&env), None, "{env:?}");
        }
    }
}
