//! Webhook subscriptions and their delivery bookkeeping (issue 16): persistence only. What a
//! subscription may be and what an attempt does to it are `bindery_core::webhook`'s. Management
//! writes are audited (without the secret) under the global lock; the worker's bookkeeping is
//! not audited, runs with `synchronous_commit = off` (at-least-once tolerates losing the last
//! cursor move in a crash: the event is sent again), and checks the worker's lease.

use std::time::{Duration, SystemTime};

use bindery_core::webhook::{Attempt, Delivery, NewWebhook, Progress, StoredWebhook, Webhook, WebhookUpdate};
use bindery_core::{Cursor, Error, Page, PageRequest, WriteContext, from_unix_micros, unix_micros};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::types::Json;

use crate::PgStore;
use crate::error::StoreResult;
use crate::rows::{i, u};
use crate::write::{self, Audit};

const COLUMNS: &str = "id, config, secret, enabled, disabled_reason, event_cursor, attempts, failing_since, \
     next_attempt_at, created_at, updated_at";

fn webhook(row: &Row) -> StoreResult<Webhook> {
    let attempts: i32 = row.try_get("attempts")?;
    Ok(Webhook::from_stored(StoredWebhook {
        id: u(row.try_get("id")?)?,
        config: row.try_get::<_, Json<serde_json::Value>>("config")?.0,
        secret: row.try_get("secret")?,
        enabled: row.try_get("enabled")?,
        disabled_reason: row.try_get("disabled_reason")?,
        cursor: u(row.try_get("event_cursor")?)?,
        attempts: u32::try_from(attempts).unwrap_or(0),
        failing_since: row.try_get("failing_since")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })?)
}

fn delivery(row: &Row) -> StoreResult<Delivery> {
    let (attempt, status): (i32, i32) = (row.try_get("attempt")?, row.try_get("status_code")?);
    Ok(Delivery {
        id: u(row.try_get("id")?)?,
        webhook_id: u(row.try_get("webhook_id")?)?,
        attempt: Attempt {
            event_id: u(row.try_get("event_id")?)?,
            event_type: row.try_get("event_type")?,
            number: u32::try_from(attempt).unwrap_or(0),
            result: row.try_get("result")?,
            status_code: u16::try_from(status).unwrap_or(0),
            error: row.try_get("error")?,
            latency: Duration::from_micros(u(row.try_get("latency_us")?)?),
            at: from_unix_micros(row.try_get("created_at")?),
        },
    })
}

pub(crate) fn not_found(id: u64) -> Error {
    Error::NotFound(format!("webhook {id} does not exist"))
}

async fn load(client: &impl GenericClient, id: u64, lock: bool) -> StoreResult<Webhook> {
    let sql =
        format!("SELECT {COLUMNS} FROM webhooks WHERE id = $1{}", if lock { " FOR UPDATE" } else { "" });
    let stmt = client.prepare_cached(&sql).await?;
    let row = client.query_opt(&stmt, &[&i(id)?]).await?.ok_or_else(|| not_found(id))?;
    webhook(&row)
}

/// Writes every column of `w` but the lease.
async fn save(client: &impl GenericClient, w: &Webhook) -> StoreResult<()> {
    let s = w.stored();
    let stmt = client
        .prepare_cached(
            "UPDATE webhooks SET config = $2, secret = $3, enabled = $4, disabled_reason = $5, event_cursor = $6,
                 attempts = $7, failing_since = $8, next_attempt_at = $9, updated_at = $10
             WHERE id = $1",
        )
        .await?;
    let attempts = i32::try_from(s.attempts).unwrap_or(i32::MAX);
    client
        .execute(
            &stmt,
            &[
                &i(s.id)?,
                &Json(&s.config),
                &s.secret,
                &s.enabled,
                &s.disabled_reason,
                &i(s.cursor)?,
                &attempts,
                &s.failing_since,
                &s.next_attempt_at,
                &s.updated_at,
            ],
        )
        .await?;
    Ok(())
}

