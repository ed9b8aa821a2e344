//! Progressive rollouts on the embedded store: documents in `rollouts`, run as
//! `bindery_core::rollout` decides. Each step and each abort's restore is an ordinary binding
//! write (`bindings::rebind`) in the same transaction as the rollout's update. The store has one
//! writer, so no two advances of a rollout can interleave.

use std::time::SystemTime;

use bindery_core::rollout::{Rollout, RolloutAct, RolloutFilter, RolloutSpec, RolloutState, Tick};
use bindery_core::{
    BindingAction, Change, Cursor, Error, ModelName, Page, PageRequest, Result, WriteContext,
};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::bindings::{self, Current, Rebind};
use crate::models::live_model;
use crate::ops::{Audit, Sql, append_audit_only, from_json, i, immediate, u};
use crate::versions;

fn rollout(id: i64, doc: &str) -> Result<Rollout> {
    Rollout::from_json(u(id)?, from_json(doc)?)
}

fn save(tx: &Transaction<'_>, r: &Rollout) -> Result<()> {
    tx.execute(
        "UPDATE rollouts SET state = ?2, next_at = ?3, doc = ?4 WHERE id = ?1",
        params![i(r.id)?, r.state.as_str(), i(r.next_at)?, r.to_json().to_string()],
    )
    .sql()?;
    Ok(())
}

fn audit(tx: &Transaction<'_>, ctx: &WriteContext, action: &'static str, r: &Rollout) -> Result<()> {
    let (target, after) = r.audit();
    append_audit_only(tx, ctx, Audit { action, target, before: None, after: Some(after) })
}

