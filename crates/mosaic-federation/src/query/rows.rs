//! Stored row → federated row, one function per table. The wire shape is the
//! serde shape of the row types in [`mosaic_types::rows`].

use super::Row;
use crate::cursor::MemorySource;
use mosaic_store::entity::{insights, mission_tasks, preferences, tasks};
use mosaic_types::{
    FederatedInsight, FederatedNote, FederatedPreference, FederatedTask, IdError, InsightId,
    MissionId, NoteId, PreferenceId, ProjectId, TaskId, UserId,
};

/// A stored id, as the typed id of a row; an invalid one is an error.
fn id<T: TryFrom<String, Error = IdError>>(stored: &str) -> Result<T, IdError> {
    T::try_from(stored.to_owned())
}

fn optional_id<T: TryFrom<String, Error = IdError>>(
    stored: Option<&str>,
) -> Result<Option<T>, IdError> {
    stored.map(id).transpose()
}

pub(crate) fn task(m: tasks::Model) -> Result<Row, IdError> {
    let item = FederatedTask {
        id: id::<TaskId>(&m.id)?,
        title: m.title,
        description: m.description,
        status: m.status,
        priority: m.priority,
        project_id: optional_id::<ProjectId>(m.project_id.as_deref())?,
        mission_id: optional_id::<MissionId>(m.mission_id.as_deref())?,
        assignee: m.assignee,
        tags: m.tags,
        due_date: m.due_date,
        metadata: m.metadata,
        created_at: m.created_at,
        updated_at: m.updated_at,
    };
    Ok(Row {
        item: item.into(),
        created_at: m.created_at,
        id: m.id,
        source: None,
    })
}

/// The owner, kept only when asked for (`with_user`).
fn owner(user_id: &str, with_user: bool) -> Result<Option<UserId>, IdError> {
    optional_id(with_user.then_some(user_id))
}

/// A note; `with_user` keeps `userId` for the get path's ownership check.
pub(crate) fn note(m: mission_tasks::Model, with_user: bool) -> Result<Row, IdError> {
    let item = FederatedNote {
        id: id::<NoteId>(&m.id)?,
        mission_id: id::<MissionId>(&m.mission_id)?,
        task_id: optional_id::<TaskId>(m.task_id.as_deref())?,
        status: m.status,
        content: m.notes,
        created_at: m.created_at,
        updated_at: m.updated_at,
        user_id: owner(&m.user_id, with_user)?,
    };
    Ok(Row {
        item: item.into(),
        created_at: m.created_at,
        id: m.id,
        source: None,
    })
}

pub(crate) fn insight(m: insights::Model, with_user: bool) -> Result<Row, IdError> {
    let item = FederatedInsight {
        id: id::<InsightId>(&m.id)?,
        kind: m.source,
        content: m.content,
        category: m.category,
        relevance_score: m.relevance_score,
        metadata: m.metadata,
        created_at: m.created_at,
        updated_at: m.updated_at,
        user_id: owner(&m.user_id, with_user)?,
    };
    Ok(Row {
        item: item.into(),
        created_at: m.created_at,
        id: m.id,
        source: Some(MemorySource::Insights),
    })
}

