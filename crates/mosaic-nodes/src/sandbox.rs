//! Sandbox policy: which programs a node runs.
//!
//! - **Strict**: only programs on the allow list run, and a command may not
//!   build programs at run time (command substitution, `eval`, `exec`, …).
//! - **Permissive**: every program runs except those on the deny list.
//!
//! A command is checked program by program: it is split at the shell's command
//! separators (`;`, `&`, `|`, newlines, `&&`, `||`, parentheses) and the first
//! word of each part (after `VAR=value` assignments) names the program. A
//! program is matched by its file name, so `/bin/rm` and `rm` are the same.

use mosaic_agent_proto::v1::{SandboxPolicy, sandbox_policy::Mode};
use serde::{Deserialize, Serialize};

/// Builtins that run other programs: a strict policy refuses them unless they
/// are allowed by name.
const INDIRECT: &[&str] = &[
    "eval", "exec", "source", ".", "command", "builtin", "xargs", "env", "sudo", "nohup", "time",
    "nice", "timeout", "sh", "bash", "zsh", "dash",
];

/// The policy mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PolicyMode {
    /// Allow list.
    Strict,
    /// Deny list.
    #[default]
    Permissive,
}

/// A node's sandbox policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Policy {
    /// Strict or permissive.
    pub mode: PolicyMode,
    /// Programs a strict policy runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed: Vec<String>,
    /// Programs a permissive policy refuses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub denied: Vec<String>,
}

/// A policy that cannot be built from user input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Unknown mode.
    #[error("unknown sandbox mode `{0}`: use `strict` (allow list) or `permissive` (deny list)")]
    Mode(String),
    /// A strict policy with nothing allowed could run nothing.
    #[error("a strict sandbox policy needs at least one allowed program (--allow)")]
    EmptyAllowList,
    /// A program name with whitespace or separators.
    #[error("`{0}` is not a program name: use bare names such as `git` or `ls`")]
    BadProgram(String),
}

impl Policy {
    /// Builds and checks a policy from user input.
    ///
    /// # Errors
    /// An unknown mode, an empty strict allow list, or a malformed program name.
    pub fn parse(
        mode: &str,
        allowed: Vec<String>,
        denied: Vec<String>,
    ) -> Result<Self, PolicyError> {
        let mode = match mode.trim().to_ascii_lowercase().as_str() {
            "strict" => PolicyMode::Strict,
            "permissive" => PolicyMode::Permissive,
            other => return Err(PolicyError::Mode(other.to_owned())),
        };
        let clean = |list: Vec<String>| -> Result<Vec<String>, PolicyError> {
            let mut out = Vec::new();
            for p in list.iter().flat_map(|s| s.split(',')).map(str::trim) {
                if p.is_empty() {
                    continue;
                }
                if p.chars()
                    .any(|c| c.is_whitespace() || ";&|()<>`$".contains(c))
                {
                    return Err(PolicyError::BadProgram(p.to_owned()));
                }
                if !out.iter().any(|o| o == p) {
                    out.push(p.to_owned());
                }
            }
            Ok(out)
        };
        let policy = Self {
            mode,
            allowed: clean(allowed)?,
            denied: clean(denied)?,
        };
        if policy.mode == PolicyMode::Strict && policy.allowed.is_empty() {
            return Err(PolicyError::EmptyAllowList);
        }
        Ok(policy)
    }

    /// Checks `command` against the policy.
    ///
    /// # Errors
    /// The reason the command is refused, naming the program.
    pub fn check(&self, command: &str) -> Result<(), String> {
        if command.trim().is_empty() {
            return Err("empty command".to_owned());
        }
        let programs = programs(command);
        match self.mode {
            PolicyMode::Strict => {
                if command.contains('`')
                    || command.contains("$(")
                    || command.contains("<(")
                    || command.contains(">(")
                {
                    return Err("strict policy: command substitution is not allowed".to_owned());
                }
                for p in &programs {
                    if !self.allowed.iter().any(|a| a == p) {
                        let hint = if INDIRECT.contains(&p.as_str()) {
                            " (it runs other programs)"
                        } else {
                            ""
                        };
                        return Err(format!(
                            "strict policy: `{p}` is not on the allow list{hint}; allowed: {}",
                            self.allowed.join(", ")
                        ));
                    }
                }
                Ok(())
            }
            PolicyMode::Permissive => {
                for p in &programs {
                    if self.denied.iter().any(|d| d == p) {
                        return Err(format!("permissive policy: `{p}` is on the deny list"));
                    }
                }
                Ok(())
            }
        }
    }

    /// The policy as sent at registration.
    pub fn to_proto(&self) -> SandboxPolicy {
        SandboxPolicy {
            mode: match self.mode {
                PolicyMode::Strict => Mode::Strict,
                PolicyMode::Permissive => Mode::Permissive,
            } as i32,
            allowed: self.allowed.clone(),
            denied: self.denied.clone(),
        }
    }

    /// The policy a node received. An unspecified mode is strict with what it
    /// lists, so a garbled policy never widens what runs.
    pub fn from_proto(p: &SandboxPolicy) -> Self {
        Self {
            mode: match p.mode() {
                Mode::Permissive => PolicyMode::Permissive,
                Mode::Strict | Mode::Unspecified => PolicyMode::Strict,
            },
            allowed: p.allowed.clone(),
            denied: p.denied.clone(),
        }
    }
}

