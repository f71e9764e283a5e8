//! The backlog through a gateway's HTTP API.

use super::{Op, Outcome};
use anyhow::{Context as _, bail};
use mosaic_backlog::api::{self, CardAction, LinkBody, OwnerBody, ReclaimBody};
use mosaic_types::ErrorEnvelope;
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use std::time::Duration;

/// One HTTP request: method, path segments below the gateway URL, query, body.
#[derive(Debug, PartialEq)]
pub(crate) struct Request {
    pub method: Method,
    pub segments: Vec<String>,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<serde_json::Value>,
}

fn segments(path: &str) -> Vec<String> {
    path.trim_start_matches('/')
        .split('/')
        .map(str::to_owned)
        .collect()
}

fn card_action(id: &mosaic_backlog::CardId, action: CardAction) -> Vec<String> {
    let mut path = segments(api::CARDS);
    path.push(id.as_str().to_owned());
    path.push(action.segment().to_owned());
    path
}

fn body(value: impl serde::Serialize) -> anyhow::Result<Option<serde_json::Value>> {
    Ok(Some(serde_json::to_value(value)?))
}

/// The request for `op`. Card ids become single path segments, so any id the
/// backlog accepts survives the URL.
pub(crate) fn request(op: &Op) -> anyhow::Result<Request> {
    let post = |segments, body| Request {
        method: Method::POST,
        segments,
        query: Vec::new(),
        body,
    };
    Ok(match op {
        Op::Create(card) => post(segments(api::CARDS), body(card)?),
        Op::List(filter) => {
            let mut query = Vec::new();
            if let Some(status) = filter.status {
                query.push(("status", status.as_str().to_owned()));
            }
            if let Some(phase) = &filter.phase {
                query.push(("phase", phase.clone()));
            }
            if filter.ready_only {
                query.push(("readyOnly", "true".to_owned()));
            }
            Request {
                method: Method::GET,
                segments: segments(api::CARDS),
                query,
                body: None,
            }
        }
        Op::Claim(req) => post(segments(api::CLAIM), body(req)?),
        Op::Renew(id, renew) => post(card_action(id, CardAction::Renew), body(renew)?),
        Op::Release(id, owner) => post(
            card_action(id, CardAction::Release),
            body(OwnerBody {
                owner: owner.clone(),
            })?,
        ),
        Op::Reclaim(id) => post(
            segments(api::RECLAIM),
            body(ReclaimBody { id: id.clone() })?,
        ),
        Op::Link(from, to) => post(
            card_action(from, CardAction::Link),
            body(LinkBody { to: to.clone() })?,
        ),
        Op::Stats => Request {
            method: Method::GET,
            segments: segments(api::STATS),
            query: Vec::new(),
            body: None,
        },
        Op::Block(id) => post(card_action(id, CardAction::Block), None),
        Op::Unblock(id) => post(card_action(id, CardAction::Unblock), None),
        Op::Complete(id, complete) => post(card_action(id, CardAction::Complete), body(complete)?),
        Op::Fail(id, fail) => post(card_action(id, CardAction::Fail), body(fail)?),
    })
}

/// A gateway and the token to present to it.
#[derive(Debug)]
pub(crate) struct Client {
    base: Url,
    token: String,
    http: reqwest::Client,
}

