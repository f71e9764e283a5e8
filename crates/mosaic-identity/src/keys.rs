//! Signing keys: generating Mosaic's defaults and loading operators' keys.

use crate::der;
use crate::pem::{self, PemError};
use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// A key that could not be generated or loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The PEM text holds no usable key block.
    #[error(transparent)]
    Pem(#[from] PemError),
    /// The key is of a kind Mosaic cannot sign with.
    #[error(
        "unsupported private key ({0}); use an unencrypted PKCS#8 or SEC1 key: ECDSA P-256/P-384, Ed25519 or RSA 2048+"
    )]
    Unsupported(String),
    /// Key generation failed.
    #[error("could not generate a key pair: {0}")]
    Generate(String),
}

/// A fresh ECDSA P-256 key pair: the default for the CA, servers and clients.
pub fn generate() -> Result<KeyPair, KeyError> {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|e| KeyError::Generate(e.to_string()))
}

/// Loads a private key from PEM: PKCS#8 (`PRIVATE KEY`) of any kind rcgen can
/// sign with, or SEC1 (`EC PRIVATE KEY`, what Step-CA and `openssl ecparam`
/// write) for P-256 and P-384.
pub fn from_pem(text: &str) -> Result<KeyPair, KeyError> {
    match pem::private_key(text)? {
        PrivateKeyDer::Pkcs8(pkcs8) => KeyPair::try_from(pkcs8.secret_pkcs8_der())
            .map_err(|e| KeyError::Unsupported(e.to_string())),
        PrivateKeyDer::Sec1(sec1) => from_sec1(sec1.secret_sec1_der()),
        PrivateKeyDer::Pkcs1(_) => Err(KeyError::Unsupported(
            "PKCS#1 `RSA PRIVATE KEY`; convert it with `openssl pkcs8 -topk8 -nocrypt`".to_owned(),
        )),
        _ => Err(KeyError::Unsupported("unknown key format".to_owned())),
    }
}

/// id-ecPublicKey, 1.2.840.10045.2.1.
const EC_PUBLIC_KEY: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
/// prime256v1, 1.2.840.10045.3.1.7.
const P256: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
/// secp384r1, 1.3.132.0.34.
const P384: &[u8] = &[0x2B, 0x81, 0x04, 0x00, 0x22];

/// Wraps a SEC1 key in PKCS#8 for `curve` (the only form ring loads).
fn sec1_to_pkcs8(sec1: &[u8], curve: &[u8]) -> Vec<u8> {
    let version = der::tlv(der::TAG_INTEGER, &[0]);
    let mut alg = der::tlv(der::TAG_OID, EC_PUBLIC_KEY);
    alg.extend(der::tlv(der::TAG_OID, curve));
    let alg = der::tlv(0x30, &alg);
    let key = der::tlv(0x04, sec1);
    let mut body = version;
    body.extend(alg);
    body.extend(key);
    der::tlv(0x30, &body)
}

fn from_sec1(sec1: &[u8]) -> Result<KeyPair, KeyError> {
    // ring refuses a SEC1 key whose embedded curve differs from the one named
    // in the wrapper, so trying each curve finds the right one.
    for (curve, alg) in [
        (P256, &PKCS_ECDSA_P256_SHA256),
        (P384, &PKCS_ECDSA_P384_SHA384),
    ] {
        let pkcs8 = PrivatePkcs8KeyDer::from(sec1_to_pkcs8(sec1, curve));
        if let Ok(key) = KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, alg) {
            return Ok(key);
        }
    }
    Err(KeyError::Unsupported(
        "SEC1 key that is neither P-256 nor P-384".to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::PublicKeyData;

    #[test]
    fn generated_keys_round_trip_through_pkcs8_pem() {
        let key = generate().unwrap();
        let again = from_pem(&key.serialize_pem()).unwrap();
        assert_eq!(
            key.subject_public_key_info(),
            again.subject_public_key_info()
        );
        assert_eq!(again.algorithm(), &PKCS_ECDSA_P256_SHA256);
    }

    #[test]
    fn rsa_pkcs1_and_garbage_are_refused_with_advice() {
        let pkcs1 = pem::encode("RSA PRIVATE KEY", &[0x30, 0x00]);
        let err = from_pem(&pkcs1).unwrap_err();
        assert!(err.to_string().contains("openssl pkcs8"), "{err}");
        let junk = pem::encode("PRIVATE KEY", &[0x30, 0x00]);
        assert!(matches!(from_pem(&junk), Err(KeyError::Unsupported(_))));
    }
}
