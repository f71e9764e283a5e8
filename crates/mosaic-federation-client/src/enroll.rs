//! The enrolling side of onboarding: trade a one-time code and a CSR for a
//! client certificate, trusting the peer's CA only if it matches the pin the
//! code carries.
//!
//! An enrollment code is `<token>.<sha256 of the peer CA, 64 hex digits>`.
//! The CA is fetched first over an unauthenticated TLS connection and checked
//! against the pin; only then is the token sent, over a connection verified
//! against that CA. A wrong pin therefore never exposes the token.

use crate::error::{ClientErrorCode, FederationClientError};
use mosaic_types::{EnrollmentRequest, EnrollmentResponse, ErrorEnvelope};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use serde::{Deserialize, Serialize};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use url::Url;
use zeroize::Zeroizing;

/// A one-time enrollment code: the token and the pinned CA fingerprint.
#[derive(Clone)]
pub struct EnrollmentCode {
    /// The token (secret).
    pub token: Zeroizing<String>,
    /// SHA-256 of the peer CA's DER, lowercase hex.
    pub ca_sha256: String,
}

impl std::fmt::Debug for EnrollmentCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrollmentCode")
            .field("ca_sha256", &self.ca_sha256)
            .finish_non_exhaustive()
    }
}

impl EnrollmentCode {
    /// Joins a token and the CA fingerprint (any case, colons allowed).
    pub fn new(token: &str, ca_fingerprint: &str) -> Self {
        Self {
            token: Zeroizing::new(token.to_owned()),
            ca_sha256: ca_fingerprint.replace(':', "").to_ascii_lowercase(),
        }
    }

    /// The printable code.
    pub fn to_code(&self) -> Zeroizing<String> {
        Zeroizing::new(format!("{}.{}", self.token.as_str(), self.ca_sha256))
    }
}

/// An enrollment code that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the enrollment code is malformed: expected <token>.<64 hex digits> as printed by `mosaic federation grant create`"
)]
pub struct MalformedCode;

impl FromStr for EnrollmentCode {
    type Err = MalformedCode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (token, pin) = s.trim().rsplit_once('.').ok_or(MalformedCode)?;
        let hex = pin.len() == 64 && pin.bytes().all(|b| b.is_ascii_hexdigit());
        if token.is_empty() || !hex {
            return Err(MalformedCode);
        }
        Ok(Self::new(token, pin))
    }
}

