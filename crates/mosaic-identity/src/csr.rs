//! Certificate signing requests: the requester makes its key and CSR locally
//! (the private key never leaves it); the CA checks the CSR's self-signature
//! and keeps nothing from it but the public key.

use crate::keys::{self, KeyError};
use crate::pem::{self, PemError};
use rcgen::{CertificateParams, DistinguishedName, DnType};
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::prelude::FromDer;
use zeroize::Zeroizing;

/// A CSR that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsrError {
    /// The text holds no CSR block.
    #[error(transparent)]
    Pem(#[from] PemError),
    /// The bytes are not a PKCS#10 request.
    #[error("the certificate request is malformed: {0}")]
    Malformed(String),
    /// The request's signature does not verify with its own public key, so
    /// whoever sent it does not hold the matching private key.
    #[error("the certificate request's signature does not verify with its public key")]
    BadSignature,
    /// The key type is not one Mosaic certificates carry.
    #[error("the certificate request's key type is not supported: {0}")]
    UnsupportedKey(String),
    /// Generating the requester's key failed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// rcgen could not build the request.
    #[error("could not build the certificate request: {0}")]
    Build(String),
}

/// A CSR whose self-signature verified. Only the public key is kept: the CA
/// decides every other field of the certificate itself.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifiedCsr {
    pub(crate) public_key: rcgen::SubjectPublicKeyInfo,
    spki_der: Vec<u8>,
    common_name: Option<String>,
}

impl std::fmt::Debug for VerifiedCsr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedCsr")
            .field("common_name", &self.common_name)
            .finish_non_exhaustive()
    }
}

impl VerifiedCsr {
    /// Parses a DER CSR and verifies its signature.
    pub fn from_der(der: &[u8]) -> Result<Self, CsrError> {
        let (rest, csr) = X509CertificationRequest::from_der(der)
            .map_err(|e| CsrError::Malformed(e.to_string()))?;
        if !rest.is_empty() {
            return Err(CsrError::Malformed(format!(
                "{} bytes follow the request",
                rest.len()
            )));
        }
        csr.verify_signature().map_err(|_| CsrError::BadSignature)?;
        let info = &csr.certification_request_info;
        let spki_der = info.subject_pki.raw.to_vec();
        let public_key = rcgen::SubjectPublicKeyInfo::from_der(&spki_der)
            .map_err(|e| CsrError::UnsupportedKey(e.to_string()))?;
        let common_name = info
            .subject
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_owned);
        Ok(Self {
            public_key,
            spki_der,
            common_name,
        })
    }

    /// Parses a PEM CSR and verifies its signature.
    pub fn from_pem(text: &str) -> Result<Self, CsrError> {
        Self::from_der(pem::csr(text)?.as_ref())
    }

    /// The requester's public key (DER SubjectPublicKeyInfo).
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// The common name the requester asked for; informational only.
    pub fn requested_common_name(&self) -> Option<&str> {
        self.common_name.as_deref()
    }
}

/// What a requester keeps and what it sends.
#[derive(Debug)]
pub struct CsrBundle {
    /// The request to send to the CA.
    pub csr_pem: String,
    /// The new private key (PKCS#8 PEM). It stays with the requester.
    pub key_pem: Zeroizing<String>,
}

/// A fresh ECDSA P-256 key and a CSR for it with `common_name`.
pub fn generate_csr(common_name: &str) -> Result<CsrBundle, CsrError> {
    let key = keys::generate()?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    params.distinguished_name = dn;
    let csr = params
        .serialize_request(&key)
        .map_err(|e| CsrError::Build(e.to_string()))?;
    let csr_pem = csr.pem().map_err(|e| CsrError::Build(e.to_string()))?;
    Ok(CsrBundle {
        csr_pem,
        key_pem: Zeroizing::new(key.serialize_pem()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::PublicKeyData;

    #[test]
    fn a_generated_csr_verifies_and_keeps_its_public_key() {
        let bundle = generate_csr("peer-a").unwrap();
        let csr = VerifiedCsr::from_pem(&bundle.csr_pem).unwrap();
        assert_eq!(csr.requested_common_name(), Some("peer-a"));
        let key = keys::from_pem(&bundle.key_pem).unwrap();
        assert_eq!(csr.spki_der(), key.subject_public_key_info().as_slice());
    }

    #[test]
    fn a_tampered_csr_is_refused() {
        let bundle = generate_csr("peer-a").unwrap();
        let mut der = pem::csr(&bundle.csr_pem).unwrap().as_ref().to_vec();
        // Flip a byte inside the common name: the signature no longer matches.
        let at = der.windows(6).position(|w| w == b"peer-a").unwrap();
        der[at] = b'P';
        assert_eq!(VerifiedCsr::from_der(&der), Err(CsrError::BadSignature));
        assert!(matches!(
            VerifiedCsr::from_der(&der[..10]),
            Err(CsrError::Malformed(_))
        ));
        assert!(matches!(
            VerifiedCsr::from_pem("no csr"),
            Err(CsrError::Pem(_))
        ));
    }
}
