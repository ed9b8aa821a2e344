//! Bindings: set (with compare-and-set), delete, rollback, list, history, and the strongly
//! consistent resolve the primary answers from Postgres.

use bindery_core::{
    Artifact, Binding, BindingAction, BindingChange, BindingHistoryEntry, BindingName, BindingTarget,
    BindingWrite, BindingsPayload, BindingsWrite, Cursor, DeleteBinding, Error, ModelName, Page, PageRequest,
    Resolved, RollbackBinding, SetBindings, VersionStatus, WriteContext,
};
use std::time::SystemTime;

use bindery_core::promotion;
use bindery_core::traffic::{MemberArtifact, Traffic, traffic_from_json, traffic_to_json};
use deadpool_postgres::Transaction;
use serde_json::json;

use crate::error::{StoreResult, corrupt};
use crate::write::{self, Audit, Change};
use crate::{PgStore, models, promotions, rows};

/// The binding as it is now, under the model lock.
pub(crate) struct Current {
    version: u64,
    pub generation: u64,
    traffic: Option<Traffic>,
}

impl Current {
    /// The whole target, as traffic (one side for a plain version).
    pub fn target(&self) -> Traffic {
        self.traffic.clone().unwrap_or_else(|| Traffic::single(self.version))
    }
}

pub(crate) async fn current(
    tx: &Transaction<'_>,
    model_id: i64,
    name: &BindingName,
) -> StoreResult<Option<Current>> {
    let stmt = tx
        .prepare_cached("SELECT version, generation, traffic FROM bindings WHERE model_id = $1 AND name = $2")
        .await?;
    tx.query_opt(&stmt, &[&model_id, &name.as_str()])
        .await?
        .map(|r| {
            Ok(Current {
                version: rows::u(r.try_get("version")?)?,
                generation: rows::u(r.try_get("generation")?)?,
                traffic: rows::traffic_record(&r, "traffic")?.map(|t| t.traffic),
            })
        })
        .transpose()
}

fn check_generation(
    expected: Option<u64>,
    current: Option<&Current>,
    model: &ModelName,
    name: &BindingName,
) -> Result<(), Error> {
    bindery_core::check_generation(expected, current.map_or(0, |c| c.generation), model, name)
}

/// A version that may be bound: it exists and is READY. Returns its artifact.
pub(crate) async fn bindable(
    tx: &Transaction<'_>,
    model_id: i64,
    model: &ModelName,
    version: u64,
) -> StoreResult<Artifact> {
    let stmt = tx
        .prepare_cached(
            "SELECT status, artifact_uri, artifact_sha256, artifact_size, artifact_format, artifact_verification
             FROM versions WHERE model_id = $1 AND version = $2",
        )
        .await?;
    let row = tx
        .query_opt(&stmt, &[&model_id, &rows::i(version)?])
        .await?
        .ok_or_else(|| Error::version_not_found(model, version))?;
    let status: String = row.try_get("status")?;
    if status != VersionStatus::Ready.as_str() {
        return Err(Error::FailedPrecondition(format!(
            "version {version} of model '{model}' is {status}; only READY versions can be bound"
        ))
        .into());
    }
    rows::artifact(&row)
}

/// A target whose every version may be bound (exists and is READY), with their artifacts.
pub(crate) async fn bindable_target(
    tx: &Transaction<'_>,
    model_id: i64,
    model: &ModelName,
    target: &Traffic,
) -> StoreResult<BindingTarget> {
    let primary = target.primary();
    let artifact = bindable(tx, model_id, model, primary).await?;
    let Some(traffic) = bindery_core::stored_traffic(target) else {
        return Ok(BindingTarget::single(primary, artifact));
    };
    let mut others = Vec::new();
    for version in traffic.members().filter(|v| *v != primary) {
        others.push(MemberArtifact { version, artifact: bindable(tx, model_id, model, version).await? });
    }
    let specs = others.iter().map(|o| (o.version, o.artifact.deployment.as_deref()));
    traffic.check_override(std::iter::once((primary, artifact.deployment.as_deref())).chain(specs))?;
    Ok(BindingTarget { version: primary, artifact, traffic: Some(traffic.clone()), others })
}

