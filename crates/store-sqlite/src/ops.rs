//! The store operations, synchronous, on the store's own thread. Each write is one
//! `BEGIN IMMEDIATE` transaction with the same rules as the PostgreSQL store: the revision bumped
//! once, a change-log row, an audit row, all or nothing.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bindery_core::{
    Artifact, AuditRecord, Binding, BindingAction, BindingChange, BindingHistoryEntry, BindingName,
    BindingTarget, BindingWrite, BindingsPayload, BindingsWrite, Change, Cursor, DeleteBinding, Error,
    Lineage, Model, ModelName, ModelUpdate, ModelVersion, NewModel, NewVersion, Page, PageRequest,
    Registered, Resolved, Result, RollbackBinding, SetBindings, Signature, Snapshot, VersionKey,
    VersionStatus, VersionUpdate, WriteContext, check_generation,
};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

#[allow(clippy::needless_pass_by_value)] // shaped for `.map_err(sql)`
pub(crate) fn sql(e: rusqlite::Error) -> Error {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            Error::Unavailable("the embedded database is busy; retry".into())
        }
        Some(
            rusqlite::ErrorCode::DiskFull
            | rusqlite::ErrorCode::CannotOpen
            | rusqlite::ErrorCode::SystemIoFailure,
        ) => {
            tracing::error!(error = %e, "embedded database unavailable");
            Error::Unavailable(format!("the embedded database is unavailable ({e})"))
        }
        _ => {
            tracing::error!(error = %e, "embedded database error");
            Error::Internal("embedded database error".into())
        }
    }
}

pub(crate) trait Sql<T> {
    fn sql(self) -> Result<T>;
}

impl<T> Sql<T> for rusqlite::Result<T> {
    fn sql(self) -> Result<T> {
        self.map_err(sql)
    }
}

pub(crate) fn corrupt(what: impl std::fmt::Display) -> Error {
    Error::Internal(format!("unexpected stored data: {what}"))
}

pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

pub(crate) fn time(micros: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(u64::try_from(micros).unwrap_or(0))
}

pub(crate) fn u(v: i64) -> Result<u64> {
    u64::try_from(v).map_err(|_| corrupt(format!("negative counter {v}")))
}

pub(crate) fn i(v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| Error::InvalidArgument(format!("{v} is out of range")))
}

pub(crate) fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

pub(crate) fn from_json<T: DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(corrupt)
}

fn value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or_default()
}

pub(crate) fn model_name(text: String) -> Result<ModelName> {
    ModelName::parse("model", text).map_err(corrupt)
}

fn binding_name(text: String) -> Result<BindingName> {
    BindingName::parse("binding", text).map_err(corrupt)
}

// ---------------------------------------------------------------------------------------------
// The shared half of every write

pub(crate) fn bump(tx: &Transaction<'_>) -> Result<i64> {
    tx.query_row("UPDATE registry_state SET revision = revision + 1 RETURNING revision", [], |r| r.get(0))
        .sql()
}

pub(crate) use bindery_core::AuditEntry as Audit;

/// Appends `audit` at `revision` to the hash chain (the write transaction is the global lock).
pub(crate) fn append_audit(
    tx: &Transaction<'_>,
    revision: i64,
    ctx: &WriteContext,
    audit: Audit,
) -> Result<()> {
    let prev: String = tx
        .query_row("SELECT COALESCE(hash, '') FROM audit_log ORDER BY id DESC LIMIT 1", [], |r| r.get(0))
        .optional()
        .sql()?
        .unwrap_or_default();
    let record = AuditRecord::new(u(revision)?, ctx, audit);
    let hash = record.chain_hash(&prev);
    tx.execute(
        "INSERT INTO audit_log (revision, actor, action, target, before, after, request_id, trace_id, created_at,
             prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            revision,
            record.actor,
            record.action,
            record.target,
            record.before.as_ref().map(Value::to_string),
            record.after.as_ref().map(Value::to_string),
            record.request_id,
            record.trace_id,
            record.time_micros(),
            prev,
            hash
        ],
    )
    .sql()?;
    Ok(())
}

