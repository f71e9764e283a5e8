//! `agent send [--verify]`: deliver a message through `agent-send.sh` and,
//! with `--verify`, confirm the agent took it in.
//!
//! Verification compares the bottom of the pane before and after the send.
//! A pane that changed and whose input line no longer holds the message is
//! ACCEPTED. A pane whose input line still shows the message is a draft that
//! was typed but not submitted; a pane that never changed was not reached.

use crate::error::{Error, Result};
use crate::interrupt::Interrupt;
use crate::paths::FleetPaths;
use crate::roster::Roster;
use crate::runner::{Cmd, CommandRunner};
use crate::tmux;
use serde::Serialize;
use std::time::{Duration, Instant};

/// How many history lines each verify capture takes.
pub const VERIFY_LINES: u32 = 5;
/// Time between verify captures.
pub const VERIFY_POLL_INTERVAL: Duration = Duration::from_millis(250);
/// How long verify waits for the pane to take the message.
pub const VERIFY_TIMEOUT: Duration = Duration::from_secs(10);

/// How to send.
#[derive(Debug, Clone)]
pub struct SendOptions {
    /// The `-S` label: who is talking.
    pub source: String,
    /// Confirm acceptance.
    pub verify: bool,
    /// Wait before each verify capture.
    pub poll_interval: Duration,
    /// Give up verifying after this long.
    pub timeout: Duration,
    /// Stops the verify wait when raised: the message is sent already, so
    /// the send ends with [`Error::Interrupted`] saying it was not verified.
    pub interrupt: Interrupt,
}

impl SendOptions {
    /// Operator-labelled options with the default timings.
    pub fn new(source: impl Into<String>, verify: bool) -> Self {
        SendOptions {
            source: source.into(),
            verify,
            poll_interval: VERIFY_POLL_INTERVAL,
            timeout: VERIFY_TIMEOUT,
            interrupt: Interrupt::new(),
        }
    }
}

/// What a verify capture showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    /// The pane changed and the message left the input line.
    Accepted,
    /// The message sits on the input line, typed but not submitted.
    Draft,
    /// The pane did not change.
    Unchanged,
}

/// The outcome of a send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SendReport {
    /// The receiver.
    pub agent: String,
    /// The source label used.
    pub source: String,
    /// The verdict, when verified.
    pub verdict: Option<Verdict>,
    /// How many after-captures it took.
    pub polls: u32,
}

impl SendReport {
    /// A line for people.
    pub fn describe(&self) -> String {
        match self.verdict {
            None => format!("sent to {} (not verified)", self.agent),
            Some(Verdict::Accepted) => format!("ACCEPTED by {}", self.agent),
            Some(Verdict::Draft) => format!(
                "NOT ACCEPTED: the message is still on {}'s input line, typed but not submitted; the agent may be waiting on a prompt — look with `mosaic agent watch {}`",
                self.agent, self.agent
            ),
            Some(Verdict::Unchanged) => format!(
                "NOT ACCEPTED: {}'s pane did not change; the agent may be busy or not reading input — look with `mosaic agent tail {}`",
                self.agent, self.agent
            ),
        }
    }
}

/// Classifies an after-capture against the before-capture.
pub fn classify_send_result(before: &str, after: &str, message: &str) -> Verdict {
    if before.trim_end() == after.trim_end() {
        return Verdict::Unchanged;
    }
    let input_line = after
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let message = message.trim();
    // The tail of the message identifies it even when the preamble or the
    // pane width cut its beginning off the input line.
    let tail_start = message.char_indices().rev().nth(23).map_or(0, |(i, _)| i);
    let tail = &message[tail_start..];
    if !tail.is_empty() && input_line.contains(tail) {
        Verdict::Draft
    } else {
        Verdict::Accepted
    }
}

/// Sends `message` to `agent`. With `opts.verify`, three or more tmux calls:
/// a capture before, the send, and captures after until accepted or timed out.
pub fn send(
    runner: &dyn CommandRunner,
    paths: &FleetPaths,
    roster: &Roster,
    agent: &str,
    message: &str,
    opts: &SendOptions,
) -> Result<SendReport> {
    roster.agent(agent)?;
    opts.interrupt.check(|| format!("sending to {agent}"))?;
    let socket = roster.socket();
    let capture = Cmd::new(tmux::verify_accepted(agent, socket, VERIFY_LINES));
    let before = if opts.verify {
        let out = runner.run(&capture)?;
        if !out.success() {
            return Err(not_running(agent, socket));
        }
        Some(out.stdout)
    } else {
        None
    };
    let send = Cmd::new(tmux::agent_send(
        paths,
        agent,
        message,
        socket,
        &opts.source,
    ));
    let out = runner.run(&send).map_err(|e| match e {
        Error::NotInstalled { program, .. } => Error::NotInstalled {
            program,
            hint: "; install the fleet tools with `mosaic fleet install`".to_owned(),
        },
        other => other,
    })?;
    out.checked(&send)?;
    let mut report = SendReport {
        agent: agent.to_owned(),
        source: opts.source.clone(),
        verdict: None,
        polls: 0,
    };
    let Some(before) = before else {
        return Ok(report);
    };
    let deadline = Instant::now() + opts.timeout;
    loop {
        opts.interrupt.sleep(opts.poll_interval, || {
            format!("waiting for {agent} to take the message in (it was sent, but is not verified)")
        })?;
        report.polls += 1;
        let out = runner.run(&capture)?;
        if !out.success() {
            return Err(not_running(agent, socket));
        }
        let verdict = classify_send_result(&before, &out.stdout, message);
        report.verdict = Some(verdict);
        if verdict == Verdict::Accepted || Instant::now() >= deadline {
            return Ok(report);
        }
    }
}

fn not_running(agent: &str, socket: &str) -> Error {
    Error::CommandFailed {
        command: tmux::verify_accepted(agent, socket, VERIFY_LINES).join(" "),
        status: "no such session".to_owned(),
        detail: format!(
            ": agent `{agent}` is not running on the {} tmux socket; start it with `mosaic fleet start {agent}`",
            if socket.is_empty() { "default" } else { socket }
        ),
    }
}
