//! The backlog's retry budget and its claim queue index.
//!
//! `max_attempts` bounds how often `fail` sends a card back to `ready` before it
//! parks it as `blocked`. The partial index holds exactly the claimable pool in
//! claim order, so a claim reads one index entry instead of sorting every ready
//! card.

use crate::columns::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The retry budget of a card created without one.
const DEFAULT_MAX_ATTEMPTS: i32 = 5;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("backlog")
                .add_column(int_default("max_attempts", DEFAULT_MAX_ATTEMPTS))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("backlog_ready_queue_idx")
                .table("backlog")
                .col(("priority", IndexOrder::Desc))
                .col(("created_at", IndexOrder::Asc))
                .col(("id", IndexOrder::Asc))
                .and_where(Expr::col("status").eq("ready"))
                .take(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("backlog_ready_queue_idx")
                .table("backlog")
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table("backlog")
                .drop_column("max_attempts")
                .take(),
        )
        .await
    }
}
