//! The query source: `local`, `all` (fan out to every outbound peer) or
//! `federated:<host>` (one peer), for a listing or a search alike
//! ([`SourceRequest`]).
//!
//! `all` answers with what it could read: a peer that fails does not fail the
//! query, but sets `_partial` and is named in `_partialDetails` with what
//! went wrong, so nobody has to read a log to learn which peer is missing.
//!
//! The router is generic over where peers come from ([`PeerDirectory`]) and
//! how a peer is asked ([`RemoteLister`]), so the same code serves the gateway
//! (peers in its store, clients with unsealed keys) and tests (fakes).

use crate::client::Row;
use crate::error::FederationClientError;
use futures_util::future::{join, join_all};
use mosaic_types::{
    FederationListRequest, FederationListResponse, FederationSearchRequest, SOURCE_LOCAL,
    UnansweredSource, tag_object,
};
use std::fmt;
use std::future::Future;
use std::str::FromStr;
use url::Url;

/// Where a query is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuerySource {
    /// This gateway only.
    Local,
    /// This gateway and every outbound peer.
    All,
    /// One peer, named by common name or endpoint host (`host` or `host:port`).
    Federated(String),
}

impl fmt::Display for QuerySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local => f.write_str("local"),
            Self::All => f.write_str("all"),
            Self::Federated(host) => write!(f, "federated:{host}"),
        }
    }
}

/// Why a source could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum QuerySourceErrorCode {
    /// Not `local`, `all` or `federated:<host>`.
    InvalidSource,
    /// The local query refused the request (a cursor this gateway did not
    /// issue, …).
    InvalidRequest,
    /// No active outbound peer matches the host.
    PeerNotFound,
    /// The local query failed (there is no safe fallback for it).
    LocalFailed,
    /// The list of peers could not be read.
    DirectoryFailed,
    /// The one peer asked failed (`federated:<host>` only; `all` tolerates it).
    PeerFailed,
}

/// A failed query-source call.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct QuerySourceError {
    /// What kind.
    pub code: QuerySourceErrorCode,
    /// The source as given.
    pub source_name: String,
    /// Human-readable.
    pub message: String,
    /// For `PEER_FAILED`: the client's error.
    pub peer_error: Option<FederationClientError>,
}

impl QuerySourceError {
    fn new(code: QuerySourceErrorCode, source: &str, message: impl Into<String>) -> Self {
        Self {
            code,
            source_name: source.to_owned(),
            message: message.into(),
            peer_error: None,
        }
    }
}

impl FromStr for QuerySource {
    type Err = QuerySourceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "local" => Ok(Self::Local),
            "all" => Ok(Self::All),
            _ => match s.strip_prefix("federated:") {
                Some(host) if !host.trim().is_empty() => {
                    Ok(Self::Federated(host.trim().to_owned()))
                }
                Some(_) => Err(QuerySourceError::new(
                    QuerySourceErrorCode::InvalidSource,
                    s,
                    "Federated source must include a host after federated:",
                )),
                None => Err(QuerySourceError::new(
                    QuerySourceErrorCode::InvalidSource,
                    s,
                    format!(
                        "Unsupported query source: {s} (expected local, all or federated:<host>)"
                    ),
                )),
            },
        }
    }
}

/// A peer a query names: one with an endpoint and a client key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundPeer {
    /// Its id.
    pub id: String,
    /// Its certificate common name: the `_source` of its rows.
    pub common_name: String,
    /// Base URL of its federation listener.
    pub endpoint_url: String,
}

/// Where the outbound peers come from.
pub trait PeerDirectory {
    /// The peers a query names, with an endpoint and a client key. Usually
    /// the active ones; a directory may add peers it wants reported rather
    /// than left out (the gateway adds peers that refused our grant, whose
    /// lister answers with that refusal without asking them). When two share
    /// a name, the one listed first is the one `federated:<name>` asks.
    fn outbound_peers(&self) -> impl Future<Output = Result<Vec<OutboundPeer>, String>> + Send;
}

/// What a query asks every source for: a page of a listing or of a search.
/// On the wire it is the verb's body.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum SourceRequest {
    /// `list`: newest first.
    List(FederationListRequest),
    /// `search`: the rows holding every word, best match first.
    Search(FederationSearchRequest),
}

