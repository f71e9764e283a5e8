//! CRL contents: issuer, number, dates, every revoked serial with its reason,
//! an authority key id matching the CA, and a signature by the CA's key.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration, Utc};
use mosaic_identity::testing::TestPki;
use mosaic_identity::{CertSerial, Revocation, RevocationReason};
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::*;

#[test]
fn crl_lists_exactly_the_revoked_serials_and_is_signed_by_the_ca() {
    let pki = TestPki::new();
    let now = Utc::now();
    let this_update = now - Duration::minutes(1);
    let next_update = now + Duration::days(7);
    let revoked = [
        (
            pki.client("g1", "u").serial,
            Some(RevocationReason::KeyCompromise),
        ),
        (pki.client("g2", "u").serial, None),
        (
            "0A".parse::<CertSerial>().unwrap(),
            Some(RevocationReason::Superseded),
        ),
    ];
    let list: Vec<Revocation> = revoked
        .iter()
        .map(|(serial, reason)| Revocation {
            serial: serial.clone(),
            revoked_at: this_update,
            reason: *reason,
        })
        .collect();
    let crl = pki.ca.crl(42, &list, this_update, next_update).unwrap();

    let (_, parsed) = parse_x509_crl(&crl.der).unwrap();
    let (_, ca) = parse_x509_certificate(pki.ca.cert_der()).unwrap();
    assert_eq!(parsed.issuer(), ca.subject());
    assert_eq!(parsed.crl_number().unwrap().to_string(), "42");
    assert_eq!(parsed.last_update().timestamp(), this_update.timestamp());
    assert_eq!(
        parsed.next_update().unwrap().timestamp(),
        next_update.timestamp()
    );
    parsed.verify_signature(ca.public_key()).unwrap();

    let entries: Vec<(CertSerial, Option<ReasonCode>)> = parsed
        .iter_revoked_certificates()
        .map(|r| {
            (
                CertSerial::from_be_bytes(r.raw_serial()),
                r.reason_code().map(|(_, code)| code),
            )
        })
        .collect();
    assert_eq!(
        entries,
        vec![
            (revoked[0].0.clone(), Some(ReasonCode::KeyCompromise)),
            (revoked[1].0.clone(), None),
            (revoked[2].0.clone(), Some(ReasonCode::Superseded)),
        ]
    );

    // The CRL's authority key id is the CA's subject key id.
    let ski = ca
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
            _ => None,
        });
    let aki = parsed
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                a.key_identifier.as_ref().map(|k| k.0.to_vec())
            }
            _ => None,
        });
    assert!(ski.is_some());
    assert_eq!(aki, ski);

    // PEM and DER are the same CRL.
    let pem = rustls_pki_types::pem::PemObject::from_pem_slice(crl.pem.as_bytes())
        .map(|d: rustls_pki_types::CertificateRevocationListDer<'static>| d.as_ref().to_vec())
        .unwrap();
    assert_eq!(pem, crl.der);
}

#[test]
fn an_empty_crl_is_valid_and_next_update_must_follow_this_update() {
    let pki = TestPki::new();
    let now = Utc::now();
    let crl = pki.ca.crl(1, &[], now, now + Duration::days(1)).unwrap();
    let (_, parsed) = parse_x509_crl(&crl.der).unwrap();
    assert_eq!(parsed.iter_revoked_certificates().count(), 0);
    assert!(pki.ca.crl(2, &[], now, now).is_err());
}
