//! Versions: register (idempotent, numbered by the per-model counter), read, list, update
//! (metrics append-only), archive.

use bindery_core::{
    Cursor, Error, ModelName, ModelVersion, NewVersion, Page, PageRequest, Registered, VersionKey,
    VersionStatus, VersionUpdate, WriteContext,
};
use deadpool_postgres::GenericClient;
use serde_json::Value;
use tokio_postgres::types::Json;

use crate::error::StoreResult;
use crate::sessions::consume_upload_session;
use crate::write::{self, Audit, Change};
use crate::{PgStore, models, rows};

fn target(model: &ModelName, version: u64) -> String {
    format!("models/{model}/versions/{version}")
}

fn json(v: &ModelVersion) -> Value {
    v.audit_json()
}

/// Reads one version of a live model.
pub(crate) async fn load(
    client: &impl GenericClient,
    model: &ModelName,
    version: i64,
) -> StoreResult<Option<ModelVersion>> {
    let sql = format!(
        "SELECT {} FROM versions v JOIN models m ON m.id = v.model_id
         WHERE m.name = $1 AND m.deleted_at IS NULL AND v.version = $2",
        rows::VERSION_COLUMNS
    );
    let stmt = client.prepare_cached(&sql).await?;
    client.query_opt(&stmt, &[&model.as_str(), &version]).await?.as_ref().map(rows::version).transpose()
}

async fn load_existing(client: &impl GenericClient, key: &VersionKey) -> StoreResult<ModelVersion> {
    load(client, &key.model, rows::i(key.version)?)
        .await?
        .ok_or_else(|| Error::version_not_found(&key.model, key.version).into())
}

pub(crate) async fn register(
    store: &PgStore,
    ctx: &WriteContext,
    new: &NewVersion,
) -> StoreResult<Registered> {
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    let stmt = tx
        .prepare_cached(
            "SELECT id, last_version FROM models WHERE name = $1 AND deleted_at IS NULL FOR UPDATE",
        )
        .await?;
    let row = tx.query_opt(&stmt, &[&new.model.as_str()]).await?.ok_or_else(|| {
        Error::NotFound(format!("model '{}' not found; create it with CreateModel first", new.model))
    })?;
    let model_id: i64 = row.try_get("id")?;
    let last_version: i64 = row.try_get("last_version")?;
    let payload = new.payload_json();

    // Idempotency: the model row lock serialises racing retries, so the second one sees the first.
    if let Some(request_id) = &new.request_id {
        let stmt = tx
            .prepare_cached(
                "SELECT version, request_payload FROM versions WHERE model_id = $1 AND request_id = $2",
            )
            .await?;
        if let Some(row) = tx.query_opt(&stmt, &[&model_id, request_id]).await? {
            let version: i64 = row.try_get("version")?;
            let existing: Value = row.try_get::<_, Json<Value>>("request_payload")?.0;
            new.check_retry(&existing, rows::u(version)?)?;
            let existing = load(&tx, &new.model, version).await?.ok_or_else(|| {
                crate::error::corrupt(format!("version {version} vanished under the model lock"))
            })?;
            return Ok(Registered { revision: existing.revision, version: existing, created: false });
        }
    }

    for (i, parent) in new.lineage.parent_versions.iter().enumerate() {
        let stmt = tx
            .prepare_cached(
                "SELECT 1 FROM versions v JOIN models m ON m.id = v.model_id
                 WHERE m.name = $1 AND m.deleted_at IS NULL AND v.version = $2",
            )
            .await?;
        if tx.query_opt(&stmt, &[&parent.model_name.as_str(), &rows::i(parent.version)?]).await?.is_none() {
            return Err(Error::NotFound(format!(
                "lineage.parent_versions[{i}]: version {} of model '{}' not found",
                parent.version, parent.model_name
            ))
            .into());
        }
    }

    let number = last_version + 1;
    if let Some(session) = &new.upload_session_id {
        consume_upload_session(&tx, model_id, &new.model, session, number).await?;
    }
    let artifact = new.recorded_artifact();
    let bump = write::bump_revision(&tx).await?;
    crate::gc::check_not_collected(&tx, &artifact.uri).await?;
    let revision = bump.revision;
    let stmt = tx.prepare_cached("UPDATE models SET last_version = $2 WHERE id = $1").await?;
    tx.execute(&stmt, &[&model_id, &number]).await?;
    let stmt = tx
        .prepare_cached(
            "INSERT INTO versions (model_id, version, status, request_id, request_payload, artifact_uri,
                 artifact_sha256, artifact_size, artifact_format, params, metrics, tags, lineage,
                 signature_inputs, signature_outputs, description, created_at, created_by, updated_at,
                 updated_by, revision, artifact_verification)
             VALUES ($1, $2, 'READY', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, now(), $16,
                 now(), $16, $17, $18)",
        )
        .await?;
    tx.execute(
        &stmt,
        &[
            &model_id,
            &number,
            &new.request_id,
            &Json(&payload),
            &artifact.uri,
            &artifact.sha256,
            &rows::i(artifact.size_bytes)?,
            &artifact.format,
            &Json(&new.params),
            &Json(&new.metrics),
            &Json(&new.tags),
            &Json(&new.lineage),
            &new.signature.inputs_json,
            &new.signature.outputs_json,
            &new.description,
            &ctx.actor,
            &revision,
            &Json(artifact.verification_json()),
        ],
    )
    .await?;
    let version = load(&tx, &new.model, number)
        .await?
        .ok_or_else(|| crate::error::corrupt("inserted version not readable"))?;
    let after = json(&version);
    write::record(
        &tx,
        &bump,
        ctx,
        Change {
            kind: "version",
            model: new.model.as_str(),
            binding: None,
            payload: version.change_payload(),
        },
        Audit {
            action: "version.register",
            target: target(&new.model, version.version),
            before: None,
            after: Some(after),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Registered { revision: rows::u(revision)?, version, created: true })
}

