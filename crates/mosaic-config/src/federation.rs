//! `[federation]`: how the serving side of federation records and meters
//! the requests peers make.

use serde::{Deserialize, Serialize};
use std::num::{NonZeroU32, NonZeroUsize};

const fn nz32(v: u32) -> NonZeroU32 {
    match NonZeroU32::new(v) {
        Some(v) => v,
        None => NonZeroU32::MIN,
    }
}

const fn nzu(v: usize) -> NonZeroUsize {
    match NonZeroUsize::new(v) {
        Some(v) => v,
        None => NonZeroUsize::MIN,
    }
}

/// The serving side of federation (`[federation]`, `MOSAIC_FEDERATION__*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FederationSettings {
    /// Days an audit row is kept; older rows are pruned in the background.
    pub audit_retention_days: NonZeroU32,
    /// Audit rows waiting to be written at most. When the queue is full,
    /// requests wait for room (back-pressure); no row is dropped.
    pub audit_queue_capacity: NonZeroUsize,
    /// The rate limit of grants whose scope sets none
    /// (`[federation.default_rate_limit]`).
    pub default_rate_limit: RateLimitSettings,
}

/// A request budget: a sustained rate and a burst above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RateLimitSettings {
    /// Sustained requests per minute.
    pub requests_per_minute: NonZeroU32,
    /// Requests that may come at once before the sustained rate applies.
    pub burst: NonZeroU32,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            requests_per_minute: nz32(600),
            burst: nz32(60),
        }
    }
}

impl Default for FederationSettings {
    fn default() -> Self {
        Self {
            audit_retention_days: nz32(90),
            audit_queue_capacity: nzu(10_000),
            default_rate_limit: RateLimitSettings::default(),
        }
    }
}
