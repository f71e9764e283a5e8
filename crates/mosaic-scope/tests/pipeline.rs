//! The seed's scope-service cases, plus the narrowing invariant as a property.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mosaic_scope::{
    DenyCode, DenyStage, EvaluationInput, FederationContext, NativeAccess, NativeDenied,
    NativeRbac, NativeRbacRequest, ScopeDeny, check_scope, evaluate,
};
use mosaic_types::{ErrorCode, FederationResource};
use serde_json::{Value, json};
use std::sync::Mutex;

/// Native access with a fixed answer that records every call.
struct Recorder {
    answer: Result<NativeAccess, NativeDenied>,
    calls: Mutex<Vec<NativeRbacRequest>>,
}

impl Recorder {
    fn allow(personal: bool, teams: &[&str]) -> Self {
        Self {
            answer: Ok(NativeAccess {
                include_personal: personal,
                team_ids: teams.iter().map(|t| (*t).to_owned()).collect(),
            }),
            calls: Mutex::default(),
        }
    }
    fn calls(&self) -> usize {
        self.calls.lock().unwrap().len()
    }
}

impl NativeRbac for Recorder {
    async fn evaluate_read_access(
        &self,
        request: &NativeRbacRequest,
    ) -> Result<NativeAccess, NativeDenied> {
        self.calls.lock().unwrap().push(request.clone());
        self.answer.clone()
    }
}

fn ctx(scope: Value) -> FederationContext {
    FederationContext {
        grant_id: "grant-1".parse().unwrap(),
        peer_id: "peer-1".parse().unwrap(),
        subject_user_id: "user-1".parse().unwrap(),
        scope,
    }
}

async fn run(
    scope: Value,
    resource: &str,
    limit: Option<i64>,
    native: &Recorder,
) -> mosaic_scope::Evaluation {
    let context = ctx(scope);
    evaluate(
        &EvaluationInput {
            context: &context,
            resource,
            requested_limit: limit,
        },
        native,
    )
    .await
}

#[tokio::test]
async fn allows_with_teams_intersected_and_limit_capped() {
    let native = Recorder::allow(true, &["team-1"]);
    let scope = json!({
        "resources": ["tasks"],
        "filters": {"tasks": {"include_personal": true, "include_teams": ["team-1", "team-2"]}},
        "max_rows_per_query": 50
    });
    let f = run(scope, "tasks", Some(500), &native).await.unwrap();
    assert_eq!(f.resource, FederationResource::Tasks);
    assert_eq!(f.subject_user_id.as_str(), "user-1");
    assert!(f.include_personal);
    assert_eq!(f.team_ids, vec!["team-1"]);
    assert_eq!((f.limit, f.max_rows_per_query), (50, 50));
    let calls = native.calls.lock().unwrap();
    assert_eq!(
        calls[0],
        NativeRbacRequest {
            grant_id: Some("grant-1".parse().unwrap()),
            peer_id: Some("peer-1".parse().unwrap()),
            subject_user_id: "user-1".parse().unwrap(),
            resource: FederationResource::Tasks,
        }
    );
}

#[tokio::test]
async fn no_filters_means_every_native_team_and_the_max() {
    let native = Recorder::allow(true, &["team-1", "team-2"]);
    let f = run(
        json!({"resources": ["notes"], "max_rows_per_query": 100}),
        "notes",
        None,
        &native,
    )
    .await
    .unwrap();
    assert!(f.include_personal);
    assert_eq!(f.team_ids, vec!["team-1", "team-2"]);
    assert_eq!(f.limit, 100);
}

#[tokio::test]
async fn personal_off_in_scope_and_no_native_teams() {
    let native = Recorder::allow(true, &[]);
    let scope = json!({"resources": ["memory"], "filters": {"memory": {"include_personal": false}}, "max_rows_per_query": 10});
    let f = run(scope, "memory", None, &native).await.unwrap();
    assert!(!f.include_personal);
    assert!(f.team_ids.is_empty());
}

#[tokio::test]
async fn scope_cannot_grant_personal_rows_native_access_denies() {
    let native = Recorder::allow(false, &["team-1"]);
    let scope = json!({"resources": ["tasks"], "filters": {"tasks": {"include_personal": true}}, "max_rows_per_query": 10});
    let f = run(scope, "tasks", None, &native).await.unwrap();
    assert!(!f.include_personal);
    assert_eq!(f.team_ids, vec!["team-1"]);
}

#[tokio::test]
async fn scope_cannot_widen_teams() {
    let native = Recorder::allow(true, &["team-1"]);
    let scope = json!({"resources": ["tasks"], "filters": {"tasks": {"include_personal": false, "include_teams": ["team-2"]}}, "max_rows_per_query": 10});
    let f = run(scope, "tasks", None, &native).await.unwrap();
    assert!(!f.include_personal);
    assert!(f.team_ids.is_empty());
}

