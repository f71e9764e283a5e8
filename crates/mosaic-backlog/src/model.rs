//! The backlog's values: ids, statuses, cards, and what callers send.
//!
//! Field names on the wire are camelCase, as the backlog's JSON has always been.

use crate::InvalidInput;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How long a claim lasts when the claimer does not say.
pub const DEFAULT_CLAIM_TTL_SECONDS: u32 = 900;

/// How many claims `fail` allows before it parks a card as blocked, for a card
/// created without its own limit.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

/// Longest card id or owner accepted: ids travel in URLs and log lines.
pub const MAX_NAME_LEN: usize = 256;

fn check_name(field: &'static str, value: &str) -> Result<(), InvalidInput> {
    if value.trim().is_empty() {
        return Err(InvalidInput::new(field, "must not be empty"));
    }
    if value.len() > MAX_NAME_LEN {
        return Err(InvalidInput::new(
            field,
            format!(
                "is {} bytes long; at most {MAX_NAME_LEN} are allowed",
                value.len()
            ),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(InvalidInput::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

macro_rules! name_type {
    ($(#[$meta:meta])* $name:ident, $field:literal) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Accepts any non-blank string of at most [`MAX_NAME_LEN`] bytes
            /// without control characters.
            pub fn new(value: impl Into<String>) -> Result<Self, InvalidInput> {
                let value = value.into();
                check_name($field, &value)?;
                Ok(Self(value))
            }

            /// The value as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidInput;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl FromStr for $name {
            type Err = InvalidInput;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:?}", self.0)
            }
        }
    };
}

name_type!(
    /// A card's id, chosen by whoever creates it (`A4`, `fleet-001`).
    CardId,
    "card id"
);
name_type!(
    /// Who holds a claim: the token a worker claims with and must present to
    /// renew, release, fail or complete it.
    Owner,
    "owner"
);

/// Where a card is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Claimable once every dependency is done.
    Ready,
    /// Held by one worker until it completes, fails, releases or its TTL lapses.
    Claimed,
    /// Parked: never claimed until unblocked.
    Blocked,
    /// Finished; satisfies the cards that depend on it.
    Done,
}

impl Status {
    /// Every status, in lifecycle order.
    pub const ALL: [Status; 4] = [Self::Ready, Self::Claimed, Self::Blocked, Self::Done];

    /// The status as stored and sent.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "ready",
            Self::Claimed => "claimed",
            Self::Blocked => "blocked",
            Self::Done => "done",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = InvalidInput;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| {
                InvalidInput::new(
                    "status",
                    format!("`{s}` is not one of ready, claimed, blocked, done"),
                )
            })
    }
}

/// One card as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Card {
    /// Stable id.
    pub id: CardId,
    /// Short title.
    pub title: String,
    /// Free-form description.
    pub body: Option<String>,
    /// Board column or milestone label.
    pub phase: Option<String>,
    /// Higher is sooner.
    pub priority: i32,
    /// Where the card is in its life.
    pub status: Status,
    /// Cards that must be done before this one can be claimed.
    pub depends_on: Vec<CardId>,
    /// Holder of the current claim.
    pub claim_owner: Option<Owner>,
    /// Length of the current claim.
    pub claim_ttl_seconds: Option<u32>,
    /// Start of the current claim (its last claim or renewal).
    pub claimed_at: Option<DateTime<Utc>>,
    /// How many times the card was claimed.
    pub attempts: u32,
    /// How many claims `fail` allows before it parks the card as blocked.
    pub max_attempts: u32,
    /// Key that made `create` idempotent, if one was given.
    pub idempotency_key: Option<String>,
    /// Acceptance criteria: a list of strings or any JSON object.
    pub acceptance: Option<serde_json::Value>,
    /// The error the last `fail` recorded.
    pub last_error: Option<String>,
    /// When the card was created.
    pub created_at: DateTime<Utc>,
    /// When the card last changed.
    pub updated_at: DateTime<Utc>,
}

