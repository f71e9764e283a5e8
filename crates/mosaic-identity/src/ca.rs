//! The gateway's certificate authority: Mosaic's own (generated on first
//! start) or an operator's existing one (e.g. a Step-CA intermediate).

use crate::claims::{self, MosaicClaims};
use crate::csr::VerifiedCsr;
use crate::keys::{self, KeyError};
use crate::oid::MosaicOid;
use crate::pem::{self, PemError};
use crate::profile::{self, NameError, Validity};
use crate::serial::{CertSerial, RandomError};
use crate::signer::{self, OidSwap, SwapError};
use crate::verify::TrustAnchors;
use chrono::{DateTime, Utc};
use rcgen::{CertificateParams, Issuer, KeyPair, PublicKeyData};
use rustls_pki_types::CertificateDer;
use std::fmt;
use zeroize::Zeroizing;

/// The CA could not be created, loaded or could not issue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaError {
    /// A PEM input holds no usable block.
    #[error(transparent)]
    Pem(#[from] PemError),
    /// The key could not be generated or loaded.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A name is unusable.
    #[error(transparent)]
    Name(#[from] NameError),
    /// Randomness was unavailable.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// The certificate given as the CA is not one.
    #[error("the CA certificate is not usable: {0}")]
    NotACa(String),
    /// The CA key does not belong to the CA certificate.
    #[error(
        "the CA private key does not match the CA certificate's public key (check identity.ca_cert and identity.ca_key name the same CA)"
    )]
    KeyMismatch,
    /// rcgen refused to build or sign.
    #[error("could not sign: {0}")]
    Sign(String),
    /// Internal: the Mosaic OID stand-ins were not where they belong.
    #[error(transparent)]
    Swap(#[from] SwapError),
}

fn sign_err(e: rcgen::Error) -> CaError {
    CaError::Sign(e.to_string())
}

/// A certificate the CA issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCert {
    /// DER.
    pub der: CertificateDer<'static>,
    /// PEM.
    pub pem: String,
    /// Serial, canonical uppercase hex.
    pub serial: CertSerial,
    /// Validity window.
    pub validity: Validity,
}

/// A certificate and the private key the CA generated for it. Used where the
/// gateway itself holds the key (its server certificate, outbound identities).
#[derive(Debug)]
pub struct IssuedKeyPair {
    /// The certificate.
    pub cert: IssuedCert,
    /// The private key, PKCS#8 PEM.
    pub key_pem: Zeroizing<String>,
}

/// SHA-256 of a certificate's DER, shown as colon-separated uppercase hex
/// (as `openssl x509 -fingerprint -sha256` prints it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// The fingerprint of `der`.
    pub fn of(der: &[u8]) -> Self {
        let digest = ring::digest::digest(&ring::digest::SHA256, der);
        Self(
            digest
                .as_ref()
                .iter()
                .map(|b| format!("{b:02X}"))
                .collect::<Vec<_>>()
                .join(":"),
        )
    }

    /// The text form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A CA certificate and its signing key.
pub struct CertificateAuthority {
    cert_der: CertificateDer<'static>,
    cert_pem: String,
    key: KeyPair,
}

