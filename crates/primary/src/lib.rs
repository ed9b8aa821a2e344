//! The write-primary's gRPC services. Handlers stay thin: decode and validate the request into
//! domain types (`TryFrom`), call the [`Store`], encode the answer (`From`).

use std::sync::Arc;

use bindery_artifacts::Artifacts;
use bindery_core::{ModelName, PageRequest, Store, VersionStatus, WriteContext};
use bindery_proto::v1::{
    self, registry_service_server::RegistryService, resolver_service_server::ResolverService,
};
use bindery_proto::{ResolveManyPlan, status_from_error};
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status};

/// Request header naming the caller, recorded as actor on every write (until authentication).
pub const ACTOR_HEADER: &str = "x-bindery-actor";
/// Request header with the caller's request id, recorded in the audit log.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

const MAX_HEADER_VALUE: usize = 250;

/// `RegistryService` and `ResolverService` over a [`Store`], with [`Artifacts`] for what lives
/// in object storage.
#[derive(Clone)]
pub struct Primary {
    store: Arc<dyn Store>,
    artifacts: Arc<Artifacts>,
}

impl Primary {
    pub fn new(store: Arc<dyn Store>, artifacts: Arc<Artifacts>) -> Self {
        Self { store, artifacts }
    }
}

fn header(metadata: &MetadataMap, name: &str) -> Result<Option<String>, Status> {
    let Some(value) = metadata.get(name) else { return Ok(None) };
    let value = value
        .to_str()
        .map_err(|_| Status::invalid_argument(format!("header {name}: must be printable ASCII")))?;
    if value.len() > MAX_HEADER_VALUE {
        return Err(Status::invalid_argument(format!(
            "header {name}: is {} bytes, at most {MAX_HEADER_VALUE} allowed",
            value.len()
        )));
    }
    Ok(Some(value.trim().to_owned()).filter(|v| !v.is_empty()))
}

fn write_context(metadata: &MetadataMap) -> Result<WriteContext, Status> {
    let actor = header(metadata, ACTOR_HEADER)?.unwrap_or_else(|| WriteContext::ANONYMOUS.to_owned());
    let mut ctx = WriteContext::new(actor);
    ctx.request_id = header(metadata, REQUEST_ID_HEADER)?.unwrap_or_default();
    ctx.trace_id = header(metadata, "traceparent")?.unwrap_or_default();
    Ok(ctx)
}

/// Decodes a request into a domain value, mapping validation errors to `InvalidArgument`.
fn decode<T, D>(message: T) -> Result<D, Status>
where
    D: TryFrom<T, Error = bindery_core::Error>,
{
    D::try_from(message).map_err(status_from_error)
}

fn name(field: &str, value: String) -> Result<ModelName, Status> {
    ModelName::parse(field, value).map_err(status_from_error)
}

