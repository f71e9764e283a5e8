//! Mosaic's identity and PKI: who a federated request comes from, proven by
//! X.509.
//!
//! - [`oid`]: the Mosaic OID arc (`2.25.<UUID>`) and the certificate
//!   extensions under it (grant id, subject user id, peer id, instance id,
//!   profile version).
//! - [`CertificateAuthority`]: the gateway CA (generated ECDSA P-256, or an
//!   operator's own, e.g. Step-CA) issuing server certificates, client
//!   certificates carrying Mosaic claims, signed CSRs and [CRLs](Crl).
//! - [`VerifiedCsr`] / [`generate_csr`]: enrollment by CSR, so private keys
//!   never cross the wire.
//! - [`verify_client_chain`]: chain, validity, usage and OIDs, with one
//!   precise [`VerifyError`] per failure; [`extract_identity`] for callers
//!   whose TLS layer already checked the chain.
//! - [`Sealer`]: AEAD sealing of keys at rest under the gateway secret.
//! - [`GatewayPki`]: the CA, server certificate and secret in the data dir.
//! - With the `store` feature: [`enrollment`] (one-time tokens, CSR
//!   enrollment) and [`instance`] (the gateway's public identity).
//! - With the `testing` feature: [`testing`] certificates for other crates'
//!   tests.
//!
//! ```
//! use chrono::Utc;
//! use mosaic_identity::{
//!     CertificateAuthority, MosaicClaims, Validity, VerifiedCsr, generate_csr,
//!     verify_client_chain,
//! };
//! use mosaic_types::{GrantId, UserId};
//!
//! let now = Utc::now();
//! let ca = CertificateAuthority::generate("Mosaic CA gw-b", now)?;
//!
//! // The peer makes its key and CSR locally and sends only the CSR.
//! let request = generate_csr("gw-a")?;
//! let csr = VerifiedCsr::from_pem(&request.csr_pem)?;
//!
//! // The CA signs it with the grant's claims.
//! let claims = MosaicClaims::new(GrantId::new("grant-1")?, UserId::new("alice")?);
//! let cert = ca.sign_csr(&csr, "gw-a", &claims, Validity::starting(now, chrono::Duration::days(90)))?;
//!
//! // Later, the peer presents it; the gateway verifies and reads the claims.
//! let identity = verify_client_chain(&[cert.der.clone()], &ca.trust_anchors(), Utc::now())?;
//! assert_eq!(identity.claims.grant_id.as_str(), "grant-1");
//! assert_eq!(identity.serial, cert.serial);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! This crate knows certificates, keys and (behind `store`) the tables it
//! owns rows in. It knows nothing of HTTP, TLS sessions, scopes or the CLI:
//! the gateway maps [`VerifyError`] to 401s, the federation listener feeds it
//! the peer's certificate.

mod ca;
mod claims;
mod crl;
mod csr;
mod der;
pub mod files;
#[doc(hidden)]
pub mod fuzzing;
mod inspect;
mod keys;
pub mod oid;
mod pem;
mod pki;
mod profile;
mod seal;
mod serial;
mod signer;
mod verify;

#[cfg(feature = "store")]
pub mod enrollment;
#[cfg(feature = "store")]
pub mod instance;
#[cfg(feature = "testing")]
pub mod testing;

pub use ca::{CaError, CertificateAuthority, Fingerprint, IssuedCert, IssuedKeyPair};
pub use claims::{CertIdentity, MosaicClaims, extract_identity};
pub use crl::{Crl, Revocation, RevocationReason};
pub use csr::{CsrBundle, CsrError, VerifiedCsr, generate_csr};
pub use der::DerError;
pub use inspect::{CertSummary, ExtensionSummary, inspect};
pub use keys::KeyError;
pub use oid::{MosaicOid, PROFILE_VERSION};
pub use pem::{PemError, certificate_pem_or_der, certificates as pem_certificates};
pub use pki::{
    CaSource, GatewayPki, PkiError, PkiEvent, PkiOptions, PkiPaths, ServerIdentity, instance_name,
};
pub use profile::{CA_LIFETIME, CLIENT_LIFETIME, NameError, SERVER_LIFETIME, Validity};
pub use seal::{GatewaySecret, SEALED_PREFIX, SealError, Sealer};
pub use serial::{BadSerial, CertSerial, RandomError};
pub use verify::{TrustAnchors, VerifyError, verify_chain, verify_client_chain};
