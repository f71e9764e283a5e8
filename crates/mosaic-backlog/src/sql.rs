//! Every statement the backlog runs that the ORM cannot express, built by pure
//! functions so tests can assert the exact SQL per backend.
//!
//! Time is always a bound parameter from the backlog's clock, never the
//! database's `now()`: both backends then store the same instants, and tests can
//! move time instead of sleeping.

use chrono::{DateTime, Utc};
use mosaic_store::Backend;
use sea_orm::{DbBackend, Statement, Value};

/// Collects bind values and hands out the matching placeholder.
struct Binds {
    backend: Backend,
    values: Vec<Value>,
}

impl Binds {
    fn new(backend: Backend) -> Self {
        Self {
            backend,
            values: Vec::new(),
        }
    }

    /// Binds `value` and returns its placeholder: `$n` on PostgreSQL, `?` on
    /// SQLite (where placeholders are positional, so each use binds again).
    fn bind(&mut self, value: impl Into<Value>) -> String {
        self.values.push(value.into());
        match self.backend {
            Backend::Postgres => format!("${}", self.values.len()),
            Backend::Sqlite => "?".to_owned(),
        }
    }

    fn finish(self, sql: String) -> Statement {
        Statement::from_sql_and_values(db_backend(self.backend), sql, self.values)
    }
}

fn db_backend(backend: Backend) -> DbBackend {
    match backend {
        Backend::Postgres => DbBackend::Postgres,
        Backend::Sqlite => DbBackend::Sqlite,
    }
}

/// Every column of `backlog`, in entity order. Statements name them rather than
/// use `*`: a SQLite connection that prepared `*` against an older schema
/// would hand back rows of the old width.
const COLUMNS: [&str; 17] = [
    "id",
    "title",
    "body",
    "phase",
    "priority",
    "status",
    "depends_on",
    "claim_owner",
    "claim_ttl_seconds",
    "claimed_at",
    "attempts",
    "max_attempts",
    "idempotency_key",
    "acceptance",
    "last_error",
    "created_at",
    "updated_at",
];

/// `RETURNING <every column>`.
fn returning() -> String {
    format!("RETURNING {}", COLUMNS.join(", "))
}

