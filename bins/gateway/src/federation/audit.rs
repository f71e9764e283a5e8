//! The federation audit layer: the outermost layer of the federation router,
//! outside the request limits too, so every request that reaches the HTTP
//! layer is recorded, a shed 503 or a 413 as much as a served `list`.
//!
//! For each request it takes the trace from a valid W3C `traceparent`
//! header (or starts one), times the request, and then builds the
//! [`AuditRecord`] from the path, the answer's status, and what the answer
//! carries as extensions: the envelope's [`ErrorCode`], the verb's
//! [`VerbOutcome`] (rows, target) and the auth layer's [`PeerFacts`]. The
//! remote address comes from the connection. The record goes to the
//! [`AuditWriter`] before the answer leaves (a full queue holds the answer
//! back: back-pressure, by design), and the answer carries the trace back in
//! its own `traceparent` header.
//!
//! [`spawn_pruner`] removes rows older than the retention at start and then
//! hourly.

use super::VerbOutcome;
use crate::listen::ConnInfo;
use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use mosaic_federation::audit::{AuditLog, AuditRecord, TraceContext};
/// The writer [`crate::AppState::with_audit`] takes.
pub use mosaic_federation::audit::{AuditStats, AuditWriter};
use mosaic_store::Store;
use mosaic_types::{ErrorCode, GrantId, PeerId, UserId};
use std::num::NonZeroU32;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tracing::Instrument as _;

/// The W3C Trace Context header, read from requests and set on answers.
pub const TRACEPARENT: &str = "traceparent";

/// How often old audit rows are pruned.
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// What the auth layer learned about the caller, set on every answer it
/// makes, allowed or refused, for the audit layer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerFacts {
    /// Serial of the presented leaf certificate, when it parses (even if
    /// the chain was refused).
    pub cert_serial: Option<String>,
    /// The grant: claimed by a verified certificate, or resolved.
    pub grant_id: Option<GrantId>,
    /// The peer: claimed by a verified certificate, or resolved.
    pub peer_id: Option<PeerId>,
    /// The subject user: claimed by a verified certificate, or resolved.
    pub subject_user_id: Option<UserId>,
}

/// The middleware (see the module docs).
pub async fn record(State(writer): State<AuditWriter>, request: Request, next: Next) -> Response {
    let occurred_at = chrono::Utc::now();
    let started = Instant::now();
    let trace = TraceContext::from_traceparent(
        request
            .headers()
            .get(TRACEPARENT)
            .and_then(|v| v.to_str().ok()),
    );
    let path = request.uri().path().to_owned();
    let remote = request.extensions().get::<ConnInfo>().map(|c| c.remote);
    let span = tracing::info_span!("federation_request", trace_id = %trace.trace_id);
    let mut response = next.run(request).instrument(span).await;

    let mut rec = AuditRecord::new(
        &path,
        occurred_at,
        response.status().as_u16(),
        started.elapsed(),
        trace.trace_id.clone(),
    );
    rec.remote_addr = remote;
    let extensions = response.extensions();
    rec.error_code = extensions.get::<ErrorCode>().copied();
    if let Some(outcome) = extensions.get::<VerbOutcome>() {
        rec.rows = outcome.rows;
        if let Some(target) = &outcome.target {
            rec = rec.with_target(target);
        }
    }
    if let Some(facts) = response.extensions().get::<PeerFacts>().cloned() {
        rec.cert_serial = facts.cert_serial;
        rec.grant_id = facts.grant_id;
        rec.peer_id = facts.peer_id;
        rec.subject_user_id = facts.subject_user_id;
    }
    // Lowercase hex and dashes: always a valid header value.
    if let Ok(value) = HeaderValue::from_str(&trace.traceparent()) {
        response.headers_mut().insert(TRACEPARENT, value);
    }
    writer.record(rec).await;
    response
}

/// Prunes audit rows older than `retention_days` now and every
/// [`PRUNE_EVERY`], logging how many went, until `stop` turns true.
pub fn spawn_pruner(
    store: Store,
    retention_days: NonZeroU32,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(PRUNE_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            let cutoff =
                chrono::Utc::now() - chrono::Duration::days(i64::from(retention_days.get()));
            let log = AuditLog::new(store.conn());
            let pruned = tokio::select! {
                pruned = log.prune_older_than(cutoff) => pruned,
                _ = stop.wait_for(|s| *s) => return,
            };
            match pruned {
                Ok(rows) => tracing::info!(
                    rows,
                    retention_days = retention_days.get(),
                    "federation audit rows pruned"
                ),
                Err(e) => tracing::warn!(
                    error = %e,
                    "pruning federation audit rows failed; trying again within the hour"
                ),
            }
        }
    })
}
