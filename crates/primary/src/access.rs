//! The access-control and audit RPCs: tokens, grants, WhoAmI, binding protection, the audit trail.
//! Each states its role; inputs are validated by `bindery-core` before any store call.

use std::time::SystemTime;

use bindery_core::{
    AuditFilter, Error, Grant, NewToken, PageRequest, Protection, Role, Scope, Subject, token_id,
};
use bindery_proto::{role_to_wire, status_from_error, token_request, v1};
use tonic::{Request, Response, Status};

use crate::{Primary, RpcResult, decode};

/// At most this many scopes in one WhoAmI.
const MAX_WHOAMI_SCOPES: usize = 100;

pub(crate) async fn create_token(
    p: &Primary,
    request: Request<v1::CreateTokenRequest>,
) -> RpcResult<v1::CreateTokenResponse> {
    let caller = p.caller(&request, "CreateToken").await?;
    caller.require_scope(Role::Admin, &Scope::Global)?;
    let (principal, description, expires_at) = token_request(request.get_ref()).map_err(status_from_error)?;
    let (new, secret) = NewToken::generate(&principal, &description, expires_at, SystemTime::now())
        .map_err(status_from_error)?;
    let (token, revision) = p.store.create_token(&caller.ctx, &new).await.map_err(status_from_error)?;
    Ok(Response::new(v1::CreateTokenResponse { token: Some(token.into()), secret, revision }))
}

pub(crate) async fn list_tokens(
    p: &Primary,
    request: Request<v1::ListTokensRequest>,
) -> RpcResult<v1::ListTokensResponse> {
    let caller = p.caller(&request, "ListTokens").await?;
    caller.require_scope(Role::Admin, &Scope::Global)?;
    let r = request.into_inner();
    let principal = if r.principal.is_empty() {
        None
    } else {
        Some(Subject::principal("principal", &r.principal).map_err(status_from_error)?)
    };
    let page = PageRequest::parse("tokens", r.page_size, &r.page_token).map_err(status_from_error)?;
    let page = p
        .store
        .list_tokens(principal.as_deref(), r.include_revoked, page)
        .await
        .map_err(status_from_error)?;
    let next_page_token = page.next_token("tokens");
    Ok(Response::new(v1::ListTokensResponse {
        tokens: page.items.into_iter().map(Into::into).collect(),
        next_page_token,
    }))
}

pub(crate) async fn revoke_token(
    p: &Primary,
    request: Request<v1::RevokeTokenRequest>,
) -> RpcResult<v1::RevokeTokenResponse> {
    let caller = p.caller(&request, "RevokeToken").await?;
    caller.require_scope(Role::Admin, &Scope::Global)?;
    let id = token_id("id", &request.into_inner().id).map_err(status_from_error)?;
    let revision = p.store.revoke_token(&caller.ctx, &id).await.map_err(status_from_error)?;
    Ok(Response::new(v1::RevokeTokenResponse { revision }))
}

pub(crate) async fn create_grant(
    p: &Primary,
    request: Request<v1::CreateGrantRequest>,
) -> RpcResult<v1::CreateGrantResponse> {
    let caller = p.caller(&request, "CreateGrant").await?;
    let grant: Grant = decode(request.into_inner())?;
    caller.require_scope(Role::Admin, &grant.scope)?;
    let (record, revision) = p.store.create_grant(&caller.ctx, &grant).await.map_err(status_from_error)?;
    Ok(Response::new(v1::CreateGrantResponse { grant: Some(record.into()), revision }))
}

pub(crate) async fn delete_grant(
    p: &Primary,
    request: Request<v1::DeleteGrantRequest>,
) -> RpcResult<v1::DeleteGrantResponse> {
    let caller = p.caller(&request, "DeleteGrant").await?;
    let grant: Grant = decode(request.into_inner())?;
    caller.require_scope(Role::Admin, &grant.scope)?;
    let revision = p.store.delete_grant(&caller.ctx, &grant).await.map_err(status_from_error)?;
    Ok(Response::new(v1::DeleteGrantResponse { revision }))
}

pub(crate) async fn list_grants(
    p: &Primary,
    request: Request<v1::ListGrantsRequest>,
) -> RpcResult<v1::ListGrantsResponse> {
    let caller = p.caller(&request, "ListGrants").await?;
    caller.require_scope(Role::Admin, &Scope::Global)?;
    let r = request.into_inner();
    let subject = if r.subject.is_empty() {
        None
    } else {
        Some(Subject::parse("subject", &r.subject).map_err(status_from_error)?)
    };
    let page = PageRequest::parse("grants", r.page_size, &r.page_token).map_err(status_from_error)?;
    let page = p.store.list_grants(subject.as_ref(), page).await.map_err(status_from_error)?;
    let next_page_token = page.next_token("grants");
    Ok(Response::new(v1::ListGrantsResponse {
        grants: page.items.into_iter().map(Into::into).collect(),
        next_page_token,
    }))
}

