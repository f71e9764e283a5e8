//! The real `agent-node` binary against a fake gateway over real TLS on
//! loopback: registration, tasks, refusals, cancellation, time limits,
//! streaming, reconnection, heartbeats and shutdown.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use base64::Engine as _;
use mosaic_agent_proto::v1::{
    SandboxPolicy, ShellTask, sandbox_policy::Mode, task_progress::Stream as OutStream,
    task_request::Payload, task_result::Status,
};
use mosaic_nodes::task::sign_task;
use nix::sys::signal::Signal;
use prost::Message as _;
use ring::signature::Ed25519KeyPair;
use std::os::unix::fs::PermissionsExt as _;
use std::time::Duration;
use support::{Event, GatewayState, Setup, now_ms, wait_gone};

#[test]
fn the_invite_is_redeemed_once_and_later_starts_use_the_credential() {
    let setup = Setup::new();
    let gw = setup.state();
    let mut node = setup.connected_node();
    node.wait_stdout("agent-node registered as node-test-1 (test-node)", 1);

    let regs = gw.registrations();
    assert_eq!(regs.len(), 1);
    assert_eq!(
        regs[0].1, gw.invite,
        "the first registration carries the invite"
    );
    assert_eq!(regs[0].2, None, "the first registration has no credential");
    let request = gw.wait_for("the registration request", |events| {
        events.iter().find_map(|s| match &s.event {
            Event::Registered { request, .. } => Some(request.clone()),
            _ => None,
        })
    });
    assert_eq!(request.name, "test-node");
    let caps = request.capabilities.unwrap();
    assert_eq!(caps.os, std::env::consts::OS);
    assert!(caps.cpus >= 1 && caps.memory_bytes > 0);
    assert_eq!(caps.skills, ["shell"]);
    assert!(!caps.hostname.is_empty());

    let (_, hello) = gw.wait_hellos(1).remove(0);
    assert_eq!(hello.node_id, "node-test-1");
    assert!(hello.running_task_ids.is_empty());
    let stream_auth = gw.wait_for("the task stream", |events| {
        events.iter().find_map(|s| match &s.event {
            Event::TaskStreamOpened { authorization } => Some(authorization.clone()),
            _ => None,
        })
    });
    assert_eq!(stream_auth.as_deref(), Some(gw.bearer().as_str()));

    let state_file = setup.state_file();
    let mode = std::fs::metadata(&state_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "node.json must be private");
    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state_file).unwrap()).unwrap();
    assert_eq!(stored["node_id"], "node-test-1");
    assert_eq!(stored["credential"], gw.credential.as_str());

    assert!(node.terminate().success());
    assert_eq!(
        node.stdout_lines(),
        [
            "agent-node registered as node-test-1 (test-node)",
            "agent-node connected"
        ]
    );

    // The config still names the (now used) invite: it must be ignored.
    let node = setup.connected_node();
    node.wait_stdout("agent-node registered as node-test-1 (test-node)", 1);
    let regs = gw.registrations();
    assert_eq!(regs.len(), 2);
    assert_eq!(
        regs[1].1, "",
        "a registered node does not send the invite again"
    );
    assert_eq!(regs[1].2.as_deref(), Some(gw.bearer().as_str()));
}

#[test]
fn a_shell_task_streams_both_outputs_and_ends_with_its_exit_code() {
    let setup = Setup::new();
    let gw = setup.state();
    let _node = setup.connected_node();
    gw.dispatch(&gw.task("t-exit", "echo hello; echo oops >&2; exit 3"));
    let result = gw.result_of("t-exit");
    assert_eq!(result.status(), Status::Completed, "{result:?}");
    assert_eq!(result.exit_code, Some(3));
    assert!(result.error.is_empty(), "{result:?}");
    assert_eq!(gw.output("t-exit", OutStream::Stdout), "hello\n");
    assert_eq!(gw.output("t-exit", OutStream::Stderr), "oops\n");

    // Every piece of output came before the result.
    let events = gw.events();
    let result_at = events
        .iter()
        .position(|s| matches!(&s.event, Event::Result(r) if r.task_id == "t-exit"))
        .unwrap();
    let last_output = events
        .iter()
        .rposition(|s| matches!(&s.event, Event::Progress(p) if p.task_id == "t-exit"))
        .unwrap();
    assert!(last_output < result_at);
    assert!(setup.workspace().is_dir(), "the workspace is created");
}

