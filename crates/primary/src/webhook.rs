//! Webhooks and the event stream on the primary (issue 16): the RPCs, each with its role.
//! Managing a webhook needs ADMIN on its scope (moving one to another scope: on both), so a
//! namespace's admins run their own; watching needs VIEWER on the watched scope. Deliveries go
//! out from `delivery.rs`.

use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bindery_core::event::{Event, EventFilter, PING, rfc3339};
use bindery_core::webhook::{Attempt, Delivery, NewWebhook, Outcome, Webhook, generate_secret};
use bindery_core::{Error, PageRequest, Role, Store};
use bindery_proto::webhook::webhook_update;
use bindery_proto::{status_from_error, v1};
use bytes::Bytes;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use crate::auth::Caller;
use crate::delivery::{Message, Sender, WebhookSettings};
use crate::{Primary, decode};

type RpcResult<T> = Result<Response<T>, Status>;

/// The webhook side of a primary: delivery settings and the sender `TestWebhook` and
/// `RedeliverWebhook` use.
pub struct Webhooks {
    pub settings: WebhookSettings,
    /// Built on first use (it loads the TLS roots).
    sender: std::sync::OnceLock<Option<Sender>>,
}

impl Webhooks {
    pub fn new(settings: WebhookSettings) -> Self {
        Self { settings, sender: std::sync::OnceLock::new() }
    }

    fn send(&self) -> Result<&Sender, Status> {
        let sender = self.sender.get_or_init(|| {
            Sender::new(self.settings.hosts.clone(), 4)
                .map_err(
                    |e| tracing::error!(error = %e, "webhook tests and redeliveries are off: no TLS roots"),
                )
                .ok()
        });
        sender.as_ref().ok_or_else(|| {
            Status::unavailable("webhook deliveries are off on this primary (no TLS roots; see its log)")
        })
    }
}

/// The subscription `id`, if the caller administers its scope.
async fn owned(p: &Primary, caller: &Caller, id: u64) -> Result<Webhook, Status> {
    let w = p.store.get_webhook(id).await.map_err(status_from_error)?;
    caller.require_scope(Role::Admin, &w.filter.scope)?;
    Ok(w)
}

pub(crate) async fn create(
    p: &Primary,
    request: Request<v1::CreateWebhookRequest>,
) -> RpcResult<v1::CreateWebhookResponse> {
    let caller = p.caller(&request, "CreateWebhook").await?;
    let new: NewWebhook = decode(request.into_inner())?;
    caller.require_scope(Role::Admin, &new.filter.scope)?;
    p.webhooks.settings.hosts.check_literal(&new.url).map_err(|e| invalid_url(&e))?;
    let w = p.store.create_webhook(&caller.ctx, &new, SystemTime::now()).await.map_err(status_from_error)?;
    Ok(Response::new(v1::CreateWebhookResponse { secret: new.secret, webhook: Some(w.into()) }))
}

/// A URL the operator has not allowed is a bad argument of this request.
fn invalid_url(e: &Error) -> Status {
    status_from_error(Error::invalid("url", e.to_string()))
}

pub(crate) async fn update(
    p: &Primary,
    request: Request<v1::UpdateWebhookRequest>,
) -> RpcResult<v1::UpdateWebhookResponse> {
    let caller = p.caller(&request, "UpdateWebhook").await?;
    let r = request.into_inner();
    let current = owned(p, &caller, r.id).await?;
    let id = r.id;
    let (mut update, rotate) = webhook_update(r, &current.filter).map_err(status_from_error)?;
    if let Some(filter) = &update.filter {
        caller.require_scope(Role::Admin, &filter.scope)?;
    }
    if let Some(url) = &update.url {
        p.webhooks.settings.hosts.check_literal(url).map_err(|e| invalid_url(&e))?;
    }
    let secret = if rotate { generate_secret().map_err(status_from_error)? } else { String::new() };
    if rotate {
        update.secret = Some(secret.clone());
    }
    let w = p
        .store
        .update_webhook(&caller.ctx, id, &update, SystemTime::now())
        .await
        .map_err(status_from_error)?;
    Ok(Response::new(v1::UpdateWebhookResponse { webhook: Some(w.into()), secret }))
}

