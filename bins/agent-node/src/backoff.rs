//! Exponential back-off with full jitter between reconnection attempts.
//!
//! Failed attempts double the wait up to a cap. A connection that succeeds
//! starts the waits over, so a gateway restarted after a long outage gets
//! its nodes back in about a second, not after the capped wait. Only a
//! connection that keeps dropping soon after it opens (a gateway that
//! accepts and then drops the node, two daemons sharing one credential)
//! starts each round a step higher, so it is not hammered.

use ring::rand::{SecureRandom as _, SystemRandom};
use std::time::Duration;

/// First ceiling of the wait.
pub const INITIAL: Duration = Duration::from_millis(500);

/// A connection that stayed up this long was stable: the next round of
/// waits starts at [`INITIAL`]. One that dropped sooner starts the next
/// round one doubling higher than the last.
pub const STABLE_AFTER: Duration = Duration::from_secs(10);

/// The ceiling starts at [`INITIAL`] and doubles after each attempt up to a
/// cap; each wait is drawn uniformly between zero and the ceiling.
#[derive(Debug, Clone)]
pub struct Backoff {
    cap: Duration,
    ceiling: Duration,
    attempt: u32,
    /// Connections in a row that dropped before [`STABLE_AFTER`].
    short_connections: u32,
    rng: SystemRandom,
}

impl Backoff {
    /// A back-off capped at `cap`.
    pub fn new(cap: Duration) -> Self {
        Self {
            cap,
            ceiling: INITIAL.min(cap),
            attempt: 0,
            short_connections: 0,
            rng: SystemRandom::new(),
        }
    }

    /// Attempts since the last [`Backoff::reset`].
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The current ceiling, before it doubles.
    pub fn ceiling(&self) -> Duration {
        self.ceiling
    }

    /// The wait before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        let mut bytes = [0u8; 8];
        let fraction = match self.rng.fill(&mut bytes) {
            Ok(()) => (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64,
            Err(_) => 1.0,
        };
        self.next_delay_with(fraction)
    }

    /// The wait for a given random `fraction` in `0.0..=1.0`.
    pub fn next_delay_with(&mut self, fraction: f64) -> Duration {
        let delay = self.ceiling.mul_f64(fraction.clamp(0.0, 1.0));
        self.ceiling = self.ceiling.saturating_mul(2).min(self.cap);
        self.attempt = self.attempt.saturating_add(1);
        delay
    }

    /// Back to the first ceiling.
    pub fn reset(&mut self) {
        self.ceiling = INITIAL.min(self.cap);
        self.attempt = 0;
        self.short_connections = 0;
    }

    /// A connection succeeded and has now ended after `lasted`: the waits
    /// start over, from [`INITIAL`] after a stable connection, else one
    /// doubling higher per short connection in a row.
    pub fn connection_ended(&mut self, lasted: Duration) {
        if lasted >= STABLE_AFTER {
            self.reset();
            return;
        }
        self.short_connections = self.short_connections.saturating_add(1);
        let steps = self.short_connections.min(16);
        self.ceiling = INITIAL.saturating_mul(1 << steps).min(self.cap);
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(3));
        let ceilings: Vec<_> = (0..5).map(|_| b.next_delay_with(1.0)).collect();
        assert_eq!(
            ceilings,
            [500, 1000, 2000, 3000, 3000].map(Duration::from_millis)
        );
        assert_eq!(b.attempt(), 5);
        b.reset();
        assert_eq!(b.ceiling(), INITIAL);
        assert_eq!(b.next_delay_with(0.5), Duration::from_millis(250));
    }

    #[test]
    fn jitter_stays_under_the_ceiling() {
        let mut b = Backoff::new(Duration::from_secs(1));
        for _ in 0..50 {
            let ceiling = b.ceiling();
            assert!(b.next_delay() <= ceiling);
        }
    }

    #[test]
    fn a_connection_starts_the_waits_over() {
        let mut b = Backoff::new(Duration::from_secs(30));
        // A long outage: the waits grow to the cap.
        for _ in 0..10 {
            b.next_delay_with(1.0);
        }
        assert_eq!(b.ceiling(), Duration::from_secs(30));
        // Connected, then the gateway restarts five seconds later: the next
        // wait is about a second, not the thirty the outage reached.
        b.connection_ended(Duration::from_secs(5));
        assert_eq!(b.attempt(), 0);
        assert_eq!(b.next_delay_with(1.0), Duration::from_secs(1));
        assert_eq!(b.next_delay_with(1.0), Duration::from_secs(2));
        // A stable connection starts from the first ceiling.
        b.connection_ended(STABLE_AFTER);
        assert_eq!(b.next_delay_with(1.0), INITIAL);
    }

    #[test]
    fn connections_that_keep_dropping_at_once_are_not_hammered() {
        let mut b = Backoff::new(Duration::from_secs(30));
        let firsts: Vec<Duration> = (0..7)
            .map(|_| {
                b.connection_ended(Duration::from_millis(100));
                b.next_delay_with(1.0)
            })
            .collect();
        assert_eq!(
            firsts,
            [1, 2, 4, 8, 16, 30, 30].map(Duration::from_secs),
            "each short connection starts a round one doubling higher"
        );
        b.connection_ended(Duration::from_secs(60));
        assert_eq!(b.next_delay_with(1.0), INITIAL);
    }

    #[test]
    fn a_small_cap_bounds_the_first_wait() {
        let mut b = Backoff::new(Duration::from_millis(100));
        assert_eq!(b.next_delay_with(1.0), Duration::from_millis(100));
    }
}