#[test]
fn tasks_run_in_the_workspace_or_the_directory_they_name() {
    let setup = Setup::new();
    let gw = setup.state();
    let _node = setup.connected_node();
    std::fs::create_dir_all(setup.workspace().join("sub")).unwrap();

    gw.dispatch(&gw.task("in-workspace", "pwd"));
    let mut relative = gw.task("relative", "pwd");
    let mut missing = gw.task("missing", "pwd");
    if let Some(Payload::Shell(s)) = relative.payload.as_mut() {
        s.cwd = "sub".to_owned();
    }
    if let Some(Payload::Shell(s)) = missing.payload.as_mut() {
        s.cwd = "/no/such/dir".to_owned();
    }
    gw.dispatch(&relative);
    gw.dispatch(&missing);

    let ws = std::fs::canonicalize(setup.workspace()).unwrap();
    assert_eq!(gw.result_of("in-workspace").exit_code, Some(0));
    assert_eq!(
        gw.output("in-workspace", OutStream::Stdout).trim(),
        ws.to_str().unwrap()
    );
    assert_eq!(gw.result_of("relative").exit_code, Some(0));
    assert_eq!(
        gw.output("relative", OutStream::Stdout).trim(),
        ws.join("sub").to_str().unwrap()
    );
    let failed = gw.result_of("missing");
    assert_eq!(failed.status(), Status::Failed);
    assert_eq!(
        failed.error,
        "working directory /no/such/dir does not exist"
    );
}

#[test]
fn a_strict_policy_refuses_programs_outside_its_allow_list() {
    let state = GatewayState::new();
    *state.policy.lock().unwrap() = SandboxPolicy {
        mode: Mode::Strict as i32,
        allowed: vec!["echo".to_owned()],
        denied: vec![],
    };
    let setup = Setup::with_state(state);
    let gw = setup.state();
    let _node = setup.connected_node();
    let marker = setup.dir.path().join("touched");

    gw.dispatch(&gw.task("outside", &format!("echo hi; touch {}", marker.display())));
    gw.dispatch(&gw.task("inside", "echo allowed"));

    let refused = gw.result_of("outside");
    assert_eq!(refused.status(), Status::Refused);
    assert!(
        refused.error.starts_with("refused by sandbox policy: "),
        "{}",
        refused.error
    );
    assert!(refused.error.contains("`touch`"), "{}", refused.error);
    let allowed = gw.result_of("inside");
    assert_eq!(allowed.status(), Status::Completed);
    assert_eq!(gw.output("inside", OutStream::Stdout), "allowed\n");
    assert!(!marker.exists(), "a refused command must not run");
    assert_eq!(gw.output("outside", OutStream::Stdout), "");
}

