//! `mosaic search "words" [--resource tasks|notes|memory] --source local|all|federated:<host>`.
//!
//! With `--resource` it prints one page of that resource, as `mosaic query`
//! does. Without, it searches tasks, notes and memory and prints their rows
//! together with a RESOURCE column; a resource that could not be searched
//! (a peer's grant that does not cover it, say) is named on stderr with the
//! reason, and the command fails only when none could.

use super::query::{cell, notes, query_table, rows};
use crate::gateway_client::{ApiPath, Connection, GatewayClient};
use crate::output::{OutputArgs, table, truncate};
use clap::Args;
use serde_json::{Map, Value};

/// What a search without `--resource` covers.
const RESOURCES: [&str; 3] = ["tasks", "notes", "memory"];

/// Search this gateway and its peers by words.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The words; a row must hold every one. Words only: punctuation
    /// separates words, and operators (OR, NEAR, *, quotes) are plain words.
    #[arg(required = true, num_args = 1.., value_name = "WORDS")]
    pub words: Vec<String>,
    /// Search one resource only (default: tasks, notes and memory).
    #[arg(long, value_parser = RESOURCES)]
    pub resource: Option<String>,
    /// local, all, or federated:<peer name or host[:port]>.
    #[arg(long, default_value = "local")]
    pub source: String,
    /// Rows per page (per resource).
    #[arg(long)]
    pub limit: Option<u32>,
    /// Continue from a previous page's cursor (local and federated sources;
    /// a cursor belongs to one resource and one search).
    #[arg(long, requires = "resource")]
    pub cursor: Option<String>,
    #[command(flatten)]
    pub conn: Connection,
    /// `--json` prints the raw response (with several resources, an object
    /// of them by name; one that failed holds `{"error": "…"}`).
    #[command(flatten)]
    pub out: OutputArgs,
}

fn path(args: &SearchArgs, resource: &str) -> ApiPath {
    ApiPath::new("/api/v1/search")
        .seg(resource)
        .query("q", args.words.join(" "))
        .query("source", &args.source)
        .query_opt("limit", args.limit)
        .query_opt("cursor", args.cursor.as_ref())
}

/// Each resource searched, in order, with its page or why it failed.
type Results = Vec<(&'static str, Result<Value, String>)>;

/// Rows of several resources as one table, each row with its resource.
fn combined_table(results: &Results) -> String {
    let mut lines = Vec::new();
    for (resource, page) in results {
        for row in page.as_ref().map_or(&[][..], |p| rows(p)) {
            lines.push(vec![
                (*resource).to_owned(),
                cell(row, &["id"]),
                truncate(&cell(row, &["title", "content", "key"]), 40),
                cell(row, &["status", "kind"]),
                cell(row, &["_source"]),
            ]);
        }
    }
    table(&["RESOURCE", "ID", "TITLE", "STATUS", "SOURCE"], &lines)
}

/// The stderr notes of several resources: each one's, prefixed with its name.
fn combined_notes(results: &Results) -> String {
    let lines: Vec<String> = results
        .iter()
        .map(|(resource, page)| match page {
            Ok(page) => format!("{resource}: {}", notes(page)),
            Err(why) => format!("{resource}: not searched: {why}"),
        })
        .collect();
    lines.join("\n")
}

/// `--json` with several resources: `{"tasks": page, "memory": {"error": "…"}, …}`.
fn combined_json(results: &Results) -> Value {
    let pages: Map<String, Value> = results
        .iter()
        .map(|(resource, page)| {
            let value = match page {
                Ok(page) => page.clone(),
                Err(why) => serde_json::json!({ "error": why }),
            };
            ((*resource).to_owned(), value)
        })
        .collect();
    Value::Object(pages)
}

async fn search_all(args: &SearchArgs, client: &GatewayClient) -> anyhow::Result<()> {
    let mut results: Results = Vec::new();
    let mut failures = Vec::new();
    for resource in RESOURCES {
        match client.get::<Value>(&path(args, resource)).await {
            Ok(page) => results.push((resource, Ok(page))),
            Err(e) => {
                results.push((resource, Err(e.to_string())));
                failures.push(e);
            }
        }
    }
    if failures.len() == RESOURCES.len() {
        // Nothing answered: the first failure says why (they are usually one).
        if let Some(first) = failures.into_iter().next() {
            return Err(first.into());
        }
    }
    let ids = |_: &Value| {
        results
            .iter()
            .filter_map(|(_, page)| page.as_ref().ok())
            .flat_map(|page| rows(page).iter().map(|r| cell(r, &["id"])))
            .collect()
    };
    args.out
        .print(&combined_json(&results), ids, |_| combined_table(&results))?;
    if !args.out.json && !args.out.quiet {
        eprintln!("{}", combined_notes(&results));
    }
    Ok(())
}

/// Runs `mosaic search`.
pub async fn run(args: SearchArgs) -> anyhow::Result<()> {
    let client = args.conn.client()?;
    let Some(resource) = args.resource.as_deref() else {
        return search_all(&args, &client).await;
    };
    let page: Value = client.get(&path(&args, resource)).await?;
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
    fn several_resources_share_one_table_with_their_names() {
        let why = "the gateway at http://gw answered 403: memory is excluded";
        let results: Results = vec![
            (
                "tasks",
                Ok(
                    json!({"items": [{"id": "t1", "title": "Ship the release", "status": "open", "_source": "local"}]}),
                ),
            ),
            (
                "notes",
                Ok(
                    json!({"items": [{"id": "n1", "content": "release notes", "status": "done", "_source": "work"}], "nextCursor": "c"}),
                ),
            ),
            ("memory", Err(why.to_owned())),
        ];
        let t = combined_table(&results);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("RESOURCE  ID"), "{t}");
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("tasks") && l.contains("Ship the release"))
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("notes") && l.ends_with("work"))
        );
        assert_eq!(lines.len(), 3, "{t}");
        assert_eq!(
            combined_notes(&results),
            format!(
                "tasks: 1 row(s)\nnotes: 1 row(s); more: --cursor c\nmemory: not searched: {why}"
            )
        );
        let json = combined_json(&results);
        assert_eq!(json["memory"], json!({ "error": why }));
        assert_eq!(json["tasks"]["items"][0]["id"], "t1");
    }

    #[test]
    fn the_words_are_one_q() {
        let args = SearchArgs {
            words: vec!["release".into(), "notes".into()],
            resource: None,
            source: "all".into(),
            limit: Some(5),
            cursor: None,
            conn: Connection {
                gateway: None,
                token: None,
            },
            out: OutputArgs::default(),
        };
        let p = path(&args, "notes");
        assert_eq!(p.segments(), ["api", "v1", "search", "notes"]);
        assert_eq!(
            p.query_pairs(),
            [
                ("q", "release notes".to_owned()),
                ("source", "all".to_owned()),
                ("limit", "5".to_owned())
            ]
        );
    }
}
