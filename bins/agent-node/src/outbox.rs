//! The daemon's queue of messages for the gateway (task progress and
//! results).
//!
//! The queue belongs to the daemon, not to a connection: messages produced
//! while the gateway is unreachable wait here and go out on the next task
//! stream. A stream takes a message only when the transport asks for the
//! next one. Each stream is attached with a new generation; a replaced stream
//! stops taking messages at once.
//!
//! A message a stream took may still be lost with that stream (in a buffer,
//! or read by a gateway that stopped before storing it), so it is kept until
//! the gateway acknowledges its task's result ([`Outbox::acknowledge`]); the
//! next stream sends what is kept again, first. The gateway stores each
//! output chunk (numbered per task) and each result once, so a repeat changes
//! nothing there.

use futures_util::Stream;
use mosaic_agent_proto::v1::{NodeMessage, node_message::Kind};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::Notify;

/// Most bytes of task output kept while they cannot be sent. Past this,
/// further output is dropped (and counted); results are always kept.
pub const MAX_QUEUED_OUTPUT_BYTES: usize = 64 * 1024 * 1024;

/// Most bytes of output kept after sending, until acknowledged. Past this
/// the oldest sent output is forgotten (it has most likely arrived).
pub const MAX_RETAINED_OUTPUT_BYTES: usize = 8 * 1024 * 1024;

/// Most results kept after sending, until acknowledged (a gateway that never
/// acknowledges must not make the node grow without end).
pub const MAX_RETAINED_RESULTS: usize = 4096;

#[derive(Debug, Default)]
struct Inner {
    /// Not yet taken by the current stream.
    queue: VecDeque<NodeMessage>,
    /// Taken by a stream, kept until their task's result is acknowledged.
    sent: VecDeque<NodeMessage>,
    generation: u64,
    closed: bool,
    output_bytes: usize,
    retained_bytes: usize,
    dropped_bytes: u64,
}

impl Inner {
    /// Keeps `msg`, taken by a stream, until it is acknowledged.
    fn retain(&mut self, msg: NodeMessage) {
        self.retained_bytes += output_len(&msg);
        self.sent.push_back(msg);
        while self.retained_bytes > MAX_RETAINED_OUTPUT_BYTES {
            let Some(i) = self.sent.iter().position(|m| output_len(m) > 0) else {
                break;
            };
            if let Some(old) = self.sent.remove(i) {
                self.retained_bytes = self.retained_bytes.saturating_sub(output_len(&old));
            }
        }
        let results = self.sent.iter().filter(|m| is_result(m)).count();
        if results > MAX_RETAINED_RESULTS
            && let Some(i) = self.sent.iter().position(is_result)
        {
            self.sent.remove(i);
        }
    }
}

/// The queue. Cheap to share as `Arc<Outbox>`.
#[derive(Debug, Default)]
pub struct Outbox {
    inner: Mutex<Inner>,
    notify: Notify,
}

fn output_len(msg: &NodeMessage) -> usize {
    match &msg.kind {
        Some(Kind::Progress(p)) => p.data.len(),
        _ => 0,
    }
}

fn is_result(msg: &NodeMessage) -> bool {
    matches!(msg.kind, Some(Kind::Result(_)))
}

/// The task a progress or result message is about.
fn task_of(msg: &NodeMessage) -> Option<&str> {
    match &msg.kind {
        Some(Kind::Progress(p)) => Some(&p.task_id),
        Some(Kind::Result(r)) => Some(&r.task_id),
        _ => None,
    }
}

impl Outbox {
    /// An empty queue.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `msg` behind everything already queued.
    pub fn push(&self, msg: NodeMessage) {
        {
            let mut inner = self.lock();
            let len = output_len(&msg);
            if len > 0 && inner.output_bytes + len > MAX_QUEUED_OUTPUT_BYTES {
                inner.dropped_bytes += len as u64;
                tracing::warn!(
                    dropped_bytes = inner.dropped_bytes,
                    "task output is piling up while the gateway is unreachable; dropping output"
                );
                return;
            }
            inner.output_bytes += len;
            inner.queue.push_back(msg);
        }
        self.notify.notify_waiters();
    }

    /// Messages waiting to be sent.
    pub fn len(&self) -> usize {
        self.lock().queue.len()
    }

    /// Whether nothing waits to be sent.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of output dropped because the queue was full.
    pub fn dropped_bytes(&self) -> u64 {
        self.lock().dropped_bytes
    }