#[test]
fn forged_altered_replayed_expired_and_misdirected_tasks_are_refused() {
    let setup = Setup::new();
    let gw = setup.state();
    let _node = setup.connected_node();
    let ran = |name: &str| setup.dir.path().join(format!("ran-{name}"));
    let touch = |name: &str| format!("touch {}", ran(name).display());

    // Signed with some other key.
    let other = {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
        Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()
    };
    let forged = sign_task(&gw.task("forged", &touch("forged")), |b| {
        other.sign(b).as_ref().to_vec()
    });
    gw.send_signed(forged);

    // A genuine signature over a task whose command was then changed.
    let original = gw.task("altered", "echo harmless");
    let mut altered = gw.sign(&original);
    let mut changed = original.clone();
    changed.payload = Some(Payload::Shell(ShellTask {
        command: touch("altered"),
        ..Default::default()
    }));
    altered.task = changed.encode_to_vec();
    gw.send_signed(altered);

    // Expired a minute ago.
    let mut expired = gw.task("expired", &touch("expired"));
    expired.issued_at_ms = now_ms() - 120_000;
    expired.expires_at_ms = now_ms() - 60_000;
    gw.dispatch(&expired);

    // Meant for another node.
    let mut elsewhere = gw.task("elsewhere", &touch("elsewhere"));
    elsewhere.node_id = "node-someone-else".to_owned();
    gw.dispatch(&elsewhere);

    // Sent twice: runs once, then is refused as a replay.
    let once = gw.sign(&gw.task("replayed", "echo once"));
    gw.send_signed(once.clone());
    assert_eq!(gw.result_of("replayed").status(), Status::Completed);
    gw.send_signed(once);

    let refused = |id: &str, needle: &str| {
        let r = gw.result_of(id);
        assert_eq!(r.status(), Status::Refused, "{id}: {r:?}");
        assert!(r.error.contains(needle), "{id}: {}", r.error);
    };
    refused("forged", "signature");
    refused("altered", "signature");
    refused("expired", "expired");
    refused("elsewhere", "not this node");
    let replay = gw.results_of("replayed", 2);
    assert_eq!(replay[1].status(), Status::Refused);
    assert!(replay[1].error.contains("replayed"), "{}", replay[1].error);
    assert_eq!(gw.output("replayed", OutStream::Stdout), "once\n");

    for name in ["forged", "altered", "expired", "elsewhere"] {
        assert!(!ran(name).exists(), "the {name} task ran");
    }
}

#[test]
fn cancel_kills_the_whole_process_group_quickly() {
    let setup = Setup::new();
    let gw = setup.state();
    let _node = setup.connected_node();
    gw.dispatch(&gw.task("long", "sleep 30 & echo $!; wait"));
    let started = gw.wait_output("long", "\n");
    let pid: i32 = gw.output("long", OutStream::Stdout).trim().parse().unwrap();

    gw.cancel("long");
    let result = gw.result_of("long");
    assert_eq!(result.status(), Status::Cancelled, "{result:?}");
    let done = gw.result_seen("long");
    assert!(
        done.at - started.at < Duration::from_secs(15),
        "cancel took {:?}",
        done.at - started.at
    );
    assert!(result.duration_ms < 15_000, "{result:?}");
    wait_gone(pid);
}

#[test]
fn a_task_past_its_time_limit_times_out() {
    let setup = Setup::new();
    let gw = setup.state();
    let _node = setup.connected_node();
    let mut task = gw.task("slow", "sleep 30");
    if let Some(Payload::Shell(s)) = task.payload.as_mut() {
        s.timeout_secs = 1;
    }
    gw.dispatch(&task);
    let result = gw.result_of("slow");
    assert_eq!(result.status(), Status::TimedOut, "{result:?}");
    assert!(result.exit_code.is_none());
    assert!((1_000..15_000).contains(&result.duration_ms), "{result:?}");
}

#[test]
fn output_arrives_while_the_task_is_still_running() {
    let setup = Setup::new();
    let gw = setup.state();
    let _node = setup.connected_node();
    gw.dispatch(&gw.task("chatty", "echo first; sleep 2; echo second"));
    let first = gw.wait_output("chatty", "first");
    assert!(
        !gw.output("chatty", OutStream::Stdout).contains("second"),
        "the first line must arrive on its own"
    );
    let done = gw.result_seen("chatty");
    assert!(
        done.at.duration_since(first.at) >= Duration::from_secs(1),
        "the first line arrived only {:?} before the end",
        done.at.duration_since(first.at)
    );
    assert_eq!(gw.output("chatty", OutStream::Stdout), "first\nsecond\n");
}