pub(crate) async fn find_registration(
    store: &PgStore,
    model: &ModelName,
    request_id: &str,
) -> StoreResult<Option<(ModelVersion, Value)>> {
    let client = store.client().await?;
    let stmt = client
        .prepare_cached(
            "SELECT v.version, v.request_payload FROM versions v JOIN models m ON m.id = v.model_id
             WHERE m.name = $1 AND m.deleted_at IS NULL AND v.request_id = $2",
        )
        .await?;
    let Some(row) = client.query_opt(&stmt, &[&model.as_str(), &request_id]).await? else { return Ok(None) };
    let version: i64 = row.try_get("version")?;
    let payload: Value = row.try_get::<_, Json<Value>>("request_payload")?.0;
    Ok(load(&client, model, version).await?.map(|v| (v, payload)))
}

pub(crate) async fn get(store: &PgStore, key: &VersionKey) -> StoreResult<ModelVersion> {
    let client = store.client().await?;
    load_existing(&client, key).await
}

/// The version `binding` points at, in one statement; on a miss, a second one tells a missing
/// model from a missing binding.
pub(crate) async fn get_bound(
    store: &PgStore,
    model: &ModelName,
    binding: &bindery_core::BindingName,
) -> StoreResult<ModelVersion> {
    let client = store.client().await?;
    let sql = format!(
        "SELECT {} FROM bindings bd JOIN models m ON m.id = bd.model_id
         JOIN versions v ON v.model_id = bd.model_id AND v.version = bd.version
         WHERE m.name = $1 AND m.deleted_at IS NULL AND bd.name = $2",
        rows::VERSION_COLUMNS
    );
    let stmt = client.prepare_cached(&sql).await?;
    if let Some(row) = client.query_opt(&stmt, &[&model.as_str(), &binding.as_str()]).await? {
        return rows::version(&row);
    }
    models::live_id(&client, model).await?;
    Err(Error::binding_not_found(model, binding).into())
}

