//! Verifying a presented client certificate chain against trust anchors, then
//! reading its Mosaic identity.
//!
//! The chain itself is checked by rustls-webpki, the same code the federation
//! listener's TLS layer runs, so a chain this module accepts is one the
//! listener accepts too. Around it, this module adds what webpki leaves to the
//! application: precise errors, a strict client-certificate profile and the
//! Mosaic OIDs.

use crate::claims::{self, CertIdentity};
use crate::oid::MosaicOid;
use crate::pem::{self, PemError};
use chrono::{DateTime, Utc};
use rustls_pki_types::{CertificateDer, UnixTime};
use std::time::Duration;
use x509_parser::certificate::X509Certificate;

/// DER content of the clientAuth key purpose, 1.3.6.1.5.5.7.3.2.
const EKU_CLIENT_AUTH: &[u8] = &[0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02];

/// Why a presented certificate is not an acceptable Mosaic identity.
///
/// The auth layer answers 401 `unauthorized` for every variant; for
/// [`VerifyError::MissingOid`] and [`VerifyError::MalformedOid`] its message
/// contains `missing required OID` (see [`VerifyError::is_oid_error`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// No certificate was presented.
    #[error("no client certificate was presented")]
    EmptyChain,
    /// The bytes are not a DER X.509 certificate.
    #[error("the certificate is malformed: {reason}")]
    MalformedCertificate {
        /// What the parser reported.
        reason: String,
    },
    /// An extension appears more than once.
    #[error("the certificate carries extension {oid} more than once")]
    DuplicateExtension {
        /// The duplicated OID, dotted.
        oid: String,
    },
    /// The chain does not lead to a trust anchor (unknown issuer, bad signature).
    #[error("the certificate is not issued by a trusted CA: {reason}")]
    UntrustedIssuer {
        /// What failed.
        reason: String,
    },
    /// A certificate in the chain has expired.
    #[error("the certificate expired at {not_after} (it is now {now})")]
    Expired {
        /// End of validity.
        not_after: DateTime<Utc>,
        /// The time of the check.
        now: DateTime<Utc>,
    },
    /// A certificate in the chain is not valid yet.
    #[error("the certificate is not valid before {not_before} (it is now {now})")]
    NotYetValid {
        /// Start of validity.
        not_before: DateTime<Utc>,
        /// The time of the check.
        now: DateTime<Utc>,
    },
    /// The certificate is not a client-authentication certificate.
    #[error("the certificate may not be used for client authentication: {reason}")]
    WrongUsage {
        /// Which usage rule it breaks.
        reason: String,
    },
    /// A required Mosaic OID is absent.
    #[error("the certificate is missing required OID {0}")]
    MissingOid(MosaicOid),
    /// A Mosaic OID is present but its value is not what the profile says.
    #[error("the certificate has a malformed value for OID {oid}: {reason}")]
    MalformedOid {
        /// Which OID.
        oid: MosaicOid,
        /// What is wrong with the value.
        reason: String,
    },
}

impl VerifyError {
    /// True for a missing or malformed Mosaic OID: the auth layer's
    /// "missing required OID" case.
    pub fn is_oid_error(&self) -> bool {
        matches!(self, Self::MissingOid(_) | Self::MalformedOid { .. })
    }
}

/// The CA certificates a gateway trusts for client certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustAnchors {
    certs: Vec<CertificateDer<'static>>,
}

impl TrustAnchors {
    /// Anchors from DER certificates; each must parse as a trust anchor.
    pub fn from_der(certs: Vec<CertificateDer<'static>>) -> Result<Self, VerifyError> {
        if certs.is_empty() {
            return Err(VerifyError::UntrustedIssuer {
                reason: "no trust anchors were configured".to_owned(),
            });
        }
        for cert in &certs {
            webpki::anchor_from_trusted_cert(cert).map_err(|e| {
                VerifyError::MalformedCertificate {
                    reason: format!("trust anchor: {e}"),
                }
            })?;
        }
        Ok(Self { certs })
    }

    /// Anchors from certificates this crate has already parsed as CAs.
    pub(crate) fn trusted(certs: Vec<CertificateDer<'static>>) -> Self {
        Self { certs }
    }

    /// Anchors from a PEM bundle of one or more CA certificates.
    pub fn from_pem(pem_text: &str) -> Result<Self, PemError> {
        let certs = pem::certificates(pem_text)?;
        Self::from_der(certs).map_err(|e| PemError::Invalid {
            label: "CERTIFICATE",
            reason: e.to_string(),
        })
    }

    /// The anchors, DER.
    pub fn certs(&self) -> &[CertificateDer<'static>] {
        &self.certs
    }
}

