//! Promotion gates' RPCs (issue 13). Roles: policies need ADMIN on their scope; requesting needs
//! CONTRIBUTOR on the model; approving and rejecting need APPROVER; cancelling is the
//! requester's; evaluating and listing need VIEWER. The decisions themselves are
//! `bindery_core::promotion`'s, taken by the store under its write lock.

use bindery_core::{NewPromotion, PromotionAct, PromotionPolicy, Role};
use bindery_proto::promotion::{policy_key, policy_to_wire};
use bindery_proto::{status_from_error, v1};
use tonic::{Request, Response, Status};

use crate::{Primary, RpcResult, decode, name};

pub(crate) async fn set_policy(
    p: &Primary,
    request: Request<v1::SetPromotionPolicyRequest>,
) -> RpcResult<v1::SetPromotionPolicyResponse> {
    let caller = p.caller(&request, "SetPromotionPolicy").await?;
    let policy: PromotionPolicy = decode(request.into_inner())?;
    caller.require_scope(Role::Admin, &policy.scope)?;
    let record = p.store.set_promotion_policy(&caller.ctx, &policy).await.map_err(status_from_error)?;
    Ok(Response::new(v1::SetPromotionPolicyResponse { policy: Some(record.into()) }))
}

pub(crate) async fn get_policy(
    p: &Primary,
    request: Request<v1::GetPromotionPolicyRequest>,
) -> RpcResult<v1::GetPromotionPolicyResponse> {
    let caller = p.caller(&request, "GetPromotionPolicy").await?;
    let r = request.into_inner();
    let (binding, scope) = policy_key(r.binding, &r.scope).map_err(status_from_error)?;
    let stored = p.store.list_promotion_policies(Some(&binding)).await.map_err(status_from_error)?;
    let found = if r.model_name.is_empty() {
        caller.require_any()?;
        stored.into_iter().find(|s| s.policy.scope == scope)
    } else {
        let model = name("model_name", r.model_name)?;
        caller.require(Role::Viewer, &model)?;
        bindery_core::promotion::applicable(&stored, &model, &binding).cloned()
    };
    let found = found.ok_or_else(|| {
        Status::not_found(format!(
            "no promotion policy gates binding '{binding}' there; the binding is not gated"
        ))
    })?;
    Ok(Response::new(v1::GetPromotionPolicyResponse { policy: Some(found.into()) }))
}

pub(crate) async fn list_policies(
    p: &Primary,
    request: Request<v1::ListPromotionPoliciesRequest>,
) -> RpcResult<v1::ListPromotionPoliciesResponse> {
    let caller = p.caller(&request, "ListPromotionPolicies").await?;
    caller.require_any()?;
    let r = request.into_inner();
    let binding = (!r.binding.is_empty())
        .then(|| bindery_core::BindingName::parse("binding", r.binding))
        .transpose()
        .map_err(status_from_error)?;
    let policies = p.store.list_promotion_policies(binding.as_ref()).await.map_err(status_from_error)?;
    Ok(Response::new(v1::ListPromotionPoliciesResponse {
        policies: policies.into_iter().map(Into::into).collect(),
    }))
}

pub(crate) async fn delete_policy(
    p: &Primary,
    request: Request<v1::DeletePromotionPolicyRequest>,
) -> RpcResult<v1::DeletePromotionPolicyResponse> {
    let caller = p.caller(&request, "DeletePromotionPolicy").await?;
    let r = request.into_inner();
    let (binding, scope) = policy_key(r.binding, &r.scope).map_err(status_from_error)?;
    caller.require_scope(Role::Admin, &scope)?;
    p.store.delete_promotion_policy(&caller.ctx, &binding, &scope).await.map_err(status_from_error)?;
    Ok(Response::new(v1::DeletePromotionPolicyResponse {}))
}

pub(crate) async fn request_promotion(
    p: &Primary,
    request: Request<v1::RequestPromotionRequest>,
) -> RpcResult<v1::PromotionResponse> {
    let caller = p.caller(&request, "RequestPromotion").await?;
    let mut new: NewPromotion = decode(request.into_inner())?;
    caller.require(Role::Contributor, &new.model)?;
    // Applies at once only for a caller who could move the binding directly.
    new.may_apply = caller.require_bindings(&new.model, [&new.binding]).is_ok();
    new.ttl = p.promotion_ttl;
    let act = PromotionAct::Request(new);
    act.validate().map_err(status_from_error)?;
    let outcome = p.store.promote(&caller.ctx, &act).await.map_err(status_from_error)?;
    Ok(Response::new(outcome.into()))
}

