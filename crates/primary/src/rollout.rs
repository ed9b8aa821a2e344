//! Progressive rollouts (issue 15) on the primary: the RPCs, each with its role, and the loop
//! that advances due rollouts. What a rollout does is `bindery_core::rollout`'s; the store runs
//! each step as a binding write under the rollout's row lock, so several primaries may all run
//! the loop.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bindery_core::rollout::{RolloutAct, RolloutFilter, RolloutSpec};
use bindery_core::{PageRequest, Role, Scope, Store, WriteContext, validate_reason};
use bindery_proto::{status_from_error, v1};
use tonic::{Request, Response, Status};

use crate::auth::Caller;
use crate::{Primary, decode};

type RpcResult<T> = Result<Response<T>, Status>;

/// The actor the loop's binding writes are recorded under.
pub const ROLLOUT_ACTOR: &str = "bindery-rollout";

pub(crate) async fn start(p: &Primary, request: Request<v1::StartRolloutRequest>) -> RpcResult<v1::Rollout> {
    let caller = p.caller(&request, "StartRollout").await?;
    let spec: RolloutSpec = decode(request.into_inner())?;
    // Each step moves the binding: the caller must be allowed to move it.
    caller.require_bindings(&spec.model, [&spec.binding])?;
    let started =
        p.store.start_rollout(&caller.ctx, &spec, SystemTime::now()).await.map_err(status_from_error)?;
    Ok(Response::new(started.into()))
}

/// Pause, resume or abort: the caller must be allowed to move the rollout's binding.
pub(crate) async fn act(
    p: &Primary,
    caller: &Caller,
    id: u64,
    act: RolloutAct,
    reason: &str,
) -> RpcResult<v1::Rollout> {
    validate_reason(reason).map_err(status_from_error)?;
    let r = p.store.get_rollout(id).await.map_err(status_from_error)?;
    caller.require_bindings(&r.model, [&r.binding])?;
    let done = p
        .store
        .act_on_rollout(&caller.ctx, id, act, reason, SystemTime::now())
        .await
        .map_err(status_from_error)?;
    Ok(Response::new(done.into()))
}

pub(crate) async fn get(p: &Primary, request: Request<v1::GetRolloutRequest>) -> RpcResult<v1::Rollout> {
    let caller = p.caller(&request, "GetRollout").await?;
    let r = p.store.get_rollout(request.into_inner().id).await.map_err(status_from_error)?;
    caller.require(Role::Viewer, &r.model)?;
    Ok(Response::new(r.into()))
}

pub(crate) async fn list(
    p: &Primary,
    request: Request<v1::ListRolloutsRequest>,
) -> RpcResult<v1::ListRolloutsResponse> {
    let caller = p.caller(&request, "ListRollouts").await?;
    let (filter, page) = decode::<_, (RolloutFilter, PageRequest)>(request.into_inner())?;
    match &filter.model {
        Some(model) => caller.require(Role::Viewer, model)?,
        None => caller.require_scope(Role::Viewer, &Scope::Global)?,
    }
    let found = p.store.list_rollouts(&filter, page).await.map_err(status_from_error)?;
    let next_page_token = found.next_token("rollouts");
    Ok(Response::new(v1::ListRolloutsResponse {
        rollouts: found.items.into_iter().map(Into::into).collect(),
        next_page_token,
    }))
}

/// Advances due rollouts every `every` until the task is dropped. A failed round is logged and
/// retried at the next tick (the rollout's state is in the database, so nothing is lost).
pub async fn rollout_loop(store: Arc<dyn Store>, every: Duration, ready: impl Future<Output = ()>) {
    ready.await;
    let ctx = WriteContext::new(ROLLOUT_ACTOR);
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match store.advance_rollouts(&ctx, SystemTime::now()).await {
            Ok(changed) => {
                for r in changed {
                    tracing::info!(
                        rollout = r.id,
                        model = %r.model,
                        binding = %r.binding,
                        step = r.step,
                        state = r.state.as_str(),
                        outcome = %r.outcome,
                        "rollout advanced"
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "advancing rollouts failed; retrying at the next tick"),
        }
    }
}
