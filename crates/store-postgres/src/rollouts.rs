//! Progressive rollouts: documents in `rollouts`, run as `bindery_core::rollout` decides. Each
//! step and each abort's restore is an ordinary binding write (`bindings::rebind`) in the same
//! transaction as the rollout's own update; a running rollout is advanced under its row lock
//! (`FOR UPDATE SKIP LOCKED`), so two primaries never advance the same one.

use std::time::SystemTime;

use bindery_core::rollout::{Rollout, RolloutAct, RolloutFilter, RolloutSpec, RolloutState, Tick};
use bindery_core::{BindingAction, Cursor, Error, ModelName, Page, PageRequest, WriteContext};
use deadpool_postgres::Transaction;
use tokio_postgres::Row;
use tokio_postgres::types::Json;

use crate::bindings::{self, Rebind};
use crate::error::{StoreError, StoreResult};
use crate::write::{self, Audit};
use crate::{PgStore, models, rows, versions};

/// Rollouts advanced per call at most (the rest wait for the next tick).
const MAX_PER_TICK: usize = 100;

fn rollout(row: &Row) -> StoreResult<Rollout> {
    let Json(doc): Json<serde_json::Value> = row.try_get("doc")?;
    Ok(Rollout::from_json(rows::u(row.try_get("id")?)?, doc)?)
}

async fn save(tx: &Transaction<'_>, r: &Rollout) -> StoreResult<()> {
    let stmt =
        tx.prepare_cached("UPDATE rollouts SET state = $2, next_at = $3, doc = $4 WHERE id = $1").await?;
    tx.execute(&stmt, &[&rows::i(r.id)?, &r.state.as_str(), &rows::i(r.next_at)?, &Json(r.to_json())])
        .await?;
    Ok(())
}

async fn audit(
    tx: &Transaction<'_>,
    ctx: &WriteContext,
    action: &'static str,
    r: &Rollout,
) -> StoreResult<()> {
    let (target, after) = r.audit();
    write::record_audit_only(tx, ctx, Audit { action, target, before: None, after: Some(after) }).await
}

/// Applies the step `tick` asks for, or the abort/stop; returns what was done, for the audit.
async fn run(
    tx: &Transaction<'_>,
    ctx: &WriteContext,
    model_id: i64,
    r: &mut Rollout,
    now: SystemTime,
) -> StoreResult<Option<&'static str>> {
    let before = bindings::current(tx, model_id, &r.binding).await?;
    let generation = before.as_ref().map_or(0, |c| c.generation);
    let candidate = versions::load(tx, &r.model, rows::i(r.to_version)?).await?;
    let metrics = candidate.map(|v| v.metrics).unwrap_or_default();
    match r.tick(now, generation, &metrics) {
        Tick::Wait => Ok(None),
        Tick::Stop { reason } => {
            r.end(&reason, now);
            Ok(Some("rollout.stop"))
        }
        Tick::Abort { reason } => {
            restore(tx, ctx, model_id, r, before, &reason).await?;
            r.end(&reason, now);
            Ok(Some("rollout.abort"))
        }
        Tick::Step { step, target } => {
            let reason = r.step_reason(step);
            let planned = bindings::plan(tx, model_id, &r.model, &r.binding, before, &target).await;
            let change = match planned {
                Ok(change) => change,
                // A gate the candidate fails now (it may pass later): hold, saying why.
                Err(StoreError::Domain(Error::FailedPrecondition(why))) => {
                    r.hold(&format!("step {} held: {why}", step + 1), now);
                    return Ok(Some("rollout.hold"));
                }
                Err(e) => return Err(e),
            };
            let generation = match change {
                Some(change) => {
                    bindings::rebind(tx, ctx, model_id, &r.model, &[change], BindingAction::Set, &reason)
                        .await?;
                    generation + 1
                }
                None => generation,
            };
            r.stepped(step, generation, now);
            Ok(Some(if r.state == RolloutState::Completed { "rollout.complete" } else { "rollout.step" }))
        }
    }
}

/// Moves the binding back to the rollout's starting target (exactly, buckets included) when the
/// rollout still owns it.
async fn restore(
    tx: &Transaction<'_>,
    ctx: &WriteContext,
    model_id: i64,
    r: &Rollout,
    before: Option<bindings::Current>,
    why: &str,
) -> StoreResult<()> {
    let generation = before.as_ref().map_or(0, |c| c.generation);
    if !r.may_restore(generation) {
        return Ok(());
    }
    let target = bindings::bindable_target(tx, model_id, &r.model, &r.from).await?;
    let change = Rebind { name: &r.binding, before, after: Some(target) };
    let reason = format!("rollout #{} aborted: {why}", r.id);
    bindings::rebind(tx, ctx, model_id, &r.model, &[change], BindingAction::Rollback, &reason).await?;
    Ok(())
}

