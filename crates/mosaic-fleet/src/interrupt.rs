//! Asking a waiting operation to stop.
//!
//! This crate installs no signal handler (it has no business owning a
//! process's signals); the binary does, and raises an [`Interrupt`] that the
//! operations check between steps and while they wait. An operation that
//! sees it stops, undoes what it had changed, and returns
//! [`Error::Interrupted`] naming what it was doing, so the caller can exit
//! with the signal's conventional status.

use crate::error::{Error, Result};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

/// The signals that ask the fleet commands to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Signal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM.
    Terminate,
}

impl Signal {
    /// `SIGINT` or `SIGTERM`.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }

    /// The exit status a shell expects of a process the signal ended:
    /// 128 + the signal number (130, 143).
    pub fn exit_code(self) -> u8 {
        match self {
            Signal::Interrupt => 130,
            Signal::Terminate => 143,
        }
    }

    fn code(self) -> u8 {
        match self {
            Signal::Interrupt => 1,
            Signal::Terminate => 2,
        }
    }

    fn from_code(code: u8) -> Option<Signal> {
        match code {
            1 => Some(Signal::Interrupt),
            2 => Some(Signal::Terminate),
            _ => None,
        }
    }
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How often a wait looks at the flag.
const SLICE: Duration = Duration::from_millis(50);

/// A flag shared between whoever receives a signal and the operations that
/// should stop on it. Clones share the flag; the first signal raised wins.
#[derive(Debug, Clone, Default)]
pub struct Interrupt(Arc<AtomicU8>);

impl Interrupt {
    /// A flag nothing has raised.
    pub fn new() -> Self {
        Interrupt::default()
    }

    /// Raises the flag; returns whether it was already raised (a second
    /// signal, which a binary may take as "stop now").
    pub fn raise(&self, signal: Signal) -> bool {
        self.0
            .compare_exchange(0, signal.code(), Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
    }

    /// The signal raised, if any.
    pub fn raised(&self) -> Option<Signal> {
        Signal::from_code(self.0.load(Ordering::SeqCst))
    }

    /// `Err(Error::Interrupted)` naming `doing` once the flag is raised.
    pub fn check(&self, doing: impl FnOnce() -> String) -> Result<()> {
        match self.raised() {
            None => Ok(()),
            Some(signal) => Err(Error::Interrupted {
                signal,
                doing: doing(),
            }),
        }
    }

    /// Sleeps for `duration`, or less when the flag is raised meanwhile;
    /// then [`Self::check`]s.
    pub fn sleep(&self, duration: Duration, doing: impl Fn() -> String) -> Result<()> {
        let end = Instant::now() + duration;
        loop {
            self.check(&doing)?;
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            std::thread::sleep(left.min(SLICE));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_first_signal_wins_and_a_second_is_reported() {
        let flag = Interrupt::new();
        assert_eq!(flag.raised(), None);
        assert!(flag.check(|| "idle".into()).is_ok());
        assert!(!flag.raise(Signal::Terminate));
        assert!(flag.clone().raise(Signal::Interrupt));
        assert_eq!(flag.raised(), Some(Signal::Terminate));
        let err = flag.check(|| "waiting for coder0".into()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "interrupted by SIGTERM while waiting for coder0"
        );
    }

    #[test]
    fn a_raised_flag_cuts_a_sleep_short() {
        let flag = Interrupt::new();
        let raiser = flag.clone();
        let started = Instant::now();
        let handle = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            raiser.raise(Signal::Interrupt);
        });
        let err = flag
            .sleep(Duration::from_secs(30), || "polling".into())
            .unwrap_err();
        handle.join().unwrap();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(matches!(
            err,
            Error::Interrupted {
                signal: Signal::Interrupt,
                ..
            }
        ));
        assert_eq!(
            (Signal::Interrupt.exit_code(), Signal::Terminate.exit_code()),
            (130, 143)
        );
    }
}
