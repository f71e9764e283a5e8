//! The shell tools `mosaic fleet install` puts under `<home>/tools`: the
//! session launcher the agent unit runs, the comms tool agents use to reach
//! each other, the raw keystroke tool, and the stand-in agent.

use crate::error::{Error, Result};
use crate::paths::FleetPaths;
use crate::roster::write_file;
use std::path::{Path, PathBuf};

/// The session launcher, before [`render_start_script`].
pub const START_AGENT_SESSION: &str = include_str!("../assets/tools/start-agent-session.sh");
/// The stand-in agent.
pub const STUB_AGENT: &str = include_str!("../assets/tools/stub-agent.sh");
/// The comms tool.
pub const AGENT_SEND: &str = include_str!("../assets/tools/agent-send.sh");
/// The raw keystroke tool.
pub const SEND_MESSAGE: &str = include_str!("../assets/tools/send-message.sh");

/// The launcher with `mosaic_bin` as the default `mosaic` it launches
/// runtimes through (a unit's PATH rarely contains it).
pub fn render_start_script(mosaic_bin: &Path) -> String {
    let quoted = format!(
        "'{}'",
        mosaic_bin.display().to_string().replace('\'', r"'\''")
    );
    START_AGENT_SESSION.replace("@MOSAIC_BIN@", &quoted)
}

/// Every tool with its contents, in the order [`install_tools`] writes them.
pub fn tool_files(paths: &FleetPaths, mosaic_bin: &Path) -> Vec<(PathBuf, String)> {
    vec![
        (paths.start_script(), render_start_script(mosaic_bin)),
        (paths.stub_agent(), STUB_AGENT.to_owned()),
        (paths.agent_send(), AGENT_SEND.to_owned()),
        (paths.send_message(), SEND_MESSAGE.to_owned()),
    ]
}

/// Writes the tools, executable, and returns their paths.
pub fn install_tools(paths: &FleetPaths, mosaic_bin: &Path) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for (path, text) in tool_files(paths, mosaic_bin) {
        write_file(&path, &text)?;
        make_executable(&path)?;
        written.push(path);
    }
    Ok(written)
}

fn make_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(|source| {
        Error::Write {
            path: path.to_path_buf(),
            source,
        }
    })
}
