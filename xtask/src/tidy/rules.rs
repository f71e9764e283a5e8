//! What each crate may depend on: the architecture invariants of
//! `docs/ARCHITECTURE.md` that a dependency graph can show.

use super::graph::{DepGraph, Features};
use super::metadata::Metadata;

/// Crates that do I/O: a runtime, a database, HTTP, TLS.
const IO: &[&str] = &[
    "tokio",
    "mio",
    "sea-orm",
    "sqlx",
    "hyper",
    "axum",
    "tonic",
    "reqwest",
    "rustls",
    "tokio-rustls",
    "mosaic-store",
];

/// A database, ours or not.
const DATABASE: &[&str] = &["mosaic-store", "sea-orm", "sqlx"];

/// HTTP server frameworks (hyper itself also serves HTTP, but as the client
/// of tonic's channel it cannot be told apart).
const HTTP_SERVER: &[&str] = &[
    "axum",
    "actix-web",
    "warp",
    "poem",
    "rocket",
    "salvo",
    "tower-http",
];

/// One rule: what `krate`, built with `features`, must not pull in.
#[derive(Debug)]
pub struct Rule {
    pub krate: &'static str,
    pub features: Features,
    pub forbid: Forbid,
    /// The invariant, as `docs/ARCHITECTURE.md` states it.
    pub why: &'static str,
}

#[derive(Debug)]
pub enum Forbid {
    /// None of these packages anywhere in its normal dependency graph.
    Anywhere(&'static [&'static [&'static str]]),
    /// No package whose name starts with this, other than itself.
    Prefix(&'static str),
    /// Its direct normal dependencies are these or fewer.
    OnlyDirect(&'static [&'static str]),
}

pub const RULES: &[Rule] = &[
    Rule {
        krate: "mosaic-types",
        features: Features::All,
        forbid: Forbid::Anywhere(&[IO]),
        why: "the wire contract does no I/O",
    },
    Rule {
        krate: "mosaic-types",
        features: Features::All,
        forbid: Forbid::Prefix("mosaic-"),
        why: "the wire contract depends on nothing of ours",
    },
    Rule {
        krate: "mosaic-scope",
        features: Features::All,
        forbid: Forbid::Anywhere(&[IO]),
        why: "scope evaluation is pure",
    },
    Rule {
        krate: "mosaic-nodes",
        features: Features::None,
        forbid: Forbid::Anywhere(&[DATABASE, HTTP_SERVER]),
        why: "without `store` it needs no database and no HTTP framework",
    },
    Rule {
        krate: "mosaic-agent-node",
        features: Features::Default,
        forbid: Forbid::Anywhere(&[DATABASE, HTTP_SERVER, &["mosaic-gateway", "mosaic-cli"]]),
        why: "the node daemon never depends on the store, the gateway, the CLI or an HTTP server",
    },
    Rule {
        krate: "mosaic-identity",
        features: Features::All,
        forbid: Forbid::Anywhere(&[&["mosaic-config"]]),
        why: "identity takes its settings as arguments",
    },
    Rule {
        krate: "mosaic-fleet",
        features: Features::All,
        forbid: Forbid::OnlyDirect(&["serde", "serde_json", "serde_norway", "regex", "thiserror"]),
        why: "the fleet crate has no HTTP, store, tokio or clap",
    },
    Rule {
        krate: "mosaic-agent-proto",
        features: Features::None,
        forbid: Forbid::Anywhere(&[&["tonic"]]),
        why: "the messages alone need only prost; the gRPC service code is behind `grpc`",
    },
];

/// A known breach, tolerated until the code catches up. An exception that
/// no longer matches anything fails tidy, so the list cannot outlive its
/// reason.
#[derive(Debug)]
pub struct Exception {
    pub krate: &'static str,
    pub dependency: &'static str,
    pub reason: &'static str,
}

pub const EXCEPTIONS: &[Exception] = &[];

/// One broken rule.
#[derive(Debug, PartialEq, Eq)]
pub struct Violation {
    pub krate: String,
    pub dependency: String,
    /// `krate -> a -> dependency`.
    pub chain: String,
    pub why: &'static str,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} must not depend on {} ({}): {}",
            self.krate, self.dependency, self.why, self.chain
        )
    }
}

/// Every violation of `rules` in `meta`. A rule naming a crate the
/// workspace does not have is itself an error.
pub fn check(meta: &Metadata, rules: &[Rule]) -> anyhow::Result<Vec<Violation>> {
    let mut found = Vec::new();
    for rule in rules {
        let Some(package) = meta.member(rule.krate) else {
            anyhow::bail!("tidy rule for `{}`: no such workspace package", rule.krate);
        };
        let graph = DepGraph::build(meta, &package.id, rule.features)?;
        let breaches = match rule.forbid {
            Forbid::Anywhere(lists) => {
                graph.reached(|p| lists.iter().any(|list| list.contains(&p.name.as_str())))
            }
            Forbid::Prefix(prefix) => graph.reached(|p| p.name.starts_with(prefix)),
            Forbid::OnlyDirect(allowed) => graph
                .reached(|p| !allowed.contains(&p.name.as_str()))
                .into_iter()
                .filter(|r| r.path.len() == 2)
                .collect(),
        };
        found.extend(breaches.into_iter().map(|r| Violation {
            krate: rule.krate.to_owned(),
            dependency: r.package.name.clone(),
            chain: r.chain(),
            why: rule.why,
        }));
    }
    found.dedup();
    Ok(found)
}

