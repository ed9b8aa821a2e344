//! Versions on the embedded store: register (idempotent), read, list, update, archive, delete.

use std::collections::BTreeMap;

use bindery_core::{
    Artifact, Change, Cursor, Error, Lineage, ModelName, ModelVersion, NewVersion, Page, PageRequest,
    Registered, Result, Signature, VersionKey, VersionStatus, VersionUpdate, WriteContext,
};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};
use serde_json::Value;

use crate::models::{find_model, live_model};
use crate::ops::{
    Audit, Sql, bump, corrupt, from_json, i, immediate, model_name, now, record, sql, time, to_json, u,
};

pub(crate) const VERSION_COLUMNS: &str = "m.name AS model_name, v.version, v.status, v.artifact_uri, v.artifact_sha256, \
     v.artifact_size, v.artifact_format, v.artifact_verification, v.params, v.metrics, v.tags, v.lineage, v.signature_inputs, \
     v.signature_outputs, v.description, v.created_at, v.created_by, v.updated_at, v.updated_by, \
     COALESCE(v.request_id, '') AS request_id, v.revision, v.model_id";

/// The `artifact_*` columns as read from a row: uri, sha256, size, format, verification.
pub(crate) type ArtifactRow = (String, String, i64, String, String);

pub(crate) fn artifact(row: &Row<'_>) -> rusqlite::Result<ArtifactRow> {
    Ok((
        row.get("artifact_uri")?,
        row.get("artifact_sha256")?,
        row.get("artifact_size")?,
        row.get("artifact_format")?,
        row.get("artifact_verification")?,
    ))
}

pub(crate) fn to_artifact((uri, sha256, size, format, verification): ArtifactRow) -> Result<Artifact> {
    Artifact { uri, sha256, size_bytes: u(size)?, format, ..Artifact::default() }
        .with_verification_json(from_json(&verification)?)
}

pub(crate) fn version_from(conn: &Connection, row: &Row<'_>) -> Result<ModelVersion> {
    let get = |e: rusqlite::Error| sql(e);
    let status: String = row.get("status").map_err(get)?;
    let number: i64 = row.get("version").map_err(get)?;
    let model_id: i64 = row.get("model_id").map_err(get)?;
    let mut stmt = conn
        .prepare_cached(
            "SELECT name FROM binding_versions WHERE model_id = ?1 AND version = ?2 ORDER BY name",
        )
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

pub(crate) fn find_version(
    conn: &Connection,
    model: &ModelName,
    version: i64,
) -> Result<Option<ModelVersion>> {
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

pub(crate) fn existing_version(conn: &Connection, key: &VersionKey) -> Result<ModelVersion> {
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
    crate::gc::check_not_collected(&tx, &artifact.uri)?;
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
    let audit = Audit {
        action: "version.register",
        target: format!("models/{}/versions/{number}", new.model),
        before: None,
        after: Some(version.audit_json()),
    };
    let change =
        record(&tx, revision, ctx, ("version", new.model.as_str(), None), version.change_payload(), audit)?;
    tx.commit().sql()?;
    Ok((Registered { version, revision: u(revision)?, created: true }, Some(change)))
}

pub(crate) fn find_registration(
    conn: &Connection,
    model: &ModelName,
    request_id: &str,
) -> Result<Option<(ModelVersion, Value)>> {
    let found: Option<(i64, String)> = conn
        .query_row(
            "SELECT v.version, v.request_payload FROM versions v JOIN models m ON m.id = v.model_id
             WHERE m.name = ?1 AND m.deleted_at IS NULL AND v.request_id = ?2",
            params![model.as_str(), request_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .sql()?;
    let Some((version, payload)) = found else { return Ok(None) };
    let payload = from_json::<Value>(&payload)?;
    Ok(find_version(conn, model, version)?.map(|v| (v, payload)))
}

pub(crate) fn get_version(conn: &Connection, key: &VersionKey) -> Result<ModelVersion> {
    existing_version(conn, key)
}

/// The version `binding` points at, in one statement; on a miss, tells a missing model from a
/// missing binding.
pub(crate) fn get_bound_version(
    conn: &Connection,
    model: &ModelName,
    binding: &bindery_core::BindingName,
) -> Result<ModelVersion> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM bindings bd JOIN models m ON m.id = bd.model_id
         JOIN versions v ON v.model_id = bd.model_id AND v.version = bd.version
         WHERE m.name = ?1 AND m.deleted_at IS NULL AND bd.name = ?2"
    );
    let mut stmt = conn.prepare_cached(&sql).sql()?;
    let mut rows = stmt.query(params![model.as_str(), binding.as_str()]).sql()?;
    if let Some(row) = rows.next().sql()? {
        return version_from(conn, row);
    }
    live_model(conn, model)?;
    Err(Error::binding_not_found(model, binding))
}

pub(crate) fn list_versions(
    conn: &Connection,
    model: &ModelName,
    page: &PageRequest,
) -> Result<Page<ModelVersion>> {
    let (model_id, _) = live_model(conn, model)?;
    // Lists leave manifests out (up to 2 MiB each; GetVersion has them).
    let columns = VERSION_COLUMNS.replace(
        "v.artifact_verification,",
        "json_remove(v.artifact_verification, '$.files') AS artifact_verification,",
    );
    let sql = format!(
        "SELECT {columns} FROM versions v JOIN models m ON m.id = v.model_id
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

pub(crate) fn version_write(
    tx: Transaction<'_>,
    ctx: &WriteContext,
    key: &VersionKey,
    before: &ModelVersion,
    action: &'static str,
    revision: i64,
) -> Result<(ModelVersion, Option<Change>)> {
    let version = existing_version(&tx, key)?;
    let audit = Audit {
        action,
        target: format!("models/{}/versions/{}", key.model, key.version),
        before: Some(before.audit_json()),
        after: Some(version.audit_json()),
    };
    let change =
        record(&tx, revision, ctx, ("version", key.model.as_str(), None), version.change_payload(), audit)?;
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

/// A version's metrics (empty when the version does not exist).
pub(crate) fn metrics(conn: &Connection, model_id: i64, version: u64) -> Result<BTreeMap<String, f64>> {
    let text: Option<String> = conn
        .query_row(
            "SELECT metrics FROM versions WHERE model_id = ?1 AND version = ?2",
            params![model_id, i(version)?],
            |r| r.get(0),
        )
        .optional()
        .sql()?;
    text.map_or_else(|| Ok(BTreeMap::new()), |t| from_json(&t))
}
