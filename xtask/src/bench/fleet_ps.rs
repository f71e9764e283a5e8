//! `cargo xtask bench fleet-ps`: `mosaic fleet ps --json` against 20 live
//! stand-in agents, beside the bare tmux (and, where systemd runs,
//! `systemctl --user show`) calls it needs, run one after another as a shell
//! script would. The bare calls are the ceiling: ps cannot learn what it
//! shows without them.
//!
//! Options: `--agents N` (default 20), `--iterations N` (default 30),
//! `--debug` (bench the debug build instead of building release).

use crate::util;
use anyhow::{Context as _, bail};
use mosaic_fleet::roster::Roster;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

struct Options {
    agents: usize,
    iterations: usize,
    debug: bool,
}

fn parse(args: &[String]) -> anyhow::Result<Options> {
    let mut o = Options {
        agents: 20,
        iterations: 30,
        debug: false,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--agents" => o.agents = it.next().context("--agents needs a number")?.parse()?,
            "--iterations" => {
                o.iterations = it.next().context("--iterations needs a number")?.parse()?;
            }
            "--debug" => o.debug = true,
            other => {
                bail!("unknown option `{other}` (expected --agents N, --iterations N, --debug)")
            }
        }
    }
    anyhow::ensure!(
        o.agents > 0 && o.iterations > 0,
        "--agents and --iterations must be positive"
    );
    Ok(o)
}

/// A scratch home whose tmux server is killed on drop.
struct Scratch {
    dir: PathBuf,
    mosaic: PathBuf,
    systemd: bool,
}

impl Scratch {
    fn cmd(&self, program: &Path) -> Command {
        let mut c = Command::new(program);
        c.env("HOME", &self.dir)
            .env("TMUX_TMPDIR", &self.dir)
            .env("USER", "bench")
            .env("MOSAIC_FLEET_SYSTEMD", if self.systemd { "1" } else { "0" })
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("MOSAIC_HOME");
        c
    }

