//! Whether an agent's class has a persona.
//!
//! A class names the persona an agent runs under (`fleet/roles/<class>.md`
//! or its override). New input that names a class without one (`fleet add
//! --class`, `fleet edit --class`) is refused with the classes that have
//! one. A roster already on disk that does is only warned about, by the
//! commands that bring agents up (`install`, `start`): such rosters were
//! written by earlier presets and by the documented default class, and the
//! agent still runs, with a system prompt that lacks a persona.

use super::Fleet;
use crate::error::{Error, Result};
use crate::library::PersonaLibrary;
use crate::roster::Roster;

fn library(fleet: &Fleet<'_>) -> Result<PersonaLibrary> {
    PersonaLibrary::with_overrides(&fleet.paths.override_roles_dir())
}

fn unknown(fleet: &Fleet<'_>, library: &PersonaLibrary, what: &str, class: &str) -> Error {
    Error::UnknownClass {
        what: what.to_owned(),
        class: class.to_owned(),
        classes: library.iter().map(|p| p.class.clone()).collect(),
        override_file: fleet.paths.override_roles_dir().join(format!("{class}.md")),
    }
}

/// `Ok` when `class` has a persona in the effective library (baseline and
/// overrides); otherwise an error naming `what`, the class and every class
/// that has one.
pub fn check_class(fleet: &Fleet<'_>, what: &str, class: &str) -> Result<()> {
    let library = library(fleet)?;
    if library.contains(class) {
        Ok(())
    } else {
        Err(unknown(fleet, &library, what, class))
    }
}

/// One warning per roster agent whose class has no persona.
pub fn class_warnings(fleet: &Fleet<'_>, roster: &Roster) -> Result<Vec<String>> {
    let library = library(fleet)?;
    Ok(roster
        .agents
        .iter()
        .filter(|a| !library.contains(&a.class))
        .map(|a| {
            format!(
                "agent `{name}`: class `{class}` has no persona, so it runs without one; \
                 give it a class that has one (`mosaic fleet roles` lists them) with \
                 `mosaic fleet edit {name} --class <class>`",
                name = a.name,
                class = a.class
            )
        })
        .collect())
}
