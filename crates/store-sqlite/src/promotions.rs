//! Promotion policies and requests on the embedded store (issue 13): persistence only, as in
//! the PostgreSQL store. Every decision is `bindery_core::promotion`'s.

use std::time::SystemTime;

use bindery_core::gates::{Gate, GateResult};
use bindery_core::promotion::{self, Gathered, Step};
use bindery_core::{
    BindingAction, BindingName, Change, Cursor, Error, ModelName, Page, PageRequest, PromotionAct,
    PromotionFilter, PromotionPolicy, PromotionPolicyRecord, PromotionRequest, Result, Scope, WriteContext,
};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use crate::bindings::{self, Rebind, bindings_of};
use crate::models::live_model;
use crate::ops::{Sql, append_audit_only, corrupt, from_json, i, immediate, micros, now, time, to_json, u};
use crate::versions::find_version;

const POLICY_COLUMNS: &str = "binding, scope, gates, updated_at, updated_by";

type PolicyRow = (String, String, String, i64, String);

fn policy_row(r: &Row<'_>) -> rusqlite::Result<PolicyRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn policy_record((binding, scope, gates, at, by): PolicyRow) -> Result<PromotionPolicyRecord> {
    Ok(PromotionPolicyRecord {
        policy: PromotionPolicy {
            binding: BindingName::parse("binding", &binding).map_err(corrupt)?,
            scope: Scope::parse("scope", &scope).map_err(corrupt)?,
            gates: from_json(&gates)?,
        },
        updated_at: time(at),
        updated_by: by,
    })
}

pub(crate) fn set_policy(
    conn: &mut Connection,
    ctx: &WriteContext,
    policy: &PromotionPolicy,
) -> Result<PromotionPolicyRecord> {
    let tx = immediate(conn)?;
    let scope = policy.scope.to_wire();
    let before: Option<String> = tx
        .query_row(
            "SELECT gates FROM promotion_policies WHERE binding = ?1 AND scope = ?2",
            params![policy.binding.as_str(), scope],
            |r| r.get(0),
        )
        .optional()
        .sql()?;
    let before: Option<Vec<Gate>> = before.as_deref().map(from_json).transpose()?;
    tx.execute(
        "INSERT INTO promotion_policies (binding, scope, gates, updated_at, updated_by) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (binding, scope) DO UPDATE SET gates = excluded.gates, updated_at = excluded.updated_at,
             updated_by = excluded.updated_by",
        params![policy.binding.as_str(), scope, to_json(&policy.gates), now(), ctx.actor],
    )
    .sql()?;
    let record = policy_record(
        tx.query_row(
            &format!("SELECT {POLICY_COLUMNS} FROM promotion_policies WHERE binding = ?1 AND scope = ?2"),
            params![policy.binding.as_str(), scope],
            policy_row,
        )
        .sql()?,
    )?;
    append_audit_only(&tx, ctx, policy.audit_set(before.as_deref()))?;
    tx.commit().sql()?;
    Ok(record)
}

pub(crate) fn delete_policy(
    conn: &mut Connection,
    ctx: &WriteContext,
    binding: &BindingName,
    scope: &Scope,
) -> Result<()> {
    let tx = immediate(conn)?;
    let row = tx
        .query_row(
            &format!(
                "DELETE FROM promotion_policies WHERE binding = ?1 AND scope = ?2 RETURNING {POLICY_COLUMNS}"
            ),
            params![binding.as_str(), scope.to_wire()],
            policy_row,
        )
        .optional()
        .sql()?
        .ok_or_else(|| Error::NotFound(format!("no promotion policy for binding '{binding}' at {scope}")))?;
    let deleted = policy_record(row)?;
    append_audit_only(&tx, ctx, deleted.policy.audit_deleted())?;
    tx.commit().sql()?;
    Ok(())
}

pub(crate) fn list_policies(
    conn: &Connection,
    binding: Option<&BindingName>,
) -> Result<Vec<PromotionPolicyRecord>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {POLICY_COLUMNS} FROM promotion_policies WHERE ?1 IS NULL OR binding = ?1 ORDER BY binding, scope"
        ))
        .sql()?;
    let rows = stmt
        .query_map([binding.map(BindingName::as_str)], policy_row)
        .sql()?
        .collect::<rusqlite::Result<Vec<_>>>()
        .sql()?;
    rows.into_iter().map(policy_record).collect()
}

