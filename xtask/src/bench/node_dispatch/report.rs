//! The figures and the tables the benchmark prints.

use super::WARM_UP;
use super::api::RoundTrip;
use crate::bench::percentile;
use std::time::Duration;

pub(super) fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// p50, p99, mean of one side.
pub(super) struct Figures {
    p50: Duration,
    p99: Duration,
    mean: Duration,
}

impl Figures {
    pub(super) fn of(mut samples: Vec<Duration>) -> Figures {
        samples.sort();
        let total: Duration = samples.iter().sum();
        Figures {
            p50: percentile(&samples, 0.50),
            p99: percentile(&samples, 0.99),
            mean: total / u32::try_from(samples.len().max(1)).unwrap_or(u32::MAX),
        }
    }
}

/// The round-trip table: mosaic beside ssh, then where mosaic's time went.
pub(super) fn round_trips(iterations: usize, trips: &[RoundTrip], ssh: Option<&Figures>) {
    let mosaic = Figures::of(trips.iter().map(|t| t.result).collect());
    let accepted = Figures::of(trips.iter().map(|t| t.accepted).collect());
    let closed = Figures::of(trips.iter().map(|t| t.closed).collect());
    let mut node_ms: Vec<i64> = trips.iter().filter_map(|t| t.node_ms).collect();
    node_ms.sort_unstable();

    println!(
        "node-dispatch: round trip of `true`, {iterations} sequential runs after {WARM_UP} warm-up, release builds, loopback"
    );
    println!(
        "  {:<24} {:>10} {:>10} {:>10}",
        "round trip of `true`", "p50", "p99", "mean"
    );
    let row = |name: &str, f: &Figures| {
        println!(
            "  {name:<24} {:>10} {:>10} {:>10}",
            ms(f.p50),
            ms(f.p99),
            ms(f.mean)
        );
    };
    row("mosaic dispatch", &mosaic);
    if let Some(ssh) = ssh {
        row("ssh ControlMaster", ssh);
        let r = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-9);
        println!(
            "  {:<24} {:>10.2} {:>10.2} {:>10.2}   (ratio < 1 means mosaic is faster)",
            "ratio mosaic / ssh",
            r(mosaic.p50, ssh.p50),
            r(mosaic.p99, ssh.p99),
            r(mosaic.mean, ssh.mean)
        );
    } else {
        println!("  ssh ControlMaster        skipped (--skip-ssh)");
    }
    println!(
        "  mosaic, from the POST: dispatch answered p50 {} p99 {}; end line (the figure above); body closed p50 {} p99 {}",
        ms(accepted.p50),
        ms(accepted.p99),
        ms(closed.p50),
        ms(closed.p99)
    );
    if let Some(m) = node_ms.get(node_ms.len() / 2) {
        println!("  `sh -c true` on the node, as it reports its run time: p50 {m} ms");
    }
}

/// The memory table: the gateway idle, then with `n` simulated nodes
/// (`VmRSS` in KiB).
pub(super) fn memory(gw_limit: u64, n: usize, idle: u64, loaded: u64) {
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!(
        "gateway resident memory (VmRSS; its open-file limit {gw_limit}; each node on its own TCP+TLS connection)"
    );
    println!(
        "  {:<34} {:>10.1} MiB",
        "idle, no node connected",
        mib(idle)
    );
    println!(
        "  {:<34} {:>10.1} MiB",
        format!("{n} simulated nodes connected"),
        mib(loaded)
    );
    let delta = loaded.saturating_sub(idle);
    println!(
        "  {:<34} {:>10.1} MiB   ({:.1} KiB per node)",
        "difference",
        mib(delta),
        delta as f64 / n as f64
    );
    println!(
        "  {:<34} {:>10.2}",
        format!("ratio {n} nodes / idle"),
        loaded as f64 / idle.max(1) as f64
    );
}