/// One change of one binding within a write.
pub(crate) struct Rebind<'a> {
    pub name: &'a BindingName,
    pub before: Option<Current>,
    /// `None` deletes the binding.
    pub after: Option<BindingTarget>,
}

/// Commits binding changes of one model as one write: one revision, a history row and new
/// generation per binding, one change-log entry listing them all (readers apply it atomically),
/// one audit row; pending promotion requests for the moved bindings are superseded. The caller
/// holds the model lock and has checked every precondition.
pub(crate) async fn rebind(
    tx: &Transaction<'_>,
    ctx: &WriteContext,
    model_id: i64,
    model: &ModelName,
    changes: &[Rebind<'_>],
    action: BindingAction,
    reason: &str,
) -> StoreResult<i64> {
    let bump = write::bump_revision(tx).await?;
    let revision = bump.revision;
    let mut payload = Vec::with_capacity(changes.len());
    let mut before_audit = serde_json::Map::new();
    let mut after_audit = serde_json::Map::new();
    for change in changes {
        let name = change.name;
        promotions::supersede_pending(
            tx,
            model_id,
            name,
            &format!("binding moved by {} ({reason})", ctx.actor),
        )
        .await?;
        let generation = match &change.before {
            Some(c) => c.generation + 1,
            // Generations continue across a delete and re-create, so history stays unambiguous.
            None => {
                let stmt = tx
                    .prepare_cached(
                        "SELECT COALESCE(max(generation), 0) FROM binding_history WHERE model_id = $1 AND name = $2",
                    )
                    .await?;
                rows::u(tx.query_one(&stmt, &[&model_id, &name.as_str()]).await?.try_get(0)?)? + 1
            }
        };
        let generation_i = rows::i(generation)?;
        match &change.after {
            Some(target) => {
                let stmt = tx
                    .prepare_cached(
                        "INSERT INTO bindings (model_id, name, version, generation, updated_at, updated_by, revision, traffic)
                         VALUES ($1, $2, $3, $4, now(), $5, $6, $7)
                         ON CONFLICT (model_id, name) DO UPDATE SET version = EXCLUDED.version,
                             generation = EXCLUDED.generation, updated_at = EXCLUDED.updated_at,
                             updated_by = EXCLUDED.updated_by, revision = EXCLUDED.revision,
                             traffic = EXCLUDED.traffic",
                    )
                    .await?;
                let record = target.record().map(|r| r.to_json());
                let params: [&(dyn tokio_postgres::types::ToSql + Sync); 7] = [
                    &model_id,
                    &name.as_str(),
                    &rows::i(target.version)?,
                    &generation_i,
                    &ctx.actor,
                    &revision,
                    &record,
                ];
                tx.execute(&stmt, &params).await?;
                let stmt = tx
                    .prepare_cached("DELETE FROM binding_versions WHERE model_id = $1 AND name = $2")
                    .await?;
                tx.execute(&stmt, &[&model_id, &name.as_str()]).await?;
                let members = target.members().into_iter().map(rows::i).collect::<StoreResult<Vec<i64>>>()?;
                let stmt = tx
                    .prepare_cached(
                        "INSERT INTO binding_versions (model_id, name, version) SELECT $1, $2, unnest($3::bigint[])",
                    )
                    .await?;
                tx.execute(&stmt, &[&model_id, &name.as_str(), &members]).await?;
            }
            None => {
                let stmt =
                    tx.prepare_cached("DELETE FROM bindings WHERE model_id = $1 AND name = $2").await?;
                tx.execute(&stmt, &[&model_id, &name.as_str()]).await?;
            }
        }
        let before_version = change.before.as_ref().map(|c| rows::i(c.version)).transpose()?;
        let after_version = change.after.as_ref().map(|t| rows::i(t.version)).transpose()?;
        let before_traffic = traffic_to_json(change.before.as_ref().and_then(|c| c.traffic.as_ref()));
        let after_traffic = traffic_to_json(change.after.as_ref().and_then(|t| t.traffic.as_ref()));
        let stmt = tx
            .prepare_cached(
                "INSERT INTO binding_history (model_id, name, generation, action, before_version, after_version,
                     revision, actor, reason, created_at, before_traffic, after_traffic)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now(), $10, $11)",
            )
            .await?;
        tx.execute(
            &stmt,
            &[
                &model_id,
                &name.as_str(),
                &generation_i,
                &action.as_str(),
                &before_version,
                &after_version,
                &revision,
                &ctx.actor,
                &reason,
                &before_traffic,
                &after_traffic,
            ],
        )
        .await?;
        if let Some(c) = &change.before {
            let state = bindery_core::binding_audit_state(c.version, generation - 1, c.traffic.as_ref());
            before_audit.insert(name.to_string(), state);
        }
        if let Some(t) = &change.after {
            after_audit.insert(
                name.to_string(),
                bindery_core::binding_audit_state(t.version, generation, t.traffic.as_ref()),
            );
        }
        payload.push(BindingChange {
            model_name: model.clone(),
            binding: name.clone(),
            generation,
            target: change.after.clone(),
        });
    }
    let audit_action = match action {
        BindingAction::Set => "binding.set",
        BindingAction::Delete => "binding.delete",
        BindingAction::Rollback => "binding.rollback",
    };
    let names: Vec<&str> = changes.iter().map(|c| c.name.as_str()).collect();
    let target = match names.as_slice() {
        [one] => format!("{}/bindings/{one}", models::target(model)),
        many => format!("{}/bindings/{{{}}}", models::target(model), many.join(",")),
    };
    let single = names.len() == 1;
    let audit_state = |state: serde_json::Map<String, serde_json::Value>| {
        if state.is_empty() {
            None
        } else if single {
            state.into_iter().next().map(|(_, v)| v)
        } else {
            Some(serde_json::Value::Object(state))
        }
    };
    write::record(
        tx,
        &bump,
        ctx,
        Change {
            kind: "binding",
            model: model.as_str(),
            binding: single.then(|| names[0]),
            payload: serde_json::to_value(BindingsPayload::new(payload)).map_err(corrupt)?,
        },
        Audit {
            action: audit_action,
            target,
            before: audit_state(before_audit).map(|v| with_reason(v, reason)),
            after: audit_state(after_audit).map(|v| with_reason(v, reason)),
        },
    )
    .await?;
    Ok(revision)
}