/// Every column, qualified by `alias`.
fn columns_of(alias: &str) -> String {
    COLUMNS
        .iter()
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Clears the claim columns; used wherever a card leaves `claimed`.
const CLEAR_CLAIM: &str = "claim_owner = NULL, claim_ttl_seconds = NULL, claimed_at = NULL";

/// Claim order: highest priority, then oldest, then id so ties are stable.
const CLAIM_ORDER: &str = "b.priority DESC, b.created_at ASC, b.id ASC";

/// True when every id in `{alias}.depends_on` names a done card. A dependency
/// that does not exist is not done. Each dependency is one primary-key lookup,
/// whatever the number of done cards.
fn deps_done(backend: Backend, alias: &str) -> String {
    match backend {
        Backend::Postgres => format!(
            "NOT EXISTS (SELECT 1 FROM jsonb_array_elements_text({alias}.depends_on) AS dep(id) \
             WHERE (SELECT d.status FROM backlog AS d WHERE d.id = dep.id) IS DISTINCT FROM 'done')"
        ),
        Backend::Sqlite => format!(
            "NOT EXISTS (SELECT 1 FROM json_each({alias}.depends_on) AS dep \
             WHERE (SELECT d.status FROM backlog AS d WHERE d.id = dep.value) IS NOT 'done')"
        ),
    }
}

/// True when a claimed row's TTL has lapsed at the instant bound as `now`.
fn expired(backend: Backend, now: &str) -> String {
    match backend {
        Backend::Postgres => {
            format!("claimed_at + make_interval(secs => claim_ttl_seconds) < {now}")
        }
        Backend::Sqlite => format!(
            "{} + claim_ttl_seconds * 1000 < {}",
            sqlite_millis("claimed_at"),
            sqlite_millis(now)
        ),
    }
}

/// Whole milliseconds since the Unix epoch of an RFC 3339 text timestamp on
/// SQLite. `julianday` reads the text to the millisecond, but as a fraction of
/// a day: sums of such fractions are off by microseconds either way, so
/// expiry is compared in whole milliseconds, which rounding recovers exactly.
fn sqlite_millis(timestamp: &str) -> String {
    format!("ROUND((julianday({timestamp}) - 2440587.5) * 86400000.0)")
}

/// Claims one card in one statement: the best ready card whose dependencies
/// are all done (or card `id`, under the same conditions), returning the row.
///
/// On PostgreSQL the subquery locks exactly the row it picks with
/// `FOR UPDATE SKIP LOCKED`, so concurrent claimers fan out over distinct cards
/// instead of queueing behind one. On SQLite the statement holds the database's
/// write lock from selection to update, so it is atomic by itself.
pub(crate) fn claim(
    backend: Backend,
    owner: &str,
    ttl_seconds: i32,
    now: DateTime<Utc>,
    id: Option<&str>,
) -> Statement {
    let mut b = Binds::new(backend);
    let owner = b.bind(owner);
    let ttl = b.bind(ttl_seconds);
    let claimed_at = b.bind(now);
    let updated_at = b.bind(now);
    let only = match id {
        Some(id) => format!(" AND b.id = {}", b.bind(id)),
        None => String::new(),
    };
    let lock = match backend {
        Backend::Postgres => " FOR UPDATE OF b SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let gate = deps_done(backend, "b");
    b.finish(format!(
        "UPDATE backlog SET status = 'claimed', claim_owner = {owner}, claim_ttl_seconds = {ttl}, \
         claimed_at = {claimed_at}, attempts = backlog.attempts + 1, updated_at = {updated_at} \
         WHERE backlog.id = (SELECT b.id FROM backlog AS b WHERE b.status = 'ready'{only} AND {gate} \
         ORDER BY {CLAIM_ORDER} LIMIT 1{lock}) {}", returning()
    ))
}

/// Cards matching `status`, `phase` and, with `ready_only`, the claim gate, in
/// claim order.
pub(crate) fn list(
    backend: Backend,
    status: Option<&str>,
    phase: Option<&str>,
    ready_only: bool,
) -> Statement {
    let mut b = Binds::new(backend);
    let mut conds = Vec::new();
    if let Some(status) = status {
        conds.push(format!("b.status = {}", b.bind(status)));
    }
    if let Some(phase) = phase {
        conds.push(format!("b.phase = {}", b.bind(phase)));
    }
    if ready_only {
        conds.push("b.status = 'ready'".to_owned());
        conds.push(deps_done(backend, "b"));
    }
    let filter = if conds.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conds.join(" AND "))
    };
    let columns = columns_of("b");
    b.finish(format!(
        "SELECT {columns} FROM backlog AS b{filter} ORDER BY {CLAIM_ORDER}"
    ))
}

/// Returns every claim whose TTL has lapsed to `ready`. `attempts` is kept.
pub(crate) fn reclaim_expired(backend: Backend, now: DateTime<Utc>) -> Statement {
    let mut b = Binds::new(backend);
    let updated_at = b.bind(now);
    let cutoff = b.bind(now);
    let expired = expired(backend, &cutoff);
    b.finish(format!(
        "UPDATE backlog SET status = 'ready', {CLEAR_CLAIM}, updated_at = {updated_at} \
         WHERE status = 'claimed' AND {expired} RETURNING id"
    ))
}

/// Returns card `id` to `ready` if it is claimed, expired or not.
pub(crate) fn reclaim_one(backend: Backend, id: &str, now: DateTime<Utc>) -> Statement {
    let mut b = Binds::new(backend);
    let updated_at = b.bind(now);
    let id = b.bind(id);
    b.finish(format!(
        "UPDATE backlog SET status = 'ready', {CLEAR_CLAIM}, updated_at = {updated_at} \
         WHERE id = {id} AND status = 'claimed' RETURNING id"
    ))
}

/// Restarts the claim of `owner` on `id` at `now`, optionally with a new TTL.
pub(crate) fn renew(
    backend: Backend,
    id: &str,
    owner: &str,
    ttl_seconds: Option<i32>,
    now: DateTime<Utc>,
) -> Statement {
    let mut b = Binds::new(backend);
    let claimed_at = b.bind(now);
    let ttl = match ttl_seconds {
        Some(ttl) => format!(", claim_ttl_seconds = {}", b.bind(ttl)),
        None => String::new(),
    };
    let updated_at = b.bind(now);
    let owned = owned_by(&mut b, id, owner);
    b.finish(format!(
        "UPDATE backlog SET claimed_at = {claimed_at}{ttl}, updated_at = {updated_at} \
         WHERE {owned} {}",
        returning()
    ))
}

