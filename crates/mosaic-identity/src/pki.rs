//! A gateway's PKI on disk: the CA, the federation server certificate and
//! the gateway secret, created on first start and reused afterwards.
//!
//! ```text
//! <data dir>/pki/            0700
//!   ca.crt                   0644  the gateway CA (absent with an external CA)
//!   ca.key                   0600
//!   server.crt, server.key   0644 / 0600  the federation listener's certificate
//!   secret.key               0600  the gateway secret that seals keys at rest
//! ```

use crate::ca::{CaError, CertificateAuthority};
use crate::claims;
use crate::files::{self, FileError};
use crate::profile::{self, Validity};
use crate::seal::{GatewaySecret, SealError, Sealer};
use chrono::{DateTime, Duration, Utc};
use rustls_pki_types::UnixTime;
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use x509_parser::extensions::GeneralName;
use zeroize::Zeroizing;

/// A server certificate closer than this to expiry is replaced on start.
pub const SERVER_RENEW_BEFORE: Duration = Duration::days(30);

/// Where the CA comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaSource {
    /// Mosaic's own CA in the data dir, generated on first start with this
    /// common name.
    Generated {
        /// Subject common name of a newly generated CA.
        common_name: String,
    },
    /// An operator's CA (e.g. a Step-CA intermediate): certificate and
    /// unencrypted private key, PEM.
    External {
        /// CA certificate file.
        cert: PathBuf,
        /// CA private key file.
        key: PathBuf,
    },
}

/// What the PKI is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkiOptions {
    /// The CA.
    pub ca: CaSource,
    /// DNS names and IP addresses of the federation server certificate.
    pub server_names: Vec<String>,
}

impl PkiOptions {
    /// Options from an operator's CA files (both or neither) and the server
    /// certificate's names; `name` names a generated CA.
    pub fn new(
        ca_cert: Option<&Path>,
        ca_key: Option<&Path>,
        server_names: &[String],
        name: &str,
    ) -> Result<Self, PkiError> {
        let ca = match (ca_cert, ca_key) {
            (None, None) => CaSource::Generated {
                common_name: format!("Mosaic gateway CA ({name})"),
            },
            (Some(cert), Some(key)) => CaSource::External {
                cert: cert.to_path_buf(),
                key: key.to_path_buf(),
            },
            _ => {
                return Err(PkiError::Config(
                    "identity.ca_cert and identity.ca_key must be set together (MOSAIC_IDENTITY__CA_CERT, MOSAIC_IDENTITY__CA_KEY), or both left unset to use the gateway's own CA".to_owned(),
                ));
            }
        };
        Ok(Self {
            ca,
            server_names: server_names.to_vec(),
        })
    }
}

/// The instance name: the configured one, else the host name, else
/// `mosaic-gateway`.
pub fn instance_name(configured: Option<&str>) -> String {
    configured
        .map(str::to_owned)
        .filter(|n| !n.trim().is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "mosaic-gateway".to_owned())
}

/// The PKI could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// A file could not be read or written.
    #[error(transparent)]
    File(#[from] FileError),
    /// A CA file is unusable.
    #[error("{path}: {source}")]
    Ca {
        /// The file (or directory) concerned.
        path: PathBuf,
        /// Why.
        #[source]
        source: CaError,
    },
    /// The external CA's files are half configured.
    #[error("{0}")]
    Config(String),
    /// The gateway secret file is unusable.
    #[error("{path}: {source}")]
    Secret {
        /// The secret file.
        path: PathBuf,
        /// Why.
        #[source]
        source: SealError,
    },
}

/// Paths inside the PKI directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkiPaths {
    root: PathBuf,
}

impl PkiPaths {
    /// The `pki` directory under `data_dir`.
    pub fn new(data_dir: &Path) -> Self {
        Self {
            root: data_dir.join("pki"),
        }
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// The generated CA's certificate.
    pub fn ca_cert(&self) -> PathBuf {
        self.root.join("ca.crt")
    }
    /// The generated CA's key.
    pub fn ca_key(&self) -> PathBuf {
        self.root.join("ca.key")
    }
    /// The federation server certificate.
    pub fn server_cert(&self) -> PathBuf {
        self.root.join("server.crt")
    }
    /// The federation server key.
    pub fn server_key(&self) -> PathBuf {
        self.root.join("server.key")
    }
    /// The gateway secret.
    pub fn secret(&self) -> PathBuf {
        self.root.join("secret.key")
    }
}

/// Something the last load did, for the gateway to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PkiEvent {
    /// A new CA was generated.
    CaCreated,
    /// A new gateway secret was generated.
    SecretCreated,
    /// A server certificate was issued (first start, renamed, expiring, new CA).
    ServerCertIssued {
        /// Its names.
        names: Vec<String>,
    },
    /// A key file had loose permissions and was set back to 0600.
    PermissionsTightened(PathBuf),
}

