//! Verifying a presented client certificate chain against trust anchors, then
//! reading its Mosaic identity.
//!
//! The chain itself is checked by rustls-webpki, the same code the federation
//! listener's TLS layer runs, so a chain this module accepts is one the
//! listener accepts too. Around it, this module adds what webpki leaves to the
//! application: precise errors, a strict client-certificate profile, the
//! Mosaic OIDs, and the trust anchor's path length constraint, which webpki
//! does not apply (it checks the constraints of intermediates only).
//! [`verify_chain`] is that chain check alone; the federation listener's TLS
//! verifier calls it too, so both refuse the same chains.

use crate::claims::{self, CertIdentity};
use crate::oid::MosaicOid;
use crate::pem::{self, PemError};
use chrono::{DateTime, Utc};
use rustls_pki_types::{CertificateDer, UnixTime};
use std::cell::Cell;
use std::time::Duration;
use x509_parser::certificate::X509Certificate;

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
    /// The chain has more intermediate CAs below the trust anchor than the
    /// anchor's path length constraint allows.
    #[error(
        "the chain has {intermediates} intermediate CA certificate(s) below the gateway CA, whose path length constraint allows {allowed}; present a certificate the CA signed itself"
    )]
    PathTooLong {
        /// Intermediates in the shortest path that reached the anchor.
        intermediates: usize,
        /// The anchor's pathLenConstraint.
        allowed: u32,
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

/// A trust anchor as webpki sees it, with the path length constraint of the
/// certificate it came from (`None`: unconstrained).
struct Anchor<'a> {
    anchor: rustls_pki_types::TrustAnchor<'a>,
    path_len: Option<u32>,
}

impl<'a> Anchor<'a> {
    fn of(cert: &'a CertificateDer<'a>) -> Option<Self> {
        let anchor = webpki::anchor_from_trusted_cert(cert).ok()?;
        // An anchor whose constraints do not parse keeps no constraint here;
        // construction already refused certificates that are not anchors.
        let path_len = claims::parse_cert(cert).ok().and_then(|c| {
            c.basic_constraints()
                .ok()
                .flatten()
                .and_then(|bc| bc.value.path_len_constraint)
        });
        Some(Self { anchor, path_len })
    }

    fn is(&self, other: &rustls_pki_types::TrustAnchor<'_>) -> bool {
        self.anchor.subject.as_ref() == other.subject.as_ref()
            && self.anchor.subject_public_key_info.as_ref()
                == other.subject_public_key_info.as_ref()
    }
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
/// 4. the chain leads to one of `anchors` with valid signatures and validity,
///    within the anchor's path length constraint ([`VerifyError::UntrustedIssuer`],
///    [`VerifyError::PathTooLong`], or the time errors for intermediates);
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
    verify_chain(leaf_der, intermediates, anchors, now)?;
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

/// Checks that `leaf` chains through some of `intermediates` to one of
/// `anchors` at `now`, for client authentication (exactly as rustls does:
/// any extended key usage listed must include clientAuth), with valid signatures and
/// validity, and with no more intermediates below the anchor than the
/// anchor's `pathLenConstraint` allows. Path building tries every candidate
/// path, so a chain padded with an unneeded intermediate still passes by its
/// short path.
///
/// This is the chain half of [`verify_client_chain`], without the profile
/// and OID checks, for a TLS verifier that has already run webpki and must
/// add the path length rule.
pub fn verify_chain(
    leaf: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    anchors: &TrustAnchors,
    now: DateTime<Utc>,
) -> Result<(), VerifyError> {
    let end_entity =
        webpki::EndEntityCert::try_from(leaf).map_err(|e| VerifyError::MalformedCertificate {
            reason: e.to_string(),
        })?;
    let known: Vec<Anchor<'_>> = anchors.certs.iter().filter_map(Anchor::of).collect();
    let trust: Vec<_> = known.iter().map(|a| a.anchor.clone()).collect();
    let seconds = u64::try_from(now.timestamp()).unwrap_or(0);
    let time = UnixTime::since_unix_epoch(Duration::from_secs(seconds));
    // The shortest over-long path seen, for the error message.
    let too_long: Cell<Option<(usize, u32)>> = Cell::new(None);
    let within_path_len = |path: &webpki::VerifiedPath<'_>| {
        let used = path.intermediate_certificates().count();
        let allowed = known
            .iter()
            .find(|a| a.is(path.anchor()))
            .and_then(|a| a.path_len);
        match allowed {
            Some(allowed) if used > allowed as usize => {
                if too_long.get().is_none_or(|(seen, _)| used < seen) {
                    too_long.set(Some((used, allowed)));
                }
                Err(webpki::Error::PathLenConstraintViolated)
            }
            _ => Ok(()),
        }
    };
    let result = end_entity.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &trust,
        intermediates,
        time,
        // As rustls checks a client chain: an extended key usage, where a
        // certificate has one, must list clientAuth. That the leaf has one
        // is the profile's rule (`check_client_usage`).
        webpki::KeyUsage::client_auth(),
        None,
        Some(&within_path_len),
    );
    match result {
        Ok(_) => Ok(()),
        Err(webpki::Error::PathLenConstraintViolated) => match too_long.get() {
            Some((intermediates, allowed)) => Err(VerifyError::PathTooLong {
                intermediates,
                allowed,
            }),
            // An intermediate's own constraint, which webpki enforces itself.
            None => Err(VerifyError::UntrustedIssuer {
                reason: webpki::Error::PathLenConstraintViolated.to_string(),
            }),
        },
        Err(e) => Err(chain_error(&e, now)),
    }
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