    /// Tasks whose result is here, sent or not, and not yet acknowledged:
    /// the tasks that ended on this node that the gateway may not know
    /// ended.
    pub fn unacknowledged(&self) -> Vec<String> {
        let inner = self.lock();
        let mut ids: Vec<String> = inner
            .sent
            .iter()
            .chain(&inner.queue)
            .filter(|m| is_result(m))
            .filter_map(task_of)
            .map(str::to_owned)
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    /// The gateway has stored `task_id`'s result: forgets everything kept
    /// or queued about that task.
    pub fn acknowledge(&self, task_id: &str) {
        let mut inner = self.lock();
        let mut freed_sent = 0;
        inner.sent.retain(|m| {
            let keep = task_of(m) != Some(task_id);
            if !keep {
                freed_sent += output_len(m);
            }
            keep
        });
        let mut freed_queued = 0;
        inner.queue.retain(|m| {
            let keep = task_of(m) != Some(task_id);
            if !keep {
                freed_queued += output_len(m);
            }
            keep
        });
        inner.retained_bytes = inner.retained_bytes.saturating_sub(freed_sent);
        inner.output_bytes = inner.output_bytes.saturating_sub(freed_queued);
    }

    /// Makes the current stream end once the queue is empty (for shutdown).
    pub fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_waiters();
    }

    /// Stops the current stream from taking more messages; they stay queued
    /// for the next one.
    pub fn detach(&self) {
        self.lock().generation += 1;
        self.notify.notify_waiters();
    }

