//! Command construction: the exact argv every verb runs, with a recording
//! runner and socket-less rosters (the default tmux socket, no `-L`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use mosaic_fleet::ops::{self, AddRequest};
use mosaic_fleet::presets::Preset;
use mosaic_fleet::procs::ProcSnapshot;
use mosaic_fleet::ps::{self, PsOptions};
use mosaic_fleet::runner::{Output, RecordingRunner};
use mosaic_fleet::send::{self, SendOptions, VERIFY_LINES};
use mosaic_fleet::{AgentName, Runtime, systemd, tmux};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use support::{Home, lines, v};

const CODER0: &str = "version: 1\ntransport: tmux\nagents:\n  - name: coder0\n    runtime: codex\n";

#[test]
fn socket_args_table() {
    let cases: [(&str, &[&str]); 3] = [
        ("mosaic-factory", &["-L", "mosaic-factory"]),
        ("mosaic-fleet", &["-L", "mosaic-fleet"]),
        ("", &[]),
    ];
    for (socket, want) in cases {
        assert_eq!(tmux::socket_args(socket), v(want), "{socket:?}");
    }
}

#[test]
fn tmux_builders_without_socket_have_no_dash_l() {
    let home = Home::new();
    let builders: Vec<(&str, Vec<String>)> = vec![
        ("list-panes", tmux::list_panes("canary-pi", "")),
        ("list-sessions", tmux::list_sessions("")),
        ("has-session", tmux::has_session("canary-pi", "")),
        ("ls", tmux::ls("")),
        ("tail", tmux::tail("canary-pi", 80, "")),
        ("verify", tmux::verify_accepted("canary-pi", "", 5)),
        ("viewer", tmux::watch_create_viewer("canary-pi", "v", "")),
        ("attach", tmux::watch_attach("v", "")),
        ("kill-viewer", tmux::watch_kill_viewer("v", "")),
        ("watch", tmux::watch("canary-pi", "")),
        ("kill", tmux::kill_session("canary-pi", "")),
        (
            "send",
            tmux::agent_send(&home.paths, "canary-pi", "hi", "", "h:operator"),
        ),
        (
            "reset",
            tmux::agent_reset(&home.paths, "canary-pi", "/clear", ""),
        ),
    ];
    for (what, argv) in &builders {
        assert!(!argv.contains(&"-L".to_owned()), "{what}: {argv:?}");
    }
    // The same builders with a named socket put `-L name` right after the program.
    let named = [
        tmux::list_panes("a", "s"),
        tmux::list_sessions("s"),
        tmux::has_session("a", "s"),
        tmux::watch("a", "s"),
        tmux::verify_accepted("a", "s", 5),
        tmux::agent_send(&home.paths, "a", "m", "s", "x"),
    ];
    for argv in named {
        assert_eq!(&argv[1..3], ["-L", "s"], "{argv:?}");
    }
}

#[test]
fn exact_builder_shapes() {
    let home = Home::new();
    let list_panes = tmux::list_panes("canary-pi", "");
    assert_eq!(&list_panes[..2], ["tmux", "list-panes"]);
    assert!(
        list_panes
            .last()
            .unwrap()
            .ends_with("#{window_activity} #{session_activity}")
    );
    assert_eq!(
        tmux::list_sessions(""),
        ["tmux", "list-sessions", "-F", "#{session_name}"]
    );
    let watch = tmux::watch("canary-pi", "");
    assert_eq!(watch[0], "tmux");
    assert!(watch.contains(&"-r".to_owned()));
    assert_eq!(
        tmux::watch_attach("v1", ""),
        ["tmux", "attach", "-r", "-t", "=v1"]
    );
    assert_eq!(
        systemd::disable("mosaic-agent@coder0.service"),
        [
            "systemctl",
            "--user",
            "disable",
            "mosaic-agent@coder0.service"
        ]
    );
    assert_eq!(
        systemd::enable("mosaic-tmux-holder.service"),
        [
            "systemctl",
            "--user",
            "enable",
            "mosaic-tmux-holder.service"
        ]
    );
    assert_eq!(
        systemd::enable_linger("jarvis"),
        ["loginctl", "enable-linger", "jarvis"]
    );
    assert_eq!(
        systemd::service(systemd::ServiceAction::Start, "coder0"),
        [
            "systemctl",
            "--user",
            "start",
            "mosaic-agent@coder0.service"
        ]
    );
    let send = tmux::agent_send(&home.paths, "coder0", "hello", "", "lead:manual");
    assert_eq!(
        send,
        [
            home.paths
                .home()
                .join("tools/tmux/agent-send.sh")
                .display()
                .to_string(),
            "-S".into(),
            "lead:manual".into(),
            "-s".into(),
            "coder0".into(),
            "-m".into(),
            "hello".into()
        ]
    );
    assert_eq!(
        tmux::agent_reset(&home.paths, "coder0", "/clear", "mosaic-fleet")[1..],
        v(&[
            "-L",
            "mosaic-fleet",
            "-t",
            "=coder0:^.{top-left}",
            "-m",
            "/clear"
        ])
    );
    assert!(tmux::default_source_label().ends_with(":operator"));
}