impl SourceRequest {
    /// The verb's name.
    pub fn verb(&self) -> &'static str {
        match self {
            Self::List(_) => "list",
            Self::Search(_) => "search",
        }
    }
}

/// How one peer is asked for a page.
pub trait RemoteLister {
    /// Asks `peer` for a page of `resource`: a listing or a search.
    fn fetch(
        &self,
        peer: &OutboundPeer,
        resource: &str,
        request: &SourceRequest,
    ) -> impl Future<Output = Result<FederationListResponse<Row>, FederationClientError>> + Send;
}

/// Why the local half of a query failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocalQueryError {
    /// The request is at fault; the message names the part (e.g. a cursor
    /// this gateway did not issue).
    #[error("{0}")]
    InvalidRequest(String),
    /// The query itself failed.
    #[error("{0}")]
    Failed(String),
}

impl From<String> for LocalQueryError {
    fn from(message: String) -> Self {
        Self::Failed(message)
    }
}

/// The local half of a query: produces this gateway's page.
pub trait LocalLister {
    /// This gateway's rows (untagged).
    fn list(
        self,
    ) -> impl Future<Output = Result<FederationListResponse<Row>, LocalQueryError>> + Send;
}

impl<F, Fut> LocalLister for F
where
    F: FnOnce() -> Fut + Send,
    Fut: Future<Output = Result<FederationListResponse<Row>, LocalQueryError>> + Send,
{
    fn list(
        self,
    ) -> impl Future<Output = Result<FederationListResponse<Row>, LocalQueryError>> + Send {
        self()
    }
}

/// How a failed peer is named in `_partialDetails`.
fn unanswered(peer: &OutboundPeer, e: &FederationClientError) -> UnansweredSource {
    UnansweredSource {
        source: peer.common_name.clone(),
        code: e.code.to_string(),
        status: e.status,
        message: e.message.clone(),
    }
}

fn normalize(s: &str) -> String {
    s.trim().to_lowercase()
}

/// The endpoint's `host:port` (port only when not the scheme's default) and
/// bare `host`.
fn endpoint_keys(endpoint: &str) -> Vec<String> {
    let Ok(url) = Url::parse(endpoint) else {
        return Vec::new();
    };
    let Some(host) = url.host_str() else {
        return Vec::new();
    };
    let hostname = normalize(host);
    let mut keys = Vec::with_capacity(2);
    if let Some(port) = url.port() {
        keys.push(format!("{hostname}:{port}"));
    }
    keys.push(hostname);
    keys
}

/// The first peer (in the given order) whose common name, endpoint `host:port`
/// or endpoint host equals `host`, ignoring case and surrounding blanks.
pub fn find_peer_by_host<'a>(peers: &'a [OutboundPeer], host: &str) -> Option<&'a OutboundPeer> {
    let host = normalize(host);
    peers.iter().find(|p| {
        normalize(&p.common_name) == host || endpoint_keys(&p.endpoint_url).contains(&host)
    })
}

fn tag(mut page: FederationListResponse<Row>, source: &str) -> FederationListResponse<Row> {
    page.items = page
        .items
        .into_iter()
        .map(|row| tag_object(row, source))
        .collect();
    // A cursor means more rows exist.
    page.truncated = page.truncated || page.next_cursor.is_some();
    page
}

/// Answers list and search queries from a source.
#[derive(Debug, Clone)]
pub struct QuerySourceRouter<D, R> {
    directory: D,
    remote: R,
}

impl<D: PeerDirectory + Sync, R: RemoteLister + Sync> QuerySourceRouter<D, R> {
    /// A router over these peers and this client.
    pub fn new(directory: D, remote: R) -> Self {
        Self { directory, remote }
    }

    /// Lists `resource` from `source`: [`query`](Self::query) with a list
    /// request.
    pub async fn list(
        &self,
        source: &QuerySource,
        resource: &str,
        request: &FederationListRequest,
        local: impl LocalLister,
    ) -> Result<FederationListResponse<Row>, QuerySourceError> {
        let request = SourceRequest::List(request.clone());
        self.query(source, resource, &request, local).await
    }

