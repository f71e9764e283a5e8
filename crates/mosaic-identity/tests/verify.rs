//! Issue → verify → extract, and every error the verification enum has.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration, Utc};
use mosaic_identity::testing::{
    TestPki, claims, foreign_client, integer_value, mosaic_extensions, self_signed_without_oids,
    utf8_value,
};
use mosaic_identity::{
    CLIENT_LIFETIME, MosaicOid, Validity, VerifiedCsr, VerifyError, extract_identity, generate_csr,
    verify_chain, verify_client_chain,
};
use mosaic_types::PeerId;
use rustls_pki_types::CertificateDer;

fn current() -> Validity {
    Validity::starting(Utc::now(), CLIENT_LIFETIME)
}

fn verify(
    pki: &TestPki,
    der: &CertificateDer<'static>,
) -> Result<mosaic_identity::CertIdentity, VerifyError> {
    verify_client_chain(std::slice::from_ref(der), &pki.anchors(), Utc::now())
}

#[test]
fn issue_verify_extract_round_trip() {
    let pki = TestPki::new();
    let c = claims("7d9c2f1e-grant", "alice")
        .with_peer(PeerId::new("peer-a").unwrap())
        .with_instance(mosaic_types::InstanceId::new("inst-b").unwrap());
    let cert = pki.client_with(&c, current());
    let id = verify(&pki, &cert.der).unwrap();
    assert_eq!(id.claims, c);
    assert_eq!(id.profile_version, 1);
    assert_eq!(id.serial, cert.serial);
    assert_eq!(id.common_name.as_deref(), Some("peer"));
    assert!(id.not_before <= Utc::now() && Utc::now() < id.not_after);
    // Extraction alone reads the same identity.
    assert_eq!(extract_identity(&cert.der).unwrap(), id);
}

#[test]
fn csr_enrollment_round_trip_uses_only_the_requesters_public_key() {
    let pki = TestPki::new();
    let request = generate_csr("gw-a").unwrap();
    let csr = VerifiedCsr::from_pem(&request.csr_pem).unwrap();
    let c = claims("grant-9", "bob");
    let cert = pki.ca.sign_csr(&csr, "gw-a", &c, current()).unwrap();
    let id = verify(&pki, &cert.der).unwrap();
    assert_eq!(id.claims, c);
    assert_eq!(id.common_name.as_deref(), Some("gw-a"));
    let parsed = x509_parser::parse_x509_certificate(&cert.der).unwrap().1;
    assert_eq!(parsed.public_key().raw, csr.spki_der());
    assert!(!cert.pem.contains("PRIVATE KEY"));
}

#[test]
fn serials_are_random_128_bit_uppercase_hex() {
    let pki = TestPki::new();
    let a = pki.client("g", "u").serial;
    let b = pki.client("g", "u").serial;
    assert_ne!(a, b);
    for s in [a.as_str(), b.as_str()] {
        assert!(s.len() <= 32 && s.len() >= 28, "{s}");
        assert!(
            s.chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        );
    }
}

#[test]
fn empty_chain() {
    let pki = TestPki::new();
    assert_eq!(
        verify_client_chain(&[], &pki.anchors(), Utc::now()),
        Err(VerifyError::EmptyChain)
    );
}

#[test]
fn malformed_certificate() {
    let pki = TestPki::new();
    for junk in [&b""[..], b"\x30\x03abc", b"not a certificate at all"] {
        let err = verify(&pki, &CertificateDer::from(junk.to_vec())).unwrap_err();
        assert!(
            matches!(err, VerifyError::MalformedCertificate { .. }),
            "{err:?}"
        );
    }
    let mut trailing = pki.client("g", "u").der.as_ref().to_vec();
    trailing.push(0);
    assert!(matches!(
        verify(&pki, &CertificateDer::from(trailing)),
        Err(VerifyError::MalformedCertificate { .. })
    ));
}

