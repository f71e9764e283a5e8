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
