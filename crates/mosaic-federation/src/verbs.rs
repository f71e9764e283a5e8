//! The verbs, independent of any HTTP framework: request in, typed body
//! or error envelope out. The envelope's code decides the HTTP status, at the
//! edge; the gateway's handlers only extract and render.

use crate::limit::{EffectiveQuota, GrantQuota};
use crate::query::{FederationQueries, GetOutcome, Item, QueryError, Verb};
use crate::search_query::SearchQuery;
use mosaic_scope::{
    EvaluationInput, FederationContext, QueryFilter, ScopeDeny, check_scope, evaluate,
};
use mosaic_store::sea_orm::DatabaseConnection;
use mosaic_types::{
    ErrorCode, ErrorEnvelope, FEDERATION_VERBS, FederationCapabilitiesResponse,
    FederationGetResponse, FederationListResponse, SOURCE_LOCAL, Sourced, tag_with_source,
};
use serde_json::Value;

/// A verb's failure: the error envelope (code, message, details). Which HTTP
/// status it travels with is the edge's business (`ErrorCode::http_status`).
#[derive(Debug, Clone, PartialEq)]
pub struct VerbError {
    /// Body.
    pub envelope: ErrorEnvelope,
}

impl VerbError {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            envelope: ErrorEnvelope::new(code, message),
        }
    }

    /// The envelope's code.
    pub fn code(&self) -> ErrorCode {
        self.envelope.error.code
    }

    fn with_details(mut self, details: Value) -> Self {
        self.envelope = self.envelope.with_details(details);
        self
    }

    /// No context: the auth layer did not run or did not accept the peer.
    pub fn context_missing() -> Self {
        Self::new(ErrorCode::Unauthorized, "Federation context missing")
    }

    fn internal(err: &impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "federation verb failed");
        Self::new(ErrorCode::Internal, "Federation request failed")
    }
}

/// A scope denial, with the denial itself as the details.
fn from_deny(deny: &ScopeDeny) -> VerbError {
    let details = serde_json::to_value(deny).unwrap_or(Value::Null);
    VerbError::new(deny.error_code(), deny.message.clone()).with_details(details)
}

/// `GET /api/federation/v1/capabilities`: what the grant allows. Needs only an
/// active grant; no native access check. A stored scope that does not parse
/// gets the same `scope_parse` denial as `list` and `get`.
///
/// `default_rate_limit` is the budget of grants whose scope sets none, when
/// this server enforces budgets: the grant's effective one is advertised.
/// `None` (no budgets enforced) advertises none.
pub fn capabilities(
    context: Option<&FederationContext>,
    default_rate_limit: Option<GrantQuota>,
) -> Result<FederationCapabilitiesResponse, VerbError> {
    let context = context.ok_or_else(VerbError::context_missing)?;
    let scope = check_scope(context).map_err(|d| from_deny(&d))?;
    let rate_limit =
        default_rate_limit.map(|default| EffectiveQuota::of(&scope, default).advertised());
    Ok(FederationCapabilitiesResponse {
        resources: scope.resources,
        excluded_resources: scope.excluded_resources,
        max_rows_per_query: scope.max_rows_per_query,
        supported_verbs: FEDERATION_VERBS.to_vec(),
        rate_limit,
    })
}

/// The `limit` of a list or search body: absent, a positive integer, or a
/// string holding one (surrounding blanks allowed). Anything else is refused.
fn parse_limit(verb: &str, value: Option<&Value>) -> Result<Option<i64>, VerbError> {
    let bad = || {
        VerbError::new(
            ErrorCode::InvalidRequest,
            format!("Federation {verb} limit must be a positive integer"),
        )
    };
    let n = match value {
        None => return Ok(None),
        Some(Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i,
            // 5.0 is an integer; 5.5 is not.
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 => f as i64,
            _ => return Err(bad()),
        },
        Some(Value::String(s)) if !s.trim().is_empty() => {
            s.trim().parse::<i64>().map_err(|_| bad())?
        }
        Some(_) => return Err(bad()),
    };
    if n < 1 {
        return Err(bad());
    }
    Ok(Some(n))
}

fn parse_cursor<'a>(verb: &str, value: Option<&'a Value>) -> Result<Option<&'a str>, VerbError> {
    match value {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(VerbError::new(
            ErrorCode::InvalidRequest,
            format!("Federation {verb} cursor must be a string"),
        )),
    }
}

