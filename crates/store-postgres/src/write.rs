//! The half of every write that is the same for all of them (design.md §3.1-3.2): bump the global
//! revision, append the change, append the hash-chained audit row, and NOTIFY — inside the
//! caller's transaction, so all of it commits with the write or none of it does.
//!
//! The NOTIFY carries only the revision: it is a doorbell, not the truth. Any role that can
//! connect may NOTIFY on any channel, so read nodes read what changed from the `changes` table.

pub(crate) use bindery_core::AuditEntry as Audit;
use bindery_core::{AuditRecord, WriteContext};
use serde_json::{Value, json};
use tokio_postgres::types::Json;

use crate::error::StoreResult;
use crate::rows;

/// The channel read nodes LISTEN on.
pub const NOTIFY_CHANNEL: &str = "bindery_changes";

pub(crate) const SELECT_REVISION: &str = "SELECT revision FROM registry_state";

/// Retention of the change log: older than `$1` seconds, except the newest entry.
pub(crate) const PRUNE_CHANGES: &str = "DELETE FROM changes
    WHERE created_at < now() - make_interval(secs => $1)
      AND revision < (SELECT max(revision) FROM changes)";

/// Takes the global row lock: every writer after this waits for our commit, so revisions commit
/// in order and without gaps. Callers take it last, after their model row lock.
const BUMP_REVISION: &str = "UPDATE registry_state SET revision = revision + 1 RETURNING revision";
/// The same lock for writes that are audited but change nothing read nodes cache.
const LOCK_REVISION: &str = "SELECT revision FROM registry_state FOR UPDATE";
/// The chain's head; read under the global lock, so no other writer appends meanwhile.
const LAST_AUDIT_HASH: &str = "SELECT COALESCE(hash, '') FROM audit_log ORDER BY id DESC LIMIT 1";

const INSERT_AUDIT: &str = "INSERT INTO audit_log
        (revision, actor, action, target, before, after, request_id, trace_id, created_at, prev_hash, hash)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";

const RECORD: &str = "WITH change AS (
        INSERT INTO changes (revision, kind, model, binding, payload) VALUES ($1, $2, $3, $4, $5)
    )
    SELECT pg_notify('bindery_changes', $6)";

/// What changed, as read nodes see it.
pub(crate) struct Change<'a> {
    /// `model`, `version`, `binding` or `access` (then `model` is empty).
    pub kind: &'static str,
    pub model: &'a str,
    pub binding: Option<&'a str>,
    pub payload: Value,
}

pub(crate) async fn bump_revision(tx: &deadpool_postgres::Transaction<'_>) -> StoreResult<i64> {
    let stmt = tx.prepare_cached(BUMP_REVISION).await?;
    Ok(tx.query_one(&stmt, &[]).await?.try_get(0)?)
}

/// The NOTIFY payload: only the revision.
pub(crate) fn notify_payload(revision: i64) -> String {
    json!({ "revision": revision }).to_string()
}

/// Appends `audit` at `revision` to the chain. The caller holds the global lock.
async fn append_audit(
    tx: &deadpool_postgres::Transaction<'_>,
    revision: i64,
    ctx: &WriteContext,
    audit: Audit,
) -> StoreResult<()> {
    let stmt = tx.prepare_cached(LAST_AUDIT_HASH).await?;
    let prev: String = match tx.query_opt(&stmt, &[]).await? {
        Some(row) => row.try_get(0)?,
        None => String::new(),
    };
    let record = AuditRecord::new(rows::u(revision)?, ctx, audit);
    let hash = record.chain_hash(&prev);
    let stmt = tx.prepare_cached(INSERT_AUDIT).await?;
    tx.execute(
        &stmt,
        &[
            &revision,
            &record.actor,
            &record.action,
            &record.target,
            &record.before.as_ref().map(Json),
            &record.after.as_ref().map(Json),
            &record.request_id,
            &record.trace_id,
            &record.time,
            &prev,
            &hash,
        ],
    )
    .await?;
    Ok(())
}

/// The change-log row, the audit row and the NOTIFY of a write at `revision` (from
/// [`bump_revision`]).
pub(crate) async fn record(
    tx: &deadpool_postgres::Transaction<'_>,
    revision: i64,
    ctx: &WriteContext,
    change: Change<'_>,
    audit: Audit,
) -> StoreResult<()> {
    append_audit(tx, revision, ctx, audit).await?;
    let stmt = tx.prepare_cached(RECORD).await?;
    tx.query_one(
        &stmt,
        &[
            &revision,
            &change.kind,
            &change.model,
            &change.binding,
            &Json(&change.payload),
            &notify_payload(revision),
        ],
    )
    .await?;
    Ok(())
}

/// An audit row for a write that does not change what read nodes cache (upload sessions): it
/// takes the global lock to append to the chain, at the current revision.
pub(crate) async fn record_audit_only(
    tx: &deadpool_postgres::Transaction<'_>,
    ctx: &WriteContext,
    audit: Audit,
) -> StoreResult<()> {
    let stmt = tx.prepare_cached(LOCK_REVISION).await?;
    let revision: i64 = tx.query_one(&stmt, &[]).await?.try_get(0)?;
    append_audit(tx, revision, ctx, audit).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_carry_only_the_revision() {
        assert_eq!(notify_payload(8), r#"{"revision":8}"#);
    }
}
