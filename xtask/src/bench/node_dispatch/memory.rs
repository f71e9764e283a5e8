//! What the gateway process holds, read from `/proc`, and the open-file
//! limit that a thousand connections need.

use anyhow::Context as _;

/// Raises this process's open-file soft limit to its hard limit; children
/// (the gateway) inherit it. Returns the limit in force.
pub(super) fn raise_nofile_limit() -> anyhow::Result<u64> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).context("getrlimit(NOFILE)")?;
    // An unlimited hard limit is capped by the kernel's nr_open anyway.
    let want = hard.min(1 << 20);
    if soft < want {
        setrlimit(Resource::RLIMIT_NOFILE, want, hard).context("setrlimit(NOFILE)")?;
    }
    Ok(getrlimit(Resource::RLIMIT_NOFILE)?.0)
}

fn proc_field(pid: u32, file: &str, prefix: &str) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{file}"))
        .with_context(|| format!("reading /proc/{pid}/{file}"))?;
    text.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .map(|s| s.trim().to_owned())
        .with_context(|| format!("no `{prefix}` in /proc/{pid}/{file}"))
}

/// `VmRSS` of `pid`, in KiB.
pub(super) fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let v = proc_field(pid, "status", "VmRSS:")?;
    Ok(v.trim_end_matches("kB").trim().parse()?)
}

pub(super) fn open_file_limit(pid: u32) -> anyhow::Result<u64> {
    let v = proc_field(pid, "limits", "Max open files")?;
    Ok(v.split_whitespace()
        .next()
        .context("empty open-files limit")?
        .parse()?)
}
