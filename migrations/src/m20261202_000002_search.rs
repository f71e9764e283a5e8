//! Full-text search over the text federation `search` reads: `tasks.title`
//! and `tasks.description`, `mission_tasks.notes`, `insights.content`,
//! `preferences.key` and `preferences.value`, in each database's own engine.
//!
//! **SQLite**: one contentless FTS5 table per source table
//! (`<table>_search`, tokenizer `unicode61 remove_diacritics 2`), whose
//! rowid is `search_rowids.n`: a stable integer key per `(source, id)`,
//! since the tables' own rowids are not promised to survive a `VACUUM`.
//! Triggers after every insert, delete, and update of an indexed column keep
//! both in step; the migration fills them from the rows already there.
//!
//! **PostgreSQL**: a GIN index per table on
//! `to_tsvector('simple', regexp_replace(left(<text>, 100000), '[[:punct:]]+', ' ', 'g'))`.
//! The queries repeat that expression exactly, which is what lets the planner
//! use the index. Punctuation becomes blanks so that words split as on
//! SQLite; only the first 100 000 characters are indexed so that a
//! `tsvector` (at most 1 MB) never refuses a long text.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// One indexed table.
struct Indexed {
    table: &'static str,
    /// Its text columns (SQLite: the FTS5 table's columns, same names).
    columns: &'static [&'static str],
    /// PostgreSQL: the text the index covers.
    document: &'static str,
}

const INDEXED: [Indexed; 4] = [
    Indexed {
        table: "tasks",
        columns: &["title", "description"],
        document: "coalesce(title, '') || ' ' || coalesce(description, '')",
    },
    Indexed {
        table: "mission_tasks",
        columns: &["notes"],
        document: "coalesce(notes, '')",
    },
    Indexed {
        table: "insights",
        columns: &["content"],
        document: "coalesce(content, '')",
    },
    Indexed {
        table: "preferences",
        columns: &["key", "value"],
        document: "coalesce(key, '') || ' ' || coalesce(value::text, '')",
    },
];

/// `(SELECT n FROM search_rowids WHERE …)` for the row `row` (`new` or `old`).
fn key_of(table: &str, row: &str) -> String {
    format!("(SELECT n FROM search_rowids WHERE source = '{table}' AND id = {row}.id)")
}

/// Indexes the row `new` of `t`.
fn index_new(t: &Indexed) -> String {
    let cols = t.columns.join(", ");
    let values: Vec<String> = t.columns.iter().map(|c| format!("new.{c}")).collect();
    format!(
        "INSERT OR IGNORE INTO search_rowids (source, id) VALUES ('{table}', new.id); \
         DELETE FROM {table}_search WHERE rowid = {new_key}; \
         INSERT INTO {table}_search (rowid, {cols}) VALUES ({new_key}, {values});",
        table = t.table,
        new_key = key_of(t.table, "new"),
        values = values.join(", "),
    )
}

/// Forgets the row `old` of `t`.
fn forget_old(t: &Indexed) -> String {
    format!(
        "DELETE FROM {table}_search WHERE rowid = {old_key}; \
         DELETE FROM search_rowids WHERE source = '{table}' AND id = old.id;",
        table = t.table,
        old_key = key_of(t.table, "old"),
    )
}

fn sqlite_up(t: &Indexed) -> Vec<String> {
    let table = t.table;
    let cols = t.columns.join(", ");
    let source_cols: Vec<String> = t.columns.iter().map(|c| format!("t.{c}")).collect();
    vec![
        format!(
            "CREATE VIRTUAL TABLE {table}_search USING fts5({cols}, content='', \
             contentless_delete=1, tokenize='unicode61 remove_diacritics 2')"
        ),
        format!(
            "CREATE TRIGGER {table}_search_insert AFTER INSERT ON {table} BEGIN {} END",
            index_new(t)
        ),
        format!(
            "CREATE TRIGGER {table}_search_update AFTER UPDATE OF id, {cols} ON {table} BEGIN {} {} END",
            forget_old(t),
            index_new(t)
        ),
        format!(
            "CREATE TRIGGER {table}_search_delete AFTER DELETE ON {table} BEGIN {} END",
            forget_old(t)
        ),
        format!("INSERT INTO search_rowids (source, id) SELECT '{table}', id FROM {table}"),
        format!(
            "INSERT INTO {table}_search (rowid, {cols}) SELECT k.n, {} FROM {table} AS t \
             JOIN search_rowids AS k ON k.source = '{table}' AND k.id = t.id",
            source_cols.join(", ")
        ),
    ]
}

