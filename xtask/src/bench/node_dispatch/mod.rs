//! `cargo xtask bench node-dispatch`: what it costs to run a command on an
//! agent node through the gateway, and what the gateway pays to keep nodes
//! connected.
//!
//! 1. Round trip of `true`: a real `agent-node` connected to a real gateway
//!    (both release builds, on loopback), and for each run one
//!    `POST /api/sessions/{id}/dispatch` followed by
//!    `GET …/tasks/{task}/output?follow=true` read to its `end` line, on one
//!    keep-alive HTTP client. Beside it, `ssh` to a local sshd (Debian's
//!    openssh-server, started here on a loopback port with throwaway keys)
//!    running `true` over an already-open ControlMaster connection, timed
//!    from spawning `ssh` to its exit. Both sides start from a warm, already
//!    authenticated connection, send one command over an encrypted channel
//!    (TLS 1.3 to the node, SSH to sshd), have a shell run `true` and wait
//!    for its exit status; the ssh side pays a process spawn, as a person
//!    typing it does, and the mosaic side pays its task record, signature
//!    and the HTTP hop from client to gateway. Neither side's shell reads
//!    rc files: the node's `sh -c` reads none, and the benchmark's sshd sets
//!    `SHLVL=1` so the user's bash does not source `~/.bashrc` (which would
//!    time the user's dotfiles, not ssh). A round trip ends when the `end`
//!    line arrives (the result is known), as an ssh run ends when `ssh`
//!    exits with the status. p50, p99 and mean of the same number of
//!    sequential runs, after the same warm-up, as ratios mosaic / ssh.
//! 2. Memory: the gateway's resident set (`VmRSS`) with no node connected,
//!    then with `--nodes` simulated nodes connected, each on its own TCP+TLS
//!    connection, registered with its own invite, holding its task stream
//!    and health stream open and heartbeating at the interval the gateway
//!    asks for, exactly as `agent-node` does. The comparison is the same
//!    gateway idle: RSS(nodes) / RSS(idle) and the cost per node.
//!
//! Options: `--iterations N` (default 300), `--nodes N` (default 1000),
//! `--skip-ssh`, `--skip-memory`. Everything runs in a temporary directory
//! and every process started here is stopped on the way out, failures
//! included.

mod api;
mod launch;
mod memory;
mod proc;
mod report;
mod sim;
mod ssh;

use crate::util;
use anyhow::{Context as _, bail};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const WARM_UP: usize = 20;
/// Simulated nodes connecting at once.
const CONNECT_CONCURRENCY: usize = 32;

struct Options {
    iterations: usize,
    nodes: usize,
    skip_ssh: bool,
    skip_memory: bool,
}

fn parse(args: &[String]) -> anyhow::Result<Options> {
    let mut o = Options {
        iterations: 300,
        nodes: 1000,
        skip_ssh: false,
        skip_memory: false,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--iterations" => {
                o.iterations = it.next().context("--iterations needs a number")?.parse()?;
            }
            "--nodes" => o.nodes = it.next().context("--nodes needs a number")?.parse()?,
            "--skip-ssh" => o.skip_ssh = true,
            "--skip-memory" => o.skip_memory = true,
            other => bail!(
                "unknown option `{other}` (expected --iterations N, --nodes N, --skip-ssh, --skip-memory)"
            ),
        }
    }
    anyhow::ensure!(
        o.iterations > 0 && o.nodes > 0,
        "--iterations and --nodes must be positive"
    );
    Ok(o)
}

/// Runs the benchmark.
pub fn run(args: &[String]) -> anyhow::Result<()> {
    let opts = parse(args)?;
    let nofile = memory::raise_nofile_limit()?;
    if !opts.skip_memory {
        anyhow::ensure!(
            nofile >= opts.nodes as u64 + 512,
            "the open-file limit ({nofile}) is too low for {} simulated nodes; raise the hard limit (`ulimit -Hn`) or pass a smaller --nodes",
            opts.nodes
        );
    }
    let target = build_release()?;
    if !opts.skip_ssh {
        ssh::ensure_sshd()?;
    }
    let dir = tempfile::Builder::new()
        .prefix("mosaic-bench-node-dispatch-")
        .tempdir()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let _ = rustls::crypto::ring::default_provider().install_default();

    // The gateway inherits the raised open-file limit.
    let gateway = launch::start_gateway(&target.join("gateway"), dir.path(), opts.nodes)?;
    let gw_limit = memory::open_file_limit(gateway.proc.pid())?;
    let api = rt.block_on(launch::user_api(&gateway))?;

    let mut node = launch::start_node(&rt, &api, &target.join("agent-node"), dir.path())?;
    let trips = rt.block_on(round_trips(&api, &node.session, opts.iterations))?;
    let ssh = if opts.skip_ssh {
        None
    } else {
        Some(ssh::baseline(dir.path(), opts.iterations)?)
    };
    report::round_trips(opts.iterations, &trips, ssh.as_ref());

    if opts.skip_memory {
        return Ok(());
    }
    // The real node leaves; the gateway is idle before the simulated nodes.
    node.proc.stop(Duration::from_secs(5));
    rt.block_on(wait_until_none_online(&api))?;
    let idle = memory::rss_kib(gateway.proc.pid())?;
    let loaded = rt.block_on(sim::simulated_nodes(&api, gateway.proc.pid(), opts.nodes))?;
    report::memory(gw_limit, opts.nodes, idle, loaded);
    drop(node);
    drop(gateway);
    drop(rt);
    Ok(())
}

/// Builds the gateway and the agent-node with `--release`; returns the
/// directory they are in.
fn build_release() -> anyhow::Result<PathBuf> {
    util::step(
        "build gateway and agent-node",
        util::cargo().args([
            "build",
            "--release",
            "--quiet",
            "--bin",
            "gateway",
            "--bin",
            "agent-node",
        ]),
    )?;
    Ok(std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| util::root().join("target"), PathBuf::from)
        .join("release"))
}

/// [`WARM_UP`] round trips, then `iterations` measured ones.
async fn round_trips(
    api: &api::Api,
    session: &str,
    iterations: usize,
) -> anyhow::Result<Vec<api::RoundTrip>> {
    for _ in 0..WARM_UP {
        api.round_trip(session).await?;
    }
    let mut trips = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        trips.push(api.round_trip(session).await?);
    }
    Ok(trips)
}

/// Waits until the gateway shows no node online, then a second more.
async fn wait_until_none_online(api: &api::Api) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while api.online().await? > 0 {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the gateway still shows the stopped agent-node online after 30s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok(())
}