#[test]
fn tasks_beyond_the_concurrency_limit_wait_their_turn() {
    let setup = Setup::new();
    setup.write_config(&setup.state().invite, "max_concurrent_tasks: 1\n");
    let gw = setup.state();
    let _node = setup.connected_node();
    let gate = setup.dir.path().join("gate");
    gw.dispatch(&gw.task(
        "first",
        &format!(
            "echo running; while [ ! -e {} ]; do sleep 0.05; done",
            gate.display()
        ),
    ));
    gw.dispatch(&gw.task("second", "echo second-ran"));
    gw.wait_output("first", "running");
    gw.wait_for("a heartbeat while the first task runs", |events| {
        events.iter().rev().find_map(|s| match &s.event {
            Event::Heartbeat(b) if b.running_tasks == 1 => Some(()),
            _ => None,
        })
    });
    assert_eq!(
        gw.output("second", OutStream::Stdout),
        "",
        "the second task started while the first held the only slot"
    );
    std::fs::write(&gate, "").unwrap();
    assert_eq!(gw.result_of("second").exit_code, Some(0));
    let first = gw.result_seen("first");
    let second = gw.result_seen("second");
    assert!(first.at <= second.at);
}

#[test]
fn the_node_reconnects_by_itself_after_a_gateway_restart() {
    let mut setup = Setup::new();
    let gw = std::sync::Arc::clone(setup.state());
    let node = setup.connected_node();
    let release_a = setup.dir.path().join("release-a");
    let release_b = setup.dir.path().join("release-b");
    let wait_for =
        |file: &std::path::Path| format!("while [ ! -e {} ]; do sleep 0.05; done", file.display());
    gw.dispatch(&gw.task(
        "a",
        &format!("echo early; {}; echo late", wait_for(&release_a)),
    ));
    gw.dispatch(&gw.task(
        "b",
        &format!("echo started; {}; echo b-done", wait_for(&release_b)),
    ));
    gw.wait_output("a", "early");
    gw.wait_output("b", "started");

    setup.gateway.stop();
    node.wait_stderr("the node noticing the lost connection", |log| {
        log.contains("reconnecting in")
    });
    // Task a finishes while the gateway is away.
    std::fs::write(&release_a, "").unwrap();
    node.wait_stderr("task a finishing", |log| {
        log.lines()
            .any(|l| l.contains("task finished") && l.contains("task_id=a"))
    });

    setup.gateway.restart();
    node.wait_stdout("agent-node connected", 2);
    node.wait_stdout("agent-node registered as node-test-1 (test-node)", 2);
    let hellos = gw.wait_hellos(2);
    assert_eq!(
        hellos[1].0, 2,
        "the second hello reached the restarted gateway"
    );
    assert_eq!(hellos[1].1.running_task_ids, ["b"], "b is still running");
    assert_eq!(
        hellos[1].1.ended_task_ids,
        ["a"],
        "a ended, its result not yet acknowledged: not a task to call lost"
    );

    let regs = gw.registrations();
    let last = regs.last().unwrap();
    assert_eq!(last.0, 2);
    assert_eq!(
        last.1, "",
        "re-registration uses the credential, not the invite"
    );
    assert_eq!(last.2.as_deref(), Some(gw.bearer().as_str()));

    // What finished while disconnected is delivered after reconnecting.
    let a = gw.result_seen("a");
    assert_eq!(a.instance, 2);
    assert!(
        matches!(&a.event, Event::Result(r) if r.status() == Status::Completed && r.exit_code == Some(0))
    );
    assert_eq!(gw.output("a", OutStream::Stdout), "early\nlate\n");
    // What the first gateway may have lost is sent again, under the same
    // number, so the gateway can keep it once.
    let early: Vec<(u32, u32)> = gw
        .chunks("a")
        .into_iter()
        .filter(|(_, _, data)| data == "early\n")
        .map(|(instance, seq, _)| (instance, seq))
        .collect();
    assert_eq!(early, [(1, 1), (2, 1)]);

    // A task that kept running across the reconnect reports on the new stream.
    std::fs::write(&release_b, "").unwrap();
    let b = gw.result_seen("b");
    assert_eq!(b.instance, 2);
    assert_eq!(gw.output("b", OutStream::Stdout), "started\nb-done\n");

    // And new work is accepted on the new stream.
    gw.dispatch(&gw.task("after", "echo after-restart"));
    assert_eq!(gw.result_of("after").exit_code, Some(0));
}

