//! The command line without a gateway: configuration errors, `check-config`
//! and `systemd-unit`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----";

fn agent_node(args: &[&str], home: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_agent-node"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .output()
        .unwrap()
}

fn config(dir: &Path, body: &str) -> String {
    let path = dir.join("agent-node.yaml");
    std::fs::write(&path, body).unwrap();
    path.to_str().unwrap().to_owned()
}

fn good(dir: &Path, extra: &str) -> String {
    let ca: String = PEM.lines().map(|l| format!("  {l}\n")).collect();
    config(
        dir,
        &format!(
            "gateway: https://gateway.example:7443\nca_cert: |\n{ca}invite_token: mni_secret-token-value\nstate_dir: {}\nworkspace: {}\n{extra}",
            dir.join("state").display(),
            dir.join("ws").display()
        ),
    )
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn configuration_errors_exit_2_and_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("ca_cert: x\n", "`gateway`", "missing"),
        (
            "gateway: http://gw:1\nca_cert: x\n",
            "`gateway`",
            "https://",
        ),
        (
            "gateway: https://gw:1\nca_cert: not pem at all\n",
            "`ca_cert`",
            "BEGIN CERTIFICATE",
        ),
        ("gateway: [oops\n", "not valid YAML", "line"),
    ];
    for (body, key, hint) in cases {
        let path = config(dir.path(), body);
        for args in [
            vec!["--config", &path],
            vec!["check-config", "--config", &path],
        ] {
            let out = agent_node(&args, dir.path());
            assert_eq!(out.status.code(), Some(2), "{body}: {}", stderr(&out));
            let err = stderr(&out);
            assert!(err.contains(key), "{body}: {err}");
            assert!(err.contains(hint), "{body}: {err}");
            assert!(err.contains(&path), "the message names the file: {err}");
        }
    }

    let out = agent_node(&["--config", "/no/such/agent-node.yaml"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("/no/such/agent-node.yaml"));
}

#[test]
fn environment_variables_override_the_file_and_are_named_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = good(dir.path(), "");
    let out = Command::new(env!("CARGO_BIN_EXE_agent-node"))
        .args(["check-config", "--json"])
        .env_clear()
        .env("HOME", dir.path())
        .env("MOSAIC_NODE_CONFIG", &path)
        .env("MOSAIC_NODE_NAME", "from-env")
        .env("MOSAIC_NODE_MAX_CONCURRENT_TASKS", "7")
        // The gateway's own settings, often exported in the same shell.
        .env("MOSAIC_NODE_ADDR", "127.0.0.1:7421")
        .env("MOSAIC_NODE_URL", "https://gw.example:7421")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["config"]["name"], "from-env");
    assert_eq!(report["config"]["max_concurrent_tasks"], 7);

    let out = Command::new(env!("CARGO_BIN_EXE_agent-node"))
        .args(["check-config", "--config", &path])
        .env_clear()
        .env("HOME", dir.path())
        .env("MOSAIC_NODE_GATEWAY", "gateway.example:7443")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("MOSAIC_NODE_GATEWAY"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn check_config_prints_the_effective_configuration_without_the_invite() {
    let dir = tempfile::tempdir().unwrap();
    let path = good(dir.path(), "name: laptop\n");
    let out = agent_node(&["check-config", "--config", &path], dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains("mni_secret-token-value"), "{text}");
    assert!(text.contains("<redacted>"), "{text}");
    assert!(text.contains("https://gateway.example:7443"), "{text}");
    assert!(text.contains("gateway.example"), "server name: {text}");
    assert!(text.contains("laptop"), "{text}");
    assert!(text.contains("does not exist"), "no state yet: {text}");

    let out = agent_node(&["check-config", "--json", "--config", &path], dir.path());
    assert!(out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["valid"], true);
    assert_eq!(report["config"]["invite_token"], "<redacted>");
    assert_eq!(report["config"]["task_timeout_secs"], 600);
    assert_eq!(report["state_file_exists"], false);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("mni_secret-token-value"));

    // Registered: the state file is reported with the node id.
    let state_dir = dir.path().join("state");
    std::fs::create_dir_all(&state_dir).unwrap();
    std::fs::write(
        state_dir.join("node.json"),
        r#"{"node_id":"node-9","credential":"mnc_x","task_signing_key":"CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=","gateway":"https://gateway.example:7443"}"#,
    )
    .unwrap();
    let out = agent_node(&["check-config", "--json", "--config", &path], dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["state_file_exists"], true);
    assert_eq!(report["node_id"], "node-9");
}

#[test]
fn an_unregistered_node_without_an_invite_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = good(dir.path(), "");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("invite_token: mni_secret-token-value\n", "");
    std::fs::write(&path, text).unwrap();
    for args in [
        vec!["--config", &path],
        vec!["check-config", "--config", &path],
    ] {
        let out = agent_node(&args, dir.path());
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains("invite_token"), "{}", stderr(&out));
    }
}

#[test]
fn the_systemd_unit_starts_this_binary_with_this_config() {
    let dir = tempfile::tempdir().unwrap();
    let file = config(dir.path(), "gateway: https://gw.example:7421\n");
    let out = Command::new(env!("CARGO_BIN_EXE_agent-node"))
        .args(["--config", &file, "systemd-unit"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("MOSAIC_NODE_STATE_DIR", dir.path().join("state"))
        .env("MOSAIC_NODE_INVITE_TOKEN", "mni_secret")
        // Not a node key (the gateway's): stays out.
        .env("MOSAIC_NODE_ADDR", "127.0.0.1:1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let printed = String::from_utf8(out.stdout).unwrap();
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_agent-node")).unwrap();
    let exec = printed
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .unwrap();
    let (bin, rest) = exec.split_once(' ').unwrap();
    assert_eq!(std::fs::canonicalize(bin).unwrap(), exe, "{exec}");
    assert_eq!(rest, format!("--config {file}"));
    let env: Vec<&str> = printed
        .lines()
        .filter_map(|l| l.strip_prefix("Environment="))
        .collect();
    assert_eq!(
        env,
        [format!(
            "MOSAIC_NODE_STATE_DIR={}",
            dir.path().join("state").display()
        )]
    );
    assert!(!printed.contains("mni_secret"));
    for line in [
        "Restart=on-failure",
        "RestartSec=5",
        "RestartPreventExitStatus=2 3",
        "KillSignal=SIGTERM",
        "WantedBy=default.target",
    ] {
        assert!(printed.lines().any(|l| l == line), "missing `{line}`");
    }
}

#[test]
fn the_systemd_unit_without_flags_names_the_default_config() {
    let dir = tempfile::tempdir().unwrap();
    let out = agent_node(&["systemd-unit"], dir.path());
    assert!(out.status.success());
    let printed = String::from_utf8(out.stdout).unwrap();
    let expected = dir.path().join(".config/mosaic/agent-node.yaml");
    assert!(
        printed.lines().any(|l| l.starts_with("ExecStart=")
            && l.ends_with(&format!("--config {}", expected.display()))),
        "{printed}"
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("does not exist yet"), "{stderr}");
}

#[test]
fn the_default_config_path_is_in_the_home_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = agent_node(&["check-config"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let expected = dir.path().join(".config/mosaic/agent-node.yaml");
    assert!(
        stderr(&out).contains(expected.to_str().unwrap()),
        "{}",
        stderr(&out)
    );
}
