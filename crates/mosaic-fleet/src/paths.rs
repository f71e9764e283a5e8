//! Where the fleet's files live.
//!
//! The Mosaic home is `$MOSAIC_HOME`, else `$XDG_CONFIG_HOME/mosaic`, else
//! `~/.config/mosaic`; systemd user units go to `$XDG_CONFIG_HOME/systemd/user`
//! (else `~/.config/systemd/user`). Tests point both at temporary directories.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// The fleet's paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetPaths {
    home: PathBuf,
    user_home: PathBuf,
    systemd_user_dir: PathBuf,
}

impl FleetPaths {
    /// Paths with an explicit Mosaic home, user home and systemd unit dir.
    pub fn new(
        mosaic_home: impl Into<PathBuf>,
        user_home: impl Into<PathBuf>,
        systemd_user_dir: impl Into<PathBuf>,
    ) -> Self {
        FleetPaths {
            home: mosaic_home.into(),
            user_home: user_home.into(),
            systemd_user_dir: systemd_user_dir.into(),
        }
    }

    /// Paths for a Mosaic home inside a user home laid out the usual way
    /// (`<user_home>/.config/systemd/user`).
    pub fn under(mosaic_home: impl Into<PathBuf>, user_home: impl Into<PathBuf>) -> Self {
        let user_home = user_home.into();
        let units = user_home.join(".config/systemd/user");
        FleetPaths::new(mosaic_home, user_home, units)
    }

    /// Paths from the environment (`MOSAIC_HOME`, `XDG_CONFIG_HOME`, `HOME`).
    pub fn from_env() -> Result<Self> {
        let var = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let user_home = var("HOME").ok_or(Error::NoHome)?;
        let config = var("XDG_CONFIG_HOME").unwrap_or_else(|| user_home.join(".config"));
        let home = var("MOSAIC_HOME").unwrap_or_else(|| config.join("mosaic"));
        Ok(FleetPaths::new(
            home,
            user_home,
            config.join("systemd/user"),
        ))
    }

    /// The Mosaic home.
    pub fn home(&self) -> &Path {
        &self.home
    }
    /// The user's home, for `~` in rosters.
    pub fn user_home(&self) -> &Path {
        &self.user_home
    }
    /// Where systemd user units are installed.
    pub fn systemd_user_dir(&self) -> &Path {
        &self.systemd_user_dir
    }
    /// `<home>/fleet`.
    pub fn fleet_dir(&self) -> PathBuf {
        self.home.join("fleet")
    }
    /// `<home>/fleet/roster.yaml`.
    pub fn roster(&self) -> PathBuf {
        self.fleet_dir().join("roster.yaml")
    }
    /// `<home>/fleet/agents`.
    pub fn agents_dir(&self) -> PathBuf {
        self.fleet_dir().join("agents")
    }
    /// `<home>/fleet/agents/<name>.env`.
    pub fn env_file(&self, agent: &str) -> PathBuf {
        self.agents_dir().join(format!("{agent}.env"))
    }
    /// `<home>/fleet/fleet.env`: the socket and holder for the holder unit.
    pub fn fleet_env_file(&self) -> PathBuf {
        self.fleet_dir().join("fleet.env")
    }
    /// `<home>/fleet/run`.
    pub fn run_dir(&self) -> PathBuf {
        self.fleet_dir().join("run")
    }
    /// `<home>/fleet/run/<name>.hb`: the agent's heartbeat.
    pub fn heartbeat(&self, agent: &str) -> PathBuf {
        self.run_dir().join(format!("{agent}.hb"))
    }
    /// `<home>/fleet/run/<name>.restarting`: the restart guard.
    pub fn restart_guard(&self, agent: &str) -> PathBuf {
        self.run_dir().join(format!("{agent}.restarting"))
    }
    /// `<home>/fleet/roles`: the baseline persona library, re-seeded.
    pub fn roles_dir(&self) -> PathBuf {
        self.fleet_dir().join("roles")
    }
    /// `<home>/fleet/profiles`: baseline system-type profiles, re-seeded.
    pub fn profiles_dir(&self) -> PathBuf {
        self.fleet_dir().join("profiles")
    }
    /// `<home>/fleet/examples`: roster presets, re-seeded.
    pub fn examples_dir(&self) -> PathBuf {
        self.fleet_dir().join("examples")
    }
    /// `<home>/fleet/overrides`: the user layer, never re-seeded.
    pub fn overrides_dir(&self) -> PathBuf {
        self.fleet_dir().join("overrides")
    }
    /// `<home>/fleet/overrides/roles`.
    pub fn override_roles_dir(&self) -> PathBuf {
        self.overrides_dir().join("roles")
    }
    /// `<home>/fleet/overrides/profiles`.
    pub fn override_profiles_dir(&self) -> PathBuf {
        self.overrides_dir().join("profiles")
    }
    /// `<home>/tools/fleet`.
    pub fn fleet_tools_dir(&self) -> PathBuf {
        self.home.join("tools/fleet")
    }
    /// `<home>/tools/tmux`.
    pub fn tmux_tools_dir(&self) -> PathBuf {
        self.home.join("tools/tmux")
    }
    /// The session launcher the agent unit runs.
    pub fn start_script(&self) -> PathBuf {
        self.fleet_tools_dir().join("start-agent-session.sh")
    }
    /// The stand-in agent.
    pub fn stub_agent(&self) -> PathBuf {
        self.fleet_tools_dir().join("stub-agent.sh")
    }
    /// The comms tool.
    pub fn agent_send(&self) -> PathBuf {
        self.tmux_tools_dir().join("agent-send.sh")
    }
    /// The raw keystroke tool (`agent reset`).
    pub fn send_message(&self) -> PathBuf {
        self.tmux_tools_dir().join("send-message.sh")
    }
    /// `<units>/mosaic-agent@.service`.
    pub fn agent_unit_file(&self) -> PathBuf {
        self.systemd_user_dir
            .join(crate::systemd::AGENT_UNIT_TEMPLATE)
    }
    /// `<units>/mosaic-tmux-holder.service`.
    pub fn holder_unit_file(&self) -> PathBuf {
        self.systemd_user_dir.join(crate::systemd::HOLDER_UNIT)
    }
}
