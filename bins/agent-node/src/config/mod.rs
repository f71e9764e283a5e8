//! Loading and checking `agent-node.yaml`.
//!
//! The file is YAML (parsed by `serde_norway`), layered under `MOSAIC_NODE_*`
//! environment variables with figment, and extracted into
//! [`NodeConfig`]. Every error names the file or variable, the key and what to
//! change. [`Settings`] is the checked result with defaults filled in.

mod sources;

pub use sources::{env_overrides, load_raw};

use figment::Figment;
use mosaic_nodes::NodeConfig;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Environment variable naming the config file when `--config` is absent.
pub const CONFIG_ENV: &str = "MOSAIC_NODE_CONFIG";
/// Prefix of the environment variables that override keys of the file.
pub const ENV_PREFIX: &str = "MOSAIC_NODE_";
/// Name of the node state file inside `state_dir`.
pub const STATE_FILE_NAME: &str = "node.json";

/// A configuration that cannot be used. The message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// No file was named and the default location cannot be determined.
    #[error(
        "invalid configuration: no config file: the home directory is unknown, so pass --config FILE or set {CONFIG_ENV}"
    )]
    NoDefaultPath,
    /// The file does not exist.
    #[error(
        "invalid configuration: config file {} (named by {named_by}) does not exist: create it from the YAML printed by `mosaic node invite`, or point {named_by} at it", path.display()
    )]
    Missing {
        /// The path looked at.
        path: PathBuf,
        /// `--config`, `MOSAIC_NODE_CONFIG` or "the default location".
        named_by: String,
    },
    /// The file exists but cannot be read.
    #[error("invalid configuration: config file {} cannot be read: {error}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What the system said.
        error: std::io::Error,
    },
    /// The file is not YAML.
    #[error("invalid configuration: config file {} is not valid YAML{location}: {message}", path.display())]
    Yaml {
        /// The file.
        path: PathBuf,
        /// ` at line L column C`, or empty.
        location: String,
        /// The parser's message.
        message: String,
    },
    /// A key is missing, unknown or has a value that cannot be used.
    #[error("invalid configuration: `{key}` from {source_name}: {problem}")]
    Invalid {
        /// Where the value came from: `config file …` or `environment variable …`.
        source_name: String,
        /// The key, e.g. `gateway`.
        key: String,
        /// What is wrong and what to write instead.
        problem: String,
    },
}

impl ConfigError {
    /// The key at fault, when the error is about one key.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::Invalid { key, .. } => Some(key),
            _ => None,
        }
    }
}

/// Where the config file is and what named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigPath {
    /// The file.
    pub path: PathBuf,
    /// `--config`, `MOSAIC_NODE_CONFIG` or `the default location`.
    pub named_by: String,
}

/// The config file to read: `flag`, else `$MOSAIC_NODE_CONFIG`, else
/// `~/.config/mosaic/agent-node.yaml`.
///
/// # Errors
/// When nothing names a file and the home directory is unknown.
pub fn resolve_path(flag: Option<&Path>) -> Result<ConfigPath, ConfigError> {
    if let Some(path) = flag {
        return Ok(ConfigPath {
            path: path.to_path_buf(),
            named_by: "--config".to_owned(),
        });
    }
    if let Some(path) = std::env::var_os(CONFIG_ENV).filter(|v| !v.is_empty()) {
        return Ok(ConfigPath {
            path: PathBuf::from(path),
            named_by: CONFIG_ENV.to_owned(),
        });
    }
    let home = dirs::home_dir().ok_or(ConfigError::NoDefaultPath)?;
    Ok(ConfigPath {
        path: home.join(".config").join("mosaic").join("agent-node.yaml"),
        named_by: "the default location".to_owned(),
    })
}

