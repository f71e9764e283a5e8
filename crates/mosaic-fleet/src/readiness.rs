//! Classifying an agent's readiness from its liveness, heartbeat and how long
//! its pane has been quiet.
//!
//! Liveness comes first: no session or a dead pane is `dead`, a session
//! without a heartbeat is `unknown`, a heartbeat older than the stale
//! threshold is `stale`. A live agent that says it is busy, or whose idle
//! time is unknown, is `working`; one quiet for at least the idle threshold
//! is `available`. A long idle is never `stuck`: `stuck` is reserved for
//! positive evidence of a block.

use serde::{Deserialize, Serialize};

/// Seconds of pane quiet before a live agent counts as available.
pub const DEFAULT_IDLE_THRESHOLD: u64 = 300;
/// Seconds without a heartbeat before a live agent counts as stale.
pub const DEFAULT_STALE_THRESHOLD: u64 = 90;
/// Overrides [`DEFAULT_IDLE_THRESHOLD`] with a positive integer.
pub const IDLE_THRESHOLD_ENV: &str = "MOSAIC_HEARTBEAT_IDLE_THRESHOLD";
/// Overrides [`DEFAULT_STALE_THRESHOLD`] with a positive integer.
pub const STALE_THRESHOLD_ENV: &str = "MOSAIC_HEARTBEAT_STALE_THRESHOLD";

/// Whether the agent is there at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Liveness {
    /// Session and pane alive, heartbeat fresh.
    Healthy,
    /// No session, or its pane has exited.
    Dead,
    /// Alive, but the heartbeat is older than the stale threshold.
    Stale,
    /// Alive, and no heartbeat at all.
    Unknown,
}

/// What an agent can do for you now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Readiness {
    /// Busy, or active within the idle threshold.
    Working,
    /// Alive and quiet: ready for work.
    Available,
    /// Reserved for positive evidence of a block; never inferred from idle.
    Stuck,
    /// Heartbeat too old.
    Stale,
    /// Not running.
    Dead,
    /// Running without a heartbeat.
    Unknown,
}

impl Readiness {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Readiness::Working => "working",
            Readiness::Available => "available",
            Readiness::Stuck => "stuck",
            Readiness::Stale => "stale",
            Readiness::Dead => "dead",
            Readiness::Unknown => "unknown",
        }
    }
}

/// Total and pure: every input has an answer.
pub fn classify(
    liveness: Liveness,
    busy: bool,
    idle_seconds: Option<f64>,
    threshold: u64,
) -> Readiness {
    match liveness {
        Liveness::Dead => return Readiness::Dead,
        Liveness::Unknown => return Readiness::Unknown,
        Liveness::Stale => return Readiness::Stale,
        Liveness::Healthy => {}
    }
    match idle_seconds {
        _ if busy => Readiness::Working,
        Some(idle) if idle.is_finite() && idle >= threshold as f64 => Readiness::Available,
        _ => Readiness::Working,
    }
}

/// A threshold from an environment value: a positive integer, else `default`.
pub fn threshold_from(value: Option<&str>, default: u64) -> u64 {
    value
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|&v| v > 0)
        .unwrap_or(default)
}

/// The idle threshold from [`IDLE_THRESHOLD_ENV`].
pub fn idle_threshold() -> u64 {
    threshold_from(
        std::env::var(IDLE_THRESHOLD_ENV).ok().as_deref(),
        DEFAULT_IDLE_THRESHOLD,
    )
}

/// The stale threshold from [`STALE_THRESHOLD_ENV`].
pub fn stale_threshold() -> u64 {
    threshold_from(
        std::env::var(STALE_THRESHOLD_ENV).ok().as_deref(),
        DEFAULT_STALE_THRESHOLD,
    )
}
