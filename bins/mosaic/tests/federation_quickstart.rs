//! Runs the exact commands of docs/federation/QUICKSTART.md with the built
//! `mosaic` and `gateway` binaries, and checks what a person would see.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The shell blocks of the quickstart, without the build step (the test
/// harness has built the binaries already).
fn script() -> String {
    let doc = std::fs::read_to_string(root().join("docs/federation/QUICKSTART.md")).unwrap();
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

fn bin_dir() -> PathBuf {
    let mosaic = PathBuf::from(env!("CARGO_BIN_EXE_mosaic"));
    let dir = mosaic.parent().unwrap().to_path_buf();
    if !dir.join("gateway").is_file() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--bin", "gateway"])
            .current_dir(root())
            .status()
            .unwrap();
        assert!(status.success());
    }
    dir
}

#[test]
fn the_quickstart_works_as_written() {
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

    // Step 4's table: work's task, tagged with work's name.
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("Ship the release") && l.split_whitespace().last() == Some("work")),
        "no row for work's task tagged `work` in:\n{stdout}"
    );
    // The JSON form carries the same tag.
    assert!(stdout.contains("\"_source\": \"work\""), "{stdout}");
    // Step 5: after revocation the next request is refused.
    assert!(stderr.contains("Federation access denied"), "{stderr}");
    assert!(stdout.contains("refused, as it should be"), "{stdout}");
}
