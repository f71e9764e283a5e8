//! `mosaic ca init|show` and `mosaic cert inspect`, run as a person would.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use mosaic_identity::testing::{TestPki, claims};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn mosaic(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mosaic"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("MOSAIC_DATA_DIR", home.join("data"))
        .env("MOSAIC_IDENTITY__NAME", "gw-test")
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn ca_init_creates_once_and_show_reads_it() {
    let home = tempfile::tempdir().unwrap();
    let out = mosaic(home.path(), &["ca", "show"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("mosaic ca init"));

    let text = ok(&mosaic(home.path(), &["ca", "init"]));
    assert!(text.contains("created a new gateway CA"), "{text}");
    assert!(text.contains("Mosaic gateway CA (gw-test)"), "{text}");
    let init: Value =
        serde_json::from_str(&ok(&mosaic(home.path(), &["ca", "init", "--json"]))).unwrap();
    assert_eq!(init["created"], false, "a second init changes nothing");
    let show: Value =
        serde_json::from_str(&ok(&mosaic(home.path(), &["ca", "show", "--json"]))).unwrap();
    assert_eq!(show["fingerprint_sha256"], init["fingerprint_sha256"]);
    assert_eq!(show["certificate"]["is_ca"], true);
    assert!(home.path().join("data/pki/ca.key").is_file());
}

#[test]
fn cert_inspect_shows_subject_serial_validity_and_mosaic_oids() {
    let home = tempfile::tempdir().unwrap();
    let pki = TestPki::new();
    let c = claims("grant-42", "alice").with_peer("peer-a".parse().unwrap());
    let cert = pki.client_with(
        &c,
        mosaic_identity::Validity::starting(chrono::Utc::now(), chrono::Duration::days(30)),
    );
    let pem_file = home.path().join("client.pem");
    let der_file = home.path().join("client.der");
    std::fs::write(&pem_file, &cert.cert_pem).unwrap();
    std::fs::write(&der_file, cert.der.as_ref()).unwrap();

    let text = ok(&mosaic(
        home.path(),
        &["cert", "inspect", pem_file.to_str().unwrap()],
    ));
    assert!(text.contains("CN=peer"), "{text}");
    assert!(text.contains(cert.serial.as_str()), "{text}");
    assert!(
        text.contains("mosaicGrantId") && text.contains("grant-42"),
        "{text}"
    );
    assert!(
        text.contains("mosaicSubjectUserId") && text.contains("alice"),
        "{text}"
    );
    assert!(text.contains("Mosaic identity  yes"), "{text}");

    let json: Value = serde_json::from_str(&ok(&mosaic(
        home.path(),
        &["cert", "inspect", der_file.to_str().unwrap(), "--json"],
    )))
    .unwrap();
    assert_eq!(json["serial"], cert.serial.as_str());
    assert_eq!(json["is_mosaic_identity"], true);
    let names: Vec<&str> = json["mosaic_extensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "mosaicProfileVersion",
            "mosaicGrantId",
            "mosaicSubjectUserId",
            "mosaicPeerId"
        ]
    );
    assert!(json["not_after"].as_str().is_some());

    let plain = pki.client_without_oids();
    std::fs::write(&pem_file, &plain.cert_pem).unwrap();
    let text = ok(&mosaic(
        home.path(),
        &["cert", "inspect", pem_file.to_str().unwrap()],
    ));
    assert!(text.contains("Mosaic OIDs  none"), "{text}");
    assert!(text.contains("missing required OID"), "{text}");

    std::fs::write(&pem_file, "nothing").unwrap();
    let out = mosaic(
        home.path(),
        &["cert", "inspect", pem_file.to_str().unwrap()],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds no certificate"));
}
