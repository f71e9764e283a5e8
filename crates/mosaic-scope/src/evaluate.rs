//! The evaluation pipeline: six stages in a fixed order, then the intersection
//! of scope and native access.

use crate::scope::{FederationScope, ScopeError, parse_scope};
use mosaic_types::{
    ErrorCode, FEDERATION_RESOURCE_VALUES, FederationResource, GrantId, PeerId, UserId,
};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value, json};

/// What the authenticated peer is: set by the federation auth layer from the
/// client certificate and the grant it names, read by everything after it.
#[derive(Debug, Clone, PartialEq)]
pub struct FederationContext {
    /// The grant the certificate carries.
    pub grant_id: GrantId,
    /// The peer the grant belongs to.
    pub peer_id: PeerId,
    /// The local user the peer reads as.
    pub subject_user_id: UserId,
    /// The grant's scope, as stored (parsed on use).
    pub scope: Value,
}

/// One request to evaluate.
#[derive(Debug, Clone, Copy)]
pub struct EvaluationInput<'a> {
    /// Who is asking.
    pub context: &'a FederationContext,
    /// The resource as requested (not yet known to be valid).
    pub resource: &'a str,
    /// Rows asked for; `None` means the grant's maximum.
    pub requested_limit: Option<i64>,
}

/// Which stage denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DenyStage {
    /// The stored scope is not a valid scope.
    ScopeParse,
    /// The resource is unknown, or not granted.
    ResourceAllowlist,
    /// The resource is explicitly excluded.
    ResourceExclusion,
    /// The subject user may not read it locally.
    NativeRbac,
    /// The requested row count is not a positive integer.
    RowCap,
}

/// Why it denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DenyCode {
    /// Stage 1.
    InvalidScope,
    /// Stage 2.
    InvalidResource,
    /// Stage 4.
    ResourceNotGranted,
    /// Stage 3.
    ResourceExcluded,
    /// Stage 6.
    NativeRbacDenied,
    /// Stage 5.
    InvalidLimit,
}

/// A structured denial, usable for the error answer and for audit.
///
/// On the wire it also carries `statusCode`, derived from
/// [`error_code`](Self::error_code) (the seed's deny object has it).
#[derive(Debug, Clone, PartialEq)]
pub struct ScopeDeny {
    /// Why.
    pub code: DenyCode,
    /// Where in the pipeline.
    pub stage: DenyStage,
    /// Human-readable message (stable wording).
    pub message: String,
    /// The grant.
    pub grant_id: GrantId,
    /// The peer.
    pub peer_id: PeerId,
    /// The subject user.
    pub subject_user_id: UserId,
    /// The resource as requested; `None` when the request names none (the
    /// scope check behind `capabilities`).
    pub resource: Option<String>,
    /// Stage-specific context; omitted when there is none.
    pub details: Option<Map<String, Value>>,
}

impl ScopeDeny {
    /// The error code the denial is answered with: `invalid_request` for a
    /// malformed grant or request, `scope_violation` for a refusal.
    pub fn error_code(&self) -> ErrorCode {
        match self.code {
            DenyCode::InvalidScope | DenyCode::InvalidLimit => ErrorCode::InvalidRequest,
            DenyCode::InvalidResource
            | DenyCode::ResourceNotGranted
            | DenyCode::ResourceExcluded
            | DenyCode::NativeRbacDenied => ErrorCode::ScopeViolation,
        }
    }
}

impl Serialize for ScopeDeny {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Wire<'a> {
            code: DenyCode,
            stage: DenyStage,
            status_code: u16,
            message: &'a str,
            grant_id: &'a GrantId,
            peer_id: &'a PeerId,
            subject_user_id: &'a UserId,
            #[serde(skip_serializing_if = "Option::is_none")]
            resource: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            details: Option<&'a Map<String, Value>>,
        }
        Wire {
            code: self.code,
            stage: self.stage,
            status_code: self.error_code().http_status(),
            message: &self.message,
            grant_id: &self.grant_id,
            peer_id: &self.peer_id,
            subject_user_id: &self.subject_user_id,
            resource: self.resource.as_deref(),
            details: self.details.as_ref(),
        }
        .serialize(serializer)
    }
}

