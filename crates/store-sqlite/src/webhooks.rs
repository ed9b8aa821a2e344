//! Webhook subscriptions and their delivery bookkeeping on the embedded store (issue 16):
//! persistence only, as on PostgreSQL. What a subscription may be and what an attempt does to
//! it are `bindery_core::webhook`'s. The store has one writer; the lease still decides which
//! worker delivers a subscription, so a restarted worker waits for the old lease to lapse.

use std::time::{Duration, SystemTime};

use bindery_core::webhook::{Attempt, Delivery, NewWebhook, Progress, StoredWebhook, Webhook, WebhookUpdate};
use bindery_core::{Cursor, Error, Page, PageRequest, Result, WriteContext, from_unix_micros, unix_micros};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::ops::{Audit, Sql, append_audit_only, from_json, i, immediate, u};

const COLUMNS: &str = "id, config, secret, enabled, disabled_reason, event_cursor, attempts, failing_since, \
     next_attempt_at, created_at, updated_at";

fn stored(row: &Row<'_>) -> rusqlite::Result<(StoredWebhook, String)> {
    let attempts: i64 = row.get("attempts")?;
    let config: String = row.get("config")?;
    Ok((
        StoredWebhook {
            id: u64::try_from(row.get::<_, i64>("id")?).unwrap_or(0),
            config: serde_json::Value::Null,
            secret: row.get("secret")?,
            enabled: row.get("enabled")?,
            disabled_reason: row.get("disabled_reason")?,
            cursor: u64::try_from(row.get::<_, i64>("event_cursor")?).unwrap_or(0),
            attempts: u32::try_from(attempts).unwrap_or(0),
            failing_since: row.get("failing_since")?,
            next_attempt_at: row.get("next_attempt_at")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        },
        config,
    ))
}

fn webhook((mut s, config): (StoredWebhook, String)) -> Result<Webhook> {
    s.config = from_json(&config)?;
    Webhook::from_stored(s)
}

fn delivery(row: &Row<'_>) -> rusqlite::Result<Delivery> {
    let n = |v: i64| u64::try_from(v).unwrap_or(0);
    Ok(Delivery {
        id: n(row.get("id")?),
        webhook_id: n(row.get("webhook_id")?),
        attempt: Attempt {
            event_id: n(row.get("event_id")?),
            event_type: row.get("event_type")?,
            number: u32::try_from(row.get::<_, i64>("attempt")?).unwrap_or(0),
            result: row.get("result")?,
            status_code: u16::try_from(row.get::<_, i64>("status_code")?).unwrap_or(0),
            error: row.get("error")?,
            latency: Duration::from_micros(n(row.get("latency_us")?)),
            at: from_unix_micros(row.get("created_at")?),
        },
    })
}

fn not_found(id: u64) -> Error {
    Error::NotFound(format!("webhook {id} does not exist"))
}

fn load(conn: &Connection, id: u64) -> Result<Webhook> {
    let found = conn
        .query_row(&format!("SELECT {COLUMNS} FROM webhooks WHERE id = ?1"), params![i(id)?], stored)
        .optional()
        .sql()?;
    webhook(found.ok_or_else(|| not_found(id))?)
}

fn save(conn: &Connection, w: &Webhook) -> Result<()> {
    let s = w.stored();
    conn.execute(
        "UPDATE webhooks SET config = ?2, secret = ?3, enabled = ?4, disabled_reason = ?5, event_cursor = ?6,
             attempts = ?7, failing_since = ?8, next_attempt_at = ?9, updated_at = ?10
         WHERE id = ?1",
        params![
            i(s.id)?,
            s.config.to_string(),
            s.secret,
            s.enabled,
            s.disabled_reason,
            i(s.cursor)?,
            s.attempts,
            s.failing_since,
            s.next_attempt_at,
            s.updated_at
        ],
    )
    .sql()?;
    Ok(())
}

pub(crate) fn create(
    conn: &mut Connection,
    ctx: &WriteContext,
    new: &NewWebhook,
    now: SystemTime,
) -> Result<Webhook> {
    let tx = immediate(conn)?;
    let head: i64 = tx.query_row("SELECT coalesce(max(id), 0) FROM audit_log", [], |r| r.get(0)).sql()?;
    let mut w = Webhook::first(new, &ctx.actor, u(head)?, now);
    let s = w.stored();
    tx.execute(
        "INSERT INTO webhooks (config, secret, enabled, event_cursor, next_attempt_at, created_at, updated_at)
         VALUES (?1, ?2, 1, ?3, ?4, ?5, ?5)",
        params![s.config.to_string(), s.secret, head, s.next_attempt_at, s.created_at],
    )
    .sql()?;
    w.id = u(tx.last_insert_rowid())?;
    let audit = Audit {
        action: "webhook.create",
        target: Webhook::target(w.id),
        before: None,
        after: Some(w.audit_json()),
    };
    append_audit_only(&tx, ctx, audit)?;
    tx.commit().sql()?;
    Ok(w)
}

pub(crate) fn update(
    conn: &mut Connection,
    ctx: &WriteContext,
    id: u64,
    update: &WebhookUpdate,
    now: SystemTime,
) -> Result<Webhook> {
    let tx = immediate(conn)?;
    let before = load(&tx, id)?;
    let after = update.apply(before.clone(), now);
    save(&tx, &after)?;
    let audit = Audit {
        action: "webhook.update",
        target: Webhook::target(id),
        before: Some(before.audit_json()),
        after: Some(after.audit_json()),
    };
    append_audit_only(&tx, ctx, audit)?;
    tx.commit().sql()?;
    Ok(after)
}

