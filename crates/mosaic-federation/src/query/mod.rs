//! Read-only queries behind `list`, `get` and `search`, with the access rules
//! of each resource. Every query is built from a [`QueryFilter`] that scope evaluation
//! produced, so it can only narrow what the subject user may read.

mod access;
mod memory;
mod notes;
mod rows;
mod search;
mod tasks;

pub use search::POSTGRES_INDEXED_CHARS;

use crate::cursor::{Cursor, InvalidCursor, MemorySource, SearchCursor};
use crate::search_query::SearchQuery;
use chrono::{DateTime, Utc};
use mosaic_scope::{NativeAccess, NativeDenied, NativeRbac, NativeRbacRequest, QueryFilter};
use mosaic_store::sea_orm::{DatabaseConnection, DbErr};
use mosaic_types::{FederatedRow, FederationResource, IdError};
use serde_json::json;

/// A row as it goes on the wire (without `_source`).
pub type Item = FederatedRow;

/// Why a query failed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The peer's cursor could not be decoded.
    #[error(transparent)]
    InvalidCursor(#[from] InvalidCursor),
    /// A search cursor issued for another resource or other words.
    #[error("the search cursor belongs to another search")]
    ForeignCursor,
    /// A stored row holds an id that is not a valid id.
    #[error("a stored row's id is invalid: {0}")]
    InvalidStoredId(#[from] IdError),
    /// Storage failed.
    // Said once, in the message: not a `source`, so a printed chain
    // does not repeat the driver's words.
    #[error("federation query failed: {}", mosaic_store::describe_db_err(.0))]
    Db(DbErr),
}

impl From<DbErr> for QueryError {
    fn from(err: DbErr) -> Self {
        Self::Db(err)
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPage {
    /// Rows, newest first.
    pub items: Vec<Item>,
    /// More rows exist.
    pub truncated: bool,
    /// Where the next page starts, when `truncated`.
    pub next_cursor: Option<String>,
}

/// What a `get` found.
#[derive(Debug, Clone, PartialEq)]
pub enum GetOutcome {
    /// The row, visible under the filter (boxed: a row is large beside the
    /// other outcomes).
    Found(Box<Item>),
    /// No such row (or, for notes, no note text).
    NotFound,
    /// The row exists but the filter does not cover it.
    Denied(String),
}

/// Which verb asks, for the wording of native denials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// `list`.
    List,
    /// `get`.
    Get,
    /// `search`.
    Search,
}

/// A fetched row with the keys pagination needs beside it.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub item: Item,
    pub created_at: DateTime<Utc>,
    pub id: String,
    /// For memory rows: the table they came from (kept off the wire).
    pub source: Option<MemorySource>,
}

/// The federation queries over one store connection. Also the native access
/// check scope evaluation consults.
#[derive(Debug, Clone, Copy)]
pub struct FederationQueries<'a> {
    db: &'a DatabaseConnection,
    verb: Verb,
}

impl<'a> FederationQueries<'a> {
    /// Queries for `verb` on `db`.
    pub fn new(db: &'a DatabaseConnection, verb: Verb) -> Self {
        Self { db, verb }
    }

    /// One page: decodes the cursor, fetches `limit + 1` rows, and cuts.
    pub async fn list(
        &self,
        filter: &QueryFilter,
        cursor: Option<&str>,
    ) -> Result<ListPage, QueryError> {
        let cursor = cursor.map(Cursor::decode).transpose()?;
        let fetch = u64::from(filter.limit) + 1;
        let rows = match filter.resource {
            FederationResource::Tasks => {
                tasks::list(self.db, filter, fetch, cursor.as_ref()).await?
            }
            FederationResource::Notes => {
                notes::list(self.db, filter, fetch, cursor.as_ref()).await?
            }
            FederationResource::Memory => {
                memory::list(self.db, filter, fetch, cursor.as_ref()).await?
            }
            // Never served; native access refuses them before a query is built.
            FederationResource::Credentials | FederationResource::ApiKeys => Vec::new(),
        };
        Ok(paginate(rows, filter.limit as usize))
    }