/// The federation server's certificate and key.
#[derive(Debug)]
pub struct ServerIdentity {
    /// Certificate PEM.
    pub cert_pem: String,
    /// Private key PEM.
    pub key_pem: Zeroizing<String>,
    /// End of validity.
    pub not_after: DateTime<Utc>,
}

/// Everything a gateway's PKI provides at run time.
#[derive(Debug)]
pub struct GatewayPki {
    /// The CA that signs peers' client certificates.
    pub ca: CertificateAuthority,
    /// Seals keys at rest.
    pub sealer: Sealer,
    /// The federation listener's identity.
    pub server: ServerIdentity,
    /// Where the files are.
    pub paths: PkiPaths,
    /// What this load created or repaired.
    pub events: Vec<PkiEvent>,
}

impl GatewayPki {
    /// Loads the PKI from `data_dir`, creating what is missing.
    pub fn load_or_create(
        data_dir: &Path,
        options: &PkiOptions,
        now: DateTime<Utc>,
    ) -> Result<Self, PkiError> {
        let paths = PkiPaths::new(data_dir);
        files::private_dir(paths.root())?;
        let mut events = Vec::new();
        let ca = load_ca(&paths, &options.ca, now, &mut events)?;
        let secret = load_secret(&paths, &mut events)?;
        let server = load_server(&paths, &ca, &options.server_names, now, &mut events)?;
        Ok(Self {
            ca,
            sealer: Sealer::new(&secret),
            server,
            paths,
            events,
        })
    }

    /// Loads only the CA (for `mosaic ca show` and other read-only tools);
    /// never creates anything.
    pub fn load_ca(
        data_dir: &Path,
        source: &CaSource,
    ) -> Result<Option<CertificateAuthority>, PkiError> {
        let (cert_path, key_path) = ca_files(&PkiPaths::new(data_dir), source);
        let Some(cert) = files::read_optional(&cert_path)? else {
            return Ok(None);
        };
        let key = files::read(&key_path)?;
        CertificateAuthority::from_pem(&cert, &key)
            .map(Some)
            .map_err(|source| PkiError::Ca {
                path: cert_path,
                source,
            })
    }
}

fn ca_files(paths: &PkiPaths, source: &CaSource) -> (PathBuf, PathBuf) {
    match source {
        CaSource::Generated { .. } => (paths.ca_cert(), paths.ca_key()),
        CaSource::External { cert, key } => (cert.clone(), key.clone()),
    }
}

fn load_ca(
    paths: &PkiPaths,
    source: &CaSource,
    now: DateTime<Utc>,
    events: &mut Vec<PkiEvent>,
) -> Result<CertificateAuthority, PkiError> {
    match source {
        CaSource::External { cert, key } => {
            let cert_pem = files::read(cert)?;
            let key_pem = files::read(key)?;
            CertificateAuthority::from_pem(&cert_pem, &key_pem).map_err(|source| PkiError::Ca {
                path: cert.clone(),
                source,
            })
        }
        CaSource::Generated { common_name } => {
            let (cert_path, key_path) = (paths.ca_cert(), paths.ca_key());
            let cert = files::read_optional(&cert_path)?;
            let key = files::read_optional(&key_path)?;
            match (cert, key) {
                (Some(cert), Some(key)) => {
                    if files::tighten(&key_path)? {
                        events.push(PkiEvent::PermissionsTightened(key_path.clone()));
                    }
                    CertificateAuthority::from_pem(&cert, &key).map_err(|source| PkiError::Ca {
                        path: cert_path,
                        source,
                    })
                }
                (None, None) => {
                    let ca =
                        CertificateAuthority::generate(common_name, now).map_err(|source| {
                            PkiError::Ca {
                                path: paths.root().to_path_buf(),
                                source,
                            }
                        })?;
                    // Key first: a certificate without its key would be unusable.
                    files::write_private(&key_path, ca.key_pem().as_bytes())?;
                    files::write_public(&cert_path, ca.cert_pem().as_bytes())?;
                    events.push(PkiEvent::CaCreated);
                    Ok(ca)
                }
                (Some(_), None) | (None, Some(_)) => Err(PkiError::Config(format!(
                    "{} and {} must both exist or both be absent; restore the missing one from backup, or remove both to create a new CA (every issued certificate then stops being trusted)",
                    cert_path.display(),
                    key_path.display()
                ))),
            }
        }
    }
}