pub(crate) async fn delete(
    p: &Primary,
    request: Request<v1::DeleteWebhookRequest>,
) -> RpcResult<v1::DeleteWebhookResponse> {
    let caller = p.caller(&request, "DeleteWebhook").await?;
    let id = request.into_inner().id;
    owned(p, &caller, id).await?;
    p.store.delete_webhook(&caller.ctx, id).await.map_err(status_from_error)?;
    Ok(Response::new(v1::DeleteWebhookResponse {}))
}

pub(crate) async fn get(p: &Primary, request: Request<v1::GetWebhookRequest>) -> RpcResult<v1::Webhook> {
    let caller = p.caller(&request, "GetWebhook").await?;
    let w = owned(p, &caller, request.into_inner().id).await?;
    Ok(Response::new(w.into()))
}

pub(crate) async fn list(
    p: &Primary,
    request: Request<v1::ListWebhooksRequest>,
) -> RpcResult<v1::ListWebhooksResponse> {
    let caller = p.caller(&request, "ListWebhooks").await?;
    let page: PageRequest = decode(request.into_inner())?;
    let found = p.store.list_webhooks(page).await.map_err(status_from_error)?;
    let next_page_token = found.next_token("webhooks");
    let webhooks = found
        .items
        .into_iter()
        .filter(|w| caller.policy.require(&caller.who, Role::Admin, &w.filter.scope).is_ok())
        .map(Into::into)
        .collect();
    Ok(Response::new(v1::ListWebhooksResponse { webhooks, next_page_token }))
}

pub(crate) async fn deliveries(
    p: &Primary,
    request: Request<v1::ListWebhookDeliveriesRequest>,
) -> RpcResult<v1::ListWebhookDeliveriesResponse> {
    let caller = p.caller(&request, "ListWebhookDeliveries").await?;
    let r = request.into_inner();
    let page = PageRequest::parse("deliveries", r.page_size, &r.page_token).map_err(status_from_error)?;
    owned(p, &caller, r.id).await?;
    let found = p.store.list_webhook_deliveries(r.id, page).await.map_err(status_from_error)?;
    let next_page_token = found.next_token("deliveries");
    Ok(Response::new(v1::ListWebhookDeliveriesResponse {
        deliveries: found.items.into_iter().map(Into::into).collect(),
        next_page_token,
    }))
}

/// Sends `message` to `w` now and records the attempt as `ok` or `failed`.
async fn send_now(
    p: &Primary,
    w: &Webhook,
    message: &Message<'_>,
    event_id: u64,
    (ok, failed): (&str, &str),
) -> Result<v1::WebhookDelivery, Status> {
    let (outcome, latency) = p.webhooks.send()?.post(w, message).await;
    let result = if matches!(outcome, Outcome::Delivered { .. }) { ok } else { failed };
    let attempt = Attempt::new(event_id, message.event_type, 1, result, &outcome, latency);
    let id = p.store.record_webhook_delivery(w.id, &attempt).await.map_err(status_from_error)?;
    Ok(Delivery { id, webhook_id: w.id, attempt }.into())
}

pub(crate) async fn test(
    p: &Primary,
    request: Request<v1::TestWebhookRequest>,
) -> RpcResult<v1::TestWebhookResponse> {
    let caller = p.caller(&request, "TestWebhook").await?;
    let w = owned(p, &caller, request.into_inner().id).await?;
    let now = SystemTime::now();
    let id = format!("ping-{}-{}", w.id, bindery_core::unix_micros(now));
    let revision = p.store.revision().await.map_err(status_from_error)?;
    let body = serde_json::json!({
        "id": id,
        "type": PING,
        "revision": revision,
        "time": rfc3339(now),
        "actor": caller.who.name,
        "data": { "webhook_id": w.id },
    });
    let message = Message { id: &id, event_type: PING, body: Bytes::from(body.to_string()), attempt: 1 };
    let delivery = send_now(p, &w, &message, 0, ("test delivered", "test failed")).await?;
    Ok(Response::new(v1::TestWebhookResponse { delivery: Some(delivery) }))
}

