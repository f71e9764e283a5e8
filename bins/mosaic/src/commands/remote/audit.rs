//! `mosaic federation audit`: the requests peers made to this gateway's
//! federation listener, allowed or refused, newest first (admin token).

use super::federation::{PeerMatch, find_peer};
use crate::gateway_client::{ApiPath, Connection, GatewayClient};
use crate::output::{OutputArgs, or_dash, table, truncate};
use clap::Args;
use mosaic_types::admin::{AuditEntryView, AuditPage, PeerDirection, millis};
use std::collections::HashMap;

const AUDIT: &str = "/api/admin/v1/federation/audit";

/// Read the federation audit log.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only requests from this peer (name or id).
    #[arg(long)]
    pub peer: Option<String>,
    /// Only requests under this grant (id).
    #[arg(long)]
    pub grant: Option<String>,
    /// Only requests made on behalf of this local user (id).
    #[arg(long)]
    pub user: Option<String>,
    /// Only refused requests (status 400 and above).
    #[arg(long)]
    pub denied: bool,
    /// Only requests since then: a duration back from now (90s, 15m, 2h, 7d)
    /// or an RFC 3339 time.
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Entries per page, 1 to 1000 [default: 100].
    #[arg(long)]
    pub limit: Option<u32>,
    /// Continue from a previous page's cursor.
    #[arg(long)]
    pub cursor: Option<String>,
    #[command(flatten)]
    pub conn: Connection,
    /// `-q` prints entry ids.
    #[command(flatten)]
    pub out: OutputArgs,
}

/// The peer id `--peer` names: an inbound peer's id or name. A value no
/// current peer has is taken as the id of a removed peer, whose rows the log
/// keeps; stderr says so.
async fn peer_id(client: &GatewayClient, peer: &str) -> anyhow::Result<String> {
    match find_peer(client, peer, PeerDirection::Inbound).await? {
        PeerMatch::One(p) => Ok(p.id.to_string()),
        PeerMatch::None => {
            eprintln!(
                "no current peer is named `{peer}` or has that id; showing the rows recorded for peer id `{peer}`"
            );
            Ok(peer.to_owned())
        }
        PeerMatch::Several => {
            anyhow::bail!("several inbound peers are named `{peer}`; give the peer id instead")
        }
    }
}

/// Runs `mosaic federation audit`.
pub async fn run(args: AuditArgs) -> anyhow::Result<()> {
    let client = args.conn.client()?;
    let peer = match &args.peer {
        Some(p) => Some(peer_id(&client, p).await?),
        None => None,
    };
    let path = ApiPath::new(AUDIT)
        .query_opt("peer", peer)
        .query_opt("grant", args.grant.as_ref())
        .query_opt("user", args.user.as_ref())
        .query_opt("denied", args.denied.then_some("true"))
        .query_opt("since", args.since.as_ref())
        .query_opt("limit", args.limit)
        .query_opt("cursor", args.cursor.as_ref());
    let page: AuditPage = client.get(&path).await?;
    let names = if args.out.json || args.out.quiet {
        HashMap::new()
    } else {
        peer_names(&client).await
    };
    args.out.print(
        &page,
        |p| p.items.iter().map(|e| e.id.to_string()).collect(),
        |p| audit_table(&p.items, &names),
    )?;
    if !args.out.json && !args.out.quiet {
        eprintln!("{}", notes(&page));
    }
    Ok(())
}

/// Peer names by id, to show names rather than ids; empty when the peers
/// cannot be listed (the table then shows ids).
async fn peer_names(client: &GatewayClient) -> HashMap<String, String> {
    let peers: Vec<mosaic_types::admin::PeerView> =
        match client.get(&ApiPath::new(super::federation::PEERS)).await {
            Ok(peers) => peers,
            Err(_) => return HashMap::new(),
        };
    peers
        .into_iter()
        .map(|p| (p.id.to_string(), p.common_name))
        .collect()
}

