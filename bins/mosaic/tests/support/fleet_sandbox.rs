//! A person's shell for the fleet: the real `mosaic` on `PATH`, a fresh
//! home, a private tmux server (its own `TMUX_TMPDIR`) and no systemd.
// Each test binary uses its own part of this.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// The tmux socket the shipped presets name.
pub const SOCKET: &str = "mosaic-fleet";

pub struct Sandbox {
    pub home: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            home: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.home.path()
    }

    /// The Mosaic home inside the sandbox.
    pub fn mosaic_home(&self) -> PathBuf {
        self.path().join(".config/mosaic")
    }

    fn env(&self, cmd: &mut Command) {
        let bin_dir = Path::new(env!("CARGO_BIN_EXE_mosaic"))
            .parent()
            .unwrap()
            .to_path_buf();
        let path = format!(
            "{}:{}",
            bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        cmd.env_clear()
            .env("PATH", path)
            .env("HOME", self.path())
            .env("USER", "quickstart")
            .env("TMUX_TMPDIR", self.path())
            .env("MOSAIC_FLEET_SYSTEMD", "0")
            .current_dir(self.path());
    }

    /// Runs `script` with bash (`-euo pipefail`).
    pub fn run(&self, script: &str) -> Output {
        let mut cmd = Command::new("bash");
        cmd.arg("-euo").arg("pipefail").arg("-c").arg(script);
        self.env(&mut cmd);
        cmd.output().unwrap()
    }

    /// Runs `script` and asserts it succeeded; returns its stdout.
    pub fn ok(&self, script: &str) -> String {
        let out = self.run(script);
        assert!(
            out.status.success(),
            "{script}\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts `mosaic <args>` in the background, its output captured.
    pub fn spawn(&self, args: &[&str]) -> Child {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mosaic"));
        cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
        self.env(&mut cmd);
        cmd.spawn().unwrap()
    }

    /// The sessions on the fleet's tmux server; none when it is not running.
    pub fn sessions(&self) -> Vec<String> {
        let out = self.run(&format!(
            "tmux -L {SOCKET} list-sessions -F '#{{session_name}}' 2>/dev/null || true"
        ));
        let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
        names.sort();
        names
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // Whatever a failed run left behind lives on this sandbox's server only.
        let _ = self.run(&format!("tmux -L {SOCKET} kill-server 2>/dev/null; true"));
    }
}

/// Waits until `check` holds, failing the test after `timeout`.
pub fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sends `signal` (`TERM`, `INT`) to `child`.
pub fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits for `child` to exit, at most `timeout`; kills it and fails the
/// test when it does not.
pub fn exit_within(child: &mut Child, timeout: Duration) -> (ExitStatus, String, String) {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stdout = String::new();
            let mut stderr = String::new();
            use std::io::Read as _;
            if let Some(mut out) = child.stdout.take() {
                out.read_to_string(&mut stdout).unwrap();
            }
            if let Some(mut err) = child.stderr.take() {
                err.read_to_string(&mut stderr).unwrap();
            }
            return (status, stdout, stderr);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("the command did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
