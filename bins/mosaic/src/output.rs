//! Printing results: a readable form for people, `--json` for programs, `-q`
//! for scripts; and the one table layout every listing uses.

use clap::Args;
use serde::Serialize;

/// `--json` and `-q/--quiet`, for commands that print data.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct OutputArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Print only what scripts need: ids, one per line (the token or code for commands that issue one).
    #[arg(short, long, conflicts_with = "json")]
    pub quiet: bool,
}

/// Just `--json`, for commands with nothing to print in quiet form.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct JsonArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

impl OutputArgs {
    /// Prints `value` as JSON, `quiet` (each line of it) with `-q`, else
    /// `human`.
    pub fn print<T: Serialize>(
        self,
        value: &T,
        quiet: impl FnOnce(&T) -> Vec<String>,
        human: impl FnOnce(&T) -> String,
    ) -> anyhow::Result<()> {
        if self.json {
            json(value)
        } else if self.quiet {
            for line in quiet(value) {
                println!("{line}");
            }
            Ok(())
        } else {
            println!("{}", human(value));
            Ok(())
        }
    }
}

impl JsonArgs {
    /// Prints `value` as JSON, else `human`.
    pub fn print<T: Serialize>(
        self,
        value: &T,
        human: impl FnOnce(&T) -> String,
    ) -> anyhow::Result<()> {
        if self.json {
            json(value)
        } else {
            println!("{}", human(value));
            Ok(())
        }
    }
}

/// Prints `value` as pretty JSON on stdout.
pub fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// A header row and rows below it, columns padded to their widest cell and
/// two spaces apart; the last column is not padded and no line ends in
/// spaces. No trailing newline.
pub fn table<R: AsRef<[String]>>(headers: &[&str], rows: &[R]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row.as_ref()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut out = String::new();
        for (i, cell) in cells.enumerate() {
            out.push_str(cell);
            if i + 1 < widths.len() {
                let pad = widths[i].saturating_sub(cell.chars().count());
                out.push_str(&" ".repeat(pad + 2));
            }
        }
        out.trim_end().to_owned()
    };
    let mut out = line(&mut headers.iter().copied());
    for row in rows {
        out.push('\n');
        out.push_str(&line(&mut row.as_ref().iter().map(String::as_str)));
    }
    out
}

/// `-` for a missing or empty value.
pub fn or_dash(value: Option<&str>) -> String {
    value.filter(|v| !v.is_empty()).unwrap_or("-").to_owned()
}

/// At most `max` characters, with `…` when cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_on_the_widest_cell() {
        let t = table(
            &["ID", "NAME", "LAST"],
            &[
                vec!["a".to_owned(), "long-name".to_owned(), "x".to_owned()],
                vec!["bbbb".to_owned(), "n".to_owned(), "y y".to_owned()],
            ],
        );
        assert_eq!(
            t,
            "ID    NAME       LAST\na     long-name  x\nbbbb  n          y y"
        );
    }

    #[test]
    fn empty_last_cells_leave_no_trailing_spaces() {
        let t = table(&["A", "B"], &[["x".to_owned(), String::new()]]);
        assert_eq!(t, "A  B\nx");
        assert_eq!(table::<Vec<String>>(&["A", "B"], &[]), "A  B");
    }

    #[test]
    fn truncation_and_dashes() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
        assert_eq!(or_dash(Some("")), "-");
        assert_eq!(or_dash(None), "-");
        assert_eq!(or_dash(Some("v")), "v");
    }
}
