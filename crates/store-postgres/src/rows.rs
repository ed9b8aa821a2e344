//! Row -> domain conversions, and the column lists they expect.

use std::collections::BTreeMap;

use bindery_core::traffic::{TrafficRecord, traffic_from_json};
use bindery_core::{
    Artifact, Binding, BindingAction, BindingHistoryEntry, BindingName, BindingTarget, Error, Lineage, Model,
    ModelName, ModelVersion, Signature, VersionStatus,
};
use tokio_postgres::Row;
use tokio_postgres::types::Json;

use crate::error::{StoreResult, corrupt};

/// Non-negative bigint -> u64.
pub(crate) fn u(v: i64) -> StoreResult<u64> {
    u64::try_from(v).map_err(|_| corrupt(format!("negative counter {v}")))
}

/// u64 from a validated request -> bigint.
pub(crate) fn i(v: u64) -> StoreResult<i64> {
    i64::try_from(v).map_err(|_| Error::InvalidArgument(format!("{v} is out of range")).into())
}

fn model_name(row: &Row, col: &str) -> StoreResult<ModelName> {
    let name: String = row.try_get(col)?;
    ModelName::parse(col, name).map_err(corrupt)
}

fn binding_name(row: &Row, col: &str) -> StoreResult<BindingName> {
    let name: String = row.try_get(col)?;
    BindingName::parse(col, name).map_err(corrupt)
}

/// The `artifact_*` columns of a row (versions, or anything selecting them by those names).
pub(crate) fn artifact(row: &Row) -> StoreResult<Artifact> {
    Ok(Artifact {
        uri: row.try_get("artifact_uri")?,
        sha256: row.try_get("artifact_sha256")?,
        size_bytes: u(row.try_get("artifact_size")?)?,
        format: row.try_get("artifact_format")?,
        ..Artifact::default()
    }
    .with_verification_json(row.try_get::<_, Json<serde_json::Value>>("artifact_verification")?.0)?)
}

/// Columns of `models` read by [`model`]; unqualified, for `FROM models` and `RETURNING`.
pub(crate) const MODEL_COLUMNS: &str = "name AS model_name, description, owner, tags, created_at, \
     created_by, updated_at, updated_by, last_version, revision";

pub(crate) fn model(row: &Row) -> StoreResult<Model> {
    Ok(Model {
        name: model_name(row, "model_name")?,
        description: row.try_get("description")?,
        owner: row.try_get("owner")?,
        tags: row.try_get::<_, Json<BTreeMap<String, String>>>("tags")?.0,
        created_at: row.try_get("created_at")?,
        created_by: row.try_get("created_by")?,
        updated_at: row.try_get("updated_at")?,
        updated_by: row.try_get("updated_by")?,
        latest_version: u(row.try_get("last_version")?)?,
        revision: u(row.try_get("revision")?)?,
    })
}

/// Columns read by [`version`], for `FROM versions v JOIN models m ON m.id = v.model_id`.
/// [`VERSION_COLUMNS`] for listings: without the manifest (`files`, up to 2 MiB per version;
/// GetVersion has it). Rows registered before verification existed hold JSON `null` there.
pub(crate) fn listed_version_columns() -> String {
    VERSION_COLUMNS.replace(
        "v.artifact_verification,",
        "CASE WHEN jsonb_typeof(v.artifact_verification) = 'object' THEN v.artifact_verification - 'files' \
         ELSE v.artifact_verification END AS artifact_verification,",
    )
}

pub(crate) const VERSION_COLUMNS: &str = "m.name AS model_name, v.version, v.status, \
     v.artifact_uri, v.artifact_sha256, v.artifact_size, v.artifact_format, v.artifact_verification, v.params, v.metrics, \
     v.tags, v.lineage, v.signature_inputs, v.signature_outputs, v.description, v.created_at, \
     v.created_by, v.updated_at, v.updated_by, COALESCE(v.request_id, '') AS request_id, v.revision, \
     ARRAY(SELECT b.name FROM binding_versions b WHERE b.model_id = v.model_id AND b.version = v.version \
           ORDER BY b.name) AS bindings";

