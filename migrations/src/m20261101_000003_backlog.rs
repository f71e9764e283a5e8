//! The native work backlog: cards agents claim with a TTL.

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
        m.create_table(
            stamps(
                Table::create()
                    .table("backlog")
                    .col(id("id"))
                    .col(text("title"))
                    .col(text_null("body"))
                    .col(text_null("phase"))
                    .col(int_default("priority", 0))
                    .col(text_default("status", "ready"))
                    .col(json_default("depends_on", "[]"))
                    .col(text_null("claim_owner"))
                    .col(int_null("claim_ttl_seconds"))
                    .col(ts_null("claimed_at"))
                    .col(int_default("attempts", 0))
                    .col(text_null("idempotency_key"))
                    .col(json_null("acceptance"))
                    .col(text_null("last_error")),
            )
            .take(),
        )
        .await?;
        m.create_index(index(
            "backlog_status_priority_idx",
            "backlog",
            &["status", "priority"],
        ))
        .await?;
        m.create_index(index(
            "backlog_status_claimed_at_idx",
            "backlog",
            &["status", "claimed_at"],
        ))
        .await?;
        m.create_index(
            index(
                "backlog_idempotency_key_idx",
                "backlog",
                &["idempotency_key"],
            )
            .unique()
            .take(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        drop_all(m, &["backlog"]).await
    }
}
