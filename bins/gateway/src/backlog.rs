//! `/api/fleet/v1/backlog/…`: the native backlog over HTTP, so agents on other
//! hosts claim work through the gateway and never hold database credentials.
//! Any live token (user or admin) may use it.
//!
//! Also the sweeper: a background task that returns lapsed claims to `ready`.

use crate::auth::AnyAuth;
use crate::http::{AppState, error};
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use mosaic_backlog::api::{
    self, CardAction, CompleteBody, FailBody, LinkBody, OwnerBody, ReclaimBody, RenewBody,
};
use mosaic_backlog::{
    Backlog, BacklogError, CardId, ClaimRequest, Completion, ListFilter, NewCard,
};
use mosaic_store::Store;
use mosaic_types::ErrorCode;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Backlog routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(api::CARDS, post(create).get(list))
        .route(api::CARD, get(get_card))
        .route(api::CLAIM, post(claim))
        .route(api::RECLAIM, post(reclaim))
        .route(api::STATS, get(stats))
        .route(CardAction::Renew.route(), post(renew))
        .route(CardAction::Release.route(), post(release))
        .route(CardAction::Link.route(), post(link))
        .route(CardAction::Block.route(), post(block))
        .route(CardAction::Unblock.route(), post(unblock))
        .route(CardAction::Complete.route(), post(complete))
        .route(CardAction::Fail.route(), post(fail))
}

fn backlog(state: &AppState) -> Backlog {
    Backlog::new(state.store())
}

/// A JSON body whose rejection is the error envelope, not axum's plain text.
pub(crate) struct Body<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = Response;
    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Body(value)),
            Err(e) => Err(bad_body(&e)),
        }
    }
}

fn bad_body(e: &JsonRejection) -> Response {
    error(
        ErrorCode::InvalidRequest,
        format!("invalid request body: {}", e.body_text()),
    )
}

/// The `{id}` path segment as a [`CardId`], rejected with the envelope.
struct Id(CardId);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        match axum::extract::Path::<CardId>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(id)) => Ok(Id(id)),
            Err(e) => Err(bad_path(&e)),
        }
    }
}

fn bad_path(e: &PathRejection) -> Response {
    error(
        ErrorCode::InvalidRequest,
        format!("invalid card id: {}", e.body_text()),
    )
}

/// The list filter from the query string, rejected with the envelope.
struct Filter(ListFilter);

impl<S: Send + Sync> FromRequestParts<S> for Filter {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        match axum::extract::Query::<ListFilter>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(filter)) => Ok(Filter(filter)),
            Err(e) => Err(bad_query(&e)),
        }
    }
}

fn bad_query(e: &QueryRejection) -> Response {
    error(
        ErrorCode::InvalidRequest,
        format!("invalid list filter: {}", e.body_text()),
    )
}

/// A result as a response: the value as JSON, or the error's envelope.
fn reply<T: Serialize>(result: Result<T, BacklogError>) -> Response {
    match result {
        Ok(value) => Json(value).into_response(),
        Err(e) => backlog_error(&e),
    }
}

/// The status each backlog error travels with.
pub(crate) fn error_code(err: &BacklogError) -> ErrorCode {
    match err {
        BacklogError::Invalid(_)
        | BacklogError::SelfDependency { .. }
        | BacklogError::Cycle { .. } => ErrorCode::InvalidRequest,
        BacklogError::NotFound { .. } | BacklogError::DependencyNotFound { .. } => {
            ErrorCode::NotFound
        }
        BacklogError::DuplicateId { .. }
        | BacklogError::WrongOwner { .. }
        | BacklogError::WrongStatus { .. } => ErrorCode::Conflict,
        BacklogError::Corrupt { .. } | BacklogError::Db(_) => ErrorCode::Internal,
    }
}

fn backlog_error(err: &BacklogError) -> Response {
    let code = error_code(err);
    if code == ErrorCode::Internal {
        tracing::error!(error = %err, "backlog operation failed");
    }
    error(code, err.to_string())
}