/// A list or search body: a JSON object, or nothing at all.
fn body_object<'a>(
    verb: &str,
    body: &'a Value,
    empty: &'a serde_json::Map<String, Value>,
) -> Result<&'a serde_json::Map<String, Value>, VerbError> {
    match body {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(empty),
        _ => Err(VerbError::new(
            ErrorCode::InvalidRequest,
            format!("Federation {verb} body must be a JSON object"),
        )),
    }
}

/// The pipeline every read runs: the scope's stages (parse, allowlist,
/// exclusion, row cap), then the subject's native access, intersected into
/// the filter the query is built from.
async fn authorize(
    queries: &FederationQueries<'_>,
    context: &FederationContext,
    resource: &str,
    requested_limit: Option<i64>,
) -> Result<QueryFilter, VerbError> {
    let input = EvaluationInput {
        context,
        resource,
        requested_limit,
    };
    evaluate(&input, queries).await.map_err(|d| from_deny(&d))
}

/// A query failure: a cursor the caller got wrong is theirs (and says how to
/// fix it); anything else is ours.
fn query_failed(verb: &str, e: QueryError) -> VerbError {
    match e {
        QueryError::InvalidCursor(_) => VerbError::new(
            ErrorCode::InvalidRequest,
            format!("Federation {verb} cursor is invalid"),
        ),
        QueryError::ForeignCursor => VerbError::new(
            ErrorCode::InvalidRequest,
            format!(
                "Federation {verb} cursor belongs to another search: pass the nextCursor of the previous page of the same q and resource, or no cursor to start over"
            ),
        ),
        e @ (QueryError::InvalidStoredId(_) | QueryError::Db(_)) => VerbError::internal(&e),
    }
}

/// `POST /api/federation/v1/list/:resource`.
pub async fn list(
    db: &DatabaseConnection,
    context: Option<&FederationContext>,
    resource: &str,
    body: &Value,
) -> Result<FederationListResponse<Sourced<Item>>, VerbError> {
    let context = context.ok_or_else(VerbError::context_missing)?;
    let empty = serde_json::Map::new();
    let body = body_object("list", body, &empty)?;
    // Limit, then cursor, both before the scope.
    let requested_limit = parse_limit("list", body.get("limit"))?;
    let cursor = parse_cursor("list", body.get("cursor"))?;

    let queries = FederationQueries::new(db, Verb::List);
    let filter = authorize(&queries, context, resource, requested_limit).await?;
    let page = queries
        .list(&filter, cursor)
        .await
        .map_err(|e| query_failed("list", e))?;
    Ok(FederationListResponse {
        next_cursor: page.next_cursor,
        truncated: page.truncated,
        ..FederationListResponse::complete(tag_with_source(page.items, SOURCE_LOCAL))
    })
}

/// The `q` of a search body, parsed; a refusal names `q`.
fn parse_q(value: Option<&Value>) -> Result<SearchQuery, VerbError> {
    let invalid = |message: String| VerbError::new(ErrorCode::InvalidRequest, message);
    match value {
        None | Some(Value::Null) => Err(invalid(
            "Federation search q is required: the words to search for".to_owned(),
        )),
        Some(Value::String(q)) => {
            SearchQuery::parse(q).map_err(|e| invalid(format!("Federation search {e}")))
        }
        Some(_) => Err(invalid(
            "Federation search q must be a string of words".to_owned(),
        )),
    }
}

/// `POST /api/federation/v1/search/:resource` with `{"q", "limit"?,
/// "cursor"?}`: the pipeline of `list` (scope, native access, row cap), then
/// the rows it reaches that hold every word of `q`, best match first, tagged
/// `_source: "local"`. The cursor only continues the same search of the same
/// resource.
pub async fn search(
    db: &DatabaseConnection,
    context: Option<&FederationContext>,
    resource: &str,
    body: &Value,
) -> Result<FederationListResponse<Sourced<Item>>, VerbError> {
    let context = context.ok_or_else(VerbError::context_missing)?;
    let empty = serde_json::Map::new();
    let body = body_object("search", body, &empty)?;
    // The words, limit and cursor, all before the scope, as for list.
    let query = parse_q(body.get("q"))?;
    let requested_limit = parse_limit("search", body.get("limit"))?;
    let cursor = parse_cursor("search", body.get("cursor"))?;

    let queries = FederationQueries::new(db, Verb::Search);
    let filter = authorize(&queries, context, resource, requested_limit).await?;
    let page = queries
        .search(&filter, &query, cursor)
        .await
        .map_err(|e| query_failed("search", e))?;
    Ok(FederationListResponse {
        next_cursor: page.next_cursor,
        truncated: page.truncated,
        ..FederationListResponse::complete(tag_with_source(page.items, SOURCE_LOCAL))
    })
}