/// `200`, or `403 scope_violation`.
fn outcome(e: &AuditEntryView) -> String {
    match e.error_code {
        Some(code) => format!("{} {code}", e.status),
        None => e.status.to_string(),
    }
}

/// The entries as a table, newest first as they came.
fn audit_table(entries: &[AuditEntryView], names: &HashMap<String, String>) -> String {
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            let peer = e
                .peer_id
                .as_ref()
                .map(|id| names.get(id.as_str()).cloned().unwrap_or(id.to_string()));
            vec![
                millis::format(&e.occurred_at),
                or_dash(peer.as_deref()),
                or_dash(e.subject_user_id.as_ref().map(|u| u.as_str())),
                e.verb.to_string(),
                or_dash(e.resource.as_deref()),
                truncate(&or_dash(e.target.as_deref()), 32),
                outcome(e),
                e.rows.map_or_else(|| "-".to_owned(), |r| r.to_string()),
                format!("{:.1}ms", e.latency_ms),
            ]
        })
        .collect();
    table(
        &[
            "TIME",
            "PEER",
            "USER",
            "VERB",
            "RESOURCE",
            "TARGET",
            "STATUS/CODE",
            "ROWS",
            "LATENCY",
        ],
        &rows,
    )
}

/// The count and, when there is more, how to get it.
fn notes(page: &AuditPage) -> String {
    let count = format!(
        "{} entr{}",
        page.items.len(),
        if page.items.len() == 1 { "y" } else { "ies" }
    );
    match &page.next_cursor {
        Some(c) => format!("{count}; more: --cursor {c}"),
        None => count,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entries() -> Vec<AuditEntryView> {
        serde_json::from_value(json!([
            {"id": "r2", "occurredAt": "2026-12-02T09:15:00.042Z", "peerId": "p1",
             "grantId": "g1", "subjectUserId": "alice", "verb": "list", "resource": "notes",
             "target": null, "status": 403, "errorCode": "scope_violation", "rows": null,
             "latencyMs": 2.26, "certSerial": "01AB", "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
             "remoteAddr": "127.0.0.1:1"},
            {"id": "r1", "occurredAt": "2026-12-02T09:14:00.000Z", "peerId": null,
             "grantId": null, "subjectUserId": null, "verb": "get", "resource": "tasks",
             "target": "t".repeat(40), "status": 200, "errorCode": null, "rows": 1,
             "latencyMs": 12.04, "certSerial": null, "traceId": "00f067aa0ba902b700f067aa0ba902b7",
             "remoteAddr": null}
        ]))
        .unwrap()
    }

    #[test]
    fn entries_read_as_a_table_with_names_for_peers() {
        let names = HashMap::from([("p1".to_owned(), "home".to_owned())]);
        let t = audit_table(&entries(), &names);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>(),
            [
                "TIME",
                "PEER",
                "USER",
                "VERB",
                "RESOURCE",
                "TARGET",
                "STATUS/CODE",
                "ROWS",
                "LATENCY"
            ]
        );
        assert_eq!(
            lines[1].split_whitespace().collect::<Vec<_>>(),
            [
                "2026-12-02T09:15:00.042Z",
                "home",
                "alice",
                "list",
                "notes",
                "-",
                "403",
                "scope_violation",
                "-",
                "2.3ms"
            ]
        );
        let second: Vec<&str> = lines[2].split_whitespace().collect();
        assert_eq!(second[1..4], ["-", "-", "get"]);
        assert_eq!(second[5], format!("{}…", "t".repeat(31)));
        assert_eq!(second[6..], ["200", "1", "12.0ms"]);
    }

    #[test]
    fn notes_count_and_point_at_the_next_page() {
        let mut page = AuditPage {
            items: entries(),
            next_cursor: Some("abc".into()),
        };
        assert_eq!(notes(&page), "2 entries; more: --cursor abc");
        page.items.truncate(1);
        page.next_cursor = None;
        assert_eq!(notes(&page), "1 entry");
    }
}
