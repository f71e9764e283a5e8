//! Roster parsing, env files, presets and the pure add/remove helpers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use mosaic_fleet::envfile::{generate_agent_env, parse_env, shell_env_value};
use mosaic_fleet::presets::{Preset, check_floor};
use mosaic_fleet::roster::{
    Agent, Roster, count_enhancers, count_orchestrators, remove_agent, to_yaml,
};
use mosaic_fleet::{AgentName, Error, Runtime, tmux};
use std::path::Path;
use support::{Home, lines};

fn agent(name: &str, runtime: Runtime, class: &str) -> Agent {
    Agent::new(AgentName::new(name).unwrap(), runtime, class)
}

fn base_roster() -> Roster {
    let mut r = Roster::empty();
    r.agents = vec![
        agent("orchestrator2", Runtime::Pi, "orchestrator"),
        agent("coder0", Runtime::Codex, "worker"),
    ];
    r
}

#[test]
fn socketless_roster_is_the_default_socket() {
    let home = Home::with_roster(&lines(&[
        "version: 1",
        "transport: tmux",
        "agents:",
        "  - name: canary-pi",
        "    runtime: pi",
        "",
    ]));
    let roster = Roster::load(&home.paths.roster()).unwrap();
    assert_eq!(roster.tmux.socket_name, "");
    assert_eq!(roster.tmux.holder_session, "_holder");
    assert_eq!(roster.agents.len(), 1);
    assert_eq!(roster.agent("canary-pi").unwrap().runtime, Runtime::Pi);
}

#[test]
fn explicit_socket_name_renders_dash_l() {
    let home = Home::with_roster(&lines(&[
        "version: 1",
        "transport: tmux",
        "tmux:",
        "  socket_name: mosaic-factory",
        "agents:",
        "  - name: canary-pi",
        "    runtime: pi",
    ]));
    let roster = Roster::load(&home.paths.roster()).unwrap();
    assert_eq!(roster.tmux.socket_name, "mosaic-factory");
    assert!(tmux::list_sessions(roster.socket()).contains(&"-L".to_owned()));
}

#[test]
fn camel_case_socket_and_holder_are_accepted() {
    let r = Roster::from_yaml(
        "version: 1\ntmux:\n  socketName: s1\n  holderSession: keep\nagents: []\n",
        "t",
    )
    .unwrap();
    assert_eq!((r.socket(), r.tmux.holder_session.as_str()), ("s1", "keep"));
}

fn write_json(home: &Home, value: serde_json::Value) -> std::path::PathBuf {
    let path = home.paths.fleet_dir().join("roster.json");
    std::fs::create_dir_all(home.paths.fleet_dir()).unwrap();
    std::fs::write(&path, value.to_string()).unwrap();
    path
}

#[test]
fn model_hint_flows_into_the_env_file_and_empty_socket_is_bare() {
    let home = Home::new();
    let path = write_json(
        &home,
        serde_json::json!({
            "version": 1, "transport": "tmux",
            "agents": [{"name": "coder0", "runtime": "pi", "model_hint": "openai-codex/gpt-5.5:high"}]
        }),
    );
    let roster = Roster::load(&path).unwrap();
    let env = generate_agent_env(
        &roster,
        roster.agent("coder0").unwrap(),
        Path::new("/home/u"),
    )
    .unwrap();
    assert!(
        env.contains("MOSAIC_AGENT_MODEL=openai-codex/gpt-5.5:high"),
        "{env}"
    );
    assert!(env.contains("MOSAIC_TMUX_SOCKET=\n"), "{env}");
}

