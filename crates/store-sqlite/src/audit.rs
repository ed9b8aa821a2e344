//! Reading the audit trail on the embedded store (see PostgreSQL's `audit.rs`).

use bindery_core::{AuditEvent, AuditFilter, AuditRecord, Cursor, Page, PageRequest, Result};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, Row};

use crate::ops::{Sql, from_json, i, time, u};

const COLUMNS: &str =
    "id, revision, actor, action, target, before, after, request_id, trace_id, created_at, prev_hash, hash";

type EventRow = (
    i64,
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
    i64,
    Option<String>,
    Option<String>,
);

fn event_row(r: &Row<'_>) -> rusqlite::Result<EventRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
        r.get(11)?,
    ))
}

fn event(row: EventRow) -> Result<AuditEvent> {
    let (id, revision, actor, action, target, before, after, request_id, trace_id, at, prev_hash, hash) = row;
    Ok(AuditEvent {
        id: u(id)?,
        record: AuditRecord {
            revision: u(revision)?,
            actor,
            action,
            target,
            before: before.map(|b| from_json(&b)).transpose()?,
            after: after.map(|a| from_json(&a)).transpose()?,
            request_id,
            trace_id,
            time: time(at),
        },
        prev_hash: prev_hash.unwrap_or_default(),
        hash: hash.unwrap_or_default(),
    })
}

fn query(conn: &Connection, sql: &str, params: &[SqlValue]) -> Result<Vec<AuditEvent>> {
    let mut stmt = conn.prepare(sql).sql()?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(params.iter()), event_row)
        .sql()?
        .collect::<rusqlite::Result<Vec<_>>>()
        .sql()?;
    rows.into_iter().map(event).collect()
}

pub(crate) fn list(conn: &Connection, filter: &AuditFilter, page: &PageRequest) -> Result<Page<AuditEvent>> {
    let mut conditions: Vec<String> = Vec::new();
    let mut params: Vec<SqlValue> = Vec::new();
    let mut param = |v: SqlValue| {
        params.push(v);
        format!("?{}", params.len())
    };
    if let Some((prefix, exact_or_child)) = filter.target_prefix() {
        let n = prefix.len();
        let p = param(SqlValue::Text(prefix));
        conditions.push(if exact_or_child {
            format!("(target = {p} OR substr(target, 1, {}) = {p} || '/')", n + 1)
        } else {
            format!("substr(target, 1, {n}) = {p}")
        });
    }
    if let Some(actor) = &filter.actor {
        conditions.push(format!("actor = {}", param(SqlValue::Text(actor.clone()))));
    }
    if let Some(action) = &filter.action {
        conditions.push(format!("action = {}", param(SqlValue::Text(action.clone()))));
    }
    if let Some(since) = filter.since {
        conditions
            .push(format!("created_at >= {}", param(SqlValue::Integer(bindery_core::unix_micros(since)))));
    }
    if let Some(until) = filter.until {
        conditions
            .push(format!("created_at < {}", param(SqlValue::Integer(bindery_core::unix_micros(until)))));
    }
    if let Some(after) = page.after_number() {
        conditions.push(format!("id < {}", param(SqlValue::Integer(i(after)?))));
    }
    let limit = param(SqlValue::Integer(i64::from(page.size) + 1));
    let conditions = if conditions.is_empty() { "1".to_owned() } else { conditions.join(" AND ") };
    let sql = format!("SELECT {COLUMNS} FROM audit_log WHERE {conditions} ORDER BY id DESC LIMIT {limit}");
    let items = query(conn, &sql, &params)?;
    Ok(Page::from_rows(items, page.size, |e| Cursor::Number(e.id)))
}

pub(crate) fn rows_after(conn: &Connection, after: u64, limit: u32) -> Result<Vec<AuditEvent>> {
    let sql = format!("SELECT {COLUMNS} FROM audit_log WHERE id > ?1 ORDER BY id LIMIT ?2");
    query(conn, &sql, &[SqlValue::Integer(i(after)?), SqlValue::Integer(i64::from(limit))])
}
