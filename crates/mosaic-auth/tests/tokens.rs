//! Token lifecycle on both backends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mosaic_auth::{AuthError, Role, Tokens, hash_secret};
use mosaic_store::entity::api_tokens;
use mosaic_store::sea_orm::EntityTrait;
use mosaic_store::testing::all_backends;

#[tokio::test]
async fn issue_verify_revoke() {
    for db in all_backends().await {
        let tokens = Tokens::new(db.store.conn());
        let issued = tokens.issue(Role::Admin, None, "ops").await.unwrap();

        // Only the hash is stored.
        let row = api_tokens::Entity::find_by_id(issued.id.clone())
            .one(db.store.conn())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.token_hash, hash_secret(&issued.secret));
        assert!(!row.token_hash.contains(&issued.secret));

        let p = tokens.verify(&issued.secret).await.unwrap();
        assert_eq!((p.role, p.user_id.as_deref()), (Role::Admin, None));
        assert_eq!(p.token_id, issued.id);

        tokens.revoke(&issued.id).await.unwrap();
        assert!(matches!(
            tokens.verify(&issued.secret).await,
            Err(AuthError::Invalid)
        ));
        tokens.revoke(&issued.id).await.unwrap();
        assert!(matches!(
            tokens.revoke("nope").await,
            Err(AuthError::NotFound(_))
        ));
        db.cleanup().await;
    }
}

#[tokio::test]
async fn bad_secrets_are_told_apart() {
    for db in all_backends().await {
        let tokens = Tokens::new(db.store.conn());
        assert!(matches!(tokens.verify("").await, Err(AuthError::Missing)));
        assert!(matches!(
            tokens.verify("hunter2").await,
            Err(AuthError::Malformed)
        ));
        let unknown = mosaic_auth::generate_secret().unwrap();
        assert!(matches!(
            tokens.verify(&unknown).await,
            Err(AuthError::Invalid)
        ));
        db.cleanup().await;
    }
}

#[tokio::test]
async fn roles_are_enforced() {
    for db in all_backends().await {
        use mosaic_store::sea_orm::{ActiveModelTrait, Set};
        mosaic_store::entity::users::ActiveModel {
            id: Set("u1".into()),
            name: Set("U".into()),
            email: Set("u@x.test".into()),
            email_verified: Set(false),
            created_at: Set(mosaic_store::now()),
            updated_at: Set(mosaic_store::now()),
        }
        .insert(db.store.conn())
        .await
        .unwrap();
        let tokens = Tokens::new(db.store.conn());
        let user = tokens
            .issue(Role::User, Some("u1"), "laptop")
            .await
            .unwrap();
        let p = tokens.require(&user.secret, Role::User).await.unwrap();
        assert_eq!(p.user_id.as_deref(), Some("u1"));
        let err = tokens.require(&user.secret, Role::Admin).await.unwrap_err();
        assert!(matches!(
            err,
            AuthError::WrongRole {
                needed: Role::Admin,
                actual: Role::User
            }
        ));
        db.cleanup().await;
    }
}

#[tokio::test]
async fn bootstrap_once_then_rotate() {
    for db in all_backends().await {
        let tokens = Tokens::new(db.store.conn());
        let first = tokens
            .bootstrap_admin()
            .await
            .unwrap()
            .expect("first start issues a token");
        assert!(
            tokens.bootstrap_admin().await.unwrap().is_none(),
            "second start issues none"
        );

        let rotated = tokens.rotate_admin().await.unwrap();
        assert!(matches!(
            tokens.verify(&first.secret).await,
            Err(AuthError::Invalid)
        ));
        assert_eq!(
            tokens.verify(&rotated.secret).await.unwrap().role,
            Role::Admin
        );
        let list = tokens.list().await.unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list.iter().filter(|t| t.revoked_at.is_none()).count(), 1);
        db.cleanup().await;
    }
}
