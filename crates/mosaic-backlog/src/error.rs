//! What can go wrong, one variant per thing a caller can act on.

use crate::{CardId, Owner, Status};
use std::fmt;

/// A value a caller passed that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {reason}")]
pub struct InvalidInput {
    /// Which input: `card id`, `owner`, `ttl`, `title`….
    pub field: &'static str,
    /// What is wrong with it and, where there is one, the fix.
    pub reason: String,
}

impl InvalidInput {
    /// `field` is wrong because `reason`.
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

/// A chain of dependencies, printed `a → b → c`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path(pub Vec<CardId>);

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, id) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" → ")?;
            }
            write!(f, "{id}")?;
        }
        Ok(())
    }
}

/// Why a backlog operation did not happen. Nothing fails silently: a wrong
/// owner, an unknown id or a cycle each has its own variant.
#[derive(Debug, thiserror::Error)]
pub enum BacklogError {
    /// An input was malformed.
    #[error("invalid input: {0}")]
    Invalid(#[from] InvalidInput),
    /// No card has this id.
    #[error("backlog card not found: {id}")]
    NotFound {
        /// The id asked for.
        id: CardId,
    },
    /// `link` named a dependency that does not exist.
    #[error("backlog dependency not found: {id}")]
    DependencyNotFound {
        /// The missing dependency.
        id: CardId,
    },
    /// A card was asked to depend on itself.
    #[error("a card cannot depend on itself ({id})")]
    SelfDependency {
        /// The card.
        id: CardId,
    },
    /// The new dependency would close a loop, so none of its cards could ever
    /// be claimed.
    #[error(
        "making {from} depend on {to} would create a cycle: {to} already depends on {from} via {path}"
    )]
    Cycle {
        /// The card that would gain the dependency.
        from: CardId,
        /// The dependency.
        to: CardId,
        /// The existing chain from `to` back to `from`.
        path: Path,
    },
    /// `create` was given an id that is taken, without an idempotency key that
    /// would have returned the existing card.
    #[error(
        "backlog card {id} already exists; choose another id, or pass the idempotency key it was created with"
    )]
    DuplicateId {
        /// The taken id.
        id: CardId,
    },
    /// The card is claimed by someone else (or by no one).
    #[error("{}", wrong_owner(id, owner, holder.as_ref()))]
    WrongOwner {
        /// The card.
        id: CardId,
        /// Who asked.
        owner: Owner,
        /// Who holds the claim, if anyone.
        holder: Option<Owner>,
    },
    /// The card is not in a status this operation applies to.
    #[error("backlog card {id} is {status}; {action} needs it {wanted}")]
    WrongStatus {
        /// The card.
        id: CardId,
        /// Its status.
        status: Status,
        /// The operation, e.g. `renew`.
        action: &'static str,
        /// The status it needs.
        wanted: Status,
    },
    /// A stored row does not decode: the table was written by something else.
    #[error("backlog card {id} is stored with an unreadable {field}: {reason}")]
    Corrupt {
        /// The card's id as stored.
        id: String,
        /// The column.
        field: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// The database failed.
    // Said once, in the message: not a `source`, so a printed chain
    // does not repeat the driver's words.
    #[error("backlog storage error: {}", mosaic_store::describe_db_err(.0))]
    Db(sea_orm::DbErr),
}

impl From<sea_orm::DbErr> for BacklogError {
    fn from(err: sea_orm::DbErr) -> Self {
        Self::Db(err)
    }
}

fn wrong_owner(id: &CardId, owner: &Owner, holder: Option<&Owner>) -> String {
    match holder {
        Some(holder) => format!("backlog card {id} is claimed by {holder}, not by {owner}"),
        None => format!("backlog card {id} has no claim owner; {owner} cannot act on its claim"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> CardId {
        CardId::new(s).unwrap()
    }

    #[test]
    fn messages_name_the_cards_and_the_fix() {
        let cycle = BacklogError::Cycle {
            from: id("a"),
            to: id("c"),
            path: Path(vec![id("c"), id("b"), id("a")]),
        };
        assert_eq!(
            cycle.to_string(),
            "making a depend on c would create a cycle: c already depends on a via c → b → a"
        );
        let owner = BacklogError::WrongOwner {
            id: id("a"),
            owner: Owner::new("w2").unwrap(),
            holder: Some(Owner::new("w1").unwrap()),
        };
        assert_eq!(
            owner.to_string(),
            "backlog card a is claimed by w1, not by w2"
        );
        let status = BacklogError::WrongStatus {
            id: id("a"),
            status: Status::Done,
            action: "renew",
            wanted: Status::Claimed,
        };
        assert_eq!(
            status.to_string(),
            "backlog card a is done; renew needs it claimed"
        );
    }
}