#[test]
fn fleet_verify_checks_holder_then_agents() {
    let home = Home::with_roster(CODER0);
    let runner = RecordingRunner::succeeding();
    ops::verify(&home.fleet(&runner, false)).unwrap();
    assert_eq!(
        runner.calls(),
        [
            v(&["tmux", "has-session", "-t", "=_holder"]),
            v(&["tmux", "has-session", "-t", "=coder0"]),
        ]
    );
}

#[test]
fn fleet_verify_names_missing_sessions() {
    let home = Home::with_roster(CODER0);
    let runner = RecordingRunner::new(|argv| {
        Ok(if argv.iter().any(|a| a == "=coder0") {
            Output::failed(1, "can't find session")
        } else {
            Output::ok()
        })
    });
    let err = ops::verify(&home.fleet(&runner, false))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("coder0") && err.contains("default tmux socket"),
        "{err}"
    );
}

#[test]
fn agent_status_uses_an_exact_target() {
    let home = Home::with_roster("version: 1\nagents:\n  - name: json-agent\n    runtime: pi\n");
    let runner = RecordingRunner::succeeding();
    let status = ops::agent_status(&home.fleet(&runner, false), Some("json-agent")).unwrap();
    assert!(status.running);
    assert_eq!(
        runner.calls(),
        [v(&["tmux", "has-session", "-t", "=json-agent"])]
    );
    let runner = RecordingRunner::succeeding();
    ops::agent_status(&home.fleet(&runner, false), None).unwrap();
    assert_eq!(runner.calls(), [v(&["tmux", "ls"])]);
    let err = ops::agent_status(&home.fleet(&runner, false), Some("nobody")).unwrap_err();
    assert!(err.to_string().contains("nobody"));
}

#[test]
fn agent_send_uses_the_default_source_label_and_no_dash_l() {
    let home = Home::with_roster(CODER0);
    let roster = home
        .fleet(&RecordingRunner::succeeding(), false)
        .roster()
        .unwrap();
    for label in [tmux::default_source_label(), "lead:manual".to_owned()] {
        let runner = RecordingRunner::succeeding();
        send::send(
            &runner,
            &home.paths,
            &roster,
            "coder0",
            "hello there",
            &SendOptions::new(label.clone(), false),
        )
        .unwrap();
        let calls = runner.calls();
        assert_eq!(calls.len(), 1);
        assert_eq!(
            calls[0],
            tmux::agent_send(&home.paths, "coder0", "hello there", "", &label)
        );
        assert_eq!(
            calls[0][0],
            home.paths
                .home()
                .join("tools/tmux/agent-send.sh")
                .display()
                .to_string()
        );
        assert_eq!(&calls[0][1..3], ["-S", label.as_str()]);
        assert!(!calls[0].contains(&"-L".to_owned()));
    }
}

#[test]
fn send_verify_accepts_on_the_first_changed_poll() {
    let home = Home::with_roster(CODER0);
    let roster = home
        .fleet(&RecordingRunner::succeeding(), false)
        .roster()
        .unwrap();
    let captures = AtomicU32::new(0);
    let runner = RecordingRunner::new(move |argv| {
        if argv.iter().any(|a| a == "capture-pane") {
            let n = captures.fetch_add(1, Ordering::SeqCst);
            return Ok(Output::stdout(if n == 0 {
                "coder0> \n"
            } else {
                "ack: hi\ncoder0> \n"
            }));
        }
        Ok(Output::ok())
    });
    let mut opts = SendOptions::new("h:operator", true);
    opts.poll_interval = Duration::ZERO;
    let report = send::send(&runner, &home.paths, &roster, "coder0", "hi", &opts).unwrap();
    let calls = runner.calls();
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[0], tmux::verify_accepted("coder0", "", VERIFY_LINES));
    assert!(calls[1][0].contains("agent-send.sh"));
    assert_eq!(calls[2], tmux::verify_accepted("coder0", "", 5));
    assert_eq!(report.verdict, Some(send::Verdict::Accepted));
    assert_eq!(report.describe(), "ACCEPTED by coder0");
}

