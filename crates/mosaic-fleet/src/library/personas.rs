//! Personas: one Markdown role definition per class.

use super::{assets, read_dir_files};
use crate::error::{Error, Result};
use regex::Regex;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

/// Where a persona came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Shipped with mosaic.
    Baseline,
    /// The user's override layer.
    Override(PathBuf),
}

/// A persona: a role definition an agent of that class runs under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Persona {
    /// The class (file stem).
    pub class: String,
    /// The heading's title, e.g. `Code`.
    pub title: String,
    /// The domain, for cross-domain personas; engineering personas have none.
    pub domain: Option<String>,
    /// Whether it is a standing seat, when the file says.
    pub persistent: Option<bool>,
    /// The Markdown, whole.
    #[serde(skip)]
    pub markdown: String,
    /// Baseline or override.
    pub source: Source,
}

static HEADING: LazyLock<Regex> =
    LazyLock::new(|| crate::util::regex(r"^# (.+?) — fleet role definition\s*$"));
static CLASS: LazyLock<Regex> = LazyLock::new(|| crate::util::regex(r"`class: ([A-Za-z0-9._-]+)`"));
static DOMAIN: LazyLock<Regex> = LazyLock::new(|| crate::util::regex(r"`domain: ([a-z-]+)`"));
static PERSISTENT: LazyLock<Regex> =
    LazyLock::new(|| crate::util::regex(r"`persistent_persona: (true|false)`"));

impl Persona {
    /// Parses a role file. The first line must be
    /// `# <Title> — fleet role definition`, and a `` `class: <class>` ``
    /// marker must name the file's class.
    pub fn parse(class: &str, markdown: &str, source: Source) -> Result<Persona> {
        let origin = match &source {
            Source::Baseline => format!("baseline persona {class}"),
            Source::Override(path) => path.display().to_string(),
        };
        let first = markdown.lines().next().unwrap_or_default();
        let title = HEADING
            .captures(first)
            .map(|c| c[1].to_owned())
            .ok_or_else(|| {
                Error::invalid(
                    &origin,
                    "the first line must be `# <Title> — fleet role definition`",
                )
            })?;
        match CLASS.captures(markdown) {
            Some(c) if &c[1] == class => {}
            Some(c) => {
                return Err(Error::invalid(
                    &origin,
                    format!(
                        "its `class: {}` marker does not match the file name `{class}.md`",
                        &c[1]
                    ),
                ));
            }
            None => {
                return Err(Error::invalid(
                    &origin,
                    format!("add a `class: {class}` marker to the introduction"),
                ));
            }
        }
        Ok(Persona {
            class: class.to_owned(),
            title,
            domain: DOMAIN.captures(markdown).map(|c| c[1].to_owned()),
            persistent: PERSISTENT.captures(markdown).map(|c| &c[1] == "true"),
            markdown: markdown.to_owned(),
            source,
        })
    }
}

/// The effective persona library: baseline merged with overrides.
#[derive(Debug, Clone, Default)]
pub struct PersonaLibrary {
    personas: BTreeMap<String, Persona>,
}

impl PersonaLibrary {
    /// The personas shipped with mosaic.
    pub fn baseline() -> Result<Self> {
        let mut personas = BTreeMap::new();
        for (class, text) in assets::BASELINE_ROLES {
            personas.insert(
                (*class).to_owned(),
                Persona::parse(class, text, Source::Baseline)?,
            );
        }
        Ok(PersonaLibrary { personas })
    }

    /// The baseline with every `*.md` in `overrides` on top: an override
    /// replaces the baseline persona of its class, a new class is added.
    pub fn with_overrides(overrides: &Path) -> Result<Self> {
        let mut library = PersonaLibrary::baseline()?;
        for (class, text, path) in read_dir_files(overrides, "md")? {
            let persona = Persona::parse(&class, &text, Source::Override(path))?;
            library.personas.insert(class, persona);
        }
        Ok(library)
    }

    /// The persona of `class`.
    pub fn get(&self, class: &str) -> Option<&Persona> {
        self.personas.get(class)
    }

    /// Whether `class` has a persona.
    pub fn contains(&self, class: &str) -> bool {
        self.personas.contains_key(class)
    }

    /// Every persona, by class.
    pub fn iter(&self) -> impl Iterator<Item = &Persona> {
        self.personas.values()
    }

    /// How many personas.
    pub fn len(&self) -> usize {
        self.personas.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.personas.is_empty()
    }
}
