//! What a reader of the audit log asks for: the admin API's query
//! parameters as they arrive ([`AuditParams`]) and checked ([`AuditQuery`]).
//! Every refusal names the parameter and what it takes.

use super::cursor::AuditCursor;
use super::log::AuditError;
use chrono::{DateTime, Duration, Utc};
use mosaic_types::{GrantId, IdError, PeerId, UserId};
use serde::Deserialize;
use std::num::NonZeroU16;

/// Entries per page when the reader names no limit.
pub const DEFAULT_LIMIT: u16 = 100;

/// Most entries one page may hold.
pub const MAX_LIMIT: u16 = 1000;

/// The query string of `GET /api/admin/v1/federation/audit`, unchecked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    /// Only this peer's requests (a peer id).
    pub peer: Option<String>,
    /// Only requests under this grant.
    pub grant: Option<String>,
    /// Only requests on behalf of this local user.
    pub user: Option<String>,
    /// `true`: only refused requests (status 400 and above).
    pub denied: Option<String>,
    /// Only requests at or after this time: RFC 3339, or a duration back from
    /// now (`90s`, `15m`, `2h`, `7d`).
    pub since: Option<String>,
    /// Entries per page, 1 to 1000 (default 100).
    pub limit: Option<String>,
    /// Where to continue, from a previous page's `nextCursor`.
    pub cursor: Option<String>,
}

/// A checked request for one page of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only this peer's requests.
    pub peer_id: Option<PeerId>,
    /// Only requests under this grant.
    pub grant_id: Option<GrantId>,
    /// Only requests on behalf of this user.
    pub subject_user_id: Option<UserId>,
    /// Only refused requests (status 400 and above).
    pub denied_only: bool,
    /// Only requests at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Entries per page.
    pub limit: NonZeroU16,
    /// Continue after this position.
    pub cursor: Option<AuditCursor>,
}

impl Default for AuditQuery {
    /// The newest [`DEFAULT_LIMIT`] entries, unfiltered.
    fn default() -> Self {
        Self {
            peer_id: None,
            grant_id: None,
            subject_user_id: None,
            denied_only: false,
            since: None,
            limit: NonZeroU16::new(DEFAULT_LIMIT).unwrap_or(NonZeroU16::MIN),
            cursor: None,
        }
    }
}

fn invalid(name: &'static str, message: impl Into<String>) -> AuditError {
    AuditError::InvalidParameter {
        name,
        message: message.into(),
    }
}

fn id<T: std::str::FromStr<Err = IdError>>(
    name: &'static str,
    value: Option<&str>,
) -> Result<Option<T>, AuditError> {
    value
        .map(|v| v.parse().map_err(|e: IdError| invalid(name, e.to_string())))
        .transpose()
}

impl AuditQuery {
    /// Checks `params`; `now` is what a duration in `since` counts back from.
    pub fn from_params(params: &AuditParams, now: DateTime<Utc>) -> Result<Self, AuditError> {
        let denied_only = match params.denied.as_deref().map(str::trim) {
            None | Some("false") => false,
            Some("true" | "") => true,
            Some(other) => {
                return Err(invalid(
                    "denied",
                    format!("expected true or false, got `{other}`"),
                ));
            }
        };
        let limit = match params.limit.as_deref() {
            None => NonZeroU16::new(DEFAULT_LIMIT).unwrap_or(NonZeroU16::MIN),
            Some(raw) => raw
                .trim()
                .parse::<NonZeroU16>()
                .ok()
                .filter(|n| n.get() <= MAX_LIMIT)
                .ok_or_else(|| {
                    invalid(
                        "limit",
                        format!("expected a whole number from 1 to {MAX_LIMIT}, got `{raw}`"),
                    )
                })?,
        };
        Ok(Self {
            peer_id: id("peer", params.peer.as_deref())?,
            grant_id: id("grant", params.grant.as_deref())?,
            subject_user_id: id("user", params.user.as_deref())?,
            denied_only,
            since: params
                .since
                .as_deref()
                .map(|s| parse_since(s, now))
                .transpose()?,
            limit,
            cursor: params
                .cursor
                .as_deref()
                .map(AuditCursor::decode)
                .transpose()?,
        })
    }
}

