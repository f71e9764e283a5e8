//! Where the CLI's settings come from, and which layer each value came from.
//!
//! Local settings (data dir, database) load through `mosaic-config` like every
//! program's. The connection to a gateway resolves, highest first: the
//! command's flag (`--gateway`, `--token`), the environment
//! (`MOSAIC_GATEWAY_URL`, `MOSAIC_TOKEN`), the `[client]` table of the config
//! file (written by `mosaic login`), then the default address.

use mosaic_config::{ClientSettings, ConfigError, Loader};
use serde::Serialize;
use std::fmt;
use std::path::PathBuf;
use std::sync::OnceLock;

/// The default gateway address.
pub const DEFAULT_GATEWAY_URL: &str = "http://127.0.0.1:7420";
/// Environment variable naming the gateway.
pub const GATEWAY_ENV: &str = "MOSAIC_GATEWAY_URL";
/// Environment variable holding the token.
pub const TOKEN_ENV: &str = "MOSAIC_TOKEN";

/// The global `--config FILE`, set once by `main` before any command runs,
/// so every command reads the same file.
static CONFIG_FLAG: OnceLock<Option<PathBuf>> = OnceLock::new();

/// Records the global `--config` flag.
pub fn set_config_flag(path: Option<PathBuf>) {
    let _ = CONFIG_FLAG.set(path);
}

/// A loader reading the file the user named (or the default one).
pub fn loader() -> Loader {
    Loader::new().config_file(CONFIG_FLAG.get().and_then(Option::as_ref))
}

/// The config file commands read, and the one `mosaic login` writes: the
/// `--config` flag, `$MOSAIC_CONFIG`, else `~/.config/mosaic/mosaic.toml`
/// (which need not exist yet).
pub fn config_file_path() -> PathBuf {
    if let Some(Some(path)) = CONFIG_FLAG.get() {
        return path.clone();
    }
    match std::env::var_os(mosaic_config::CONFIG_FILE_ENV).filter(|v| !v.is_empty()) {
        Some(path) => PathBuf::from(path),
        None => mosaic_config::default_config_dir().join(mosaic_config::CONFIG_FILE_NAME),
    }
}

/// The `[client]` table of the config file.
pub fn client_file() -> Result<ClientSettings, ConfigError> {
    loader().load_section("client")
}

/// Which layer a value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum Source {
    /// A command-line flag, e.g. `--gateway`.
    Flag(String),
    /// An environment variable.
    Env(String),
    /// The config file, at this path.
    File(PathBuf),
    /// The built-in default.
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Flag(name) => write!(f, "flag {name}"),
            Self::Env(name) => write!(f, "environment variable {name}"),
            Self::File(path) => write!(f, "config file {}", path.display()),
            Self::Default => f.write_str("default"),
        }
    }
}

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sourced<T> {
    /// The value.
    pub value: T,
    /// Its layer.
    pub source: Source,
}

fn env_value(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The gateway URL: `flag` (named `flag_name`), `MOSAIC_GATEWAY_URL`,
/// `[client] gateway_url`, else the default.
///
/// # Errors
/// When the config file cannot be read or has unknown keys.
pub fn gateway_url(flag: Option<&str>, flag_name: &str) -> Result<Sourced<String>, ConfigError> {
    if let Some(v) = flag.map(str::trim).filter(|v| !v.is_empty()) {
        return Ok(Sourced {
            value: v.to_owned(),
            source: Source::Flag(flag_name.to_owned()),
        });
    }
    if let Some(v) = env_value(GATEWAY_ENV) {
        return Ok(Sourced {
            value: v,
            source: Source::Env(GATEWAY_ENV.to_owned()),
        });
    }
    if let Some(v) = client_file()?.gateway_url.filter(|v| !v.trim().is_empty()) {
        return Ok(Sourced {
            value: v,
            source: Source::File(config_file_path()),
        });
    }
    Ok(Sourced {
        value: DEFAULT_GATEWAY_URL.to_owned(),
        source: Source::Default,
    })
}

/// The token: `flag` (named `flag_name`), `MOSAIC_TOKEN`, `[client] token`, or none.
///
/// # Errors
/// When the config file cannot be read or has unknown keys.
pub fn token(flag: Option<&str>, flag_name: &str) -> Result<Option<Sourced<String>>, ConfigError> {
    if let Some(v) = flag.map(str::trim).filter(|v| !v.is_empty()) {
        return Ok(Some(Sourced {
            value: v.to_owned(),
            source: Source::Flag(flag_name.to_owned()),
        }));
    }
    if let Some(v) = env_value(TOKEN_ENV) {
        return Ok(Some(Sourced {
            value: v,
            source: Source::Env(TOKEN_ENV.to_owned()),
        }));
    }
    Ok(client_file()?
        .token
        .filter(|v| !v.trim().is_empty())
        .map(|v| Sourced {
            value: v,
            source: Source::File(config_file_path()),
        }))
}

/// A token as it may be shown: its prefix and last four characters.
pub fn redact_token(token: &str) -> String {
    let tail: String = token
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    if token.chars().count() <= 12 {
        return "****".to_owned();
    }
    match token.split_once('_') {
        Some((prefix, _)) => format!("{prefix}_…{tail}"),
        None => format!("…{tail}"),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_token;

    #[test]
    fn tokens_are_shown_by_their_tail_only() {
        let t = "mosaic_abcdefghijklmnopqrstuvwxyz0123";
        assert_eq!(redact_token(t), "mosaic_…0123");
        assert_eq!(redact_token("short"), "****");
    }
}