/// `id = … AND status = 'claimed' AND claim_owner = …`.
fn owned_by(b: &mut Binds, id: &str, owner: &str) -> String {
    let id = b.bind(id);
    let owner = b.bind(owner);
    format!("id = {id} AND status = 'claimed' AND claim_owner = {owner}")
}

/// Gives up `owner`'s claim on `id`: back to `ready`, `attempts` kept.
pub(crate) fn release(backend: Backend, id: &str, owner: &str, now: DateTime<Utc>) -> Statement {
    let mut b = Binds::new(backend);
    let updated_at = b.bind(now);
    let owned = owned_by(&mut b, id, owner);
    b.finish(format!(
        "UPDATE backlog SET status = 'ready', {CLEAR_CLAIM}, updated_at = {updated_at} \
         WHERE {owned} {}",
        returning()
    ))
}

/// Marks `id` done and drops any claim; with `owner`, only if it holds the claim.
pub(crate) fn complete(
    backend: Backend,
    id: &str,
    owner: Option<&str>,
    now: DateTime<Utc>,
) -> Statement {
    let mut b = Binds::new(backend);
    let updated_at = b.bind(now);
    let filter = match owner {
        Some(owner) => owned_by(&mut b, id, owner),
        None => format!("id = {}", b.bind(id)),
    };
    b.finish(format!(
        "UPDATE backlog SET status = 'done', {CLEAR_CLAIM}, updated_at = {updated_at} \
         WHERE {filter} {}",
        returning()
    ))
}

/// Records `error` on `owner`'s claim of `id` and drops the claim: back to
/// `ready`, or `blocked` once the card has used its `max_attempts` claims.
pub(crate) fn fail(
    backend: Backend,
    id: &str,
    owner: &str,
    error: &str,
    now: DateTime<Utc>,
) -> Statement {
    let mut b = Binds::new(backend);
    let error = b.bind(error);
    let updated_at = b.bind(now);
    let owned = owned_by(&mut b, id, owner);
    b.finish(format!(
        "UPDATE backlog SET status = CASE WHEN attempts >= max_attempts THEN 'blocked' ELSE 'ready' END, \
         last_error = {error}, {CLEAR_CLAIM}, updated_at = {updated_at} WHERE {owned} {}", returning()
    ))
}

/// Parks `id` from any status. The claim columns are left as they were.
pub(crate) fn block(backend: Backend, id: &str, now: DateTime<Utc>) -> Statement {
    let mut b = Binds::new(backend);
    let updated_at = b.bind(now);
    let id = b.bind(id);
    b.finish(format!(
        "UPDATE backlog SET status = 'blocked', updated_at = {updated_at} WHERE id = {id} {}",
        returning()
    ))
}

/// Returns a blocked card to `ready` with a fresh attempt budget.
pub(crate) fn unblock(backend: Backend, id: &str, now: DateTime<Utc>) -> Statement {
    let mut b = Binds::new(backend);
    let updated_at = b.bind(now);
    let id = b.bind(id);
    b.finish(format!(
        "UPDATE backlog SET status = 'ready', {CLEAR_CLAIM}, attempts = 0, updated_at = {updated_at} \
         WHERE id = {id} AND status = 'blocked' {}", returning()
    ))
}

/// Replaces `id`'s dependencies.
pub(crate) fn set_depends_on(
    backend: Backend,
    id: &str,
    depends_on: serde_json::Value,
    now: DateTime<Utc>,
) -> Statement {
    let mut b = Binds::new(backend);
    let deps = b.bind(depends_on);
    let updated_at = b.bind(now);
    let id = b.bind(id);
    b.finish(format!(
        "UPDATE backlog SET depends_on = {deps}, updated_at = {updated_at} WHERE id = {id} {}",
        returning()
    ))
}

