//! The baseline: `ssh host true` over an already-open ControlMaster
//! connection to a local sshd with throwaway keys.

use super::WARM_UP;
use super::proc::Proc;
use super::report::Figures;
use crate::util;
use anyhow::{Context as _, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const SSHD: &str = "/usr/sbin/sshd";

/// Installs Debian's openssh-server when sshd is missing and we are root.
pub(super) fn ensure_sshd() -> anyhow::Result<()> {
    // openssh-client brings ssh and ssh-keygen together.
    if Path::new(SSHD).exists() && util::have("ssh", "-V") {
        return Ok(());
    }
    let uid = Command::new("id").arg("-u").output()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        bail!(
            "the ssh baseline needs {SSHD}, ssh and ssh-keygen: install them (Debian: `sudo apt-get install openssh-server openssh-client`) or pass --skip-ssh"
        );
    }
    let install = || {
        let mut c = Command::new("apt-get");
        c.args(["install", "-y", "-qq", "openssh-server", "openssh-client"])
            .env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    if util::step("install openssh-server", &mut install()).is_err() {
        util::step(
            "apt-get update",
            Command::new("apt-get")
                .args(["update", "-qq"])
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )?;
        util::step("install openssh-server", &mut install())?;
    }
    anyhow::ensure!(
        Path::new(SSHD).exists(),
        "{SSHD} is still missing after installing openssh-server"
    );
    Ok(())
}

/// The ControlMaster connection: `-O exit`, then killed, on drop.
struct Master {
    proc: Proc,
    /// What every ssh call shares: no user config, this control socket.
    base: Vec<String>,
    target: String,
}

impl Drop for Master {
    fn drop(&mut self) {
        let _ = Command::new("ssh")
            .args(&self.base)
            .args(["-O", "exit", &self.target])
            .output();
        self.proc.stop(Duration::from_secs(2));
    }
}

fn run_quiet(what: &str, cmd: &mut Command) -> anyhow::Result<()> {
    let out = cmd.output().with_context(|| format!("cannot run {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Times `iterations` runs of `ssh … true` over a ControlMaster, after
/// [`WARM_UP`] runs.
pub(super) fn baseline(dir: &Path, iterations: usize) -> anyhow::Result<Figures> {
    let ssh_dir = dir.join("ssh");
    std::fs::create_dir_all(&ssh_dir)?;
    let keys = Keys::generate(&ssh_dir)?;
    let sshd = Sshd::start(&ssh_dir, &keys)?;
    let master = Master::start(&ssh_dir, &keys, &sshd)?;
    for _ in 0..WARM_UP {
        master.run_true()?;
    }
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        samples.push(master.run_true()?);
    }
    // Every run went through the master, not a fresh connection.
    anyhow::ensure!(
        master.check(),
        "the ssh ControlMaster went away during the runs"
    );
    drop(master);
    drop(sshd);
    Ok(Figures::of(samples))
}

/// Throwaway keys: the host's, and the client's, authorized.
struct Keys {
    host: PathBuf,
    client: PathBuf,
    authorized: PathBuf,
}

impl Keys {
    fn generate(ssh_dir: &Path) -> anyhow::Result<Keys> {
        let host = ssh_dir.join("host_ed25519");
        let client = ssh_dir.join("client_ed25519");
        for key in [&host, &client] {
            run_quiet(
                "ssh-keygen",
                Command::new("ssh-keygen")
                    .args(["-q", "-N", "", "-t", "ed25519", "-f"])
                    .arg(key),
            )?;
        }
        let authorized = ssh_dir.join("authorized_keys");
        std::fs::copy(client.with_extension("pub"), &authorized)?;
        Ok(Keys {
            host,
            client,
            authorized,
        })
    }
}

/// A private sshd on a loopback port.
struct Sshd {
    proc: Proc,
    port: u16,
}

impl Sshd {
    /// Starts it and waits until it listens.
    fn start(ssh_dir: &Path, keys: &Keys) -> anyhow::Result<Sshd> {
        // sshd's privilege-separation directory.
        std::fs::create_dir_all("/run/sshd")?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let config = ssh_dir.join("sshd_config");
        std::fs::write(&config, sshd_config(ssh_dir, keys, port))?;
        let proc = Proc::spawn(
            "sshd",
            Command::new(SSHD).args(["-D", "-e", "-f"]).arg(&config),
        )?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            anyhow::ensure!(
                Instant::now() < deadline,
                "sshd did not listen on 127.0.0.1:{port} within 10s; its stderr:\n{}",
                proc.stderr_tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Sshd { proc, port })
    }
}

/// `SetEnv SHLVL=1`: the node runs `sh -c true`, which reads no rc file;
/// Debian's bash, the user's login shell under sshd, sources ~/.bashrc
/// for a command sent over ssh unless it is a nested shell (SHLVL ≥ 2 once
/// it starts). Without this the baseline would time the user's ~/.bashrc
/// (on a machine with pyenv set up there, ~150 ms), not ssh.
fn sshd_config(ssh_dir: &Path, keys: &Keys, port: u16) -> String {
    format!(
        "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\n\
         PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
         UsePAM no\nStrictModes no\nPidFile {}\nPermitRootLogin yes\nSetEnv SHLVL=1\n",
        keys.host.display(),
        keys.authorized.display(),
        ssh_dir.join("sshd.pid").display()
    )
}

impl Master {
    /// Opens the master connection to `sshd` as the current user and waits
    /// until it answers `-O check`.
    fn start(ssh_dir: &Path, keys: &Keys, sshd: &Sshd) -> anyhow::Result<Master> {
        let user = String::from_utf8(Command::new("id").arg("-un").output()?.stdout)?
            .trim()
            .to_owned();
        let target = format!("{user}@127.0.0.1");
        let ctl = ssh_dir.join("ctl");
        let port = sshd.port.to_string();
        let base: Vec<String> = vec![
            "-F".into(),
            "/dev/null".into(),
            "-S".into(),
            ctl.display().to_string(),
            "-p".into(),
            port.clone(),
        ];
        // The master stays in the foreground as our child (no -f and no
        // ControlPersist, which would daemonize it) so it is stopped by pid;
        // the sessions multiplexed over it are the same either way.
        let master = Master {
            proc: Proc::spawn(
                "ssh master",
                Command::new("ssh")
                    .args(["-M", "-N", "-F", "/dev/null", "-S"])
                    .arg(&ctl)
                    .args([
                        "-o",
                        "StrictHostKeyChecking=no",
                        "-o",
                        "UserKnownHostsFile=/dev/null",
                        "-o",
                        "BatchMode=yes",
                        "-o",
                        "IdentitiesOnly=yes",
                        "-o",
                        "LogLevel=ERROR",
                        "-i",
                    ])
                    .arg(&keys.client)
                    .args(["-p", &port, &target]),
            )?,
            base,
            target,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while !master.check() {
            anyhow::ensure!(
                Instant::now() < deadline,
                "the ssh ControlMaster did not come up within 15s; ssh said:\n{}\nsshd said:\n{}",
                master.proc.stderr_tail(),
                sshd.proc.stderr_tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(master)
    }

    /// Whether the master answers `-O check`.
    fn check(&self) -> bool {
        Command::new("ssh")
            .args(&self.base)
            .args(["-O", "check", &self.target])
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// One measured run: from spawning `ssh … true` to its exit.
    fn run_true(&self) -> anyhow::Result<Duration> {
        let t = Instant::now();
        let out = Command::new("ssh")
            .args(&self.base)
            .args([&self.target, "true"])
            .output()?;
        let took = t.elapsed();
        if !out.status.success() {
            bail!(
                "ssh … true failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(took)
    }
}