impl Card {
    /// When the current claim lapses, if the card is claimed.
    pub fn claim_expires_at(&self) -> Option<DateTime<Utc>> {
        let at = self.claimed_at?;
        let ttl = self.claim_ttl_seconds?;
        Some(at + chrono::Duration::seconds(i64::from(ttl)))
    }
}

/// What `create` needs. Build with [`NewCard::new`] and the setters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewCard {
    /// Stable id.
    pub id: CardId,
    /// Short title; must not be blank.
    pub title: String,
    /// Free-form description.
    #[serde(default)]
    pub body: Option<String>,
    /// Board column or milestone label.
    #[serde(default)]
    pub phase: Option<String>,
    /// Higher is sooner; default 0.
    #[serde(default)]
    pub priority: i32,
    /// Cards that must be done first. They need not exist yet.
    #[serde(default)]
    pub depends_on: Vec<CardId>,
    /// Acceptance criteria.
    #[serde(default)]
    pub acceptance: Option<serde_json::Value>,
    /// A repeated key returns the card first created with it, unchanged.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// `ready` (default), `blocked` or `done`; never `claimed`.
    #[serde(default)]
    pub status: Option<Status>,
    /// Retry budget for `fail`; default [`DEFAULT_MAX_ATTEMPTS`].
    #[serde(default)]
    pub max_attempts: Option<u32>,
}

impl NewCard {
    /// A ready card with priority 0 and no dependencies.
    pub fn new(id: CardId, title: impl Into<String>) -> Self {
        Self {
            id,
            title: title.into(),
            body: None,
            phase: None,
            priority: 0,
            depends_on: Vec::new(),
            acceptance: None,
            idempotency_key: None,
            status: None,
            max_attempts: None,
        }
    }

    /// Sets the body.
    #[must_use]
    pub fn body(mut self, body: impl Into<String>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Sets the phase.
    #[must_use]
    pub fn phase(mut self, phase: impl Into<String>) -> Self {
        self.phase = Some(phase.into());
        self
    }

    /// Sets the priority (higher is sooner).
    #[must_use]
    pub fn priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    /// Sets the dependencies.
    #[must_use]
    pub fn depends_on(mut self, ids: impl IntoIterator<Item = CardId>) -> Self {
        self.depends_on = ids.into_iter().collect();
        self
    }

    /// Sets the acceptance criteria.
    #[must_use]
    pub fn acceptance(mut self, acceptance: serde_json::Value) -> Self {
        self.acceptance = Some(acceptance);
        self
    }

    /// Sets the idempotency key.
    #[must_use]
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// Sets the initial status.
    #[must_use]
    pub fn status(mut self, status: Status) -> Self {
        self.status = Some(status);
        self
    }

    /// Sets the retry budget.
    #[must_use]
    pub fn max_attempts(mut self, max: u32) -> Self {
        self.max_attempts = Some(max);
        self
    }
}

/// Which cards `list` returns. Conditions are AND-ed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListFilter {
    /// Only cards in this status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// Only cards in this phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// Only cards a claim could take now: ready, every dependency done.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ready_only: bool,
}

/// A request to claim one card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimRequest {
    /// Who will hold the claim.
    pub owner: Owner,
    /// Claim length; default [`DEFAULT_CLAIM_TTL_SECONDS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<u32>,
    /// Claim this card rather than the best ready one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<CardId>,
}

impl ClaimRequest {
    /// Claims the highest-priority, oldest ready card with the default TTL.
    pub fn new(owner: Owner) -> Self {
        Self {
            owner,
            ttl_seconds: None,
            id: None,
        }
    }

    /// Sets the TTL.
    #[must_use]
    pub fn ttl_seconds(mut self, ttl: u32) -> Self {
        self.ttl_seconds = Some(ttl);
        self
    }

    /// Claims this card only.
    #[must_use]
    pub fn id(mut self, id: CardId) -> Self {
        self.id = Some(id);
        self
    }
}

/// Who may complete a card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    /// The holder of the claim; the card must be claimed by it.
    Owner(Owner),
    /// Anyone, from any status: for operators closing cards by hand.
    Forced,
}

/// Cards `reclaim` returned to ready.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReclaimResult {
    /// Their ids.
    pub reclaimed: Vec<CardId>,
}