pub(crate) fn preference(m: preferences::Model, with_user: bool) -> Result<Row, IdError> {
    let item = FederatedPreference {
        id: id::<PreferenceId>(&m.id)?,
        kind: m.category,
        key: m.key,
        value: m.value,
        source: m.source,
        mutable: m.mutable,
        created_at: m.created_at,
        updated_at: m.updated_at,
        user_id: owner(&m.user_id, with_user)?,
    };
    Ok(Row {
        item: item.into(),
        created_at: m.created_at,
        id: m.id,
        source: Some(MemorySource::Preferences),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use chrono::{DateTime, Duration, TimeZone, Utc};
    use mosaic_types::{SOURCE_LOCAL, Sourced};
    use serde_json::{Value, json};

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 24, hour, 0, 0).unwrap()
    }

    fn wire(row: Row) -> Value {
        serde_json::to_value(Sourced::new(row.item, SOURCE_LOCAL)).unwrap()
    }

    /// One row of each kind, as stored, against the JSON peers have always
    /// been sent for it (the literal is the contract).
    #[test]
    fn each_kind_of_row_has_its_wire_json() {
        let task = task(tasks::Model {
            id: "t1".into(),
            title: "Task one".into(),
            description: Some("first".into()),
            status: "in_progress".into(),
            priority: "high".into(),
            project_id: Some("p1".into()),
            mission_id: None,
            assignee: None,
            tags: Some(json!(["x"])),
            due_date: None,
            metadata: None,
            // Sub-millisecond precision is cut, not rounded.
            created_at: at(3) + Duration::microseconds(1_999),
            updated_at: at(4),
        })
        .unwrap();
        assert_eq!(
            wire(task),
            json!({
                "id": "t1",
                "title": "Task one",
                "description": "first",
                "status": "in_progress",
                "priority": "high",
                "projectId": "p1",
                "missionId": null,
                "assignee": null,
                "tags": ["x"],
                "dueDate": null,
                "metadata": null,
                "createdAt": "2026-06-24T03:00:00.001Z",
                "updatedAt": "2026-06-24T04:00:00.000Z",
                "_source": "local"
            })
        );

        let note_row = mission_tasks::Model {
            id: "n1".into(),
            mission_id: "m1".into(),
            task_id: Some("t1".into()),
            user_id: "S".into(),
            status: "done".into(),
            notes: Some("S note".into()),
            created_at: at(1),
            updated_at: at(2),
        };
        let mut expected = json!({
            "id": "n1",
            "missionId": "m1",
            "taskId": "t1",
            "status": "done",
            "content": "S note",
            "createdAt": "2026-06-24T01:00:00.000Z",
            "updatedAt": "2026-06-24T02:00:00.000Z",
            "_source": "local"
        });
        assert_eq!(wire(note(note_row.clone(), false).unwrap()), expected);
        expected["userId"] = json!("S");
        assert_eq!(wire(note(note_row, true).unwrap()), expected);

        let insight = insight(
            insights::Model {
                id: "i1".into(),
                user_id: "S".into(),
                content: "an insight".into(),
                source: "agent".into(),
                category: None,
                relevance_score: 0.75,
                metadata: Some(json!({"k": 1})),
                created_at: at(1),
                updated_at: at(1),
            },
            false,
        )
        .unwrap();
        assert_eq!(
            wire(insight),
            json!({
                "id": "i1",
                "kind": "agent",
                "content": "an insight",
                "category": null,
                "relevanceScore": 0.75,
                "metadata": {"k": 1},
                "createdAt": "2026-06-24T01:00:00.000Z",
                "updatedAt": "2026-06-24T01:00:00.000Z",
                "_source": "local"
            })
        );

        let preference = preference(
            preferences::Model {
                id: "pref-1".into(),
                user_id: "S".into(),
                key: "theme".into(),
                value: json!({"enabled": true}),
                category: Some("editor".into()),
                source: "user".into(),
                mutable: false,
                created_at: at(1),
                updated_at: at(1),
            },
            true,
        )
        .unwrap();
        assert_eq!(
            wire(preference),
            json!({
                "id": "pref-1",
                "kind": "editor",
                "key": "theme",
                "value": {"enabled": true},
                "source": "user",
                "mutable": false,
                "createdAt": "2026-06-24T01:00:00.000Z",
                "updatedAt": "2026-06-24T01:00:00.000Z",
                "userId": "S",
                "_source": "local"
            })
        );
    }

    #[test]
    fn an_invalid_stored_id_is_an_error() {
        let bad = mission_tasks::Model {
            id: "n1".into(),
            mission_id: " ".into(),
            task_id: None,
            user_id: "S".into(),
            status: "done".into(),
            notes: Some("x".into()),
            created_at: at(1),
            updated_at: at(1),
        };
        assert!(matches!(
            note(bad, false),
            Err(IdError::Empty { kind: "MissionId" })
        ));
    }
}