/// `(id, depends_on)` of every existing card reachable from `start` through
/// `depends_on` edges, `start` included. `UNION` (not `UNION ALL`) stops the
/// recursion on cards already seen, so stored cycles cannot loop it.
pub(crate) fn reachable(backend: Backend, start: &str) -> Statement {
    let mut b = Binds::new(backend);
    let start = b.bind(start);
    let step = match backend {
        Backend::Postgres => {
            "SELECT dep.id FROM reach JOIN backlog AS b ON b.id = reach.id \
             CROSS JOIN LATERAL jsonb_array_elements_text(b.depends_on) AS dep(id)"
        }
        Backend::Sqlite => {
            "SELECT dep.value FROM reach JOIN backlog AS b ON b.id = reach.id, json_each(b.depends_on) AS dep"
        }
    };
    let seed = match backend {
        Backend::Postgres => format!("CAST({start} AS text)"),
        Backend::Sqlite => start,
    };
    b.finish(format!(
        "WITH RECURSIVE reach(id) AS (SELECT {seed} UNION {step}) \
         SELECT b.id, b.depends_on FROM backlog AS b JOIN reach ON b.id = reach.id"
    ))
}

/// Per status: the count, the oldest `created_at` and how many claims have
/// lapsed at `now`. One statement, so the figures agree with each other.
pub(crate) fn stats(backend: Backend, now: DateTime<Utc>) -> Statement {
    let mut b = Binds::new(backend);
    let cutoff = b.bind(now);
    let expired = expired(backend, &cutoff);
    b.finish(format!(
        "SELECT status, COUNT(*) AS n, MIN(created_at) AS oldest, \
         SUM(CASE WHEN status = 'claimed' AND {expired} THEN 1 ELSE 0 END) AS expired \
         FROM backlog GROUP BY status"
    ))
}

/// Serializes changes to the dependency graph on PostgreSQL, so two `link`s
/// cannot each pass the cycle check and together close a cycle. (SQLite gets
/// the same from `BEGIN IMMEDIATE`.)
pub(crate) fn lock_graph() -> Statement {
    Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_advisory_xact_lock($1)",
        [GRAPH_LOCK_KEY.into()],
    )
}

/// Advisory lock key for graph changes: "mosaicbk" as ASCII bytes.
const GRAPH_LOCK_KEY: i64 = 0x6d6f_7361_6963_626b;

#[cfg(test)]
mod tests {
    use super::*;

    /// The statement's SQL with the column lists folded back to `*`, so the
    /// assertions below stay readable.
    fn sql(stmt: &Statement) -> String {
        stmt.sql
            .replace(&returning(), "RETURNING *")
            .replace(&columns_of("b"), "*")
    }

    #[test]
    fn statements_name_every_column_of_the_entity() {
        use sea_orm::{IdenStatic, Iterable};
        let entity: Vec<&str> = mosaic_store::entity::backlog::Column::iter()
            .map(|c| c.as_str())
            .collect();
        assert_eq!(entity, COLUMNS);
        assert!(returning().starts_with("RETURNING id, title, body,"));
        assert!(columns_of("b").ends_with("b.created_at, b.updated_at"));
    }

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-06-24T10:00:00.123Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn claim_locks_one_row_with_skip_locked_on_postgres() {
        let stmt = claim(Backend::Postgres, "w-1", 900, at(), None);
        assert_eq!(
            sql(&stmt),
            "UPDATE backlog SET status = 'claimed', claim_owner = $1, claim_ttl_seconds = $2, \
             claimed_at = $3, attempts = backlog.attempts + 1, updated_at = $4 \
             WHERE backlog.id = (SELECT b.id FROM backlog AS b WHERE b.status = 'ready' AND \
             NOT EXISTS (SELECT 1 FROM jsonb_array_elements_text(b.depends_on) AS dep(id) \
             WHERE (SELECT d.status FROM backlog AS d WHERE d.id = dep.id) IS DISTINCT FROM 'done') \
             ORDER BY b.priority DESC, b.created_at ASC, b.id ASC LIMIT 1 FOR UPDATE OF b SKIP LOCKED) \
             RETURNING *"
        );
        let values = stmt.values.unwrap().0;
        assert_eq!(
            values,
            vec![
                Value::from("w-1"),
                Value::from(900),
                Value::from(at()),
                Value::from(at())
            ]
        );
    }

