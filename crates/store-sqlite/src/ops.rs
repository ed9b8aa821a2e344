//! What every store operation shares (on the store's own thread): conversions, the shared half
//! of every write, migrations. The operations live per entity (`models.rs`, `versions.rs`,
//! `bindings.rs`, `access.rs`, `sessions.rs`, and the feed's reads in `feed.rs`). Each write is one
//! `BEGIN IMMEDIATE` transaction with the same rules as the PostgreSQL store: the revision bumped
//! once, a change-log row, an audit row, all or nothing.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bindery_core::{AuditRecord, BindingName, Change, Error, ModelName, Result, WriteContext};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

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
            Error::unavailable("the embedded database is unavailable; retry later", e)
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
    micros(SystemTime::now())
}

/// A time as stored: microseconds since the Unix epoch.
pub(crate) fn micros(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
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

pub(crate) fn value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or_default()
}

pub(crate) fn model_name(text: String) -> Result<ModelName> {
    ModelName::parse("model", text).map_err(corrupt)
}

pub(crate) fn binding_name(text: String) -> Result<BindingName> {
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

/// An audit row for a write read nodes serve nothing of (policies, promotion requests that do
/// not move a binding, cards, annotations): it sits at the current revision.
pub(crate) fn append_audit_only(tx: &Transaction<'_>, ctx: &WriteContext, audit: Audit) -> Result<()> {
    let revision = i(crate::bindings::revision(tx)?)?;
    append_audit(tx, revision, ctx, audit)
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

/// `(version, sql)`, in order. Never edit an applied migration; add a new one.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_init.sql")),
    (2, include_str!("../migrations/0002_artifacts.sql")),
    (3, include_str!("../migrations/0003_access.sql")),
    (4, include_str!("../migrations/0004_gc_tombstones.sql")),
    (5, include_str!("../migrations/0005_promotions.sql")),
    (6, include_str!("../migrations/0006_annotations.sql")),
    (7, include_str!("../migrations/0007_traffic.sql")),
    (8, include_str!("../migrations/0008_webhooks.sql")),
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