/// SHA-256 of a DER certificate, lowercase hex.
pub fn sha256_hex(der: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Body of `GET /api/federation/v1/ca`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaResponse {
    /// The CA certificate, PEM.
    pub ca_certificate: String,
}

/// What enrollment yields.
#[derive(Debug, Clone)]
pub struct Enrolled {
    /// The peer's answer (certificate, CA, grant, serial…).
    pub response: EnrollmentResponse,
    /// The CA as fetched and verified against the pin.
    pub ca_pem: String,
}

/// Accepts any server certificate: used for one request only, to fetch the
/// CA certificate that is then checked against the pin. Nothing secret is sent
/// on that connection.
#[derive(Debug)]
struct FetchOnly(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for FetchOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn err(code: ClientErrorCode, peer: &str, message: impl Into<String>) -> FederationClientError {
    FederationClientError::new(code, peer, message)
}

fn transport(peer: &str, e: &reqwest::Error) -> FederationClientError {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    let code = if e.is_timeout() {
        ClientErrorCode::Timeout
    } else {
        ClientErrorCode::Network
    };
    err(code, peer, message)
}

async fn refusal(peer: &str, response: reqwest::Response) -> FederationClientError {
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap_or_default();
    let envelope: Option<ErrorEnvelope> = serde_json::from_slice(&body).ok();
    let message = envelope
        .as_ref()
        .map_or_else(|| format!("HTTP {status}"), |e| e.error.message.clone());
    let mut e = err(
        FederationClientError::code_for_status(status),
        peer,
        message,
    );
    e.status = Some(status);
    e.envelope = envelope.map(Box::new);
    e
}

/// Enrolls with the peer at `endpoint` (its federation listener, `https://…`).
/// `csr_pem` is a CSR for a key the caller generated and keeps.
pub async fn enroll(
    endpoint: &str,
    code: &EnrollmentCode,
    csr_pem: &str,
    timeout: Duration,
) -> Result<Enrolled, FederationClientError> {
    let peer = endpoint;
    let base = federation_base(endpoint)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // 1. Fetch the CA without trusting anything yet.
    let ca = fetch_ca(&base, provider.clone(), timeout, peer).await?;
    let ca_der = pinned_ca(&ca, code, peer)?;
    // 2. Enroll over a connection verified against the pinned CA.
    let client = pinned_client(ca_der, provider, timeout, peer)?;
    let response = post_enrollment(&client, &base, code, csr_pem, peer).await?;
    Ok(Enrolled {
        response,
        ca_pem: ca.ca_certificate,
    })
}

/// The peer's federation address, which must be an `https://` URL.
fn federation_base(endpoint: &str) -> Result<Url, FederationClientError> {
    let peer = endpoint;
    let base = Url::parse(endpoint).map_err(|e| {
        err(
            ClientErrorCode::Config,
            peer,
            format!("`{endpoint}` is not a URL: {e}"),
        )
    })?;
    if base.scheme() != "https" {
        return Err(err(
            ClientErrorCode::Config,
            peer,
            format!("`{endpoint}` must be https:// (the peer's federation address)"),
        ));
    }
    Ok(base)
}

fn join(base: &Url, path: &str, peer: &str) -> Result<Url, FederationClientError> {
    base.join(path)
        .map_err(|e| err(ClientErrorCode::Config, peer, format!("bad endpoint: {e}")))
}

/// `GET /api/federation/v1/ca` over a connection that trusts any
/// certificate: nothing secret is sent, and the answer is checked against
/// the pin before anything is.
async fn fetch_ca(
    base: &Url,
    provider: Arc<rustls::crypto::CryptoProvider>,
    timeout: Duration,
    peer: &str,
) -> Result<CaResponse, FederationClientError> {
    let fetch_tls = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| err(ClientErrorCode::Config, peer, e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(FetchOnly(provider)))
        .with_no_client_auth();
    let fetch = reqwest::Client::builder()
        .use_preconfigured_tls(fetch_tls)
        .timeout(timeout)
        .build()
        .map_err(|e| err(ClientErrorCode::Config, peer, e.to_string()))?;
    let response = fetch
        .get(join(base, "/api/federation/v1/ca", peer)?)
        .send()
        .await
        .map_err(|e| transport(peer, &e))?;
    if !response.status().is_success() {
        return Err(refusal(peer, response).await);
    }
    response.json().await.map_err(|e| {
        err(
            ClientErrorCode::InvalidResponse,
            peer,
            format!("CA answer is not JSON: {e}"),
        )
    })
}

/// The fetched CA certificate, if it is the one the code pins.
fn pinned_ca(
    ca: &CaResponse,
    code: &EnrollmentCode,
    peer: &str,
) -> Result<CertificateDer<'static>, FederationClientError> {
    let ca_der = CertificateDer::pem_slice_iter(ca.ca_certificate.as_bytes())
        .next()
        .and_then(Result::ok)
        .ok_or_else(|| {
            err(
                ClientErrorCode::InvalidResponse,
                peer,
                "the peer sent no CA certificate",
            )
        })?;
    let actual = sha256_hex(&ca_der);
    if actual != code.ca_sha256 {
        return Err(err(
            ClientErrorCode::CaMismatch,
            peer,
            format!(
                "the peer's CA (sha256 {actual}) is not the one the enrollment code pins ({}); the code is for another gateway or the connection is intercepted",
                code.ca_sha256
            ),
        ));
    }
    Ok(ca_der)
}

/// An HTTPS client that trusts `ca_der` alone.
fn pinned_client(
    ca_der: CertificateDer<'static>,
    provider: Arc<rustls::crypto::CryptoProvider>,
    timeout: Duration,
    peer: &str,
) -> Result<reqwest::Client, FederationClientError> {
    let mut roots = RootCertStore::empty();
    roots.add(ca_der).map_err(|e| {
        err(
            ClientErrorCode::InvalidResponse,
            peer,
            format!("the peer's CA is unusable: {e}"),
        )
    })?;
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| err(ClientErrorCode::Config, peer, e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .https_only(true)
        .timeout(timeout)
        .build()
        .map_err(|e| err(ClientErrorCode::Config, peer, e.to_string()))
}

/// `POST /api/federation/v1/enroll`: the token and the CSR, for a
/// certificate.
async fn post_enrollment(
    client: &reqwest::Client,
    base: &Url,
    code: &EnrollmentCode,
    csr_pem: &str,
    peer: &str,
) -> Result<EnrollmentResponse, FederationClientError> {
    let body = EnrollmentRequest {
        token: code.token.as_str().to_owned(),
        csr: csr_pem.to_owned(),
    };
    let response = client
        .post(join(base, "/api/federation/v1/enroll", peer)?)
        .json(&body)
        .send()
        .await
        .map_err(|e| transport(peer, &e))?;
    if !response.status().is_success() {
        return Err(refusal(peer, response).await);
    }
    response.json().await.map_err(|e| {
        err(
            ClientErrorCode::InvalidResponse,
            peer,
            format!("enrollment answer is not JSON: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_reject_garbage() {
        let pin = "AB:".repeat(31) + "AB";
        let code = EnrollmentCode::new("mosaic_enroll_abc-_x", &pin);
        assert_eq!(code.ca_sha256, "ab".repeat(32));
        let text = code.to_code();
        let back: EnrollmentCode = text.parse().unwrap();
        assert_eq!(back.token.as_str(), "mosaic_enroll_abc-_x");
        assert_eq!(back.ca_sha256, code.ca_sha256);
        for bad in [
            "",
            "token",
            "token.abc",
            &format!(".{}", "a".repeat(64)),
            &format!("t.{}", "g".repeat(64)),
        ] {
            assert!(bad.parse::<EnrollmentCode>().is_err(), "{bad}");
        }
    }
}
