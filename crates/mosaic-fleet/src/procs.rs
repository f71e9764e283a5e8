//! The process tree under a pane, for `fleet ps`'s DRIFT flag: does the pane
//! actually run the runtime the roster names?

use std::collections::HashMap;
use std::path::Path;

/// One process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcInfo {
    /// Its pid.
    pub pid: u32,
    /// Its parent's pid.
    pub ppid: u32,
    /// Its short name (`comm`).
    pub comm: String,
    /// Its command line.
    pub argv: Vec<String>,
}

impl ProcInfo {
    /// Whether this process is `program`: by short name, or by the base name
    /// of its first or second argument (`node /usr/bin/claude`).
    pub fn runs(&self, program: &str) -> bool {
        let base = |s: &String| {
            Path::new(s)
                .file_name()
                .and_then(|n| n.to_str())
                .map(str::to_owned)
                .unwrap_or_default()
        };
        self.comm == program || self.argv.iter().take(2).any(|a| base(a) == program)
    }
}

/// A view of the processes on this host.
pub trait ProcessTable {
    /// `pid` and every process below it.
    fn tree(&self, pid: u32) -> Vec<ProcInfo>;
}

/// A snapshot of `/proc`, taken once per `fleet ps`.
#[derive(Debug, Clone, Default)]
pub struct ProcSnapshot {
    procs: HashMap<u32, ProcInfo>,
    children: HashMap<u32, Vec<u32>>,
}

impl ProcSnapshot {
    /// Reads `/proc` (empty on systems without it).
    pub fn read() -> Self {
        ProcSnapshot::from_procs(read_proc(Path::new("/proc")))
    }

    /// A snapshot of the given processes.
    pub fn from_procs(procs: impl IntoIterator<Item = ProcInfo>) -> Self {
        let mut snapshot = ProcSnapshot::default();
        for p in procs {
            snapshot.children.entry(p.ppid).or_default().push(p.pid);
            snapshot.procs.insert(p.pid, p);
        }
        snapshot
    }
}

impl ProcessTable for ProcSnapshot {
    fn tree(&self, pid: u32) -> Vec<ProcInfo> {
        let mut out = Vec::new();
        let mut stack = vec![pid];
        while let Some(p) = stack.pop() {
            // A pid can only be visited once: /proc's parent links form a tree.
            if out.iter().any(|q: &ProcInfo| q.pid == p) {
                continue;
            }
            if let Some(info) = self.procs.get(&p) {
                out.push(info.clone());
            }
            if let Some(kids) = self.children.get(&p) {
                stack.extend(kids);
            }
        }
        out
    }
}

fn read_proc(root: &Path) -> Vec<ProcInfo> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let dir = root.join(pid.to_string());
            let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
            let (comm, ppid) = parse_stat(&stat)?;
            let argv = std::fs::read(dir.join("cmdline"))
                .map(|raw| {
                    raw.split(|b| *b == 0)
                        .filter(|a| !a.is_empty())
                        .map(|a| String::from_utf8_lossy(a).into_owned())
                        .collect()
                })
                .unwrap_or_default();
            Some(ProcInfo {
                pid,
                ppid,
                comm,
                argv,
            })
        })
        .collect()
}

/// `comm` and `ppid` from a `/proc/<pid>/stat` line; `comm` may itself hold
/// spaces and parentheses, so it ends at the last `)`.
fn parse_stat(stat: &str) -> Option<(String, u32)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_owned();
    let mut rest = stat.get(close + 1..)?.split_whitespace();
    let _state = rest.next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some((comm, ppid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines() {
        assert_eq!(
            parse_stat("42 (bash) S 7 42 42 0 -1"),
            Some(("bash".to_owned(), 7))
        );
        assert_eq!(
            parse_stat("43 (odd) name) R 1 43"),
            Some(("odd) name".to_owned(), 1))
        );
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn trees_and_runtime_matching() {
        let p = |pid, ppid, comm: &str, argv: &[&str]| ProcInfo {
            pid,
            ppid,
            comm: comm.to_owned(),
            argv: argv.iter().map(|s| (*s).to_owned()).collect(),
        };
        let snap = ProcSnapshot::from_procs([
            p(10, 1, "bash", &["bash", "-c", "x"]),
            p(
                11,
                10,
                "node",
                &["node", "/usr/lib/node_modules/bin/claude"],
            ),
            p(12, 11, "rg", &["rg"]),
            p(20, 1, "other", &["other"]),
        ]);
        let tree = snap.tree(10);
        assert_eq!(tree.len(), 3);
        assert!(tree.iter().any(|q| q.runs("claude")));
        assert!(!snap.tree(20).iter().any(|q| q.runs("claude")));
        assert!(snap.tree(999).is_empty());
    }

    #[test]
    fn reads_this_process() {
        let snap = ProcSnapshot::read();
        let me = snap.tree(std::process::id());
        assert!(!me.is_empty(), "own pid is in /proc");
    }
}