    #[test]
    fn claim_is_one_update_returning_on_sqlite() {
        let stmt = claim(Backend::Sqlite, "w-1", 60, at(), Some("b"));
        assert_eq!(
            sql(&stmt),
            "UPDATE backlog SET status = 'claimed', claim_owner = ?, claim_ttl_seconds = ?, \
             claimed_at = ?, attempts = backlog.attempts + 1, updated_at = ? \
             WHERE backlog.id = (SELECT b.id FROM backlog AS b WHERE b.status = 'ready' AND b.id = ? AND \
             NOT EXISTS (SELECT 1 FROM json_each(b.depends_on) AS dep \
             WHERE (SELECT d.status FROM backlog AS d WHERE d.id = dep.value) IS NOT 'done') \
             ORDER BY b.priority DESC, b.created_at ASC, b.id ASC LIMIT 1) RETURNING *"
        );
        assert_eq!(stmt.values.unwrap().0.len(), 5);
    }

    #[test]
    fn claim_by_id_binds_the_id_after_the_set_values_on_postgres() {
        let stmt = claim(Backend::Postgres, "w", 60, at(), Some("b"));
        assert!(sql(&stmt).contains("WHERE b.status = 'ready' AND b.id = $5 AND NOT EXISTS"));
        assert!(sql(&stmt).ends_with("LIMIT 1 FOR UPDATE OF b SKIP LOCKED) RETURNING *"));
        assert_eq!(stmt.values.unwrap().0[4], Value::from("b"));
    }

    #[test]
    fn expiry_is_claimed_at_plus_ttl_before_now() {
        let pg = reclaim_expired(Backend::Postgres, at());
        assert_eq!(
            sql(&pg),
            "UPDATE backlog SET status = 'ready', claim_owner = NULL, claim_ttl_seconds = NULL, \
             claimed_at = NULL, updated_at = $1 WHERE status = 'claimed' AND \
             claimed_at + make_interval(secs => claim_ttl_seconds) < $2 RETURNING id"
        );
        let lite = reclaim_expired(Backend::Sqlite, at());
        assert_eq!(
            sql(&lite),
            "UPDATE backlog SET status = 'ready', claim_owner = NULL, claim_ttl_seconds = NULL, \
             claimed_at = NULL, updated_at = ? WHERE status = 'claimed' AND \
             ROUND((julianday(claimed_at) - 2440587.5) * 86400000.0) + claim_ttl_seconds * 1000 \
             < ROUND((julianday(?) - 2440587.5) * 86400000.0) RETURNING id"
        );
    }

    #[test]
    fn reclaim_by_id_ignores_expiry() {
        let stmt = reclaim_one(Backend::Postgres, "c1", at());
        assert!(sql(&stmt).ends_with("WHERE id = $2 AND status = 'claimed' RETURNING id"));
        assert!(!sql(&stmt).contains("make_interval"));
    }

    #[test]
    fn owner_checked_updates_match_id_status_and_owner() {
        for (stmt, owned) in [
            (
                renew(Backend::Postgres, "c", "w", Some(60), at()),
                "WHERE id = $4 AND status = 'claimed' AND claim_owner = $5 RETURNING *",
            ),
            (
                release(Backend::Postgres, "c", "w", at()),
                "WHERE id = $2 AND status = 'claimed' AND claim_owner = $3 RETURNING *",
            ),
            (
                complete(Backend::Postgres, "c", Some("w"), at()),
                "WHERE id = $2 AND status = 'claimed' AND claim_owner = $3 RETURNING *",
            ),
            (
                fail(Backend::Postgres, "c", "w", "boom", at()),
                "WHERE id = $3 AND status = 'claimed' AND claim_owner = $4 RETURNING *",
            ),
        ] {
            assert!(sql(&stmt).ends_with(owned), "{}", sql(&stmt));
        }
        let renew = renew(Backend::Sqlite, "c", "w", None, at());
        assert_eq!(
            sql(&renew),
            "UPDATE backlog SET claimed_at = ?, updated_at = ? \
             WHERE id = ? AND status = 'claimed' AND claim_owner = ? RETURNING *"
        );
    }