impl Client {
    /// A client for the gateway at `url`.
    pub fn new(url: &str, token: &str) -> anyhow::Result<Self> {
        let base = Url::parse(url).with_context(|| {
            format!("--gateway `{url}` is not a URL (expected e.g. http://127.0.0.1:7420)")
        })?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            bail!("--gateway `{url}` must be an http:// or https:// URL");
        }
        // Another part of the process may have installed a provider already;
        // either way ring is the one in use.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .context("cannot set up the HTTP client")?;
        Ok(Self {
            base,
            token: token.trim().to_owned(),
            http,
        })
    }

    fn url(&self, segments: &[String]) -> anyhow::Result<Url> {
        let mut url = self.base.clone();
        {
            let mut path = url
                .path_segments_mut()
                .map_err(|()| anyhow::anyhow!("--gateway `{}` cannot take a path", self.base))?;
            path.pop_if_empty();
            path.extend(segments);
        }
        Ok(url)
    }

    /// Sends `op` and decodes the answer.
    pub async fn run(&self, op: Op) -> anyhow::Result<Outcome> {
        let req = request(&op)?;
        Ok(match op {
            Op::List(_) => Outcome::Cards(self.send(req).await?),
            Op::Claim(_) => Outcome::Claimed(self.send(req).await?),
            Op::Reclaim(_) => Outcome::Reclaimed(self.send(req).await?),
            Op::Stats => Outcome::Stats(self.send(req).await?),
            _ => Outcome::Card(self.send(req).await?),
        })
    }

    async fn send<T: DeserializeOwned>(&self, req: Request) -> anyhow::Result<T> {
        let mut url = self.url(&req.segments)?;
        if !req.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&req.query);
        }
        let mut builder = self
            .http
            .request(req.method, url.clone())
            .bearer_auth(&self.token);
        if let Some(body) = &req.body {
            builder = builder.json(body);
        }
        let resp = builder
            .send()
            .await
            .with_context(|| format!("cannot reach the gateway at {}", self.base))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .with_context(|| format!("reading the gateway's answer from {url}"))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).with_context(|| {
                format!("the gateway's answer from {url} is not what it should be")
            });
        }
        match serde_json::from_slice::<ErrorEnvelope>(&bytes) {
            Ok(envelope) if status.as_u16() == 401 => bail!(
                "the gateway refused the token ({}); check --token / MOSAIC_TOKEN",
                envelope.error.message
            ),
            Ok(envelope) => bail!("{}", envelope.error.message),
            Err(_) => bail!(
                "the gateway answered {status} for {url}: {}",
                String::from_utf8_lossy(&bytes).trim()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mosaic_backlog::api::CompleteBody;
    use mosaic_backlog::{CardId, ListFilter, Owner, Status};
    use serde_json::json;

    fn id(s: &str) -> CardId {
        CardId::new(s).unwrap()
    }

    #[test]
    fn lists_pass_the_filter_as_query() {
        let req = request(&Op::List(ListFilter {
            status: Some(Status::Ready),
            phase: Some("M 1".into()),
            ready_only: true,
        }))
        .unwrap();
        assert_eq!(req.method, Method::GET);
        assert_eq!(req.segments.join("/"), "api/fleet/v1/backlog/cards");
        assert_eq!(
            req.query,
            vec![
                ("status", "ready".to_owned()),
                ("phase", "M 1".to_owned()),
                ("readyOnly", "true".to_owned())
            ]
        );
    }

    #[test]
    fn card_actions_post_their_bodies_under_the_card() {
        let req = request(&Op::Complete(
            id("A1"),
            CompleteBody {
                owner: Some(Owner::new("w").unwrap()),
                force: false,
            },
        ))
        .unwrap();
        assert_eq!(req.method, Method::POST);
        assert_eq!(
            req.segments.join("/"),
            "api/fleet/v1/backlog/cards/A1/complete"
        );
        assert_eq!(req.body, Some(json!({"owner": "w"})));
        let req = request(&Op::Link(id("a"), id("b"))).unwrap();
        assert_eq!(req.body, Some(json!({"to": "b"})));
        assert_eq!(request(&Op::Block(id("a"))).unwrap().body, None);
    }

    #[test]
    fn ids_are_encoded_as_one_segment() {
        let client = Client::new("http://gw:7420/prefix/", "t").unwrap();
        let req = request(&Op::Block(id("a/b c?"))).unwrap();
        let url = client.url(&req.segments).unwrap();
        assert_eq!(
            url.as_str(),
            "http://gw:7420/prefix/api/fleet/v1/backlog/cards/a%2Fb%20c%3F/block"
        );
    }

    #[test]
    fn gateway_urls_are_checked() {
        for bad in ["gw:7420", "ftp://gw", "not a url"] {
            let err = Client::new(bad, "t").unwrap_err().to_string();
            assert!(err.contains("--gateway"), "{bad}: {err}");
        }
    }
}
