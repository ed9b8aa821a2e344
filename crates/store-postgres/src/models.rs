//! Models: create, read, list, update, soft delete.

use bindery_core::{Cursor, Error, Model, ModelName, ModelUpdate, NewModel, Page, PageRequest, WriteContext};
use tokio_postgres::types::Json;

use crate::error::StoreResult;
use crate::write::{self, Audit, Change};
use crate::{PgStore, rows};

const SELECT_EXISTING: &str = "SELECT deleted_at IS NOT NULL AS deleted FROM models WHERE name = $1";

/// Locks a live model's row; every write to a model or its versions and bindings starts here.
pub(crate) const LOCK_MODEL: &str = "SELECT id FROM models WHERE name = $1 AND deleted_at IS NULL FOR UPDATE";

pub(crate) fn target(name: &ModelName) -> String {
    format!("models/{name}")
}

/// Locks the model row and returns its id, or `NotFound`.
pub(crate) async fn lock(tx: &deadpool_postgres::Transaction<'_>, name: &ModelName) -> StoreResult<i64> {
    let stmt = tx.prepare_cached(LOCK_MODEL).await?;
    let row = tx.query_opt(&stmt, &[&name.as_str()]).await?.ok_or_else(|| Error::model_not_found(name))?;
    Ok(row.try_get(0)?)
}

/// A live model's id (no lock), or `NotFound`.
pub(crate) async fn live_id(
    client: &impl deadpool_postgres::GenericClient,
    name: &ModelName,
) -> StoreResult<i64> {
    let stmt = client.prepare_cached("SELECT id FROM models WHERE name = $1 AND deleted_at IS NULL").await?;
    let row =
        client.query_opt(&stmt, &[&name.as_str()]).await?.ok_or_else(|| Error::model_not_found(name))?;
    Ok(row.try_get(0)?)
}

fn json(model: &Model) -> serde_json::Value {
    serde_json::to_value(model).unwrap_or_default()
}

pub(crate) async fn create(store: &PgStore, ctx: &WriteContext, new: &NewModel) -> StoreResult<Model> {
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    let stmt = tx.prepare_cached(SELECT_EXISTING).await?;
    if let Some(row) = tx.query_opt(&stmt, &[&new.name.as_str()]).await? {
        return Err(Error::model_exists(&new.name, row.try_get("deleted")?).into());
    }
    let bump = write::bump_revision(&tx).await?;
    let revision = bump.revision;
    let sql = format!(
        "INSERT INTO models (name, description, owner, tags, created_at, created_by, updated_at, updated_by, revision)
         VALUES ($1, $2, $3, $4, now(), $5, now(), $5, $6) RETURNING {}",
        rows::MODEL_COLUMNS
    );
    let stmt = tx.prepare_cached(&sql).await?;
    let inserted = tx
        .query_one(
            &stmt,
            &[&new.name.as_str(), &new.description, &new.owner, &Json(&new.tags), &ctx.actor, &revision],
        )
        .await;
    let row = match inserted {
        Ok(row) => row,
        // A concurrent create of the same name committed between our check and insert.
        Err(e) => {
            let e = crate::error::StoreError::from(e);
            if e.unique_violation().is_some() {
                return Err(Error::model_exists(&new.name, false).into());
            }
            return Err(e);
        }
    };
    let model = rows::model(&row)?;
    let after = json(&model);
    write::record(
        &tx,
        &bump,
        ctx,
        Change { kind: "model", model: new.name.as_str(), binding: None, payload: after.clone() },
        Audit { action: "model.create", target: target(&new.name), before: None, after: Some(after) },
    )
    .await?;
    tx.commit().await?;
    Ok(model)
}

pub(crate) async fn get(store: &PgStore, name: &ModelName) -> StoreResult<Model> {
    let client = store.client().await?;
    let sql = format!("SELECT {} FROM models WHERE name = $1 AND deleted_at IS NULL", rows::MODEL_COLUMNS);
    let stmt = client.prepare_cached(&sql).await?;
    let row =
        client.query_opt(&stmt, &[&name.as_str()]).await?.ok_or_else(|| Error::model_not_found(name))?;
    rows::model(&row)
}