pub(crate) async fn redeliver(
    p: &Primary,
    request: Request<v1::RedeliverWebhookRequest>,
) -> RpcResult<v1::RedeliverWebhookResponse> {
    let caller = p.caller(&request, "RedeliverWebhook").await?;
    let r = request.into_inner();
    let w = owned(p, &caller, r.id).await?;
    let row = p.store.audit_rows(r.event_id.saturating_sub(1), 1).await.map_err(status_from_error)?;
    let event = row
        .first()
        .filter(|row| row.id == r.event_id)
        .and_then(Event::from_audit)
        .filter(|e| w.filter.matches(e))
        .ok_or_else(|| {
            Status::failed_precondition(format!(
                "event {} is not one webhook {} gets (no such event, or not of its types and scope)",
                r.event_id, w.id
            ))
        })?;
    let id = event.id.to_string();
    let message =
        Message { id: &id, event_type: event.event_type, body: Bytes::from(event.body()), attempt: 1 };
    let delivery = send_now(p, &w, &message, event.id, ("redelivered", "redelivery failed")).await?;
    Ok(Response::new(v1::RedeliverWebhookResponse { delivery: Some(delivery) }))
}

pub(crate) type EventStream = Pin<Box<dyn Stream<Item = Result<v1::WatchEventsResponse, Status>> + Send>>;

/// Audit rows read per poll of a watch.
const WATCH_SCAN: u32 = 500;
/// How often a caught-up watch looks for new events, and sends a heartbeat when idle.
const WATCH_POLL: Duration = Duration::from_millis(200);
const WATCH_HEARTBEAT: Duration = Duration::from_secs(15);

pub(crate) async fn watch(p: &Primary, request: Request<v1::WatchEventsRequest>) -> RpcResult<EventStream> {
    let caller = p.caller(&request, "WatchEvents").await?;
    let r = request.into_inner();
    let filter = EventFilter::try_from(&r).map_err(status_from_error)?;
    caller.require_scope(Role::Viewer, &filter.scope)?;
    let store = Arc::clone(&p.store);
    let start = match (r.since_event_id, r.since_revision) {
        (0, 0) => head(store.as_ref()).await,
        (0, revision) => after_revision(store.as_ref(), revision).await,
        (id, _) => Ok(id),
    }
    .map_err(status_from_error)?;
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        let mut cursor = start;
        let mut quiet = tokio::time::Instant::now();
        loop {
            let rows = match store.audit_rows(cursor, WATCH_SCAN).await {
                Ok(rows) => rows,
                Err(e) => {
                    let _ = tx.send(Err(status_from_error(e))).await;
                    return;
                }
            };
            let full = rows.len() == WATCH_SCAN as usize;
            cursor = rows.last().map_or(cursor, |row| row.id);
            let events: Vec<v1::Event> = rows
                .iter()
                .filter_map(Event::from_audit)
                .filter(|e| filter.matches(e))
                .map(Into::into)
                .collect();
            if !events.is_empty() || quiet.elapsed() >= WATCH_HEARTBEAT {
                quiet = tokio::time::Instant::now();
                if tx.send(Ok(v1::WatchEventsResponse { events, cursor })).await.is_err() {
                    return;
                }
            }
            if !full {
                tokio::select! {
                    () = tokio::time::sleep(WATCH_POLL) => {}
                    () = tx.closed() => return,
                }
            }
        }
    });
    Ok(Response::new(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))))
}

/// The newest audit row's id.
async fn head(store: &dyn Store) -> bindery_core::Result<u64> {
    let page = PageRequest::parse("audit", 1, "")?;
    let newest = store.list_audit_events(&bindery_core::AuditFilter::default(), page).await?;
    Ok(newest.items.first().map_or(0, |e| e.id))
}

/// The id just before the first audit row above `revision` (revisions grow with ids), found by
/// bisection over ids, one row read per step.
async fn after_revision(store: &dyn Store, revision: u64) -> bindery_core::Result<u64> {
    let (mut lo, mut hi) = (0, head(store).await?);
    // Invariant: every row with id <= lo has revision <= `revision`; rows above hi do not exist.
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        match store.audit_rows(mid - 1, 1).await?.first() {
            Some(row) if row.record.revision <= revision => lo = row.id.max(mid),
            _ => hi = mid - 1,
        }
    }
    Ok(lo)
}
