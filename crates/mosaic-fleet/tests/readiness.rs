//! Readiness classification, pane idle parsing and `fleet ps` rows.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use mosaic_fleet::panes::{first_activity, idle_seconds, parse_list_panes, parse_sessions};
use mosaic_fleet::procs::{ProcInfo, ProcSnapshot};
use mosaic_fleet::ps::{self, Flag, PsOptions, render_table};
use mosaic_fleet::readiness::{
    DEFAULT_IDLE_THRESHOLD, Liveness, Readiness, classify, threshold_from,
};
use mosaic_fleet::runner::{Output, RecordingRunner};
use mosaic_fleet::{Runtime, systemd, tmux};
use support::Home;

#[test]
fn classify_table() {
    use Liveness::Healthy;
    use Readiness::{Available, Stuck, Working};
    let t = 300;
    let cases: [(Liveness, bool, Option<f64>, Readiness); 12] = [
        (Liveness::Dead, false, Some(10.0), Readiness::Dead),
        (Liveness::Unknown, false, Some(10.0), Readiness::Unknown),
        (Liveness::Stale, false, Some(10.0), Readiness::Stale),
        (Liveness::Dead, true, None, Readiness::Dead),
        (Healthy, true, Some(5000.0), Working),
        (Healthy, false, None, Working),
        (Healthy, false, Some(f64::NAN), Working),
        (Healthy, false, Some(f64::INFINITY), Working),
        (Healthy, false, Some(300.0), Available),
        (Healthy, false, Some(299.9), Working),
        (Healthy, false, Some(900.0), Available),
        (Healthy, false, Some(86_400.0), Available),
    ];
    for (liveness, busy, idle, want) in cases {
        assert_eq!(
            classify(liveness, busy, idle, t),
            want,
            "{liveness:?} busy={busy} idle={idle:?}"
        );
        assert_ne!(
            classify(liveness, busy, idle, t),
            Stuck,
            "idle never means stuck"
        );
    }
}

#[test]
fn idle_threshold_from_env_values() {
    let cases = [
        (None, 300),
        (Some("120"), 120),
        (Some(" 45 "), 45),
        (Some("0"), 300),
        (Some("-5"), 300),
        (Some("abc"), 300),
        (Some("1.5"), 300),
        (Some(""), 300),
    ];
    for (value, want) in cases {
        assert_eq!(
            threshold_from(value, DEFAULT_IDLE_THRESHOLD),
            want,
            "{value:?}"
        );
    }
}

#[test]
fn pane_idle_sources_in_order() {
    let now = 1_000.0;
    let cases = [
        // (pane, window, session, idle)
        ("", "900", "800", Some(100.0)), // tmux 3.4: empty pane_activity
        ("", "", "800", Some(200.0)),
        ("", "", "", None),
        ("0", "-3", "", None),
        ("nan", "inf", "x", None),
        ("1500", "", "", Some(0.0)), // future: clamped
        ("950", "900", "800", Some(50.0)),
        ("0", "990", "", Some(10.0)),
    ];
    for (pane, window, session, want) in cases {
        assert_eq!(
            idle_seconds(pane, window, session, now),
            want,
            "{pane:?} {window:?} {session:?}"
        );
    }
    assert_eq!(first_activity(&["", "7"]), Some(7.0));
}

#[test]
fn list_panes_keeps_columns_when_fields_are_empty() {
    let now = 1_000.0;
    let p = parse_list_panes("4242 bash 0  900 800\n", now).unwrap();
    assert_eq!(
        (p.pid, p.current_command.as_str(), p.dead, p.idle_seconds),
        (Some(4242), "bash", false, Some(100.0))
    );
    let p = parse_list_panes("4242 node 1   800\n", now).unwrap();
    assert!(p.dead);
    assert_eq!(p.idle_seconds, Some(200.0));
    let p = parse_list_panes("7 my tool 0 990 900 800", now).unwrap();
    assert_eq!(p.current_command, "my tool");
    assert_eq!(p.idle_seconds, Some(10.0));
    assert_eq!(parse_list_panes("", now), None);
    assert_eq!(parse_list_panes("garbage", now), None);
    assert_eq!(parse_sessions("a\n\n b \n"), ["a", "b"]);
    let format = tmux::PANE_FORMAT;
    assert!(format.ends_with("#{window_activity} #{session_activity}"));
    assert!(
        format.starts_with("#{pane_pid} #{pane_current_command} #{pane_dead} #{pane_activity}")
    );
}

