//! Certificate revocation lists signed by the gateway CA.

use crate::ca::{CaError, CertificateAuthority};
use crate::claims;
use crate::pem;
use crate::serial::CertSerial;
use chrono::{DateTime, Utc};
use rcgen::{CertificateRevocationListParams, KeyIdMethod, RevokedCertParams, SerialNumber};
use time::OffsetDateTime;
use x509_parser::extensions::ParsedExtension;

/// Why a certificate was revoked (RFC 5280 §5.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RevocationReason {
    /// No reason given.
    Unspecified,
    /// The private key leaked.
    KeyCompromise,
    /// The subject's relationship changed (e.g. the grant was revoked).
    AffiliationChanged,
    /// Replaced by a newer certificate.
    Superseded,
    /// No longer needed.
    CessationOfOperation,
    /// The privilege the certificate carried was withdrawn.
    PrivilegeWithdrawn,
}

impl RevocationReason {
    fn to_rcgen(self) -> rcgen::RevocationReason {
        match self {
            Self::Unspecified => rcgen::RevocationReason::Unspecified,
            Self::KeyCompromise => rcgen::RevocationReason::KeyCompromise,
            Self::AffiliationChanged => rcgen::RevocationReason::AffiliationChanged,
            Self::Superseded => rcgen::RevocationReason::Superseded,
            Self::CessationOfOperation => rcgen::RevocationReason::CessationOfOperation,
            Self::PrivilegeWithdrawn => rcgen::RevocationReason::PrivilegeWithdrawn,
        }
    }
}

/// One revoked certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    /// Its serial.
    pub serial: CertSerial,
    /// When it was revoked.
    pub revoked_at: DateTime<Utc>,
    /// Why, if recorded.
    pub reason: Option<RevocationReason>,
}

/// A signed CRL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crl {
    /// DER.
    pub der: Vec<u8>,
    /// PEM (`X509 CRL`).
    pub pem: String,
}

fn offset(t: DateTime<Utc>) -> Result<OffsetDateTime, CaError> {
    OffsetDateTime::from_unix_timestamp(t.timestamp())
        .map_err(|_| CaError::Sign(format!("time {t} cannot be written in a CRL")))
}

impl CertificateAuthority {
    /// A CRL numbered `number` listing `revoked`, valid from `this_update`
    /// until `next_update` (which must be later).
    pub fn crl(
        &self,
        number: u64,
        revoked: &[Revocation],
        this_update: DateTime<Utc>,
        next_update: DateTime<Utc>,
    ) -> Result<Crl, CaError> {
        let revoked_certs = revoked
            .iter()
            .map(|r| {
                Ok(RevokedCertParams {
                    serial_number: SerialNumber::from_slice(&r.serial.to_be_bytes()),
                    revocation_time: offset(r.revoked_at)?,
                    reason_code: r.reason.map(RevocationReason::to_rcgen),
                    invalidity_date: None,
                })
            })
            .collect::<Result<Vec<_>, CaError>>()?;
        let params = CertificateRevocationListParams {
            this_update: offset(this_update)?,
            next_update: offset(next_update)?,
            crl_number: SerialNumber::from_slice(&number.to_be_bytes()),
            issuing_distribution_point: None,
            revoked_certs,
            key_identifier_method: self.key_id_method(),
        };
        let issuer = self.issuer()?;
        let crl = params
            .signed_by(&issuer)
            .map_err(|e| CaError::Sign(e.to_string()))?;
        let der = crl.der().as_ref().to_vec();
        Ok(Crl {
            pem: pem::encode("X509 CRL", &der),
            der,
        })
    }

    /// The CRL's authority key identifier must equal the CA's subject key
    /// identifier, whatever method the CA (ours or an operator's) used.
    fn key_id_method(&self) -> KeyIdMethod {
        claims::parse_cert(self.cert_der())
            .ok()
            .and_then(|cert| {
                cert.extensions()
                    .iter()
                    .find_map(|ext| match ext.parsed_extension() {
                        ParsedExtension::SubjectKeyIdentifier(ski) => Some(ski.0.to_vec()),
                        _ => None,
                    })
            })
            .map_or(KeyIdMethod::Sha256, KeyIdMethod::PreSpecified)
    }
}