/// Reads `since`: an RFC 3339 time, or a duration back from `now` (a whole
/// number and a unit: `s`, `m`, `h` or `d`).
pub fn parse_since(raw: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, AuditError> {
    let text = raw.trim();
    let bad = || {
        invalid(
            "since",
            format!(
                "expected an RFC 3339 time (2026-12-02T09:00:00Z) or a duration such as 90s, 15m, 2h or 7d, got `{raw}`"
            ),
        )
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let unit_at = text.len().checked_sub(1).ok_or_else(bad)?;
    if !text.is_char_boundary(unit_at) {
        return Err(bad());
    }
    let (number, unit) = text.split_at(unit_at);
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: i64 = number.parse().map_err(|_| bad())?;
    let span = match unit {
        "s" => Duration::try_seconds(n),
        "m" => Duration::try_minutes(n),
        "h" => Duration::try_hours(n),
        "d" => Duration::try_days(n),
        _ => None,
    }
    .ok_or_else(bad)?;
    now.checked_sub_signed(span).ok_or_else(|| {
        invalid(
            "since",
            format!("`{raw}` reaches back before any time this gateway can name"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-02T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn since_takes_a_time_or_a_duration_back() {
        for (raw, want) in [
            ("90s", "2026-12-02T11:58:30Z"),
            ("15m", "2026-12-02T11:45:00Z"),
            ("2h", "2026-12-02T10:00:00Z"),
            ("7d", "2026-11-25T12:00:00Z"),
            (" 0m ", "2026-12-02T12:00:00Z"),
            ("2026-12-01T08:00:00+01:00", "2026-12-01T07:00:00Z"),
            ("2026-12-01T07:00:00.250Z", "2026-12-01T07:00:00.250Z"),
        ] {
            assert_eq!(parse_since(raw, now()).unwrap(), at(want), "{raw}");
        }
    }

    #[test]
    fn a_bad_since_is_refused_by_name() {
        for raw in [
            "",
            "h",
            "2",
            "2w",
            "-2h",
            "+2h",
            "1.5h",
            "2 h",
            "yesterday",
            "2026-12-01",
            "2hé",
            "é",
            "99999999999999999999d",
            "999999999999d",
        ] {
            let err = parse_since(raw, now()).unwrap_err();
            assert!(
                matches!(err, AuditError::InvalidParameter { name: "since", .. }),
                "{raw}: {err}"
            );
            assert!(err.to_string().starts_with("since: "), "{raw}: {err}");
        }
    }

    fn params(pairs: &[(&str, &str)]) -> AuditParams {
        let mut p = AuditParams::default();
        for (k, v) in pairs {
            let v = Some((*v).to_owned());
            match *k {
                "peer" => p.peer = v,
                "grant" => p.grant = v,
                "user" => p.user = v,
                "denied" => p.denied = v,
                "since" => p.since = v,
                "limit" => p.limit = v,
                "cursor" => p.cursor = v,
                other => panic!("{other}"),
            }
        }
        p
    }

    #[test]
    fn parameters_become_a_checked_query() {
        let q = AuditQuery::from_params(&AuditParams::default(), now()).unwrap();
        assert_eq!(q, AuditQuery::default());
        assert_eq!(q.limit.get(), DEFAULT_LIMIT);

        let cursor = AuditCursor {
            occurred_at: now(),
            id: "r1".into(),
        };
        let q = AuditQuery::from_params(
            &params(&[
                ("peer", "p1"),
                ("grant", "g1"),
                ("user", "alice"),
                ("denied", "true"),
                ("since", "1h"),
                ("limit", "1000"),
                ("cursor", &cursor.encode()),
            ]),
            now(),
        )
        .unwrap();
        assert_eq!(q.peer_id.unwrap().as_str(), "p1");
        assert_eq!(q.grant_id.unwrap().as_str(), "g1");
        assert_eq!(q.subject_user_id.unwrap().as_str(), "alice");
        assert!(q.denied_only);
        assert_eq!(q.since, Some(at("2026-12-02T11:00:00Z")));
        assert_eq!(q.limit.get(), 1000);
        assert_eq!(q.cursor, Some(cursor));
        let q = AuditQuery::from_params(&params(&[("denied", "false")]), now()).unwrap();
        assert!(!q.denied_only);
    }

    #[test]
    fn each_bad_parameter_is_named() {
        for (name, value) in [
            ("limit", "0"),
            ("limit", "1001"),
            ("limit", "many"),
            ("limit", "-1"),
            ("denied", "yes"),
            ("since", "soon"),
            ("peer", " "),
            ("grant", ""),
            ("user", "a\u{7}b"),
            ("cursor", "not-a-cursor"),
        ] {
            let err = AuditQuery::from_params(&params(&[(name, value)]), now()).unwrap_err();
            assert_eq!(
                err.code(),
                mosaic_types::ErrorCode::InvalidRequest,
                "{name}={value}"
            );
            assert!(
                err.to_string().starts_with(&format!("{name}: ")),
                "{name}={value}: {err}"
            );
        }
    }
}
