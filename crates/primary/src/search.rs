//! `ListModels` and `ListVersions` with a filter or an order (issue 14). VIEWER: results are
//! limited in the store to what the caller may view, so neither rows nor page sizes reveal the
//! rest; naming a model one may not view is PERMISSION_DENIED.

use bindery_core::filter::{Search, Target};
use bindery_core::{MAX_ANSWER_BYTES, ModelName, PageRequest, Role};
use bindery_proto::{status_from_error, v1};
use prost::Message;
use tonic::Response;

use crate::auth::Caller;
use crate::{Primary, RpcResult};

pub(crate) async fn models(
    p: &Primary,
    caller: &Caller,
    r: v1::ListModelsRequest,
) -> RpcResult<v1::ListModelsResponse> {
    let search = Search::parse(Target::Models, &r.filter, &r.order_by, None).map_err(status_from_error)?;
    let kind = search.page_kind();
    let page = PageRequest::parse(&kind, r.page_size, &r.page_token).map_err(status_from_error)?;
    let visibility = caller.policy.visibility(&caller.who);
    let found = p.store.search_models(&search, &visibility, page).await.map_err(status_from_error)?;
    let (models, next_page_token) = found.into_answer(
        &kind,
        MAX_ANSWER_BYTES,
        |(m, _)| v1::Model::from(m),
        Message::encoded_len,
        |(_, k)| k.to_cursor(),
    );
    Ok(Response::new(v1::ListModelsResponse { models, next_page_token }))
}

pub(crate) async fn versions(
    p: &Primary,
    caller: &Caller,
    r: v1::ListVersionsRequest,
) -> RpcResult<v1::ListVersionsResponse> {
    let model = if r.model_name.is_empty() {
        None
    } else {
        let model = ModelName::parse("model_name", r.model_name).map_err(status_from_error)?;
        caller.require(Role::Viewer, &model)?;
        Some(model)
    };
    if model.is_none() {
        caller.require_any()?;
    }
    let search = Search::parse(Target::Versions, &r.filter, &r.order_by, model).map_err(status_from_error)?;
    let kind = search.page_kind();
    let page = PageRequest::parse(&kind, r.page_size, &r.page_token).map_err(status_from_error)?;
    let visibility = caller.policy.visibility(&caller.who);
    let found = p.store.search_versions(&search, &visibility, page).await.map_err(status_from_error)?;
    let (versions, next_page_token) = found.into_answer(
        &kind,
        MAX_ANSWER_BYTES,
        |(v, _)| v1::ModelVersion::from(v),
        Message::encoded_len,
        |(_, k)| k.to_cursor(),
    );
    Ok(Response::new(v1::ListVersionsResponse { versions, next_page_token }))
}
