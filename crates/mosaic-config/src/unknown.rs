//! Keys nobody reads: a typo in `mosaic.toml` (`htp_addr`) is an error that
//! names the file, the key and the nearest key that exists, rather than a
//! setting silently left at its default.
//!
//! Detection deserializes the merged configuration a second time through
//! `serde_ignored`, so it agrees exactly with what the settings struct
//! accepts (aliases, optional tables, maps). Suggestions come from the
//! settings' own defaults, serialized: every field appears there.

use figment::value::{Dict, Value};
use figment::{Figment, Metadata, Source};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Top-level tables of `mosaic.toml` that belong to a program other than the
/// one loading: the CLI's connection (`[client]`) sits in the same file the
/// gateway reads.
pub const SHARED_SECTIONS: &[&str] = &["client"];

/// A key present in a layer that the settings do not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownKey {
    /// Dotted path, e.g. `limits.max_conections`.
    pub key: String,
    /// Where it came from, as the user would name it.
    pub source_name: String,
    /// The nearest valid key at the same level, when one is close.
    pub suggestion: Option<String>,
}

/// Which part of the merged figment to check.
pub(crate) enum Scope<'a> {
    /// All of it, except [`SHARED_SECTIONS`] owned by other programs.
    Whole,
    /// Only the table under this top-level key.
    Section(&'a str),
}

/// The keys of `figment` (restricted to `scope`) that `T` ignores and that a
/// user typed: in a file, or in a `MOSAIC_*` variable nested under a table
/// (`MOSAIC_LIMITS__MAX_CONECTIONS`). Top-level environment variables are
/// shared by every Mosaic program (`MOSAIC_GATEWAY_URL` is the CLI's,
/// `MOSAIC_DATA_DIR` the gateway's), so an unknown one is not an error.
pub(crate) fn find<T: DeserializeOwned + Serialize + Default>(
    figment: &Figment,
    scope: &Scope<'_>,
) -> Vec<UnknownKey> {
    let Ok(whole) = figment.extract::<Dict>() else {
        return Vec::new();
    };
    let (value, prefix) = match scope {
        Scope::Whole => (Value::from(whole), String::new()),
        Scope::Section(name) => match whole.get(*name) {
            Some(v) => (v.clone(), format!("{name}.")),
            None => return Vec::new(),
        },
    };
    let mut ignored = Vec::new();
    // A value that does not fit was reported by the typed extraction
    // already; whatever was found before it is still worth reporting.
    let _ =
        serde_ignored::deserialize(&value, |path| ignored.push(path.to_string())).map(|_: T| ());
    let known = Value::serialize(T::default()).ok();
    ignored
        .into_iter()
        .filter(|path| !path.is_empty())
        .filter(|path| match scope {
            Scope::Whole => !SHARED_SECTIONS.contains(&first_segment(path)),
            Scope::Section(_) => true,
        })
        .filter_map(|path| {
            let full = format!("{prefix}{path}");
            let meta = figment.find_metadata(&full);
            let source_name = typed_source(meta, &full)?;
            Some(UnknownKey {
                suggestion: known
                    .as_ref()
                    .and_then(|k| nearest(k, &path))
                    .map(|s| format!("{prefix}{s}")),
                key: full,
                source_name,
            })
        })
        .collect()
}

fn first_segment(path: &str) -> &str {
    path.split('.').next().unwrap_or(path)
}

/// Where a key was typed, or `None` when it came from a shared top-level
/// environment variable (or anywhere that is not the user's typing).
fn typed_source(meta: Option<&Metadata>, key: &str) -> Option<String> {
    let meta = meta?;
    match &meta.source {
        Some(Source::File(path)) => Some(format!("config file {}", path.display())),
        _ if meta.name.contains("environment") => {
            if !key.contains('.') {
                return None;
            }
            let prefix = if meta.name.contains("MOSAIC_") {
                "MOSAIC_"
            } else {
                ""
            };
            Some(format!(
                "environment variable {prefix}{}",
                key.replace('.', "__").to_uppercase()
            ))
        }
        _ => None,
    }
}

/// The closest existing key beside the unknown one at `path`, when the two
/// are near enough that a typo is the likely story.
fn nearest(known: &Value, path: &str) -> Option<String> {
    let mut segments: Vec<&str> = path.split('.').collect();
    let last = segments.pop()?;
    let mut table = known;
    for seg in &segments {
        table = table.as_dict()?.get(*seg)?;
    }
    let candidates = table.as_dict()?;
    let (best, score) = candidates
        .keys()
        .map(|k| (k, strsim::jaro_winkler(last, k)))
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    (score >= 0.8).then(|| {
        let mut full = segments.join(".");
        if !full.is_empty() {
            full.push('.');
        }
        full.push_str(best);
        full
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use figment::providers::{Format, Serialized, Toml};

    #[derive(Debug, Default, Serialize, serde::Deserialize)]
    #[serde(default)]
    struct Demo {
        http_addr: String,
        database_url: Option<String>,
        limits: Limits,
    }

    #[derive(Debug, Default, Serialize, serde::Deserialize)]
    #[serde(default)]
    struct Limits {
        max_connections: u32,
    }

    fn check(toml: &str) -> Vec<UnknownKey> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("mosaic.toml");
        std::fs::write(&file, toml).unwrap();
        let figment =
            Figment::from(Serialized::defaults(Demo::default())).merge(Toml::file_exact(&file));
        let found = find::<Demo>(&figment, &Scope::Whole);
        for f in &found {
            assert_eq!(f.source_name, format!("config file {}", file.display()));
        }
        found
    }

    #[test]
    fn typos_are_found_with_the_nearest_key() {
        let cases = [
            ("htp_addr = 'x'", "htp_addr", Some("http_addr")),
            ("databse_url = 'x'", "databse_url", Some("database_url")),
            (
                "[limits]\nmax_conections = 3",
                "limits.max_conections",
                Some("limits.max_connections"),
            ),
            ("colour = 'blue'", "colour", None),
        ];
        for (toml, key, suggestion) in cases {
            let found = check(toml);
            assert_eq!(found.len(), 1, "{toml}: {found:?}");
            assert_eq!(found[0].key, key);
            assert_eq!(found[0].suggestion.as_deref(), suggestion, "{toml}");
        }
    }

    #[test]
    fn known_keys_and_shared_sections_pass() {
        assert!(check("http_addr = 'x'\n[limits]\nmax_connections = 3").is_empty());
        assert!(check("[client]\ngateway_url = 'http://x'").is_empty());
    }
}
