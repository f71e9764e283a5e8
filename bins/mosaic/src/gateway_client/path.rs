//! API paths below a gateway's base URL, built from fixed parts and values
//! that are encoded as they are added: an id becomes exactly one path
//! segment whatever it holds (`/`, `?`, spaces).

use reqwest::Url;

/// A path and query, relative to the gateway's base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiPath {
    segments: Vec<String>,
    query: Vec<(&'static str, String)>,
}

impl ApiPath {
    /// A fixed path such as `/api/admin/v1/users`; split on `/`.
    pub fn new(fixed: &str) -> Self {
        Self {
            segments: fixed
                .split('/')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            query: Vec::new(),
        }
    }

    /// Adds one segment, encoded.
    #[must_use]
    pub fn seg(mut self, value: impl AsRef<str>) -> Self {
        self.segments.push(value.as_ref().to_owned());
        self
    }

    /// Adds a query parameter, encoded.
    #[must_use]
    pub fn query(mut self, key: &'static str, value: impl ToString) -> Self {
        self.query.push((key, value.to_string()));
        self
    }

    /// Adds a query parameter when there is a value.
    #[must_use]
    pub fn query_opt(self, key: &'static str, value: Option<impl ToString>) -> Self {
        match value {
            Some(v) => self.query(key, v),
            None => self,
        }
    }

    /// The segments, unencoded.
    #[cfg(test)]
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// The query parameters, unencoded.
    #[cfg(test)]
    pub fn query_pairs(&self) -> &[(&'static str, String)] {
        &self.query
    }

    /// The full URL below `base`, keeping any path `base` has.
    pub fn url(&self, base: &Url) -> Url {
        let mut url = base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty();
            path.extend(&self.segments);
        }
        if !self.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&self.query);
        }
        url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn values_become_single_segments() {
        let p = ApiPath::new("/api/fleet/v1/backlog/cards")
            .seg("a/b c?")
            .seg("block");
        assert_eq!(
            p.url(&base("http://gw:7420/prefix/")).as_str(),
            "http://gw:7420/prefix/api/fleet/v1/backlog/cards/a%2Fb%20c%3F/block"
        );
        assert_eq!(
            p.url(&base("http://gw:7420")).as_str(),
            "http://gw:7420/api/fleet/v1/backlog/cards/a%2Fb%20c%3F/block"
        );
    }

    #[test]
    fn queries_are_encoded_and_optional() {
        let p = ApiPath::new("/api/v1/query/tasks")
            .query("source", "federated:work")
            .query_opt("limit", Some(5))
            .query_opt("cursor", None::<String>);
        assert_eq!(
            p.url(&base("http://gw")).as_str(),
            "http://gw/api/v1/query/tasks?source=federated%3Awork&limit=5"
        );
    }
}