pub(crate) async fn list(
    store: &PgStore,
    model: &ModelName,
    page: &PageRequest,
) -> StoreResult<Page<ModelVersion>> {
    let client = store.client().await?;
    let stmt = client.prepare_cached("SELECT id FROM models WHERE name = $1 AND deleted_at IS NULL").await?;
    let model_id: i64 = client
        .query_opt(&stmt, &[&model.as_str()])
        .await?
        .ok_or_else(|| Error::model_not_found(model))?
        .try_get(0)?;
    let sql = format!(
        "SELECT {} FROM versions v JOIN models m ON m.id = v.model_id
         WHERE v.model_id = $1 AND ($2::bigint IS NULL OR v.version < $2)
         ORDER BY v.version DESC LIMIT $3",
        rows::listed_version_columns()
    );
    let stmt = client.prepare_cached(&sql).await?;
    let after = page.after_number().map(rows::i).transpose()?;
    let limit = i64::from(page.size) + 1;
    let found = client.query(&stmt, &[&model_id, &after, &limit]).await?;
    let versions = found.iter().map(rows::version).collect::<StoreResult<Vec<_>>>()?;
    Ok(Page::from_rows(versions, page.size, |v| Cursor::Number(v.version)))
}

pub(crate) async fn update(
    store: &PgStore,
    ctx: &WriteContext,
    key: &VersionKey,
    update: &VersionUpdate,
) -> StoreResult<ModelVersion> {
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    let model_id = models::lock(&tx, &key.model).await?;
    let before = load_existing(&tx, key).await?;
    let mut after = before.clone();
    update.apply(&mut after)?;
    if after == before {
        return Ok(before);
    }
    let bump = write::bump_revision(&tx).await?;
    let revision = bump.revision;
    let stmt = tx
        .prepare_cached(
            "UPDATE versions SET description = $3, tags = $4, metrics = $5, updated_at = now(),
             updated_by = $6, revision = $7 WHERE model_id = $1 AND version = $2",
        )
        .await?;
    let number = rows::i(key.version)?;
    tx.execute(
        &stmt,
        &[
            &model_id,
            &number,
            &after.description,
            &Json(&after.tags),
            &Json(&after.metrics),
            &ctx.actor,
            &revision,
        ],
    )
    .await?;
    let version = load_existing(&tx, key).await?;
    let after_json = json(&version);
    write::record(
        &tx,
        &bump,
        ctx,
        Change {
            kind: "version",
            model: key.model.as_str(),
            binding: None,
            payload: version.change_payload(),
        },
        Audit {
            action: "version.update",
            target: target(&key.model, key.version),
            before: Some(json(&before)),
            after: Some(after_json),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(version)
}

/// Archives (`ARCHIVED`) or soft-deletes (`DELETED`, stamping `deleted_at`) a version.
pub(crate) async fn set_status(
    store: &PgStore,
    ctx: &WriteContext,
    key: &VersionKey,
    status: VersionStatus,
) -> StoreResult<ModelVersion> {
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    let model_id = models::lock(&tx, &key.model).await?;
    let before = load_existing(&tx, key).await?;
    let (changes, action) = match status {
        VersionStatus::Deleted => (before.check_deletable()?, "version.delete"),
        _ => (before.check_archivable()?, "version.archive"),
    };
    if !changes {
        return Ok(before);
    }
    let bump = write::bump_revision(&tx).await?;
    let revision = bump.revision;
    let stmt = tx
        .prepare_cached(
            "UPDATE versions SET status = $5, updated_at = now(), updated_by = $3, revision = $4,
                 deleted_at = CASE WHEN $5 = 'DELETED' THEN now() END
             WHERE model_id = $1 AND version = $2",
        )
        .await?;
    tx.execute(&stmt, &[&model_id, &rows::i(key.version)?, &ctx.actor, &revision, &status.as_str()]).await?;
    let version = load_existing(&tx, key).await?;
    let after_json = json(&version);
    write::record(
        &tx,
        &bump,
        ctx,
        Change {
            kind: "version",
            model: key.model.as_str(),
            binding: None,
            payload: version.change_payload(),
        },
        Audit {
            action,
            target: target(&key.model, key.version),
            before: Some(json(&before)),
            after: Some(after_json),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(version)
}
