//! Comms onboarding: the lenient roster reader, reach commands, the block,
//! and compose-contract.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use mosaic_fleet::Runtime;
use mosaic_fleet::comms::{
    CommsError, CommsPeer, FleetCommsOptions, build_fleet_comms_block, parse_roster_agents,
    read_fleet_comms_block, render_peer_reach, resolve_comms_block,
};
use mosaic_fleet::contract::{ContractContext, compose_contract};
use regex::Regex;
use support::{Home, lines};

fn roster_fixture() -> String {
    lines(&[
        "version: 1",
        "transport: tmux",
        "agents:",
        "  - name: orchestrator",
        "    runtime: claude",
        "    class: orchestrator",
        "  - name: enhancer",
        "    runtime: claude",
        "    class: enhancer",
        "  - name: coder0",
        "    runtime: pi",
        "    class: implementer",
        "    # a manually-listed cross-host peer (pre-federation stopgap)",
        "  - name: coder0-0",
        "    runtime: claude",
        "    class: implementer",
        "    host: 10.1.10.37",
        "    ssh: jwoltje@10.1.10.37",
        "",
    ])
}

const SEND: &str = "/home/u/.config/mosaic/tools/tmux/agent-send.sh";

fn peer(
    name: &str,
    class: &str,
    host: Option<&str>,
    ssh: Option<&str>,
    socket: Option<&str>,
) -> CommsPeer {
    CommsPeer {
        name: name.into(),
        class_name: class.into(),
        host: host.map(Into::into),
        ssh: ssh.map(Into::into),
        socket: socket.map(Into::into),
    }
}

#[test]
fn parses_name_class_and_optional_host_ssh() {
    let peers = parse_roster_agents(&roster_fixture());
    let names: Vec<&str> = peers.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["orchestrator", "enhancer", "coder0", "coder0-0"]);
    assert_eq!(peers[2].class_name, "implementer");
    assert_eq!(
        peers[3],
        peer(
            "coder0-0",
            "implementer",
            Some("10.1.10.37"),
            Some("jwoltje@10.1.10.37"),
            None
        )
    );
    assert_eq!(peers[0].host, None);
}

#[test]
fn parses_an_optional_socket_and_stops_at_top_level_keys() {
    let peers = parse_roster_agents(&lines(&[
        "agents:",
        "  - name: a",
        "    class: worker",
        "    socket: mosaic-factory",
    ]));
    assert_eq!(peers[0].name, "a");
    assert_eq!(peers[0].socket.as_deref(), Some("mosaic-factory"));
    let peers = parse_roster_agents(&lines(&[
        "agents:",
        "  - name: a",
        "    class: worker",
        "defaults:",
        "  working_directory: ~",
    ]));
    assert_eq!(
        peers.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["a"]
    );
}

#[test]
fn lenient_parser_quirks() {
    let cases: [(&str, &[&str]); 5] = [
        ("agents:\n- name: a\n", &[]), // column-0 item ends the block
        ("agents:\n  - name: a\n# c\n  - name: b\n", &["a"]), // column-0 comment ends it too
        (
            "version: 1\n  - name: x\nagents:\n  - name: \"q\"\n",
            &["q"],
        ), // before agents: ignored; quotes stripped
        ("agents:\n  - name: a\n    class: lead # inline\n", &["a"]),
        ("", &[]),
    ];
    for (yaml, names) in cases {
        let got: Vec<String> = parse_roster_agents(yaml)
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(
            got,
            names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(),
            "{yaml:?}"
        );
    }
    // A scalar with an inline comment is ignored: the class stays the default.
    assert_eq!(parse_roster_agents(cases[3].0)[0].class_name, "worker");
}

#[test]
fn reach_commands() {
    let cases = [
        (
            peer("enhancer", "enhancer", None, None, None),
            format!("{SEND} -s enhancer -m \"…\""),
        ),
        (
            peer(
                "coder0-0",
                "implementer",
                Some("10.1.10.37"),
                Some("jwoltje@10.1.10.37"),
                None,
            ),
            format!("{SEND} -H jwoltje@10.1.10.37 -s coder0-0 -m \"…\""),
        ),
        (
            peer("x", "worker", Some("10.0.0.9"), None, None),
            format!("{SEND} -H 10.0.0.9 -s x -m \"…\""),
        ),
        (
            peer("y", "worker", Some("w-jarvis"), None, None),
            format!("{SEND} -s y -m \"…\""),
        ),
        (
            peer("lead", "orchestrator", None, None, None),
            format!("{SEND} -s lead -m \"…\""),
        ),
        (
            peer("coder0", "implementer", None, None, Some("mosaic-factory")),
            format!("{SEND} -L mosaic-factory -s coder0 -m \"…\""),
        ),
        (
            peer(
                "coder0-0",
                "implementer",
                Some("10.1.10.37"),
                Some("jwoltje@10.1.10.37"),
                Some("mosaic-factory"),
            ),
            format!("{SEND} -L mosaic-factory -H jwoltje@10.1.10.37 -s coder0-0 -m \"…\""),
        ),
    ];
    for (p, want) in cases {
        assert_eq!(render_peer_reach(&p, "w-jarvis", SEND), want);
    }
}

