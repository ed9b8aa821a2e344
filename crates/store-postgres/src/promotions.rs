//! Promotion policies and requests (issue 13): persistence only. Which policy gates a binding,
//! what the gates say and how a request moves between states are `bindery_core::promotion`'s.

use std::time::SystemTime;

use bindery_core::gates::{Gate, GateResult};
use bindery_core::promotion::{self, Gathered, Step};
use bindery_core::{
    BindingAction, BindingName, BindingTarget, Cursor, Error, ModelName, Page, PageRequest, PromotionAct,
    PromotionFilter, PromotionPolicy, PromotionPolicyRecord, PromotionRequest, PromotionState, Scope,
    WriteContext,
};
use deadpool_postgres::{GenericClient, Transaction};
use tokio_postgres::Row;
use tokio_postgres::types::Json;

use crate::bindings::{self, Rebind};
use crate::error::{StoreResult, corrupt};
use crate::{PgStore, models, rows, versions, write};

fn policy_record(row: &Row) -> StoreResult<PromotionPolicyRecord> {
    let binding: String = row.try_get("binding")?;
    let scope: String = row.try_get("scope")?;
    let Json(gates): Json<Vec<Gate>> = row.try_get("gates")?;
    Ok(PromotionPolicyRecord {
        policy: PromotionPolicy {
            binding: BindingName::parse("binding", &binding).map_err(corrupt)?,
            scope: Scope::parse("scope", &scope).map_err(corrupt)?,
            gates,
        },
        updated_at: row.try_get("updated_at")?,
        updated_by: row.try_get("updated_by")?,
    })
}

const POLICY_COLUMNS: &str = "binding, scope, gates, updated_at, updated_by";

pub(crate) async fn set_policy(
    store: &PgStore,
    ctx: &WriteContext,
    policy: &PromotionPolicy,
) -> StoreResult<PromotionPolicyRecord> {
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    let scope = policy.scope.to_wire();
    let stmt = tx
        .prepare_cached("SELECT gates FROM promotion_policies WHERE binding = $1 AND scope = $2 FOR UPDATE")
        .await?;
    let before = match tx.query_opt(&stmt, &[&policy.binding.as_str(), &scope]).await? {
        Some(row) => Some(row.try_get::<_, Json<Vec<Gate>>>(0)?.0),
        None => None,
    };
    let sql = format!(
        "INSERT INTO promotion_policies (binding, scope, gates, updated_at, updated_by)
         VALUES ($1, $2, $3, now(), $4)
         ON CONFLICT (binding, scope) DO UPDATE SET gates = EXCLUDED.gates,
             updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by
         RETURNING {POLICY_COLUMNS}"
    );
    let stmt = tx.prepare_cached(&sql).await?;
    let gates = Json(&policy.gates);
    let row = tx.query_one(&stmt, &[&policy.binding.as_str(), &scope, &gates, &ctx.actor]).await?;
    let record = policy_record(&row)?;
    write::record_audit_only(&tx, ctx, policy.audit_set(before.as_deref())).await?;
    tx.commit().await?;
    Ok(record)
}

