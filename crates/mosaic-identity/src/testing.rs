//! Certificates for other crates' tests (feature `testing`): a test CA that
//! issues Mosaic client certificates for `(grant, subject)`, and the bad
//! certificates every auth path must refuse: without OIDs, expired, not yet
//! valid, from a foreign CA, self-signed, with broken OID values, with a
//! negative serial, or issued by an intermediate CA below a CA whose path
//! length allows none.
//!
//! Helpers panic on failure: they only run inside tests, where a panic with
//! a message is the clearest report.
//!
//! ```
//! use mosaic_identity::testing::{TestPki, foreign_client, self_signed_without_oids};
//! use mosaic_identity::{VerifyError, verify_client_chain};
//!
//! let pki = TestPki::new();
//! let good = pki.client("grant-1", "alice");
//! let id = verify_client_chain(&[good.der.clone()], &pki.anchors(), chrono::Utc::now()).unwrap();
//! assert_eq!(id.claims.subject_user_id.as_str(), "alice");
//!
//! let bad = self_signed_without_oids("intruder");
//! assert!(matches!(
//!     verify_client_chain(&[bad.der], &pki.anchors(), chrono::Utc::now()),
//!     Err(VerifyError::UntrustedIssuer { .. })
//! ));
//! let foreign = foreign_client("grant-1", "alice");
//! assert!(verify_client_chain(&[foreign.der], &pki.anchors(), chrono::Utc::now()).is_err());
//! ```

#![allow(
    clippy::expect_used,
    reason = "test helpers: a panic with a message is the report"
)]

use crate::ca::{CertificateAuthority, IssuedCert};
use crate::claims::MosaicClaims;
use crate::der;
use crate::keys;
use crate::oid::MosaicOid;
use crate::profile::{self, Validity};
use crate::serial::CertSerial;
use crate::verify::TrustAnchors;
use chrono::{DateTime, Duration, Utc};
use mosaic_types::{GrantId, UserId};
use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair};
use rustls_pki_types::CertificateDer;

/// A certificate and its private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCert {
    /// DER.
    pub der: CertificateDer<'static>,
    /// PEM.
    pub cert_pem: String,
    /// PKCS#8 PEM private key.
    pub key_pem: String,
    /// Serial, canonical uppercase hex.
    pub serial: CertSerial,
}

impl TestCert {
    /// The certificate followed by `issuer`'s certificate in
    /// [`TestCert::cert_pem`]: the chain a TLS client presents.
    #[must_use]
    pub fn chained_through(mut self, issuer: &TestPki) -> Self {
        if !self.cert_pem.ends_with('\n') {
            self.cert_pem.push('\n');
        }
        self.cert_pem.push_str(issuer.ca_pem());
        self
    }

    /// The certificate's serial bytes read as a positive number: for a
    /// negative serial, the positive serial with the same bytes, which it
    /// must never be mistaken for.
    pub fn unsigned_serial(&self) -> CertSerial {
        let cert = crate::claims::parse_cert(&self.der).expect("parse certificate");
        CertSerial::from_be_bytes(cert.raw_serial())
    }

    fn from_issued(cert: IssuedCert, key: &KeyPair) -> Self {
        Self {
            der: cert.der,
            cert_pem: cert.pem,
            key_pem: key.serialize_pem(),
            serial: cert.serial,
        }
    }
}

/// Claims for `(grant, subject)`.
pub fn claims(grant: &str, subject: &str) -> MosaicClaims {
    MosaicClaims::new(
        GrantId::new(grant).expect("valid grant id"),
        UserId::new(subject).expect("valid user id"),
    )
}

/// A test CA.
#[derive(Debug)]
pub struct TestPki {
    /// The CA; use it directly for anything the helpers do not cover.
    pub ca: CertificateAuthority,
}

impl Default for TestPki {
    fn default() -> Self {
        Self::new()
    }
}

impl TestPki {
    /// A fresh CA named "Mosaic test CA".
    pub fn new() -> Self {
        Self::named("Mosaic test CA")
    }

    /// A fresh CA with this common name.
    pub fn named(common_name: &str) -> Self {
        Self {
            ca: CertificateAuthority::generate(common_name, Utc::now()).expect("generate test CA"),
        }
    }

    /// The CA as trust anchors.
    pub fn anchors(&self) -> TrustAnchors {
        self.ca.trust_anchors()
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        self.ca.cert_pem()
    }

    /// A valid Mosaic client certificate for `(grant, subject)`, common name `peer`.
    pub fn client(&self, grant: &str, subject: &str) -> TestCert {
        self.client_with(&claims(grant, subject), current())
    }

    /// A Mosaic client certificate with these claims and validity.
    pub fn client_with(&self, claims: &MosaicClaims, validity: Validity) -> TestCert {
        let key = keys::generate().expect("generate key");
        let cert = self
            .ca
            .issue_client_for_key("peer", Some(claims), &key, validity)
            .expect("issue client certificate");
        TestCert::from_issued(cert, &key)
    }