#[test]
fn send_verify_reports_unchanged_and_draft() {
    let home = Home::with_roster(CODER0);
    let roster = home
        .fleet(&RecordingRunner::succeeding(), false)
        .roster()
        .unwrap();
    let mut opts = SendOptions::new("h:operator", true);
    opts.poll_interval = Duration::ZERO;
    opts.timeout = Duration::from_millis(20);
    let unchanged = RecordingRunner::new(|_| Ok(Output::stdout("same\n")));
    let report = send::send(&unchanged, &home.paths, &roster, "coder0", "hi", &opts).unwrap();
    assert_eq!(report.verdict, Some(send::Verdict::Unchanged));
    assert!(
        report.describe().starts_with("NOT ACCEPTED"),
        "{}",
        report.describe()
    );

    let draft = RecordingRunner::new(|argv| {
        Ok(if argv.iter().any(|a| a == "capture-pane") {
            Output::stdout("> [h:operator -> h:coder0] please review the pull request\n")
        } else {
            Output::ok()
        })
    });
    let report = send::send(
        &draft,
        &home.paths,
        &roster,
        "coder0",
        "please review the pull request",
        &opts,
    );
    // Before and after are equal here, so it is unchanged; the draft case is
    // covered by the classifier table below.
    assert_eq!(report.unwrap().verdict, Some(send::Verdict::Unchanged));

    let cases = [
        ("a\n> \n", "a\nack: hi\n> \n", "hi", send::Verdict::Accepted),
        ("> \n", "> \n", "hi", send::Verdict::Unchanged),
        (
            "> \n",
            "> [x -> y:z] please review the pull request\n",
            "please review the pull request",
            send::Verdict::Draft,
        ),
        (
            "> \n",
            "> …ase review the pull request\n",
            "please review the pull request",
            send::Verdict::Draft,
        ),
        (
            "> \n",
            "[x -> y:z] please review\nworking…\n",
            "please review",
            send::Verdict::Accepted,
        ),
    ];
    for (before, after, msg, want) in cases {
        assert_eq!(
            send::classify_send_result(before, after, msg),
            want,
            "{after:?}"
        );
    }
}

#[test]
fn send_to_a_stopped_agent_says_how_to_start_it() {
    let home = Home::with_roster(CODER0);
    let roster = home
        .fleet(&RecordingRunner::succeeding(), false)
        .roster()
        .unwrap();
    let runner = RecordingRunner::new(|_| Ok(Output::failed(1, "can't find session")));
    let err = send::send(
        &runner,
        &home.paths,
        &roster,
        "coder0",
        "hi",
        &SendOptions::new("x", true),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("mosaic fleet start coder0"),
        "{err}"
    );
    let err = send::send(
        &runner,
        &home.paths,
        &roster,
        "ghost",
        "hi",
        &SendOptions::new("x", false),
    )
    .unwrap_err();
    assert!(err.to_string().contains("ghost"), "{err}");
}

#[test]
fn fleet_ps_issues_show_panes_then_sessions() {
    let home = Home::with_roster(CODER0);
    let runner = RecordingRunner::succeeding();
    let roster = home.fleet(&runner, true).roster().unwrap();
    ps::ps(
        &runner,
        &home.paths,
        &roster,
        &ProcSnapshot::default(),
        &PsOptions::from_env(true),
    )
    .unwrap();
    assert_eq!(
        runner.calls(),
        [
            systemd::show("coder0"),
            tmux::list_panes("coder0", ""),
            tmux::list_sessions("")
        ]
    );
    assert_eq!(ps::commands(&roster, true), runner.calls());
    assert_eq!(
        ps::commands(&roster, false),
        [tmux::list_panes("coder0", ""), tmux::list_sessions("")]
    );
}