/// The policy gating `binding` of `model`, if any.
pub(crate) fn gate_policy(
    conn: &Connection,
    model: &ModelName,
    binding: &BindingName,
) -> Result<Option<PromotionPolicy>> {
    let all = list_policies(conn, Some(binding))?;
    Ok(promotion::applicable(&all, model, binding).map(|r| r.policy.clone()))
}

/// Everything the gates of `policy` look at for `version`.
pub(crate) fn gather(
    conn: &Connection,
    model_id: i64,
    model: &ModelName,
    policy: Option<PromotionPolicy>,
    version: u64,
) -> Result<Gathered> {
    let candidate =
        find_version(conn, model, i(version)?)?.ok_or_else(|| Error::version_not_found(model, version))?;
    let bindings = bindings_of(conn, model_id)?;
    let mut bound = Vec::new();
    for v in policy.as_ref().map(|p| promotion::referenced_versions(p, &bindings)).unwrap_or_default() {
        bound.extend(find_version(conn, model, i(v)?)?);
    }
    Ok(Gathered { policy, candidate, bindings, bound })
}

fn request_from(id: i64, doc: &str, now: SystemTime) -> Result<PromotionRequest> {
    let mut request: PromotionRequest = from_json(doc)?;
    request.id = u(id)?;
    Ok(request.as_of(now))
}

fn save(tx: &Transaction<'_>, request: &PromotionRequest) -> Result<()> {
    tx.execute(
        "UPDATE promotion_requests SET state = ?2, doc = ?3 WHERE id = ?1",
        params![i(request.id)?, request.state.as_str(), to_json(request)],
    )
    .sql()?;
    Ok(())
}

