//! Request budgets of grants: what a grant may spend, and whether a request
//! fits now or must wait.
//!
//! A grant's budget is its scope's `rate_limit` (`burst` absent: equal to the
//! per-minute rate) or, when the scope sets none, the serving gateway's
//! default ([`EffectiveQuota::of_context`]). [`GrantLimiters`] holds one GCRA
//! limiter (the `governor` crate) per grant id: a request either fits, or is
//! [`RateLimited`] with the wait until it would. A grant whose budget changes
//! (its scope was edited) gets a fresh limiter under the new budget. Idle
//! limiters, those back at their full burst and so equal to a new one, are
//! evicted as the map grows, so it holds about the grants in recent use.
//!
//! Limits are per process: gateways sharing a database each keep their own
//! limiters.
//!
//! ```
//! use mosaic_federation::limit::{EffectiveQuota, GrantLimiters, GrantQuota};
//! use mosaic_types::{GrantId, RateLimitSource};
//! use std::num::NonZeroU32;
//!
//! let two = NonZeroU32::new(2).unwrap();
//! let limiters = GrantLimiters::new(GrantQuota::new(two, NonZeroU32::MIN));
//! let grant = GrantId::new("g-1").unwrap();
//! let quota = EffectiveQuota { quota: limiters.default_quota(), source: RateLimitSource::Default };
//! assert!(limiters.check_grant(&grant, quota).is_ok());
//! let limited = limiters.check_grant(&grant, quota).unwrap_err();
//! assert_eq!(limited.retry_after_secs(), 30);
//! ```

use governor::clock::{Clock, DefaultClock, Reference};
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use mosaic_scope::{FederationContext, FederationScope, RateLimit, parse_scope};
use mosaic_types::{ErrorCode, ErrorEnvelope, FederationRateLimit, GrantId, RateLimitSource};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// A request budget: a sustained rate and a burst above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GrantQuota {
    requests_per_minute: NonZeroU32,
    burst: NonZeroU32,
}

impl GrantQuota {
    /// `requests_per_minute` sustained, `burst` at once.
    pub const fn new(requests_per_minute: NonZeroU32, burst: NonZeroU32) -> Self {
        Self {
            requests_per_minute,
            burst,
        }
    }

    /// A scope's `rate_limit`; `burst` absent is the per-minute rate. `None`
    /// for a zero, which a parsed scope never holds.
    pub fn from_scope(limit: &RateLimit) -> Option<Self> {
        let requests_per_minute = NonZeroU32::new(limit.requests_per_minute)?;
        let burst = match limit.burst {
            Some(burst) => NonZeroU32::new(burst)?,
            None => requests_per_minute,
        };
        Some(Self::new(requests_per_minute, burst))
    }

    /// Sustained requests per minute.
    pub const fn requests_per_minute(&self) -> NonZeroU32 {
        self.requests_per_minute
    }

    /// Requests that may come at once.
    pub const fn burst(&self) -> NonZeroU32 {
        self.burst
    }

    fn gcra(&self) -> Quota {
        Quota::per_minute(self.requests_per_minute).allow_burst(self.burst)
    }
}

/// A grant's budget in force, and where it comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EffectiveQuota {
    /// The budget.
    pub quota: GrantQuota,
    /// The grant's own, or the gateway's default.
    pub source: RateLimitSource,
}

impl EffectiveQuota {
    /// The budget of a grant with `scope`: its `rate_limit`, else `default`.
    pub fn of(scope: &FederationScope, default: GrantQuota) -> Self {
        match scope.rate_limit.as_ref().and_then(GrantQuota::from_scope) {
            Some(quota) => Self {
                quota,
                source: RateLimitSource::Grant,
            },
            None => Self {
                quota: default,
                source: RateLimitSource::Default,
            },
        }
    }

    /// The budget of the grant a request runs under. A stored scope that does
    /// not parse gets `default`: its requests are counted like any other, and
    /// every verb refuses them.
    pub fn of_context(context: &FederationContext, default: GrantQuota) -> Self {
        match parse_scope(&context.scope) {
            Ok(scope) => Self::of(&scope, default),
            Err(_) => Self {
                quota: default,
                source: RateLimitSource::Default,
            },
        }
    }

    /// As capabilities advertise it.
    pub fn advertised(&self) -> FederationRateLimit {
        FederationRateLimit {
            requests_per_minute: self.quota.requests_per_minute.get(),
            burst: self.quota.burst.get(),
            source: self.source,
        }
    }
}

/// A request over its grant's budget, and how long until one would fit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub struct RateLimited {
    /// The grant.
    pub grant_id: GrantId,
    /// Its budget.
    pub limit: EffectiveQuota,
    /// Until the next request fits.
    pub wait: Duration,
}

