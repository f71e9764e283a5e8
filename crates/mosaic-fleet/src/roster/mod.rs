//! The roster: which agents a fleet runs, where and how.
//!
//! Read from YAML or JSON (`roster.json` by extension), written as YAML by
//! [`to_yaml`]. Parsing is strict: unknown keys are errors, so a typo such as
//! `modle_hint` is reported instead of silently ignored.

mod edit;
mod yaml;

pub use edit::{add_agent, count_enhancers, count_orchestrators, remove_agent};
pub use yaml::to_yaml;

use crate::error::{Error, Result};
use crate::names::{AgentName, Runtime};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The named socket for fleets that want isolation from the user's own tmux.
/// Only used when a roster names it: an absent socket is the default socket.
pub const DEFAULT_SOCKET_NAME: &str = "mosaic-fleet";
/// The session that keeps the tmux server of a fleet alive.
pub const DEFAULT_HOLDER_SESSION: &str = "_holder";
/// Where an agent works when neither it nor the roster defaults say.
pub const DEFAULT_WORKING_DIRECTORY: &str = "~/src";
/// The class of an agent whose roster entry names none.
pub const DEFAULT_CLASS: &str = "worker";
/// The persona class of the fleet's point of contact (R5: exactly one).
pub const ORCHESTRATOR: &str = "orchestrator";
/// The persona class of the fleet's improvement loop (two-agent floor).
pub const ENHANCER: &str = "enhancer";

/// A fleet roster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Roster {
    /// Format version; only `1` exists.
    pub version: u32,
    /// How agents are reached; only `tmux` exists.
    #[serde(default)]
    pub transport: Transport,
    /// tmux server settings.
    #[serde(default)]
    pub tmux: TmuxSettings,
    /// Values agents inherit.
    #[serde(default)]
    pub defaults: Defaults,
    /// The orchestrator's chat connector; absent means tmux.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector: Option<Connector>,
    /// The agents, in the order they are shown and started.
    pub agents: Vec<Agent>,
}

/// The transport agents are reached by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// Durable tmux sessions.
    #[default]
    Tmux,
}

/// Where the fleet's tmux sessions live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TmuxSettings {
    /// The `-L` socket name; empty means the default tmux socket (no `-L`).
    #[serde(default, alias = "socketName")]
    pub socket_name: String,
    /// The holder session's name.
    #[serde(default = "default_holder", alias = "holderSession")]
    pub holder_session: String,
}

impl Default for TmuxSettings {
    fn default() -> Self {
        TmuxSettings {
            socket_name: String::new(),
            holder_session: default_holder(),
        }
    }
}

fn default_holder() -> String {
    DEFAULT_HOLDER_SESSION.to_owned()
}

/// Values every agent inherits unless it sets its own.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// The working directory (`~` is the user's home).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_directory: Option<String>,
}

/// The orchestrator chat connector. Secrets never live here: they come from
/// the environment (`MATRIX_ACCESS_TOKEN`, `DISCORD_BOT_TOKEN`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Connector {
    /// Which connector.
    pub kind: ConnectorKind,
    /// Matrix settings, for `kind: matrix`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matrix: Option<MatrixConnector>,
    /// Discord settings, for `kind: discord`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discord: Option<DiscordConnector>,
}

/// Connector kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorKind {
    /// tmux (the default).
    Tmux,
    /// Discord.
    Discord,
    /// Matrix.
    Matrix,
}

impl ConnectorKind {
    /// The kind as written in a roster.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectorKind::Tmux => "tmux",
            ConnectorKind::Discord => "discord",
            ConnectorKind::Matrix => "matrix",
        }
    }
}

/// Matrix connector settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixConnector {
    /// e.g. `https://matrix.example.internal`.
    pub homeserver_url: String,
    /// e.g. `@mos:example.internal`.
    pub user_id: String,
    /// e.g. `!abc:example.internal`.
    pub room_id: String,
}

/// Discord connector settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordConnector {
    /// The channel the orchestrator talks in.
    pub channel_id: String,
}

/// One agent of the fleet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    /// Session name, systemd instance, file names.
    pub name: AgentName,
    /// The harness it runs in.
    pub runtime: Runtime,
    /// Its persona class (a file in the persona library).
    #[serde(rename = "class", default = "default_class")]
    pub class: String,
    /// The model, passed to the runtime as `--model`; absent means the
    /// runtime's own default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_hint: Option<String>,
    /// Whether it is a standing seat rather than a per-task worker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_persona: Option<bool>,
    /// Its working directory; defaults to the roster's, then `~/src`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_directory: Option<String>,
    /// The host it runs on, when not the fleet host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// `user@host` to reach it over SSH, when on another host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh: Option<String>,
    /// The tmux socket its live session runs on, for comms; absent means the
    /// default socket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket: Option<String>,
    /// The class it reports to (set when provisioned from a profile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reports_to: Option<String>,
    /// A launch command replacing the runtime (a stand-in agent, a wrapper).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
}

