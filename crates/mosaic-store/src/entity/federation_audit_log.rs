//! `federation_audit_log`: one request a peer made to the federation
//! listener, allowed or refused. No foreign keys: a row outlives the peer,
//! grant and user it names.

use sea_orm::entity::prelude::*;

/// One row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "federation_audit_log")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// When the request arrived (milliseconds).
    pub occurred_at: DateTimeUtc,
    pub peer_id: Option<String>,
    pub grant_id: Option<String>,
    pub subject_user_id: Option<String>,
    /// `list`, `get`, `search`, `capabilities`, `ca`, `enroll` or `other`.
    pub verb: String,
    pub resource: Option<String>,
    /// The item id of a `get`, the words of a `search`.
    pub target: Option<String>,
    /// The HTTP status answered.
    pub status: i32,
    /// The error envelope's code, when the answer was one.
    pub error_code: Option<String>,
    /// Rows the answer carried.
    pub rows: Option<i32>,
    /// Time to the response head, in microseconds.
    pub latency_us: i64,
    /// Serial of the presented client certificate.
    pub cert_serial: Option<String>,
    /// W3C trace id (32 lowercase hex digits).
    pub trace_id: String,
    pub remote_addr: Option<String>,
}

/// No declared relations: queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