fn sqlite_down(t: &Indexed) -> Vec<String> {
    let table = t.table;
    vec![
        format!("DROP TRIGGER {table}_search_insert"),
        format!("DROP TRIGGER {table}_search_update"),
        format!("DROP TRIGGER {table}_search_delete"),
        format!("DROP TABLE {table}_search"),
    ]
}

fn postgres_up(t: &Indexed) -> String {
    format!(
        "CREATE INDEX {table}_search_idx ON {table} USING gin \
         (to_tsvector('simple', regexp_replace(left({document}, 100000), '[[:punct:]]+', ' ', 'g')))",
        table = t.table,
        document = t.document,
    )
}

fn statements_up(backend: DbBackend) -> Vec<String> {
    match backend {
        DbBackend::Postgres => INDEXED.iter().map(postgres_up).collect(),
        // SQLite: the only other backend a store opens.
        _ => {
            let mut all = vec![
                "CREATE TABLE search_rowids (n INTEGER PRIMARY KEY, source TEXT NOT NULL, id TEXT NOT NULL)".to_owned(),
                "CREATE UNIQUE INDEX search_rowids_source_id_idx ON search_rowids (source, id)".to_owned(),
            ];
            all.extend(INDEXED.iter().flat_map(sqlite_up));
            all
        }
    }
}

fn statements_down(backend: DbBackend) -> Vec<String> {
    match backend {
        DbBackend::Postgres => INDEXED
            .iter()
            .map(|t| format!("DROP INDEX {}_search_idx", t.table))
            .collect(),
        // SQLite.
        _ => {
            let mut all: Vec<String> = INDEXED.iter().flat_map(sqlite_down).collect();
            all.push("DROP TABLE search_rowids".to_owned());
            all
        }
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for sql in statements_up(m.get_database_backend()) {
            m.get_connection().execute_unprepared(&sql).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for sql in statements_down(m.get_database_backend()) {
            m.get_connection().execute_unprepared(&sql).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_triggers_keep_the_key_and_the_index_in_step() {
        let up = sqlite_up(&INDEXED[0]);
        assert_eq!(
            up[2],
            "CREATE TRIGGER tasks_search_update AFTER UPDATE OF id, title, description ON tasks BEGIN \
             DELETE FROM tasks_search WHERE rowid = (SELECT n FROM search_rowids WHERE source = 'tasks' AND id = old.id); \
             DELETE FROM search_rowids WHERE source = 'tasks' AND id = old.id; \
             INSERT OR IGNORE INTO search_rowids (source, id) VALUES ('tasks', new.id); \
             DELETE FROM tasks_search WHERE rowid = (SELECT n FROM search_rowids WHERE source = 'tasks' AND id = new.id); \
             INSERT INTO tasks_search (rowid, title, description) VALUES ((SELECT n FROM search_rowids WHERE source = 'tasks' AND id = new.id), new.title, new.description); \
             END"
        );
    }

    #[test]
    fn down_undoes_up_statement_for_statement() {
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            let created: Vec<String> = statements_up(backend)
                .iter()
                .filter_map(|s| {
                    let words: Vec<&str> = s.split_whitespace().collect();
                    match words.as_slice() {
                        ["CREATE", "VIRTUAL", "TABLE", name, ..]
                        | ["CREATE", "TABLE" | "TRIGGER" | "INDEX", name, ..] => {
                            Some((*name).to_owned())
                        }
                        // The unique index goes with its table.
                        ["CREATE", "UNIQUE", "INDEX", ..] => None,
                        ["INSERT", ..] => None,
                        other => panic!("unexpected statement {other:?}"),
                    }
                })
                .collect();
            let mut dropped: Vec<String> = statements_down(backend)
                .iter()
                .map(|s| s.split_whitespace().nth(2).unwrap_or_default().to_owned())
                .collect();
            let mut created_sorted = created.clone();
            created_sorted.sort();
            dropped.sort();
            assert_eq!(created_sorted, dropped, "{backend:?}");
        }
    }
}
