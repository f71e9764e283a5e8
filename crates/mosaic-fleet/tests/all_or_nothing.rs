//! Commands are all or nothing: what can be checked is checked before
//! anything changes; what fails later is undone, and only what the command
//! itself did. Recording runners stand in for tmux and systemctl; the
//! real-tmux side is in `tmux_fleet.rs` and the `mosaic` binary's tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use mosaic_fleet::interrupt::Signal;
use mosaic_fleet::ops::{self, AddRequest, EditRequest, StartOptions};
use mosaic_fleet::runner::{Output, RecordingRunner};
use mosaic_fleet::send::{self, SendOptions};
use mosaic_fleet::{AgentName, Error, Runtime, systemd, tmux};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use support::Home;

/// Two agents on the stand-in, so no runtime needs to be installed.
const TWO: &str = "version: 1
transport: tmux
agents:
  - name: a
    runtime: pi
    class: code
    command: /bin/stub
  - name: b
    runtime: pi
    class: review
    command: /bin/stub
";

fn installed(yaml: &str) -> Home {
    let home = Home::with_roster(yaml);
    mosaic_fleet::scripts::install_tools(&home.paths, Path::new("/usr/bin/mosaic")).unwrap();
    home
}

fn launcher_of(argv: &[String]) -> Option<&str> {
    (argv.first().map(String::as_str) == Some("bash")
        && argv
            .get(1)
            .is_some_and(|s| s.ends_with("start-agent-session.sh")))
    .then(|| argv[2].as_str())
}

fn add_request(name: &str, runtime: Runtime, class: &str, command: Option<&str>) -> AddRequest {
    AddRequest {
        name: AgentName::new(name).unwrap(),
        runtime,
        class: class.into(),
        model: None,
        command: command.map(str::to_owned),
        start: true,
        wait: None,
    }
}

#[test]
fn add_with_a_missing_runtime_writes_nothing() {
    if mosaic_fleet::on_path("opencode") {
        return;
    }
    let home = installed(TWO);
    let before = std::fs::read(home.paths.roster()).unwrap();
    let runner = RecordingRunner::succeeding();
    for systemd in [false, true] {
        let err = ops::add(
            &home.fleet(&runner, systemd),
            add_request("coder0", Runtime::Opencode, "code", None),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with(
                "fleet add coder0: not added, the roster is unchanged: `opencode` is not installed"
            ),
            "{err}"
        );
        assert!(
            err.ends_with("or add it with --no-start and start it once its runtime is installed"),
            "{err}"
        );
    }
    assert_eq!(std::fs::read(home.paths.roster()).unwrap(), before);
    assert!(!home.paths.env_file("coder0").exists());
    assert!(runner.calls().is_empty(), "{:?}", runner.calls());

    // Without --start the runtime is no prerequisite: added, with a warning.
    let mut req = add_request("coder0", Runtime::Opencode, "code", None);
    req.start = false;
    let report = ops::add(&home.fleet(&runner, false), req).unwrap();
    assert!(
        report.warnings[0].starts_with("coder0 cannot start on this host yet: `opencode`"),
        "{report:?}"
    );
}

