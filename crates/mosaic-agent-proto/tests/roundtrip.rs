//! The generated service works end to end over a loopback socket, and
//! messages keep their wire shape.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use mosaic_agent_proto::v1::{
    Capabilities, GatewayMessage, HealthAck, Heartbeat, NodeMessage, RegistrationRequest,
    RegistrationResponse, SandboxPolicy, TaskRequest,
    agent_node_client::AgentNodeClient,
    agent_node_server::{AgentNode, AgentNodeServer},
    sandbox_policy::Mode,
    task_request::Payload,
};
use prost::Message as _;
use std::pin::Pin;
use tokio_stream::{Stream, StreamExt as _};
use tonic::{Request, Response, Status, Streaming};

struct Echo;

type Out<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

#[tonic::async_trait]
impl AgentNode for Echo {
    async fn sync_configuration(
        &self,
        request: Request<RegistrationRequest>,
    ) -> Result<Response<RegistrationResponse>, Status> {
        let req = request.into_inner();
        Ok(Response::new(RegistrationResponse {
            node_id: format!("node-{}", req.name),
            policy: Some(SandboxPolicy {
                mode: Mode::Strict as i32,
                allowed: vec!["echo".into()],
                denied: vec![],
            }),
            ..Default::default()
        }))
    }

    type TaskStreamStream = Out<GatewayMessage>;
    async fn task_stream(
        &self,
        _request: Request<Streaming<NodeMessage>>,
    ) -> Result<Response<Self::TaskStreamStream>, Status> {
        Err(Status::unimplemented("not in this test"))
    }

    type ReportHealthStream = Out<HealthAck>;
    async fn report_health(
        &self,
        request: Request<Streaming<Heartbeat>>,
    ) -> Result<Response<Self::ReportHealthStream>, Status> {
        let mut inbound = request.into_inner();
        let out = async_stream_acks(&mut inbound).await;
        Ok(Response::new(Box::pin(tokio_stream::iter(out))))
    }
}

async fn async_stream_acks(inbound: &mut Streaming<Heartbeat>) -> Vec<Result<HealthAck, Status>> {
    let mut acks = Vec::new();
    while let Some(Ok(beat)) = inbound.next().await {
        acks.push(Ok(HealthAck {
            received_at_ms: i64::from(beat.running_tasks),
        }));
    }
    acks
}

#[tokio::test]
async fn unary_and_streaming_calls_work_over_loopback() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(AgentNodeServer::new(Echo))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let mut client = AgentNodeClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let reply = client
        .sync_configuration(RegistrationRequest {
            name: "laptop".into(),
            capabilities: Some(Capabilities {
                os: "linux".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.node_id, "node-laptop");
    assert_eq!(reply.policy.unwrap().mode(), Mode::Strict);

    let beats = tokio_stream::iter((1..=3).map(|n| Heartbeat {
        running_tasks: n,
        ..Default::default()
    }));
    let acks: Vec<i64> = client
        .report_health(beats)
        .await
        .unwrap()
        .into_inner()
        .map(|a| a.unwrap().received_at_ms)
        .collect()
        .await;
    assert_eq!(acks, vec![1, 2, 3]);

    let err = client
        .task_stream(tokio_stream::empty::<NodeMessage>())
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unimplemented);
}

#[test]
fn a_task_request_survives_encoding() {
    let task = TaskRequest {
        task_id: "t1".into(),
        session_id: "s1".into(),
        node_id: "n1".into(),
        payload: Some(Payload::Shell(mosaic_agent_proto::v1::ShellTask {
            command: "echo hi".into(),
            cwd: "/tmp".into(),
            timeout_secs: 5,
        })),
        nonce: vec![7; 16],
        expires_at_ms: 1_800_000_000_000,
        issued_at_ms: 1_799_999_999_000,
    };
    let bytes = task.encode_to_vec();
    assert_eq!(TaskRequest::decode(bytes.as_slice()).unwrap(), task);
    assert!(TaskRequest::decode(&b"\xff\xff\xff"[..]).is_err());
}
