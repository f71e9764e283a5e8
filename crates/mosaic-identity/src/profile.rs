//! The certificate profiles Mosaic issues, as pure builders of rcgen
//! parameters: what a CA, a server and a client certificate contain.

use crate::oid::MosaicOid;
use crate::serial::CertSerial;
use chrono::{DateTime, Duration, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyUsagePurpose, SanType, SerialNumber,
};
use std::net::IpAddr;
use time::OffsetDateTime;

/// How far `not_before` is set in the past, so that a peer whose clock runs a
/// little behind does not reject a certificate issued a moment ago.
pub const BACKDATE: Duration = Duration::minutes(5);

/// Default lifetime of the gateway CA.
pub const CA_LIFETIME: Duration = Duration::days(3650);
/// Default lifetime of a server certificate.
pub const SERVER_LIFETIME: Duration = Duration::days(365);
/// Default lifetime of a client certificate.
pub const CLIENT_LIFETIME: Duration = Duration::days(90);

/// A validity window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// Start (inclusive).
    pub not_before: DateTime<Utc>,
    /// End (inclusive).
    pub not_after: DateTime<Utc>,
}

impl Validity {
    /// From `now` (backdated by [`BACKDATE`]) for `lifetime`.
    pub fn starting(now: DateTime<Utc>, lifetime: Duration) -> Self {
        Self {
            not_before: now - BACKDATE,
            not_after: now + lifetime,
        }
    }

    /// An explicit window.
    pub fn between(not_before: DateTime<Utc>, not_after: DateTime<Utc>) -> Self {
        Self {
            not_before,
            not_after,
        }
    }

    /// The same window, ending no later than `limit`.
    #[must_use]
    pub fn capped_at(self, limit: Option<DateTime<Utc>>) -> Self {
        match limit {
            Some(limit) if limit < self.not_after => Self {
                not_after: limit,
                ..self
            },
            _ => self,
        }
    }
}

/// A name that cannot go into a certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// No names were given for a server certificate.
    #[error(
        "a server certificate needs at least one DNS name or IP address (set identity.server_names)"
    )]
    NoServerNames,
    /// A name is neither an IP address nor a valid DNS name.
    #[error("`{0}` is neither an IP address nor a valid DNS name")]
    BadServerName(String),
    /// A common name is empty.
    #[error("the certificate's common name must not be empty")]
    EmptyCommonName,
}

fn to_offset(t: DateTime<Utc>) -> OffsetDateTime {
    // Certificates carry whole seconds; any chrono time inside X.509's range
    // converts, and anything outside it is clamped to the nearest bound.
    OffsetDateTime::from_unix_timestamp(t.timestamp()).unwrap_or(if t.timestamp() < 0 {
        OffsetDateTime::UNIX_EPOCH
    } else {
        rcgen::date_time_ymd(9999, 12, 31)
    })
}

fn base(
    common_name: &str,
    validity: Validity,
    serial: &CertSerial,
) -> Result<CertificateParams, NameError> {
    if common_name.trim().is_empty() {
        return Err(NameError::EmptyCommonName);
    }
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Mosaic");
    dn.push(DnType::CommonName, common_name);
    params.distinguished_name = dn;
    params.not_before = to_offset(validity.not_before);
    params.not_after = to_offset(validity.not_after);
    params.serial_number = Some(SerialNumber::from_slice(&serial.to_be_bytes()));
    Ok(params)
}

/// A CA that signs end-entity certificates only (path length 0).
pub(crate) fn ca(
    common_name: &str,
    validity: Validity,
    serial: &CertSerial,
) -> Result<CertificateParams, NameError> {
    let mut params = base(common_name, validity, serial)?;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(params)
}

fn san(name: &str) -> Result<SanType, NameError> {
    if let Ok(ip) = name.parse::<IpAddr>() {
        return Ok(SanType::IpAddress(ip));
    }
    let bad = || NameError::BadServerName(name.to_owned());
    // rcgen accepts any IA5 text; TLS clients match only real DNS names.
    rustls_pki_types::DnsName::try_from(name).map_err(|_| bad())?;
    name.to_owned()
        .try_into()
        .map(SanType::DnsName)
        .map_err(|_| bad())
}

/// A TLS server certificate for `names` (DNS names or IP addresses).
pub(crate) fn server(
    names: &[String],
    validity: Validity,
    serial: &CertSerial,
) -> Result<CertificateParams, NameError> {
    let first = names.first().ok_or(NameError::NoServerNames)?;
    let mut params = base(first, validity, serial)?;
    params.subject_alt_names = names.iter().map(|n| san(n)).collect::<Result<_, _>>()?;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}

/// A TLS client certificate with the given Mosaic extensions (written with
/// stand-in OIDs; see [`crate::signer`]), possibly none.
pub(crate) fn client(
    common_name: &str,
    extensions: &[(MosaicOid, Vec<u8>)],
    validity: Validity,
    serial: &CertSerial,
) -> Result<CertificateParams, NameError> {
    let mut params = base(common_name, validity, serial)?;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.use_authority_key_identifier_extension = true;
    // Non-critical: TLS stacks that do not know the arc (rustls, OpenSSL)
    // must still accept the certificate; Mosaic itself requires them.
    params.custom_extensions = extensions
        .iter()
        .map(|(oid, value)| CustomExtension::from_oid_content(&oid.stand_in_arcs(), value.clone()))
        .collect();
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_backdates_and_caps() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let v = Validity::starting(now, Duration::days(90));
        assert_eq!(v.not_before, now - BACKDATE);
        assert_eq!(v.not_after, now + Duration::days(90));
        let limit = now + Duration::days(10);
        assert_eq!(v.capped_at(Some(limit)).not_after, limit);
        assert_eq!(v.capped_at(None), v);
        assert_eq!(v.capped_at(Some(now + Duration::days(900))), v);
    }

    #[test]
    fn server_names_are_checked() {
        let now = Utc::now();
        let v = Validity::starting(now, SERVER_LIFETIME);
        let s = CertSerial::random().unwrap();
        assert_eq!(server(&[], v, &s).unwrap_err(), NameError::NoServerNames);
        assert!(matches!(
            server(&["bad name!".to_owned()], v, &s),
            Err(NameError::BadServerName(_))
        ));
        let p = server(
            &["gw.example.com".to_owned(), "127.0.0.1".to_owned()],
            v,
            &s,
        )
        .unwrap();
        assert_eq!(p.subject_alt_names.len(), 2);
        assert!(matches!(p.subject_alt_names[1], SanType::IpAddress(_)));
        assert_eq!(
            client(" ", &[], v, &s).unwrap_err(),
            NameError::EmptyCommonName
        );
    }
}
