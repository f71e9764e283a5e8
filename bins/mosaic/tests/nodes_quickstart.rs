//! docs/nodes/QUICKSTART.md, run as written: the real `gateway`, `mosaic` and
//! `agent-node` binaries, and what a person would see.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The shell blocks of the quickstart, minus the build and PATH lines (the
/// test provides both).
fn script() -> String {
    let doc = std::fs::read_to_string(root().join("docs/nodes/QUICKSTART.md")).unwrap();
    let mut out = String::from("set -euo pipefail\n");
    let mut in_block = false;
    for line in doc.lines() {
        if line.starts_with("```sh") {
            in_block = true;
        } else if line.starts_with("```") {
            in_block = false;
        } else if in_block && !line.starts_with("cargo ") && !line.starts_with("export PATH=") {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Where the binaries are; the workspace's test build makes all three.
fn bin_dir() -> PathBuf {
    let mosaic = PathBuf::from(env!("CARGO_BIN_EXE_mosaic"));
    let dir = mosaic.parent().unwrap().to_path_buf();
    if !dir.join("gateway").is_file() || !dir.join("agent-node").is_file() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--bin", "gateway", "--bin", "agent-node"])
            .current_dir(root())
            .status()
            .unwrap();
        assert!(status.success());
    }
    dir
}

fn free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

#[test]
fn the_nodes_quickstart_works_as_written() {
    // The page uses fixed ports, as a person would; another run holding them
    // would make this test meaningless rather than wrong.
    for port in [7620, 7621, 7643] {
        assert!(free(port), "port {port} is busy; the quickstart needs it");
    }
    let home = tempfile::tempdir().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(script())
        .env_clear()
        .env("PATH", path)
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("XDG_DATA_HOME", home.path().join("data"))
        .env("TMPDIR", home.path())
        .current_dir(root())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "quickstart failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    // Step 3: the node is listed online under its invite's name.
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("workstation") && l.contains("online")),
        "no online `workstation` row in:\n{stdout}"
    );
    // Step 4: the command's output came back.
    assert!(stdout.contains("hello from "), "{stdout}");
    assert!(stdout.contains("Linux"), "{stdout}");
    // The task is in the session's log as completed.
    assert!(stdout.lines().any(|l| l.contains("completed")), "{stdout}");
    assert!(stdout.contains("quickstart done"), "{stdout}");
}
