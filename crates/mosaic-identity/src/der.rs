//! The few DER encodings Mosaic writes and reads by hand: object identifiers
//! with arcs wider than 64 bits, and the scalar values of Mosaic extensions.
//!
//! Decoding is strict (definite, minimal lengths; no trailing bytes) because
//! the values come from certificates presented by strangers.

/// Tag of a DER OBJECT IDENTIFIER.
pub(crate) const TAG_OID: u8 = 0x06;
/// Tag of a DER INTEGER.
pub(crate) const TAG_INTEGER: u8 = 0x02;
/// Tag of a DER UTF8String.
pub(crate) const TAG_UTF8_STRING: u8 = 0x0C;

/// Why a DER value could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DerError {
    /// The input ended early.
    #[error("the value is truncated")]
    Truncated,
    /// The tag is not the one expected.
    #[error("expected {expected}, found tag 0x{found:02X}")]
    WrongTag {
        /// What was expected, e.g. `UTF8String`.
        expected: &'static str,
        /// The tag byte found.
        found: u8,
    },
    /// The length is indefinite, not minimal, or too large.
    #[error("the length is not valid DER")]
    BadLength,
    /// Bytes follow the value.
    #[error("{0} unexpected bytes follow the value")]
    TrailingBytes(usize),
    /// The string is not UTF-8.
    #[error("the string is not valid UTF-8")]
    NotUtf8,
    /// The integer is negative, not minimally encoded, or out of range.
    #[error("the integer is not a small non-negative number")]
    BadInteger,
}

/// Appends a DER length.
pub(crate) fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        // Short form: one byte. The cast cannot truncate: len < 0x80.
        out.push(len as u8);
        return;
    }
    let bytes = len.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    let significant = &bytes[skip..];
    // At most size_of::<usize>() bytes, so the count fits in the low 7 bits.
    out.push(0x80 | significant.len() as u8);
    out.extend_from_slice(significant);
}

/// A complete TLV.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    push_len(&mut out, content.len());
    out.extend_from_slice(content);
    out
}

/// Base-128 encoding of one OID arc, most significant group first.
fn push_arc(out: &mut Vec<u8>, mut arc: u128) {
    let mut groups = [0u8; 19];
    let mut n = 0;
    loop {
        // The mask keeps 7 bits, so the cast cannot truncate.
        groups[n] = (arc & 0x7F) as u8;
        n += 1;
        arc >>= 7;
        if arc == 0 {
            break;
        }
    }
    for i in (0..n).rev() {
        let more = if i == 0 { 0 } else { 0x80 };
        out.push(groups[i] | more);
    }
}

/// Number of bytes [`push_arc`] writes for `arc`.
pub(crate) fn arc_len(arc: u128) -> usize {
    let bits = 128 - arc.leading_zeros() as usize;
    bits.div_ceil(7).max(1)
}

/// The content octets of an OID given as arcs (the first two combined as X.690 says).
pub(crate) fn oid_content(first: u8, second: u8, rest: &[u128]) -> Vec<u8> {
    let mut out = Vec::new();
    push_arc(&mut out, u128::from(first) * 40 + u128::from(second));
    for arc in rest {
        push_arc(&mut out, *arc);
    }
    out
}

/// Splits one TLV off the front of `input`: (tag, content, rest).
pub(crate) fn split_tlv(input: &[u8]) -> Result<(u8, &[u8], &[u8]), DerError> {
    let (&tag, rest) = input.split_first().ok_or(DerError::Truncated)?;
    let (&first, rest) = rest.split_first().ok_or(DerError::Truncated)?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7F);
        // 0x80 is BER's indefinite length; more than 4 length bytes is never
        // needed for anything Mosaic reads.
        if count == 0 || count > 4 || rest.len() < count {
            return Err(DerError::BadLength);
        }
        let (len_bytes, rest) = rest.split_at(count);
        if len_bytes[0] == 0 {
            return Err(DerError::BadLength);
        }
        let len = len_bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        if len < 0x80 {
            return Err(DerError::BadLength);
        }
        (len, rest)
    };
    if rest.len() < len {
        return Err(DerError::Truncated);
    }
    let (content, rest) = rest.split_at(len);
    Ok((tag, content, rest))
}

/// Exactly one TLV with `tag`, nothing after it.
fn single<'a>(input: &'a [u8], tag: u8, expected: &'static str) -> Result<&'a [u8], DerError> {
    let (found, content, rest) = split_tlv(input)?;
    if found != tag {
        return Err(DerError::WrongTag { expected, found });
    }
    if !rest.is_empty() {
        return Err(DerError::TrailingBytes(rest.len()));
    }
    Ok(content)
}

