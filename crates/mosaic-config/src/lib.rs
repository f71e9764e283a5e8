//! Layered configuration, loaded the same way by every Mosaic program.
//!
//! Precedence, lowest first: built-in defaults < `mosaic.toml` < `MOSAIC_*`
//! environment variables (plus the conventional unprefixed `DATABASE_URL`) <
//! command-line flags. A value that does not fit says which key, which source
//! and what was expected:
//!
//! ```
//! use mosaic_config::{GatewaySettings, Loader};
//!
//! figment::Jail::expect_with(|jail| {
//!     jail.set_env("MOSAIC_HTTP_ADDR", "not-an-address");
//!     let err = Loader::new().load::<GatewaySettings>().unwrap_err();
//!     let text = err.to_string();
//!     assert!(text.contains("http_addr"));
//!     assert!(text.contains("MOSAIC_HTTP_ADDR"));
//!     assert!(text.contains("127.0.0.1:7420"));
//!     Ok(())
//! });
//! ```
//!
//! Programs with settings of their own define a struct that implements
//! [`serde::Deserialize`], [`serde::Serialize`] and [`Default`], and load it with the
//! same [`Loader`].

mod addr;
mod client;
mod federation;
mod paths;
mod terminal;
mod unknown;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::num::{NonZeroU64, NonZeroUsize};
use std::path::{Path, PathBuf};

pub use addr::socket_addr;
pub use client::ClientSettings;
pub use federation::{FederationSettings, RateLimitSettings};
pub use paths::{default_config_dir, default_data_dir};
pub use terminal::{colour_allowed, colour_on_stderr};
pub use unknown::{SHARED_SECTIONS, UnknownKey};

/// The exit status of every Mosaic program whose configuration cannot be
/// used (an unknown key, a value of the wrong shape, a missing file).
pub const EXIT_CONFIG: u8 = 2;

/// The file name looked for in the config dir.
pub const CONFIG_FILE_NAME: &str = "mosaic.toml";
/// Environment variable naming an explicit config file.
pub const CONFIG_FILE_ENV: &str = "MOSAIC_CONFIG";
/// Default address of the gateway's HTTP API.
pub const DEFAULT_HTTP_ADDR: &str = "127.0.0.1:7420";
/// Default address of the gateway's federation (mTLS) listener.
pub const DEFAULT_FEDERATION_ADDR: &str = "127.0.0.1:7443";
/// Default address of the gateway's agent-node (gRPC over TLS) listener.
pub const DEFAULT_NODE_ADDR: &str = "127.0.0.1:7421";

/// Settings every gateway-side program shares: where data lives, which
/// database, which addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GatewaySettings {
    /// Directory for the SQLite file, keys and other state. Created on first use.
    #[serde(deserialize_with = "paths::non_empty")]
    pub data_dir: PathBuf,
    /// `postgres://…` or `sqlite://…`. Absent: SQLite in `data_dir`.
    #[serde(deserialize_with = "paths::non_empty_url")]
    pub database_url: Option<String>,
    /// HTTP API listen address.
    #[serde(with = "addr")]
    pub http_addr: SocketAddr,
    /// Federation (mTLS) listen address.
    #[serde(with = "addr")]
    pub federation_addr: SocketAddr,
    /// Agent-node (gRPC over TLS) listen address.
    #[serde(with = "addr")]
    pub node_addr: SocketAddr,
    /// The URL agent nodes reach `node_addr` at, written into invite configs
    /// (e.g. `https://gateway.example.com:7421`). Absent: derived from
    /// `node_addr` and `identity.server_names`.
    pub node_url: Option<String>,
    /// Log filter in `tracing` env-filter syntax, e.g. `info,mosaic_store=debug`.
    pub log: String,
    /// The gateway's identity and PKI (`[identity]`, `MOSAIC_IDENTITY__*`).
    pub identity: IdentitySettings,
    /// Bounds on connections and requests for every listener (`[limits]`,
    /// `MOSAIC_LIMITS__*`).
    pub limits: ListenerLimits,
    /// The serving side of federation: audit and rate limits
    /// (`[federation]`, `MOSAIC_FEDERATION__*`).
    pub federation: FederationSettings,
}

/// How much each listener lets a client hold. Every value is positive: a zero
/// timeout or cap is refused when the configuration loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ListenerLimits {
    /// Open connections per listener; more are accepted and closed at once.
    /// Lowered at start when the open-file limit cannot hold three listeners' worth.
    pub max_connections: NonZeroUsize,
    /// Open connections per listener from one remote IP address.
    pub max_connections_per_ip: NonZeroUsize,
    /// Seconds a client has to complete the TLS handshake.
    pub handshake_timeout_secs: NonZeroU64,
    /// Seconds an HTTP/1 client has to send a request's headers, counted from
    /// when the connection is ready for the next request.
    pub header_read_timeout_secs: NonZeroU64,
    /// Seconds a connection may stay open with no request in flight.
    pub idle_timeout_secs: NonZeroU64,
    /// Seconds a request has to produce its response head. Streamed bodies
    /// are not cut once the head is sent.
    pub request_timeout_secs: NonZeroU64,
    /// Requests being handled at once per listener; more get 503 at once.
    pub max_concurrent_requests: NonZeroUsize,
    /// Largest request body accepted, in bytes; larger gets 413.
    pub max_body_bytes: NonZeroU64,
    /// Seconds the gateway takes, once asked to stop (SIGTERM, SIGINT), to
    /// end open streams and finish in-flight requests before it exits
    /// regardless.
    pub shutdown_grace_secs: NonZeroU64,
}