#[test]
fn missing_oid_names_which() {
    let pki = TestPki::new();
    let cert = pki.client_without_oids();
    let err = verify(&pki, &cert.der).unwrap_err();
    assert_eq!(err, VerifyError::MissingOid(MosaicOid::ProfileVersion));
    assert!(err.is_oid_error());
    assert!(err.to_string().contains("missing required OID"), "{err}");

    for missing in MosaicOid::REQUIRED {
        let exts: Vec<_> = mosaic_extensions("g", "u")
            .into_iter()
            .filter(|(oid, _)| *oid != missing)
            .collect();
        let cert = pki.client_with_extensions(&exts, current());
        assert_eq!(
            verify(&pki, &cert.der),
            Err(VerifyError::MissingOid(missing))
        );
        let text = VerifyError::MissingOid(missing).to_string();
        assert!(
            text.contains(missing.name()) && text.contains(&missing.dotted()),
            "{text}"
        );
    }
}

#[test]
fn malformed_oid_values() {
    let pki = TestPki::new();
    let cases: Vec<(MosaicOid, Vec<u8>, &str)> = vec![
        (MosaicOid::GrantId, integer_value(7), "expected UTF8String"),
        (MosaicOid::GrantId, utf8_value(""), "must not be empty"),
        (
            MosaicOid::SubjectUserId,
            utf8_value("a\nb"),
            "control character",
        ),
        (
            MosaicOid::SubjectUserId,
            vec![0x0C, 0x02, 0xC3, 0x28],
            "UTF-8",
        ),
        (
            MosaicOid::GrantId,
            vec![0x13, 0x01, b'g'],
            "expected UTF8String",
        ),
        (MosaicOid::ProfileVersion, integer_value(2), "not supported"),
        (
            MosaicOid::ProfileVersion,
            utf8_value("1"),
            "expected INTEGER",
        ),
        (MosaicOid::PeerId, utf8_value(""), "must not be empty"),
        (
            MosaicOid::InstanceId,
            {
                let mut v = utf8_value("x");
                v.push(0);
                v
            },
            "unexpected bytes",
        ),
    ];
    for (oid, value, needle) in cases {
        let mut exts = mosaic_extensions("g", "u");
        match exts.iter_mut().find(|(o, _)| *o == oid) {
            Some(slot) => slot.1 = value,
            None => exts.push((oid, value)),
        }
        let cert = pki.client_with_extensions(&exts, current());
        let err = verify(&pki, &cert.der).unwrap_err();
        match &err {
            VerifyError::MalformedOid { oid: o, reason } => {
                assert_eq!(*o, oid);
                assert!(reason.contains(needle), "{oid:?}: {reason}");
            }
            other => panic!("{oid:?}: expected MalformedOid, got {other:?}"),
        }
        assert!(err.is_oid_error());
    }
}

#[test]
fn duplicate_extension() {
    let pki = TestPki::new();
    let mut exts = mosaic_extensions("g", "u");
    exts.push((MosaicOid::GrantId, utf8_value("other-grant")));
    let cert = pki.client_with_extensions(&exts, current());
    assert_eq!(
        verify(&pki, &cert.der),
        Err(VerifyError::DuplicateExtension {
            oid: MosaicOid::GrantId.dotted()
        })
    );
    // Extraction without chain checks refuses it too.
    assert!(matches!(
        extract_identity(&cert.der),
        Err(VerifyError::DuplicateExtension { .. })
    ));
}

#[test]
fn untrusted_issuer() {
    let pki = TestPki::new();
    for cert in [foreign_client("g", "u"), self_signed_without_oids("peer")] {
        let err = verify(&pki, &cert.der).unwrap_err();
        assert!(
            matches!(err, VerifyError::UntrustedIssuer { .. }),
            "{err:?}"
        );
        assert!(!err.is_oid_error());
    }
}

