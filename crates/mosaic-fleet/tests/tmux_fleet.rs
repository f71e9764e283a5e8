//! The fleet against real tmux, on a private socket per test, with the
//! shipped stand-in agent as the runtime. Skipped (with a note) where tmux
//! is not installed, and failed instead under CI.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use mosaic_fleet::ops::{self, Fleet};
use mosaic_fleet::paths::FleetPaths;
use mosaic_fleet::procs::ProcSnapshot;
use mosaic_fleet::ps::{self, Flag, PsOptions, PsRow};
use mosaic_fleet::readiness::Readiness;
use mosaic_fleet::roster::Roster;
use mosaic_fleet::runner::{Cmd, CommandRunner, Output, SystemRunner};
use mosaic_fleet::send::{self, SendOptions, Verdict};
use mosaic_fleet::testing::TmuxServer;
use mosaic_fleet::{Result, systemd, tmux};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::Home;

fn have_tmux() -> bool {
    mosaic_fleet::testing::require_tmux("tmux_fleet")
}

/// A private tmux server, killed when dropped.
struct Socket(TmuxServer);

impl Socket {
    fn new(tag: &str) -> Socket {
        Socket(TmuxServer::new(tag))
    }
    fn name(&self) -> &str {
        self.0.socket()
    }
}

fn three_stub_roster(socket: &str) -> String {
    let mut yaml = format!(
        "version: 1\ntransport: tmux\ntmux:\n  socket_name: {socket}\ndefaults:\n  working_directory: \"~\"\nagents:\n"
    );
    for (name, runtime, class) in [
        ("orchestrator", "claude", "orchestrator"),
        ("enhancer", "claude", "enhancer"),
        ("coder0", "pi", "code"),
    ] {
        yaml.push_str(&format!(
            "  - name: {name}\n    runtime: {runtime}\n    class: {class}\n    command: \"$MOSAIC_HOME/tools/fleet/stub-agent.sh\"\n"
        ));
    }
    yaml
}

fn opts(idle_threshold: u64) -> PsOptions {
    PsOptions {
        idle_threshold,
        ..PsOptions::from_env(false)
    }
}

fn rows(fleet: &Fleet<'_>, idle_threshold: u64) -> Vec<PsRow> {
    let roster = fleet.roster().unwrap();
    let mut o = opts(idle_threshold);
    o.systemd = fleet.systemd;
    ps::ps(
        fleet.runner,
        fleet.paths,
        &roster,
        &ProcSnapshot::read(),
        &o,
    )
    .unwrap()
}

fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn readiness(rows: &[PsRow]) -> Vec<(String, Readiness)> {
    rows.iter().map(|r| (r.name.clone(), r.readiness)).collect()
}