/// What to write for `key`, appended to errors about it.
fn hint(key: &str) -> &'static str {
    match key {
        "gateway" => {
            "set it to the gateway's node endpoint, e.g. `gateway: https://gateway.example.com:7443` (as printed by `mosaic node invite`)"
        }
        "ca_cert" => {
            "set it to the PEM text of the CA that signed the gateway's certificate (`ca_cert: |` followed by the indented `-----BEGIN CERTIFICATE-----` block printed by `mosaic node invite`)"
        }
        "task_timeout_secs" | "max_concurrent_tasks" | "reconnect_max_secs" => {
            "use a whole number of at least 1"
        }
        "server_name" => "use the host name on the gateway's certificate, e.g. `localhost`",
        "log" => "use a tracing filter such as `info` or `info,mosaic_agent_node=debug`",
        "workspace" | "state_dir" => "use a directory path",
        _ => "see the configuration printed by `mosaic node invite`",
    }
}

/// A checked configuration with every default filled in.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The file it came from.
    pub file: PathBuf,
    /// The merged configuration as written.
    pub config: NodeConfig,
    /// The gateway endpoint, `https://host:port`.
    pub gateway: String,
    /// Host name expected on the gateway's certificate.
    pub server_name: String,
    /// Name the node registers with.
    pub name: String,
    /// Where tasks run.
    pub workspace: PathBuf,
    /// Where the node keeps its state.
    pub state_dir: PathBuf,
    /// Time limit of tasks that set none.
    pub task_timeout: Duration,
    /// Tasks run at once.
    pub max_concurrent_tasks: usize,
    /// Cap of the reconnection back-off.
    pub reconnect_max: Duration,
    /// Log filter from the file or `MOSAIC_NODE_LOG`.
    pub log: Option<String>,
}

impl Settings {
    /// Loads and checks the configuration at `path`.
    ///
    /// # Errors
    /// See [`load_raw`] and [`Settings::resolve`].
    pub fn load(path: &ConfigPath) -> Result<Self, ConfigError> {
        let (config, figment) = load_raw(path)?;
        let file = std::path::absolute(&path.path).unwrap_or_else(|_| path.path.clone());
        Self::resolve(config, &file, &figment)
    }

    /// Checks `config` (read from `file`) and fills in defaults. `figment` is
    /// used to tell whether a value came from the file or the environment.
    ///
    /// # Errors
    /// A gateway that is not an `https://` URL, a CA that is not PEM, a zero
    /// limit, a bad log filter, or a path that cannot be defaulted.
    pub fn resolve(
        config: NodeConfig,
        file: &Path,
        figment: &Figment,
    ) -> Result<Self, ConfigError> {
        let blame = Blame { file, figment };
        let (gateway, host) = gateway_endpoint(&config.gateway, &blame)?;
        check_pem(&config.ca_cert)
            .map_err(|why| blame.invalid("ca_cert", format!("{why}: {}", hint("ca_cert"))))?;
        let server_name = match config.server_name.as_deref().map(str::trim) {
            Some("") | None => host,
            Some(name) => name.to_owned(),
        };
        check_limits(&config, &blame)?;
        let log = log_filter(config.log.as_deref(), &blame)?;

        let base = file.parent().unwrap_or(Path::new("."));
        let workspace = dir_or_default(
            config.workspace.as_deref(),
            base,
            || dirs::home_dir().map(|h| h.join("mosaic-workspace")),
            || {
                blame.invalid(
                    "workspace",
                    "the home directory is unknown, so there is no default: set it".to_owned(),
                )
            },
        )?;
        let state_dir = dir_or_default(
            config.state_dir.as_deref(),
            base,
            || dirs::data_dir().map(|d| d.join("mosaic").join("agent-node")),
            || {
                blame.invalid(
                    "state_dir",
                    "the data directory is unknown, so there is no default: set it".to_owned(),
                )
            },
        )?;

        let name = config
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .unwrap_or_else(crate::health::hostname);

        Ok(Self {
            file: file.to_path_buf(),
            gateway,
            server_name,
            name,
            workspace,
            state_dir,
            task_timeout: Duration::from_secs(u64::from(config.task_timeout_secs)),
            max_concurrent_tasks: usize::try_from(config.max_concurrent_tasks)
                .unwrap_or(usize::MAX),
            reconnect_max: Duration::from_secs(u64::from(config.reconnect_max_secs)),
            log,
            config,
        })
    }

