//! `search`: the rows `list` would reach, narrowed to those whose text holds
//! every word, ranked by the database's own full-text search.
//!
//! SQLite answers from the FTS5 indexes the search migration keeps in sync by
//! triggers (`<table>_search`, keyed by `search_rowids.n`), ranked by `bm25`.
//! PostgreSQL answers from a GIN index over `to_tsvector('simple', …)` of each
//! table's text, ranked by `ts_rank`. Either way a row's score is lower the
//! better it matches; rows come best first, ties broken by id (ascending
//! bytes), and a page resumes after its cursor's `(score, id)`. Memory merges
//! its two tables by score, insights before preferences on a tie.
//!
//! Every statement is built by a pure function per backend; the words and
//! every id travel as bound parameters.

use super::{QueryError, Row, access, rows};
use crate::cursor::{MemorySource, SearchCursor};
use crate::search_query::SearchQuery;
use mosaic_scope::QueryFilter;
use mosaic_store::entity::{insights, mission_tasks, preferences, tasks};
use mosaic_store::sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, FromQueryResult, IdenStatic,
    Iterable, QueryResult, Statement, Value,
};
use std::cmp::Ordering;

/// The score column every search statement returns.
const SCORE: &str = "search_score";

/// A row and how well it matched (lower is better).
#[derive(Debug, Clone)]
pub(crate) struct Ranked {
    pub row: Row,
    pub score: f64,
}

/// One searchable table: its text as each backend indexes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Searchable {
    /// The table, and its key in `search_rowids.source` on SQLite.
    pub table: &'static str,
    /// SQLite: its FTS5 index.
    pub fts: &'static str,
    /// PostgreSQL: the text its GIN index covers, with the table aliased
    /// `t`. It must stay, expression for expression, the text of the index
    /// the search migration made, or PostgreSQL cannot use the index.
    pub document: &'static str,
}

/// `tasks`: title and description.
pub(crate) const TASKS: Searchable = Searchable {
    table: "tasks",
    fts: "tasks_search",
    document: "coalesce(t.title, '') || ' ' || coalesce(t.description, '')",
};

/// `notes`: `mission_tasks.notes`.
pub(crate) const NOTES: Searchable = Searchable {
    table: "mission_tasks",
    fts: "mission_tasks_search",
    document: "coalesce(t.notes, '')",
};

/// `memory`, insights: their content.
pub(crate) const INSIGHTS: Searchable = Searchable {
    table: "insights",
    fts: "insights_search",
    document: "coalesce(t.content, '')",
};

/// `memory`, preferences: key and value (the value's JSON text).
pub(crate) const PREFERENCES: Searchable = Searchable {
    table: "preferences",
    fts: "preferences_search",
    document: "coalesce(t.key, '') || ' ' || coalesce(t.value::text, '')",
};

/// Characters of a row's text PostgreSQL indexes: a `tsvector` is at most
/// 1 MB, and the first 100 000 characters always fit, so no write is ever
/// refused for a long text.
pub const POSTGRES_INDEXED_CHARS: usize = 100_000;

/// The `tsvector` PostgreSQL indexes for `document`: punctuation becomes
/// blanks first, so that `file.txt` or `a@b` are words as on SQLite, not one
/// token.
pub(crate) fn pg_vector(document: &str) -> String {
    format!(
        "to_tsvector('simple', regexp_replace(left({document}, {POSTGRES_INDEXED_CHARS}), '[[:punct:]]+', ' ', 'g'))"
    )
}

/// Which rows of a table the filter reaches.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Reach<'a> {
    /// Tasks in these projects or in these missions (either list may be
    /// empty, not both).
    Tasks {
        projects: &'a [String],
        missions: &'a [String],
    },
    /// The subject's non-empty notes on these missions.
    Notes {
        subject: &'a str,
        missions: &'a [String],
    },
    /// The subject's own rows.
    Owner { subject: &'a str },
}

/// Where a page resumes within one table, given the cursor's row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Resume<'a> {
    /// No cursor: from the best match.
    Start,
    /// The cursor's row is in this table: rows ranked after it.
    After { score: f64, id: &'a str },
    /// The cursor's row is in a table merged before this one: rows whose
    /// score ties it or is worse.
    FromScore(f64),
    /// The cursor's row is in a table merged after this one: rows whose
    /// score is worse.
    AfterScore(f64),
}

/// Collects bind values and hands out the matching placeholder.
struct Binds {
    backend: DbBackend,
    values: Vec<Value>,
}

impl Binds {
    fn bind(&mut self, value: impl Into<Value>) -> String {
        self.values.push(value.into());
        match self.backend {
            DbBackend::Postgres => format!("${}", self.values.len()),
            _ => "?".to_owned(),
        }
    }

