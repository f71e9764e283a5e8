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

/// Writes the baseline library, profiles, presets and the roster schema
/// under the Mosaic home, and creates the override directories. Never
/// touches a file under `fleet/overrides/`, except its README.
pub fn seed(paths: &FleetPaths) -> Result<SeedReport> {
    let mut report = SeedReport::default();
    let mut put = |path: PathBuf, text: &str| -> Result<()> {
        write_file(&path, text)?;
        report.written.push(path);
        Ok(())
    };
    for (class, text) in assets::BASELINE_ROLES {
        put(paths.roles_dir().join(format!("{class}.md")), text)?;
    }
    put(paths.roles_dir().join("LIBRARY.md"), LIBRARY_INDEX)?;
    for (id, text) in assets::BASELINE_PROFILES {
        put(paths.profiles_dir().join(format!("{id}.yaml")), text)?;
    }
    for preset in Preset::ALL {
        put(
            paths.examples_dir().join(format!("{}.yaml", preset.name())),
            preset.yaml(),
        )?;
    }
    put(paths.fleet_dir().join("roster.schema.json"), ROSTER_SCHEMA)?;
    for dir in [paths.override_roles_dir(), paths.override_profiles_dir()] {
        create_dir(&dir)?;
    }
    let readme = paths.overrides_dir().join("README");
    write_file(&readme, OVERRIDES_README)?;
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
