//! One audit row as the gateway makes it, and what it learns from a request
//! path.

use super::trace::TraceId;
use chrono::{DateTime, Utc};
use mosaic_types::admin::AuditVerb;
use mosaic_types::{AuditId, ErrorCode, GrantId, PeerId, UserId};
use std::net::SocketAddr;
use std::time::Duration;

/// Longest `target` or `resource` kept, in characters: enough for any id and
/// a search's words, small enough that a hostile request cannot bloat the log.
pub const MAX_TEXT_CHARS: usize = 256;

/// What was recorded of one federation request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// The row's id.
    pub id: AuditId,
    /// When the request arrived (milliseconds).
    pub occurred_at: DateTime<Utc>,
    /// The peer the certificate belongs to, once known.
    pub peer_id: Option<PeerId>,
    /// The grant the certificate claimed.
    pub grant_id: Option<GrantId>,
    /// The local user the grant lends.
    pub subject_user_id: Option<UserId>,
    /// What was asked.
    pub verb: AuditVerb,
    /// The resource the path names.
    pub resource: Option<String>,
    /// The item id of a `get`, the words of a `search`.
    pub target: Option<String>,
    /// The HTTP status answered.
    pub status: u16,
    /// The error envelope's code, when the answer was an error.
    pub error_code: Option<ErrorCode>,
    /// Rows the answer carried.
    pub rows: Option<u32>,
    /// Time to the response head.
    pub latency: Duration,
    /// Serial of the client certificate presented (uppercase hex).
    pub cert_serial: Option<String>,
    /// The request's trace id.
    pub trace_id: TraceId,
    /// Where the request came from.
    pub remote_addr: Option<SocketAddr>,
}

impl AuditRecord {
    /// A record of a request to `path` that arrived at `occurred_at` and was
    /// answered with `status` after `latency`: verb, resource and (for a
    /// `get`) the item id come from the path; everything else starts empty.
    pub fn new(
        path: &str,
        occurred_at: DateTime<Utc>,
        status: u16,
        latency: Duration,
        trace_id: TraceId,
    ) -> Self {
        let parsed = RequestPath::parse(path);
        Self {
            id: new_id(),
            occurred_at: mosaic_store::truncate_to_millis(occurred_at),
            peer_id: None,
            grant_id: None,
            subject_user_id: None,
            verb: parsed.verb,
            resource: parsed.resource.as_deref().map(clean_text),
            target: parsed.id.as_deref().map(clean_text),
            status,
            error_code: None,
            rows: None,
            latency,
            cert_serial: None,
            trace_id,
            remote_addr: None,
        }
    }

    /// Sets the target (item id or search words), cleaned and cut to
    /// [`MAX_TEXT_CHARS`].
    #[must_use]
    pub fn with_target(mut self, target: &str) -> Self {
        self.target = Some(clean_text(target));
        self
    }
}

/// A fresh row id: 32 lowercase hex digits, random.
fn new_id() -> AuditId {
    // A simple UUID is 32 hex digits: never empty, never too long.
    AuditId::new(uuid::Uuid::new_v4().simple().to_string())
        .unwrap_or_else(|_| unreachable!("a UUID is a valid id"))
}

/// `text` fit for the log: at most [`MAX_TEXT_CHARS`] characters, cut on a
/// character boundary, with control characters replaced (tabs and line
/// breaks by a space, the rest by U+FFFD) so a row can always be stored (no
/// NUL reaches PostgreSQL) and printed (no terminal escapes).
pub fn clean_text(text: &str) -> String {
    text.chars()
        .take(MAX_TEXT_CHARS)
        .map(|c| match c {
            '\t' | '\n' | '\r' => ' ',
            c if c.is_control() => char::REPLACEMENT_CHARACTER,
            c => c,
        })
        .collect()
}

/// What a federation path asks for:
/// `/api/federation/v1/{verb}[/{resource}[/{id}]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestPath {
    /// The verb, `other` for a path the listener does not serve.
    pub verb: AuditVerb,
    /// The resource segment, percent-decoded.
    pub resource: Option<String>,
    /// The item id of a `get`, percent-decoded.
    pub id: Option<String>,
}

/// Where every federation route lives.
const PREFIX: &str = "/api/federation/v1/";

