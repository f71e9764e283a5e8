//! The normal-dependency graph of one package as cargo would build it with a
//! given feature set.
//!
//! `cargo metadata` resolves the whole workspace at once, with features
//! unified across every member, so its own graph says what the workspace
//! builds, not what one crate pulls in. Here features are followed from the
//! chosen crate alone: a non-optional normal dependency is always there; an
//! optional one only when an enabled feature turns it on (`dep:x`, `x/feat`,
//! an implicit feature `x`), and `x?/feat` adds `feat` only once `x` is on by
//! other means. Dev- and build-dependencies are not followed: they are not
//! part of what the crate links.

use super::metadata::{Metadata, Package};
use anyhow::Context as _;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

/// Which features of the root crate are on.
#[derive(Debug, Clone, Copy)]
pub enum Features {
    /// Its `default` features, as a plain dependent gets it.
    Default,
    /// `default-features = false`, nothing else.
    None,
    /// Every feature it declares.
    All,
}

/// The packages one crate pulls in, and through which edges.
#[derive(Debug)]
pub struct DepGraph<'m> {
    root: &'m str,
    packages: HashMap<&'m str, &'m Package>,
    edges: BTreeMap<&'m str, BTreeSet<&'m str>>,
    /// Every package built, with its enabled features.
    #[cfg_attr(not(test), expect(dead_code, reason = "read by the resolver's tests"))]
    features: BTreeMap<&'m str, BTreeSet<&'m str>>,
}

/// A package the root reaches, with the shortest chain of package names
/// from the root to it.
#[derive(Debug)]
pub struct Reached<'m> {
    pub package: &'m Package,
    pub path: Vec<&'m str>,
}

impl Reached<'_> {
    /// `root -> a -> b`.
    pub fn chain(&self) -> String {
        self.path.join(" -> ")
    }
}

impl<'m> DepGraph<'m> {
    /// Resolves the graph of the package with id `root`.
    pub fn build(meta: &'m Metadata, root: &'m str, features: Features) -> anyhow::Result<Self> {
        let mut resolver = Resolver::new(meta)?;
        let package = *resolver
            .packages
            .get(root)
            .with_context(|| format!("no package with id {root}"))?;
        resolver.activate_package(root);
        match features {
            Features::Default => resolver.apply(root, "default"),
            Features::None => {}
            Features::All => {
                for feature in package.features.keys() {
                    resolver.apply(root, feature);
                }
            }
        }
        let mut edges: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for key in &resolver.enabled {
            edges
                .entry(key.0)
                .or_default()
                .extend(resolver.targets.get(key).into_iter().flatten());
        }
        Ok(DepGraph {
            root,
            packages: resolver.packages,
            edges,
            features: resolver.features,
        })
    }

    /// Every package other than the root that it reaches and `wanted`
    /// accepts, each with a shortest path, in breadth-first order.
    pub fn reached(&self, wanted: impl Fn(&Package) -> bool) -> Vec<Reached<'m>> {
        let mut parent: HashMap<&str, &str> = HashMap::new();
        let mut queue = VecDeque::from([self.root]);
        let mut found = Vec::new();
        while let Some(id) = queue.pop_front() {
            for &next in self.edges.get(id).into_iter().flatten() {
                if next == self.root || parent.contains_key(next) {
                    continue;
                }
                parent.insert(next, id);
                queue.push_back(next);
                let Some(package) = self.packages.get(next).copied() else {
                    continue;
                };
                if wanted(package) {
                    found.push(Reached {
                        package,
                        path: self.path_names(&parent, next),
                    });
                }
            }
        }
        found
    }

    fn path_names(&self, parent: &HashMap<&str, &str>, to: &str) -> Vec<&'m str> {
        let mut names = Vec::new();
        let mut at = to;
        loop {
            if let Some(p) = self.packages.get(at) {
                names.push(p.name.as_str());
            }
            match parent.get(at) {
                Some(&up) => at = up,
                None => break,
            }
        }
        names.reverse();
        names
    }

    /// The features enabled on the package named `name` (for tests).
    #[cfg(test)]
    pub fn features_of(&self, name: &str) -> Option<Vec<&'m str>> {
        let (_, set) = self
            .features
            .iter()
            .find(|(id, _)| self.packages.get(*id).is_some_and(|p| p.name == name))?;
        Some(set.iter().copied().collect())
    }

    /// Whether the package named `name` is built at all.
    #[cfg(test)]
    pub fn contains(&self, name: &str) -> bool {
        self.features
            .keys()
            .any(|id| self.packages.get(id).is_some_and(|p| p.name == name))
    }
}

/// One dependency entry of one package: (package id, index into its
/// `dependencies`).
type DepKey<'m> = (&'m str, usize);

struct Resolver<'m> {
    packages: HashMap<&'m str, &'m Package>,
    /// The package ids each normal dependency entry resolved to.
    targets: HashMap<DepKey<'m>, Vec<&'m str>>,
    /// Packages built so far, with their enabled features.
    features: BTreeMap<&'m str, BTreeSet<&'m str>>,
    /// Dependency entries turned on.
    enabled: BTreeSet<DepKey<'m>>,
    /// `x?/feat` seen while `x` was off: features to add if it comes on.
    weak: HashMap<DepKey<'m>, Vec<&'m str>>,
}