pub(crate) async fn delete_policy(
    store: &PgStore,
    ctx: &WriteContext,
    binding: &BindingName,
    scope: &Scope,
) -> StoreResult<()> {
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    let sql = format!(
        "DELETE FROM promotion_policies WHERE binding = $1 AND scope = $2 RETURNING {POLICY_COLUMNS}"
    );
    let stmt = tx.prepare_cached(&sql).await?;
    let row = tx
        .query_opt(&stmt, &[&binding.as_str(), &scope.to_wire()])
        .await?
        .ok_or_else(|| Error::NotFound(format!("no promotion policy for binding '{binding}' at {scope}")))?;
    let deleted = policy_record(&row)?;
    write::record_audit_only(&tx, ctx, deleted.policy.audit_deleted()).await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn list_policies(
    store: &PgStore,
    binding: Option<&BindingName>,
) -> StoreResult<Vec<PromotionPolicyRecord>> {
    let client = store.client().await?;
    policies(&client, binding).await?.iter().map(policy_record).collect()
}

async fn policies(client: &impl GenericClient, binding: Option<&BindingName>) -> StoreResult<Vec<Row>> {
    let sql = format!(
        "SELECT {POLICY_COLUMNS} FROM promotion_policies WHERE $1::text IS NULL OR binding = $1
         ORDER BY binding, scope"
    );
    let stmt = client.prepare_cached(&sql).await?;
    Ok(client.query(&stmt, &[&binding.map(BindingName::as_str)]).await?)
}

/// The policy gating `binding` of `model`, if any.
pub(crate) async fn gate_policy(
    client: &impl GenericClient,
    model: &ModelName,
    binding: &BindingName,
) -> StoreResult<Option<PromotionPolicy>> {
    let all =
        policies(client, Some(binding)).await?.iter().map(policy_record).collect::<StoreResult<Vec<_>>>()?;
    Ok(promotion::applicable(&all, model, binding).map(|r| r.policy.clone()))
}

/// Everything the gates of `policy` look at for `version`, read in the caller's transaction.
pub(crate) async fn gather(
    tx: &Transaction<'_>,
    model_id: i64,
    model: &ModelName,
    policy: Option<PromotionPolicy>,
    version: u64,
) -> StoreResult<Gathered> {
    let candidate = versions::load(tx, model, rows::i(version)?)
        .await?
        .ok_or_else(|| Error::version_not_found(model, version))?;
    let bindings = bindings::load(tx, model_id).await?;
    let mut bound = Vec::new();
    for v in policy.as_ref().map(|p| promotion::referenced_versions(p, &bindings)).unwrap_or_default() {
        bound.extend(versions::load(tx, model, rows::i(v)?).await?);
    }
    Ok(Gathered { policy, candidate, bindings, bound })
}

fn request(row: &Row, now: SystemTime) -> StoreResult<PromotionRequest> {
    let Json(mut request): Json<PromotionRequest> = row.try_get("doc")?;
    request.id = rows::u(row.try_get("id")?)?;
    Ok(request.as_of(now))
}

async fn save(tx: &Transaction<'_>, request: &PromotionRequest) -> StoreResult<()> {
    let stmt = tx.prepare_cached("UPDATE promotion_requests SET state = $2, doc = $3 WHERE id = $1").await?;
    tx.execute(&stmt, &[&rows::i(request.id)?, &request.state.as_str(), &Json(request)]).await?;
    Ok(())
}

/// Marks the pending requests for `binding` superseded (its binding moved, or a newer request
/// came), in the caller's transaction.
pub(crate) async fn supersede_pending(
    tx: &Transaction<'_>,
    model_id: i64,
    binding: &BindingName,
    why: &str,
) -> StoreResult<()> {
    let stmt = tx
        .prepare_cached(
            "SELECT id, doc FROM promotion_requests WHERE model_id = $1 AND binding = $2 AND state = 'PENDING'",
        )
        .await?;
    let now = SystemTime::now();
    for row in tx.query(&stmt, &[&model_id, &binding.as_str()]).await? {
        let mut pending = request(&row, now)?;
        pending.supersede(why, now);
        save(tx, &pending).await?;
    }
    Ok(())
}

pub(crate) async fn promote(
    store: &PgStore,
    ctx: &WriteContext,
    act: &PromotionAct,
) -> StoreResult<PromotionRequest> {
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    let now = SystemTime::now();
    let (model_id, existing) = match act.request_id() {
        Some(id) => {
            let (model_id, request) = locked(&tx, id, now).await?;
            (model_id, Some(request))
        }
        None => (0, None),
    };
    let (model, binding, version) = match (act, &existing) {
        (PromotionAct::Request(new), _) => (new.model.clone(), new.binding.clone(), new.version),
        (_, Some(r)) => (r.model.clone(), r.binding.clone(), r.version),
        (_, None) => return Err(corrupt("a decision without its request")),
    };
    let model_id = if existing.is_some() { model_id } else { models::lock(&tx, &model).await? };
    let gathered = if act.evaluates() {
        let policy = gate_policy(&tx, &model, &binding).await?;
        Some(gather(&tx, model_id, &model, policy, version).await?)
    } else {
        None
    };
    let (mut request, step) = promotion::decide(act, &ctx.actor, existing, gathered.as_ref(), now)?;
    if request.id == 0 {
        supersede_pending(&tx, model_id, &binding, "a newer request for the binding").await?;
        let stmt = tx
            .prepare_cached(
                "INSERT INTO promotion_requests (model_id, binding, state, expires_at, doc)
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .await?;
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] =
            [&model_id, &binding.as_str(), &request.state.as_str(), &request.expires_at, &Json(&request)];
        request.id = rows::u(tx.query_one(&stmt, &params).await?.try_get(0)?)?;
    }
    write::record_audit_only(&tx, ctx, request.audit(act.action())).await?;
    if step == Step::Apply {
        let before = bindings::current(&tx, model_id, &request.binding).await?;
        let artifact = bindings::bindable(&tx, model_id, &request.model, request.version).await?;
        let after = Some(BindingTarget::single(request.version, artifact));
        let change = Rebind { name: &request.binding, before, after };
        let reason = request.history_reason();
        let revision =
            bindings::rebind(&tx, ctx, model_id, &request.model, &[change], BindingAction::Set, &reason)
                .await?;
        let revision = rows::u(revision)?;
        request.applied(&ctx.actor, revision, now);
        write::record_audit_only(&tx, ctx, request.audit("promotion.apply")).await?;
    }
    save(&tx, &request).await?;
    tx.commit().await?;
    Ok(request)
}

/// The request `id` read after taking its model's lock (so concurrent decisions on it queue).
async fn locked(tx: &Transaction<'_>, id: u64, now: SystemTime) -> StoreResult<(i64, PromotionRequest)> {
    let not_found = || Error::NotFound(format!("promotion request #{id} not found"));
    let stmt = tx
        .prepare_cached(
            "SELECT m.name FROM promotion_requests r JOIN models m ON m.id = r.model_id WHERE r.id = $1",
        )
        .await?;
    let row = tx.query_opt(&stmt, &[&rows::i(id)?]).await?.ok_or_else(not_found)?;
    let model = ModelName::parse("model", &row.try_get::<_, String>(0)?).map_err(corrupt)?;
    let model_id = models::lock(tx, &model).await?;
    let stmt = tx.prepare_cached("SELECT id, doc FROM promotion_requests WHERE id = $1").await?;
    let row = tx.query_opt(&stmt, &[&rows::i(id)?]).await?.ok_or_else(not_found)?;
    Ok((model_id, request(&row, now)?))
}

pub(crate) async fn evaluate(
    store: &PgStore,
    model: &ModelName,
    binding: &BindingName,
    version: u64,
    requester: &str,
) -> StoreResult<(Option<PromotionPolicy>, Vec<GateResult>)> {
    let mut client = store.client().await?;
    // A read-only transaction, so the gates see one snapshot.
    let tx = client.build_transaction().read_only(true).start().await?;
    let model_id = models::live_id(&tx, model).await?;
    let policy = gate_policy(&tx, model, binding).await?;
    let gathered = gather(&tx, model_id, model, policy, version).await?;
    let results =
        promotion::evaluate(gathered.policy.as_ref(), requester, &gathered.facts(SystemTime::now()));
    tx.commit().await?;
    Ok((gathered.policy, results))
}

pub(crate) async fn get(store: &PgStore, id: u64) -> StoreResult<PromotionRequest> {
    let client = store.client().await?;
    let stmt = client.prepare_cached("SELECT id, doc FROM promotion_requests WHERE id = $1").await?;
    let row = client
        .query_opt(&stmt, &[&rows::i(id)?])
        .await?
        .ok_or_else(|| Error::NotFound(format!("promotion request #{id} not found")))?;
    request(&row, SystemTime::now())
}

pub(crate) async fn list(
    store: &PgStore,
    filter: &PromotionFilter,
    page: &PageRequest,
) -> StoreResult<Page<PromotionRequest>> {
    let client = store.client().await?;
    let (visible, visible_params) = bindery_filter_sql::visibility_condition(
        &filter.visibility,
        bindery_filter_sql::Dialect::Postgres,
        5,
    );
    // A pending request past its deadline is listed (and filtered) as EXPIRED.
    let stmt = client
        .prepare_cached(&format!(
            "SELECT r.id, r.doc FROM promotion_requests r JOIN models m ON m.id = r.model_id
             WHERE ($1::text IS NULL OR m.name = $1) AND ($2::text IS NULL OR r.binding = $2)
               AND ($3::text IS NULL OR
                    (CASE WHEN r.state = 'PENDING' AND r.expires_at <= now() THEN 'EXPIRED' ELSE r.state END) = $3)
               AND ($4::bigint IS NULL OR r.id < $4) AND {visible}
             ORDER BY r.id DESC LIMIT $5"
        ))
        .await?;
    let after = page.after_number().map(rows::i).transpose()?;
    let limit = i64::from(page.size) + 1;
    let (model, binding, state) = (
        filter.model.as_ref().map(ModelName::as_str),
        filter.binding.as_ref().map(BindingName::as_str),
        filter.state.map(PromotionState::as_str),
    );
    let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
        vec![&model, &binding, &state, &after, &limit];
    params.extend(crate::search::to_sql(&visible_params));
    let now = SystemTime::now();
    let found = client.query(&stmt, &params).await?;
    let items = found.iter().map(|r| request(r, now)).collect::<StoreResult<Vec<_>>>()?;
    Ok(Page::from_rows(items, page.size, |r| Cursor::Number(r.id)))
}
