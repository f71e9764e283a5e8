//! Tasks on this node: what the connection loop and the running tasks
//! share, accepting or refusing each task the gateway sends, running it, and
//! stopping them all at shutdown.

use super::{Node, SHUTDOWN_GRACE};
use crate::outbox::Outbox;
use crate::runner::{self, ProgressSink, ShellSpec, TaskControl, TaskWatch};
use mosaic_agent_proto::v1::{
    GatewayMessage, NodeMessage, SignedTask, TaskRequest, TaskResult, gateway_message,
    node_message::Kind, task_request::Payload, task_result::Status,
};
use prost::Message as _;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::Semaphore;
use tonic::Streaming;
use tracing::{debug, info, warn};

/// What is shared between the connection loop and the running tasks.
#[derive(Debug)]
pub(super) struct Shared {
    pub(super) outbox: Arc<Outbox>,
    tasks: Mutex<HashMap<String, TaskControl>>,
    slots: Arc<Semaphore>,
    max_tasks: usize,
    stopping: AtomicBool,
}

impl Shared {
    /// Room for `max_tasks` tasks at once, nothing queued.
    pub(super) fn new(max_tasks: usize) -> Self {
        Self {
            outbox: Outbox::new(),
            tasks: Mutex::new(HashMap::new()),
            slots: Arc::new(Semaphore::new(max_tasks)),
            max_tasks,
            stopping: AtomicBool::new(false),
        }
    }

