//! Reading the audit trail: filtered listings (newest first) and the walk `VerifyAuditLog` checks
//! the hash chain with (`bindery_core::ChainCheck`). Rows are appended by `write.rs`.

use bindery_core::{AuditEvent, AuditFilter, AuditRecord, Cursor, Page, PageRequest};
use tokio_postgres::Row;
use tokio_postgres::types::{Json, ToSql};

use crate::error::StoreResult;
use crate::{PgStore, rows};

const COLUMNS: &str =
    "id, revision, actor, action, target, before, after, request_id, trace_id, created_at, prev_hash, hash";

fn event(row: &Row) -> StoreResult<AuditEvent> {
    Ok(AuditEvent {
        id: rows::u(row.try_get("id")?)?,
        record: AuditRecord {
            revision: rows::u(row.try_get("revision")?)?,
            actor: row.try_get("actor")?,
            action: row.try_get("action")?,
            target: row.try_get("target")?,
            before: row.try_get::<_, Option<Json<serde_json::Value>>>("before")?.map(|j| j.0),
            after: row.try_get::<_, Option<Json<serde_json::Value>>>("after")?.map(|j| j.0),
            request_id: row.try_get("request_id")?,
            trace_id: row.try_get("trace_id")?,
            time: row.try_get("created_at")?,
        },
        prev_hash: row.try_get::<_, Option<String>>("prev_hash")?.unwrap_or_default(),
        hash: row.try_get::<_, Option<String>>("hash")?.unwrap_or_default(),
    })
}

type Param = Box<dyn ToSql + Sync + Send>;

/// Adds a parameter; returns its `$n`.
fn param(params: &mut Vec<Param>, value: Param) -> String {
    params.push(value);
    format!("${}", params.len())
}

pub(crate) async fn list(
    store: &PgStore,
    filter: &AuditFilter,
    page: &PageRequest,
) -> StoreResult<Page<AuditEvent>> {
    let mut conditions: Vec<String> = Vec::new();
    let mut params: Vec<Param> = Vec::new();
    if let Some((prefix, exact_or_child)) = filter.target_prefix() {
        let p = param(&mut params, Box::new(prefix));
        conditions.push(if exact_or_child {
            format!("(target = {p} OR starts_with(target, {p} || '/'))")
        } else {
            format!("starts_with(target, {p})")
        });
    }
    if let Some(actor) = &filter.actor {
        conditions.push(format!("actor = {}", param(&mut params, Box::new(actor.clone()))));
    }
    if let Some(action) = &filter.action {
        conditions.push(format!("action = {}", param(&mut params, Box::new(action.clone()))));
    }
    if let Some(since) = filter.since {
        conditions.push(format!("created_at >= {}", param(&mut params, Box::new(since))));
    }
    if let Some(until) = filter.until {
        conditions.push(format!("created_at < {}", param(&mut params, Box::new(until))));
    }
    if let Some(after) = page.after_number() {
        conditions.push(format!("id < {}", param(&mut params, Box::new(rows::i(after)?))));
    }
    let limit = param(&mut params, Box::new(i64::from(page.size) + 1));
    let conditions = if conditions.is_empty() { "true".to_owned() } else { conditions.join(" AND ") };
    let sql = format!("SELECT {COLUMNS} FROM audit_log WHERE {conditions} ORDER BY id DESC LIMIT {limit}");
    let client = store.client().await?;
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect();
    let found = client.query(&sql, &refs).await?;
    let items = found.iter().map(event).collect::<StoreResult<Vec<_>>>()?;
    Ok(Page::from_rows(items, page.size, |e| Cursor::Number(e.id)))
}

pub(crate) async fn rows_after(store: &PgStore, after: u64, limit: u32) -> StoreResult<Vec<AuditEvent>> {
    let client = store.client().await?;
    let sql = format!("SELECT {COLUMNS} FROM audit_log WHERE id > $1 ORDER BY id LIMIT $2");
    let stmt = client.prepare_cached(&sql).await?;
    let found = client.query(&stmt, &[&rows::i(after)?, &i64::from(limit)]).await?;
    found.iter().map(event).collect()
}