fn with_reason(mut state: serde_json::Value, reason: &str) -> serde_json::Value {
    if let Some(obj) = state.as_object_mut() {
        obj.insert("reason".into(), json!(reason));
    }
    state
}

pub(crate) async fn load(tx: &Transaction<'_>, model_id: i64) -> StoreResult<Vec<Binding>> {
    let sql = format!(
        "SELECT {} FROM bindings b JOIN models m ON m.id = b.model_id WHERE b.model_id = $1 ORDER BY b.name",
        rows::BINDING_COLUMNS
    );
    let stmt = tx.prepare_cached(&sql).await?;
    tx.query(&stmt, &[&model_id]).await?.iter().map(rows::binding).collect()
}

/// The change that moves `name` (now at `before`) to `requested`, every precondition checked:
/// each version exists and is READY, and on a gated binding each version gaining weight passes
/// the gates. `None` when the binding already has that target.
pub(crate) async fn plan<'a>(
    tx: &Transaction<'_>,
    model_id: i64,
    model: &ModelName,
    name: &'a BindingName,
    before: Option<Current>,
    requested: &Traffic,
) -> StoreResult<Option<Rebind<'a>>> {
    let before_target = before.as_ref().map(Current::target);
    let Some(next) = bindery_core::plan_target(requested, before_target.as_ref()) else {
        return Ok(None);
    };
    let target = bindable_target(tx, model_id, model, &next).await?;
    let policy = promotions::gate_policy(tx, model, name).await?;
    if policy.is_some() {
        // Every version gaining traffic passes the gates; shadows serve no user.
        for version in next.gaining(before_target.as_ref()) {
            let gathered = promotions::gather(tx, model_id, model, policy.clone(), version).await?;
            if let Some(policy) = &gathered.policy {
                promotion::check_direct(policy, model, &gathered.facts(SystemTime::now()))?;
            }
        }
    }
    Ok(Some(Rebind { name, before, after: Some(target) }))
}

