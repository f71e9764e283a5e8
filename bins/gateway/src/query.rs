//! `GET /api/v1/query/:resource?source=local|all|federated:<host>`: a user's
//! view across this gateway and the peers they hold grants from. The peer
//! clients, the directory of a user's peers and the local half here also
//! serve the user's searches (`crate::search`).
//!
//! Local rows come from the same query layer peers are served by, with the
//! user's full native access. Remote rows come from the outbound peers this
//! user enrolled (never another user's), through cached mTLS clients whose
//! keys are unsealed in memory only.
//!
//! A peer that refuses our certificate and says why (its grant was revoked
//! or expired, it suspended or revoked us) is reported in those words,
//! naming the peer: 403 for `federated:<peer>`, an entry in `_partialDetails`
//! for `all`. A final refusal also marks the outbound peer `refused`
//! (through `mosaic-grants`, with its audit row); it is not asked again, and
//! its queries answer with the recorded refusal, until an admin activates it
//! or a new enrollment under its name replaces it.

use crate::auth::UserAuth;
use crate::error::ApiError;
use crate::extract::{Json, Path, Query};
use crate::http::{AppState, Input, Routes};
use crate::layers::ResponseDeadline;
use axum::Extension;
use axum::extract::State;
use axum::http::Method;
use mosaic_federation::query::{FederationQueries, QueryError, Verb};
use mosaic_federation::search_query::SearchQuery;
use mosaic_federation_client::{
    ClientErrorCode, FederationClientError, LocalQueryError, OutboundPeer as RoutedPeer,
    PeerClient, PeerClientConfig, PeerDirectory, QuerySource, QuerySourceErrorCode,
    QuerySourceRouter, RemoteLister, Row, SourceRequest,
};
use mosaic_grants::{Grants, OutboundPeer};
use mosaic_scope::{NativeRbac, NativeRbacRequest, QueryFilter};
use mosaic_types::{
    ErrorCode, ErrorEnvelope, FederationListRequest, FederationListResponse, FederationRefusal,
    FederationResource, PeerId, PeerState, UserId,
};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Largest page a local query returns.
pub(crate) const MAX_LOCAL_LIMIT: u32 = 500;
/// Page size when none is asked for.
pub(crate) const DEFAULT_LIMIT: u32 = 50;

/// The purpose string outbound client keys are sealed under.
pub fn client_key_purpose(peer_id: &str) -> String {
    format!("federation-client-key:{peer_id}")
}

/// A built client and the `updated_at` of the peer row it was built from.
type CachedClient = (chrono::DateTime<chrono::Utc>, PeerClient);

/// mTLS clients per outbound peer, rebuilt when the peer row changes.
#[derive(Debug, Clone, Default)]
pub struct PeerClients {
    inner: Arc<Mutex<HashMap<PeerId, CachedClient>>>,
}

fn config_error(peer: &str, message: String) -> FederationClientError {
    FederationClientError {
        code: mosaic_federation_client::ClientErrorCode::Config,
        message,
        peer: peer.to_owned(),
        status: None,
        envelope: None,
        retry_after: None,
    }
}

impl PeerClients {
    fn get_or_build(
        &self,
        state: &AppState,
        peer: &OutboundPeer,
    ) -> Result<PeerClient, FederationClientError> {
        let name = peer.common_name.as_str();
        if let Ok(cache) = self.inner.lock()
            && let Some((stamp, client)) = cache.get(&peer.id)
            && *stamp == peer.updated_at
        {
            return Ok(client.clone());
        }
        let pki = state
            .pki()
            .ok_or_else(|| config_error(name, "this gateway has no PKI".into()))?;
        let key = pki
            .sealer
            .unseal(
                &client_key_purpose(peer.id.as_str()),
                &peer.sealed_client_key,
            )
            .map_err(|e| config_error(name, format!("cannot unseal the client key: {e}")))?;
        let key = String::from_utf8(key.to_vec())
            .map_err(|_| config_error(name, "client key is not PEM".into()))?;
        let client = PeerClient::new(PeerClientConfig::new(
            name,
            peer.endpoint_url.clone(),
            peer.ca_pem.clone().unwrap_or_default(),
            peer.cert_pem.clone(),
            key,
        ))?;
        if let Ok(mut cache) = self.inner.lock() {
            cache.insert(peer.id.clone(), (peer.updated_at, client.clone()));
        }
        Ok(client)
    }
}