impl RequestPath {
    /// Reads `path` (without the query string). A path with the shape of no
    /// route is `other`, with no resource.
    pub fn parse(path: &str) -> Self {
        let other = Self {
            verb: AuditVerb::Other,
            resource: None,
            id: None,
        };
        let Some(rest) = path.strip_prefix(PREFIX) else {
            return other;
        };
        let segments: Vec<&str> = rest.split('/').collect();
        let decoded = |i: usize| segments.get(i).map(|s| percent_decode(s));
        let verb = match segments.as_slice() {
            ["ca"] => AuditVerb::Ca,
            ["enroll"] => AuditVerb::Enroll,
            ["capabilities"] => AuditVerb::Capabilities,
            ["list", r] if !r.is_empty() => AuditVerb::List,
            ["search", r] if !r.is_empty() => AuditVerb::Search,
            ["get", r, id] if !r.is_empty() && !id.is_empty() => {
                return Self {
                    verb: AuditVerb::Get,
                    resource: decoded(1),
                    id: decoded(2),
                };
            }
            _ => return other,
        };
        Self {
            verb,
            resource: match verb {
                AuditVerb::List | AuditVerb::Search => decoded(1),
                _ => None,
            },
            id: None,
        }
    }
}

/// `%XX` sequences decoded; invalid UTF-8 and malformed escapes kept
/// readable rather than refused (this is a record, not a router).
fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(Some(hi)), Some(Some(lo))) = (
                bytes.get(i + 1).map(|&b| hex(b)),
                bytes.get(i + 2).map(|&b| hex(b)),
            )
        {
            // Two hex digits make at most 0xFF.
            out.push(u8::try_from(hi * 16 + lo).unwrap_or(u8::MAX));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_their_verb_resource_and_id() {
        use AuditVerb::*;
        for (path, want) in [
            ("/api/federation/v1/list/tasks", (List, Some("tasks"), None)),
            (
                "/api/federation/v1/search/notes",
                (Search, Some("notes"), None),
            ),
            (
                "/api/federation/v1/get/tasks/t%2F1%20x",
                (Get, Some("tasks"), Some("t/1 x")),
            ),
            (
                "/api/federation/v1/capabilities",
                (Capabilities, None, None),
            ),
            ("/api/federation/v1/ca", (Ca, None, None)),
            ("/api/federation/v1/enroll", (Enroll, None, None)),
            ("/api/federation/v1/list/", (Other, None, None)),
            ("/api/federation/v1/list", (Other, None, None)),
            ("/api/federation/v1/list/tasks/extra", (Other, None, None)),
            ("/api/federation/v1/get/tasks", (Other, None, None)),
            ("/api/federation/v1/delete/tasks", (Other, None, None)),
            ("/api/federation/v2/list/tasks", (Other, None, None)),
            ("/", (Other, None, None)),
            ("", (Other, None, None)),
            // Malformed escapes are kept as they came.
            (
                "/api/federation/v1/list/ta%zzsks%",
                (List, Some("ta%zzsks%"), None),
            ),
        ] {
            let p = RequestPath::parse(path);
            assert_eq!(
                (p.verb, p.resource.as_deref(), p.id.as_deref()),
                want,
                "{path}"
            );
        }
    }

    #[test]
    fn text_is_cut_on_a_character_boundary_and_cleaned() {
        let long = "é".repeat(MAX_TEXT_CHARS + 10);
        let cut = clean_text(&long);
        assert_eq!(cut.chars().count(), MAX_TEXT_CHARS);
        assert!(cut.chars().all(|c| c == 'é'));
        assert_eq!(
            clean_text("a\0b\x1b[31mc\td\ne"),
            "a\u{fffd}b\u{fffd}[31mc d e"
        );
        assert_eq!(clean_text("short"), "short");
    }

    #[test]
    fn a_record_takes_the_path_apart_and_cuts_its_target() {
        let at = DateTime::parse_from_rfc3339("2026-12-02T09:15:00.042917Z")
            .unwrap()
            .with_timezone(&Utc);
        let rec = AuditRecord::new(
            "/api/federation/v1/get/tasks/%00t1",
            at,
            404,
            Duration::from_micros(1500),
            TraceId::random(),
        );
        assert_eq!(rec.verb, AuditVerb::Get);
        assert_eq!(rec.target.as_deref(), Some("\u{fffd}t1"));
        assert_eq!(
            rec.occurred_at.to_rfc3339(),
            "2026-12-02T09:15:00.042+00:00"
        );
        let rec = rec.with_target(&"w".repeat(1000));
        assert_eq!(rec.target.map(|t| t.len()), Some(MAX_TEXT_CHARS));
        assert_eq!(rec.id.as_str().len(), 32);
    }
}