/// Approve, reject or cancel: the model is the request's.
pub(crate) async fn decide(
    p: &Primary,
    caller: crate::auth::Caller,
    act: PromotionAct,
) -> RpcResult<v1::PromotionResponse> {
    act.validate().map_err(status_from_error)?;
    let id = match &act {
        PromotionAct::Approve { id, .. } | PromotionAct::Reject { id, .. } | PromotionAct::Cancel { id } => {
            *id
        }
        PromotionAct::Request(_) => return Err(Status::internal("a new request is not a decision")),
    };
    let existing = p.store.get_promotion_request(id).await.map_err(status_from_error)?;
    let need = if matches!(act, PromotionAct::Cancel { .. }) { Role::Viewer } else { Role::Approver };
    caller.require(need, &existing.model)?;
    let outcome = p.store.promote(&caller.ctx, &act).await.map_err(status_from_error)?;
    Ok(Response::new(outcome.into()))
}

pub(crate) async fn evaluate(
    p: &Primary,
    request: Request<v1::EvaluatePromotionRequest>,
) -> RpcResult<v1::EvaluatePromotionResponse> {
    let caller = p.caller(&request, "EvaluatePromotion").await?;
    let r = request.into_inner();
    let model = name("model_name", r.model_name)?;
    let binding = bindery_core::BindingName::parse("binding", r.binding).map_err(status_from_error)?;
    let version = bindery_core::validate::version_number("version", r.version).map_err(status_from_error)?;
    caller.require(Role::Viewer, &model)?;
    let (policy, results) = p
        .store
        .evaluate_promotion(&model, &binding, version, &caller.who.name)
        .await
        .map_err(status_from_error)?;
    let passes = results.iter().all(|r| r.passed || r.awaits_approval);
    let needs_approval = policy.as_ref().is_some_and(PromotionPolicy::needs_approval);
    Ok(Response::new(v1::EvaluatePromotionResponse {
        gated: policy.is_some(),
        policy: policy.map(policy_to_wire),
        gates: results.into_iter().map(Into::into).collect(),
        passes,
        needs_approval,
    }))
}

pub(crate) async fn get_request(
    p: &Primary,
    request: Request<v1::GetPromotionRequestRequest>,
) -> RpcResult<v1::PromotionRequest> {
    let caller = p.caller(&request, "GetPromotionRequest").await?;
    let found = p.store.get_promotion_request(request.into_inner().id).await.map_err(status_from_error)?;
    caller.require(Role::Viewer, &found.model)?;
    Ok(Response::new(found.into()))
}

pub(crate) async fn list_requests(
    p: &Primary,
    request: Request<v1::ListPromotionRequestsRequest>,
) -> RpcResult<v1::ListPromotionRequestsResponse> {
    let caller = p.caller(&request, "ListPromotionRequests").await?;
    let (mut filter, page) =
        decode::<_, (bindery_core::PromotionFilter, bindery_core::PageRequest)>(request.into_inner())?;
    match &filter.model {
        Some(model) => caller.require(Role::Viewer, model)?,
        // Every model's requests: those the caller may view (a role somewhere is needed).
        None => {
            caller.require_any()?;
            filter.visibility = caller.policy.visibility(&caller.who);
        }
    }
    let found = p.store.list_promotion_requests(&filter, page).await.map_err(status_from_error)?;
    let next_page_token = found.next_token("promotions");
    Ok(Response::new(v1::ListPromotionRequestsResponse {
        requests: found.items.into_iter().map(Into::into).collect(),
        next_page_token,
    }))
}

/// A rollback of a gated binding bypasses its gates, so it needs APPROVER on the model and a
/// reason, whatever the binding's protection says.
pub(crate) async fn check_rollback(
    p: &Primary,
    caller: &crate::auth::Caller,
    req: &bindery_core::RollbackBinding,
) -> Result<(), Status> {
    let policies = p.store.list_promotion_policies(Some(&req.name)).await.map_err(status_from_error)?;
    if bindery_core::promotion::applicable(&policies, &req.model, &req.name).is_none() {
        return Ok(());
    }
    caller.require(Role::Approver, &req.model).map_err(|s| {
        Status::permission_denied(format!(
            "binding '{}' is gated; rolling it back bypasses its gates: {}",
            req.name,
            s.message()
        ))
    })?;
    if req.reason.trim().is_empty() {
        return Err(Status::invalid_argument(format!(
            "reason: rolling back gated binding '{}' bypasses its gates; say why",
            req.name
        )));
    }
    Ok(())
}