#[test]
fn three_stub_agents_start_report_take_messages_and_die_visibly() {
    if !have_tmux() {
        return;
    }
    let socket = Socket::new("three");
    let home = Home::with_roster(&three_stub_roster(socket.name()));
    let runner = SystemRunner;
    let fleet = Fleet {
        paths: &home.paths,
        runner: &runner,
        systemd: false,
        interrupt: &home.interrupt,
    };
    ops::install(&fleet, Path::new("/nonexistent/mosaic")).unwrap();

    let started = ops::start(&fleet, &[], &ops::StartOptions::default()).unwrap();
    assert_eq!(started.started, ["orchestrator", "enhancer", "coder0"]);
    ops::verify(&fleet).unwrap();

    // Just started: alive, heartbeat fresh, recent output: working.
    let first = rows(&fleet, 3);
    assert!(
        first
            .iter()
            .all(|r| r.managed && r.session && r.pane_pid.is_some()),
        "{first:?}"
    );
    assert!(
        first.iter().all(|r| r.readiness == Readiness::Working),
        "{:?}",
        readiness(&first)
    );
    // The panes run the stand-in, not the rostered runtimes: DRIFT.
    assert!(first.iter().all(|r| r.flags == [Flag::Drift]), "{first:?}");
    // Quiet past the idle threshold: available.
    wait_for("all available", Duration::from_secs(15), || {
        rows(&fleet, 3)
            .iter()
            .all(|r| r.readiness == Readiness::Available)
    });

    // send --verify gets a receipt.
    let roster = fleet.roster().unwrap();
    let report = send::send(
        &runner,
        &home.paths,
        &roster,
        "coder0",
        "please run the tests",
        &SendOptions::new("test:operator", true),
    )
    .unwrap();
    assert_eq!(report.verdict, Some(Verdict::Accepted), "{report:?}");
    let tail = ops::tail(&fleet, "coder0", 20).unwrap();
    assert!(tail.contains("ack: [test:operator -> "), "{tail}");
    assert!(tail.contains(":coder0] please run the tests"), "{tail}");
    // `agent reset` types into the pane: a pane target, which a bare
    // `=coder0` is not ("can't find pane: =coder0").
    assert_eq!(ops::reset(&fleet, "coder0", None).unwrap(), "/new");
    wait_for(
        "coder0 to acknowledge the reset",
        Duration::from_secs(5),
        || {
            ops::tail(&fleet, "coder0", 20)
                .unwrap()
                .contains("ack: /new")
        },
    );
    assert!(ops::agent_status(&fleet, Some("coder0")).unwrap().running);
    // The message made coder0 active again.
    let after = rows(&fleet, 3);
    assert_eq!(
        after.iter().find(|r| r.name == "coder0").unwrap().readiness,
        Readiness::Working
    );

    // An unmanaged session on the socket shows up as its own row.
    SystemRunner
        .run(&Cmd::new(vec![
            "tmux".into(),
            "-L".into(),
            socket.name().to_owned(),
            "new-session".into(),
            "-d".into(),
            "-s".into(),
            "scratch".into(),
        ]))
        .unwrap();
    let with_adhoc = rows(&fleet, 3);
    let adhoc = with_adhoc
        .iter()
        .find(|r| r.name == "scratch")
        .expect("unmanaged row");
    assert!(!adhoc.managed);
    assert_eq!(adhoc.readiness, Readiness::Unknown);

    // Killing a pane turns its row dead within one interval.
    let interval = Duration::from_secs(2);
    let pane_pid = after
        .iter()
        .find(|r| r.name == "enhancer")
        .unwrap()
        .pane_pid
        .unwrap();
    let killed = Instant::now();
    std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("kill -9 {pane_pid}"))
        .status()
        .unwrap();
    wait_for("enhancer dead", interval, || {
        rows(&fleet, 3)
            .iter()
            .find(|r| r.name == "enhancer")
            .unwrap()
            .readiness
            == Readiness::Dead
    });
    assert!(killed.elapsed() < interval);
    assert!(
        ops::verify(&fleet)
            .unwrap_err()
            .to_string()
            .contains("enhancer")
    );

    // Restart brings it back.
    ops::restart(&fleet, "enhancer").unwrap();
    ops::verify(&fleet).unwrap();

    // remove stops the agent and deletes its files.
    ops::remove(&fleet, "coder0", false).unwrap();
    assert!(!home.paths.env_file("coder0").exists());
    let status = ops::status(&fleet, &[]).unwrap();
    assert!(status.iter().all(|s| s.name != "coder0"));
    let has = SystemRunner
        .run(&Cmd::new(tmux::has_session("coder0", socket.name())))
        .unwrap();
    assert!(!has.success(), "coder0's session is gone");

    ops::stop(&fleet, &[]).unwrap();
    let ls = SystemRunner
        .run(&Cmd::new(tmux::list_sessions(socket.name())))
        .unwrap();
    assert!(!ls.stdout.contains("orchestrator"), "{ls:?}");
}

/// Runs real programs, except `systemctl` and `loginctl`, which go to a
/// stand-in that keeps unit state in files and starts and stops agents
/// through the installed launcher, as the agent unit does.
struct FakeSystemd {
    script: PathBuf,
}

impl CommandRunner for FakeSystemd {
    fn run(&self, cmd: &Cmd) -> Result<Output> {
        let mut cmd = cmd.clone();
        if cmd.argv[0] == "systemctl" || cmd.argv[0] == "loginctl" {
            cmd.argv.insert(0, self.script.display().to_string());
        }
        SystemRunner.run(&cmd)
    }
    fn run_interactive(&self, cmd: &Cmd) -> Result<Option<i32>> {
        SystemRunner.run_interactive(cmd)
    }
}