pub(crate) async fn start(
    store: &PgStore,
    ctx: &WriteContext,
    spec: &RolloutSpec,
    now: SystemTime,
) -> StoreResult<Rollout> {
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    let model_id = models::lock(&tx, &spec.model).await?;
    let current = bindings::current(&tx, model_id, &spec.binding).await?.ok_or_else(|| {
        Error::FailedPrecondition(format!(
            "binding '{}' of model '{}' does not exist; bind it to the current version first, then roll out",
            spec.binding, spec.model
        ))
    })?;
    let stmt = tx
        .prepare_cached(
            "SELECT id, state FROM rollouts WHERE model_id = $1 AND binding = $2 AND state IN ('RUNNING', 'PAUSED')",
        )
        .await?;
    if let Some(row) = tx.query_opt(&stmt, &[&model_id, &spec.binding.as_str()]).await? {
        let (id, state): (i64, String) = (row.try_get(0)?, row.try_get(1)?);
        return Err(Error::FailedPrecondition(format!(
            "rollout #{id} is {state} on binding '{}' of model '{}'; abort it or let it finish first",
            spec.binding, spec.model
        ))
        .into());
    }
    let mut r = Rollout::start(spec, current.target(), current.generation, &ctx.actor, now)?;
    let stmt = tx
        .prepare_cached(
            "INSERT INTO rollouts (model_id, binding, state, next_at, doc) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .await?;
    let id: i64 = tx
        .query_one(
            &stmt,
            &[&model_id, &spec.binding.as_str(), &r.state.as_str(), &rows::i(r.next_at)?, &Json(r.to_json())],
        )
        .await?
        .try_get(0)?;
    r.id = rows::u(id)?;
    // The first step now: a gate that fails refuses the whole start.
    if run(&tx, ctx, model_id, &mut r, now).await? == Some("rollout.hold") {
        return Err(Error::FailedPrecondition(format!("the rollout cannot start: {}", r.outcome)).into());
    }
    save(&tx, &r).await?;
    audit(&tx, ctx, "rollout.start", &r).await?;
    tx.commit().await?;
    Ok(r)
}

pub(crate) async fn act(
    store: &PgStore,
    ctx: &WriteContext,
    id: u64,
    act: RolloutAct,
    reason: &str,
    now: SystemTime,
) -> StoreResult<Rollout> {
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    let mut r = locked(&tx, id).await?;
    let model_id = models::lock(&tx, &r.model).await?;
    let action = match act {
        RolloutAct::Pause => {
            r.pause(reason, now)?;
            "rollout.pause"
        }
        RolloutAct::Resume => {
            r.resume(now)?;
            "rollout.resume"
        }
        RolloutAct::Abort => {
            r.check_abortable()?;
            let before = bindings::current(&tx, model_id, &r.binding).await?;
            let why = format!("aborted by {}: {reason}", ctx.actor);
            restore(&tx, ctx, model_id, &r, before, &why).await?;
            r.end(&why, now);
            "rollout.abort"
        }
    };
    save(&tx, &r).await?;
    audit(&tx, ctx, action, &r).await?;
    tx.commit().await?;
    Ok(r)
}

async fn locked(tx: &Transaction<'_>, id: u64) -> StoreResult<Rollout> {
    let stmt = tx.prepare_cached("SELECT id, doc FROM rollouts WHERE id = $1 FOR UPDATE").await?;
    let row = tx.query_opt(&stmt, &[&rows::i(id)?]).await?.ok_or_else(|| not_found(id))?;
    rollout(&row)
}

fn not_found(id: u64) -> Error {
    Error::NotFound(format!("rollout #{id} not found"))
}

pub(crate) async fn advance(
    store: &PgStore,
    ctx: &WriteContext,
    now: SystemTime,
) -> StoreResult<Vec<Rollout>> {
    let mut changed = Vec::new();
    let now_micros = bindery_core::unix_micros(now);
    for _ in 0..MAX_PER_TICK {
        let mut client = store.client().await?;
        let tx = client.transaction().await?;
        let stmt = tx
            .prepare_cached(
                "SELECT id, doc FROM rollouts WHERE state = 'RUNNING' AND next_at <= $1
                 ORDER BY next_at, id LIMIT 1 FOR UPDATE SKIP LOCKED",
            )
            .await?;
        let Some(row) = tx.query_opt(&stmt, &[&now_micros]).await? else { break };
        let mut r = rollout(&row)?;
        let model_id = models::lock(&tx, &r.model).await?;
        if let Some(action) = run(&tx, ctx, model_id, &mut r, now).await? {
            save(&tx, &r).await?;
            audit(&tx, ctx, action, &r).await?;
            tx.commit().await?;
            changed.push(r);
        } else {
            break;
        }
    }
    Ok(changed)
}

pub(crate) async fn get(store: &PgStore, id: u64) -> StoreResult<Rollout> {
    let client = store.client().await?;
    let stmt = client.prepare_cached("SELECT id, doc FROM rollouts WHERE id = $1").await?;
    let row = client.query_opt(&stmt, &[&rows::i(id)?]).await?.ok_or_else(|| not_found(id))?;
    rollout(&row)
}

pub(crate) async fn list(
    store: &PgStore,
    filter: &RolloutFilter,
    page: &PageRequest,
) -> StoreResult<Page<Rollout>> {
    let client = store.client().await?;
    let stmt = client
        .prepare_cached(
            "SELECT r.id, r.doc FROM rollouts r JOIN models m ON m.id = r.model_id
             WHERE ($1::text IS NULL OR m.name = $1) AND (NOT $2 OR r.state IN ('RUNNING', 'PAUSED'))
               AND ($3::bigint IS NULL OR r.id < $3)
             ORDER BY r.id DESC LIMIT $4",
        )
        .await?;
    let after = page.after_number().map(rows::i).transpose()?;
    let limit = i64::from(page.size) + 1;
    let found = client
        .query(&stmt, &[&filter.model.as_ref().map(ModelName::as_str), &filter.active_only, &after, &limit])
        .await?;
    let items = found.iter().map(rollout).collect::<StoreResult<Vec<_>>>()?;
    Ok(Page::from_rows(items, page.size, |r| Cursor::Number(r.id)))
}
