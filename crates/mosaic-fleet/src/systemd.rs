//! systemd user units: command lines (pure builders) and the unit files.

use crate::error::{Error, Result};
use crate::paths::FleetPaths;
use std::path::Path;

/// The agent unit template; instances are `mosaic-agent@<name>.service`.
pub const AGENT_UNIT_TEMPLATE: &str = "mosaic-agent@.service";
/// The unit that keeps the fleet's tmux server alive.
pub const HOLDER_UNIT: &str = "mosaic-tmux-holder.service";

/// `mosaic-agent@<name>.service`.
pub fn agent_unit(name: &str) -> String {
    format!("mosaic-agent@{name}.service")
}

fn systemctl(rest: &[&str]) -> Vec<String> {
    let mut argv = vec!["systemctl".to_owned(), "--user".to_owned()];
    argv.extend(rest.iter().map(|s| (*s).to_owned()));
    argv
}

/// The unit properties `fleet ps` reads.
pub const SHOW_PROPERTIES: &str = "ActiveState,SubState,UnitFileState";

/// `systemctl --user show` for an agent's unit.
pub fn show(agent: &str) -> Vec<String> {
    systemctl(&[
        "show",
        &agent_unit(agent),
        &format!("--property={SHOW_PROPERTIES}"),
    ])
}

/// `systemctl --user enable <unit>`.
pub fn enable(unit: &str) -> Vec<String> {
    systemctl(&["enable", unit])
}

/// `systemctl --user disable <unit>`: `fleet remove` uses it so a removed
/// agent cannot come back at boot pointing at deleted config.
pub fn disable(unit: &str) -> Vec<String> {
    systemctl(&["disable", unit])
}

/// `systemctl --user is-enabled <unit>`: exit 0 when it is enabled.
pub fn is_enabled(unit: &str) -> Vec<String> {
    systemctl(&["is-enabled", unit])
}

/// `systemctl --user is-active <units…>`: one state per line, in order.
pub fn is_active(units: &[String]) -> Vec<String> {
    let mut argv = systemctl(&["is-active"]);
    argv.extend(units.iter().cloned());
    argv
}

/// Which of `count` units `is-active` reported running (`active`,
/// `activating`, `reloading`). Output that does not have one line per unit
/// counts every unit as running: a caller undoing its own starts must never
/// stop a unit it cannot prove it started.
pub fn parse_is_active(stdout: &str, count: usize) -> Vec<bool> {
    let states: Vec<&str> = stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if states.len() != count {
        return vec![true; count];
    }
    states
        .iter()
        .map(|s| matches!(*s, "active" | "activating" | "reloading"))
        .collect()
}

/// `systemctl --user daemon-reload`.
pub fn daemon_reload() -> Vec<String> {
    systemctl(&["daemon-reload"])
}

/// `loginctl enable-linger <user>`: user units keep running after logout
/// and start at boot.
pub fn enable_linger(user: &str) -> Vec<String> {
    vec![
        "loginctl".to_owned(),
        "enable-linger".to_owned(),
        user.to_owned(),
    ]
}

/// What `fleet start|stop|restart|status` asks systemd for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceAction {
    /// Start.
    Start,
    /// Stop.
    Stop,
    /// Restart.
    Restart,
    /// Status.
    Status,
}

impl ServiceAction {
    /// The systemctl verb.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceAction::Start => "start",
            ServiceAction::Stop => "stop",
            ServiceAction::Restart => "restart",
            ServiceAction::Status => "status",
        }
    }
}

/// `systemctl --user <action> mosaic-agent@<name>.service`.
pub fn service(action: ServiceAction, agent: &str) -> Vec<String> {
    systemctl(&[action.as_str(), &agent_unit(agent)])
}

/// `systemctl --user <action> <unit>` for any unit.
pub fn unit_action(action: ServiceAction, unit: &str) -> Vec<String> {
    systemctl(&[action.as_str(), unit])
}

/// Whether this host runs a systemd user manager `fleet` can use:
/// `systemctl` on PATH and systemd booted (`/run/systemd/system`).
/// `MOSAIC_FLEET_SYSTEMD=0|1` overrides the detection.
pub fn detect() -> bool {
    match std::env::var("MOSAIC_FLEET_SYSTEMD").as_deref() {
        Ok("0") => false,
        Ok("1") => true,
        _ => crate::util::on_path("systemctl") && Path::new("/run/systemd/system").is_dir(),
    }
}

