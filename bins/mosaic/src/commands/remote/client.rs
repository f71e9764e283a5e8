//! A small JSON client for the gateway's HTTP API with readable errors.

use anyhow::{Context as _, anyhow, bail};
use clap::Args;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Where the gateway is and how to authenticate.
#[derive(Debug, Clone, Args)]
pub struct Connection {
    /// Gateway HTTP API base URL.
    #[arg(
        long,
        env = "MOSAIC_GATEWAY_URL",
        default_value = "http://127.0.0.1:7420",
        value_name = "URL"
    )]
    pub gateway: String,
    /// Bearer token (admin or user, depending on the command).
    #[arg(
        long,
        env = "MOSAIC_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
}

/// A client bound to one gateway and token.
#[derive(Debug, Clone)]
pub struct GatewayClient {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl GatewayClient {
    /// A client for `conn`.
    pub fn new(conn: &Connection) -> anyhow::Result<Self> {
        mosaic_federation_client::ensure_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            base: conn.gateway.trim_end_matches('/').to_owned(),
            token: conn.token.clone(),
            http,
        })
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<T> {
        let Some(token) = &self.token else {
            bail!("this command needs a token: pass --token or set MOSAIC_TOKEN");
        };
        let url = format!("{}{path}", self.base);
        let mut req = self.http.request(method, &url).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| {
            anyhow!("cannot reach the gateway at {}: {e} (is it running? set --gateway or MOSAIC_GATEWAY_URL)", self.base)
        })?;
        let status = resp.status();
        let bytes = resp.bytes().await.context("reading the gateway's answer")?;
        if !status.is_success() {
            let detail = serde_json::from_slice::<mosaic_types::ErrorEnvelope>(&bytes)
                .map(|e| format!("{}: {}", e.error.code, e.error.message))
                .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
            bail!("the gateway refused ({}): {detail}", status.as_u16());
        }
        if bytes.is_empty() {
            return serde_json::from_value(Value::Null).context("empty answer");
        }
        serde_json::from_slice(&bytes).context("the gateway's answer is not the expected JSON")
    }

    /// GET.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.send(reqwest::Method::GET, path, None).await
    }

    /// POST a JSON body.
    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> anyhow::Result<T> {
        let body = serde_json::to_value(body)?;
        self.send(reqwest::Method::POST, path, Some(&body)).await
    }

    /// PUT a JSON body.
    pub async fn put<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> anyhow::Result<T> {
        let body = serde_json::to_value(body)?;
        self.send(reqwest::Method::PUT, path, Some(&body)).await
    }

    /// DELETE.
    pub async fn delete(&self, path: &str) -> anyhow::Result<()> {
        let _: Value = self.send(reqwest::Method::DELETE, path, None).await?;
        Ok(())
    }
}

/// Percent-encodes one path segment.
pub fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
