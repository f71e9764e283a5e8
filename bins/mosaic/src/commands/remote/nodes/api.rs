//! HTTP for `mosaic node` and `mosaic session`: JSON calls and the NDJSON
//! output stream, with refusals that say what went wrong and what to do.
//!
//! The shared [`GatewayClient`](super::super::GatewayClient) reads whole
//! answers under a 30 s limit; following a task's output needs a response
//! that stays open, so these commands keep their own small client with the
//! same error wording plus a hint per status.

use super::super::Connection;
use anyhow::{Context as _, anyhow, bail};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// Limit on a JSON call (as the other remote commands have).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Limit on opening a connection; a followed stream itself has none.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Keep-alive probes notice a followed stream whose peer vanished.
const KEEPALIVE: Duration = Duration::from_secs(30);

/// What a request is about, to say how to fix a refusal.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// `POST /api/nodes/invite`.
    Invite,
    /// `GET /api/nodes`.
    Nodes,
    /// One node.
    Node(&'a str),
    /// `GET|POST /api/sessions`.
    Sessions,
    /// One session.
    Session(&'a str),
    /// Attaching `node` to `session`.
    Attach {
        /// Session id.
        session: &'a str,
        /// Node id.
        node: &'a str,
    },
    /// Dispatching a command in `session`.
    Dispatch {
        /// Session id.
        session: &'a str,
    },
    /// One task (or its output).
    Task {
        /// Session id.
        session: &'a str,
        /// Task id.
        task: &'a str,
    },
    /// Cancelling a task.
    Cancel {
        /// Session id.
        session: &'a str,
        /// Task id.
        task: &'a str,
    },
}

/// How to fix a refusal with `status` of a request about `target`.
pub fn hint(target: Target<'_>, status: u16) -> Option<String> {
    use Target as T;
    let h = match (status, target) {
        (401, _) => "check --token or MOSAIC_TOKEN: it must be a valid user token (`mosaic user token <user>` issues one)".to_owned(),
        (403, _) => "nodes and sessions take a user token, not an admin token: `mosaic user token <user>` issues one".to_owned(),
        (404, T::Node(id)) => format!("you have no node `{id}`: `mosaic node ls` lists your nodes"),
        (404, T::Session(id)) => {
            format!("you have no session `{id}`: `mosaic session ls` lists your sessions")
        }
        (404, T::Attach { .. }) => "check the session (`mosaic session ls`) and the node (`mosaic node ls`)".to_owned(),
        (404, T::Dispatch { session }) => format!(
            "check the session (`mosaic session ls`) and --node (`mosaic session show {session}` lists its nodes)"
        ),
        (404, T::Task { session, task } | T::Cancel { session, task }) => format!(
            "no task `{task}` in session `{session}`: `mosaic session logs {session}` lists its tasks"
        ),
        (404, T::Invite | T::Nodes | T::Sessions) => "this gateway has no agent-node API: it may predate agent nodes (upgrade it), or --gateway points elsewhere".to_owned(),
        (409, T::Attach { session, node }) => format!(
            "the session may be closed, or node `{node}` not available to it: `mosaic session show {session}`, `mosaic node show {node}`"
        ),
        (409 | 503, T::Dispatch { session }) => format!(
            "the node must be online and attached to an active session: `mosaic session show {session}`, `mosaic node ls`; with several nodes attached, pick one with --node"
        ),
        (409, T::Cancel { session, task }) => format!(
            "the task may have ended already: `mosaic session logs {session} {task}`"
        ),
        (409, T::Node(id)) => format!("see `mosaic node show {id}`"),
        (400 | 422, T::Invite) => "check --name, --ttl (1m to 7d) and the policy flags (--strict --allow …, or --deny …)".to_owned(),
        (400 | 422, T::Dispatch { .. }) => "check the command, --node (needed when several nodes are attached), --cwd and --timeout".to_owned(),
        (400 | 422, T::Attach { .. }) => "check the node id: `mosaic node ls` lists your nodes".to_owned(),
        (400 | 422, T::Sessions) => "check --name".to_owned(),
        (429, _) => "too many requests: retry in a moment".to_owned(),
        (500..=599, _) => "the gateway failed: retry, or look at its log".to_owned(),
        _ => return None,
    };
    Some(h)
}

/// The error for a non-2xx answer: status, the envelope's code and message
/// (or the body as text), and a hint.
pub fn refusal(status: u16, body: &[u8], target: Target<'_>) -> anyhow::Error {
    let envelope = serde_json::from_slice::<mosaic_types::ErrorEnvelope>(body).ok();
    let detail = match &envelope {
        Some(e) => format!("{}: {}", e.error.code, e.error.message),
        None => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            if text.is_empty() {
                "no details".to_owned()
            } else {
                text.replace('\n', " ")
            }
        }
    };
    // A 404 without the envelope comes from the router: no such endpoint.
    let hint = if status == 404 && envelope.is_none() {
        Some(
            "this gateway has no such endpoint: it may predate agent nodes (upgrade it), or --gateway points elsewhere"
                .to_owned(),
        )
    } else {
        hint(target, status)
    };
    match hint {
        Some(h) => anyhow!("the gateway refused ({status}): {detail}; {h}"),
        None => anyhow!("the gateway refused ({status}): {detail}"),
    }
}