fn fake_systemd(paths: &FleetPaths, state: &Path) -> PathBuf {
    let script = state.join("fake-systemd");
    let body = format!(
        r#"#!/usr/bin/env bash
# A stand-in for `systemctl --user` and `loginctl`, recording every call.
state={state}
home={home}
echo "$*" >>"$state/calls"
[ "$1" = loginctl ] && exit 0
shift; [ "$1" = --user ] && shift
verb=$1; unit=${{2:-}}
name=${{unit#mosaic-agent@}}; name=${{name%.service}}
env_of() {{ set -a; . "$home/fleet/agents/$name.env"; set +a; }}
case "$verb" in
  daemon-reload) ;;
  enable) touch "$state/$unit.enabled" ;;
  disable) rm -f "$state/$unit.enabled" ;;
  is-enabled) [ -e "$state/$unit.enabled" ] ;;
  is-active)
    shift; rc=3
    for u in "$@"; do
      n=${{u#mosaic-agent@}}; n=${{n%.service}}
      if [ "$u" != mosaic-tmux-holder.service ] && [ -e "$home/fleet/agents/$n.env" ] \
        && ( name=$n; env_of; tmux -L "$MOSAIC_TMUX_SOCKET" has-session -t "=$n" ) 2>/dev/null; then
        echo active; rc=0
      else
        echo inactive
      fi
    done
    exit $rc ;;
  start)
    [ "$unit" = mosaic-tmux-holder.service ] && exit 0
    ( env_of; MOSAIC_HOME=$home bash "$home/tools/fleet/start-agent-session.sh" "$name" ) >/dev/null ;;
  stop)
    ( env_of; tmux -L "$MOSAIC_TMUX_SOCKET" kill-session -t "=$name" ) 2>/dev/null; exit 0 ;;
  show)
    ( env_of; tmux -L "$MOSAIC_TMUX_SOCKET" has-session -t "=$name:0.0" ) 2>/dev/null && a=active || a=inactive
    [ -e "$state/$unit.enabled" ] && f=enabled || f=disabled
    printf 'ActiveState=%s\nSubState=exited\nUnitFileState=%s\n' "$a" "$f" ;;
  *) echo "fake systemctl: $verb not supported" >&2; exit 1 ;;
esac
"#,
        state = state.display(),
        home = paths.home().display()
    );
    std::fs::write(&script, body).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

#[test]
fn with_systemd_units_are_enabled_started_flagged_stopped_and_disabled() {
    if !have_tmux() {
        return;
    }
    let socket = Socket::new("units");
    let home = Home::with_roster(&three_stub_roster(socket.name()));
    let state = tempfile::tempdir().unwrap();
    let runner = FakeSystemd {
        script: fake_systemd(&home.paths, state.path()),
    };
    let fleet = Fleet {
        paths: &home.paths,
        runner: &runner,
        systemd: true,
        interrupt: &home.interrupt,
    };
    let calls = || std::fs::read_to_string(state.path().join("calls")).unwrap_or_default();

    ops::install(&fleet, Path::new("/nonexistent/mosaic")).unwrap();
    for name in ["orchestrator", "enhancer", "coder0"] {
        assert!(
            calls().contains(&format!("--user enable mosaic-agent@{name}.service")),
            "{}",
            calls()
        );
    }
    assert!(calls().contains("enable-linger"));
    ops::start(&fleet, &[], &ops::StartOptions::default()).unwrap();
    let rows = rows(&fleet, 300);
    for r in &rows {
        let unit = r.unit.as_ref().unwrap();
        assert_eq!(
            (unit.active_state.as_str(), unit.unit_file_state.as_str()),
            ("active", "enabled"),
            "{}",
            r.name
        );
        assert!(!r.flags.contains(&Flag::BootEnable));
    }
    // Disabled while active: the boot gap is flagged.
    std::fs::remove_file(state.path().join("mosaic-agent@coder0.service.enabled")).unwrap();
    let rows = self::rows(&fleet, 300);
    assert!(
        rows.iter()
            .find(|r| r.name == "coder0")
            .unwrap()
            .flags
            .contains(&Flag::BootEnable)
    );
    std::fs::write(state.path().join("mosaic-agent@coder0.service.enabled"), "").unwrap();

    // remove stops and disables.
    ops::remove(&fleet, "coder0", false).unwrap();
    let log = calls();
    assert!(
        log.contains("--user stop mosaic-agent@coder0.service"),
        "{log}"
    );
    assert!(
        log.contains("--user disable mosaic-agent@coder0.service"),
        "{log}"
    );
    assert!(
        !state
            .path()
            .join("mosaic-agent@coder0.service.enabled")
            .exists()
    );
    let has = SystemRunner
        .run(&Cmd::new(tmux::has_session("coder0", socket.name())))
        .unwrap();
    assert!(!has.success(), "coder0's session is gone");
    let roster = Roster::load(&home.paths.roster()).unwrap();
    assert_eq!(roster.agents.len(), 2);
    let _ = systemd::HOLDER_UNIT;
}

