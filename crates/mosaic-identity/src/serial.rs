//! Certificate serial numbers: 128 random bits, shown as uppercase hex.

use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A certificate serial number in its canonical text form: uppercase hex, two
/// digits per byte, no separators, no leading zero bytes. This is how TLS
/// stacks report a peer's serial, and how `federation_peers.cert_serial`
/// stores it, so comparisons are exact string equality.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CertSerial(String);

/// A string that is not a canonical serial.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a certificate serial (expected uppercase hex, an even number of digits, no separators)"
)]
pub struct BadSerial(pub String);

/// Randomness was unavailable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the system random number generator failed")]
pub struct RandomError;

impl CertSerial {
    /// The canonical form of the big-endian magnitude `bytes` (as found in a
    /// certificate, possibly with a leading zero byte for the sign).
    pub fn from_be_bytes(bytes: &[u8]) -> Self {
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let significant = &bytes[skip..];
        if significant.is_empty() {
            return Self("00".to_owned());
        }
        Self(significant.iter().map(|b| format!("{b:02X}")).collect())
    }

    /// 128 fresh random bits.
    pub fn random() -> Result<Self, RandomError> {
        let mut bytes = [0u8; 16];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| RandomError)?;
        Ok(Self::from_be_bytes(&bytes))
    }

    /// The big-endian bytes.
    pub fn to_be_bytes(&self) -> Vec<u8> {
        self.0
            .as_bytes()
            .chunks(2)
            .map(|pair| {
                let hi = hex_value(pair[0]);
                let lo = hex_value(pair[1]);
                (hi << 4) | lo
            })
            .collect()
    }

    /// The canonical text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn hex_value(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'A'..=b'F' => c - b'A' + 10,
        // Construction admits only uppercase hex digits.
        _ => 0,
    }
}

impl FromStr for CertSerial {
    type Err = BadSerial;

    /// Parses the canonical form only; colons or lowercase are refused rather
    /// than normalised so that stored serials never have two spellings.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let canonical = !s.is_empty()
            && s.len().is_multiple_of(2)
            && s.len() <= 40
            && s.bytes()
                .all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(&c))
            && (s == "00" || !s.starts_with("00"));
        if canonical {
            Ok(Self(s.to_owned()))
        } else {
            Err(BadSerial(s.to_owned()))
        }
    }
}

impl TryFrom<String> for CertSerial {
    type Error = BadSerial;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<CertSerial> for String {
    fn from(s: CertSerial) -> String {
        s.0
    }
}

impl fmt::Display for CertSerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CertSerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CertSerial({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_strips_sign_padding_and_uppercases() {
        assert_eq!(
            CertSerial::from_be_bytes(&[0x00, 0xAB, 0x01]).as_str(),
            "AB01"
        );
        assert_eq!(CertSerial::from_be_bytes(&[0x0A]).as_str(), "0A");
        assert_eq!(CertSerial::from_be_bytes(&[]).as_str(), "00");
        let s = CertSerial::from_be_bytes(&[0x7F, 0x00]);
        assert_eq!(s.to_be_bytes(), [0x7F, 0x00]);
    }

    #[test]
    fn random_serials_are_128_bits_and_distinct() {
        let a = CertSerial::random().unwrap();
        let b = CertSerial::random().unwrap();
        assert_ne!(a, b);
        assert!(a.as_str().len() <= 32 && a.as_str().len() >= 2);
        assert_eq!(a.as_str().parse::<CertSerial>().unwrap(), a);
    }

    #[test]
    fn only_the_canonical_spelling_parses() {
        for bad in ["", "abc1", "AB:CD", "ABC", "00AB", "G0"] {
            assert!(bad.parse::<CertSerial>().is_err(), "{bad}");
        }
        assert!("00".parse::<CertSerial>().is_ok());
        assert!("0AFF".parse::<CertSerial>().is_ok());
    }
}
