//! The human forms of nodes, sessions, tasks and invites.

use crate::output::{table, truncate};
use chrono::{DateTime, Utc};
use mosaic_types::nodes::{
    HealthView, InviteResponse, NodeView, PolicyView, SessionView, TaskView,
};
use std::fmt::Write as _;
use std::path::Path;

/// `12s`, `5m`, `3h`, `2d`: the largest whole unit.
pub fn span(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// `12s ago`.
pub fn ago(then: DateTime<Utc>, now: DateTime<Utc>) -> String {
    format!("{} ago", span((now - then).num_seconds()))
}

/// `in 59m`, or `expired` when past.
pub fn until(when: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (when - now).num_seconds();
    if secs <= 0 {
        "expired".to_owned()
    } else {
        format!("in {}", span(secs))
    }
}

/// `2026-11-22 10:00:00 UTC`.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// `2026-11-22 10:00:00 UTC (12s ago)`, or `-`.
fn stamp_ago(t: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    t.map_or_else(
        || "-".to_owned(),
        |t| format!("{} ({})", stamp(t), ago(t, now)),
    )
}

/// Bytes with a binary unit, short: `512B`, `3.2G`.
pub fn bytes_short(n: u64) -> String {
    const UNITS: [&str; 5] = ["K", "M", "G", "T", "P"];
    if n < 1024 {
        return format!("{n}B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if v < 10.0 {
        format!("{v:.1}{}", UNITS[unit])
    } else {
        format!("{v:.0}{}", UNITS[unit])
    }
}

/// Bytes with a binary unit: `3.2 GiB`.
pub fn bytes(n: u64) -> String {
    let short = bytes_short(n);
    match short.strip_suffix('B') {
        Some(b) if n < 1024 => format!("{b} B"),
        _ => {
            let (num, unit) = short.split_at(short.len() - 1);
            format!("{num} {unit}iB")
        }
    }
}

/// `strict: runs only git, ls` / `permissive: runs anything but rm` /
/// `permissive: runs anything`.
pub fn policy(p: &PolicyView) -> String {
    let list = |l: &[String]| {
        if l.is_empty() {
            "nothing".to_owned()
        } else {
            l.join(", ")
        }
    };
    match p.mode.as_str() {
        "strict" => format!("strict: runs only {}", list(&p.allowed)),
        "permissive" if p.denied.is_empty() => "permissive: runs anything".to_owned(),
        "permissive" => format!("permissive: runs anything but {}", p.denied.join(", ")),
        other => {
            let mut s = other.to_owned();
            if !p.allowed.is_empty() {
                let _ = write!(s, "; allows {}", p.allowed.join(", "));
            }
            if !p.denied.is_empty() {
                let _ = write!(s, "; denies {}", p.denied.join(", "));
            }
            s
        }
    }
}

/// A health percentage, e.g. `12%`.
fn percent(v: f32) -> String {
    format!("{v:.0}%")
}

fn used_of(used: u64, total: u64) -> String {
    format!("{}/{}", bytes_short(used), bytes_short(total))
}

/// `mosaic node ls`.
pub fn node_table(nodes: &[NodeView], now: DateTime<Utc>) -> String {
    let rows: Vec<Vec<String>> = nodes
        .iter()
        .map(|n| {
            let caps = &n.capabilities;
            let platform = if caps.os.is_empty() && caps.arch.is_empty() {
                "-".to_owned()
            } else {
                format!("{}/{}", caps.os, caps.arch)
            };
            let (cpu, mem) = n.health.as_ref().map_or_else(
                || ("-".to_owned(), "-".to_owned()),
                |h| {
                    (
                        percent(h.cpu_percent),
                        used_of(h.memory_used_bytes, h.memory_total_bytes),
                    )
                },
            );
            vec![
                n.id.clone(),
                n.name.clone(),
                n.status.clone(),
                platform,
                cpu,
                mem,
                n.last_seen_at
                    .map_or_else(|| "never".to_owned(), |t| ago(t, now)),
            ]
        })
        .collect();
    table(
        &["ID", "NAME", "STATUS", "OS/ARCH", "CPU", "MEM", "LAST SEEN"],
        &rows,
    )
}

fn health(out: &mut String, h: &HealthView, now: DateTime<Utc>) {
    let _ = writeln!(out, "health:        reported {}", ago(h.reported_at, now));
    let _ = writeln!(out, "  cpu:         {:.1}%", h.cpu_percent);
    let _ = writeln!(out, "  load:        {:.2}", h.load_average);
    let _ = writeln!(
        out,
        "  memory:      {} of {}",
        bytes(h.memory_used_bytes),
        bytes(h.memory_total_bytes)
    );
    let _ = writeln!(
        out,
        "  disk:        {} of {}",
        bytes(h.disk_used_bytes),
        bytes(h.disk_total_bytes)
    );
    let _ = writeln!(out, "  tasks:       {} running", h.running_tasks);
}

fn list_or_none(l: &[String]) -> String {
    if l.is_empty() {
        "-".to_owned()
    } else {
        l.join(", ")
    }
}

/// `mosaic node show`.
pub fn node_detail(n: &NodeView, now: DateTime<Utc>) -> String {
    let c = &n.capabilities;
    let mut out = String::new();
    let _ = writeln!(out, "id:            {}", n.id);
    let _ = writeln!(out, "name:          {}", n.name);
    let _ = writeln!(out, "owner:         {}", n.owner);
    let _ = writeln!(out, "status:        {}", n.status);
    let _ = writeln!(out, "version:       {}", n.version);
    let _ = writeln!(out, "policy:        {}", policy(&n.policy));
    let _ = writeln!(out, "created:       {}", stamp_ago(Some(n.created_at), now));
    let _ = writeln!(out, "connected:     {}", stamp_ago(n.connected_at, now));
    let _ = writeln!(out, "last seen:     {}", stamp_ago(n.last_seen_at, now));
    let _ = writeln!(out, "hostname:      {}", c.hostname);
    let _ = writeln!(out, "os/arch:       {}/{}", c.os, c.arch);
    let _ = writeln!(out, "cpus:          {}", c.cpus);
    let _ = writeln!(out, "memory:        {}", bytes(c.memory_bytes));
    let _ = writeln!(out, "tools:         {}", list_or_none(&c.tools));
    let _ = writeln!(out, "skills:        {}", list_or_none(&c.skills));
    match &n.health {
        Some(h) => health(&mut out, h, now),
        None => {
            let _ = writeln!(out, "health:        not reported yet");
        }
    }
    out
}

/// `mosaic session ls`.
pub fn session_table(sessions: &[SessionView], now: DateTime<Utc>) -> String {
    let rows: Vec<Vec<String>> = sessions
        .iter()
        .map(|s| {
            vec![
                s.id.clone(),
                s.name.clone(),
                s.status.clone(),
                ago(s.created_at, now),
                list_or_none(&s.nodes),
            ]
        })
        .collect();
    table(&["ID", "NAME", "STATUS", "CREATED", "NODES"], &rows)
}

/// `mosaic session show`; `nodes` are the caller's nodes, to name the
/// attached ones (empty when they could not be listed).
pub fn session_detail(s: &SessionView, nodes: &[NodeView], now: DateTime<Utc>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "id:       {}", s.id);
    let _ = writeln!(out, "name:     {}", s.name);
    let _ = writeln!(out, "owner:    {}", s.owner);
    let _ = writeln!(out, "status:   {}", s.status);
    let _ = writeln!(out, "created:  {}", stamp_ago(Some(s.created_at), now));
    if s.closed_at.is_some() {
        let _ = writeln!(out, "closed:   {}", stamp_ago(s.closed_at, now));
    }
    if s.nodes.is_empty() {
        let _ = writeln!(
            out,
            "nodes:    none (`mosaic session attach {} <node>` adds one)",
            s.id
        );
        return out;
    }
    let _ = writeln!(out, "nodes:    {}", s.nodes.len());
    let rows: Vec<Vec<String>> = s
        .nodes
        .iter()
        .map(|id| match nodes.iter().find(|n| &n.id == id) {
            Some(n) => vec![id.clone(), n.name.clone(), n.status.clone()],
            None => vec![id.clone(), "-".to_owned(), "-".to_owned()],
        })
        .collect();
    for line in table(&["ID", "NAME", "STATUS"], &rows).lines() {
        let _ = writeln!(out, "  {line}");
    }
    out
}

/// `mosaic session logs <session>`.
pub fn task_table(tasks: &[TaskView], now: DateTime<Utc>) -> String {
    let rows: Vec<Vec<String>> = tasks
        .iter()
        .map(|t| {
            vec![
                t.id.clone(),
                t.node_id.clone(),
                t.status.clone(),
                t.exit_code
                    .map_or_else(|| "-".to_owned(), |c| c.to_string()),
                ago(t.created_at, now),
                truncate(&t.command, 60),
            ]
        })
        .collect();
    table(
        &["ID", "NODE", "STATUS", "EXIT", "STARTED", "COMMAND"],
        &rows,
    )
}

/// `mosaic session cancel`.
pub fn cancelled(t: &TaskView) -> String {
    if t.finished() {
        match t.error.as_deref().filter(|e| !e.is_empty()) {
            Some(e) => format!("task {} is {}: {e}", t.id, t.status),
            None => format!("task {} is {}", t.id, t.status),
        }
    } else {
        format!(
            "task {} is {}: cancellation requested (`mosaic session logs {} {} --follow` shows the end)",
            t.id, t.status, t.session_id, t.id
        )
    }
}

/// Quotes a path for a POSIX shell when it needs it.
pub fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./,:=@%+~".contains(c));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// `mosaic node invite`: the token and expiry, then the configuration, or
/// where it was written.
pub fn invite(inv: &InviteResponse, written: Option<&Path>, now: DateTime<Utc>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "invite:   {}", inv.invite_id);
    let _ = writeln!(out, "gateway:  {}", inv.gateway);
    let _ = writeln!(out, "token:    {}  (shown once)", inv.token);
    let _ = writeln!(
        out,
        "expires:  {} ({})",
        stamp(inv.expires_at),
        until(inv.expires_at, now)
    );
    out.push('\n');
    match written {
        Some(path) => {
            let shown = path.display().to_string();
            let _ = writeln!(out, "wrote the node configuration to {shown} (mode 0600)");
            let _ = writeln!(out, "on the node, run:");
            let _ = writeln!(out, "  agent-node --config {}", shell_quote(&shown));
        }
        None => {
            let _ = writeln!(
                out,
                "save this as agent-node.yaml on the node, then run `agent-node --config agent-node.yaml`:"
            );
            out.push('\n');
            out.push_str(&inv.config_yaml);
            if !inv.config_yaml.ends_with('\n') {
                out.push('\n');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use mosaic_types::nodes::CapabilitiesView;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn spans_use_the_largest_unit() {
        let now = at("2026-11-22T10:00:00Z");
        assert_eq!(ago(at("2026-11-22T09:59:48Z"), now), "12s ago");
        assert_eq!(ago(at("2026-11-22T09:55:00Z"), now), "5m ago");
        assert_eq!(ago(at("2026-11-22T07:00:00Z"), now), "3h ago");
        assert_eq!(ago(at("2026-11-20T10:00:00Z"), now), "2d ago");
        // A clock a little ahead of ours.
        assert_eq!(ago(at("2026-11-22T10:00:03Z"), now), "0s ago");
        assert_eq!(until(at("2026-11-22T11:00:00Z"), now), "in 1h");
        assert_eq!(until(at("2026-11-22T09:00:00Z"), now), "expired");
    }

    #[test]
    fn bytes_read_naturally() {
        assert_eq!(bytes_short(512), "512B");
        assert_eq!(bytes_short(1536), "1.5K");
        assert_eq!(bytes_short(3_435_973_837), "3.2G");
        assert_eq!(bytes_short(16 * 1024 * 1024 * 1024), "16G");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(3_435_973_837), "3.2 GiB");
    }

    fn node() -> NodeView {
        NodeView {
            id: "n1".into(),
            name: "builder".into(),
            owner: "alice".into(),
            status: "online".into(),
            version: "0.1.0".into(),
            policy: PolicyView {
                mode: "strict".into(),
                allowed: vec!["git".into(), "ls".into()],
                denied: vec![],
            },
            capabilities: CapabilitiesView {
                os: "linux".into(),
                arch: "x86_64".into(),
                cpus: 8,
                memory_bytes: 16 * 1024 * 1024 * 1024,
                hostname: "box".into(),
                tools: vec!["git".into(), "cargo".into()],
                skills: vec!["shell".into()],
            },
            health: Some(HealthView {
                cpu_percent: 12.4,
                memory_used_bytes: 3_435_973_837,
                memory_total_bytes: 16 * 1024 * 1024 * 1024,
                disk_used_bytes: 10 * 1024 * 1024 * 1024,
                disk_total_bytes: 100 * 1024 * 1024 * 1024,
                running_tasks: 2,
                load_average: 0.5,
                reported_at: at("2026-11-22T09:59:50Z"),
            }),
            last_seen_at: Some(at("2026-11-22T09:59:48Z")),
            connected_at: Some(at("2026-11-22T09:00:00Z")),
            created_at: at("2026-11-20T09:00:00Z"),
        }
    }

    #[test]
    fn node_lists_show_health_and_last_seen() {
        let now = at("2026-11-22T10:00:00Z");
        let mut quiet = node();
        quiet.id = "n2".into();
        quiet.health = None;
        quiet.last_seen_at = None;
        quiet.status = "offline".into();
        let t = node_table(&[node(), quiet], now);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[0],
            "ID  NAME     STATUS   OS/ARCH       CPU  MEM       LAST SEEN"
        );
        assert_eq!(
            lines[1],
            "n1  builder  online   linux/x86_64  12%  3.2G/16G  12s ago"
        );
        assert_eq!(
            lines[2],
            "n2  builder  offline  linux/x86_64  -    -         never"
        );
    }

    #[test]
    fn node_details_cover_every_field() {
        let now = at("2026-11-22T10:00:00Z");
        let d = node_detail(&node(), now);
        for want in [
            "id:            n1",
            "owner:         alice",
            "policy:        strict: runs only git, ls",
            "last seen:     2026-11-22 09:59:48 UTC (12s ago)",
            "os/arch:       linux/x86_64",
            "memory:        16 GiB",
            "tools:         git, cargo",
            "skills:        shell",
            "health:        reported 10s ago",
            "  memory:      3.2 GiB of 16 GiB",
            "  tasks:       2 running",
        ] {
            assert!(d.contains(want), "missing {want:?} in\n{d}");
        }
        let mut n = node();
        n.health = None;
        n.policy = PolicyView {
            mode: "permissive".into(),
            ..PolicyView::default()
        };
        let d = node_detail(&n, now);
        assert!(d.contains("health:        not reported yet"), "{d}");
        assert!(
            d.contains("policy:        permissive: runs anything\n"),
            "{d}"
        );
        n.policy.denied = vec!["rm".into(), "dd".into()];
        let d = node_detail(&n, now);
        assert!(d.contains("permissive: runs anything but rm, dd"), "{d}");
    }

    #[test]
    fn invites_show_the_token_and_where_the_config_went() {
        let inv = InviteResponse {
            invite_id: "i1".into(),
            token: "tok".into(),
            expires_at: at("2026-11-22T11:00:00Z"),
            gateway: "https://gw:7443".into(),
            config_yaml: "gateway: https://gw:7443\n".into(),
        };
        let now = at("2026-11-22T10:00:00Z");
        let printed = invite(&inv, None, now);
        assert!(printed.contains("token:    tok  (shown once)"), "{printed}");
        assert!(printed.contains("expires:  2026-11-22 11:00:00 UTC (in 1h)"));
        assert!(
            printed.ends_with("\ngateway: https://gw:7443\n"),
            "{printed}"
        );
        let written = invite(&inv, Some(Path::new("my node.yaml")), now);
        assert!(
            written.contains("agent-node --config 'my node.yaml'"),
            "{written}"
        );
        assert!(!written.contains("gateway: https://gw:7443\n"), "{written}");
    }

    #[test]
    fn quoting_is_only_added_when_needed() {
        assert_eq!(
            shell_quote("/etc/mosaic/node.yaml"),
            "/etc/mosaic/node.yaml"
        );
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn task_tables_and_cancellations_read_well() {
        let now = at("2026-11-22T10:00:00Z");
        let t = TaskView {
            id: "t1".into(),
            session_id: "s1".into(),
            node_id: "n1".into(),
            command: "cargo test".into(),
            cwd: None,
            status: "running".into(),
            exit_code: None,
            error: None,
            duration_ms: None,
            created_at: at("2026-11-22T09:58:00Z"),
            finished_at: None,
        };
        let table = task_table(std::slice::from_ref(&t), now);
        assert_eq!(
            table.lines().nth(1),
            Some("t1  n1    running  -     2m ago   cargo test")
        );
        assert!(cancelled(&t).contains("cancellation requested"));
        let done = TaskView {
            status: "cancelled".into(),
            ..t
        };
        assert_eq!(cancelled(&done), "task t1 is cancelled");
    }
}