/// Marks the pending requests for `binding` superseded.
pub(crate) fn supersede_pending(
    tx: &Transaction<'_>,
    model_id: i64,
    binding: &BindingName,
    why: &str,
) -> Result<()> {
    let pending: Vec<(i64, String)> = {
        let mut stmt = tx
            .prepare_cached(
                "SELECT id, doc FROM promotion_requests WHERE model_id = ?1 AND binding = ?2 AND state = 'PENDING'",
            )
            .sql()?;
        stmt.query_map(params![model_id, binding.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
            .sql()?
            .collect::<rusqlite::Result<_>>()
            .sql()?
    };
    let now = SystemTime::now();
    for (id, doc) in pending {
        let mut request = request_from(id, &doc, now)?;
        request.supersede(why, now);
        save(tx, &request)?;
    }
    Ok(())
}

/// The request `id`.
fn stored(tx: &Transaction<'_>, id: u64, now: SystemTime) -> Result<PromotionRequest> {
    let (row_id, doc): (i64, String) = tx
        .query_row("SELECT id, doc FROM promotion_requests WHERE id = ?1", [i(id)?], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()
        .sql()?
        .ok_or_else(|| Error::NotFound(format!("promotion request #{id} not found")))?;
    request_from(row_id, &doc, now)
}

pub(crate) fn promote(
    conn: &mut Connection,
    ctx: &WriteContext,
    act: &PromotionAct,
) -> Result<(PromotionRequest, Option<Change>)> {
    // BEGIN IMMEDIATE: the whole store's write lock, so concurrent decisions queue.
    let tx = immediate(conn)?;
    let now = SystemTime::now();
    let existing = act.request_id().map(|id| stored(&tx, id, now)).transpose()?;
    let (model, binding, version) = match (act, &existing) {
        (PromotionAct::Request(new), _) => (new.model.clone(), new.binding.clone(), new.version),
        (_, Some(r)) => (r.model.clone(), r.binding.clone(), r.version),
        (_, None) => return Err(corrupt("a decision without its request")),
    };
    // A request of a model deleted since then names a model that is no longer there.
    let model_id = live_model(&tx, &model)?.0;
    let gathered = if act.evaluates() {
        let policy = gate_policy(&tx, &model, &binding)?;
        Some(gather(&tx, model_id, &model, policy, version)?)
    } else {
        None
    };
    let (mut request, step) = promotion::decide(act, &ctx.actor, existing, gathered.as_ref(), now)?;
    if request.id == 0 {
        supersede_pending(&tx, model_id, &binding, "a newer request for the binding")?;
        request.id = u(tx
            .query_row(
                "INSERT INTO promotion_requests (model_id, binding, state, expires_at, doc)
                 VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
                params![
                    model_id,
                    binding.as_str(),
                    request.state.as_str(),
                    micros(request.expires_at),
                    to_json(&request)
                ],
                |r| r.get(0),
            )
            .sql()?)?;
    }
    append_audit_only(&tx, ctx, request.audit(act.action()))?;
    let mut published = None;
    if step == Step::Apply {
        let before = bindings::current(&tx, model_id, &request.binding)?;
        let artifact = bindings::bindable(&tx, model_id, &request.model, request.version)?;
        let after = Some(bindery_core::BindingTarget::single(request.version, artifact));
        let change = Rebind { name: &request.binding, before, after };
        let reason = request.history_reason();
        let (revision, moved) =
            bindings::rebind(&tx, ctx, (model_id, &request.model), &[change], BindingAction::Set, &reason)?;
        let revision = u(revision)?;
        request.applied(&ctx.actor, revision, now);
        append_audit_only(&tx, ctx, request.audit("promotion.apply"))?;
        published = Some(moved);
    }
    save(&tx, &request)?;
    tx.commit().sql()?;
    Ok((request, published))
}

pub(crate) fn evaluate(
    conn: &mut Connection,
    model: &ModelName,
    binding: &BindingName,
    version: u64,
    requester: &str,
) -> Result<(Option<PromotionPolicy>, Vec<GateResult>)> {
    // One read transaction, so the gates see one snapshot.
    let tx = conn.transaction().sql()?;
    let (model_id, _) = live_model(&tx, model)?;
    let policy = gate_policy(&tx, model, binding)?;
    let gathered = gather(&tx, model_id, model, policy, version)?;
    let results =
        promotion::evaluate(gathered.policy.as_ref(), requester, &gathered.facts(SystemTime::now()));
    Ok((gathered.policy, results))
}

pub(crate) fn get(conn: &Connection, id: u64) -> Result<PromotionRequest> {
    let (row_id, doc): (i64, String) = conn
        .query_row("SELECT id, doc FROM promotion_requests WHERE id = ?1", [i(id)?], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()
        .sql()?
        .ok_or_else(|| Error::NotFound(format!("promotion request #{id} not found")))?;
    request_from(row_id, &doc, SystemTime::now())
}

pub(crate) fn list(
    conn: &Connection,
    filter: &PromotionFilter,
    page: &PageRequest,
) -> Result<Page<PromotionRequest>> {
    let (visible, visible_params) =
        bindery_filter_sql::visibility_condition(&filter.visibility, bindery_filter_sql::Dialect::Sqlite, 6);
    // A pending request past its deadline is listed (and filtered) as EXPIRED.
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT r.id, r.doc FROM promotion_requests r JOIN models m ON m.id = r.model_id
             WHERE (?1 IS NULL OR m.name = ?1) AND (?2 IS NULL OR r.binding = ?2)
               AND (?3 IS NULL OR
                    (CASE WHEN r.state = 'PENDING' AND r.expires_at <= ?6 THEN 'EXPIRED' ELSE r.state END) = ?3)
               AND (?4 IS NULL OR r.id < ?4) AND {visible}
             ORDER BY r.id DESC LIMIT ?5"
        ))
        .sql()?;
    let after = page.after_number().map(i).transpose()?;
    let current = now();
    let mut values: Vec<rusqlite::types::Value> = vec![
        filter.model.as_ref().map(|m| m.as_str().to_owned()).into(),
        filter.binding.as_ref().map(|b| b.as_str().to_owned()).into(),
        filter.state.map(|s| s.as_str().to_owned()).into(),
        after.into(),
        (i64::from(page.size) + 1).into(),
        current.into(),
    ];
    values.extend(crate::search::to_sql(&visible_params));
    let rows: Vec<(i64, String)> = stmt
        .query_map(rusqlite::params_from_iter(values), |r| Ok((r.get(0)?, r.get(1)?)))
        .sql()?
        .collect::<rusqlite::Result<_>>()
        .sql()?;
    let now = SystemTime::now();
    let items = rows.iter().map(|(id, doc)| request_from(*id, doc, now)).collect::<Result<Vec<_>>>()?;
    Ok(Page::from_rows(items, page.size, |r| Cursor::Number(r.id)))
}