/// Appends the change-log and audit rows; returns the change for the in-process feed. `model` is
/// empty for access changes.
pub(crate) fn record(
    tx: &Transaction<'_>,
    revision: i64,
    ctx: &WriteContext,
    (kind, model, binding): (&str, &str, Option<&str>),
    payload: Value,
    audit: Audit,
) -> Result<Change> {
    tx.execute(
        "INSERT INTO changes (revision, kind, model, binding, payload, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![revision, kind, model, binding, payload.to_string(), now()],
    )
    .sql()?;
    append_audit(tx, revision, ctx, audit)?;
    Change::decode(u(revision)?, kind, model, payload).ok_or_else(|| corrupt("undecodable change"))
}

pub(crate) fn immediate(conn: &mut Connection) -> Result<Transaction<'_>> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate).sql()
}

// ---------------------------------------------------------------------------------------------
// Models

const MODEL_COLUMNS: &str =
    "name, description, owner, tags, created_at, created_by, updated_at, updated_by, last_version, revision";

fn model_row(row: &Row<'_>) -> rusqlite::Result<ModelRow> {
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

type ModelRow = (String, String, String, String, i64, String, i64, String, i64, i64);

fn model(
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

fn binding_names(conn: &Connection, model_id: i64) -> Result<Vec<String>> {
    let mut stmt =
        conn.prepare_cached("SELECT name FROM bindings WHERE model_id = ?1 ORDER BY name").sql()?;
    stmt.query_map([model_id], |r| r.get(0)).sql()?.collect::<rusqlite::Result<Vec<String>>>().sql()
}

// ---------------------------------------------------------------------------------------------
// Versions

const VERSION_COLUMNS: &str = "m.name AS model_name, v.version, v.status, v.artifact_uri, v.artifact_sha256, \
     v.artifact_size, v.artifact_format, v.artifact_verification, v.params, v.metrics, v.tags, v.lineage, v.signature_inputs, \
     v.signature_outputs, v.description, v.created_at, v.created_by, v.updated_at, v.updated_by, \
     COALESCE(v.request_id, '') AS request_id, v.revision, v.model_id";

/// The `artifact_*` columns as read from a row: uri, sha256, size, format, verification.
type ArtifactRow = (String, String, i64, String, String);

fn artifact(row: &Row<'_>) -> rusqlite::Result<ArtifactRow> {
    Ok((
        row.get("artifact_uri")?,
        row.get("artifact_sha256")?,
        row.get("artifact_size")?,
        row.get("artifact_format")?,
        row.get("artifact_verification")?,
    ))
}

fn to_artifact((uri, sha256, size, format, verification): ArtifactRow) -> Result<Artifact> {
    Artifact { uri, sha256, size_bytes: u(size)?, format, ..Artifact::default() }
        .with_verification_json(from_json(&verification)?)
}

fn version_from(conn: &Connection, row: &Row<'_>) -> Result<ModelVersion> {
    let get = |e: rusqlite::Error| sql(e);
    let status: String = row.get("status").map_err(get)?;
    let number: i64 = row.get("version").map_err(get)?;
    let model_id: i64 = row.get("model_id").map_err(get)?;
    let mut stmt = conn
        .prepare_cached("SELECT name FROM bindings WHERE model_id = ?1 AND version = ?2 ORDER BY name")
        .sql()?;
    let bindings = stmt
        .query_map([model_id, number], |r| r.get(0))
        .sql()?
        .collect::<rusqlite::Result<Vec<String>>>()
        .sql()?;
    Ok(ModelVersion {
        model_name: model_name(row.get("model_name").map_err(get)?)?,
        version: u(number)?,
        status: VersionStatus::parse(&status).ok_or_else(|| corrupt(format!("status {status:?}")))?,
        artifact: to_artifact(artifact(row).map_err(get)?)?,
        params: from_json::<BTreeMap<String, String>>(&row.get::<_, String>("params").map_err(get)?)?,
        metrics: from_json::<BTreeMap<String, f64>>(&row.get::<_, String>("metrics").map_err(get)?)?,
        tags: from_json::<BTreeMap<String, String>>(&row.get::<_, String>("tags").map_err(get)?)?,
        lineage: from_json::<Lineage>(&row.get::<_, String>("lineage").map_err(get)?)?,
        signature: Signature {
            inputs_json: row.get("signature_inputs").map_err(get)?,
            outputs_json: row.get("signature_outputs").map_err(get)?,
        },
        description: row.get("description").map_err(get)?,
        created_at: time(row.get("created_at").map_err(get)?),
        created_by: row.get("created_by").map_err(get)?,
        updated_at: time(row.get("updated_at").map_err(get)?),
        updated_by: row.get("updated_by").map_err(get)?,
        request_id: row.get("request_id").map_err(get)?,
        bindings,
        revision: u(row.get("revision").map_err(get)?)?,
    })
}

fn find_version(conn: &Connection, model: &ModelName, version: i64) -> Result<Option<ModelVersion>> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM versions v JOIN models m ON m.id = v.model_id
         WHERE m.name = ?1 AND m.deleted_at IS NULL AND v.version = ?2"
    );
    let mut stmt = conn.prepare_cached(&sql).sql()?;
    let mut rows = stmt.query(params![model.as_str(), version]).sql()?;
    match rows.next().sql()? {
        Some(row) => Ok(Some(version_from(conn, row)?)),
        None => Ok(None),
    }
}

