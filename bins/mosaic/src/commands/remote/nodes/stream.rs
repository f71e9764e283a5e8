//! A task's output: `GET …/tasks/{task}/output`, one [`OutputEvent`] per
//! line (NDJSON), followed across dropped connections.

use super::hints::{Hinted as _, Target};
use crate::gateway_client::{ApiPath, GatewayClient, NdjsonStream};
use anyhow::{Context as _, anyhow};
use mosaic_types::nodes::{OutputEvent, TaskView};
use std::time::Duration;

/// Reconnections in a row, without new output, before giving up on a
/// followed stream that keeps closing early.
const MAX_RETRIES: u32 = 5;

/// Parses one NDJSON line. Blank lines and events of a type this version
/// does not know (say, a keep-alive) give `None`.
pub fn parse_line(line: &[u8]) -> anyhow::Result<Option<OutputEvent>> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    match serde_json::from_slice::<OutputEvent>(line) {
        Ok(event) => Ok(Some(event)),
        Err(e) => {
            let value: Option<serde_json::Value> = serde_json::from_slice(line).ok();
            let kind = value
                .as_ref()
                .and_then(|v| v.get("type"))
                .and_then(serde_json::Value::as_str);
            match kind {
                Some(k) if k != "output" && k != "end" => Ok(None),
                _ => {
                    let text = String::from_utf8_lossy(line);
                    let shown: String = text.chars().take(120).collect();
                    Err(anyhow!(e).context(format!(
                        "the gateway sent an output line that is not an event: {shown}"
                    )))
                }
            }
        }
    }
}

/// Where a task's output is read from.
#[derive(Debug, Clone, Copy)]
pub struct TaskRef<'a> {
    /// Session id.
    pub session: &'a str,
    /// Task id.
    pub task: &'a str,
}

/// The gateway ended a followed output because it is shutting down; the
/// task may still be running.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct GatewayStopping {
    /// What the gateway said.
    pub message: String,
}

/// Passes an event on unless it repeats output already seen (after a
/// reconnection); returns the task when the event is the end, and
/// [`GatewayStopping`] when the gateway is shutting down.
fn deliver(
    event: OutputEvent,
    last_seq: &mut Option<i32>,
    on_event: &mut dyn FnMut(OutputEvent) -> anyhow::Result<()>,
) -> anyhow::Result<Option<TaskView>> {
    match event {
        OutputEvent::End { task } => Ok(Some(task)),
        OutputEvent::Stopping { message } => Err(GatewayStopping { message }.into()),
        OutputEvent::Output { seq, .. } => {
            if last_seq.is_some_and(|last| seq <= last) {
                return Ok(None);
            }
            *last_seq = Some(seq);
            on_event(event)?;
            Ok(None)
        }
    }
}

/// How one connection to the output stream ended.
enum Drained {
    /// The task ended.
    Ended(Box<TaskView>),
    /// The gateway closed the answer properly.
    Closed,
    /// The connection broke.
    Broken(anyhow::Error),
}

/// Hands the stream's events on until it ends or breaks. A line that is
/// not an event, or a failing `on_event`, is an error.
async fn drain(
    lines: &mut NdjsonStream,
    last_seq: &mut Option<i32>,
    on_event: &mut dyn FnMut(OutputEvent) -> anyhow::Result<()>,
) -> anyhow::Result<Drained> {
    loop {
        let line = match lines.next_line().await {
            Ok(Some(line)) => line,
            Ok(None) => return Ok(Drained::Closed),
            Err(e) => return Ok(Drained::Broken(e.into())),
        };
        if let Some(event) = parse_line(&line)?
            && let Some(task) = deliver(event, last_seq, on_event)?
        {
            return Ok(Drained::Ended(Box::new(task)));
        }
    }
}

