//! The role × RPC matrix: every RPC, every role (and no credentials), against the primary and the
//! read side of either store, driven by one table.

use std::time::{Duration, Instant};

use bindery_proto::v1;
use bindery_proto::v1::registry_service_client::RegistryServiceClient;
use bindery_proto::v1::resolver_service_client::ResolverServiceClient;
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::access::{create_token, grant, set_binding, setup_model, with};
use crate::helpers::*;

/// Whom a matrix call needs.
#[derive(Debug, Clone, Copy)]
enum Need {
    /// At least this role on the `team/` namespace (where the fixtures live).
    Team(v1::Role),
    /// At least this role globally.
    Global(v1::Role),
    /// Any role anywhere.
    AnyRole,
    /// Only a valid credential.
    Authenticated,
}

/// The principals of the matrix and what they hold.
const PRINCIPALS: &[(&str, Option<(v1::Role, &str)>)] = &[
    ("nobody", None),
    ("outsider", Some((v1::Role::Admin, "other/"))),
    ("viewer", Some((v1::Role::Viewer, "team/"))),
    ("contributor", Some((v1::Role::Contributor, "team/"))),
    ("approver", Some((v1::Role::Approver, "team/"))),
    ("team-admin", Some((v1::Role::Admin, "team/"))),
    ("global-viewer", Some((v1::Role::Viewer, "*"))),
];

fn allowed(held: Option<(v1::Role, &str)>, need: Need) -> bool {
    match (need, held) {
        (Need::Authenticated, _) => true,
        (_, None) => false,
        (Need::AnyRole, Some(_)) => true,
        (Need::Team(r), Some((role, scope))) => (scope == "team/" || scope == "*") && role as i32 >= r as i32,
        (Need::Global(r), Some((role, scope))) => scope == "*" && role as i32 >= r as i32,
    }
}

/// Every RPC, with the role it needs. The fixtures: `team/m` with versions 1-3, `production` and
/// `champion` on v1; `team/locked` whose `champion` is protected at model scope.
#[derive(Debug, Clone, Copy)]
enum Call {
    CreateModel,
    GetModel,
    ListModels,
    UpdateModel,
    DeleteModel,
    RegisterVersion,
    GetVersion,
    ListVersions,
    UpdateVersion,
    ArchiveVersion,
    DeleteVersion,
    CreateUploadSession,
    GetDownloadUrls,
    SetAlias,
    SetStage,
    SetBindingsWithAStage,
    SetProtectedAlias,
    DeleteAlias,
    DeleteStage,
    ListBindings,
    ListBindingHistory,
    RollbackStage,
    CreateToken,
    ListTokens,
    RevokeToken,
    CreateGrant,
    DeleteGrant,
    ListGrants,
    WhoAmI,
    SetBindingProtection,
    ListBindingProtections,
    ListModelAuditEvents,
    ListAllAuditEvents,
    VerifyAuditLog,
    GetLineage,
    CopyVersion,
    SetCard,
    GetCard,
    ListCardHistory,
    AddAnnotation,
    ListAnnotations,
    RemoveAnnotation,
    StartRollout,
    PauseRollout,
    ResumeRollout,
    AbortRollout,
    GetRollout,
    ListRollouts,
    // The read side.
    Resolve,
    ResolveMany,
    WatchModel,
    WatchAll,
    GetReaderStatus,
}

