//! The daemon's queue of messages for the gateway (task progress and
//! results).
//!
//! The queue belongs to the daemon, not to a connection: messages produced
//! while the gateway is unreachable wait here and go out on the next task
//! stream. A stream takes a message only when the transport asks for the
//! next one, so nothing sits in the buffers of a stream that has died.
//! Each stream is attached with a new generation; a replaced stream stops
//! taking messages at once.

use futures_util::Stream;
use mosaic_agent_proto::v1::{NodeMessage, node_message::Kind};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::Notify;

/// Most bytes of task output kept while they cannot be sent. Past this,
/// further output is dropped (and counted); results are always kept.
pub const MAX_QUEUED_OUTPUT_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, Default)]
struct Inner {
    queue: VecDeque<NodeMessage>,
    generation: u64,
    closed: bool,
    output_bytes: usize,
    dropped_bytes: u64,
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

    /// The outgoing side of a new task stream: `first` (the hello), then the
    /// queued messages in order, as they come. Any earlier stream stops
    /// taking messages.
    pub fn attach(
        self: &Arc<Self>,
        first: NodeMessage,
    ) -> impl Stream<Item = NodeMessage> + Send + 'static {
        let generation = {
            let mut inner = self.lock();
            inner.generation += 1;
            inner.closed = false;
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
        NodeMessage {
            kind: Some(Kind::Progress(TaskProgress {
                task_id: "t".into(),
                stream: 1,
                data: data.as_bytes().to_vec(),
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
}
