//! The gateway's instance identity: a stable id, a name, a URL, capabilities
//! and an Ed25519 signing key pair, created on first start and kept in the
//! `instance_identity` table (one row). The private key is stored sealed
//! with the gateway secret and unsealed only to sign.

use crate::pem;
use crate::seal::{SealError, Sealer};
use chrono::{DateTime, SecondsFormat, Utc};
use mosaic_store::entity::instance_identity;
use mosaic_store::sea_orm::{
    ActiveModelTrait, DatabaseConnection, DbErr, EntityTrait, IntoActiveModel, QueryOrder, Set,
};
use mosaic_store::truncate_to_millis;
use mosaic_types::{IdError, InstanceId, PublicInstanceIdentity};
use ring::rand::SystemRandom;
use ring::signature::{self, Ed25519KeyPair, KeyPair as _};

/// The signing key algorithm, as published.
pub const KEY_ALGORITHM: &str = "ed25519";

/// What this build of the gateway supports, as published in the identity.
pub const CAPABILITIES: &[&str] = &[
    "federation.capabilities",
    "federation.list",
    "federation.get",
    "enrollment.csr",
];

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the key's 32
/// bytes follow it.
const ED25519_SPKI_PREFIX: &[u8] = &[
    0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// Instance identity failures.
#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    /// No identity row yet (the gateway has not started on this database).
    #[error("this gateway has no instance identity yet; start the gateway once to create it")]
    NotInitialised,
    /// The stored private key does not open with this gateway's secret.
    #[error(
        "the instance signing key cannot be unsealed ({0}); regenerate it with POST /api/v1/federation/instance/regenerate-keys"
    )]
    Seal(#[from] SealError),
    /// Key generation failed, or the stored key is not an Ed25519 key.
    #[error("instance signing key: {0}")]
    Key(String),
    /// The stored id is invalid.
    #[error("stored instance id is invalid: {0}")]
    BadId(#[from] IdError),
    /// Storage failed.
    // Said once, in the message: not a `source`, so a printed chain
    // does not repeat the driver's words.
    #[error("instance identity storage failed: {}", mosaic_store::describe_db_err(.0))]
    Db(DbErr),
}

impl From<DbErr> for InstanceError {
    fn from(err: DbErr) -> Self {
        Self::Db(err)
    }
}

/// Name and URL from configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceConfig {
    /// Display name.
    pub name: String,
    /// Public base URL, if configured.
    pub url: Option<String>,
}

/// The result of [`Instances::ensure`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnsuredInstance {
    /// The public identity.
    pub identity: PublicInstanceIdentity,
    /// True on the first start.
    pub created: bool,
    /// False when the stored key does not open with this gateway's secret
    /// (the secret file was replaced); signing fails until keys are regenerated.
    pub signing_key_usable: bool,
}

/// The unsealed signing key, in memory only.
pub struct SigningKey {
    instance_id: InstanceId,
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("instance_id", &self.instance_id)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Signs `message`.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.pair.sign(message).as_ref().to_vec()
    }

    /// The raw 32-byte Ed25519 public key, for peers that verify this key's
    /// signatures without PEM (agent nodes).
    pub fn public_key_raw(&self) -> Vec<u8> {
        self.pair.public_key().as_ref().to_vec()
    }

    /// The instance whose key this is.
    pub fn instance_id(&self) -> &InstanceId {
        &self.instance_id
    }
}

/// Checks a signature made by an instance's published key.
pub fn verify_signature(public_key_pem: &str, message: &[u8], sig: &[u8]) -> bool {
    let Some(raw) = rustls_pki_types::pem::PemObject::from_pem_slice(public_key_pem.as_bytes())
        .ok()
        .and_then(|spki: rustls_pki_types::SubjectPublicKeyInfoDer<'static>| {
            spki.as_ref()
                .strip_prefix(ED25519_SPKI_PREFIX)
                .map(<[u8]>::to_vec)
        })
    else {
        return false;
    };
    signature::UnparsedPublicKey::new(&signature::ED25519, raw)
        .verify(message, sig)
        .is_ok()
}

fn purpose(id: &str) -> String {
    format!("instance-signing-key:{id}")
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn capabilities() -> serde_json::Value {
    serde_json::json!(CAPABILITIES)
}

/// A new key pair: (sealed PKCS#8, public key PEM).
fn new_key(sealer: &Sealer, id: &str) -> Result<(String, String), InstanceError> {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
        .map_err(|_| InstanceError::Key("the random number generator failed".to_owned()))?;
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
        .map_err(|e| InstanceError::Key(e.to_string()))?;
    let sealed = sealer.seal(&purpose(id), pkcs8.as_ref())?;
    let mut spki = ED25519_SPKI_PREFIX.to_vec();
    spki.extend_from_slice(pair.public_key().as_ref());
    Ok((sealed, pem::encode("PUBLIC KEY", &spki)))
}

/// Instance identity operations.
#[derive(Debug, Clone, Copy)]
pub struct Instances<'a> {
    db: &'a DatabaseConnection,
    sealer: &'a Sealer,
}