    fn list(&mut self, ids: &[String]) -> String {
        let marks: Vec<String> = ids.iter().map(|id| self.bind(id.as_str())).collect();
        marks.join(", ")
    }
}

/// `(SELECT list)` of every column in `columns`, qualified by `alias`.
fn qualified(alias: &str, columns: &[&str]) -> String {
    let cols: Vec<String> = columns.iter().map(|c| format!("{alias}.{c}")).collect();
    cols.join(", ")
}

fn reach_sql(reach: Reach<'_>, binds: &mut Binds) -> String {
    match reach {
        Reach::Tasks { projects, missions } => {
            let mut any = Vec::new();
            if !projects.is_empty() {
                any.push(format!("t.project_id IN ({})", binds.list(projects)));
            }
            if !missions.is_empty() {
                any.push(format!("t.mission_id IN ({})", binds.list(missions)));
            }
            format!("({})", any.join(" OR "))
        }
        Reach::Notes { subject, missions } => format!(
            "t.user_id = {} AND t.mission_id IN ({}) AND t.notes IS NOT NULL AND t.notes <> ''",
            binds.bind(subject),
            binds.list(missions)
        ),
        Reach::Owner { subject } => format!("t.user_id = {}", binds.bind(subject)),
    }
}

/// The one search statement: `fetch` rows of `table` within `reach` that
/// hold every word of `query`, best first, after `resume`.
pub(crate) fn statement(
    backend: DbBackend,
    table: Searchable,
    columns: &[&str],
    query: &SearchQuery,
    reach: Reach<'_>,
    resume: Resume<'_>,
    fetch: u64,
) -> Statement {
    let mut binds = Binds {
        backend,
        values: Vec::new(),
    };
    let postgres = backend == DbBackend::Postgres;
    let inner = if postgres {
        let words = binds.bind(query.plain_text());
        let vector = pg_vector(table.document);
        let reach = reach_sql(reach, &mut binds);
        format!(
            "SELECT {cols}, -(ts_rank({vector}, q.query)::float8) AS {SCORE} \
             FROM {name} AS t, plainto_tsquery('simple', {words}) AS q(query) \
             WHERE {vector} @@ q.query AND {reach}",
            cols = qualified("t", columns),
            name = table.table,
        )
    } else {
        let matches = binds.bind(query.fts5_match());
        let source = binds.bind(table.table);
        let reach = reach_sql(reach, &mut binds);
        format!(
            "SELECT {cols}, bm25({fts}) AS {SCORE} \
             FROM {fts} JOIN search_rowids AS k ON k.n = {fts}.rowid \
             JOIN {name} AS t ON t.id = k.id \
             WHERE {fts} MATCH {matches} AND k.source = {source} AND {reach}",
            cols = qualified("t", columns),
            fts = table.fts,
            name = table.table,
        )
    };
    // Ids compare as bytes on both backends, as the merge in Rust does.
    let id = if postgres {
        "found.id COLLATE \"C\""
    } else {
        "found.id"
    };
    let resume = match resume {
        Resume::Start => String::new(),
        Resume::After { score, id: after } => {
            let (s1, s2, i) = (binds.bind(score), binds.bind(score), binds.bind(after));
            format!(" WHERE (found.{SCORE} > {s1} OR (found.{SCORE} = {s2} AND {id} > {i}))")
        }
        Resume::FromScore(score) => format!(" WHERE found.{SCORE} >= {}", binds.bind(score)),
        Resume::AfterScore(score) => format!(" WHERE found.{SCORE} > {}", binds.bind(score)),
    };
    let limit = binds.bind(i64::try_from(fetch).unwrap_or(i64::MAX));
    let sql = format!(
        "SELECT {cols}, found.{SCORE} FROM ({inner}) AS found{resume} \
         ORDER BY found.{SCORE}, {id} LIMIT {limit}",
        cols = qualified("found", columns),
    );
    Statement::from_sql_and_values(backend, sql, binds.values)
}

/// Runs one statement and turns each row into a model and its score.
async fn fetch_models<M: FromQueryResult>(
    db: &DatabaseConnection,
    stmt: Statement,
) -> Result<Vec<(M, f64)>, QueryError> {
    let found: Vec<QueryResult> = db.query_all_raw(stmt).await?;
    found
        .iter()
        .map(|r| Ok((M::from_query_result(r, "")?, r.try_get::<f64>("", SCORE)?)))
        .collect()
}

fn columns<E: EntityTrait>() -> Vec<&'static str> {
    E::Column::iter().map(|c| c.as_str()).collect()
}

/// How a table's rows resume after `cursor`, given the table's place among
/// the tables merged into one listing.
fn resume_in(cursor: Option<&SearchCursor>, source: Option<MemorySource>) -> Resume<'_> {
    let Some(c) = cursor else {
        return Resume::Start;
    };
    match merge_rank(source).cmp(&merge_rank(c.source)) {
        Ordering::Equal => Resume::After {
            score: c.score,
            id: &c.id,
        },
        Ordering::Greater => Resume::FromScore(c.score),
        Ordering::Less => Resume::AfterScore(c.score),
    }
}

