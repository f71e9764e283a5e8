//! System-type profiles: which personas a kind of system needs, and who
//! reports to whom. A profile is data; dropping `<id>.yaml` into the override
//! layer adds one with no code change.

use super::{PersonaLibrary, assets, read_dir_files};
use crate::error::{Error, Result};
use crate::names::{AgentName, Runtime};
use crate::roster::{Agent, DEFAULT_SOCKET_NAME, Defaults, Roster};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

/// The model workers provisioned from a profile start with.
pub const DEFAULT_WORKER_MODEL: &str = "openai-codex/gpt-5.5:high";

/// A system-type profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Kebab-case id, equal to the file stem.
    pub id: String,
    /// Human title.
    pub title: String,
    /// What kind of system it runs.
    pub description: String,
    /// The class that coordinates.
    pub lead: String,
    /// Classes that must stay staffed.
    pub floor: Vec<String>,
    /// The seats.
    pub roster: Vec<ProfileSeat>,
    /// Free notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// One seat of a profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileSeat {
    /// The persona class.
    pub class: String,
    /// The class it reports to; the lead has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reports_to: Option<String>,
    /// How many agents of this class; default 1.
    #[serde(default = "one")]
    pub multiplicity: u32,
    /// Free notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

fn one() -> u32 {
    1
}

impl Profile {
    /// Parses a profile file whose stem is `stem`; its `id` must equal it.
    pub fn parse(stem: &str, yaml: &str, origin: &str) -> Result<Profile> {
        let profile: Profile =
            serde_norway::from_str(yaml).map_err(|e| Error::invalid(origin, e.to_string()))?;
        if profile.id != stem {
            return Err(Error::invalid(
                origin,
                format!("id `{}` must equal the file name `{stem}.yaml`", profile.id),
            ));
        }
        let kebab = !stem.is_empty()
            && stem
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !stem.starts_with('-')
            && !stem.ends_with('-');
        if !kebab {
            return Err(Error::invalid(
                origin,
                format!("id `{stem}` is not kebab-case"),
            ));
        }
        Ok(profile)
    }

    /// Every rule the profile breaks against `library`; empty when valid.
    /// Every class named (lead, floor, seats, `reports_to`) must be a
    /// persona; `reports_to` must be a class of this roster; the lead is a
    /// seat that reports to no one; floor classes are seats; multiplicity
    /// is at least 1.
    pub fn problems(&self, library: &PersonaLibrary) -> Vec<String> {
        let mut problems = Vec::new();
        let seats: HashSet<&str> = self.roster.iter().map(|s| s.class.as_str()).collect();
        let mut persona = |class: &str, role: &str| {
            if !library.contains(class) {
                problems.push(format!(
                    "{role} `{class}` is not a persona in the library (add roles/{class}.md to the override layer)"
                ));
            }
        };
        persona(&self.lead, "lead");
        for class in &self.floor {
            persona(class, "floor class");
        }
        for seat in &self.roster {
            persona(&seat.class, "seat class");
            if let Some(boss) = &seat.reports_to {
                persona(boss, "reports_to");
            }
        }
        for seat in &self.roster {
            if let Some(boss) = &seat.reports_to
                && !seats.contains(boss.as_str())
            {
                problems.push(format!(
                    "seat `{}` reports to `{boss}`, which is not a seat of this profile",
                    seat.class
                ));
            }
            if seat.multiplicity < 1 {
                problems.push(format!(
                    "seat `{}` has multiplicity 0; use at least 1",
                    seat.class
                ));
            }
        }
        match self.roster.iter().find(|s| s.class == self.lead) {
            None => problems.push(format!(
                "the lead `{}` has no seat in the roster",
                self.lead
            )),
            Some(seat) if seat.reports_to.is_some() => {
                problems.push(format!(
                    "the lead `{}` must not report to anyone",
                    self.lead
                ));
            }
            Some(_) => {}
        }
        for class in &self.floor {
            if !seats.contains(class.as_str()) {
                problems.push(format!("floor class `{class}` has no seat in the roster"));
            }
        }
        problems
    }

    /// `Ok` when [`Profile::problems`] finds none; otherwise one error listing them.
    pub fn validate(&self, library: &PersonaLibrary) -> Result<()> {
        let problems = self.problems(library);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::invalid(
                format!("profile {}", self.id),
                problems.join("; "),
            ))
        }
    }
}

/// The effective profiles: baseline merged with the override layer.
#[derive(Debug, Clone, Default)]
pub struct ProfileSet {
    profiles: BTreeMap<String, Profile>,
}

impl ProfileSet {
    /// The profiles shipped with mosaic.
    pub fn baseline() -> Result<Self> {
        let mut profiles = BTreeMap::new();
        for (id, text) in assets::BASELINE_PROFILES {
            let profile = Profile::parse(id, text, &format!("baseline profile {id}"))?;
            profiles.insert((*id).to_owned(), profile);
        }
        Ok(ProfileSet { profiles })
    }

    /// The baseline with every `*.yaml` in `overrides` on top.
    pub fn with_overrides(overrides: &Path) -> Result<Self> {
        let mut set = ProfileSet::baseline()?;
        for (id, text, path) in read_dir_files(overrides, "yaml")? {
            let profile = Profile::parse(&id, &text, &path.display().to_string())?;
            set.profiles.insert(id, profile);
        }
        Ok(set)
    }

    /// The profile `id`.
    pub fn get(&self, id: &str) -> Result<&Profile> {
        self.profiles
            .get(id)
            .ok_or_else(|| Error::UnknownProfile(id.to_owned()))
    }

    /// Every profile, by id.
    pub fn iter(&self) -> impl Iterator<Item = &Profile> {
        self.profiles.values()
    }
}

/// A roster for `profile`: one agent per seat (`class`, or `class0`,
/// `class1`, … when a seat has several), in profile order. The lead and the
/// floor run Claude Code as standing seats; every other seat runs `pi` on
/// the default worker model. The profile must be valid against `library`.
pub fn provision(profile: &Profile, library: &PersonaLibrary) -> Result<Roster> {
    profile.validate(library)?;
    let mut roster = Roster::empty();
    roster.tmux.socket_name = DEFAULT_SOCKET_NAME.to_owned();
    roster.defaults = Defaults {
        working_directory: Some("~".to_owned()),
    };
    for seat in &profile.roster {
        let core = seat.class == profile.lead || profile.floor.contains(&seat.class);
        for i in 0..seat.multiplicity {
            let name = if seat.multiplicity == 1 {
                seat.class.clone()
            } else {
                format!("{}{i}", seat.class)
            };
            let runtime = if core { Runtime::Claude } else { Runtime::Pi };
            let mut agent = Agent::new(AgentName::new(name)?, runtime, seat.class.clone());
            agent.reports_to = seat.reports_to.clone();
            if core {
                agent.persistent_persona = Some(true);
            } else {
                agent.model_hint = Some(DEFAULT_WORKER_MODEL.to_owned());
                agent.persistent_persona = library.get(&seat.class).and_then(|p| p.persistent);
            }
            roster.agents.push(agent);
        }
    }
    Ok(roster)
}
