//! The fleet commands off the quickstart's path, run as a person would: the
//! real `mosaic` binary, real tmux on the sandbox's own server, no systemd.
//! A failed command leaves nothing behind; the pane commands work on real
//! tmux whatever its base index; a signal ends a waiting command with its
//! status, a message, and no stray session.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support {
    pub mod fleet_sandbox;
}

use mosaic_fleet::testing::require_tmux;
use std::time::Duration;
use support::fleet_sandbox::{Sandbox, exit_within, signal, wait_for};

fn roster(sandbox: &Sandbox) -> Vec<u8> {
    std::fs::read(sandbox.mosaic_home().join("fleet/roster.yaml")).unwrap()
}

#[test]
fn fleet_add_that_fails_leaves_the_roster_byte_identical() {
    let sandbox = Sandbox::new();
    if !String::from_utf8_lossy(&sandbox.run("command -v pi || true").stdout)
        .trim()
        .is_empty()
    {
        eprintln!("pi is installed here: the missing-runtime case cannot be shown");
        return;
    }
    sandbox.ok("mosaic fleet init --profile general --write");
    let before = roster(&sandbox);

    let out = sandbox.run("mosaic fleet add coder0 --runtime pi --class code");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "fleet add coder0: not added, the roster is unchanged: `pi` is not installed (not found on PATH)"
        ),
        "{stderr}"
    );
    assert_eq!(roster(&sandbox), before, "the roster is untouched");
    assert!(
        !sandbox
            .mosaic_home()
            .join("fleet/agents/coder0.env")
            .exists()
    );

    // A class without a persona is refused, naming the ones that have one.
    let out = sandbox.run("mosaic fleet add w --runtime pi --class worker --no-start");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("agent `w`: class `worker` has no persona; use one of ")
            && stderr.contains(" code, ")
            && stderr.contains(" review, "),
        "{stderr}"
    );
    let out = sandbox.run("mosaic fleet edit generalist --class worker");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(roster(&sandbox), before);

    // Without starting it, a missing runtime is a warning, not a refusal.
    let out = sandbox.run("mosaic fleet add coder0 --runtime pi --no-start");
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("warning: coder0 cannot start on this host yet: `pi` is not installed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn pane_commands_work_on_real_tmux_with_base_index_one() {
    if !require_tmux("pane_commands_work_on_real_tmux_with_base_index_one") {
        return;
    }
    let sandbox = Sandbox::new();
    // A common tmux configuration: windows and panes counted from 1. The
    // fleet's server reads it like any other.
    std::fs::write(
        sandbox.path().join(".tmux.conf"),
        "set -g base-index 1\nsetw -g pane-base-index 1\n",
    )
    .unwrap();
    sandbox.ok(
        "mosaic fleet init --profile local-canary --write && mosaic fleet install >/dev/null && mosaic fleet start && mosaic fleet verify",
    );
    let typed = sandbox.ok("mosaic agent reset canary-pi");
    assert_eq!(typed.trim(), "Typed /new into canary-pi.");
    wait_for(
        "the reset to reach the pane",
        Duration::from_secs(10),
        || {
            sandbox
                .ok("mosaic agent tail canary-pi -n 20")
                .contains("ack: /new")
        },
    );
    let sent = sandbox.ok("mosaic agent send canary-pi 'hello after the reset' --verify");
    assert!(sent.contains("ACCEPTED by canary-pi"), "{sent}");
    assert_eq!(
        sandbox.ok("mosaic agent status canary-pi").trim(),
        "canary-pi: running"
    );
    let rows: serde_json::Value =
        serde_json::from_str(&sandbox.ok("mosaic fleet ps --json")).unwrap();
    for row in rows.as_array().unwrap() {
        assert!(row["pane_pid"].is_u64(), "{row}");
    }
    // Starting again starts nothing and stops nothing.
    let again = sandbox.ok("mosaic fleet start");
    assert!(again.contains("canary-pi is already running"), "{again}");
    sandbox.ok("mosaic fleet restart canary-pi && mosaic fleet verify");
    sandbox.ok("mosaic fleet stop");
    assert_eq!(sandbox.sessions(), Vec::<String>::new());
}

#[test]
fn sigterm_while_fleet_start_waits_stops_what_it_started() {
    if !require_tmux("sigterm_while_fleet_start_waits_stops_what_it_started") {
        return;
    }
    let sandbox = Sandbox::new();
    sandbox
        .ok("mosaic fleet init --profile local-canary --write && mosaic fleet install >/dev/null");
    // A session that was there before: never touched by the undo.
    sandbox.ok("tmux -L mosaic-fleet new-session -d -s scratch");
    let mut start = sandbox.spawn(&["fleet", "start", "--wait", "60"]);
    wait_for("every agent to start", Duration::from_secs(30), || {
        sandbox.sessions()
            == [
                "_holder",
                "canary-pi",
                "enhancer",
                "orchestrator",
                "scratch",
            ]
    });
    signal(&start, "TERM");
    let (status, _, stderr) = exit_within(&mut start, Duration::from_secs(15));
    assert_eq!(status.code(), Some(143), "{stderr}");
    assert!(
        stderr.contains(
            "interrupted by SIGTERM while waiting 60s for orchestrator, enhancer, canary-pi to stay up after starting"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("undone: stopped the tmux session canary-pi")
            && stderr.contains("stopped the tmux session _holder"),
        "{stderr}"
    );
    assert_eq!(sandbox.sessions(), ["scratch"], "no stray session");
}

#[test]
fn signals_end_send_verify_and_ps_watch_with_their_status() {
    if !require_tmux("signals_end_send_verify_and_ps_watch_with_their_status") {
        return;
    }
    let sandbox = Sandbox::new();
    // An agent that never takes a message in: its pane only echoes what is
    // typed, so --verify waits for its whole timeout.
    sandbox.ok(
        "mosaic fleet init --profile local-canary --write && mosaic fleet edit canary-pi --command 'sleep 600' && mosaic fleet install >/dev/null && mosaic fleet start",
    );
    let sessions = sandbox.sessions();
    let mut send = sandbox.spawn(&[
        "agent",
        "send",
        "canary-pi",
        "are you there",
        "--verify",
        "--timeout",
        "60",
    ]);
    wait_for("the message to be typed", Duration::from_secs(10), || {
        sandbox
            .ok("tmux -L mosaic-fleet capture-pane -p -t '=canary-pi:^.{top-left}'")
            .contains("are you there")
    });
    signal(&send, "INT");
    let (status, _, stderr) = exit_within(&mut send, Duration::from_secs(10));
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains(
            "interrupted by SIGINT while waiting for canary-pi to take the message in (it was sent, but is not verified)"
        ),
        "{stderr}"
    );

    let mut ps = sandbox.spawn(&["fleet", "ps", "--watch", "--interval", "30", "--json"]);
    // The first refresh is printed once the command is past its set-up, so
    // its signal handling is in place.
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(ps.stdout.take().unwrap()));
    let first = lines.next().unwrap().unwrap();
    assert!(first.contains("\"canary-pi\""), "{first}");
    signal(&ps, "TERM");
    let (status, _, stderr) = exit_within(&mut ps, Duration::from_secs(10));
    assert_eq!(status.code(), Some(143), "{stderr}");
    assert!(
        stderr.contains("interrupted by SIGTERM while refreshing fleet ps every 30s"),
        "{stderr}"
    );
    assert_eq!(sandbox.sessions(), sessions, "nothing made, nothing lost");
    sandbox.ok("mosaic fleet stop");
}