pub(crate) async fn list(store: &PgStore, page: &PageRequest) -> StoreResult<Page<Model>> {
    let client = store.client().await?;
    let sql = format!(
        "SELECT {} FROM models WHERE deleted_at IS NULL AND ($1::text IS NULL OR name > $1)
         ORDER BY name LIMIT $2",
        rows::MODEL_COLUMNS
    );
    let stmt = client.prepare_cached(&sql).await?;
    let limit = i64::from(page.size) + 1;
    let found = client.query(&stmt, &[&page.after_name(), &limit]).await?;
    let models = found.iter().map(rows::model).collect::<StoreResult<Vec<_>>>()?;
    Ok(Page::from_rows(models, page.size, |m| Cursor::Name(m.name.as_str().to_owned())))
}

pub(crate) async fn update(
    store: &PgStore,
    ctx: &WriteContext,
    name: &ModelName,
    update: &ModelUpdate,
) -> StoreResult<Model> {
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    let sql = format!(
        "SELECT id, {} FROM models WHERE name = $1 AND deleted_at IS NULL FOR UPDATE",
        rows::MODEL_COLUMNS
    );
    let stmt = tx.prepare_cached(&sql).await?;
    let row = tx.query_opt(&stmt, &[&name.as_str()]).await?.ok_or_else(|| Error::model_not_found(name))?;
    let id: i64 = row.try_get("id")?;
    let before = rows::model(&row)?;
    let Some(after) = update.apply(&before)? else {
        return Ok(before); // nothing to change: no revision, no audit row
    };
    let bump = write::bump_revision(&tx).await?;
    let revision = bump.revision;
    let sql = format!(
        "UPDATE models SET description = $2, owner = $3, tags = $4, updated_at = now(), updated_by = $5,
         revision = $6 WHERE id = $1 RETURNING {}",
        rows::MODEL_COLUMNS
    );
    let stmt = tx.prepare_cached(&sql).await?;
    let row = tx
        .query_one(&stmt, &[&id, &after.description, &after.owner, &Json(&after.tags), &ctx.actor, &revision])
        .await?;
    let model = rows::model(&row)?;
    let after_json = json(&model);
    write::record(
        &tx,
        &bump,
        ctx,
        Change { kind: "model", model: name.as_str(), binding: None, payload: after_json.clone() },
        Audit {
            action: "model.update",
            target: target(name),
            before: Some(json(&before)),
            after: Some(after_json),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(model)
}

pub(crate) async fn delete(store: &PgStore, ctx: &WriteContext, name: &ModelName) -> StoreResult<u64> {
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    let sql = format!(
        "SELECT id, {} FROM models WHERE name = $1 AND deleted_at IS NULL FOR UPDATE",
        rows::MODEL_COLUMNS
    );
    let stmt = tx.prepare_cached(&sql).await?;
    let row = tx.query_opt(&stmt, &[&name.as_str()]).await?.ok_or_else(|| Error::model_not_found(name))?;
    let id: i64 = row.try_get("id")?;
    let before = rows::model(&row)?;
    let stmt = tx.prepare_cached("SELECT name FROM bindings WHERE model_id = $1 ORDER BY name").await?;
    let bound: Vec<String> =
        tx.query(&stmt, &[&id]).await?.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?;
    before.check_deletable(&bound)?;
    let bump = write::bump_revision(&tx).await?;
    let revision = bump.revision;
    let stmt = tx
        .prepare_cached("UPDATE models SET deleted_at = now(), deleted_by = $2, revision = $3 WHERE id = $1")
        .await?;
    tx.execute(&stmt, &[&id, &ctx.actor, &revision]).await?;
    write::record(
        &tx,
        &bump,
        ctx,
        Change {
            kind: "model",
            model: name.as_str(),
            binding: None,
            payload: serde_json::json!({ "name": name, "deleted": true }),
        },
        Audit { action: "model.delete", target: target(name), before: Some(json(&before)), after: None },
    )
    .await?;
    tx.commit().await?;
    rows::u(revision)
}
