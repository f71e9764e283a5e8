//! Running a shell task: `sh -c <command>` in its own process group, output
//! streamed as it is produced, a time limit, and cancellation that kills the
//! whole group.

use mosaic_agent_proto::v1::{
    TaskProgress, TaskResult, task_progress::Stream as OutStream, task_result::Status,
};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt as _};
use tokio::sync::watch;

/// Largest output chunk sent in one progress message.
pub const CHUNK_SIZE: usize = 8 * 1024;
/// How long a process group has to exit after SIGTERM before SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(2);
/// How long output is still read after the shell has exited (a background
/// process may keep the pipes open).
pub const OUTPUT_GRACE: Duration = Duration::from_secs(2);

/// Where output chunks go, in the order they are read.
pub type ProgressSink = Arc<dyn Fn(TaskProgress) + Send + Sync>;

/// One shell task to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellSpec {
    /// The gateway's task id, copied into every message.
    pub task_id: String,
    /// Run by `sh -c`.
    pub command: String,
    /// Working directory: empty for the workspace, relative to it, or absolute.
    pub cwd: String,
    /// The time limit.
    pub timeout: Duration,
}

/// The daemon's handle on a task: cancel it, or kill its process group.
#[derive(Debug)]
pub struct TaskControl {
    cancel: watch::Sender<bool>,
    pgid: Arc<AtomicI32>,
}

/// The task's side of [`TaskControl`], given to [`run_shell`].
#[derive(Debug, Clone)]
pub struct TaskWatch {
    cancel: watch::Receiver<bool>,
    pgid: Arc<AtomicI32>,
}

impl TaskControl {
    /// A new control and the watch to give the task.
    pub fn new() -> (Self, TaskWatch) {
        let (tx, rx) = watch::channel(false);
        let pgid = Arc::new(AtomicI32::new(0));
        (
            Self {
                cancel: tx,
                pgid: Arc::clone(&pgid),
            },
            TaskWatch { cancel: rx, pgid },
        )
    }

    /// Asks the task to stop: its process group is terminated and the task
    /// ends `CANCELLED`.
    pub fn cancel(&self) {
        self.cancel.send_replace(true);
    }

    /// SIGKILLs the task's process group now, if it has started.
    pub fn kill_now(&self) {
        let pgid = self.pgid.load(Ordering::SeqCst);
        if pgid > 0 {
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
        }
    }
}

impl TaskWatch {
    /// Whether the task has been cancelled.
    pub fn is_cancelled(&self) -> bool {
        *self.cancel.borrow()
    }