    /// Searches `resource` on `source`: [`query`](Self::query) with a
    /// search request. With `all`, each source's rows come ranked within
    /// that source, local first.
    pub async fn search(
        &self,
        source: &QuerySource,
        resource: &str,
        request: &FederationSearchRequest,
        local: impl LocalLister,
    ) -> Result<FederationListResponse<Row>, QuerySourceError> {
        let request = SourceRequest::Search(request.clone());
        self.query(source, resource, &request, local).await
    }

    /// Answers `request` for `resource` from `source`. `local` runs only the
    /// local half; a `federated:` source asks one peer (its errors are
    /// returned); `all` asks everyone at once, returns whatever succeeded
    /// with `_partial` and, for each peer that failed, an entry in
    /// `_partialDetails` naming it and why; it never returns a cursor (one
    /// cursor cannot span sources).
    pub async fn query(
        &self,
        source: &QuerySource,
        resource: &str,
        request: &SourceRequest,
        local: impl LocalLister,
    ) -> Result<FederationListResponse<Row>, QuerySourceError> {
        let name = source.to_string();
        let local_failed = |e: LocalQueryError| match e {
            LocalQueryError::InvalidRequest(message) => {
                QuerySourceError::new(QuerySourceErrorCode::InvalidRequest, &name, message)
            }
            LocalQueryError::Failed(message) => QuerySourceError::new(
                QuerySourceErrorCode::LocalFailed,
                &name,
                format!("local query failed: {message}"),
            ),
        };
        match source {
            QuerySource::Local => Ok(tag(local.list().await.map_err(local_failed)?, SOURCE_LOCAL)),
            QuerySource::Federated(host) => {
                let peers = self.peers(&name).await?;
                let peer = find_peer_by_host(&peers, host).ok_or_else(|| {
                    QuerySourceError::new(
                        QuerySourceErrorCode::PeerNotFound,
                        &name,
                        format!("No active outbound federation peer matches source {name}"),
                    )
                })?;
                let page = self
                    .remote
                    .fetch(peer, resource, request)
                    .await
                    .map_err(|e| {
                        let mut err = QuerySourceError::new(
                            QuerySourceErrorCode::PeerFailed,
                            &name,
                            e.to_string(),
                        );
                        err.peer_error = Some(e);
                        err
                    })?;
                Ok(tag(page, &peer.common_name))
            }
            QuerySource::All => {
                let peers = self.peers(&name).await?;
                // Local first, then each peer in order, all in flight together.
                let remotes = peers.iter().map(|peer| async move {
                    match self.remote.fetch(peer, resource, request).await {
                        Ok(page) => Ok(tag(page, &peer.common_name)),
                        Err(e) => {
                            tracing::warn!(
                                peer = %peer.common_name, id = %peer.id, error = %e,
                                verb = request.verb(),
                                "federated query failed; returning a partial all-source response"
                            );
                            Err(unanswered(peer, &e))
                        }
                    }
                });
                let (local, remote) = join(local.list(), join_all(remotes)).await;
                let local = tag(local.map_err(local_failed)?, SOURCE_LOCAL);

                let mut out = FederationListResponse::complete(Vec::new());
                let mut pages = vec![local];
                for page in remote {
                    match page {
                        Ok(page) => pages.push(page),
                        Err(missing) => {
                            out.partial = true;
                            out.partial_details.push(missing);
                        }
                    }
                }
                for page in pages {
                    out.partial |= page.partial || page.next_cursor.is_some();
                    out.truncated |= page.truncated;
                    out.items.extend(page.items);
                }
                Ok(out)
            }
        }
    }

    async fn peers(&self, name: &str) -> Result<Vec<OutboundPeer>, QuerySourceError> {
        let mut peers = self.directory.outbound_peers().await.map_err(|e| {
            QuerySourceError::new(
                QuerySourceErrorCode::DirectoryFailed,
                name,
                format!("cannot read peers: {e}"),
            )
        })?;
        // Stable: peers sharing a name keep the directory's order.
        peers.sort_by(|a, b| a.common_name.cmp(&b.common_name));
        Ok(peers)
    }
}
