//! Talking to Mosaic federation peers.
//!
//! [`PeerClient`] is an mTLS client for one peer gateway: it presents the
//! client certificate the peer issued to us (whose Mosaic OIDs name the grant
//! and the user), trusts only the peer's CA, and turns every failure into a
//! [`FederationClientError`] with a machine-readable [`ClientErrorCode`].
//!
//! A call the peer rate limits (429) is retried a bounded number of times,
//! waiting at least the peer's `Retry-After` plus jitter, and never past the
//! call's deadline ([`RetryPolicy`], [`PeerClient::with_deadline`]); when it
//! gives up it reports `RATE_LIMITED` with the wait.
//!
//! [`QuerySourceRouter`] answers `local`, `all` and `federated:<host>` queries,
//! listings and searches alike:
//! it picks peers, fans out concurrently, tolerates a failing peer with
//! `_partial` and names it, with why, in `_partialDetails`, and tags every
//! row with its `_source`.
//!
//! ```no_run
//! use mosaic_federation_client::{PeerClient, PeerClientConfig};
//! use mosaic_types::FederationListRequest;
//!
//! # async fn demo(ca_pem: String, cert_pem: String, key_pem: String) -> Result<(), mosaic_federation_client::FederationClientError> {
//! let client = PeerClient::new(PeerClientConfig::new(
//!     "peer-b",
//!     "https://work.example.com:7443",
//!     ca_pem,   // the peer's CA, pinned at enrollment
//!     cert_pem, // our client certificate for this peer
//!     key_pem,  // its private key, unsealed in memory only
//! ))?;
//! let caps = client.capabilities().await?;
//! println!("granted: {:?}", caps.resources);
//! let page = client.list("tasks", &FederationListRequest { limit: Some(10), cursor: None }).await?;
//! for row in page.items {
//!     println!("{}", row["title"]);
//! }
//! # Ok(()) }
//! ```
//!
//! The crate depends on wire types and a TLS stack only: no store, no
//! certificate authority, no gateway. Where the key comes from (and how it was
//! sealed) is the caller's business.

mod client;
pub mod enroll;
mod error;
mod retry;
mod source;

pub use client::{PeerClient, PeerClientConfig, Row, ensure_crypto_provider};
pub use error::{ClientErrorCode, FederationClientError};
pub use retry::{Next, RetryPolicy};
pub use source::{
    LocalLister, LocalQueryError, OutboundPeer, PeerDirectory, QuerySource, QuerySourceError,
    QuerySourceErrorCode, QuerySourceRouter, RemoteLister, SourceRequest, find_peer_by_host,
};
