//! `federation_peers`: Another gateway: inbound by certificate serial, outbound by endpoint and sealed client key.

use sea_orm::entity::prelude::*;

/// One row.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "federation_peers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub common_name: String,
    pub display_name: String,
    pub cert_pem: String,
    pub cert_serial: String,
    pub cert_not_after: DateTimeUtc,
    pub state: String,
    pub endpoint_url: Option<String>,
    pub client_key_pem: Option<String>,
    pub ca_pem: Option<String>,
    pub local_user_id: Option<String>,
    pub refusal: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// No declared relations: queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
