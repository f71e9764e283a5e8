//! Hand-written `cargo metadata` for tests.

use super::metadata::Metadata;
use serde_json::{Value, json};

/// Metadata for a made-up workspace rooted at `/ws`.
///
/// Each package is `{"name", "path"?, "deps"?, "features"?}`; one with a
/// `path` is a workspace member at `/ws/<path>`, one without comes from a
/// registry. A dependency is `{"name", "rename"?, "kind"?, "optional"?,
/// "default"?, "features"?}` and resolves to the package of that name.
pub fn workspace(packages: Value) -> Metadata {
    let list = packages.as_array().cloned().unwrap_or_default();
    let id = |name: &str| format!("{name}#0.1.0");
    let mut out = Vec::new();
    let mut nodes = Vec::new();
    let mut members = Vec::new();
    for p in &list {
        let name = p["name"].as_str().unwrap_or_default();
        let dir = match p["path"].as_str() {
            Some(path) => {
                members.push(id(name));
                format!("/ws/{path}")
            }
            None => format!("/registry/{name}"),
        };
        let deps: Vec<Value> = p["deps"].as_array().cloned().unwrap_or_default();
        let dependencies: Vec<Value> = deps
            .iter()
            .map(|d| {
                json!({
                    "name": d["name"],
                    "rename": d.get("rename"),
                    "kind": d.get("kind"),
                    "optional": d.get("optional").unwrap_or(&json!(false)),
                    "uses_default_features": d.get("default").unwrap_or(&json!(true)),
                    "features": d.get("features").unwrap_or(&json!([])),
                })
            })
            .collect();
        let resolved: Vec<Value> = deps
            .iter()
            .map(|d| {
                json!({
                    "pkg": id(d["name"].as_str().unwrap_or_default()),
                    "dep_kinds": [{"kind": d.get("kind")}],
                })
            })
            .collect();
        out.push(json!({
            "id": id(name),
            "name": name,
            "manifest_path": format!("{dir}/Cargo.toml"),
            "dependencies": dependencies,
            "features": p.get("features").unwrap_or(&json!({})),
            "targets": [{"kind": ["lib"], "src_path": format!("{dir}/src/lib.rs")}],
        }));
        nodes.push(json!({"id": id(name), "deps": resolved}));
    }
    let meta = json!({
        "packages": out,
        "workspace_members": members,
        "workspace_root": "/ws",
        "resolve": {"nodes": nodes},
    });
    serde_json::from_value(meta).unwrap_or_else(|e| panic!("fixture: {e}"))
}
