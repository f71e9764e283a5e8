//! Agent names and runtimes: parsed once, valid wherever they appear.

use crate::error::Error;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// An agent's name: its tmux session, its systemd instance (`mosaic-agent@NAME`)
/// and its file names under `fleet/`. Letters, digits, `.`, `_`, `-`; never
/// starting with `-` (it would read as a flag) and never `.` or `..`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AgentName(String);

impl AgentName {
    /// Parses a name.
    pub fn new(name: impl Into<String>) -> Result<Self, Error> {
        let name = name.into();
        let charset_ok = name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if name.is_empty() || !charset_ok || name.starts_with('-') || name == "." || name == ".." {
            return Err(Error::InvalidName(name));
        }
        Ok(AgentName(name))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AgentName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for AgentName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AgentName {
    type Error = Error;
    fn try_from(value: String) -> Result<Self, Error> {
        AgentName::new(value)
    }
}

impl From<AgentName> for String {
    fn from(name: AgentName) -> String {
        name.0
    }
}

impl FromStr for AgentName {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        AgentName::new(s)
    }
}

impl PartialEq<str> for AgentName {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for AgentName {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// The agent harness a fleet agent runs in. Each is an external program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    /// Claude Code (`claude`).
    Claude,
    /// OpenAI Codex CLI (`codex`).
    Codex,
    /// The pi coding agent (`pi`).
    Pi,
    /// opencode (`opencode`).
    Opencode,
}

impl Runtime {
    /// Every runtime, in documentation order.
    pub const ALL: [Runtime; 4] = [
        Runtime::Claude,
        Runtime::Codex,
        Runtime::Pi,
        Runtime::Opencode,
    ];

    /// The runtime's name in rosters, which is also its program name.
    pub fn as_str(self) -> &'static str {
        match self {
            Runtime::Claude => "claude",
            Runtime::Codex => "codex",
            Runtime::Pi => "pi",
            Runtime::Opencode => "opencode",
        }
    }

    /// The program to look for on PATH.
    pub fn program(self) -> &'static str {
        self.as_str()
    }
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Runtime {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Runtime::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| Error::UnknownRuntime(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_names() {
        for ok in ["coder0", "coder0-0", "a.b_c", "orchestrator", "X9"] {
            assert_eq!(AgentName::new(ok).unwrap().as_str(), ok);
        }
        for bad in ["", "-x", ".", "..", "a b", "a/b", "a:b", "é", "a=b"] {
            assert!(
                matches!(AgentName::new(bad), Err(Error::InvalidName(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn runtimes_round_trip() {
        for rt in Runtime::ALL {
            assert_eq!(rt.as_str().parse::<Runtime>().unwrap(), rt);
        }
        let err = "gpt".parse::<Runtime>().unwrap_err().to_string();
        assert!(err.contains("claude, codex, pi, opencode"), "{err}");
    }
}
