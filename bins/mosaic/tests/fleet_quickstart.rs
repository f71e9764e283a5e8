//! Runs every command of docs/fleet/QUICKSTART.md, in order, as a person
//! would: the real `mosaic` binary, real tmux on a private server (its own
//! TMUX_TMPDIR), a fresh home, and no systemd.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support {
    pub mod fleet_sandbox;
}

use mosaic_fleet::testing::require_tmux;
use std::path::{Path, PathBuf};
use support::fleet_sandbox::Sandbox;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The ```sh blocks of a Markdown file.
fn sh_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_start()) {
            (None, "```sh") => current = Some(String::new()),
            (Some(_), "```") => blocks.extend(current.take()),
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

#[test]
fn quickstart_commands_work_as_documented() {
    if !require_tmux("quickstart_commands_work_as_documented") {
        return;
    }
    let doc = std::fs::read_to_string(workspace_root().join("docs/fleet/QUICKSTART.md")).unwrap();
    let blocks = sh_blocks(&doc);
    assert_eq!(blocks.len(), 6, "{blocks:#?}");
    let sandbox = Sandbox::new();
    let mut transcript = String::new();
    for block in &blocks {
        let out = sandbox.run(block);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        transcript.push_str(&format!("$ {block}{stdout}{stderr}"));
        assert!(out.status.success(), "failed: {block}\n{transcript}");
    }
    for needle in [
        "Initialized general fleet: 1 orchestrator + 1 enhancer(s) + 1 worker(s)",
        "systemd is not available on this host",
        "Started Mosaic agent generalist",
        "Every session is in place.",
        "NAME          RUNTIME  CLASS",
        "ACCEPTED by generalist",
        "ack: [",
        "# Fleet Comms — reach your peers",
        "Stopped the holder session _holder.",
    ] {
        assert!(
            transcript.contains(needle),
            "missing {needle:?} in\n{transcript}"
        );
    }
}

#[test]
fn missing_runtimes_are_named_and_nothing_is_started() {
    if !require_tmux("missing_runtimes_are_named_and_nothing_is_started") {
        return;
    }
    let sandbox = Sandbox::new();
    let out = sandbox.run("mosaic fleet init --profile general --write && mosaic fleet install >/dev/null && mosaic fleet start");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("nothing was started: 3 agent(s) cannot start on this host:"),
        "{stderr}"
    );
    assert!(
        stderr.contains("\n  orchestrator: `claude` is not installed"),
        "{stderr}"
    );
    assert!(
        stderr.contains("\n  generalist: `pi` is not installed"),
        "{stderr}"
    );
    // Checked before anything was made: no holder session, no tmux server.
    assert_eq!(sandbox.sessions(), Vec::<String>::new());
}

#[test]
fn json_everywhere_and_clear_errors() {
    let sandbox = Sandbox::new();
    let out = sandbox.run("mosaic fleet init --profile coding --write --json");
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (
            v["orchestrators"].as_u64(),
            v["enhancers"].as_u64(),
            v["agents"].as_u64()
        ),
        (Some(1), Some(1), Some(5))
    );

    for script in [
        "mosaic fleet profiles --json",
        "mosaic fleet roles --json",
        "mosaic fleet comms-block coder0 --json",
        "mosaic compose-contract pi --json",
        "mosaic agent launch claude --model m --yolo --dry-run",
    ] {
        let out = sandbox.run(script);
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .unwrap_or_else(|e| panic!("{script}: {e}"));
    }
    let argv: Vec<String> = serde_json::from_slice(&sandbox.run("MOSAIC_AGENT_NAME=coder0 MOSAIC_AGENT_CLASS=code mosaic agent launch claude --model m --yolo --dry-run").stdout).unwrap();
    assert_eq!(
        &argv[..5],
        [
            "claude",
            "--dangerously-skip-permissions",
            "--model",
            "m",
            "--append-system-prompt"
        ]
    );
    assert!(
        argv[5].contains("# Persona Contract") && argv[5].contains("# Fleet Comms"),
        "{}",
        argv[5]
    );

    let cases = [
        (
            "mosaic fleet init --profile bogus",
            "unknown preset `bogus`",
        ),
        ("mosaic fleet remove orchestrator", "sole orchestrator"),
        ("mosaic fleet remove enhancer", "sole enhancer"),
        (
            "mosaic fleet add coder0 --runtime pi --no-start",
            "already in the roster",
        ),
        (
            "mosaic fleet add x --runtime gpt --no-start",
            "unknown runtime `gpt`",
        ),
        (
            "mosaic fleet comms-block nobody",
            "`nobody` is not an agent",
        ),
        (
            "mosaic fleet provision --profile nope",
            "unknown system-type profile `nope`",
        ),
        (
            "mosaic agent launch opencode",
            "`opencode` is not installed",
        ),
        ("mosaic fleet init --profile general --write", "--force"),
    ];
    for (script, needle) in cases {
        let out = sandbox.run(script);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{script} should fail");
        assert!(stderr.contains(needle), "{script}: {stderr}");
    }
}

#[test]
fn help_lists_every_fleet_verb_and_paths_honour_xdg() {
    let sandbox = Sandbox::new();
    let help = String::from_utf8(sandbox.run("mosaic fleet --help").stdout).unwrap();
    for verb in [
        "init",
        "provision",
        "add",
        "edit",
        "remove",
        "install",
        "start",
        "stop",
        "status",
        "verify",
        "ps",
        "restart",
        "comms-block",
        "profiles",
        "roles",
        "north-star",
        "backlog",
    ] {
        assert!(help.contains(&format!("  {verb} ")), "{verb} in\n{help}");
    }
    let agent = String::from_utf8(sandbox.run("mosaic agent --help").stdout).unwrap();
    for verb in ["send", "watch", "tail", "reset", "status", "launch"] {
        assert!(agent.contains(&format!("  {verb} ")), "{verb} in\n{agent}");
    }
    let out =
        sandbox.run("XDG_CONFIG_HOME=$HOME/xdg mosaic fleet init --profile minimal --write --json");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        sandbox
            .home
            .path()
            .join("xdg/mosaic/fleet/roster.yaml")
            .exists()
    );
    let out = sandbox.run("MOSAIC_HOME=$HOME/mh mosaic fleet init --profile minimal --write");
    assert!(out.status.success());
    assert!(sandbox.home.path().join("mh/fleet/roster.yaml").exists());
}