fn load_secret(paths: &PkiPaths, events: &mut Vec<PkiEvent>) -> Result<GatewaySecret, PkiError> {
    let path = paths.secret();
    let bad = |source| PkiError::Secret {
        path: path.clone(),
        source,
    };
    match files::read_optional(&path)? {
        Some(text) => {
            if files::tighten(&path)? {
                events.push(PkiEvent::PermissionsTightened(path.clone()));
            }
            GatewaySecret::from_base64(&text).map_err(bad)
        }
        None => {
            let secret = GatewaySecret::generate().map_err(bad)?;
            files::write_private(&path, secret.to_base64().as_bytes())?;
            events.push(PkiEvent::SecretCreated);
            Ok(secret)
        }
    }
}

fn normalise(name: &str) -> String {
    name.parse::<IpAddr>()
        .map(|ip| ip.to_string())
        .unwrap_or_else(|_| name.trim().to_ascii_lowercase())
}

/// The server certificate on disk is reused when it chains to the current CA,
/// names exactly the configured names, has its key beside it and is not
/// about to expire.
fn reusable(
    cert_pem: &str,
    key_pem: &str,
    ca: &CertificateAuthority,
    names: &[String],
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let der = crate::pem::certificate(cert_pem).ok()?;
    let cert = claims::parse_cert(&der).ok()?;
    let not_after = claims::utc(cert.validity().not_after);
    if not_after - now < SERVER_RENEW_BEFORE {
        return None;
    }
    let wanted: BTreeSet<String> = names.iter().map(|n| normalise(n)).collect();
    let san = cert.subject_alternative_name().ok()??;
    let present: BTreeSet<String> = san
        .value
        .general_names
        .iter()
        .filter_map(|n| match n {
            GeneralName::DNSName(d) => Some(normalise(d)),
            GeneralName::IPAddress(b) => match b.len() {
                4 => <[u8; 4]>::try_from(*b)
                    .ok()
                    .map(|a| IpAddr::from(a).to_string()),
                16 => <[u8; 16]>::try_from(*b)
                    .ok()
                    .map(|a| IpAddr::from(a).to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    if wanted != present {
        return None;
    }
    let key = crate::keys::from_pem(key_pem).ok()?;
    if cert.public_key().raw != rcgen::PublicKeyData::subject_public_key_info(&key).as_slice() {
        return None;
    }
    let end_entity = webpki::EndEntityCert::try_from(&der).ok()?;
    let anchor = webpki::anchor_from_trusted_cert(ca.cert_der()).ok()?;
    let secs = u64::try_from(now.timestamp()).ok()?;
    end_entity
        .verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &[anchor],
            &[],
            UnixTime::since_unix_epoch(std::time::Duration::from_secs(secs)),
            webpki::KeyUsage::server_auth(),
            None,
            None,
        )
        .ok()?;
    Some(not_after)
}

fn load_server(
    paths: &PkiPaths,
    ca: &CertificateAuthority,
    names: &[String],
    now: DateTime<Utc>,
    events: &mut Vec<PkiEvent>,
) -> Result<ServerIdentity, PkiError> {
    let (cert_path, key_path) = (paths.server_cert(), paths.server_key());
    if let (Some(cert_pem), Some(key_pem)) = (
        files::read_optional(&cert_path)?,
        files::read_optional(&key_path)?,
    ) {
        let key_pem = Zeroizing::new(key_pem);
        if let Some(not_after) = reusable(&cert_pem, &key_pem, ca, names, now) {
            if files::tighten(&key_path)? {
                events.push(PkiEvent::PermissionsTightened(key_path));
            }
            return Ok(ServerIdentity {
                cert_pem,
                key_pem,
                not_after,
            });
        }
    }
    let issued = ca
        .issue_server(names, Validity::starting(now, profile::SERVER_LIFETIME))
        .map_err(|source| PkiError::Ca {
            path: cert_path.clone(),
            source,
        })?;
    files::write_private(&key_path, issued.key_pem.as_bytes())?;
    files::write_public(&cert_path, issued.cert.pem.as_bytes())?;
    events.push(PkiEvent::ServerCertIssued {
        names: names.to_vec(),
    });
    Ok(ServerIdentity {
        cert_pem: issued.cert.pem,
        key_pem: issued.key_pem,
        not_after: issued.cert.validity.not_after,
    })
}
