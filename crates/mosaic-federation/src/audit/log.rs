//! Reading the audit log (newest first, filtered, keyset-paginated) and
//! pruning it by age.

use super::AuditRecord;
use super::cursor::AuditCursor;
use super::params::AuditQuery;
use chrono::{DateTime, Utc};
use mosaic_store::entity::federation_audit_log::{self as audit, Column};
use mosaic_store::sea_orm::sea_query::Query;
use mosaic_store::sea_orm::{
    ActiveValue, ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter as _,
    QueryOrder, QuerySelect,
};
use mosaic_types::admin::{AuditEntryView, AuditPage, AuditVerb};
use mosaic_types::{AuditId, ErrorCode, IdError};

/// Rows deleted per statement when pruning, so a large backlog of old rows
/// never holds one long transaction over the table.
pub const PRUNE_BATCH: u64 = 1000;

/// Why reading or pruning the audit log failed.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// A request parameter is wrong; the message names it and says what is
    /// expected.
    #[error("{name}: {message}")]
    InvalidParameter {
        /// The parameter (`limit`, `since`, `peer`, …).
        name: &'static str,
        /// What is wrong and what would be right.
        message: String,
    },
    /// The cursor was not one this gateway handed out.
    #[error(transparent)]
    InvalidCursor(#[from] super::cursor::InvalidAuditCursor),
    /// A stored row does not read back as a row this gateway writes.
    #[error("federation audit row `{id}` is corrupt: {message}")]
    CorruptRow {
        /// The row.
        id: String,
        /// What does not parse.
        message: String,
    },
    /// Storage failed.
    // Said once, in the message: not a `source`, so a printed chain does not
    // repeat the driver's words.
    #[error("federation audit log: {}", mosaic_store::describe_db_err(.0))]
    Db(DbErr),
}

impl From<DbErr> for AuditError {
    fn from(err: DbErr) -> Self {
        Self::Db(err)
    }
}

impl AuditError {
    /// The code the error travels with.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidParameter { .. } | Self::InvalidCursor(_) => ErrorCode::InvalidRequest,
            Self::CorruptRow { .. } | Self::Db(_) => ErrorCode::Internal,
        }
    }
}

/// The audit log over one store connection.
#[derive(Debug, Clone, Copy)]
pub struct AuditLog<'a> {
    db: &'a DatabaseConnection,
}

impl<'a> AuditLog<'a> {
    /// The log in `db`.
    pub fn new(db: &'a DatabaseConnection) -> Self {
        Self { db }
    }

    /// One page of entries matching `query`, newest first (`occurred_at`
    /// descending, then id descending), after its cursor when it has one.
    pub async fn list(&self, query: &AuditQuery) -> Result<AuditPage, AuditError> {
        let mut select = audit::Entity::find();
        if let Some(peer) = &query.peer_id {
            select = select.filter(Column::PeerId.eq(peer.as_str()));
        }
        if let Some(grant) = &query.grant_id {
            select = select.filter(Column::GrantId.eq(grant.as_str()));
        }
        if let Some(user) = &query.subject_user_id {
            select = select.filter(Column::SubjectUserId.eq(user.as_str()));
        }
        if query.denied_only {
            select = select.filter(Column::Status.gte(400));
        }
        if let Some(since) = query.since {
            select = select.filter(Column::OccurredAt.gte(since));
        }
        if let Some(c) = &query.cursor {
            select = select.filter(
                Condition::any()
                    .add(Column::OccurredAt.lt(c.occurred_at))
                    .add(
                        Condition::all()
                            .add(Column::OccurredAt.eq(c.occurred_at))
                            .add(Column::Id.lt(c.id.as_str())),
                    ),
            );
        }
        let limit = usize::from(query.limit.get());
        let mut rows = select
            .order_by_desc(Column::OccurredAt)
            .order_by_desc(Column::Id)
            .limit(u64::try_from(limit + 1).unwrap_or(u64::MAX))
            .all(self.db)
            .await?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = more.then(|| rows.last()).flatten().map(|last| {
            AuditCursor {
                occurred_at: last.occurred_at,
                id: last.id.clone(),
            }
            .encode()
        });
        let items = rows.into_iter().map(view).collect::<Result<Vec<_>, _>>()?;
        Ok(AuditPage { items, next_cursor })
    }