const MATRIX: &[(Call, Need)] = {
    use v1::Role::{Admin, Approver, Contributor, Viewer};
    &[
        (Call::CreateModel, Need::Team(Contributor)),
        (Call::GetModel, Need::Team(Viewer)),
        (Call::ListModels, Need::AnyRole),
        (Call::UpdateModel, Need::Team(Contributor)),
        (Call::DeleteModel, Need::Team(Admin)),
        (Call::RegisterVersion, Need::Team(Contributor)),
        (Call::GetVersion, Need::Team(Viewer)),
        (Call::ListVersions, Need::Team(Viewer)),
        (Call::UpdateVersion, Need::Team(Contributor)),
        (Call::ArchiveVersion, Need::Team(Contributor)),
        (Call::DeleteVersion, Need::Team(Admin)),
        (Call::CreateUploadSession, Need::Team(Contributor)),
        (Call::GetDownloadUrls, Need::Team(Viewer)),
        (Call::SetAlias, Need::Team(Contributor)),
        (Call::SetStage, Need::Team(Approver)),
        (Call::SetBindingsWithAStage, Need::Team(Approver)),
        (Call::SetProtectedAlias, Need::Team(Approver)),
        (Call::DeleteAlias, Need::Team(Contributor)),
        (Call::DeleteStage, Need::Team(Approver)),
        (Call::ListBindings, Need::Team(Viewer)),
        (Call::ListBindingHistory, Need::Team(Viewer)),
        (Call::RollbackStage, Need::Team(Approver)),
        (Call::CreateToken, Need::Global(Admin)),
        (Call::ListTokens, Need::Global(Admin)),
        (Call::RevokeToken, Need::Global(Admin)),
        (Call::CreateGrant, Need::Team(Admin)),
        (Call::DeleteGrant, Need::Team(Admin)),
        (Call::ListGrants, Need::Global(Admin)),
        (Call::WhoAmI, Need::Authenticated),
        (Call::SetBindingProtection, Need::Team(Admin)),
        (Call::ListBindingProtections, Need::AnyRole),
        (Call::ListModelAuditEvents, Need::Team(Viewer)),
        (Call::ListAllAuditEvents, Need::Global(Admin)),
        (Call::VerifyAuditLog, Need::Global(Admin)),
        (Call::GetLineage, Need::Team(Viewer)),
        (Call::CopyVersion, Need::Team(Contributor)),
        (Call::SetCard, Need::Team(Contributor)),
        (Call::GetCard, Need::Team(Viewer)),
        (Call::ListCardHistory, Need::Team(Viewer)),
        (Call::AddAnnotation, Need::Team(Contributor)),
        (Call::ListAnnotations, Need::Team(Viewer)),
        (Call::RemoveAnnotation, Need::Team(Contributor)),
        // `trial` and `champion` of team/m are unprotected aliases: moving them needs CONTRIBUTOR.
        (Call::StartRollout, Need::Team(Contributor)),
        (Call::PauseRollout, Need::Team(Contributor)),
        (Call::ResumeRollout, Need::Team(Contributor)),
        (Call::AbortRollout, Need::Team(Contributor)),
        (Call::GetRollout, Need::Team(Viewer)),
        (Call::ListRollouts, Need::Team(Viewer)),
        (Call::Resolve, Need::Team(Viewer)),
        (Call::ResolveMany, Need::Team(Viewer)),
        (Call::WatchModel, Need::Team(Viewer)),
        (Call::WatchAll, Need::Global(Viewer)),
        (Call::GetReaderStatus, Need::AnyRole),
    ]
};

struct Clients {
    registry: RegistryServiceClient<Channel>,
    resolver: ResolverServiceClient<Channel>,
}

