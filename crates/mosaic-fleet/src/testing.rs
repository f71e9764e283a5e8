//! What tests that need real tmux share (feature `testing`).
//!
//! [`require_tmux`] decides whether such a test runs. Outside CI a machine
//! without tmux skips it with a note; under CI (`CI` set, non-empty, not
//! `false` or `0`) a missing tmux fails it, the rule the PostgreSQL tests
//! follow for `DATABASE_URL`: CI runs every test or says why not.
//! [`TmuxServer`] is a private tmux server (`tmux -L <unique name>`) that is
//! killed when dropped, so tests never see each other's sessions or the
//! user's.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// Whether `value` (of the `CI` variable) means "running under CI".
pub fn ci_value(value: Option<&str>) -> bool {
    value.is_some_and(|v| {
        let v = v.trim();
        !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false")
    })
}

/// Whether these tests run under CI, by the `CI` variable.
pub fn under_ci() -> bool {
    ci_value(std::env::var("CI").ok().as_deref())
}

/// Whether `tmux` answers `tmux -V`.
pub fn tmux_installed() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether a test that needs tmux should run: `true` when tmux is
/// installed; otherwise `false` with a note on stderr, naming `test`.
///
/// # Panics
/// Under CI when tmux is not installed: a CI run that skips the real-tmux
/// tests proves nothing about them.
pub fn require_tmux(test: &str) -> bool {
    if tmux_installed() {
        return true;
    }
    assert!(
        !under_ci(),
        "{test}: CI is set but tmux is not installed: the tests that need tmux must run under CI \
         (Debian: apt-get install tmux)"
    );
    eprintln!("{test}: tmux is not installed, skipping (Debian: apt-get install tmux)");
    false
}

static SERVERS: AtomicU32 = AtomicU32::new(0);

/// A private tmux server, named uniquely per test process and call; its
/// server (and every session on it) is killed when this is dropped.
#[derive(Debug)]
pub struct TmuxServer {
    socket: String,
}

impl TmuxServer {
    /// A fresh socket name tagged `tag`; the server starts with the first
    /// session created on it.
    pub fn new(tag: &str) -> TmuxServer {
        TmuxServer {
            socket: format!(
                "mosaic-test-{tag}-{}-{}",
                std::process::id(),
                SERVERS.fetch_add(1, Ordering::SeqCst)
            ),
        }
    }

    /// The `-L` name.
    pub fn socket(&self) -> &str {
        &self.socket
    }

    /// `tmux -L <socket> <args…>` (a config file of the user's is read, as
    /// for any server).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.arg("-L").arg(&self.socket).args(args);
        cmd
    }

    /// The names of the sessions on this server; none when it is not
    /// running.
    pub fn sessions(&self) -> Vec<String> {
        self.command(&["list-sessions", "-F", "#{session_name}"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for TmuxServer {
    fn drop(&mut self) {
        // tmux leaves its socket file behind after kill-server; remove it
        // too, so test runs do not pile them up in the tmux directory.
        let socket_path = self
            .command(&["display-message", "-p", "#{socket_path}"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .filter(|p| !p.is_empty());
        let _ = self.command(&["kill-server"]).output();
        if let Some(path) = socket_path {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ci_value;

    #[test]
    fn what_counts_as_ci() {
        for (value, ci) in [
            (None, false),
            (Some(""), false),
            (Some("0"), false),
            (Some("false"), false),
            (Some("FALSE"), false),
            (Some("true"), true),
            (Some("1"), true),
            (Some("yes"), true),
        ] {
            assert_eq!(ci_value(value), ci, "{value:?}");
        }
    }
}