#[tokio::test]
async fn empty_team_list_means_no_teams() {
    let native = Recorder::allow(true, &["team-1"]);
    let scope = json!({"resources": ["tasks"], "filters": {"tasks": {"include_teams": []}}, "max_rows_per_query": 10});
    let f = run(scope, "tasks", None, &native).await.unwrap();
    assert!(f.include_personal);
    assert!(f.team_ids.is_empty());
}

#[tokio::test]
async fn pre_native_stages_deny_without_asking_native_access() {
    struct Case {
        scope: Value,
        resource: &'static str,
        limit: Option<i64>,
        code: DenyCode,
        stage: DenyStage,
        error_code: ErrorCode,
        message: &'static str,
        details: Option<Value>,
    }
    let cases = [
        Case {
            scope: json!({"resources": [], "max_rows_per_query": 100}),
            resource: "tasks",
            limit: None,
            code: DenyCode::InvalidScope,
            stage: DenyStage::ScopeParse,
            error_code: ErrorCode::InvalidRequest,
            message: "Federation grant scope is invalid",
            details: Some(json!({"reason": "scope.resources must name at least one resource"})),
        },
        Case {
            scope: json!("not an object"),
            resource: "tasks",
            limit: None,
            code: DenyCode::InvalidScope,
            stage: DenyStage::ScopeParse,
            error_code: ErrorCode::InvalidRequest,
            message: "Federation grant scope could not be parsed",
            details: None,
        },
        Case {
            scope: json!({"resources": ["tasks"], "max_rows_per_query": 10}),
            resource: "unknown_resource",
            limit: None,
            code: DenyCode::InvalidResource,
            stage: DenyStage::ResourceAllowlist,
            error_code: ErrorCode::ScopeViolation,
            message: "Requested federation resource is not supported",
            details: Some(
                json!({"supportedResources": ["tasks", "notes", "memory", "credentials", "api_keys"]}),
            ),
        },
        Case {
            scope: json!({"resources": ["tasks"], "excluded_resources": ["credentials"], "max_rows_per_query": 10}),
            resource: "credentials",
            limit: None,
            code: DenyCode::ResourceExcluded,
            stage: DenyStage::ResourceExclusion,
            error_code: ErrorCode::ScopeViolation,
            message: "Requested federation resource is explicitly excluded by grant scope",
            details: None,
        },
        Case {
            scope: json!({"resources": ["tasks", "notes"], "excluded_resources": ["notes"], "max_rows_per_query": 10}),
            resource: "notes",
            limit: None,
            code: DenyCode::ResourceExcluded,
            stage: DenyStage::ResourceExclusion,
            error_code: ErrorCode::ScopeViolation,
            message: "Requested federation resource is explicitly excluded by grant scope",
            details: None,
        },
        Case {
            scope: json!({"resources": ["tasks"], "max_rows_per_query": 10}),
            resource: "notes",
            limit: None,
            code: DenyCode::ResourceNotGranted,
            stage: DenyStage::ResourceAllowlist,
            error_code: ErrorCode::ScopeViolation,
            message: "Requested federation resource is not granted by scope",
            details: Some(json!({"grantedResources": ["tasks"]})),
        },
        Case {
            scope: json!({"resources": ["tasks"], "max_rows_per_query": 10}),
            resource: "tasks",
            limit: Some(0),
            code: DenyCode::InvalidLimit,
            stage: DenyStage::RowCap,
            error_code: ErrorCode::InvalidRequest,
            message: "Requested row limit must be a positive integer",
            details: Some(json!({"requestedLimit": 0})),
        },
        Case {
            scope: json!({"resources": ["tasks"], "max_rows_per_query": 10}),
            resource: "tasks",
            limit: Some(-3),
            code: DenyCode::InvalidLimit,
            stage: DenyStage::RowCap,
            error_code: ErrorCode::InvalidRequest,
            message: "Requested row limit must be a positive integer",
            details: Some(json!({"requestedLimit": -3})),
        },
    ];
    for case in cases {
        let native = Recorder::allow(true, &["team-1"]);
        let deny = run(case.scope.clone(), case.resource, case.limit, &native)
            .await
            .unwrap_err();
        assert_eq!(deny.code, case.code, "{}", case.scope);
        assert_eq!(deny.stage, case.stage);
        assert_eq!(deny.error_code(), case.error_code);
        assert_eq!(deny.message, case.message);
        assert_eq!(deny.resource.as_deref(), Some(case.resource));
        // The wire object keeps the seed's `statusCode` member.
        let wire = serde_json::to_value(&*deny).unwrap();
        assert_eq!(wire["statusCode"], case.error_code.http_status());
        assert_eq!(wire["resource"], case.resource);
        assert_eq!(
            (deny.grant_id.as_str(), deny.subject_user_id.as_str()),
            ("grant-1", "user-1")
        );
        match case.details {
            Some(expected) => assert_eq!(Value::Object(deny.details.clone().unwrap()), expected),
            None if case.code == DenyCode::InvalidScope => {
                assert!(deny.details.as_ref().unwrap().contains_key("reason"));
            }
            None => assert!(deny.details.is_none()),
        }
        assert_eq!(
            native.calls(),
            0,
            "native access never asked for {:?}",
            case.code
        );
    }
}