impl RateLimited {
    /// The wait in whole seconds, rounded up, at least 1: what `Retry-After`
    /// says.
    pub fn retry_after_secs(&self) -> u64 {
        let whole = self.wait.as_secs() + u64::from(self.wait.subsec_nanos() > 0);
        whole.max(1)
    }

    /// Which budget, and when to come back.
    pub fn message(&self) -> String {
        let q = self.limit.quota;
        let whose = match self.limit.source {
            RateLimitSource::Grant => "",
            RateLimitSource::Default => ", this gateway's default",
        };
        format!(
            "grant {} is limited to {} requests a minute (burst {}{whose}): retry in {} s",
            self.grant_id,
            q.requests_per_minute,
            q.burst,
            self.retry_after_secs()
        )
    }

    /// The error envelope: `rate_limited`, the message, and details
    /// `{"retryAfterSeconds", "requestsPerMinute", "burst"}`.
    pub fn envelope(&self) -> ErrorEnvelope {
        ErrorEnvelope::new(ErrorCode::RateLimited, self.message()).with_details(serde_json::json!({
            "retryAfterSeconds": self.retry_after_secs(),
            "requestsPerMinute": self.limit.quota.requests_per_minute.get(),
            "burst": self.limit.quota.burst.get(),
        }))
    }
}

/// Entries below which the map is never swept.
const MIN_SWEEP: usize = 1024;

type Gcra<C> = RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<<C as Clock>::Instant>>;

struct Entry<C: Clock> {
    quota: GrantQuota,
    limiter: Gcra<C>,
    /// When a request last fitted: the limiter is full again one whole
    /// refill after it.
    last_allowed: C::Instant,
}

struct Limiters<C: Clock> {
    by_grant: HashMap<GrantId, Entry<C>>,
    /// Size at which the next insertion sweeps idle entries first.
    sweep_at: usize,
}

/// One GCRA limiter per grant id, each under its grant's budget.
pub struct GrantLimiters<C: Clock = DefaultClock> {
    default: GrantQuota,
    clock: C,
    state: Mutex<Limiters<C>>,
}

impl<C: Clock + Clone> std::fmt::Debug for GrantLimiters<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrantLimiters")
            .field("default", &self.default)
            .field("grants", &self.len())
            .finish_non_exhaustive()
    }
}

impl GrantLimiters {
    /// Limiters on the monotonic clock; `default` for grants whose scope sets
    /// no budget.
    pub fn new(default: GrantQuota) -> Self {
        Self::with_clock(default, DefaultClock::default())
    }
}

/// The time a limiter needs to refill from empty: after it, with no request
/// in between, it is equal to a new one.
fn refill(quota: GrantQuota) -> Nanos {
    Nanos::from(quota.gcra().burst_size_replenished_in())
}

impl<C: Clock + Clone> GrantLimiters<C> {
    /// Limiters reading time from `clock` (tests advance a fake one).
    pub fn with_clock(default: GrantQuota, clock: C) -> Self {
        Self {
            default,
            clock,
            state: Mutex::new(Limiters {
                by_grant: HashMap::new(),
                sweep_at: MIN_SWEEP,
            }),
        }
    }

    /// The budget of grants whose scope sets none.
    pub fn default_quota(&self) -> GrantQuota {
        self.default
    }

    /// Counts a request of the grant in `context` against its budget.
    pub fn check(&self, context: &FederationContext) -> Result<EffectiveQuota, RateLimited> {
        let limit = EffectiveQuota::of_context(context, self.default);
        self.check_grant(&context.grant_id, limit)?;
        Ok(limit)
    }