    /// One page of the rows `list` would reach that hold every word of
    /// `query`, best match first: decodes the cursor (which must have been
    /// issued for this resource and these words), fetches `limit + 1` rows,
    /// and cuts.
    pub async fn search(
        &self,
        filter: &QueryFilter,
        query: &SearchQuery,
        cursor: Option<&str>,
    ) -> Result<ListPage, QueryError> {
        let cursor = cursor.map(SearchCursor::decode).transpose()?;
        let fingerprint = query.fingerprint();
        if cursor
            .as_ref()
            .is_some_and(|c| c.resource != filter.resource || c.query != fingerprint)
        {
            return Err(QueryError::ForeignCursor);
        }
        let cursor = cursor.as_ref();
        let fetch = u64::from(filter.limit) + 1;
        let ranked = match filter.resource {
            FederationResource::Tasks => {
                search::tasks(self.db, filter, query, fetch, cursor).await?
            }
            FederationResource::Notes => {
                search::notes(self.db, filter, query, fetch, cursor).await?
            }
            FederationResource::Memory => {
                search::memory(self.db, filter, query, fetch, cursor).await?
            }
            // Never searched; native access refuses them before a query is built.
            FederationResource::Credentials | FederationResource::ApiKeys => Vec::new(),
        };
        Ok(paginate_ranked(
            ranked,
            filter.limit as usize,
            filter.resource,
            fingerprint,
        ))
    }

    /// One row by id, if the filter covers it.
    pub async fn get(&self, filter: &QueryFilter, id: &str) -> Result<GetOutcome, QueryError> {
        Ok(match filter.resource {
            FederationResource::Tasks => tasks::get(self.db, filter, id).await?,
            FederationResource::Notes => notes::get(self.db, filter, id).await?,
            FederationResource::Memory => memory::get(self.db, filter, id).await?,
            r @ (FederationResource::Credentials | FederationResource::ApiKeys) => {
                GetOutcome::Denied(format!("{r} are never served over federation"))
            }
        })
    }
}

impl NativeRbac for FederationQueries<'_> {
    async fn evaluate_read_access(
        &self,
        request: &NativeRbacRequest,
    ) -> Result<NativeAccess, NativeDenied> {
        let verb = match self.verb {
            Verb::List => "list",
            Verb::Get => "get",
            Verb::Search => "search",
        };
        match request.resource {
            r @ (FederationResource::Credentials | FederationResource::ApiKeys) => {
                Err(NativeDenied {
                    reason: Some(format!("{r} federation {verb} access is never granted")),
                    details: json!({ "resource": r.as_str() }).as_object().cloned(),
                })
            }
            // Memory is personal by nature: no team rows exist.
            FederationResource::Memory => Ok(NativeAccess {
                include_personal: true,
                team_ids: Vec::new(),
            }),
            FederationResource::Tasks | FederationResource::Notes => {
                match access::subject_team_ids(self.db, request.subject_user_id.as_str()).await {
                    Ok(team_ids) => Ok(NativeAccess {
                        include_personal: true,
                        team_ids,
                    }),
                    Err(e) => {
                        tracing::error!(error = %e, "native access lookup failed");
                        Err(NativeDenied {
                            reason: Some("Subject user access could not be determined".to_owned()),
                            details: None,
                        })
                    }
                }
            }
        }
    }
}

/// Cuts `rows` (fetched with one extra) to `limit` and derives the cursor from
/// the last row kept.
pub(crate) fn paginate(mut rows: Vec<Row>, limit: usize) -> ListPage {
    let truncated = rows.len() > limit;
    rows.truncate(limit);
    let next_cursor = if truncated {
        rows.last().map(|last| {
            Cursor {
                created_at: last.created_at,
                id: last.id.clone(),
                source: last.source,
            }
            .encode()
        })
    } else {
        None
    };
    ListPage {
        items: rows.into_iter().map(|r| r.item).collect(),
        truncated,
        next_cursor,
    }
}

/// [`paginate`] for ranked rows: the cursor holds the last row's score and
/// the search it belongs to.
fn paginate_ranked(
    mut rows: Vec<search::Ranked>,
    limit: usize,
    resource: FederationResource,
    query: u64,
) -> ListPage {
    let truncated = rows.len() > limit;
    rows.truncate(limit);
    let next_cursor = if truncated {
        rows.last().map(|last| {
            SearchCursor {
                resource,
                query,
                score: last.score,
                id: last.row.id.clone(),
                source: last.row.source,
            }
            .encode()
        })
    } else {
        None
    };
    ListPage {
        items: rows.into_iter().map(|r| r.row.item).collect(),
        truncated,
        next_cursor,
    }
}

/// The keyset condition for "after `cursor`" in a newest-first listing:
/// `created_at < c OR (created_at = c AND id < c.id)`.
pub(crate) fn after<C: mosaic_store::sea_orm::ColumnTrait>(
    created_at: C,
    id: C,
    cursor: &Cursor,
) -> mosaic_store::sea_orm::Condition {
    use mosaic_store::sea_orm::Condition;
    Condition::any().add(created_at.lt(cursor.created_at)).add(
        Condition::all()
            .add(created_at.eq(cursor.created_at))
            .add(id.lt(cursor.id.as_str())),
    )
}

/// Newest first, ties broken by id descending in byte order.
pub(crate) fn sort_rows(rows: &mut [Row]) {
    rows.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| b.id.as_bytes().cmp(a.id.as_bytes()))
    });
}