    #[test]
    fn forced_completion_matches_the_id_alone() {
        let stmt = complete(Backend::Sqlite, "c", None, at());
        assert_eq!(
            sql(&stmt),
            "UPDATE backlog SET status = 'done', claim_owner = NULL, claim_ttl_seconds = NULL, \
             claimed_at = NULL, updated_at = ? WHERE id = ? RETURNING *"
        );
    }

    #[test]
    fn fail_parks_the_card_once_its_attempts_are_spent() {
        let stmt = fail(Backend::Sqlite, "c", "w", "boom", at());
        assert!(sql(&stmt).starts_with(
            "UPDATE backlog SET status = CASE WHEN attempts >= max_attempts THEN 'blocked' ELSE 'ready' END, \
             last_error = ?,"
        ));
        assert_eq!(stmt.values.unwrap().0[0], Value::from("boom"));
    }

    #[test]
    fn block_keeps_the_claim_and_unblock_clears_it() {
        let block = block(Backend::Postgres, "c", at());
        assert_eq!(
            sql(&block),
            "UPDATE backlog SET status = 'blocked', updated_at = $1 WHERE id = $2 RETURNING *"
        );
        let unblock = unblock(Backend::Postgres, "c", at());
        assert!(sql(&unblock).contains("claim_owner = NULL"));
        assert!(sql(&unblock).contains("attempts = 0"));
        assert!(sql(&unblock).ends_with("WHERE id = $2 AND status = 'blocked' RETURNING *"));
    }

    #[test]
    fn list_and_the_ready_only_gate() {
        assert_eq!(
            sql(&list(Backend::Sqlite, None, None, false)),
            "SELECT * FROM backlog AS b ORDER BY b.priority DESC, b.created_at ASC, b.id ASC"
        );
        let stmt = list(Backend::Postgres, Some("ready"), Some("M1"), true);
        assert!(sql(&stmt).starts_with(
            "SELECT * FROM backlog AS b WHERE b.status = $1 AND b.phase = $2 AND b.status = 'ready' AND NOT EXISTS"
        ));
        assert_eq!(
            stmt.values.unwrap().0,
            vec![Value::from("ready"), Value::from("M1")]
        );
    }

    #[test]
    fn reachability_is_a_recursive_union_per_backend() {
        assert_eq!(
            sql(&reachable(Backend::Postgres, "a")),
            "WITH RECURSIVE reach(id) AS (SELECT CAST($1 AS text) UNION SELECT dep.id FROM reach \
             JOIN backlog AS b ON b.id = reach.id CROSS JOIN LATERAL jsonb_array_elements_text(b.depends_on) AS dep(id)) \
             SELECT b.id, b.depends_on FROM backlog AS b JOIN reach ON b.id = reach.id"
        );
        assert_eq!(
            sql(&reachable(Backend::Sqlite, "a")),
            "WITH RECURSIVE reach(id) AS (SELECT ? UNION SELECT dep.value FROM reach \
             JOIN backlog AS b ON b.id = reach.id, json_each(b.depends_on) AS dep) \
             SELECT b.id, b.depends_on FROM backlog AS b JOIN reach ON b.id = reach.id"
        );
    }

    #[test]
    fn stats_count_expired_claims_with_the_same_predicate() {
        let stmt = stats(Backend::Sqlite, at());
        assert_eq!(
            sql(&stmt),
            "SELECT status, COUNT(*) AS n, MIN(created_at) AS oldest, \
             SUM(CASE WHEN status = 'claimed' AND ROUND((julianday(claimed_at) - 2440587.5) * 86400000.0) \
             + claim_ttl_seconds * 1000 < ROUND((julianday(?) - 2440587.5) * 86400000.0) \
             THEN 1 ELSE 0 END) AS expired FROM backlog GROUP BY status"
        );
    }

    #[test]
    fn dependency_updates_bind_json() {
        let stmt = set_depends_on(Backend::Postgres, "a", serde_json::json!(["b"]), at());
        assert_eq!(
            sql(&stmt),
            "UPDATE backlog SET depends_on = $1, updated_at = $2 WHERE id = $3 RETURNING *"
        );
        assert_eq!(
            stmt.values.unwrap().0[0],
            Value::from(serde_json::json!(["b"]))
        );
    }
}
