//! The one error type of this crate, and the code each variant travels with.

use mosaic_identity::enrollment::EnrollError;
use mosaic_store::sea_orm::DbErr;
use mosaic_types::ErrorCode;

/// Why a lifecycle operation did not happen. When it did not, it wrote
/// nothing: every operation is one transaction.
#[derive(Debug, thiserror::Error)]
pub enum GrantsError {
    /// An input is missing or malformed.
    #[error("{field}: {message}")]
    Invalid {
        /// The input at fault, e.g. `token_ttl_hours`.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// A referenced row does not exist.
    #[error("no {what} with id `{id}`")]
    NotFound {
        /// What kind of row: `grant`, `peer`, `user`.
        what: &'static str,
        /// The id given.
        id: String,
    },
    /// The operation does not fit the current state (a revoked grant, a
    /// duplicate name…).
    #[error("{0}")]
    Conflict(String),
    /// A stored row holds a value Mosaic does not know (a status, a state, an
    /// id): it is named here rather than passed off as valid.
    #[error("stored {table} row `{id}`: {message}")]
    CorruptRow {
        /// The table.
        table: &'static str,
        /// The row's id.
        id: String,
        /// What is wrong with it.
        message: String,
    },
    /// Issuing an enrollment token failed for a reason of its own (randomness).
    #[error(transparent)]
    Token(EnrollError),
    /// Storage failed.
    // Said once, in the message: not a `source`, so a printed chain
    // does not repeat the driver's words.
    #[error("storage failed: {}", mosaic_store::describe_db_err(.0))]
    Db(DbErr),
}

impl From<DbErr> for GrantsError {
    fn from(err: DbErr) -> Self {
        Self::Db(err)
    }
}

impl GrantsError {
    /// An [`GrantsError::Invalid`] for `field`.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            message: message.into(),
        }
    }

    /// The wire code of this error; the edge maps codes to statuses.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Invalid { .. } => ErrorCode::InvalidRequest,
            Self::NotFound { .. } => ErrorCode::NotFound,
            Self::Conflict(_) => ErrorCode::Conflict,
            Self::CorruptRow { .. } | Self::Token(_) | Self::Db(_) => ErrorCode::Internal,
        }
    }
}

impl From<EnrollError> for GrantsError {
    fn from(e: EnrollError) -> Self {
        match e {
            EnrollError::GrantNotFound(id) => Self::NotFound { what: "grant", id },
            EnrollError::GrantNotActive { grant_id, status } => Self::Conflict(format!(
                "grant `{grant_id}` is {status}; only active grants enroll"
            )),
            EnrollError::BadTtl(ttl) => Self::invalid(
                "token_ttl_hours",
                format!("must be positive (got {} hours)", ttl.num_hours()),
            ),
            EnrollError::Db(e) => Self::Db(e),
            other => Self::Token(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_messages() {
        let cases = [
            (
                GrantsError::invalid("token_ttl_hours", "must be between 1 and 720 (got 0)"),
                ErrorCode::InvalidRequest,
                "token_ttl_hours: must be between 1 and 720 (got 0)",
            ),
            (
                GrantsError::NotFound {
                    what: "grant",
                    id: "g1".into(),
                },
                ErrorCode::NotFound,
                "no grant with id `g1`",
            ),
            (
                GrantsError::Conflict("grant `g1` is revoked".into()),
                ErrorCode::Conflict,
                "grant `g1` is revoked",
            ),
            (
                GrantsError::CorruptRow {
                    table: "federation_peers",
                    id: "p1".into(),
                    message: "unknown peer state `gone`".into(),
                },
                ErrorCode::Internal,
                "stored federation_peers row `p1`: unknown peer state `gone`",
            ),
        ];
        for (err, code, message) in cases {
            assert_eq!(err.code(), code);
            assert_eq!(err.to_string(), message);
        }
    }
}
