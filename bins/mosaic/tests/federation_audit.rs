//! `mosaic federation audit` against a gateway in the test process: newest
//! first, each filter (the peer by name), pages through the cursor with the
//! hint on stderr, `--json` and `-q`, and a bad value named by the gateway.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support {
    pub mod api;
}

use chrono::{DateTime, Utc};
use mosaic_store::entity::federation_audit_log;
use mosaic_store::sea_orm::{ActiveModelTrait, IntoActiveModel};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

const MOSAIC: &str = env!("CARGO_BIN_EXE_mosaic");

fn mosaic(home: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(MOSAIC);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.args(args).output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// One stored request.
fn row(
    id: &str,
    time: &str,
    peer: Option<&str>,
    verb: &str,
    resource: &str,
    status: i32,
    code: Option<&str>,
) -> federation_audit_log::Model {
    federation_audit_log::Model {
        id: id.into(),
        occurred_at: at(time),
        peer_id: peer.map(str::to_owned),
        grant_id: peer.map(|_| "grant-1".to_owned()),
        subject_user_id: peer.map(|_| "alice".to_owned()),
        verb: verb.into(),
        resource: Some(resource.into()),
        target: (verb == "get").then(|| "task-9".to_owned()),
        status,
        error_code: code.map(str::to_owned),
        rows: (status == 200).then_some(3),
        latency_us: 1260,
        cert_serial: peer.map(|_| "01AB".to_owned()),
        trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
        remote_addr: Some("127.0.0.1:50000".into()),
    }
}

fn ids(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect()
}

#[test]
fn audit_reads_the_log_newest_first_with_filters_and_pages() {
    let rt = support::api::runtime();
    let dir = tempfile::tempdir().unwrap();
    let (base, token) = support::api::gateway(&rt, dir.path());
    let home = tempfile::tempdir().unwrap();
    let env = [
        ("MOSAIC_GATEWAY_URL", base.as_str()),
        ("MOSAIC_TOKEN", token.as_str()),
    ];
    let run = |args: &[&str]| {
        let mut all = vec!["federation", "audit"];
        all.extend_from_slice(args);
        mosaic(home.path(), &env, &all)
    };

    // An inbound peer "home", and four requests: three of its, one anonymous.
    let added: Value = serde_json::from_str(&ok(&mosaic(
        home.path(),
        &env,
        &["federation", "peer", "add", "home", "--json"],
    )))
    .unwrap();
    let peer = added["id"].as_str().unwrap().to_owned();
    rt.block_on(async {
        let store = mosaic_store::Store::open(&mosaic_store::StoreOptions::embedded(dir.path()))
            .await
            .unwrap();
        for model in [
            row(
                "r1",
                "2026-12-02T09:00:00.000Z",
                None,
                "capabilities",
                "x",
                401,
                Some("unauthorized"),
            ),
            row(
                "r2",
                "2026-12-02T09:01:00.000Z",
                Some(&peer),
                "list",
                "tasks",
                200,
                None,
            ),
            row(
                "r3",
                "2026-12-02T09:02:00.000Z",
                Some(&peer),
                "get",
                "tasks",
                200,
                None,
            ),
            row(
                "r4",
                "2026-12-02T09:03:00.000Z",
                Some(&peer),
                "list",
                "notes",
                403,
                Some("scope_violation"),
            ),
        ] {
            model
                .into_active_model()
                .insert(store.conn())
                .await
                .unwrap();
        }
        store.close().await.unwrap();
    });

    let page: Value = serde_json::from_str(&ok(&run(&["--json"]))).unwrap();
    assert_eq!(ids(&page), ["r4", "r3", "r2", "r1"]);
    assert!(page.get("nextCursor").is_none(), "{page}");
    assert_eq!(page["items"][0]["errorCode"], "scope_violation");
    assert_eq!(page["items"][0]["latencyMs"], 1.26);

    // The peer by name, refused only.
    let page: Value =
        serde_json::from_str(&ok(&run(&["--peer", "home", "--denied", "--json"]))).unwrap();
    assert_eq!(ids(&page), ["r4"]);
    let page: Value = serde_json::from_str(&ok(&run(&["--peer", &peer, "--json"]))).unwrap();
    assert_eq!(ids(&page), ["r4", "r3", "r2"]);
    for (flag, value, want) in [
        ("--grant", "grant-1", vec!["r4", "r3", "r2"]),
        ("--user", "alice", vec!["r4", "r3", "r2"]),
        ("--since", "2026-12-02T09:02:00Z", vec!["r4", "r3"]),
        ("--since", "1h", vec![]),
    ] {
        let page: Value = serde_json::from_str(&ok(&run(&[flag, value, "--json"]))).unwrap();
        assert_eq!(ids(&page), want, "{flag} {value}");
    }
    // A peer that no longer exists: its id is used as given, and said so.
    let gone = run(&["--peer", "removed-peer-id", "--json"]);
    let page: Value = serde_json::from_str(&ok(&gone)).unwrap();
    assert!(ids(&page).is_empty());
    assert!(
        String::from_utf8_lossy(&gone.stderr)
            .contains("no current peer is named `removed-peer-id`")
    );

    // The table, two at a time, the next page's hint on stderr.
    let first = run(&["--limit", "2"]);
    let text = ok(&first);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with("TIME") && lines[0].ends_with("LATENCY"),
        "{text}"
    );
    let newest: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        newest,
        [
            "2026-12-02T09:03:00.000Z",
            "home",
            "alice",
            "list",
            "notes",
            "-",
            "403",
            "scope_violation",
            "-",
            "1.3ms"
        ]
    );
    assert!(lines[2].contains("task-9"), "{text}");
    let hint = String::from_utf8_lossy(&first.stderr).trim().to_owned();
    let cursor = hint
        .strip_prefix("2 entries; more: --cursor ")
        .unwrap_or_else(|| panic!("{hint}"));
    let rest: Value =
        serde_json::from_str(&ok(&run(&["--limit", "2", "--cursor", cursor, "--json"]))).unwrap();
    assert_eq!(ids(&rest), ["r2", "r1"]);
    assert!(rest.get("nextCursor").is_none());

    // -q: ids only.
    assert_eq!(ok(&run(&["-q", "--limit", "3"])), "r4\nr3\nr2\n");

    // Bad values are named by the gateway.
    for (flag, value, named) in [
        ("--limit", "0", "limit: "),
        ("--since", "soon", "since: "),
        ("--cursor", "nonsense", "cursor: "),
    ] {
        let out = run(&[flag, value]);
        assert!(!out.status.success(), "{flag} {value}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(named), "{flag} {value}: {err}");
        assert!(err.contains("400"), "{flag} {value}: {err}");
    }
}