/// What the subject user may read locally.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NativeAccess {
    /// Their own rows.
    pub include_personal: bool,
    /// Teams whose rows they may read.
    pub team_ids: Vec<String>,
}

/// Native access refused.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NativeDenied {
    /// Why, in words; a generic message is used when absent.
    pub reason: Option<String>,
    /// Structured context, passed through to the denial.
    pub details: Option<Map<String, Value>>,
}

/// What native access is asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeRbacRequest {
    /// The grant, when a peer asks; `None` when a user reads their own rows
    /// locally.
    pub grant_id: Option<GrantId>,
    /// The peer, when a peer asks; `None` for a local read.
    pub peer_id: Option<PeerId>,
    /// The subject user.
    pub subject_user_id: UserId,
    /// A resource already known to be valid, granted and not excluded.
    pub resource: FederationResource,
}

/// The local access check a federation server supplies.
pub trait NativeRbac {
    /// What `request.subject_user_id` may read of `request.resource`.
    fn evaluate_read_access(
        &self,
        request: &NativeRbacRequest,
    ) -> impl std::future::Future<Output = Result<NativeAccess, NativeDenied>> + Send;
}

/// What a query may return: the scope and native access, intersected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryFilter {
    /// The resource.
    pub resource: FederationResource,
    /// Whose rows.
    pub subject_user_id: UserId,
    /// Rows the subject owns.
    pub include_personal: bool,
    /// Team rows, in the scope's order (or native order when the scope is silent).
    pub team_ids: Vec<String>,
    /// Rows for this query.
    pub limit: u32,
    /// The grant's cap.
    pub max_rows_per_query: u32,
}

/// Outcome of a full evaluation.
pub type Evaluation = Result<QueryFilter, Box<ScopeDeny>>;

/// Stages 1–5 passed; native access is needed to finish.
#[derive(Debug, Clone)]
pub struct Pending {
    context: FederationContext,
    scope: FederationScope,
    resource: FederationResource,
    requested_limit: Option<u32>,
}

impl Pending {
    /// The question to put to native access.
    pub fn native_request(&self) -> NativeRbacRequest {
        NativeRbacRequest {
            grant_id: Some(self.context.grant_id.clone()),
            peer_id: Some(self.context.peer_id.clone()),
            subject_user_id: self.context.subject_user_id.clone(),
            resource: self.resource,
        }
    }

    /// Stage 6 and the intersection.
    pub fn finish(self, native: Result<NativeAccess, NativeDenied>) -> Evaluation {
        let native = match native {
            Ok(access) => access,
            Err(denied) => {
                let message = denied.reason.unwrap_or_else(|| {
                    "Subject user is not allowed to read this resource".to_owned()
                });
                return Err(deny(
                    &self.context,
                    Some(self.resource.as_str()),
                    DenyCode::NativeRbacDenied,
                    DenyStage::NativeRbac,
                    message,
                    denied.details,
                ));
            }
        };
        let filter = self.scope.filter(self.resource);
        let include_personal =
            filter.and_then(|f| f.include_personal).unwrap_or(true) && native.include_personal;
        let team_ids = intersect_team_ids(
            &native.team_ids,
            filter.and_then(|f| f.include_teams.as_deref()),
        );
        let max = self.scope.max_rows_per_query;
        Ok(QueryFilter {
            resource: self.resource,
            subject_user_id: self.context.subject_user_id,
            include_personal,
            team_ids,
            limit: self.requested_limit.map_or(max, |l| l.min(max)),
            max_rows_per_query: max,
        })
    }
}

/// Teams both sides allow. With no scope list, every native team; otherwise the
/// scope's list, in its order, keeping only teams native access allows.
fn intersect_team_ids(native: &[String], scoped: Option<&[String]>) -> Vec<String> {
    let mut unique_native: Vec<&String> = Vec::with_capacity(native.len());
    for t in native {
        if !unique_native.contains(&t) {
            unique_native.push(t);
        }
    }
    match scoped {
        None => unique_native.into_iter().cloned().collect(),
        Some(scoped) => {
            let mut out: Vec<String> = Vec::with_capacity(scoped.len());
            for t in scoped {
                if unique_native.contains(&t) && !out.contains(t) {
                    out.push(t.clone());
                }
            }
            out
        }
    }
}