impl<'m> Resolver<'m> {
    fn new(meta: &'m Metadata) -> anyhow::Result<Self> {
        let resolve = meta
            .resolve
            .as_ref()
            .context("`cargo metadata` gave no resolve graph")?;
        let packages: HashMap<&str, &Package> =
            meta.packages.iter().map(|p| (p.id.as_str(), p)).collect();
        let mut targets = HashMap::new();
        for node in &resolve.nodes {
            let Some(package) = packages.get(node.id.as_str()) else {
                continue;
            };
            for (index, dep) in package.dependencies.iter().enumerate() {
                if !dep.is_normal() {
                    continue;
                }
                let resolved: Vec<&str> = node
                    .deps
                    .iter()
                    .filter(|d| {
                        d.dep_kinds.is_empty() || d.dep_kinds.iter().any(|k| k.kind.is_none())
                    })
                    .filter(|d| {
                        packages
                            .get(d.pkg.as_str())
                            .is_some_and(|p| p.name == dep.name)
                    })
                    .map(|d| d.pkg.as_str())
                    .collect();
                targets.insert((node.id.as_str(), index), resolved);
            }
        }
        Ok(Resolver {
            packages,
            targets,
            features: BTreeMap::new(),
            enabled: BTreeSet::new(),
            weak: HashMap::new(),
        })
    }

    /// Builds `id`: its non-optional normal dependencies come with it.
    fn activate_package(&mut self, id: &'m str) {
        if self.features.contains_key(id) {
            return;
        }
        self.features.insert(id, BTreeSet::new());
        let Some(package) = self.packages.get(id).copied() else {
            return;
        };
        for (index, dep) in package.dependencies.iter().enumerate() {
            if dep.is_normal() && !dep.optional {
                self.enable_dependency((id, index));
            }
        }
    }

    /// Turns a dependency entry on: the packages it resolved to are built
    /// with the features it asks for.
    fn enable_dependency(&mut self, key: DepKey<'m>) {
        if !self.enabled.insert(key) {
            return;
        }
        let Some(dep) = self
            .packages
            .get(key.0)
            .and_then(|p| p.dependencies.get(key.1))
        else {
            return;
        };
        let targets = self.targets.get(&key).cloned().unwrap_or_default();
        let waiting = self.weak.remove(&key).unwrap_or_default();
        for target in targets {
            self.activate_package(target);
            if dep.uses_default_features {
                self.apply(target, "default");
            }
            for feature in dep
                .features
                .iter()
                .map(String::as_str)
                .chain(waiting.iter().copied())
            {
                self.apply(target, feature);
            }
        }
    }

    /// Applies one entry of a feature list (`name`, `dep:x`, `x/feat`,
    /// `x?/feat`) to package `id`.
    fn apply(&mut self, id: &'m str, value: &'m str) {
        if let Some(key) = value.strip_prefix("dep:") {
            for index in self.optional_entries(id, key) {
                self.enable_dependency((id, index));
            }
        } else if let Some((dep, feature)) = value.split_once('/') {
            let (key, weak) = match dep.strip_suffix('?') {
                Some(key) => (key, true),
                None => (dep, false),
            };
            for index in self.entries(id, key) {
                let entry = (id, index);
                if !weak {
                    self.enable_dependency(entry);
                }
                if self.enabled.contains(&entry) {
                    for target in self.targets.get(&entry).cloned().unwrap_or_default() {
                        self.apply(target, feature);
                    }
                } else {
                    self.weak.entry(entry).or_default().push(feature);
                }
            }
        } else {
            self.activate_feature(id, value);
        }
    }

    fn activate_feature(&mut self, id: &'m str, feature: &'m str) {
        self.activate_package(id);
        let Some(package) = self.packages.get(id).copied() else {
            return;
        };
        if self.features.get(id).is_some_and(|f| f.contains(feature)) {
            return;
        }
        if let Some(values) = package.features.get(feature) {
            self.features.entry(id).or_default().insert(feature);
            for value in values {
                self.apply(id, value);
            }
        } else {
            // An optional dependency is also a feature of its own name
            // unless some feature names it with `dep:`.
            let entries = self.optional_entries(id, feature);
            if !entries.is_empty() {
                self.features.entry(id).or_default().insert(feature);
            }
            for index in entries {
                self.enable_dependency((id, index));
            }
        }
    }

    /// The normal dependency entries of `id` known as `key`.
    fn entries(&self, id: &str, key: &str) -> Vec<usize> {
        self.packages.get(id).map_or_else(Vec::new, |p| {
            p.dependencies
                .iter()
                .enumerate()
                .filter(|(_, d)| d.is_normal() && d.key() == key)
                .map(|(i, _)| i)
                .collect()
        })
    }

