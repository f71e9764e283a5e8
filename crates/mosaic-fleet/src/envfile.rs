//! The per-agent environment file (`fleet/agents/<name>.env`), read by the
//! systemd unit (`EnvironmentFile=`) and by `fleet start` without systemd.

use crate::error::{Error, Result};
use crate::roster::{Agent, Roster, expand_home};
use std::path::Path;

/// A value as written in an env file that both systemd and a shell read back
/// unchanged. Empty is a bare `VAR=`: quoting it as `''` could reach tmux as a
/// socket literally named `''`. Plain words stay plain; anything else is
/// double-quoted with `\`, `"`, `$` and `` ` `` escaped, which both readers
/// undo the same way. Newlines cannot be carried (the caller rejects them).
pub fn shell_env_value(value: &str) -> String {
    if value.is_empty() {
        return String::new();
    }
    let plain = value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_./:=@+-".contains(&b));
    if plain {
        return value.to_owned();
    }
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for c in value.chars() {
        if matches!(c, '\\' | '"' | '$' | '`') {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

/// The env file of `agent`: its name, runtime, model (bare when unset),
/// working directory (`~` expanded against `user_home`), the roster's tmux
/// socket (bare when it is the default socket), its persona class, and its
/// launch command when the roster overrides the runtime.
pub fn generate_agent_env(roster: &Roster, agent: &Agent, user_home: &Path) -> Result<String> {
    let workdir = expand_home(roster.working_directory(agent), user_home);
    let mut vars: Vec<(&str, String)> = vec![
        ("MOSAIC_AGENT_NAME", agent.name.to_string()),
        ("MOSAIC_AGENT_RUNTIME", agent.runtime.to_string()),
        (
            "MOSAIC_AGENT_MODEL",
            agent.model_hint.clone().unwrap_or_default(),
        ),
        ("MOSAIC_AGENT_WORKDIR", workdir.display().to_string()),
        ("MOSAIC_TMUX_SOCKET", roster.tmux.socket_name.clone()),
        ("MOSAIC_AGENT_CLASS", agent.class.clone()),
    ];
    if let Some(command) = &agent.command {
        vars.push(("MOSAIC_AGENT_COMMAND", command.clone()));
    }
    let mut out = String::new();
    for (key, value) in vars {
        if value.contains(['\n', '\r']) {
            return Err(Error::EnvValue {
                agent: agent.name.to_string(),
                key: key.to_owned(),
            });
        }
        out.push_str(key);
        out.push('=');
        out.push_str(&shell_env_value(&value));
        out.push('\n');
    }
    Ok(out)
}

/// The variables of an env file as written by [`generate_agent_env`]: `#`
/// comments and blank lines skipped, double quotes and their escapes
/// undone, single quotes taken literally.
pub fn parse_env(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                return None;
            }
            let (key, raw) = line.split_once('=')?;
            Some((key.trim().to_owned(), unquote(raw)))
        })
        .collect()
}

fn unquote(raw: &str) -> String {
    if let Some(inner) = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        let mut out = String::with_capacity(inner.len());
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            } else {
                out.push(c);
            }
        }
        out
    } else if let Some(inner) = raw.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        inner.to_owned()
    } else {
        raw.to_owned()
    }
}

/// The holder unit's env file: the socket and the holder session's name.
pub fn generate_fleet_env(roster: &Roster) -> String {
    format!(
        "MOSAIC_TMUX_SOCKET={}\nMOSAIC_HOLDER_SESSION={}\n",
        shell_env_value(&roster.tmux.socket_name),
        shell_env_value(&roster.tmux.holder_session)
    )
}
