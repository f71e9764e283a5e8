//! `cargo xtask ci`: the whole CI gate, runnable locally.

use crate::util::{cargo, have, step};

/// Tidy, format check, clippy with warnings denied, then the test suite.
/// Tidy goes first: it takes seconds and fails fast on a broken convention.
///
/// Flags: `--no-clippy` and `--no-fmt` skip those steps (for quick local runs;
/// CI runs everything).
pub fn run(args: &[String]) -> anyhow::Result<()> {
    let skip = |flag: &str| args.iter().any(|a| a == flag);
    crate::tidy::run(&[])?;
    if !skip("--no-fmt") {
        step(
            "format check",
            cargo().args(["fmt", "--all", "--", "--check"]),
        )?;
    }
    if !skip("--no-clippy") {
        step(
            "clippy",
            cargo().args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]),
        )?;
    }
    match std::env::var("DATABASE_URL") {
        Ok(url) if url.starts_with("postgres") => {
            eprintln!(
                "==> storage tests run on SQLite and on PostgreSQL ({})",
                redact(&url)
            );
        }
        _ => eprintln!("==> DATABASE_URL is not set: storage tests run on SQLite only"),
    }
    if have("cargo-nextest", "--version") || nextest_via_cargo() {
        step(
            "tests",
            cargo().args(["nextest", "run", "--workspace", "--no-fail-fast"]),
        )?;
        // nextest does not run doctests.
        step("doctests", cargo().args(["test", "--workspace", "--doc"]))?;
    } else {
        step(
            "tests",
            cargo().args(["test", "--workspace", "--no-fail-fast"]),
        )?;
    }
    Ok(())
}

fn nextest_via_cargo() -> bool {
    cargo()
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
            None => url.to_owned(),
        },
        _ => url.to_owned(),
    }
}