    /// Deletes every row older than `cutoff`, [`PRUNE_BATCH`] rows a
    /// statement, and returns how many went.
    pub async fn prune_older_than(&self, cutoff: DateTime<Utc>) -> Result<u64, AuditError> {
        let mut total = 0;
        loop {
            let batch = Query::select()
                .column(Column::Id)
                .from(audit::Entity)
                .and_where(Column::OccurredAt.lt(cutoff))
                .limit(PRUNE_BATCH)
                .to_owned();
            let deleted = audit::Entity::delete_many()
                .filter(Column::Id.in_subquery(batch))
                .exec(self.db)
                .await?
                .rows_affected;
            total += deleted;
            if deleted < PRUNE_BATCH {
                return Ok(total);
            }
        }
    }
}

/// The row a record is written as.
pub(crate) fn active_model(rec: AuditRecord) -> audit::ActiveModel {
    let latency_us = i64::try_from(rec.latency.as_micros()).unwrap_or(i64::MAX);
    audit::ActiveModel {
        id: ActiveValue::Set(rec.id.into_inner()),
        occurred_at: ActiveValue::Set(rec.occurred_at),
        peer_id: ActiveValue::Set(rec.peer_id.map(String::from)),
        grant_id: ActiveValue::Set(rec.grant_id.map(String::from)),
        subject_user_id: ActiveValue::Set(rec.subject_user_id.map(String::from)),
        verb: ActiveValue::Set(rec.verb.as_str().to_owned()),
        resource: ActiveValue::Set(rec.resource),
        target: ActiveValue::Set(rec.target),
        status: ActiveValue::Set(i32::from(rec.status)),
        error_code: ActiveValue::Set(rec.error_code.map(|c| c.as_str().to_owned())),
        rows: ActiveValue::Set(rec.rows.map(|r| i32::try_from(r).unwrap_or(i32::MAX))),
        latency_us: ActiveValue::Set(latency_us),
        cert_serial: ActiveValue::Set(rec.cert_serial),
        trace_id: ActiveValue::Set(rec.trace_id.to_string()),
        remote_addr: ActiveValue::Set(rec.remote_addr.map(|a| a.to_string())),
    }
}

/// A stored row as the admin API shows it.
fn view(row: audit::Model) -> Result<AuditEntryView, AuditError> {
    let corrupt = |message: String| AuditError::CorruptRow {
        id: row.id.clone(),
        message,
    };
    let error_code = row
        .error_code
        .as_deref()
        .map(|c| {
            serde_json::from_value::<ErrorCode>(serde_json::Value::String(c.to_owned()))
                .map_err(|_| corrupt(format!("error_code: unknown code `{c}`")))
        })
        .transpose()?;
    Ok(AuditEntryView {
        id: AuditId::new(row.id.clone()).map_err(|e| corrupt(format!("id: {e}")))?,
        occurred_at: row.occurred_at,
        peer_id: stored_id(&row.id, "peer_id", row.peer_id.as_deref())?,
        grant_id: stored_id(&row.id, "grant_id", row.grant_id.as_deref())?,
        subject_user_id: stored_id(&row.id, "subject_user_id", row.subject_user_id.as_deref())?,
        verb: row
            .verb
            .parse::<AuditVerb>()
            .map_err(|e| corrupt(e.to_string()))?,
        resource: row.resource,
        target: row.target,
        status: u16::try_from(row.status)
            .map_err(|_| corrupt(format!("status: {} is not an HTTP status", row.status)))?,
        error_code,
        rows: row
            .rows
            .map(u32::try_from)
            .transpose()
            .map_err(|_| corrupt("rows: negative".to_owned()))?,
        // Microseconds to milliseconds: exact for any real latency.
        latency_ms: row.latency_us as f64 / 1000.0,
        cert_serial: row.cert_serial,
        trace_id: row.trace_id,
        remote_addr: row.remote_addr,
    })
}

/// An optional id column of row `row_id`, typed.
fn stored_id<T: std::str::FromStr<Err = IdError>>(
    row_id: &str,
    column: &str,
    value: Option<&str>,
) -> Result<Option<T>, AuditError> {
    value
        .map(str::parse)
        .transpose()
        .map_err(|e: IdError| AuditError::CorruptRow {
            id: row_id.to_owned(),
            message: format!("{column}: {e}"),
        })
}
