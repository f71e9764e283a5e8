//! `cargo xtask tidy`: the conventions a reviewer would otherwise have to
//! remember, checked by machine so the map cannot drift from the code.
//!
//! - Dependency rules ([`rules::RULES`]): what each crate must not pull in,
//!   judged on its own normal-dependency graph with the features it is
//!   built with (see [`graph`]); a failure names the crate, the forbidden
//!   package and the path it arrives by.
//! - Every library crate under `crates/` and `migrations/` opens with a
//!   crate-level doc comment.
//! - Every workspace package is named in `docs/ARCHITECTURE.md`.

mod docs;
#[cfg(test)]
mod fixture;
mod graph;
mod metadata;
mod rules;

use anyhow::{Context as _, bail};
use metadata::Metadata;
use std::path::Path;

/// The architecture map, relative to the workspace root.
const ARCHITECTURE: &str = "docs/ARCHITECTURE.md";

pub fn run(args: &[String]) -> anyhow::Result<()> {
    if !args.is_empty() {
        bail!("usage: cargo xtask tidy");
    }
    let root = crate::util::root();
    eprintln!("==> tidy: dependency rules, crate docs, {ARCHITECTURE}");
    let meta = Metadata::load(&root)?;
    let architecture = std::fs::read_to_string(root.join(ARCHITECTURE))
        .with_context(|| format!("reading {ARCHITECTURE}"))?;
    let report = check(&meta, &architecture, &|path| std::fs::read_to_string(path))?;
    for note in &report.tolerated {
        eprintln!("tidy: note: {note}");
    }
    for error in &report.errors {
        eprintln!("tidy: {error}");
    }
    if !report.errors.is_empty() {
        bail!("tidy found {} problem(s)", report.errors.len());
    }
    Ok(())
}

/// What tidy found.
#[derive(Debug)]
struct Report {
    errors: Vec<String>,
    /// Known breaches listed in [`rules::EXCEPTIONS`].
    tolerated: Vec<String>,
}

/// Runs every check on `meta`, the map's text and the sources `read` reads.
fn check(
    meta: &Metadata,
    architecture: &str,
    read: &dyn Fn(&Path) -> std::io::Result<String>,
) -> anyhow::Result<Report> {
    let violations = rules::check(meta, rules::RULES)?;
    let (mut errors, tolerated) = rules::apply_exceptions(violations, rules::EXCEPTIONS);
    errors.extend(docs::missing_crate_docs(meta, read));
    errors.extend(docs::missing_from_architecture(meta, architecture));
    Ok(Report { errors, tolerated })
}

/// The real workspace, as `cargo xtask tidy` sees it, with deliberate
/// breaches added.
#[cfg(test)]
mod tests {
    use super::metadata::{DepKind, Dependency, NodeDep};
    use super::*;

    fn workspace() -> (Metadata, String) {
        let root = crate::util::root();
        let meta = Metadata::load(&root).unwrap_or_else(|e| panic!("{e:#}"));
        let map = std::fs::read_to_string(root.join(ARCHITECTURE))
            .unwrap_or_else(|e| panic!("{ARCHITECTURE}: {e}"));
        (meta, map)
    }

    fn read_real(path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn errors(meta: &Metadata, map: &str) -> Vec<String> {
        check(meta, map, &read_real)
            .unwrap_or_else(|e| panic!("{e:#}"))
            .errors
    }

    /// Gives workspace member `from` a plain dependency on `to`.
    fn add_dependency(meta: &mut Metadata, from: &str, to: &str) {
        let to_id = meta
            .packages
            .iter()
            .find(|p| p.name == to)
            .map(|p| p.id.clone())
            .unwrap_or_else(|| panic!("no package {to}"));
        let from_id = meta
            .member(from)
            .map(|p| p.id.clone())
            .unwrap_or_else(|| panic!("no member {from}"));
        let package = meta
            .packages
            .iter_mut()
            .find(|p| p.id == from_id)
            .unwrap_or_else(|| panic!("no package {from}"));
        package.dependencies.push(Dependency {
            name: to.into(),
            rename: None,
            kind: None,
            optional: false,
            uses_default_features: true,
            features: Vec::new(),
        });
        let node = meta
            .resolve
            .as_mut()
            .and_then(|r| r.nodes.iter_mut().find(|n| n.id == from_id))
            .unwrap_or_else(|| panic!("{from} is not in the resolve graph"));
        node.deps.push(NodeDep {
            pkg: to_id,
            dep_kinds: vec![DepKind { kind: None }],
        });
    }

    #[test]
    fn the_workspace_is_tidy() {
        let (meta, map) = workspace();
        assert_eq!(errors(&meta, &map), [""; 0]);
    }

    #[test]
    fn a_new_io_dependency_of_a_pure_crate_fails() {
        let (mut meta, map) = workspace();
        add_dependency(&mut meta, "mosaic-scope", "tokio");
        let found = errors(&meta, &map);
        assert!(
            found
                .iter()
                .any(|e| e.starts_with("mosaic-scope must not depend on tokio")
                    && e.ends_with(": mosaic-scope -> tokio")),
            "{found:#?}"
        );
    }

    #[test]
    fn a_forbidden_crate_arriving_indirectly_is_traced() {
        let (mut meta, map) = workspace();
        add_dependency(&mut meta, "mosaic-scope", "mosaic-store");
        let found = errors(&meta, &map);
        assert!(
            found
                .iter()
                .any(|e| e.ends_with(": mosaic-scope -> mosaic-store -> sea-orm")),
            "{found:#?}"
        );
    }

    #[test]
    fn a_crate_without_docs_fails() {
        let (meta, map) = workspace();
        let undocumented = |path: &Path| {
            if path.ends_with("mosaic-scope/src/lib.rs") {
                Ok("#![forbid(unsafe_code)]\npub fn f() {}\n".into())
            } else {
                read_real(path)
            }
        };
        let found = check(&meta, &map, &undocumented)
            .unwrap_or_else(|e| panic!("{e:#}"))
            .errors;
        assert_eq!(
            found,
            [
                "crates/mosaic-scope/src/lib.rs: `mosaic-scope` has no crate-level doc comment (`//!` at the top of the file)"
            ]
        );
    }

    #[test]
    fn a_crate_missing_from_the_map_fails() {
        let (meta, map) = workspace();
        let found = errors(&meta, &map.replace("mosaic-fleet", "the fleet crate"));
        assert_eq!(
            found,
            [
                "docs/ARCHITECTURE.md: package `mosaic-fleet` (crates/mosaic-fleet) is not on the map; give it a paragraph"
            ]
        );
    }
}
