//! The half of every write that is the same for all of them (design.md §3.1-3.2): bump the global
//! revision, append the change, append the hash-chained audit row, and NOTIFY — inside the
//! caller's transaction, so all of it commits with the write or none of it does.
//!
//! The NOTIFY carries only the revision: it is a doorbell, not the truth. Any role that can
//! connect may NOTIFY on any channel, so read nodes read what changed from the `changes` table.

pub(crate) use bindery_core::AuditEntry as Audit;
use bindery_core::{AuditRecord, WriteContext};
use serde_json::{Value, json};
use tokio_postgres::types::{Json, ToSql};

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
///
/// It also returns the audit chain's head hash, kept in the same row: `RETURNING` reads the row
/// version this statement locked (after waiting for any writer before it), so the head is the one
/// the last committed writer left. (A subquery on `audit_log` here would read the statement's
/// older snapshot instead.)
const BUMP_REVISION: &str =
    "UPDATE registry_state SET revision = revision + 1 RETURNING revision, audit_head";
/// The same lock for writes that are audited but change nothing read nodes cache.
const LOCK_REVISION: &str = "SELECT revision, audit_head FROM registry_state FOR UPDATE";

/// Appends the audit row and moves the chain's head, in one statement.
const AUDIT: &str = "WITH audit AS (
        INSERT INTO audit_log
            (revision, actor, action, target, before, after, request_id, trace_id, created_at, prev_hash, hash)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
    )
    UPDATE registry_state SET audit_head = $11";

/// The change, the audit row, the chain's head and the NOTIFY of a write, in one statement.
const RECORD: &str = "WITH change AS (
        INSERT INTO changes (revision, kind, model, binding, payload) VALUES ($1, $12, $13, $14, $15)
    ), audit AS (
        INSERT INTO audit_log
            (revision, actor, action, target, before, after, request_id, trace_id, created_at, prev_hash, hash)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
    ), head AS (
        UPDATE registry_state SET audit_head = $11
    )
    SELECT pg_notify('bindery_changes', $16)";

/// What changed, as read nodes see it.
pub(crate) struct Change<'a> {
    /// `model`, `version`, `binding` or `access` (then `model` is empty).
    pub kind: &'static str,
    pub model: &'a str,
    pub binding: Option<&'a str>,
    pub payload: Value,
}

/// The write's revision and the audit chain's head hash (both under the global row lock).
pub(crate) struct Bump {
    pub revision: i64,
    pub audit_head: String,
}

pub(crate) async fn bump_revision(tx: &deadpool_postgres::Transaction<'_>) -> StoreResult<Bump> {
    let stmt = tx.prepare_cached(BUMP_REVISION).await?;
    let row = tx.query_one(&stmt, &[]).await?;
    Ok(Bump { revision: row.try_get(0)?, audit_head: row.try_get(1)? })
}

/// The NOTIFY payload: only the revision.
pub(crate) fn notify_payload(revision: i64) -> String {
    json!({ "revision": revision }).to_string()
}

/// An audit row placed in the chain: the parameters `$1`–`$11` of [`AUDIT`] and [`RECORD`].
struct Chained {
    revision: i64,
    record: AuditRecord,
    before: Option<Json<Value>>,
    after: Option<Json<Value>>,
    prev: String,
    hash: String,
}

impl Chained {
    fn new(bump: &Bump, ctx: &WriteContext, audit: Audit) -> StoreResult<Self> {
        let mut record = AuditRecord::new(rows::u(bump.revision)?, ctx, audit);
        let hash = record.chain_hash(&bump.audit_head);
        let (before, after) = (record.before.take().map(Json), record.after.take().map(Json));
        Ok(Self { revision: bump.revision, record, before, after, prev: bump.audit_head.clone(), hash })
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 11] {
        [
            &self.revision,
            &self.record.actor,
            &self.record.action,
            &self.record.target,
            &self.before,
            &self.after,
            &self.record.request_id,
            &self.record.trace_id,
            &self.record.time,
            &self.prev,
            &self.hash,
        ]
    }
}

/// The change-log row, the audit row (appended to the chain) and the NOTIFY of a write at
/// `bump` (from [`bump_revision`]), in one statement.
pub(crate) async fn record(
    tx: &deadpool_postgres::Transaction<'_>,
    bump: &Bump,
    ctx: &WriteContext,
    change: Change<'_>,
    audit: Audit,
) -> StoreResult<()> {
    let audit = Chained::new(bump, ctx, audit)?;
    let (payload, notify) = (Json(&change.payload), notify_payload(bump.revision));
    let mut params = audit.params().to_vec();
    params.extend_from_slice(&[&change.kind, &change.model, &change.binding, &payload, &notify]);
    let stmt = tx.prepare_cached(RECORD).await?;
    tx.query_one(&stmt, &params).await?;
    Ok(())
}

/// Takes the global write lock (the `registry_state` row) without bumping the revision.
pub(crate) async fn lock(tx: &deadpool_postgres::Transaction<'_>) -> StoreResult<()> {
    let stmt = tx.prepare_cached(LOCK_REVISION).await?;
    tx.query_one(&stmt, &[]).await?;
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
    let row = tx.query_one(&stmt, &[]).await?;
    let bump = Bump { revision: row.try_get(0)?, audit_head: row.try_get(1)? };
    let audit = Chained::new(&bump, ctx, audit)?;
    let stmt = tx.prepare_cached(AUDIT).await?;
    tx.execute(&stmt, &audit.params()).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_carry_only_the_revision() {
        assert_eq!(notify_payload(8), r#"{"revision":8}"#);
    }
}