#[test]
fn heartbeats_carry_real_figures() {
    let setup = Setup::new();
    let gw = setup.state();
    let _node = setup.connected_node();
    let beats = gw.wait_for("two heartbeats", |events| {
        let beats: Vec<_> = events
            .iter()
            .filter_map(|s| match &s.event {
                Event::Heartbeat(b) => Some(b.clone()),
                _ => None,
            })
            .collect();
        (beats.len() >= 2).then_some(beats)
    });
    for beat in &beats {
        assert_eq!(beat.node_id, "node-test-1");
        assert!(beat.memory_total_bytes > 0, "{beat:?}");
        assert!(beat.memory_used_bytes > 0 && beat.memory_used_bytes <= beat.memory_total_bytes);
        assert!(beat.disk_total_bytes > 0, "{beat:?}");
        assert!(beat.disk_used_bytes <= beat.disk_total_bytes);
        assert!((0.0..=100.0).contains(&beat.cpu_percent), "{beat:?}");
        assert!(beat.load_average >= 0.0);
    }
    let auth = gw.wait_for("the health stream", |events| {
        events.iter().find_map(|s| match &s.event {
            Event::HealthStreamOpened { authorization } => Some(authorization.clone()),
            _ => None,
        })
    });
    assert_eq!(auth.as_deref(), Some(gw.bearer().as_str()));
}

#[test]
fn sigterm_cancels_running_tasks_reports_them_and_exits_zero() {
    let setup = Setup::new();
    let gw = setup.state();
    let mut node = setup.connected_node();
    gw.dispatch(&gw.task("busy", "sleep 30 & echo $!; wait"));
    gw.wait_output("busy", "\n");
    let pid: i32 = gw.output("busy", OutStream::Stdout).trim().parse().unwrap();

    node.signal(Signal::SIGTERM);
    let status = node.wait_exit();
    assert_eq!(status.code(), Some(0), "stderr:\n{}", node.stderr());
    let result = gw.result_of("busy");
    assert_eq!(result.status(), Status::Cancelled);
    wait_gone(pid);
}

#[test]
fn a_used_invite_is_a_permanent_error_with_advice() {
    let setup = Setup::new();
    setup.write_config("mni_not-the-right-one", "");
    let mut node = setup.start_node();
    let status = node.wait_exit();
    assert_eq!(status.code(), Some(3), "stderr:\n{}", node.stderr());
    let stderr = node.stderr();
    let last = stderr.lines().last().unwrap();
    assert!(
        last.contains("invite was already used or has expired"),
        "{last}"
    );
    assert!(last.contains("mosaic node invite"), "{last}");
    assert!(node.stdout_lines().is_empty());
    assert!(!setup.state_file().exists());
}

#[test]
fn a_refused_credential_is_a_permanent_error_with_advice() {
    let setup = Setup::new();
    let gw = setup.state();
    let mut node = setup.connected_node();
    assert!(node.terminate().success());

    *gw.refuse.lock().unwrap() = Some(tonic::Code::Unauthenticated);
    let mut node = setup.start_node();
    let status = node.wait_exit();
    assert_eq!(status.code(), Some(3), "stderr:\n{}", node.stderr());
    let stderr = node.stderr();
    let last = stderr.lines().last().unwrap();
    assert!(last.contains("credential was refused"), "{last}");
    assert!(
        last.contains(setup.state_file().to_str().unwrap()),
        "the message names the file to delete: {last}"
    );
}

#[test]
fn a_changed_task_signing_key_is_refused() {
    let setup = Setup::new();
    let gw = setup.state();
    let mut node = setup.connected_node();
    assert!(node.terminate().success());

    // Pretend the node registered with a different gateway key.
    let path = setup.state_file();
    let mut stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    stored["task_signing_key"] =
        serde_json::Value::String(base64::engine::general_purpose::STANDARD.encode([9u8; 32]));
    std::fs::write(&path, serde_json::to_vec(&stored).unwrap()).unwrap();

    let mut node = setup.start_node();
    let status = node.wait_exit();
    assert_eq!(status.code(), Some(3), "stderr:\n{}", node.stderr());
    assert!(
        node.stderr().contains("task-signing key"),
        "{}",
        node.stderr()
    );
    assert!(
        !node
            .stdout_lines()
            .iter()
            .any(|l| l == "agent-node connected")
    );
    assert_eq!(gw.hellos().len(), 1, "no task stream after the mismatch");
}

