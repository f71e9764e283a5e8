//! Test support: a fake gateway (tonic over real TLS, with a throwaway CA)
//! running on its own runtime so it can be stopped and restarted, and the
//! real `agent-node` binary started against it.

#![allow(dead_code)]

mod gateway;
mod node;

pub use gateway::*;
pub use node::*;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long any wait may take before the test fails. Generous: the machine
/// may be busy compiling or running other tests.
pub const WAIT: Duration = Duration::from_secs(45);

pub fn now_ms() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}
