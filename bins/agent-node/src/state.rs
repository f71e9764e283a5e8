//! The node state file, `<state_dir>/node.json`: what the gateway handed out
//! when the invite was redeemed. It holds the node's credential, so it is
//! written with mode 0600, atomically (temporary file, then rename).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

/// What a registered node remembers.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeState {
    /// The id the gateway assigned.
    pub node_id: String,
    /// The secret presented as `authorization: Bearer …`.
    pub credential: String,
    /// The gateway's Ed25519 task-signing public key (32 raw bytes, base64
    /// in the file).
    #[serde(with = "base64_bytes")]
    pub task_signing_key: Vec<u8>,
    /// The gateway the node registered with.
    #[serde(default)]
    pub gateway: String,
}

impl fmt::Debug for NodeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeState")
            .field("node_id", &self.node_id)
            .field("credential", &"<redacted>")
            .field("task_signing_key", &STANDARD.encode(&self.task_signing_key))
            .field("gateway", &self.gateway)
            .finish()
    }
}

mod base64_bytes {
    use super::STANDARD;
    use base64::Engine as _;
    use serde::{Deserialize as _, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD
            .decode(text.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}

/// The state file cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Reading failed.
    #[error("cannot read the node state {}: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the system said.
        error: std::io::Error,
    },
    /// The content is not a node state.
    #[error(
        "the node state {} is damaged ({error}): delete it and register again with a new invite from `mosaic node invite`", path.display()
    )]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        error: String,
    },
    /// Writing failed.
    #[error("cannot write the node state {}: {error}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// What the system said.
        error: std::io::Error,
    },
}

/// Reads the state at `path`; `None` when there is none yet.
///
/// # Errors
/// An unreadable or damaged file.
pub fn load(path: &Path) -> Result<Option<NodeState>, StateError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(StateError::Read {
                path: path.to_path_buf(),
                error,
            });
        }
    };
    let state: NodeState = serde_json::from_slice(&bytes).map_err(|e| StateError::Damaged {
        path: path.to_path_buf(),
        error: e.to_string(),
    })?;
    let damaged = |error: &str| StateError::Damaged {
        path: path.to_path_buf(),
        error: error.to_owned(),
    };
    if state.node_id.is_empty() {
        return Err(damaged("no node_id"));
    }
    if state.credential.is_empty() {
        return Err(damaged("no credential"));
    }
    if state.task_signing_key.len() != 32 {
        return Err(damaged("task_signing_key is not 32 bytes"));
    }
    Ok(Some(state))
}

/// Writes `state` to `path` with mode 0600: to a temporary file in the same
/// directory first, then renamed over `path`, so a crash never leaves half a
/// file. The directory is created (mode 0700) when missing.
///
/// # Errors
/// When the directory or file cannot be written.
pub fn save(path: &Path, state: &NodeState) -> Result<(), StateError> {
    let err = |error| StateError::Write {
        path: path.to_path_buf(),
        error,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(err)?;
    let mut json = serde_json::to_vec_pretty(state).map_err(|e| err(std::io::Error::other(e)))?;
    json.push(b'\n');
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "node.json".to_owned());
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        // The mode above is filtered by the umask; make it exact.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        file.write_all(&json)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = std::fs::File::open(dir) {
            // Best effort: make the rename itself durable.
            let _ = d.sync_all();
        }
        Ok(())
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        err(e)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn sample() -> NodeState {
        NodeState {
            node_id: "node-1".into(),
            credential: "mnc_secret".into(),
            task_signing_key: vec![7; 32],
            gateway: "https://gw:1".into(),
        }
    }

    #[test]
    fn save_then_load_round_trips_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deep").join("node.json");
        assert!(load(&path).unwrap().is_none());
        save(&path, &sample()).unwrap();
        assert_eq!(load(&path).unwrap(), Some(sample()));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("node.json")]);
        // Overwriting keeps the mode.
        let mut changed = sample();
        changed.credential = "mnc_other".into();
        save(&path, &changed).unwrap();
        assert_eq!(load(&path).unwrap().unwrap().credential, "mnc_other");
    }

    #[test]
    fn damaged_files_say_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.json");
        std::fs::write(&path, "{ not json").unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains("delete it"), "{err}");
        let mut short = sample();
        short.task_signing_key = vec![1; 5];
        std::fs::write(&path, serde_json::to_vec(&short).unwrap()).unwrap();
        assert!(matches!(load(&path), Err(StateError::Damaged { .. })));
    }

    #[test]
    fn debug_hides_the_credential() {
        let text = format!("{:?}", sample());
        assert!(!text.contains("mnc_secret"), "{text}");
    }
}
