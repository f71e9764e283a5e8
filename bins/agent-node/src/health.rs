//! What the node tells the gateway about the machine: capabilities at
//! registration and heartbeats with live CPU, memory and disk figures.

use mosaic_agent_proto::v1::{Capabilities, Heartbeat};
use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use sysinfo::{CpuRefreshKind, Disks, System};

/// Tools looked for on `PATH` and reported at registration.
pub const TOOLS: &[&str] = &[
    "git", "cargo", "rustc", "python3", "node", "npm", "docker", "podman", "tmux", "make", "gcc",
    "claude", "codex", "opencode", "pi",
];

/// Task kinds this node runs.
pub const SKILLS: &[&str] = &["shell"];

/// The machine's host name (`localhost` if it has none).
pub fn hostname() -> String {
    System::host_name()
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// The tools of `wanted` found as executable files in the directories of
/// `path` (a `PATH`-style list), in the order of `wanted`.
pub fn tools_on_path(path: &OsStr, wanted: &[&str]) -> Vec<String> {
    let dirs: Vec<PathBuf> = std::env::split_paths(path).collect();
    wanted
        .iter()
        .filter(|tool| {
            dirs.iter().any(|d| {
                std::fs::metadata(d.join(tool))
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            })
        })
        .map(|t| (*t).to_owned())
        .collect()
}

/// What the node reports at registration.
pub fn capabilities() -> Capabilities {
    let (cpus, memory_bytes) = match System::new() {
        Ok(mut system) => {
            system.refresh_cpu_list(CpuRefreshKind::nothing());
            system.refresh_memory();
            (system.cpus().len(), system.total_memory())
        }
        Err(_) => (0, 0),
    };
    let cpus = if cpus == 0 {
        std::thread::available_parallelism().map_or(1, usize::from)
    } else {
        cpus
    };
    Capabilities {
        os: std::env::consts::OS.to_owned(),
        arch: std::env::consts::ARCH.to_owned(),
        cpus: u32::try_from(cpus).unwrap_or(u32::MAX),
        memory_bytes,
        hostname: hostname(),
        tools: tools_on_path(&std::env::var_os("PATH").unwrap_or_default(), TOOLS),
        skills: SKILLS.iter().map(|s| (*s).to_owned()).collect(),
    }
}

/// Of `mounts` (mount point, total bytes, available bytes), the one whose
/// mount point is the longest prefix of `path`: the filesystem holding it.
/// Returns (total, used).
pub fn disk_for<'a>(
    mounts: impl IntoIterator<Item = (&'a Path, u64, u64)>,
    path: &Path,
) -> Option<(u64, u64)> {
    mounts
        .into_iter()
        .filter(|(mount, _, _)| path.starts_with(mount))
        .max_by_key(|(mount, _, _)| mount.components().count())
        .map(|(_, total, available)| (total, total.saturating_sub(available)))
}

/// Samples the machine for heartbeats.
#[derive(Debug)]
pub struct HealthProbe {
    system: Option<System>,
    disks: Option<Disks>,
    workspace: PathBuf,
    primed: bool,
}

impl HealthProbe {
    /// A probe reporting the disk that holds `workspace`.
    pub fn new(workspace: &Path) -> Self {
        Self {
            system: System::new().ok(),
            disks: Disks::new_with_refreshed_list().ok(),
            workspace: workspace.to_path_buf(),
            primed: false,
        }
    }

    /// A heartbeat with current figures. The first call takes CPU use over
    /// [`sysinfo::MINIMUM_CPU_UPDATE_INTERVAL`]; later ones since the last call.
    pub async fn sample(&mut self, node_id: &str, running_tasks: u32) -> Heartbeat {
        let mut beat = Heartbeat {
            node_id: node_id.to_owned(),
            running_tasks,
            ..Default::default()
        };
        if let Some(system) = self.system.as_mut() {
            system.refresh_cpu_usage();
            if !self.primed {
                tokio::time::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL).await;
                system.refresh_cpu_usage();
                self.primed = true;
            }
            system.refresh_memory();
            beat.cpu_percent = system.global_cpu_usage().clamp(0.0, 100.0);
            beat.memory_used_bytes = system.used_memory();
            beat.memory_total_bytes = system.total_memory();
        }
        if let Some(disks) = self.disks.as_mut() {
            disks.refresh(true);
            let path =
                std::fs::canonicalize(&self.workspace).unwrap_or_else(|_| self.workspace.clone());
            if let Some((total, used)) = disk_for(
                disks
                    .iter()
                    .map(|d| (d.mount_point(), d.total_space(), d.available_space())),
                &path,
            ) {
                beat.disk_total_bytes = total;
                beat.disk_used_bytes = used;
            }
        }
        #[allow(clippy::cast_possible_truncation)]
        {
            beat.load_average = System::load_average().map_or(0.0, |l| l.one as f32);
        }
        beat
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_mount_point_wins() {
        let mounts = [
            (Path::new("/"), 100, 40),
            (Path::new("/home"), 50, 10),
            (Path::new("/home/al/data"), 7, 7),
            (Path::new("/ho"), 1, 1),
        ];
        assert_eq!(disk_for(mounts, Path::new("/home/al/ws")), Some((50, 40)));
        assert_eq!(disk_for(mounts, Path::new("/tmp")), Some((100, 60)));
        assert_eq!(disk_for(mounts, Path::new("/home/al/data/x")), Some((7, 0)));
        assert_eq!(disk_for([], Path::new("/x")), None);
    }

    #[test]
    fn tools_are_found_on_path() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("git");
        std::fs::write(&exe, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let plain = dir.path().join("make");
        std::fs::write(&plain, "not executable").unwrap();
        std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
        let path = std::env::join_paths([dir.path(), Path::new("/nonexistent")]).unwrap();
        assert_eq!(tools_on_path(&path, TOOLS), ["git"]);
    }

    #[test]
    fn capabilities_describe_this_machine() {
        let caps = capabilities();
        assert_eq!(caps.os, std::env::consts::OS);
        assert!(caps.cpus >= 1);
        assert!(caps.memory_bytes > 0);
        assert_eq!(caps.skills, ["shell"]);
        assert!(!caps.hostname.is_empty());
    }

    #[tokio::test]
    async fn heartbeats_carry_real_figures() {
        let dir = tempfile::tempdir().unwrap();
        let mut probe = HealthProbe::new(dir.path());
        let beat = probe.sample("n1", 2).await;
        assert_eq!(beat.node_id, "n1");
        assert_eq!(beat.running_tasks, 2);
        assert!(beat.memory_total_bytes > 0);
        assert!(beat.memory_used_bytes <= beat.memory_total_bytes);
        assert!(beat.disk_total_bytes > 0);
        assert!(beat.disk_used_bytes <= beat.disk_total_bytes);
        assert!((0.0..=100.0).contains(&beat.cpu_percent));
        let again = probe.sample("n1", 0).await;
        assert!(again.memory_total_bytes > 0);
    }
}
