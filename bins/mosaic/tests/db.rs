//! `mosaic db`, `mosaic admin`, `--version` and completions, run as a person would.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

const MOSAIC: &str = env!("CARGO_BIN_EXE_mosaic");

fn mosaic(home: &Path, args: &[&str]) -> Output {
    Command::new(MOSAIC)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .args(args)
        .output()
        .unwrap()
}

fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn status_then_migrate_on_the_embedded_default() {
    let home = tempfile::tempdir().unwrap();
    let status = json(&mosaic(home.path(), &["db", "status", "--json"]));
    assert_eq!(status["backend"], "sqlite");
    assert!(status["current"].is_null());
    let pending = status["pending"].as_array().unwrap().len();
    assert!(pending >= 4);
    assert!(home.path().join("data/mosaic/mosaic.db").is_file());

    let report = json(&mosaic(home.path(), &["db", "migrate", "--json"]));
    assert_eq!(report["applied_now"].as_array().unwrap().len(), pending);

    let status = json(&mosaic(home.path(), &["db", "status", "--json"]));
    assert!(status["pending"].as_array().unwrap().is_empty());
    assert_eq!(
        status["current"],
        status["applied"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .clone()
    );

    let out = mosaic(home.path(), &["db", "migrate"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("up to date"));
    let out = mosaic(home.path(), &["db", "status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("backend:  SQLite") && text.contains("pending:  none"),
        "{text}"
    );
}

#[test]
fn migrate_on_postgres() {
    let Some(admin) = mosaic_store::testing::postgres_url() else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let db = rt
        .block_on(mosaic_store::testing::TestDatabase::create(&admin))
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let report = json(&mosaic(
        home.path(),
        &["--database-url", &db.url, "db", "migrate", "--json"],
    ));
    assert_eq!(report["backend"], "postgres");
    let status = json(&mosaic(
        home.path(),
        &["--database-url", &db.url, "db", "status", "--json"],
    ));
    assert!(status["pending"].as_array().unwrap().is_empty());
    rt.block_on(db.drop_database());
}

#[test]
fn bad_database_url_is_one_clear_line() {
    let home = tempfile::tempdir().unwrap();
    let out = mosaic(
        home.path(),
        &["--database-url", "redis://127.0.0.1", "db", "status"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("redis://127.0.0.1") && err.contains("postgres://"),
        "{err}"
    );
}

/// The server's refusal is said once, without the driver's repetitions or
/// the server's source line numbers.
#[test]
fn a_database_error_is_said_once() {
    let Some(admin) = mosaic_store::testing::postgres_url() else {
        return;
    };
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_path("/mosaic_no_such_database");
    let home = tempfile::tempdir().unwrap();
    let out = mosaic(
        home.path(),
        &["--database-url", url.as_str(), "db", "status"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(
        err.matches("does not exist").count(),
        1,
        "the reason once: {err}"
    );
    assert!(!err.contains(" at line "), "no server source lines: {err}");

    // A port nobody listens on: the reason, not a pool timing out.
    let out = mosaic(
        home.path(),
        &[
            "--database-url",
            "postgres://postgres@127.0.0.1:1/x",
            "db",
            "status",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(err.matches("refused").count(), 1, "{err}");
}

#[test]
fn admin_token_rotation_prints_a_token_once() {
    let home = tempfile::tempdir().unwrap();
    let rotated = json(&mosaic(home.path(), &["admin", "rotate-token", "--json"]));
    let token = rotated["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("mosaic_"));
    let list = json(&mosaic(home.path(), &["admin", "tokens", "--json"]));
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains(&token));
}

#[test]
fn version_and_completions() {
    let home = tempfile::tempdir().unwrap();
    let out = mosaic(home.path(), &["--version"]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("mosaic "));
    let out = mosaic(home.path(), &["completions", "bash"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("_mosaic"));
}

#[test]
fn a_closed_pipe_ends_output_quietly() {
    let home = tempfile::tempdir().unwrap();
    let mut child = Command::new(MOSAIC)
        .env("HOME", home.path())
        .args(["completions", "bash"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away before anything is read, like `| head -0`.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(141));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
