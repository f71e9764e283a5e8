//! The federation audit log: one row for every request that reached the
//! federation listener's HTTP layer, allowed or refused.
//!
//! No foreign keys: a row must outlive the peer, grant and user it names, so
//! a removed peer's reads stay on record until retention prunes them. The
//! indexes serve the newest-first listing (`occurred_at DESC, id DESC`), each
//! of its filters, and pruning by age.

use crate::columns::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLE: &str = "federation_audit_log";

/// The indexes, as (name, columns).
const INDEXES: &[(&str, &[&str])] = &[
    ("idx_federation_audit_log_time", &["occurred_at", "id"]),
    ("idx_federation_audit_log_peer", &["peer_id", "occurred_at"]),
    (
        "idx_federation_audit_log_grant",
        &["grant_id", "occurred_at"],
    ),
    (
        "idx_federation_audit_log_user",
        &["subject_user_id", "occurred_at"],
    ),
];

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(TABLE)
                .col(id("id"))
                .col(ts("occurred_at"))
                .col(text_null("peer_id"))
                .col(text_null("grant_id"))
                .col(text_null("subject_user_id"))
                .col(text("verb"))
                .col(text_null("resource"))
                .col(text_null("target"))
                .col(ColumnDef::new("status").integer().not_null())
                .col(text_null("error_code"))
                .col(int_null("rows"))
                .col(ColumnDef::new("latency_us").big_integer().not_null())
                .col(text_null("cert_serial"))
                .col(text("trace_id"))
                .col(text_null("remote_addr"))
                .take(),
        )
        .await?;
        for (name, cols) in INDEXES {
            let mut stmt = Index::create().name(*name).table(TABLE).take();
            for col in *cols {
                stmt.col(*col);
            }
            m.create_index(stmt).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // The indexes go with the table.
        drop_all(m, &[TABLE]).await
    }
}