/// Makes `call` as `token` (with `who` making names unique); `Err` carries the status.
async fn make(c: &mut Clients, call: Call, token: Option<&str>, who: &str) -> Result<(), Status> {
    let t = token;
    let m = || "team/m".to_owned();
    let bind = |binding: &str, model: String| v1::SetBindingRequest {
        model_name: model,
        binding: binding.into(),
        version: 2,
        expected_generation: None,
        reason: "matrix".into(),
        ..Default::default()
    };
    let r = &mut c.registry;
    match call {
        Call::CreateModel => r
            .create_model(with(
                v1::CreateModelRequest { name: format!("team/{who}"), ..Default::default() },
                t,
            ))
            .await
            .map(drop),
        Call::GetModel => r.get_model(with(v1::GetModelRequest { name: m() }, t)).await.map(drop),
        Call::ListModels => r.list_models(with(v1::ListModelsRequest::default(), t)).await.map(drop),
        Call::UpdateModel => {
            let req =
                v1::UpdateModelRequest { name: m(), description: Some(who.into()), ..Default::default() };
            r.update_model(with(req, t)).await.map(drop)
        }
        Call::DeleteModel => {
            r.delete_model(with(v1::DeleteModelRequest { name: "team/doomed".into() }, t)).await.map(drop)
        }
        Call::RegisterVersion => r.register_version(with(register_request("team/m", who), t)).await.map(drop),
        Call::GetVersion => r
            .get_version(with(v1::GetVersionRequest { model_name: m(), version: 1, ..Default::default() }, t))
            .await
            .map(drop),
        Call::ListVersions => r
            .list_versions(with(v1::ListVersionsRequest { model_name: m(), ..Default::default() }, t))
            .await
            .map(drop),
        Call::UpdateVersion => {
            let req = v1::UpdateVersionRequest {
                model_name: m(),
                version: 1,
                add_metrics: [(format!("m_{}", who.replace('-', "_")), 1.0)].into(),
                ..Default::default()
            };
            r.update_version(with(req, t)).await.map(drop)
        }
        Call::ArchiveVersion => r
            .archive_version(with(v1::ArchiveVersionRequest { model_name: m(), version: 3 }, t))
            .await
            .map(drop),
        Call::DeleteVersion => r
            .delete_version(with(v1::DeleteVersionRequest { model_name: m(), version: 3 }, t))
            .await
            .map(drop),
        Call::CreateUploadSession => {
            let file =
                v1::UploadFileSpec { path: "model.onnx".into(), size_bytes: 4, sha256: "ab".repeat(32) };
            let req = v1::CreateUploadSessionRequest { model_name: m(), files: vec![file] };
            r.create_upload_session(with(req, t)).await.map(drop)
        }
        Call::GetDownloadUrls => r
            .get_download_urls(with(
                v1::GetDownloadUrlsRequest { model_name: m(), version: 1, ..Default::default() },
                t,
            ))
            .await
            .map(drop),
        Call::SetAlias => r.set_binding(with(bind("champion", m()), t)).await.map(drop),
        Call::SetStage => r.set_binding(with(bind("production", m()), t)).await.map(drop),
        Call::SetBindingsWithAStage => {
            let a = |b: &str| v1::BindingAssignment {
                binding: b.into(),
                version: 1,
                expected_generation: None,
                ..Default::default()
            };
            let req = v1::SetBindingsRequest {
                model_name: m(),
                bindings: vec![a("champion"), a("staging")],
                reason: String::new(),
            };
            r.set_bindings(with(req, t)).await.map(drop)
        }
        Call::SetProtectedAlias => {
            r.set_binding(with(bind("champion", "team/locked".into()), t)).await.map(drop)
        }
        Call::DeleteAlias => {
            let req =
                v1::DeleteBindingRequest { model_name: m(), binding: "canary".into(), ..Default::default() };
            r.delete_binding(with(req, t)).await.map(drop)
        }
        Call::DeleteStage => {
            let req =
                v1::DeleteBindingRequest { model_name: m(), binding: "staging".into(), ..Default::default() };
            r.delete_binding(with(req, t)).await.map(drop)
        }
        Call::ListBindings => {
            r.list_bindings(with(v1::ListBindingsRequest { model_name: m() }, t)).await.map(drop)
        }
        Call::ListBindingHistory => {
            let req = v1::ListBindingHistoryRequest {
                model_name: m(),
                binding: "production".into(),
                ..Default::default()
            };
            r.list_binding_history(with(req, t)).await.map(drop)
        }
        Call::RollbackStage => {
            let req = v1::RollbackBindingRequest {
                model_name: m(),
                binding: "production".into(),
                ..Default::default()
            };
            r.rollback_binding(with(req, t)).await.map(drop)
        }
        Call::CreateToken => {
            let req = v1::CreateTokenRequest { principal: format!("made-by-{who}"), ..Default::default() };
            r.create_token(with(req, t)).await.map(drop)
        }
        Call::ListTokens => r.list_tokens(with(v1::ListTokensRequest::default(), t)).await.map(drop),
        Call::RevokeToken => {
            let req = v1::RevokeTokenRequest { id: format!("tok_{}", "f".repeat(32)) };
            r.revoke_token(with(req, t)).await.map(drop)
        }
        Call::CreateGrant => {
            let req = v1::CreateGrantRequest {
                subject: format!("by-{who}"),
                role: v1::Role::Viewer as i32,
                scope: "team/".into(),
            };
            r.create_grant(with(req, t)).await.map(drop)
        }
        Call::DeleteGrant => {
            let req = v1::DeleteGrantRequest {
                subject: "ghost".into(),
                role: v1::Role::Viewer as i32,
                scope: "team/".into(),
            };
            r.delete_grant(with(req, t)).await.map(drop)
        }
        Call::ListGrants => r.list_grants(with(v1::ListGrantsRequest::default(), t)).await.map(drop),
        Call::WhoAmI => r.who_am_i(with(v1::WhoAmIRequest::default(), t)).await.map(drop),
        Call::SetBindingProtection => {
            let req = v1::SetBindingProtectionRequest {
                binding: "canary".into(),
                scope: "team/m".into(),
                protected: true,
            };
            r.set_binding_protection(with(req, t)).await.map(drop)
        }
        Call::ListBindingProtections => {
            r.list_binding_protections(with(v1::ListBindingProtectionsRequest {}, t)).await.map(drop)
        }
        Call::ListModelAuditEvents => {
            let req = v1::ListAuditEventsRequest { model: m(), ..Default::default() };
            r.list_audit_events(with(req, t)).await.map(drop)
        }
        Call::ListAllAuditEvents => {
            r.list_audit_events(with(v1::ListAuditEventsRequest::default(), t)).await.map(drop)
        }
        Call::VerifyAuditLog => r.verify_audit_log(with(v1::VerifyAuditLogRequest {}, t)).await.map(drop),
        Call::GetLineage => {
            let req = v1::GetLineageRequest { model_name: m(), version: 1, ..Default::default() };
            r.get_lineage(with(req, t)).await.map(drop)
        }
        Call::CopyVersion => {
            let req = v1::CopyVersionRequest {
                source_model_name: m(),
                source_version: 1,
                target_model_name: "team/locked".into(),
                ..Default::default()
            };
            r.copy_version(with(req, t)).await.map(drop)
        }
        Call::SetCard => {
            let req =
                v1::SetCardRequest { model_name: m(), markdown: format!("by {who}"), ..Default::default() };
            r.set_card(with(req, t)).await.map(drop)
        }
        Call::GetCard => {
            r.get_card(with(v1::GetCardRequest { model_name: m(), version: 1 }, t)).await.map(drop)
        }
        Call::ListCardHistory => {
            let req = v1::ListCardHistoryRequest { model_name: m(), ..Default::default() };
            r.list_card_history(with(req, t)).await.map(drop)
        }
        Call::AddAnnotation => {
            let req = v1::AddAnnotationRequest {
                model_name: m(),
                version: 1,
                kind: v1::AnnotationKind::Docs as i32,
                url: format!("https://docs.example/{who}"),
                title: String::new(),
            };
            r.add_annotation(with(req, t)).await.map(drop)
        }
        Call::ListAnnotations => {
            let req = v1::ListAnnotationsRequest { model_name: m(), version: 1 };
            r.list_annotations(with(req, t)).await.map(drop)
        }
        Call::RemoveAnnotation => {
            let req = v1::RemoveAnnotationRequest { model_name: m(), version: 1, id: 1 };
            r.remove_annotation(with(req, t)).await.map(drop)
        }
        Call::StartRollout => {
            let req = v1::StartRolloutRequest {
                model_name: m(),
                binding: "trial".into(),
                to_version: 2,
                steps: vec![5_000, 10_000],
                interval_seconds: 3_600,
                ..Default::default()
            };
            r.start_rollout(with(req, t)).await.map(drop)
        }
        // Rollout #1 runs on `champion` of team/m (started in the setup).
        Call::PauseRollout => {
            r.pause_rollout(with(v1::PauseRolloutRequest { id: 1, reason: who.into() }, t)).await.map(drop)
        }
        Call::ResumeRollout => {
            r.resume_rollout(with(v1::ResumeRolloutRequest { id: 1, reason: who.into() }, t)).await.map(drop)
        }
        Call::AbortRollout => {
            r.abort_rollout(with(v1::AbortRolloutRequest { id: 1, reason: who.into() }, t)).await.map(drop)
        }
        Call::GetRollout => r.get_rollout(with(v1::GetRolloutRequest { id: 1 }, t)).await.map(drop),
        Call::ListRollouts => {
            let req = v1::ListRolloutsRequest { model_name: m(), ..Default::default() };
            r.list_rollouts(with(req, t)).await.map(drop)
        }
        Call::Resolve => {
            let req =
                v1::ResolveRequest { model_name: m(), binding: "production".into(), ..Default::default() };
            c.resolver.resolve(with(req, t)).await.map(drop)
        }
        Call::ResolveMany => {
            let req =
                v1::ResolveRequest { model_name: m(), binding: "production".into(), ..Default::default() };
            let reply = c
                .resolver
                .resolve_many(with(v1::ResolveManyRequest { requests: vec![req] }, t))
                .await?
                .into_inner();
            // Each entry answers on its own: a denial is that entry's error.
            match reply.results.first().and_then(|r| r.outcome.clone()) {
                Some(v1::resolve_result::Outcome::Error(e)) if e.code == Code::PermissionDenied as i32 => {
                    Err(Status::permission_denied(e.message))
                }
                _ => Ok(()),
            }
        }
        Call::WatchModel => {
            let req = v1::WatchBindingsRequest { model_names: vec![m()], ..Default::default() };
            c.resolver.watch_bindings(with(req, t)).await.map(drop)
        }
        Call::WatchAll => {
            c.resolver.watch_bindings(with(v1::WatchBindingsRequest::default(), t)).await.map(drop)
        }
        Call::GetReaderStatus => {
            c.resolver.get_reader_status(with(v1::GetReaderStatusRequest {}, t)).await.map(drop)
        }
    }
}

