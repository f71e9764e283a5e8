//! Exponential back-off with full jitter between reconnection attempts.

use ring::rand::{SecureRandom as _, SystemRandom};
use std::time::Duration;

/// First ceiling of the wait.
pub const INITIAL: Duration = Duration::from_millis(500);

/// The ceiling starts at [`INITIAL`] and doubles after each attempt up to a
/// cap; each wait is drawn uniformly between zero and the ceiling.
#[derive(Debug, Clone)]
pub struct Backoff {
    cap: Duration,
    ceiling: Duration,
    attempt: u32,
    rng: SystemRandom,
}

impl Backoff {
    /// A back-off capped at `cap`.
    pub fn new(cap: Duration) -> Self {
        Self {
            cap,
            ceiling: INITIAL.min(cap),
            attempt: 0,
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

    /// Back to the first ceiling, after a connection succeeded.
    pub fn reset(&mut self) {
        self.ceiling = INITIAL.min(self.cap);
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
    fn a_small_cap_bounds_the_first_wait() {
        let mut b = Backoff::new(Duration::from_millis(100));
        assert_eq!(b.next_delay_with(1.0), Duration::from_millis(100));
    }
}
