//! What a Mosaic client certificate asserts, and reading it back out.
//!
//! Extraction trusts nothing: it runs on certificates presented by strangers
//! (and by the fuzzer), so every path returns an error rather than panicking.

use crate::der;
use crate::oid::{MosaicOid, PROFILE_VERSION, ValueType};
use crate::serial::CertSerial;
use crate::verify::VerifyError;
use chrono::{DateTime, Utc};
use mosaic_types::{GrantId, InstanceId, PeerId, UserId};
use serde::Serialize;
use std::collections::HashSet;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

/// The Mosaic claims a client certificate carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MosaicClaims {
    /// The grant the certificate acts under.
    pub grant_id: GrantId,
    /// The local user whose access the grant lends.
    pub subject_user_id: UserId,
    /// The peer the grant was given to, when the issuer recorded it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_id: Option<PeerId>,
    /// The gateway instance that issued the certificate, when recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<InstanceId>,
}

impl MosaicClaims {
    /// Claims for `(grant, subject)` with no peer or instance recorded.
    pub fn new(grant_id: GrantId, subject_user_id: UserId) -> Self {
        Self {
            grant_id,
            subject_user_id,
            peer_id: None,
            instance_id: None,
        }
    }

    /// Records the peer the grant belongs to.
    #[must_use]
    pub fn with_peer(mut self, peer_id: PeerId) -> Self {
        self.peer_id = Some(peer_id);
        self
    }

    /// Records the issuing instance.
    #[must_use]
    pub fn with_instance(mut self, instance_id: InstanceId) -> Self {
        self.instance_id = Some(instance_id);
        self
    }

    /// The extensions to write, as (OID, DER value) pairs in arc order.
    pub(crate) fn extension_values(&self) -> Vec<(MosaicOid, Vec<u8>)> {
        let mut out = vec![
            (MosaicOid::ProfileVersion, der::encode_u32(PROFILE_VERSION)),
            (MosaicOid::GrantId, der::encode_utf8(self.grant_id.as_str())),
            (
                MosaicOid::SubjectUserId,
                der::encode_utf8(self.subject_user_id.as_str()),
            ),
        ];
        if let Some(peer) = &self.peer_id {
            out.push((MosaicOid::PeerId, der::encode_utf8(peer.as_str())));
        }
        if let Some(instance) = &self.instance_id {
            out.push((MosaicOid::InstanceId, der::encode_utf8(instance.as_str())));
        }
        out
    }
}

/// A verified (or merely parsed) certificate's identity: its claims and the
/// facts about the certificate the auth layer compares against storage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertIdentity {
    /// The Mosaic claims.
    pub claims: MosaicClaims,
    /// The Mosaic profile version the certificate declares.
    pub profile_version: u32,
    /// The serial, canonical uppercase hex, `-` first when negative.
    pub serial: CertSerial,
    /// The subject common name, if any.
    pub common_name: Option<String>,
    /// Start of validity.
    pub not_before: DateTime<Utc>,
    /// End of validity.
    pub not_after: DateTime<Utc>,
}

/// Parses one DER certificate, refusing trailing bytes.
pub(crate) fn parse_cert(der: &[u8]) -> Result<X509Certificate<'_>, VerifyError> {
    let (rest, cert) =
        X509Certificate::from_der(der).map_err(|e| VerifyError::MalformedCertificate {
            reason: e.to_string(),
        })?;
    if !rest.is_empty() {
        return Err(VerifyError::MalformedCertificate {
            reason: format!("{} bytes follow the certificate", rest.len()),
        });
    }
    Ok(cert)
}

/// The dotted form of an extension OID, naming Mosaic's own.
fn dotted(oid: &x509_parser::der_parser::oid::Oid<'_>) -> String {
    MosaicOid::from_der_content(oid.as_bytes())
        .map(MosaicOid::dotted)
        .unwrap_or_else(|| oid.to_id_string())
}

/// Refuses a certificate that carries any extension twice (RFC 5280 §4.2):
/// with two grant ids, which one counts would depend on the reader.
pub(crate) fn check_unique_extensions(cert: &X509Certificate<'_>) -> Result<(), VerifyError> {
    let mut seen = HashSet::new();
    for ext in cert.extensions() {
        if !seen.insert(ext.oid.as_bytes()) {
            return Err(VerifyError::DuplicateExtension {
                oid: dotted(&ext.oid),
            });
        }
    }
    Ok(())
}

