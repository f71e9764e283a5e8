//! The human forms of peers, grants and enrollment codes.

use crate::output::{or_dash, table};
use mosaic_types::admin::{CreatedGrant, EnrolledPeer, GrantView, PeerView, millis};
use mosaic_types::{FederationCapabilitiesResponse, RateLimitSource};
use std::fmt::Write as _;

/// `mosaic federation peer ls`.
pub fn peer_table(peers: &[PeerView]) -> String {
    let rows: Vec<Vec<String>> = peers
        .iter()
        .map(|p| {
            vec![
                p.id.to_string(),
                p.common_name.clone(),
                p.direction.to_string(),
                match p.refusal {
                    Some(why) => format!("{} ({why})", p.state),
                    None => p.state.to_string(),
                },
                or_dash(p.endpoint_url.as_deref()),
            ]
        })
        .collect();
    table(&["ID", "NAME", "DIRECTION", "STATE", "ENDPOINT"], &rows)
}

/// The resource names of a grant's scope, comma-separated.
fn resources(g: &GrantView) -> String {
    g.scope["resources"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(serde_json::Value::as_str)
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

/// `mosaic federation grant ls`.
pub fn grant_table(grants: &[GrantView]) -> String {
    let rows: Vec<Vec<String>> = grants
        .iter()
        .map(|g| {
            vec![
                g.id.to_string(),
                or_dash(g.peer.as_deref()),
                g.subject_user_id.to_string(),
                g.status.to_string(),
                resources(g),
            ]
        })
        .collect();
    table(&["ID", "PEER", "USER", "STATUS", "RESOURCES"], &rows)
}

/// `mosaic federation grant show`: one field a line.
pub fn grant_detail(g: &GrantView) -> String {
    let time = |t: Option<&chrono::DateTime<chrono::Utc>>| t.map(millis::format);
    let fields = [
        ("id", Some(g.id.to_string())),
        ("peer_id", Some(g.peer_id.to_string())),
        ("subject_user_id", Some(g.subject_user_id.to_string())),
        ("status", Some(g.status.to_string())),
        ("expires_at", time(g.expires_at.as_ref())),
        ("revoked_at", time(g.revoked_at.as_ref())),
        ("revoked_reason", g.revoked_reason.clone()),
        ("created_at", time(Some(&g.created_at))),
        ("scope", Some(g.scope.to_string())),
    ];
    let mut out = String::new();
    for (k, v) in fields {
        let _ = writeln!(out, "{k:<16} {}", or_dash(v.as_deref()));
    }
    out.trim_end().to_owned()
}

/// `mosaic federation grant create`: the grant, then the code to hand over.
pub fn created_grant(c: &CreatedGrant) -> String {
    let g = &c.grant;
    let e = &c.enrollment;
    format!(
        "grant {} for peer {} as user {}\nenrollment code (one use, until {}):\n{}\nCA fingerprint (SHA-256): {}",
        g.id,
        or_dash(g.peer.as_deref()),
        g.subject_user_id,
        millis::format(&e.enrollment_expires_at),
        e.enrollment_code,
        e.ca_fingerprint
    )
}

/// `mosaic federation peer enroll`.
pub fn enrolled(e: &EnrolledPeer, url: &str, user: &str, name: &str) -> String {
    format!(
        "enrolled with {url} as peer {} ({}); queries by {user} can now use source federated:{name}",
        e.peer.common_name, e.peer.id
    )
}

/// `mosaic federation capabilities`.
pub fn capabilities(c: &FederationCapabilitiesResponse) -> String {
    let mut out = format!(
        "resources:          {}\nexcluded_resources: {}\nmax_rows_per_query: {}\nsupported_verbs:    {}",
        serde_json::json!(c.resources),
        serde_json::json!(c.excluded_resources),
        c.max_rows_per_query,
        serde_json::json!(c.supported_verbs)
    );
    if let Some(limit) = &c.rate_limit {
        let whose = match limit.source {
            RateLimitSource::Grant => "the grant's",
            RateLimitSource::Default => "the peer's default",
        };
        out.push_str(&format!(
            "\nrate_limit:         {} requests a minute, burst {} ({whose})",
            limit.requests_per_minute, limit.burst
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn capabilities_show_the_rate_limit_and_whose_it_is() {
        let mut caps: FederationCapabilitiesResponse = serde_json::from_value(json!({
            "resources": ["tasks"], "excluded_resources": [], "max_rows_per_query": 10,
            "supported_verbs": ["list"],
            "rate_limit": {"requests_per_minute": 2, "burst": 1, "source": "grant"}
        }))
        .unwrap();
        assert!(
            capabilities(&caps)
                .ends_with("\nrate_limit:         2 requests a minute, burst 1 (the grant's)"),
            "{}",
            capabilities(&caps)
        );
        caps.rate_limit = None;
        assert!(!capabilities(&caps).contains("rate_limit"));
    }

    fn grant() -> GrantView {
        serde_json::from_value(json!({
            "id": "g1", "peer_id": "p1", "peer": "home", "subject_user_id": "alice",
            "status": "active", "scope": {"resources": ["tasks", "notes"]},
            "expires_at": null, "revoked_at": null, "revoked_reason": null,
            "created_at": "2026-11-22T10:00:00.000Z"
        }))
        .unwrap()
    }

    #[test]
    fn grants_list_their_resources() {
        assert_eq!(
            grant_table(&[grant()]),
            "ID  PEER  USER   STATUS  RESOURCES\ng1  home  alice  active  tasks,notes"
        );
    }

    #[test]
    fn grant_details_show_every_field() {
        let d = grant_detail(&grant());
        assert!(d.contains("expires_at       -"), "{d}");
        assert!(
            d.contains("created_at       2026-11-22T10:00:00.000Z"),
            "{d}"
        );
        assert!(
            d.ends_with(r#"scope            {"resources":["tasks","notes"]}"#),
            "{d}"
        );
    }

    #[test]
    fn a_refused_peer_shows_why() {
        let p: PeerView = serde_json::from_value(json!({
            "id": "p2", "common_name": "work", "display_name": "work", "state": "refused",
            "refusal": "grant_revoked", "direction": "outbound",
            "endpoint_url": "https://w:7443", "local_user_id": "me",
            "cert_serial": "0A", "cert_not_after": "2026-11-22T10:00:00.000Z"
        }))
        .unwrap();
        assert_eq!(
            peer_table(&[p]),
            "ID  NAME  DIRECTION  STATE                    ENDPOINT\np2  work  outbound   refused (grant_revoked)  https://w:7443"
        );
    }

    #[test]
    fn peers_show_a_dash_without_an_endpoint() {
        let p: PeerView = serde_json::from_value(json!({
            "id": "p1", "common_name": "home", "display_name": "home", "state": "pending",
            "direction": "inbound", "endpoint_url": null, "local_user_id": null,
            "cert_serial": "", "cert_not_after": "2026-11-22T10:00:00.000Z"
        }))
        .unwrap();
        assert_eq!(
            peer_table(&[p]),
            "ID  NAME  DIRECTION  STATE    ENDPOINT\np1  home  inbound    pending  -"
        );
    }
}
