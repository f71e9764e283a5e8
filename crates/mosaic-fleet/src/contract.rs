//! `mosaic compose-contract <runtime>`: the system prompt an agent launches
//! with. It joins, in order and each only when present: the Mosaic home's
//! contract files (`AGENTS.md`, `SOUL.md`, `USER.md`, `TOOLS.md`), the
//! runtime's own contract (`runtime/<runtime>/RUNTIME.md`), the agent's
//! persona (its class, through the override layer) and the fleet comms
//! cheat-sheet (when the agent is a roster member).

use crate::comms::read_fleet_comms_block;
use crate::error::Result;
use crate::library::PersonaLibrary;
use crate::names::Runtime;
use crate::paths::FleetPaths;

/// Who the contract is for.
#[derive(Debug, Clone, Default)]
pub struct ContractContext<'a> {
    /// `MOSAIC_AGENT_NAME`: gates the comms block.
    pub agent_name: Option<&'a str>,
    /// `MOSAIC_AGENT_CLASS`: selects the persona.
    pub agent_class: Option<&'a str>,
    /// The fleet's short host name.
    pub fleet_host: &'a str,
}

/// The home files that open the contract, in order, with their headings.
const HOME_FILES: [(&str, &str); 4] = [
    ("AGENTS.md", "Mosaic Contract"),
    ("SOUL.md", "Soul"),
    ("USER.md", "User"),
    ("TOOLS.md", "Tools"),
];

/// Composes the contract for `runtime`.
pub fn compose_contract(
    runtime: Runtime,
    paths: &FleetPaths,
    ctx: &ContractContext<'_>,
) -> Result<String> {
    let home = paths.home();
    let read = |rel: &str| {
        std::fs::read_to_string(home.join(rel))
            .ok()
            .filter(|t| !t.trim().is_empty())
    };
    let mut parts: Vec<String> = Vec::new();
    for (file, heading) in HOME_FILES {
        if let Some(text) = read(file) {
            parts.push(format!("# {heading}\n\n{}", text.trim_end()));
        }
    }
    let runtime_file = format!("runtime/{}/RUNTIME.md", runtime.as_str());
    let runtime_text = read(&runtime_file).unwrap_or_else(|| {
        format!(
            "You are running in the `{}` harness, launched by Mosaic.",
            runtime.as_str()
        )
    });
    parts.push(format!(
        "# Runtime-Specific Contract\n\n{}",
        runtime_text.trim_end()
    ));
    if let Some(class) = ctx.agent_class.filter(|c| !c.is_empty()) {
        let library = PersonaLibrary::with_overrides(&paths.override_roles_dir())?;
        if let Some(persona) = library.get(class) {
            parts.push(format!(
                "# Persona Contract\n\n{}",
                persona.markdown.trim_end()
            ));
        }
    }
    let comms = read_fleet_comms_block(home, ctx.agent_name, ctx.fleet_host);
    if !comms.is_empty() {
        parts.push(comms);
    }
    Ok(parts.join("\n\n"))
}
