//! The CLI's own configuration as a person meets it: typos refused with the
//! nearest key, an empty data dir refused, `mosaic login` keeping a checked
//! token, `mosaic status` and `mosaic config show` saying where each value
//! came from.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support {
    pub mod api;
}

use serde_json::Value;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const MOSAIC: &str = env!("CARGO_BIN_EXE_mosaic");

fn command(home: &Path, env: &[(&str, &str)], args: &[&str]) -> Command {
    let mut cmd = Command::new(MOSAIC);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .current_dir(home);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.args(args);
    cmd
}

fn mosaic(home: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    command(home, env, args).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(out: &Output) -> Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn config_file(home: &Path) -> std::path::PathBuf {
    home.join("config/mosaic/mosaic.toml")
}

fn write_config(home: &Path, text: &str) {
    let file = config_file(home);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(file, text).unwrap();
}

#[test]
fn an_unknown_key_exits_with_the_configuration_status_naming_file_key_and_nearest() {
    let home = tempfile::tempdir().unwrap();
    write_config(home.path(), "databse_url = \"sqlite::memory:\"\n");
    let out = mosaic(home.path(), &[], &["db", "status"]);
    assert_eq!(
        out.status.code(),
        Some(i32::from(mosaic_config::EXIT_CONFIG))
    );
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("mosaic: invalid configuration: unknown key `databse_url`"),
        "{err}"
    );
    assert!(
        err.contains(&config_file(home.path()).display().to_string()),
        "{err}"
    );
    assert!(err.contains("did you mean `database_url`?"), "{err}");

    // The same file stops gateway commands too: the [client] table is read
    // with the same rules.
    write_config(home.path(), "[client]\ngateway = \"http://127.0.0.1:1\"\n");
    let out = mosaic(home.path(), &[], &["node", "ls"]);
    assert_eq!(
        out.status.code(),
        Some(i32::from(mosaic_config::EXIT_CONFIG)),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("did you mean `client.gateway_url`?"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_empty_data_dir_is_refused_rather_than_the_current_directory() {
    let home = tempfile::tempdir().unwrap();
    let out = mosaic(home.path(), &[("MOSAIC_DATA_DIR", "")], &["db", "status"]);
    assert_eq!(
        out.status.code(),
        Some(i32::from(mosaic_config::EXIT_CONFIG)),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("MOSAIC_DATA_DIR"), "{}", stderr(&out));
    assert!(!home.path().join("mosaic.db").exists());
}

#[test]
fn config_show_names_the_source_of_each_value() {
    let home = tempfile::tempdir().unwrap();
    write_config(
        home.path(),
        "http_addr = \"127.0.0.1:7001\"\n[limits]\nidle_timeout_secs = 5\n[client]\ngateway_url = \"http://127.0.0.1:7001\"\ntoken = \"mosaic_0123456789abcdefghijklmnopqrstuv\"\n",
    );
    let rows = json(&mosaic(
        home.path(),
        &[("MOSAIC_FEDERATION_ADDR", "127.0.0.1:7002")],
        &["--data-dir", "/srv/m", "config", "show", "--json"],
    ));
    let row = |key: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["key"] == key)
            .unwrap_or_else(|| panic!("{key} missing: {rows}"))
            .clone()
    };
    let file = config_file(home.path()).display().to_string();
    assert_eq!(row("http_addr")["source"]["kind"], "file");
    assert_eq!(row("http_addr")["source"]["name"], file.as_str());
    assert_eq!(row("limits.idle_timeout_secs")["value"], 5);
    assert_eq!(
        row("federation_addr")["source"]["name"],
        "MOSAIC_FEDERATION_ADDR"
    );
    assert_eq!(row("data_dir")["source"]["kind"], "flag");
    assert_eq!(row("data_dir")["value"], "/srv/m");
    assert_eq!(row("node_addr")["source"]["kind"], "default");
    assert_eq!(row("client.gateway_url")["value"], "http://127.0.0.1:7001");
    let token = row("client.token");
    assert_eq!(token["value"], "mosaic_…stuv", "secrets by their tail only");
    assert!(!rows.to_string().contains("0123456789abcdef"));

    // The environment wins over the file, and says so.
    let rows = json(&mosaic(
        home.path(),
        &[("MOSAIC_GATEWAY_URL", "http://127.0.0.1:7003")],
        &["config", "show", "--json"],
    ));
    let gw = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "client.gateway_url")
        .unwrap();
    assert_eq!(gw["value"], "http://127.0.0.1:7003");
    assert_eq!(gw["source"]["name"], "MOSAIC_GATEWAY_URL");
}

#[test]
fn login_keeps_a_checked_token_that_later_commands_use() {
    let rt = support::api::runtime();
    let dir = tempfile::tempdir().unwrap();
    let (base, token) = support::api::gateway(&rt, dir.path());
    let home = tempfile::tempdir().unwrap();
    write_config(home.path(), "# my settings\nlog = \"debug\"\n");

    // A refused token is not kept.
    let mut child = command(
        home.path(),
        &[],
        &["login", "--gateway", &base, "--token-stdin"],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"mosaic_notarealtokennotarealtoken\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("refused the token"),
        "{}",
        stderr(&out)
    );
    assert!(
        !std::fs::read_to_string(config_file(home.path()))
            .unwrap()
            .contains("token")
    );

    let mut child = command(
        home.path(),
        &[],
        &["login", "--gateway", &base, "--token-stdin", "--json"],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{token}\n").as_bytes())
        .unwrap();
    let done = json(&child.wait_with_output().unwrap());
    assert_eq!(done["role"], "admin");
    assert_eq!(done["gateway_url"], base.as_str());

    let text = std::fs::read_to_string(config_file(home.path())).unwrap();
    assert!(
        text.starts_with("# my settings\nlog = \"debug\"\n"),
        "kept as written: {text}"
    );
    assert!(text.contains(&token));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(config_file(home.path()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "a file holding a token is owner-only");
    }

    // No flag, no environment: the kept URL and token are used.
    let users = mosaic(home.path(), &[], &["user", "ls", "--json"]);
    assert!(users.status.success(), "{}", stderr(&users));
    let status = json(&mosaic(home.path(), &[], &["status", "--json"]));
    assert_eq!(status["reachable"], true);
    assert_eq!(status["ready"]["backend"], "sqlite");
    assert_eq!(status["gateway"]["source"]["kind"], "file");
    assert_eq!(status["token"]["who"]["role"], "admin");
    assert!(
        !status.to_string().contains(&token),
        "the token is never printed"
    );

    // The environment wins over the file; a flag wins over both.
    let out = mosaic(
        home.path(),
        &[("MOSAIC_GATEWAY_URL", "http://127.0.0.1:1")],
        &["status"],
    );
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("environment variable MOSAIC_GATEWAY_URL"),
        "{text}"
    );
    let status = json(&mosaic(
        home.path(),
        &[("MOSAIC_GATEWAY_URL", "http://127.0.0.1:1")],
        &["status", "--gateway", &base, "--json"],
    ));
    assert_eq!(status["gateway"]["source"]["name"], "--gateway");

    let out = json(&mosaic(home.path(), &[], &["logout", "--json"]));
    assert_eq!(out["removed"], true);
    let text = std::fs::read_to_string(config_file(home.path())).unwrap();
    assert!(!text.contains(&token) && text.contains(&base), "{text}");
    let out = mosaic(home.path(), &[], &["user", "ls"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("mosaic login"), "{}", stderr(&out));
}
