//! Sealing private keys at rest with the gateway secret.
//!
//! The gateway secret is 32 random bytes kept in a 0600 file in the data dir
//! (never in the database). Keys the gateway must hold for itself (the
//! client keys it presents to outbound peers, the instance signing key) are
//! stored in the database sealed with ChaCha20-Poly1305 under a key derived
//! from that secret, and unsealed only in memory. Each sealed value is bound
//! to a *purpose* string (e.g. `peer-client-key:<peer id>`) given as
//! associated data, so a sealed value copied to another row does not open.
//!
//! Sealed text: `mosaic-sealed:v1:` + base64url(nonce ‖ ciphertext ‖ tag).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::aead::{self, Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};
use std::fmt;
use zeroize::Zeroizing;

/// Prefix of every sealed value, with the format version.
pub const SEALED_PREFIX: &str = "mosaic-sealed:v1:";
const SECRET_LEN: usize = 32;
const HKDF_SALT: &[u8] = b"mosaic gateway secret";
const HKDF_INFO: &[u8] = b"mosaic seal v1 chacha20-poly1305";

/// Sealing or unsealing failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The text is not a sealed value of a known version.
    #[error("the sealed value is malformed (expected `{SEALED_PREFIX}…`)")]
    Malformed,
    /// The value does not open with this secret and purpose: a different
    /// gateway secret, a value moved to another row, or tampering.
    #[error(
        "the sealed value does not open with this gateway's secret for `{purpose}` (was the secret file replaced, or the value copied from elsewhere?)"
    )]
    WrongKeyOrTampered {
        /// The purpose it was opened for.
        purpose: String,
    },
    /// The gateway secret's text form is not 32 bytes of base64.
    #[error("the gateway secret is not 32 bytes of base64")]
    BadSecret,
    /// Randomness was unavailable.
    #[error("the system random number generator failed")]
    Random,
}

/// The gateway secret. Its bytes are wiped when dropped and never printed.
#[derive(Clone)]
pub struct GatewaySecret(Zeroizing<[u8; SECRET_LEN]>);

impl fmt::Debug for GatewaySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GatewaySecret(..)")
    }
}

impl GatewaySecret {
    /// 32 fresh random bytes.
    pub fn generate() -> Result<Self, SealError> {
        let mut bytes = Zeroizing::new([0u8; SECRET_LEN]);
        SystemRandom::new()
            .fill(bytes.as_mut())
            .map_err(|_| SealError::Random)?;
        Ok(Self(bytes))
    }

    /// From its text form (standard base64, surrounding whitespace ignored).
    pub fn from_base64(text: &str) -> Result<Self, SealError> {
        let decoded = Zeroizing::new(
            STANDARD
                .decode(text.trim())
                .map_err(|_| SealError::BadSecret)?,
        );
        let bytes: [u8; SECRET_LEN] = decoded
            .as_slice()
            .try_into()
            .map_err(|_| SealError::BadSecret)?;
        Ok(Self(Zeroizing::new(bytes)))
    }

    /// The text form written to the secret file.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(self.0.as_ref()))
    }
}

/// Seals and unseals with a key derived from the gateway secret.
pub struct Sealer {
    key: LessSafeKey,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer(..)")
    }
}

struct KeyLen;

impl hkdf::KeyType for KeyLen {
    fn len(&self) -> usize {
        CHACHA20_POLY1305.key_len()
    }
}

impl Sealer {
    /// A sealer for `secret`.
    #[allow(
        clippy::expect_used,
        reason = "HKDF expansion fails only past 255 hash blocks (this is one), and ChaCha20-Poly1305 accepts exactly the 32-byte key produced"
    )]
    pub fn new(secret: &GatewaySecret) -> Self {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, HKDF_SALT).extract(secret.0.as_ref());
        let mut key_bytes = Zeroizing::new([0u8; 32]);
        prk.expand(&[HKDF_INFO], KeyLen)
            .and_then(|okm| okm.fill(key_bytes.as_mut()))
            .expect("one HKDF-SHA256 block");
        let unbound = UnboundKey::new(&CHACHA20_POLY1305, key_bytes.as_ref())
            .expect("a 32-byte ChaCha20-Poly1305 key");
        Self {
            key: LessSafeKey::new(unbound),
        }
    }

    /// Seals `plaintext` for `purpose`.
    pub fn seal(&self, purpose: &str, plaintext: &[u8]) -> Result<String, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| SealError::Random)?;
        let mut buf = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(purpose.as_bytes()),
                &mut buf,
            )
            .map_err(|_| SealError::Random)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok(format!("{SEALED_PREFIX}{}", URL_SAFE_NO_PAD.encode(out)))
    }

    /// Opens a value sealed for `purpose`. The plaintext is wiped when dropped.
    pub fn unseal(&self, purpose: &str, sealed: &str) -> Result<Zeroizing<Vec<u8>>, SealError> {
        let body = sealed
            .strip_prefix(SEALED_PREFIX)
            .ok_or(SealError::Malformed)?;
        let raw = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| SealError::Malformed)?;
        if raw.len() < NONCE_LEN + aead::MAX_TAG_LEN {
            return Err(SealError::Malformed);
        }
        let (nonce, ciphertext) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Malformed)?;
        let mut buf = Zeroizing::new(ciphertext.to_vec());
        let plain_len = self
            .key
            .open_in_place(nonce, Aad::from(purpose.as_bytes()), buf.as_mut_slice())
            .map_err(|_| SealError::WrongKeyOrTampered {
                purpose: purpose.to_owned(),
            })?
            .len();
        buf.truncate(plain_len);
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trips_and_binds_purpose_and_secret() {
        let secret = GatewaySecret::generate().unwrap();
        let sealer = Sealer::new(&secret);
        let sealed = sealer.seal("peer-client-key:p1", b"private key").unwrap();
        assert!(sealed.starts_with(SEALED_PREFIX));
        assert!(!sealed.contains("private"));
        assert_eq!(
            sealer
                .unseal("peer-client-key:p1", &sealed)
                .unwrap()
                .as_slice(),
            b"private key"
        );
        assert_ne!(
            sealed,
            sealer.seal("peer-client-key:p1", b"private key").unwrap()
        );

        assert!(matches!(
            sealer.unseal("peer-client-key:p2", &sealed),
            Err(SealError::WrongKeyOrTampered { .. })
        ));
        let other = Sealer::new(&GatewaySecret::generate().unwrap());
        assert!(matches!(
            other.unseal("peer-client-key:p1", &sealed),
            Err(SealError::WrongKeyOrTampered { .. })
        ));
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(sealer.unseal("peer-client-key:p1", &tampered).is_err());
        assert_eq!(sealer.unseal("x", "plain"), Err(SealError::Malformed));
        assert_eq!(
            sealer.unseal("x", &format!("{SEALED_PREFIX}AAAA")),
            Err(SealError::Malformed)
        );
    }

    #[test]
    fn the_secret_round_trips_through_text_and_the_same_secret_opens() {
        let secret = GatewaySecret::generate().unwrap();
        let again = GatewaySecret::from_base64(&format!("{}\n", *secret.to_base64())).unwrap();
        let sealed = Sealer::new(&secret).seal("p", b"v").unwrap();
        assert_eq!(
            Sealer::new(&again).unseal("p", &sealed).unwrap().as_slice(),
            b"v"
        );
        assert_eq!(
            GatewaySecret::from_base64("c2hvcnQ=").unwrap_err(),
            SealError::BadSecret
        );
        assert_eq!(format!("{secret:?}"), "GatewaySecret(..)");
    }
}
