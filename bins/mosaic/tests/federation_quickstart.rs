//! Runs the exact commands of docs/federation/QUICKSTART.md with the built
//! `mosaic` and `gateway` binaries, and checks what a person would see.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support {
    pub mod quickstart;
}

#[test]
fn the_quickstart_works_as_written() {
    let out = support::quickstart::run("docs/federation/QUICKSTART.md", &["gateway"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);

    // Step 4's table: work's task, tagged with work's name.
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("Ship the release") && l.split_whitespace().last() == Some("work")),
        "no row for work's task tagged `work` in:\n{stdout}"
    );
    // The JSON form carries the same tag.
    assert!(stdout.contains("\"_source\": \"work\""), "{stdout}");
    // Step 5: after revocation the next request is refused.
    assert!(stderr.contains("Federation access denied"), "{stderr}");
    assert!(stdout.contains("refused, as it should be"), "{stdout}");
}
