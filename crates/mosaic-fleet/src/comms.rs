//! Fleet comms onboarding: the cheat-sheet a spawned agent gets in its system
//! prompt, naming itself, its peers and the exact command to reach each.
//!
//! It reads the roster with a deliberately lenient line parser instead of the
//! full roster model, so a roster with an unrelated problem still yields a
//! usable cheat-sheet, and it never fails: every miss is an empty block.

use crate::util::regex;
use regex::Regex;
use std::path::Path;
use std::sync::LazyLock;

/// A peer as the comms block sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommsPeer {
    /// Session name.
    pub name: String,
    /// Roster class (`worker` when unset).
    pub class_name: String,
    /// Its host; absent means the fleet host.
    pub host: Option<String>,
    /// `user@host` for the `-H` form.
    pub ssh: Option<String>,
    /// Its tmux socket; absent means the default socket (no `-L`).
    pub socket: Option<String>,
}

impl CommsPeer {
    /// A same-host peer on the default socket.
    pub fn new(name: &str, class_name: &str) -> Self {
        CommsPeer {
            name: name.to_owned(),
            class_name: class_name.to_owned(),
            ..CommsPeer::default()
        }
    }
}

/// What [`build_fleet_comms_block`] needs.
#[derive(Debug, Clone)]
pub struct FleetCommsOptions<'a> {
    /// The agent the block is for; left out of its own peer list.
    pub self_name: &'a str,
    /// Every roster agent, self included.
    pub agents: &'a [CommsPeer],
    /// The fleet's short host name: the same-host baseline.
    pub fleet_host: &'a str,
    /// Absolute path of `agent-send.sh`.
    pub agent_send_path: &'a str,
}