pub(crate) async fn create(
    store: &PgStore,
    ctx: &WriteContext,
    new: &NewWebhook,
    now: SystemTime,
) -> StoreResult<Webhook> {
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    // Under the global lock: the newest audit row is the last one committed, so the new
    // subscription gets exactly the events after it.
    write::lock(&tx).await?;
    let head: i64 = tx.query_one("SELECT coalesce(max(id), 0) FROM audit_log", &[]).await?.try_get(0)?;
    let mut w = Webhook::first(new, &ctx.actor, u(head)?, now);
    let s = w.stored();
    let stmt = tx
        .prepare_cached(
            "INSERT INTO webhooks (config, secret, enabled, event_cursor, next_attempt_at, created_at, updated_at)
             VALUES ($1, $2, true, $3, $4, $5, $5) RETURNING id",
        )
        .await?;
    let id: i64 = tx
        .query_one(&stmt, &[&Json(&s.config), &s.secret, &head, &s.next_attempt_at, &s.created_at])
        .await?
        .try_get(0)?;
    w.id = u(id)?;
    let audit = Audit {
        action: "webhook.create",
        target: Webhook::target(w.id),
        before: None,
        after: Some(w.audit_json()),
    };
    write::record_audit_only(&tx, ctx, audit).await?;
    tx.commit().await?;
    Ok(w)
}

pub(crate) async fn update(
    store: &PgStore,
    ctx: &WriteContext,
    id: u64,
    update: &WebhookUpdate,
    now: SystemTime,
) -> StoreResult<Webhook> {
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    let before = load(&tx, id, true).await?;
    let after = update.apply(before.clone(), now);
    save(&tx, &after).await?;
    let audit = Audit {
        action: "webhook.update",
        target: Webhook::target(id),
        before: Some(before.audit_json()),
        after: Some(after.audit_json()),
    };
    write::record_audit_only(&tx, ctx, audit).await?;
    tx.commit().await?;
    Ok(after)
}