/// `POST /api/federation/v1/get/:resource/:id`.
pub async fn get(
    db: &DatabaseConnection,
    context: Option<&FederationContext>,
    resource: &str,
    id: &str,
) -> Result<FederationGetResponse<Sourced<Item>>, VerbError> {
    let context = context.ok_or_else(VerbError::context_missing)?;
    if id.trim().is_empty() {
        return Err(VerbError::new(
            ErrorCode::InvalidRequest,
            "Federation get id must not be empty",
        ));
    }
    let queries = FederationQueries::new(db, Verb::Get);
    let filter = authorize(&queries, context, resource, Some(1)).await?;
    // A row outside the filter answers exactly like a row that does not
    // exist, so a peer cannot learn which ids exist beyond its grant.
    let not_found = || {
        VerbError::new(
            ErrorCode::NotFound,
            "Requested federation resource was not found",
        )
    };
    match queries.get(&filter, id).await {
        Ok(GetOutcome::Found(item)) => Ok(FederationGetResponse {
            item: Sourced::new(*item, SOURCE_LOCAL),
        }),
        Ok(GetOutcome::NotFound) => Err(not_found()),
        Ok(GetOutcome::Denied(reason)) => {
            tracing::debug!(
                grant = %context.grant_id, %resource, %id, %reason,
                "federated get outside the grant answered as not found"
            );
            Err(not_found())
        }
        Err(e) => Err(query_failed("get", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn limits_parse_as_the_wire_allows() {
        for (v, want) in [
            (json!(5), Some(5)),
            (json!(5.0), Some(5)),
            (json!("5"), Some(5)),
            (json!(" 7 "), Some(7)),
        ] {
            assert_eq!(parse_limit("list", Some(&v)).unwrap(), want, "{v}");
        }
        assert_eq!(parse_limit("list", None).unwrap(), None);
        for v in [
            json!(false),
            json!("abc"),
            json!(0),
            json!(1.5),
            json!(" "),
            json!(-1),
            json!(null),
            json!([1]),
            json!("0x10"),
        ] {
            let e = parse_limit("list", Some(&v)).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidRequest, "{v}");
            assert_eq!(
                e.envelope.error.message,
                "Federation list limit must be a positive integer"
            );
        }
    }

    #[test]
    fn cursors_must_be_strings() {
        assert_eq!(parse_cursor("list", Some(&json!("c"))).unwrap(), Some("c"));
        for v in [json!(123), json!(null), json!({})] {
            assert_eq!(
                parse_cursor("list", Some(&v))
                    .unwrap_err()
                    .envelope
                    .error
                    .message,
                "Federation list cursor must be a string"
            );
        }
        assert_eq!(
            parse_cursor("search", Some(&json!(1)))
                .unwrap_err()
                .envelope
                .error
                .message,
            "Federation search cursor must be a string"
        );
    }

    #[test]
    fn q_must_be_words_and_refusals_name_it() {
        assert_eq!(
            parse_q(Some(&json!("Deploy OR prod*"))).unwrap().terms(),
            ["deploy", "or", "prod"]
        );
        for (v, message) in [
            (
                None,
                "Federation search q is required: the words to search for",
            ),
            (
                Some(json!(null)),
                "Federation search q is required: the words to search for",
            ),
            (
                Some(json!(42)),
                "Federation search q must be a string of words",
            ),
            (
                Some(json!(["a"])),
                "Federation search q must be a string of words",
            ),
            (
                Some(json!("  ( * ) ")),
                "Federation search q must contain at least one word: letters or digits (punctuation and search operators are not words)",
            ),
            (
                Some(json!("x".repeat(10 * 1024))),
                "Federation search q is 10240 bytes; at most 1000: search for fewer or shorter words",
            ),
        ] {
            let e = parse_q(v.as_ref()).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidRequest);
            assert_eq!(e.envelope.error.message, message);
        }
    }
}
