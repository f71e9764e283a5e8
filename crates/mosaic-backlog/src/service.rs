//! [`Backlog`]: the operations, over one store connection.

use crate::clock::{Clock, SystemClock};
use crate::graph::path_between;
use crate::rows::{dep_strings, ids_json, stored_id, to_card, to_path};
use crate::{
    BacklogError, Card, CardId, ClaimRequest, Completion, Counts, DEFAULT_CLAIM_TTL_SECONDS,
    DEFAULT_MAX_ATTEMPTS, InvalidInput, ListFilter, NewCard, Owner, ReclaimResult, Stats, Status,
    sql,
};
use chrono::{DateTime, Utc};
use mosaic_store::entity::backlog;
use mosaic_store::{Backend, Store, truncate_to_millis};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr,
    EntityTrait, QueryFilter, Set, SqlErr, Statement, TransactionOptions, TransactionTrait,
};
use std::collections::HashMap;
use std::sync::Arc;

type Result<T, E = BacklogError> = std::result::Result<T, E>;

/// The backlog on one store. Cheap to clone: clones share the connection pool.
#[derive(Debug, Clone)]
pub struct Backlog {
    conn: DatabaseConnection,
    backend: Backend,
    clock: Arc<dyn Clock>,
}

impl Backlog {
    /// The backlog in `store`, on the system clock. The store must be migrated.
    pub fn new(store: &Store) -> Self {
        Self {
            conn: store.conn().clone(),
            backend: store.backend(),
            clock: Arc::new(SystemClock),
        }
    }

