//! Instance identity on every backend: created once, the same after a
//! restart, public view without private material, key regeneration.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::Utc;
use mosaic_identity::instance::{
    CAPABILITIES, InstanceConfig, InstanceError, Instances, verify_signature,
};
use mosaic_identity::{GatewaySecret, Sealer};
use mosaic_store::entity::instance_identity;
use mosaic_store::sea_orm::EntityTrait;
use mosaic_store::testing::all_backends;

fn config(name: &str) -> InstanceConfig {
    InstanceConfig {
        name: name.to_owned(),
        url: Some("https://gw.example.test:7443".to_owned()),
    }
}

#[tokio::test]
async fn identity_is_created_once_and_survives_restart() {
    for db in all_backends().await {
        let secret = GatewaySecret::generate().unwrap();
        let sealer = Sealer::new(&secret);
        let conn = db.store.conn();
        let instances = Instances::new(conn, &sealer);
        assert!(matches!(
            instances.get().await,
            Err(InstanceError::NotInitialised)
        ));

        let first = instances.ensure(&config("gw-a"), Utc::now()).await.unwrap();
        assert!(first.created && first.signing_key_usable);
        assert_eq!(first.identity.name, "gw-a");
        assert_eq!(first.identity.key_algorithm, "ed25519");
        assert_eq!(first.identity.capabilities, CAPABILITIES);
        assert!(
            first
                .identity
                .public_key
                .starts_with("-----BEGIN PUBLIC KEY-----")
        );

        // A restart: a new connection, the same secret (read back from its file form).
        let reopened = db.connect_again(2).await.unwrap();
        let sealer2 = Sealer::new(&GatewaySecret::from_base64(&secret.to_base64()).unwrap());
        let again = Instances::new(reopened.conn(), &sealer2)
            .ensure(&config("gw-a"), Utc::now())
            .await
            .unwrap();
        assert!(!again.created && again.signing_key_usable);
        assert_eq!(again.identity, first.identity);

        // The key signs, and the published key verifies it.
        let key = Instances::new(reopened.conn(), &sealer2)
            .signing_key()
            .await
            .unwrap();
        assert_eq!(key.instance_id(), &first.identity.instance_id);
        let sig = key.sign(b"hello");
        assert!(verify_signature(&first.identity.public_key, b"hello", &sig));
        assert!(!verify_signature(
            &first.identity.public_key,
            b"other",
            &sig
        ));

        // A rename keeps id and key.
        let renamed = instances
            .ensure(&config("gw-renamed"), Utc::now())
            .await
            .unwrap();
        assert_eq!(renamed.identity.instance_id, first.identity.instance_id);
        assert_eq!(renamed.identity.public_key, first.identity.public_key);
        assert_eq!(renamed.identity.name, "gw-renamed");

        let rows = instance_identity::Entity::find().all(conn).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert!(
            rows[0]
                .signing_private_key_sealed
                .starts_with(mosaic_identity::SEALED_PREFIX)
        );
        let public = serde_json::to_string(&instances.get().await.unwrap()).unwrap();
        assert!(!public.contains("PRIVATE"), "{public}");
        assert!(!public.contains(&rows[0].signing_private_key_sealed));
        reopened.close().await.unwrap();
        db.cleanup().await;
    }
}

#[tokio::test]
async fn regenerating_keys_keeps_the_id_and_retires_the_old_key() {
    for db in all_backends().await {
        let sealer = Sealer::new(&GatewaySecret::generate().unwrap());
        let instances = Instances::new(db.store.conn(), &sealer);
        let first = instances
            .ensure(&config("gw"), Utc::now())
            .await
            .unwrap()
            .identity;
        let old_sig = instances.signing_key().await.unwrap().sign(b"m");
        let regenerated = instances.regenerate_keys(Utc::now()).await.unwrap();
        assert_eq!(regenerated.instance_id, first.instance_id);
        assert_ne!(regenerated.public_key, first.public_key);
        assert!(!verify_signature(&regenerated.public_key, b"m", &old_sig));
        let new_sig = instances.signing_key().await.unwrap().sign(b"m");
        assert!(verify_signature(&regenerated.public_key, b"m", &new_sig));
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_replaced_secret_is_reported_not_fatal() {
    for db in all_backends().await {
        let sealer = Sealer::new(&GatewaySecret::generate().unwrap());
        Instances::new(db.store.conn(), &sealer)
            .ensure(&config("gw"), Utc::now())
            .await
            .unwrap();
        let other = Sealer::new(&GatewaySecret::generate().unwrap());
        let instances = Instances::new(db.store.conn(), &other);
        let ensured = instances.ensure(&config("gw"), Utc::now()).await.unwrap();
        assert!(!ensured.signing_key_usable);
        let err = instances.signing_key().await.unwrap_err();
        assert!(err.to_string().contains("regenerate-keys"), "{err}");
        instances.regenerate_keys(Utc::now()).await.unwrap();
        assert!(instances.signing_key().await.is_ok());
        db.cleanup().await;
    }
}