#[test]
fn fleet_remove_stops_and_disables_the_unit() {
    let home = Home::with_roster(
        &(lines(&[
            "version: 1",
            "transport: tmux",
            "agents:",
            "  - name: orchestrator",
            "    runtime: pi",
            "    class: orchestrator",
            "  - name: coder0",
            "    runtime: codex",
            "    class: worker",
        ]) + "\n"),
    );
    std::fs::create_dir_all(home.paths.agents_dir()).unwrap();
    std::fs::write(home.paths.env_file("coder0"), "X=1\n").unwrap();
    let runner = RecordingRunner::succeeding();
    ops::remove(&home.fleet(&runner, true), "coder0", false).unwrap();
    let calls = runner.calls();
    assert!(
        calls.contains(&v(&[
            "systemctl",
            "--user",
            "disable",
            "mosaic-agent@coder0.service"
        ])),
        "{calls:?}"
    );
    assert!(
        calls.contains(&v(&[
            "systemctl",
            "--user",
            "stop",
            "mosaic-agent@coder0.service"
        ])),
        "{calls:?}"
    );
    assert!(!home.paths.env_file("coder0").exists());
    let roster = home.fleet(&runner, true).roster().unwrap();
    assert!(roster.agent("coder0").is_err());

    // The sole orchestrator is refused before anything runs.
    let runner = RecordingRunner::succeeding();
    let err = ops::remove(&home.fleet(&runner, true), "orchestrator", false).unwrap_err();
    assert!(err.to_string().contains("sole orchestrator"), "{err}");
    assert!(runner.calls().is_empty());
}

#[test]
fn fleet_remove_with_keep_files_does_not_disable() {
    let home = Home::with_roster(CODER0);
    let runner = RecordingRunner::succeeding();
    ops::remove(&home.fleet(&runner, true), "coder0", true).unwrap();
    assert_eq!(
        runner.calls(),
        [v(&[
            "systemctl",
            "--user",
            "stop",
            "mosaic-agent@coder0.service"
        ])]
    );
}

#[test]
fn fleet_remove_warns_but_goes_on_when_disable_fails() {
    let home = Home::with_roster(CODER0);
    let runner = RecordingRunner::new(|argv| {
        Ok(if argv.contains(&"disable".to_owned()) {
            Output::failed(1, "Unit not found")
        } else {
            Output::ok()
        })
    });
    let report = ops::remove(&home.fleet(&runner, true), "coder0", false).unwrap();
    assert_eq!(
        report.warnings,
        ["could not disable mosaic-agent@coder0.service: Unit not found"]
    );
}

#[test]
fn fleet_add_enables_the_unit_for_boot() {
    let home = Home::with_roster(
        &(lines(&[
            "version: 1",
            "transport: tmux",
            "agents:",
            "  - name: coder0",
            "    runtime: codex",
        ]) + "\n"),
    );
    let runner = RecordingRunner::succeeding();
    let report = ops::add(
        &home.fleet(&runner, true),
        AddRequest {
            name: AgentName::new("coder1").unwrap(),
            runtime: Runtime::Codex,
            class: "code".into(),
            model: None,
            command: None,
            start: false,
            wait: None,
        },
    )
    .unwrap();
    assert!(runner.calls().contains(&v(&[
        "systemctl",
        "--user",
        "enable",
        "mosaic-agent@coder1.service"
    ])));
    assert_eq!(
        report.messages[0],
        "Added coder1 (codex/code) to the fleet."
    );
    assert!(home.paths.env_file("coder1").exists());
    let again = ops::add(
        &home.fleet(&runner, true),
        AddRequest {
            name: AgentName::new("coder1").unwrap(),
            runtime: Runtime::Pi,
            class: "code".into(),
            model: None,
            command: None,
            start: false,
            wait: None,
        },
    );
    assert!(
        again
            .unwrap_err()
            .to_string()
            .contains("already in the roster")
    );
}

