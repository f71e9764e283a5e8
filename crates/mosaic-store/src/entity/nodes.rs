//! `nodes`: a registered agent node and its last known state.

use sea_orm::entity::prelude::*;

/// One row.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "nodes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub owner_user_id: String,
    pub name: String,
    pub credential_hash: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub policy: Json,
    #[sea_orm(column_type = "JsonBinary")]
    pub capabilities: Json,
    pub version: String,
    /// `online` or `offline`; `online` also needs a recent `last_seen_at`.
    pub status: String,
    /// The gateway instance holding the node's stream.
    pub gateway_instance: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub health: Option<Json>,
    pub last_seen_at: Option<DateTimeUtc>,
    pub connected_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

/// No declared relations: queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