impl Default for ListenerLimits {
    fn default() -> Self {
        // Provably non-zero constants.
        const fn n(v: usize) -> NonZeroUsize {
            match NonZeroUsize::new(v) {
                Some(v) => v,
                None => NonZeroUsize::MIN,
            }
        }
        const fn s(v: u64) -> NonZeroU64 {
            match NonZeroU64::new(v) {
                Some(v) => v,
                None => NonZeroU64::MIN,
            }
        }
        Self {
            max_connections: n(1024),
            max_connections_per_ip: n(256),
            handshake_timeout_secs: s(10),
            header_read_timeout_secs: s(15),
            idle_timeout_secs: s(60),
            request_timeout_secs: s(30),
            max_concurrent_requests: n(256),
            max_body_bytes: s(2 * 1024 * 1024),
            shutdown_grace_secs: s(10),
        }
    }
}

/// The gateway's public identity and where its CA comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IdentitySettings {
    /// Display name in the instance identity. Absent: the host name.
    pub name: Option<String>,
    /// Base URL peers reach this gateway's federation listener at.
    pub url: Option<String>,
    /// DNS names and IP addresses of the federation server certificate.
    pub server_names: Vec<String>,
    /// An existing CA certificate (PEM) to use instead of generating one.
    /// Set together with `ca_key`.
    pub ca_cert: Option<PathBuf>,
    /// The private key (unencrypted PEM) of `ca_cert`.
    pub ca_key: Option<PathBuf>,
}

impl Default for IdentitySettings {
    fn default() -> Self {
        Self {
            name: None,
            url: None,
            server_names: vec!["localhost".to_owned(), "127.0.0.1".to_owned()],
            ca_cert: None,
            ca_key: None,
        }
    }
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            data_dir: default_data_dir(),
            database_url: None,
            http_addr: addr::parse_default(DEFAULT_HTTP_ADDR),
            federation_addr: addr::parse_default(DEFAULT_FEDERATION_ADDR),
            node_addr: addr::parse_default(DEFAULT_NODE_ADDR),
            node_url: None,
            log: "info".to_owned(),
            identity: IdentitySettings::default(),
            limits: ListenerLimits::default(),
            federation: FederationSettings::default(),
        }
    }
}

/// A configuration that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A key had a value of the wrong shape.
    #[error("invalid configuration: `{key}` from {source_name}: {problem}")]
    Invalid {
        /// Dotted key, e.g. `http_addr`.
        key: String,
        /// Where the value came from: a file path, an environment variable, a flag.
        source_name: String,
        /// What was wrong and what was expected.
        problem: String,
    },
    /// A config file was named explicitly but does not exist.
    #[error(
        "config file {path} does not exist (named by {named_by}); create it or unset {named_by}"
    )]
    MissingFile {
        /// The path that was named.
        path: PathBuf,
        /// `MOSAIC_CONFIG` or `--config`.
        named_by: String,
    },
    /// A key that no setting has: a typo, or a setting of another version.
    #[error(
        "invalid configuration: unknown key `{}` in {}{}",
        .0.key,
        .0.source_name,
        match &.0.suggestion {
            Some(s) => format!(": did you mean `{s}`?"),
            None => ": remove it (`mosaic config show` lists the keys there are)".to_owned(),
        }
    )]
    UnknownKey(UnknownKey),
    /// Anything else figment reported (unreadable file, TOML syntax…).
    #[error("invalid configuration: {0}")]
    Other(String),
}

impl ConfigError {
    /// The exit status for this error: [`EXIT_CONFIG`], the same in every program.
    pub fn exit_code(&self) -> u8 {
        EXIT_CONFIG
    }
}

impl From<figment::Error> for ConfigError {
    fn from(err: figment::Error) -> Self {
        // figment may chain several errors; the first names the offending key.
        let err = err
            .into_iter()
            .next()
            .unwrap_or_else(|| figment::Error::from("unknown error".to_owned()));
        if err.path.is_empty() {
            return ConfigError::Other(err.to_string());
        }
        let key = err.path.join(".");
        let source_name = match &err.metadata {
            Some(meta) => {
                let native = meta.interpolate(&err.profile.clone().unwrap_or_default(), &err.path);
                match &meta.source {
                    Some(figment::Source::File(path)) => format!("config file {}", path.display()),
                    _ if meta.name.contains("environment") => {
                        // Name the variable as the user spells it, prefix included.
                        let prefix = if meta.name.contains("MOSAIC_") {
                            "MOSAIC_"
                        } else {
                            ""
                        };
                        let var = err.path.join("__").to_uppercase();
                        format!("environment variable {prefix}{var}")
                    }
                    _ => format!("{} ({native})", meta.name),
                }
            }
            None => "an unknown source".to_owned(),
        };
        ConfigError::Invalid {
            key,
            source_name,
            problem: err.kind.to_string(),
        }
    }
}

