//! `mosaic search` against a gateway served in the test process: every
//! resource at once with a RESOURCE column, one resource with its cursor,
//! `--json`, and the refusals a person can meet.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support {
    pub mod api;
}

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

const MOSAIC: &str = env!("CARGO_BIN_EXE_mosaic");

fn mosaic(home: &Path, gateway: &str, token: &str, args: &[&str]) -> Output {
    Command::new(MOSAIC)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("MOSAIC_GATEWAY_URL", gateway)
        .env("MOSAIC_TOKEN", token)
        .args(args)
        .output()
        .unwrap()
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

fn ids(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect()
}

#[test]
fn searches_tasks_notes_and_memory_by_words() {
    let rt = support::api::runtime();
    let dir = tempfile::tempdir().unwrap();
    let (base, admin) = support::api::gateway(&rt, dir.path());
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let as_admin = |args: &[&str]| mosaic(home, &base, &admin, args);
    for (id, email) in [("alice", "alice@x.test"), ("bob", "bob@x.test")] {
        ok(&as_admin(&[
            "user", "add", "--id", id, "--name", id, "--email", email,
        ]));
    }
    let alice = ok(&as_admin(&["user", "token", "alice", "-q"]))
        .trim()
        .to_owned();
    let bob = ok(&as_admin(&["user", "token", "bob", "-q"]))
        .trim()
        .to_owned();
    let as_alice = |args: &[&str]| mosaic(home, &base, &alice, args);
    let project = ok(&as_alice(&["new", "project", "--name", "Home", "-q"]))
        .trim()
        .to_owned();
    for title in ["Release checklist", "Release party", "Buy milk"] {
        ok(&as_alice(&[
            "new",
            "task",
            "--title",
            title,
            "--project",
            &project,
        ]));
    }
    let mission = ok(&as_alice(&[
        "new",
        "mission",
        "--name",
        "Q4",
        "--project",
        &project,
        "-q",
    ]))
    .trim()
    .to_owned();
    ok(&as_alice(&[
        "new",
        "note",
        "--mission",
        &mission,
        "--content",
        "release went fine",
    ]));
    ok(&as_alice(&[
        "new",
        "insight",
        "--content",
        "releases on Fridays are risky",
    ]));
    // Bob's rows hold the same words and never show up for alice.
    let as_bob = |args: &[&str]| mosaic(home, &base, &bob, args);
    let bobs = ok(&as_bob(&["new", "project", "--name", "Bob", "-q"]))
        .trim()
        .to_owned();
    ok(&as_bob(&[
        "new",
        "task",
        "--title",
        "Release of bob",
        "--project",
        &bobs,
    ]));

    // Every resource at once: one object of pages by resource.
    let all = json(&as_alice(&["search", "release", "--json"]));
    assert_eq!(all["tasks"]["items"].as_array().unwrap().len(), 2, "{all}");
    assert_eq!(ids(&all["notes"]).len(), 1, "{all}");
    assert!(
        ids(&all["memory"]).is_empty(),
        "`releases` is another word: {all}"
    );
    assert!(!all.to_string().contains("Release of bob"));
    assert!(
        all["tasks"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["_source"] == "local")
    );

    // As a table, with the resource of each row; the counts on stderr.
    let out = as_alice(&["search", "RELEASE", "checklist"]);
    let table = ok(&out);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("RESOURCE  ID"), "{table}");
    assert_eq!(lines.len(), 2, "{table}");
    assert!(lines[1].starts_with("tasks") && lines[1].contains("Release checklist"));
    let notes = String::from_utf8_lossy(&out.stderr);
    assert!(
        notes.contains("tasks: 1 row(s)") && notes.contains("memory: 0 row(s)"),
        "{notes}"
    );

    // One resource pages with its cursor.
    let first = json(&as_alice(&[
        "search",
        "release",
        "--resource",
        "tasks",
        "--limit",
        "1",
        "--json",
    ]));
    assert_eq!(ids(&first).len(), 1);
    assert_eq!(first["_truncated"], true);
    let cursor = first["nextCursor"].as_str().unwrap();
    let second = json(&as_alice(&[
        "search",
        "release",
        "--resource",
        "tasks",
        "--limit",
        "1",
        "--cursor",
        cursor,
        "--json",
    ]));
    assert_eq!(ids(&second).len(), 1);
    assert_ne!(ids(&second), ids(&first));
    assert!(second.get("nextCursor").is_none(), "{second}");
    // … and only for the same search.
    let out = as_alice(&["search", "party", "--resource", "tasks", "--cursor", cursor]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cursor: it belongs to another search"),
        "{err}"
    );

    // Operators are words; a query with none is refused and says why.
    let out = as_alice(&["search", "(", "*", "--resource", "tasks"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("q must contain at least one word"), "{err}");
    let near = json(&as_alice(&[
        "search",
        "NEAR(release party)",
        "--resource",
        "tasks",
        "--json",
    ]));
    assert!(
        ids(&near).is_empty(),
        "`near` is a word nobody wrote: {near}"
    );

    // Secrets are never searched; a cursor needs --resource.
    let out = as_alice(&["search", "x", "--resource", "credentials"]);
    assert!(!out.status.success());
    let out = as_alice(&["search", "x", "--cursor", "c"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--resource"));

    // A peer nobody enrolled: every resource fails, so the command does.
    let out = as_alice(&["search", "release", "--source", "federated:nowhere"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nowhere"), "{err}");
}
