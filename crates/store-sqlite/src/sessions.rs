//! Upload sessions and artifact references: the PostgreSQL store's `sessions.rs` in SQLite's
//! dialect. Session writes are audited but do not bump the revision.

use std::time::SystemTime;

use bindery_core::{
    Error, ModelName, ObjectLocation, Result, UploadFile, UploadSession, UploadSessionState, WriteContext,
};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use crate::models::live_model;
use crate::ops::{Sql, corrupt, from_json, immediate, micros, model_name, time, to_json, u};

const SESSION_COLUMNS: &str = "s.id, m.name AS model_name, s.bucket, s.prefix, s.files, s.state, s.version, \
     s.created_at, s.created_by, s.expires_at";

type SessionRow = (String, String, String, String, String, String, Option<i64>, i64, String, i64);

fn session_row(r: &Row<'_>) -> rusqlite::Result<SessionRow> {
    Ok((
        r.get("id")?,
        r.get("model_name")?,
        r.get("bucket")?,
        r.get("prefix")?,
        r.get("files")?,
        r.get("state")?,
        r.get("version")?,
        r.get("created_at")?,
        r.get("created_by")?,
        r.get("expires_at")?,
    ))
}

fn session(
    (id, model, bucket, prefix, files, state, version, created_at, created_by, expires_at): SessionRow,
) -> Result<UploadSession> {
    let version = version.map(u).transpose()?;
    Ok(UploadSession {
        id,
        model: model_name(model)?,
        location: ObjectLocation::new(bucket, prefix),
        files: from_json::<Vec<UploadFile>>(&files)?,
        state: UploadSessionState::parse(&state, version)
            .ok_or_else(|| corrupt(format!("upload session state {state:?}")))?,
        created_at: time(created_at),
        created_by,
        expires_at: time(expires_at),
    })
}

fn audit(tx: &Transaction<'_>, ctx: &WriteContext, action: &'static str, s: &UploadSession) -> Result<()> {
    let (target, after) = s.audit();
    let revision: i64 = tx.query_row("SELECT revision FROM registry_state", [], |r| r.get(0)).sql()?;
    crate::ops::append_audit(
        tx,
        revision,
        ctx,
        crate::ops::Audit { action, target, before: None, after: Some(after) },
    )
}

pub(crate) fn create(conn: &mut Connection, ctx: &WriteContext, s: &UploadSession) -> Result<()> {
    let tx = immediate(conn)?;
    let (model_id, _) = live_model(&tx, &s.model)?;
    tx.execute(
        "INSERT INTO upload_sessions (id, model_id, bucket, prefix, files, state, created_at, created_by, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'OPEN', ?6, ?7, ?8)",
        params![
            s.id,
            model_id,
            s.location.bucket,
            s.location.key,
            to_json(&s.files),
            micros(s.created_at),
            ctx.actor,
            micros(s.expires_at)
        ],
    )
    .sql()?;
    audit(&tx, ctx, "upload_session.create", s)?;
    tx.commit().sql()
}

fn find(conn: &Connection, id: &str) -> Result<Option<UploadSession>> {
    let sql = format!(
        "SELECT {SESSION_COLUMNS} FROM upload_sessions s JOIN models m ON m.id = s.model_id WHERE s.id = ?1"
    );
    conn.query_row(&sql, [id], session_row).optional().sql()?.map(session).transpose()
}

pub(crate) fn get(conn: &Connection, id: &str) -> Result<UploadSession> {
    find(conn, id)?.ok_or_else(|| Error::NotFound(format!("upload session {id} not found")))
}

pub(crate) fn expire(conn: &mut Connection, now_: SystemTime) -> Result<Vec<UploadSession>> {
    let tx = immediate(conn)?;
    let sql = format!(
        "SELECT {SESSION_COLUMNS} FROM upload_sessions s JOIN models m ON m.id = s.model_id
         WHERE s.state = 'OPEN' AND s.expires_at <= ?1 ORDER BY s.expires_at"
    );
    let expired = {
        let mut stmt = tx.prepare(&sql).sql()?;
        let rows = stmt.query_map([micros(now_)], session_row).sql()?;
        rows.map(|r| r.sql().and_then(session)).collect::<Result<Vec<_>>>()?
    };
    let ctx = WriteContext::new("bindery");
    for s in &expired {
        tx.execute("UPDATE upload_sessions SET state = 'EXPIRED' WHERE id = ?1", [&s.id]).sql()?;
        audit(&tx, &ctx, "upload_session.expire", s)?;
    }
    tx.commit().sql()?;
    Ok(expired)
}

/// Inside `RegisterVersion`'s transaction: the session must be this model's, open and
/// unexpired; it becomes REGISTERED as `version`.
pub(crate) fn consume(
    tx: &Transaction<'_>,
    model_id: i64,
    model: &ModelName,
    id: &str,
    version: i64,
) -> Result<()> {
    let s = find(tx, id)?
        .ok_or_else(|| Error::NotFound(format!("upload_session_id: upload session {id} not found")))?;
    if &s.model != model {
        return Err(Error::FailedPrecondition(format!(
            "upload session {id} belongs to model '{}', not '{model}'",
            s.model
        )));
    }
    s.check_open(SystemTime::now())?;
    tx.execute(
        "UPDATE upload_sessions SET state = 'REGISTERED', version = ?2 WHERE id = ?1 AND model_id = ?3",
        params![id, version, model_id],
    )
    .sql()?;
    Ok(())
}

pub(crate) fn references(conn: &Connection, cutoff: SystemTime) -> Result<Vec<String>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT v.artifact_uri FROM versions v JOIN models m ON m.id = v.model_id
             WHERE COALESCE(min(COALESCE(v.deleted_at, m.deleted_at), COALESCE(m.deleted_at, v.deleted_at)),
                            9223372036854775807) > ?1
             UNION
             SELECT 's3://' || bucket || '/' || prefix FROM upload_sessions
             WHERE state <> 'REGISTERED' AND expires_at > ?1",
        )
        .sql()?;
    let cutoff = micros(cutoff);
    let rows = stmt.query_map([cutoff], |r| r.get::<_, String>(0)).sql()?;
    rows.map(|r| r.sql()).collect()
}