pub(crate) fn delete(conn: &mut Connection, ctx: &WriteContext, id: u64) -> Result<()> {
    let tx = immediate(conn)?;
    let before = load(&tx, id)?;
    tx.execute("DELETE FROM webhook_deliveries WHERE webhook_id = ?1", params![i(id)?]).sql()?;
    tx.execute("DELETE FROM webhooks WHERE id = ?1", params![i(id)?]).sql()?;
    let audit = Audit {
        action: "webhook.delete",
        target: Webhook::target(id),
        before: Some(before.audit_json()),
        after: None,
    };
    append_audit_only(&tx, ctx, audit)?;
    tx.commit().sql()?;
    Ok(())
}

pub(crate) fn get(conn: &Connection, id: u64) -> Result<Webhook> {
    load(conn, id)
}

pub(crate) fn list(conn: &Connection, page: &PageRequest) -> Result<Page<Webhook>> {
    let after = page.after_number().map(i).transpose()?;
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM webhooks WHERE (?1 IS NULL OR id > ?1) ORDER BY id LIMIT ?2"
        ))
        .sql()?;
    let rows = stmt.query_map(params![after, i64::from(page.size) + 1], stored).sql()?;
    let items = rows.map(|r| r.sql().and_then(webhook)).collect::<Result<Vec<_>>>()?;
    Ok(Page::from_rows(items, page.size, |w| Cursor::Number(w.id)))
}

pub(crate) fn claim(
    conn: &mut Connection,
    worker: &str,
    now: SystemTime,
    lease: Duration,
    limit: u32,
) -> Result<Vec<Webhook>> {
    let tx = immediate(conn)?;
    let found = {
        let mut stmt = tx
            .prepare_cached(&format!(
                "UPDATE webhooks SET lease_owner = ?1, lease_until = ?2
                 WHERE id IN (
                     SELECT id FROM webhooks
                     WHERE enabled AND next_attempt_at <= ?3 AND lease_until < ?3
                       AND event_cursor < (SELECT coalesce(max(id), 0) FROM audit_log)
                     ORDER BY next_attempt_at LIMIT ?4)
                 RETURNING {COLUMNS}"
            ))
            .sql()?;
        let rows = stmt
            .query_map(params![worker, unix_micros(now + lease), unix_micros(now), i64::from(limit)], stored)
            .sql()?;
        rows.map(|r| r.sql().and_then(webhook)).collect::<Result<Vec<_>>>()?
    };
    tx.commit().sql()?;
    Ok(found)
}

pub(crate) fn progress(conn: &mut Connection, worker: &str, id: u64, p: &Progress) -> Result<bool> {
    let tx = immediate(conn)?;
    let held = tx
        .execute(
            "UPDATE webhooks SET event_cursor = ?3, attempts = ?4, failing_since = ?5, next_attempt_at = ?6,
                 enabled = enabled AND NOT ?7, disabled_reason = CASE WHEN ?7 THEN ?8 ELSE disabled_reason END,
                 lease_until = CASE WHEN ?9 THEN 0 ELSE lease_until END,
                 lease_owner = CASE WHEN ?9 THEN NULL ELSE lease_owner END
             WHERE id = ?1 AND lease_owner = ?2",
            params![
                i(id)?,
                worker,
                i(p.state.cursor)?,
                p.state.attempts,
                p.state.failing_since.map(unix_micros),
                unix_micros(p.state.next_attempt_at),
                p.disable.is_some(),
                p.disable.clone().unwrap_or_default(),
                p.release
            ],
        )
        .sql()?
        == 1;
    if held {
        for d in &p.deliveries {
            insert_delivery(&tx, id, d)?;
        }
    }
    tx.commit().sql()?;
    Ok(held)
}

fn insert_delivery(conn: &Connection, id: u64, d: &Attempt) -> Result<u64> {
    conn.execute(
        "INSERT INTO webhook_deliveries
             (webhook_id, event_id, event_type, attempt, result, status_code, error, latency_us, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            i(id)?,
            i(d.event_id)?,
            d.event_type,
            d.number,
            d.result,
            d.status_code,
            d.error,
            i64::try_from(d.latency.as_micros()).unwrap_or(i64::MAX),
            unix_micros(d.at)
        ],
    )
    .sql()?;
    u(conn.last_insert_rowid())
}

pub(crate) fn record_delivery(conn: &Connection, id: u64, d: &Attempt) -> Result<u64> {
    load(conn, id)?;
    insert_delivery(conn, id, d)
}

pub(crate) fn deliveries(conn: &Connection, id: u64, page: &PageRequest) -> Result<Page<Delivery>> {
    load(conn, id)?;
    let after = page.after_number().map(i).transpose()?;
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, webhook_id, event_id, event_type, attempt, result, status_code, error, latency_us, created_at
             FROM webhook_deliveries WHERE webhook_id = ?1 AND (?2 IS NULL OR id < ?2)
             ORDER BY id DESC LIMIT ?3",
        )
        .sql()?;
    let rows = stmt.query_map(params![i(id)?, after, i64::from(page.size) + 1], delivery).sql()?;
    let items = rows.collect::<rusqlite::Result<Vec<_>>>().sql()?;
    Ok(Page::from_rows(items, page.size, |d| Cursor::Number(d.id)))
}

pub(crate) fn prune(conn: &Connection, before: SystemTime) -> Result<u64> {
    let n = conn
        .execute("DELETE FROM webhook_deliveries WHERE created_at < ?1", params![unix_micros(before)])
        .sql()?;
    Ok(u64::try_from(n).unwrap_or(0))
}