    /// Reads the time from `clock` instead of the system clock.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    fn now(&self) -> DateTime<Utc> {
        // Stored timestamps carry milliseconds, as everywhere in the store.
        truncate_to_millis(self.clock.now())
    }

    /// Creates a card. When `card.idempotency_key` was used before, returns the
    /// card created with it, unchanged, whatever else `card` says.
    ///
    /// Dependencies need not exist yet, but may not include the card itself or
    /// close a cycle through cards that already depend on this id.
    pub async fn create(&self, card: NewCard) -> Result<Card> {
        let key = idempotency_key(card.idempotency_key.as_deref())?;
        if let Some(key) = key
            && let Some(existing) = self.find_by_key(key).await?
        {
            return Ok(existing);
        }
        let (status, max_attempts) = check_new(&card)?;
        let deps = distinct_deps(&card.id, card.depends_on)?;
        let now = self.now();
        let model = backlog::ActiveModel {
            id: Set(card.id.as_str().to_owned()),
            title: Set(card.title),
            body: Set(card.body),
            phase: Set(card.phase),
            priority: Set(card.priority),
            status: Set(status.as_str().to_owned()),
            depends_on: Set(ids_json(&deps)),
            claim_owner: Set(None),
            claim_ttl_seconds: Set(None),
            claimed_at: Set(None),
            attempts: Set(0),
            max_attempts: Set(max_attempts),
            idempotency_key: Set(key.map(str::to_owned)),
            acceptance: Set(card.acceptance),
            last_error: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        };
        match self.insert_acyclic(model, &card.id, &deps).await? {
            Ok(row) => to_card(row),
            Err(e) => self.insert_refused(e, key, card.id).await,
        }
    }

    /// Inserts the new card `id`. With dependencies, first checks in a
    /// transaction that holds the graph still that none of them reaches back
    /// to `id`. The inner error is the insert's own, for
    /// [`Backlog::insert_refused`] to explain.
    async fn insert_acyclic(
        &self,
        model: backlog::ActiveModel,
        id: &CardId,
        deps: &[CardId],
    ) -> Result<Result<backlog::Model, DbErr>> {
        if deps.is_empty() {
            // A card without dependencies cannot close a cycle.
            return Ok(model.insert(&self.conn).await);
        }
        let tx = self.graph_tx().await?;
        for dep in deps {
            let edges = reachable(&tx, self.backend, dep.as_str()).await?;
            if let Some(path) = path_between(&edges, dep.as_str(), id.as_str()) {
                return Err(BacklogError::Cycle {
                    from: id.clone(),
                    to: dep.clone(),
                    path: to_path(path)?,
                });
            }
        }
        Ok(match model.insert(&tx).await {
            Ok(row) => tx.commit().await.map(|()| row),
            Err(e) => Err(e),
        })
    }

    /// Explains a failed insert. A unique key was violated when another
    /// create with the same idempotency key won a race (its card is the
    /// answer) or the id is taken.
    async fn insert_refused(&self, e: DbErr, key: Option<&str>, id: CardId) -> Result<Card> {
        if !matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
            return Err(e.into());
        }
        if let Some(key) = key
            && let Some(existing) = self.find_by_key(key).await?
        {
            return Ok(existing);
        }
        if self.get(&id).await?.is_some() {
            return Err(BacklogError::DuplicateId { id });
        }
        Err(e.into())
    }

    async fn find_by_key(&self, key: &str) -> Result<Option<Card>> {
        backlog::Entity::find()
            .filter(backlog::Column::IdempotencyKey.eq(key))
            .one(&self.conn)
            .await?
            .map(to_card)
            .transpose()
    }

    /// One card, or `None`.
    pub async fn get(&self, id: &CardId) -> Result<Option<Card>> {
        get_in(&self.conn, id).await
    }

    async fn require(&self, id: &CardId) -> Result<Card> {
        self.get(id)
            .await?
            .ok_or_else(|| BacklogError::NotFound { id: id.clone() })
    }

    /// Cards matching `filter`, highest priority first, then oldest.
    pub async fn list(&self, filter: &ListFilter) -> Result<Vec<Card>> {
        let stmt = sql::list(
            self.backend,
            filter.status.map(Status::as_str),
            filter.phase.as_deref(),
            filter.ready_only,
        );
        self.rows(stmt).await
    }

    /// Claims the highest-priority, oldest ready card whose dependencies are
    /// all done, or card `req.id` under the same conditions. `None` when no
    /// card qualifies (or `req.id` is not ready, gated, or being claimed by
    /// someone else this instant).
    ///
    /// Exactly one row is locked and updated, in one statement.
    pub async fn claim(&self, req: &ClaimRequest) -> Result<Option<Card>> {
        let ttl = ttl_seconds(req.ttl_seconds.unwrap_or(DEFAULT_CLAIM_TTL_SECONDS))?;
        let stmt = sql::claim(
            self.backend,
            req.owner.as_str(),
            ttl,
            self.now(),
            req.id.as_ref().map(CardId::as_str),
        );
        match self.rows(stmt).await?.pop() {
            Some(card) => {
                tracing::debug!(card = %card.id, owner = %req.owner, ttl, "claimed");
                Ok(Some(card))
            }
            None => {
                if let Some(id) = &req.id {
                    self.require(id).await?;
                }
                Ok(None)
            }
        }
    }

    /// Restarts `owner`'s claim on `id` from now, with `ttl_seconds` or the
    /// claim's current TTL. A claim past its TTL can still be renewed until a
    /// sweep reclaims it: until then no one else can hold the card.
    pub async fn renew(
        &self,
        id: &CardId,
        owner: &Owner,
        ttl_seconds: Option<u32>,
    ) -> Result<Card> {
        let ttl = ttl_seconds.map(self::ttl_seconds).transpose()?;
        self.owned(id, owner, "renew", || {
            sql::renew(self.backend, id.as_str(), owner.as_str(), ttl, self.now())
        })
        .await
    }

    /// Gives up `owner`'s claim on `id`: the card is ready again at once.
    pub async fn release(&self, id: &CardId, owner: &Owner) -> Result<Card> {
        self.owned(id, owner, "release", || {
            sql::release(self.backend, id.as_str(), owner.as_str(), self.now())
        })
        .await
    }

    /// Returns claims to `ready`: with `id`, that card if it is claimed
    /// (expired or not); without, every claim past its TTL. `attempts` is kept.
    pub async fn reclaim(&self, id: Option<&CardId>) -> Result<ReclaimResult> {
        let stmt = match id {
            Some(id) => sql::reclaim_one(self.backend, id.as_str(), self.now()),
            None => sql::reclaim_expired(self.backend, self.now()),
        };
        let mut reclaimed = Vec::new();
        for row in self.conn.query_all_raw(stmt).await? {
            let id: String = row.try_get("", "id")?;
            reclaimed.push(stored_id(&id, &id, "id")?);
        }
        if reclaimed.is_empty()
            && let Some(id) = id
        {
            self.require(id).await?;
        }
        reclaimed.sort();
        if !reclaimed.is_empty() {
            tracing::info!(count = reclaimed.len(), cards = ?reclaimed, "reclaimed claims");
        }
        Ok(ReclaimResult { reclaimed })
    }

    /// Makes `from` depend on `to`. Linking twice is a no-op that returns the
    /// card; a missing card, a self-link or a link that would close a cycle is
    /// an error.
    pub async fn link(&self, from: &CardId, to: &CardId) -> Result<Card> {
        let tx = self.graph_tx().await?;
        let card = get_in(&tx, from)
            .await?
            .ok_or_else(|| BacklogError::NotFound { id: from.clone() })?;
        if get_in(&tx, to).await?.is_none() {
            return Err(BacklogError::DependencyNotFound { id: to.clone() });
        }
        if from == to {
            return Err(BacklogError::SelfDependency { id: from.clone() });
        }
        if card.depends_on.contains(to) {
            return Ok(card);
        }
        let edges = reachable(&tx, self.backend, to.as_str()).await?;
        if let Some(path) = path_between(&edges, to.as_str(), from.as_str()) {
            return Err(BacklogError::Cycle {
                from: from.clone(),
                to: to.clone(),
                path: to_path(path)?,
            });
        }
        let mut deps = card.depends_on;
        deps.push(to.clone());
        let stmt = sql::set_depends_on(self.backend, from.as_str(), ids_json(&deps), self.now());
        let card = rows_in(&tx, stmt)
            .await?
            .pop()
            .ok_or_else(|| BacklogError::NotFound { id: from.clone() })?;
        tx.commit().await?;
        Ok(card)
    }

    /// Parks `id` from any status; it is never claimed until unblocked.
    pub async fn block(&self, id: &CardId) -> Result<Card> {
        let stmt = sql::block(self.backend, id.as_str(), self.now());
        match self.rows(stmt).await?.pop() {
            Some(card) => Ok(card),
            None => Err(BacklogError::NotFound { id: id.clone() }),
        }
    }

    /// Returns a blocked card to `ready`, with its claim cleared and a fresh
    /// attempt budget.
    pub async fn unblock(&self, id: &CardId) -> Result<Card> {
        let stmt = sql::unblock(self.backend, id.as_str(), self.now());
        match self.rows(stmt).await?.pop() {
            Some(card) => Ok(card),
            None => {
                let card = self.require(id).await?;
                Err(BacklogError::WrongStatus {
                    id: id.clone(),
                    status: card.status,
                    action: "unblock",
                    wanted: Status::Blocked,
                })
            }
        }
    }

    /// Marks `id` done and drops its claim. With [`Completion::Owner`] the card
    /// must be claimed by that owner; [`Completion::Forced`] accepts any status.
    pub async fn complete(&self, id: &CardId, by: &Completion) -> Result<Card> {
        match by {
            Completion::Owner(owner) => {
                self.owned(id, owner, "complete", || {
                    sql::complete(self.backend, id.as_str(), Some(owner.as_str()), self.now())
                })
                .await
            }
            Completion::Forced => {
                let stmt = sql::complete(self.backend, id.as_str(), None, self.now());
                self.rows(stmt)
                    .await?
                    .pop()
                    .ok_or_else(|| BacklogError::NotFound { id: id.clone() })
            }
        }
    }

    /// Records that `owner`'s attempt at `id` failed with `error` and drops the
    /// claim: the card is ready again, or blocked once it has been claimed
    /// `max_attempts` times.
    pub async fn fail(&self, id: &CardId, owner: &Owner, error: &str) -> Result<Card> {
        if error.trim().is_empty() {
            return Err(InvalidInput::new("error", "must say what failed").into());
        }
        self.owned(id, owner, "fail", || {
            sql::fail(self.backend, id.as_str(), owner.as_str(), error, self.now())
        })
        .await
    }

    /// Counts per status, the oldest ready card's age and the lapsed claims.
    pub async fn stats(&self) -> Result<Stats> {
        let now = self.now();
        let mut stats = Stats::default();
        let mut counts = Counts::default();
        let mut oldest_ready = None;
        for row in self
            .conn
            .query_all_raw(sql::stats(self.backend, now))
            .await?
        {
            let status: String = row.try_get("", "status")?;
            let n: i64 = row.try_get("", "n")?;
            let expired: i64 = row.try_get("", "expired")?;
            let status: Status =
                status
                    .parse()
                    .map_err(|e: InvalidInput| BacklogError::Corrupt {
                        id: format!("(some card in status `{status}`)"),
                        field: "status",
                        reason: e.reason,
                    })?;
            let n = u64::try_from(n).unwrap_or(0);
            counts.add(status, n);
            stats.total += n;
            stats.expired_claim_count += u64::try_from(expired).unwrap_or(0);
            if status == Status::Ready {
                oldest_ready = row.try_get::<Option<DateTime<Utc>>>("", "oldest")?;
            }
        }
        stats.counts = counts;
        stats.oldest_ready_age_seconds =
            oldest_ready.map(|t| u64::try_from((now - t).num_seconds()).unwrap_or(0));
        Ok(stats)
    }

    /// Runs an owner-checked update; when it matches nothing, says why.
    async fn owned(
        &self,
        id: &CardId,
        owner: &Owner,
        action: &'static str,
        stmt: impl Fn() -> Statement,
    ) -> Result<Card> {
        // The second round covers a card that changed between the update and
        // the diagnosis, e.g. a sweep racing a renewal; it cannot loop.
        for _ in 0..2 {
            if let Some(card) = self.rows(stmt()).await?.pop() {
                return Ok(card);
            }
            let card = self.require(id).await?;
            if card.status != Status::Claimed {
                return Err(BacklogError::WrongStatus {
                    id: id.clone(),
                    status: card.status,
                    action,
                    wanted: Status::Claimed,
                });
            }
            if card.claim_owner.as_ref() != Some(owner) {
                return Err(BacklogError::WrongOwner {
                    id: id.clone(),
                    owner: owner.clone(),
                    holder: card.claim_owner,
                });
            }
        }
        Err(BacklogError::WrongOwner {
            id: id.clone(),
            owner: owner.clone(),
            holder: None,
        })
    }

    async fn rows(&self, stmt: Statement) -> Result<Vec<Card>> {
        rows_in(&self.conn, stmt).await
    }

    /// A transaction in which the dependency graph cannot change under us.
    async fn graph_tx(&self) -> Result<DatabaseTransaction> {
        let tx = self
            .conn
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            })
            .await?;
        if self.backend == Backend::Postgres {
            tx.execute_raw(sql::lock_graph()).await?;
        }
        Ok(tx)
    }
}

