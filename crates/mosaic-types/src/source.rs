//! The `_source` tag: which gateway a row came from.

use serde::{Deserialize, Serialize};

/// The `_source` value of rows served by the gateway that answers.
pub const SOURCE_LOCAL: &str = "local";

/// The key under which the source is merged into each row object.
pub const SOURCE_KEY: &str = "_source";

/// `{"_source": "..."}`, the part every federated row carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceTag {
    /// `local`, or the common name of the peer the row came from.
    #[serde(rename = "_source")]
    pub source: String,
}

/// A row with its `_source` tag merged in as one more key.
///
/// The row must serialize to a JSON object without a `_source` key of its own (use
/// [`tag_object`] for free-form JSON rows, which replaces one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sourced<T> {
    /// The row itself.
    #[serde(flatten)]
    pub row: T,
    /// Where it came from.
    #[serde(rename = "_source")]
    pub source: String,
}

impl<T> Sourced<T> {
    /// Tags `row` with `source`.
    pub fn new(row: T, source: impl Into<String>) -> Self {
        Self {
            row,
            source: source.into(),
        }
    }
}

/// Sets `_source` on a free-form JSON row, replacing any value the row carried, so
/// a peer can never choose the source its rows are shown under.
pub fn tag_object(
    mut row: serde_json::Map<String, serde_json::Value>,
    source: &str,
) -> serde_json::Map<String, serde_json::Value> {
    row.insert(
        SOURCE_KEY.to_owned(),
        serde_json::Value::String(source.to_owned()),
    );
    row
}

/// Tags every row with the same source.
pub fn tag_with_source<T>(rows: impl IntoIterator<Item = T>, source: &str) -> Vec<Sourced<T>> {
    rows.into_iter()
        .map(|row| Sourced::new(row, source))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, Value, json};

    #[test]
    fn source_overrides_an_existing_key() {
        let mut row = Map::new();
        row.insert("id".into(), json!("task-1"));
        row.insert("_source".into(), json!("forged"));
        let tagged = tag_object(row, SOURCE_LOCAL);
        let wire = serde_json::to_string(&tagged).unwrap();
        assert_eq!(wire, r#"{"_source":"local","id":"task-1"}"#);
    }

    #[test]
    fn tags_round_trip() {
        let wire = json!({"id": "remote-1", "title": "Remote One", "_source": "peer-b"});
        let parsed: Sourced<Map<String, Value>> = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(parsed.source, "peer-b");
        assert!(!parsed.row.contains_key("_source"));
        assert_eq!(serde_json::to_value(&parsed).unwrap(), wire);
        let tags = tag_with_source(vec![json!({"id": 1})], "peer-a");
        assert_eq!(tags[0].source, "peer-a");
    }
}
