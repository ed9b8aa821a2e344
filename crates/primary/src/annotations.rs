//! Model cards and annotations (issue 14): VIEWER on the model reads them, CONTRIBUTOR writes
//! them. Requests decode (and are bounded) in `bindery_proto::annotations`; the rules are
//! `bindery_core::annotation`'s.

use bindery_core::annotation::{CardEdit, NewAnnotation};
use bindery_core::{Cursor, MAX_ANSWER_BYTES, PageRequest, Role};
use bindery_proto::annotations::{annotated, card_to_wire};
use bindery_proto::{status_from_error, v1};
use prost::Message;
use tonic::Response;

use crate::auth::Caller;
use crate::{Primary, RpcResult};

const HISTORY_PAGE_KIND: &str = "card-history";

pub(crate) async fn set_card(p: &Primary, caller: &Caller, r: v1::SetCardRequest) -> RpcResult<v1::Card> {
    let edit = CardEdit::try_from(r).map_err(status_from_error)?;
    caller.require(Role::Contributor, &edit.of.model)?;
    let card = p.store.set_card(&caller.ctx, &edit).await.map_err(status_from_error)?;
    Ok(Response::new(card_to_wire(&edit.of, card)))
}

pub(crate) async fn get_card(p: &Primary, caller: &Caller, r: v1::GetCardRequest) -> RpcResult<v1::Card> {
    let of = annotated(r.model_name, r.version).map_err(status_from_error)?;
    caller.require(Role::Viewer, &of.model)?;
    let card = p.store.get_card(&of).await.map_err(status_from_error)?;
    Ok(Response::new(card_to_wire(&of, card)))
}

pub(crate) async fn card_history(
    p: &Primary,
    caller: &Caller,
    r: v1::ListCardHistoryRequest,
) -> RpcResult<v1::ListCardHistoryResponse> {
    let of = annotated(r.model_name, r.version).map_err(status_from_error)?;
    let page =
        PageRequest::parse(HISTORY_PAGE_KIND, r.page_size, &r.page_token).map_err(status_from_error)?;
    caller.require(Role::Viewer, &of.model)?;
    let (editions, next_page_token) = p
        .store
        .card_history(&of, page)
        .await
        .map_err(status_from_error)?
        .into_answer(HISTORY_PAGE_KIND, MAX_ANSWER_BYTES, v1::Card::from, Message::encoded_len, |c| {
            Cursor::Number(c.edition)
        });
    Ok(Response::new(v1::ListCardHistoryResponse { editions, next_page_token }))
}

pub(crate) async fn add(
    p: &Primary,
    caller: &Caller,
    r: v1::AddAnnotationRequest,
) -> RpcResult<v1::Annotation> {
    let new = NewAnnotation::try_from(r).map_err(status_from_error)?;
    caller.require(Role::Contributor, &new.of.model)?;
    let added = p.store.add_annotation(&caller.ctx, &new).await.map_err(status_from_error)?;
    Ok(Response::new(added.into()))
}

pub(crate) async fn list(
    p: &Primary,
    caller: &Caller,
    r: v1::ListAnnotationsRequest,
) -> RpcResult<v1::ListAnnotationsResponse> {
    let of = annotated(r.model_name, r.version).map_err(status_from_error)?;
    caller.require(Role::Viewer, &of.model)?;
    let found = p.store.list_annotations(&of).await.map_err(status_from_error)?;
    Ok(Response::new(v1::ListAnnotationsResponse {
        annotations: found.into_iter().map(Into::into).collect(),
    }))
}

pub(crate) async fn remove(
    p: &Primary,
    caller: &Caller,
    r: v1::RemoveAnnotationRequest,
) -> RpcResult<v1::RemoveAnnotationResponse> {
    let of = annotated(r.model_name, r.version).map_err(status_from_error)?;
    caller.require(Role::Contributor, &of.model)?;
    p.store.remove_annotation(&caller.ctx, &of, r.id).await.map_err(status_from_error)?;
    Ok(Response::new(v1::RemoveAnnotationResponse {}))
}