/// Reads a task's output, handing each output event to `on_event` in order.
///
/// With `follow`, waits for the task to end, reconnecting (from the last
/// sequence number seen) if the stream breaks, and returns the ended task.
/// Without, returns what exists now, and the task if it has ended. A
/// gateway shutting down ends it with a [`GatewayStopping`] error: not
/// retried, since the gateway said it is going away.
pub async fn read_output(
    client: &GatewayClient,
    at: TaskRef<'_>,
    follow: bool,
    on_event: &mut dyn FnMut(OutputEvent) -> anyhow::Result<()>,
) -> anyhow::Result<Option<TaskView>> {
    let target = Target::Task {
        session: at.session,
        task: at.task,
    };
    let base = ApiPath::new("/api/sessions")
        .seg(at.session)
        .seg("tasks")
        .seg(at.task)
        .seg("output")
        .query("follow", follow);
    let mut last_seq: Option<i32> = None;
    let mut retries = 0u32;
    loop {
        let path = base.clone().query_opt("after", last_seq);
        let seen_before = last_seq;
        let broken = match client.stream(&path).await.about(target) {
            // A refusal, or no gateway at all, on the first request is final.
            Err(e) if retries == 0 && seen_before.is_none() => return Err(e),
            Err(e) => e,
            Ok(mut lines) => match drain(&mut lines, &mut last_seq, on_event).await? {
                Drained::Ended(task) => return Ok(Some(*task)),
                Drained::Closed if !follow => return Ok(None),
                Drained::Closed => anyhow!("the gateway closed the stream before the task ended"),
                Drained::Broken(e) => e,
            },
        };
        if !follow {
            return Err(broken.context("reading the task's output"));
        }
        retries = if last_seq == seen_before {
            retries + 1
        } else {
            1
        };
        if retries > MAX_RETRIES {
            return Err(broken.context(format!(
                "lost the task's output; it may still be running: `mosaic session logs {} {} --follow`",
                at.session, at.task
            )));
        }
        tokio::time::sleep(Duration::from_millis(500 * u64::from(retries))).await;
    }
}

