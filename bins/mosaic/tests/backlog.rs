//! `mosaic fleet backlog` as a person runs it: on the embedded default with no
//! set-up, on PostgreSQL, and against a gateway with a token.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support {
    pub mod api;
}

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
    cmd.args(["fleet", "backlog"]).args(args).output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json(out: &Output) -> Value {
    serde_json::from_str(&ok(out)).unwrap()
}

/// The seed's example session, then the queue operations beyond it.
fn walk_through(home: &Path, env: &[(&str, &str)]) {
    let run = |args: &[&str]| mosaic(home, env, args);
    let a1 = json(&run(&[
        "create",
        "--id",
        "A1",
        "--title",
        "schema",
        "--priority",
        "5",
        "--json",
    ]));
    assert_eq!(a1["status"], "ready");
    json(&run(&[
        "create",
        "--id",
        "A2",
        "--title",
        "service",
        "--depends-on",
        "A1",
        "--priority",
        "9",
        "--json",
    ]));
    let claimed = json(&run(&[
        "claim", "--owner", "worker-1", "--ttl", "600", "--json",
    ]));
    assert_eq!(claimed["id"], "A1", "A2 is gated on A1");
    assert_eq!(claimed["claimTtlSeconds"], 600);
    assert_eq!(
        json(&run(&["claim", "--owner", "worker-2", "--json"])),
        Value::Null
    );

    let a2 = json(&run(&["get", "A2", "--json"]));
    assert_eq!(a2["id"], "A2");
    assert_eq!(a2["status"], "ready");
    let text = ok(&run(&["get", "A1"]));
    assert!(text.contains("A1") && text.contains("worker-1"), "{text}");
    let missing = run(&["get", "NOPE"]);
    assert!(!missing.status.success());
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(err.contains("NOPE"), "{err}");

    let wrong = run(&["complete", "--id", "A1", "--owner", "worker-2"]);
    assert!(!wrong.status.success());
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        err.contains("claimed by worker-1, not by worker-2"),
        "{err}"
    );

    json(&run(&[
        "complete", "--id", "A1", "--owner", "worker-1", "--json",
    ]));
    let ready = json(&run(&["list", "--ready-only", "--json"]));
    let ids: Vec<&str> = ready
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["A2"]);
    assert_eq!(
        json(&run(&["reclaim", "--json"])),
        serde_json::json!({"reclaimed": []})
    );

    json(&run(&["claim", "--owner", "w", "--json"]));
    let renewed = json(&run(&[
        "renew", "--id", "A2", "--owner", "w", "--ttl", "60", "--json",
    ]));
    assert_eq!(renewed["claimTtlSeconds"], 60);
    let failed = json(&run(&[
        "fail", "--id", "A2", "--owner", "w", "--error", "flaky", "--json",
    ]));
    assert_eq!(
        (failed["status"].clone(), failed["lastError"].clone()),
        ("ready".into(), "flaky".into())
    );
    json(&run(&["block", "--id", "A2", "--json"]));
    json(&run(&["unblock", "--id", "A2", "--json"]));
    json(&run(&["claim", "--owner", "w", "--id", "A2", "--json"]));
    let released = json(&run(&["release", "--id", "A2", "--owner", "w", "--json"]));
    assert_eq!(released["status"], "ready");
    json(&run(&["create", "--id", "A3", "--title", "docs", "--json"]));
    let linked = json(&run(&["link", "--from", "A3", "--to", "A2", "--json"]));
    assert_eq!(linked["dependsOn"], serde_json::json!(["A2"]));
    let cycle = run(&["link", "--from", "A2", "--to", "A3"]);
    assert!(!cycle.status.success());
    assert!(String::from_utf8_lossy(&cycle.stderr).contains("cycle"));
    json(&run(&["complete", "--id", "A3", "--force", "--json"]));

    let stats = json(&run(&["stats", "--json"]));
    assert_eq!(
        stats["counts"],
        serde_json::json!({"ready": 1, "claimed": 0, "blocked": 0, "done": 2})
    );
    assert_eq!(stats["total"], 3);

    // The readable forms.
    let table = ok(&run(&["list"]));
    assert!(table.starts_with("ID  STATUS"), "{table}");
    assert!(table.contains("A2  ready"), "{table}");
    let text = ok(&run(&["stats"]));
    assert!(text.contains("done:    2"), "{text}");
    let text = ok(&run(&["claim", "--owner", "w"]));
    assert!(
        text.starts_with("claimed A2\n") && text.contains("claimed by: w until"),
        "{text}"
    );
    assert!(ok(&run(&["claim", "--owner", "w"])).starts_with("nothing to claim"));
}

#[test]
fn works_on_the_embedded_default_with_no_set_up() {
    let home = tempfile::tempdir().unwrap();
    walk_through(home.path(), &[]);
    assert!(
        home.path().join("data/mosaic/mosaic.db").is_file(),
        "the backlog lives in the data dir's database"
    );
}

#[test]
fn works_on_postgres_from_database_url() {
    let Some(admin) = mosaic_store::testing::postgres_url() else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let db = rt
        .block_on(mosaic_store::testing::TestDatabase::create(&admin))
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    walk_through(home.path(), &[("DATABASE_URL", &db.url)]);
    rt.block_on(db.drop_database());
}

#[test]
fn works_against_a_running_gateway() {
    let rt = support::api::runtime();
    let dir = tempfile::tempdir().unwrap();
    let (base, token) = support::api::gateway(&rt, dir.path());
    let home = tempfile::tempdir().unwrap();
    let env = [
        ("MOSAIC_GATEWAY_URL", base.as_str()),
        ("MOSAIC_TOKEN", token.as_str()),
    ];
    walk_through(home.path(), &env);
    assert!(
        !home.path().join("data/mosaic/mosaic.db").exists(),
        "with a gateway the CLI opens no local store"
    );

    let bad = mosaic(
        home.path(),
        &[
            ("MOSAIC_GATEWAY_URL", base.as_str()),
            ("MOSAIC_TOKEN", "mosaic_wrong"),
        ],
        &["stats"],
    );
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("refused the token"), "{err}");
    let missing = mosaic(home.path(), &[], &["--gateway", &base, "stats"]);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("--token"));

    // Flags win over the environment: an explicit --data-dir is the local
    // backlog even with MOSAIC_GATEWAY_URL exported.
    let local_dir = home.path().join("local");
    let local = json(&mosaic(
        home.path(),
        &env,
        &["--data-dir", local_dir.to_str().unwrap(), "stats", "--json"],
    ));
    assert_eq!(local["total"], 0, "a fresh local backlog: {local}");
    assert!(local_dir.join("mosaic.db").is_file());
    let both = mosaic(
        home.path(),
        &[],
        &[
            "--gateway",
            &base,
            "--data-dir",
            local_dir.to_str().unwrap(),
            "stats",
        ],
    );
    assert!(!both.status.success());
    assert!(String::from_utf8_lossy(&both.stderr).contains("pass one of them"));
}