/// The idempotency key, refused when given but blank.
fn idempotency_key(key: Option<&str>) -> Result<Option<&str>> {
    match key {
        Some(k) if k.trim().is_empty() => {
            Err(InvalidInput::new("idempotency key", "must not be blank when given").into())
        }
        k => Ok(k),
    }
}

/// Checks a new card's title, status and retry budget; returns the status
/// it starts in and the budget as stored.
fn check_new(card: &NewCard) -> Result<(Status, i32)> {
    if card.title.trim().is_empty() {
        return Err(InvalidInput::new("title", "must not be blank").into());
    }
    let status = card.status.unwrap_or(Status::Ready);
    if status == Status::Claimed {
        return Err(InvalidInput::new(
            "status",
            "cannot be `claimed` at creation; create the card ready and claim it",
        )
        .into());
    }
    let max_attempts = match card.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS) {
        0 => return Err(InvalidInput::new("max attempts", "must be at least 1").into()),
        n => i32::try_from(n).map_err(|_| {
            InvalidInput::new("max attempts", format!("must be at most {}", i32::MAX))
        })?,
    };
    Ok((status, max_attempts))
}

/// `depends_on` without repeats, in the order given; refuses `id` itself.
fn distinct_deps(id: &CardId, depends_on: Vec<CardId>) -> Result<Vec<CardId>> {
    let mut deps: Vec<CardId> = Vec::with_capacity(depends_on.len());
    for dep in depends_on {
        if dep == *id {
            return Err(BacklogError::SelfDependency { id: dep });
        }
        if !deps.contains(&dep) {
            deps.push(dep);
        }
    }
    Ok(deps)
}