pub(crate) fn version(row: &Row) -> StoreResult<ModelVersion> {
    let status: String = row.try_get("status")?;
    Ok(ModelVersion {
        model_name: model_name(row, "model_name")?,
        version: u(row.try_get("version")?)?,
        status: VersionStatus::parse(&status).ok_or_else(|| corrupt(format!("version status {status:?}")))?,
        artifact: artifact(row)?,
        params: row.try_get::<_, Json<BTreeMap<String, String>>>("params")?.0,
        metrics: row.try_get::<_, Json<BTreeMap<String, f64>>>("metrics")?.0,
        tags: row.try_get::<_, Json<BTreeMap<String, String>>>("tags")?.0,
        lineage: row.try_get::<_, Json<Lineage>>("lineage")?.0,
        signature: Signature {
            inputs_json: row.try_get("signature_inputs")?,
            outputs_json: row.try_get("signature_outputs")?,
        },
        description: row.try_get("description")?,
        created_at: row.try_get("created_at")?,
        created_by: row.try_get("created_by")?,
        updated_at: row.try_get("updated_at")?,
        updated_by: row.try_get("updated_by")?,
        request_id: row.try_get("request_id")?,
        bindings: row.try_get("bindings")?,
        revision: u(row.try_get("revision")?)?,
    })
}

/// Columns read by [`binding`], for `FROM bindings b JOIN models m ON m.id = b.model_id`.
pub(crate) const BINDING_COLUMNS: &str = "m.name AS model_name, b.name AS binding_name, b.version, \
     b.generation, b.updated_at, b.updated_by, b.revision, b.traffic";

pub(crate) fn binding(row: &Row) -> StoreResult<Binding> {
    Ok(Binding {
        model_name: model_name(row, "model_name")?,
        name: binding_name(row, "binding_name")?,
        version: u(row.try_get("version")?)?,
        traffic: traffic_record(row, "traffic")?.map(|r| r.traffic),
        generation: u(row.try_get("generation")?)?,
        updated_at: row.try_get("updated_at")?,
        updated_by: row.try_get("updated_by")?,
        revision: u(row.try_get("revision")?)?,
    })
}

/// Columns read by [`history_entry`], for `FROM binding_history h JOIN models m ON m.id = h.model_id`.
pub(crate) const HISTORY_COLUMNS: &str = "m.name AS model_name, h.name AS binding_name, h.generation, \
     h.action, h.before_version, h.after_version, h.revision, h.actor, h.reason, h.created_at, \
     h.before_traffic, h.after_traffic";

pub(crate) fn history_entry(row: &Row) -> StoreResult<BindingHistoryEntry> {
    let action: String = row.try_get("action")?;
    let opt =
        |col: &str| -> StoreResult<Option<u64>> { row.try_get::<_, Option<i64>>(col)?.map(u).transpose() };
    Ok(BindingHistoryEntry {
        model_name: model_name(row, "model_name")?,
        binding: binding_name(row, "binding_name")?,
        generation: u(row.try_get("generation")?)?,
        action: BindingAction::parse(&action).ok_or_else(|| corrupt(format!("binding action {action:?}")))?,
        before_version: opt("before_version")?,
        after_version: opt("after_version")?,
        before_traffic: traffic_from_json(row.try_get("before_traffic")?)?,
        after_traffic: traffic_from_json(row.try_get("after_traffic")?)?,
        revision: u(row.try_get("revision")?)?,
        actor: row.try_get("actor")?,
        reason: row.try_get("reason")?,
        time: row.try_get("created_at")?,
    })
}

/// A binding row's `traffic` column.
pub(crate) fn traffic_record(row: &Row, column: &str) -> StoreResult<Option<TrafficRecord>> {
    Ok(row.try_get::<_, Option<serde_json::Value>>(column)?.map(TrafficRecord::from_json).transpose()?)
}

/// A resolved target: `version`, the artifact columns and `traffic`.
pub(crate) fn binding_target(row: &Row) -> StoreResult<BindingTarget> {
    Ok(BindingTarget::from_record(
        u(row.try_get("version")?)?,
        artifact(row)?,
        traffic_record(row, "traffic")?,
    ))
}
