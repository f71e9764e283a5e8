//! `/api/fleet/v1/backlog/…`: the native backlog over HTTP, so agents on other
//! hosts claim work through the gateway and never hold database credentials.
//! Any live token (user or admin) may use it.
//!
//! Also the sweeper: a background task that returns lapsed claims to `ready`.

use crate::auth::AnyAuth;
use crate::error::ApiError;
use crate::extract::{Json, Path, Query};
use crate::http::{AppState, Input, Routes};
use axum::extract::State;
use axum::http::Method;
use mosaic_backlog::api::{
    self, CardAction, CompleteBody, FailBody, LinkBody, OwnerBody, ReclaimBody, RenewBody,
};
use mosaic_backlog::{
    Backlog, BacklogError, Card, CardId, ClaimRequest, Completion, ListFilter, NewCard,
    ReclaimResult, Stats,
};
use mosaic_store::Store;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Backlog routes.
pub(crate) fn routes() -> Routes {
    use Input::{Json as Body, Nothing, Query as Filter};
    Routes::new()
        .add(Method::POST, api::CARDS, Body, create)
        .add(Method::GET, api::CARDS, Filter, list)
        .add(Method::GET, api::CARD, Nothing, get_card)
        .add(Method::POST, api::CLAIM, Body, claim)
        .add(Method::POST, api::RECLAIM, Body, reclaim)
        .add(Method::GET, api::STATS, Nothing, stats)
        .add(Method::POST, CardAction::Renew.route(), Body, renew)
        .add(Method::POST, CardAction::Release.route(), Body, release)
        .add(Method::POST, CardAction::Link.route(), Body, link)
        .add(Method::POST, CardAction::Block.route(), Nothing, block)
        .add(Method::POST, CardAction::Unblock.route(), Nothing, unblock)
        .add(Method::POST, CardAction::Complete.route(), Body, complete)
        .add(Method::POST, CardAction::Fail.route(), Body, fail)
}

fn backlog(state: &AppState) -> Backlog {
    Backlog::new(state.store())
}

/// A backlog answer.
type Reply<T> = Result<Json<T>, ApiError>;

async fn create(
    _auth: AnyAuth,
    State(state): State<AppState>,
    Json(card): Json<NewCard>,
) -> Reply<Card> {
    Ok(Json(backlog(&state).create(card).await?))
}

async fn list(
    _auth: AnyAuth,
    State(state): State<AppState>,
    Query(filter): Query<ListFilter>,
) -> Reply<Vec<Card>> {
    Ok(Json(backlog(&state).list(&filter).await?))
}

async fn get_card(
    _auth: AnyAuth,
    State(state): State<AppState>,
    Path(id): Path<CardId>,
) -> Reply<Card> {
    match backlog(&state).get(&id).await? {
        Some(card) => Ok(Json(card)),
        None => Err(BacklogError::NotFound { id }.into()),
    }
}

/// Answers the card, or `null` when nothing was claimable.
async fn claim(
    _auth: AnyAuth,
    State(state): State<AppState>,
    Json(req): Json<ClaimRequest>,
) -> Reply<Option<Card>> {
    Ok(Json(backlog(&state).claim(&req).await?))
}

async fn reclaim(
    _auth: AnyAuth,
    State(state): State<AppState>,
    Json(body): Json<ReclaimBody>,
) -> Reply<ReclaimResult> {
    Ok(Json(backlog(&state).reclaim(body.id.as_ref()).await?))
}

async fn stats(_auth: AnyAuth, State(state): State<AppState>) -> Reply<Stats> {
    Ok(Json(backlog(&state).stats().await?))
}

async fn renew(
    _auth: AnyAuth,
    State(state): State<AppState>,
    Path(id): Path<CardId>,
    Json(body): Json<RenewBody>,
) -> Reply<Card> {
    let card = backlog(&state)
        .renew(&id, &body.owner, body.ttl_seconds)
        .await?;
    Ok(Json(card))
}

async fn release(
    _auth: AnyAuth,
    State(state): State<AppState>,
    Path(id): Path<CardId>,
    Json(body): Json<OwnerBody>,
) -> Reply<Card> {
    Ok(Json(backlog(&state).release(&id, &body.owner).await?))
}

async fn link(
    _auth: AnyAuth,
    State(state): State<AppState>,
    Path(id): Path<CardId>,
    Json(body): Json<LinkBody>,
) -> Reply<Card> {
    Ok(Json(backlog(&state).link(&id, &body.to).await?))
}

async fn block(
    _auth: AnyAuth,
    State(state): State<AppState>,
    Path(id): Path<CardId>,
) -> Reply<Card> {
    Ok(Json(backlog(&state).block(&id).await?))
}

async fn unblock(
    _auth: AnyAuth,
    State(state): State<AppState>,
    Path(id): Path<CardId>,
) -> Reply<Card> {
    Ok(Json(backlog(&state).unblock(&id).await?))
}

async fn complete(
    _auth: AnyAuth,
    State(state): State<AppState>,
    Path(id): Path<CardId>,
    Json(body): Json<CompleteBody>,
) -> Reply<Card> {
    let by = match (body.owner, body.force) {
        (_, true) => Completion::Forced,
        (Some(owner), false) => Completion::Owner(owner),
        (None, false) => {
            return Err(ApiError::invalid(
                "complete needs the claim's `owner`, or `force: true` to complete it regardless",
            ));
        }
    };
    Ok(Json(backlog(&state).complete(&id, &by).await?))
}

async fn fail(
    _auth: AnyAuth,
    State(state): State<AppState>,
    Path(id): Path<CardId>,
    Json(body): Json<FailBody>,
) -> Reply<Card> {
    Ok(Json(
        backlog(&state).fail(&id, &body.owner, &body.error).await?,
    ))
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