async fn get_in(conn: &impl ConnectionTrait, id: &CardId) -> Result<Option<Card>> {
    backlog::Entity::find_by_id(id.as_str().to_owned())
        .one(conn)
        .await?
        .map(to_card)
        .transpose()
}

async fn rows_in(conn: &impl ConnectionTrait, stmt: Statement) -> Result<Vec<Card>> {
    // `all`, not `one`: the statement runs to completion, which on SQLite is
    // what commits an `UPDATE … RETURNING`.
    backlog::Entity::find()
        .from_raw_sql(stmt)
        .all(conn)
        .await?
        .into_iter()
        .map(to_card)
        .collect()
}

async fn reachable(
    conn: &impl ConnectionTrait,
    backend: Backend,
    start: &str,
) -> Result<HashMap<String, Vec<String>>> {
    let mut edges = HashMap::new();
    for row in conn.query_all_raw(sql::reachable(backend, start)).await? {
        let id: String = row.try_get("", "id")?;
        let deps: serde_json::Value = row.try_get("", "depends_on")?;
        let deps = dep_strings(&deps);
        edges.insert(id, deps);
    }
    Ok(edges)
}

fn ttl_seconds(ttl: u32) -> Result<i32> {
    match i32::try_from(ttl) {
        Ok(0) => Err(InvalidInput::new("ttl", "must be at least 1 second").into()),
        Ok(ttl) => Ok(ttl),
        Err(_) => {
            Err(InvalidInput::new("ttl", format!("must be at most {} seconds", i32::MAX)).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_must_fit_the_column_and_be_positive() {
        assert_eq!(ttl_seconds(900).unwrap(), 900);
        assert!(
            ttl_seconds(0)
                .unwrap_err()
                .to_string()
                .contains("at least 1")
        );
        assert!(
            ttl_seconds(u32::MAX)
                .unwrap_err()
                .to_string()
                .contains("at most 2147483647")
        );
    }
}
