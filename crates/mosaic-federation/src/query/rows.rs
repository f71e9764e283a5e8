//! Row → wire JSON, one function per table. Keys are camelCase; timestamps are
//! RFC 3339 with milliseconds and `Z`.

use super::Row;
use crate::cursor::MemorySource;
use chrono::{DateTime, SecondsFormat, Utc};
use mosaic_store::entity::{insights, mission_tasks, preferences, tasks};
use serde_json::{Map, Value, json};

pub(crate) fn ts(t: DateTime<Utc>) -> Value {
    Value::String(t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

pub(crate) fn task(m: tasks::Model) -> Row {
    let item = object(json!({
        "id": m.id,
        "title": m.title,
        "description": m.description,
        "status": m.status,
        "priority": m.priority,
        "projectId": m.project_id,
        "missionId": m.mission_id,
        "assignee": m.assignee,
        "tags": m.tags,
        "dueDate": m.due_date.map(ts),
        "metadata": m.metadata,
        "createdAt": ts(m.created_at),
        "updatedAt": ts(m.updated_at),
    }));
    Row {
        item,
        created_at: m.created_at,
        id: m.id,
        source: None,
    }
}

/// A note; `with_user` keeps `userId` for the get path's ownership check.
pub(crate) fn note(m: mission_tasks::Model, with_user: bool) -> Row {
    let mut item = object(json!({
        "id": m.id,
        "missionId": m.mission_id,
        "taskId": m.task_id,
        "status": m.status,
        "content": m.notes,
        "createdAt": ts(m.created_at),
        "updatedAt": ts(m.updated_at),
    }));
    if with_user {
        item.insert("userId".into(), Value::String(m.user_id));
    }
    Row {
        item,
        created_at: m.created_at,
        id: m.id,
        source: None,
    }
}

pub(crate) fn insight(m: insights::Model, with_user: bool) -> Row {
    let mut item = object(json!({
        "id": m.id,
        "kind": m.source,
        "content": m.content,
        "category": m.category,
        "relevanceScore": m.relevance_score,
        "metadata": m.metadata,
        "createdAt": ts(m.created_at),
        "updatedAt": ts(m.updated_at),
    }));
    if with_user {
        item.insert("userId".into(), Value::String(m.user_id));
    }
    Row {
        item,
        created_at: m.created_at,
        id: m.id,
        source: Some(MemorySource::Insights),
    }
}

pub(crate) fn preference(m: preferences::Model, with_user: bool) -> Row {
    let mut item = object(json!({
        "id": m.id,
        "kind": m.category,
        "key": m.key,
        "value": m.value,
        "source": m.source,
        "mutable": m.mutable,
        "createdAt": ts(m.created_at),
        "updatedAt": ts(m.updated_at),
    }));
    if with_user {
        item.insert("userId".into(), Value::String(m.user_id));
    }
    Row {
        item,
        created_at: m.created_at,
        id: m.id,
        source: Some(MemorySource::Preferences),
    }
}
