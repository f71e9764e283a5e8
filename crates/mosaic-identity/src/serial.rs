//! Certificate serial numbers: 128 random bits, shown as uppercase hex.
//!
//! A serial is a DER INTEGER, so it has a sign. Mosaic only issues positive
//! ones, but a presented certificate may carry a negative serial (RFC 5280
//! forbids it; rustls-webpki accepts it), and a negative serial must never
//! compare equal to the positive one spelled with the same magnitude bytes.

use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A certificate serial number in its canonical text form: uppercase hex, two
/// digits per byte, no separators, no leading zero bytes, and a leading `-`
/// for a negative serial (its magnitude follows, as OpenSSL prints it). This
/// is how `federation_peers.cert_serial` stores it, so comparisons are exact
/// string equality, and the sign takes part in them.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CertSerial(String);

/// A string that is not a canonical serial.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a certificate serial (expected uppercase hex, an even number of digits, no separators, `-` first when negative)"
)]
pub struct BadSerial(pub String);

/// Randomness was unavailable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the system random number generator failed")]
pub struct RandomError;

fn hex_magnitude(bytes: &[u8]) -> String {
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    let significant = &bytes[skip..];
    if significant.is_empty() {
        return "00".to_owned();
    }
    significant.iter().map(|b| format!("{b:02X}")).collect()
}

impl CertSerial {
    /// The canonical form of the non-negative number whose big-endian
    /// magnitude is `bytes` (leading zero bytes do not matter). For a serial
    /// read from a certificate use [`CertSerial::from_der_integer`], which
    /// keeps the sign.
    pub fn from_be_bytes(bytes: &[u8]) -> Self {
        Self(hex_magnitude(bytes))
    }

    /// The serial whose DER INTEGER content octets are `content`: two's
    /// complement, big-endian, so a first byte with its top bit set makes it
    /// negative. `FF01` is -255 (`-FF`), never the positive `00FF01` (`FF01`).
    pub fn from_der_integer(content: &[u8]) -> Self {
        match content.first() {
            Some(first) if first & 0x80 != 0 => {
                // The magnitude of a negative two's complement number: invert
                // every bit, then add one.
                let mut magnitude: Vec<u8> = content.iter().map(|b| !b).collect();
                for byte in magnitude.iter_mut().rev() {
                    let (sum, carry) = byte.overflowing_add(1);
                    *byte = sum;
                    if !carry {
                        break;
                    }
                }
                Self(format!("-{}", hex_magnitude(&magnitude)))
            }
            _ => Self::from_be_bytes(content),
        }
    }

    /// Whether the serial is negative (only ever read from a certificate;
    /// Mosaic never issues one).
    pub fn is_negative(&self) -> bool {
        self.0.starts_with('-')
    }

    /// 128 fresh random bits.
    pub fn random() -> Result<Self, RandomError> {
        let mut bytes = [0u8; 16];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| RandomError)?;
        Ok(Self::from_be_bytes(&bytes))
    }

    /// The big-endian bytes of the magnitude: what a certificate Mosaic
    /// issues carries (its serials are positive).
    pub fn to_be_bytes(&self) -> Vec<u8> {
        self.0
            .trim_start_matches('-')
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
    /// than normalised so that stored serials never have two spellings. Zero
    /// is `00`, never `-00`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (negative, digits) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let canonical = !digits.is_empty()
            && digits.len().is_multiple_of(2)
            && digits.len() <= 40
            && digits
                .bytes()
                .all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(&c))
            && (digits == "00" || !digits.starts_with("00"))
            && !(negative && digits == "00");
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
    fn der_integers_keep_their_sign() {
        let cases: [(&[u8], &str); 8] = [
            (&[0x00, 0xFF, 0x01], "FF01"),
            (&[0xFF, 0x01], "-FF"),
            (&[0xFF], "-01"),
            (&[0x80], "-80"),
            (&[0xFF, 0x00], "-0100"),
            (&[0x7F], "7F"),
            (&[0x00], "00"),
            (&[], "00"),
        ];
        for (content, want) in cases {
            let serial = CertSerial::from_der_integer(content);
            assert_eq!(serial.as_str(), want, "{content:02X?}");
            assert_eq!(serial.is_negative(), want.starts_with('-'));
            assert_eq!(want.parse::<CertSerial>().unwrap(), serial);
        }
        // The same magnitude bytes, once negative and once positive.
        let negative = CertSerial::from_der_integer(&[0xDA, 0x01, 0x02]);
        let positive = CertSerial::from_der_integer(&[0x00, 0xDA, 0x01, 0x02]);
        assert_ne!(negative, positive);
        assert_eq!(positive, CertSerial::from_be_bytes(&[0xDA, 0x01, 0x02]));
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
        for bad in [
            "", "abc1", "AB:CD", "ABC", "00AB", "G0", "-", "-00", "-00AB", "--AB",
        ] {
            assert!(bad.parse::<CertSerial>().is_err(), "{bad}");
        }
        assert!("00".parse::<CertSerial>().is_ok());
        assert!("0AFF".parse::<CertSerial>().is_ok());
        assert!("-0AFF".parse::<CertSerial>().unwrap().is_negative());
    }
}
