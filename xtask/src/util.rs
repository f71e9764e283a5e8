//! Running commands from the workspace root, loudly.

use anyhow::{Context as _, bail};
use std::path::PathBuf;
use std::process::Command;

/// The workspace root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map_or(manifest.clone(), PathBuf::from)
}

/// `cargo` as invoked by cargo itself, so the pinned toolchain is used.
pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

/// Whether `program --version` runs.
pub fn have(program: &str, version_arg: &str) -> bool {
    Command::new(program)
        .arg(version_arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs `cmd`, echoing it first; fails with the step's name if it fails.
pub fn step(step: &str, cmd: &mut Command) -> anyhow::Result<()> {
    eprintln!("==> {step}: {cmd:?}");
    let status = cmd
        .status()
        .with_context(|| format!("{step}: cannot start"))?;
    if !status.success() {
        bail!("{step} failed ({status})");
    }
    Ok(())
}