/// A client bound to one gateway and user token.
#[derive(Debug, Clone)]
pub struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Api {
    /// A client for `conn`; fails without a token.
    pub fn new(conn: &Connection) -> anyhow::Result<Self> {
        let Some(token) = conn.token.clone().filter(|t| !t.trim().is_empty()) else {
            bail!(
                "this command needs a user token: pass --token or set MOSAIC_TOKEN (`mosaic user token <user>` issues one)"
            );
        };
        mosaic_federation_client::ensure_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_keepalive(KEEPALIVE)
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            base: conn.gateway.trim_end_matches('/').to_owned(),
            token,
            http,
        })
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
        target: Target<'_>,
        stream: bool,
    ) -> anyhow::Result<reqwest::Response> {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.request(method, &url).bearer_auth(&self.token);
        req = if stream {
            req.header(reqwest::header::ACCEPT, "application/x-ndjson")
        } else {
            req.timeout(REQUEST_TIMEOUT)
        };
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.map_err(|e| {
            anyhow!(
                "cannot reach the gateway at {}: {e} (is it running? set --gateway or MOSAIC_GATEWAY_URL)",
                self.base
            )
        })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let bytes = resp.bytes().await.unwrap_or_default();
        Err(refusal(status.as_u16(), &bytes, target))
    }

    async fn json<T: DeserializeOwned>(resp: reqwest::Response) -> anyhow::Result<T> {
        let bytes = resp.bytes().await.context("reading the gateway's answer")?;
        serde_json::from_slice(&bytes).context("the gateway's answer is not the expected JSON")
    }

    /// GET a JSON answer.
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        target: Target<'_>,
    ) -> anyhow::Result<T> {
        let resp = self
            .send(reqwest::Method::GET, path, None, target, false)
            .await?;
        Self::json(resp).await
    }

    /// POST a JSON body, read a JSON answer.
    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
        target: Target<'_>,
    ) -> anyhow::Result<T> {
        let body = serde_json::to_value(body)?;
        let resp = self
            .send(reqwest::Method::POST, path, Some(body), target, false)
            .await?;
        Self::json(resp).await
    }

    /// POST without a body, read a JSON answer.
    pub async fn post_empty<T: DeserializeOwned>(
        &self,
        path: &str,
        target: Target<'_>,
    ) -> anyhow::Result<T> {
        let resp = self
            .send(reqwest::Method::POST, path, None, target, false)
            .await?;
        Self::json(resp).await
    }

    /// DELETE; the answer's body, if any, is ignored.
    pub async fn delete(&self, path: &str, target: Target<'_>) -> anyhow::Result<()> {
        self.send(reqwest::Method::DELETE, path, None, target, false)
            .await?;
        Ok(())
    }

    /// GET a streamed answer (NDJSON), without a time limit.
    pub async fn stream(
        &self,
        path: &str,
        target: Target<'_>,
    ) -> anyhow::Result<reqwest::Response> {
        self.send(reqwest::Method::GET, path, None, target, true)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_carry_the_envelope_and_a_hint() {
        let body = br#"{"error":{"code":"not_found","message":"node n1 not found"}}"#;
        let e = refusal(404, body, Target::Node("n1")).to_string();
        assert_eq!(
            e,
            "the gateway refused (404): not_found: node n1 not found; you have no node `n1`: `mosaic node ls` lists your nodes"
        );
        let e = refusal(
            401,
            br#"{"error":{"code":"unauthorized","message":"bad token"}}"#,
            Target::Nodes,
        )
        .to_string();
        assert!(
            e.contains("(401): unauthorized: bad token; check --token"),
            "{e}"
        );
        assert!(!e.contains('\n'));
    }

    #[test]
    fn a_bare_404_means_a_missing_endpoint() {
        let e = refusal(404, b"", Target::Session("s")).to_string();
        assert!(e.contains("no details"), "{e}");
        assert!(e.contains("no such endpoint"), "{e}");
    }

    #[test]
    fn text_bodies_stay_on_one_line() {
        let e = refusal(
            422,
            b"Failed to deserialize the JSON body\ninto the target type",
            Target::Dispatch { session: "s" },
        )
        .to_string();
        assert!(!e.contains('\n'), "{e}");
        assert!(e.contains("(422): Failed to deserialize"), "{e}");
        assert!(e.contains("--node"), "{e}");
    }

    #[test]
    fn each_status_gets_a_fitting_hint() {
        let t = Target::Task {
            session: "s",
            task: "t",
        };
        assert!(hint(t, 404).unwrap().contains("mosaic session logs s"));
        assert!(
            hint(
                Target::Cancel {
                    session: "s",
                    task: "t"
                },
                409
            )
            .unwrap()
            .contains("mosaic session logs s t")
        );
        assert!(hint(Target::Invite, 422).unwrap().contains("--ttl"));
        assert!(hint(Target::Nodes, 403).unwrap().contains("token"));
        assert!(hint(Target::Nodes, 502).unwrap().contains("log"));
        assert_eq!(hint(Target::Nodes, 409), None);
    }

    #[test]
    fn a_missing_token_is_refused_before_any_request() {
        let conn = Connection {
            gateway: "http://127.0.0.1:1".into(),
            token: None,
        };
        let e = Api::new(&conn).unwrap_err().to_string();
        assert!(e.contains("--token"), "{e}");
    }
}