#[test]
fn watch_viewer_sessions_are_made_and_removed_by_exact_name() {
    if !have_tmux() {
        return;
    }
    let server = TmuxServer::new("viewer");
    let socket = server.socket();
    let run = |argv: Vec<String>| SystemRunner.run(&Cmd::new(argv)).unwrap();
    assert!(
        server
            .command(&["new-session", "-d", "-s", "coder1", "sleep 60"])
            .status()
            .unwrap()
            .success()
    );
    // A session whose name starts with the viewer's: a prefix match on
    // kill-session would take it.
    let viewer = tmux::viewer_session_name("coder1");
    let longer = format!("{viewer}0");
    assert!(
        server
            .command(&["new-session", "-d", "-s", &longer, "sleep 60"])
            .status()
            .unwrap()
            .success()
    );
    let created = run(tmux::watch_create_viewer("coder1", &viewer, socket));
    assert!(created.success(), "{created:?}");
    assert!(server.sessions().contains(&viewer));
    assert!(run(tmux::watch_kill_viewer(&viewer, socket)).success());
    // Gone, and a second kill does not fall through to the longer name.
    assert!(!run(tmux::watch_kill_viewer(&viewer, socket)).success());
    assert!(
        server.sessions().contains(&longer),
        "{:?}",
        server.sessions()
    );
    assert!(run(tmux::has_session("coder1", socket)).success());
    assert!(
        !run(tmux::has_session("coder", socket)).success(),
        "exact, not a prefix"
    );
}

#[test]
fn pane_targets_hold_whatever_the_base_index() {
    if !have_tmux() {
        return;
    }
    // A configuration many people have; the fleet's server reads it too.
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("tmux.conf");
    std::fs::write(&conf, "set -g base-index 1\nsetw -g pane-base-index 1\n").unwrap();
    let server = TmuxServer::new("base1");
    let socket = server.socket();
    let conf = conf.display().to_string();
    assert!(
        server
            .command(&["-f", &conf, "new-session", "-d", "-s", "agent", "cat"])
            .status()
            .unwrap()
            .success()
    );
    let run = |argv: Vec<String>| SystemRunner.run(&Cmd::new(argv)).unwrap();
    let panes = run(tmux::list_panes("agent", socket));
    assert!(panes.success(), "{panes:?}");
    assert!(run(tmux::has_session("agent", socket)).success());
    // Type into the pane the way `agent reset` does, then read it back.
    let typed = run(vec![
        "tmux".into(),
        "-L".into(),
        socket.into(),
        "send-keys".into(),
        "-t".into(),
        tmux::pane_target("agent"),
        "-l".into(),
        "--".into(),
        "typed-by-the-test".into(),
    ]);
    assert!(typed.success(), "{typed:?}");
    wait_for("the pane to show the text", Duration::from_secs(5), || {
        run(tmux::tail("agent", 10, socket))
            .stdout
            .contains("typed-by-the-test")
    });
    assert!(run(tmux::verify_accepted("agent", socket, 5)).success());
}

#[test]
fn without_tmux_these_tests_fail_under_ci_and_skip_elsewhere() {
    // Runs one real-tmux test of this binary again with no tmux on PATH.
    let exe = std::env::current_exe().unwrap();
    let empty = tempfile::tempdir().unwrap();
    let run = |ci: Option<&str>| {
        let mut cmd = std::process::Command::new(&exe);
        cmd.args([
            "--exact",
            "three_stub_agents_start_report_take_messages_and_die_visibly",
            "--nocapture",
        ])
        .env("PATH", empty.path())
        .env_remove("CI");
        if let Some(value) = ci {
            cmd.env("CI", value);
        }
        cmd.output().unwrap()
    };
    let under_ci = run(Some("true"));
    let stderr = String::from_utf8_lossy(&under_ci.stderr);
    assert!(!under_ci.status.success(), "{stderr}");
    assert!(
        stderr.contains("CI is set but tmux is not installed"),
        "{stderr}"
    );
    for ci in [None, Some(""), Some("false"), Some("0")] {
        let out = run(ci);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "CI={ci:?}: {stderr}");
        assert!(
            stderr.contains("tmux is not installed, skipping"),
            "{stderr}"
        );
    }
}