impl fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("fingerprint", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

impl CertificateAuthority {
    /// A new self-signed CA with an ECDSA P-256 key, valid from `now` for
    /// [`profile::CA_LIFETIME`].
    pub fn generate(common_name: &str, now: DateTime<Utc>) -> Result<Self, CaError> {
        Self::generate_with(common_name, Validity::starting(now, profile::CA_LIFETIME))
    }

    /// A new self-signed CA valid for `validity`.
    pub fn generate_with(common_name: &str, validity: Validity) -> Result<Self, CaError> {
        let key = keys::generate()?;
        let params = profile::ca(common_name, validity, &CertSerial::random()?)?;
        let cert = params.self_signed(&key).map_err(sign_err)?;
        Ok(Self {
            cert_der: cert.der().clone(),
            cert_pem: cert.pem(),
            key,
        })
    }

    /// An existing CA: its certificate and unencrypted private key, PEM. The
    /// certificate must be a CA certificate and the key must be its key.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, CaError> {
        let cert_der = pem::certificate(cert_pem)?;
        let key = keys::from_pem(key_pem)?;
        let cert = claims::parse_cert(&cert_der).map_err(|e| CaError::NotACa(e.to_string()))?;
        let is_ca = cert
            .basic_constraints()
            .map_err(|e| CaError::NotACa(e.to_string()))?
            .is_some_and(|bc| bc.value.ca);
        if !is_ca {
            return Err(CaError::NotACa(
                "its basic constraints do not say CA:TRUE".to_owned(),
            ));
        }
        if cert.public_key().raw != key.subject_public_key_info().as_slice() {
            return Err(CaError::KeyMismatch);
        }
        Ok(Self {
            cert_pem: pem::encode("CERTIFICATE", &cert_der),
            cert_der,
            key,
        })
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA certificate, DER.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// The CA private key, PKCS#8 PEM: for writing to a 0600 file only.
    pub fn key_pem(&self) -> Zeroizing<String> {
        Zeroizing::new(self.key.serialize_pem())
    }

    /// SHA-256 fingerprint of the CA certificate.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(&self.cert_der)
    }

    /// This CA as the only trust anchor.
    pub fn trust_anchors(&self) -> TrustAnchors {
        // Construction already parsed it as a CA certificate.
        TrustAnchors::trusted(vec![self.cert_der.clone()])
    }

    /// Signs `params` for `public_key`, writing the Mosaic OIDs in `oids`.
    fn sign(
        &self,
        params: &CertificateParams,
        public_key: &impl PublicKeyData,
        oids: &[MosaicOid],
        serial: CertSerial,
        validity: Validity,
    ) -> Result<IssuedCert, CaError> {
        let swaps = signer::swaps_for(oids.iter().copied());
        self.sign_with_swaps(params, public_key, &swaps, serial, validity)
    }

    /// Signs `params` for `public_key`, applying `swaps` to what is signed
    /// and shipped.
    fn sign_with_swaps(
        &self,
        params: &CertificateParams,
        public_key: &impl PublicKeyData,
        swaps: &[signer::Swap],
        serial: CertSerial,
        validity: Validity,
    ) -> Result<IssuedCert, CaError> {
        let issuer = Issuer::from_ca_cert_der(&self.cert_der, OidSwap::new(&self.key, swaps))
            .map_err(sign_err)?;
        let cert = params.signed_by(public_key, &issuer).map_err(sign_err)?;
        let der = signer::finish(cert.der(), swaps)?;
        Ok(IssuedCert {
            pem: pem::encode("CERTIFICATE", &der),
            der: CertificateDer::from(der),
            serial,
            validity,
        })
    }

    /// A server certificate for `names` with a new key the gateway keeps.
    pub fn issue_server(
        &self,
        names: &[String],
        validity: Validity,
    ) -> Result<IssuedKeyPair, CaError> {
        let key = keys::generate()?;
        let serial = CertSerial::random()?;
        let params = profile::server(names, validity, &serial)?;
        let cert = self.sign(&params, &key, &[], serial, validity)?;
        Ok(IssuedKeyPair {
            cert,
            key_pem: Zeroizing::new(key.serialize_pem()),
        })
    }

    /// A client certificate carrying `claims`, with a new key the gateway
    /// keeps (for identities it holds itself; peers enroll by CSR instead).
    pub fn issue_client(
        &self,
        common_name: &str,
        claims: &MosaicClaims,
        validity: Validity,
    ) -> Result<IssuedKeyPair, CaError> {
        let key = keys::generate()?;
        let cert = self.issue_client_for_key(common_name, Some(claims), &key, validity)?;
        Ok(IssuedKeyPair {
            cert,
            key_pem: Zeroizing::new(key.serialize_pem()),
        })
    }

    /// Signs a verified CSR as a client certificate carrying `claims`. Only
    /// the CSR's public key is used: subject, extensions and usage come from
    /// Mosaic's client profile, never from the request.
    pub fn sign_csr(
        &self,
        csr: &VerifiedCsr,
        common_name: &str,
        claims: &MosaicClaims,
        validity: Validity,
    ) -> Result<IssuedCert, CaError> {
        self.issue_client_for_key(common_name, Some(claims), &csr.public_key, validity)
    }

    /// A client certificate for an existing public key; `claims: None` makes
    /// one without Mosaic OIDs (a valid TLS client that is no Mosaic identity).
    pub fn issue_client_for_key(
        &self,
        common_name: &str,
        claims: Option<&MosaicClaims>,
        public_key: &impl PublicKeyData,
        validity: Validity,
    ) -> Result<IssuedCert, CaError> {
        let extensions = claims
            .map(MosaicClaims::extension_values)
            .unwrap_or_default();
        self.issue_client_with_extensions(common_name, &extensions, public_key, validity)
    }

    /// A client certificate with exactly these Mosaic extensions, in this
    /// order, duplicates and all: the test helpers use it to build
    /// certificates that break the profile on purpose.
    pub(crate) fn issue_client_with_extensions(
        &self,
        common_name: &str,
        extensions: &[(MosaicOid, Vec<u8>)],
        public_key: &impl PublicKeyData,
        validity: Validity,
    ) -> Result<IssuedCert, CaError> {
        let serial = CertSerial::random()?;
        let params = profile::client(common_name, extensions, validity, &serial)?;
        let oids: Vec<MosaicOid> = extensions.iter().map(|(oid, _)| *oid).collect();
        self.sign(&params, public_key, &oids, serial, validity)
    }

    /// A client certificate carrying `claims` whose serial is a negative
    /// INTEGER, which Mosaic never issues and RFC 5280 forbids, but
    /// rustls-webpki accepts. rcgen writes only positive serials, so the
    /// certificate is built with a positive one whose first byte has its top
    /// bit clear, and that bit is set in what is signed and shipped.
    #[cfg(feature = "testing")]
    pub(crate) fn issue_client_with_negative_serial(
        &self,
        common_name: &str,
        claims: &MosaicClaims,
        public_key: &impl PublicKeyData,
        validity: Validity,
    ) -> Result<IssuedCert, CaError> {
        use crate::der;
        let mut positive = CertSerial::random()?.to_be_bytes();
        positive[0] = (positive[0] & 0x7F) | 0x40;
        let mut negative = positive.clone();
        negative[0] |= 0x80;
        let extensions = claims.extension_values();
        let params = profile::client(
            common_name,
            &extensions,
            validity,
            &CertSerial::from_be_bytes(&positive),
        )?;
        let mut swaps = signer::swaps_for(extensions.iter().map(|(oid, _)| *oid));
        swaps.push(signer::Swap::once(
            der::tlv(der::TAG_INTEGER, &positive),
            der::tlv(der::TAG_INTEGER, &negative),
        ));
        let serial = CertSerial::from_der_integer(&negative);
        self.sign_with_swaps(&params, public_key, &swaps, serial, validity)
    }

    pub(crate) fn issuer(&self) -> Result<Issuer<'_, &KeyPair>, CaError> {
        Issuer::from_ca_cert_der(&self.cert_der, &self.key).map_err(sign_err)
    }
}