/// The outbound peers one local user's queries name: usable ones, and those
/// that refused our grant (reported, not asked).
pub(crate) struct UserPeers {
    pub(crate) state: AppState,
    pub(crate) user_id: String,
}

impl PeerDirectory for UserPeers {
    async fn outbound_peers(&self) -> Result<Vec<RoutedPeer>, String> {
        let user_id = UserId::new(self.user_id.as_str()).map_err(|e| e.to_string())?;
        Ok(Grants::new(self.state.store().conn())
            .peers_a_user_queries(&user_id)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|p| RoutedPeer {
                id: p.id.into_inner(),
                common_name: p.common_name,
                endpoint_url: p.endpoint_url,
            })
            .collect())
    }
}

/// Asks a peer through its cached client, giving up by `deadline`.
pub(crate) struct Remote {
    pub(crate) state: AppState,
    pub(crate) deadline: Option<Instant>,
}

impl RemoteLister for Remote {
    async fn fetch(
        &self,
        peer: &RoutedPeer,
        resource: &str,
        request: &SourceRequest,
    ) -> Result<FederationListResponse<Row>, FederationClientError> {
        let peer = self.peer(&peer.id, &peer.common_name).await?;
        if let Some(refused) = recorded_refusal(&peer) {
            return Err(refused);
        }
        let mut client = client_for(&self.state, &peer)?;
        if let Some(deadline) = self.deadline {
            client = client.with_deadline(deadline);
        }
        match client.fetch(resource, request).await {
            Ok(page) => Ok(page),
            Err(e) => Err(observe_refusal(&self.state, &peer, e).await),
        }
    }
}

impl Remote {
    async fn peer(&self, peer_id: &str, name: &str) -> Result<OutboundPeer, FederationClientError> {
        let gone = || config_error(name, "peer disappeared".into());
        let id = PeerId::new(peer_id).map_err(|_| gone())?;
        Grants::new(self.state.store().conn())
            .outbound_peer(&id)
            .await
            .map_err(|_| gone())
    }
}

/// What to tell the user about a refusal by `peer`, and how to get past it.
fn refusal_message(peer: &str, refusal: FederationRefusal) -> String {
    let what = refusal.describe(peer);
    if refusal.is_final() {
        format!(
            "{what}; peer {peer} is marked refused here until you enroll again with a new code from its admin (`mosaic federation peer enroll --name {peer} …`) or activate it (`mosaic federation peer activate <id>`)"
        )
    } else {
        format!("{what}; ask its admin to activate this gateway again")
    }
}

/// A refusal as the error a peer answered with: 403 `forbidden`, the
/// refusal in the envelope's details, the message in the user's terms.
fn refusal_error(
    peer: &str,
    refusal: FederationRefusal,
    status: Option<u16>,
) -> FederationClientError {
    FederationClientError {
        code: ClientErrorCode::Forbidden,
        message: refusal_message(peer, refusal),
        peer: peer.to_owned(),
        status,
        envelope: Some(Box::new(
            ErrorEnvelope::new(ErrorCode::Forbidden, refusal.server_message())
                .with_details(refusal.details()),
        )),
        retry_after: None,
    }
}

/// The refusal recorded for a peer marked refused, answered without asking
/// it; `None` for a peer in any other state.
fn recorded_refusal(peer: &OutboundPeer) -> Option<FederationClientError> {
    let name = peer.common_name.as_str();
    match (peer.state, peer.refusal) {
        (PeerState::Refused, Some(refusal)) => Some(refusal_error(name, refusal, None)),
        (PeerState::Refused, None) => Some(FederationClientError {
            code: ClientErrorCode::Forbidden,
            message: format!(
                "peer {name} is marked refused here: enroll again with a new code from its admin, or activate it (`mosaic federation peer activate <id>`)"
            ),
            peer: name.to_owned(),
            status: None,
            envelope: None,
            retry_after: None,
        }),
        _ => None,
    }
}

