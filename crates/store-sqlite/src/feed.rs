//! The change feed's reads on the embedded store: the snapshot and the change log.

use bindery_core::{BindingChange, BindingTarget, Change, Result, Snapshot, decode_log};
use rusqlite::{Connection, params};

use crate::bindings::{revision, traffic_record};
use crate::ops::{Sql, binding_name, i, model_name, u};
use crate::versions::{artifact, to_artifact};

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
                    v.artifact_sha256, v.artifact_size, v.artifact_format, v.artifact_verification, b.traffic
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
                r.get::<_, Option<String>>("traffic")?,
            ))
        })
        .sql()?
        .collect::<rusqlite::Result<Vec<_>>>()
        .sql()?;
    let bindings = rows
        .into_iter()
        .map(|(model, name, generation, version, artifact, traffic)| {
            Ok(BindingChange {
                model_name: model_name(model)?,
                binding: binding_name(name)?,
                generation: u(generation)?,
                target: Some(BindingTarget::from_record(
                    u(version)?,
                    to_artifact(artifact)?,
                    traffic_record(traffic.as_deref())?,
                )),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    drop(stmt);
    let access = crate::access::snapshot(&tx)?;
    tx.commit().sql()?;
    Ok(Snapshot { revision, models, bindings, access, packed: Vec::new() })
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
    let rows = rows
        .into_iter()
        .map(|(revision, kind, model, payload)| {
            Ok((u(revision)?, kind, model, serde_json::from_str(&payload).ok()))
        })
        .collect::<Result<Vec<_>>>()?;
    decode_log(rows)
}
