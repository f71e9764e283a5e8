//! `memory`: the subject's insights, then preferences, as one listing with one
//! cursor. The cursor remembers which block it stopped in.

use super::{GetOutcome, QueryError, Row, rows};
use crate::cursor::{Cursor, InvalidCursor, MemorySource};
use mosaic_scope::QueryFilter;
use mosaic_store::entity::{insights, preferences};
use mosaic_store::sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter as _, QueryOrder, QuerySelect,
};

pub(crate) async fn list(
    db: &DatabaseConnection,
    filter: &QueryFilter,
    fetch: u64,
    cursor: Option<&Cursor>,
) -> Result<Vec<Row>, QueryError> {
    if !filter.include_personal {
        return Ok(Vec::new());
    }
    // A memory cursor must say which block it is in.
    if cursor.is_some_and(|c| c.source.is_none()) {
        return Err(InvalidCursor.into());
    }
    let subject = filter.subject_user_id.as_str();
    let mut out = Vec::new();

    if cursor.and_then(|c| c.source) != Some(MemorySource::Preferences) {
        let mut query = insights::Entity::find().filter(insights::Column::UserId.eq(subject));
        if let Some(c) = cursor {
            query = query.filter(super::after(
                insights::Column::CreatedAt,
                insights::Column::Id,
                c,
            ));
        }
        let found = query
            .order_by_desc(insights::Column::CreatedAt)
            .order_by_desc(insights::Column::Id)
            .limit(fetch)
            .all(db)
            .await?;
        for m in found {
            out.push(rows::insight(m, false)?);
        }
    }

    let remaining = fetch.saturating_sub(out.len() as u64);
    if remaining == 0 {
        return Ok(out);
    }
    let mut query = preferences::Entity::find().filter(preferences::Column::UserId.eq(subject));
    if let Some(c) = cursor.filter(|c| c.source == Some(MemorySource::Preferences)) {
        query = query.filter(super::after(
            preferences::Column::CreatedAt,
            preferences::Column::Id,
            c,
        ));
    }
    let found = query
        .order_by_desc(preferences::Column::CreatedAt)
        .order_by_desc(preferences::Column::Id)
        .limit(remaining)
        .all(db)
        .await?;
    for m in found {
        out.push(rows::preference(m, false)?);
    }
    Ok(out)
}

pub(crate) async fn get(
    db: &DatabaseConnection,
    filter: &QueryFilter,
    id: &str,
) -> Result<GetOutcome, QueryError> {
    // Ids are unique per table, not across them: look in both.
    let insight = insights::Entity::find_by_id(id.to_owned()).one(db).await?;
    let preference = preferences::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?;
    if insight.is_none() && preference.is_none() {
        return Ok(GetOutcome::NotFound);
    }
    if !filter.include_personal {
        return Ok(GetOutcome::Denied(
            "Memory personal rows are outside the federated scope".to_owned(),
        ));
    }
    let subject = filter.subject_user_id.as_str();
    let found = match insight.filter(|m| m.user_id == subject) {
        Some(m) => Some(rows::insight(m, false)?),
        None => preference
            .filter(|m| m.user_id == subject)
            .map(|m| rows::preference(m, false))
            .transpose()?,
    };
    Ok(match found {
        Some(row) => GetOutcome::Found(Box::new(row.item)),
        None => GetOutcome::Denied("Memory row belongs to another subject user".to_owned()),
    })
}
