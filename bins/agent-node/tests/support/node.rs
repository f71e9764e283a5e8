//! The node under test: a temporary home with its config, and the real
//! `agent-node` binary running in it.

use super::{FakeGateway, GatewayState, WAIT};
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A temporary home for one node: config, workspace and state directory.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub gateway: FakeGateway,
    pub config: PathBuf,
}

impl Setup {
    /// A gateway and a config with its invite.
    pub fn new() -> Self {
        Self::with_state(GatewayState::new())
    }

    pub fn with_state(state: Arc<GatewayState>) -> Self {
        let gateway = FakeGateway::start(state);
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("agent-node.yaml");
        let setup = Self {
            dir,
            gateway,
            config,
        };
        setup.write_config(&setup.gateway.state.invite.clone(), "");
        setup
    }

    pub fn state(&self) -> &Arc<GatewayState> {
        &self.gateway.state
    }

    pub fn workspace(&self) -> PathBuf {
        self.dir.path().join("workspace")
    }

    pub fn state_file(&self) -> PathBuf {
        self.dir.path().join("state").join("node.json")
    }

    /// Writes the config with `invite` and `extra` YAML lines.
    pub fn write_config(&self, invite: &str, extra: &str) {
        let ca = self
            .gateway
            .pki
            .ca_pem
            .trim_end()
            .lines()
            .map(|l| format!("  {l}\n"))
            .collect::<String>();
        // `extra` may set the back-off cap itself.
        let reconnect = if extra.contains("reconnect_max_secs:") {
            ""
        } else {
            "reconnect_max_secs: 1\n"
        };
        let text = format!(
            "gateway: https://127.0.0.1:{port}\nserver_name: localhost\nca_cert: |\n{ca}invite_token: {invite}\nname: test-node\nworkspace: {ws}\nstate_dir: {st}\n{reconnect}task_timeout_secs: 60\nlog: info\n{extra}",
            port = self.gateway.addr.port(),
            ws = self.workspace().display(),
            st = self.dir.path().join("state").display(),
        );
        std::fs::write(&self.config, text).unwrap();
    }

    pub fn start_node(&self) -> NodeProcess {
        NodeProcess::start(
            &["--config", self.config.to_str().unwrap()],
            self.dir.path(),
        )
    }

    /// Starts a node and waits until its task stream is open.
    pub fn connected_node(&self) -> NodeProcess {
        let node = self.start_node();
        node.wait_stdout("agent-node connected", 1);
        self.state().wait_hellos(1);
        node
    }
}

/// The real `agent-node` binary, with its stdout lines and stderr captured.
pub struct NodeProcess {
    pub child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<String>>,
}

impl NodeProcess {
    /// Runs `agent-node ARGS` with a clean environment and `home` as `HOME`.
    pub fn start(args: &[&str], home: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_agent-node"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let out = child.stdout.take().unwrap();
        let lines = Arc::clone(&stdout);
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
        let err = child.stderr.take().unwrap();
        let text = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
                let mut t = text.lock().unwrap();
                t.push_str(&line);
                t.push('\n');
            }
        });
        Self {
            child,
            stdout,
            stderr,
        }
    }

    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until `line` has been printed `n` times.
    pub fn wait_stdout(&self, line: &str, n: usize) {
        let deadline = Instant::now() + WAIT;
        while self.stdout_lines().iter().filter(|l| *l == line).count() < n {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for `{line}` ×{n}; stdout: {:?}\nstderr:\n{}",
                self.stdout_lines(),
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until stderr satisfies `f`.
    pub fn wait_stderr(&self, what: &str, f: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + WAIT;
        while !f(&self.stderr()) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what} on stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the process to exit.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the reader threads catch the last lines.
                std::thread::sleep(Duration::from_millis(100));
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "agent-node did not exit; stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap());
        nix::sys::signal::kill(pid, signal).unwrap();
    }

    /// SIGTERM, then waits for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
        self.signal(nix::sys::signal::Signal::SIGTERM);
        self.wait_exit()
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap_or(0)),
                nix::sys::signal::Signal::SIGTERM,
            );
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Whether process `pid` is gone (or a zombie waiting to be reaped).
pub fn process_gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

/// Waits until process `pid` is gone.
pub fn wait_gone(pid: i32) {
    let deadline = Instant::now() + WAIT;
    while !process_gone(pid) {
        assert!(Instant::now() < deadline, "process {pid} is still alive");
        std::thread::sleep(Duration::from_millis(20));
    }
}
