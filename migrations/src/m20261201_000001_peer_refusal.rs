//! Why an outbound peer is `refused`.
//!
//! When a peer refuses our grant for good (revoked or expired there, or our
//! certificate did), the gateway records the outbound peer as `refused` and
//! keeps the reason the peer gave (`grant_revoked`, `grant_expired`,
//! `peer_revoked`, `certificate_expired`) beside the state, so that later
//! queries and `mosaic federation peers` can say why without asking the peer
//! again. `NULL` for every other state.

use crate::columns::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("federation_peers")
                .add_column(text_null("refusal"))
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("federation_peers")
                .drop_column("refusal")
                .take(),
        )
        .await
    }
}
