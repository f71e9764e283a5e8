//! `cargo xtask codegen [--check]`: regenerates the checked-in gRPC code of
//! `mosaic-agent-proto` from `proto/`, or (with `--check`) fails when it is
//! stale.

use anyhow::{Context as _, bail};
use mosaic_agent_proto::codegen;

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let check = match args {
        [] => false,
        [flag] if flag == "--check" => true,
        _ => bail!("usage: cargo xtask codegen [--check]"),
    };
    if check {
        let stale = codegen::stale_files().context("generating code to compare")?;
        if !stale.is_empty() {
            bail!(
                "checked-in generated code is stale: {}; run `cargo xtask codegen`",
                stale.join(", ")
            );
        }
        eprintln!("generated code is current");
        return Ok(());
    }
    let dir = codegen::checked_in_dir();
    let written =
        codegen::generate(&dir).with_context(|| format!("generating into {}", dir.display()))?;
    for path in written {
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
