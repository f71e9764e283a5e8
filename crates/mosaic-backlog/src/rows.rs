//! Cards as the `backlog` table stores them, and back: every stored value is
//! checked on the way out, so a corrupt row is a [`BacklogError::Corrupt`]
//! naming the card and the field rather than a wrong card.

use crate::error::Path;
use crate::{BacklogError, Card, CardId, Owner, Status};
use mosaic_store::entity::backlog;

type Result<T, E = BacklogError> = std::result::Result<T, E>;

pub(crate) fn ids_json(ids: &[CardId]) -> serde_json::Value {
    serde_json::Value::Array(
        ids.iter()
            .map(|id| serde_json::Value::String(id.as_str().to_owned()))
            .collect(),
    )
}

/// Dependency ids as stored: a JSON array, or a string holding one (as some
/// drivers and older writers left them). Anything else means none.
pub(crate) fn dep_strings(value: &serde_json::Value) -> Vec<String> {
    let parsed;
    let items = match value {
        serde_json::Value::Array(items) => items,
        serde_json::Value::String(text) => match serde_json::from_str(text) {
            Ok(serde_json::Value::Array(items)) => {
                parsed = items;
                &parsed
            }
            _ => return Vec::new(),
        },
        _ => return Vec::new(),
    };
    items
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

pub(crate) fn stored_id(card: &str, value: &str, field: &'static str) -> Result<CardId> {
    CardId::new(value).map_err(|e| BacklogError::Corrupt {
        id: card.to_owned(),
        field,
        reason: e.to_string(),
    })
}

pub(crate) fn to_path(ids: Vec<String>) -> Result<Path> {
    ids.iter()
        .map(|id| stored_id(id, id, "depends_on"))
        .collect::<Result<Vec<_>>>()
        .map(Path)
}

fn non_negative(card: &str, field: &'static str, value: i32) -> Result<u32> {
    u32::try_from(value).map_err(|_| BacklogError::Corrupt {
        id: card.to_owned(),
        field,
        reason: format!("{value} is negative"),
    })
}

/// A stored row as a [`Card`].
pub(crate) fn to_card(row: backlog::Model) -> Result<Card> {
    let id = &row.id;
    let status = row
        .status
        .parse::<Status>()
        .map_err(|e| BacklogError::Corrupt {
            id: id.clone(),
            field: "status",
            reason: e.reason,
        })?;
    let depends_on = dep_strings(&row.depends_on)
        .iter()
        .map(|dep| stored_id(id, dep, "depends_on"))
        .collect::<Result<Vec<_>>>()?;
    let claim_owner = row
        .claim_owner
        .as_deref()
        .map(|o| {
            Owner::new(o).map_err(|e| BacklogError::Corrupt {
                id: id.clone(),
                field: "claim_owner",
                reason: e.to_string(),
            })
        })
        .transpose()?;
    Ok(Card {
        id: stored_id(id, id, "id")?,
        claim_ttl_seconds: row
            .claim_ttl_seconds
            .map(|t| non_negative(id, "claim_ttl_seconds", t))
            .transpose()?,
        attempts: non_negative(id, "attempts", row.attempts)?,
        max_attempts: non_negative(id, "max_attempts", row.max_attempts)?,
        title: row.title,
        body: row.body,
        phase: row.phase,
        priority: row.priority,
        status,
        depends_on,
        claim_owner,
        claimed_at: row.claimed_at,
        idempotency_key: row.idempotency_key,
        acceptance: row.acceptance,
        last_error: row.last_error,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dependencies_decode_from_arrays_and_json_strings() {
        assert_eq!(dep_strings(&json!(["a", "b"])), ["a", "b"]);
        assert_eq!(dep_strings(&json!("[\"a\"]")), ["a"]);
        assert!(dep_strings(&json!("not json")).is_empty());
        assert!(dep_strings(&json!({"a": 1})).is_empty());
        assert!(dep_strings(&json!(null)).is_empty());
    }
}
