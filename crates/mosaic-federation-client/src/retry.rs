//! What a call does when a peer answers 429 `rate_limited`: wait and try
//! again, a bounded number of times, never past the caller's deadline.
//!
//! The wait before each retry is the larger of the peer's `Retry-After` and
//! an exponential back-off, plus a random share of the back-off so that
//! callers limited together do not all come back in the same instant. When
//! the next attempt would start after the deadline, or the attempts are
//! spent, the call gives up at once with `RATE_LIMITED` and the wait the
//! peer asked for.

use crate::error::{ClientErrorCode, FederationClientError};
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

/// How a call retries when the peer answers 429.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1: never retry).
    pub max_attempts: NonZeroU32,
    /// Back-off before the first retry; it doubles for each later one.
    pub base_backoff: Duration,
    /// The most one back-off grows to.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// Three attempts in all, backing off from 250 ms up to 8 s.
    fn default() -> Self {
        Self {
            max_attempts: NonZeroU32::new(3).unwrap_or(NonZeroU32::MIN),
            base_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(8),
        }
    }
}

/// What to do after a 429.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Wait this long, then try again.
    Retry(Duration),
    /// Stop: no attempt is left, or the deadline comes before the wait ends.
    GiveUp,
}

impl RetryPolicy {
    /// Never retries.
    pub fn never() -> Self {
        Self {
            max_attempts: NonZeroU32::MIN,
            ..Self::default()
        }
    }

    /// The back-off after attempt `attempt` (1-based): `base_backoff`
    /// doubled `attempt - 1` times, at most `max_backoff`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        self.base_backoff
            .saturating_mul(1 << doublings)
            .min(self.max_backoff)
    }

    /// The wait after attempt `attempt` was answered 429 with `retry_after`:
    /// the larger of that and the back-off, plus `jitter` (in `[0, 1)`) of
    /// the back-off.
    pub fn wait(&self, attempt: u32, retry_after: Option<Duration>, jitter: f64) -> Duration {
        let backoff = self.backoff(attempt);
        let spread = backoff.mul_f64(jitter.clamp(0.0, 1.0));
        retry_after.unwrap_or_default().max(backoff) + spread
    }

    /// Whether to retry after attempt `attempt` was answered 429 with
    /// `retry_after`, at `now`, for a call that must end by `deadline`.
    pub fn next(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        jitter: f64,
        now: Instant,
        deadline: Instant,
    ) -> Next {
        if attempt >= self.max_attempts.get() {
            return Next::GiveUp;
        }
        let wait = self.wait(attempt, retry_after, jitter);
        match now.checked_add(wait) {
            Some(resume) if resume < deadline => Next::Retry(wait),
            _ => Next::GiveUp,
        }
    }
}

/// A random fraction in `[0, 1)` from the system's RNG (0 if it fails,
/// which only removes the spread).
pub(crate) fn jitter() -> f64 {
    let mut bytes = [0u8; 4];
    match ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes) {
        Ok(()) => f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0),
        Err(_) => 0.0,
    }
}

/// Whole seconds, rounded up, at least 1.
fn whole_secs(d: Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

/// The error a call gives up with after `last` (a 429): `RATE_LIMITED`,
/// the wait the peer asked for (else `fallback`) in `retry_after`, and a
/// message that names the peer, its limit when it said it, and the wait.
pub(crate) fn gave_up(
    mut last: FederationClientError,
    fallback: Duration,
) -> FederationClientError {
    let wait = last.retry_after.unwrap_or(fallback);
    let details = last
        .envelope
        .as_deref()
        .and_then(|e| e.error.details.as_ref());
    let limit = details.and_then(|d| {
        let rpm = d.get("requestsPerMinute")?.as_u64()?;
        let burst = d.get("burst")?.as_u64()?;
        Some(format!(" ({rpm} requests a minute, burst {burst})"))
    });
    last.code = ClientErrorCode::RateLimited;
    last.message = format!(
        "peer {} is rate limiting this grant{}: retry in {} s",
        last.peer,
        limit.unwrap_or_default(),
        whole_secs(wait)
    );
    last.retry_after = Some(wait);
    last
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use mosaic_types::{ErrorCode, ErrorEnvelope};

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: NonZeroU32::new(3).unwrap(),
            base_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(1),
        }
    }

    #[test]
    fn the_backoff_doubles_up_to_its_cap() {
        let p = policy();
        let got: Vec<u128> = (1..=5).map(|a| p.backoff(a).as_millis()).collect();
        assert_eq!(got, [200, 400, 800, 1000, 1000]);
        assert_eq!(p.backoff(u32::MAX), Duration::from_secs(1));
    }

    #[test]
    fn the_wait_is_the_longer_of_retry_after_and_the_backoff_plus_jitter() {
        let p = policy();
        let ms = |a, r: Option<u64>, j| p.wait(a, r.map(Duration::from_secs), j).as_millis();
        assert_eq!(ms(1, None, 0.0), 200);
        assert_eq!(ms(1, Some(2), 0.0), 2000);
        assert_eq!(
            ms(1, Some(2), 0.5),
            2100,
            "jitter is a share of the backoff"
        );
        assert_eq!(ms(2, Some(0), 0.25), 500);
        assert!(ms(1, None, 0.999_999) < 400);
        let j = jitter();
        assert!((0.0..1.0).contains(&j), "{j}");
    }

    #[test]
    fn it_gives_up_when_attempts_are_spent_or_the_deadline_is_nearer() {
        let p = policy();
        let now = Instant::now();
        let later = now + Duration::from_secs(10);
        let secs = |s| Some(Duration::from_secs(s));
        assert_eq!(
            p.next(1, secs(1), 0.0, now, later),
            Next::Retry(Duration::from_secs(1))
        );
        assert_eq!(
            p.next(2, secs(1), 0.0, now, later),
            Next::Retry(Duration::from_secs(1))
        );
        assert_eq!(p.next(3, secs(1), 0.0, now, later), Next::GiveUp);
        assert_eq!(p.next(1, secs(27), 0.0, now, later), Next::GiveUp);
        assert_eq!(p.next(1, secs(10), 0.0, now, later), Next::GiveUp);
        assert_eq!(
            RetryPolicy::never().next(1, None, 0.0, now, later),
            Next::GiveUp
        );
    }

    #[test]
    fn giving_up_says_the_peer_its_limit_and_the_wait() {
        let mut e = FederationClientError::new(ClientErrorCode::RateLimited, "work", "slow down");
        e.status = Some(429);
        e.retry_after = Some(Duration::from_secs(27));
        e.envelope = Some(Box::new(
            ErrorEnvelope::new(ErrorCode::RateLimited, "grant g is limited").with_details(
                serde_json::json!({"retryAfterSeconds": 27, "requestsPerMinute": 2, "burst": 1}),
            ),
        ));
        let given_up = gave_up(e.clone(), Duration::from_secs(1));
        assert_eq!(
            given_up.message,
            "peer work is rate limiting this grant (2 requests a minute, burst 1): retry in 27 s"
        );
        assert_eq!(given_up.retry_after, Some(Duration::from_secs(27)));
        assert_eq!(given_up.status, Some(429));
        e.envelope = None;
        e.retry_after = None;
        let bare = gave_up(e, Duration::from_millis(1500));
        assert_eq!(
            bare.message,
            "peer work is rate limiting this grant: retry in 2 s"
        );
        assert_eq!(bare.retry_after, Some(Duration::from_millis(1500)));
    }
}