#[test]
fn env_file_is_deterministic() {
    // The seed's five lines, plus MOSAIC_AGENT_CLASS, which later fleet
    // versions export so the pane's persona can be injected.
    let home = Home::new();
    let path = write_json(
        &home,
        serde_json::json!({
            "version": 1, "transport": "tmux",
            "tmux": {"socket_name": "mosaic-factory"},
            "agents": [{"name": "coder0", "runtime": "codex", "working_directory": "/srv/mosaic"}]
        }),
    );
    let roster = Roster::load(&path).unwrap();
    let env = generate_agent_env(
        &roster,
        roster.agent("coder0").unwrap(),
        Path::new("/home/u"),
    )
    .unwrap();
    assert_eq!(
        env,
        [
            "MOSAIC_AGENT_NAME=coder0",
            "MOSAIC_AGENT_RUNTIME=codex",
            "MOSAIC_AGENT_MODEL=",
            "MOSAIC_AGENT_WORKDIR=/srv/mosaic",
            "MOSAIC_TMUX_SOCKET=mosaic-factory",
            "MOSAIC_AGENT_CLASS=worker",
            "",
        ]
        .join("\n")
    );
}

#[test]
fn env_values_quote_only_when_needed_and_parse_back() {
    let cases = [
        ("", ""),
        ("coder0", "coder0"),
        ("openai-codex/gpt-5.5:high", "openai-codex/gpt-5.5:high"),
        ("a b", "\"a b\""),
        (
            "$MOSAIC_HOME/tools/x.sh --flag",
            "\"\\$MOSAIC_HOME/tools/x.sh --flag\"",
        ),
        ("say \"hi\" `now` \\", "\"say \\\"hi\\\" \\`now\\` \\\\\""),
        ("it's", "\"it's\""),
    ];
    for (value, written) in cases {
        assert_eq!(shell_env_value(value), written, "{value:?}");
        let parsed = parse_env(&format!("K={}\n", shell_env_value(value)));
        assert_eq!(parsed, [("K".to_owned(), value.to_owned())], "{value:?}");
    }
}

#[test]
fn env_files_read_back_by_a_shell_the_same() {
    let mut roster = Roster::empty();
    let mut a = agent("x", Runtime::Pi, "worker");
    a.command = Some("$MOSAIC_HOME/stub.sh --name \"q\" 'single'".to_owned());
    a.working_directory = Some("~/work dir".to_owned());
    roster.agents.push(a);
    let env = generate_agent_env(&roster, &roster.agents[0], Path::new("/home/u")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.env");
    std::fs::write(&file, &env).unwrap();
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg("set -a; . \"$1\"; printf '%s\\n' \"$MOSAIC_AGENT_COMMAND\" \"$MOSAIC_AGENT_WORKDIR\"")
        .arg("_")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "$MOSAIC_HOME/stub.sh --name \"q\" 'single'\n/home/u/work dir\n"
    );
    for (k, v) in parse_env(&env) {
        if k == "MOSAIC_AGENT_COMMAND" {
            assert_eq!(v, "$MOSAIC_HOME/stub.sh --name \"q\" 'single'");
        }
    }
}

#[test]
fn env_rejects_newlines() {
    let mut roster = Roster::empty();
    let mut a = agent("x", Runtime::Pi, "worker");
    a.model_hint = Some("a\nb".to_owned());
    roster.agents.push(a);
    let err = generate_agent_env(&roster, &roster.agents[0], Path::new("/h")).unwrap_err();
    assert!(err.to_string().contains("MOSAIC_AGENT_MODEL"), "{err}");
}

#[test]
fn presets_have_the_agents_in_order() {
    let cases: [(Preset, &[&str]); 4] = [
        (Preset::General, &["orchestrator", "enhancer", "generalist"]),
        (
            Preset::Coding,
            &["orchestrator", "enhancer", "coder0", "coder1", "reviewer"],
        ),
        (
            Preset::Research,
            &[
                "orchestrator",
                "enhancer",
                "researcher0",
                "researcher1",
                "analyst",
            ],
        ),
        (
            Preset::Hybrid,
            &[
                "orchestrator",
                "enhancer",
                "coder0",
                "researcher0",
                "reviewer",
            ],
        ),
    ];
    for (preset, names) in cases {
        let r = preset.roster().unwrap();
        let got: Vec<&str> = r.agents.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(got, names, "{preset}");
    }
    let general = Preset::General.roster().unwrap();
    assert_eq!(
        general.agent("orchestrator").unwrap().runtime,
        Runtime::Claude
    );
    assert_eq!(general.agent("enhancer").unwrap().class, "enhancer");
    assert_eq!(general.agent("generalist").unwrap().runtime, Runtime::Pi);
}