async fn create(
    _auth: AnyAuth,
    State(state): State<AppState>,
    Body(card): Body<NewCard>,
) -> Response {
    reply(backlog(&state).create(card).await)
}

async fn list(_auth: AnyAuth, State(state): State<AppState>, Filter(filter): Filter) -> Response {
    reply(backlog(&state).list(&filter).await)
}

async fn get_card(_auth: AnyAuth, State(state): State<AppState>, Id(id): Id) -> Response {
    match backlog(&state).get(&id).await {
        Ok(Some(card)) => Json(card).into_response(),
        Ok(None) => backlog_error(&BacklogError::NotFound { id }),
        Err(e) => backlog_error(&e),
    }
}

/// Answers the card, or `null` when nothing was claimable.
async fn claim(
    _auth: AnyAuth,
    State(state): State<AppState>,
    Body(req): Body<ClaimRequest>,
) -> Response {
    reply(backlog(&state).claim(&req).await)
}

async fn reclaim(
    _auth: AnyAuth,
    State(state): State<AppState>,
    Body(body): Body<ReclaimBody>,
) -> Response {
    reply(backlog(&state).reclaim(body.id.as_ref()).await)
}

async fn stats(_auth: AnyAuth, State(state): State<AppState>) -> Response {
    reply(backlog(&state).stats().await)
}

async fn renew(
    _auth: AnyAuth,
    State(state): State<AppState>,
    Id(id): Id,
    Body(body): Body<RenewBody>,
) -> Response {
    reply(
        backlog(&state)
            .renew(&id, &body.owner, body.ttl_seconds)
            .await,
    )
}

async fn release(
    _auth: AnyAuth,
    State(state): State<AppState>,
    Id(id): Id,
    Body(body): Body<OwnerBody>,
) -> Response {
    reply(backlog(&state).release(&id, &body.owner).await)
}

async fn link(
    _auth: AnyAuth,
    State(state): State<AppState>,
    Id(id): Id,
    Body(body): Body<LinkBody>,
) -> Response {
    reply(backlog(&state).link(&id, &body.to).await)
}

async fn block(_auth: AnyAuth, State(state): State<AppState>, Id(id): Id) -> Response {
    reply(backlog(&state).block(&id).await)
}

async fn unblock(_auth: AnyAuth, State(state): State<AppState>, Id(id): Id) -> Response {
    reply(backlog(&state).unblock(&id).await)
}

async fn complete(
    _auth: AnyAuth,
    State(state): State<AppState>,
    Id(id): Id,
    Body(body): Body<CompleteBody>,
) -> Response {
    let by = match (body.owner, body.force) {
        (_, true) => Completion::Forced,
        (Some(owner), false) => Completion::Owner(owner),
        (None, false) => {
            return error(
                ErrorCode::InvalidRequest,
                "complete needs the claim's `owner`, or `force: true` to complete it regardless",
            );
        }
    };
    reply(backlog(&state).complete(&id, &by).await)
}

async fn fail(
    _auth: AnyAuth,
    State(state): State<AppState>,
    Id(id): Id,
    Body(body): Body<FailBody>,
) -> Response {
    reply(backlog(&state).fail(&id, &body.owner, &body.error).await)
}

/// Environment variable setting how often the sweeper runs, in seconds
/// (fractions allowed); `0` turns it off.
pub const SWEEP_INTERVAL_ENV: &str = "MOSAIC_BACKLOG_SWEEP_SECS";

/// How often the sweeper runs unless told otherwise.
pub const DEFAULT_SWEEP_INTERVAL: Duration = Duration::from_secs(30);