    fn optional_entries(&self, id: &str, key: &str) -> Vec<usize> {
        self.entries(id, key)
            .into_iter()
            .filter(|&i| {
                self.packages
                    .get(id)
                    .and_then(|p| p.dependencies.get(i))
                    .is_some_and(|d| d.optional)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::workspace;
    use super::*;
    use serde_json::json;

    fn graph_of<'m>(meta: &'m Metadata, name: &str, features: Features) -> DepGraph<'m> {
        let id = &meta
            .packages
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no package {name}"))
            .id;
        DepGraph::build(meta, id, features).unwrap_or_else(|e| panic!("{e:#}"))
    }

    /// `app` -> `lib` (optional `net` behind feature `online`, weak `tls`),
    /// `net` -> optional `tls`.
    fn small() -> Metadata {
        workspace(json!([
            {"name": "app", "path": "app", "deps": [
                {"name": "lib", "features": ["fast"], "default": false},
                {"name": "tool", "kind": "dev"},
                {"name": "gen", "kind": "build"},
            ]},
            {"name": "lib", "path": "lib", "deps": [
                {"name": "net", "optional": true},
                {"name": "bytes"},
                {"name": "old", "optional": true},
            ], "features": {
                "default": ["online"],
                "legacy": ["old"],
                "online": ["dep:net", "net/ipv6"],
                "secure": ["net?/tls"],
                "fast": ["bytes/simd"],
            }},
            {"name": "net", "deps": [{"name": "tls", "optional": true}],
             "features": {"ipv6": [], "tls": ["dep:tls"]}},
            {"name": "tls"},
            {"name": "bytes", "features": {"simd": [], "default": ["std"], "std": []}},
            {"name": "old"},
            {"name": "tool"},
            {"name": "gen"},
        ]))
    }

    #[test]
    fn optional_dependencies_follow_the_features_that_enable_them() {
        let meta = small();
        let lib = graph_of(&meta, "lib", Features::Default);
        assert!(lib.contains("net"));
        assert_eq!(lib.features_of("net"), Some(vec!["ipv6"]));
        assert!(!lib.contains("tls"), "net?/tls is weak and `secure` is off");
        assert!(!lib.contains("old"));
        let bare = graph_of(&meta, "lib", Features::None);
        assert!(!bare.contains("net"));
        assert!(bare.contains("bytes"));
        assert_eq!(bare.features_of("bytes"), Some(vec!["default", "std"]));
    }

    #[test]
    fn a_weak_feature_applies_once_the_dependency_is_on() {
        let meta = small();
        let all = graph_of(&meta, "lib", Features::All);
        assert!(all.contains("tls"), "`secure` with `online` turns tls on");
        let chain = all.reached(|p| p.name == "tls").first().map(Reached::chain);
        assert_eq!(chain.as_deref(), Some("lib -> net -> tls"));
        // The weak feature is seen first, the dependency comes on later.
        let meta = workspace(json!([
            {"name": "lib", "path": "lib", "deps": [{"name": "net", "optional": true}],
             "features": {"a-secure": ["net?/tls"], "b-online": ["dep:net"]}},
            {"name": "net", "deps": [{"name": "tls", "optional": true}],
             "features": {"tls": ["dep:tls"]}},
            {"name": "tls"},
        ]));
        assert!(graph_of(&meta, "lib", Features::All).contains("tls"));
        assert!(!graph_of(&meta, "lib", Features::None).contains("net"));
    }

    #[test]
    fn an_optional_dependency_is_a_feature_of_its_own_name() {
        let meta = small();
        assert!(graph_of(&meta, "lib", Features::All).contains("old"));
        assert!(!graph_of(&meta, "lib", Features::Default).contains("old"));
    }

    #[test]
    fn dependency_features_and_default_features_follow_the_entry() {
        let meta = small();
        let app = graph_of(&meta, "app", Features::Default);
        assert!(!app.contains("net"), "app takes lib without its defaults");
        assert_eq!(
            app.features_of("lib"),
            Some(vec!["fast"]),
            "lib gets only what app asks for"
        );
        assert_eq!(
            app.features_of("bytes"),
            Some(vec!["default", "simd", "std"])
        );
    }

    #[test]
    fn dev_and_build_dependencies_are_not_followed() {
        let meta = small();
        let app = graph_of(&meta, "app", Features::All);
        assert!(!app.contains("tool"));
        assert!(!app.contains("gen"));
        let reached: Vec<String> = app.reached(|_| true).iter().map(Reached::chain).collect();
        assert_eq!(reached, ["app -> lib", "app -> lib -> bytes"]);
    }

    #[test]
    fn a_renamed_dependency_is_known_by_its_key() {
        let meta = workspace(json!([
            {"name": "app", "path": "app", "deps": [
                {"name": "net", "rename": "network", "optional": true},
            ], "features": {"online": ["dep:network"]}},
            {"name": "net"},
        ]));
        assert!(!graph_of(&meta, "app", Features::None).contains("net"));
        assert!(graph_of(&meta, "app", Features::All).contains("net"));
    }
}