/// `SetBinding` and `SetBindings`: every precondition is checked before anything is written.
pub(crate) async fn set(
    store: &PgStore,
    ctx: &WriteContext,
    req: &SetBindings,
) -> StoreResult<BindingsWrite> {
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    let model_id = models::lock(&tx, &req.model).await?;
    let mut changes = Vec::with_capacity(req.bindings.len());
    for assignment in &req.bindings {
        let before = current(&tx, model_id, &assignment.name).await?;
        check_generation(assignment.expected_generation, before.as_ref(), &req.model, &assignment.name)?;
        // Already bound there: nothing to record for this binding (e.g. a retried request).
        if let Some(change) =
            plan(&tx, model_id, &req.model, &assignment.name, before, &assignment.target()).await?
        {
            changes.push(change);
        }
    }
    let requested = |b: &Binding| req.bindings.iter().any(|a| a.name == b.name);
    if changes.is_empty() {
        let bindings: Vec<Binding> = load(&tx, model_id).await?.into_iter().filter(requested).collect();
        let revision = bindings.iter().map(|b| b.revision).max().unwrap_or_default();
        return Ok(BindingsWrite { bindings, revision });
    }
    let revision = rebind(&tx, ctx, model_id, &req.model, &changes, BindingAction::Set, &req.reason).await?;
    let bindings: Vec<Binding> = load(&tx, model_id).await?.into_iter().filter(requested).collect();
    tx.commit().await?;
    Ok(BindingsWrite { bindings, revision: rows::u(revision)? })
}

pub(crate) async fn delete(store: &PgStore, ctx: &WriteContext, req: &DeleteBinding) -> StoreResult<u64> {
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    let model_id = models::lock(&tx, &req.model).await?;
    let before = current(&tx, model_id, &req.name).await?;
    check_generation(req.expected_generation, before.as_ref(), &req.model, &req.name)?;
    if before.is_none() {
        return Err(Error::binding_not_found(&req.model, &req.name).into());
    }
    let change = Rebind { name: &req.name, before, after: None };
    let revision =
        rebind(&tx, ctx, model_id, &req.model, &[change], BindingAction::Delete, &req.reason).await?;
    tx.commit().await?;
    rows::u(revision)
}