/// Parses the sweep interval: unset means the default, `0` means off.
pub fn parse_sweep_interval(value: Option<&str>) -> Result<Option<Duration>, String> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(Some(DEFAULT_SWEEP_INTERVAL));
    };
    let secs: f64 = value.parse().map_err(|_| {
        format!("{SWEEP_INTERVAL_ENV}=`{value}` is not a number of seconds (e.g. 30 or 0.5; 0 turns the sweeper off)")
    })?;
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!(
            "{SWEEP_INTERVAL_ENV}=`{value}` must be zero or a positive number of seconds"
        ));
    }
    if secs == 0.0 {
        return Ok(None);
    }
    Duration::try_from_secs_f64(secs)
        .map(Some)
        .map_err(|e| format!("{SWEEP_INTERVAL_ENV}=`{value}`: {e}"))
}

/// The sweep interval from the environment.
pub fn sweep_interval_from_env() -> Result<Option<Duration>, String> {
    let value = std::env::var(SWEEP_INTERVAL_ENV).ok();
    parse_sweep_interval(value.as_deref())
}

/// Starts the sweeper: every `every`, lapsed claims go back to `ready`. It
/// stops when `stop` turns true or its sender is dropped. With `every` absent
/// the task ends at once.
pub fn spawn_sweeper(
    store: Store,
    every: Option<Duration>,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let Some(every) = every else {
            tracing::info!("backlog sweeper is off ({SWEEP_INTERVAL_ENV}=0)");
            return;
        };
        tracing::info!(every = ?every, "backlog sweeper started");
        let backlog = Backlog::new(&store);
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() {
                        break;
                    }
                }
                _ = ticks.tick() => {
                    // A failed sweep (say, storage briefly down) is retried on
                    // the next tick; claims only lapse later, never get lost.
                    if let Err(e) = backlog.reclaim(None).await {
                        tracing::warn!(error = %e, "backlog sweep failed");
                    }
                }
            }
        }
        tracing::info!("backlog sweeper stopped");
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_intervals_parse_seconds_and_zero_turns_it_off() {
        assert_eq!(parse_sweep_interval(None), Ok(Some(DEFAULT_SWEEP_INTERVAL)));
        assert_eq!(
            parse_sweep_interval(Some(" ")),
            Ok(Some(DEFAULT_SWEEP_INTERVAL))
        );
        assert_eq!(
            parse_sweep_interval(Some("0.25")),
            Ok(Some(Duration::from_millis(250)))
        );
        assert_eq!(parse_sweep_interval(Some("0")), Ok(None));
        for bad in ["soon", "-1", "NaN", "inf"] {
            let err = parse_sweep_interval(Some(bad)).unwrap_err();
            assert!(
                err.contains(SWEEP_INTERVAL_ENV) && err.contains(bad),
                "{err}"
            );
        }
    }

    #[test]
    fn errors_map_to_the_codes_clients_act_on() {
        let id = CardId::new("c").unwrap();
        let owner = mosaic_backlog::Owner::new("w").unwrap();
        for (err, code) in [
            (
                BacklogError::NotFound { id: id.clone() },
                ErrorCode::NotFound,
            ),
            (
                BacklogError::WrongOwner {
                    id: id.clone(),
                    owner,
                    holder: None,
                },
                ErrorCode::Conflict,
            ),
            (
                BacklogError::SelfDependency { id: id.clone() },
                ErrorCode::InvalidRequest,
            ),
            (BacklogError::DuplicateId { id }, ErrorCode::Conflict),
        ] {
            assert_eq!(error_code(&err), code, "{err}");
        }
    }

    #[tokio::test]
    async fn the_sweeper_stops_when_told() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&mosaic_store::StoreOptions::embedded(dir.path()))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let (tx, rx) = watch::channel(false);
        let task = spawn_sweeper(store.clone(), Some(Duration::from_millis(10)), rx);
        tokio::time::sleep(Duration::from_millis(50)).await;
        tx.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the sweeper stops within its tick")
            .unwrap();

        let (tx, rx) = watch::channel(false);
        let task = spawn_sweeper(store, Some(Duration::from_secs(3600)), rx);
        drop(tx);
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("a dropped sender stops it too")
            .unwrap();
    }
}
