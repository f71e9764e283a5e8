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
fn cell(row: &Value, keys: &[&str]) -> String {
    for k in keys {
        match &row[*k] {
            Value::String(s) => return s.clone(),
            Value::Null => {}
            other => return other.to_string(),
        }
    }
    "-".to_owned()
}

fn rows(page: &Value) -> &[Value] {
    page["items"].as_array().map_or(&[], Vec::as_slice)
}

/// The rows as a table; tasks, notes and memory share its columns.
fn query_table(page: &Value) -> String {
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

/// What to say on stderr after the table: the count, and whether there is
/// more or something is missing.
fn notes(page: &Value) -> String {
    let mut notes = vec![format!("{} row(s)", rows(page).len())];
    if page["_partial"] == true {
        notes.push("partial: some peer did not answer (see the gateway log)".to_owned());
    }
    if let Some(c) = page["nextCursor"].as_str() {
        notes.push(format!("more: --cursor {c}"));
    } else if page["_truncated"] == true {
        notes.push("more rows exist".to_owned());
    }
    notes.join("; ")
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
}
