//! Starting real gateway processes on loopback ports for tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod bins;
pub mod nodes;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Installs ring as the process's TLS crypto provider (reqwest needs one).
pub fn crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The gateway binary cargo built for these tests.
pub const GATEWAY: &str = env!("CARGO_BIN_EXE_gateway");

/// A running gateway process, killed on drop.
pub struct Gateway {
    pub child: Child,
    pub base_url: String,
    pub admin_token: Option<String>,
    /// `https://ADDR` of the federation (mTLS) listener.
    pub federation_url: String,
    /// `ADDR` of the agent-node (gRPC over TLS) listener.
    pub node_addr: String,
    pub data_dir: PathBuf,
    stderr: mpsc::Receiver<String>,
}

/// A command for the gateway with a clean environment: no inherited MOSAIC_*,
/// DATABASE_URL or XDG paths, everything under `home`.
pub fn command(home: &Path) -> Command {
    let mut cmd = Command::new(GATEWAY);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("MOSAIC_HTTP_ADDR", "127.0.0.1:0")
        .env("MOSAIC_FEDERATION_ADDR", "127.0.0.1:0")
        .env("MOSAIC_NODE_ADDR", "127.0.0.1:0")
        .env("MOSAIC_LOG", "info");
    cmd
}

impl Gateway {
    /// Starts `cmd` and waits for its ready line.
    // The child is moved into the returned `Gateway`, whose `Drop` waits for it.
    #[allow(clippy::zombie_processes)]
    pub fn start(mut cmd: Command, data_dir: PathBuf) -> Gateway {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn gateway");
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (err_tx, err_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = err_tx.send(line);
            }
        });
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut admin_token = None;
        let mut federation_url = String::new();
        let mut node_addr = String::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(t) = line.strip_prefix(mosaic_gateway::ADMIN_TOKEN_PREFIX) {
                        admin_token = Some(t.to_owned());
                    }
                    if let Some(addr) = line.strip_prefix(mosaic_gateway::FEDERATION_READY_PREFIX) {
                        federation_url = format!("https://{addr}");
                    }
                    if let Some(addr) = line.strip_prefix(mosaic_gateway::NODE_READY_PREFIX) {
                        node_addr = addr.to_owned();
                    }
                    if let Some(addr) = line.strip_prefix(mosaic_gateway::READY_PREFIX) {
                        // Keep draining stdout so the child never blocks on a full pipe.
                        std::thread::spawn(move || while rx.recv().is_ok() {});
                        return Gateway {
                            child,
                            base_url: format!("http://{addr}"),
                            admin_token,
                            federation_url,
                            node_addr,
                            data_dir,
                            stderr: err_rx,
                        };
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let logs: Vec<String> = err_rx.try_iter().collect();
                    panic!("gateway did not become ready:\n{}", logs.join("\n"));
                }
            }
        }
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "gateway ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Everything the gateway wrote to stderr so far.
    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr.try_iter().collect()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `cmd` to completion (it is expected to fail fast) and returns
/// (status, stdout, stderr).
pub fn run_to_exit(mut cmd: Command) -> (ExitStatus, String, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn gateway");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut out = String::new();
            let mut err = String::new();
            child
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut out)
                .unwrap();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (status, out, err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("gateway did not exit");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
