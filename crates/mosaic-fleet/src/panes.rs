//! Parsing what tmux prints for `fleet ps`.

use serde::Serialize;

/// One pane as `list-panes -F` [`crate::tmux::PANE_FORMAT`] describes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PaneInfo {
    /// The pane's first process.
    pub pid: Option<u32>,
    /// The pane's foreground program.
    pub current_command: String,
    /// Whether the pane's program has exited (with `remain-on-exit`).
    pub dead: bool,
    /// Seconds since the pane last showed activity, from the first valid of
    /// pane, window and session activity; `None` when none is valid.
    pub idle_seconds: Option<f64>,
}

/// The first valid activity timestamp of `candidates` (non-empty, finite,
/// positive), in order.
pub fn first_activity(candidates: &[&str]) -> Option<f64> {
    candidates.iter().find_map(|raw| {
        let ts: f64 = raw.trim().parse().ok()?;
        (ts.is_finite() && ts > 0.0).then_some(ts)
    })
}

/// Idle seconds from pane, window and session activity at time `now`: the
/// first valid timestamp wins; a timestamp in the future counts as 0.
pub fn idle_seconds(pane: &str, window: &str, session: &str, now: f64) -> Option<f64> {
    first_activity(&[pane, window, session]).map(|ts| (now - ts).max(0.0))
}

/// Parses the first line of `list-panes` output. Fields are split on single
/// spaces so empty fields keep their place; a command name containing
/// spaces is taken whole, since the other fields are counted from both ends.
pub fn parse_list_panes(stdout: &str, now: f64) -> Option<PaneInfo> {
    let line = stdout.lines().find(|l| !l.trim().is_empty())?;
    let fields: Vec<&str> = line.split(' ').collect();
    if fields.len() < 6 {
        return None;
    }
    let n = fields.len();
    let (pid, dead, pane, window, session) = (
        fields[0],
        fields[n - 4],
        fields[n - 3],
        fields[n - 2],
        fields[n - 1],
    );
    Some(PaneInfo {
        pid: pid.trim().parse().ok(),
        current_command: fields[1..n - 4].join(" "),
        dead: dead.trim() == "1",
        idle_seconds: idle_seconds(pane, window, session, now),
    })
}

/// Session names from `list-sessions -F '#{session_name}'`.
pub fn parse_sessions(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}