pub(crate) async fn who_am_i(
    p: &Primary,
    request: Request<v1::WhoAmIRequest>,
) -> RpcResult<v1::WhoAmIResponse> {
    let caller = p.caller(&request, "WhoAmI").await?;
    let scopes = request.into_inner().scopes;
    if scopes.len() > MAX_WHOAMI_SCOPES {
        return Err(Status::invalid_argument(format!(
            "scopes: {} entries, at most {MAX_WHOAMI_SCOPES} allowed",
            scopes.len()
        )));
    }
    let mut roles = Vec::with_capacity(scopes.len());
    for s in &scopes {
        let scope = Scope::parse("scopes", s).map_err(status_from_error)?;
        let role = caller.policy.role_on(&caller.who, &scope);
        roles.push(v1::ScopeRole { scope: scope.to_wire(), role: role_to_wire(role) });
    }
    Ok(Response::new(v1::WhoAmIResponse {
        principal: caller.who.name.clone(),
        groups: caller.who.groups.clone(),
        authenticated_by: caller.who.method.as_str().to_owned(),
        roles,
    }))
}

pub(crate) async fn set_binding_protection(
    p: &Primary,
    request: Request<v1::SetBindingProtectionRequest>,
) -> RpcResult<v1::SetBindingProtectionResponse> {
    let caller = p.caller(&request, "SetBindingProtection").await?;
    let protection: Protection = decode(request.into_inner())?;
    caller.require_scope(Role::Admin, &protection.scope)?;
    let (record, revision) =
        p.store.set_protection(&caller.ctx, &protection).await.map_err(status_from_error)?;
    Ok(Response::new(v1::SetBindingProtectionResponse { protection: Some(record.into()), revision }))
}

pub(crate) async fn list_binding_protections(
    p: &Primary,
    request: Request<v1::ListBindingProtectionsRequest>,
) -> RpcResult<v1::ListBindingProtectionsResponse> {
    let caller = p.caller(&request, "ListBindingProtections").await?;
    caller.require_any()?;
    let protections = p.store.list_protections().await.map_err(status_from_error)?;
    Ok(Response::new(v1::ListBindingProtectionsResponse {
        protections: protections.into_iter().map(Into::into).collect(),
    }))
}

/// ADMIN (global) sees every event; anyone else must filter by a model or namespace they can
/// view.
pub(crate) async fn list_audit_events(
    p: &Primary,
    request: Request<v1::ListAuditEventsRequest>,
) -> RpcResult<v1::ListAuditEventsResponse> {
    let caller = p.caller(&request, "ListAuditEvents").await?;
    let (filter, page): (AuditFilter, PageRequest) = decode(request.into_inner())?;
    let admin = caller.policy.role_on(&caller.who, &Scope::Global) == Some(Role::Admin);
    if !admin {
        let scope = match (&filter.model, &filter.namespace) {
            (Some(m), _) => Scope::Model(m.clone()),
            (None, Some(ns)) => Scope::Namespace(ns.clone()),
            (None, None) => {
                return Err(status_from_error(Error::PermissionDenied(format!(
                    "principal '{}' needs the ADMIN role on global scope to list every audit event; \
                     filter by a model or namespace you can view",
                    caller.who.name
                ))));
            }
        };
        caller.require_scope(Role::Viewer, &scope)?;
    }
    let (events, next_page_token) =
        p.store.list_audit_events(&filter, page).await.map_err(status_from_error)?.into_answer(
            "audit",
            bindery_core::MAX_ANSWER_BYTES,
            v1::AuditEvent::from,
            prost::Message::encoded_len,
            |e| bindery_core::Cursor::Number(e.id),
        );
    Ok(Response::new(v1::ListAuditEventsResponse { events, next_page_token }))
}

pub(crate) async fn verify_audit_log(
    p: &Primary,
    request: Request<v1::VerifyAuditLogRequest>,
) -> RpcResult<v1::VerifyAuditLogResponse> {
    let caller = p.caller(&request, "VerifyAuditLog").await?;
    caller.require_scope(Role::Admin, &Scope::Global)?;
    let report = crate::verify_audit(p.store.as_ref()).await.map_err(status_from_error)?;
    if let Some(b) = &report.first_break {
        tracing::error!(row = b.id, revision = b.revision, reason = %b.reason, "the audit chain is broken");
    }
    Ok(Response::new(report.into()))
}