impl<'a> Instances<'a> {
    /// Operations on `db`, sealing with `sealer`.
    pub fn new(db: &'a DatabaseConnection, sealer: &'a Sealer) -> Self {
        Self { db, sealer }
    }

    async fn row(&self) -> Result<Option<instance_identity::Model>, InstanceError> {
        // One row by design; if a restore ever left two, the oldest is the identity.
        Ok(instance_identity::Entity::find()
            .order_by_asc(instance_identity::Column::CreatedAt)
            .one(self.db)
            .await?)
    }

    fn public(row: &instance_identity::Model) -> Result<PublicInstanceIdentity, InstanceError> {
        let capabilities = row
            .capabilities
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        Ok(PublicInstanceIdentity {
            instance_id: InstanceId::new(row.id.clone())?,
            name: row.name.clone(),
            url: row.url.clone(),
            public_key: row.signing_public_key.clone(),
            key_algorithm: KEY_ALGORITHM.to_owned(),
            capabilities,
            ca_fingerprint: None,
            created_at: stamp(row.created_at),
            updated_at: stamp(row.updated_at),
        })
    }

    /// Creates the identity on first start; afterwards keeps its id and keys
    /// and brings name, URL and capabilities up to date with `config`.
    pub async fn ensure(
        &self,
        config: &InstanceConfig,
        now: DateTime<Utc>,
    ) -> Result<EnsuredInstance, InstanceError> {
        let now = truncate_to_millis(now);
        if let Some(row) = self.row().await? {
            let signing_key_usable = self
                .sealer
                .unseal(&purpose(&row.id), &row.signing_private_key_sealed)
                .is_ok();
            let changed = row.name != config.name
                || row.url != config.url
                || row.capabilities != capabilities();
            let row = if changed {
                let mut active = row.into_active_model();
                active.name = Set(config.name.clone());
                active.url = Set(config.url.clone());
                active.capabilities = Set(capabilities());
                active.updated_at = Set(now);
                active.update(self.db).await?
            } else {
                row
            };
            return Ok(EnsuredInstance {
                identity: Self::public(&row)?,
                created: false,
                signing_key_usable,
            });
        }
        let id = uuid::Uuid::new_v4().to_string();
        let (sealed, public_key) = new_key(self.sealer, &id)?;
        let row = instance_identity::ActiveModel {
            id: Set(id),
            name: Set(config.name.clone()),
            url: Set(config.url.clone()),
            signing_public_key: Set(public_key),
            signing_private_key_sealed: Set(sealed),
            capabilities: Set(capabilities()),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(self.db)
        .await?;
        Ok(EnsuredInstance {
            identity: Self::public(&row)?,
            created: true,
            signing_key_usable: true,
        })
    }

    /// The public identity.
    pub async fn get(&self) -> Result<PublicInstanceIdentity, InstanceError> {
        let row = self.row().await?.ok_or(InstanceError::NotInitialised)?;
        Self::public(&row)
    }

    /// Replaces the signing key pair; the instance id stays.
    pub async fn regenerate_keys(
        &self,
        now: DateTime<Utc>,
    ) -> Result<PublicInstanceIdentity, InstanceError> {
        let row = self.row().await?.ok_or(InstanceError::NotInitialised)?;
        let (sealed, public_key) = new_key(self.sealer, &row.id)?;
        let mut active = row.into_active_model();
        active.signing_public_key = Set(public_key);
        active.signing_private_key_sealed = Set(sealed);
        active.updated_at = Set(truncate_to_millis(now));
        let row = active.update(self.db).await?;
        Self::public(&row)
    }

    /// Unseals the signing key for use in memory.
    pub async fn signing_key(&self) -> Result<SigningKey, InstanceError> {
        let row = self.row().await?.ok_or(InstanceError::NotInitialised)?;
        let pkcs8 = self
            .sealer
            .unseal(&purpose(&row.id), &row.signing_private_key_sealed)?;
        let pair =
            Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(|e| InstanceError::Key(e.to_string()))?;
        Ok(SigningKey {
            instance_id: InstanceId::new(row.id)?,
            pair,
        })
    }
}
