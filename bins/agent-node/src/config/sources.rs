//! Where the configuration comes from: the YAML file and the `MOSAIC_NODE_*`
//! variables, as figment providers, and figment's errors turned into
//! [`ConfigError`]s that name the file or variable and the key.

use super::{ConfigError, ConfigPath, ENV_PREFIX, hint};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use mosaic_nodes::NodeConfig;
use std::path::{Path, PathBuf};

/// Keys of the file whose values are numbers (environment values for them
/// are parsed as numbers; every other key takes the text as is).
const NUMERIC_KEYS: &[&str] = &[
    "task_timeout_secs",
    "max_concurrent_tasks",
    "reconnect_max_secs",
];

/// Figment metadata name of values that came from the environment.
const ENV_SOURCE: &str = "agent-node environment";
/// Figment metadata name of values that came from the YAML file.
const FILE_SOURCE: &str = "agent-node config file";

/// The YAML file as a figment provider, so errors can name it.
struct YamlFile {
    path: PathBuf,
    value: serde_norway::Value,
}

impl Provider for YamlFile {
    fn metadata(&self) -> Metadata {
        Metadata::from(FILE_SOURCE, figment::Source::File(self.path.clone()))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        figment::providers::Serialized::defaults(&self.value).data()
    }
}

/// `MOSAIC_NODE_*` variables. Text stays text (a token of digits is still a
/// token); only the numeric keys are parsed as numbers.
struct EnvVars {
    vars: Vec<(String, String)>,
}

impl EnvVars {
    fn from_process() -> Self {
        let vars = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .filter_map(|(k, v)| {
                let key = k.strip_prefix(ENV_PREFIX)?.to_ascii_lowercase();
                // Only this file's keys: the gateway reads `MOSAIC_NODE_ADDR`
                // and `MOSAIC_NODE_URL`, which may well be set in the same shell.
                KNOWN_KEYS
                    .split(", ")
                    .any(|known| known == key)
                    .then_some((key, v))
            })
            .collect();
        Self { vars }
    }
}

impl Provider for EnvVars {
    fn metadata(&self) -> Metadata {
        Metadata::named(ENV_SOURCE)
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut dict = Dict::new();
        for (key, raw) in &self.vars {
            let value = if NUMERIC_KEYS.contains(&key.as_str()) {
                match raw.trim().parse::<u32>() {
                    Ok(n) => Value::from(n),
                    Err(_) => Value::from(raw.clone()),
                }
            } else {
                Value::from(raw.clone())
            };
            dict.insert(key.clone(), value);
        }
        let mut map = Map::new();
        map.insert(Profile::Default, dict);
        Ok(map)
    }
}

/// The `MOSAIC_NODE_*` variables of this process that override keys of the
/// file, as (variable, value) pairs sorted by name.
pub fn env_overrides() -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = EnvVars::from_process()
        .vars
        .into_iter()
        .map(|(key, value)| (env_var_name(&key), value))
        .collect();
    vars.sort();
    vars
}

fn env_var_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.to_ascii_uppercase())
}

const KNOWN_KEYS: &str = "gateway, ca_cert, server_name, invite_token, name, workspace, state_dir, task_timeout_secs, max_concurrent_tasks, reconnect_max_secs, log";

/// The known key a typo most likely meant, when one is close.
fn nearest_key(unknown: &str) -> Option<&'static str> {
    KNOWN_KEYS
        .split(", ")
        .map(|k| (k, strsim::jaro_winkler(unknown, k)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .filter(|(_, score)| *score >= 0.8)
        .map(|(k, _)| k)
}

pub(super) fn source_name(meta: Option<&Metadata>, key: &str, file: &Path) -> String {
    match meta {
        Some(m) if m.name == ENV_SOURCE => format!("environment variable {}", env_var_name(key)),
        _ => format!("config file {}", file.display()),
    }
}

fn from_figment(err: figment::Error, file: &Path) -> ConfigError {
    use figment::error::Kind;
    let err = err
        .into_iter()
        .next()
        .unwrap_or_else(|| figment::Error::from("unknown error".to_owned()));
    let key = match (&err.kind, err.path.is_empty()) {
        (Kind::MissingField(name), _) => name.to_string(),
        (Kind::UnknownField(name, _), _) => name.clone(),
        (_, false) => err.path.join("."),
        (_, true) => String::new(),
    };
    let source = source_name(err.metadata.as_ref(), &key, file);
    let problem = match &err.kind {
        Kind::MissingField(_) => format!(
            "this required key is missing: {} (or set {})",
            hint(&key),
            env_var_name(&key)
        ),
        Kind::UnknownField(name, _) => match nearest_key(name) {
            Some(near) => format!("unknown key: did you mean `{near}`?"),
            None => format!("unknown key: remove it; the known keys are {KNOWN_KEYS}"),
        },
        other => format!("{other}: {}", hint(&key)),
    };
    ConfigError::Invalid {
        source_name: source,
        key,
        problem,
    }
}

/// Reads the file at `path`, merges the environment and extracts the
/// configuration, without further checks (see [`Settings::resolve`]).
///
/// # Errors
/// A missing or unreadable file, bad YAML (with its line), a missing or
/// unknown key, or a value of the wrong type.
pub fn load_raw(path: &ConfigPath) -> Result<(NodeConfig, Figment), ConfigError> {
    let file = &path.path;
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ConfigError::Missing {
                path: file.clone(),
                named_by: path.named_by.clone(),
            });
        }
        Err(error) => {
            return Err(ConfigError::Unreadable {
                path: file.clone(),
                error,
            });
        }
    };
    let value: serde_norway::Value = if text.trim().is_empty() {
        serde_norway::Value::Mapping(serde_norway::Mapping::new())
    } else {
        serde_norway::from_str(&text).map_err(|e| ConfigError::Yaml {
            path: file.clone(),
            location: match e.location() {
                // The parser's message usually says where already.
                Some(l) if !e.to_string().contains(" line ") => {
                    format!(" at line {} column {}", l.line(), l.column())
                }
                _ => String::new(),
            },
            message: e.to_string(),
        })?
    };
    let value = match value {
        serde_norway::Value::Null => serde_norway::Value::Mapping(serde_norway::Mapping::new()),
        v @ serde_norway::Value::Mapping(_) => v,
        _ => {
            return Err(ConfigError::Yaml {
                path: file.clone(),
                location: String::new(),
                message: "the file must be a mapping of keys such as `gateway: https://…` and `ca_cert: |`".to_owned(),
            });
        }
    };
    let figment = Figment::new()
        .merge(YamlFile {
            path: file.clone(),
            value,
        })
        .merge(EnvVars::from_process());
    let config = figment
        .extract::<NodeConfig>()
        .map_err(|e| from_figment(e, file))?;
    Ok((config, figment))
}