/// A peer's failed answer, reworded when the peer said why it refused us,
/// and, for a final refusal, recorded: the peer becomes `refused`.
async fn observe_refusal(
    state: &AppState,
    peer: &OutboundPeer,
    e: FederationClientError,
) -> FederationClientError {
    let Some(refusal) = e
        .envelope
        .as_deref()
        .and_then(FederationRefusal::from_envelope)
    else {
        return e;
    };
    if refusal.is_final() {
        let recorded = Grants::new(state.store().conn())
            .acting_as("gateway")
            .refuse_outbound_peer(&peer.id, refusal, chrono::Utc::now())
            .await;
        match recorded {
            Ok(_) => tracing::warn!(
                peer = %peer.common_name, id = %peer.id, %refusal,
                "outbound peer refused our grant; marked refused"
            ),
            Err(err) => tracing::error!(
                peer = %peer.common_name, id = %peer.id, %refusal, error = %err,
                "outbound peer refused our grant; recording it failed"
            ),
        }
    }
    refusal_error(&peer.common_name, refusal, e.status)
}

/// Capabilities of an outbound peer, for the admin API: a refusal is worded
/// and recorded as for a query.
pub async fn capabilities(
    state: &AppState,
    peer: &OutboundPeer,
) -> Result<mosaic_types::FederationCapabilitiesResponse, FederationClientError> {
    if let Some(refused) = recorded_refusal(peer) {
        return Err(refused);
    }
    let client = client_for(state, peer)?;
    match client.capabilities().await {
        Ok(caps) => Ok(caps),
        Err(e) => Err(observe_refusal(state, peer, e).await),
    }
}

/// A client for one outbound peer (admin tools use it for capabilities).
pub fn client_for(
    state: &AppState,
    peer: &OutboundPeer,
) -> Result<PeerClient, FederationClientError> {
    state.peer_clients().get_or_build(state, peer)
}