fn opts(systemd: bool) -> PsOptions {
    PsOptions {
        now: mosaic_fleet::unix_now(),
        idle_threshold: 300,
        stale_threshold: 90,
        systemd,
        tenant_id: "jarvis".into(),
        host: "w-jarvis".into(),
    }
}

const TWO: &str = "version: 1\nagents:\n  - name: canary-pi\n    runtime: pi\n  - name: coder0\n    runtime: codex\n    class: implementer\n";

fn write_hb(home: &Home, name: &str, state: &str) {
    std::fs::create_dir_all(home.paths.run_dir()).unwrap();
    std::fs::write(home.paths.heartbeat(name), state).unwrap();
}

#[test]
fn ps_rows_for_roster_and_unmanaged_sessions() {
    let home = Home::with_roster(TWO);
    write_hb(&home, "canary-pi", "idle\n");
    write_hb(&home, "adhoc", "");
    let now = mosaic_fleet::unix_now() as i64;
    let busy_pane = format!("100 dogfood-agent.py 0 {} {} {}\n", now - 1000, now, now);
    let adhoc_pane = format!("300 bash 0 {} {} {}\n", now - 5, now, now);
    let runner = RecordingRunner::new(move |argv| {
        let target = argv
            .iter()
            .position(|a| a == "-t")
            .map(|i| argv[i + 1].clone())
            .unwrap_or_default();
        Ok(
            match (
                argv[0].as_str(),
                argv.get(1).map(String::as_str),
                target.as_str(),
            ) {
                ("systemctl", _, _) if argv[3].contains("canary-pi") => {
                    Output::stdout("ActiveState=active\nSubState=exited\nUnitFileState=disabled\n")
                }
                ("systemctl", _, _) => {
                    Output::stdout("ActiveState=inactive\nSubState=dead\nUnitFileState=enabled\n")
                }
                ("tmux", Some("list-panes"), "=canary-pi:^.{top-left}") => {
                    Output::stdout(busy_pane.clone())
                }
                ("tmux", Some("list-panes"), "=adhoc:^.{top-left}") => {
                    Output::stdout(adhoc_pane.clone())
                }
                ("tmux", Some("list-panes"), _) => Output::failed(1, "can't find session"),
                ("tmux", Some("list-sessions"), _) => {
                    Output::stdout("_holder\ncanary-pi\nadhoc\ncanary-pi-viewer-77\n")
                }
                _ => Output::failed(1, "unexpected"),
            },
        )
    });
    let home_ref = &home;
    let roster = mosaic_fleet::roster::Roster::load(&home_ref.paths.roster()).unwrap();
    let procs = ProcSnapshot::from_procs([ProcInfo {
        pid: 100,
        ppid: 1,
        comm: "python3".into(),
        argv: vec!["python3".into(), "dogfood-agent.py".into()],
    }]);
    let rows = ps::ps(&runner, &home.paths, &roster, &procs, &opts(true)).unwrap();
    let names: Vec<(&str, bool)> = rows.iter().map(|r| (r.name.as_str(), r.managed)).collect();
    assert_eq!(
        names,
        [("canary-pi", true), ("coder0", true), ("adhoc", false)]
    );

    let canary = &rows[0];
    assert_eq!(canary.readiness, Readiness::Available);
    assert_eq!(canary.flags, [Flag::Drift, Flag::BootEnable]);
    assert_eq!(canary.idle_seconds.map(|s| s >= 999), Some(true));
    assert_eq!(canary.heartbeat_state.as_deref(), Some("idle"));
    let coder = &rows[1];
    assert_eq!(
        (coder.readiness, coder.session, coder.flags.len()),
        (Readiness::Dead, false, 0)
    );
    let adhoc = &rows[2];
    assert_eq!(
        (adhoc.readiness, adhoc.runtime, adhoc.unit.as_ref()),
        (Readiness::Working, None, None)
    );

    let json = serde_json::to_value(&rows).unwrap();
    for row in json.as_array().unwrap() {
        for key in [
            "readiness",
            "tenant_id",
            "host",
            "name",
            "flags",
            "idle_seconds",
        ] {
            assert!(row.get(key).is_some(), "{key} in {row}");
        }
        assert_eq!(row["tenant_id"], "jarvis");
        assert_eq!(row["host"], "w-jarvis");
    }
    assert_eq!(json[0]["readiness"], "available");
    assert_eq!(
        json[0]["flags"],
        serde_json::json!(["DRIFT", "BOOT-ENABLE"])
    );
    assert_eq!(json[1]["readiness"], "dead");

    let table = render_table(&rows);
    let header = table.lines().next().unwrap();
    assert!(header.contains("IDLE") && header.contains("HB"), "{header}");
    assert!(table.contains("s/available"), "{table}");
    assert!(!table.contains("STUCK"), "{table}");
    let idle_flags = table
        .lines()
        .skip(1)
        .any(|l| l.split_whitespace().any(|w| w == "IDLE"));
    assert!(!idle_flags, "no IDLE flag: {table}");
    assert!(table.contains("adhoc (unmanaged)"), "{table}");
}

