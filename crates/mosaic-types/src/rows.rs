//! Federated rows: what `list` and `get` return for each resource, before the
//! `_source` tag is merged in (see [`Sourced`](crate::Sourced)).
//!
//! Keys are camelCase. A column that may be empty is sent as `null`, never
//! left out; `userId` is the one optional key, present only where the server
//! adds it. Timestamps are RFC 3339 in UTC with milliseconds and `Z`
//! (`2026-06-24T03:00:00.000Z`, see [`rfc3339_millis`]).

use crate::ids::{InsightId, MissionId, NoteId, PreferenceId, ProjectId, TaskId, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Serde `with` module for a timestamp as RFC 3339 with milliseconds and `Z`.
pub mod rfc3339_millis {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    /// The wire form of `t`.
    pub fn format(t: &DateTime<Utc>) -> String {
        t.to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    /// Writes `t` as `2026-06-24T03:00:00.000Z`.
    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format(t))
    }

    /// Reads any RFC 3339 timestamp, converted to UTC.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(deserializer)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }

    /// The same for an optional timestamp: `None` is `null`.
    pub mod option {
        use chrono::{DateTime, Utc};
        use serde::{Deserialize, Deserializer, Serializer};

        /// Writes `Some(t)` as [`format`](super::format) does, `None` as `null`.
        pub fn serialize<S: Serializer>(
            t: &Option<DateTime<Utc>>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => super::serialize(t, serializer),
                None => serializer.serialize_none(),
            }
        }

        /// Reads `null` or an RFC 3339 timestamp.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<DateTime<Utc>>, D::Error> {
            Option::<String>::deserialize(deserializer)?
                .map(|s| {
                    DateTime::parse_from_rfc3339(&s)
                        .map(|t| t.with_timezone(&Utc))
                        .map_err(serde::de::Error::custom)
                })
                .transpose()
        }
    }
}

/// A row of the `tasks` resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FederatedTask {
    /// The task.
    pub id: TaskId,
    /// Its title.
    pub title: String,
    /// Free text, or `null`.
    pub description: Option<String>,
    /// Lifecycle status, as stored.
    pub status: String,
    /// Priority, as stored.
    pub priority: String,
    /// The project it belongs to, or `null`.
    pub project_id: Option<ProjectId>,
    /// The mission it belongs to, or `null`.
    pub mission_id: Option<MissionId>,
    /// Who it is assigned to, as stored, or `null`.
    pub assignee: Option<String>,
    /// Tags (JSON as stored), or `null`.
    pub tags: Option<Value>,
    /// Due date, or `null`.
    #[serde(with = "rfc3339_millis::option")]
    pub due_date: Option<DateTime<Utc>>,
    /// Metadata (JSON as stored), or `null`.
    pub metadata: Option<Value>,
    /// Created.
    #[serde(with = "rfc3339_millis")]
    pub created_at: DateTime<Utc>,
    /// Last updated.
    #[serde(with = "rfc3339_millis")]
    pub updated_at: DateTime<Utc>,
}

/// A row of the `notes` resource: a mission task's non-empty notes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FederatedNote {
    /// The note (the mission task's id).
    pub id: NoteId,
    /// The mission.
    pub mission_id: MissionId,
    /// The task it is about, or `null`.
    pub task_id: Option<TaskId>,
    /// The mission task's status.
    pub status: String,
    /// The note text, or `null`.
    pub content: Option<String>,
    /// Created.
    #[serde(with = "rfc3339_millis")]
    pub created_at: DateTime<Utc>,
    /// Last updated.
    #[serde(with = "rfc3339_millis")]
    pub updated_at: DateTime<Utc>,
    /// The owner; only where the server adds it, otherwise absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
}

/// An insight, one half of the `memory` resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FederatedInsight {
    /// The insight.
    pub id: InsightId,
    /// Where it came from (the stored `source`).
    pub kind: String,
    /// The insight text.
    pub content: String,
    /// Category, or `null`.
    pub category: Option<String>,
    /// Relevance score.
    pub relevance_score: f64,
    /// Metadata (JSON as stored), or `null`.
    pub metadata: Option<Value>,
    /// Created.
    #[serde(with = "rfc3339_millis")]
    pub created_at: DateTime<Utc>,
    /// Last updated.
    #[serde(with = "rfc3339_millis")]
    pub updated_at: DateTime<Utc>,
    /// The owner; only where the server adds it, otherwise absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
}