/// Cards per status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Ready cards (gated or not).
    pub ready: u64,
    /// Claimed cards, expired or not.
    pub claimed: u64,
    /// Blocked cards.
    pub blocked: u64,
    /// Done cards.
    pub done: u64,
}

impl Counts {
    /// The count of one status.
    pub fn get(&self, status: Status) -> u64 {
        match status {
            Status::Ready => self.ready,
            Status::Claimed => self.claimed,
            Status::Blocked => self.blocked,
            Status::Done => self.done,
        }
    }

    fn slot(&mut self, status: Status) -> &mut u64 {
        match status {
            Status::Ready => &mut self.ready,
            Status::Claimed => &mut self.claimed,
            Status::Blocked => &mut self.blocked,
            Status::Done => &mut self.done,
        }
    }

    pub(crate) fn add(&mut self, status: Status, n: u64) {
        *self.slot(status) += n;
    }
}

/// The backlog at a glance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Cards per status.
    pub counts: Counts,
    /// Every card.
    pub total: u64,
    /// Age of the oldest ready card, if there is one.
    pub oldest_ready_age_seconds: Option<u64>,
    /// Claims past their TTL that no sweep has returned yet.
    pub expired_claim_count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_reject_blank_long_and_control_strings() {
        assert!(CardId::new("A4").is_ok());
        assert_eq!(
            CardId::new(" ").unwrap_err().to_string(),
            "card id must not be empty"
        );
        assert!(Owner::new("x".repeat(MAX_NAME_LEN + 1)).is_err());
        assert!(CardId::new("a\nb").is_err());
        assert!(serde_json::from_value::<CardId>(json!("")).is_err());
    }

    #[test]
    fn statuses_round_trip_and_unknown_ones_say_what_is_allowed() {
        for status in Status::ALL {
            assert_eq!(status.as_str().parse::<Status>().unwrap(), status);
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                json!(status.as_str())
            );
        }
        let err = "open".parse::<Status>().unwrap_err().to_string();
        assert!(
            err.contains("`open`") && err.contains("ready, claimed"),
            "{err}"
        );
    }

    #[test]
    fn new_cards_take_defaults_from_sparse_json() {
        let card: NewCard = serde_json::from_value(json!({"id": "A1", "title": "schema"})).unwrap();
        assert_eq!(card, NewCard::new(CardId::new("A1").unwrap(), "schema"));
        let card: NewCard = serde_json::from_value(json!({
            "id": "A2", "title": "service", "priority": 9, "dependsOn": ["A1"],
            "idempotencyKey": "k", "status": "blocked", "maxAttempts": 2
        }))
        .unwrap();
        assert_eq!(card.depends_on, vec![CardId::new("A1").unwrap()]);
        assert_eq!(card.status, Some(Status::Blocked));
        assert_eq!(card.max_attempts, Some(2));
    }

    #[test]
    fn list_filters_serialize_only_what_is_set() {
        assert_eq!(
            serde_json::to_value(ListFilter::default()).unwrap(),
            json!({})
        );
        let filter = ListFilter {
            status: Some(Status::Ready),
            phase: Some("M1".into()),
            ready_only: true,
        };
        assert_eq!(
            serde_json::to_value(&filter).unwrap(),
            json!({"status": "ready", "phase": "M1", "readyOnly": true})
        );
    }

    #[test]
    fn claims_expire_ttl_seconds_after_they_start() {
        let at = DateTime::parse_from_rfc3339("2026-06-24T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let card = Card {
            id: CardId::new("c").unwrap(),
            title: "t".into(),
            body: None,
            phase: None,
            priority: 0,
            status: Status::Claimed,
            depends_on: vec![],
            claim_owner: Some(Owner::new("w").unwrap()),
            claim_ttl_seconds: Some(60),
            claimed_at: Some(at),
            attempts: 1,
            max_attempts: 5,
            idempotency_key: None,
            acceptance: None,
            last_error: None,
            created_at: at,
            updated_at: at,
        };
        assert_eq!(
            card.claim_expires_at(),
            Some(at + chrono::Duration::seconds(60))
        );
    }
}
