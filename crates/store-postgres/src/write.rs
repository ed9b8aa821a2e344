//! The half of every write that is the same for all of them (DESIGN.md §3.1-3.2): bump the global
//! revision, append the change, write the audit row, and NOTIFY — inside the caller's transaction,
//! so all of it commits with the write or none of it does.

use bindery_core::WriteContext;
use serde_json::{Value, json};
use tokio_postgres::types::Json;

use crate::error::StoreResult;

/// The channel read nodes LISTEN on.
pub const NOTIFY_CHANNEL: &str = "bindery_changes";
/// Postgres refuses NOTIFY payloads of 8000 bytes or more; larger changes go by revision only.
pub const NOTIFY_PAYLOAD_LIMIT: usize = 7_999;

pub(crate) const SELECT_REVISION: &str = "SELECT revision FROM registry_state";

/// Retention of the change log: older than `$1` seconds, except the newest entry.
pub(crate) const PRUNE_CHANGES: &str = "DELETE FROM changes
    WHERE created_at < now() - make_interval(secs => $1)
      AND revision < (SELECT max(revision) FROM changes)";

/// Takes the global row lock: every writer after this waits for our commit, so revisions commit
/// in order and without gaps. Callers take it last, after their model row lock.
const BUMP_REVISION: &str = "UPDATE registry_state SET revision = revision + 1 RETURNING revision";

const RECORD: &str = "WITH change AS (
        INSERT INTO changes (revision, kind, model, binding, payload) VALUES ($1, $2, $3, $4, $5)
    ), audit AS (
        INSERT INTO audit_log (revision, actor, action, target, before, after, request_id, trace_id)
        VALUES ($1, $6, $7, $8, $9, $10, $11, $12)
    )
    SELECT pg_notify('bindery_changes', $13)";

/// What changed, as read nodes see it.
pub(crate) struct Change<'a> {
    /// `model`, `version` or `binding`.
    pub kind: &'static str,
    pub model: &'a str,
    pub binding: Option<&'a str>,
    pub payload: Value,
}

/// What changed, as auditors see it.
pub(crate) struct Audit {
    /// e.g. `model.create`, `binding.set`.
    pub action: &'static str,
    /// e.g. `models/fraud/bindings/production`.
    pub target: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

pub(crate) async fn bump_revision(tx: &deadpool_postgres::Transaction<'_>) -> StoreResult<i64> {
    let stmt = tx.prepare_cached(BUMP_REVISION).await?;
    Ok(tx.query_one(&stmt, &[]).await?.try_get(0)?)
}

/// The NOTIFY payload: the whole change when it fits, else only its revision (readers then fetch
/// `changes WHERE revision > applied`).
pub(crate) fn notify_payload(revision: i64, change: &Change<'_>) -> String {
    let full = json!({
        "revision": revision,
        "kind": change.kind,
        "model": change.model,
        "binding": change.binding,
        "payload": change.payload,
    })
    .to_string();
    if full.len() <= NOTIFY_PAYLOAD_LIMIT { full } else { json!({ "revision": revision }).to_string() }
}

pub(crate) async fn record(
    tx: &deadpool_postgres::Transaction<'_>,
    revision: i64,
    ctx: &WriteContext,
    change: Change<'_>,
    audit: Audit,
) -> StoreResult<()> {
    let notify = notify_payload(revision, &change);
    let stmt = tx.prepare_cached(RECORD).await?;
    tx.query_one(
        &stmt,
        &[
            &revision,
            &change.kind,
            &change.model,
            &change.binding,
            &Json(&change.payload),
            &ctx.actor,
            &audit.action,
            &audit.target,
            &audit.before.as_ref().map(Json),
            &audit.after.as_ref().map(Json),
            &ctx.request_id,
            &ctx.trace_id,
            &notify,
        ],
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_changes_notify_by_revision_only() {
        let small = Change { kind: "binding", model: "m", binding: Some("prod"), payload: json!({"v": 1}) };
        assert!(notify_payload(7, &small).contains("\"payload\""));
        let big = Change { kind: "version", model: "m", binding: None, payload: json!("x".repeat(9_000)) };
        assert_eq!(notify_payload(8, &big), r#"{"revision":8}"#);
    }
}