#[test]
fn fleet_init_writes_a_floor_roster() {
    let home = Home::new();
    let runner = RecordingRunner::succeeding();
    let out = ops::init(&home.fleet(&runner, false), Preset::General, true, false).unwrap();
    let written = std::fs::read_to_string(home.paths.roster()).unwrap();
    let count = |re: &str| regex::Regex::new(re).unwrap().find_iter(&written).count();
    assert_eq!(count(r"class:\s*orchestrator"), 1);
    assert!(count(r"class:\s*enhancer") >= 1);
    assert_eq!(
        out.summary,
        "Initialized general fleet: 1 orchestrator + 1 enhancer(s) + 1 worker(s). Next: mosaic fleet install"
    );
    // A second init refuses to clobber without --force.
    let err = ops::init(&home.fleet(&runner, false), Preset::Coding, true, false).unwrap_err();
    assert!(err.to_string().contains("--force"), "{err}");
    ops::init(&home.fleet(&runner, false), Preset::Minimal, true, true).unwrap();
    let out = ops::init(&home.fleet(&runner, false), Preset::Minimal, false, false).unwrap();
    assert_eq!(
        out.summary,
        "Initialized minimal fleet: 1 agent(s) (no orchestrator). Next: mosaic fleet install"
    );
    assert!(runner.calls().is_empty());
}