/// A preference, the other half of the `memory` resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FederatedPreference {
    /// The preference.
    pub id: PreferenceId,
    /// Its category, or `null`.
    pub kind: Option<String>,
    /// The key.
    pub key: String,
    /// The value (JSON as stored).
    pub value: Value,
    /// Who set it.
    pub source: String,
    /// Whether it may be changed.
    pub mutable: bool,
    /// Created.
    #[serde(with = "rfc3339_millis")]
    pub created_at: DateTime<Utc>,
    /// Last updated.
    #[serde(with = "rfc3339_millis")]
    pub updated_at: DateTime<Utc>,
    /// The owner; only where the server adds it, otherwise absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
}

/// Any federated row, serialized as the row itself (no tag).
///
/// Variants are tried in this order when reading, each one before any whose
/// required keys are a subset of its own: a task row also holds every key a
/// note requires, so `Task` comes before `Note`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FederatedRow {
    /// `tasks`.
    Task(FederatedTask),
    /// `memory` (preferences).
    Preference(FederatedPreference),
    /// `memory` (insights).
    Insight(FederatedInsight),
    /// `notes`.
    Note(FederatedNote),
}

impl FederatedRow {
    /// The row's id.
    pub fn id(&self) -> &str {
        match self {
            Self::Task(r) => r.id.as_str(),
            Self::Preference(r) => r.id.as_str(),
            Self::Insight(r) => r.id.as_str(),
            Self::Note(r) => r.id.as_str(),
        }
    }

    /// When the row was created.
    pub fn created_at(&self) -> DateTime<Utc> {
        match self {
            Self::Task(r) => r.created_at,
            Self::Preference(r) => r.created_at,
            Self::Insight(r) => r.created_at,
            Self::Note(r) => r.created_at,
        }
    }
}

impl From<FederatedTask> for FederatedRow {
    fn from(row: FederatedTask) -> Self {
        Self::Task(row)
    }
}

impl From<FederatedNote> for FederatedRow {
    fn from(row: FederatedNote) -> Self {
        Self::Note(row)
    }
}

impl From<FederatedInsight> for FederatedRow {
    fn from(row: FederatedInsight) -> Self {
        Self::Insight(row)
    }
}

impl From<FederatedPreference> for FederatedRow {
    fn from(row: FederatedPreference) -> Self {
        Self::Preference(row)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::{SOURCE_LOCAL, Sourced};
    use chrono::TimeZone;
    use serde_json::json;

    fn at(hour: u32, micros: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 24, hour, 0, 0).unwrap()
            + chrono::Duration::microseconds(i64::from(micros))
    }

    fn rows() -> Vec<FederatedRow> {
        vec![
            FederatedTask {
                id: TaskId::new("t1").unwrap(),
                title: "Task one".into(),
                description: None,
                status: "open".into(),
                priority: "high".into(),
                project_id: Some(ProjectId::new("p1").unwrap()),
                mission_id: None,
                assignee: None,
                tags: Some(json!(["a", "b"])),
                due_date: Some(at(5, 0)),
                metadata: None,
                created_at: at(3, 123_456),
                updated_at: at(4, 0),
            }
            .into(),
            FederatedNote {
                id: NoteId::new("n1").unwrap(),
                mission_id: MissionId::new("m1").unwrap(),
                task_id: None,
                status: "done".into(),
                content: Some("a note".into()),
                created_at: at(1, 0),
                updated_at: at(2, 0),
                user_id: None,
            }
            .into(),
            FederatedInsight {
                id: InsightId::new("i1").unwrap(),
                kind: "agent".into(),
                content: "an insight".into(),
                category: None,
                relevance_score: 0.5,
                metadata: Some(json!({"k": 1})),
                created_at: at(1, 0),
                updated_at: at(1, 0),
                user_id: None,
            }
            .into(),
            FederatedPreference {
                id: PreferenceId::new("pref-1").unwrap(),
                kind: None,
                key: "theme".into(),
                value: json!({"enabled": true}),
                source: "editor".into(),
                mutable: true,
                created_at: at(1, 0),
                updated_at: at(1, 0),
                user_id: Some(UserId::new("S").unwrap()),
            }
            .into(),
        ]
    }

