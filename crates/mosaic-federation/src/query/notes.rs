//! `notes`: the subject's own non-empty `mission_tasks.notes` on reachable
//! missions. Team scope narrows the missions; it never exposes another user's
//! notes.

use super::{GetOutcome, QueryError, Row, access, rows, sort_rows};
use crate::cursor::Cursor;
use mosaic_scope::QueryFilter;
use mosaic_store::entity::mission_tasks;
use mosaic_store::sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter as _, QueryOrder, QuerySelect,
};

pub(crate) async fn list(
    db: &DatabaseConnection,
    filter: &QueryFilter,
    fetch: u64,
    cursor: Option<&Cursor>,
) -> Result<Vec<Row>, QueryError> {
    let projects = access::project_ids(db, filter).await?;
    let missions = access::mission_ids(db, &projects).await?;
    if missions.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = mission_tasks::Entity::find()
        .filter(mission_tasks::Column::UserId.eq(filter.subject_user_id.as_str()))
        .filter(mission_tasks::Column::MissionId.is_in(missions.iter().map(String::as_str)))
        .filter(mission_tasks::Column::Notes.is_not_null())
        // Empty notes are not notes; filtering here keeps pages full.
        .filter(mission_tasks::Column::Notes.ne(""));
    if let Some(c) = cursor {
        query = query.filter(super::after(
            mission_tasks::Column::CreatedAt,
            mission_tasks::Column::Id,
            c,
        ));
    }
    let found = query
        .order_by_desc(mission_tasks::Column::CreatedAt)
        .order_by_desc(mission_tasks::Column::Id)
        .limit(fetch)
        .all(db)
        .await?;
    let mut rows = found
        .into_iter()
        .map(|m| rows::note(m, false))
        .collect::<Result<Vec<Row>, _>>()?;
    sort_rows(&mut rows);
    Ok(rows)
}

pub(crate) async fn get(
    db: &DatabaseConnection,
    filter: &QueryFilter,
    id: &str,
) -> Result<GetOutcome, QueryError> {
    let Some(note) = mission_tasks::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
    else {
        return Ok(GetOutcome::NotFound);
    };
    if note.notes.as_deref().is_none_or(str::is_empty) {
        return Ok(GetOutcome::NotFound);
    }
    let projects = access::project_ids(db, filter).await?;
    let missions = access::mission_ids(db, &projects).await?;
    if note.user_id != filter.subject_user_id.as_str() || !missions.contains(&note.mission_id) {
        return Ok(GetOutcome::Denied(
            "Note is outside the federated scope".to_owned(),
        ));
    }
    Ok(GetOutcome::Found(Box::new(rows::note(note, false)?.item)))
}