/// Verifies a client certificate chain (leaf first, then any intermediates)
/// at time `now` and returns the leaf's Mosaic identity.
///
/// Checks, in this order, each failure returning at once:
/// 1. the leaf parses ([`VerifyError::MalformedCertificate`]) and carries no
///    extension twice ([`VerifyError::DuplicateExtension`]);
/// 2. its validity window contains `now` ([`VerifyError::Expired`],
///    [`VerifyError::NotYetValid`]);
/// 3. it is a client certificate: not a CA, extended key usage present and
///    listing clientAuth, key usage (if present) allowing digitalSignature
///    ([`VerifyError::WrongUsage`]);
/// 4. the chain leads to one of `anchors` with valid signatures and validity
///    ([`VerifyError::UntrustedIssuer`], or the time errors for intermediates);
/// 5. the Mosaic OIDs are present and well formed ([`VerifyError::MissingOid`],
///    [`VerifyError::MalformedOid`]).
pub fn verify_client_chain(
    chain: &[CertificateDer<'_>],
    anchors: &TrustAnchors,
    now: DateTime<Utc>,
) -> Result<CertIdentity, VerifyError> {
    let (leaf_der, intermediates) = chain.split_first().ok_or(VerifyError::EmptyChain)?;
    let leaf = claims::parse_cert(leaf_der)?;
    claims::check_unique_extensions(&leaf)?;
    check_window(&leaf, now)?;
    check_client_usage(&leaf)?;
    check_chain(leaf_der, intermediates, anchors, now)?;
    claims::identity_of(&leaf)
}

fn check_window(cert: &X509Certificate<'_>, now: DateTime<Utc>) -> Result<(), VerifyError> {
    let validity = cert.validity();
    let not_before = claims::utc(validity.not_before);
    let not_after = claims::utc(validity.not_after);
    if now < not_before {
        return Err(VerifyError::NotYetValid { not_before, now });
    }
    if now > not_after {
        return Err(VerifyError::Expired { not_after, now });
    }
    Ok(())
}

fn wrong_usage(reason: &str) -> VerifyError {
    VerifyError::WrongUsage {
        reason: reason.to_owned(),
    }
}

fn check_client_usage(cert: &X509Certificate<'_>) -> Result<(), VerifyError> {
    let bad = |e: x509_parser::error::X509Error| VerifyError::MalformedCertificate {
        reason: e.to_string(),
    };
    if cert
        .basic_constraints()
        .map_err(bad)?
        .is_some_and(|bc| bc.value.ca)
    {
        return Err(wrong_usage("it is a CA certificate"));
    }
    match cert.extended_key_usage().map_err(bad)? {
        None => {
            return Err(wrong_usage(
                "it has no extended key usage; Mosaic client certificates must list clientAuth",
            ));
        }
        Some(eku) if !eku.value.client_auth => {
            return Err(wrong_usage(
                "its extended key usage does not list clientAuth",
            ));
        }
        Some(_) => {}
    }
    if let Some(ku) = cert.key_usage().map_err(bad)?
        && !ku.value.digital_signature()
    {
        return Err(wrong_usage("its key usage does not allow digitalSignature"));
    }
    Ok(())
}

fn check_chain(
    leaf: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    anchors: &TrustAnchors,
    now: DateTime<Utc>,
) -> Result<(), VerifyError> {
    let end_entity =
        webpki::EndEntityCert::try_from(leaf).map_err(|e| VerifyError::MalformedCertificate {
            reason: e.to_string(),
        })?;
    let trust: Vec<_> = anchors
        .certs
        .iter()
        .filter_map(|c| webpki::anchor_from_trusted_cert(c).ok())
        .collect();
    let seconds = u64::try_from(now.timestamp()).unwrap_or(0);
    let time = UnixTime::since_unix_epoch(Duration::from_secs(seconds));
    end_entity
        .verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &trust,
            intermediates,
            time,
            webpki::KeyUsage::required(EKU_CLIENT_AUTH),
            None,
            None,
        )
        .map(|_| ())
        .map_err(|e| chain_error(&e, now))
}

fn from_unix(t: UnixTime) -> DateTime<Utc> {
    i64::try_from(t.as_secs())
        .ok()
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn chain_error(err: &webpki::Error, now: DateTime<Utc>) -> VerifyError {
    use webpki::Error as E;
    match err {
        E::CertExpired { not_after, .. } => VerifyError::Expired {
            not_after: from_unix(*not_after),
            now,
        },
        E::CertNotValidYet { not_before, .. } => VerifyError::NotYetValid {
            not_before: from_unix(*not_before),
            now,
        },
        E::RequiredEkuNotFoundContext(_) | E::CaUsedAsEndEntity => wrong_usage(&format!("{err}")),
        E::BadDer | E::BadDerTime | E::TrailingData(_) | E::MalformedExtensions => {
            VerifyError::MalformedCertificate {
                reason: format!("{err}"),
            }
        }
        E::UnknownIssuer => VerifyError::UntrustedIssuer {
            reason: "no trusted CA issued it".to_owned(),
        },
        other => VerifyError::UntrustedIssuer {
            reason: format!("{other}"),
        },
    }
}
