//! Files with secrets in them: created 0600 inside a 0700 directory, written
//! whole (temporary file, then rename) so a crash never leaves half a key.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A file operation that failed, naming the file.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} {path}: {source}")]
pub struct FileError {
    /// What was being done ("read", "write", "create directory").
    pub action: &'static str,
    /// The path.
    pub path: PathBuf,
    /// The OS error.
    #[source]
    pub source: io::Error,
}

impl FileError {
    pub(crate) fn new(action: &'static str, path: &Path, source: io::Error) -> Self {
        Self {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Creates `dir` (and parents) if needed and makes it 0700.
pub fn private_dir(dir: &Path) -> Result<(), FileError> {
    fs::create_dir_all(dir).map_err(|e| FileError::new("create directory", dir, e))?;
    set_mode(dir, 0o700)
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> Result<(), FileError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| FileError::new("set permissions on", path, e))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> Result<(), FileError> {
    Ok(())
}

/// The permission bits of `path` (Unix), for checks and tests.
#[cfg(unix)]
pub fn mode(path: &Path) -> Result<u32, FileError> {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o777)
        .map_err(|e| FileError::new("read metadata of", path, e))
}

fn write_with_mode(path: &Path, contents: &[u8], mode: u32) -> Result<(), FileError> {
    let tmp = path.with_extension("tmp");
    // A stale temporary file from a crash is ours to replace.
    let _ = fs::remove_file(&tmp);
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    let write = || -> io::Result<()> {
        let mut file = options.open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()
    };
    write().map_err(|e| FileError::new("write", &tmp, e))?;
    set_mode(&tmp, mode)?;
    fs::rename(&tmp, path).map_err(|e| FileError::new("write", path, e))
}

/// Writes a secret (key, gateway secret): mode 0600.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<(), FileError> {
    write_with_mode(path, contents, 0o600)
}

/// Writes a public file (certificate): mode 0644.
pub fn write_public(path: &Path, contents: &[u8]) -> Result<(), FileError> {
    write_with_mode(path, contents, 0o644)
}

/// Reads a text file, `None` if it does not exist.
pub fn read_optional(path: &Path) -> Result<Option<String>, FileError> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(FileError::new("read", path, e)),
    }
}

/// Reads a text file that must exist.
pub fn read(path: &Path) -> Result<String, FileError> {
    fs::read_to_string(path).map_err(|e| FileError::new("read", path, e))
}

/// Tightens a secret file this gateway created to 0600 if it was loosened;
/// returns whether it had to.
#[cfg(unix)]
pub fn tighten(path: &Path) -> Result<bool, FileError> {
    if mode(path)? & 0o077 != 0 {
        set_mode(path, 0o600)?;
        return Ok(true);
    }
    Ok(false)
}

#[cfg(not(unix))]
pub fn tighten(_path: &Path) -> Result<bool, FileError> {
    Ok(false)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_0600_in_a_0700_dir_and_replace_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("pki");
        private_dir(&dir).unwrap();
        assert_eq!(mode(&dir).unwrap(), 0o700);
        let key = dir.join("ca.key");
        write_private(&key, b"one").unwrap();
        assert_eq!(mode(&key).unwrap(), 0o600);
        write_private(&key, b"two").unwrap();
        assert_eq!(read(&key).unwrap(), "two");
        assert!(!dir.join("ca.tmp").exists());
        let cert = dir.join("ca.crt");
        write_public(&cert, b"c").unwrap();
        assert_eq!(mode(&cert).unwrap(), 0o644);
        assert_eq!(read_optional(&dir.join("absent")).unwrap(), None);

        set_mode(&key, 0o644).unwrap();
        assert!(tighten(&key).unwrap());
        assert_eq!(mode(&key).unwrap(), 0o600);
        assert!(!tighten(&key).unwrap());
    }
}
