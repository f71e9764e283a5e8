//! Which projects and missions a filter reaches, and the subject's teams.

use mosaic_scope::QueryFilter;
use mosaic_store::entity::{missions, projects, team_members};
use mosaic_store::sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter as _, QuerySelect,
};

/// Teams the user belongs to (native access).
pub(crate) async fn subject_team_ids(
    db: &DatabaseConnection,
    user_id: &str,
) -> Result<Vec<String>, DbErr> {
    team_members::Entity::find()
        .select_only()
        .column(team_members::Column::TeamId)
        .filter(team_members::Column::UserId.eq(user_id))
        .into_tuple::<String>()
        .all(db)
        .await
}

/// Projects the filter reaches: the subject's own (when personal rows are in)
/// and those of the filter's teams. A team project is reached through its team,
/// never through `owner_id`, which only records who created it.
pub(crate) async fn project_ids(
    db: &DatabaseConnection,
    filter: &QueryFilter,
) -> Result<Vec<String>, DbErr> {
    let mut any = Condition::any();
    let mut clauses = 0;
    if filter.include_personal {
        any = any.add(
            Condition::all()
                .add(projects::Column::OwnerType.eq("user"))
                .add(projects::Column::OwnerId.eq(filter.subject_user_id.as_str())),
        );
        clauses += 1;
    }
    if !filter.team_ids.is_empty() {
        any = any.add(
            Condition::all()
                .add(projects::Column::OwnerType.eq("team"))
                .add(projects::Column::TeamId.is_in(filter.team_ids.iter().map(String::as_str))),
        );
        clauses += 1;
    }
    if clauses == 0 {
        return Ok(Vec::new());
    }
    projects::Entity::find()
        .select_only()
        .column(projects::Column::Id)
        .filter(any)
        .into_tuple::<String>()
        .all(db)
        .await
}

/// Missions in those projects. A mission is reached through its project only.
pub(crate) async fn mission_ids(
    db: &DatabaseConnection,
    project_ids: &[String],
) -> Result<Vec<String>, DbErr> {
    if project_ids.is_empty() {
        return Ok(Vec::new());
    }
    missions::Entity::find()
        .select_only()
        .column(missions::Column::Id)
        .filter(missions::Column::ProjectId.is_in(project_ids.iter().map(String::as_str)))
        .into_tuple::<String>()
        .all(db)
        .await
}
