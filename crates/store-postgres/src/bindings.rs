//! Bindings: set (with compare-and-set), delete, rollback, list, history, and the strongly
//! consistent resolve the primary answers from Postgres.

use bindery_core::{
    Artifact, Binding, BindingAction, BindingChange, BindingHistoryEntry, BindingName, BindingTarget,
    BindingWrite, Cursor, DeleteBinding, Error, ModelName, Page, PageRequest, Resolved, RollbackBinding,
    SetBinding, VersionStatus, WriteContext,
};
use deadpool_postgres::Transaction;
use serde_json::json;

use crate::error::{StoreResult, corrupt};
use crate::write::{self, Audit, Change};
use crate::{PgStore, models, rows, versions};

fn not_found(model: &ModelName, name: &BindingName) -> Error {
    Error::NotFound(format!("binding '{name}' not found on model '{model}'"))
}

/// The binding as it is now, under the model lock.
struct Current {
    version: u64,
    generation: u64,
}

async fn current(tx: &Transaction<'_>, model_id: i64, name: &BindingName) -> StoreResult<Option<Current>> {
    let stmt = tx
        .prepare_cached("SELECT version, generation FROM bindings WHERE model_id = $1 AND name = $2")
        .await?;
    tx.query_opt(&stmt, &[&model_id, &name.as_str()])
        .await?
        .map(|r| {
            Ok(Current {
                version: rows::u(r.try_get("version")?)?,
                generation: rows::u(r.try_get("generation")?)?,
            })
        })
        .transpose()
}

/// Compare-and-set: `expected` is the generation the caller last saw, 0 for "does not exist".
fn check_generation(
    expected: Option<u64>,
    current: Option<&Current>,
    model: &ModelName,
    name: &BindingName,
) -> Result<(), Error> {
    let Some(expected) = expected else { return Ok(()) };
    let actual = current.map_or(0, |c| c.generation);
    if actual == expected {
        return Ok(());
    }
    let now = if actual == 0 { "does not exist".to_owned() } else { format!("is at generation {actual}") };
    let wanted = if expected == 0 { "not to exist".to_owned() } else { format!("generation {expected}") };
    Err(Error::Aborted(format!(
        "binding '{name}' of model '{model}' {now}, but the request expected {wanted}; re-read it and retry"
    )))
}

/// A version that may be bound: it exists and is READY. Returns its artifact.
async fn bindable(
    tx: &Transaction<'_>,
    model_id: i64,
    model: &ModelName,
    version: u64,
) -> StoreResult<Artifact> {
    let stmt = tx
        .prepare_cached(
            "SELECT status, artifact_uri, artifact_sha256, artifact_size, artifact_format
             FROM versions WHERE model_id = $1 AND version = $2",
        )
        .await?;
    let row = tx
        .query_opt(&stmt, &[&model_id, &rows::i(version)?])
        .await?
        .ok_or_else(|| versions::not_found(model, version))?;
    let status: String = row.try_get("status")?;
    if status != VersionStatus::Ready.as_str() {
        return Err(Error::FailedPrecondition(format!(
            "version {version} of model '{model}' is {status}; only READY versions can be bound"
        ))
        .into());
    }
    Ok(Artifact {
        uri: row.try_get("artifact_uri")?,
        sha256: row.try_get("artifact_sha256")?,
        size_bytes: rows::u(row.try_get("artifact_size")?)?,
        format: row.try_get("artifact_format")?,
    })
}

/// One change of one binding: generation + 1, history row, revision, change, audit, notify.
struct Rebind<'a> {
    model_id: i64,
    model: &'a ModelName,
    name: &'a BindingName,
    before: Option<Current>,
    /// `None` deletes the binding.
    after: Option<(u64, Artifact)>,
    action: BindingAction,
    reason: &'a str,
}

