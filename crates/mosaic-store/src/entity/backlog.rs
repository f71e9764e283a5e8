//! `backlog`: A backlog card.

use sea_orm::entity::prelude::*;

/// One row.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "backlog")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub title: String,
    pub body: Option<String>,
    pub phase: Option<String>,
    pub priority: i32,
    pub status: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub depends_on: Json,
    pub claim_owner: Option<String>,
    pub claim_ttl_seconds: Option<i32>,
    pub claimed_at: Option<DateTimeUtc>,
    pub attempts: i32,
    /// How many claims `fail` allows before it parks the card as blocked.
    pub max_attempts: i32,
    pub idempotency_key: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub acceptance: Option<Json>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// No declared relations: queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