/// Builds the layered configuration.
#[derive(Debug, Default)]
pub struct Loader {
    config_file: Option<PathBuf>,
    overrides: Vec<Figment>,
}

/// Flag values, named as such in error messages.
struct Flags<T>(Serialized<T>);

impl<T: Serialize> figment::Provider for Flags<T> {
    fn metadata(&self) -> figment::Metadata {
        figment::Metadata::named("command-line flags")
    }
    fn data(
        &self,
    ) -> Result<figment::value::Map<figment::Profile, figment::value::Dict>, figment::Error> {
        self.0.data()
    }
}

impl Loader {
    /// A loader with the default config file location.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads this file instead of `$MOSAIC_CONFIG` or the config dir's `mosaic.toml`.
    #[must_use]
    pub fn config_file(mut self, path: Option<impl AsRef<Path>>) -> Self {
        self.config_file = path.map(|p| p.as_ref().to_path_buf());
        self
    }

    /// Adds a layer of flag values on top of everything else. Fields serialized
    /// as `None` (skipped) leave lower layers alone.
    #[must_use]
    pub fn flags(mut self, flags: impl Serialize) -> Self {
        self.overrides
            .push(Figment::from(Flags(Serialized::defaults(flags))));
        self
    }

    /// The file that will be read, and what named it.
    fn resolve_file(&self) -> Result<Option<PathBuf>, ConfigError> {
        if let Some(path) = &self.config_file {
            return exists_or(path, "--config").map(Some);
        }
        if let Some(path) = std::env::var_os(CONFIG_FILE_ENV).filter(|v| !v.is_empty()) {
            return exists_or(Path::new(&path), CONFIG_FILE_ENV).map(Some);
        }
        let default = default_config_dir().join(CONFIG_FILE_NAME);
        Ok(default.is_file().then_some(default))
    }

    /// The merged figment, for callers that want to inspect it.
    pub fn figment<T: Serialize + Default>(&self) -> Result<Figment, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(T::default()));
        if let Some(file) = self.resolve_file()? {
            figment = figment.merge(Toml::file_exact(file));
        }
        figment = figment
            .merge(Env::prefixed("MOSAIC_").ignore(&["config"]).split("__"))
            .merge(Env::raw().only(&["DATABASE_URL"]));
        for layer in &self.overrides {
            figment = figment.merge(layer.clone());
        }
        Ok(figment)
    }

    /// Loads `T` from every layer. A key in the config file (or a nested
    /// `MOSAIC_…__…` variable) that `T` does not have is an error.
    pub fn load<T: DeserializeOwned + Serialize + Default>(&self) -> Result<T, ConfigError> {
        let figment = self.figment::<T>()?;
        let settings = figment.extract()?;
        refuse_unknown(unknown::find::<T>(&figment, &unknown::Scope::Whole))?;
        Ok(settings)
    }

    /// Loads `T` from the table `section` of the config file (and
    /// `MOSAIC_<SECTION>__*` variables), e.g. the CLI's `[client]`.
    pub fn load_section<T: DeserializeOwned + Serialize + Default>(
        &self,
        section: &str,
    ) -> Result<T, ConfigError> {
        let mut figment = Figment::from(Serialized::default(section, T::default()));
        if let Some(file) = self.resolve_file()? {
            figment = figment.merge(Toml::file_exact(file));
        }
        figment = figment.merge(Env::prefixed("MOSAIC_").ignore(&["config"]).split("__"));
        let settings = figment.extract_inner(section)?;
        refuse_unknown(unknown::find::<T>(
            &figment,
            &unknown::Scope::Section(section),
        ))?;
        Ok(settings)
    }

    /// The config file this loader reads, if any.
    ///
    /// # Errors
    /// When a file named by `--config` or `MOSAIC_CONFIG` does not exist.
    pub fn file(&self) -> Result<Option<PathBuf>, ConfigError> {
        self.resolve_file()
    }
}

fn refuse_unknown(found: Vec<UnknownKey>) -> Result<(), ConfigError> {
    match found.into_iter().next() {
        Some(first) => Err(ConfigError::UnknownKey(first)),
        None => Ok(()),
    }
}

fn exists_or(path: &Path, named_by: &str) -> Result<PathBuf, ConfigError> {
    if path.is_file() {
        Ok(path.to_path_buf())
    } else {
        Err(ConfigError::MissingFile {
            path: path.to_path_buf(),
            named_by: named_by.to_owned(),
        })
    }
}