pub(crate) async fn rollback(
    store: &PgStore,
    ctx: &WriteContext,
    req: &RollbackBinding,
) -> StoreResult<BindingWrite> {
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    let model_id = models::lock(&tx, &req.model).await?;
    let before = current(&tx, model_id, &req.name).await?;
    check_generation(req.expected_generation, before.as_ref(), &req.model, &req.name)?;
    let (model, name) = (&req.model, &req.name);
    let target = match req.to_generation {
        Some(generation) => {
            let stmt = tx
                .prepare_cached(
                    "SELECT after_version, after_traffic FROM binding_history
                     WHERE model_id = $1 AND name = $2 AND generation = $3",
                )
                .await?;
            let row = tx
                .query_opt(&stmt, &[&model_id, &name.as_str(), &rows::i(generation)?])
                .await?
                .ok_or_else(|| {
                    Error::NotFound(format!(
                        "binding '{name}' of model '{model}' has no generation {generation} in its history"
                    ))
                })?;
            history_target(&row, "after")?.ok_or_else(|| {
                Error::FailedPrecondition(format!(
                    "generation {generation} of binding '{name}' of model '{model}' deleted the binding; \
                     there is no target to roll back to"
                ))
            })?
        }
        None => {
            let stmt = tx
                .prepare_cached(
                    "SELECT before_version, before_traffic FROM binding_history WHERE model_id = $1 AND name = $2
                     ORDER BY generation DESC LIMIT 1",
                )
                .await?;
            let row = tx
                .query_opt(&stmt, &[&model_id, &name.as_str()])
                .await?
                .ok_or_else(|| Error::binding_not_found(model, name))?;
            history_target(&row, "before")?.ok_or_else(|| {
                Error::FailedPrecondition(format!(
                    "binding '{name}' of model '{model}' had no target before its latest change; nothing to roll back to"
                ))
            })?
        }
    };
    if before.as_ref().is_some_and(|c| c.target().same_declaration(&target)) {
        return Err(Error::FailedPrecondition(format!(
            "binding '{name}' of model '{model}' is already bound to {}; nothing to roll back",
            describe(&target)
        ))
        .into());
    }
    // The earlier target exactly as it was, buckets included: every routing key goes back.
    let target = bindable_target(&tx, model_id, model, &target).await?;
    let change = Rebind { name, before, after: Some(target) };
    let revision = rebind(&tx, ctx, model_id, model, &[change], BindingAction::Rollback, &req.reason).await?;
    let binding = load(&tx, model_id)
        .await?
        .into_iter()
        .find(|b| &b.name == name)
        .ok_or_else(|| corrupt("rolled back binding missing"))?;
    tx.commit().await?;
    Ok(BindingWrite { binding, revision: rows::u(revision)? })
}

/// A history row's before or after target (`prefix`), `None` where the binding did not exist.
fn history_target(row: &tokio_postgres::Row, prefix: &str) -> StoreResult<Option<Traffic>> {
    let Some(version) = row.try_get::<_, Option<i64>>(format!("{prefix}_version").as_str())? else {
        return Ok(None);
    };
    let version = rows::u(version)?;
    let traffic = traffic_from_json(row.try_get(format!("{prefix}_traffic").as_str())?)?;
    Ok(Some(traffic.unwrap_or_else(|| Traffic::single(version))))
}

fn describe(target: &Traffic) -> String {
    match target.as_single() {
        Some(v) => format!("version {v}"),
        None => "that split".to_owned(),
    }
}

pub(crate) async fn list(store: &PgStore, model: &ModelName) -> StoreResult<Vec<Binding>> {
    let client = store.client().await?;
    let id = models::live_id(&client, model).await?;
    let sql = format!(
        "SELECT {} FROM bindings b JOIN models m ON m.id = b.model_id WHERE b.model_id = $1 ORDER BY b.name",
        rows::BINDING_COLUMNS
    );
    let stmt = client.prepare_cached(&sql).await?;
    client.query(&stmt, &[&id]).await?.iter().map(rows::binding).collect()
}

pub(crate) async fn history(
    store: &PgStore,
    model: &ModelName,
    name: &BindingName,
    page: &PageRequest,
) -> StoreResult<Page<BindingHistoryEntry>> {
    let client = store.client().await?;
    let id = models::live_id(&client, model).await?;
    let sql = format!(
        "SELECT {} FROM binding_history h JOIN models m ON m.id = h.model_id
         WHERE h.model_id = $1 AND h.name = $2 AND ($3::bigint IS NULL OR h.generation < $3)
         ORDER BY h.generation DESC LIMIT $4",
        rows::HISTORY_COLUMNS
    );
    let stmt = client.prepare_cached(&sql).await?;
    let after = page.after_number().map(rows::i).transpose()?;
    let limit = i64::from(page.size) + 1;
    let found = client.query(&stmt, &[&id, &name.as_str(), &after, &limit]).await?;
    let entries = found.iter().map(rows::history_entry).collect::<StoreResult<Vec<_>>>()?;
    Ok(Page::from_rows(entries, page.size, |e| Cursor::Number(e.generation)))
}