    fn mosaic(&self, args: &[&str]) -> anyhow::Result<String> {
        // Starting agents never goes through the real systemd: the scratch
        // home's units are not installed in the user's manager.
        let mut c = self.cmd(&self.mosaic);
        if args.first() == Some(&"fleet") && args.get(1) == Some(&"start") {
            c.env("MOSAIC_FLEET_SYSTEMD", "0");
        }
        let out = c
            .args(args)
            .output()
            .with_context(|| format!("mosaic {args:?}"))?;
        if !out.status.success() {
            bail!(
                "mosaic {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = self
            .cmd(Path::new("tmux"))
            .args(["-L", "mosaic-bench", "kill-server"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let opts = parse(args)?;
    if !util::have("tmux", "-V") {
        bail!("tmux is not installed (Debian: apt-get install tmux)");
    }
    let scratch = prepare(&opts)?;
    let roster = start_fleet(&scratch, &opts)?;

    // What ps runs, built by the same functions ps uses.
    let parsed = Roster::from_yaml(&roster, "bench roster")?;
    let calls = mosaic_fleet::ps::commands(&parsed, scratch.systemd);

    let time = |f: &mut dyn FnMut() -> anyhow::Result<()>| -> anyhow::Result<Duration> {
        f()?; // warm-up
        let mut samples = Vec::with_capacity(opts.iterations);
        for _ in 0..opts.iterations {
            let start = Instant::now();
            f()?;
            samples.push(start.elapsed());
        }
        Ok(median(samples))
    };
    let figures = Figures {
        ps: time(&mut || scratch.mosaic(&["fleet", "ps", "--json"]).map(|_| ()))?,
        bare: time(&mut || {
            for argv in &calls {
                scratch.cmd(Path::new(&argv[0])).args(&argv[1..]).output()?;
            }
            Ok(())
        })?,
        // ps starts its calls together; the same calls started together, with
        // nothing else around them, are the ceiling for that strategy.
        bare_parallel: time(&mut || run_together(&scratch, &calls))?,
        calls: calls.len(),
    };
    report(&opts, &scratch, &figures);
    scratch.mosaic(&["fleet", "stop"])?;
    Ok(())
}

/// Builds `mosaic` and makes the scratch home it runs in.
fn prepare(opts: &Options) -> anyhow::Result<Scratch> {
    let mut build = util::cargo();
    build.args(["build", "-p", "mosaic-cli", "--bin", "mosaic"]);
    if !opts.debug {
        build.arg("--release");
    }
    util::step("build mosaic", &mut build)?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| util::root().join("target"), PathBuf::from);
    let systemd = util::have("systemctl", "--version") && Path::new("/run/systemd/system").is_dir();
    let dir = std::env::temp_dir().join(format!("mosaic-bench-fleet-ps-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(Scratch {
        dir,
        mosaic: target.join(profile(opts)).join("mosaic"),
        systemd,
    })
}

fn profile(opts: &Options) -> &'static str {
    if opts.debug { "debug" } else { "release" }
}

/// Writes a roster of stub agents, installs and starts it, and checks that
/// `ps` sees every agent. Answers the roster.
fn start_fleet(scratch: &Scratch, opts: &Options) -> anyhow::Result<String> {
    let mut roster = String::from(
        "version: 1\ntransport: tmux\ntmux:\n  socket_name: mosaic-bench\ndefaults:\n  working_directory: \"~\"\nagents:\n",
    );
    for i in 0..opts.agents {
        roster.push_str(&format!(
            "  - name: agent{i:02}\n    runtime: pi\n    class: code\n    command: \"$MOSAIC_HOME/tools/fleet/stub-agent.sh\"\n"
        ));
    }
    let roster_path = scratch.dir.join(".config/mosaic/fleet/roster.yaml");
    std::fs::create_dir_all(roster_path.parent().context("roster has a parent")?)?;
    std::fs::write(&roster_path, &roster)?;
    scratch.mosaic(&["fleet", "install"])?;
    scratch.mosaic(&["fleet", "start"])?;
    scratch.mosaic(&["fleet", "verify"])?;
    let rows: serde_json_rows::Rows = scratch.mosaic(&["fleet", "ps", "--json"])?.parse()?;
    anyhow::ensure!(
        rows.0 == opts.agents,
        "ps showed {} rows, expected {}",
        rows.0,
        opts.agents
    );
    Ok(roster)
}

/// Runs `calls` sixteen at a time, each batch started together.
fn run_together(scratch: &Scratch, calls: &[Vec<String>]) -> anyhow::Result<()> {
    for batch in calls.chunks(16) {
        let children: Vec<_> = batch
            .iter()
            .map(|argv| {
                scratch
                    .cmd(Path::new(&argv[0]))
                    .args(&argv[1..])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
            })
            .collect::<Result<_, _>>()?;
        for child in children {
            child.wait_with_output()?;
        }
    }
    Ok(())
}

/// The medians of one run.
struct Figures {
    ps: Duration,
    bare: Duration,
    bare_parallel: Duration,
    calls: usize,
}

fn report(opts: &Options, scratch: &Scratch, f: &Figures) {
    println!(
        "fleet-ps: {} live agents, {} build of mosaic, systemd {}, median of {} runs",
        opts.agents,
        profile(opts),
        if scratch.systemd {
            "present"
        } else {
            "absent (no systemctl show calls)"
        },
        opts.iterations
    );
    println!("  mosaic fleet ps --json            {:>10}", ms(f.ps));
    println!(
        "  bare calls ({:>2}, one after another) {:>10}",
        f.calls,
        ms(f.bare)
    );
    println!(
        "  ratio ps / bare calls             {:>10.2}",
        f.ps.as_secs_f64() / f.bare.as_secs_f64()
    );
    println!(
        "  bare calls ({:>2}, started together) {:>10}",
        f.calls,
        ms(f.bare_parallel)
    );
    println!(
        "  ratio ps / bare calls together    {:>10.2}",
        f.ps.as_secs_f64() / f.bare_parallel.as_secs_f64()
    );
}

/// Counting rows without a JSON dependency in xtask: `ps --json` prints one
/// object per row, each with exactly one `"readiness"` key.
mod serde_json_rows {
    pub struct Rows(pub usize);

    impl std::str::FromStr for Rows {
        type Err = anyhow::Error;
        fn from_str(s: &str) -> anyhow::Result<Rows> {
            Ok(Rows(s.matches("\"readiness\":").count()))
        }
    }
}
