//! Running external programs (tmux, systemctl, the launcher) behind a small
//! trait, so every command line can be asserted exactly in tests.

use crate::error::{Error, Result};
use std::io;
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// A command line and the extra environment it runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Variables set on top of the inherited environment.
    pub env: Vec<(String, String)>,
}

impl Cmd {
    /// A command with the inherited environment.
    pub fn new(argv: Vec<String>) -> Self {
        Cmd {
            argv,
            env: Vec::new(),
        }
    }

    /// The same command with `env` added.
    pub fn with_env(mut self, env: Vec<(String, String)>) -> Self {
        self.env.extend(env);
        self
    }

    /// The program.
    pub fn program(&self) -> &str {
        self.argv.first().map_or("", String::as_str)
    }

    /// The command line, for messages.
    pub fn display(&self) -> String {
        self.argv
            .iter()
            .map(|a| {
                if !a.is_empty()
                    && a.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_./=:@%+,#{}".contains(&b))
                {
                    a.clone()
                } else {
                    format!("'{}'", a.replace('\'', r"'\''"))
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl From<Vec<String>> for Cmd {
    fn from(argv: Vec<String>) -> Self {
        Cmd::new(argv)
    }
}

/// What a finished command produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    /// The exit code; `None` when a signal ended it.
    pub code: Option<i32>,
    /// Standard output, lossily decoded.
    pub stdout: String,
    /// Standard error, lossily decoded.
    pub stderr: String,
}

impl Output {
    /// A successful, silent result.
    pub fn ok() -> Self {
        Output {
            code: Some(0),
            ..Output::default()
        }
    }

    /// A successful result printing `stdout`.
    pub fn stdout(stdout: impl Into<String>) -> Self {
        Output {
            code: Some(0),
            stdout: stdout.into(),
            stderr: String::new(),
        }
    }

    /// A failed result with `stderr`.
    pub fn failed(code: i32, stderr: impl Into<String>) -> Self {
        Output {
            code: Some(code),
            stdout: String::new(),
            stderr: stderr.into(),
        }
    }

    /// Whether it exited 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// `Ok(self)` when it succeeded, else an error naming `cmd`.
    pub fn checked(self, cmd: &Cmd) -> Result<Output> {
        if self.success() {
            return Ok(self);
        }
        let msg = if self.stderr.trim().is_empty() {
            self.stdout.trim()
        } else {
            self.stderr.trim()
        };
        Err(Error::CommandFailed {
            command: cmd.display(),
            status: self
                .code
                .map_or_else(|| "killed by a signal".to_owned(), |c| format!("exit {c}")),
            detail: if msg.is_empty() {
                String::new()
            } else {
                format!(": {msg}")
            },
        })
    }
}

/// Runs commands. The real one is [`SystemRunner`]; tests use
/// [`RecordingRunner`].
pub trait CommandRunner: Send + Sync {
    /// Runs `cmd` to completion, capturing its output. `Err` only when it
    /// could not be started (for example, the program is not installed).
    fn run(&self, cmd: &Cmd) -> Result<Output>;

    /// Runs independent commands, possibly at the same time; results come
    /// back in the order of `cmds`.
    fn run_all(&self, cmds: &[Cmd]) -> Vec<Result<Output>> {
        cmds.iter().map(|c| self.run(c)).collect()
    }

    /// Runs `cmd` attached to this terminal (for `tmux attach`); returns its
    /// exit code.
    fn run_interactive(&self, cmd: &Cmd) -> Result<Option<i32>>;
}

/// Runs real processes.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemRunner;

/// How many processes [`SystemRunner::run_all`] keeps running at once.
const PARALLEL: usize = 16;

impl SystemRunner {
    fn command(cmd: &Cmd) -> Result<Command> {
        let (program, args) = cmd.argv.split_first().ok_or_else(|| Error::Spawn {
            program: String::new(),
            source: io::Error::new(io::ErrorKind::InvalidInput, "empty command line"),
        })?;
        let mut command = Command::new(program);
        command.args(args);
        for (k, v) in &cmd.env {
            command.env(k, v);
        }
        Ok(command)
    }

    fn spawn_error(cmd: &Cmd, source: io::Error) -> Error {
        if source.kind() == io::ErrorKind::NotFound {
            Error::NotInstalled {
                program: cmd.program().to_owned(),
                hint: String::new(),
            }
        } else {
            Error::Spawn {
                program: cmd.program().to_owned(),
                source,
            }
        }
    }

    fn collect(output: std::process::Output) -> Output {
        Output {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl CommandRunner for SystemRunner {
    fn run(&self, cmd: &Cmd) -> Result<Output> {
        let output = SystemRunner::command(cmd)?
            .stdin(Stdio::null())
            .output()
            .map_err(|e| SystemRunner::spawn_error(cmd, e))?;
        Ok(SystemRunner::collect(output))
    }

    fn run_all(&self, cmds: &[Cmd]) -> Vec<Result<Output>> {
        // Start a batch, then wait for it: the tmux and systemctl clients spend
        // most of their time starting up and waiting on their servers, so
        // overlapping them is where `fleet ps` gets its speed.
        let mut results = Vec::with_capacity(cmds.len());
        for batch in cmds.chunks(PARALLEL) {
            let children: Vec<Result<std::process::Child>> = batch
                .iter()
                .map(|cmd| {
                    SystemRunner::command(cmd)?
                        .stdin(Stdio::null())
                        .stdout(Stdio::piped())
                        .stderr(Stdio::piped())
                        .spawn()
                        .map_err(|e| SystemRunner::spawn_error(cmd, e))
                })
                .collect();
            for (child, cmd) in children.into_iter().zip(batch) {
                results.push(child.and_then(|c| {
                    c.wait_with_output()
                        .map(SystemRunner::collect)
                        .map_err(|e| SystemRunner::spawn_error(cmd, e))
                }));
            }
        }
        results
    }

    fn run_interactive(&self, cmd: &Cmd) -> Result<Option<i32>> {
        let status = SystemRunner::command(cmd)?
            .status()
            .map_err(|e| SystemRunner::spawn_error(cmd, e))?;
        Ok(status.code())
    }
}

type Responder = dyn Fn(&[String]) -> Result<Output> + Send + Sync;

/// Records every command line and answers from a closure: the test double
/// for [`CommandRunner`].
pub struct RecordingRunner {
    calls: Mutex<Vec<Vec<String>>>,
    envs: Mutex<Vec<Vec<(String, String)>>>,
    respond: Box<Responder>,
}

impl std::fmt::Debug for RecordingRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingRunner")
            .field("calls", &self.calls())
            .finish_non_exhaustive()
    }
}

impl RecordingRunner {
    /// A runner where every command succeeds silently.
    pub fn succeeding() -> Self {
        RecordingRunner::new(|_| Ok(Output::ok()))
    }

    /// A runner answering with `respond(argv)`.
    pub fn new(respond: impl Fn(&[String]) -> Result<Output> + Send + Sync + 'static) -> Self {
        RecordingRunner {
            calls: Mutex::new(Vec::new()),
            envs: Mutex::new(Vec::new()),
            respond: Box::new(respond),
        }
    }

    /// Every argv run so far, in order.
    pub fn calls(&self) -> Vec<Vec<String>> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// The extra environment of every command, in the order of [`Self::calls`].
    pub fn envs(&self) -> Vec<Vec<(String, String)>> {
        self.envs.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

impl CommandRunner for RecordingRunner {
    fn run(&self, cmd: &Cmd) -> Result<Output> {
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(cmd.argv.clone());
        }
        if let Ok(mut envs) = self.envs.lock() {
            envs.push(cmd.env.clone());
        }
        (self.respond)(&cmd.argv)
    }

    fn run_interactive(&self, cmd: &Cmd) -> Result<Option<i32>> {
        self.run(cmd).map(|o| o.code)
    }
}

/// `argv` from string slices, for builders and tests.
pub fn argv<const N: usize>(parts: [&str; N]) -> Vec<String> {
    parts.iter().map(|s| (*s).to_owned()).collect()
}