fn existing_version(conn: &Connection, key: &VersionKey) -> Result<ModelVersion> {
    find_version(conn, &key.model, i(key.version)?)?
        .ok_or_else(|| Error::version_not_found(&key.model, key.version))
}

pub(crate) fn register_version(
    conn: &mut Connection,
    ctx: &WriteContext,
    new: &NewVersion,
) -> Result<(Registered, Option<Change>)> {
    let tx = immediate(conn)?;
    let (model_id, model) = find_model(&tx, &new.model)?.ok_or_else(|| {
        Error::NotFound(format!("model '{}' not found; create it with CreateModel first", new.model))
    })?;
    if let Some(request_id) = &new.request_id {
        let previous: Option<(i64, String)> = tx
            .query_row(
                "SELECT version, request_payload FROM versions WHERE model_id = ?1 AND request_id = ?2",
                params![model_id, request_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .sql()?;
        if let Some((version, payload)) = previous {
            new.check_retry(&from_json::<Value>(&payload)?, u(version)?)?;
            let existing =
                find_version(&tx, &new.model, version)?.ok_or_else(|| corrupt("version vanished"))?;
            return Ok((Registered { revision: existing.revision, version: existing, created: false }, None));
        }
    }
    for (n, parent) in new.lineage.parent_versions.iter().enumerate() {
        if find_version(&tx, &parent.model_name, i(parent.version)?)?.is_none() {
            return Err(Error::NotFound(format!(
                "lineage.parent_versions[{n}]: version {} of model '{}' not found",
                parent.version, parent.model_name
            )));
        }
    }
    let number = i(model.latest_version)? + 1;
    if let Some(session) = &new.upload_session_id {
        crate::sessions::consume(&tx, model_id, &new.model, session, number)?;
    }
    let artifact = new.recorded_artifact();
    let revision = bump(&tx)?;
    let at = now();
    tx.execute("UPDATE models SET last_version = ?2 WHERE id = ?1", params![model_id, number]).sql()?;
    tx.execute(
        "INSERT INTO versions (model_id, version, status, request_id, request_payload, artifact_uri, artifact_sha256,
             artifact_size, artifact_format, params, metrics, tags, lineage, signature_inputs, signature_outputs,
             description, created_at, created_by, updated_at, updated_by, revision, artifact_verification)
         VALUES (?1, ?2, 'READY', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?16, ?17, ?18, ?19)",
        params![
            model_id,
            number,
            new.request_id,
            new.payload_json().to_string(),
            artifact.uri,
            artifact.sha256,
            i(artifact.size_bytes)?,
            artifact.format,
            to_json(&new.params),
            to_json(&new.metrics),
            to_json(&new.tags),
            to_json(&new.lineage),
            new.signature.inputs_json,
            new.signature.outputs_json,
            new.description,
            at,
            ctx.actor,
            revision,
            artifact.verification_json().to_string()
        ],
    )
    .sql()?;
    let version =
        find_version(&tx, &new.model, number)?.ok_or_else(|| corrupt("inserted version unreadable"))?;
    let payload = value(&version);
    let audit = Audit {
        action: "version.register",
        target: format!("models/{}/versions/{number}", new.model),
        before: None,
        after: Some(payload.clone()),
    };
    let change = record(&tx, revision, ctx, ("version", new.model.as_str(), None), payload, audit)?;
    tx.commit().sql()?;
    Ok((Registered { version, revision: u(revision)?, created: true }, Some(change)))
}

pub(crate) fn get_version(conn: &Connection, key: &VersionKey) -> Result<ModelVersion> {
    existing_version(conn, key)
}

pub(crate) fn list_versions(
    conn: &Connection,
    model: &ModelName,
    page: &PageRequest,
) -> Result<Page<ModelVersion>> {
    let (model_id, _) = live_model(conn, model)?;
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM versions v JOIN models m ON m.id = v.model_id
         WHERE v.model_id = ?1 AND (?2 IS NULL OR v.version < ?2) ORDER BY v.version DESC LIMIT ?3"
    );
    let mut stmt = conn.prepare_cached(&sql).sql()?;
    let after = page.after_number().map(i).transpose()?;
    let mut rows = stmt.query(params![model_id, after, i64::from(page.size) + 1]).sql()?;
    let mut versions = Vec::new();
    while let Some(row) = rows.next().sql()? {
        versions.push(version_from(conn, row)?);
    }
    Ok(Page::from_rows(versions, page.size, |v| Cursor::Number(v.version)))
}