/// Which of two tables with equal scores comes first.
fn merge_rank(source: Option<MemorySource>) -> u8 {
    match source {
        None | Some(MemorySource::Insights) => 0,
        Some(MemorySource::Preferences) => 1,
    }
}

/// Best first: score, then table, then id bytes.
fn rank_order(a: &Ranked, b: &Ranked) -> Ordering {
    a.score
        .total_cmp(&b.score)
        .then_with(|| merge_rank(a.row.source).cmp(&merge_rank(b.row.source)))
        .then_with(|| a.row.id.as_bytes().cmp(b.row.id.as_bytes()))
}

pub(crate) async fn tasks(
    db: &DatabaseConnection,
    filter: &QueryFilter,
    query: &SearchQuery,
    fetch: u64,
    cursor: Option<&SearchCursor>,
) -> Result<Vec<Ranked>, QueryError> {
    let projects = access::project_ids(db, filter).await?;
    let missions = access::mission_ids(db, &projects).await?;
    if projects.is_empty() && missions.is_empty() {
        return Ok(Vec::new());
    }
    let stmt = statement(
        db.get_database_backend(),
        TASKS,
        &columns::<tasks::Entity>(),
        query,
        Reach::Tasks {
            projects: &projects,
            missions: &missions,
        },
        resume_in(cursor, None),
        fetch,
    );
    let mut out = Vec::new();
    for (m, score) in fetch_models::<tasks::Model>(db, stmt).await? {
        out.push(Ranked {
            row: rows::task(m)?,
            score,
        });
    }
    out.sort_by(rank_order);
    Ok(out)
}

pub(crate) async fn notes(
    db: &DatabaseConnection,
    filter: &QueryFilter,
    query: &SearchQuery,
    fetch: u64,
    cursor: Option<&SearchCursor>,
) -> Result<Vec<Ranked>, QueryError> {
    let projects = access::project_ids(db, filter).await?;
    let missions = access::mission_ids(db, &projects).await?;
    if missions.is_empty() {
        return Ok(Vec::new());
    }
    let stmt = statement(
        db.get_database_backend(),
        NOTES,
        &columns::<mission_tasks::Entity>(),
        query,
        Reach::Notes {
            subject: filter.subject_user_id.as_str(),
            missions: &missions,
        },
        resume_in(cursor, None),
        fetch,
    );
    let mut out = Vec::new();
    for (m, score) in fetch_models::<mission_tasks::Model>(db, stmt).await? {
        out.push(Ranked {
            row: rows::note(m, false)?,
            score,
        });
    }
    out.sort_by(rank_order);
    Ok(out)
}

