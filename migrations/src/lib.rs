//! Mosaic's schema, as ordered migrations that run unchanged on SQLite and PostgreSQL.
//!
//! Column types are chosen to mean the same on both backends: ids are text, JSON is
//! `jsonb` on PostgreSQL and text on SQLite, timestamps are `timestamptz` on
//! PostgreSQL and RFC 3339 text on SQLite (written by the application in UTC, so
//! text order is time order). Enumerations are text checked by the application,
//! because SQLite has no enum type and PostgreSQL enums cannot drop values.
//!
//! Every migration has a `down` that undoes it exactly; tests run up, down and up
//! again on both backends.
//!
//! ```no_run
//! use mosaic_migration::{Migrator, MigratorTrait};
//! # async fn run(db: &sea_orm_migration::sea_orm::DatabaseConnection) -> Result<(), sea_orm_migration::DbErr> {
//! Migrator::up(db, None).await?;
//! # Ok(()) }
//! ```

pub use sea_orm_migration::prelude::*;

mod columns;
mod m20261101_000001_native;
mod m20261101_000002_federation;
mod m20261101_000003_backlog;
mod m20261101_000004_api_tokens;
mod m20261102_000001_backlog_attempts;
mod m20261122_000001_agent_nodes;
mod m20261201_000001_peer_refusal;
mod m20261202_000001_federation_audit;
mod m20261202_000002_search;

/// The ordered list of migrations.
#[derive(Debug)]
pub struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261101_000001_native::Migration),
            Box::new(m20261101_000002_federation::Migration),
            Box::new(m20261101_000003_backlog::Migration),
            Box::new(m20261101_000004_api_tokens::Migration),
            Box::new(m20261102_000001_backlog_attempts::Migration),
            Box::new(m20261122_000001_agent_nodes::Migration),
            Box::new(m20261201_000001_peer_refusal::Migration),
            Box::new(m20261202_000001_federation_audit::Migration),
            Box::new(m20261202_000002_search::Migration),
        ]
    }
}

/// Names of every table the migrations create on both backends, in creation
/// order.
pub const TABLES: &[&str] = &[
    "users",
    "teams",
    "team_members",
    "projects",
    "missions",
    "tasks",
    "mission_tasks",
    "insights",
    "preferences",
    "credentials",
    "instance_identity",
    "federation_peers",
    "federation_grants",
    "federation_enrollment_tokens",
    "audit_log",
    "backlog",
    "api_tokens",
    "nodes",
    "node_invites",
    "node_sessions",
    "node_session_nodes",
    "node_tasks",
    "node_task_output",
    "federation_audit_log",
];

/// Ordinary tables the migrations create on SQLite only: the stable keys of
/// the full-text indexes (which are FTS5 virtual tables, with their shadow
/// tables). PostgreSQL indexes the same text with indexes, not tables.
pub const SQLITE_ONLY_TABLES: &[&str] = &["search_rowids"];