#[test]
fn hb_text_and_liveness_from_heartbeats() {
    let home = Home::with_roster("version: 1\nagents:\n  - name: a\n    runtime: pi\n");
    let now = mosaic_fleet::unix_now() as i64;
    let pane = format!("1 pi 0 {now}  \n");
    let runner = RecordingRunner::new(move |argv| {
        Ok(if argv[1] == "list-panes" {
            Output::stdout(pane.clone())
        } else {
            Output::ok()
        })
    });
    let roster = mosaic_fleet::roster::Roster::load(&home.paths.roster()).unwrap();
    let procs = ProcSnapshot::default();

    // No heartbeat: unknown, and the HB column says so.
    let rows = ps::ps(&runner, &home.paths, &roster, &procs, &opts(false)).unwrap();
    assert_eq!(rows[0].readiness, Readiness::Unknown);
    assert_eq!(rows[0].hb_text(), "unknown");
    assert!(rows[0].flags.is_empty(), "pane runs pi: no drift");

    // Fresh heartbeat, just active: working; busy wins over idle time.
    write_hb(&home, "a", "busy\n");
    let rows = ps::ps(&runner, &home.paths, &roster, &procs, &opts(false)).unwrap();
    assert_eq!(rows[0].readiness, Readiness::Working);
    assert!(
        rows[0].hb_text().ends_with("s/working"),
        "{}",
        rows[0].hb_text()
    );

    // Old heartbeat: stale.
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(600);
    std::fs::File::options()
        .write(true)
        .open(home.paths.heartbeat("a"))
        .unwrap()
        .set_modified(old)
        .unwrap();
    let rows = ps::ps(&runner, &home.paths, &roster, &procs, &opts(false)).unwrap();
    assert_eq!(rows[0].readiness, Readiness::Stale);
    assert_eq!(rows[0].liveness, Liveness::Stale);
}

#[test]
fn ps_says_when_tmux_is_missing() {
    let home = Home::with_roster("version: 1\nagents: []\n");
    let runner = RecordingRunner::new(|argv| {
        Err(mosaic_fleet::Error::NotInstalled {
            program: argv[0].clone(),
            hint: String::new(),
        })
    });
    let roster = mosaic_fleet::roster::Roster::load(&home.paths.roster()).unwrap();
    let err = ps::ps(
        &runner,
        &home.paths,
        &roster,
        &ProcSnapshot::default(),
        &opts(false),
    )
    .unwrap_err();
    assert!(err.to_string().contains("tmux"), "{err}");
}

#[test]
fn unit_state_parsing_and_boot_gap() {
    let s = systemd::UnitState::parse(
        "ActiveState=active\nSubState=exited\nUnitFileState=disabled\nOther=x\n",
    );
    assert!(s.boot_gap());
    assert!(!systemd::UnitState::parse("ActiveState=active\nUnitFileState=enabled").boot_gap());
    assert!(!systemd::UnitState::parse("ActiveState=inactive\nUnitFileState=disabled").boot_gap());
    assert_eq!(
        systemd::show("a")[..4],
        ["systemctl", "--user", "show", "mosaic-agent@a.service"]
    );
    let _ = Runtime::Pi;
}
