//! `GET /api/v1/whoami`: whom a bearer token speaks for, so a client can
//! check a token before it keeps it.
//!
//! ```
//! use mosaic_types::whoami::{TokenRole, WhoAmI};
//!
//! let me: WhoAmI = serde_json::from_str(
//!     r#"{"role":"user","user_id":"alice","token_id":"t1"}"#,
//! ).unwrap();
//! assert_eq!(me.role, TokenRole::User);
//! assert_eq!(me.user_id.as_deref(), Some("alice"));
//! ```

use serde::{Deserialize, Serialize};

/// What a token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenRole {
    /// Manages the gateway.
    Admin,
    /// Acts as one local user.
    User,
}

impl std::fmt::Display for TokenRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Admin => "admin",
            Self::User => "user",
        })
    }
}

/// The answer of `GET /api/v1/whoami`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhoAmI {
    /// What the token allows.
    pub role: TokenRole,
    /// The user it acts as; `null` for an admin token not tied to a user.
    pub user_id: Option<String>,
    /// The token's id (never its secret).
    pub token_id: String,
}
