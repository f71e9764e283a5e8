//! docs/nodes/QUICKSTART.md, run as written: the real `gateway`, `mosaic` and
//! `agent-node` binaries, and what a person would see.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support {
    pub mod quickstart;
}

fn free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

#[test]
fn the_nodes_quickstart_works_as_written() {
    // The page uses fixed ports, as a person would; another run holding them
    // would make this test meaningless rather than wrong.
    for port in [7620, 7621, 7643] {
        assert!(free(port), "port {port} is busy; the quickstart needs it");
    }
    let out = support::quickstart::run("docs/nodes/QUICKSTART.md", &["gateway", "agent-node"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Step 3: the node is listed online under its invite's name.
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("workstation") && l.contains("online")),
        "no online `workstation` row in:\n{stdout}"
    );
    // Step 3: the systemd unit starts the agent-node the page ran, with its
    // config and variables.
    let bin = support::quickstart::bin_dir(&[]).join("agent-node");
    let exec = stdout
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .unwrap_or_else(|| panic!("no ExecStart line in:\n{stdout}"));
    let (program, args) = exec.split_once(" --config ").unwrap();
    assert_eq!(
        std::fs::canonicalize(program).unwrap(),
        std::fs::canonicalize(&bin).unwrap(),
        "{exec}"
    );
    assert!(args.ends_with("/agent-node.yaml"), "{exec}");
    let qs = args.trim_end_matches("/agent-node.yaml");
    for var in [
        format!("Environment=MOSAIC_NODE_STATE_DIR={qs}/node-state"),
        format!("Environment=MOSAIC_NODE_WORKSPACE={qs}/workspace"),
    ] {
        assert!(stdout.lines().any(|l| l == var), "no `{var}` in:\n{stdout}");
    }
    // Step 4: the node's policy, said plainly.
    assert!(
        stdout.contains("policy:        permissive: runs anything\n"),
        "{stdout}"
    );
    // Step 4: the command's output came back.
    assert!(stdout.contains("hello from "), "{stdout}");
    assert!(stdout.contains("Linux"), "{stdout}");
    // The task is in the session's log as completed.
    assert!(stdout.lines().any(|l| l.contains("completed")), "{stdout}");
    // Step 5: the session closed.
    assert!(stdout.contains("closed session quickstart ("), "{stdout}");
    assert!(stdout.contains("quickstart done"), "{stdout}");
}