/// Every RPC × every role (and no credentials), against the primary and the read side of either
/// store: allowed calls are never PERMISSION_DENIED, denied ones are, and write nothing.
pub(crate) async fn role_matrix(backend: Backend) {
    let (registry, admin) = TestRegistry::start_secured(backend).await.unwrap();
    let mut r = registry.registry().await.unwrap();
    setup_model(&mut r, &admin, "team/m", 3).await;
    setup_model(&mut r, &admin, "team/locked", 2).await;
    setup_model(&mut r, &admin, "team/doomed", 0).await;
    for binding in ["production", "champion", "canary", "trial"] {
        set_binding(&mut r, &admin, "team/m", binding, 1).await.unwrap();
    }
    let req = v1::SetBindingProtectionRequest {
        binding: "champion".into(),
        scope: "team/locked".into(),
        protected: true,
    };
    r.set_binding_protection(with(req, Some(&admin))).await.unwrap();
    let rollout = v1::StartRolloutRequest {
        model_name: "team/m".into(),
        binding: "champion".into(),
        to_version: 3,
        steps: vec![1_000, 10_000],
        interval_seconds: 3_600,
        ..Default::default()
    };
    assert_eq!(r.start_rollout(with(rollout, Some(&admin))).await.unwrap().into_inner().id, 1);
    let mut tokens = Vec::new();
    for (name, held) in PRINCIPALS {
        tokens.push(create_token(&mut r, &admin, name).await);
        if let Some((role, scope)) = held {
            grant(&mut r, &admin, name, *role, scope).await;
        }
    }
    let mut c = Clients { registry: r, resolver: registry.resolver().await.unwrap() };
    // The read side must have applied every token and grant before it is asked.
    let ready = registry.revision().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = c.resolver.get_reader_status(with(v1::GetReaderStatusRequest {}, Some(&admin))).await;
        if status.as_ref().is_ok_and(|s| s.get_ref().applied_revision >= ready) {
            break;
        }
        assert!(Instant::now() < deadline, "read side never reached revision {ready}: {status:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let mut checked = 0;
    for (call, need) in MATRIX {
        let code = make(&mut c, *call, None, "anon").await.err().map(|s| s.code());
        assert_eq!(code, Some(Code::Unauthenticated), "{call:?} without credentials");
        for ((name, held), token) in PRINCIPALS.iter().zip(&tokens) {
            let before = registry.revision().await.unwrap();
            let outcome = make(&mut c, *call, Some(token), name).await;
            let denied = outcome.as_ref().err().map(Status::code);
            if allowed(*held, *need) {
                assert!(
                    !matches!(denied, Some(Code::PermissionDenied | Code::Unauthenticated)),
                    "{call:?} as {name} ({held:?}) should be allowed, got {outcome:?}"
                );
            } else {
                let status = outcome.expect_err(&format!("{call:?} as {name} ({held:?}) should be denied"));
                assert_eq!(status.code(), Code::PermissionDenied, "{call:?} as {name}: {status:?}");
                assert!(status.message().contains(&format!("'{name}'")), "{call:?}: {}", status.message());
                assert_eq!(
                    registry.revision().await.unwrap(),
                    before,
                    "{call:?} as {name} wrote despite denial"
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, MATRIX.len() * PRINCIPALS.len());
}
