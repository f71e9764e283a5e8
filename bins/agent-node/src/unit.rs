//! The systemd user unit `agent-node systemd-unit` prints: the shipped
//! `dist/agent-node.service`, made to start this very node: the binary that
//! printed it, the config file it was given, and the `MOSAIC_NODE_*`
//! variables in force (a unit does not inherit the shell's environment).

use std::path::Path;

/// The unit as shipped; its `ExecStart` names the conventional install paths.
pub const TEMPLATE: &str = include_str!("../dist/agent-node.service");

/// Variables never written into a unit: the invite token is spent on first
/// start and is a secret.
const NOT_IN_UNIT: &[&str] = &["MOSAIC_NODE_INVITE_TOKEN"];

/// `TEMPLATE` with `ExecStart` running `exe --config config`, and an
/// `Environment=` line for each of `env` (except the invite token) after it.
pub fn render(exe: &Path, config: &Path, env: &[(String, String)]) -> String {
    let mut out = String::with_capacity(TEMPLATE.len() + 256);
    for line in TEMPLATE.lines() {
        if line.starts_with("ExecStart=") {
            out.push_str(&format!(
                "ExecStart={} --config {}\n",
                quote(&exe.to_string_lossy()),
                quote(&config.to_string_lossy())
            ));
            for (name, value) in env {
                if NOT_IN_UNIT.contains(&name.as_str()) {
                    continue;
                }
                out.push_str(&format!(
                    "Environment={}\n",
                    quote(&format!("{name}={value}"))
                ));
            }
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// One word of a unit file: `%` and `$` escaped (systemd expands both), in
/// double quotes when it holds anything but plain path characters.
fn quote(word: &str) -> String {
    let escaped = word.replace('%', "%%").replace('$', "$$");
    let plain = !escaped.is_empty()
        && escaped
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./,:=@%$+~".contains(c));
    if plain {
        return escaped;
    }
    let mut quoted = String::with_capacity(escaped.len() + 2);
    quoted.push('"');
    for c in escaped.chars() {
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unit_starts_this_binary_with_this_config_and_environment() {
        let env = vec![
            (
                "MOSAIC_NODE_INVITE_TOKEN".to_owned(),
                "mni_secret".to_owned(),
            ),
            (
                "MOSAIC_NODE_STATE_DIR".to_owned(),
                "/tmp/qs/node-state".to_owned(),
            ),
            (
                "MOSAIC_NODE_WORKSPACE".to_owned(),
                "/home/a b/ws".to_owned(),
            ),
        ];
        let unit = render(
            Path::new("/opt/mosaic/target/debug/agent-node"),
            Path::new("/tmp/qs/agent-node.yaml"),
            &env,
        );
        let lines: Vec<&str> = unit.lines().collect();
        let exec = lines
            .iter()
            .position(|l| l.starts_with("ExecStart="))
            .unwrap();
        assert_eq!(
            lines[exec],
            "ExecStart=/opt/mosaic/target/debug/agent-node --config /tmp/qs/agent-node.yaml"
        );
        assert_eq!(
            lines[exec + 1],
            "Environment=MOSAIC_NODE_STATE_DIR=/tmp/qs/node-state"
        );
        assert_eq!(
            lines[exec + 2],
            "Environment=\"MOSAIC_NODE_WORKSPACE=/home/a b/ws\""
        );
        assert!(!unit.contains("mni_secret"), "the invite token stays out");
        // Everything else is the shipped unit.
        for line in TEMPLATE.lines().filter(|l| !l.starts_with("ExecStart=")) {
            assert!(lines.contains(&line), "missing `{line}`");
        }
    }

    #[test]
    fn unit_words_escape_what_systemd_would_expand() {
        assert_eq!(quote("/plain/path"), "/plain/path");
        assert_eq!(quote("/100%/x"), "/100%%/x");
        assert_eq!(quote("/a b/$HOME"), "\"/a b/$$HOME\"");
        assert_eq!(quote("say \"hi\"\\"), "\"say \\\"hi\\\"\\\\\"");
    }
}
