//! Checking what the user typed before anything is sent: invite lifetimes,
//! sandbox policies, and how an ended task becomes our exit status.

use anyhow::bail;
use mosaic_types::nodes::{PolicyView, TaskView};

/// Shortest invite lifetime the gateway accepts, in seconds.
pub const MIN_TTL_SECS: u32 = 60;
/// Longest invite lifetime the gateway accepts, in seconds.
pub const MAX_TTL_SECS: u32 = 7 * 24 * 3600;

/// Parses `--ttl`: whole seconds (`3600`) or a duration such as `30m`, `1h`,
/// `7d` or `1h30m` (units `s`, `m`, `h`, `d`), between 1 minute and 7 days.
pub fn parse_ttl(text: &str) -> Result<u32, String> {
    let usage = || format!("`{text}` is not a duration: use seconds (3600) or e.g. 30m, 1h, 7d");
    let t = text.trim().to_ascii_lowercase();
    if t.is_empty() {
        return Err(usage());
    }
    let secs: u64 = if t.bytes().all(|b| b.is_ascii_digit()) {
        t.parse().map_err(|_| usage())?
    } else {
        let mut total: u64 = 0;
        let mut digits = String::new();
        for c in t.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            let unit: u64 = match c {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86_400,
                _ => return Err(usage()),
            };
            let n: u64 = digits.parse().map_err(|_| usage())?;
            digits.clear();
            total = n
                .checked_mul(unit)
                .and_then(|v| v.checked_add(total))
                .ok_or_else(usage)?;
        }
        if !digits.is_empty() {
            // `1h30`: a number without its unit.
            return Err(usage());
        }
        total
    };
    match u32::try_from(secs) {
        Ok(s) if (MIN_TTL_SECS..=MAX_TTL_SECS).contains(&s) => Ok(s),
        _ => Err(format!(
            "an invite lasts between 1m and 7d ({MIN_TTL_SECS} to {MAX_TTL_SECS} seconds), not {text}"
        )),
    }
}

/// Program names from repeated, comma-separated flags: trimmed, without
/// duplicates, each a bare name.
fn programs(flag: &str, list: &[String]) -> anyhow::Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for p in list.iter().flat_map(|s| s.split(',')).map(str::trim) {
        if p.is_empty() {
            continue;
        }
        if p.chars()
            .any(|c| c.is_whitespace() || ";&|()<>`$".contains(c))
        {
            bail!("{flag} `{p}` is not a program name: use bare names such as `git` or `ls`");
        }
        if !out.iter().any(|o| o == p) {
            out.push(p.to_owned());
        }
    }
    Ok(out)
}

/// The sandbox policy the invite flags ask for; `None` leaves the gateway's
/// default (permissive, nothing denied).
pub fn invite_policy(
    strict: bool,
    allow: &[String],
    deny: &[String],
) -> anyhow::Result<Option<PolicyView>> {
    let allowed = programs("--allow", allow)?;
    let denied = programs("--deny", deny)?;
    if strict {
        if !denied.is_empty() {
            bail!(
                "--deny does not go with --strict: a strict node runs only what --allow lists, so leave out --deny (or drop --strict for a deny list)"
            );
        }
        if allowed.is_empty() {
            bail!(
                "--strict needs at least one --allow: a strict node runs only the programs listed, e.g. --strict --allow git,ls"
            );
        }
        return Ok(Some(PolicyView {
            mode: "strict".to_owned(),
            allowed,
            denied: Vec::new(),
        }));
    }
    if !allowed.is_empty() {
        bail!(
            "--allow needs --strict: without it a node runs everything not on --deny (e.g. --strict --allow git,ls)"
        );
    }
    if denied.is_empty() {
        return Ok(None);
    }
    Ok(Some(PolicyView {
        mode: "permissive".to_owned(),
        allowed: Vec::new(),
        denied,
    }))
}

/// Options of `session dispatch` that take a value.
const DISPATCH_VALUE_OPTIONS: &[&str] = &["--node", "--cwd", "--timeout", "--gateway", "--token"];
/// Options of `session dispatch` that take none.
const DISPATCH_FLAGS: &[&str] = &["--detach", "--json"];

/// The shell command `session dispatch` sends: the words after `--`, joined
/// with spaces.
///
/// Words before `--` that are not options of dispatch (`stray`) mean the
/// command was written without `--`. Once one is seen, everything after it
/// lands in `stray` too, options of ours and a later `--` included, so none
/// of them took effect: refused, with the line as it should have been
/// written (`given`, the options clap did read, and ours among the stray
/// words before `--`; the command after it).
pub fn dispatch_command(
    session: &str,
    given: &[String],
    stray: &[String],
    command: &[String],
) -> anyhow::Result<String> {
    if !stray.is_empty() {
        let (ours, theirs) = split_stray(stray);
        let mut line = format!("mosaic session dispatch {session}");
        for word in given.iter().chain(&ours) {
            line.push(' ');
            line.push_str(word);
        }
        line.push_str(" --");
        for word in theirs.iter().chain(command) {
            line.push(' ');
            line.push_str(&super::render::shell_quote(word));
        }
        bail!(
            "the command must come after `--` (before it go only options of dispatch, such as --node, --cwd, --timeout, --detach and --json): write `{line}`"
        );
    }
    let joined = command.join(" ");
    if joined.trim().is_empty() {
        bail!(
            "nothing to run: put the command after `--`, as in `mosaic session dispatch {session} -- ls -la`"
        );
    }
    Ok(joined)
}

