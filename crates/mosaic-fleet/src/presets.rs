//! The shipped roster presets, compiled into the binary.
//!
//! Every preset but `minimal` keeps the two-agent floor: exactly one
//! orchestrator (R5) and at least one enhancer. Workers run `pi` with the
//! default worker model; the floor runs Claude Code.

use crate::error::{Error, Result};
use crate::roster::{Roster, count_enhancers, count_orchestrators};
use std::fmt;
use std::str::FromStr;

/// A shipped preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Preset {
    /// The floor and one generalist.
    General,
    /// The floor, two implementers and a reviewer.
    Coding,
    /// The floor, two researchers and an analyst.
    Research,
    /// The floor, an implementer, a researcher and a reviewer.
    Hybrid,
    /// One worker and no orchestrator: the sanctioned exception to the floor.
    Minimal,
    /// The floor and a canary, all running the stand-in agent.
    LocalCanary,
}

impl Preset {
    /// Every preset.
    pub const ALL: [Preset; 6] = [
        Preset::General,
        Preset::Coding,
        Preset::Research,
        Preset::Hybrid,
        Preset::Minimal,
        Preset::LocalCanary,
    ];

    /// The preset's name (`--profile` value and file stem).
    pub fn name(self) -> &'static str {
        match self {
            Preset::General => "general",
            Preset::Coding => "coding",
            Preset::Research => "research",
            Preset::Hybrid => "hybrid",
            Preset::Minimal => "minimal",
            Preset::LocalCanary => "local-canary",
        }
    }

    /// The preset as shipped, comments included.
    pub fn yaml(self) -> &'static str {
        match self {
            Preset::General => include_str!("../assets/examples/general.yaml"),
            Preset::Coding => include_str!("../assets/examples/coding.yaml"),
            Preset::Research => include_str!("../assets/examples/research.yaml"),
            Preset::Hybrid => include_str!("../assets/examples/hybrid.yaml"),
            Preset::Minimal => include_str!("../assets/examples/minimal.yaml"),
            Preset::LocalCanary => include_str!("../assets/examples/local-canary.yaml"),
        }
    }

    /// The preset parsed.
    pub fn roster(self) -> Result<Roster> {
        Roster::from_yaml(self.yaml(), &format!("preset {}", self.name()))
    }

    /// Whether this preset must keep the two-agent floor.
    pub fn keeps_floor(self) -> bool {
        self != Preset::Minimal
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Preset {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Preset::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| Error::UnknownPreset(s.to_owned()))
    }
}

/// What [`check_floor`] found in a roster made from a preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FloorSummary {
    /// Agents in total.
    pub agents: usize,
    /// Orchestrators.
    pub orchestrators: usize,
    /// Enhancers.
    pub enhancers: usize,
}

impl FloorSummary {
    /// Agents that are neither orchestrator nor enhancer.
    pub fn workers(&self) -> usize {
        self.agents - self.orchestrators - self.enhancers
    }
}

/// Checks the two-agent floor for a roster initialised from `profile`:
/// exactly one orchestrator and at least one enhancer, unless the profile is
/// `minimal`.
pub fn check_floor(profile: &str, roster: &Roster) -> Result<FloorSummary> {
    let summary = FloorSummary {
        agents: roster.agents.len(),
        orchestrators: count_orchestrators(roster),
        enhancers: count_enhancers(roster),
    };
    if profile == Preset::Minimal.name() {
        return Ok(summary);
    }
    if summary.orchestrators != 1 {
        return Err(Error::OrchestratorCount {
            profile: profile.to_owned(),
            count: summary.orchestrators,
        });
    }
    if summary.enhancers < 1 {
        return Err(Error::NoEnhancer(profile.to_owned()));
    }
    Ok(summary)
}

/// The line `fleet init` prints after writing a roster.
pub fn init_summary(profile: &str, summary: &FloorSummary) -> String {
    if profile == Preset::Minimal.name() {
        format!(
            "Initialized {profile} fleet: {} agent(s) (no orchestrator). Next: mosaic fleet install",
            summary.agents
        )
    } else {
        format!(
            "Initialized {profile} fleet: 1 orchestrator + {} enhancer(s) + {} worker(s). Next: mosaic fleet install",
            summary.enhancers,
            summary.workers()
        )
    }
}