/// One statement, so the binding, the artifact and the revision come from one snapshot.
const RESOLVE: &str =
    "SELECT b.version, b.generation, b.traffic, v.artifact_uri, v.artifact_sha256, v.artifact_size,
        v.artifact_format, v.artifact_verification, (SELECT revision FROM registry_state) AS revision
    FROM models m
    JOIN bindings b ON b.model_id = m.id
    JOIN versions v ON v.model_id = b.model_id AND v.version = b.version
    WHERE m.name = $1 AND m.deleted_at IS NULL AND b.name = $2";

pub(crate) async fn resolve(store: &PgStore, model: &ModelName, name: &BindingName) -> StoreResult<Resolved> {
    let client = store.client().await?;
    resolve_on(&client, model, name).await
}

/// Every key of a ResolveMany in one statement (one snapshot, one revision, one round trip),
/// answered in the keys' order; a missing model or binding is named per key.
const RESOLVE_MANY: &str = "WITH k AS (
        SELECT * FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(model, binding, ord))
    SELECT k.ord, m.id IS NOT NULL AS model_exists, b.version, b.generation, b.traffic, v.artifact_uri,
        v.artifact_sha256, v.artifact_size, v.artifact_format, v.artifact_verification,
        (SELECT revision FROM registry_state) AS revision
    FROM k
    LEFT JOIN models m ON m.name = k.model AND m.deleted_at IS NULL
    LEFT JOIN bindings b ON b.model_id = m.id AND b.name = k.binding
    LEFT JOIN versions v ON v.model_id = b.model_id AND v.version = b.version
    ORDER BY k.ord";

pub(crate) async fn resolve_many(
    store: &PgStore,
    keys: &[(ModelName, BindingName)],
) -> StoreResult<(Vec<bindery_core::Result<Resolved>>, u64)> {
    let client = store.client().await?;
    let models: Vec<&str> = keys.iter().map(|(m, _)| m.as_str()).collect();
    let names: Vec<&str> = keys.iter().map(|(_, b)| b.as_str()).collect();
    if keys.is_empty() {
        let stmt = client.prepare_cached(write::SELECT_REVISION).await?;
        return Ok((Vec::new(), rows::u(client.query_one(&stmt, &[]).await?.try_get(0)?)?));
    }
    let stmt = client.prepare_cached(RESOLVE_MANY).await?;
    let found = client.query(&stmt, &[&models, &names]).await?;
    if found.len() != keys.len() {
        return Err(corrupt(format!("{} answers to {} keys", found.len(), keys.len())));
    }
    let mut revision = 0;
    let mut results = Vec::with_capacity(keys.len());
    for ((model, name), row) in keys.iter().zip(&found) {
        revision = rows::u(row.try_get("revision")?)?;
        let result = if !row.try_get::<_, bool>("model_exists")? {
            Err(Error::model_not_found(model))
        } else if row.try_get::<_, Option<i64>>("version")?.is_none() {
            Err(Error::binding_not_found(model, name))
        } else {
            Ok(Resolved {
                model_name: model.clone(),
                binding: name.clone(),
                target: rows::binding_target(row)?,
                generation: rows::u(row.try_get("generation")?)?,
                revision,
            })
        };
        results.push(result);
    }
    Ok((results, revision))
}

async fn resolve_on(
    client: &impl deadpool_postgres::GenericClient,
    model: &ModelName,
    name: &BindingName,
) -> StoreResult<Resolved> {
    let stmt = client.prepare_cached(RESOLVE).await?;
    let Some(row) = client.query_opt(&stmt, &[&model.as_str(), &name.as_str()]).await? else {
        // Say which of the two is missing.
        let stmt =
            client.prepare_cached("SELECT 1 FROM models WHERE name = $1 AND deleted_at IS NULL").await?;
        if client.query_opt(&stmt, &[&model.as_str()]).await?.is_none() {
            return Err(Error::model_not_found(model).into());
        }
        return Err(Error::binding_not_found(model, name).into());
    };
    Ok(Resolved {
        model_name: model.clone(),
        binding: name.clone(),
        target: rows::binding_target(&row)?,
        generation: rows::u(row.try_get("generation")?)?,
        revision: rows::u(row.try_get("revision")?)?,
    })
}
