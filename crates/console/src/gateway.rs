//! `POST /api/v1/<Method>`: a request message as proto3 JSON in, the primary's handler run with
//! the caller's credentials, the response message as proto3 JSON out (`.proto` field names,
//! enums by name, timestamps in RFC 3339). The table below is the whole of what the console may
//! call; everything else the registry does stays on gRPC and the CLI.

use bindery_primary::Primary;
use bindery_proto::json::{from_json, to_json};
use bindery_proto::v1::registry_service_server::RegistryService;
use serde_json::Value;
use tonic::Status;
use tonic::metadata::MetadataMap;

macro_rules! gateway {
    ($($name:literal => $method:ident,)*) => {
        /// The RegistryService methods the console calls, by their `.proto` names.
        pub const METHODS: &[&str] = &[$($name),*];

        /// Runs `method` of the primary with `body` as its request message.
        pub(crate) async fn call(
            primary: &Primary,
            method: &str,
            body: Value,
            metadata: MetadataMap,
        ) -> Result<Value, Status> {
            match method {
                $($name => {
                    let message = from_json(body)
                        .map_err(|e| Status::invalid_argument(format!("{method}: the request message: {e}")))?;
                    let mut request = tonic::Request::new(message);
                    *request.metadata_mut() = metadata;
                    let answer = RegistryService::$method(primary, request).await?.into_inner();
                    to_json(&answer).map_err(Status::internal)
                })*
                _ => Err(Status::not_found(format!(
                    "{method:?} is not a method the console API serves; it serves {}",
                    METHODS.join(", ")
                ))),
            }
        }
    };
}

gateway! {
    "WhoAmI" => who_am_i,
    "ListModels" => list_models,
    "GetModel" => get_model,
    "ListVersions" => list_versions,
    "GetVersion" => get_version,
    "ListBindings" => list_bindings,
    "ListBindingHistory" => list_binding_history,
    "RollbackBinding" => rollback_binding,
    "ListBindingProtections" => list_binding_protections,
    "ListPromotionRequests" => list_promotion_requests,
    "GetPromotionRequest" => get_promotion_request,
    "ApprovePromotion" => approve_promotion,
    "RejectPromotion" => reject_promotion,
    "GetLineage" => get_lineage,
    "ListAuditEvents" => list_audit_events,
    "VerifyAuditLog" => verify_audit_log,
    "GetCard" => get_card,
    "ListRollouts" => list_rollouts,
}