#[test]
fn every_preset_class_has_a_persona() {
    // `general` once gave its worker `class: worker`, which no persona has,
    // so the agent launched without one.
    let library = mosaic_fleet::library::PersonaLibrary::baseline().unwrap();
    for preset in Preset::ALL {
        for a in &preset.roster().unwrap().agents {
            assert!(
                library.contains(&a.class),
                "{preset}/{}: class `{}` has no persona",
                a.name,
                a.class
            );
        }
    }
    let general = Preset::General.roster().unwrap();
    assert_eq!(general.agent("generalist").unwrap().class, "code");
}

#[test]
fn every_non_minimal_preset_keeps_the_two_agent_floor() {
    for preset in Preset::ALL {
        let r = preset.roster().unwrap();
        assert_eq!(r.socket(), "mosaic-fleet", "{preset} names its socket");
        if preset == Preset::Minimal {
            assert_eq!(count_orchestrators(&r), 0);
            assert!(check_floor(preset.name(), &r).is_ok());
            continue;
        }
        assert_eq!(count_orchestrators(&r), 1, "{preset}");
        assert!(count_enhancers(&r) >= 1, "{preset}");
        let enhancer = r.agents.iter().find(|a| a.class == "enhancer").unwrap();
        assert_eq!(enhancer.runtime, Runtime::Claude, "{preset}");
        check_floor(preset.name(), &r).unwrap();
    }
}

#[test]
fn workers_in_the_four_presets_run_pi_on_the_worker_model() {
    for preset in [
        Preset::General,
        Preset::Coding,
        Preset::Research,
        Preset::Hybrid,
    ] {
        let r = preset.roster().unwrap();
        for w in r
            .agents
            .iter()
            .filter(|a| a.class != "orchestrator" && a.class != "enhancer")
        {
            assert_eq!(w.runtime, Runtime::Pi, "{preset}/{}", w.name);
            assert_eq!(
                w.model_hint.as_deref(),
                Some("openai-codex/gpt-5.5:high"),
                "{preset}/{}",
                w.name
            );
        }
    }
}

#[test]
fn floor_check_fails_loudly() {
    let mut r = Preset::General.roster().unwrap();
    r.agents.retain(|a| a.class != "enhancer");
    let err = check_floor("general", &r).unwrap_err();
    assert!(err.to_string().contains("no enhancer agent"), "{err}");
    r.agents.push(agent("o2", Runtime::Claude, "orchestrator"));
    let err = check_floor("general", &r).unwrap_err();
    assert!(
        err.to_string()
            .contains("2 orchestrator agent(s), expected exactly 1 (R5)"),
        "{err}"
    );
}

#[test]
fn count_enhancers_counts_the_class() {
    let mut r = base_roster();
    assert_eq!(count_enhancers(&r), 0);
    r.agents = vec![
        agent("orchestrator", Runtime::Claude, "orchestrator"),
        agent("enhancer", Runtime::Claude, "enhancer"),
        agent("coder0", Runtime::Codex, "worker"),
    ];
    assert_eq!(count_enhancers(&r), 1);
}

#[test]
fn remove_guards_the_floor() {
    let mut r = base_roster();
    r.agents = vec![
        agent("orchestrator", Runtime::Claude, "orchestrator"),
        agent("enhancer", Runtime::Claude, "enhancer"),
    ];
    let err = remove_agent(&r, "enhancer").unwrap_err();
    assert!(matches!(err, Error::SoleEnhancer(_)));
    assert!(err.to_string().contains("sole enhancer"));
    let err = remove_agent(&r, "orchestrator").unwrap_err();
    assert!(err.to_string().contains("sole orchestrator"), "{err}");

    r.agents
        .push(agent("enhancer2", Runtime::Claude, "enhancer"));
    let updated = remove_agent(&r, "enhancer").unwrap();
    let names: Vec<&str> = updated.agents.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["orchestrator", "enhancer2"]);
}