async fn rebind(
    tx: &Transaction<'_>,
    ctx: &WriteContext,
    change: Rebind<'_>,
) -> StoreResult<(Option<Binding>, i64)> {
    let Rebind { model_id, model, name, before, after, action, reason } = change;
    let generation = match &before {
        Some(c) => c.generation + 1,
        // Generations continue across a delete and re-create, so history stays unambiguous.
        None => {
            let stmt = tx
                .prepare_cached("SELECT COALESCE(max(generation), 0) FROM binding_history WHERE model_id = $1 AND name = $2")
                .await?;
            rows::u(tx.query_one(&stmt, &[&model_id, &name.as_str()]).await?.try_get(0)?)? + 1
        }
    };
    let generation_i = rows::i(generation)?;
    let revision = write::bump_revision(tx).await?;
    let binding = match &after {
        Some((version, _)) => {
            let sql = format!(
                "WITH b AS (
                     INSERT INTO bindings (model_id, name, version, generation, updated_at, updated_by, revision)
                     VALUES ($1, $2, $3, $4, now(), $5, $6)
                     ON CONFLICT (model_id, name) DO UPDATE SET version = EXCLUDED.version,
                         generation = EXCLUDED.generation, updated_at = EXCLUDED.updated_at,
                         updated_by = EXCLUDED.updated_by, revision = EXCLUDED.revision
                     RETURNING *)
                 SELECT {} FROM b JOIN models m ON m.id = b.model_id",
                rows::BINDING_COLUMNS
            );
            let stmt = tx.prepare_cached(&sql).await?;
            let row = tx
                .query_one(
                    &stmt,
                    &[&model_id, &name.as_str(), &rows::i(*version)?, &generation_i, &ctx.actor, &revision],
                )
                .await?;
            Some(rows::binding(&row)?)
        }
        None => {
            let stmt = tx.prepare_cached("DELETE FROM bindings WHERE model_id = $1 AND name = $2").await?;
            tx.execute(&stmt, &[&model_id, &name.as_str()]).await?;
            None
        }
    };
    let before_version = before.as_ref().map(|c| rows::i(c.version)).transpose()?;
    let after_version = after.as_ref().map(|(v, _)| rows::i(*v)).transpose()?;
    let stmt = tx
        .prepare_cached(
            "INSERT INTO binding_history (model_id, name, generation, action, before_version, after_version,
                 revision, actor, reason, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now())",
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
        ],
    )
    .await?;
    let payload = BindingChange {
        model_name: model.clone(),
        binding: name.clone(),
        generation,
        target: after.map(|(version, artifact)| BindingTarget { version, artifact }),
    };
    let audit_action = match action {
        BindingAction::Set => "binding.set",
        BindingAction::Delete => "binding.delete",
        BindingAction::Rollback => "binding.rollback",
    };
    let state =
        |v: Option<i64>, g: u64| v.map(|v| json!({ "version": v, "generation": g, "reason": reason }));
    write::record(
        tx,
        revision,
        ctx,
        Change {
            kind: "binding",
            model: model.as_str(),
            binding: Some(name.as_str()),
            payload: serde_json::to_value(&payload).map_err(corrupt)?,
        },
        Audit {
            action: audit_action,
            target: format!("{}/bindings/{name}", models::target(model)),
            before: state(before_version, generation - 1),
            after: state(after_version, generation),
        },
    )
    .await?;
    Ok((binding, revision))
}

async fn load(tx: &Transaction<'_>, model_id: i64) -> StoreResult<Vec<Binding>> {
    let sql = format!(
        "SELECT {} FROM bindings b JOIN models m ON m.id = b.model_id WHERE b.model_id = $1 ORDER BY b.name",
        rows::BINDING_COLUMNS
    );
    let stmt = tx.prepare_cached(&sql).await?;
    tx.query(&stmt, &[&model_id]).await?.iter().map(rows::binding).collect()
}

async fn load_one(tx: &Transaction<'_>, model_id: i64, name: &BindingName) -> StoreResult<Binding> {
    load(tx, model_id)
        .await?
        .into_iter()
        .find(|b| &b.name == name)
        .ok_or_else(|| corrupt(format!("binding {name} vanished under the model lock")))
}

fn written(binding: Option<Binding>, revision: i64) -> StoreResult<BindingWrite> {
    let binding = binding.ok_or_else(|| corrupt("set produced no binding"))?;
    Ok(BindingWrite { binding, revision: write::revision_u64(revision)? })
}

pub(crate) async fn set(store: &PgStore, ctx: &WriteContext, req: &SetBinding) -> StoreResult<BindingWrite> {
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    let model_id = models::lock(&tx, &req.model).await?;
    let before = current(&tx, model_id, &req.name).await?;
    check_generation(req.expected_generation, before.as_ref(), &req.model, &req.name)?;
    let artifact = bindable(&tx, model_id, &req.model, req.version).await?;
    if before.as_ref().is_some_and(|c| c.version == req.version) {
        // Already bound there: a no-op (e.g. a retried request) records nothing.
        let binding = load_one(&tx, model_id, &req.name).await?;
        return Ok(BindingWrite { revision: binding.revision, binding });
    }
    let change = Rebind {
        model_id,
        model: &req.model,
        name: &req.name,
        before,
        after: Some((req.version, artifact)),
        action: BindingAction::Set,
        reason: &req.reason,
    };
    let (binding, revision) = rebind(&tx, ctx, change).await?;
    tx.commit().await?;
    written(binding, revision)
}