fn default_class() -> String {
    DEFAULT_CLASS.to_owned()
}

impl Agent {
    /// A new agent with only the required fields.
    pub fn new(name: AgentName, runtime: Runtime, class: impl Into<String>) -> Self {
        Agent {
            name,
            runtime,
            class: class.into(),
            model_hint: None,
            persistent_persona: None,
            working_directory: None,
            host: None,
            ssh: None,
            socket: None,
            reports_to: None,
            command: None,
        }
    }
}

impl Roster {
    /// An empty version-1 tmux roster on the default socket.
    pub fn empty() -> Self {
        Roster {
            version: 1,
            transport: Transport::Tmux,
            tmux: TmuxSettings::default(),
            defaults: Defaults::default(),
            connector: None,
            agents: Vec::new(),
        }
    }

    /// Parses YAML (JSON is YAML too). `origin` names the input in errors.
    pub fn from_yaml(text: &str, origin: &str) -> Result<Self> {
        let roster: Roster =
            serde_norway::from_str(text).map_err(|e| Error::invalid(origin, e.to_string()))?;
        roster.checked(origin)
    }

    /// Parses JSON. `origin` names the input in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<Self> {
        let roster: Roster =
            serde_json::from_str(text).map_err(|e| Error::invalid(origin, e.to_string()))?;
        roster.checked(origin)
    }

    /// Loads a roster file: JSON when it ends in `.json`, YAML otherwise.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                Error::NoRoster {
                    path: path.to_path_buf(),
                }
            } else {
                Error::Read {
                    path: path.to_path_buf(),
                    source,
                }
            }
        })?;
        let origin = path.display().to_string();
        if path.extension().is_some_and(|e| e == "json") {
            Roster::from_json(&text, &origin)
        } else {
            Roster::from_yaml(&text, &origin)
        }
    }

    /// Writes the roster as YAML, creating parent directories.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_file(path, &to_yaml(self))
    }

    fn checked(self, origin: &str) -> Result<Self> {
        if self.version != 1 {
            return Err(Error::invalid(
                origin,
                format!(
                    "version {} is not supported; this mosaic reads version 1",
                    self.version
                ),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for agent in &self.agents {
            if !seen.insert(agent.name.as_str()) {
                return Err(Error::invalid(
                    origin,
                    format!(
                        "agent `{}` is listed twice; names must be unique",
                        agent.name
                    ),
                ));
            }
            if agent.class.trim().is_empty() {
                return Err(Error::invalid(
                    origin,
                    format!("agent `{}` has an empty class", agent.name),
                ));
            }
        }
        if self.tmux.holder_session.is_empty() {
            return Err(Error::invalid(origin, "tmux.holder_session is empty"));
        }
        if seen.contains(self.tmux.holder_session.as_str()) {
            return Err(Error::invalid(
                origin,
                format!(
                    "agent `{}` has the holder session's name; rename the agent",
                    self.tmux.holder_session
                ),
            ));
        }
        Ok(self)
    }

    /// The agent with this name.
    pub fn agent(&self, name: &str) -> Result<&Agent> {
        self.agents
            .iter()
            .find(|a| a.name == name)
            .ok_or_else(|| Error::UnknownAgent(name.to_owned()))
    }

    /// The agent with this name, to change it.
    pub fn agent_mut(&mut self, name: &str) -> Result<&mut Agent> {
        self.agents
            .iter_mut()
            .find(|a| a.name == name)
            .ok_or_else(|| Error::UnknownAgent(name.to_owned()))
    }

    /// The socket name (empty: the default socket).
    pub fn socket(&self) -> &str {
        &self.tmux.socket_name
    }

    /// An agent's working directory before `~` expansion.
    pub fn working_directory<'a>(&'a self, agent: &'a Agent) -> &'a str {
        agent
            .working_directory
            .as_deref()
            .or(self.defaults.working_directory.as_deref())
            .unwrap_or(DEFAULT_WORKING_DIRECTORY)
    }
}

/// `~` and `~/…` expanded against `home`; anything else unchanged.
pub fn expand_home(path: &str, home: &Path) -> PathBuf {
    if path == "~" {
        home.to_path_buf()
    } else if let Some(rest) = path.strip_prefix("~/") {
        home.join(rest)
    } else {
        PathBuf::from(path)
    }
}

/// Writes `contents` to `path` atomically (temporary file, then rename),
/// creating parent directories.
pub(crate) fn write_file(path: &Path, contents: &str) -> Result<()> {
    crate::util::write_atomic(path, contents.as_bytes(), None)
}
