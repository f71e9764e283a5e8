//! Launching an agent runtime: the program line for each harness, with the
//! composed contract injected where the harness has a flag for it.

use crate::error::{Error, Result};
use crate::names::Runtime;
use std::path::PathBuf;

/// What to launch.
#[derive(Debug, Clone)]
pub struct LaunchSpec<'a> {
    /// The harness.
    pub runtime: Runtime,
    /// `--model`, when the roster names one.
    pub model: Option<&'a str>,
    /// Skip the harness's permission prompts (fleet panes are unattended).
    pub yolo: bool,
    /// The composed contract.
    pub contract: &'a str,
    /// Extra arguments for the harness.
    pub extra: &'a [String],
}

/// The harness's argv. Claude Code and pi take the contract through
/// `--append-system-prompt`; Codex through its `developer_instructions`
/// setting; opencode has no such flag and starts without it.
pub fn launch_argv(spec: &LaunchSpec<'_>) -> Vec<String> {
    let mut argv = vec![spec.runtime.program().to_owned()];
    let mut push = |s: &str| argv.push(s.to_owned());
    match spec.runtime {
        Runtime::Claude if spec.yolo => push("--dangerously-skip-permissions"),
        Runtime::Codex if spec.yolo => push("--dangerously-bypass-approvals-and-sandbox"),
        _ => {}
    }
    if let Some(model) = spec.model.filter(|m| !m.is_empty()) {
        push("--model");
        push(model);
    }
    match spec.runtime {
        Runtime::Claude | Runtime::Pi => {
            push("--append-system-prompt");
            push(spec.contract);
        }
        Runtime::Codex => {
            push("-c");
            // A JSON string is a valid TOML basic string, which is how codex
            // parses `-c key=value` values.
            let value = serde_json::Value::String(spec.contract.to_owned());
            push(&format!("developer_instructions={value}"));
        }
        Runtime::Opencode => {}
    }
    argv.extend(spec.extra.iter().cloned());
    argv
}

/// Where the runtime's program is, or an error naming the missing runtime.
pub fn locate(runtime: Runtime) -> Result<PathBuf> {
    crate::util::find_on_path(runtime.program()).ok_or_else(|| Error::NotInstalled {
        program: runtime.program().to_owned(),
        hint: format!(
            "; the `{runtime}` agent runtime is missing on this host: install it, or run the agent as a stand-in with `mosaic fleet edit <agent> --command '$MOSAIC_HOME/tools/fleet/stub-agent.sh'`"
        ),
    })
}