/// The programs `command` runs, in order, by file name.
pub fn programs(command: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut chars = command.chars().peekable();
    let mut parts: Vec<String> = Vec::new();
    while let Some(c) = chars.next() {
        match (quote, c) {
            // Substitutions run programs even inside double quotes.
            (Some('"'), '`') => {
                parts.push(std::mem::take(&mut current));
                quote = None;
            }
            (Some('"'), '$') if chars.peek() == Some(&'(') => {
                parts.push(std::mem::take(&mut current));
                quote = None;
            }
            (Some(q), c) if c == q => {
                quote = None;
                current.push(c);
            }
            (Some(_), '\\') => {
                current.push(c);
                if let Some(n) = chars.next() {
                    current.push(n);
                }
            }
            (Some(_), c) => current.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                current.push(c);
            }
            (None, '\\') => {
                current.push(c);
                if let Some(n) = chars.next() {
                    current.push(n);
                }
            }
            (None, ';' | '&' | '|' | '\n' | '(' | ')' | '{' | '}' | '`') => {
                parts.push(std::mem::take(&mut current));
            }
            (None, '$') if chars.peek() == Some(&'(') => {
                parts.push(std::mem::take(&mut current));
            }
            (None, c) => current.push(c),
        }
    }
    parts.push(current);
    for part in parts {
        let mut words = part.split_whitespace().filter(|w| !is_redirect(w));
        let Some(first) = words.find(|w| !is_assignment(w) && !is_keyword(w)) else {
            continue;
        };
        let name = unquote(first);
        let name = name.rsplit('/').next().unwrap_or(&name).to_owned();
        if name.is_empty() || is_keyword(&name) {
            continue;
        }
        out.push(name);
    }
    out
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(k, _)| {
        !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

fn is_redirect(word: &str) -> bool {
    word.starts_with('<')
        || word.starts_with('>')
        || word.starts_with("2>")
        || word.starts_with("1>")
}

fn is_keyword(word: &str) -> bool {
    matches!(
        word,
        "if" | "then"
            | "else"
            | "elif"
            | "fi"
            | "do"
            | "done"
            | "while"
            | "until"
            | "for"
            | "in"
            | "case"
            | "esac"
            | "!"
    )
}

fn unquote(word: &str) -> String {
    word.chars()
        .filter(|c| !matches!(c, '\'' | '"' | '\\'))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn strict(allowed: &[&str]) -> Policy {
        Policy::parse(
            "strict",
            allowed.iter().map(|s| (*s).to_owned()).collect(),
            vec![],
        )
        .unwrap()
    }

    #[test]
    fn programs_are_found_in_every_part() {
        assert_eq!(programs("echo hi"), ["echo"]);
        assert_eq!(
            programs("ls -l | grep x && /bin/rm -f y; FOO=1 make"),
            ["ls", "grep", "rm", "make"]
        );
        assert_eq!(programs("echo 'a; rm -rf /'"), ["echo"]);
        assert_eq!(programs("echo \"$(whoami)\""), ["echo", "whoami"]);
        assert_eq!(programs("(cd /tmp && ls)"), ["cd", "ls"]);
        assert_eq!(programs(">out echo hi"), ["echo"]);
        assert_eq!(programs("if true; then echo y; fi"), ["true", "echo"]);
    }

    #[test]
    fn strict_allows_only_its_list() {
        let p = strict(&["echo", "ls"]);
        assert!(p.check("echo hello").is_ok());
        assert!(p.check("ls | echo").is_ok());
        let err = p.check("echo hi; rm -rf /tmp/x").unwrap_err();
        assert!(err.contains("`rm` is not on the allow list"), "{err}");
        assert!(
            p.check("echo $(rm x)")
                .unwrap_err()
                .contains("substitution")
        );
        assert!(p.check("echo `rm x`").unwrap_err().contains("substitution"));
        assert!(p.check("/usr/bin/curl x").is_err());
        assert!(
            p.check("eval echo")
                .unwrap_err()
                .contains("runs other programs")
        );
        assert!(p.check("   ").is_err());
    }

    #[test]
    fn permissive_refuses_its_deny_list() {
        let p = Policy::parse("permissive", vec![], vec!["rm,shutdown".into()]).unwrap();
        assert!(p.check("echo hi && ls").is_ok());
        assert!(
            p.check("ls && /bin/rm x")
                .unwrap_err()
                .contains("`rm` is on the deny list")
        );
    }

    #[test]
    fn bad_policies_say_what_to_fix() {
        assert_eq!(
            Policy::parse("strict", vec![], vec![]),
            Err(PolicyError::EmptyAllowList)
        );
        assert!(matches!(
            Policy::parse("lax", vec![], vec![]),
            Err(PolicyError::Mode(_))
        ));
        assert!(matches!(
            Policy::parse("strict", vec!["rm -rf".into()], vec![]),
            Err(PolicyError::BadProgram(_))
        ));
    }

    #[test]
    fn proto_round_trip_and_unspecified_is_strict() {
        let p = strict(&["echo"]);
        assert_eq!(Policy::from_proto(&p.to_proto()), p);
        let garbled = SandboxPolicy {
            mode: 0,
            allowed: vec![],
            denied: vec!["rm".into()],
        };
        assert!(Policy::from_proto(&garbled).check("ls").is_err());
    }
}
