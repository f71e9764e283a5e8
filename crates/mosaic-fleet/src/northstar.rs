//! `NORTH_STAR.yaml`, the fleet's machine-readable goals, and its Markdown
//! projection. The projection is pure and deterministic: the same YAML always
//! renders the same bytes, so a test can keep the committed Markdown current.

use crate::error::{Error, Result};
use serde::Deserialize;
use std::fmt::Write as _;

/// The north star.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NorthStar {
    /// Format version; only `1`.
    pub version: u32,
    /// What the system is for.
    pub mission: String,
    /// What it is built on.
    pub substrate: Substrate,
    /// Standing objectives (`NS-n`).
    pub standing_objectives: Vec<Item>,
    /// Success criteria (`AC-NS-n`).
    pub success_criteria: Vec<Item>,
    /// Workstreams.
    pub workstreams: Vec<Workstream>,
    /// Goals: the backlog projection.
    pub goals: Vec<Goal>,
    /// Assumptions (`ASM-n`).
    pub assumptions: Vec<Assumption>,
    /// Spend policy.
    pub spend: Spend,
}

/// `substrate:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Substrate {
    /// The note.
    pub note: String,
}

/// An objective or criterion.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// Its id.
    pub id: String,
    /// Its text.
    pub text: String,
}

/// A workstream.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workstream {
    /// Its id.
    pub id: String,
    /// Its title.
    pub title: String,
}

/// A goal.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Goal {
    /// Its id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its phase.
    pub phase: u32,
    /// `must-have` or `should-have`.
    pub priority: String,
    /// Goals it waits for.
    #[serde(default)]
    pub depends_on: Vec<String>,
}

/// An assumption.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assumption {
    /// Its id.
    pub id: String,
    /// Whether the board may veto it.
    pub vetoable: bool,
    /// Its text.
    pub text: String,
}

/// `spend:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spend {
    /// Spend is tracked, not enforced.
    pub advisory: bool,
    /// The note.
    pub note: String,
}

impl NorthStar {
    /// Parses the YAML; `origin` names it in errors.
    pub fn parse(yaml: &str, origin: &str) -> Result<NorthStar> {
        let ns: NorthStar =
            serde_norway::from_str(yaml).map_err(|e| Error::invalid(origin, e.to_string()))?;
        if ns.version != 1 {
            return Err(Error::invalid(
                origin,
                format!("version {} is not supported; expected 1", ns.version),
            ));
        }
        let ids: Vec<&str> = ns.goals.iter().map(|g| g.id.as_str()).collect();
        for goal in &ns.goals {
            for dep in &goal.depends_on {
                if !ids.contains(&dep.as_str()) {
                    return Err(Error::invalid(
                        origin,
                        format!("goal {} depends on {dep}, which is not a goal", goal.id),
                    ));
                }
            }
        }
        Ok(ns)
    }
}

/// Folds whitespace runs (line breaks included) into single spaces.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A Markdown table with every column padded to its widest cell (at least
/// three wide, the separator's minimum).
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count())
                .chain([header[c].chars().count(), 3])
                .max()
                .unwrap_or(3)
        })
        .collect();
    let render = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        format!("| {} |\n", padded.join(" | "))
    };
    let mut out = render(header.iter().map(|h| (*h).to_owned()).collect());
    out.push_str(&render(widths.iter().map(|w| "-".repeat(*w)).collect()));
    for row in rows {
        out.push_str(&render(row.clone()));
    }
    out
}

/// The Markdown projection of `ns`. `source` names the YAML in the
/// generated-file notice.
pub fn render_markdown(ns: &NorthStar) -> String {
    let mut md = String::new();
    md.push_str("# Mosaic Fleet — NORTH STAR\n\n");
    md.push_str("> **Generated file — do not edit by hand.**\n");
    md.push_str("> Projected deterministically from [`NORTH_STAR.yaml`](./NORTH_STAR.yaml) by\n");
    md.push_str("> `mosaic fleet north-star` (`mosaic_fleet::northstar::render_markdown`).\n");
    md.push_str("> Edit the YAML, then regenerate.\n\n");
    let _ = write!(md, "## Mission\n\n{}\n\n", one_line(&ns.mission));
    let _ = write!(md, "## Substrate\n\n{}\n\n", one_line(&ns.substrate.note));
    md.push_str("## Standing objectives\n\n");
    for item in &ns.standing_objectives {
        let _ = writeln!(md, "- **{}** — {}", item.id, one_line(&item.text));
    }
    md.push_str("\n## Success criteria\n\n");
    for item in &ns.success_criteria {
        let _ = writeln!(md, "- **{}** — {}", item.id, one_line(&item.text));
    }
    md.push_str("\n## Workstreams\n\n");
    let rows: Vec<Vec<String>> = ns
        .workstreams
        .iter()
        .map(|w| vec![w.id.clone(), one_line(&w.title)])
        .collect();
    md.push_str(&table(&["id", "title"], &rows));
    md.push_str("\n## Goals (backlog projection)\n\n");
    let rows: Vec<Vec<String>> = ns
        .goals
        .iter()
        .map(|g| {
            vec![
                g.id.clone(),
                one_line(&g.title),
                g.phase.to_string(),
                g.priority.clone(),
                if g.depends_on.is_empty() {
                    "—".to_owned()
                } else {
                    g.depends_on.join(", ")
                },
            ]
        })
        .collect();
    md.push_str(&table(
        &["id", "title", "phase", "priority", "depends_on"],
        &rows,
    ));
    md.push_str("\n## Assumptions (vetoable)\n\n");
    for a in &ns.assumptions {
        let veto = if a.vetoable { "vetoable" } else { "fixed" };
        let _ = writeln!(md, "- **{}** ({veto}) — {}", a.id, one_line(&a.text));
    }
    md.push_str("\n## Spend\n\n");
    let _ = writeln!(md, "- **advisory:** {}", ns.spend.advisory);
    let _ = writeln!(md, "- {}", one_line(&ns.spend.note));
    md
}
