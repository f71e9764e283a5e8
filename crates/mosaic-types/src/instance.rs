//! A gateway's public identity: `GET /api/v1/federation/instance`.

use crate::ids::InstanceId;
use serde::{Deserialize, Serialize};

/// What a gateway says about itself to anyone who asks. It never carries a
/// private key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicInstanceIdentity {
    /// Stable id, created on first start and kept across restarts and key rotations.
    pub instance_id: InstanceId,
    /// Display name.
    pub name: String,
    /// Base URL peers reach this gateway at, when configured.
    pub url: Option<String>,
    /// The instance signing key: PEM SubjectPublicKeyInfo.
    pub public_key: String,
    /// Algorithm of [`Self::public_key`], e.g. `ed25519`.
    pub key_algorithm: String,
    /// What this gateway supports, e.g. `federation.list`.
    pub capabilities: Vec<String>,
    /// SHA-256 fingerprint of the gateway CA certificate, colon-separated hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_fingerprint: Option<String>,
    /// When the identity was created (RFC 3339, UTC).
    pub created_at: String,
    /// When it last changed (RFC 3339, UTC).
    pub updated_at: String,
}

/// `POST /api/v1/federation/enroll`: a one-time token and a CSR whose key the
/// requester generated itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnrollmentRequest {
    /// The one-time enrollment token.
    pub token: String,
    /// PEM `CERTIFICATE REQUEST`.
    pub csr: String,
}

/// The answer to a successful enrollment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnrollmentResponse {
    /// The client certificate, PEM, carrying the grant's Mosaic OIDs.
    pub certificate: String,
    /// The issuing CA certificate, PEM.
    pub ca_certificate: String,
    /// The certificate serial, uppercase hex.
    pub serial: String,
    /// End of validity (RFC 3339, UTC).
    pub not_after: String,
    /// The grant the certificate acts under.
    pub grant_id: String,
    /// The peer the grant belongs to, on the issuing gateway.
    pub peer_id: String,
    /// The user the grant acts for, on the issuing gateway.
    pub subject_user_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wire_shape_is_camel_case() {
        let id = PublicInstanceIdentity {
            instance_id: InstanceId::new("i-1").unwrap(),
            name: "gw".into(),
            url: None,
            public_key: "PEM".into(),
            key_algorithm: "ed25519".into(),
            capabilities: vec!["federation.list".into()],
            ca_fingerprint: None,
            created_at: "2026-01-01T00:00:00.000Z".into(),
            updated_at: "2026-01-01T00:00:00.000Z".into(),
        };
        let v = serde_json::to_value(&id).unwrap();
        assert_eq!(
            v,
            json!({
                "instanceId": "i-1", "name": "gw", "url": null, "publicKey": "PEM",
                "keyAlgorithm": "ed25519", "capabilities": ["federation.list"],
                "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-01-01T00:00:00.000Z"
            })
        );
        assert_eq!(
            serde_json::from_value::<PublicInstanceIdentity>(v).unwrap(),
            id
        );
    }
}