#[test]
fn an_unreachable_gateway_is_retried_until_it_comes_up() {
    let mut setup = Setup::new();
    setup.gateway.stop();
    let node = setup.start_node();
    node.wait_stderr("two failed attempts", |log| {
        log.matches("reconnecting in").count() >= 2
    });
    assert!(node.stdout_lines().is_empty());
    setup.gateway.restart();
    node.wait_stdout("agent-node connected", 1);
}

#[test]
fn a_gateway_certificate_from_another_ca_is_never_trusted() {
    let setup = Setup::new();
    // The config names a CA that did not sign the gateway's certificate.
    let stranger = support::Pki::new();
    let text = std::fs::read_to_string(&setup.config).unwrap();
    let indent =
        |pem: &str| -> String { pem.trim_end().lines().map(|l| format!("  {l}\n")).collect() };
    let text = text.replace(
        &indent(&setup.gateway.pki.ca_pem),
        &indent(&stranger.ca_pem),
    );
    std::fs::write(&setup.config, text).unwrap();

    let node = setup.start_node();
    node.wait_stderr("two refused TLS handshakes", |log| {
        log.matches("reconnecting in").count() >= 2
    });
    assert!(
        node.stderr().to_lowercase().contains("certificate"),
        "the log says why: {}",
        node.stderr()
    );
    assert!(setup.state().registrations().is_empty());
    assert!(node.stdout_lines().is_empty());
}

#[test]
fn a_result_is_sent_again_until_the_gateway_acknowledges_it() {
    let mut setup = Setup::new();
    let gw = std::sync::Arc::clone(setup.state());
    gw.acknowledge
        .store(false, std::sync::atomic::Ordering::SeqCst);
    // Debug logs say when an acknowledgement arrives.
    let node = support::NodeProcess::start(
        &[
            "--config",
            setup.config.to_str().unwrap(),
            "--log",
            "info,mosaic_agent_node=debug",
        ],
        setup.dir.path(),
    );
    node.wait_stdout("agent-node connected", 1);
    gw.wait_hellos(1);
    gw.dispatch(&gw.task("t", "echo ok"));
    let first = gw.result_seen("t");
    assert_eq!(first.instance, 1);

    // The gateway restarts without having acknowledged it (say it stopped
    // before storing it): the new stream names the task as ended and
    // delivers output and result again.
    setup.gateway.restart();
    node.wait_stdout("agent-node connected", 2);
    let hellos = gw.wait_hellos(2);
    assert!(hellos[1].1.running_task_ids.is_empty());
    assert_eq!(hellos[1].1.ended_task_ids, ["t"]);
    let again = gw.wait_for("the result again", |_| {
        let seen = gw.results_seen("t");
        (seen.len() >= 2).then_some(seen)
    });
    assert_eq!(again[1].0, 2);
    assert_eq!(again[0].1, again[1].1, "the same result");
    assert_eq!(gw.output("t", OutStream::Stdout), "ok\n");

    // Acknowledged on the next stream: the one after neither names it nor
    // sends it.
    gw.acknowledge
        .store(true, std::sync::atomic::Ordering::SeqCst);
    setup.gateway.restart();
    node.wait_stdout("agent-node connected", 3);
    let hellos = gw.wait_hellos(3);
    assert_eq!(hellos[2].1.ended_task_ids, ["t"]);
    let third = gw.wait_for("the result on the third stream", |_| {
        let seen = gw.results_seen("t");
        (seen.len() >= 3).then_some(seen)
    });
    assert_eq!(third[2].0, 3);
    node.wait_stderr("the acknowledgement", |log| {
        log.contains("result acknowledged")
    });
    setup.gateway.restart();
    node.wait_stdout("agent-node connected", 4);
    let hellos = gw.wait_hellos(4);
    assert!(hellos[3].1.ended_task_ids.is_empty(), "{:?}", hellos[3]);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        gw.results_seen("t").len(),
        3,
        "nothing sent again after the acknowledgement"
    );
}

