//! `GET /metrics` on the HTTP listener (admin token): the gateway's figures
//! in the Prometheus text exposition format (version 0.0.4), read at scrape
//! time. Today these are the federation audit writer's; a gateway built
//! without one reports none.

use crate::auth::AdminAuth;
use crate::http::{AppState, Input, Routes};
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use mosaic_federation::audit::AuditStats;
use std::fmt::Write as _;

/// The exposition format's content type.
pub const CONTENT_TYPE_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The metrics route.
pub(crate) fn routes() -> Routes {
    Routes::new().add(Method::GET, "/metrics", Input::Nothing, metrics)
}

async fn metrics(_admin: AdminAuth, State(state): State<AppState>) -> Response {
    let body = render(state.audit().map(|w| w.stats()));
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE_TEXT));
    response
}

/// One metric family: name, type, help, value.
struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    value: u64,
}

/// The exposition text of `audit`'s figures (nothing without a writer).
pub fn render(audit: Option<AuditStats>) -> String {
    let Some(s) = audit else {
        return String::new();
    };
    let families = [
        Family {
            name: "mosaic_federation_audit_queue_depth",
            kind: "gauge",
            help: "Federation audit rows recorded and not yet written.",
            value: s.queue_depth,
        },
        Family {
            name: "mosaic_federation_audit_rows_written_total",
            kind: "counter",
            help: "Federation audit rows written to the database.",
            value: s.rows_written,
        },
        Family {
            name: "mosaic_federation_audit_backpressure_waits_total",
            kind: "counter",
            help: "Federation requests that waited for room in the full audit queue.",
            value: s.backpressure_waits,
        },
        Family {
            name: "mosaic_federation_audit_write_failures_total",
            kind: "counter",
            help: "Failed federation audit batch writes (each retried).",
            value: s.write_failures,
        },
        Family {
            name: "mosaic_federation_audit_rows_lost_total",
            kind: "counter",
            help: "Federation audit rows that could not be written before shutdown.",
            value: s.rows_lost,
        },
    ];
    let mut out = String::new();
    for f in families {
        let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
        let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind);
        let _ = writeln!(out, "{} {}", f.name, f.value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_figure_has_its_help_type_and_value() {
        let text = render(Some(AuditStats {
            queue_depth: 3,
            rows_written: 120,
            backpressure_waits: 7,
            write_failures: 1,
            rows_lost: 0,
        }));
        assert!(text.ends_with('\n'));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 15);
        assert_eq!(
            lines[..3],
            [
                "# HELP mosaic_federation_audit_queue_depth Federation audit rows recorded and not yet written.",
                "# TYPE mosaic_federation_audit_queue_depth gauge",
                "mosaic_federation_audit_queue_depth 3",
            ]
        );
        assert!(text.contains("\nmosaic_federation_audit_backpressure_waits_total 7\n"));
        assert!(text.contains("# TYPE mosaic_federation_audit_rows_lost_total counter\n"));
        assert_eq!(render(None), "");
    }
}
