//! Entry points for the fuzz targets under `fuzz/` and for the in-tree
//! mutation test: every function that reads bytes a stranger controls, fed
//! the same input. Nothing here may panic, whatever the input.

use crate::ca::CertificateAuthority;
use crate::claims::MosaicClaims;
use crate::csr::{VerifiedCsr, generate_csr};
use crate::profile::{CLIENT_LIFETIME, Validity};
use crate::verify::{TrustAnchors, verify_client_chain};
use chrono::{DateTime, Utc};
use mosaic_types::{GrantId, UserId};
use rustls_pki_types::CertificateDer;
use std::sync::OnceLock;

struct Fixture {
    anchors: TrustAnchors,
    leaf: CertificateDer<'static>,
    now: DateTime<Utc>,
}

/// A CA and a valid leaf, made once per process; `None` if making them
/// failed (then only the anchor-free paths run).
fn fixture() -> Option<&'static Fixture> {
    static FIXTURE: OnceLock<Option<Fixture>> = OnceLock::new();
    FIXTURE
        .get_or_init(|| {
            let now = Utc::now();
            let ca = CertificateAuthority::generate("Mosaic fuzz CA", now).ok()?;
            let claims = MosaicClaims::new(GrantId::new("g").ok()?, UserId::new("u").ok()?);
            let leaf = ca
                .issue_client("fuzz", &claims, Validity::starting(now, CLIENT_LIFETIME))
                .ok()?;
            Some(Fixture {
                anchors: ca.trust_anchors(),
                leaf: leaf.cert.der,
                now,
            })
        })
        .as_ref()
}

/// Feeds `data` to OID extraction, inspection, verification (as leaf and as
/// intermediate), trust-anchor parsing, CSR parsing and PEM-or-DER detection.
pub fn identity_der(data: &[u8]) {
    let der = CertificateDer::from(data.to_vec());
    let _ = crate::claims::extract_identity(data);
    let _ = crate::inspect::inspect(data);
    let _ = VerifiedCsr::from_der(data);
    let _ = TrustAnchors::from_der(vec![der.clone()]);
    let _ = crate::pem::certificate_pem_or_der(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = TrustAnchors::from_pem(text);
        let _ = VerifiedCsr::from_pem(text);
        let _ = crate::keys::from_pem(text);
    }
    if let Some(f) = fixture() {
        let _ = verify_client_chain(std::slice::from_ref(&der), &f.anchors, f.now);
        let _ = verify_client_chain(&[f.leaf.clone(), der], &f.anchors, f.now);
    }
}

/// Well-formed inputs to start mutating from: a Mosaic client certificate, a
/// certificate without OIDs, a CA certificate, a server certificate and a CSR.
pub fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();
    let now = Utc::now();
    let Ok(ca) = CertificateAuthority::generate("Mosaic seed CA", now) else {
        return out;
    };
    out.push(("ca", ca.cert_der().as_ref().to_vec()));
    let validity = Validity::starting(now, CLIENT_LIFETIME);
    if let (Ok(g), Ok(u)) = (GrantId::new("grant-1"), UserId::new("alice"))
        && let Ok(c) = ca.issue_client("peer", &MosaicClaims::new(g, u), validity)
    {
        out.push(("mosaic-client", c.cert.der.as_ref().to_vec()));
    }
    if let Ok(key) = crate::keys::generate()
        && let Ok(c) = ca.issue_client_for_key("plain", None, &key, validity)
    {
        out.push(("client-without-oids", c.der.as_ref().to_vec()));
    }
    if let Ok(s) = ca.issue_server(&["localhost".to_owned()], validity) {
        out.push(("server", s.cert.der.as_ref().to_vec()));
    }
    if let Ok(bundle) = generate_csr("peer")
        && let Ok(der) = crate::pem::csr(&bundle.csr_pem)
    {
        out.push(("csr", der.as_ref().to_vec()));
    }
    out
}