#[test]
fn a_node_whose_stream_is_refused_stops_at_once() {
    let setup = Setup::new();
    let gw = setup.state();
    let mut node = setup.connected_node();
    let started = std::time::Instant::now();
    gw.end_stream(tonic::Status::unauthenticated(
        "this node was removed by its owner: its credential no longer works",
    ));
    let status = node.wait_exit();
    assert_eq!(status.code(), Some(3), "stderr:\n{}", node.stderr());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let last = node.stderr().lines().last().unwrap().to_owned();
    assert!(last.contains("removed by its owner"), "{last}");
    assert!(last.contains("re-invite"), "{last}");
    assert_eq!(gw.registrations().len(), 1, "no reconnect attempt");
}

/// The `attempt=` of each "reconnecting in" line the node logged.
fn reconnect_attempts(stderr: &str) -> Vec<u32> {
    stderr
        .lines()
        .filter(|l| l.contains("reconnecting in"))
        .filter_map(|l| {
            let rest = &l[l.find("attempt=")? + "attempt=".len()..];
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

#[test]
fn after_a_connection_the_back_off_starts_over() {
    let mut setup = Setup::new();
    setup.write_config(&setup.state().invite.clone(), "reconnect_max_secs: 8\n");
    setup.gateway.stop();
    let node = setup.start_node();
    // A long outage: the waits grow, attempt after attempt.
    node.wait_stderr("four failed attempts", |log| {
        reconnect_attempts(log).len() >= 4
    });
    setup.gateway.restart();
    node.wait_stdout("agent-node connected", 1);
    let before = reconnect_attempts(&node.stderr());
    assert!(*before.last().unwrap() >= 4, "{before:?}");

    // Connected, then the gateway goes away again at once: the waits start
    // over rather than where the outage left them.
    setup.gateway.stop();
    node.wait_stderr("the next reconnect", |log| {
        reconnect_attempts(log).len() > before.len()
    });
    let after = reconnect_attempts(&node.stderr());
    assert_eq!(after[before.len()], 1, "{after:?}");
    let line = node
        .stderr()
        .lines()
        .filter(|l| l.contains("reconnecting in"))
        .nth(before.len())
        .unwrap()
        .to_owned();
    let delay: u64 = line[line.find("delay_ms=").unwrap() + "delay_ms=".len()..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(delay <= 1000, "{line}");
    setup.gateway.restart();
    node.wait_stdout("agent-node connected", 2);
}

#[test]
fn sigint_or_sigterm_stops_the_node_in_bounded_time_connected_or_not() {
    // Connected, with a task that would run for a minute.
    let setup = Setup::new();
    let gw = setup.state();
    let mut node = setup.connected_node();
    gw.dispatch(&gw.task("long", "sleep 60"));
    node.wait_stderr("the task starting", |log| log.contains("task accepted"));
    let started = std::time::Instant::now();
    node.signal(Signal::SIGINT);
    assert_eq!(node.wait_exit().code(), Some(0), "{}", node.stderr());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(gw.result_of("long").status(), Status::Cancelled);

    // Gateway away, node waiting to reconnect, a task still running.
    let mut setup = Setup::new();
    let gw = std::sync::Arc::clone(setup.state());
    let mut node = setup.connected_node();
    gw.dispatch(&gw.task("long", "sleep 60"));
    node.wait_stderr("the task starting", |log| log.contains("task accepted"));
    setup.gateway.stop();
    node.wait_stderr("the lost connection", |log| log.contains("reconnecting in"));
    let started = std::time::Instant::now();
    node.signal(Signal::SIGTERM);
    assert_eq!(node.wait_exit().code(), Some(0), "{}", node.stderr());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
}
