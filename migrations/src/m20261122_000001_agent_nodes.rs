//! Agent nodes: invites, the persistent node registry, sessions, and every
//! dispatched task with its output.

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
            Table::create()
                .table("nodes")
                .col(id("id"))
                .col(text("owner_user_id"))
                .col(text("name"))
                .col(text("credential_hash").unique_key())
                .col(json("policy"))
                .col(json_default("capabilities", "{}"))
                .col(text_default("version", ""))
                .col(text_default("status", "offline"))
                .col(text_null("gateway_instance"))
                .col(json_null("health"))
                .col(ts_null("last_seen_at"))
                .col(ts_null("connected_at"))
                .col(ts("created_at"))
                .foreign_key(&mut fk(
                    "nodes",
                    "owner_user_id",
                    "users",
                    ForeignKeyAction::Cascade,
                ))
                .take(),
        )
        .await?;
        m.create_index(index("idx_nodes_owner", "nodes", &["owner_user_id"]).take())
            .await?;
        m.create_table(
            Table::create()
                .table("node_invites")
                .col(id("id"))
                .col(text("token_hash").unique_key())
                .col(text("owner_user_id"))
                .col(text_null("name"))
                .col(json("policy"))
                .col(ts("created_at"))
                .col(ts("expires_at"))
                .col(ts_null("redeemed_at"))
                .col(text_null("node_id"))
                .foreign_key(&mut fk(
                    "node_invites",
                    "owner_user_id",
                    "users",
                    ForeignKeyAction::Cascade,
                ))
                .take(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("node_sessions")
                .col(id("id"))
                .col(text("owner_user_id"))
                .col(text("name"))
                .col(text_default("status", "active"))
                .col(ts("created_at"))
                .col(ts_null("closed_at"))
                .foreign_key(&mut fk(
                    "node_sessions",
                    "owner_user_id",
                    "users",
                    ForeignKeyAction::Cascade,
                ))
                .take(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("node_session_nodes")
                .col(text("session_id"))
                .col(text("node_id"))
                .col(ts("attached_at"))
                .primary_key(Index::create().col("session_id").col("node_id"))
                .foreign_key(&mut fk(
                    "node_session_nodes",
                    "session_id",
                    "node_sessions",
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    "node_session_nodes",
                    "node_id",
                    "nodes",
                    ForeignKeyAction::Cascade,
                ))
                .take(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("node_tasks")
                .col(id("id"))
                .col(text("session_id"))
                // No foreign key: a task's record outlives its node.
                .col(text("node_id"))
                .col(text("owner_user_id"))
                .col(text("command"))
                .col(text_null("cwd"))
                .col(int_null("timeout_secs"))
                .col(text_default("status", "queued"))
                .col(int_null("exit_code"))
                .col(text_null("error"))
                .col(ColumnDef::new("duration_ms").big_integer().null())
                .col(ts("created_at"))
                .col(ts_null("finished_at"))
                .foreign_key(&mut fk(
                    "node_tasks",
                    "session_id",
                    "node_sessions",
                    ForeignKeyAction::Cascade,
                ))
                .take(),
        )
        .await?;
        m.create_index(
            index(
                "idx_node_tasks_session",
                "node_tasks",
                &["session_id", "created_at"],
            )
            .take(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("node_task_output")
                .col(text("task_id"))
                .col(ColumnDef::new("seq").integer().not_null())
                .col(text("stream"))
                .col(text("data"))
                .primary_key(Index::create().col("task_id").col("seq"))
                .foreign_key(&mut fk(
                    "node_task_output",
                    "task_id",
                    "node_tasks",
                    ForeignKeyAction::Cascade,
                ))
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        drop_all(
            m,
            &[
                "node_task_output",
                "node_tasks",
                "node_session_nodes",
                "node_sessions",
                "node_invites",
                "nodes",
            ],
        )
        .await
    }
}
