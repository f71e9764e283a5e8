//! `mosaic query <resource> --source local|all|federated:<host>`.

use super::{Connection, GatewayClient};
use crate::output;
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
    /// Print the raw response as JSON.
    #[arg(long)]
    pub json: bool,
}

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

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

/// Runs `mosaic query`.
pub async fn run(args: QueryArgs) -> anyhow::Result<()> {
    let mut path = format!(
        "/api/v1/query/{}?source={}",
        super::client::seg(&args.resource),
        super::client::seg(&args.source)
    );
    if let Some(l) = args.limit {
        path.push_str(&format!("&limit={l}"));
    }
    if let Some(c) = &args.cursor {
        path.push_str(&format!("&cursor={}", super::client::seg(c)));
    }
    let v: Value = GatewayClient::new(&args.conn)?.get(&path).await?;
    if args.json {
        return output::json(&v);
    }
    let items = v["items"].as_array().cloned().unwrap_or_default();
    println!(
        "{:<36}  {:<40}  {:<12}  {:<24}  SOURCE",
        "ID", "TITLE", "STATUS", "CREATED"
    );
    for row in &items {
        println!(
            "{:<36}  {:<40}  {:<12}  {:<24}  {}",
            cell(row, &["id"]),
            truncate(&cell(row, &["title", "content", "key"]), 40),
            cell(row, &["status", "kind"]),
            cell(row, &["createdAt"]),
            cell(row, &["_source"])
        );
    }
    let mut notes = vec![format!("{} row(s)", items.len())];
    if v["_partial"] == true {
        notes.push("partial: some peer did not answer (see the gateway log)".to_owned());
    }
    if let Some(c) = v["nextCursor"].as_str() {
        notes.push(format!("more: --cursor {c}"));
    } else if v["_truncated"] == true {
        notes.push("more rows exist".to_owned());
    }
    eprintln!("{}", notes.join("; "));
    Ok(())
}