/// The raw value of one Mosaic extension, if present.
fn raw_value<'a>(cert: &'a X509Certificate<'_>, oid: MosaicOid) -> Option<&'a [u8]> {
    cert.extensions()
        .iter()
        .find(|ext| ext.oid.as_bytes() == oid.der_content())
        .map(|ext| ext.value)
}

fn malformed(oid: MosaicOid, reason: impl Into<String>) -> VerifyError {
    VerifyError::MalformedOid {
        oid,
        reason: reason.into(),
    }
}

fn text_value(cert: &X509Certificate<'_>, oid: MosaicOid) -> Result<Option<String>, VerifyError> {
    debug_assert_eq!(oid.value_type(), ValueType::Utf8String);
    raw_value(cert, oid)
        .map(|raw| {
            der::decode_utf8(raw)
                .map(str::to_owned)
                .map_err(|e| malformed(oid, e.to_string()))
        })
        .transpose()
}

fn required_text(cert: &X509Certificate<'_>, oid: MosaicOid) -> Result<String, VerifyError> {
    text_value(cert, oid)?.ok_or(VerifyError::MissingOid(oid))
}

/// Reads the Mosaic claims of a parsed certificate. Checks, in order:
/// duplicate extensions, then each required OID (profile version, grant id,
/// subject user id) for presence and shape, then the optional ones for shape.
pub(crate) fn claims_of(cert: &X509Certificate<'_>) -> Result<(u32, MosaicClaims), VerifyError> {
    check_unique_extensions(cert)?;
    let version_oid = MosaicOid::ProfileVersion;
    let raw_version = raw_value(cert, version_oid).ok_or(VerifyError::MissingOid(version_oid))?;
    let version =
        der::decode_u32(raw_version).map_err(|e| malformed(version_oid, e.to_string()))?;
    if version != PROFILE_VERSION {
        return Err(malformed(
            version_oid,
            format!(
                "profile version {version} is not supported; this gateway reads version {PROFILE_VERSION}"
            ),
        ));
    }
    let grant = required_text(cert, MosaicOid::GrantId)?;
    let grant_id = GrantId::new(grant).map_err(|e| malformed(MosaicOid::GrantId, e.to_string()))?;
    let subject = required_text(cert, MosaicOid::SubjectUserId)?;
    let subject_user_id =
        UserId::new(subject).map_err(|e| malformed(MosaicOid::SubjectUserId, e.to_string()))?;
    let peer_id = text_value(cert, MosaicOid::PeerId)?
        .map(|p| PeerId::new(p).map_err(|e| malformed(MosaicOid::PeerId, e.to_string())))
        .transpose()?;
    let instance_id = text_value(cert, MosaicOid::InstanceId)?
        .map(|i| InstanceId::new(i).map_err(|e| malformed(MosaicOid::InstanceId, e.to_string())))
        .transpose()?;
    Ok((
        version,
        MosaicClaims {
            grant_id,
            subject_user_id,
            peer_id,
            instance_id,
        },
    ))
}

/// Converts an X.509 time to UTC; out-of-range times become the nearest
/// representable bound (they only ever widen an error message).
pub(crate) fn utc(t: x509_parser::time::ASN1Time) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(if t.timestamp() < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}

pub(crate) fn common_name(cert: &X509Certificate<'_>) -> Option<String> {
    cert.subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_owned)
}

/// Everything [`CertIdentity`] holds, from a parsed certificate.
pub(crate) fn identity_of(cert: &X509Certificate<'_>) -> Result<CertIdentity, VerifyError> {
    let (profile_version, claims) = claims_of(cert)?;
    let validity = cert.validity();
    Ok(CertIdentity {
        claims,
        profile_version,
        serial: CertSerial::from_der_integer(cert.raw_serial()),
        common_name: common_name(cert),
        not_before: utc(validity.not_before),
        not_after: utc(validity.not_after),
    })
}

/// Reads the Mosaic identity of one DER certificate **without** checking its
/// chain, validity or usage. For callers whose TLS layer has already verified
/// the chain (the federation listener), and for inspection. Anyone holding
/// only a certificate must use [`crate::verify_client_chain`] instead.
///
/// Errors: [`VerifyError::MalformedCertificate`],
/// [`VerifyError::DuplicateExtension`], [`VerifyError::MissingOid`],
/// [`VerifyError::MalformedOid`].
pub fn extract_identity(der: &[u8]) -> Result<CertIdentity, VerifyError> {
    identity_of(&parse_cert(der)?)
}
