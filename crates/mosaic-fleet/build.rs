//! Lists the shipped persona and profile files so `src/library` can embed them
//! with `include_str!` without a hand-kept list that could fall out of step.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let out_dir = std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into());
    let mut code = String::new();
    for (konst, dir, ext) in [
        ("BASELINE_ROLES", "assets/roles", "md"),
        ("BASELINE_PROFILES", "assets/profiles", "yaml"),
    ] {
        let abs = Path::new(&manifest).join(dir);
        println!("cargo:rerun-if-changed={}", abs.display());
        let mut files: Vec<String> = std::fs::read_dir(&abs)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter_map(|e| e.file_name().into_string().ok())
                    .filter(|n| n.ends_with(&format!(".{ext}")) && n != "LIBRARY.md")
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        let _ = writeln!(code, "pub(crate) const {konst}: &[(&str, &str)] = &[");
        for file in files {
            let stem = file.trim_end_matches(&format!(".{ext}"));
            let path = abs.join(&file);
            let _ = writeln!(
                code,
                "    ({stem:?}, include_str!({:?})),",
                path.display().to_string()
            );
        }
        code.push_str("];\n");
    }
    let dest = Path::new(&out_dir).join("assets.rs");
    if let Err(e) = std::fs::write(&dest, code) {
        panic!("cannot write {}: {e}", dest.display());
    }
}
