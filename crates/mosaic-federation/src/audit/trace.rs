//! W3C Trace Context (`traceparent`): the trace id an audit row carries,
//! taken from the caller when it sent a valid one, else made here.
//!
//! `traceparent: 00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`,
//! lowercase. A header of a later version is read by the same first four
//! fields (its extra fields ignored); version `ff`, an all-zero id, or any
//! other shape is not valid, and a new trace begins.

use std::fmt;

/// A trace id: 32 lowercase hex digits, not all zero.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TraceId(String);

/// A string that is not a trace id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a trace id (32 lowercase hex digits, not all zero)")]
pub struct InvalidTraceId(pub String);

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn all_zero(s: &str) -> bool {
    s.bytes().all(|b| b == b'0')
}

/// `n` random lowercase hex digits (at most 32), from the system's random
/// source.
fn random_hex(n: usize) -> String {
    let mut hex = uuid::Uuid::new_v4().simple().to_string();
    hex.truncate(n);
    hex
}

impl TraceId {
    /// A new random trace id.
    pub fn random() -> Self {
        // A v4 UUID has its version digit set, so it is never all zero.
        Self(random_hex(32))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for TraceId {
    type Err = InvalidTraceId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if is_lower_hex(s, 32) && !all_zero(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidTraceId(s.to_owned()))
        }
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The trace a request belongs to: its id and the caller's sampling flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// The trace id.
    pub trace_id: TraceId,
    /// The trace flags (bit 0: sampled).
    pub flags: u8,
}

impl TraceContext {
    /// The caller's trace when `traceparent` is a valid header value, else a
    /// new one (sampled).
    pub fn from_traceparent(traceparent: Option<&str>) -> Self {
        traceparent
            .and_then(Self::parse)
            .unwrap_or_else(Self::random)
    }

    /// A new trace, sampled.
    pub fn random() -> Self {
        Self {
            trace_id: TraceId::random(),
            flags: 1,
        }
    }

    /// Reads a `traceparent` header value; `None` when it is not valid.
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim_matches([' ', '\t']);
        let mut fields = value.split('-');
        let (version, trace, parent, flags) = (
            fields.next()?,
            fields.next()?,
            fields.next()?,
            fields.next()?,
        );
        if !is_lower_hex(version, 2) || version == "ff" {
            return None;
        }
        // Version 00 has exactly four fields; later versions may add more.
        if version == "00" && fields.next().is_some() {
            return None;
        }
        if !is_lower_hex(parent, 16) || all_zero(parent) || !is_lower_hex(flags, 2) {
            return None;
        }
        Some(Self {
            trace_id: trace.parse().ok()?,
            flags: u8::from_str_radix(flags, 16).ok()?,
        })
    }

    /// The `traceparent` this gateway answers with: the same trace, a new
    /// span id of its own, the caller's flags.
    pub fn traceparent(&self) -> String {
        let span = loop {
            let span = random_hex(16);
            if !all_zero(&span) {
                break span;
            }
        };
        format!("00-{}-{span}-{:02x}", self.trace_id, self.flags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

    #[test]
    fn a_valid_traceparent_keeps_its_trace() {
        for (header, flags) in [
            (format!("00-{ID}-00f067aa0ba902b7-01"), 1),
            (format!("00-{ID}-00f067aa0ba902b7-00"), 0),
            // A later version, with a field we do not know.
            (format!("cc-{ID}-00f067aa0ba902b7-09-what-ever"), 9),
            (format!(" 00-{ID}-00f067aa0ba902b7-01\t"), 1),
        ] {
            let ctx = TraceContext::parse(&header).unwrap_or_else(|| panic!("{header}"));
            assert_eq!((ctx.trace_id.as_str(), ctx.flags), (ID, flags), "{header}");
        }
    }

    #[test]
    fn anything_else_starts_a_new_trace() {
        let zeros = "0".repeat(32);
        for header in [
            String::new(),
            "garbage".to_owned(),
            format!("ff-{ID}-00f067aa0ba902b7-01"),
            format!("00-{zeros}-00f067aa0ba902b7-01"),
            format!("00-{ID}-0000000000000000-01"),
            format!("00-{}-00f067aa0ba902b7-01", ID.to_uppercase()),
            format!("00-{ID}-00f067aa0ba902b7-01-extra"),
            format!("00-{ID}-00f067aa0ba902b7"),
            format!("00-{ID}-00f067aa0ba902b7-1"),
            format!("0-{ID}-00f067aa0ba902b7-01"),
            format!("00-{}-00f067aa0ba902b7-01", &ID[..31]),
            format!("00-{ID}x-00f067aa0ba902b7-01"),
        ] {
            assert_eq!(TraceContext::parse(&header), None, "{header}");
            let made = TraceContext::from_traceparent(Some(&header));
            assert_ne!(made.trace_id.as_str(), ID, "{header}");
            assert!(is_lower_hex(made.trace_id.as_str(), 32), "{header}");
        }
        let a = TraceContext::from_traceparent(None);
        let b = TraceContext::from_traceparent(None);
        assert_ne!(a.trace_id, b.trace_id);
        assert_eq!(a.flags, 1);
    }

    #[test]
    fn the_answer_carries_the_same_trace_under_a_new_span() {
        let ctx = TraceContext::parse(&format!("00-{ID}-00f067aa0ba902b7-01")).unwrap();
        let answer = ctx.traceparent();
        let back = TraceContext::parse(&answer).unwrap();
        assert_eq!(back, ctx);
        assert!(!answer.contains("00f067aa0ba902b7"), "{answer}");
        assert!(answer.starts_with(&format!("00-{ID}-")), "{answer}");
    }

    #[test]
    fn trace_ids_parse_strictly() {
        assert_eq!(ID.parse::<TraceId>().unwrap().as_str(), ID);
        for bad in ["", "0".repeat(32).as_str(), &ID.to_uppercase(), &ID[1..]] {
            assert!(bad.parse::<TraceId>().is_err(), "{bad}");
        }
    }
}