#[test]
fn block_excludes_self_flags_the_orchestrator_and_renders_both_forms() {
    let send = "/h/.config/mosaic/tools/tmux/agent-send.sh";
    let agents = parse_roster_agents(&roster_fixture());
    let block = build_fleet_comms_block(&FleetCommsOptions {
        self_name: "enhancer",
        agents: &agents,
        fleet_host: "w-jarvis",
        agent_send_path: send,
    });
    for needle in [
        "# Fleet Comms".to_owned(),
        "You are **enhancer**".to_owned(),
        "`[w-jarvis:enhancer]`".to_owned(),
        "| orchestrator |".to_owned(),
        "point of contact".to_owned(),
        format!("{send} -s coder0 -m \"…\""),
        format!("{send} -H jwoltje@10.1.10.37 -s coder0-0 -m \"…\""),
        "host `10.1.10.37`".to_owned(),
        "FLIP the preamble".to_owned(),
        "ACCEPTED".to_owned(),
    ] {
        assert!(block.contains(&needle), "missing {needle:?} in\n{block}");
    }
    assert!(!Regex::new(r"\|\s*enhancer\s*\|").unwrap().is_match(&block));
    assert!(!block.contains(" -L "), "no -L on the default socket");
    assert!(!block.ends_with('\n'));
    assert!(block.starts_with("# Fleet Comms — reach your peers\n\nYou are **enhancer**"));
}

#[test]
fn block_without_orchestrator_or_peers() {
    let solo = [CommsPeer::new("solo", "orchestrator")];
    let empty = build_fleet_comms_block(&FleetCommsOptions {
        self_name: "solo",
        agents: &solo,
        fleet_host: "h",
        agent_send_path: SEND,
    });
    assert_eq!(empty, "");
    let two = [CommsPeer::new("a", "worker"), CommsPeer::new("b", "worker")];
    let block = build_fleet_comms_block(&FleetCommsOptions {
        self_name: "a",
        agents: &two,
        fleet_host: "h",
        agent_send_path: SEND,
    });
    assert!(
        block.contains("This fleet has no orchestrator in its roster"),
        "{block}"
    );
}

#[test]
fn read_block_for_a_member() {
    let home = Home::with_roster(&roster_fixture());
    let h = home.mosaic_home();
    let block = read_fleet_comms_block(h, Some("orchestrator"), "w-jarvis");
    let send = h
        .join("tools")
        .join("tmux")
        .join("agent-send.sh")
        .display()
        .to_string();
    assert!(block.contains("# Fleet Comms"));
    assert!(block.contains("| enhancer |"));
    assert!(
        block.contains(&format!("{send} -s coder0 -m \"…\"")),
        "{block}"
    );
    assert!(block.contains("-H jwoltje@10.1.10.37 -s coder0-0"));
    assert!(
        !Regex::new(r"\|\s*orchestrator\s*\|")
            .unwrap()
            .is_match(&block)
    );
}

#[test]
fn read_block_is_empty_on_any_miss() {
    let home = Home::with_roster(&roster_fixture());
    let empty = Home::new();
    assert_eq!(
        read_fleet_comms_block(home.mosaic_home(), None, "w-jarvis"),
        ""
    );
    assert_eq!(
        read_fleet_comms_block(home.mosaic_home(), Some(""), "w-jarvis"),
        ""
    );
    assert_eq!(
        read_fleet_comms_block(home.mosaic_home(), Some("stranger"), "w-jarvis"),
        ""
    );
    assert_eq!(
        read_fleet_comms_block(empty.mosaic_home(), Some("orchestrator"), "w-jarvis"),
        ""
    );
}

#[test]
fn resolve_comms_block_fails_loud() {
    let home = Home::with_roster(&roster_fixture());
    let h = home.mosaic_home();
    let ok = resolve_comms_block(h, "coder0", "w-jarvis").unwrap();
    assert!(ok.contains("You are **coder0**"));
    assert!(matches!(
        resolve_comms_block(h, "nobody", "w-jarvis"),
        Err(CommsError::UnknownRole { .. })
    ));
    let empty = Home::new();
    let err = resolve_comms_block(empty.mosaic_home(), "coder0", "w-jarvis").unwrap_err();
    assert!(matches!(err, CommsError::NoRoster(_)));
    assert!(err.to_string().contains("mosaic fleet init"));
    // Viewed from the remote host, the remote peer is local and the others remote.
    let remote_view = resolve_comms_block(h, "coder0", "10.1.10.37").unwrap();
    assert!(remote_view.contains("-s coder0-0 -m"), "{remote_view}");
    assert!(
        !remote_view.contains("-H jwoltje@10.1.10.37"),
        "{remote_view}"
    );
    let solo = Home::with_roster("version: 1\nagents:\n  - name: solo\n    runtime: pi\n");
    assert!(matches!(
        resolve_comms_block(solo.mosaic_home(), "solo", "h"),
        Err(CommsError::NoPeers(_))
    ));
}

