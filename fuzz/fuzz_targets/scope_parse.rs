//! Arbitrary bytes as a stored grant scope, through the parser and the
//! pre-native stages of evaluation. Nothing may panic, and whatever parses must
//! survive its own serialization.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mosaic_scope::{EvaluationInput, FederationContext, parse_scope, prepare};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Ok(scope) = parse_scope(&value) {
        let again = serde_json::to_value(&scope).expect("a parsed scope serializes");
        assert_eq!(parse_scope(&again).as_ref(), Ok(&scope));
    }
    let context = FederationContext {
        grant_id: "g".parse().expect("a valid grant id"),
        peer_id: "p".parse().expect("a valid peer id"),
        subject_user_id: "u".parse().expect("a valid user id"),
        scope: value,
    };
    for resource in ["tasks", "notes", "memory", "credentials", "api_keys", "widgets"] {
        for limit in [None, Some(0), Some(1), Some(i64::MAX), Some(i64::MIN)] {
            let _ = prepare(&EvaluationInput { context: &context, resource, requested_limit: limit });
        }
    }
});