pub(crate) async fn delete(store: &PgStore, ctx: &WriteContext, id: u64) -> StoreResult<()> {
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    let before = load(&tx, id, true).await?;
    tx.execute("DELETE FROM webhooks WHERE id = $1", &[&i(id)?]).await?;
    let audit = Audit {
        action: "webhook.delete",
        target: Webhook::target(id),
        before: Some(before.audit_json()),
        after: None,
    };
    write::record_audit_only(&tx, ctx, audit).await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn get(store: &PgStore, id: u64) -> StoreResult<Webhook> {
    load(&store.client().await?, id, false).await
}

pub(crate) async fn list(store: &PgStore, page: &PageRequest) -> StoreResult<Page<Webhook>> {
    let client = store.client().await?;
    let sql =
        format!("SELECT {COLUMNS} FROM webhooks WHERE ($1::bigint IS NULL OR id > $1) ORDER BY id LIMIT $2");
    let stmt = client.prepare_cached(&sql).await?;
    let after = page.after_number().map(i).transpose()?;
    let found = client.query(&stmt, &[&after, &(i64::from(page.size) + 1)]).await?;
    let items = found.iter().map(webhook).collect::<StoreResult<Vec<_>>>()?;
    Ok(Page::from_rows(items, page.size, |w| Cursor::Number(w.id)))
}

pub(crate) async fn claim(
    store: &PgStore,
    worker: &str,
    now: SystemTime,
    lease: Duration,
    limit: u32,
) -> StoreResult<Vec<Webhook>> {
    let client = store.client().await?;
    let sql = format!(
        "UPDATE webhooks SET lease_owner = $1, lease_until = $2
         WHERE id IN (
             SELECT id FROM webhooks
             WHERE enabled AND next_attempt_at <= $3 AND lease_until < $3
               AND event_cursor < (SELECT coalesce(max(id), 0) FROM audit_log)
             ORDER BY next_attempt_at LIMIT $4
             FOR UPDATE SKIP LOCKED)
         RETURNING {COLUMNS}"
    );
    let stmt = client.prepare_cached(&sql).await?;
    let now_us = unix_micros(now);
    let until = unix_micros(now + lease);
    let found = client.query(&stmt, &[&worker, &until, &now_us, &i64::from(limit)]).await?;
    found.iter().map(webhook).collect()
}

pub(crate) async fn progress(store: &PgStore, worker: &str, id: u64, p: &Progress) -> StoreResult<bool> {
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    tx.batch_execute("SET LOCAL synchronous_commit = off").await?;
    let stmt = tx
        .prepare_cached(
            "UPDATE webhooks SET event_cursor = $3, attempts = $4, failing_since = $5, next_attempt_at = $6,
                 enabled = enabled AND NOT $7, disabled_reason = CASE WHEN $7 THEN $8 ELSE disabled_reason END,
                 lease_until = CASE WHEN $9 THEN 0 ELSE lease_until END,
                 lease_owner = CASE WHEN $9 THEN NULL ELSE lease_owner END
             WHERE id = $1 AND lease_owner = $2",
        )
        .await?;
    let attempts = i32::try_from(p.state.attempts).unwrap_or(i32::MAX);
    let failing_since = p.state.failing_since.map(unix_micros);
    let disable = p.disable.is_some();
    let reason = p.disable.clone().unwrap_or_default();
    let held = tx
        .execute(
            &stmt,
            &[
                &i(id)?,
                &worker,
                &i(p.state.cursor)?,
                &attempts,
                &failing_since,
                &unix_micros(p.state.next_attempt_at),
                &disable,
                &reason,
                &p.release,
            ],
        )
        .await?
        == 1;
    if held {
        for d in &p.deliveries {
            insert_delivery(&tx, id, d).await?;
        }
    }
    tx.commit().await?;
    Ok(held)
}

async fn insert_delivery(client: &impl GenericClient, id: u64, d: &Attempt) -> StoreResult<u64> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO webhook_deliveries
                 (webhook_id, event_id, event_type, attempt, result, status_code, error, latency_us, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .await?;
    let latency = i64::try_from(d.latency.as_micros()).unwrap_or(i64::MAX);
    let row = client
        .query_one(
            &stmt,
            &[
                &i(id)?,
                &i(d.event_id)?,
                &d.event_type,
                &i32::try_from(d.number).unwrap_or(i32::MAX),
                &d.result,
                &i32::from(d.status_code),
                &d.error,
                &latency,
                &unix_micros(d.at),
            ],
        )
        .await?;
    u(row.try_get(0)?)
}

pub(crate) async fn record_delivery(store: &PgStore, id: u64, d: &Attempt) -> StoreResult<u64> {
    let client = store.client().await?;
    load(&client, id, false).await?;
    insert_delivery(&client, id, d).await
}

pub(crate) async fn deliveries(store: &PgStore, id: u64, page: &PageRequest) -> StoreResult<Page<Delivery>> {
    let client = store.client().await?;
    load(&client, id, false).await?;
    let stmt = client
        .prepare_cached(
            "SELECT id, webhook_id, event_id, event_type, attempt, result, status_code, error, latency_us, created_at
             FROM webhook_deliveries WHERE webhook_id = $1 AND ($2::bigint IS NULL OR id < $2)
             ORDER BY id DESC LIMIT $3",
        )
        .await?;
    let after = page.after_number().map(i).transpose()?;
    let found = client.query(&stmt, &[&i(id)?, &after, &(i64::from(page.size) + 1)]).await?;
    let items = found.iter().map(delivery).collect::<StoreResult<Vec<_>>>()?;
    Ok(Page::from_rows(items, page.size, |d| Cursor::Number(d.id)))
}

pub(crate) async fn prune(store: &PgStore, before: SystemTime) -> StoreResult<u64> {
    let client = store.client().await?;
    Ok(client
        .execute("DELETE FROM webhook_deliveries WHERE created_at < $1", &[&unix_micros(before)])
        .await?)
}
