//! The gateway PKI in a data dir: created on first start with 0600 keys,
//! identical on restart, server certificate renewed when its names change,
//! and an operator's own CA (Step-CA style SEC1 key) used instead.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration, Utc};
use mosaic_identity::files::mode;
use mosaic_identity::testing::claims;
use mosaic_identity::{
    CaSource, GatewayPki, PkiError, PkiEvent, PkiOptions, Validity, verify_client_chain,
};
use std::process::Command;

fn options(names: &[&str]) -> PkiOptions {
    PkiOptions {
        ca: CaSource::Generated {
            common_name: "Mosaic gateway CA test".to_owned(),
        },
        server_names: names.iter().map(|n| (*n).to_owned()).collect(),
    }
}

#[test]
fn first_start_creates_everything_private_and_restart_reuses_it() {
    let data = tempfile::tempdir().unwrap();
    let now = Utc::now();
    let first = GatewayPki::load_or_create(data.path(), &options(&["localhost", "127.0.0.1"]), now)
        .unwrap();
    assert!(first.events.contains(&PkiEvent::CaCreated));
    assert!(first.events.contains(&PkiEvent::SecretCreated));
    assert!(
        first
            .events
            .iter()
            .any(|e| matches!(e, PkiEvent::ServerCertIssued { .. }))
    );
    let paths = &first.paths;
    assert_eq!(mode(paths.root()).unwrap(), 0o700);
    assert_eq!(mode(&paths.ca_key()).unwrap(), 0o600);
    assert_eq!(mode(&paths.server_key()).unwrap(), 0o600);
    assert_eq!(mode(&paths.secret()).unwrap(), 0o600);
    assert_eq!(mode(&paths.ca_cert()).unwrap(), 0o644);

    let sealed = first.sealer.seal("p", b"v").unwrap();
    let second = GatewayPki::load_or_create(
        data.path(),
        &options(&["127.0.0.1", "LOCALHOST"]),
        now + Duration::minutes(1),
    )
    .unwrap();
    assert!(second.events.is_empty(), "{:?}", second.events);
    assert_eq!(second.ca.fingerprint(), first.ca.fingerprint());
    assert_eq!(second.server.cert_pem, first.server.cert_pem);
    assert_eq!(second.sealer.unseal("p", &sealed).unwrap().as_slice(), b"v");

    // The CA issued before the restart still verifies after it.
    let cert = first
        .ca
        .issue_client(
            "peer",
            &claims("g", "u"),
            Validity::starting(now, Duration::days(1)),
        )
        .unwrap();
    assert!(verify_client_chain(&[cert.cert.der], &second.ca.trust_anchors(), now).is_ok());
}

#[test]
fn the_server_certificate_follows_its_configured_names_and_expiry() {
    let data = tempfile::tempdir().unwrap();
    let now = Utc::now();
    let first =
        GatewayPki::load_or_create(data.path(), &options(&["gw.example.com"]), now).unwrap();
    let renamed =
        GatewayPki::load_or_create(data.path(), &options(&["gw2.example.com"]), now).unwrap();
    assert_eq!(
        renamed.events,
        vec![PkiEvent::ServerCertIssued {
            names: vec!["gw2.example.com".to_owned()]
        }]
    );
    assert_ne!(renamed.server.cert_pem, first.server.cert_pem);
    let near_expiry = renamed.server.not_after - Duration::days(10);
    let renewed =
        GatewayPki::load_or_create(data.path(), &options(&["gw2.example.com"]), near_expiry)
            .unwrap();
    assert_eq!(renewed.events.len(), 1, "{:?}", renewed.events);
    assert!(renewed.server.not_after > renamed.server.not_after);
}

#[test]
fn loose_key_permissions_are_tightened() {
    use std::os::unix::fs::PermissionsExt;
    let data = tempfile::tempdir().unwrap();
    let pki =
        GatewayPki::load_or_create(data.path(), &options(&["localhost"]), Utc::now()).unwrap();
    let key = pki.paths.ca_key();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let again =
        GatewayPki::load_or_create(data.path(), &options(&["localhost"]), Utc::now()).unwrap();
    assert_eq!(
        again.events,
        vec![PkiEvent::PermissionsTightened(key.clone())]
    );
    assert_eq!(mode(&key).unwrap(), 0o600);
}

#[test]
fn half_a_ca_is_an_error_that_says_what_to_do() {
    let data = tempfile::tempdir().unwrap();
    let pki =
        GatewayPki::load_or_create(data.path(), &options(&["localhost"]), Utc::now()).unwrap();
    std::fs::remove_file(pki.paths.ca_key()).unwrap();
    let err =
        GatewayPki::load_or_create(data.path(), &options(&["localhost"]), Utc::now()).unwrap_err();
    assert!(matches!(err, PkiError::Config(_)));
    let text = err.to_string();
    assert!(text.contains("ca.key") && text.contains("backup"), "{text}");
}

#[test]
fn bad_server_names_are_refused_by_name() {
    let data = tempfile::tempdir().unwrap();
    let err = GatewayPki::load_or_create(data.path(), &options(&["not a host!"]), Utc::now())
        .unwrap_err();
    assert!(err.to_string().contains("not a host!"), "{err}");
}

fn openssl(args: &[&str], dir: &std::path::Path) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl must be installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_operators_ca_with_a_sec1_key_is_used_instead() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // What Step-CA and `openssl ecparam` produce: a SEC1 `EC PRIVATE KEY`.
    openssl(
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "ca.key",
        ],
        d,
    );
    openssl(
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "ca.key",
            "-subj",
            "/CN=Operator Intermediate CA",
            "-days",
            "30",
            "-addext",
            "basicConstraints=critical,CA:TRUE,pathlen:0",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-out",
            "ca.crt",
        ],
        d,
    );
    assert!(
        std::fs::read_to_string(d.join("ca.key"))
            .unwrap()
            .contains("EC PRIVATE KEY")
    );
    let data = d.join("data");
    let opts = PkiOptions {
        ca: CaSource::External {
            cert: d.join("ca.crt"),
            key: d.join("ca.key"),
        },
        server_names: vec!["localhost".to_owned()],
    };
    let now = Utc::now();
    let pki = GatewayPki::load_or_create(&data, &opts, now).unwrap();
    assert!(!pki.events.contains(&PkiEvent::CaCreated));
    assert!(
        !pki.paths.ca_cert().exists(),
        "the operator's CA is not copied"
    );

    let cert = pki
        .ca
        .issue_client(
            "peer",
            &claims("g", "u"),
            Validity::starting(now, Duration::days(1)),
        )
        .unwrap();
    std::fs::write(d.join("client.pem"), &cert.cert.pem).unwrap();
    openssl(
        &[
            "verify",
            "-CAfile",
            "ca.crt",
            "-purpose",
            "sslclient",
            "client.pem",
        ],
        d,
    );
    let crl = pki.ca.crl(1, &[], now, now + Duration::days(1)).unwrap();
    std::fs::write(d.join("crl.pem"), &crl.pem).unwrap();
    openssl(
        &[
            "crl", "-in", "crl.pem", "-CAfile", "ca.crt", "-noout", "-verify",
        ],
        d,
    );

    // A key that belongs to another CA is refused before anything is issued.
    openssl(
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "other.key",
        ],
        d,
    );
    let wrong = PkiOptions {
        ca: CaSource::External {
            cert: d.join("ca.crt"),
            key: d.join("other.key"),
        },
        ..opts
    };
    let err = GatewayPki::load_or_create(&data, &wrong, now).unwrap_err();
    assert!(err.to_string().contains("does not match"), "{err}");
}
