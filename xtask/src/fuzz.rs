//! `cargo xtask fuzz-smoke [seconds]`: a short coverage-guided run of every
//! target under `fuzz/fuzz_targets/` (cargo-fuzz layout), each for `seconds`
//! (default 20, or `MOSAIC_FUZZ_SECONDS`). Any crash fails the command and
//! leaves the input in `fuzz/artifacts/<target>/`. Seed inputs are committed
//! in `fuzz/seeds/<target>/`; what the fuzzer finds goes to the ignored
//! `fuzz/corpus/<target>/`.
//!
//! cargo-fuzz is installed from crates.io when missing. libFuzzer's
//! instrumentation needs nightly flags: a nightly toolchain is used when rustup
//! has one, otherwise the pinned toolchain with `RUSTC_BOOTSTRAP=1`.

use crate::util::{have, root, step};
use anyhow::{Context as _, bail};
use std::process::Command;

const DEFAULT_SECONDS: u32 = 20;

/// Runs the smoke pass.
pub fn run(args: &[String]) -> anyhow::Result<()> {
    let seconds = match args.first() {
        Some(s) => s
            .parse::<u32>()
            .with_context(|| format!("`{s}` is not a number of seconds"))?,
        None => match std::env::var("MOSAIC_FUZZ_SECONDS") {
            Ok(s) => s
                .parse()
                .with_context(|| format!("MOSAIC_FUZZ_SECONDS=`{s}` is not a number of seconds"))?,
            Err(_) => DEFAULT_SECONDS,
        },
    };
    let fuzz_dir = root().join("fuzz");
    let targets = targets(&fuzz_dir)?;
    if targets.is_empty() {
        bail!(
            "no fuzz targets in {}",
            fuzz_dir.join("fuzz_targets").display()
        );
    }
    if !have_cargo_fuzz() {
        step(
            "install cargo-fuzz",
            Command::new("cargo").args(["install", "cargo-fuzz", "--locked"]),
        )?;
    }
    let nightly = Command::new("rustup")
        .args(["run", "nightly", "rustc", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    for target in &targets {
        let mut cmd = Command::new("cargo");
        if nightly {
            cmd.arg("+nightly");
        } else {
            cmd.env("RUSTC_BOOTSTRAP", "1");
        }
        // New inputs go to the (ignored) working corpus; the committed seeds
        // are read too, so every run starts from real certificates.
        let corpus = fuzz_dir.join("corpus").join(target);
        std::fs::create_dir_all(&corpus)
            .with_context(|| format!("cannot create {}", corpus.display()))?;
        cmd.current_dir(&fuzz_dir).args(["fuzz", "run", target]);
        cmd.arg(&corpus);
        let seeds = fuzz_dir.join("seeds").join(target);
        if seeds.is_dir() {
            cmd.arg(&seeds);
        }
        cmd.args([
            "--",
            &format!("-max_total_time={seconds}"),
            "-print_final_stats=1",
        ]);
        step(&format!("fuzz {target} for {seconds}s"), &mut cmd)?;
    }
    eprintln!("fuzz-smoke: {} target(s), no crashes", targets.len());
    Ok(())
}

fn have_cargo_fuzz() -> bool {
    have("cargo-fuzz", "--version")
}

/// Target names: the `.rs` files in `fuzz/fuzz_targets/`, sorted.
fn targets(fuzz_dir: &std::path::Path) -> anyhow::Result<Vec<String>> {
    let dir = fuzz_dir.join("fuzz_targets");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let path = e.path();
            (path.extension()? == "rs").then(|| path.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect();
    names.sort();
    Ok(names)
}
