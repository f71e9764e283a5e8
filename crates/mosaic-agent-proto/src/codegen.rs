//! Regenerating `src/gen/` from `proto/` (feature `codegen`).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The protocol files, relative to the `proto/` directory.
pub const PROTOS: &[&str] = &["mosaic/agent/v1/agent.proto"];

/// Where the checked-in generated code lives.
pub fn checked_in_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/gen")
}

/// The workspace's `proto/` directory.
pub fn proto_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto")
}

/// Generates the Rust code for [`PROTOS`] into `out_dir`, formatted with
/// rustfmt so it matches `cargo fmt`.
///
/// # Errors
/// When protoc rejects the protocol files or rustfmt cannot run.
pub fn generate(out_dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()
        .map_err(|e| std::io::Error::other(format!("vendored protoc: {e}")))?;
    let proto_dir = proto_dir();
    let files: Vec<PathBuf> = PROTOS.iter().map(|p| proto_dir.join(p)).collect();
    std::fs::create_dir_all(out_dir)?;
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc);
    // The service modules compile only with feature `grpc`: the messages
    // alone need nothing but prost.
    let grpc_only = "#[cfg(feature = \"grpc\")]";
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .build_transport(true)
        .client_mod_attribute(".", grpc_only)
        .server_mod_attribute(".", grpc_only)
        .emit_rerun_if_changed(false)
        .out_dir(out_dir)
        .compile_with_config(config, &files, &[proto_dir])?;
    let mut written = Vec::new();
    for entry in std::fs::read_dir(out_dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "rs") {
            written.push(path);
        }
    }
    written.sort();
    let status = Command::new(std::env::var_os("RUSTFMT").unwrap_or_else(|| "rustfmt".into()))
        .args(["--edition", "2024"])
        .args(&written)
        .status()?;
    if !status.success() {
        return Err(std::io::Error::other(format!("rustfmt failed ({status})")));
    }
    Ok(written)
}

/// Files of `src/gen/` that differ from freshly generated code (empty when
/// the checked-in code is current).
///
/// # Errors
/// When generation fails.
pub fn stale_files() -> std::io::Result<Vec<String>> {
    let fresh = tempfile::tempdir()?;
    let mut stale = Vec::new();
    for path in generate(fresh.path())? {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let new = std::fs::read(&path)?;
        let old = std::fs::read(checked_in_dir().join(&name)).unwrap_or_default();
        if new != old {
            stale.push(name);
        }
    }
    Ok(stale)
}