type RpcResult<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl RegistryService for Primary {
    #[tracing::instrument(skip_all, fields(model = %request.get_ref().name))]
    async fn create_model(&self, request: Request<v1::CreateModelRequest>) -> RpcResult<v1::Model> {
        let ctx = write_context(request.metadata())?;
        let model = decode(request.into_inner())?;
        let created = self.store.create_model(&ctx, model).await.map_err(status_from_error)?;
        Ok(Response::new(created.into()))
    }

    async fn get_model(&self, request: Request<v1::GetModelRequest>) -> RpcResult<v1::Model> {
        let name = name("name", request.into_inner().name)?;
        let model = self.store.get_model(&name).await.map_err(status_from_error)?;
        Ok(Response::new(model.into()))
    }

    async fn list_models(
        &self,
        request: Request<v1::ListModelsRequest>,
    ) -> RpcResult<v1::ListModelsResponse> {
        let r = request.into_inner();
        let page = PageRequest::parse("models", r.page_size, &r.page_token).map_err(status_from_error)?;
        let page = self.store.list_models(page).await.map_err(status_from_error)?;
        let next_page_token = page.next_token("models");
        Ok(Response::new(v1::ListModelsResponse {
            models: page.items.into_iter().map(Into::into).collect(),
            next_page_token,
        }))
    }

    #[tracing::instrument(skip_all, fields(model = %request.get_ref().name))]
    async fn update_model(&self, request: Request<v1::UpdateModelRequest>) -> RpcResult<v1::Model> {
        let ctx = write_context(request.metadata())?;
        let (name, update) = decode(request.into_inner())?;
        let model = self.store.update_model(&ctx, &name, update).await.map_err(status_from_error)?;
        Ok(Response::new(model.into()))
    }

    #[tracing::instrument(skip_all, fields(model = %request.get_ref().name))]
    async fn delete_model(
        &self,
        request: Request<v1::DeleteModelRequest>,
    ) -> RpcResult<v1::DeleteModelResponse> {
        let ctx = write_context(request.metadata())?;
        let name = name("name", request.into_inner().name)?;
        let revision = self.store.delete_model(&ctx, &name).await.map_err(status_from_error)?;
        Ok(Response::new(v1::DeleteModelResponse { revision }))
    }

    #[tracing::instrument(skip_all, fields(model = %request.get_ref().model_name))]
    async fn register_version(
        &self,
        request: Request<v1::RegisterVersionRequest>,
    ) -> RpcResult<v1::RegisterVersionResponse> {
        let ctx = write_context(request.metadata())?;
        let mut version = decode(request.into_inner())?;
        // Verify (or complete an upload session) before the transaction: a version never points
        // at nothing, and nothing is registered when the object store says no.
        self.artifacts.prepare(self.store.as_ref(), &mut version).await.map_err(status_from_error)?;
        let registered = self.store.register_version(&ctx, version).await.map_err(status_from_error)?;
        Ok(Response::new(registered.into()))
    }

    async fn get_version(&self, request: Request<v1::GetVersionRequest>) -> RpcResult<v1::ModelVersion> {
        let key = decode(request.into_inner())?;
        let version = self.store.get_version(&key).await.map_err(status_from_error)?;
        Ok(Response::new(version.into()))
    }

    async fn list_versions(
        &self,
        request: Request<v1::ListVersionsRequest>,
    ) -> RpcResult<v1::ListVersionsResponse> {
        let (model, page) = decode(request.into_inner())?;
        let page = self.store.list_versions(&model, page).await.map_err(status_from_error)?;
        let next_page_token = page.next_token("versions");
        Ok(Response::new(v1::ListVersionsResponse {
            versions: page.items.into_iter().map(Into::into).collect(),
            next_page_token,
        }))
    }

    #[tracing::instrument(skip_all, fields(model = %request.get_ref().model_name, version = request.get_ref().version))]
    async fn update_version(
        &self,
        request: Request<v1::UpdateVersionRequest>,
    ) -> RpcResult<v1::ModelVersion> {
        let ctx = write_context(request.metadata())?;
        let (key, update) = decode(request.into_inner())?;
        let version = self.store.update_version(&ctx, &key, update).await.map_err(status_from_error)?;
        Ok(Response::new(version.into()))
    }

    #[tracing::instrument(skip_all, fields(model = %request.get_ref().model_name, version = request.get_ref().version))]
    async fn archive_version(
        &self,
        request: Request<v1::ArchiveVersionRequest>,
    ) -> RpcResult<v1::ModelVersion> {
        let ctx = write_context(request.metadata())?;
        let key = decode(request.into_inner())?;
        let version = self.store.archive_version(&ctx, &key).await.map_err(status_from_error)?;
        Ok(Response::new(version.into()))
    }

    #[tracing::instrument(skip_all, fields(model = %request.get_ref().model_name, version = request.get_ref().version))]
    async fn delete_version(
        &self,
        request: Request<v1::DeleteVersionRequest>,
    ) -> RpcResult<v1::DeleteVersionResponse> {
        let ctx = write_context(request.metadata())?;
        let key = decode(request.into_inner())?;
        let revision = self.store.delete_version(&ctx, &key).await.map_err(status_from_error)?;
        Ok(Response::new(v1::DeleteVersionResponse { revision }))
    }

    #[tracing::instrument(skip_all, fields(model = %request.get_ref().model_name))]
    async fn create_upload_session(
        &self,
        request: Request<v1::CreateUploadSessionRequest>,
    ) -> RpcResult<v1::UploadSession> {
        let ctx = write_context(request.metadata())?;
        let (model, files) = decode(request.into_inner())?;
        let grant = self
            .artifacts
            .create_upload_session(self.store.as_ref(), &ctx, model, files)
            .await
            .map_err(status_from_error)?;
        Ok(Response::new(grant.into()))
    }

    async fn get_download_urls(
        &self,
        request: Request<v1::GetDownloadUrlsRequest>,
    ) -> RpcResult<v1::GetDownloadUrlsResponse> {
        let key = decode(request.into_inner())?;
        let version = self.store.get_version(&key).await.map_err(status_from_error)?;
        if version.status == VersionStatus::Deleted {
            return Err(Status::failed_precondition(format!(
                "version {} of model '{}' is deleted; its files are not served",
                key.version, key.model
            )));
        }
        let urls = self.artifacts.download_urls(&version.artifact).await.map_err(status_from_error)?;
        Ok(Response::new(v1::GetDownloadUrlsResponse { files: urls.into_iter().map(Into::into).collect() }))
    }

    #[tracing::instrument(skip_all, fields(model = %request.get_ref().model_name, binding = %request.get_ref().binding))]
    async fn set_binding(
        &self,
        request: Request<v1::SetBindingRequest>,
    ) -> RpcResult<v1::SetBindingResponse> {
        let ctx = write_context(request.metadata())?;
        let req = decode(request.into_inner())?;
        let written = self.store.set_binding(&ctx, req).await.map_err(status_from_error)?;
        Ok(Response::new(written.into()))
    }

    #[tracing::instrument(skip_all, fields(model = %request.get_ref().model_name))]
    async fn set_bindings(
        &self,
        request: Request<v1::SetBindingsRequest>,
    ) -> RpcResult<v1::SetBindingsResponse> {
        let ctx = write_context(request.metadata())?;
        let req = decode(request.into_inner())?;
        let written = self.store.set_bindings(&ctx, req).await.map_err(status_from_error)?;
        Ok(Response::new(written.into()))
    }

    #[tracing::instrument(skip_all, fields(model = %request.get_ref().model_name, binding = %request.get_ref().binding))]
    async fn delete_binding(
        &self,
        request: Request<v1::DeleteBindingRequest>,
    ) -> RpcResult<v1::DeleteBindingResponse> {
        let ctx = write_context(request.metadata())?;
        let req = decode(request.into_inner())?;
        let revision = self.store.delete_binding(&ctx, req).await.map_err(status_from_error)?;
        Ok(Response::new(v1::DeleteBindingResponse { revision }))
    }

    async fn list_bindings(
        &self,
        request: Request<v1::ListBindingsRequest>,
    ) -> RpcResult<v1::ListBindingsResponse> {
        let model = name("model_name", request.into_inner().model_name)?;
        let bindings = self.store.list_bindings(&model).await.map_err(status_from_error)?;
        Ok(Response::new(v1::ListBindingsResponse {
            bindings: bindings.into_iter().map(Into::into).collect(),
        }))
    }

    async fn list_binding_history(
        &self,
        request: Request<v1::ListBindingHistoryRequest>,
    ) -> RpcResult<v1::ListBindingHistoryResponse> {
        let (model, binding, page) = decode(request.into_inner())?;
        let page = self.store.binding_history(&model, &binding, page).await.map_err(status_from_error)?;
        let next_page_token = page.next_token("history");
        Ok(Response::new(v1::ListBindingHistoryResponse {
            entries: page.items.into_iter().map(Into::into).collect(),
            next_page_token,
        }))
    }

    #[tracing::instrument(skip_all, fields(model = %request.get_ref().model_name, binding = %request.get_ref().binding))]
    async fn rollback_binding(
        &self,
        request: Request<v1::RollbackBindingRequest>,
    ) -> RpcResult<v1::SetBindingResponse> {
        let ctx = write_context(request.metadata())?;
        let req = decode(request.into_inner())?;
        let written = self.store.rollback_binding(&ctx, req).await.map_err(status_from_error)?;
        Ok(Response::new(written.into()))
    }
}

