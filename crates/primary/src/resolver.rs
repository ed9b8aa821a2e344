//! `ResolverService` on the primary: Resolve and ResolveMany answered from the store (strongly
//! consistent, at the store's revision); watching and reader status are for read nodes.

use bindery_core::{ModelName, Role};
use bindery_proto::v1::{self, resolver_service_server::ResolverService};
use bindery_proto::{ResolveManyPlan, status_from_error, traffic};
use tonic::{Request, Response, Status};

use crate::{Primary, RpcResult, decode};

#[tonic::async_trait]
impl ResolverService for Primary {
    /// Strongly consistent: read from the store, at the store's current revision.
    async fn resolve(&self, request: Request<v1::ResolveRequest>) -> RpcResult<v1::ResolveResponse> {
        let caller = self.caller(&request, "Resolve").await?;
        let r = request.into_inner();
        let (min_revision, presign, routing_key) = (r.min_revision, r.presign, r.routing_key.clone());
        let (model, binding): (ModelName, bindery_core::BindingName) = decode(r)?;
        caller.require(Role::Viewer, &model)?;
        let resolved = self.store.resolve(&model, &binding).await.map_err(status_from_error)?;
        if resolved.revision < min_revision {
            return Err(Status::unavailable(format!(
                "the registry is at revision {}, {} behind the requested min_revision {min_revision}",
                resolved.revision,
                min_revision - resolved.revision
            )));
        }
        let (mut response, artifact) = traffic::resolved(&resolved, &routing_key);
        if presign {
            let urls = self.artifacts.all_download_urls(artifact).await.map_err(status_from_error)?;
            response.download_urls = urls.into_iter().map(Into::into).collect();
        }
        Ok(Response::new(response))
    }

    /// All from one REPEATABLE READ snapshot of the database; an entry the caller may not view
    /// answers PERMISSION_DENIED on its own.
    async fn resolve_many(
        &self,
        request: Request<v1::ResolveManyRequest>,
    ) -> RpcResult<v1::ResolveManyResponse> {
        let caller = self.caller(&request, "ResolveMany").await?;
        let plan = ResolveManyPlan::new(request.into_inner().requests)?;
        let (found, revision) = self.store.resolve_many(&plan.keys).await.map_err(status_from_error)?;
        if revision < plan.min_revision {
            return Err(Status::unavailable(format!(
                "the registry is at revision {revision}, {} behind the requested min_revision {}",
                plan.min_revision - revision,
                plan.min_revision
            )));
        }
        let found = found
            .into_iter()
            .zip(&plan.keys)
            .map(|(r, (model, _))| caller.policy.require_model(&caller.who, Role::Viewer, model).and(r))
            .collect();
        Ok(Response::new(
            plan.answer(found, revision, |_, _, key, resolved| traffic::resolved(&resolved, key).0),
        ))
    }

    type WatchBindingsStream = tokio_stream::Empty<Result<v1::WatchBindingsResponse, Status>>;

    /// Watching is what read nodes are for: the primary does not hold a cache to stream from.
    async fn watch_bindings(
        &self,
        request: Request<v1::WatchBindingsRequest>,
    ) -> RpcResult<Self::WatchBindingsStream> {
        self.caller(&request, "WatchBindings").await?;
        Err(Status::failed_precondition(
            "WatchBindings is served by read nodes (`bindery reader`); point this client at a reader",
        ))
    }

    async fn get_reader_status(
        &self,
        request: Request<v1::GetReaderStatusRequest>,
    ) -> RpcResult<v1::ReaderStatus> {
        self.caller(&request, "GetReaderStatus").await?;
        Err(Status::failed_precondition(
            "this is a primary, not a read node; GetReaderStatus is answered by `bindery reader`",
        ))
    }
}