#[test]
fn fleet_edit_changes_the_model_and_rewrites_the_env() {
    let home = Home::with_roster(CODER0);
    let runner = RecordingRunner::succeeding();
    let fleet = home.fleet(&runner, false);
    ops::edit(
        &fleet,
        "coder0",
        ops::EditRequest {
            model: Some(Some("gpt-x".into())),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        fleet
            .roster()
            .unwrap()
            .agent("coder0")
            .unwrap()
            .model_hint
            .as_deref(),
        Some("gpt-x")
    );
    let env = std::fs::read_to_string(home.paths.env_file("coder0")).unwrap();
    assert!(env.contains("MOSAIC_AGENT_MODEL=gpt-x\n"), "{env}");
    ops::edit(
        &fleet,
        "coder0",
        ops::EditRequest {
            model: Some(None),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        fleet.roster().unwrap().agent("coder0").unwrap().model_hint,
        None
    );
}

#[test]
fn fleet_start_without_systemd_runs_the_launcher_with_the_env_file() {
    let home = Home::with_roster(CODER0);
    mosaic_fleet::scripts::install_tools(&home.paths, std::path::Path::new("/usr/bin/mosaic"))
        .unwrap();
    ops::edit(
        &home.fleet(&RecordingRunner::succeeding(), false),
        "coder0",
        ops::EditRequest {
            command: Some(Some("/bin/stub".into())),
            ..Default::default()
        },
    )
    .unwrap();
    let runner = RecordingRunner::new(|argv| {
        Ok(if argv.contains(&"has-session".to_owned()) {
            Output::failed(1, "no server")
        } else {
            Output::stdout("Started\n")
        })
    });
    let report = ops::start(
        &home.fleet(&runner, false),
        &[],
        &ops::StartOptions::default(),
    )
    .unwrap();
    assert_eq!(report.started, ["coder0"]);
    let calls = runner.calls();
    assert_eq!(calls[0], tmux::has_session("_holder", ""));
    assert_eq!(calls[1], tmux::new_holder_session("_holder", ""));
    assert_eq!(calls[2], tmux::has_session("coder0", ""));
    assert_eq!(
        calls[3],
        v(&[
            "bash",
            &home.paths.start_script().display().to_string(),
            "coder0"
        ])
    );
    let env = &runner.envs()[3];
    assert!(
        env.contains(&("MOSAIC_AGENT_COMMAND".to_owned(), "/bin/stub".to_owned())),
        "{env:?}"
    );
    assert!(env.contains(&(
        "MOSAIC_HOME".to_owned(),
        home.paths.home().display().to_string()
    )));
}

#[test]
fn fleet_start_refuses_when_a_runtime_is_missing_and_runs_nothing() {
    // No agent runtime is on this test's PATH under these names.
    let home = Home::with_roster(
        "version: 1\nagents:\n  - name: o\n    runtime: opencode\n  - name: s\n    runtime: pi\n    command: /bin/stub\n",
    );
    mosaic_fleet::scripts::install_tools(&home.paths, std::path::Path::new("/usr/bin/mosaic"))
        .unwrap();
    if mosaic_fleet::on_path("opencode") {
        return;
    }
    for systemd in [true, false] {
        let runner = RecordingRunner::succeeding();
        let err = ops::start(
            &home.fleet(&runner, systemd),
            &[],
            &ops::StartOptions::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("nothing was started: 1 agent(s) cannot start on this host:\n  o: `opencode` is not installed"),
            "{err}"
        );
        assert!(err.contains("stub-agent.sh"), "{err}");
        // Checked before anything ran: no holder, no unit, no session.
        assert_eq!(runner.calls(), Vec::<Vec<String>>::new());
    }
}

#[test]
fn install_without_systemd_reports_it_and_writes_everything() {
    let home = Home::new();
    let runner = RecordingRunner::succeeding();
    let fleet = home.fleet(&runner, false);
    ops::init(&fleet, Preset::General, true, false).unwrap();
    let report = ops::install(&fleet, std::path::Path::new("/opt/mosaic/bin/mosaic")).unwrap();
    assert!(!report.systemd);
    assert!(
        report
            .report
            .messages
            .iter()
            .any(|m| m.contains("systemd is not available")),
        "{:?}",
        report.report
    );
    assert!(runner.calls().is_empty(), "nothing runs without systemd");
    for path in [
        home.paths.roles_dir().join("enhancer.md"),
        home.paths.roles_dir().join("LIBRARY.md"),
        home.paths.profiles_dir().join("software-delivery.yaml"),
        home.paths.examples_dir().join("local-canary.yaml"),
        home.paths.fleet_dir().join("roster.schema.json"),
        home.paths.start_script(),
        home.paths.agent_send(),
        home.paths.stub_agent(),
        home.paths.env_file("orchestrator"),
        home.paths.agent_unit_file(),
        home.paths.holder_unit_file(),
    ] {
        assert!(path.exists(), "{}", path.display());
    }
    let script = std::fs::read_to_string(home.paths.start_script()).unwrap();
    assert!(script.contains("MOSAIC_BIN=${MOSAIC_BIN:-'/opt/mosaic/bin/mosaic'}"));
}

#[test]
fn install_with_systemd_enables_units_and_linger() {
    let home = Home::new();
    let runner = RecordingRunner::succeeding();
    let fleet = home.fleet(&runner, true);
    ops::init(&fleet, Preset::General, true, false).unwrap();
    ops::install(&fleet, std::path::Path::new("/usr/bin/mosaic")).unwrap();
    let calls = runner.calls();
    assert_eq!(calls[0], systemd::daemon_reload());
    assert_eq!(calls[1], systemd::enable("mosaic-tmux-holder.service"));
    for name in ["orchestrator", "enhancer", "generalist"] {
        assert!(
            calls.contains(&systemd::enable(&systemd::agent_unit(name))),
            "{name}"
        );
    }
    assert_eq!(
        calls.last().unwrap()[..2],
        v(&["loginctl", "enable-linger"])
    );
}

#[test]
fn restart_is_guarded_against_re_entry() {
    let home = Home::with_roster(CODER0);
    let runner = RecordingRunner::succeeding();
    let fleet = home.fleet(&runner, true);
    // A live process (this one) holds a fresh guard: refused, nothing runs.
    let held = ops::RestartGuard::acquire(&home.paths.restart_guard("coder0"), "coder0").unwrap();
    let err = ops::restart(&fleet, "coder0").unwrap_err();
    assert!(err.to_string().contains("already in flight"), "{err}");
    assert!(runner.calls().is_empty());
    drop(held);
    ops::restart(&fleet, "coder0").unwrap();
    assert_eq!(
        runner.calls(),
        [systemd::service(systemd::ServiceAction::Restart, "coder0")]
    );
    assert!(
        !home.paths.restart_guard("coder0").exists(),
        "released after the restart"
    );
    // A guard left by a process that is gone is taken over.
    std::fs::write(home.paths.restart_guard("coder0"), "4000000000\n").unwrap();
    ops::restart(&fleet, "coder0").unwrap();
}

#[test]
fn agent_watch_is_read_only_through_a_viewer_session() {
    let home = Home::with_roster(CODER0);
    let runner = RecordingRunner::succeeding();
    ops::watch(&home.fleet(&runner, false), "coder0").unwrap();
    let viewer = tmux::viewer_session_name("coder0");
    assert_eq!(
        runner.calls(),
        [
            v(&["tmux", "new-session", "-d", "-t", "=coder0", "-s", &viewer]),
            v(&["tmux", "attach", "-r", "-t", &format!("={viewer}")]),
            v(&["tmux", "kill-session", "-t", &format!("={viewer}")]),
        ]
    );
}

#[test]
fn agent_tail_and_reset() {
    let home = Home::with_roster(CODER0);
    let runner = RecordingRunner::new(|_| Ok(Output::stdout("one\ntwo\nthree\n\n\n")));
    let text = ops::tail(&home.fleet(&runner, false), "coder0", 2).unwrap();
    assert_eq!(text, "two\nthree");
    assert_eq!(runner.calls(), [tmux::tail("coder0", 2, "")]);
    assert_eq!(
        runner.calls()[0],
        v(&[
            "tmux",
            "capture-pane",
            "-t",
            "=coder0:^.{top-left}",
            "-p",
            "-S",
            "-2"
        ])
    );

    let runner = RecordingRunner::succeeding();
    let typed = ops::reset(&home.fleet(&runner, false), "coder0", None).unwrap();
    assert_eq!(typed, "/new");
    assert_eq!(
        runner.calls(),
        [tmux::agent_reset(&home.paths, "coder0", "/new", "")]
    );
    assert_eq!(ops::default_reset_command(Runtime::Claude), "/clear");
}

#[test]
fn paths_follow_the_mosaic_home() {
    let home = Home::new();
    let p = &home.paths;
    assert!(
        p.heartbeat("coder0")
            .ends_with(".config/mosaic/fleet/run/coder0.hb")
    );
    assert!(
        p.env_file("coder0")
            .ends_with(".config/mosaic/fleet/agents/coder0.env")
    );
    assert!(p.roster().ends_with(".config/mosaic/fleet/roster.yaml"));
    assert!(
        p.agent_send()
            .ends_with(".config/mosaic/tools/tmux/agent-send.sh")
    );
    assert!(
        p.agent_unit_file()
            .ends_with(".config/systemd/user/mosaic-agent@.service")
    );
}

#[test]
fn units_render_the_default_socket_rule() {
    let home = Home::new();
    let unit = systemd::render_agent_unit(&home.paths).unwrap();
    let h = home.paths.home().display().to_string();
    assert!(
        unit.contains(&format!("EnvironmentFile=-{h}/fleet/agents/%i.env")),
        "{unit}"
    );
    assert!(unit.contains(&format!(
        "ExecStart=/bin/bash {h}/tools/fleet/start-agent-session.sh %i"
    )));
    assert!(unit.contains("if [ -n \"${MOSAIC_TMUX_SOCKET:-}\" ]; then tmux -L \"$MOSAIC_TMUX_SOCKET\" kill-session -t \"=%i\"; else tmux kill-session -t \"=%i\"; fi"), "{unit}");
    assert!(
        !unit.contains("Environment=MOSAIC_TMUX_SOCKET"),
        "no default socket"
    );
    assert!(unit.contains("Type=oneshot\nRemainAfterExit=yes"));
    assert!(unit.contains("WantedBy=default.target"));
    let holder = systemd::render_holder_unit(&home.paths).unwrap();
    assert!(holder.contains("new-session -d -s \"$h\""), "{holder}");
    let spaced = mosaic_fleet::paths::FleetPaths::under("/home/a b/.config/mosaic", "/home/a b");
    assert!(
        systemd::render_agent_unit(&spaced)
            .unwrap_err()
            .to_string()
            .contains("whitespace")
    );
}

#[test]
fn launch_lines_per_runtime() {
    use mosaic_fleet::launch::{LaunchSpec, launch_argv};
    let extra = v(&["--resume"]);
    let spec = |runtime, model, yolo| LaunchSpec {
        runtime,
        model,
        yolo,
        contract: "C",
        extra: &extra,
    };
    assert_eq!(
        launch_argv(&spec(Runtime::Claude, Some("opus"), true)),
        v(&[
            "claude",
            "--dangerously-skip-permissions",
            "--model",
            "opus",
            "--append-system-prompt",
            "C",
            "--resume"
        ])
    );
    assert_eq!(
        launch_argv(&spec(Runtime::Pi, None, true)),
        v(&["pi", "--append-system-prompt", "C", "--resume"])
    );
    assert_eq!(
        launch_argv(&spec(Runtime::Codex, Some("gpt"), true)),
        v(&[
            "codex",
            "--dangerously-bypass-approvals-and-sandbox",
            "--model",
            "gpt",
            "-c",
            "developer_instructions=\"C\"",
            "--resume"
        ])
    );
    assert_eq!(
        launch_argv(&spec(Runtime::Opencode, None, false)),
        v(&["opencode", "--resume"])
    );
    if !mosaic_fleet::on_path("opencode") {
        let err = mosaic_fleet::launch::locate(Runtime::Opencode)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`opencode` is not installed"), "{err}");
    }
}