    /// Counts a request of `grant` under `limit`. A grant seen before under
    /// another budget starts afresh under this one.
    pub fn check_grant(&self, grant: &GrantId, limit: EffectiveQuota) -> Result<(), RateLimited> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let now = self.clock.now();
        if !state.by_grant.contains_key(grant) && state.by_grant.len() >= state.sweep_at {
            Self::sweep(&mut state.by_grant, now);
            state.sweep_at = MIN_SWEEP.max(state.by_grant.len() * 2);
        }
        let entry = state
            .by_grant
            .entry(grant.clone())
            .and_modify(|e| {
                if e.quota != limit.quota {
                    *e = self.entry(limit.quota, now);
                }
            })
            .or_insert_with(|| self.entry(limit.quota, now));
        match entry.limiter.check() {
            Ok(()) => {
                entry.last_allowed = now;
                Ok(())
            }
            Err(not_until) => Err(RateLimited {
                grant_id: grant.clone(),
                limit,
                wait: not_until.wait_time_from(now),
            }),
        }
    }

    fn entry(&self, quota: GrantQuota, now: C::Instant) -> Entry<C> {
        Entry {
            quota,
            limiter: RateLimiter::direct_with_clock(quota.gcra(), self.clock.clone()),
            last_allowed: now,
        }
    }

    fn sweep(by_grant: &mut HashMap<GrantId, Entry<C>>, now: C::Instant) {
        by_grant.retain(|_, e| now.duration_since(e.last_allowed) < refill(e.quota));
    }

    /// Drops the limiters that are back at their full burst; returns how
    /// many remain.
    pub fn evict_idle(&self) -> usize {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let now = self.clock.now();
        Self::sweep(&mut state.by_grant, now);
        state.by_grant.len()
    }

    /// Grants with a limiter.
    pub fn len(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .by_grant
            .len()
    }

    /// Whether no grant has a limiter.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use governor::clock::FakeRelativeClock;
    use mosaic_types::{PeerId, UserId};
    use serde_json::json;

    fn nz(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    fn quota(rpm: u32, burst: u32) -> GrantQuota {
        GrantQuota::new(nz(rpm), nz(burst))
    }

    fn grant(id: &str) -> GrantId {
        GrantId::new(id).unwrap()
    }

    fn context(id: &str, scope: serde_json::Value) -> FederationContext {
        FederationContext {
            grant_id: grant(id),
            peer_id: PeerId::new("p-1").unwrap(),
            subject_user_id: UserId::new("alice").unwrap(),
            scope,
        }
    }

    fn limiters(default: GrantQuota) -> (GrantLimiters<FakeRelativeClock>, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        (GrantLimiters::with_clock(default, clock.clone()), clock)
    }

    #[test]
    fn the_budget_is_the_grants_own_else_the_default() {
        let default = quota(600, 60);
        let cases = [
            (
                json!({"resources": ["tasks"], "max_rows_per_query": 5, "rate_limit": {"requests_per_minute": 2, "burst": 1}}),
                quota(2, 1),
                RateLimitSource::Grant,
            ),
            (
                json!({"resources": ["tasks"], "max_rows_per_query": 5, "rate_limit": {"requests_per_minute": 30}}),
                quota(30, 30),
                RateLimitSource::Grant,
            ),
            (
                json!({"resources": ["tasks"], "max_rows_per_query": 5}),
                default,
                RateLimitSource::Default,
            ),
            (
                json!({"resources": "nope"}),
                default,
                RateLimitSource::Default,
            ),
        ];
        for (scope, want, source) in cases {
            let got = EffectiveQuota::of_context(&context("g", scope.clone()), default);
            assert_eq!((got.quota, got.source), (want, source), "{scope}");
        }
        let advertised = EffectiveQuota {
            quota: quota(2, 1),
            source: RateLimitSource::Grant,
        }
        .advertised();
        assert_eq!(
            serde_json::to_value(advertised).unwrap(),
            json!({"requests_per_minute": 2, "burst": 1, "source": "grant"})
        );
    }

    #[test]
    fn two_a_minute_with_burst_one_waits_thirty_seconds() {
        let (limiters, clock) = limiters(quota(600, 60));
        let ctx = context(
            "g-1",
            json!({"resources": ["tasks"], "max_rows_per_query": 5, "rate_limit": {"requests_per_minute": 2, "burst": 1}}),
        );
        assert_eq!(limiters.check(&ctx).unwrap().quota, quota(2, 1));
        clock.advance(Duration::from_millis(10));
        let limited = limiters.check(&ctx).unwrap_err();
        assert_eq!(limited.wait, Duration::from_millis(29_990));
        assert_eq!(limited.retry_after_secs(), 30);
        // Refused requests spend nothing: the wait only shrinks.
        clock.advance(Duration::from_secs(20));
        assert_eq!(limiters.check(&ctx).unwrap_err().retry_after_secs(), 10);
        clock.advance(Duration::from_millis(9_990));
        assert!(limiters.check(&ctx).is_ok(), "fits once the wait is over");
        assert!(limiters.check(&ctx).is_err());
    }

    #[test]
    fn a_burst_passes_at_once_then_the_sustained_rate_applies() {
        let (limiters, clock) = limiters(quota(60, 3));
        let limit = EffectiveQuota {
            quota: limiters.default_quota(),
            source: RateLimitSource::Default,
        };
        let g = grant("g-1");
        for i in 0..3 {
            assert!(limiters.check_grant(&g, limit).is_ok(), "request {i}");
        }
        let limited = limiters.check_grant(&g, limit).unwrap_err();
        assert_eq!(limited.wait, Duration::from_secs(1));
        clock.advance(Duration::from_secs(1));
        assert!(limiters.check_grant(&g, limit).is_ok());
        assert!(limiters.check_grant(&g, limit).is_err());
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up_and_at_least_one() {
        let limit = EffectiveQuota {
            quota: quota(2, 1),
            source: RateLimitSource::Grant,
        };
        for (wait, secs) in [
            (Duration::ZERO, 1),
            (Duration::from_millis(1), 1),
            (Duration::from_secs(1), 1),
            (Duration::from_millis(1_001), 2),
            (Duration::from_millis(29_001), 30),
            (Duration::from_secs(30), 30),
        ] {
            let limited = RateLimited {
                grant_id: grant("g"),
                limit,
                wait,
            };
            assert_eq!(limited.retry_after_secs(), secs, "{wait:?}");
        }
    }

    #[test]
    fn the_refusal_names_the_budget_and_the_wait() {
        let (limiters, _clock) = limiters(quota(3, 2));
        let limit = EffectiveQuota {
            quota: limiters.default_quota(),
            source: RateLimitSource::Default,
        };
        let g = grant("g-7");
        limiters.check_grant(&g, limit).unwrap();
        limiters.check_grant(&g, limit).unwrap();
        let limited = limiters.check_grant(&g, limit).unwrap_err();
        let envelope = serde_json::to_value(limited.envelope()).unwrap();
        assert_eq!(
            envelope,
            json!({"error": {
                "code": "rate_limited",
                "message": "grant g-7 is limited to 3 requests a minute (burst 2, this gateway's default): retry in 20 s",
                "details": {"retryAfterSeconds": 20, "requestsPerMinute": 3, "burst": 2}
            }})
        );
        let own = RateLimited {
            limit: EffectiveQuota {
                source: RateLimitSource::Grant,
                ..limit
            },
            ..limited
        };
        assert_eq!(
            own.to_string(),
            "grant g-7 is limited to 3 requests a minute (burst 2): retry in 20 s"
        );
    }

    #[test]
    fn grants_do_not_share_a_budget() {
        let (limiters, _clock) = limiters(quota(2, 1));
        let limit = EffectiveQuota {
            quota: limiters.default_quota(),
            source: RateLimitSource::Default,
        };
        limiters.check_grant(&grant("a"), limit).unwrap();
        assert!(limiters.check_grant(&grant("a"), limit).is_err());
        assert!(limiters.check_grant(&grant("b"), limit).is_ok());
    }

    #[test]
    fn a_changed_budget_gets_a_fresh_limiter() {
        let (limiters, _clock) = limiters(quota(600, 60));
        let tight = json!({"resources": ["tasks"], "max_rows_per_query": 5, "rate_limit": {"requests_per_minute": 2, "burst": 1}});
        let loose = json!({"resources": ["tasks"], "max_rows_per_query": 5, "rate_limit": {"requests_per_minute": 60, "burst": 5}});
        limiters.check(&context("g", tight.clone())).unwrap();
        assert!(limiters.check(&context("g", tight)).is_err());
        for i in 0..5 {
            assert!(limiters.check(&context("g", loose.clone())).is_ok(), "{i}");
        }
        let limited = limiters.check(&context("g", loose)).unwrap_err();
        assert_eq!(limited.limit.quota, quota(60, 5));
        assert_eq!(limiters.len(), 1);
    }

    #[test]
    fn limiters_back_at_full_burst_are_evicted() {
        let (limiters, clock) = limiters(quota(60, 10));
        let limit = EffectiveQuota {
            quota: limiters.default_quota(),
            source: RateLimitSource::Default,
        };
        limiters.check_grant(&grant("old"), limit).unwrap();
        clock.advance(Duration::from_secs(9));
        limiters.check_grant(&grant("new"), limit).unwrap();
        // "old" refilled its 10-request burst in 10 s; "new" has not.
        clock.advance(Duration::from_secs(1));
        assert_eq!(limiters.evict_idle(), 1);
        clock.advance(Duration::from_secs(9));
        assert_eq!(limiters.evict_idle(), 0);
        assert!(limiters.is_empty());
    }

    #[test]
    fn the_map_holds_about_the_grants_in_recent_use() {
        let (limiters, clock) = limiters(quota(60, 1));
        let limit = EffectiveQuota {
            quota: limiters.default_quota(),
            source: RateLimitSource::Default,
        };
        // Many grants, each idle again a second after its one request.
        for i in 0..10 * MIN_SWEEP {
            limiters
                .check_grant(&grant(&format!("g-{i}")), limit)
                .unwrap();
            clock.advance(Duration::from_millis(100));
        }
        assert!(limiters.len() <= MIN_SWEEP + 1, "{}", limiters.len());
        // A grant still spending keeps its state through a sweep.
        let busy = grant("busy");
        limiters.check_grant(&busy, limit).unwrap();
        for i in 0..2 * MIN_SWEEP {
            limiters
                .check_grant(&grant(&format!("h-{i}")), limit)
                .unwrap();
        }
        assert!(limiters.check_grant(&busy, limit).is_err());
    }
}
