//! Writing a roster as YAML.
//!
//! Hand-written rather than serde-generated so the output has the shape people
//! write by hand and the comms reader expects: list items indented under
//! `agents:`, one key per line, plain scalars where YAML reads them back as
//! the same string and double quotes everywhere else.

use super::{Agent, Roster};
use std::fmt::Write as _;

/// The roster as YAML; [`Roster::from_yaml`] reads it back to an equal value.
pub fn to_yaml(roster: &Roster) -> String {
    let mut out = String::new();
    line(&mut out, 0, "version", &roster.version.to_string());
    line(&mut out, 0, "transport", "tmux");
    out.push_str("tmux:\n");
    if !roster.tmux.socket_name.is_empty() {
        line(
            &mut out,
            2,
            "socket_name",
            &scalar(&roster.tmux.socket_name),
        );
    }
    line(
        &mut out,
        2,
        "holder_session",
        &scalar(&roster.tmux.holder_session),
    );
    if let Some(dir) = &roster.defaults.working_directory {
        out.push_str("defaults:\n");
        line(&mut out, 2, "working_directory", &scalar(dir));
    }
    if let Some(connector) = &roster.connector {
        out.push_str("connector:\n");
        line(&mut out, 2, "kind", connector.kind.as_str());
        if let Some(m) = &connector.matrix {
            out.push_str("  matrix:\n");
            line(&mut out, 4, "homeserver_url", &scalar(&m.homeserver_url));
            line(&mut out, 4, "user_id", &scalar(&m.user_id));
            line(&mut out, 4, "room_id", &scalar(&m.room_id));
        }
        if let Some(d) = &connector.discord {
            out.push_str("  discord:\n");
            line(&mut out, 4, "channel_id", &scalar(&d.channel_id));
        }
    }
    if roster.agents.is_empty() {
        out.push_str("agents: []\n");
    } else {
        out.push_str("agents:\n");
        for agent in &roster.agents {
            write_agent(&mut out, agent);
        }
    }
    out
}

fn write_agent(out: &mut String, a: &Agent) {
    let _ = writeln!(out, "  - name: {}", scalar(a.name.as_str()));
    line(out, 4, "runtime", a.runtime.as_str());
    line(out, 4, "class", &scalar(&a.class));
    let optional = [
        ("model_hint", &a.model_hint),
        ("working_directory", &a.working_directory),
        ("host", &a.host),
        ("ssh", &a.ssh),
        ("socket", &a.socket),
        ("reports_to", &a.reports_to),
        ("command", &a.command),
    ];
    for (key, value) in optional {
        if let Some(v) = value {
            line(out, 4, key, &scalar(v));
        }
    }
    if let Some(p) = a.persistent_persona {
        line(
            out,
            4,
            "persistent_persona",
            if p { "true" } else { "false" },
        );
    }
}

fn line(out: &mut String, indent: usize, key: &str, value: &str) {
    let _ = writeln!(out, "{:indent$}{key}: {value}", "");
}

/// `s` as a YAML scalar that reads back as the string `s`.
pub(crate) fn scalar(s: &str) -> String {
    if is_plain_safe(s) {
        s.to_owned()
    } else {
        // A JSON string is a valid YAML double-quoted scalar with the same value.
        serde_json::Value::String(s.to_owned()).to_string()
    }
}

/// Whether `s` can be written unquoted and still read back as this string:
/// a conservative subset that excludes everything YAML would read as null,
/// a boolean, a number, a comment, a mapping or an indicator.
fn is_plain_safe(s: &str) -> bool {
    const RESERVED: &[&str] = &[
        "null", "true", "false", "yes", "no", "on", "off", "y", "n", "~",
    ];
    let Some(first) = s.chars().next() else {
        return false;
    };
    let first_ok = first.is_ascii_alphabetic()
        || first == '_'
        || first == '/'
        || (first == '~' && s.starts_with("~/"));
    let chars_ok = s.chars().all(|c| {
        c.is_ascii_alphanumeric()
            || matches!(c, ' ' | '_' | '.' | '/' | '+' | '=' | '@' | ':' | '~' | '-')
    });
    first_ok
        && chars_ok
        && !s.ends_with(' ')
        && !s.ends_with(':')
        && !s.contains(": ")
        && !s.contains(" #")
        && !RESERVED.contains(&s.to_ascii_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_read_back_as_the_same_string() {
        let cases = [
            "coder0",
            "openai-codex/gpt-5.5:high",
            "~/src",
            "~",
            "",
            "true",
            "No",
            "null",
            "1",
            "0x1f",
            "1e3",
            "10.1.10.37",
            "jwoltje@10.1.10.37",
            "@mos:example.internal",
            "!abc:example.internal",
            "a: b",
            "a #b",
            "trailing ",
            " leading",
            "quote\"s and 'single'",
            "multi\nline",
            "tab\there",
            "$MOSAIC_HOME/tools/fleet/stub-agent.sh --flag",
            "ends:",
            "- dash",
            "ünïcode",
        ];
        for s in cases {
            let doc = format!("k: {}\n", scalar(s));
            let parsed: std::collections::BTreeMap<String, String> =
                serde_norway::from_str(&doc).unwrap_or_else(|e| panic!("{doc:?}: {e}"));
            assert_eq!(parsed["k"], s, "{doc:?}");
        }
    }

    #[test]
    fn plain_where_people_would_write_plain() {
        assert_eq!(
            scalar("openai-codex/gpt-5.5:high"),
            "openai-codex/gpt-5.5:high"
        );
        assert_eq!(scalar("~/src"), "~/src");
        assert_eq!(scalar("~"), "\"~\"");
        assert_eq!(scalar("true"), "\"true\"");
    }
}
