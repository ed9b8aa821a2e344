//! Models on the embedded store: create, read, list, update, soft delete.

use bindery_core::{
    Change, Cursor, Error, Model, ModelName, ModelUpdate, NewModel, Page, PageRequest, Result, WriteContext,
};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::json;

use crate::ops::{Audit, Sql, bump, from_json, immediate, model_name, now, record, time, to_json, u, value};

pub(crate) const MODEL_COLUMNS: &str =
    "name, description, owner, tags, created_at, created_by, updated_at, updated_by, last_version, revision";

pub(crate) fn model_row(row: &Row<'_>) -> rusqlite::Result<ModelRow> {
    Ok((
        row.get("name")?,
        row.get("description")?,
        row.get("owner")?,
        row.get("tags")?,
        row.get("created_at")?,
        row.get("created_by")?,
        row.get("updated_at")?,
        row.get("updated_by")?,
        row.get("last_version")?,
        row.get("revision")?,
    ))
}

pub(crate) type ModelRow = (String, String, String, String, i64, String, i64, String, i64, i64);

pub(crate) fn model(
    (name, description, owner, tags, created_at, created_by, updated_at, updated_by, last, revision): ModelRow,
) -> Result<Model> {
    Ok(Model {
        name: model_name(name)?,
        description,
        owner,
        tags: from_json(&tags)?,
        created_at: time(created_at),
        created_by,
        updated_at: time(updated_at),
        updated_by,
        latest_version: u(last)?,
        revision: u(revision)?,
    })
}

/// A live model's id and row.
pub(crate) fn find_model(conn: &Connection, name: &ModelName) -> Result<Option<(i64, Model)>> {
    let sql = format!("SELECT id, {MODEL_COLUMNS} FROM models WHERE name = ?1 AND deleted_at IS NULL");
    let found = conn
        .query_row(&sql, [name.as_str()], |r| Ok((r.get::<_, i64>("id")?, model_row(r)?)))
        .optional()
        .sql()?;
    found.map(|(id, row)| Ok((id, model(row)?))).transpose()
}

pub(crate) fn live_model(conn: &Connection, name: &ModelName) -> Result<(i64, Model)> {
    find_model(conn, name)?.ok_or_else(|| Error::model_not_found(name))
}

pub(crate) fn create_model(
    conn: &mut Connection,
    ctx: &WriteContext,
    new: &NewModel,
) -> Result<(Model, Change)> {
    let tx = immediate(conn)?;
    let deleted: Option<bool> = tx
        .query_row("SELECT deleted_at IS NOT NULL FROM models WHERE name = ?1", [new.name.as_str()], |r| {
            r.get(0)
        })
        .optional()
        .sql()?;
    if let Some(deleted) = deleted {
        return Err(Error::model_exists(&new.name, deleted));
    }
    let revision = bump(&tx)?;
    let at = now();
    tx.execute(
        "INSERT INTO models (name, description, owner, tags, created_at, created_by, updated_at, updated_by, revision)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?5, ?6, ?7)",
        params![new.name.as_str(), new.description, new.owner, to_json(&new.tags), at, ctx.actor, revision],
    )
    .sql()?;
    let (_, created) = live_model(&tx, &new.name)?;
    let after = value(&created);
    let audit = Audit {
        action: "model.create",
        target: format!("models/{}", new.name),
        before: None,
        after: Some(after.clone()),
    };
    let change = record(&tx, revision, ctx, ("model", new.name.as_str(), None), after, audit)?;
    tx.commit().sql()?;
    Ok((created, change))
}

pub(crate) fn get_model(conn: &Connection, name: &ModelName) -> Result<Model> {
    live_model(conn, name).map(|(_, m)| m)
}

pub(crate) fn list_models(conn: &Connection, page: &PageRequest) -> Result<Page<Model>> {
    let sql = format!(
        "SELECT {MODEL_COLUMNS} FROM models WHERE deleted_at IS NULL AND (?1 IS NULL OR name > ?1)
         ORDER BY name LIMIT ?2"
    );
    let mut stmt = conn.prepare_cached(&sql).sql()?;
    let rows = stmt
        .query_map(params![page.after_name(), i64::from(page.size) + 1], model_row)
        .sql()?
        .collect::<rusqlite::Result<Vec<_>>>()
        .sql()?;
    let models = rows.into_iter().map(model).collect::<Result<Vec<_>>>()?;
    Ok(Page::from_rows(models, page.size, |m| Cursor::Name(m.name.as_str().to_owned())))
}

pub(crate) fn update_model(
    conn: &mut Connection,
    ctx: &WriteContext,
    name: &ModelName,
    update: &ModelUpdate,
) -> Result<(Model, Option<Change>)> {
    let tx = immediate(conn)?;
    let (id, before) = live_model(&tx, name)?;
    let Some(after) = update.apply(&before)? else {
        return Ok((before, None));
    };
    let revision = bump(&tx)?;
    tx.execute(
        "UPDATE models SET description = ?2, owner = ?3, tags = ?4, updated_at = ?5, updated_by = ?6, revision = ?7
         WHERE id = ?1",
        params![id, after.description, after.owner, to_json(&after.tags), now(), ctx.actor, revision],
    )
    .sql()?;
    let (_, updated) = live_model(&tx, name)?;
    let payload = value(&updated);
    let audit = Audit {
        action: "model.update",
        target: format!("models/{name}"),
        before: Some(value(&before)),
        after: Some(payload.clone()),
    };
    let change = record(&tx, revision, ctx, ("model", name.as_str(), None), payload, audit)?;
    tx.commit().sql()?;
    Ok((updated, Some(change)))
}

pub(crate) fn delete_model(
    conn: &mut Connection,
    ctx: &WriteContext,
    name: &ModelName,
) -> Result<(u64, Change)> {
    let tx = immediate(conn)?;
    let (id, before) = live_model(&tx, name)?;
    before.check_deletable(&binding_names(&tx, id)?)?;
    let revision = bump(&tx)?;
    tx.execute(
        "UPDATE models SET deleted_at = ?2, deleted_by = ?3, revision = ?4 WHERE id = ?1",
        params![id, now(), ctx.actor, revision],
    )
    .sql()?;
    let audit = Audit {
        action: "model.delete",
        target: format!("models/{name}"),
        before: Some(value(&before)),
        after: None,
    };
    let change = record(
        &tx,
        revision,
        ctx,
        ("model", name.as_str(), None),
        json!({ "name": name, "deleted": true }),
        audit,
    )?;
    tx.commit().sql()?;
    Ok((u(revision)?, change))
}

pub(crate) fn binding_names(conn: &Connection, model_id: i64) -> Result<Vec<String>> {
    let mut stmt =
        conn.prepare_cached("SELECT name FROM bindings WHERE model_id = ?1 ORDER BY name").sql()?;
    stmt.query_map([model_id], |r| r.get(0)).sql()?.collect::<rusqlite::Result<Vec<String>>>().sql()
}
