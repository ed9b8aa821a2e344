//! Writes sent to a read node: `FAILED_PRECONDITION`, naming the primary (in the message and in
//! the `x-bindery-primary` response header) so clients and humans know where to go.

use bindery_proto::v1::{self, registry_service_server::RegistryService};
use tonic::metadata::MetadataValue;
use tonic::{Request, Response, Status};

/// Response header carrying the primary's address on a redirected write.
pub const PRIMARY_HEADER: &str = "x-bindery-primary";

#[derive(Debug, Clone)]
pub struct WriteRedirect {
    primary: Option<String>,
}

impl WriteRedirect {
    /// `primary`: the address clients should send writes to, when configured.
    pub fn new(primary: Option<String>) -> Self {
        Self { primary }
    }

    fn status(&self, method: &str) -> Status {
        self.elsewhere(&format!("{method} is a write and this is a read node"))
    }

    /// `FAILED_PRECONDITION`: `why`, and where the primary is.
    fn elsewhere(&self, why: &str) -> Status {
        let mut status = match &self.primary {
            Some(primary) => {
                Status::failed_precondition(format!("{why}; send it to the primary at {primary}"))
            }
            None => Status::failed_precondition(format!("{why}; send it to the primary")),
        };
        if let Some(value) = self.primary.as_deref().and_then(|p| MetadataValue::try_from(p).ok()) {
            status.metadata_mut().insert(PRIMARY_HEADER, value);
        }
        status
    }
}

/// Every RegistryService method answers with [`WriteRedirect::status`].
macro_rules! redirect_all {
    ($($method:ident($request:ident) -> $response:ident;)*) => {
        #[tonic::async_trait]
        impl RegistryService for WriteRedirect {
            $(
                async fn $method(&self, _request: Request<v1::$request>) -> Result<Response<v1::$response>, Status> {
                    Err(self.status(stringify!($request).trim_end_matches("Request")))
                }
            )*

            type WatchEventsStream = tokio_stream::Empty<Result<v1::WatchEventsResponse, Status>>;

            /// Events are read from the primary's audit log, which read nodes do not hold.
            async fn watch_events(
                &self,
                _request: Request<v1::WatchEventsRequest>,
            ) -> Result<Response<Self::WatchEventsStream>, Status> {
                Err(self.elsewhere("WatchEvents reads the primary's audit log, which read nodes do not hold"))
            }
        }
    };
}

redirect_all! {
    create_model(CreateModelRequest) -> Model;
    get_model(GetModelRequest) -> Model;
    list_models(ListModelsRequest) -> ListModelsResponse;
    update_model(UpdateModelRequest) -> Model;
    delete_model(DeleteModelRequest) -> DeleteModelResponse;
    register_version(RegisterVersionRequest) -> RegisterVersionResponse;
    get_version(GetVersionRequest) -> ModelVersion;
    list_versions(ListVersionsRequest) -> ListVersionsResponse;
    update_version(UpdateVersionRequest) -> ModelVersion;
    archive_version(ArchiveVersionRequest) -> ModelVersion;
    set_binding(SetBindingRequest) -> SetBindingResponse;
    set_bindings(SetBindingsRequest) -> SetBindingsResponse;
    delete_binding(DeleteBindingRequest) -> DeleteBindingResponse;
    list_bindings(ListBindingsRequest) -> ListBindingsResponse;
    list_binding_history(ListBindingHistoryRequest) -> ListBindingHistoryResponse;
    rollback_binding(RollbackBindingRequest) -> SetBindingResponse;
    delete_version(DeleteVersionRequest) -> DeleteVersionResponse;
    create_upload_session(CreateUploadSessionRequest) -> UploadSession;
    get_download_urls(GetDownloadUrlsRequest) -> GetDownloadUrlsResponse;
    create_token(CreateTokenRequest) -> CreateTokenResponse;
    list_tokens(ListTokensRequest) -> ListTokensResponse;
    revoke_token(RevokeTokenRequest) -> RevokeTokenResponse;
    create_grant(CreateGrantRequest) -> CreateGrantResponse;
    delete_grant(DeleteGrantRequest) -> DeleteGrantResponse;
    list_grants(ListGrantsRequest) -> ListGrantsResponse;
    who_am_i(WhoAmIRequest) -> WhoAmIResponse;
    set_binding_protection(SetBindingProtectionRequest) -> SetBindingProtectionResponse;
    list_binding_protections(ListBindingProtectionsRequest) -> ListBindingProtectionsResponse;
    list_audit_events(ListAuditEventsRequest) -> ListAuditEventsResponse;
    verify_audit_log(VerifyAuditLogRequest) -> VerifyAuditLogResponse;
    set_promotion_policy(SetPromotionPolicyRequest) -> SetPromotionPolicyResponse;
    get_promotion_policy(GetPromotionPolicyRequest) -> GetPromotionPolicyResponse;
    list_promotion_policies(ListPromotionPoliciesRequest) -> ListPromotionPoliciesResponse;
    delete_promotion_policy(DeletePromotionPolicyRequest) -> DeletePromotionPolicyResponse;
    request_promotion(RequestPromotionRequest) -> PromotionResponse;
    approve_promotion(ApprovePromotionRequest) -> PromotionResponse;
    reject_promotion(RejectPromotionRequest) -> PromotionResponse;
    cancel_promotion(CancelPromotionRequest) -> PromotionResponse;
    evaluate_promotion(EvaluatePromotionRequest) -> EvaluatePromotionResponse;
    get_promotion_request(GetPromotionRequestRequest) -> PromotionRequest;
    list_promotion_requests(ListPromotionRequestsRequest) -> ListPromotionRequestsResponse;
    get_lineage(GetLineageRequest) -> GetLineageResponse;
    copy_version(CopyVersionRequest) -> RegisterVersionResponse;
    set_card(SetCardRequest) -> Card;
    get_card(GetCardRequest) -> Card;
    list_card_history(ListCardHistoryRequest) -> ListCardHistoryResponse;
    add_annotation(AddAnnotationRequest) -> Annotation;
    list_annotations(ListAnnotationsRequest) -> ListAnnotationsResponse;
    remove_annotation(RemoveAnnotationRequest) -> RemoveAnnotationResponse;
    start_rollout(StartRolloutRequest) -> Rollout;
    pause_rollout(PauseRolloutRequest) -> Rollout;
    resume_rollout(ResumeRolloutRequest) -> Rollout;
    abort_rollout(AbortRolloutRequest) -> Rollout;
    get_rollout(GetRolloutRequest) -> Rollout;
    list_rollouts(ListRolloutsRequest) -> ListRolloutsResponse;
    create_webhook(CreateWebhookRequest) -> CreateWebhookResponse;
    update_webhook(UpdateWebhookRequest) -> UpdateWebhookResponse;
    delete_webhook(DeleteWebhookRequest) -> DeleteWebhookResponse;
    get_webhook(GetWebhookRequest) -> Webhook;
    list_webhooks(ListWebhooksRequest) -> ListWebhooksResponse;
    test_webhook(TestWebhookRequest) -> TestWebhookResponse;
    list_webhook_deliveries(ListWebhookDeliveriesRequest) -> ListWebhookDeliveriesResponse;
    redeliver_webhook(RedeliverWebhookRequest) -> RedeliverWebhookResponse;
}
