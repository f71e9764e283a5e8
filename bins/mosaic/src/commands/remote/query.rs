//! `mosaic query <resource> --source local|all|federated:<host>`.

use crate::gateway_client::{ApiPath, Connection};
use crate::output::{OutputArgs, table, truncate};
use clap::Args;
use serde_json::Value;

/// Query this gateway and its peers.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// tasks, notes or memory.
    pub resource: String,
    /// local, all, or federated:<peer name or host[:port]>.
    #[arg(long, default_value = "local")]
    pub source: String,
    /// Rows per page.
    #[arg(long)]
    pub limit: Option<u32>,
    /// Continue from a previous page's cursor (local and federated sources).
    #[arg(long)]
    pub cursor: Option<String>,
    #[command(flatten)]
    pub conn: Connection,
    /// `--json` prints the raw response.
    #[command(flatten)]
    pub out: OutputArgs,
}

/// The first of `keys` the row has, as text; `-` when none.
pub(super) fn cell(row: &Value, keys: &[&str]) -> String {
    for k in keys {
        match &row[*k] {
            Value::String(s) => return s.clone(),
            Value::Null => {}
            other => return other.to_string(),
        }
    }
    "-".to_owned()
}

pub(super) fn rows(page: &Value) -> &[Value] {
    page["items"].as_array().map_or(&[], Vec::as_slice)
}

/// The rows as a table; tasks, notes and memory share its columns.
pub(super) fn query_table(page: &Value) -> String {
    let rows: Vec<Vec<String>> = rows(page)
        .iter()
        .map(|row| {
            vec![
                cell(row, &["id"]),
                truncate(&cell(row, &["title", "content", "key"]), 40),
                cell(row, &["status", "kind"]),
                cell(row, &["createdAt"]),
                cell(row, &["_source"]),
            ]
        })
        .collect();
    table(&["ID", "TITLE", "STATUS", "CREATED", "SOURCE"], &rows)
}

/// The peers a fan-out could not read, one line each: who and why.
fn unanswered(page: &Value) -> Vec<String> {
    page["_partialDetails"]
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .map(|d| {
            let source = d["source"].as_str().unwrap_or("a peer");
            let why = d["message"].as_str().unwrap_or("no reason given");
            let code = d["code"].as_str().unwrap_or("ERROR");
            match d["status"].as_u64() {
                Some(status) => format!("  {source}: {code} ({status}): {why}"),
                None => format!("  {source}: {code}: {why}"),
            }
        })
        .collect()
}

/// What to say on stderr after the table: the count, whether there is more,
/// and which peers did not answer, and why.
pub(super) fn notes(page: &Value) -> String {
    let mut notes = vec![format!("{} row(s)", rows(page).len())];
    let missing = unanswered(page);
    if page["_partial"] == true {
        notes.push(if missing.is_empty() {
            "partial: a source did not return every row".to_owned()
        } else {
            format!("partial: {} peer(s) did not answer", missing.len())
        });
    }
    if let Some(c) = page["nextCursor"].as_str() {
        notes.push(format!("more: --cursor {c}"));
    } else if page["_truncated"] == true {
        notes.push("more rows exist".to_owned());
    }
    let mut out = notes.join("; ");
    for line in missing {
        out.push('\n');
        out.push_str(&line);
    }
    out
}

/// Runs `mosaic query`.
pub async fn run(args: QueryArgs) -> anyhow::Result<()> {
    let path = ApiPath::new("/api/v1/query")
        .seg(&args.resource)
        .query("source", &args.source)
        .query_opt("limit", args.limit)
        .query_opt("cursor", args.cursor.as_ref());
    let page: Value = args.conn.client()?.get(&path).await?;
    let ids = |p: &Value| rows(p).iter().map(|r| cell(r, &["id"])).collect();
    args.out.print(&page, ids, query_table)?;
    if !args.out.json && !args.out.quiet {
        eprintln!("{}", notes(&page));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_of_any_resource_fill_the_same_columns() {
        let page = json!({"items": [
            {"id": "t1", "title": "Ship the release", "status": "open", "createdAt": "2026-11-22T10:00:00Z", "_source": "work"},
            {"id": "i1", "content": "x".repeat(50), "kind": "insight", "_source": "local"}
        ], "nextCursor": "c2"});
        let t = query_table(&page);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("ID  TITLE"), "{t}");
        assert_eq!(lines[1].split_whitespace().last(), Some("work"));
        assert!(lines[2].contains(&format!("{}…", "x".repeat(39))), "{t}");
        assert_eq!(notes(&page), "2 row(s); more: --cursor c2");
    }

    #[test]
    fn a_partial_answer_names_each_missing_peer_and_why() {
        let page = json!({"items": [{"id": "t1", "_source": "local"}], "_partial": true, "_partialDetails": [
            {"source": "work", "code": "FORBIDDEN", "status": 403, "message": "the grant for peer work was revoked"},
            {"source": "lab", "code": "NETWORK", "message": "cannot connect"}
        ]});
        assert_eq!(
            notes(&page),
            "1 row(s); partial: 2 peer(s) did not answer\n  work: FORBIDDEN (403): the grant for peer work was revoked\n  lab: NETWORK: cannot connect"
        );
    }

    #[test]
    fn a_peer_that_rate_limits_us_is_named_with_the_wait() {
        let page = json!({"items": [], "_partial": true, "_partialDetails": [
            {"source": "work", "code": "RATE_LIMITED", "status": 429, "message": "peer work is rate limiting this grant: retry in 30 s"}
        ]});
        assert_eq!(
            notes(&page),
            "0 row(s); partial: 1 peer(s) did not answer\n  work: RATE_LIMITED (429): peer work is rate limiting this grant: retry in 30 s"
        );
    }
}