    /// A client certificate from this CA with no Mosaic OIDs: TLS accepts it,
    /// the auth layer must answer 401 `missing required OID`.
    pub fn client_without_oids(&self) -> TestCert {
        self.client_with_extensions(&[], current())
    }

    /// A Mosaic client certificate that expired an hour ago.
    pub fn expired_client(&self, grant: &str, subject: &str) -> TestCert {
        let now = Utc::now();
        self.client_with(
            &claims(grant, subject),
            Validity::between(now - Duration::days(30), now - Duration::hours(1)),
        )
    }

    /// A Mosaic client certificate valid only from tomorrow.
    pub fn not_yet_valid_client(&self, grant: &str, subject: &str) -> TestCert {
        let now = Utc::now();
        self.client_with(
            &claims(grant, subject),
            Validity::between(now + Duration::days(1), now + Duration::days(30)),
        )
    }

    /// A client certificate carrying exactly these Mosaic extensions (OID and
    /// DER value), duplicates and bad values included.
    pub fn client_with_extensions(
        &self,
        extensions: &[(MosaicOid, Vec<u8>)],
        validity: Validity,
    ) -> TestCert {
        let key = keys::generate().expect("generate key");
        let cert = self
            .ca
            .issue_client_with_extensions("peer", extensions, &key, validity)
            .expect("issue client certificate");
        TestCert::from_issued(cert, &key)
    }

    /// A Mosaic client certificate whose serial is negative: its
    /// [`TestCert::serial`] keeps the sign; [`TestCert::unsigned_serial`] is
    /// the positive serial with the same bytes.
    pub fn client_with_negative_serial(&self, claims: &MosaicClaims) -> TestCert {
        let key = keys::generate().expect("generate key");
        let cert = self
            .ca
            .issue_client_with_negative_serial("peer", claims, &key, current())
            .expect("issue client certificate");
        TestCert::from_issued(cert, &key)
    }

    /// An intermediate CA below this one (itself allowed to sign end-entity
    /// certificates only). Certificates it issues chain to this CA through
    /// one intermediate; present them with [`TestCert::chained_through`].
    pub fn intermediate(&self, common_name: &str) -> TestPki {
        let key = keys::generate().expect("generate key");
        let serial = CertSerial::random().expect("random serial");
        let params = profile::ca(
            common_name,
            Validity::starting(Utc::now(), profile::CA_LIFETIME),
            &serial,
        )
        .expect("CA parameters");
        let issuer = self.ca.issuer().expect("issuer");
        let cert = params.signed_by(&key, &issuer).expect("sign intermediate");
        TestPki {
            ca: CertificateAuthority::from_pem(&cert.pem(), &key.serialize_pem())
                .expect("intermediate CA"),
        }
    }

    /// A server certificate for `names` (serverAuth only).
    pub fn server(&self, names: &[&str]) -> TestCert {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let issued = self
            .ca
            .issue_server(&names, current())
            .expect("issue server certificate");
        TestCert {
            der: issued.cert.der,
            cert_pem: issued.cert.pem,
            key_pem: issued.key_pem.to_string(),
            serial: issued.cert.serial,
        }
    }
}

fn current() -> Validity {
    Validity::starting(Utc::now(), profile::CLIENT_LIFETIME)
}

/// The DER value of a UTF8String extension.
pub fn utf8_value(s: &str) -> Vec<u8> {
    der::encode_utf8(s)
}

/// The DER value of an INTEGER extension.
pub fn integer_value(v: u32) -> Vec<u8> {
    der::encode_u32(v)
}

/// The extension list of a well-formed Mosaic certificate for `(grant, subject)`.
pub fn mosaic_extensions(grant: &str, subject: &str) -> Vec<(MosaicOid, Vec<u8>)> {
    claims(grant, subject).extension_values()
}

/// A self-signed client certificate without Mosaic OIDs (the seed's
/// `makeSelfSignedCert`).
pub fn self_signed_without_oids(common_name: &str) -> TestCert {
    let key = keys::generate().expect("generate key");
    let serial = CertSerial::random().expect("random serial");
    let mut params = CertificateParams::default();
    params.distinguished_name.remove(DnType::CommonName);
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    let validity = current();
    params.not_before = time_of(validity.not_before);
    params.not_after = time_of(validity.not_after);
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial.to_be_bytes()));
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.self_signed(&key).expect("self-sign");
    TestCert {
        der: cert.der().clone(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        serial,
    }
}

/// A well-formed Mosaic client certificate for `(grant, subject)` from a CA
/// nobody trusts.
pub fn foreign_client(grant: &str, subject: &str) -> TestCert {
    TestPki::named("Foreign CA").client(grant, subject)
}

fn time_of(t: DateTime<Utc>) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(t.timestamp()).expect("time in range")
}