/// Splits words written before `--` into options of dispatch (a token
/// value shown as `<TOKEN>`, not repeated) and the command's words (those
/// after a stray `--` included).
fn split_stray(stray: &[String]) -> (Vec<String>, Vec<String>) {
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let mut words = stray.iter();
    while let Some(word) = words.next() {
        let name = word.split_once('=').map_or(word.as_str(), |(n, _)| n);
        if word == "--" {
            theirs.extend(words.by_ref().cloned());
        } else if DISPATCH_FLAGS.contains(&word.as_str()) {
            ours.push(word.clone());
        } else if DISPATCH_VALUE_OPTIONS.contains(&name) {
            let value = if name == word.as_str() {
                words.next().cloned().unwrap_or_default()
            } else {
                word[name.len() + 1..].to_owned()
            };
            let value = if name == "--token" {
                "<TOKEN>".to_owned()
            } else {
                super::render::shell_quote(&value)
            };
            ours.push(format!("{name} {value}"));
        } else {
            theirs.push(word.clone());
        }
    }
    (ours, theirs)
}

/// How an ended task ends the command: the exit status, and what to say on
/// stderr (without the `mosaic: ` prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Exit status.
    pub code: u8,
    /// Why, when the command itself did not simply exit.
    pub message: Option<String>,
}

