//! What OpenSSL, the reference outside reader, makes of Mosaic certificates
//! and CRLs: it must show the custom extensions, accept the chain, verify the
//! CRL's signature and honour it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration, Utc};
use mosaic_identity::testing::{TestPki, claims};
use mosaic_identity::{CertSerial, Revocation, RevocationReason};
use std::path::Path;
use std::process::Command;

fn openssl(args: &[&str], dir: &Path) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl must be installed (Debian package `openssl`)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn openssl_shows_the_mosaic_extensions_and_accepts_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new();
    let c = claims("grant-openssl-1", "alice").with_peer("peer-a".parse().unwrap());
    let cert = pki.client_with(
        &c,
        mosaic_identity::Validity::starting(Utc::now(), Duration::days(30)),
    );
    std::fs::write(dir.path().join("ca.pem"), pki.ca_pem()).unwrap();
    std::fs::write(dir.path().join("client.pem"), &cert.cert_pem).unwrap();

    let (ok, text) = openssl(
        &["x509", "-in", "client.pem", "-noout", "-text"],
        dir.path(),
    );
    assert!(ok, "{text}");
    for oid in ["1.1", "1.2", "1.3", "1.4"] {
        let full = format!("2.25.241400657918466799825741375372443673910.{oid}:");
        assert!(text.contains(&full), "missing {full} in:\n{text}");
    }
    assert!(text.contains("grant-openssl-1"), "{text}");
    assert!(text.contains("alice"), "{text}");
    assert!(text.contains("TLS Web Client Authentication"), "{text}");
    let serial_line = text
        .lines()
        .skip_while(|l| !l.contains("Serial Number"))
        .nth(1)
        .unwrap_or_default()
        .trim()
        .replace(':', "")
        .to_uppercase();
    let shown: CertSerial = CertSerial::from_be_bytes(&hex(&serial_line));
    assert_eq!(shown, cert.serial, "{text}");

    let (ok, text) = openssl(
        &[
            "verify",
            "-CAfile",
            "ca.pem",
            "-purpose",
            "sslclient",
            "client.pem",
        ],
        dir.path(),
    );
    assert!(ok, "{text}");
    assert!(text.contains("client.pem: OK"), "{text}");
}

#[test]
fn openssl_verifies_the_crl_and_refuses_a_revoked_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new();
    let revoked = pki.client("grant-r", "u");
    let kept = pki.client("grant-k", "u");
    let now = Utc::now();
    let crl = pki
        .ca
        .crl(
            7,
            &[Revocation {
                serial: revoked.serial.clone(),
                revoked_at: now - Duration::minutes(1),
                reason: Some(RevocationReason::AffiliationChanged),
            }],
            now - Duration::minutes(1),
            now + Duration::days(7),
        )
        .unwrap();
    assert!(crl.pem.starts_with("-----BEGIN X509 CRL-----"));
    std::fs::write(dir.path().join("ca.pem"), pki.ca_pem()).unwrap();
    std::fs::write(dir.path().join("crl.pem"), &crl.pem).unwrap();
    std::fs::write(dir.path().join("crl.der"), &crl.der).unwrap();
    std::fs::write(dir.path().join("revoked.pem"), &revoked.cert_pem).unwrap();
    std::fs::write(dir.path().join("kept.pem"), &kept.cert_pem).unwrap();

    let (ok, text) = openssl(
        &[
            "crl", "-in", "crl.der", "-inform", "DER", "-CAfile", "ca.pem", "-noout", "-verify",
            "-text",
        ],
        dir.path(),
    );
    assert!(ok, "{text}");
    assert!(text.contains("verify OK"), "{text}");
    assert!(text.contains("Affiliation Changed"), "{text}");

    let check = |file: &str| {
        openssl(
            &[
                "verify",
                "-CAfile",
                "ca.pem",
                "-CRLfile",
                "crl.pem",
                "-crl_check",
                file,
            ],
            dir.path(),
        )
    };
    let (ok, text) = check("revoked.pem");
    assert!(!ok && text.contains("certificate revoked"), "{text}");
    let (ok, text) = check("kept.pem");
    assert!(ok, "{text}");
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