    /// The outgoing side of a new task stream: `first` (the hello), then what
    /// earlier streams sent without acknowledgement, then the queued
    /// messages in order, as they come. Any earlier stream stops taking
    /// messages.
    pub fn attach(
        self: &Arc<Self>,
        first: NodeMessage,
    ) -> impl Stream<Item = NodeMessage> + Send + 'static {
        let generation = {
            let mut inner = self.lock();
            inner.generation += 1;
            inner.closed = false;
            let again = std::mem::take(&mut inner.sent);
            let bytes = std::mem::take(&mut inner.retained_bytes);
            inner.output_bytes += bytes;
            for msg in again.into_iter().rev() {
                inner.queue.push_front(msg);
            }
            inner.generation
        };
        self.notify.notify_waiters();
        let outbox = Arc::clone(self);
        futures_util::stream::unfold((outbox, Some(first)), move |(outbox, first)| async move {
            if let Some(first) = first {
                return Some((first, (outbox, None)));
            }
            let next = outbox.next_for(generation).await?;
            Some((next, (outbox, None)))
        })
    }

    /// The next message for the stream of `generation`; `None` once that
    /// stream has been replaced, or closed and drained.
    async fn next_for(&self, generation: u64) -> Option<NodeMessage> {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut inner = self.lock();
                if inner.generation != generation {
                    return None;
                }
                if let Some(msg) = inner.queue.pop_front() {
                    inner.output_bytes = inner.output_bytes.saturating_sub(output_len(&msg));
                    if task_of(&msg).is_some() {
                        inner.retain(msg.clone());
                    }
                    return Some(msg);
                }
                if inner.closed {
                    return None;
                }
            }
            notified.await;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use futures_util::StreamExt as _;
    use mosaic_agent_proto::v1::{StreamHello, TaskProgress, TaskResult};
    use std::time::Duration;

    fn progress(data: &str) -> NodeMessage {
        progress_of("t", data)
    }

    fn progress_of(task: &str, data: &str) -> NodeMessage {
        NodeMessage {
            kind: Some(Kind::Progress(TaskProgress {
                task_id: task.into(),
                stream: 1,
                data: data.as_bytes().to_vec(),
                seq: 1,
            })),
        }
    }

    fn result_of(task: &str) -> NodeMessage {
        NodeMessage {
            kind: Some(Kind::Result(TaskResult {
                task_id: task.into(),
                ..TaskResult::default()
            })),
        }
    }

    fn hello() -> NodeMessage {
        NodeMessage {
            kind: Some(Kind::Hello(StreamHello::default())),
        }
    }

    #[tokio::test]
    async fn hello_first_then_queued_then_live() {
        let outbox = Outbox::new();
        outbox.push(progress("a"));
        let mut stream = Box::pin(outbox.attach(hello()));
        assert!(matches!(
            stream.next().await.unwrap().kind,
            Some(Kind::Hello(_))
        ));
        assert_eq!(stream.next().await.unwrap(), progress("a"));
        let o = Arc::clone(&outbox);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            o.push(progress("b"));
        });
        assert_eq!(stream.next().await.unwrap(), progress("b"));
    }

    #[tokio::test]
    async fn a_replaced_stream_takes_nothing_more() {
        let outbox = Outbox::new();
        let mut old = Box::pin(outbox.attach(hello()));
        old.next().await.unwrap();
        let mut new = Box::pin(outbox.attach(hello()));
        outbox.push(progress("x"));
        assert!(old.next().await.is_none());
        new.next().await.unwrap();
        assert_eq!(new.next().await.unwrap(), progress("x"));
    }

    #[tokio::test]
    async fn detached_messages_wait_for_the_next_stream() {
        let outbox = Outbox::new();
        let mut first = Box::pin(outbox.attach(hello()));
        first.next().await.unwrap();
        outbox.detach();
        outbox.push(NodeMessage {
            kind: Some(Kind::Result(TaskResult::default())),
        });
        assert!(first.next().await.is_none());
        assert_eq!(outbox.len(), 1);
        let mut second = Box::pin(outbox.attach(hello()));
        second.next().await.unwrap();
        assert!(matches!(
            second.next().await.unwrap().kind,
            Some(Kind::Result(_))
        ));
        assert!(outbox.is_empty());
    }

    #[tokio::test]
    async fn close_ends_the_stream_after_draining() {
        let outbox = Outbox::new();
        let stream = outbox.attach(hello());
        outbox.push(progress("last"));
        outbox.close();
        let all: Vec<_> = stream.collect().await;
        assert_eq!(all.len(), 2);
    }

    #[tokio::test]
    async fn what_was_sent_is_sent_again_until_acknowledged() {
        let outbox = Outbox::new();
        outbox.push(progress_of("a", "out-a"));
        outbox.push(result_of("a"));
        outbox.push(progress_of("b", "out-b"));
        let mut first = Box::pin(outbox.attach(hello()));
        first.next().await.unwrap();
        for _ in 0..3 {
            first.next().await.unwrap();
        }
        assert!(outbox.is_empty());
        assert_eq!(
            outbox.unacknowledged(),
            ["a"],
            "a's result went out, unacknowledged"
        );

        // The stream dies; the next one sends everything again, in order.
        outbox.detach();
        let mut second = Box::pin(outbox.attach(hello()));
        second.next().await.unwrap();
        assert_eq!(second.next().await.unwrap(), progress_of("a", "out-a"));
        assert_eq!(second.next().await.unwrap(), result_of("a"));
        assert_eq!(second.next().await.unwrap(), progress_of("b", "out-b"));

        // a is acknowledged: only b (still running) is kept.
        outbox.acknowledge("a");
        assert!(outbox.unacknowledged().is_empty());
        outbox.detach();
        let mut third = Box::pin(outbox.attach(hello()));
        third.next().await.unwrap();
        assert_eq!(third.next().await.unwrap(), progress_of("b", "out-b"));
        outbox.acknowledge("b");
        outbox.close();
        assert!(third.next().await.is_none());
    }

    #[tokio::test]
    async fn an_acknowledgement_also_drops_what_waits_to_be_sent_again() {
        let outbox = Outbox::new();
        outbox.push(progress_of("a", "x"));
        outbox.push(result_of("a"));
        let mut first = Box::pin(outbox.attach(hello()));
        for _ in 0..3 {
            first.next().await.unwrap();
        }
        outbox.detach();
        // Queued again by the new stream, then acknowledged before it went.
        let mut second = Box::pin(outbox.attach(hello()));
        second.next().await.unwrap();
        outbox.acknowledge("a");
        assert!(outbox.is_empty());
        assert!(outbox.unacknowledged().is_empty());
        outbox.close();
        assert!(second.next().await.is_none());
    }

    #[tokio::test]
    async fn retained_output_is_bounded() {
        let outbox = Outbox::new();
        let chunk = "x".repeat(1024 * 1024);
        let mut stream = Box::pin(outbox.attach(hello()));
        stream.next().await.unwrap();
        for _ in 0..12 {
            outbox.push(progress_of("big", &chunk));
            stream.next().await.unwrap();
        }
        outbox.push(result_of("big"));
        stream.next().await.unwrap();
        outbox.detach();
        let again: Vec<NodeMessage> = {
            let s = outbox.attach(hello());
            outbox.close();
            s.collect().await
        };
        let output: usize = again.iter().map(output_len).sum();
        assert!(output <= MAX_RETAINED_OUTPUT_BYTES, "{output}");
        assert!(output >= MAX_RETAINED_OUTPUT_BYTES - chunk.len());
        assert_eq!(
            again.last(),
            Some(&result_of("big")),
            "results are never dropped for room"
        );
    }
}