fn contract_home() -> Home {
    Home::with_roster(&lines(&[
        "version: 1",
        "transport: tmux",
        "agents:",
        "  - name: orchestrator",
        "    runtime: claude",
        "    class: orchestrator",
        "  - name: enhancer",
        "    runtime: claude",
        "    class: enhancer",
        "  - name: coder0-0",
        "    runtime: claude",
        "    class: implementer",
        "    host: 10.1.10.37",
        "    ssh: jwoltje@10.1.10.37",
        "",
    ]))
}

#[test]
fn compose_contract_injects_comms_for_a_fleet_member() {
    let home = contract_home();
    let ctx = ContractContext {
        agent_name: Some("enhancer"),
        agent_class: None,
        fleet_host: &mosaic_fleet::short_hostname(),
    };
    let out = compose_contract(Runtime::Claude, &home.paths, &ctx).unwrap();
    assert!(out.contains("# Fleet Comms"));
    assert!(Regex::new(r"`\[[^\]]+:enhancer\]`").unwrap().is_match(&out));
    assert!(out.contains("-s orchestrator -m \"…\""));
    assert!(out.contains("-H jwoltje@10.1.10.37 -s coder0-0 -m \"…\""));
    assert!(!out.contains("-H jwoltje@10.1.10.37 -s orchestrator"));
}

#[test]
fn compose_contract_without_agent_name_has_no_comms() {
    let home = contract_home();
    let ctx = ContractContext {
        agent_name: None,
        agent_class: None,
        fleet_host: "h",
    };
    let out = compose_contract(Runtime::Claude, &home.paths, &ctx).unwrap();
    assert!(!out.contains("# Fleet Comms"));
}

#[test]
fn compose_contract_layers_home_files_runtime_and_persona() {
    let home = contract_home();
    let h = home.mosaic_home();
    std::fs::write(h.join("AGENTS.md"), "GATE-1: the non-negotiable law.\n").unwrap();
    std::fs::create_dir_all(h.join("runtime/claude")).unwrap();
    std::fs::write(
        h.join("runtime/claude/RUNTIME.md"),
        "Claude Code harness rules.\n",
    )
    .unwrap();
    let ctx = ContractContext {
        agent_name: Some("enhancer"),
        agent_class: Some("enhancer"),
        fleet_host: "h",
    };
    let out = compose_contract(Runtime::Claude, &home.paths, &ctx).unwrap();
    let order = [
        "GATE-1: the non-negotiable law.",
        "# Runtime-Specific Contract",
        "Claude Code harness rules.",
        "# Persona Contract",
        "# Enhancer — fleet role definition",
        "# Fleet Comms",
    ];
    let mut at = 0;
    for needle in order {
        let pos = out[at..]
            .find(needle)
            .unwrap_or_else(|| panic!("{needle} after byte {at} in\n{out}"));
        at += pos;
    }
    // Without a runtime file, the selected harness is still named.
    let out = compose_contract(Runtime::Codex, &home.paths, &ctx).unwrap();
    assert!(out.contains("`codex` harness"), "{out}");
}

#[test]
fn the_roster_socket_reaches_same_host_peers() {
    use mosaic_fleet::comms::parse_roster_socket;
    assert_eq!(
        parse_roster_socket("version: 1\ntmux:\n  socket_name: mosaic-fleet\nagents: []\n")
            .as_deref(),
        Some("mosaic-fleet")
    );
    assert_eq!(
        parse_roster_socket("tmux:\n  holder_session: _holder\n  socketName: 's2'\n").as_deref(),
        Some("s2")
    );
    assert_eq!(parse_roster_socket("tmux:\n  socket_name: ''\n"), None);
    assert_eq!(
        parse_roster_socket("agents:\n  - name: a\n    socket_name: x\n"),
        None
    );
    assert_eq!(parse_roster_socket(&roster_fixture()), None);

    let yaml = roster_fixture().replace(
        "transport: tmux\n",
        "transport: tmux\ntmux:\n  socket_name: mosaic-fleet\n",
    );
    let home = Home::with_roster(&yaml);
    let block = resolve_comms_block(home.mosaic_home(), "enhancer", "w-jarvis").unwrap();
    assert!(
        block.contains("agent-send.sh -L mosaic-fleet -s coder0 -m \"…\""),
        "{block}"
    );
    assert!(
        block.contains("agent-send.sh -H jwoltje@10.1.10.37 -s coder0-0 -m \"…\""),
        "remote peers keep their own socket: {block}"
    );
}