pub(crate) async fn memory(
    db: &DatabaseConnection,
    filter: &QueryFilter,
    query: &SearchQuery,
    fetch: u64,
    cursor: Option<&SearchCursor>,
) -> Result<Vec<Ranked>, QueryError> {
    if !filter.include_personal {
        return Ok(Vec::new());
    }
    let backend = db.get_database_backend();
    let owner = Reach::Owner {
        subject: filter.subject_user_id.as_str(),
    };
    let mut out = Vec::new();
    let stmt = statement(
        backend,
        INSIGHTS,
        &columns::<insights::Entity>(),
        query,
        owner,
        resume_in(cursor, Some(MemorySource::Insights)),
        fetch,
    );
    for (m, score) in fetch_models::<insights::Model>(db, stmt).await? {
        out.push(Ranked {
            row: rows::insight(m, false)?,
            score,
        });
    }
    let stmt = statement(
        backend,
        PREFERENCES,
        &columns::<preferences::Entity>(),
        query,
        owner,
        resume_in(cursor, Some(MemorySource::Preferences)),
        fetch,
    );
    for (m, score) in fetch_models::<preferences::Model>(db, stmt).await? {
        out.push(Ranked {
            row: rows::preference(m, false)?,
            score,
        });
    }
    out.sort_by(rank_order);
    out.truncate(usize::try_from(fetch).unwrap_or(usize::MAX));
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn words(q: &str) -> SearchQuery {
        SearchQuery::parse(q).unwrap()
    }

    const COLS: [&str; 2] = ["id", "title"];

    #[test]
    fn sqlite_statement_matches_fts5_with_bound_words() {
        let projects = vec!["p1".to_owned(), "p2".to_owned()];
        let stmt = statement(
            DbBackend::Sqlite,
            TASKS,
            &COLS,
            &words("NEAR(deploy) prod*"),
            Reach::Tasks {
                projects: &projects,
                missions: &[],
            },
            Resume::After {
                score: -1.5,
                id: "t9",
            },
            11,
        );
        assert_eq!(
            stmt.sql,
            "SELECT found.id, found.title, found.search_score FROM (\
             SELECT t.id, t.title, bm25(tasks_search) AS search_score \
             FROM tasks_search JOIN search_rowids AS k ON k.n = tasks_search.rowid \
             JOIN tasks AS t ON t.id = k.id \
             WHERE tasks_search MATCH ? AND k.source = ? AND (t.project_id IN (?, ?))\
             ) AS found WHERE (found.search_score > ? OR (found.search_score = ? AND found.id > ?)) \
             ORDER BY found.search_score, found.id LIMIT ?"
        );
        let values = stmt.values.unwrap().0;
        assert_eq!(
            values,
            vec![
                Value::from(r#""near" "deploy" "prod""#),
                Value::from("tasks"),
                Value::from("p1"),
                Value::from("p2"),
                Value::from(-1.5),
                Value::from(-1.5),
                Value::from("t9"),
                Value::from(11_i64),
            ]
        );
    }

    #[test]
    fn postgres_statement_uses_the_indexed_vector_and_byte_order() {
        let missions = vec!["m1".to_owned()];
        let stmt = statement(
            DbBackend::Postgres,
            NOTES,
            &COLS,
            &words("Release notes"),
            Reach::Notes {
                subject: "S",
                missions: &missions,
            },
            Resume::FromScore(-0.25),
            3,
        );
        let vector = "to_tsvector('simple', regexp_replace(left(coalesce(t.notes, ''), 100000), '[[:punct:]]+', ' ', 'g'))";
        assert_eq!(
            stmt.sql,
            format!(
                "SELECT found.id, found.title, found.search_score FROM (\
                 SELECT t.id, t.title, -(ts_rank({vector}, q.query)::float8) AS search_score \
                 FROM mission_tasks AS t, plainto_tsquery('simple', $1) AS q(query) \
                 WHERE {vector} @@ q.query AND t.user_id = $2 AND t.mission_id IN ($3) \
                 AND t.notes IS NOT NULL AND t.notes <> ''\
                 ) AS found WHERE found.search_score >= $4 \
                 ORDER BY found.search_score, found.id COLLATE \"C\" LIMIT $5"
            )
        );
        assert_eq!(
            stmt.values.unwrap().0,
            vec![
                Value::from("release notes"),
                Value::from("S"),
                Value::from("m1"),
                Value::from(-0.25),
                Value::from(3_i64),
            ]
        );
    }

    #[test]
    fn memory_tables_resume_by_their_merge_order() {
        let c = |source| SearchCursor {
            resource: mosaic_types::FederationResource::Memory,
            query: 0,
            score: -2.0,
            id: "x".into(),
            source: Some(source),
        };
        let insights = Some(MemorySource::Insights);
        let prefs = Some(MemorySource::Preferences);
        let in_insights = c(MemorySource::Insights);
        let in_prefs = c(MemorySource::Preferences);
        assert_eq!(
            resume_in(Some(&in_insights), insights),
            Resume::After {
                score: -2.0,
                id: "x"
            }
        );
        assert_eq!(
            resume_in(Some(&in_insights), prefs),
            Resume::FromScore(-2.0)
        );
        assert_eq!(
            resume_in(Some(&in_prefs), insights),
            Resume::AfterScore(-2.0)
        );
        assert_eq!(resume_in(None, prefs), Resume::Start);
    }

    /// The text each query searches is, expression for expression, what the
    /// migration indexed: with sequential scans off, PostgreSQL answers from
    /// the table's GIN index (a differing expression would leave it a
    /// sequential scan).
    #[tokio::test]
    async fn postgres_answers_from_the_gin_indexes() {
        use mosaic_store::sea_orm::TransactionTrait;
        for db in mosaic_store::testing::all_backends().await {
            if db.backend() == mosaic_store::Backend::Postgres {
                let txn = db.store.conn().begin().await.unwrap();
                txn.execute_unprepared("SET LOCAL enable_seqscan = off")
                    .await
                    .unwrap();
                for table in [TASKS, NOTES, INSIGHTS, PREFERENCES] {
                    let sql = format!(
                        "EXPLAIN SELECT t.id FROM {name} AS t WHERE {vector} @@ plainto_tsquery('simple', 'word')",
                        name = table.table,
                        vector = pg_vector(table.document),
                    );
                    let plan: Vec<String> = txn
                        .query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
                        .await
                        .unwrap()
                        .iter()
                        .map(|r| r.try_get_by_index::<String>(0).unwrap())
                        .collect();
                    let index = format!("{}_search_idx", table.table);
                    assert!(
                        plan.iter().any(|line| line.contains(&index)),
                        "{index} unused: {plan:#?}"
                    );
                }
                txn.rollback().await.unwrap();
            }
            db.cleanup().await;
        }
    }
}
