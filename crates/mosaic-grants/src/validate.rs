//! Input checks: pure functions, run before any transaction begins.

use crate::error::GrantsError;
use chrono::Duration;
use mosaic_identity::enrollment::DEFAULT_TOKEN_TTL;

/// Longest enrollment token lifetime, in hours (30 days).
pub const MAX_TOKEN_TTL_HOURS: i64 = 720;
/// Longest grant lifetime, in days (ten years).
pub const MAX_EXPIRES_IN_DAYS: i64 = 3650;

/// Peer names are 1–64 letters, digits, `-`, `.` or `_`: they appear in
/// certificates, URLs (`source=federated:<name>`) and logs.
pub fn peer_name(field: &'static str, name: &str) -> Result<(), GrantsError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if ok {
        Ok(())
    } else {
        Err(GrantsError::invalid(
            field,
            format!("`{name}`: use 1–64 letters, digits, `-`, `.` or `_`"),
        ))
    }
}

/// The token lifetime: `hours` within 1–[`MAX_TOKEN_TTL_HOURS`], or the
/// default.
pub fn token_ttl(hours: Option<i64>) -> Result<Duration, GrantsError> {
    match hours {
        None => Ok(DEFAULT_TOKEN_TTL),
        Some(h) if (1..=MAX_TOKEN_TTL_HOURS).contains(&h) => Ok(Duration::hours(h)),
        Some(h) => Err(GrantsError::invalid(
            "token_ttl_hours",
            format!("must be between 1 and {MAX_TOKEN_TTL_HOURS} (got {h})"),
        )),
    }
}

/// The grant lifetime: `days` within 1–[`MAX_EXPIRES_IN_DAYS`], or none.
pub fn grant_lifetime(days: Option<i64>) -> Result<Option<Duration>, GrantsError> {
    match days {
        None => Ok(None),
        Some(d) if (1..=MAX_EXPIRES_IN_DAYS).contains(&d) => Ok(Some(Duration::days(d))),
        Some(d) => Err(GrantsError::invalid(
            "expires_in_days",
            format!("must be between 1 and {MAX_EXPIRES_IN_DAYS} (got {d})"),
        )),
    }
}

/// A scope that parses, or which field of it is wrong.
pub fn scope(raw: &serde_json::Value) -> Result<(), GrantsError> {
    mosaic_scope::parse_scope(raw)
        .map(|_| ())
        .map_err(|e| GrantsError::invalid("scope", e.to_string()))
}

/// A revocation reason: not blank; trimmed.
pub fn reason(reason: &str) -> Result<String, GrantsError> {
    let reason = reason.trim();
    if reason.is_empty() {
        Err(GrantsError::invalid(
            "reason",
            "say why the grant is revoked",
        ))
    } else {
        Ok(reason.to_owned())
    }
}

/// A peer's federation address: an `https` URL with a host. Returned as
/// given, without surrounding space or trailing `/`.
pub fn endpoint_url(raw: &str) -> Result<String, GrantsError> {
    let trimmed = raw.trim().trim_end_matches('/');
    let parsed = url::Url::parse(trimmed)
        .map_err(|e| GrantsError::invalid("url", format!("`{raw}` is not a URL: {e}")))?;
    if parsed.scheme() != "https" {
        return Err(GrantsError::invalid(
            "url",
            format!("`{raw}`: a peer's federation address is https://host:port"),
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(GrantsError::invalid(
            "url",
            format!("`{raw}` names no host"),
        ));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["home", "gw-a.example_1", &"x".repeat(64)] {
            assert!(peer_name("peer", ok).is_ok(), "{ok}");
        }
        for bad in ["", "with space", "slash/", "ümlaut", &"x".repeat(65)] {
            let err = peer_name("peer", bad).unwrap_err();
            assert!(err.to_string().starts_with("peer: `"), "{err}");
        }
    }

    #[test]
    fn lifetimes() {
        assert_eq!(token_ttl(None).unwrap(), DEFAULT_TOKEN_TTL);
        assert_eq!(token_ttl(Some(1)).unwrap(), Duration::hours(1));
        assert_eq!(token_ttl(Some(720)).unwrap(), Duration::hours(720));
        for bad in [0, -1, 721, i64::MAX, i64::MIN] {
            let err = token_ttl(Some(bad)).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("token_ttl_hours: must be between 1 and 720 (got {bad})")
            );
        }
        assert_eq!(grant_lifetime(None).unwrap(), None);
        assert_eq!(grant_lifetime(Some(1)).unwrap(), Some(Duration::days(1)));
        for bad in [0, -5, 3651, i64::MAX] {
            assert!(grant_lifetime(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls() {
        assert_eq!(
            endpoint_url(" https://gw.example:7443/ ").unwrap(),
            "https://gw.example:7443"
        );
        assert_eq!(
            endpoint_url("https://127.0.0.1:7443").unwrap(),
            "https://127.0.0.1:7443"
        );
        for bad in ["http://gw.example:7443", "gw.example:7443", "", "https://"] {
            let err = endpoint_url(bad).unwrap_err();
            assert!(err.to_string().starts_with("url: "), "{bad}: {err}");
        }
    }

    #[test]
    fn reasons() {
        assert_eq!(reason("  laptop lost ").unwrap(), "laptop lost");
        assert_eq!(
            reason("  ").unwrap_err().to_string(),
            "reason: say why the grant is revoked"
        );
    }
}
