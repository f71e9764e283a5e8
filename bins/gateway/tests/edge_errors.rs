//! Every route of the HTTP API, walked from the gateway's own route table:
//! no token, the wrong role, a malformed body, a bad query value and a bad
//! path parameter each answer the JSON error envelope with the status its
//! code travels with, never axum's plain text. Unknown paths and methods too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use mosaic_gateway::{Input, RouteInfo, route_table};
use mosaic_types::{ErrorCode, ErrorEnvelope};
use reqwest::Method;
use serde_json::{Value, json};
use support::{Gateway, command};

/// Routes anyone may call without a token.
const PUBLIC: [&str; 4] = [
    "/healthz",
    "/readyz",
    "/api/v1/federation/instance",
    "/api/v1/federation/enroll",
];

/// A query string each query-taking route must refuse, by path.
const BAD_QUERIES: [(&str, &str); 5] = [
    ("/api/fleet/v1/backlog/cards", "status=sideways"),
    ("/api/v1/query/{resource}", "limit=many"),
    ("/api/v1/search/{resource}", "limit=many"),
    ("/api/sessions/{id}/tasks/{task}/output", "follow=maybe"),
    ("/api/admin/v1/federation/audit", "since=soon"),
];

struct Walker {
    http: reqwest::Client,
    base: String,
    admin: String,
    user: String,
}

/// One answer: status and body as text.
struct Answer {
    status: u16,
    body: String,
}

impl Answer {
    /// Asserts the body is the envelope and the status is its code's.
    fn envelope(&self, what: &str) -> ErrorEnvelope {
        let env: ErrorEnvelope = serde_json::from_str(&self.body).unwrap_or_else(|e| {
            panic!(
                "{what}: status {} answered outside the envelope ({e}): {:?}",
                self.status, self.body
            )
        });
        assert_eq!(
            env.error.code.http_status(),
            self.status,
            "{what}: the status is not the one `{}` travels with",
            env.error.code
        );
        env
    }
}

impl Walker {
    async fn send(
        &self,
        method: &Method,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> Answer {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req
                .header("content-type", "application/json")
                .body(body.to_owned());
        }
        let resp = req.send().await.unwrap();
        Answer {
            status: resp.status().as_u16(),
            body: resp.text().await.unwrap(),
        }
    }

    /// Sends with the token whose role the route takes: the user's, or the
    /// admin's when the user's is refused for its role.
    async fn send_as_owner(&self, method: &Method, path: &str, body: Option<&str>) -> Answer {
        let answer = self.send(method, path, Some(&self.user), body).await;
        if answer.status == 403 && answer.body.contains("role") {
            return self.send(method, path, Some(&self.admin), body).await;
        }
        answer
    }
}

