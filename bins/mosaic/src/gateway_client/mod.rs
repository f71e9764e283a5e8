//! The one client every command uses to talk to a gateway's HTTP API.
//!
//! It owns the base URL, the bearer token, the time limits, JSON in and out,
//! the error envelope (each failure is one [`GatewayError`] line naming the
//! gateway) and streamed NDJSON answers. Commands build [`ApiPath`]s and add
//! their own hints to refusals; they never build URLs or read statuses.

mod error;
mod ndjson;
mod path;

pub use error::{GatewayError, Refusal};
pub use ndjson::NdjsonStream;
pub use path::ApiPath;

use clap::Args;
use reqwest::{Method, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// Limit on opening a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Limit on a whole JSON call; a streamed answer has none.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Keep-alive probes notice a streamed answer whose peer vanished.
const KEEPALIVE: Duration = Duration::from_secs(30);

/// Where the gateway is and how to authenticate: `--gateway`, `--token`.
#[derive(Debug, Clone, Args)]
pub struct Connection {
    /// Gateway HTTP API base URL [env: MOSAIC_GATEWAY_URL] [config: client.gateway_url]
    /// [default: http://127.0.0.1:7420].
    #[arg(long, value_name = "URL")]
    pub gateway: Option<String>,
    /// Bearer token, admin or user depending on the command [env: MOSAIC_TOKEN]
    /// [config: client.token, written by `mosaic login`].
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
}

impl Connection {
    /// A client for this gateway and token, each from its flag, the
    /// environment or the config file.
    pub fn client(&self) -> Result<GatewayClient, GatewayError> {
        let gateway = crate::settings::gateway_url(self.gateway.as_deref(), "--gateway")?;
        let token = crate::settings::token(self.token.as_deref(), "--token")?;
        GatewayClient::new(&gateway.value, token.as_ref().map(|t| t.value.as_str()))
    }
}

/// A client bound to one gateway and (usually) a token.
#[derive(Debug, Clone)]
pub struct GatewayClient {
    base: Url,
    /// The gateway as the user gave it, for messages.
    shown: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl GatewayClient {
    /// A client for the gateway at `gateway` (an http:// or https:// URL).
    /// A blank token counts as none.
    pub fn new(gateway: &str, token: Option<&str>) -> Result<Self, GatewayError> {
        let base = parse_base(gateway)?;
        mosaic_federation_client::ensure_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_keepalive(KEEPALIVE)
            .build()
            .map_err(|e| GatewayError::Setup(format!("cannot set up the HTTP client: {e}")))?;
        Ok(Self {
            base,
            shown: gateway.trim().trim_end_matches('/').to_owned(),
            token: token
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned),
            http,
        })
    }

    /// Fails now, with `message`, when there is no token, rather than at
    /// the first request.
    pub fn require_token(self, message: &str) -> Result<Self, GatewayError> {
        if self.token.is_none() {
            return Err(GatewayError::Setup(message.to_owned()));
        }
        Ok(self)
    }

    /// Sends one request; a non-2xx answer becomes a [`Refusal`].
    async fn send(
        &self,
        method: Method,
        path: &ApiPath,
        body: Option<serde_json::Value>,
        stream: bool,
    ) -> Result<reqwest::Response, GatewayError> {
        let Some(token) = &self.token else {
            return Err(GatewayError::Setup(
                "this command needs a token: pass --token, set MOSAIC_TOKEN, or run `mosaic login`"
                    .to_owned(),
            ));
        };
        let mut req = self
            .http
            .request(method, path.url(&self.base))
            .bearer_auth(token);
        req = if stream {
            req.header(reqwest::header::ACCEPT, "application/x-ndjson")
        } else {
            req.timeout(REQUEST_TIMEOUT)
        };
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.map_err(|e| GatewayError::Unreachable {
            gateway: self.shown.clone(),
            reason: reason(&e),
        })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let bytes = resp.bytes().await.unwrap_or_default();
        Err(GatewayError::refused(Refusal::new(
            &self.shown,
            status.as_u16(),
            &bytes,
        )))
    }

    /// Reads a JSON answer; an empty one reads as `null`.
    async fn decode<T: DeserializeOwned>(
        &self,
        resp: reqwest::Response,
    ) -> Result<T, GatewayError> {
        let bytes = resp.bytes().await.map_err(|e| GatewayError::Read {
            gateway: self.shown.clone(),
            reason: reason(&e),
        })?;
        let parsed = if bytes.is_empty() {
            serde_json::from_value(serde_json::Value::Null)
        } else {
            serde_json::from_slice(&bytes)
        };
        parsed.map_err(|e| GatewayError::Decode {
            gateway: self.shown.clone(),
            reason: e.to_string(),
        })
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &ApiPath,
        body: Option<serde_json::Value>,
    ) -> Result<T, GatewayError> {
        let resp = self.send(method, path, body, false).await?;
        self.decode(resp).await
    }

    /// GET a JSON answer.
    pub async fn get<T: DeserializeOwned>(&self, path: &ApiPath) -> Result<T, GatewayError> {
        self.call(Method::GET, path, None).await
    }

    /// GET a JSON answer from a route that needs no token (`/readyz`).
    pub async fn get_public<T: DeserializeOwned>(&self, path: &str) -> Result<T, GatewayError> {
        let resp = self
            .http
            .get(ApiPath::new(path).url(&self.base))
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(|e| GatewayError::Unreachable {
                gateway: self.shown.clone(),
                reason: reason(&e),
            })?;
        let status = resp.status();
        if !status.is_success() {
            let bytes = resp.bytes().await.unwrap_or_default();
            return Err(GatewayError::refused(Refusal::new(
                &self.shown,
                status.as_u16(),
                &bytes,
            )));
        }
        self.decode(resp).await
    }

    /// POST a JSON body, read a JSON answer.
    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &ApiPath,
        body: &impl Serialize,
    ) -> Result<T, GatewayError> {
        self.call(Method::POST, path, Some(to_json(body)?)).await
    }

    /// POST without a body, read a JSON answer.
    pub async fn post_empty<T: DeserializeOwned>(&self, path: &ApiPath) -> Result<T, GatewayError> {
        self.call(Method::POST, path, None).await
    }

    /// PUT a JSON body, read a JSON answer.
    pub async fn put<T: DeserializeOwned>(
        &self,
        path: &ApiPath,
        body: &impl Serialize,
    ) -> Result<T, GatewayError> {
        self.call(Method::PUT, path, Some(to_json(body)?)).await
    }

    /// DELETE; the answer's body, if any, is ignored.
    pub async fn delete(&self, path: &ApiPath) -> Result<(), GatewayError> {
        self.send(Method::DELETE, path, None, false).await?;
        Ok(())
    }

    /// GET a streamed NDJSON answer, without a time limit.
    pub async fn stream(&self, path: &ApiPath) -> Result<NdjsonStream, GatewayError> {
        let resp = self.send(Method::GET, path, None, true).await?;
        Ok(NdjsonStream::new(&self.shown, resp))
    }
}