#[tonic::async_trait]
impl ResolverService for Primary {
    /// Strongly consistent: read from the store, at the store's current revision.
    async fn resolve(&self, request: Request<v1::ResolveRequest>) -> RpcResult<v1::ResolveResponse> {
        let r = request.into_inner();
        let (min_revision, presign) = (r.min_revision, r.presign);
        let (model, binding) = decode(r)?;
        let resolved = self.store.resolve(&model, &binding).await.map_err(status_from_error)?;
        if resolved.revision < min_revision {
            return Err(Status::unavailable(format!(
                "the registry is at revision {}, {} behind the requested min_revision {min_revision}",
                resolved.revision,
                min_revision - resolved.revision
            )));
        }
        let urls = if presign {
            self.artifacts.download_urls(&resolved.artifact).await.map_err(status_from_error)?
        } else {
            Vec::new()
        };
        let mut response = v1::ResolveResponse::from(resolved);
        response.download_urls = urls.into_iter().map(Into::into).collect();
        Ok(Response::new(response))
    }

    /// All from one REPEATABLE READ snapshot of the database.
    async fn resolve_many(
        &self,
        request: Request<v1::ResolveManyRequest>,
    ) -> RpcResult<v1::ResolveManyResponse> {
        let plan = ResolveManyPlan::new(request.into_inner().requests)?;
        let (found, revision) = self.store.resolve_many(&plan.keys).await.map_err(status_from_error)?;
        if revision < plan.min_revision {
            return Err(Status::unavailable(format!(
                "the registry is at revision {revision}, {} behind the requested min_revision {}",
                plan.min_revision - revision,
                plan.min_revision
            )));
        }
        Ok(Response::new(plan.answer(found, revision, |_, _, resolved| resolved.into())))
    }

    type WatchBindingsStream = tokio_stream::Empty<Result<v1::WatchBindingsResponse, Status>>;

    /// Watching is what read nodes are for: the primary does not hold a cache to stream from.
    async fn watch_bindings(
        &self,
        _request: Request<v1::WatchBindingsRequest>,
    ) -> RpcResult<Self::WatchBindingsStream> {
        Err(Status::failed_precondition(
            "WatchBindings is served by read nodes (`bindery reader`); point this client at a reader",
        ))
    }

    async fn get_reader_status(
        &self,
        _request: Request<v1::GetReaderStatusRequest>,
    ) -> RpcResult<v1::ReaderStatus> {
        Err(Status::failed_precondition(
            "this is a primary, not a read node; GetReaderStatus is answered by `bindery reader`",
        ))
    }
}