/// What one run of a rollout did: the audit action, and the binding change it committed.
type Ran = Option<(&'static str, Option<Change>)>;

/// Applies the step `tick` asks for, or the abort/stop.
fn run(
    tx: &Transaction<'_>,
    ctx: &WriteContext,
    model_id: i64,
    r: &mut Rollout,
    now: SystemTime,
) -> Result<Ran> {
    let before = bindings::current(tx, model_id, &r.binding)?;
    let generation = before.as_ref().map_or(0, |c| c.generation);
    let metrics = versions::metrics(tx, model_id, r.to_version)?;
    match r.tick(now, generation, &metrics) {
        Tick::Wait => Ok(None),
        Tick::Stop { reason } => {
            r.end(&reason, now);
            Ok(Some(("rollout.stop", None)))
        }
        Tick::Abort { reason } => {
            let change = restore(tx, ctx, model_id, r, before, &reason)?;
            r.end(&reason, now);
            Ok(Some(("rollout.abort", change)))
        }
        Tick::Step { step, target } => {
            let reason = r.step_reason(step);
            let change = match bindings::plan(tx, (model_id, &r.model), &r.binding, before, &target) {
                Ok(change) => change,
                // A gate the candidate fails now (it may pass later): hold, saying why.
                Err(Error::FailedPrecondition(why)) => {
                    r.hold(&format!("step {} held: {why}", step + 1), now);
                    return Ok(Some(("rollout.hold", None)));
                }
                Err(e) => return Err(e),
            };
            let (generation, change) = match change {
                Some(change) => {
                    let (_, change) = bindings::rebind(
                        tx,
                        ctx,
                        (model_id, &r.model),
                        &[change],
                        BindingAction::Set,
                        &reason,
                    )?;
                    (generation + 1, Some(change))
                }
                None => (generation, None),
            };
            r.stepped(step, generation, now);
            let action = if r.state == RolloutState::Completed { "rollout.complete" } else { "rollout.step" };
            Ok(Some((action, change)))
        }
    }
}

/// Moves the binding back to the starting target (exactly, buckets included) when the rollout
/// still owns it.
fn restore(
    tx: &Transaction<'_>,
    ctx: &WriteContext,
    model_id: i64,
    r: &Rollout,
    before: Option<Current>,
    why: &str,
) -> Result<Option<Change>> {
    let generation = before.as_ref().map_or(0, |c| c.generation);
    if !r.may_restore(generation) {
        return Ok(None);
    }
    let target = bindings::bindable_target(tx, model_id, &r.model, &r.from)?;
    let change = Rebind { name: &r.binding, before, after: Some(target) };
    let reason = format!("rollout #{} aborted: {why}", r.id);
    let (_, change) =
        bindings::rebind(tx, ctx, (model_id, &r.model), &[change], BindingAction::Rollback, &reason)?;
    Ok(Some(change))
}

pub(crate) fn start(
    conn: &mut Connection,
    ctx: &WriteContext,
    spec: &RolloutSpec,
    now: SystemTime,
) -> Result<(Rollout, Option<Change>)> {
    let tx = immediate(conn)?;
    let (model_id, _) = live_model(&tx, &spec.model)?;
    let current = bindings::current(&tx, model_id, &spec.binding)?.ok_or_else(|| {
        Error::FailedPrecondition(format!(
            "binding '{}' of model '{}' does not exist; bind it to the current version first, then roll out",
            spec.binding, spec.model
        ))
    })?;
    let active: Option<(i64, String)> = tx
        .query_row(
            "SELECT id, state FROM rollouts WHERE model_id = ?1 AND binding = ?2 AND state IN ('RUNNING', 'PAUSED')",
            params![model_id, spec.binding.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .sql()?;
    if let Some((id, state)) = active {
        return Err(Error::FailedPrecondition(format!(
            "rollout #{id} is {state} on binding '{}' of model '{}'; abort it or let it finish first",
            spec.binding, spec.model
        )));
    }
    let mut r = Rollout::start(spec, current.target.clone(), current.generation, &ctx.actor, now)?;
    tx.execute(
        "INSERT INTO rollouts (model_id, binding, state, next_at, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![model_id, spec.binding.as_str(), r.state.as_str(), i(r.next_at)?, r.to_json().to_string()],
    )
    .sql()?;
    r.id = u(tx.last_insert_rowid())?;
    // The first step now: a gate that fails refuses the whole start.
    let change = match run(&tx, ctx, model_id, &mut r, now)? {
        Some(("rollout.hold", _)) => {
            return Err(Error::FailedPrecondition(format!("the rollout cannot start: {}", r.outcome)));
        }
        Some((_, change)) => change,
        None => None,
    };
    save(&tx, &r)?;
    audit(&tx, ctx, "rollout.start", &r)?;
    tx.commit().sql()?;
    Ok((r, change))
}

pub(crate) fn act(
    conn: &mut Connection,
    ctx: &WriteContext,
    id: u64,
    act: RolloutAct,
    reason: &str,
    now: SystemTime,
) -> Result<(Rollout, Option<Change>)> {
    let tx = immediate(conn)?;
    let mut r = load(&tx, id)?;
    let (model_id, _) = live_model(&tx, &r.model)?;
    let mut change = None;
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
            let before = bindings::current(&tx, model_id, &r.binding)?;
            let why = format!("aborted by {}: {reason}", ctx.actor);
            change = restore(&tx, ctx, model_id, &r, before, &why)?;
            r.end(&why, now);
            "rollout.abort"
        }
    };
    save(&tx, &r)?;
    audit(&tx, ctx, action, &r)?;
    tx.commit().sql()?;
    Ok((r, change))
}

/// Runs the next due rollout, if any: `None` when none is due.
pub(crate) fn advance_one(
    conn: &mut Connection,
    ctx: &WriteContext,
    now: SystemTime,
) -> Result<(Option<Rollout>, Option<Change>)> {
    let tx = immediate(conn)?;
    let due: Option<(i64, String)> = tx
        .query_row(
            "SELECT id, doc FROM rollouts WHERE state = 'RUNNING' AND next_at <= ?1 ORDER BY next_at, id LIMIT 1",
            [bindery_core::unix_micros(now)],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .sql()?;
    let Some((id, doc)) = due else { return Ok((None, None)) };
    let mut r = rollout(id, &doc)?;
    let (model_id, _) = live_model(&tx, &r.model)?;
    let Some((action, change)) = run(&tx, ctx, model_id, &mut r, now)? else { return Ok((None, None)) };
    save(&tx, &r)?;
    audit(&tx, ctx, action, &r)?;
    tx.commit().sql()?;
    Ok((Some(r), change))
}

fn load(conn: &Connection, id: u64) -> Result<Rollout> {
    let (row_id, doc): (i64, String) = conn
        .query_row("SELECT id, doc FROM rollouts WHERE id = ?1", [i(id)?], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .sql()?
        .ok_or_else(|| Error::NotFound(format!("rollout #{id} not found")))?;
    rollout(row_id, &doc)
}

pub(crate) fn get(conn: &Connection, id: u64) -> Result<Rollout> {
    load(conn, id)
}

pub(crate) fn list(conn: &Connection, filter: &RolloutFilter, page: &PageRequest) -> Result<Page<Rollout>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT r.id, r.doc FROM rollouts r JOIN models m ON m.id = r.model_id
             WHERE (?1 IS NULL OR m.name = ?1) AND (NOT ?2 OR r.state IN ('RUNNING', 'PAUSED'))
               AND (?3 IS NULL OR r.id < ?3)
             ORDER BY r.id DESC LIMIT ?4",
        )
        .sql()?;
    let after = page.after_number().map(i).transpose()?;
    let rows: Vec<(i64, String)> = stmt
        .query_map(
            params![
                filter.model.as_ref().map(ModelName::as_str),
                filter.active_only,
                after,
                i64::from(page.size) + 1
            ],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .sql()?
        .collect::<rusqlite::Result<_>>()
        .sql()?;
    let items = rows.iter().map(|(id, doc)| rollout(*id, doc)).collect::<Result<Vec<_>>>()?;
    Ok(Page::from_rows(items, page.size, |r| Cursor::Number(r.id)))
}
