/// A write that could not be made. Messages name the field at fault.
#[derive(Debug, thiserror::Error)]
pub enum NativeError {
    /// A field is missing or malformed.
    #[error("{field}: {problem}")]
    Invalid {
        /// The field, e.g. `email`.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// A referenced row does not exist.
    #[error("no {kind} with id `{id}`")]
    NotFound {
        /// What kind of row, e.g. `team`.
        kind: &'static str,
        /// The id given.
        id: String,
    },
    /// The row would duplicate a unique value.
    #[error("{kind} `{value}` already exists")]
    Duplicate {
        /// What kind.
        kind: &'static str,
        /// The duplicated value.
        value: String,
    },
    /// The user may not write there.
    #[error("{0}")]
    Forbidden(String),
    /// Storage failed.
    // Said once, in the message: not a `source`, so a printed chain
    // does not repeat the driver's words.
    #[error("storage failed: {}", mosaic_store::describe_db_err(.0))]
    Db(mosaic_store::sea_orm::DbErr),
}

impl From<mosaic_store::sea_orm::DbErr> for NativeError {
    fn from(err: mosaic_store::sea_orm::DbErr) -> Self {
        Self::Db(err)
    }
}

pub(crate) fn invalid(field: &'static str, problem: impl Into<String>) -> NativeError {
    NativeError::Invalid {
        field,
        problem: problem.into(),
    }
}
