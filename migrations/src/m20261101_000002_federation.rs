//! Federation: this gateway's identity, its peers, the grants peers hold,
//! one-time enrollment tokens and the audit log.

use crate::columns::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLES_REVERSED: &[&str] = &[
    "audit_log",
    "federation_enrollment_tokens",
    "federation_grants",
    "federation_peers",
    "instance_identity",
];

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::{Cascade, SetNull};

        // One row: the gateway's own public identity and its (sealed) signing key.
        m.create_table(
            stamps(
                Table::create()
                    .table("instance_identity")
                    .col(id("id"))
                    .col(text("name"))
                    .col(text_null("url"))
                    .col(text("signing_public_key"))
                    .col(text("signing_private_key_sealed"))
                    .col(json_default("capabilities", "[]")),
            )
            .take(),
        )
        .await?;

        // A peer row serves both directions: inbound it names the certificate a
        // remote presents (cert_serial); outbound it also has endpoint_url and our
        // sealed client key.
        m.create_table(
            stamps(
                Table::create()
                    .table("federation_peers")
                    .col(id("id"))
                    .col(text("common_name"))
                    .col(text("display_name"))
                    .col(text("cert_pem"))
                    .col(text("cert_serial"))
                    .col(
                        ColumnDef::new("cert_not_after")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(text_default("state", "pending"))
                    .col(text_null("endpoint_url"))
                    .col(text_null("client_key_pem"))
                    // Outbound only: the peer's CA (pinned at enrollment) and the
                    // local user whose queries may use this peer's grant.
                    .col(text_null("ca_pem"))
                    .col(text_null("local_user_id"))
                    .foreign_key(&mut fk(
                        "federation_peers",
                        "local_user_id",
                        "users",
                        ForeignKeyAction::Cascade,
                    )),
            )
            .take(),
        )
        .await?;
        // Names are not unique: one gateway can be a peer in both directions,
        // and several local users can each hold a grant from the same peer.
        m.create_index(index(
            "federation_peers_name_idx",
            "federation_peers",
            &["common_name"],
        ))
        .await?;
        m.create_index(index(
            "federation_peers_serial_idx",
            "federation_peers",
            &["cert_serial"],
        ))
        .await?;

        m.create_table(
            stamps(
                Table::create()
                    .table("federation_grants")
                    .col(id("id"))
                    .col(text("peer_id"))
                    .col(text("subject_user_id"))
                    .col(text_default("status", "active"))
                    .col(json("scope"))
                    .col(ts_null("expires_at"))
                    .col(ts_null("revoked_at"))
                    .col(text_null("revoked_reason"))
                    .foreign_key(&mut fk(
                        "federation_grants",
                        "peer_id",
                        "federation_peers",
                        Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "federation_grants",
                        "subject_user_id",
                        "users",
                        Cascade,
                    )),
            )
            .take(),
        )
        .await?;
        m.create_index(index(
            "federation_grants_peer_idx",
            "federation_grants",
            &["peer_id"],
        ))
        .await?;

        // Only a hash of the token is stored; the secret is shown once.
        m.create_table(
            Table::create()
                .table("federation_enrollment_tokens")
                .col(id("id"))
                .col(text("token_hash").unique_key())
                .col(text("grant_id"))
                .col(
                    ColumnDef::new("expires_at")
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(ts_null("used_at"))
                .col(ts("created_at"))
                .foreign_key(&mut fk(
                    "federation_enrollment_tokens",
                    "grant_id",
                    "federation_grants",
                    Cascade,
                ))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("audit_log")
                .col(id("id"))
                .col(ts("occurred_at"))
                .col(text("actor"))
                .col(text("action"))
                .col(text_null("target_type"))
                .col(text_null("target_id"))
                .col(text_null("peer_id"))
                .col(json_null("details"))
                .foreign_key(&mut fk("audit_log", "peer_id", "federation_peers", SetNull))
                .take(),
        )
        .await?;
        m.create_index(index(
            "audit_log_occurred_idx",
            "audit_log",
            &["occurred_at"],
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        drop_all(m, TABLES_REVERSED).await
    }
}