/// The query route.
pub(crate) fn routes() -> Routes {
    Routes::new().add(Method::GET, "/api/v1/query/{resource}", Input::Query, query)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QueryParams {
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
    #[serde(default)]
    cursor: Option<String>,
}

/// What the local half of a user's query reads.
#[derive(Debug, Clone, Copy)]
pub(crate) enum LocalRead<'a> {
    /// A page of the listing, newest first.
    List,
    /// A page of the rows holding every word, best match first.
    Search(&'a SearchQuery),
}

/// The user's own rows, as this gateway would serve them to the user: the
/// user's full native access, through the same queries peers are served by.
pub(crate) async fn local_page(
    state: &AppState,
    user_id: &str,
    resource: FederationResource,
    limit: u32,
    cursor: Option<String>,
    read: LocalRead<'_>,
) -> Result<FederationListResponse<Row>, LocalQueryError> {
    let user_id = UserId::new(user_id).map_err(|e| LocalQueryError::Failed(e.to_string()))?;
    let verb = match read {
        LocalRead::List => Verb::List,
        LocalRead::Search(_) => Verb::Search,
    };
    let queries = FederationQueries::new(state.store().conn(), verb);
    let native = queries
        .evaluate_read_access(&NativeRbacRequest {
            grant_id: None,
            peer_id: None,
            subject_user_id: user_id.clone(),
            resource,
        })
        .await
        .map_err(|d| LocalQueryError::Failed(d.reason.unwrap_or_else(|| "not readable".into())))?;
    let filter = QueryFilter {
        resource,
        subject_user_id: user_id,
        include_personal: native.include_personal,
        team_ids: native.team_ids,
        limit,
        max_rows_per_query: MAX_LOCAL_LIMIT,
    };
    let page = match read {
        LocalRead::List => queries.list(&filter, cursor.as_deref()).await,
        LocalRead::Search(words) => queries.search(&filter, words, cursor.as_deref()).await,
    }
    .map_err(|e| match e {
        QueryError::InvalidCursor(_) => LocalQueryError::InvalidRequest(format!(
            "cursor: `{}` is not a cursor this gateway issued; pass the nextCursor of the previous page, or no cursor to start over",
            cursor.as_deref().unwrap_or_default()
        )),
        QueryError::ForeignCursor => LocalQueryError::InvalidRequest(
            "cursor: it belongs to another search; pass the nextCursor of the previous page of the same words and resource, or no cursor to start over".to_owned(),
        ),
        other => LocalQueryError::Failed(other.to_string()),
    })?;
    // Remote rows stay free-form JSON (a peer may send keys we do not know);
    // local rows join them as the JSON objects they are sent as.
    let items = page
        .items
        .into_iter()
        .map(|item| match serde_json::to_value(item) {
            Ok(serde_json::Value::Object(row)) => Ok(row),
            Ok(other) => Err(format!("a local row is not a JSON object: {other}")),
            Err(e) => Err(e.to_string()),
        })
        .collect::<Result<Vec<Row>, String>>()?;
    Ok(FederationListResponse {
        next_cursor: page.next_cursor,
        truncated: page.truncated,
        ..FederationListResponse::complete(items)
    })
}

/// A resource a user may query or search: one of tasks, notes, memory.
/// Credentials and API keys are never listed nor searched (403).
pub(crate) fn user_resource(resource: &str, verb: &str) -> Result<FederationResource, ApiError> {
    let parsed: FederationResource = resource.parse().map_err(|_| {
        ApiError::invalid(format!(
            "unknown resource `{resource}` (expected tasks, notes or memory)"
        ))
    })?;
    if parsed.is_secret() {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            format!("{parsed} are never {verb}"),
        ));
    }
    Ok(parsed)
}

/// The `source` parameter (default `local`).
pub(crate) fn parse_source(source: Option<&str>) -> Result<QuerySource, ApiError> {
    source
        .unwrap_or("local")
        .parse()
        .map_err(|e: mosaic_federation_client::QuerySourceError| ApiError::invalid(e.message))
}

