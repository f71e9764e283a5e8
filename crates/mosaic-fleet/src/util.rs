//! Small helpers shared by the modules.

use regex::Regex;

/// Compiles a pattern written in this crate's source.
#[allow(clippy::expect_used)]
pub(crate) fn regex(pattern: &'static str) -> Regex {
    // Every caller passes a literal that the unit tests compile, so an error
    // here is a bug in this crate, never a runtime input problem.
    Regex::new(pattern).expect("patterns in this crate are valid")
}

/// The machine's short host name (up to the first dot), or `localhost`.
pub fn short_hostname() -> String {
    let full = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    let short = full.trim().split('.').next().unwrap_or_default().to_owned();
    if short.is_empty() {
        "localhost".to_owned()
    } else {
        short
    }
}

/// The login name, for `loginctl enable-linger` and the tenant id: `$USER`,
/// `$LOGNAME`, else the passwd entry of this process's uid.
pub fn user_name() -> String {
    let from_env = ["USER", "LOGNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()));
    from_env
        .or_else(passwd_name)
        .unwrap_or_else(|| "unknown".to_owned())
}

fn passwd_name() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .to_owned();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        (fields.nth(1)? == uid).then(|| name.to_owned())
    })
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Whether `program` is an executable file on PATH (or, when it contains a
/// `/`, at that path).
pub fn on_path(program: &str) -> bool {
    find_on_path(program).is_some()
}

/// Where `program` is on PATH.
pub fn find_on_path(program: &str) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    let executable = |p: &std::path::Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let p = std::path::PathBuf::from(program);
        return executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| executable(p))
}

/// Writes `contents` to `path` so that a reader sees the old file or the new
/// one, never a part: a temporary file in the same directory, flushed, then
/// renamed over `path`. Creates the parent directories; `mode` sets the
/// permission bits (the tools are executable).
pub(crate) fn write_atomic(
    path: &std::path::Path,
    contents: &[u8],
    mode: Option<u32>,
) -> crate::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let write_err = |path: &std::path::Path| {
        let path = path.to_path_buf();
        move |source| crate::Error::Write { path, source }
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => std::path::Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(write_err(dir))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    // A file that is replaced keeps its permissions unless told otherwise.
    let mode = mode.or_else(|| {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(path)
            .ok()
            .map(|m| m.permissions().mode() & 0o7777)
    });
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode.unwrap_or(0o644))
            .open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        if let Some(mode) = mode {
            // `mode` at creation is filtered by the umask; the tools must be
            // executable whatever it is.
            use std::os::unix::fs::PermissionsExt as _;
            file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
        Ok(())
    })();
    if let Err(source) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(write_err(path)(source));
    }
    std::fs::rename(&tmp, path).map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        write_err(path)(source)
    })
}