    /// Resolves once the task is cancelled (never, if its control is gone).
    pub async fn cancelled(&mut self) {
        loop {
            if *self.cancel.borrow_and_update() {
                return;
            }
            if self.cancel.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// The directory a task runs in: `cwd` empty → `workspace`; relative →
/// inside `workspace`; absolute → as is.
pub fn resolve_cwd(workspace: &Path, cwd: &str) -> PathBuf {
    if cwd.is_empty() {
        workspace.to_path_buf()
    } else {
        let p = Path::new(cwd);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            workspace.join(p)
        }
    }
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// A result with no exit code.
pub fn result(
    task_id: &str,
    status: Status,
    error: impl Into<String>,
    since: Instant,
) -> TaskResult {
    TaskResult {
        task_id: task_id.to_owned(),
        status: status as i32,
        exit_code: None,
        error: error.into(),
        duration_ms: elapsed_ms(since),
    }
}

enum End {
    Exited(std::io::Result<ExitStatus>),
    TimedOut,
    Cancelled,
}

/// Runs `spec` and returns its result once all of its output has gone to
/// `sink`. `workspace` is created when the task runs there and it is missing.
pub async fn run_shell(
    spec: ShellSpec,
    workspace: &Path,
    sink: ProgressSink,
    mut watch: TaskWatch,
) -> TaskResult {
    let started = Instant::now();
    let id = spec.task_id.as_str();
    if watch.is_cancelled() {
        return result(
            id,
            Status::Cancelled,
            "cancelled before it started",
            started,
        );
    }
    let dir = match working_dir(workspace, &spec.cwd).await {
        Ok(dir) => dir,
        Err(why) => return result(id, Status::Failed, why, started),
    };
    let mut child = match spawn_shell(&spec.command, &dir) {
        Ok(c) => c,
        Err(e) => {
            return result(
                id,
                Status::Failed,
                format!("cannot start `sh -c`: {e}"),
                started,
            );
        }
    };
    let pgid = child.id().and_then(|p| i32::try_from(p).ok()).unwrap_or(0);
    watch.pgid.store(pgid, Ordering::SeqCst);

    let mut readers = pump_output(&mut child, &spec.task_id, &sink);
    let end = wait_for_end(&mut child, pgid, spec.timeout, &mut watch).await;
    // All output read so far goes out before the result.
    drain(&mut readers, id).await;
    watch.pgid.store(0, Ordering::SeqCst);

    match end {
        End::Exited(Ok(status)) => exited(id, status, started),
        End::Exited(Err(e)) => result(
            id,
            Status::Failed,
            format!("cannot wait for the process: {e}"),
            started,
        ),
        End::TimedOut => result(
            id,
            Status::TimedOut,
            format!("timed out after {} s", spec.timeout.as_secs()),
            started,
        ),
        End::Cancelled => result(id, Status::Cancelled, "cancelled", started),
    }
}

/// The directory the task runs in, checked to be one; the workspace is
/// created first when the task runs there. An error says why it cannot run.
async fn working_dir(workspace: &Path, cwd: &str) -> Result<PathBuf, String> {
    if cwd.is_empty()
        && let Err(e) = tokio::fs::create_dir_all(workspace).await
    {
        return Err(format!(
            "cannot create the workspace {}: {e}",
            workspace.display()
        ));
    }
    let dir = resolve_cwd(workspace, cwd);
    match tokio::fs::metadata(&dir).await {
        Ok(m) if m.is_dir() => Ok(dir),
        Ok(_) => Err(format!(
            "working directory {} is not a directory",
            dir.display()
        )),
        Err(_) => Err(format!(
            "working directory {} does not exist",
            dir.display()
        )),
    }
}

/// `sh -c <command>` in `dir`, in a process group of its own so that
/// cancelling it reaches everything it started.
fn spawn_shell(command: &str, dir: &Path) -> std::io::Result<tokio::process::Child> {
    tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
}

/// One reader per output pipe, each sending chunks to `sink` as they come.
fn pump_output(
    child: &mut tokio::process::Child,
    task_id: &str,
    sink: &ProgressSink,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut readers = Vec::new();
    if let Some(out) = child.stdout.take() {
        readers.push(tokio::spawn(pump(
            out,
            OutStream::Stdout,
            task_id.to_owned(),
            Arc::clone(sink),
        )));
    }
    if let Some(err) = child.stderr.take() {
        readers.push(tokio::spawn(pump(
            err,
            OutStream::Stderr,
            task_id.to_owned(),
            Arc::clone(sink),
        )));
    }
    readers
}

/// Waits for the shell to exit, the time limit or a cancellation; in the
/// last two cases the whole group is terminated before this returns.
async fn wait_for_end(
    child: &mut tokio::process::Child,
    pgid: i32,
    timeout: Duration,
    watch: &mut TaskWatch,
) -> End {
    let end = tokio::select! {
        status = child.wait() => End::Exited(status),
        () = tokio::time::sleep(timeout) => End::TimedOut,
        () = watch.cancelled() => End::Cancelled,
    };
    match end {
        End::Exited(status) => End::Exited(status),
        other => {
            // Nothing of the group may outlive the task.
            let _ = terminate_group(pgid, child).await;
            other
        }
    }
}

/// Waits up to [`OUTPUT_GRACE`] for the readers to reach the end of their
/// pipes, then gives up on them.
async fn drain(readers: &mut [tokio::task::JoinHandle<()>], id: &str) {
    let drained = tokio::time::timeout(OUTPUT_GRACE, async {
        for reader in readers.iter_mut() {
            let _ = reader.await;
        }
    })
    .await;
    if drained.is_err() {
        tracing::debug!(
            task_id = id,
            "output still open after the shell exited; not waiting for it"
        );
        for reader in readers.iter() {
            reader.abort();
        }
    }
}

/// The result of a process that ended by itself.
fn exited(id: &str, status: ExitStatus, started: Instant) -> TaskResult {
    match (status.code(), status.signal()) {
        (Some(code), _) => TaskResult {
            exit_code: Some(code),
            ..result(id, Status::Completed, "", started)
        },
        (None, Some(signal)) => result(
            id,
            Status::Completed,
            format!("killed by signal {signal}"),
            started,
        ),
        (None, None) => result(id, Status::Completed, "ended without an exit code", started),
    }
}

/// SIGTERM to the whole group, then SIGKILL if anything of it is still
/// alive after [`KILL_GRACE`]. Returns the shell's exit status.
async fn terminate_group(
    pgid: i32,
    child: &mut tokio::process::Child,
) -> std::io::Result<ExitStatus> {
    if pgid <= 0 {
        child.start_kill()?;
        return child.wait().await;
    }
    let group = Pid::from_raw(pgid);
    let _ = killpg(group, Signal::SIGTERM);
    let deadline = Instant::now() + KILL_GRACE;
    let mut status = None;
    loop {
        if status.is_none()
            && let Ok(Some(s)) = child.try_wait()
        {
            status = Some(s);
        }
        if status.is_some() && !group_alive(group) {
            break;
        }
        if Instant::now() >= deadline {
            let _ = killpg(group, Signal::SIGKILL);
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    match status {
        Some(s) => Ok(s),
        None => child.wait().await,
    }
}

/// Whether a live process is left in `group`. Zombies do not count: where
/// the init process is slow to reap orphans (containers), a killed process
/// can linger as a zombie for a while.
fn group_alive(group: Pid) -> bool {
    // Signal 0 only checks: an error means nothing is left in the group.
    if killpg(group, None).is_err() {
        return false;
    }
    #[cfg(target_os = "linux")]
    if let Ok(entries) = std::fs::read_dir("/proc") {
        return entries.flatten().any(|entry| {
            let is_pid = entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()));
            is_pid
                && std::fs::read_to_string(entry.path().join("stat"))
                    .is_ok_and(|stat| live_member(&stat, group.as_raw()))
        });
    }
    true
}

/// Whether a `/proc/<pid>/stat` line is of a live process in group `pgid`.
fn live_member(stat: &str, pgid: i32) -> bool {
    // `pid (comm) state ppid pgrp …`; comm may contain spaces and parentheses.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return false;
    };
    let mut fields = rest.split_whitespace();
    let state = fields.next();
    let pgrp = fields.nth(1).and_then(|p| p.parse::<i32>().ok());
    state != Some("Z") && pgrp == Some(pgid)
}

/// Reads `reader` in chunks of up to [`CHUNK_SIZE`] and sends each as it
/// arrives.
async fn pump(
    mut reader: impl AsyncRead + Unpin,
    stream: OutStream,
    task_id: String,
    sink: ProgressSink,
) {
    let mut buf = vec![0u8; CHUNK_SIZE];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            // The sink numbers the chunk.
            Ok(n) => sink(TaskProgress {
                task_id: task_id.clone(),
                stream: stream as i32,
                data: buf[..n].to_vec(),
                seq: 0,
            }),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn spec(command: &str) -> ShellSpec {
        ShellSpec {
            task_id: "t1".into(),
            command: command.into(),
            cwd: String::new(),
            timeout: Duration::from_secs(30),
        }
    }

    fn collecting() -> (ProgressSink, Arc<Mutex<Vec<TaskProgress>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = Arc::clone(&seen);
        (Arc::new(move |p| s.lock().unwrap().push(p)), seen)
    }

    fn text(seen: &Mutex<Vec<TaskProgress>>, stream: OutStream) -> String {
        let bytes: Vec<u8> = seen
            .lock()
            .unwrap()
            .iter()
            .filter(|p| p.stream == stream as i32)
            .flat_map(|p| p.data.clone())
            .collect();
        String::from_utf8(bytes).unwrap()
    }

    #[tokio::test]
    async fn exit_code_and_both_streams() {
        let ws = tempfile::tempdir().unwrap();
        let (sink, seen) = collecting();
        let (_control, watch) = TaskControl::new();
        let r = run_shell(
            spec("echo out; echo err >&2; exit 7"),
            ws.path(),
            sink,
            watch,
        )
        .await;
        assert_eq!(r.status(), Status::Completed);
        assert_eq!(r.exit_code, Some(7));
        assert_eq!(text(&seen, OutStream::Stdout), "out\n");
        assert_eq!(text(&seen, OutStream::Stderr), "err\n");
    }

    #[tokio::test]
    async fn cwd_rules() {
        let ws = tempfile::tempdir().unwrap();
        let workspace = ws.path().join("created");
        std::fs::create_dir_all(workspace.join("sub")).unwrap();
        let (sink, seen) = collecting();
        let (_c, w) = TaskControl::new();
        let mut s = spec("pwd");
        s.cwd = "sub".into();
        let r = run_shell(s, &workspace, Arc::clone(&sink), w).await;
        assert_eq!(r.exit_code, Some(0));
        let pwd = std::fs::canonicalize(workspace.join("sub")).unwrap();
        assert_eq!(text(&seen, OutStream::Stdout).trim(), pwd.to_str().unwrap());

        let (_c, w) = TaskControl::new();
        let mut s = spec("true");
        s.cwd = "/definitely/not/here".into();
        let r = run_shell(s, &workspace, sink, w).await;
        assert_eq!(r.status(), Status::Failed);
        assert_eq!(
            r.error,
            "working directory /definitely/not/here does not exist"
        );
    }

    #[tokio::test]
    async fn the_workspace_is_created_when_missing() {
        let ws = tempfile::tempdir().unwrap();
        let workspace = ws.path().join("fresh");
        let (sink, _seen) = collecting();
        let (_c, w) = TaskControl::new();
        let r = run_shell(spec("true"), &workspace, sink, w).await;
        assert_eq!(r.exit_code, Some(0), "{}", r.error);
        assert!(workspace.is_dir());
    }

    #[tokio::test]
    async fn signals_timeouts_and_cancels() {
        let ws = tempfile::tempdir().unwrap();
        let (sink, _seen) = collecting();

        let (_c, w) = TaskControl::new();
        let r = run_shell(spec("kill -9 $$"), ws.path(), Arc::clone(&sink), w).await;
        assert_eq!(r.status(), Status::Completed);
        assert_eq!(r.exit_code, None);
        assert_eq!(r.error, "killed by signal 9");

        let (_c, w) = TaskControl::new();
        let mut s = spec("sleep 30");
        s.timeout = Duration::from_millis(300);
        let r = run_shell(s, ws.path(), Arc::clone(&sink), w).await;
        assert_eq!(r.status(), Status::TimedOut);
        assert!(r.duration_ms < 20_000, "{}", r.duration_ms);

        let (control, w) = TaskControl::new();
        let started = Instant::now();
        let task = tokio::spawn({
            let ws = ws.path().to_path_buf();
            async move { run_shell(spec("sleep 30"), &ws, sink, w).await }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        control.cancel();
        let r = task.await.unwrap();
        assert_eq!(r.status(), Status::Cancelled);
        assert!(started.elapsed() < Duration::from_secs(20));
    }

    #[tokio::test]
    async fn a_term_ignoring_group_is_killed() {
        let ws = tempfile::tempdir().unwrap();
        let (sink, seen) = collecting();
        let (control, w) = TaskControl::new();
        let task = tokio::spawn({
            let ws = ws.path().to_path_buf();
            async move { run_shell(spec("trap '' TERM; sleep 30 & echo $!; wait"), &ws, sink, w).await }
        });
        let pid: i32 = loop {
            let out = text(&seen, OutStream::Stdout);
            if let Ok(pid) = out.trim().parse() {
                break pid;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        control.cancel();
        let r = task.await.unwrap();
        assert_eq!(r.status(), Status::Cancelled);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !gone(pid) {
            assert!(
                Instant::now() < deadline,
                "process {pid} survived the cancel"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn gone(pid: i32) -> bool {
        // Dead, or a zombie waiting for its new parent to reap it.
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => true,
            Ok(stat) => stat
                .rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        }
    }

    #[test]
    fn proc_stat_lines_are_read() {
        assert!(live_member("42 (sleep) S 1 40 40 0 -1", 40));
        assert!(!live_member("42 (sleep) Z 1 40 40 0 -1", 40));
        assert!(!live_member("42 (sleep) S 1 41 41 0 -1", 40));
        assert!(live_member("42 (odd) name)) R 1 40 40", 40));
        assert!(!live_member("garbage", 40));
    }

    #[test]
    fn cwd_resolution() {
        let ws = Path::new("/ws");
        assert_eq!(resolve_cwd(ws, ""), PathBuf::from("/ws"));
        assert_eq!(resolve_cwd(ws, "a/b"), PathBuf::from("/ws/a/b"));
        assert_eq!(resolve_cwd(ws, "/tmp"), PathBuf::from("/tmp"));
    }
}
