//! Typed identifiers.
//!
//! Every id on the wire is a string. Wrapping each kind in its own type keeps a
//! grant id from being passed where a user id is expected; construction rejects
//! the empty or all-whitespace string, so a value that exists is usable.

use std::fmt;
use std::str::FromStr;

/// Why a string could not become an id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The string was empty or only whitespace.
    #[error("{kind} must not be empty")]
    Empty {
        /// Which id type was being built, e.g. `GrantId`.
        kind: &'static str,
    },
    /// The string is longer than any id Mosaic issues or accepts.
    #[error("{kind} is {len} bytes long; at most {max} are allowed")]
    TooLong {
        /// Which id type was being built.
        kind: &'static str,
        /// Length of the rejected input in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The string holds a control character (ids travel in URLs, headers and logs).
    #[error("{kind} contains a control character")]
    ControlCharacter {
        /// Which id type was being built.
        kind: &'static str,
    },
}

/// Longest id accepted. Generous for UUIDs and human-chosen ids alike, small
/// enough that an id can never be used to smuggle a payload.
pub const MAX_ID_LEN: usize = 256;

fn check(kind: &'static str, s: &str) -> Result<(), IdError> {
    if s.trim().is_empty() {
        return Err(IdError::Empty { kind });
    }
    if s.len() > MAX_ID_LEN {
        return Err(IdError::TooLong {
            kind,
            len: s.len(),
            max: MAX_ID_LEN,
        });
    }
    if s.chars().any(char::is_control) {
        return Err(IdError::ControlCharacter { kind });
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Builds the id, rejecting empty, oversized or control-character strings.
            pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                check(stringify!($name), &value)?;
                Ok(Self(value))
            }

            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Consumes the id, returning the inner string.
            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({:?})"), self.0)
            }
        }
    };
}

id_type!(
    /// A federation grant: what one peer may read on behalf of one local user.
    GrantId
);
id_type!(
    /// A federation peer (another gateway).
    PeerId
);
id_type!(
    /// A local user. Not necessarily a UUID: operators may choose readable ids.
    UserId
);
id_type!(
    /// A team of users.
    TeamId
);
id_type!(
    /// A project, owned by a user or a team.
    ProjectId
);
id_type!(
    /// A mission within a project.
    MissionId
);
id_type!(
    /// A task.
    TaskId
);
id_type!(
    /// A note: a `mission_tasks` row with non-empty notes.
    NoteId
);
id_type!(
    /// An insight (part of the `memory` resource).
    InsightId
);
id_type!(
    /// A preference (part of the `memory` resource).
    PreferenceId
);
id_type!(
    /// A one-time enrollment token's record (never the secret itself).
    EnrollmentTokenId
);
id_type!(
    /// An audit-log entry.
    AuditId
);
id_type!(
    /// A gateway instance: the stable id in its public identity and in the
    /// certificates it issues.
    InstanceId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_as_plain_strings() {
        let id: GrantId = serde_json::from_str("\"grant-1\"").unwrap();
        assert_eq!(id.as_str(), "grant-1");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"grant-1\"");
    }

    #[test]
    fn empty_and_blank_ids_are_rejected() {
        assert_eq!(
            UserId::new("").unwrap_err(),
            IdError::Empty { kind: "UserId" }
        );
        assert!(serde_json::from_str::<UserId>("\"  \"").is_err());
    }

    #[test]
    fn oversized_and_control_ids_are_rejected() {
        assert!(matches!(
            PeerId::new("x".repeat(MAX_ID_LEN + 1)),
            Err(IdError::TooLong { .. })
        ));
        assert_eq!(
            TaskId::new("a\nb").unwrap_err(),
            IdError::ControlCharacter { kind: "TaskId" }
        );
    }

    #[test]
    fn debug_names_the_kind() {
        let id = TeamId::new("t").unwrap();
        assert_eq!(format!("{id:?}"), "TeamId(\"t\")");
        assert_eq!(id.to_string(), "t");
    }
}