    /// `<state_dir>/node.json`.
    pub fn state_file(&self) -> PathBuf {
        self.state_dir.join(STATE_FILE_NAME)
    }

    /// The invite token, if one is set and non-empty.
    pub fn invite_token(&self) -> Option<&str> {
        self.config
            .invite_token
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
    }

    /// The configuration as `check-config` shows it: defaults filled in,
    /// the invite token redacted.
    pub fn effective(&self) -> EffectiveConfig {
        EffectiveConfig {
            gateway: self.gateway.clone(),
            ca_cert: self.config.ca_cert.clone(),
            server_name: self.server_name.clone(),
            invite_token: self.invite_token().map(|_| REDACTED.to_owned()),
            name: self.name.clone(),
            workspace: self.workspace.clone(),
            state_dir: self.state_dir.clone(),
            task_timeout_secs: self.config.task_timeout_secs,
            max_concurrent_tasks: self.config.max_concurrent_tasks,
            reconnect_max_secs: self.config.reconnect_max_secs,
            log: self.log.clone(),
        }
    }
}

/// Builds the errors of [`Settings::resolve`], naming where the value at
/// fault came from: the file, or the environment variable that overrode it.
struct Blame<'a> {
    file: &'a Path,
    figment: &'a Figment,
}

impl Blame<'_> {
    fn invalid(&self, key: &str, problem: String) -> ConfigError {
        ConfigError::Invalid {
            source_name: sources::source_name(self.figment.find_metadata(key), key, self.file),
            key: key.to_owned(),
            problem,
        }
    }
}

/// The `gateway` value as `https://host[:port]`, and its host (the default
/// name expected on the gateway's certificate).
fn gateway_endpoint(gateway: &str, blame: &Blame<'_>) -> Result<(String, String), ConfigError> {
    let invalid = |problem: String| blame.invalid("gateway", problem);
    let url = url::Url::parse(gateway.trim()).map_err(|e| {
        invalid(format!(
            "`{gateway}` is not a URL ({e}): {}",
            hint("gateway")
        ))
    })?;
    if url.scheme() != "https" {
        return Err(invalid(format!(
            "`{gateway}` is not an https:// URL (the node only talks TLS): {}",
            hint("gateway")
        )));
    }
    let host = match url.host() {
        Some(url::Host::Domain(d)) => d.to_owned(),
        Some(url::Host::Ipv4(a)) => a.to_string(),
        Some(url::Host::Ipv6(a)) => a.to_string(),
        None => {
            return Err(invalid(format!(
                "`{gateway}` has no host: {}",
                hint("gateway")
            )));
        }
    };
    if url.path() != "/" || url.query().is_some() {
        return Err(invalid(format!(
            "`{gateway}` has a path or query; give only `https://host:port`"
        )));
    }
    let host_in_url = url.host_str().unwrap_or(&host);
    let endpoint = match url.port() {
        Some(port) => format!("https://{host_in_url}:{port}"),
        None => format!("https://{host_in_url}"),
    };
    Ok((endpoint, host))
}

/// Refuses a zero time limit, task count or back-off cap.
fn check_limits(config: &NodeConfig, blame: &Blame<'_>) -> Result<(), ConfigError> {
    for (key, value) in [
        ("task_timeout_secs", config.task_timeout_secs),
        ("max_concurrent_tasks", config.max_concurrent_tasks),
        ("reconnect_max_secs", config.reconnect_max_secs),
    ] {
        if value == 0 {
            return Err(blame.invalid(key, format!("0 is not allowed: {}", hint(key))));
        }
    }
    Ok(())
}