fn unit_path(path: &Path) -> Result<String> {
    let text = path.display().to_string();
    if text.chars().any(char::is_whitespace) {
        return Err(Error::UnitPath {
            path: path.to_path_buf(),
        });
    }
    Ok(text)
}

/// The agent template unit. A oneshot that starts the agent's tmux session
/// through the launcher and leaves it running; stopping kills the session on
/// the agent's socket (no `-L` when the env file names none).
pub fn render_agent_unit(paths: &FleetPaths) -> Result<String> {
    let home = unit_path(paths.home())?;
    let agents = unit_path(&paths.agents_dir())?;
    let script = unit_path(&paths.start_script())?;
    Ok(format!(
        "\
# Installed by `mosaic fleet install`; re-written on every install.
[Unit]
Description=Mosaic fleet agent %i (tmux session)
PartOf={HOLDER_UNIT}
After={HOLDER_UNIT}

[Service]
Type=oneshot
RemainAfterExit=yes
# No default MOSAIC_TMUX_SOCKET: an unset socket is the default tmux socket
# (no -L). The agent's env file sets it when the roster names one.
Environment=MOSAIC_HOME={home}
Environment=MOSAIC_AGENT_NAME=%i
Environment=MOSAIC_AGENT_RUNTIME=pi
Environment=MOSAIC_AGENT_WORKDIR=%h
EnvironmentFile=-{agents}/%i.env
ExecStart=/bin/bash {script} %i
ExecStop=-/bin/bash -c 'if [ -n \"${{MOSAIC_TMUX_SOCKET:-}}\" ]; then tmux -L \"$MOSAIC_TMUX_SOCKET\" kill-session -t \"=%i\"; else tmux kill-session -t \"=%i\"; fi'

[Install]
WantedBy=default.target
"
    ))
}

/// The holder unit: keeps one session open so the fleet's tmux server (and
/// with it every agent session) outlives any single agent.
pub fn render_holder_unit(paths: &FleetPaths) -> Result<String> {
    let env = unit_path(&paths.fleet_env_file())?;
    Ok(format!(
        "\
# Installed by `mosaic fleet install`; re-written on every install.
[Unit]
Description=Mosaic fleet tmux holder session

[Service]
Type=oneshot
RemainAfterExit=yes
EnvironmentFile=-{env}
ExecStart=/bin/bash -c 'h=\"${{MOSAIC_HOLDER_SESSION:-_holder}}\"; if [ -n \"${{MOSAIC_TMUX_SOCKET:-}}\" ]; then t=(tmux -L \"$MOSAIC_TMUX_SOCKET\"); else t=(tmux); fi; \"${{t[@]}}\" has-session -t \"=$h\" 2>/dev/null || \"${{t[@]}}\" new-session -d -s \"$h\"'
ExecStop=-/bin/bash -c 'h=\"${{MOSAIC_HOLDER_SESSION:-_holder}}\"; if [ -n \"${{MOSAIC_TMUX_SOCKET:-}}\" ]; then tmux -L \"$MOSAIC_TMUX_SOCKET\" kill-session -t \"=$h\"; else tmux kill-session -t \"=$h\"; fi'

[Install]
WantedBy=default.target
"
    ))
}

/// A unit's state as `systemctl show` reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct UnitState {
    /// `active`, `inactive`, `failed`, …
    pub active_state: String,
    /// `running`, `exited`, `dead`, …
    pub sub_state: String,
    /// `enabled`, `disabled`, `static`, …
    pub unit_file_state: String,
}

impl UnitState {
    /// Parses `Key=Value` lines; unknown keys are ignored.
    pub fn parse(show_output: &str) -> UnitState {
        let mut state = UnitState::default();
        for line in show_output.lines() {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let value = value.trim().to_owned();
            match key.trim() {
                "ActiveState" => state.active_state = value,
                "SubState" => state.sub_state = value,
                "UnitFileState" => state.unit_file_state = value,
                _ => {}
            }
        }
        state
    }

    /// Active now but not enabled at boot: it will not come back after a
    /// reboot (the BOOT-ENABLE flag).
    pub fn boot_gap(&self) -> bool {
        self.active_state == "active" && self.unit_file_state == "disabled"
    }
}
