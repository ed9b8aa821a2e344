//! Upload sessions and what artifact garbage collection must keep. Sessions are operational
//! state, not registry state: creating or expiring one writes an audit row but does not bump the
//! revision (read nodes have nothing to apply). Consuming one is part of `RegisterVersion`'s
//! transaction.

use std::time::SystemTime;

use bindery_core::{
    Error, ModelName, ObjectLocation, UploadFile, UploadSession, UploadSessionState, WriteContext,
};
use deadpool_postgres::Transaction;
use tokio_postgres::Row;
use tokio_postgres::types::Json;

use crate::error::{StoreResult, corrupt};
use crate::{PgStore, rows};

const SESSION_COLUMNS: &str = "s.id, m.name AS model_name, s.bucket, s.prefix, s.files, s.state, s.version, \
     s.created_at, s.created_by, s.expires_at";

fn session(row: &Row) -> StoreResult<UploadSession> {
    let state: String = row.try_get("state")?;
    let version = row.try_get::<_, Option<i64>>("version")?.map(rows::u).transpose()?;
    Ok(UploadSession {
        id: row.try_get("id")?,
        model: ModelName::parse("model", row.try_get::<_, String>("model_name")?).map_err(corrupt)?,
        location: ObjectLocation::new(
            row.try_get::<_, String>("bucket")?,
            row.try_get::<_, String>("prefix")?,
        ),
        files: row.try_get::<_, Json<Vec<UploadFile>>>("files")?.0,
        state: UploadSessionState::parse(&state, version)
            .ok_or_else(|| corrupt(format!("upload session state {state:?}")))?,
        created_at: row.try_get("created_at")?,
        created_by: row.try_get("created_by")?,
        expires_at: row.try_get("expires_at")?,
    })
}

async fn audit(
    tx: &Transaction<'_>,
    ctx: &WriteContext,
    action: &'static str,
    s: &UploadSession,
) -> StoreResult<()> {
    let (target, after) = s.audit();
    crate::write::record_audit_only(
        tx,
        ctx,
        crate::write::Audit { action, target, before: None, after: Some(after) },
    )
    .await
}

pub(crate) async fn create(store: &PgStore, ctx: &WriteContext, s: &UploadSession) -> StoreResult<()> {
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    let model_id = crate::models::live_id(&tx, &s.model).await?;
    let stmt = tx
        .prepare_cached(
            "INSERT INTO upload_sessions (id, model_id, bucket, prefix, files, state, created_at, created_by,
                 expires_at)
             VALUES ($1, $2, $3, $4, $5, 'OPEN', $6, $7, $8)",
        )
        .await?;
    tx.execute(
        &stmt,
        &[
            &s.id,
            &model_id,
            &s.location.bucket,
            &s.location.key,
            &Json(&s.files),
            &s.created_at,
            &ctx.actor,
            &s.expires_at,
        ],
    )
    .await?;
    audit(&tx, ctx, "upload_session.create", s).await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn get(store: &PgStore, id: &str) -> StoreResult<UploadSession> {
    let client = store.client().await?;
    let sql = format!(
        "SELECT {SESSION_COLUMNS} FROM upload_sessions s JOIN models m ON m.id = s.model_id WHERE s.id = $1"
    );
    let stmt = client.prepare_cached(&sql).await?;
    let row = client
        .query_opt(&stmt, &[&id])
        .await?
        .ok_or_else(|| Error::NotFound(format!("upload session {id} not found")))?;
    session(&row)
}

/// Marks the open sessions that expired before `now` EXPIRED and returns them.
pub(crate) async fn expire(store: &PgStore, now: SystemTime) -> StoreResult<Vec<UploadSession>> {
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    let sql = format!(
        "WITH expired AS (
             UPDATE upload_sessions SET state = 'EXPIRED' WHERE state = 'OPEN' AND expires_at <= $1
             RETURNING *)
         SELECT {SESSION_COLUMNS} FROM expired s JOIN models m ON m.id = s.model_id ORDER BY s.expires_at"
    );
    let stmt = tx.prepare_cached(&sql).await?;
    let expired = tx.query(&stmt, &[&now]).await?.iter().map(session).collect::<StoreResult<Vec<_>>>()?;
    let ctx = WriteContext::new("bindery");
    for s in &expired {
        audit(&tx, &ctx, "upload_session.expire", s).await?;
    }
    tx.commit().await?;
    Ok(expired)
}

/// Inside `RegisterVersion`'s transaction (model row locked): the session must be this model's,
/// open and unexpired; it becomes REGISTERED as `version`.
pub(crate) async fn consume_upload_session(
    tx: &Transaction<'_>,
    model_id: i64,
    model: &ModelName,
    id: &str,
    version: i64,
) -> StoreResult<()> {
    let sql = format!(
        "SELECT {SESSION_COLUMNS} FROM upload_sessions s JOIN models m ON m.id = s.model_id
         WHERE s.id = $1 FOR UPDATE OF s"
    );
    let stmt = tx.prepare_cached(&sql).await?;
    let row = tx
        .query_opt(&stmt, &[&id])
        .await?
        .ok_or_else(|| Error::NotFound(format!("upload_session_id: upload session {id} not found")))?;
    let s = session(&row)?;
    if &s.model != model {
        return Err(Error::FailedPrecondition(format!(
            "upload session {id} belongs to model '{}', not '{model}'",
            s.model
        ))
        .into());
    }
    s.check_open(SystemTime::now())?;
    let stmt = tx
        .prepare_cached(
            "UPDATE upload_sessions SET state = 'REGISTERED', version = $2 WHERE id = $1 AND model_id = $3",
        )
        .await?;
    tx.execute(&stmt, &[&id, &version, &model_id]).await?;
    Ok(())
}

/// Artifact URIs garbage collection must keep: those of versions not deleted, or deleted after
/// `cutoff` (a deleted model's versions count as deleted with it), and the prefixes of
/// unregistered sessions that expire after `cutoff` (a registered one is kept by its version).
pub(crate) async fn references(store: &PgStore, cutoff: SystemTime) -> StoreResult<Vec<String>> {
    references_in(&store.client().await?, cutoff).await
}

/// [`references`] on `client` (a transaction holding the write lock, for garbage collection).
pub(crate) async fn references_in(
    client: &impl deadpool_postgres::GenericClient,
    cutoff: SystemTime,
) -> StoreResult<Vec<String>> {
    let stmt = client
        .prepare_cached(
            "SELECT v.artifact_uri FROM versions v JOIN models m ON m.id = v.model_id
             WHERE COALESCE(LEAST(v.deleted_at, m.deleted_at), 'infinity'::timestamptz) > $1
             UNION
             SELECT 's3://' || bucket || '/' || prefix FROM upload_sessions
             WHERE state <> 'REGISTERED' AND expires_at > $1",
        )
        .await?;
    Ok(client.query(&stmt, &[&cutoff]).await?.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?)
}