/// Maps an ended task to our exit status: the command's own exit code when
/// it completed; 124 when it timed out; 130 when cancelled; 1 when refused,
/// failed, lost, or ended by a signal without an exit code.
pub fn outcome(task: &TaskView) -> Outcome {
    let say = |what: &str| match task.error.as_deref().filter(|e| !e.is_empty()) {
        Some(e) => format!("task {} {what}: {e}", task.id),
        None => format!("task {} {what}", task.id),
    };
    match (task.status.as_str(), task.exit_code) {
        ("completed", Some(c)) => match u8::try_from(c) {
            Ok(code) => Outcome {
                code,
                message: None,
            },
            Err(_) => Outcome {
                code: 1,
                message: Some(say(&format!("exited with status {c}"))),
            },
        },
        ("completed", None) => Outcome {
            code: 1,
            message: Some(say("ended without an exit code (killed by a signal)")),
        },
        ("timed_out", _) => Outcome {
            code: 124,
            message: Some(say("timed_out")),
        },
        ("cancelled", _) => Outcome {
            code: 130,
            message: Some(say("cancelled")),
        },
        ("running", _) => Outcome {
            code: 1,
            message: Some(say("is still running")),
        },
        (status, _) => Outcome {
            code: 1,
            message: Some(say(status)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_without_its_dashes_says_how_to_write_it() {
        let advice = |stray: &[&str], command: &[&str]| {
            let e = dispatch_command("ses_1", &v(&["--timeout 5"]), &v(stray), &v(command))
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("the command must come after `--`"), "{e}");
            e.rsplit_once("write `")
                .map(|(_, line)| line.trim_end_matches('`').to_owned())
                .unwrap()
        };
        // Flags of the command that clap would have taken.
        assert_eq!(
            advice(&["ls", "-la"], &[]),
            "mosaic session dispatch ses_1 --timeout 5 -- ls -la"
        );
        // A multi-word command in one argument keeps its quotes.
        assert_eq!(
            advice(&["echo hi | wc -c"], &[]),
            "mosaic session dispatch ses_1 --timeout 5 -- 'echo hi | wc -c'"
        );
        // Our options written after the command go before `--`; a token is
        // not repeated.
        assert_eq!(
            advice(
                &[
                    "grep",
                    "-r",
                    "x",
                    "--node",
                    "n1",
                    "--json",
                    "--token",
                    "mosaic_secret"
                ],
                &[]
            ),
            "mosaic session dispatch ses_1 --timeout 5 --node n1 --json --token <TOKEN> -- grep -r x"
        );
        assert_eq!(
            advice(&["ls", "--cwd=/tmp/a b"], &[]),
            "mosaic session dispatch ses_1 --timeout 5 --cwd '/tmp/a b' -- ls"
        );
        // A `--` after the first word: everything is the command.
        assert_eq!(
            advice(&["ls", "--", "-la"], &[]),
            "mosaic session dispatch ses_1 --timeout 5 -- ls -la"
        );
        let e = dispatch_command("s", &[], &[], &[])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("nothing to run"), "{e}");
        assert_eq!(
            dispatch_command("s", &[], &[], &v(&["ls", "-la"])).unwrap(),
            "ls -la"
        );
        assert_eq!(
            dispatch_command("s", &[], &[], &v(&["echo $HOME; uname"])).unwrap(),
            "echo $HOME; uname"
        );
    }

    #[test]
    fn ttl_takes_seconds_and_durations() {
        assert_eq!(parse_ttl("3600"), Ok(3600));
        assert_eq!(parse_ttl("1h"), Ok(3600));
        assert_eq!(parse_ttl("30m"), Ok(1800));
        assert_eq!(parse_ttl("90s"), Ok(90));
        assert_eq!(parse_ttl("7d"), Ok(604_800));
        assert_eq!(parse_ttl("1h30m"), Ok(5400));
        assert_eq!(parse_ttl(" 2H "), Ok(7200));
        assert_eq!(parse_ttl("60"), Ok(60));
    }

    #[test]
    fn ttl_refuses_nonsense_and_out_of_range() {
        for bad in ["", "h", "1x", "1h30", "-5", "1.5h", "m30", "abc"] {
            let e = parse_ttl(bad).unwrap_err();
            assert!(e.contains("not a duration"), "{bad}: {e}");
        }
        for out in ["59", "30s", "8d", "604801", "99999999999999999999d"] {
            assert!(parse_ttl(out).is_err(), "{out}");
        }
        assert!(parse_ttl("8d").unwrap_err().contains("between 1m and 7d"));
    }

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn strict_needs_an_allow_list_and_no_deny_list() {
        let e = invite_policy(true, &[], &[]).unwrap_err().to_string();
        assert!(e.contains("--strict needs at least one --allow"), "{e}");
        let e = invite_policy(true, &v(&["git"]), &v(&["rm"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("--deny does not go with --strict"), "{e}");
        let e = invite_policy(false, &v(&["git"]), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("--allow needs --strict"), "{e}");
    }

    #[test]
    fn policies_are_built_from_the_flags() {
        assert_eq!(invite_policy(false, &[], &[]).unwrap(), None);
        let p = invite_policy(true, &v(&["git,ls", " git", "cargo"]), &[])
            .unwrap()
            .unwrap();
        assert_eq!(p.mode, "strict");
        assert_eq!(p.allowed, v(&["git", "ls", "cargo"]));
        let p = invite_policy(false, &[], &v(&["rm", "shutdown,"]))
            .unwrap()
            .unwrap();
        assert_eq!(p.mode, "permissive");
        assert_eq!(p.denied, v(&["rm", "shutdown"]));
        let e = invite_policy(true, &v(&["rm -rf"]), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a program name"), "{e}");
        // Only separators: as good as nothing.
        assert!(invite_policy(true, &v(&[","]), &[]).is_err());
    }

    fn task(status: &str, exit_code: Option<i32>, error: Option<&str>) -> TaskView {
        TaskView {
            id: "t1".into(),
            session_id: "s".into(),
            node_id: "n".into(),
            command: "true".into(),
            cwd: None,
            status: status.into(),
            exit_code,
            error: error.map(str::to_owned),
            duration_ms: None,
            created_at: chrono::Utc::now(),
            finished_at: None,
        }
    }

    #[test]
    fn exit_codes_follow_the_task() {
        let o = |s, c, e| outcome(&task(s, c, e));
        assert_eq!(
            o("completed", Some(0), None),
            Outcome {
                code: 0,
                message: None
            }
        );
        assert_eq!(o("completed", Some(3), None).code, 3);
        assert_eq!(o("completed", Some(255), None).code, 255);
        assert_eq!(o("completed", Some(300), None).code, 1);
        assert_eq!(o("completed", Some(-1), None).code, 1);
        let signal = o("completed", None, None);
        assert_eq!(signal.code, 1);
        assert!(signal.message.unwrap().contains("without an exit code"));
        assert_eq!(
            o("timed_out", Some(137), Some("ran past 5s")),
            Outcome {
                code: 124,
                message: Some("task t1 timed_out: ran past 5s".into())
            }
        );
        assert_eq!(o("cancelled", None, None).code, 130);
        assert_eq!(
            o(
                "refused",
                None,
                Some("strict policy: `rm` is not on the allow list")
            ),
            Outcome {
                code: 1,
                message: Some(
                    "task t1 refused: strict policy: `rm` is not on the allow list".into()
                )
            }
        );
        assert_eq!(
            o("failed", None, Some("")).message.as_deref(),
            Some("task t1 failed")
        );
        assert_eq!(o("lost", None, Some("node went away")).code, 1);
        assert_eq!(o("weird", None, None).code, 1);
    }
}
