//! The one error type of this crate.

use std::path::PathBuf;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in fleet operations. Each message names the
/// input that is wrong and, where there is one, the fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file or directory could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// No roster at the expected place.
    #[error("no fleet roster at {}; create one with `mosaic fleet init --profile general --write`", path.display())]
    NoRoster {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// A roster, profile or north-star file that does not parse or breaks a rule.
    #[error("{origin}: {message}")]
    Invalid {
        /// The file, or a description of the input.
        origin: String,
        /// What is wrong with it.
        message: String,
    },
    /// An agent name that cannot name a tmux session and a systemd unit.
    #[error(
        "invalid agent name `{0}`: use letters, digits, `.`, `_` and `-`, not starting with `-` \
         (the name is the tmux session and the systemd instance)"
    )]
    InvalidName(String),
    /// A runtime this fleet does not know.
    #[error("unknown runtime `{0}`: expected one of claude, codex, pi, opencode")]
    UnknownRuntime(String),
    /// A preset this build does not ship.
    #[error(
        "unknown preset `{0}`: expected one of general, coding, research, hybrid, minimal, local-canary"
    )]
    UnknownPreset(String),
    /// A system-type profile that is neither shipped nor overridden.
    #[error("unknown system-type profile `{0}`; `mosaic fleet profiles` lists them")]
    UnknownProfile(String),
    /// A name that is not in the roster.
    #[error("no agent named `{0}` in the fleet roster; `mosaic fleet ps` lists the agents")]
    UnknownAgent(String),
    /// `add` of a name that is taken.
    #[error(
        "an agent named `{0}` is already in the roster; pick another name or `mosaic fleet edit` it"
    )]
    DuplicateAgent(String),
    /// Removing the last orchestrator (R5).
    #[error(
        "Cannot remove agent \"{0}\": it is the sole orchestrator. Add another orchestrator first (R5)."
    )]
    SoleOrchestrator(String),
    /// Removing the last enhancer (two-agent floor).
    #[error(
        "Cannot remove agent \"{0}\": it is the sole enhancer. Every fleet keeps at least one \
         enhancer (two-agent floor). Add another enhancer first."
    )]
    SoleEnhancer(String),
    /// A preset that does not yield exactly one orchestrator (R5).
    #[error(
        "Fleet init failed: the \"{profile}\" roster has {count} orchestrator agent(s), expected \
         exactly 1 (R5). The preset may be corrupted — re-install mosaic."
    )]
    OrchestratorCount {
        /// The preset.
        profile: String,
        /// How many it has.
        count: usize,
    },
    /// A preset without an enhancer (two-agent floor).
    #[error(
        "Fleet init failed: the \"{0}\" roster has no enhancer agent. Every fleet keeps an \
         orchestrator + enhancer minimum (two-agent floor). The preset may be corrupted — \
         re-install mosaic."
    )]
    NoEnhancer(String),
    /// Init would overwrite a roster.
    #[error("a roster already exists at {}; pass --force to replace it", path.display())]
    RosterExists {
        /// The roster.
        path: PathBuf,
    },
    /// A value the env file cannot carry.
    #[error("{key} for agent `{agent}` contains a newline, which an environment file cannot carry")]
    EnvValue {
        /// The agent.
        agent: String,
        /// The variable.
        key: String,
    },
    /// A program could not be started.
    #[error("cannot run `{program}`: {source}")]
    Spawn {
        /// argv[0].
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// A program that is not installed.
    #[error("`{program}` is not installed (not found on PATH){hint}")]
    NotInstalled {
        /// The program.
        program: String,
        /// What to do instead, starting with "; ".
        hint: String,
    },
    /// A command that ran and failed.
    #[error("`{command}` failed ({status}){detail}")]
    CommandFailed {
        /// The command line.
        command: String,
        /// Exit status, in words.
        status: String,
        /// ": <stderr>" when there was any.
        detail: String,
    },
    /// A restart while another restart of the same agent is running.
    #[error(
        "a restart of `{name}` is already in flight (pid {pid}, {age_secs}s ago); wait for it to \
         finish, or remove {} if that process is gone", lock.display()
    )]
    RestartInFlight {
        /// The agent.
        name: String,
        /// The process holding the guard.
        pid: u32,
        /// How long ago it started.
        age_secs: u64,
        /// The guard file.
        lock: PathBuf,
    },
    /// A path that cannot go into a systemd unit.
    #[error("{} contains whitespace, which systemd unit files cannot reference; set MOSAIC_HOME to a path without spaces", path.display())]
    UnitPath {
        /// The path.
        path: PathBuf,
    },
    /// The environment does not say where home is.
    #[error("cannot find the home directory: set HOME (or MOSAIC_HOME)")]
    NoHome,
    /// A persona class that is neither shipped nor overridden.
    #[error(
        "{what}: class `{class}` has no persona; use one of {}, or add your own as {}",
        classes.join(", "), override_file.display()
    )]
    UnknownClass {
        /// Which agent (or input) names it.
        what: String,
        /// The class.
        class: String,
        /// The classes that have a persona.
        classes: Vec<String>,
        /// Where a persona of that class would go.
        override_file: PathBuf,
    },
    /// Agents that cannot start on this host; nothing was started.
    #[error(
        "nothing was started: {} agent(s) cannot start on this host:{}",
        problems.len(),
        problems.iter().map(|(name, why)| format!("\n  {name}: {why}")).collect::<String>()
    )]
    CannotStart {
        /// Each agent and why.
        problems: Vec<(String, String)>,
    },
    /// An agent that exited while `fleet start --wait` watched it.
    #[error(
        "agent `{name}` exited within {secs}s of starting; run its command by hand to see why \
         (`mosaic fleet edit {name} --command '$MOSAIC_HOME/tools/fleet/stub-agent.sh'` runs the \
         stand-in instead)"
    )]
    AgentExited {
        /// The agent.
        name: String,
        /// How long it had been watched.
        secs: u64,
    },
    /// A signal asked the operation to stop.
    #[error("interrupted by {signal} while {doing}")]
    Interrupted {
        /// Which signal.
        signal: crate::interrupt::Signal,
        /// What the operation was doing.
        doing: String,
    },
    /// A command that failed part-way, after putting back what it had
    /// changed.
    #[error("{source}{}{}",
        if undone.is_empty() { String::new() } else { format!("; undone: {}", undone.join(", ")) },
        if problems.is_empty() { String::new() } else { format!("; could not undo: {}", problems.join("; ")) }
    )]
    RolledBack {
        /// Why it failed.
        source: Box<Error>,
        /// What was put back, one phrase each.
        undone: Vec<String>,
        /// What could not be put back, one phrase each.
        problems: Vec<String>,
    },
}

impl Error {
    /// The signal that stopped the operation, when one did (looking through
    /// [`Error::RolledBack`]).
    pub fn signal(&self) -> Option<crate::interrupt::Signal> {
        match self {
            Error::Interrupted { signal, .. } => Some(*signal),
            Error::RolledBack { source, .. } => source.signal(),
            _ => None,
        }
    }

    pub(crate) fn invalid(origin: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid {
            origin: origin.into(),
            message: message.into(),
        }
    }
}