/// The path with every `{param}` replaced by `value`.
fn fill(path: &str, value: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').unwrap() + open;
        out.push_str(value);
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

fn label(route: &RouteInfo) -> String {
    format!("{} {}", route.method, route.path)
}

async fn start() -> (Gateway, Walker, tempfile::TempDir) {
    support::crypto();
    let home = tempfile::tempdir().unwrap();
    let gw = Gateway::start(command(home.path()), home.path().join("data/mosaic"));
    let http = reqwest::Client::new();
    let admin = gw.admin_token.clone().unwrap();
    let created: Value = http
        .post(gw.url("/api/admin/v1/users"))
        .bearer_auth(&admin)
        .json(&json!({"id": "walker", "name": "Walker", "email": "walker@example.test"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().expect("user created").to_owned();
    let issued: Value = http
        .post(gw.url(&format!("/api/admin/v1/users/{id}/tokens")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let user = issued["token"].as_str().unwrap().to_owned();
    let walker = Walker {
        http,
        base: gw.base_url.clone(),
        admin,
        user,
    };
    (gw, walker, home)
}

#[test]
fn the_route_table_is_the_whole_api_once() {
    let table = route_table();
    assert!(table.len() > 50, "{} routes", table.len());
    for (i, a) in table.iter().enumerate() {
        assert!(
            !table[i + 1..]
                .iter()
                .any(|b| a.method == b.method && a.path == b.path),
            "{} is registered twice",
            label(a)
        );
    }
    for (path, _) in BAD_QUERIES {
        assert!(
            table
                .iter()
                .any(|r| r.path == path && r.input == Input::Query),
            "{path} is not a query route"
        );
    }
    for route in table.iter().filter(|r| r.input == Input::Query) {
        assert!(
            BAD_QUERIES.iter().any(|(p, _)| *p == route.path),
            "{}: add a bad query for it to BAD_QUERIES",
            label(route)
        );
    }
}

#[tokio::test]
async fn every_route_refuses_a_missing_or_wrong_token_with_the_envelope() {
    let (_gw, w, _home) = start().await;
    for route in route_table() {
        if PUBLIC.contains(&route.path) {
            continue;
        }
        let what = label(&route);
        let path = fill(route.path, "x");
        let answer = w.send(&route.method, &path, None, None).await;
        assert_eq!(
            answer.status, 401,
            "{what} without a token: {}",
            answer.body
        );
        answer.envelope(&what);

        let forged = "mosaic_notarealtokennotarealtokennotarealtoken";
        let answer = w.send(&route.method, &path, Some(forged), None).await;
        assert_eq!(answer.status, 401, "{what} with an unknown token");
        answer.envelope(&what);

        let answer = w.send(&route.method, &path, Some("Basic abc"), None).await;
        assert_eq!(answer.status, 401, "{what} with a malformed token");
        answer.envelope(&what);

        // Admin routes refuse the user's token and user routes the admin's,
        // except the backlog, which any live token may use.
        let (user, admin) = (
            w.send(&route.method, &path, Some(&w.user), None).await,
            w.send(&route.method, &path, Some(&w.admin), None).await,
        );
        for answer in [&user, &admin] {
            if answer.status >= 400 {
                answer.envelope(&what);
            }
        }
        let admin_only = route.path.starts_with("/api/admin/")
            || route.path.ends_with("/regenerate-keys")
            || route.path == "/metrics";
        let any_token =
            route.path.starts_with("/api/fleet/v1/backlog") || route.path == "/api/v1/whoami";
        if admin_only {
            assert_eq!(user.status, 403, "{what} with a user token");
        } else if !any_token {
            assert_eq!(admin.status, 403, "{what} with the admin token");
        }
    }
}

#[tokio::test]
async fn every_route_answers_bad_input_with_the_envelope() {
    let (_gw, w, _home) = start().await;
    let table = route_table();
    for route in &table {
        let what = label(route);
        // A malformed body.
        if matches!(route.input, Input::Json | Input::OptionalJson) {
            let path = fill(route.path, "x");
            let answer = w
                .send_as_owner(&route.method, &path, Some("{\"broken\":"))
                .await;
            assert_eq!(
                answer.status, 400,
                "{what} with a malformed body: {}",
                answer.body
            );
            let env = answer.envelope(&what);
            assert_eq!(env.error.code, ErrorCode::InvalidRequest);
            // A body of the wrong shape names what is wrong.
            let answer = w
                .send_as_owner(&route.method, &path, Some("[1, 2, 3]"))
                .await;
            assert_eq!(
                answer.status, 400,
                "{what} with an array body: {}",
                answer.body
            );
            assert!(!answer.envelope(&what).error.message.is_empty());
        }
        // A bad query value.
        if route.input == Input::Query {
            let (_, query) = BAD_QUERIES.iter().find(|(p, _)| *p == route.path).unwrap();
            let path = format!("{}?{query}", fill(route.path, "tasks"));
            let answer = w.send_as_owner(&route.method, &path, None).await;
            assert_eq!(answer.status, 400, "{what}?{query}: {}", answer.body);
            let env = answer.envelope(&what);
            let param = query.split('=').next().unwrap();
            assert!(
                env.error.message.contains(param),
                "{what}: the message names `{param}`: {}",
                env.error.message
            );
        }
        // A path parameter that is not even UTF-8.
        if route.path.contains('{') {
            let path = fill(route.path, "%FF%FE");
            let body = matches!(route.input, Input::Json).then_some("{}");
            let answer = w.send_as_owner(&route.method, &path, body).await;
            assert_eq!(
                answer.status, 400,
                "{what} with a bad path parameter: {}",
                answer.body
            );
            answer.envelope(&what);
        }
        // Whatever a route answers to an unknown id, it is the envelope.
        let path = fill(route.path, "no-such-thing");
        let body = matches!(route.input, Input::Json).then_some("{}");
        let answer = w.send_as_owner(&route.method, &path, body).await;
        if answer.status >= 400 {
            answer.envelope(&what);
        }
    }
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_with_the_envelope() {
    let (_gw, w, _home) = start().await;
    let answer = w.send(&Method::GET, "/no/such/route", None, None).await;
    assert_eq!(answer.status, 404);
    assert_eq!(
        answer.envelope("unknown path").error.code,
        ErrorCode::NotFound
    );

    let answer = w.send(&Method::PATCH, "/healthz", None, None).await;
    assert_eq!(answer.status, 405, "{}", answer.body);
    assert_eq!(
        answer.envelope("unknown method").error.code,
        ErrorCode::MethodNotAllowed
    );

    // A body of the wrong content type is refused with the envelope too.
    let answer = w
        .http
        .post(format!("{}/api/sessions", w.base))
        .bearer_auth(&w.user)
        .header("content-type", "text/plain")
        .body("name=x")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 400);
    let env: ErrorEnvelope = answer.json().await.unwrap();
    assert!(
        env.error.message.contains("Content-Type"),
        "{}",
        env.error.message
    );
}

#[tokio::test]
async fn a_closed_session_answers_work_with_a_conflict_envelope() {
    let (_gw, w, _home) = start().await;
    let created = w
        .send(&Method::POST, "/api/sessions", Some(&w.user), Some("{}"))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = serde_json::from_str::<Value>(&created.body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let close = format!("/api/sessions/{id}/close");
    for _ in 0..2 {
        let closed = w.send(&Method::POST, &close, Some(&w.user), None).await;
        assert_eq!(closed.status, 200, "closing (again) answers the session");
        let session: Value = serde_json::from_str(&closed.body).unwrap();
        assert_eq!(session["status"], "closed");
    }
    for (path, body) in [
        (
            format!("/api/sessions/{id}/dispatch"),
            r#"{"command":"echo hi"}"#,
        ),
        (
            format!("/api/sessions/{id}/attach"),
            r#"{"node_id":"node_x"}"#,
        ),
    ] {
        let answer = w
            .send(&Method::POST, &path, Some(&w.user), Some(body))
            .await;
        assert_eq!(answer.status, 409, "POST {path}: {}", answer.body);
        let env = answer.envelope(&path);
        assert_eq!(env.error.code, ErrorCode::Conflict);
        assert!(
            env.error.message.contains("is closed"),
            "{}",
            env.error.message
        );
    }
    // Not for the admin token; a session that is not there is not found.
    let answer = w.send(&Method::POST, &close, Some(&w.admin), None).await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    let answer = w
        .send(
            &Method::POST,
            "/api/sessions/ses_none/close",
            Some(&w.user),
            None,
        )
        .await;
    assert_eq!(answer.status, 404, "{}", answer.body);
    answer.envelope("close an unknown session");
}
