//! `cargo xtask bench <name>`: benchmarks that print each figure beside its
//! comparison, measured in the same run, as a ratio.
//!
//! Each benchmark is a module with `pub fn run(args: &[String]) -> anyhow::Result<()>`
//! and one line in [`BENCHES`].

mod backlog;
mod federation_list;
mod fleet_ps;
mod node_dispatch;

use anyhow::bail;

/// The `p`-quantile (0.0–1.0) of `sorted`, by nearest rank.
pub(crate) fn percentile(sorted: &[std::time::Duration], p: f64) -> std::time::Duration {
    if sorted.is_empty() {
        return std::time::Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

type Bench = fn(&[String]) -> anyhow::Result<()>;

/// Name, one-line description, entry point.
const BENCHES: &[(&str, &str, Bench)] = &[
    (
        "federation-list",
        "100-row pages over mTLS at 1/16/64 connections vs a bare rustls+hyper server",
        federation_list::run,
    ),
    (
        "backlog",
        "16 workers drain 50,000 cards: mosaic-backlog vs a bare SKIP LOCKED loop and pg-boss",
        backlog::run,
    ),
    (
        "fleet-ps",
        "mosaic fleet ps --json with 20 live agents vs the bare tmux/systemctl calls",
        fleet_ps::run,
    ),
    (
        "node-dispatch",
        "dispatch `true` to an agent node (p50/p99) vs ssh over a ControlMaster; gateway RSS with 1,000 nodes",
        node_dispatch::run,
    ),
];

/// Runs the named benchmark, or lists them. Benchmarks measure optimized
/// code: a debug build of xtask re-runs itself with `--release`.
pub fn run(args: &[String]) -> anyhow::Result<()> {
    if cfg!(debug_assertions) && !args.is_empty() {
        eprintln!("==> building benchmarks with --release");
        return crate::util::step(
            "benchmark",
            crate::util::cargo()
                .args([
                    "run",
                    "--release",
                    "--quiet",
                    "--package",
                    "xtask",
                    "--",
                    "bench",
                ])
                .args(args),
        );
    }
    let Some(name) = args.first() else {
        println!("benchmarks:");
        for (name, about, _) in BENCHES {
            println!("  {name:<18} {about}");
        }
        return Ok(());
    };
    match BENCHES.iter().find(|(n, _, _)| n == name) {
        Some((_, _, bench)) => bench(&args[1..]),
        None => bail!("no benchmark named `{name}`; `cargo xtask bench` lists them"),
    }
}