fn deny(
    ctx: &FederationContext,
    resource: Option<&str>,
    code: DenyCode,
    stage: DenyStage,
    message: impl Into<String>,
    details: Option<Map<String, Value>>,
) -> Box<ScopeDeny> {
    Box::new(ScopeDeny {
        code,
        stage,
        message: message.into(),
        grant_id: ctx.grant_id.clone(),
        peer_id: ctx.peer_id.clone(),
        subject_user_id: ctx.subject_user_id.clone(),
        resource: resource.map(str::to_owned),
        details,
    })
}

fn details(value: Value) -> Option<Map<String, Value>> {
    match value {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// Stage 1 alone: the context's stored scope, parsed, or the `scope_parse`
/// denial (without a resource). For verbs that name no resource, such as
/// `capabilities`, so that a broken scope gets the same answer everywhere.
pub fn check_scope(context: &FederationContext) -> Result<FederationScope, Box<ScopeDeny>> {
    stage_scope_parse(context, None)
}

fn stage_scope_parse(
    ctx: &FederationContext,
    resource: Option<&str>,
) -> Result<FederationScope, Box<ScopeDeny>> {
    parse_scope(&ctx.scope).map_err(|e| {
        let message = match e {
            ScopeError::Shape(_) => "Federation grant scope could not be parsed",
            _ => "Federation grant scope is invalid",
        };
        deny(
            ctx,
            resource,
            DenyCode::InvalidScope,
            DenyStage::ScopeParse,
            message,
            details(json!({ "reason": e.to_string() })),
        )
    })
}

/// Stages 1–5. Pure: never touches native access.
pub fn prepare(input: &EvaluationInput<'_>) -> Result<Pending, Box<ScopeDeny>> {
    let ctx = input.context;
    let requested = input.resource;

    // 1. The stored scope must parse.
    let scope = stage_scope_parse(ctx, Some(requested))?;

    // 2. The resource must be one the federation knows.
    let Ok(resource) = requested.parse::<FederationResource>() else {
        let supported: Vec<&str> = FEDERATION_RESOURCE_VALUES
            .iter()
            .map(|r| r.as_str())
            .collect();
        return Err(deny(
            ctx,
            Some(requested),
            DenyCode::InvalidResource,
            DenyStage::ResourceAllowlist,
            "Requested federation resource is not supported",
            details(json!({ "supportedResources": supported })),
        ));
    };

    // 3. Exclusion is checked before the grant list, so it always wins.
    if scope.excluded_resources.contains(&resource) {
        return Err(deny(
            ctx,
            Some(requested),
            DenyCode::ResourceExcluded,
            DenyStage::ResourceExclusion,
            "Requested federation resource is explicitly excluded by grant scope",
            None,
        ));
    }

    // 4. The grant must name it.
    if !scope.resources.contains(&resource) {
        let granted: Vec<&str> = scope.resources.iter().map(|r| r.as_str()).collect();
        return Err(deny(
            ctx,
            Some(requested),
            DenyCode::ResourceNotGranted,
            DenyStage::ResourceAllowlist,
            "Requested federation resource is not granted by scope",
            details(json!({ "grantedResources": granted })),
        ));
    }

    // 5. A requested limit must be a positive integer (it is capped later).
    let requested_limit = match input.requested_limit {
        None => None,
        Some(n) if n >= 1 => Some(u32::try_from(n).unwrap_or(u32::MAX)),
        Some(n) => {
            return Err(deny(
                ctx,
                Some(requested),
                DenyCode::InvalidLimit,
                DenyStage::RowCap,
                "Requested row limit must be a positive integer",
                details(json!({ "requestedLimit": n })),
            ));
        }
    };

    Ok(Pending {
        context: ctx.clone(),
        scope,
        resource,
        requested_limit,
    })
}

/// The whole pipeline: stages 1–5, then native access, then the intersection.
pub async fn evaluate(input: &EvaluationInput<'_>, native: &impl NativeRbac) -> Evaluation {
    let pending = prepare(input)?;
    let answer = native.evaluate_read_access(&pending.native_request()).await;
    pending.finish(answer)
}