/// The handler. Peers are asked with the request's own deadline, less the
/// time to answer: a peer that rate limits us is waited for only while the
/// user's request can still be answered.
pub(crate) async fn query(
    user: UserAuth,
    State(state): State<AppState>,
    deadline: Option<Extension<ResponseDeadline>>,
    Path(resource): Path<String>,
    Query(params): Query<QueryParams>,
) -> Result<Json<FederationListResponse<Row>>, ApiError> {
    let parsed = user_resource(&resource, "listed")?;
    let source = parse_source(params.source.as_deref())?;
    let limit = params
        .limit
        .unwrap_or(DEFAULT_LIMIT)
        .clamp(1, MAX_LOCAL_LIMIT);
    // `all` never pages: one cursor cannot span sources.
    let remote_cursor = matches!(source, QuerySource::Federated(_))
        .then(|| params.cursor.clone())
        .flatten();
    let request = FederationListRequest {
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
    // A cursor belongs to one source: locally it is ours, for a peer it is theirs.
    let local_cursor = matches!(source, QuerySource::Local)
        .then(|| params.cursor.clone())
        .flatten();
    let local = move || async move {
        local_page(
            &local_state,
            &local_user,
            parsed,
            limit,
            local_cursor,
            LocalRead::List,
        )
        .await
    };
    let page = router
        .list(&source, parsed.as_str(), &request, local)
        .await
        .map_err(source_error)?;
    Ok(Json(page))
}

/// A failed query, with the peer's answer in the details when a peer failed.
///
/// A peer's refusal (403) and its verdict on our request (400, 404) are the
/// user's answer too; a peer that still rate limits us once the client gave
/// up is 429 `rate_limited` with the peer's wait in `Retry-After` and
/// `retryAfterSeconds`; a peer that could not be reached, timed out or
/// failed is `unavailable`.
pub(crate) fn source_error(e: mosaic_federation_client::QuerySourceError) -> ApiError {
    let peer = e.peer_error.as_ref();
    let code = match e.code {
        QuerySourceErrorCode::InvalidSource | QuerySourceErrorCode::InvalidRequest => {
            ErrorCode::InvalidRequest
        }
        QuerySourceErrorCode::PeerNotFound => ErrorCode::NotFound,
        QuerySourceErrorCode::PeerFailed => match peer.map(|p| p.code) {
            Some(ClientErrorCode::Forbidden) => ErrorCode::Forbidden,
            Some(ClientErrorCode::InvalidRequest) => ErrorCode::InvalidRequest,
            Some(ClientErrorCode::NotFound) => ErrorCode::NotFound,
            Some(ClientErrorCode::RateLimited) => ErrorCode::RateLimited,
            _ => ErrorCode::Unavailable,
        },
        QuerySourceErrorCode::LocalFailed | QuerySourceErrorCode::DirectoryFailed => {
            ErrorCode::Internal
        }
    };
    let refusal = peer
        .and_then(|p| p.envelope.as_deref())
        .and_then(FederationRefusal::from_envelope);
    let rate_limited = peer.filter(|p| p.code == ClientErrorCode::RateLimited);
    // A refusal's message already names the peer and says what to do; a
    // rate limit's names the peer and the wait.
    let message = match (refusal, peer) {
        (Some(_), Some(p)) => p.message.clone(),
        _ => match rate_limited {
            Some(p) => p.message.clone(),
            None => e.message.clone(),
        },
    };
    let mut error = ApiError::new(code, message);
    if let Some(wait) = rate_limited.and_then(|p| p.retry_after) {
        error = error.with_retry_after(wait);
    }
    match peer {
        Some(peer) => {
            let mut details = serde_json::json!({
                "peer": peer.peer, "peerCode": peer.code, "peerStatus": peer.status,
            });
            if let Some(refusal) = refusal {
                details["refusal"] = serde_json::json!(refusal);
            }
            if let Some(secs) = error.retry_after() {
                details["retryAfterSeconds"] = serde_json::json!(secs);
            }
            error.with_details(details)
        }
        None => error,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::response::IntoResponse as _;
    use mosaic_federation_client::QuerySourceError;
    use std::time::Duration;

    fn peer_failed(peer: FederationClientError) -> QuerySourceError {
        let mut e: QuerySourceError = "federated:".parse::<QuerySource>().unwrap_err();
        e.code = QuerySourceErrorCode::PeerFailed;
        e.source_name = "federated:work".into();
        e.message = peer.to_string();
        e.peer_error = Some(peer);
        e
    }

    #[tokio::test]
    async fn a_peer_that_still_rate_limits_us_is_a_429_with_its_wait() {
        let limited = FederationClientError {
            code: ClientErrorCode::RateLimited,
            message: "peer work is rate limiting this grant: retry in 27 s".into(),
            peer: "work".into(),
            status: Some(429),
            envelope: None,
            retry_after: Some(Duration::from_millis(26_500)),
        };
        let error = source_error(peer_failed(limited));
        assert_eq!(error.code(), ErrorCode::RateLimited);
        assert_eq!(
            error.message(),
            "peer work is rate limiting this grant: retry in 27 s"
        );
        assert_eq!(error.retry_after(), Some(27));
        let response = error.into_response();
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()["retry-after"], "27");
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            body["error"]["details"],
            serde_json::json!({"peer": "work", "peerCode": "RATE_LIMITED", "peerStatus": 429, "retryAfterSeconds": 27})
        );
    }

    #[test]
    fn other_peer_failures_carry_no_wait() {
        let down = FederationClientError {
            code: ClientErrorCode::Network,
            message: "connection refused".into(),
            peer: "work".into(),
            status: None,
            envelope: None,
            retry_after: None,
        };
        let error = source_error(peer_failed(down));
        assert_eq!(error.code(), ErrorCode::Unavailable);
        assert_eq!(error.retry_after(), None);
    }
}