/// Splits violations into errors and tolerated ones, and reports each
/// exception that matched nothing as an error.
pub fn apply_exceptions(
    violations: Vec<Violation>,
    exceptions: &[Exception],
) -> (Vec<String>, Vec<String>) {
    let matches = |v: &Violation, e: &Exception| v.krate == e.krate && v.dependency == e.dependency;
    let mut errors = Vec::new();
    let mut tolerated = Vec::new();
    for v in &violations {
        match exceptions.iter().find(|e| matches(v, e)) {
            Some(e) => tolerated.push(format!("{v}; tolerated for now: {}", e.reason)),
            None => errors.push(v.to_string()),
        }
    }
    for e in exceptions {
        if !violations.iter().any(|v| matches(v, e)) {
            errors.push(format!(
                "{} no longer depends on {}: remove its exception from xtask/src/tidy/rules.rs",
                e.krate, e.dependency
            ));
        }
    }
    (errors, tolerated)
}

#[cfg(test)]
mod tests {
    use super::super::fixture::workspace;
    use super::*;
    use serde_json::json;

    fn fleet_and_scope() -> Metadata {
        workspace(json!([
            {"name": "mosaic-scope", "path": "crates/mosaic-scope", "deps": [
                {"name": "mosaic-types"},
                {"name": "mosaic-store", "optional": true},
            ], "features": {"store": ["dep:mosaic-store"]}},
            {"name": "mosaic-types", "path": "crates/mosaic-types", "deps": [{"name": "serde"}]},
            {"name": "mosaic-store", "path": "crates/mosaic-store", "deps": [{"name": "sea-orm"}]},
            {"name": "mosaic-fleet", "path": "crates/mosaic-fleet", "deps": [
                {"name": "serde"},
                {"name": "clap"},
                {"name": "tempfile", "kind": "dev"},
            ]},
            {"name": "sea-orm"},
            {"name": "serde"},
            {"name": "clap", "deps": [{"name": "tokio"}]},
            {"name": "tokio"},
            {"name": "tempfile"},
        ]))
    }

    const PURE_SCOPE: Rule = Rule {
        krate: "mosaic-scope",
        features: Features::All,
        forbid: Forbid::Anywhere(&[IO]),
        why: "pure",
    };

    #[test]
    fn a_forbidden_crate_is_named_with_the_path_it_arrives_by() {
        let found = check(&fleet_and_scope(), &[PURE_SCOPE]).unwrap_or_else(|e| panic!("{e}"));
        let chains: Vec<&str> = found.iter().map(|v| v.chain.as_str()).collect();
        assert_eq!(
            chains,
            [
                "mosaic-scope -> mosaic-store",
                "mosaic-scope -> mosaic-store -> sea-orm"
            ]
        );
        assert_eq!(
            found[1].to_string(),
            "mosaic-scope must not depend on sea-orm (pure): mosaic-scope -> mosaic-store -> sea-orm"
        );
    }

    #[test]
    fn the_feature_set_decides_which_optional_crates_count() {
        let rule = Rule {
            features: Features::Default,
            ..PURE_SCOPE
        };
        let found = check(&fleet_and_scope(), &[rule]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(found, []);
    }

    #[test]
    fn an_allow_list_judges_direct_dependencies_only() {
        let rule = Rule {
            krate: "mosaic-fleet",
            features: Features::Default,
            forbid: Forbid::OnlyDirect(&["serde"]),
            why: "small",
        };
        let found = check(&fleet_and_scope(), &[rule]).unwrap_or_else(|e| panic!("{e}"));
        let chains: Vec<&str> = found.iter().map(|v| v.chain.as_str()).collect();
        assert_eq!(chains, ["mosaic-fleet -> clap"], "not tokio, not tempfile");
    }

    #[test]
    fn a_prefix_rule_ignores_the_crate_itself() {
        let rule = Rule {
            krate: "mosaic-scope",
            features: Features::None,
            forbid: Forbid::Prefix("mosaic-"),
            why: "alone",
        };
        let found = check(&fleet_and_scope(), &[rule]).unwrap_or_else(|e| panic!("{e}"));
        let deps: Vec<&str> = found.iter().map(|v| v.dependency.as_str()).collect();
        assert_eq!(deps, ["mosaic-types"]);
    }

    #[test]
    fn a_rule_for_a_missing_crate_is_an_error() {
        let rule = Rule {
            krate: "mosaic-gone",
            ..PURE_SCOPE
        };
        assert!(check(&fleet_and_scope(), &[rule]).is_err());
    }

    #[test]
    fn exceptions_tolerate_known_breaches_and_fail_once_stale() {
        let found = check(&fleet_and_scope(), &[PURE_SCOPE]).unwrap_or_else(|e| panic!("{e}"));
        let exceptions = [
            Exception {
                krate: "mosaic-scope",
                dependency: "sea-orm",
                reason: "being removed",
            },
            Exception {
                krate: "mosaic-scope",
                dependency: "tokio",
                reason: "already gone",
            },
        ];
        let (errors, tolerated) = apply_exceptions(found, &exceptions);
        assert_eq!(tolerated.len(), 1);
        assert_eq!(
            errors,
            [
                "mosaic-scope must not depend on mosaic-store (pure): mosaic-scope -> mosaic-store",
                "mosaic-scope no longer depends on tokio: remove its exception from xtask/src/tidy/rules.rs"
            ]
        );
    }
}
