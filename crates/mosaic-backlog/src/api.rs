//! The backlog's HTTP contract: paths and request bodies, shared by the
//! gateway that serves them and the clients that call them.
//!
//! Responses are the crate's own types: [`Card`](crate::Card), `Option<Card>`
//! from claim (`null` when nothing was claimable), [`Vec<Card>`] from list,
//! [`ReclaimResult`](crate::ReclaimResult) and [`Stats`](crate::Stats). Errors
//! are the gateway's error envelope.

use crate::{CardId, Owner};
use serde::{Deserialize, Serialize};

/// Root of the backlog API.
pub const BASE: &str = "/api/fleet/v1/backlog";

/// `POST` a [`NewCard`](crate::NewCard) to create; `GET` with a
/// [`ListFilter`](crate::ListFilter) as query to list.
pub const CARDS: &str = "/api/fleet/v1/backlog/cards";
/// `GET` one card.
pub const CARD: &str = "/api/fleet/v1/backlog/cards/{id}";
/// `POST` a [`ClaimRequest`](crate::ClaimRequest).
pub const CLAIM: &str = "/api/fleet/v1/backlog/claim";
/// `POST` a [`ReclaimBody`].
pub const RECLAIM: &str = "/api/fleet/v1/backlog/reclaim";
/// `GET` the stats.
pub const STATS: &str = "/api/fleet/v1/backlog/stats";

/// The per-card actions, `POST /api/fleet/v1/backlog/cards/{id}/<action>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardAction {
    /// Body [`RenewBody`].
    Renew,
    /// Body [`OwnerBody`].
    Release,
    /// Body [`LinkBody`].
    Link,
    /// No body.
    Block,
    /// No body.
    Unblock,
    /// Body [`CompleteBody`].
    Complete,
    /// Body [`FailBody`].
    Fail,
}

impl CardAction {
    /// Every action.
    pub const ALL: [CardAction; 7] = [
        Self::Renew,
        Self::Release,
        Self::Link,
        Self::Block,
        Self::Unblock,
        Self::Complete,
        Self::Fail,
    ];

    /// The last path segment.
    pub const fn segment(self) -> &'static str {
        match self {
            Self::Renew => "renew",
            Self::Release => "release",
            Self::Link => "link",
            Self::Block => "block",
            Self::Unblock => "unblock",
            Self::Complete => "complete",
            Self::Fail => "fail",
        }
    }

    /// The route template, with `{id}` for the card.
    pub const fn route(self) -> &'static str {
        match self {
            Self::Renew => "/api/fleet/v1/backlog/cards/{id}/renew",
            Self::Release => "/api/fleet/v1/backlog/cards/{id}/release",
            Self::Link => "/api/fleet/v1/backlog/cards/{id}/link",
            Self::Block => "/api/fleet/v1/backlog/cards/{id}/block",
            Self::Unblock => "/api/fleet/v1/backlog/cards/{id}/unblock",
            Self::Complete => "/api/fleet/v1/backlog/cards/{id}/complete",
            Self::Fail => "/api/fleet/v1/backlog/cards/{id}/fail",
        }
    }
}

/// Renew a claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RenewBody {
    /// The claim's holder.
    pub owner: Owner,
    /// New TTL; the claim's current one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<u32>,
}

/// Release a claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerBody {
    /// The claim's holder.
    pub owner: Owner,
}

/// Make the card depend on `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkBody {
    /// The dependency.
    pub to: CardId,
}

/// Complete a card: as its claim's `owner`, or with `force`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompleteBody {
    /// The claim's holder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Owner>,
    /// Complete whoever holds it, from any status.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force: bool,
}

/// Report a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailBody {
    /// The claim's holder.
    pub owner: Owner,
    /// What went wrong; kept as the card's `lastError`.
    pub error: String,
}

/// Reclaim one card, or (with no id) every expired claim.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReclaimBody {
    /// The card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<CardId>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn action_routes_sit_under_the_card_path() {
        for action in CardAction::ALL {
            assert_eq!(
                action.route(),
                format!("{CARD}/{}", action.segment()),
                "{action:?}"
            );
        }
        assert!(CARDS.starts_with(BASE) && CLAIM.starts_with(BASE));
        assert!(RECLAIM.starts_with(BASE) && STATS.starts_with(BASE));
    }

    #[test]
    fn bodies_are_camel_case_and_omit_absent_fields() {
        let renew = RenewBody {
            owner: Owner::new("w").unwrap(),
            ttl_seconds: Some(60),
        };
        assert_eq!(
            serde_json::to_value(&renew).unwrap(),
            json!({"owner": "w", "ttlSeconds": 60})
        );
        assert_eq!(
            serde_json::to_value(CompleteBody::default()).unwrap(),
            json!({})
        );
        let body: CompleteBody = serde_json::from_value(json!({"force": true})).unwrap();
        assert!(body.force && body.owner.is_none());
    }
}
