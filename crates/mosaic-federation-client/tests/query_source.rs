//! The query-source router with fake peers: the seed's seven cases and more.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mosaic_federation_client::{
    ClientErrorCode, FederationClientError, LocalQueryError, OutboundPeer, PeerDirectory,
    QuerySource, QuerySourceErrorCode, QuerySourceRouter, RemoteLister, Row, SourceRequest,
    find_peer_by_host,
};
use mosaic_types::{FederationListRequest, FederationListResponse, FederationSearchRequest};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

fn peer(id: &str, cn: &str, url: &str) -> OutboundPeer {
    OutboundPeer {
        id: id.into(),
        common_name: cn.into(),
        endpoint_url: url.into(),
    }
}

fn peers() -> Vec<OutboundPeer> {
    vec![
        peer("id-b", "peer-b", "https://peer-b.example.com"),
        peer("id-a", "peer-a", "https://peer-a.example.com"),
        peer("id-l", "peer-localhost", "https://localhost:3001"),
    ]
}

struct Dir(Vec<OutboundPeer>);
impl PeerDirectory for Dir {
    async fn outbound_peers(&self) -> Result<Vec<OutboundPeer>, String> {
        Ok(self.0.clone())
    }
}

type Answer = Result<FederationListResponse<Row>, ClientErrorCode>;

#[derive(Clone, Default)]
struct Fake {
    answers: HashMap<String, Answer>,
    log: Arc<Mutex<Vec<String>>>,
}

impl RemoteLister for Fake {
    async fn fetch(
        &self,
        peer: &OutboundPeer,
        resource: &str,
        request: &SourceRequest,
    ) -> Result<FederationListResponse<Row>, FederationClientError> {
        self.log.lock().unwrap().push(format!(
            "remote-start:{}:{}:{resource}:{}",
            peer.id,
            request.verb(),
            serde_json::to_string(request).unwrap()
        ));
        tokio::task::yield_now().await;
        match self
            .answers
            .get(&peer.id)
            .cloned()
            .unwrap_or(Ok(FederationListResponse::complete(vec![])))
        {
            Ok(page) => Ok(page),
            Err(code) => Err(FederationClientError {
                code,
                message: "connection refused".into(),
                peer: peer.common_name.clone(),
                status: (code == ClientErrorCode::Forbidden).then_some(403),
                envelope: None,
                retry_after: None,
            }),
        }
    }
}

fn rows(ids: &[&str]) -> Vec<Row> {
    ids.iter()
        .map(|id| {
            json!({"id": id, "title": format!("T {id}")})
                .as_object()
                .unwrap()
                .clone()
        })
        .collect()
}

fn page(ids: &[&str]) -> FederationListResponse<Row> {
    FederationListResponse::complete(rows(ids))
}

fn sources(resp: &FederationListResponse<Row>) -> Vec<(String, String)> {
    resp.items
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_owned(),
                r["_source"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

type LocalFuture = std::pin::Pin<
    Box<
        dyn std::future::Future<Output = Result<FederationListResponse<Row>, LocalQueryError>>
            + Send,
    >,
>;

fn local_ok(
    log: Arc<Mutex<Vec<String>>>,
    ids: &'static [&'static str],
) -> impl FnOnce() -> LocalFuture + Send {
    move || {
        Box::pin(async move {
            log.lock().unwrap().push("local-start".into());
            tokio::task::yield_now().await;
            Ok(page(ids))
        })
    }
}

#[tokio::test]
async fn local_tags_local_rows_and_asks_no_peer() {
    let fake = Fake::default();
    let router = QuerySourceRouter::new(Dir(peers()), fake.clone());
    let resp = router
        .list(
            &QuerySource::Local,
            "tasks",
            &FederationListRequest::default(),
            local_ok(fake.log.clone(), &["local-1"]),
        )
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&resp).unwrap(),
        json!({"items": [{"id": "local-1", "title": "T local-1", "_source": "local"}]})
    );
    assert_eq!(*fake.log.lock().unwrap(), vec!["local-start"]);
}

