//! Timestamps as the store keeps them.

use chrono::{DateTime, SubsecRound, Utc};

/// The current time in UTC, truncated to whole milliseconds.
///
/// Cursors and JSON carry millisecond timestamps; storing exactly what can be
/// carried keeps keyset pagination exact on both backends.
pub fn now() -> DateTime<Utc> {
    truncate_to_millis(Utc::now())
}

/// Drops sub-millisecond precision.
pub fn truncate_to_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(3)
}