/// The `log` filter, trimmed, when set and parseable.
fn log_filter(log: Option<&str>, blame: &Blame<'_>) -> Result<Option<String>, ConfigError> {
    let log = log
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned);
    if let Some(filter) = &log {
        tracing_subscriber::EnvFilter::try_new(filter).map_err(|e| {
            blame.invalid(
                "log",
                format!("`{filter}` is not a log filter ({e}): {}", hint("log")),
            )
        })?;
    }
    Ok(log)
}

/// The configured directory (expanded against `base`), else `default`; when
/// there is neither, the error `missing` builds.
fn dir_or_default(
    configured: Option<&Path>,
    base: &Path,
    default: impl FnOnce() -> Option<PathBuf>,
    missing: impl FnOnce() -> ConfigError,
) -> Result<PathBuf, ConfigError> {
    match configured {
        Some(p) if !p.as_os_str().is_empty() => Ok(expand(p, base)),
        _ => default().ok_or_else(missing),
    }
}

/// Shown instead of the invite token.
pub const REDACTED: &str = "<redacted>";

/// The effective configuration, safe to print.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EffectiveConfig {
    /// See [`NodeConfig::gateway`].
    pub gateway: String,
    /// See [`NodeConfig::ca_cert`].
    pub ca_cert: String,
    /// The host name checked on the gateway's certificate.
    pub server_name: String,
    /// `<redacted>` when set.
    pub invite_token: Option<String>,
    /// The node's name.
    pub name: String,
    /// Where tasks run.
    pub workspace: PathBuf,
    /// Where the node state lives.
    pub state_dir: PathBuf,
    /// See [`NodeConfig::task_timeout_secs`].
    pub task_timeout_secs: u32,
    /// See [`NodeConfig::max_concurrent_tasks`].
    pub max_concurrent_tasks: u32,
    /// See [`NodeConfig::reconnect_max_secs`].
    pub reconnect_max_secs: u32,
    /// Log filter, when set.
    pub log: Option<String>,
}

