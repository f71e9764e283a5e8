//! A readable summary of any certificate, Mosaic OIDs included (for
//! `mosaic cert inspect`). Unlike verification it never fails on a bad
//! Mosaic value: it shows the problem beside the OID instead.

use crate::ca::Fingerprint;
use crate::claims::{self, parse_cert};
use crate::der;
use crate::oid::{MosaicOid, ValueType};
use crate::serial::CertSerial;
use crate::verify::VerifyError;
use chrono::{DateTime, Utc};
use serde::Serialize;
use x509_parser::extensions::GeneralName;

/// One Mosaic extension found in a certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExtensionSummary {
    /// Name, e.g. `mosaicGrantId`.
    pub name: &'static str,
    /// Dotted OID.
    pub oid: String,
    /// The value, when it decodes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Why it does not decode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Whether it is marked critical.
    pub critical: bool,
}

/// What `mosaic cert inspect` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertSummary {
    /// Subject DN, RFC 4514 style.
    pub subject: String,
    /// Issuer DN.
    pub issuer: String,
    /// Serial, canonical uppercase hex.
    pub serial: CertSerial,
    /// Start of validity.
    pub not_before: DateTime<Utc>,
    /// End of validity.
    pub not_after: DateTime<Utc>,
    /// SHA-256 fingerprint.
    pub fingerprint_sha256: String,
    /// Whether it is a CA certificate.
    pub is_ca: bool,
    /// Extended key usages by name (`serverAuth`, `clientAuth`, …).
    pub extended_key_usage: Vec<String>,
    /// DNS names and IP addresses.
    pub subject_alt_names: Vec<String>,
    /// Mosaic extensions present, in arc order.
    pub mosaic_extensions: Vec<ExtensionSummary>,
    /// Whether the Mosaic claims read cleanly: every required OID present
    /// and well formed.
    pub is_mosaic_identity: bool,
    /// Why they do not, when they do not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mosaic_identity_error: Option<String>,
}

fn value_of(oid: MosaicOid, raw: &[u8]) -> Result<String, String> {
    match oid.value_type() {
        ValueType::Integer => der::decode_u32(raw).map(|v| v.to_string()),
        ValueType::Utf8String => der::decode_utf8(raw).map(str::to_owned),
    }
    .map_err(|e| e.to_string())
}

/// Summarises one DER certificate.
pub fn inspect(der_bytes: &[u8]) -> Result<CertSummary, VerifyError> {
    let cert = parse_cert(der_bytes)?;
    let mut mosaic_extensions = Vec::new();
    for ext in cert.extensions() {
        if let Some(oid) = MosaicOid::from_der_content(ext.oid.as_bytes()) {
            let decoded = value_of(oid, ext.value);
            mosaic_extensions.push(ExtensionSummary {
                name: oid.name(),
                oid: oid.dotted(),
                value: decoded.as_ref().ok().cloned(),
                error: decoded.err(),
                critical: ext.critical,
            });
        }
    }
    mosaic_extensions.sort_by_key(|e| e.oid.clone());
    let mut extended_key_usage = Vec::new();
    if let Ok(Some(eku)) = cert.extended_key_usage() {
        let e = eku.value;
        for (on, name) in [
            (e.any, "any"),
            (e.server_auth, "serverAuth"),
            (e.client_auth, "clientAuth"),
            (e.code_signing, "codeSigning"),
            (e.email_protection, "emailProtection"),
            (e.time_stamping, "timeStamping"),
            (e.ocsp_signing, "ocspSigning"),
        ] {
            if on {
                extended_key_usage.push(name.to_owned());
            }
        }
    }
    let subject_alt_names = match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|n| match n {
                GeneralName::DNSName(d) => Some(format!("DNS:{d}")),
                GeneralName::IPAddress(b) => Some(format!("IP:{}", ip_text(b))),
                GeneralName::URI(u) => Some(format!("URI:{u}")),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let validity = cert.validity();
    let identity_error = claims::claims_of(&cert).err().map(|e| e.to_string());
    Ok(CertSummary {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        serial: CertSerial::from_der_integer(cert.raw_serial()),
        not_before: claims::utc(validity.not_before),
        not_after: claims::utc(validity.not_after),
        fingerprint_sha256: Fingerprint::of(der_bytes).to_string(),
        is_ca: cert.is_ca(),
        extended_key_usage,
        subject_alt_names,
        mosaic_extensions,
        is_mosaic_identity: identity_error.is_none(),
        mosaic_identity_error: identity_error,
    })
}

fn ip_text(bytes: &[u8]) -> String {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes)
            .map(|a| std::net::IpAddr::from(a).to_string())
            .unwrap_or_default(),
        16 => <[u8; 16]>::try_from(bytes)
            .map(|a| std::net::IpAddr::from(a).to_string())
            .unwrap_or_default(),
        _ => bytes.iter().map(|b| format!("{b:02X}")).collect(),
    }
}
