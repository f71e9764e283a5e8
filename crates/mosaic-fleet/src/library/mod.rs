//! The persona library and the system-type profiles: a baseline compiled into
//! the binary, and a user override layer that wins over it.
//!
//! The baseline is re-seeded into `fleet/roles/` and `fleet/profiles/` by
//! `mosaic fleet install`, overwriting what is there. People customise in
//! `fleet/overrides/roles/` and `fleet/overrides/profiles/`, which seeding
//! never writes to: an override replaces the baseline file of the same name
//! as a whole, and a new file adds a persona or profile.

mod personas;
mod profiles;

pub use personas::{Persona, PersonaLibrary, Source};
pub use profiles::{Profile, ProfileSeat, ProfileSet, provision};

mod assets {
    include!(concat!(env!("OUT_DIR"), "/assets.rs"));
}

use crate::error::{Error, Result};
use crate::paths::FleetPaths;
use crate::presets::Preset;
use crate::roster::write_file;
use std::path::{Path, PathBuf};

/// The index of the persona library, for people.
pub const LIBRARY_INDEX: &str = include_str!("../../assets/roles/LIBRARY.md");
/// The roster's JSON schema.
pub const ROSTER_SCHEMA: &str = include_str!("../../schema/roster.schema.json");

const OVERRIDES_README: &str = "\
Your persona and profile customisations.

Files here win over the baseline of the same name in ../roles and ../profiles,
and `mosaic fleet install` never writes here, so they survive re-seeding.
Put personas in roles/<class>.md and system-type profiles in profiles/<id>.yaml.
";

/// What [`seed`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SeedReport {
    /// Files written (baseline, overwritten on every seed).
    pub written: Vec<PathBuf>,
}

/// Every baseline file [`seed`] writes, with its contents: the persona
/// library and its index, the profiles, the presets and the roster schema.
pub fn seed_files(paths: &FleetPaths) -> Result<Vec<(PathBuf, String)>> {
    let mut files = Vec::new();
    for (class, text) in assets::BASELINE_ROLES {
        files.push((
            paths.roles_dir().join(format!("{class}.md")),
            (*text).to_owned(),
        ));
    }
    files.push((
        paths.roles_dir().join("LIBRARY.md"),
        LIBRARY_INDEX.to_owned(),
    ));
    for (id, text) in assets::BASELINE_PROFILES {
        files.push((
            paths.profiles_dir().join(format!("{id}.yaml")),
            (*text).to_owned(),
        ));
    }
    for preset in Preset::ALL {
        files.push((
            paths.examples_dir().join(format!("{}.yaml", preset.name())),
            preset.yaml().to_owned(),
        ));
    }
    files.push((
        paths.fleet_dir().join("roster.schema.json"),
        ROSTER_SCHEMA.to_owned(),
    ));
    files.push((
        paths.overrides_dir().join("README"),
        OVERRIDES_README.to_owned(),
    ));
    Ok(files)
}

/// Creates the override directories (empty; seeding never writes in them
/// beyond their README).
pub fn create_override_dirs(paths: &FleetPaths) -> Result<()> {
    for dir in [paths.override_roles_dir(), paths.override_profiles_dir()] {
        create_dir(&dir)?;
    }
    Ok(())
}

/// Writes the baseline library, profiles, presets and the roster schema
/// under the Mosaic home, and creates the override directories. Never
/// touches a file under `fleet/overrides/`, except its README.
pub fn seed(paths: &FleetPaths) -> Result<SeedReport> {
    let mut report = SeedReport::default();
    for (path, text) in seed_files(paths)? {
        write_file(&path, &text)?;
        report.written.push(path);
    }
    create_override_dirs(paths)?;
    Ok(report)
}

fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Write {
        path: dir.to_path_buf(),
        source,
    })
}

/// The `(stem, text)` of every file in `dir` ending in `.ext`, sorted; an
/// absent directory has none.
fn read_dir_files(dir: &Path, ext: &str) -> Result<Vec<(String, String, PathBuf)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(Error::Read {
                path: dir.to_path_buf(),
                source,
            });
        }
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| Error::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(stem) = name.strip_suffix(&format!(".{ext}")) else {
            continue;
        };
        if name == "LIBRARY.md" {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Read {
            path: path.clone(),
            source,
        })?;
        files.push((stem.to_owned(), text, path));
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(files)
}
