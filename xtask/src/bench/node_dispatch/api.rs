//! The gateway's HTTP API as the benchmark uses it, and the measured round
//! trip.

use anyhow::{Context as _, bail};
use mosaic_types::nodes::{
    DispatchRequest, InviteRequest, InviteResponse, NodeList, OutputEvent, TaskView,
};
use std::time::{Duration, Instant};

/// The gateway's HTTP API with one keep-alive client.
pub(super) struct Api {
    pub(super) http: reqwest::Client,
    pub(super) base: String,
    pub(super) token: String,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
        want: u16,
    ) -> anyhow::Result<Vec<u8>> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = resp.status();
        let bytes = resp.bytes().await?;
        if status.as_u16() != want {
            bail!(
                "{method} {path}: HTTP {status} (expected {want}): {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        Ok(bytes.to_vec())
    }

    pub(super) async fn post(
        &self,
        path: &str,
        body: serde_json::Value,
        want: u16,
    ) -> anyhow::Result<Vec<u8>> {
        self.call(reqwest::Method::POST, path, Some(body), want)
            .await
    }

    pub(super) async fn nodes(&self) -> anyhow::Result<NodeList> {
        let body = self
            .call(reqwest::Method::GET, "/api/nodes", None, 200)
            .await?;
        Ok(serde_json::from_slice(&body)?)
    }

    pub(super) async fn online(&self) -> anyhow::Result<usize> {
        Ok(self
            .nodes()
            .await?
            .nodes
            .iter()
            .filter(|n| n.status == "online")
            .count())
    }

    pub(super) async fn invite(&self, name: String) -> anyhow::Result<InviteResponse> {
        let req = InviteRequest {
            name: Some(name),
            ..InviteRequest::default()
        };
        let body = self
            .post("/api/nodes/invite", serde_json::to_value(&req)?, 201)
            .await?;
        Ok(serde_json::from_slice(&body)?)
    }

    /// One measured round trip: dispatch `true`, follow its output until
    /// the `end` line arrives, check it succeeded. The rest of the body (its
    /// closing chunk) is read after the clock stops, so the connection is
    /// reused.
    pub(super) async fn round_trip(&self, session: &str) -> anyhow::Result<RoundTrip> {
        let start = Instant::now();
        let req = DispatchRequest {
            command: "true".into(),
            ..DispatchRequest::default()
        };
        let resp = self
            .http
            .post(format!("{}/api/sessions/{session}/dispatch", self.base))
            .bearer_auth(&self.token)
            .json(&req)
            .send()
            .await?;
        if resp.status().as_u16() != 202 {
            let status = resp.status();
            bail!("dispatch: HTTP {status}: {}", resp.text().await?);
        }
        let task: TaskView = resp.json().await?;
        let accepted = start.elapsed();
        let mut resp = self
            .http
            .get(format!(
                "{}/api/sessions/{session}/tasks/{}/output?follow=true",
                self.base, task.id
            ))
            .bearer_auth(&self.token)
            .send()
            .await?;
        if !resp.status().is_success() {
            let status = resp.status();
            bail!("output: HTTP {status}: {}", resp.text().await?);
        }
        let mut buf: Vec<u8> = Vec::new();
        let mut end = None;
        while end.is_none() {
            let Some(chunk) = resp.chunk().await? else {
                bail!(
                    "the output stream closed without an `end` line: {}",
                    String::from_utf8_lossy(&buf)
                );
            };
            buf.extend_from_slice(&chunk);
            while let Some(nl) = buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buf.drain(..=nl).collect();
                if let OutputEvent::End { task } = serde_json::from_slice(&line)? {
                    end = Some(task);
                }
            }
        }
        let result = start.elapsed();
        while resp.chunk().await?.is_some() {}
        let closed = start.elapsed();
        let task = end.context("no end line")?;
        anyhow::ensure!(
            task.status == "completed" && task.exit_code == Some(0),
            "`true` did not succeed on the node: status {}, exit code {:?}, error {:?}",
            task.status,
            task.exit_code,
            task.error
        );
        Ok(RoundTrip {
            accepted,
            result,
            closed,
            node_ms: task.duration_ms,
        })
    }
}

/// Where one dispatch round trip's time went, from the start of the POST.
pub(super) struct RoundTrip {
    /// The dispatch answered (`202` and its body read).
    pub(super) accepted: Duration,
    /// The `end` line arrived: the result is known. The measured figure.
    pub(super) result: Duration,
    /// The output body closed.
    pub(super) closed: Duration,
    /// The node's own run time of `sh -c true`, as it reports it.
    pub(super) node_ms: Option<i64>,
}
