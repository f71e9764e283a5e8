//! Where the backlog reads the time from.
//!
//! Every timestamp the backlog writes and every expiry it checks comes from one
//! [`Clock`], so tests can move time forward instead of sleeping, and both
//! backends see the same instants.

use chrono::{DateTime, Utc};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

/// A source of the current time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time, in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to; clones share one time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    /// A clock stopped at `at`.
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(at)))
    }

    /// Moves the clock forward (or back, for a negative `by`).
    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        // A panic while holding this lock cannot leave the time half-written,
        // so a poisoned lock still holds a valid value.
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clocks_move_only_when_advanced_and_clones_share_time() {
        let start = DateTime::parse_from_rfc3339("2026-06-24T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let clock = ManualClock::new(start);
        let other = clock.clone();
        assert_eq!(clock.now(), start);
        other.advance(chrono::Duration::hours(1));
        assert_eq!(clock.now(), start + chrono::Duration::hours(1));
    }
}
