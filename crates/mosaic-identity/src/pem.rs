//! Reading and writing PEM, with errors that say which block was expected.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rustls_pki_types::pem::{PemObject, SectionKind};
use rustls_pki_types::{CertificateDer, CertificateSigningRequestDer, PrivateKeyDer};

/// A PEM input that does not hold what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PemError {
    /// No block with the expected label.
    #[error("no `-----BEGIN {label}-----` block was found")]
    Missing {
        /// The label looked for.
        label: &'static str,
    },
    /// The private key is encrypted; Mosaic needs it in the clear (and keeps it 0600).
    #[error(
        "the private key is encrypted; decrypt it first, e.g. `openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.plain` or `step crypto change-pass KEY --out KEY.plain --no-password --insecure`"
    )]
    EncryptedKey,
    /// The text is not valid PEM.
    #[error("invalid PEM ({label}): {reason}")]
    Invalid {
        /// The label looked for.
        label: &'static str,
        /// What the decoder reported.
        reason: String,
    },
}

fn invalid(label: &'static str, err: &rustls_pki_types::pem::Error) -> PemError {
    match err {
        rustls_pki_types::pem::Error::NoItemsFound => PemError::Missing { label },
        other => PemError::Invalid {
            label,
            reason: other.to_string(),
        },
    }
}

/// Every `CERTIFICATE` block, in order.
pub fn certificates(text: &str) -> Result<Vec<CertificateDer<'static>>, PemError> {
    let certs = CertificateDer::pem_slice_iter(text.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid("CERTIFICATE", &e))?;
    if certs.is_empty() {
        return Err(PemError::Missing {
            label: "CERTIFICATE",
        });
    }
    Ok(certs)
}

/// The first `CERTIFICATE` block.
pub fn certificate(text: &str) -> Result<CertificateDer<'static>, PemError> {
    CertificateDer::from_pem_slice(text.as_bytes()).map_err(|e| invalid("CERTIFICATE", &e))
}

/// A certificate given either as PEM or as raw DER (what `openssl x509 -outform der` writes).
pub fn certificate_pem_or_der(bytes: &[u8]) -> Result<CertificateDer<'static>, PemError> {
    // DER starts with a SEQUENCE tag; PEM text never does.
    if bytes.first() == Some(&0x30) {
        return Ok(CertificateDer::from(bytes.to_vec()));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| PemError::Invalid {
        label: "CERTIFICATE",
        reason: "the file is neither DER nor UTF-8 PEM".to_owned(),
    })?;
    certificate(text)
}

/// The first private key block: `PRIVATE KEY` (PKCS#8) or `EC PRIVATE KEY` (SEC1).
pub fn private_key(text: &str) -> Result<PrivateKeyDer<'static>, PemError> {
    if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        || text.contains("Proc-Type: 4,ENCRYPTED")
    {
        return Err(PemError::EncryptedKey);
    }
    PrivateKeyDer::from_pem_slice(text.as_bytes()).map_err(|e| invalid("PRIVATE KEY", &e))
}

/// The first `CERTIFICATE REQUEST` block.
pub fn csr(text: &str) -> Result<CertificateSigningRequestDer<'static>, PemError> {
    let mut found = None;
    for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(text.as_bytes()) {
        let (kind, der) = section.map_err(|e| invalid("CERTIFICATE REQUEST", &e))?;
        if kind == SectionKind::Csr {
            found = Some(der);
            break;
        }
    }
    found
        .map(CertificateSigningRequestDer::from)
        .ok_or(PemError::Missing {
            label: "CERTIFICATE REQUEST",
        })
}

/// PEM armour around `der`, 64 base64 characters a line.
pub fn encode(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        // Base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_wraps_at_64_and_round_trips() {
        let der: Vec<u8> = (0..=255).collect();
        let text = encode("CERTIFICATE", &der);
        assert!(
            text.lines()
                .all(|l| l.len() <= 64 || l.starts_with("-----"))
        );
        assert_eq!(certificate(&text).unwrap().as_ref(), der.as_slice());
        assert_eq!(certificates(&text).unwrap().len(), 1);
    }

    #[test]
    fn missing_and_encrypted_blocks_are_named() {
        assert_eq!(
            certificate("nothing here"),
            Err(PemError::Missing {
                label: "CERTIFICATE"
            })
        );
        assert_eq!(
            certificates(""),
            Err(PemError::Missing {
                label: "CERTIFICATE"
            })
        );
        assert_eq!(
            private_key(
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"
            ),
            Err(PemError::EncryptedKey)
        );
        assert!(matches!(
            csr(&encode("CERTIFICATE", b"x")),
            Err(PemError::Missing { .. })
        ));
    }
}