static AGENTS_KEY: LazyLock<Regex> = LazyLock::new(|| regex(r"^agents:\s*$"));
static TOP_LEVEL: LazyLock<Regex> = LazyLock::new(|| regex(r"^\S"));
static ITEM: LazyLock<Regex> =
    LazyLock::new(|| regex(r#"^\s*-\s*name:\s*["']?([A-Za-z0-9._-]+)["']?\s*$"#));
static SCALARS: LazyLock<[(&str, Regex); 4]> = LazyLock::new(|| {
    [
        ("class", regex(r#"^\s*class:\s*["']?([^"'#]+?)["']?\s*$"#)),
        ("host", regex(r#"^\s*host:\s*["']?([^"'#]+?)["']?\s*$"#)),
        ("ssh", regex(r#"^\s*ssh:\s*["']?([^"'#]+?)["']?\s*$"#)),
        ("socket", regex(r#"^\s*socket:\s*["']?([^"'#]+?)["']?\s*$"#)),
    ]
});

/// The agents of a roster, read line by line: the `agents:` block starts at a
/// line `agents:` and ends at the next line starting in column 0; each item
/// starts at an indented `- name: <name>` and picks up `class`, `host`,
/// `ssh` and `socket` scalars.
pub fn parse_roster_agents(yaml: &str) -> Vec<CommsPeer> {
    let mut peers = Vec::new();
    let mut current: Option<CommsPeer> = None;
    let mut in_agents = false;
    for raw in yaml.split('\n') {
        let line = raw.trim_end();
        if !in_agents {
            in_agents = AGENTS_KEY.is_match(line);
            continue;
        }
        if TOP_LEVEL.is_match(line) {
            break;
        }
        if let Some(c) = ITEM.captures(line) {
            peers.extend(current.take());
            current = Some(CommsPeer::new(&c[1], "worker"));
            continue;
        }
        let Some(peer) = current.as_mut() else {
            continue;
        };
        for (key, re) in SCALARS.iter() {
            if let Some(c) = re.captures(line) {
                let value = c[1].trim().to_owned();
                match *key {
                    "class" => peer.class_name = value,
                    "host" => peer.host = Some(value),
                    "ssh" => peer.ssh = Some(value),
                    _ => peer.socket = Some(value),
                }
            }
        }
    }
    peers.extend(current);
    peers
}

static TMUX_KEY: LazyLock<Regex> = LazyLock::new(|| regex(r"^tmux:\s*$"));
static SOCKET_NAME: LazyLock<Regex> =
    LazyLock::new(|| regex(r#"^\s+(?:socket_name|socketName):\s*["']?([^"'#]+?)["']?\s*$"#));

/// The roster's `tmux.socket_name`, read the same lenient way; `None` when
/// absent or empty (the default socket).
pub fn parse_roster_socket(yaml: &str) -> Option<String> {
    let mut in_tmux = false;
    for raw in yaml.split('\n') {
        let line = raw.trim_end();
        if TOP_LEVEL.is_match(line) {
            in_tmux = TMUX_KEY.is_match(line);
            continue;
        }
        if in_tmux && let Some(c) = SOCKET_NAME.captures(line) {
            let socket = c[1].trim();
            return (!socket.is_empty()).then(|| socket.to_owned());
        }
    }
    None
}

/// Whether `peer` is on another host than the fleet (exact comparison).
pub fn is_remote(peer: &CommsPeer, fleet_host: &str) -> bool {
    peer.host.as_deref().is_some_and(|h| h != fleet_host)
}

/// The command that reaches `peer`: `-L <socket>` when it names a socket,
/// `-H <ssh or host>` when it is remote, then `-s <name> -m "…"`.
pub fn render_peer_reach(peer: &CommsPeer, fleet_host: &str, agent_send_path: &str) -> String {
    let mut parts = vec![agent_send_path.to_owned()];
    if let Some(socket) = peer.socket.as_deref().filter(|s| !s.is_empty()) {
        parts.push(format!("-L {socket}"));
    }
    if is_remote(peer, fleet_host) {
        let target = peer
            .ssh
            .as_deref()
            .or(peer.host.as_deref())
            .unwrap_or_default();
        parts.push(format!("-H {target}"));
    }
    parts.push(format!("-s {} -m \"…\"", peer.name));
    parts.join(" ")
}

/// The `# Fleet Comms` block for `self_name`; empty when it has no peers.
pub fn build_fleet_comms_block(opts: &FleetCommsOptions<'_>) -> String {
    let peers: Vec<&CommsPeer> = opts
        .agents
        .iter()
        .filter(|a| a.name != opts.self_name)
        .collect();
    if peers.is_empty() {
        return String::new();
    }
    let orchestrator = peers.iter().find(|p| p.class_name == "orchestrator");
    let rows: Vec<String> = peers
        .iter()
        .map(|p| {
            let where_ = if is_remote(p, opts.fleet_host) {
                format!(
                    "{} · host `{}`",
                    p.class_name,
                    p.host.as_deref().unwrap_or_default()
                )
            } else {
                p.class_name.clone()
            };
            let role = if orchestrator.is_some_and(|o| o.name == p.name) {
                format!("{where_} ← point of contact")
            } else {
                where_
            };
            format!(
                "| {} | {role} | `{}` |",
                p.name,
                render_peer_reach(p, opts.fleet_host, opts.agent_send_path)
            )
        })
        .collect();
    let orch_line = match orchestrator {
        Some(o) => format!(
            "Your point of contact is **{}** (the orchestrator) — route questions, status, and decisions there.",
            o.name
        ),
        None => {
            "This fleet has no orchestrator in its roster; coordinate with your peers directly."
                .to_owned()
        }
    };
    let (me, host, send) = (opts.self_name, opts.fleet_host, opts.agent_send_path);
    format!(
        "# Fleet Comms — reach your peers\n\
\n\
You are **{me}** in this fleet. Your comms identity is `[{host}:{me}]` —\n\
that is the `<src>` other agents see and reply to. Reach other agents (durable tmux sessions) with the\n\
Mosaic comms tool at `{send}`. The **Reach** column below is the exact command per peer:\n\
same-host peers use the short form (no `-H`); cross-host peers include `-H <user@host>`.\n\
\n\
## Peers\n\
\n\
| Agent | Role | Reach (session = agent name) |\n\
| ----- | ---- | ---------------------------- |\n\
{rows}\n\
\n\
{orch_line}\n\
\n\
## Conventions\n\
\n\
- Every message carries a self-identifying preamble `[<src_host>:<src_session> -> <dst_host>:<dst_session>]` — `agent-send.sh` adds it automatically.\n\
- **To reply, FLIP the preamble:** address your reply to the sender's `src` (their host:session becomes your `-s`/`-H`).\n\
- `agent-send.sh` (a.k.a. `agent send --verify`) confirms the message was **ACCEPTED** at the destination prompt — not merely injected. Prefer it for anything that matters.",
        rows = rows.join("\n")
    )
}

/// Why [`resolve_comms_block`] could not build a block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommsError {
    /// No roster file.
    #[error(
        "no fleet roster at {0}; create one with `mosaic fleet init --profile general --write`"
    )]
    NoRoster(String),
    /// The role is not in the roster.
    #[error("`{role}` is not an agent of the roster at {roster}; `mosaic fleet ps` lists them")]
    UnknownRole {
        /// The role asked for.
        role: String,
        /// The roster read.
        roster: String,
    },
    /// The role is alone in the fleet.
    #[error("`{0}` has no peers in the roster, so there is nobody to reach")]
    NoPeers(String),
}

/// The block `role` gets at launch, or why there is none: the loud variant
/// behind `mosaic fleet comms-block`.
pub fn resolve_comms_block(
    mosaic_home: &Path,
    role: &str,
    fleet_host: &str,
) -> Result<String, CommsError> {
    let roster_path = mosaic_home.join("fleet").join("roster.yaml");
    let text = std::fs::read_to_string(&roster_path)
        .map_err(|_| CommsError::NoRoster(roster_path.display().to_string()))?;
    let mut agents = parse_roster_agents(&text);
    // Same-host peers without a socket of their own were spawned by this
    // fleet, on the roster's socket: their reach command must name it, or it
    // would look on the default server. Remote peers keep only their own.
    if let Some(socket) = parse_roster_socket(&text) {
        for peer in agents.iter_mut() {
            if peer.socket.is_none() && !is_remote(peer, fleet_host) {
                peer.socket = Some(socket.clone());
            }
        }
    }
    if !agents.iter().any(|a| a.name == role) {
        return Err(CommsError::UnknownRole {
            role: role.to_owned(),
            roster: roster_path.display().to_string(),
        });
    }
    let send = mosaic_home.join("tools").join("tmux").join("agent-send.sh");
    let block = build_fleet_comms_block(&FleetCommsOptions {
        self_name: role,
        agents: &agents,
        fleet_host,
        agent_send_path: &send.display().to_string(),
    });
    if block.is_empty() {
        return Err(CommsError::NoPeers(role.to_owned()));
    }
    Ok(block)
}

/// The block for `self_name`, or empty on any miss (no name, no roster, not
/// a member, no peers): the quiet variant behind `compose-contract`.
pub fn read_fleet_comms_block(
    mosaic_home: &Path,
    self_name: Option<&str>,
    fleet_host: &str,
) -> String {
    match self_name.filter(|n| !n.is_empty()) {
        Some(name) => resolve_comms_block(mosaic_home, name, fleet_host).unwrap_or_default(),
        None => String::new(),
    }
}