/// DER UTF8String.
pub(crate) fn encode_utf8(s: &str) -> Vec<u8> {
    tlv(TAG_UTF8_STRING, s.as_bytes())
}

/// Reads a DER UTF8String that is the whole input.
pub(crate) fn decode_utf8(input: &[u8]) -> Result<&str, DerError> {
    let content = single(input, TAG_UTF8_STRING, "UTF8String")?;
    std::str::from_utf8(content).map_err(|_| DerError::NotUtf8)
}

/// DER INTEGER of a non-negative `u32`.
pub(crate) fn encode_u32(v: u32) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count().min(3);
    let mut content = bytes[skip..].to_vec();
    if content[0] & 0x80 != 0 {
        content.insert(0, 0);
    }
    tlv(TAG_INTEGER, &content)
}

/// Reads a DER INTEGER that is the whole input and fits a `u32`.
pub(crate) fn decode_u32(input: &[u8]) -> Result<u32, DerError> {
    let content = single(input, TAG_INTEGER, "INTEGER")?;
    let (&first, tail) = content.split_first().ok_or(DerError::BadInteger)?;
    if first & 0x80 != 0 {
        return Err(DerError::BadInteger);
    }
    // Minimal encoding: a leading zero only to clear the sign bit.
    if first == 0 && tail.first().is_some_and(|b| b & 0x80 == 0) {
        return Err(DerError::BadInteger);
    }
    let magnitude = if first == 0 { tail } else { content };
    if magnitude.len() > 4 {
        return Err(DerError::BadInteger);
    }
    Ok(magnitude
        .iter()
        .fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oid_content_matches_x690_examples() {
        // 1.2.840.113549 (RSA Data Security) from X.690's examples.
        assert_eq!(
            oid_content(1, 2, &[840, 113_549]),
            [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D]
        );
        // clientAuth, 1.3.6.1.5.5.7.3.2.
        assert_eq!(
            oid_content(1, 3, &[6, 1, 5, 5, 7, 3, 2]),
            [0x2B, 6, 1, 5, 5, 7, 3, 2]
        );
    }

    #[test]
    fn arc_len_counts_base128_groups() {
        for (arc, len) in [
            (0u128, 1),
            (127, 1),
            (128, 2),
            (u128::from(u64::MAX), 10),
            (u128::MAX, 19),
        ] {
            let mut out = Vec::new();
            push_arc(&mut out, arc);
            assert_eq!(out.len(), len, "{arc}");
            assert_eq!(arc_len(arc), len, "{arc}");
        }
    }

    #[test]
    fn scalars_round_trip() {
        for v in [0, 1, 127, 128, 255, 256, 65_535, u32::MAX] {
            assert_eq!(decode_u32(&encode_u32(v)), Ok(v), "{v}");
        }
        let long = "x".repeat(300);
        assert_eq!(decode_utf8(&encode_utf8(&long)), Ok(long.as_str()));
        assert_eq!(decode_utf8(&encode_utf8("grant-ü")), Ok("grant-ü"));
    }

    #[test]
    fn strict_decoding_rejects_non_der() {
        assert_eq!(decode_utf8(&[]), Err(DerError::Truncated));
        assert_eq!(decode_utf8(&[0x0C, 0x05, b'a']), Err(DerError::Truncated));
        assert_eq!(
            decode_utf8(&[0x13, 0x01, b'a']),
            Err(DerError::WrongTag {
                expected: "UTF8String",
                found: 0x13
            })
        );
        assert_eq!(
            decode_utf8(&[0x0C, 0x01, b'a', 0]),
            Err(DerError::TrailingBytes(1))
        );
        assert_eq!(decode_utf8(&[0x0C, 0x80]), Err(DerError::BadLength));
        assert_eq!(
            decode_utf8(&[0x0C, 0x81, 0x01, b'a']),
            Err(DerError::BadLength)
        );
        assert_eq!(decode_utf8(&[0x0C, 0x01, 0xFF]), Err(DerError::NotUtf8));
        assert_eq!(decode_u32(&[0x02, 0x01, 0x80]), Err(DerError::BadInteger));
        assert_eq!(
            decode_u32(&[0x02, 0x02, 0x00, 0x01]),
            Err(DerError::BadInteger)
        );
        assert_eq!(decode_u32(&[0x02, 0x00]), Err(DerError::BadInteger));
        assert_eq!(
            decode_u32(&[0x02, 0x05, 0x01, 0, 0, 0, 0]),
            Err(DerError::BadInteger)
        );
    }
}
