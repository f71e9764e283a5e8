//! Shared test helpers: temporary Mosaic homes and recording runners.
#![allow(dead_code, clippy::unwrap_used)]

use mosaic_fleet::interrupt::Interrupt;
use mosaic_fleet::ops::Fleet;
use mosaic_fleet::paths::FleetPaths;
use mosaic_fleet::runner::RecordingRunner;
use std::path::Path;

/// A temporary user home with a Mosaic home inside.
pub struct Home {
    pub dir: tempfile::TempDir,
    pub paths: FleetPaths,
    /// The flag a signal would raise; tests raise it by hand.
    pub interrupt: Interrupt,
}

impl Home {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let paths = FleetPaths::under(dir.path().join(".config/mosaic"), dir.path());
        Home {
            dir,
            paths,
            interrupt: Interrupt::new(),
        }
    }

    /// A home whose `fleet/roster.yaml` is `yaml`.
    pub fn with_roster(yaml: &str) -> Self {
        let home = Home::new();
        std::fs::create_dir_all(home.paths.fleet_dir()).unwrap();
        std::fs::write(home.paths.roster(), yaml).unwrap();
        home
    }

    pub fn fleet<'a>(&'a self, runner: &'a RecordingRunner, systemd: bool) -> Fleet<'a> {
        Fleet {
            paths: &self.paths,
            runner,
            systemd,
            interrupt: &self.interrupt,
        }
    }

    pub fn mosaic_home(&self) -> &Path {
        self.paths.home()
    }
}

pub fn lines(parts: &[&str]) -> String {
    parts.join("\n")
}

pub fn v(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| (*s).to_owned()).collect()
}
