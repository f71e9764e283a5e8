//! `GET /api/v1/search/:resource?q=&source=local|all|federated:<host>&limit=&cursor=`:
//! a user's search across this gateway and the peers they hold grants from.
//!
//! It is the query route (`crate::query`) with words: the same sources, peer
//! clients and refusal handling, the local half with the user's full native
//! access, each peer asked with its federation `search` verb. `q` is checked
//! here first, so words no source could search for are refused once, as the
//! caller's mistake, and never sent to a peer. With `all`, each source's rows
//! come best first within that source, local first, and no cursor.

use crate::auth::UserAuth;
use crate::error::ApiError;
use crate::extract::{Json, Path, Query};
use crate::http::{AppState, Input, Routes};
use crate::layers::ResponseDeadline;
use crate::query::{
    DEFAULT_LIMIT, LocalRead, MAX_LOCAL_LIMIT, Remote, UserPeers, local_page, parse_source,
    source_error, user_resource,
};
use axum::Extension;
use axum::extract::State;
use axum::http::Method;
use mosaic_federation::search_query::SearchQuery;
use mosaic_federation_client::{QuerySource, QuerySourceRouter, Row};
use mosaic_types::{FederationListResponse, FederationSearchRequest};
use serde::Deserialize;

/// The search route.
pub(crate) fn routes() -> Routes {
    Routes::new().add(
        Method::GET,
        "/api/v1/search/{resource}",
        Input::Query,
        search,
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchParams {
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
    #[serde(default)]
    cursor: Option<String>,
}

/// The handler. Peers are asked with the request's own deadline, as for a
/// query.
pub(crate) async fn search(
    user: UserAuth,
    State(state): State<AppState>,
    deadline: Option<Extension<ResponseDeadline>>,
    Path(resource): Path<String>,
    Query(params): Query<SearchParams>,
) -> Result<Json<FederationListResponse<Row>>, ApiError> {
    let parsed = user_resource(&resource, "searched")?;
    let q = params
        .q
        .ok_or_else(|| ApiError::invalid("q is required: the words to search for (`?q=…`)"))?;
    let words = SearchQuery::parse(&q).map_err(|e| ApiError::invalid(e.to_string()))?;
    let source = parse_source(params.source.as_deref())?;
    let limit = params
        .limit
        .unwrap_or(DEFAULT_LIMIT)
        .clamp(1, MAX_LOCAL_LIMIT);
    // A cursor belongs to one source: locally it is ours, for a peer it is
    // theirs; `all` never pages.
    let remote_cursor = matches!(source, QuerySource::Federated(_))
        .then(|| params.cursor.clone())
        .flatten();
    let local_cursor = matches!(source, QuerySource::Local)
        .then(|| params.cursor.clone())
        .flatten();
    // Peers get q as given: they parse it as this gateway did.
    let request = FederationSearchRequest {
        q,
        limit: Some(limit),
        cursor: remote_cursor,
    };
    let router = QuerySourceRouter::new(
        UserPeers {
            state: state.clone(),
            user_id: user.user_id.clone(),
        },
        Remote {
            state: state.clone(),
            deadline: deadline.map(|d| d.for_work()),
        },
    );
    let local_state = state.clone();
    let local_user = user.user_id.clone();
    let local_words = words.clone();
    let local = move || async move {
        local_page(
            &local_state,
            &local_user,
            parsed,
            limit,
            local_cursor,
            LocalRead::Search(&local_words),
        )
        .await
    };
    let page = router
        .search(&source, parsed.as_str(), &request, local)
        .await
        .map_err(source_error)?;
    Ok(Json(page))
}
