//! `mosaic config show`: every setting this CLI would use, with the layer it
//! came from (default, config file, environment, flag). Secrets are shown by
//! their tail only.

use crate::commands::Global;
use crate::output::{JsonArgs, table};
use crate::settings::{self, Source};
use clap::Subcommand;
use figment::value::{Dict, Value};
use mosaic_config::GatewaySettings;
use serde::Serialize;

/// `mosaic config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print every setting, its value and where it came from.
    Show {
        #[command(flatten)]
        out: JsonArgs,
    },
}

/// One setting as `config show` prints it.
#[derive(Debug, Serialize)]
pub struct Setting {
    /// Dotted key, as written in `mosaic.toml`.
    pub key: String,
    /// The value (`null` when unset); secrets redacted.
    pub value: serde_json::Value,
    /// Where it came from.
    pub source: Source,
}

/// Runs a `mosaic config` command.
pub fn run(global: &Global, cmd: ConfigCommand) -> anyhow::Result<()> {
    match cmd {
        ConfigCommand::Show { out } => {
            let rows = collect(global)?;
            out.print(&rows, |rows| {
                let cells: Vec<[String; 3]> = rows
                    .iter()
                    .map(|s| {
                        let value = match &s.value {
                            serde_json::Value::Null => "-".to_owned(),
                            serde_json::Value::String(v) => v.clone(),
                            other => other.to_string(),
                        };
                        [s.key.clone(), value, s.source.to_string()]
                    })
                    .collect();
                let file = settings::config_file_path();
                let note = if file.is_file() {
                    format!("config file: {}", file.display())
                } else {
                    format!("config file: {} (absent)", file.display())
                };
                format!("{}\n\n{note}", table(&["KEY", "VALUE", "SOURCE"], &cells))
            })
        }
    }
}

/// Every setting: the shared ones through the same layers the commands use,
/// then the connection (`[client]`).
fn collect(global: &Global) -> anyhow::Result<Vec<Setting>> {
    let loader = settings::loader().flags(global);
    // Loading first reports bad values and unknown keys as every command would.
    let loaded: GatewaySettings = loader.load()?;
    let figment = loader.figment::<GatewaySettings>()?;
    let mut leaves = Vec::new();
    if let Value::Dict(_, dict) = Value::serialize(&loaded)? {
        flatten("", &dict, &mut leaves);
    }
    let mut rows: Vec<Setting> = leaves
        .into_iter()
        .map(|(key, value)| {
            let source = source_of(&figment, &key);
            let value = if key == "database_url" {
                match value {
                    serde_json::Value::String(url) => {
                        serde_json::Value::String(mosaic_store::redact_url(&url))
                    }
                    other => other,
                }
            } else {
                value
            };
            Setting { key, value, source }
        })
        .collect();
    let gateway = settings::gateway_url(None, "--gateway")?;
    rows.push(Setting {
        key: "client.gateway_url".to_owned(),
        value: serde_json::Value::String(gateway.value),
        source: gateway.source,
    });
    let token = settings::token(None, "--token")?;
    rows.push(match token {
        Some(t) => Setting {
            key: "client.token".to_owned(),
            value: serde_json::Value::String(settings::redact_token(&t.value)),
            source: t.source,
        },
        None => Setting {
            key: "client.token".to_owned(),
            value: serde_json::Value::Null,
            source: Source::Default,
        },
    });
    Ok(rows)
}

/// Dotted leaves of a serialized settings tree, as JSON values.
fn flatten(prefix: &str, dict: &Dict, out: &mut Vec<(String, serde_json::Value)>) {
    for (k, v) in dict {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            Value::Dict(_, inner) => flatten(&key, inner, out),
            other => out.push((
                key,
                other
                    .deserialize::<serde_json::Value>()
                    .unwrap_or(serde_json::Value::Null),
            )),
        }
    }
}

/// The layer that set `key`: figment keeps the provider of every value.
fn source_of(figment: &figment::Figment, key: &str) -> Source {
    let Some(meta) = figment.find_metadata(key) else {
        return Source::Default;
    };
    if let Some(figment::Source::File(path)) = &meta.source {
        return Source::File(path.clone());
    }
    if meta.name.contains("environment") {
        if key == "database_url" && !meta.name.contains("MOSAIC_") {
            return Source::Env("DATABASE_URL".to_owned());
        }
        return Source::Env(format!("MOSAIC_{}", key.replace('.', "__").to_uppercase()));
    }
    if meta.name == "command-line flags" {
        return Source::Flag(format!("--{}", key.replace('_', "-")));
    }
    Source::Default
}