#[tokio::test]
async fn federated_by_host_asks_that_peer_only() {
    let mut fake = Fake::default();
    fake.answers.insert("id-b".into(), Ok(page(&["remote-1"])));
    let router = QuerySourceRouter::new(Dir(peers()), fake.clone());
    let req = FederationListRequest {
        limit: Some(5),
        cursor: None,
    };
    let resp = router
        .list(
            &"federated:peer-b.example.com".parse().unwrap(),
            "tasks",
            &req,
            local_ok(fake.log.clone(), &["l"]),
        )
        .await
        .unwrap();
    assert_eq!(sources(&resp), vec![("remote-1".into(), "peer-b".into())]);
    assert_eq!(
        *fake.log.lock().unwrap(),
        vec![r#"remote-start:id-b:list:tasks:{"limit":5}"#]
    );
}

#[tokio::test]
async fn a_search_is_routed_like_a_list_with_its_own_body() {
    let mut fake = Fake::default();
    fake.answers.insert("id-a".into(), Ok(page(&["remote-a"])));
    fake.answers
        .insert("id-b".into(), Err(ClientErrorCode::Forbidden));
    let router = QuerySourceRouter::new(Dir(peers()[..2].to_vec()), fake.clone());
    let req = FederationSearchRequest {
        q: "release notes".into(),
        limit: Some(3),
        cursor: None,
    };
    let resp = router
        .search(
            &QuerySource::All,
            "notes",
            &req,
            local_ok(fake.log.clone(), &["local-1"]),
        )
        .await
        .unwrap();
    assert_eq!(
        sources(&resp),
        vec![
            ("local-1".into(), "local".into()),
            ("remote-a".into(), "peer-a".into())
        ]
    );
    assert!(resp.partial && resp.next_cursor.is_none());
    assert_eq!(resp.partial_details[0].source, "peer-b");
    assert_eq!(resp.partial_details[0].code, "FORBIDDEN");
    assert_eq!(
        *fake.log.lock().unwrap(),
        vec![
            "local-start",
            r#"remote-start:id-a:search:notes:{"q":"release notes","limit":3}"#,
            r#"remote-start:id-b:search:notes:{"q":"release notes","limit":3}"#
        ]
    );

    // One peer: its refusal is the answer.
    let err = router
        .search(
            &"federated:peer-b".parse().unwrap(),
            "notes",
            &req,
            local_ok(fake.log.clone(), &[]),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, QuerySourceErrorCode::PeerFailed);
    assert_eq!(
        err.peer_error.map(|e| e.code),
        Some(ClientErrorCode::Forbidden)
    );
}

#[tokio::test]
async fn federated_host_with_port_matches_the_endpoint() {
    let mut fake = Fake::default();
    fake.answers.insert("id-l".into(), Ok(page(&["r"])));
    let router = QuerySourceRouter::new(Dir(peers()), fake.clone());
    let resp = router
        .list(
            &"federated:localhost:3001".parse().unwrap(),
            "tasks",
            &FederationListRequest::default(),
            local_ok(fake.log.clone(), &[]),
        )
        .await
        .unwrap();
    assert_eq!(sources(&resp), vec![("r".into(), "peer-localhost".into())]);
    assert_eq!(
        *fake.log.lock().unwrap(),
        vec!["remote-start:id-l:list:tasks:{}"]
    );
}

#[tokio::test]
async fn all_fans_out_in_order_and_merges() {
    let mut fake = Fake::default();
    fake.answers.insert("id-a".into(), Ok(page(&["remote-a"])));
    fake.answers.insert("id-b".into(), Ok(page(&["remote-b"])));
    let router = QuerySourceRouter::new(Dir(peers()[..2].to_vec()), fake.clone());
    let resp = router
        .list(
            &QuerySource::All,
            "tasks",
            &FederationListRequest::default(),
            local_ok(fake.log.clone(), &["local-1"]),
        )
        .await
        .unwrap();
    assert_eq!(
        sources(&resp),
        vec![
            ("local-1".into(), "local".into()),
            ("remote-a".into(), "peer-a".into()),
            ("remote-b".into(), "peer-b".into())
        ]
    );
    assert!(!resp.partial && !resp.truncated && resp.next_cursor.is_none());
    assert_eq!(
        *fake.log.lock().unwrap(),
        vec![
            "local-start",
            "remote-start:id-a:list:tasks:{}",
            "remote-start:id-b:list:tasks:{}"
        ]
    );
}

#[tokio::test]
async fn all_never_returns_a_cursor() {
    let mut fake = Fake::default();
    let mut more = page(&["remote-a"]);
    more.next_cursor = Some("remote-next".into());
    fake.answers.insert("id-a".into(), Ok(more));
    let router = QuerySourceRouter::new(Dir(vec![peers()[1].clone()]), fake.clone());
    let resp = router
        .list(
            &QuerySource::All,
            "tasks",
            &FederationListRequest::default(),
            local_ok(fake.log.clone(), &["local-1"]),
        )
        .await
        .unwrap();
    let wire: Value = serde_json::to_value(&resp).unwrap();
    assert_eq!(wire["_partial"], true);
    assert_eq!(wire["_truncated"], true);
    assert!(wire.get("nextCursor").is_none());
}

#[tokio::test]
async fn all_tolerates_failing_peers_and_names_each_with_why() {
    let mut fake = Fake::default();
    fake.answers.insert("id-a".into(), Ok(page(&["remote-a"])));
    fake.answers
        .insert("id-b".into(), Err(ClientErrorCode::Network));
    fake.answers
        .insert("id-l".into(), Err(ClientErrorCode::Forbidden));
    let router = QuerySourceRouter::new(Dir(peers()), fake.clone());
    let resp = router
        .list(
            &QuerySource::All,
            "tasks",
            &FederationListRequest::default(),
            local_ok(fake.log.clone(), &["local-1"]),
        )
        .await
        .unwrap();
    let wire: Value = serde_json::to_value(&resp).unwrap();
    assert_eq!(
        wire,
        json!({"items": [
            {"id": "local-1", "title": "T local-1", "_source": "local"},
            {"id": "remote-a", "title": "T remote-a", "_source": "peer-a"}
        ], "_partial": true, "_partialDetails": [
            {"source": "peer-b", "code": "NETWORK", "message": "connection refused"},
            {"source": "peer-localhost", "code": "FORBIDDEN", "status": 403, "message": "connection refused"}
        ]})
    );
}

#[tokio::test]
async fn unknown_host_and_bad_sources_are_refused() {
    let fake = Fake::default();
    let router = QuerySourceRouter::new(Dir(peers()), fake.clone());
    let err = router
        .list(
            &"federated:missing.example.com".parse().unwrap(),
            "tasks",
            &FederationListRequest::default(),
            local_ok(fake.log.clone(), &[]),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, QuerySourceErrorCode::PeerNotFound);
    assert_eq!(
        err.message,
        "No active outbound federation peer matches source federated:missing.example.com"
    );

    for (raw, message) in [
        (
            "federated:",
            "Federated source must include a host after federated:",
        ),
        (
            "federated:  ",
            "Federated source must include a host after federated:",
        ),
        ("remote", "Unsupported query source: remote"),
    ] {
        let err = raw.parse::<QuerySource>().unwrap_err();
        assert_eq!(err.code, QuerySourceErrorCode::InvalidSource);
        assert!(err.message.starts_with(message), "{raw}: {}", err.message);
    }
}

#[tokio::test]
async fn a_single_peer_failure_is_returned_and_local_failure_fails_all() {
    let mut fake = Fake::default();
    fake.answers
        .insert("id-a".into(), Err(ClientErrorCode::Forbidden));
    let router = QuerySourceRouter::new(Dir(peers()), fake.clone());
    let err = router
        .list(
            &"federated:peer-a".parse().unwrap(),
            "tasks",
            &FederationListRequest::default(),
            local_ok(fake.log.clone(), &[]),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, QuerySourceErrorCode::PeerFailed);
    assert_eq!(err.peer_error.unwrap().code, ClientErrorCode::Forbidden);

    let failing_local = || async {
        Err::<FederationListResponse<Row>, _>(LocalQueryError::Failed("disk on fire".into()))
    };
    let err = router
        .list(
            &QuerySource::All,
            "tasks",
            &FederationListRequest::default(),
            failing_local,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, QuerySourceErrorCode::LocalFailed);
    assert_eq!(err.message, "local query failed: disk on fire");

    // A request the local half refuses is the caller's fault, said as such.
    let bad_cursor = || async {
        Err::<FederationListResponse<Row>, _>(LocalQueryError::InvalidRequest(
            "cursor: `zzz` is not a cursor this gateway issued".into(),
        ))
    };
    let err = router
        .list(
            &QuerySource::Local,
            "tasks",
            &FederationListRequest::default(),
            bad_cursor,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, QuerySourceErrorCode::InvalidRequest);
    assert_eq!(
        err.message,
        "cursor: `zzz` is not a cursor this gateway issued"
    );
}

#[test]
fn host_matching_rules() {
    let p = peers();
    assert_eq!(find_peer_by_host(&p, "PEER-A").unwrap().id, "id-a");
    assert_eq!(
        find_peer_by_host(&p, " peer-a.example.com ").unwrap().id,
        "id-a"
    );
    assert_eq!(find_peer_by_host(&p, "localhost").unwrap().id, "id-l");
    assert_eq!(find_peer_by_host(&p, "localhost:3001").unwrap().id, "id-l");
    assert!(find_peer_by_host(&p, "localhost:3002").is_none());
    let default_port = vec![peer("x", "x", "https://h.example.com:443")];
    assert!(
        find_peer_by_host(&default_port, "h.example.com:443").is_none(),
        "default ports are not part of host"
    );
    assert!(find_peer_by_host(&default_port, "h.example.com").is_some());
    let broken = vec![peer("y", "y", "not a url")];
    assert!(find_peer_by_host(&broken, "not a url").is_none());
}