#[test]
fn add_and_edit_refuse_a_class_without_a_persona() {
    let home = installed(TWO);
    let before = std::fs::read(home.paths.roster()).unwrap();
    let runner = RecordingRunner::succeeding();
    let err = ops::add(
        &home.fleet(&runner, false),
        add_request("w", Runtime::Pi, "worker", Some("/bin/stub")),
    )
    .unwrap_err();
    let Error::UnknownClass { class, classes, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!(class, "worker");
    for known in ["code", "review", "orchestrator", "enhancer", "researcher"] {
        assert!(classes.iter().any(|c| c == known), "{known} in {classes:?}");
    }
    let text = err.to_string();
    assert!(
        text.starts_with("agent `w`: class `worker` has no persona; use one of "),
        "{text}"
    );
    assert!(text.contains("fleet/overrides/roles/worker.md"), "{text}");

    let err = ops::edit(
        &home.fleet(&runner, false),
        "a",
        EditRequest {
            class: Some("implementer".into()),
            model: Some(Some("m".into())),
            ..EditRequest::default()
        },
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("agent `a`: class `implementer` has no persona"),
        "{err}"
    );
    assert_eq!(std::fs::read(home.paths.roster()).unwrap(), before);
    assert!(!home.paths.env_file("a").exists());
    assert!(runner.calls().is_empty());

    // An override adds the class.
    std::fs::create_dir_all(home.paths.override_roles_dir()).unwrap();
    std::fs::write(
        home.paths.override_roles_dir().join("worker.md"),
        "# Worker — fleet role definition\n\nA general hand (`class: worker`).\n",
    )
    .unwrap();
    ops::edit(
        &home.fleet(&runner, false),
        "a",
        EditRequest {
            class: Some("worker".into()),
            ..EditRequest::default()
        },
    )
    .unwrap();
}

#[test]
fn a_roster_that_names_a_class_without_a_persona_is_warned_about() {
    // Rosters written before the presets were fixed keep working: warned,
    // not refused.
    let home = installed(&TWO.replace("class: review", "class: worker"));
    let runner = RecordingRunner::new(|argv| {
        Ok(if argv.contains(&"has-session".to_owned()) {
            Output::failed(1, "no session")
        } else {
            Output::ok()
        })
    });
    let report = ops::start(&home.fleet(&runner, false), &[], &StartOptions::default()).unwrap();
    assert_eq!(report.started, ["a", "b"]);
    assert_eq!(report.report.warnings.len(), 1, "{:?}", report.report);
    assert!(
        report.report.warnings[0].starts_with("agent `b`: class `worker` has no persona"),
        "{:?}",
        report.report
    );
    assert!(report.report.warnings[0].contains("mosaic fleet edit b --class <class>"));
    let install = ops::install(&home.fleet(&runner, false), Path::new("/usr/bin/mosaic")).unwrap();
    assert_eq!(install.report.warnings, report.report.warnings);
}

#[test]
fn add_undoes_the_roster_env_file_and_unit_when_its_start_fails() {
    let home = installed(TWO);
    let roster_before = std::fs::read(home.paths.roster()).unwrap();
    // systemd: the new unit was not enabled before, and it fails to start.
    let runner = RecordingRunner::new(|argv| {
        Ok(match argv.get(2).map(String::as_str) {
            Some("is-enabled") => Output::failed(1, "disabled"),
            Some("is-active") => Output::stdout("active\ninactive\n"),
            Some("start") if argv[3] == "mosaic-agent@c.service" => {
                Output::failed(1, "Job for mosaic-agent@c.service failed")
            }
            _ => Output::ok(),
        })
    });
    let err = ops::add(
        &home.fleet(&runner, true),
        add_request("c", Runtime::Pi, "code", Some("/bin/stub")),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("Job for mosaic-agent@c.service failed"),
        "{text}"
    );
    assert!(
        text.ends_with(
            "; undone: disabled mosaic-agent@c.service, removed fleet/agents/c.env, \
             restored fleet/roster.yaml"
        ),
        "{text}"
    );
    assert_eq!(std::fs::read(home.paths.roster()).unwrap(), roster_before);
    assert!(!home.paths.env_file("c").exists());
    let calls = runner.calls();
    assert_eq!(
        calls.last().unwrap(),
        &systemd::disable("mosaic-agent@c.service")
    );
    // The holder unit was active before: it is not stopped.
    assert!(
        !calls.contains(&systemd::unit_action(
            systemd::ServiceAction::Stop,
            systemd::HOLDER_UNIT
        )),
        "{calls:?}"
    );
    // No temporary files are left next to the roster.
    let stray: Vec<_> = std::fs::read_dir(home.paths.fleet_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
}

#[test]
fn start_stops_what_it_started_when_a_later_agent_fails() {
    // Three agents: `c` runs already; `a` starts; `b`'s launcher fails.
    let home = installed(&format!(
        "{TWO}  - name: c\n    runtime: pi\n    class: code\n    command: /bin/stub\n"
    ));
    let runner = RecordingRunner::new(|argv| {
        if let Some(name) = launcher_of(argv) {
            return Ok(if name == "b" {
                Output::failed(1, "session b exited at once")
            } else {
                Output::stdout(format!("Started Mosaic agent {name}\n"))
            });
        }
        Ok(match argv.get(1).map(String::as_str) {
            Some("has-session") => {
                if argv[3] == "=c" {
                    Output::ok()
                } else {
                    Output::failed(1, "can't find session")
                }
            }
            _ => Output::ok(),
        })
    });
    let names = ["c", "a", "b"].map(str::to_owned);
    let err = ops::start(
        &home.fleet(&runner, false),
        &names,
        &StartOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("session b exited at once"), "{err}");
    assert!(
        err.ends_with(
            "; undone: removed fleet/agents/b.env, stopped the tmux session a, \
             removed fleet/agents/a.env, stopped the tmux session _holder"
        ),
        "{err}"
    );
    let kills: Vec<Vec<String>> = runner
        .calls()
        .into_iter()
        .filter(|c| c.get(1).map(String::as_str) == Some("kill-session"))
        .collect();
    assert_eq!(
        kills,
        [
            tmux::kill_session("a", ""),
            tmux::kill_session("_holder", "")
        ],
        "`c` was running before and is left alone"
    );
}

#[test]
fn start_with_systemd_stops_only_the_units_it_started() {
    let home = installed(TWO);
    let runner = RecordingRunner::new(|argv| {
        Ok(
            match (
                argv.get(2).map(String::as_str),
                argv.get(3).map(String::as_str),
            ) {
                // holder active, a inactive, b inactive
                (Some("is-active"), _) => Output::stdout("active\ninactive\ninactive\n"),
                (Some("start"), Some("mosaic-agent@b.service")) => Output::failed(1, "b failed"),
                _ => Output::ok(),
            },
        )
    });
    let err = ops::start(&home.fleet(&runner, true), &[], &StartOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.ends_with("; undone: stopped mosaic-agent@a.service"),
        "{err}"
    );
    let calls = runner.calls();
    assert_eq!(
        calls[0],
        systemd::is_active(&[
            systemd::HOLDER_UNIT.to_owned(),
            "mosaic-agent@a.service".to_owned(),
            "mosaic-agent@b.service".to_owned()
        ])
    );
    assert_eq!(
        calls[1..],
        [
            systemd::service(systemd::ServiceAction::Start, "a"),
            systemd::service(systemd::ServiceAction::Start, "b"),
            systemd::service(systemd::ServiceAction::Stop, "a"),
        ]
    );
}

#[test]
fn is_active_output_that_does_not_add_up_stops_nothing() {
    assert_eq!(
        systemd::parse_is_active("active\ninactive\nfailed\nactivating\n", 4),
        [true, false, false, true]
    );
    assert_eq!(systemd::parse_is_active("", 2), [true, true]);
    assert_eq!(systemd::parse_is_active("inactive\n", 2), [true, true]);
}

#[test]
fn a_signal_during_start_undoes_it_and_says_what_it_was_doing() {
    let home = installed(TWO);
    let interrupt = home.interrupt.clone();
    let runner = RecordingRunner::new(move |argv| {
        if launcher_of(argv) == Some("a") {
            // SIGTERM arrives while `a` is being launched.
            interrupt.raise(Signal::Terminate);
            return Ok(Output::stdout("Started Mosaic agent a\n"));
        }
        Ok(if argv.get(1).map(String::as_str) == Some("has-session") {
            Output::failed(1, "can't find session")
        } else {
            Output::ok()
        })
    });
    let err = ops::start(&home.fleet(&runner, false), &[], &StartOptions::default()).unwrap_err();
    assert_eq!(err.signal(), Some(Signal::Terminate));
    assert_eq!(
        err.to_string(),
        "interrupted by SIGTERM while starting b; undone: stopped the tmux session a, \
         removed fleet/agents/a.env, stopped the tmux session _holder"
    );
    assert!(
        !runner.calls().iter().any(|c| launcher_of(c) == Some("b")),
        "b is never launched"
    );
}

#[test]
fn start_wait_fails_and_undoes_when_an_agent_exits() {
    let home = installed(TWO);
    let dead = Arc::new(AtomicBool::new(false));
    let dead_in = dead.clone();
    let runner = RecordingRunner::new(move |argv| {
        if launcher_of(argv).is_some() {
            return Ok(Output::stdout("Started\n"));
        }
        Ok(match argv.get(1).map(String::as_str) {
            Some("has-session") => Output::failed(1, "can't find session"),
            // `b` dies on the second look.
            Some("list-panes") if argv[3].starts_with("=b:") => {
                if dead_in.swap(true, Ordering::SeqCst) {
                    Output::failed(1, "can't find session: b")
                } else {
                    Output::stdout("42 stub 0 1 1 1\n")
                }
            }
            Some("list-panes") => Output::stdout("41 stub 0 1 1 1\n"),
            _ => Output::ok(),
        })
    });
    let opts = StartOptions {
        wait: Some(std::time::Duration::from_secs(30)),
    };
    let err = ops::start(&home.fleet(&runner, false), &[], &opts)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("agent `b` exited within 0s of starting"),
        "{err}"
    );
    assert!(
        err.ends_with(
            "; undone: stopped the tmux session b, removed fleet/agents/b.env, \
             stopped the tmux session a, removed fleet/agents/a.env, \
             stopped the tmux session _holder"
        ),
        "{err}"
    );
    // The wait ends when all stayed up.
    let runner = RecordingRunner::new(|argv| {
        Ok(match argv.get(1).map(String::as_str) {
            Some("has-session") => Output::failed(1, "can't find session"),
            Some("list-panes") => Output::stdout("41 stub 0 1 1 1\n"),
            _ => Output::stdout("Started\n"),
        })
    });
    let opts = StartOptions {
        wait: Some(std::time::Duration::from_millis(300)),
    };
    let report = ops::start(&home.fleet(&runner, false), &[], &opts).unwrap();
    assert_eq!(report.started, ["a", "b"]);
    assert!(
        runner
            .calls()
            .iter()
            .filter(|c| c.get(1).map(String::as_str) == Some("list-panes"))
            .count()
            >= 4
    );
}

#[test]
fn restart_checks_the_runtime_before_stopping_the_agent() {
    if mosaic_fleet::on_path("opencode") {
        return;
    }
    let home = installed("version: 1\nagents:\n  - name: o\n    runtime: opencode\n");
    let runner = RecordingRunner::succeeding();
    let err = ops::restart(&home.fleet(&runner, false), "o").unwrap_err();
    assert!(
        err.to_string().contains("`opencode` is not installed"),
        "{err}"
    );
    assert!(
        runner.calls().is_empty(),
        "the running agent is not stopped"
    );
}

#[test]
fn install_writes_nothing_when_a_file_cannot_be_made() {
    // A home with a space cannot go into a systemd unit: refused before the
    // first file, not after the library and the tools.
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("a b");
    let paths = mosaic_fleet::paths::FleetPaths::under(home.join(".config/mosaic"), &home);
    let runner = RecordingRunner::succeeding();
    let interrupt = mosaic_fleet::interrupt::Interrupt::new();
    let fleet = ops::Fleet {
        paths: &paths,
        runner: &runner,
        systemd: false,
        interrupt: &interrupt,
    };
    let err = ops::install(&fleet, Path::new("/usr/bin/mosaic")).unwrap_err();
    assert!(err.to_string().contains("whitespace"), "{err}");
    assert!(
        !home.exists(),
        "nothing was written under {}",
        home.display()
    );
}

/// Makes the next write of `path` by this process fail, whoever runs the
/// test (root included): a directory sits where its temporary file goes.
fn block_writes(path: &Path) {
    let name = path.file_name().unwrap().to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::create_dir_all(tmp).unwrap();
}

#[test]
fn remove_writes_the_roster_before_it_stops_anything() {
    let home = installed(TWO);
    let before = std::fs::read(home.paths.roster()).unwrap();
    block_writes(&home.paths.roster());
    let runner = RecordingRunner::succeeding();
    let err = ops::remove(&home.fleet(&runner, true), "b", false).unwrap_err();
    assert!(err.to_string().starts_with("cannot write "), "{err}");
    assert!(runner.calls().is_empty(), "{:?}", runner.calls());
    assert_eq!(std::fs::read(home.paths.roster()).unwrap(), before);
}

#[test]
fn a_failed_env_write_puts_the_roster_back() {
    let home = installed(TWO);
    let before = std::fs::read(home.paths.roster()).unwrap();
    block_writes(&home.paths.env_file("a"));
    let runner = RecordingRunner::succeeding();
    let err = ops::edit(
        &home.fleet(&runner, false),
        "a",
        EditRequest {
            model: Some(Some("m".into())),
            ..EditRequest::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.starts_with("cannot write "), "{err}");
    assert!(
        err.ends_with("; undone: restored fleet/roster.yaml"),
        "{err}"
    );
    assert_eq!(std::fs::read(home.paths.roster()).unwrap(), before);
}

#[test]
fn send_verify_stops_waiting_on_a_signal() {
    let home = installed(TWO);
    let roster = mosaic_fleet::roster::Roster::load(&home.paths.roster()).unwrap();
    let interrupt = home.interrupt.clone();
    // The pane never takes the message in: verify would wait its timeout.
    let runner = RecordingRunner::new(move |argv| {
        if argv.iter().any(|a| a == "capture-pane") {
            return Ok(Output::stdout("a> \n"));
        }
        interrupt.raise(Signal::Interrupt);
        Ok(Output::ok())
    });
    let mut opts = SendOptions::new("h:operator", true);
    opts.timeout = std::time::Duration::from_secs(60);
    opts.interrupt = home.interrupt.clone();
    let started = std::time::Instant::now();
    let err = send::send(&runner, &home.paths, &roster, "a", "hello", &opts).unwrap_err();
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(err.signal(), Some(Signal::Interrupt));
    assert_eq!(
        err.to_string(),
        "interrupted by SIGINT while waiting for a to take the message in (it was sent, but is not verified)"
    );
    assert_eq!(runner.calls()[0], tmux::verify_accepted("a", "", 5));
    assert_eq!(runner.calls().len(), 2, "no capture after the signal");
}

#[test]
fn a_signal_ends_watch_and_removes_the_viewer() {
    let home = installed(TWO);
    let interrupt = home.interrupt.clone();
    let released = Arc::new(AtomicBool::new(false));
    let released_in = released.clone();
    // The attach stays until the viewer session is killed, as tmux's client
    // does; the signal arrives while it is attached.
    let runner = RecordingRunner::new(move |argv| {
        match argv.get(1).map(String::as_str) {
            Some("attach") => {
                interrupt.raise(Signal::Terminate);
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
                while !released_in.load(Ordering::SeqCst) {
                    assert!(std::time::Instant::now() < deadline, "never detached");
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
            }
            Some("kill-session") => released_in.store(true, Ordering::SeqCst),
            _ => {}
        }
        Ok(Output::ok())
    });
    let err = ops::watch(&home.fleet(&runner, false), "a").unwrap_err();
    assert_eq!(err.to_string(), "interrupted by SIGTERM while watching a");
    assert!(released.load(Ordering::SeqCst));
    let viewer = format!("={}", tmux::viewer_session_name("a"));
    assert!(
        runner.calls().contains(&vec![
            "tmux".into(),
            "kill-session".into(),
            "-t".into(),
            viewer
        ]),
        "{:?}",
        runner.calls()
    );
}