    fn tasks(&self) -> MutexGuard<'_, HashMap<String, TaskControl>> {
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn task_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.tasks().keys().cloned().collect();
        ids.sort();
        ids
    }

    /// What this node knows of its tasks, for a new stream's hello: the ones
    /// running, and the ones ended whose result the gateway has not
    /// acknowledged. Read in that order: a task queues its result before it
    /// leaves the running set, so none falls between the two.
    pub(super) fn known_tasks(&self) -> (Vec<String>, Vec<String>) {
        let running = self.task_ids();
        let ended = self
            .outbox
            .unacknowledged()
            .into_iter()
            .filter(|id| !running.contains(id))
            .collect();
        (running, ended)
    }

    pub(super) fn running(&self) -> u32 {
        let busy = self
            .max_tasks
            .saturating_sub(self.slots.available_permits());
        u32::try_from(busy).unwrap_or(u32::MAX)
    }

    fn send_result(&self, result: TaskResult) {
        self.outbox.push(NodeMessage {
            kind: Some(Kind::Result(result)),
        });
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Node {
    /// Acts on one message from the gateway: a task to run or a task to
    /// cancel.
    pub(super) fn handle(&mut self, msg: GatewayMessage) {
        match msg.kind {
            Some(gateway_message::Kind::Task(signed)) => self.on_task(&signed),
            Some(gateway_message::Kind::Cancel(cancel)) => {
                match self.shared.tasks().get(&cancel.task_id) {
                    Some(control) => {
                        info!(task_id = %cancel.task_id, "cancelling task");
                        control.cancel();
                    }
                    None => {
                        debug!(task_id = %cancel.task_id, "cancel for a task that is not running")
                    }
                }
            }
            Some(gateway_message::Kind::ResultAck(ack)) => self.acknowledged(&ack.task_id),
            None => debug!("ignoring an empty message from the gateway"),
        }
    }

    /// The gateway stored `task_id`'s result: nothing about it needs
    /// sending again.
    fn acknowledged(&self, task_id: &str) {
        debug!(task_id, "result acknowledged");
        self.shared.outbox.acknowledge(task_id);
    }

    fn refuse(&self, task_id: &str, error: String) {
        warn!(task_id, "{error}");
        self.shared.send_result(TaskResult {
            task_id: task_id.to_owned(),
            status: Status::Refused as i32,
            exit_code: None,
            error,
            duration_ms: 0,
        });
    }

    fn on_task(&mut self, signed: &SignedTask) {
        let Some(verifier) = self.verifier.as_mut() else {
            return;
        };
        let task = match verifier.verify(signed, now_ms()) {
            Ok(task) => task,
            Err(refusal) => {
                let task_id = TaskRequest::decode(signed.task.as_slice())
                    .map(|t| t.task_id)
                    .unwrap_or_default();
                self.refuse(&task_id, refusal.to_string());
                return;
            }
        };
        let task_id = task.task_id;
        let Some(Payload::Shell(shell)) = task.payload else {
            self.refuse(
                &task_id,
                "task refused: it carries no shell command (this node runs shell tasks)".to_owned(),
            );
            return;
        };
        if self.shared.stopping.load(Ordering::SeqCst) {
            self.refuse(
                &task_id,
                "task refused: the node is shutting down".to_owned(),
            );
            return;
        }
        if let Err(reason) = self.policy.check(&shell.command) {
            self.refuse(&task_id, format!("refused by sandbox policy: {reason}"));
            return;
        }
        let (control, watch) = TaskControl::new();
        {
            let mut tasks = self.shared.tasks();
            if tasks.contains_key(&task_id) {
                drop(tasks);
                self.refuse(
                    &task_id,
                    "task refused: a task with this id is already running".to_owned(),
                );
                return;
            }
            tasks.insert(task_id.clone(), control);
        }
        let timeout = match shell.timeout_secs {
            0 => self.settings.task_timeout,
            n => Duration::from_secs(u64::from(n)),
        };
        info!(task_id = %task_id, command = %shell.command, cwd = %shell.cwd, "task accepted");
        let spec = ShellSpec {
            task_id,
            command: shell.command,
            cwd: shell.cwd,
            timeout,
        };
        tokio::spawn(run_task(
            Arc::clone(&self.shared),
            spec,
            self.settings.workspace.clone(),
            watch,
        ));
    }

    /// Stops taking tasks, cancels the running ones (killing their process
    /// groups) and, with a stream, tries for [`SHUTDOWN_GRACE`] to deliver
    /// their results.
    pub(super) async fn stop_tasks(&mut self, inbound: Option<&mut Streaming<GatewayMessage>>) {
        if self.shared.stopping.swap(true, Ordering::SeqCst) {
            // Already done once; just make sure nothing is left running.
            for control in self.shared.tasks().values() {
                control.kill_now();
            }
            return;
        }
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        let count = {
            let tasks = self.shared.tasks();
            for control in tasks.values() {
                control.cancel();
            }
            tasks.len()
        };
        if count > 0 {
            info!(tasks = count, "cancelling running tasks");
        }
        while !self.shared.tasks().is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for control in self.shared.tasks().values() {
            control.kill_now();
        }
        let Some(inbound) = inbound else {
            return;
        };
        // The request stream ends once the queue is drained; the gateway
        // acknowledges each result it stored, then ends its side once it
        // has read everything.
        self.shared.outbox.close();
        let _ = tokio::time::timeout_at(deadline, async {
            while let Ok(Some(msg)) = inbound.message().await {
                if let Some(gateway_message::Kind::ResultAck(ack)) = msg.kind {
                    self.acknowledged(&ack.task_id);
                }
                if self.shared.outbox.unacknowledged().is_empty() && self.shared.outbox.is_empty() {
                    break;
                }
            }
        })
        .await;
        let unacknowledged = self.shared.outbox.unacknowledged();
        if !unacknowledged.is_empty() {
            warn!(
                tasks = ?unacknowledged,
                "stopping with results the gateway has not acknowledged"
            );
        }
    }
}

/// Waits for a slot, runs the task, queues its result.
async fn run_task(shared: Arc<Shared>, spec: ShellSpec, workspace: PathBuf, mut watch: TaskWatch) {
    let queued = Instant::now();
    let permit = tokio::select! {
        permit = Arc::clone(&shared.slots).acquire_owned() => permit.ok(),
        () = watch.cancelled() => None,
    };
    let result = match permit {
        Some(_permit) => {
            let outbox = Arc::clone(&shared.outbox);
            // Numbered from 1, so the gateway can tell a chunk sent again.
            let next = AtomicU32::new(1);
            let sink: ProgressSink = Arc::new(move |mut progress| {
                progress.seq = next.fetch_add(1, Ordering::Relaxed);
                outbox.push(NodeMessage {
                    kind: Some(Kind::Progress(progress)),
                });
            });
            runner::run_shell(spec.clone(), &workspace, sink, watch).await
        }
        None => runner::result(
            &spec.task_id,
            Status::Cancelled,
            "cancelled before it started",
            queued,
        ),
    };
    info!(
        task_id = %spec.task_id,
        status = result.status().as_str_name(),
        exit_code = ?result.exit_code,
        duration_ms = result.duration_ms,
        error = %result.error,
        "task finished"
    );
    shared.send_result(result);
    shared.tasks().remove(&spec.task_id);
}
