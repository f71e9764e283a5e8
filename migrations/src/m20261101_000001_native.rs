//! The native tables the federation verbs read: people, teams, projects,
//! missions, tasks, notes, memory and credentials.

use crate::columns::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLES_REVERSED: &[&str] = &[
    "credentials",
    "preferences",
    "insights",
    "mission_tasks",
    "tasks",
    "missions",
    "projects",
    "team_members",
    "teams",
    "users",
];

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::{Cascade, SetNull};

        m.create_table(
            stamps(
                Table::create()
                    .table("users")
                    .col(id("id"))
                    .col(text("name"))
                    .col(text("email").unique_key())
                    .col(bool_default("email_verified", false)),
            )
            .take(),
        )
        .await?;

        m.create_table(
            stamps(
                Table::create()
                    .table("teams")
                    .col(id("id"))
                    .col(text("name"))
                    .col(text("slug").unique_key())
                    .col(text("owner_id"))
                    .col(text_null("manager_id"))
                    .foreign_key(&mut fk("teams", "owner_id", "users", Cascade))
                    .foreign_key(&mut fk("teams", "manager_id", "users", SetNull)),
            )
            .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("team_members")
                .col(text("team_id"))
                .col(text("user_id"))
                .col(text_default("role", "member"))
                .col(ts("created_at"))
                .primary_key(Index::create().col("team_id").col("user_id"))
                .foreign_key(&mut fk("team_members", "team_id", "teams", Cascade))
                .foreign_key(&mut fk("team_members", "user_id", "users", Cascade))
                .take(),
        )
        .await?;
        m.create_index(index("team_members_user_idx", "team_members", &["user_id"]))
            .await?;

        // owner_type 'user' → owner_id is the owner; 'team' → team_id is, and
        // owner_id keeps the user who created the project.
        m.create_table(
            stamps(
                Table::create()
                    .table("projects")
                    .col(id("id"))
                    .col(text("name"))
                    .col(text_default("owner_type", "user"))
                    .col(text_null("owner_id"))
                    .col(text_null("team_id"))
                    .foreign_key(&mut fk("projects", "owner_id", "users", SetNull))
                    .foreign_key(&mut fk("projects", "team_id", "teams", Cascade)),
            )
            .take(),
        )
        .await?;
        m.create_index(index(
            "projects_owner_idx",
            "projects",
            &["owner_type", "owner_id"],
        ))
        .await?;
        m.create_index(index("projects_team_idx", "projects", &["team_id"]))
            .await?;

        m.create_table(
            stamps(
                Table::create()
                    .table("missions")
                    .col(id("id"))
                    .col(text("name"))
                    .col(text("project_id"))
                    .col(text_null("user_id"))
                    .foreign_key(&mut fk("missions", "project_id", "projects", Cascade))
                    .foreign_key(&mut fk("missions", "user_id", "users", SetNull)),
            )
            .take(),
        )
        .await?;
        m.create_index(index("missions_project_idx", "missions", &["project_id"]))
            .await?;

        m.create_table(
            stamps(
                Table::create()
                    .table("tasks")
                    .col(id("id"))
                    .col(text("title"))
                    .col(text_null("description"))
                    .col(text_default("status", "not-started"))
                    .col(text_default("priority", "medium"))
                    .col(text_null("project_id"))
                    .col(text_null("mission_id"))
                    .col(text_null("assignee"))
                    .col(json_null("tags"))
                    .col(ts_null("due_date"))
                    .col(json_null("metadata"))
                    .foreign_key(&mut fk("tasks", "project_id", "projects", Cascade))
                    .foreign_key(&mut fk("tasks", "mission_id", "missions", SetNull)),
            )
            .take(),
        )
        .await?;
        m.create_index(index("tasks_project_idx", "tasks", &["project_id"]))
            .await?;
        m.create_index(index("tasks_mission_idx", "tasks", &["mission_id"]))
            .await?;
        m.create_index(index("tasks_created_idx", "tasks", &["created_at", "id"]))
            .await?;

        m.create_table(
            stamps(
                Table::create()
                    .table("mission_tasks")
                    .col(id("id"))
                    .col(text("mission_id"))
                    .col(text_null("task_id"))
                    .col(text("user_id"))
                    .col(text_default("status", "not-started"))
                    .col(text_null("notes"))
                    .foreign_key(&mut fk("mission_tasks", "mission_id", "missions", Cascade))
                    .foreign_key(&mut fk("mission_tasks", "task_id", "tasks", SetNull))
                    .foreign_key(&mut fk("mission_tasks", "user_id", "users", Cascade)),
            )
            .take(),
        )
        .await?;
        m.create_index(index(
            "mission_tasks_user_mission_idx",
            "mission_tasks",
            &["user_id", "mission_id"],
        ))
        .await?;

        m.create_table(
            stamps(
                Table::create()
                    .table("insights")
                    .col(id("id"))
                    .col(text("user_id"))
                    .col(text("content"))
                    .col(text_default("source", "agent"))
                    .col(text_null("category"))
                    .col(
                        ColumnDef::new("relevance_score")
                            .double()
                            .not_null()
                            .default(0.0),
                    )
                    .col(json_null("metadata"))
                    .foreign_key(&mut fk("insights", "user_id", "users", Cascade)),
            )
            .take(),
        )
        .await?;
        m.create_index(index(
            "insights_user_created_idx",
            "insights",
            &["user_id", "created_at", "id"],
        ))
        .await?;

        m.create_table(
            stamps(
                Table::create()
                    .table("preferences")
                    .col(id("id"))
                    .col(text("user_id"))
                    .col(text("key"))
                    .col(json("value"))
                    .col(text_null("category"))
                    .col(text_default("source", "user"))
                    .col(bool_default("mutable", true))
                    .foreign_key(&mut fk("preferences", "user_id", "users", Cascade)),
            )
            .take(),
        )
        .await?;
        m.create_index(
            index(
                "preferences_user_key_idx",
                "preferences",
                &["user_id", "key"],
            )
            .unique()
            .take(),
        )
        .await?;

        // Secret material is sealed by the application before it is stored.
        m.create_table(
            stamps(
                Table::create()
                    .table("credentials")
                    .col(id("id"))
                    .col(text("user_id"))
                    .col(text("name"))
                    .col(text_null("provider"))
                    .col(text("sealed_value"))
                    .foreign_key(&mut fk("credentials", "user_id", "users", Cascade)),
            )
            .take(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        drop_all(m, TABLES_REVERSED).await
    }
}