/// `~/x` → the home directory's `x`; a relative path is taken relative to
/// the config file's directory.
fn expand(path: &Path, base: &Path) -> PathBuf {
    if let Ok(rest) = path.strip_prefix("~")
        && let Some(home) = dirs::home_dir()
    {
        return home.join(rest);
    }
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

/// Counts the certificates in `pem`; an error says why it is not PEM.
///
/// # Errors
/// No certificate block, an unterminated block, or a body that is not base64.
pub fn check_pem(pem: &str) -> Result<usize, String> {
    use base64::Engine as _;
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut count = 0;
    let mut rest = pem;
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start + BEGIN.len()..];
        let end = after
            .find(END)
            .ok_or_else(|| format!("certificate {} has no `{END}` line", count + 1))?;
        let body: String = after[..end]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body.as_bytes())
            .map_err(|e| format!("certificate {} is not base64 ({e})", count + 1))?;
        if der.is_empty() {
            return Err(format!("certificate {} is empty", count + 1));
        }
        count += 1;
        rest = &after[end + END.len()..];
    }
    if count == 0 {
        let looks_like_path = !pem.contains('\n') && Path::new(pem.trim()).exists();
        return Err(if looks_like_path {
            format!(
                "`{}` is a file name, but the PEM text itself is expected",
                pem.trim()
            )
        } else {
            format!("no `{BEGIN}` block found")
        });
    }
    Ok(count)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const PEM: &str =
        "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n";

    fn write(dir: &Path, text: &str) -> ConfigPath {
        let path = dir.join("agent-node.yaml");
        std::fs::write(&path, text).unwrap();
        ConfigPath {
            path,
            named_by: "--config".into(),
        }
    }

    fn good(extra: &str) -> String {
        format!(
            "gateway: https://gw.example:7443\nca_cert: |\n  {}\n{extra}",
            PEM.trim_end().replace('\n', "\n  ")
        )
    }

    #[test]
    fn a_good_file_loads_with_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), &good("invite_token: mni_x\nworkspace: ws\n"));
        let s = Settings::load(&path).unwrap();
        assert_eq!(s.gateway, "https://gw.example:7443");
        assert_eq!(s.server_name, "gw.example");
        assert_eq!(s.workspace, dir.path().join("ws"));
        assert_eq!(s.invite_token(), Some("mni_x"));
        assert_eq!(s.max_concurrent_tasks, 4);
        assert_eq!(s.effective().invite_token.as_deref(), Some(REDACTED));
        assert_eq!(s.state_file().file_name().unwrap(), "node.json");
    }

    #[test]
    fn errors_name_the_file_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let missing = Settings::load(&write(dir.path(), "ca_cert: x\n")).unwrap_err();
        assert_eq!(missing.key(), Some("gateway"), "{missing}");
        assert!(missing.to_string().contains("agent-node.yaml"), "{missing}");

        let http = Settings::load(&write(dir.path(), &good("").replace("https://", "http://")))
            .unwrap_err();
        assert_eq!(http.key(), Some("gateway"));
        assert!(http.to_string().contains("https://"), "{http}");

        let pem = Settings::load(&write(
            dir.path(),
            "gateway: https://gw:1\nca_cert: not a certificate\n",
        ))
        .unwrap_err();
        assert_eq!(pem.key(), Some("ca_cert"));
        assert!(pem.to_string().contains("BEGIN CERTIFICATE"), "{pem}");

        let unknown = Settings::load(&write(dir.path(), &good("colour: blue\n"))).unwrap_err();
        assert_eq!(unknown.key(), Some("colour"), "{unknown}");
        assert!(
            unknown.to_string().contains("the known keys are"),
            "{unknown}"
        );
        let typo = Settings::load(&write(dir.path(), &good("worksapce: /tmp\n"))).unwrap_err();
        assert_eq!(typo.key(), Some("worksapce"), "{typo}");
        assert!(
            typo.to_string()
                .starts_with("invalid configuration: `worksapce` from config file"),
            "{typo}"
        );
        assert!(
            typo.to_string().contains("did you mean `workspace`?"),
            "{typo}"
        );

        let zero =
            Settings::load(&write(dir.path(), &good("max_concurrent_tasks: 0\n"))).unwrap_err();
        assert_eq!(zero.key(), Some("max_concurrent_tasks"));

        let wrong_type =
            Settings::load(&write(dir.path(), &good("task_timeout_secs: soon\n"))).unwrap_err();
        assert_eq!(wrong_type.key(), Some("task_timeout_secs"), "{wrong_type}");

        let yaml = Settings::load(&write(dir.path(), "gateway: [unclosed\n")).unwrap_err();
        assert!(yaml.to_string().contains("line 2"), "{yaml}");

        let absent = Settings::load(&ConfigPath {
            path: dir.path().join("nope.yaml"),
            named_by: "--config".into(),
        })
        .unwrap_err();
        assert!(matches!(absent, ConfigError::Missing { .. }), "{absent}");
    }

    #[test]
    fn pem_is_checked() {
        assert_eq!(check_pem(PEM), Ok(1));
        assert_eq!(check_pem(&format!("{PEM}{PEM}")), Ok(2));
        assert!(check_pem("-----BEGIN CERTIFICATE-----\nabc").is_err());
        assert!(check_pem("-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----").is_err());
        assert!(check_pem("").is_err());
    }

    #[test]
    fn paths_expand() {
        let base = Path::new("/etc/mosaic");
        assert_eq!(expand(Path::new("/abs"), base), PathBuf::from("/abs"));
        assert_eq!(
            expand(Path::new("rel"), base),
            PathBuf::from("/etc/mosaic/rel")
        );
        if let Some(home) = dirs::home_dir() {
            assert_eq!(expand(Path::new("~/ws"), base), home.join("ws"));
        }
    }
}
