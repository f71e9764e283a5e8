//! `node_tasks`: a task dispatched to a node, and how it ended.

use sea_orm::entity::prelude::*;

/// One row.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "node_tasks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub session_id: String,
    pub node_id: String,
    pub owner_user_id: String,
    pub command: String,
    pub cwd: Option<String>,
    pub timeout_secs: Option<i32>,
    /// `running`, `completed`, `refused`, `cancelled`, `timed_out`, `failed`
    /// or `lost` (the node went away before answering).
    pub status: String,
    pub exit_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: Option<i64>,
    pub created_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
}

/// No declared relations: queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
