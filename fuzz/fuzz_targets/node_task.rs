//! Arbitrary bytes as what an agent node receives on its task stream: a
//! `GatewayMessage`, and a `SignedTask` through the verifier and the sandbox
//! policy. Nothing may panic; nothing unsigned may verify; a verified task
//! must never verify twice.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mosaic_agent_proto::v1::{GatewayMessage, SignedTask, gateway_message::Kind, task_request::Payload};
use mosaic_nodes::{Policy, TaskVerifier};
use prost::Message as _;

// A fixed key nobody holds the private half of: random input cannot be a
// valid signature under it.
const KEY: [u8; 32] = [
    0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64, 0x07,
    0x3a, 0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07,
    0x51, 0x1a,
];

fuzz_target!(|data: &[u8]| {
    let mut verifier = TaskVerifier::new(KEY.to_vec(), "node_fuzz");
    let signed = match GatewayMessage::decode(data) {
        Ok(GatewayMessage { kind: Some(Kind::Task(t)) }) => t,
        _ => match SignedTask::decode(data) {
            Ok(t) => t,
            Err(_) => return,
        },
    };
    if let Ok(task) = verifier.verify(&signed, 1_800_000_000_000) {
        assert!(verifier.verify(&signed, 1_800_000_000_000).is_err(), "replay accepted");
        if let Some(Payload::Shell(shell)) = task.payload {
            let _ = Policy::default().check(&shell.command);
        }
    }
    // The command text through both policy modes.
    let text = String::from_utf8_lossy(data);
    let strict = Policy::parse("strict", vec!["echo".into(), "ls".into()], vec![]).expect("policy");
    if strict.check(&text).is_ok() {
        for program in mosaic_nodes::sandbox::programs(&text) {
            assert!(program == "echo" || program == "ls", "strict let `{program}` through");
        }
    }
    let _ = Policy::parse("permissive", vec![], vec!["rm".into()]).expect("policy").check(&text);
});
