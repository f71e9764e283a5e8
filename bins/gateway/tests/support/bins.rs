//! The workspace's other binaries, built from the current sources.
//!
//! Cargo builds only this package's binaries for its tests, so a test that
//! runs `agent-node` or `mosaic` could otherwise pick up a stale build left
//! in the target directory. `cargo build --bin NAME` runs once per test
//! process (under nextest, once per test): a no-op when nothing changed. It
//! runs at the workspace root, so features resolve as for the workspace
//! build and its artifacts are reused; the path comes from cargo's own
//! report, whatever the target directory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

/// The workspace's binary `bin`, freshly built.
pub fn current(bin: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(|| Mutex::new(HashMap::new()));
    let mut built = built
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    built
        .entry(bin.to_owned())
        .or_insert_with(|| build(bin))
        .clone()
}

fn build(bin: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args([
        "build",
        "--message-format=json-render-diagnostics",
        "--bin",
        bin,
    ])
    .current_dir(&root)
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    // The same profile as the binaries under test.
    if Path::new(super::GATEWAY)
        .parent()
        .is_some_and(|dir| dir.ends_with("release"))
    {
        cmd.arg("--release");
    }
    let out = cmd.output().expect("run cargo build");
    assert!(out.status.success(), "cargo build --bin {bin} failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == bin)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo build reported no executable for {bin}"))
}
