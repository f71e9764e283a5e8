//! `tasks`: rows in reachable projects, or in missions of reachable projects.

use super::{GetOutcome, QueryError, Row, access, rows, sort_rows};
use crate::cursor::Cursor;
use mosaic_scope::QueryFilter;
use mosaic_store::entity::tasks;
use mosaic_store::sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter as _, QueryOrder,
    QuerySelect,
};

pub(crate) async fn list(
    db: &DatabaseConnection,
    filter: &QueryFilter,
    fetch: u64,
    cursor: Option<&Cursor>,
) -> Result<Vec<Row>, QueryError> {
    let projects = access::project_ids(db, filter).await?;
    let missions = access::mission_ids(db, &projects).await?;
    if projects.is_empty() && missions.is_empty() {
        return Ok(Vec::new());
    }
    let mut reach = Condition::any();
    if !projects.is_empty() {
        reach = reach.add(tasks::Column::ProjectId.is_in(projects.iter().map(String::as_str)));
    }
    if !missions.is_empty() {
        reach = reach.add(tasks::Column::MissionId.is_in(missions.iter().map(String::as_str)));
    }
    let mut query = tasks::Entity::find().filter(reach);
    if let Some(c) = cursor {
        query = query.filter(super::after(tasks::Column::CreatedAt, tasks::Column::Id, c));
    }
    let found = query
        .order_by_desc(tasks::Column::CreatedAt)
        .order_by_desc(tasks::Column::Id)
        .limit(fetch)
        .all(db)
        .await?;
    let mut rows = found
        .into_iter()
        .map(rows::task)
        .collect::<Result<Vec<Row>, _>>()?;
    sort_rows(&mut rows);
    Ok(rows)
}

pub(crate) async fn get(
    db: &DatabaseConnection,
    filter: &QueryFilter,
    id: &str,
) -> Result<GetOutcome, QueryError> {
    let Some(task) = tasks::Entity::find_by_id(id.to_owned()).one(db).await? else {
        return Ok(GetOutcome::NotFound);
    };
    let projects = access::project_ids(db, filter).await?;
    let missions = access::mission_ids(db, &projects).await?;
    let in_project = task
        .project_id
        .as_ref()
        .is_some_and(|p| projects.contains(p));
    let in_mission = task
        .mission_id
        .as_ref()
        .is_some_and(|m| missions.contains(m));
    if !(in_project || in_mission) {
        return Ok(GetOutcome::Denied(
            "Task is outside the federated scope".to_owned(),
        ));
    }
    Ok(GetOutcome::Found(Box::new(rows::task(task)?.item)))
}