/// Writes an output event's text to our stdout or stderr, as the task wrote it.
pub fn write_event(event: &OutputEvent) -> std::io::Result<()> {
    use std::io::Write as _;
    if let OutputEvent::Output { stream, data, .. } = event {
        if stream == "stderr" {
            let mut err = std::io::stderr().lock();
            err.write_all(data.as_bytes())?;
            err.flush()?;
        } else {
            let mut out = std::io::stdout().lock();
            out.write_all(data.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(())
}

/// Whether `e` comes from writing to a closed pipe (`mosaic … | head`).
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// `on_event` for printing: writes each chunk where it belongs.
pub fn print_event(event: OutputEvent) -> anyhow::Result<()> {
    write_event(&event).context("writing the task's output")
}

#[cfg(test)]
mod tests {
    use super::*;

    const END: &str = r#"{"type":"end","task":{"id":"t","session_id":"s","node_id":"n","command":"false","cwd":null,"status":"completed","exit_code":1,"error":null,"duration_ms":3,"created_at":"2026-11-22T10:00:00Z","finished_at":"2026-11-22T10:00:01Z"}}"#;

    #[test]
    fn unknown_event_types_are_skipped_and_garbage_is_an_error() {
        assert_eq!(parse_line(br#"{"type":"keepalive"}"#).unwrap(), None);
        assert_eq!(parse_line(b"   ").unwrap(), None);
        assert!(parse_line(br#"{"type":"output","seq":"x"}"#).is_err());
        let e = parse_line(b"<html>").unwrap_err();
        assert!(format!("{e:#}").contains("not an event: <html>"));
    }

    #[test]
    fn repeated_output_after_a_reconnection_is_dropped() {
        let mut seen = Vec::new();
        let mut last = None;
        let mut sink = |e: OutputEvent| {
            if let OutputEvent::Output { seq, .. } = e {
                seen.push(seq);
            }
            Ok(())
        };
        for seq in [1, 2, 2, 1, 3] {
            let e = OutputEvent::Output {
                seq,
                stream: "stdout".into(),
                data: String::new(),
            };
            assert_eq!(deliver(e, &mut last, &mut sink).unwrap(), None);
        }
        let OutputEvent::End { task } = serde_json::from_str(END).unwrap() else {
            panic!("not an end")
        };
        let got = deliver(
            OutputEvent::End { task: task.clone() },
            &mut last,
            &mut sink,
        )
        .unwrap();
        assert_eq!(got, Some(task));
        assert_eq!(seen, vec![1, 2, 3]);
    }

    /// Serves one HTTP/1.1 answer per connection: for each, checks the
    /// request line holds `expect`, sends `chunks` (chunked encoding,
    /// pausing between chunks), ends the body properly if `complete`, and
    /// closes.
    async fn serve(answers: Vec<(&'static str, Vec<String>, bool)>) -> String {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            for (expect, chunks, complete) in answers {
                let (mut sock, _) = listener.accept().await.unwrap();
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = sock.read(&mut buf).await.unwrap();
                    req.extend_from_slice(&buf[..n]);
                }
                let head = String::from_utf8_lossy(&req).into_owned();
                let first = head.lines().next().unwrap_or_default().to_owned();
                assert!(first.contains(expect), "{first} lacks {expect}");
                assert!(head.contains("authorization: Bearer tok"), "{head}");
                sock.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
                )
                .await
                .unwrap();
                for c in chunks {
                    let framed = format!("{:x}\r\n{c}\r\n", c.len());
                    sock.write_all(framed.as_bytes()).await.unwrap();
                    sock.flush().await.unwrap();
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                if complete {
                    sock.write_all(b"0\r\n\r\n").await.unwrap();
                }
                sock.shutdown().await.ok();
            }
        });
        format!("http://{addr}")
    }

    fn out(seq: i32, stream: &str, data: &str) -> String {
        format!(
            "{{\"type\":\"output\",\"seq\":{seq},\"stream\":\"{stream}\",\"data\":\"{data}\"}}\n"
        )
    }

    #[tokio::test]
    async fn following_reassembles_lines_and_resumes_after_a_drop() {
        let first = format!("{}{}", out(1, "stdout", "one"), out(2, "stderr", "two"));
        let cut = first.find("}\n").unwrap() + 15;
        let gateway = serve(vec![
            // The first line in two chunks, then a break mid-way through
            // the second line.
            (
                "/api/sessions/s%201/tasks/t1/output?follow=true HTTP",
                vec![
                    first[..20].to_owned(),
                    first[20..cut].to_owned(),
                    first[cut..cut + 10].to_owned(),
                ],
                false,
            ),
            // Resumed after seq 1; repeats seq 1 which must be dropped.
            (
                "/api/sessions/s%201/tasks/t1/output?follow=true&after=1 HTTP",
                vec![
                    out(1, "stdout", "one"),
                    format!("{}{END}", out(2, "stderr", "two")),
                ],
                true,
            ),
        ])
        .await;
        let api = GatewayClient::new(&gateway, Some("tok")).unwrap();
        let mut got = Vec::new();
        let mut sink = |e: OutputEvent| {
            got.push(e);
            Ok(())
        };
        let end = read_output(
            &api,
            TaskRef {
                session: "s 1",
                task: "t1",
            },
            true,
            &mut sink,
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(end.exit_code, Some(1));
        let seqs: Vec<(i32, String)> = got
            .iter()
            .filter_map(|e| match e {
                OutputEvent::Output { seq, data, .. } => Some((*seq, data.clone())),
                OutputEvent::End { .. } | OutputEvent::Stopping { .. } => None,
            })
            .collect();
        assert_eq!(seqs, vec![(1, "one".into()), (2, "two".into())]);
    }

    #[tokio::test]
    async fn without_follow_what_exists_is_returned() {
        let gateway = serve(vec![(
            "output?follow=false HTTP",
            vec![out(1, "stdout", "partial")],
            true,
        )])
        .await;
        let api = GatewayClient::new(&gateway, Some("tok")).unwrap();
        let mut n = 0;
        let mut sink = |_e: OutputEvent| {
            n += 1;
            Ok(())
        };
        let at = TaskRef {
            session: "s",
            task: "t",
        };
        let end = read_output(&api, at, false, &mut sink).await.unwrap();
        // Still running: no end line, no retry.
        assert_eq!(end, None);
        assert_eq!(n, 1);
    }

    #[tokio::test]
    async fn a_stopping_gateway_ends_the_follow_without_a_retry() {
        let stopping = r#"{"type":"stopping","message":"the gateway is stopping"}"#;
        // One answer only: a retry would find no server and fail otherwise.
        let gateway = serve(vec![(
            "output?follow=true HTTP",
            vec![out(1, "stdout", "partial"), format!("{stopping}\n")],
            true,
        )])
        .await;
        let api = GatewayClient::new(&gateway, Some("tok")).unwrap();
        let mut n = 0;
        let mut sink = |_e: OutputEvent| {
            n += 1;
            Ok(())
        };
        let at = TaskRef {
            session: "s",
            task: "t",
        };
        let e = read_output(&api, at, true, &mut sink).await.unwrap_err();
        assert_eq!(
            e.downcast_ref::<GatewayStopping>(),
            Some(&GatewayStopping {
                message: "the gateway is stopping".into()
            })
        );
        assert_eq!(n, 1, "the output before it was delivered");
    }

    #[test]
    fn broken_pipes_are_recognised_through_context() {
        let e = anyhow::Error::from(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
            .context("writing the task's output");
        assert!(is_broken_pipe(&e));
        assert!(!is_broken_pipe(&anyhow!("other")));
    }
}
