//! The part of `cargo metadata --format-version 1` that tidy reads.

use anyhow::{Context as _, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
pub struct Metadata {
    pub packages: Vec<Package>,
    pub workspace_members: Vec<String>,
    pub workspace_root: PathBuf,
    pub resolve: Option<Resolve>,
}

#[derive(Debug, Deserialize)]
pub struct Package {
    pub id: String,
    pub name: String,
    pub manifest_path: PathBuf,
    #[serde(default)]
    pub dependencies: Vec<Dependency>,
    #[serde(default)]
    pub features: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub targets: Vec<Target>,
}

/// One entry of a package's `[dependencies]`, `[dev-dependencies]` or
/// `[build-dependencies]`, as written.
#[derive(Debug, Deserialize)]
pub struct Dependency {
    /// The package name.
    pub name: String,
    /// The key it is known by in the manifest when renamed.
    #[serde(default)]
    pub rename: Option<String>,
    /// `None` for a normal dependency, `"dev"` or `"build"` otherwise.
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub optional: bool,
    #[serde(default = "yes")]
    pub uses_default_features: bool,
    #[serde(default)]
    pub features: Vec<String>,
}

fn yes() -> bool {
    true
}

impl Dependency {
    /// The name features refer to it by (`dep:x`, `x/feat`).
    pub fn key(&self) -> &str {
        self.rename.as_deref().unwrap_or(&self.name)
    }

    pub fn is_normal(&self) -> bool {
        self.kind.is_none()
    }
}

#[derive(Debug, Deserialize)]
pub struct Target {
    pub kind: Vec<String>,
    pub src_path: PathBuf,
}

#[derive(Debug, Deserialize)]
pub struct Resolve {
    pub nodes: Vec<Node>,
}

/// A package in the resolved graph and the packages its dependencies
/// resolved to.
#[derive(Debug, Deserialize)]
pub struct Node {
    pub id: String,
    #[serde(default)]
    pub deps: Vec<NodeDep>,
}

#[derive(Debug, Deserialize)]
pub struct NodeDep {
    pub pkg: String,
    #[serde(default)]
    pub dep_kinds: Vec<DepKind>,
}

#[derive(Debug, Deserialize)]
pub struct DepKind {
    #[serde(default)]
    pub kind: Option<String>,
}

impl Metadata {
    /// Reads the workspace at `root`: every feature of every member turned on,
    /// so each optional dependency appears in the resolve and tidy can decide
    /// itself which ones a given feature set enables; only the host's
    /// platform, as built here.
    pub fn load(root: &Path) -> anyhow::Result<Metadata> {
        let host = host_triple()?;
        let out = crate::util::cargo()
            .current_dir(root)
            .args([
                "metadata",
                "--format-version",
                "1",
                "--all-features",
                "--filter-platform",
                &host,
            ])
            .output()
            .context("cannot run `cargo metadata`")?;
        if !out.status.success() {
            bail!(
                "`cargo metadata` failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Metadata::parse(&out.stdout)
    }

    pub fn parse(json: &[u8]) -> anyhow::Result<Metadata> {
        serde_json::from_slice(json).context("parsing `cargo metadata` output")
    }

    /// The workspace member called `name`.
    pub fn member(&self, name: &str) -> Option<&Package> {
        self.members().find(|p| p.name == name)
    }

    pub fn members(&self) -> impl Iterator<Item = &Package> {
        self.packages
            .iter()
            .filter(|p| self.workspace_members.contains(&p.id))
    }

    /// A member's directory relative to the workspace root, with `/`
    /// separators (`crates/mosaic-types`, `xtask`).
    pub fn relative_dir(&self, package: &Package) -> String {
        let dir = package.manifest_path.parent().unwrap_or(Path::new(""));
        let rel = dir.strip_prefix(&self.workspace_root).unwrap_or(dir);
        rel.components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/")
    }
}

impl Package {
    /// The source file of its library target, if it has one.
    pub fn lib_path(&self) -> Option<&Path> {
        self.targets
            .iter()
            .find(|t| t.kind.iter().any(|k| k == "lib" || k == "proc-macro"))
            .map(|t| t.src_path.as_path())
    }
}

fn host_triple() -> anyhow::Result<String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = std::process::Command::new(rustc)
        .arg("-vV")
        .output()
        .context("cannot run `rustc -vV`")?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(|h| h.trim().to_owned())
        .context("`rustc -vV` printed no host triple")
}