fn version_write(
    tx: Transaction<'_>,
    ctx: &WriteContext,
    key: &VersionKey,
    before: &ModelVersion,
    action: &'static str,
    revision: i64,
) -> Result<(ModelVersion, Option<Change>)> {
    let version = existing_version(&tx, key)?;
    let payload = value(&version);
    let audit = Audit {
        action,
        target: format!("models/{}/versions/{}", key.model, key.version),
        before: Some(value(before)),
        after: Some(payload.clone()),
    };
    let change = record(&tx, revision, ctx, ("version", key.model.as_str(), None), payload, audit)?;
    tx.commit().sql()?;
    Ok((version, Some(change)))
}

pub(crate) fn update_version(
    conn: &mut Connection,
    ctx: &WriteContext,
    key: &VersionKey,
    update: &VersionUpdate,
) -> Result<(ModelVersion, Option<Change>)> {
    let tx = immediate(conn)?;
    let (model_id, _) = live_model(&tx, &key.model)?;
    let before = existing_version(&tx, key)?;
    let mut after = before.clone();
    update.apply(&mut after)?;
    if after == before {
        return Ok((before, None));
    }
    let revision = bump(&tx)?;
    tx.execute(
        "UPDATE versions SET description = ?3, tags = ?4, metrics = ?5, updated_at = ?6, updated_by = ?7, revision = ?8
         WHERE model_id = ?1 AND version = ?2",
        params![model_id, i(key.version)?, after.description, to_json(&after.tags), to_json(&after.metrics), now(), ctx.actor, revision],
    )
    .sql()?;
    version_write(tx, ctx, key, &before, "version.update", revision)
}

/// Archives (`ARCHIVED`) or soft-deletes (`DELETED`, stamping `deleted_at`) a version.
pub(crate) fn set_version_status(
    conn: &mut Connection,
    ctx: &WriteContext,
    key: &VersionKey,
    status: VersionStatus,
) -> Result<(ModelVersion, Option<Change>)> {
    let tx = immediate(conn)?;
    let (model_id, _) = live_model(&tx, &key.model)?;
    let before = existing_version(&tx, key)?;
    let (changes, action) = match status {
        VersionStatus::Deleted => (before.check_deletable()?, "version.delete"),
        _ => (before.check_archivable()?, "version.archive"),
    };
    if !changes {
        return Ok((before, None));
    }
    let revision = bump(&tx)?;
    let at = now();
    let deleted_at = (status == VersionStatus::Deleted).then_some(at);
    tx.execute(
        "UPDATE versions SET status = ?6, updated_at = ?3, updated_by = ?4, revision = ?5, deleted_at = ?7
         WHERE model_id = ?1 AND version = ?2",
        params![model_id, i(key.version)?, at, ctx.actor, revision, status.as_str(), deleted_at],
    )
    .sql()?;
    version_write(tx, ctx, key, &before, action, revision)
}

// ---------------------------------------------------------------------------------------------
// Bindings

const BINDING_COLUMNS: &str = "m.name AS model_name, b.name AS binding_name, b.version, b.generation, \
     b.updated_at, b.updated_by, b.revision";

fn binding_from(row: &Row<'_>) -> rusqlite::Result<(String, String, i64, i64, i64, String, i64)> {
    Ok((
        row.get("model_name")?,
        row.get("binding_name")?,
        row.get("version")?,
        row.get("generation")?,
        row.get("updated_at")?,
        row.get("updated_by")?,
        row.get("revision")?,
    ))
}