#[tokio::test]
async fn native_denial_is_passed_through_exactly() {
    let mut details = serde_json::Map::new();
    details.insert("permission".into(), json!("tasks:read"));
    let native = Recorder {
        answer: Err(NativeDenied {
            reason: Some("read:tasks denied".into()),
            details: Some(details),
        }),
        calls: Mutex::default(),
    };
    let deny = run(
        json!({"resources": ["tasks"], "max_rows_per_query": 10}),
        "tasks",
        None,
        &native,
    )
    .await
    .unwrap_err();
    assert_eq!(
        serde_json::to_value(&*deny).unwrap(),
        json!({
            "code": "native_rbac_denied",
            "stage": "native_rbac",
            "statusCode": 403,
            "message": "read:tasks denied",
            "grantId": "grant-1",
            "peerId": "peer-1",
            "subjectUserId": "user-1",
            "resource": "tasks",
            "details": {"permission": "tasks:read"}
        })
    );
    let native = Recorder {
        answer: Err(NativeDenied::default()),
        calls: Mutex::default(),
    };
    let deny = run(
        json!({"resources": ["tasks"], "max_rows_per_query": 10}),
        "tasks",
        None,
        &native,
    )
    .await
    .unwrap_err();
    assert_eq!(
        deny.message,
        "Subject user is not allowed to read this resource"
    );
    assert!(deny.details.is_none());
}

#[tokio::test]
async fn the_scope_check_alone_denies_as_stage_one_without_a_resource() {
    let broken = json!({"resources": [], "max_rows_per_query": 100});
    let alone = check_scope(&ctx(broken.clone())).unwrap_err();
    let native = Recorder::allow(true, &[]);
    let staged = run(broken, "tasks", None, &native).await.unwrap_err();
    assert_eq!(alone.error_code(), ErrorCode::InvalidRequest);
    assert_eq!(alone.resource, None);
    assert_eq!(
        ScopeDeny {
            resource: Some("tasks".into()),
            ..*alone.clone()
        },
        *staged
    );
    assert_eq!(
        serde_json::to_value(&*alone).unwrap(),
        json!({
            "code": "invalid_scope",
            "stage": "scope_parse",
            "statusCode": 400,
            "message": "Federation grant scope is invalid",
            "grantId": "grant-1",
            "peerId": "peer-1",
            "subjectUserId": "user-1",
            "details": {"reason": "scope.resources must name at least one resource"}
        })
    );
    let scope = check_scope(&ctx(
        json!({"resources": ["notes"], "max_rows_per_query": 7}),
    ))
    .unwrap();
    assert_eq!(scope.max_rows_per_query, 7);
}

mod narrowing {
    use super::*;
    use proptest::prelude::*;

    fn team() -> impl Strategy<Value = String> {
        prop_oneof![Just("t1"), Just("t2"), Just("t3"), Just("t4"), Just("t5")]
            .prop_map(String::from)
    }

    proptest! {
        /// For any native access and any scope, the filter never includes a team
        /// or personal access that native access did not allow, and the limit
        /// never exceeds the grant's cap.
        #[test]
        fn the_filter_never_widens_native_access(
            native_personal in any::<bool>(),
            native_teams in proptest::collection::vec(team(), 0..6),
            scope_personal in proptest::option::of(any::<bool>()),
            scope_teams in proptest::option::of(proptest::collection::vec(team(), 0..6)),
            max_rows in 1u32..=1000,
            limit in proptest::option::of(1i64..5000),
        ) {
            let mut filter = serde_json::Map::new();
            if let Some(p) = scope_personal { filter.insert("include_personal".into(), json!(p)); }
            if let Some(t) = &scope_teams { filter.insert("include_teams".into(), json!(t)); }
            let scope = json!({"resources": ["tasks"], "filters": {"tasks": filter}, "max_rows_per_query": max_rows});
            let context = ctx(scope);
            let input = EvaluationInput { context: &context, resource: "tasks", requested_limit: limit };
            let pending = mosaic_scope::prepare(&input).unwrap();
            let f = pending.finish(Ok(NativeAccess { include_personal: native_personal, team_ids: native_teams.clone() })).unwrap();
            prop_assert!(!f.include_personal || native_personal);
            prop_assert!(!f.include_personal || scope_personal.unwrap_or(true));
            for t in &f.team_ids {
                prop_assert!(native_teams.contains(t));
                if let Some(scoped) = &scope_teams { prop_assert!(scoped.contains(t)); }
            }
            let mut dedup = f.team_ids.clone();
            dedup.dedup();
            prop_assert_eq!(dedup.len(), f.team_ids.len());
            prop_assert!(f.limit >= 1 && f.limit <= max_rows);
        }
    }
}
