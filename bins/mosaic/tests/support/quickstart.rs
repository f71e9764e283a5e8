//! Running a quickstart page as written: its `sh` blocks, in order, with the
//! built binaries on `PATH` and a private home.

use std::io::Read as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Longest a page may take; a hung step fails the test rather than the run.
const PAGE_TIME_LIMIT: Duration = Duration::from_secs(300);

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The shell blocks of `doc` (relative to the root), without the build and
/// `PATH` lines: the test provides both.
pub fn script(doc: &str) -> String {
    let doc = std::fs::read_to_string(root().join(doc)).unwrap();
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

/// The directory holding `mosaic` and the other binaries named, with those
/// built from the current sources: cargo builds only this package's
/// binaries for its tests, and one left in the target directory by an
/// earlier build may be stale. At the workspace root, so features resolve as
/// for the workspace build (a no-op when nothing changed).
pub fn bin_dir(others: &[&str]) -> PathBuf {
    let mosaic = PathBuf::from(env!("CARGO_BIN_EXE_mosaic"));
    let dir = mosaic.parent().unwrap().to_path_buf();
    if !others.is_empty() {
        let mut cmd = Command::new(env!("CARGO"));
        cmd.arg("build").current_dir(root());
        if dir.ends_with("release") {
            cmd.arg("--release");
        }
        for b in others {
            cmd.args(["--bin", b]);
        }
        assert!(cmd.status().unwrap().success());
    }
    dir
}

/// Runs `doc`'s script with `bins` on `PATH` in a fresh home; returns the
/// output after asserting success.
pub fn run(doc: &str, bins: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir(bins).display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // Its own process group: whatever the page starts in the background
    // (gateways, nodes) is stopped with it, even when a step fails.
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(script(doc))
        .env_clear()
        .env("PATH", path)
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("XDG_DATA_HOME", home.path().join("data"))
        .env("TMPDIR", home.path())
        .current_dir(root())
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let group = PageGroup(child.id());
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + PAGE_TIME_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // Ends the background processes too, so the pipes close.
    drop(group);
    let _ = child.wait();
    let out = Output {
        status: status.unwrap_or_else(|| child.wait().unwrap()),
        stdout: out_reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    };
    assert!(
        status.is_some(),
        "{doc} did not finish within {PAGE_TIME_LIMIT:?}\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{doc} failed\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A page's process group, stopped (TERM, then KILL) when dropped.
struct PageGroup(u32);

impl Drop for PageGroup {
    fn drop(&mut self) {
        let group = format!("-{}", self.0);
        let signal = |sig: &str| {
            Command::new("kill")
                .args([sig, "--", &group])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if !signal("-TERM") {
            return;
        }
        // Give the gateways their clean shutdown, then make sure.
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until && signal("-0") {
            std::thread::sleep(Duration::from_millis(100));
        }
        signal("-KILL");
    }
}