fn binding(
    (model, name, version, generation, updated_at, updated_by, revision): (
        String,
        String,
        i64,
        i64,
        i64,
        String,
        i64,
    ),
) -> Result<Binding> {
    Ok(Binding {
        model_name: model_name(model)?,
        name: binding_name(name)?,
        version: u(version)?,
        generation: u(generation)?,
        updated_at: time(updated_at),
        updated_by,
        revision: u(revision)?,
    })
}

fn bindings_of(conn: &Connection, model_id: i64) -> Result<Vec<Binding>> {
    let sql = format!(
        "SELECT {BINDING_COLUMNS} FROM bindings b JOIN models m ON m.id = b.model_id WHERE b.model_id = ?1 ORDER BY b.name"
    );
    let mut stmt = conn.prepare_cached(&sql).sql()?;
    let rows = stmt.query_map([model_id], binding_from).sql()?.collect::<rusqlite::Result<Vec<_>>>().sql()?;
    rows.into_iter().map(binding).collect()
}

/// `(version, generation)` of a binding that exists.
fn current(conn: &Connection, model_id: i64, name: &BindingName) -> Result<Option<(u64, u64)>> {
    let row: Option<(i64, i64)> = conn
        .query_row(
            "SELECT version, generation FROM bindings WHERE model_id = ?1 AND name = ?2",
            params![model_id, name.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .sql()?;
    row.map(|(v, g)| Ok((u(v)?, u(g)?))).transpose()
}

fn bindable(conn: &Connection, model_id: i64, model: &ModelName, version: u64) -> Result<Artifact> {
    let row: Option<(String, ArtifactRow)> = conn
        .query_row(
            "SELECT status, artifact_uri, artifact_sha256, artifact_size, artifact_format, artifact_verification FROM versions
             WHERE model_id = ?1 AND version = ?2",
            params![model_id, i(version)?],
            |r| Ok((r.get("status")?, artifact(r)?)),
        )
        .optional()
        .sql()?;
    let (status, artifact) = row.ok_or_else(|| Error::version_not_found(model, version))?;
    if status != VersionStatus::Ready.as_str() {
        return Err(Error::FailedPrecondition(format!(
            "version {version} of model '{model}' is {status}; only READY versions can be bound"
        )));
    }
    to_artifact(artifact)
}

struct Rebind<'a> {
    name: &'a BindingName,
    before: Option<(u64, u64)>,
    after: Option<(u64, Artifact)>,
}

fn rebind(
    tx: &Transaction<'_>,
    ctx: &WriteContext,
    (model_id, model): (i64, &ModelName),
    changes: &[Rebind<'_>],
    action: BindingAction,
    reason: &str,
) -> Result<(i64, Change)> {
    let revision = bump(tx)?;
    let at = now();
    let mut payload = Vec::with_capacity(changes.len());
    let (mut before_audit, mut after_audit) = (serde_json::Map::new(), serde_json::Map::new());
    for change in changes {
        let name = change.name;
        let generation = match change.before {
            Some((_, g)) => g + 1,
            None => {
                let max: i64 = tx
                    .query_row(
                        "SELECT COALESCE(max(generation), 0) FROM binding_history WHERE model_id = ?1 AND name = ?2",
                        params![model_id, name.as_str()],
                        |r| r.get(0),
                    )
                    .sql()?;
                u(max)? + 1
            }
        };
        match &change.after {
            Some((version, _)) => {
                tx.execute(
                    "INSERT INTO bindings (model_id, name, version, generation, updated_at, updated_by, revision)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT (model_id, name) DO UPDATE SET version = excluded.version,
                         generation = excluded.generation, updated_at = excluded.updated_at,
                         updated_by = excluded.updated_by, revision = excluded.revision",
                    params![model_id, name.as_str(), i(*version)?, i(generation)?, at, ctx.actor, revision],
                )
                .sql()?;
            }
            None => {
                tx.execute(
                    "DELETE FROM bindings WHERE model_id = ?1 AND name = ?2",
                    params![model_id, name.as_str()],
                )
                .sql()?;
            }
        }
        let before_version = change.before.map(|(v, _)| i(v)).transpose()?;
        let after_version = change.after.as_ref().map(|(v, _)| i(*v)).transpose()?;
        tx.execute(
            "INSERT INTO binding_history (model_id, name, generation, action, before_version, after_version, revision,
                 actor, reason, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![model_id, name.as_str(), i(generation)?, action.as_str(), before_version, after_version, revision, ctx.actor, reason, at],
        )
        .sql()?;
        if let Some(v) = before_version {
            before_audit.insert(
                name.to_string(),
                json!({ "version": v, "generation": generation - 1, "reason": reason }),
            );
        }
        if let Some(v) = after_version {
            after_audit.insert(
                name.to_string(),
                json!({ "version": v, "generation": generation, "reason": reason }),
            );
        }
        payload.push(BindingChange {
            model_name: model.clone(),
            binding: name.clone(),
            generation,
            target: change.after.clone().map(|(version, artifact)| BindingTarget { version, artifact }),
        });
    }
    let names: Vec<&str> = changes.iter().map(|c| c.name.as_str()).collect();
    let single = names.len() == 1;
    let target = if single {
        format!("models/{model}/bindings/{}", names[0])
    } else {
        format!("models/{model}/bindings/{{{}}}", names.join(","))
    };
    let state = |m: serde_json::Map<String, Value>| match (m.is_empty(), single) {
        (true, _) => None,
        (false, true) => m.into_iter().next().map(|(_, v)| v),
        (false, false) => Some(Value::Object(m)),
    };
    let audit_action = match action {
        BindingAction::Set => "binding.set",
        BindingAction::Delete => "binding.delete",
        BindingAction::Rollback => "binding.rollback",
    };
    let audit =
        Audit { action: audit_action, target, before: state(before_audit), after: state(after_audit) };
    let change = record(
        tx,
        revision,
        ctx,
        ("binding", model.as_str(), single.then(|| names[0])),
        value(&BindingsPayload { bindings: payload }),
        audit,
    )?;
    Ok((revision, change))
}

pub(crate) fn set_bindings(
    conn: &mut Connection,
    ctx: &WriteContext,
    req: &SetBindings,
) -> Result<(BindingsWrite, Option<Change>)> {
    let tx = immediate(conn)?;
    let (model_id, _) = live_model(&tx, &req.model)?;
    let mut changes = Vec::with_capacity(req.bindings.len());
    for a in &req.bindings {
        let before = current(&tx, model_id, &a.name)?;
        check_generation(a.expected_generation, before.map_or(0, |(_, g)| g), &req.model, &a.name)?;
        let artifact = bindable(&tx, model_id, &req.model, a.version)?;
        if before.is_some_and(|(v, _)| v == a.version) {
            continue;
        }
        changes.push(Rebind { name: &a.name, before, after: Some((a.version, artifact)) });
    }
    let requested = |b: &Binding| req.bindings.iter().any(|a| a.name == b.name);
    if changes.is_empty() {
        let bindings: Vec<Binding> = bindings_of(&tx, model_id)?.into_iter().filter(requested).collect();
        let revision = bindings.iter().map(|b| b.revision).max().unwrap_or_default();
        return Ok((BindingsWrite { bindings, revision }, None));
    }
    let (revision, change) =
        rebind(&tx, ctx, (model_id, &req.model), &changes, BindingAction::Set, &req.reason)?;
    let bindings = bindings_of(&tx, model_id)?.into_iter().filter(requested).collect();
    tx.commit().sql()?;
    Ok((BindingsWrite { bindings, revision: u(revision)? }, Some(change)))
}

pub(crate) fn delete_binding(
    conn: &mut Connection,
    ctx: &WriteContext,
    req: &DeleteBinding,
) -> Result<(u64, Change)> {
    let tx = immediate(conn)?;
    let (model_id, _) = live_model(&tx, &req.model)?;
    let before = current(&tx, model_id, &req.name)?;
    check_generation(req.expected_generation, before.map_or(0, |(_, g)| g), &req.model, &req.name)?;
    if before.is_none() {
        return Err(Error::binding_not_found(&req.model, &req.name));
    }
    let change = Rebind { name: &req.name, before, after: None };
    let (revision, change) =
        rebind(&tx, ctx, (model_id, &req.model), &[change], BindingAction::Delete, &req.reason)?;
    tx.commit().sql()?;
    Ok((u(revision)?, change))
}

pub(crate) fn rollback_binding(
    conn: &mut Connection,
    ctx: &WriteContext,
    req: &RollbackBinding,
) -> Result<(BindingWrite, Change)> {
    let tx = immediate(conn)?;
    let (model, name) = (&req.model, &req.name);
    let (model_id, _) = live_model(&tx, model)?;
    let before = current(&tx, model_id, name)?;
    check_generation(req.expected_generation, before.map_or(0, |(_, g)| g), model, name)?;
    let target: Option<i64> = match req.to_generation {
        Some(generation) => tx
            .query_row(
                "SELECT after_version FROM binding_history WHERE model_id = ?1 AND name = ?2 AND generation = ?3",
                params![model_id, name.as_str(), i(generation)?],
                |r| r.get(0),
            )
            .optional()
            .sql()?
            .ok_or_else(|| {
                Error::NotFound(format!("binding '{name}' of model '{model}' has no generation {generation} in its history"))
            })
            .and_then(|v: Option<i64>| {
                v.map(Some).ok_or_else(|| {
                    Error::FailedPrecondition(format!(
                        "generation {generation} of binding '{name}' of model '{model}' deleted the binding; \
                         there is no target to roll back to"
                    ))
                })
            })?,
        None => tx
            .query_row(
                "SELECT before_version FROM binding_history WHERE model_id = ?1 AND name = ?2
                 ORDER BY generation DESC LIMIT 1",
                params![model_id, name.as_str()],
                |r| r.get(0),
            )
            .optional()
            .sql()?
            .ok_or_else(|| Error::binding_not_found(model, name))?,
    };
    let target = u(target.ok_or_else(|| {
        Error::FailedPrecondition(format!(
            "binding '{name}' of model '{model}' had no target before its latest change; nothing to roll back to"
        ))
    })?)?;
    if before.is_some_and(|(v, _)| v == target) {
        return Err(Error::FailedPrecondition(format!(
            "binding '{name}' of model '{model}' is already bound to version {target}; nothing to roll back"
        )));
    }
    let artifact = bindable(&tx, model_id, model, target)?;
    let change = Rebind { name, before, after: Some((target, artifact)) };
    let (revision, change) =
        rebind(&tx, ctx, (model_id, model), &[change], BindingAction::Rollback, &req.reason)?;
    let binding = bindings_of(&tx, model_id)?
        .into_iter()
        .find(|b| &b.name == name)
        .ok_or_else(|| corrupt("rolled back binding missing"))?;
    tx.commit().sql()?;
    Ok((BindingWrite { binding, revision: u(revision)? }, change))
}

pub(crate) fn list_bindings(conn: &Connection, model: &ModelName) -> Result<Vec<Binding>> {
    let (model_id, _) = live_model(conn, model)?;
    bindings_of(conn, model_id)
}

pub(crate) fn binding_history(
    conn: &Connection,
    model: &ModelName,
    name: &BindingName,
    page: &PageRequest,
) -> Result<Page<BindingHistoryEntry>> {
    let (model_id, _) = live_model(conn, model)?;
    let mut stmt = conn
        .prepare_cached(
            "SELECT generation, action, before_version, after_version, revision, actor, reason, created_at
             FROM binding_history WHERE model_id = ?1 AND name = ?2 AND (?3 IS NULL OR generation < ?3)
             ORDER BY generation DESC LIMIT ?4",
        )
        .sql()?;
    let after = page.after_number().map(i).transpose()?;
    type HistoryRow = (i64, String, Option<i64>, Option<i64>, i64, String, String, i64);
    let rows = stmt
        .query_map(params![model_id, name.as_str(), after, i64::from(page.size) + 1], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?))
        })
        .sql()?
        .collect::<rusqlite::Result<Vec<HistoryRow>>>()
        .sql()?;
    let entries = rows
        .into_iter()
        .map(|(generation, action, before, after, revision, actor, reason, at)| {
            Ok(BindingHistoryEntry {
                model_name: model.clone(),
                binding: name.clone(),
                generation: u(generation)?,
                action: BindingAction::parse(&action).ok_or_else(|| corrupt(format!("action {action:?}")))?,
                before_version: before.map(u).transpose()?,
                after_version: after.map(u).transpose()?,
                revision: u(revision)?,
                actor,
                reason,
                time: time(at),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Page::from_rows(entries, page.size, |e| Cursor::Number(e.generation)))
}

pub(crate) fn revision(conn: &Connection) -> Result<u64> {
    u(conn.query_row("SELECT revision FROM registry_state", [], |r| r.get(0)).sql()?)
}

pub(crate) fn resolve(conn: &Connection, model: &ModelName, name: &BindingName) -> Result<Resolved> {
    let row: Option<(i64, i64, ArtifactRow)> = conn
        .query_row(
            "SELECT b.version, b.generation, v.artifact_uri, v.artifact_sha256, v.artifact_size, v.artifact_format,
                    v.artifact_verification
             FROM models m JOIN bindings b ON b.model_id = m.id
             JOIN versions v ON v.model_id = b.model_id AND v.version = b.version
             WHERE m.name = ?1 AND m.deleted_at IS NULL AND b.name = ?2",
            params![model.as_str(), name.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?, artifact(r)?)),
        )
        .optional()
        .sql()?;
    let Some((version, generation, artifact)) = row else {
        live_model(conn, model)?;
        return Err(Error::binding_not_found(model, name));
    };
    Ok(Resolved {
        model_name: model.clone(),
        binding: name.clone(),
        version: u(version)?,
        artifact: to_artifact(artifact)?,
        generation: u(generation)?,
        revision: revision(conn)?,
    })
}

// ---------------------------------------------------------------------------------------------
// The change feed's reads

pub(crate) fn snapshot(conn: &mut Connection) -> Result<Snapshot> {
    let tx = conn.transaction().sql()?;
    let revision = revision(&tx)?;
    let mut stmt = tx.prepare_cached("SELECT name FROM models WHERE deleted_at IS NULL").sql()?;
    let models = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .sql()?
        .collect::<rusqlite::Result<Vec<_>>>()
        .sql()?
        .into_iter()
        .map(model_name)
        .collect::<Result<Vec<_>>>()?;
    drop(stmt);
    let mut stmt = tx
        .prepare_cached(
            "SELECT m.name AS model_name, b.name AS binding_name, b.generation, b.version, v.artifact_uri,
                    v.artifact_sha256, v.artifact_size, v.artifact_format, v.artifact_verification
             FROM bindings b JOIN models m ON m.id = b.model_id
             JOIN versions v ON v.model_id = b.model_id AND v.version = b.version",
        )
        .sql()?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                artifact(r)?,
            ))
        })
        .sql()?
        .collect::<rusqlite::Result<Vec<_>>>()
        .sql()?;
    let bindings = rows
        .into_iter()
        .map(|(model, name, generation, version, artifact)| {
            Ok(BindingChange {
                model_name: model_name(model)?,
                binding: binding_name(name)?,
                generation: u(generation)?,
                target: Some(BindingTarget { version: u(version)?, artifact: to_artifact(artifact)? }),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    drop(stmt);
    let access = crate::access::snapshot(&tx)?;
    tx.commit().sql()?;
    Ok(Snapshot { revision, models, bindings, access })
}

pub(crate) fn changes_after(conn: &Connection, after: u64, limit: u32) -> Result<Vec<Change>> {
    let mut stmt = conn
        .prepare_cached("SELECT revision, kind, model, payload FROM changes WHERE revision > ?1 ORDER BY revision LIMIT ?2")
        .sql()?;
    let rows = stmt
        .query_map(params![i(after)?, i64::from(limit)], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?))
        })
        .sql()?
        .collect::<rusqlite::Result<Vec<_>>>()
        .sql()?;
    rows.into_iter()
        .map(|(revision, kind, model, payload)| {
            Change::decode(u(revision)?, &kind, &model, from_json(&payload)?)
                .ok_or_else(|| corrupt(format!("change {revision}")))
        })
        .collect()
}

/// `(version, sql)`, in order. Never edit an applied migration; add a new one.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_init.sql")),
    (2, include_str!("../migrations/0002_artifacts.sql")),
    (3, include_str!("../migrations/0003_access.sql")),
];

/// Ensures the schema exists (embedded: the store migrates itself on open).
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)")
        .sql()?;
    let current: i64 =
        conn.query_row("SELECT COALESCE(max(version), 0) FROM schema_migrations", [], |r| r.get(0)).sql()?;
    let latest = MIGRATIONS.last().map_or(0, |m| m.0);
    if current > latest {
        return Err(Error::FailedPrecondition(format!(
            "the embedded database has schema version {current}, newer than this binary supports ({latest}); \
             upgrade bindery"
        )));
    }
    for (version, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        let tx = immediate(conn)?;
        tx.execute_batch(sql).sql()?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
            params![version, now()],
        )
        .sql()?;
        tx.commit().sql()?;
    }
    Ok(())
}