#[test]
fn expired_and_not_yet_valid() {
    let pki = TestPki::new();
    let expired = pki.expired_client("g", "u");
    match verify(&pki, &expired.der) {
        Err(VerifyError::Expired { not_after, now }) => assert!(not_after < now),
        other => panic!("expected Expired, got {other:?}"),
    }
    let early = pki.not_yet_valid_client("g", "u");
    match verify(&pki, &early.der) {
        Err(VerifyError::NotYetValid { not_before, now }) => assert!(not_before > now),
        other => panic!("expected NotYetValid, got {other:?}"),
    }
    // The same certificate is fine at a time inside its window.
    let inside = Utc::now() + Duration::days(2);
    assert!(verify_client_chain(&[early.der], &pki.anchors(), inside).is_ok());
}

#[test]
fn wrong_usage() {
    let pki = TestPki::new();
    let server = pki.server(&["gw.example.com"]);
    match verify(&pki, &server.der) {
        Err(VerifyError::WrongUsage { reason }) => {
            assert!(reason.contains("clientAuth"), "{reason}")
        }
        other => panic!("expected WrongUsage, got {other:?}"),
    }
    let ca = CertificateDer::from(pki.ca.cert_der().as_ref().to_vec());
    match verify(&pki, &ca) {
        Err(VerifyError::WrongUsage { reason }) => assert!(reason.contains("CA"), "{reason}"),
        other => panic!("expected WrongUsage, got {other:?}"),
    }
}

#[test]
fn trust_anchors_from_pem_bundle() {
    let a = TestPki::new();
    let b = TestPki::named("second CA");
    let bundle = format!("{}{}", a.ca_pem(), b.ca_pem());
    let anchors = mosaic_identity::TrustAnchors::from_pem(&bundle).unwrap();
    assert_eq!(anchors.certs().len(), 2);
    for pki in [&a, &b] {
        let cert = pki.client("g", "u");
        assert!(verify_client_chain(&[cert.der], &anchors, Utc::now()).is_ok());
    }
    assert!(mosaic_identity::TrustAnchors::from_pem("nothing").is_err());
}

#[test]
fn a_chain_longer_than_the_anchors_path_length_is_refused() {
    // The gateway CA says pathLenConstraint 0: it signs end-entity
    // certificates only. webpki ignores an anchor's constraint, so this
    // check is Mosaic's own.
    let pki = TestPki::new();
    let intermediate = pki.intermediate("Mosaic test intermediate");
    let leaf = intermediate.client("g", "u");
    let chain = [leaf.der.clone(), intermediate.ca.cert_der().clone()];
    assert_eq!(
        verify_client_chain(&chain, &pki.anchors(), Utc::now()),
        Err(VerifyError::PathTooLong {
            intermediates: 1,
            allowed: 0
        })
    );
    let err = verify_chain(&chain[0], &chain[1..], &pki.anchors(), Utc::now()).unwrap_err();
    assert!(err.to_string().contains("path length"), "{err}");
    assert!(!err.is_oid_error());

    // The intermediate itself as the anchor: the same leaf is one step away.
    assert!(verify_client_chain(&chain[..1], &intermediate.anchors(), Utc::now()).is_ok());
    // A direct leaf passes even when an unneeded intermediate rides along.
    let direct = pki.client("g", "u");
    let padded = [direct.der.clone(), intermediate.ca.cert_der().clone()];
    assert!(verify_client_chain(&padded, &pki.anchors(), Utc::now()).is_ok());
}

#[test]
fn a_negative_serial_keeps_its_sign() {
    let pki = TestPki::new();
    let cert = pki.client_with_negative_serial(&claims("g", "u"));
    let id = verify(&pki, &cert.der).unwrap();
    assert!(id.serial.is_negative(), "{}", id.serial);
    assert_eq!(id.serial, cert.serial);
    // The positive serial with the same bytes is another serial.
    assert_ne!(id.serial, cert.unsigned_serial());
    assert_eq!(
        id.serial.as_str().trim_start_matches('-').len() % 2,
        0,
        "{}",
        id.serial
    );
}
