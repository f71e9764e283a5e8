//! `cargo xtask`: everything cargo does not do by itself.
//!
//! - `ci`: exactly what CI runs (tidy, format check, clippy with warnings
//!   denied, the test suite; storage tests also run on PostgreSQL when
//!   `DATABASE_URL` is set).
//! - `tidy`: conventions checked by machine: what each crate may depend on
//!   (with the features it is built with), crate-level docs, and every
//!   package named in `docs/ARCHITECTURE.md`.
//! - `codegen [--check]`: regenerate the checked-in gRPC code from `proto/`.
//! - `bench <name>`: a benchmark that prints each figure beside its comparison.
//! - `fuzz-smoke [seconds]`: a short run of every cargo-fuzz target.
//!
//! Each command is a module; `main` only dispatches.

mod bench;
mod ci;
mod codegen;
mod fuzz;
mod tidy;
mod util;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  ci              tidy, format check, clippy -D warnings, tests (PostgreSQL too when DATABASE_URL is set)
  tidy            dependency rules per crate, crate docs, every package in docs/ARCHITECTURE.md
  codegen [--check]  regenerate the checked-in gRPC code from proto/ (--check: fail if stale)
  bench <name>    run a benchmark; `cargo xtask bench` lists them
  fuzz-smoke [s]  run every fuzz target briefly (default 20 s each); any crash fails
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci::run(&args[1..]),
        Some("codegen") => codegen::run(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        Some("fuzz-smoke") => fuzz::run(&args[1..]),
        Some("tidy") => tidy::run(&args[1..]),
        Some("-h" | "--help" | "help") | None => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            eprint!("xtask: unknown command `{other}`\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}