fn parse_base(gateway: &str) -> Result<Url, GatewayError> {
    let base = Url::parse(gateway.trim()).map_err(|_| {
        GatewayError::Setup(format!(
            "--gateway `{gateway}` is not a URL (expected e.g. http://127.0.0.1:7420)"
        ))
    })?;
    if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
        return Err(GatewayError::Setup(format!(
            "--gateway `{gateway}` must be an http:// or https:// URL"
        )));
    }
    Ok(base)
}

fn to_json(body: &impl Serialize) -> Result<serde_json::Value, GatewayError> {
    serde_json::to_value(body)
        .map_err(|e| GatewayError::Setup(format!("cannot encode the request: {e}")))
}

/// Why a request failed, in a few words: the innermost cause (`Connection
/// refused`, …), or that it timed out.
fn reason(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "no answer in time".to_owned();
    }
    let mut inner: &dyn std::error::Error = e;
    while let Some(next) = inner.source() {
        inner = next;
    }
    inner.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_urls_are_checked() {
        for bad in ["gw:7420", "ftp://gw", "not a url"] {
            let err = GatewayClient::new(bad, Some("t")).unwrap_err().to_string();
            assert!(err.contains("--gateway"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_blank_token_is_no_token() {
        let c = GatewayClient::new("http://127.0.0.1:1", Some("  ")).unwrap();
        let e = c.require_token("needs a token").unwrap_err();
        assert_eq!(e.to_string(), "needs a token");
    }

    #[tokio::test]
    async fn an_absent_gateway_is_named() {
        // Port 1 on loopback: nothing listens there.
        let c = GatewayClient::new("http://127.0.0.1:1/", Some("t")).unwrap();
        let e = c
            .get::<serde_json::Value>(&ApiPath::new("/api/nodes"))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("cannot reach the gateway at http://127.0.0.1:1: "),
            "{e}"
        );
        assert!(!e.contains('\n'), "{e}");
    }
}
