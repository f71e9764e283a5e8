//! `node_invites`: a one-time invite for an agent node, stored as a hash.

use sea_orm::entity::prelude::*;

/// One row.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "node_invites")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub token_hash: String,
    pub owner_user_id: String,
    pub name: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub policy: Json,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub redeemed_at: Option<DateTimeUtc>,
    pub node_id: Option<String>,
}

/// No declared relations: queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