pub(crate) async fn delete(store: &PgStore, ctx: &WriteContext, req: &DeleteBinding) -> StoreResult<u64> {
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    let model_id = models::lock(&tx, &req.model).await?;
    let before = current(&tx, model_id, &req.name).await?;
    check_generation(req.expected_generation, before.as_ref(), &req.model, &req.name)?;
    if before.is_none() {
        return Err(not_found(&req.model, &req.name).into());
    }
    let change = Rebind {
        model_id,
        model: &req.model,
        name: &req.name,
        before,
        after: None,
        action: BindingAction::Delete,
        reason: &req.reason,
    };
    let (_, revision) = rebind(&tx, ctx, change).await?;
    tx.commit().await?;
    write::revision_u64(revision)
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
                .prepare_cached("SELECT after_version FROM binding_history WHERE model_id = $1 AND name = $2 AND generation = $3")
                .await?;
            let row = tx
                .query_opt(&stmt, &[&model_id, &name.as_str(), &rows::i(generation)?])
                .await?
                .ok_or_else(|| {
                    Error::NotFound(format!(
                        "binding '{name}' of model '{model}' has no generation {generation} in its history"
                    ))
                })?;
            row.try_get::<_, Option<i64>>(0)?.ok_or_else(|| {
                Error::FailedPrecondition(format!(
                    "generation {generation} of binding '{name}' of model '{model}' deleted the binding; \
                     there is no target to roll back to"
                ))
            })?
        }
        None => {
            let stmt = tx
                .prepare_cached(
                    "SELECT before_version FROM binding_history WHERE model_id = $1 AND name = $2
                     ORDER BY generation DESC LIMIT 1",
                )
                .await?;
            let row = tx
                .query_opt(&stmt, &[&model_id, &name.as_str()])
                .await?
                .ok_or_else(|| not_found(model, name))?;
            row.try_get::<_, Option<i64>>(0)?.ok_or_else(|| {
                Error::FailedPrecondition(format!(
                    "binding '{name}' of model '{model}' had no target before its latest change; nothing to roll back to"
                ))
            })?
        }
    };
    let target = rows::u(target)?;
    if before.as_ref().is_some_and(|c| c.version == target) {
        return Err(Error::FailedPrecondition(format!(
            "binding '{name}' of model '{model}' is already bound to version {target}; nothing to roll back"
        ))
        .into());
    }
    let artifact = bindable(&tx, model_id, model, target).await?;
    let change = Rebind {
        model_id,
        model,
        name,
        before,
        after: Some((target, artifact)),
        action: BindingAction::Rollback,
        reason: &req.reason,
    };
    let (binding, revision) = rebind(&tx, ctx, change).await?;
    tx.commit().await?;
    written(binding, revision)
}

async fn model_id(client: &deadpool_postgres::Client, model: &ModelName) -> StoreResult<i64> {
    let stmt = client.prepare_cached("SELECT id FROM models WHERE name = $1 AND deleted_at IS NULL").await?;
    Ok(client
        .query_opt(&stmt, &[&model.as_str()])
        .await?
        .ok_or_else(|| models::not_found(model))?
        .try_get(0)?)
}

pub(crate) async fn list(store: &PgStore, model: &ModelName) -> StoreResult<Vec<Binding>> {
    let client = store.client().await?;
    let id = model_id(&client, model).await?;
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
    let id = model_id(&client, model).await?;
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
const RESOLVE: &str = "SELECT b.version, b.generation, v.artifact_uri, v.artifact_sha256, v.artifact_size,
        v.artifact_format, (SELECT revision FROM registry_state) AS revision
    FROM models m
    JOIN bindings b ON b.model_id = m.id
    JOIN versions v ON v.model_id = b.model_id AND v.version = b.version
    WHERE m.name = $1 AND m.deleted_at IS NULL AND b.name = $2";

pub(crate) async fn resolve(store: &PgStore, model: &ModelName, name: &BindingName) -> StoreResult<Resolved> {
    let client = store.client().await?;
    let stmt = client.prepare_cached(RESOLVE).await?;
    let Some(row) = client.query_opt(&stmt, &[&model.as_str(), &name.as_str()]).await? else {
        // Say which of the two is missing.
        model_id(&client, model).await?;
        return Err(not_found(model, name).into());
    };
    Ok(Resolved {
        model_name: model.clone(),
        binding: name.clone(),
        version: rows::u(row.try_get("version")?)?,
        artifact: Artifact {
            uri: row.try_get("artifact_uri")?,
            sha256: row.try_get("artifact_sha256")?,
            size_bytes: rows::u(row.try_get("artifact_size")?)?,
            format: row.try_get("artifact_format")?,
        },
        generation: rows::u(row.try_get("generation")?)?,
        revision: rows::u(row.try_get("revision")?)?,
    })
}