#[test]
fn remove_keeps_others_and_allows_rosters_without_enhancer() {
    let mut r = base_roster();
    r.agents
        .insert(0, agent("orchestrator", Runtime::Pi, "orchestrator"));
    let updated = remove_agent(&r, "orchestrator").unwrap();
    let names: Vec<&str> = updated.agents.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["orchestrator2", "coder0"]);
    assert!(matches!(
        remove_agent(&r, "ghost"),
        Err(Error::UnknownAgent(_))
    ));
}

#[test]
fn yaml_round_trips() {
    let home = Home::new();
    let mut rosters = vec![base_roster()];
    rosters.extend(Preset::ALL.map(|p| p.roster().unwrap()));
    let mut rich = base_roster();
    rich.tmux.socket_name = "mosaic-fleet".into();
    rich.defaults.working_directory = Some("~".into());
    rich.connector = Some(mosaic_fleet::roster::Connector {
        kind: mosaic_fleet::roster::ConnectorKind::Matrix,
        matrix: Some(mosaic_fleet::roster::MatrixConnector {
            homeserver_url: "https://matrix.example.internal".into(),
            user_id: "@mos:example.internal".into(),
            room_id: "!abc:example.internal".into(),
        }),
        discord: None,
    });
    let mut remote = agent("coder0-0", Runtime::Claude, "implementer");
    remote.host = Some("10.1.10.37".into());
    remote.ssh = Some("jwoltje@10.1.10.37".into());
    remote.socket = Some("mosaic-factory".into());
    remote.persistent_persona = Some(false);
    remote.command = Some("$MOSAIC_HOME/tools/fleet/stub-agent.sh".into());
    rich.agents.push(remote);
    rosters.push(rich);
    rosters.push(Roster::empty());
    for roster in rosters {
        let yaml = to_yaml(&roster);
        roster.save(&home.paths.roster()).unwrap();
        assert_eq!(
            Roster::load(&home.paths.roster()).unwrap(),
            roster,
            "{yaml}"
        );
        // The lenient comms reader sees the same agents.
        let peers = mosaic_fleet::comms::parse_roster_agents(&yaml);
        assert_eq!(peers.len(), roster.agents.len(), "{yaml}");
    }
}

#[test]
fn parse_errors_name_the_file_and_the_problem() {
    let home =
        Home::with_roster("version: 1\nagents:\n  - name: a\n    runtime: pi\n    modle_hint: x\n");
    let err = Roster::load(&home.paths.roster()).unwrap_err().to_string();
    assert!(
        err.contains("roster.yaml") && err.contains("modle_hint"),
        "{err}"
    );

    let cases = [
        ("version: 2\nagents: []\n", "version 2"),
        (
            "version: 1\nagents:\n  - name: a\n    runtime: gpt\n",
            "gpt",
        ),
        (
            "version: 1\nagents:\n  - name: a b\n    runtime: pi\n",
            "invalid agent name",
        ),
        (
            "version: 1\nagents:\n  - {name: a, runtime: pi}\n  - {name: a, runtime: pi}\n",
            "listed twice",
        ),
        (
            "version: 1\nagents:\n  - {name: _holder, runtime: pi}\n",
            "holder",
        ),
    ];
    for (yaml, needle) in cases {
        let err = Roster::from_yaml(yaml, "r.yaml").unwrap_err().to_string();
        assert!(err.contains(needle), "{yaml}: {err}");
    }
    let missing = Home::new();
    let err = Roster::load(&missing.paths.roster())
        .unwrap_err()
        .to_string();
    assert!(err.contains("mosaic fleet init"), "{err}");
}

#[test]
fn working_directory_falls_back_to_defaults_then_src() {
    let mut r = Roster::empty();
    r.agents.push(agent("a", Runtime::Pi, "worker"));
    assert_eq!(r.working_directory(&r.agents[0]), "~/src");
    r.defaults.working_directory = Some("~".into());
    assert_eq!(r.working_directory(&r.agents[0]), "~");
    r.agents[0].working_directory = Some("/srv".into());
    assert_eq!(r.working_directory(&r.agents[0]), "/srv");
}