    #[test]
    fn rows_have_the_wire_shape() {
        let wire: Vec<Value> = rows()
            .into_iter()
            .map(|r| serde_json::to_value(Sourced::new(r, SOURCE_LOCAL)).unwrap())
            .collect();
        assert_eq!(
            wire,
            vec![
                json!({
                    "id": "t1", "title": "Task one", "description": null, "status": "open",
                    "priority": "high", "projectId": "p1", "missionId": null, "assignee": null,
                    "tags": ["a", "b"], "dueDate": "2026-06-24T05:00:00.000Z", "metadata": null,
                    "createdAt": "2026-06-24T03:00:00.123Z", "updatedAt": "2026-06-24T04:00:00.000Z",
                    "_source": "local"
                }),
                json!({
                    "id": "n1", "missionId": "m1", "taskId": null, "status": "done",
                    "content": "a note", "createdAt": "2026-06-24T01:00:00.000Z",
                    "updatedAt": "2026-06-24T02:00:00.000Z", "_source": "local"
                }),
                json!({
                    "id": "i1", "kind": "agent", "content": "an insight", "category": null,
                    "relevanceScore": 0.5, "metadata": {"k": 1},
                    "createdAt": "2026-06-24T01:00:00.000Z", "updatedAt": "2026-06-24T01:00:00.000Z",
                    "_source": "local"
                }),
                json!({
                    "id": "pref-1", "kind": null, "key": "theme", "value": {"enabled": true},
                    "source": "editor", "mutable": true,
                    "createdAt": "2026-06-24T01:00:00.000Z", "updatedAt": "2026-06-24T01:00:00.000Z",
                    "userId": "S", "_source": "local"
                }),
            ]
        );
    }

    #[test]
    fn each_row_reads_back_as_its_own_variant() {
        for row in rows() {
            let wire = serde_json::to_value(&row).unwrap();
            let back: FederatedRow = serde_json::from_value(wire.clone()).unwrap();
            assert_eq!(
                std::mem::discriminant(&back),
                std::mem::discriminant(&row),
                "{wire}"
            );
            assert_eq!(serde_json::to_value(&back).unwrap(), wire);
            let tagged = serde_json::to_value(Sourced::new(row.clone(), "peer-b")).unwrap();
            let back: Sourced<FederatedRow> = serde_json::from_value(tagged.clone()).unwrap();
            assert_eq!(back.source, "peer-b");
            assert_eq!(
                std::mem::discriminant(&back.row),
                std::mem::discriminant(&row)
            );
            assert_eq!(serde_json::to_value(&back).unwrap(), tagged);
        }
    }

    #[test]
    fn timestamps_are_utc_with_milliseconds() {
        let t = at(3, 999_999);
        assert_eq!(rfc3339_millis::format(&t), "2026-06-24T03:00:00.999Z");
        let task: FederatedTask = serde_json::from_value(json!({
            "id": "t", "title": "T", "description": null, "status": "s", "priority": "p",
            "projectId": null, "missionId": null, "assignee": null, "tags": null,
            "dueDate": null, "metadata": null,
            "createdAt": "2026-06-24T05:00:00.250+02:00", "updatedAt": "2026-06-24T03:00:00Z"
        }))
        .unwrap();
        assert_eq!(
            serde_json::to_value(&task).unwrap()["createdAt"],
            "2026-06-24T03:00:00.250Z"
        );
        assert!(
            serde_json::from_value::<FederatedTask>(json!({
                "id": "t", "title": "T", "status": "s", "priority": "p", "dueDate": null,
                "createdAt": "yesterday", "updatedAt": "2026-06-24T03:00:00Z"
            }))
            .is_err()
        );
    }
}
