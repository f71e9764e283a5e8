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
    // Step 5: `grants -q` gave the grant id to revoke; after revocation the
    // next request is refused, saying who and why.
    assert!(
        stderr.contains("the grant for peer work was revoked"),
        "{stderr}"
    );
    assert!(stdout.contains("refused, as it should be"), "{stdout}");
    // `all` names the peer that did not answer, and why.
    assert!(
        stderr.contains("partial: 1 peer(s) did not answer"),
        "{stderr}"
    );
    assert!(
        stderr.lines().any(|l| l
            .trim_start()
            .starts_with("work: FORBIDDEN: the grant for peer work was revoked")),
        "{stderr}"
    );
    // Home shows work as refused, and why.
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("work") && l.contains("refused (grant_revoked)")),
        "{stdout}"
    );
}
