//! Conventions about documentation: every library crate says what it is,
//! and the architecture map names every package.

use super::metadata::Metadata;
use std::path::Path;

/// Where library crates live; each needs a crate-level doc comment.
const LIBRARY_DIRS: &[&str] = &["crates/", "migrations"];

/// Library crates under [`LIBRARY_DIRS`] whose `lib.rs` does not open with
/// a `//!` comment (after inner attributes). `read` reads a source file.
pub fn missing_crate_docs(
    meta: &Metadata,
    read: &dyn Fn(&Path) -> std::io::Result<String>,
) -> Vec<String> {
    let mut errors = Vec::new();
    for package in meta.members() {
        let dir = meta.relative_dir(package);
        if !LIBRARY_DIRS.iter().any(|d| dir.starts_with(d)) {
            continue;
        }
        let Some(lib) = package.lib_path() else {
            continue;
        };
        let shown = lib.strip_prefix(&meta.workspace_root).unwrap_or(lib);
        match read(lib) {
            Ok(text) if has_crate_doc(&text) => {}
            Ok(_) => errors.push(format!(
                "{}: `{}` has no crate-level doc comment (`//!` at the top of the file)",
                shown.display(),
                package.name
            )),
            Err(e) => errors.push(format!("{}: cannot read: {e}", shown.display())),
        }
    }
    errors
}

/// Whether the first thing after blank lines and inner attributes
/// (`#![…]`, possibly over several lines) is a `//!` or `/*!` comment.
fn has_crate_doc(source: &str) -> bool {
    let mut open_brackets = 0usize;
    for line in source.lines().map(str::trim) {
        if open_brackets > 0 || line.starts_with("#![") {
            open_brackets += line.matches('[').count();
            open_brackets = open_brackets.saturating_sub(line.matches(']').count());
            continue;
        }
        if line.is_empty() {
            continue;
        }
        return line.starts_with("//!") || line.starts_with("/*!");
    }
    false
}

/// Workspace packages that `architecture`, the text of
/// `docs/ARCHITECTURE.md`, names neither by package name nor by directory.
pub fn missing_from_architecture(meta: &Metadata, architecture: &str) -> Vec<String> {
    meta.members()
        .filter(|p| {
            let dir = meta.relative_dir(p);
            !mentions(architecture, &p.name) && !mentions(architecture, &dir)
        })
        .map(|p| {
            format!(
                "docs/ARCHITECTURE.md: package `{}` ({}) is not on the map; give it a paragraph",
                p.name,
                meta.relative_dir(p)
            )
        })
        .collect()
}

/// Whether `text` contains `word` as a whole name: not as part of a longer
/// one (`mosaic-federation` is not named by `mosaic-federation-client`).
fn mentions(text: &str, word: &str) -> bool {
    if word.is_empty() {
        return false;
    }
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(is_name) && !after.is_some_and(is_name)
    })
}

#[cfg(test)]
mod tests {
    use super::super::fixture::workspace;
    use super::*;
    use serde_json::json;

    #[test]
    fn a_crate_doc_may_follow_inner_attributes() {
        let cases = [
            ("//! Docs.\n", true),
            ("\n#![forbid(unsafe_code)]\n\n//! Docs.\nfn f() {}\n", true),
            ("#![allow(\n    dead_code,\n)]\n/*! Docs. */\n", true),
            ("/// An item doc.\npub fn f() {}\n", false),
            ("// A plain comment.\n//! Docs.\n", false),
            ("#![forbid(unsafe_code)]\nuse std::fmt;\n", false),
            ("", false),
        ];
        for (source, want) in cases {
            assert_eq!(has_crate_doc(source), want, "{source:?}");
        }
    }

    #[test]
    fn names_match_whole() {
        let text = "`crates/mosaic-federation-client` and mosaic-store, `bins/gateway/`";
        assert!(mentions(text, "mosaic-store"));
        assert!(mentions(text, "bins/gateway"));
        assert!(mentions(text, "crates/mosaic-federation-client"));
        assert!(!mentions(text, "crates/mosaic-federation"));
        assert!(!mentions(text, "mosaic-stor"));
        assert!(!mentions(text, "gateway-x"));
    }

    fn two_crates() -> Metadata {
        workspace(json!([
            {"name": "mosaic-a", "path": "crates/mosaic-a"},
            {"name": "mosaic-b", "path": "crates/mosaic-b"},
            {"name": "mosaic-gateway", "path": "bins/gateway"},
            {"name": "serde"},
        ]))
    }

    #[test]
    fn a_library_without_a_crate_doc_is_named() {
        let read = |path: &Path| -> std::io::Result<String> {
            Ok(if path.starts_with("/ws/crates/mosaic-b") {
                "pub fn f() {}\n".into()
            } else {
                "//! Docs.\n".into()
            })
        };
        assert_eq!(
            missing_crate_docs(&two_crates(), &read),
            [
                "crates/mosaic-b/src/lib.rs: `mosaic-b` has no crate-level doc comment (`//!` at the top of the file)"
            ]
        );
    }

    #[test]
    fn a_package_missing_from_the_map_is_named() {
        let map = "### `crates/mosaic-a`\n### `bins/gateway` (package `mosaic-gateway`)\n";
        assert_eq!(
            missing_from_architecture(&two_crates(), map),
            [
                "docs/ARCHITECTURE.md: package `mosaic-b` (crates/mosaic-b) is not on the map; give it a paragraph"
            ]
        );
        let by_name = "mosaic-a, mosaic-b, gateway: see bins/gateway";
        assert_eq!(missing_from_architecture(&two_crates(), by_name), [""; 0]);
    }
}
