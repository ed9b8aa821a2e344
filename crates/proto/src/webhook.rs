//! Wire <-> domain conversions for webhooks and events.

use std::time::Duration;

use bindery_core::event::{Event, EventFilter};
use bindery_core::webhook::{Delivery, NewWebhook, Webhook, WebhookUpdate, WebhookUrl};
use bindery_core::{Error, PageRequest, Result, Scope};

use crate::{to_timestamp, v1};

fn timeout(ms: u32) -> Option<Duration> {
    (ms != 0).then(|| Duration::from_millis(u64::from(ms)))
}

impl TryFrom<v1::CreateWebhookRequest> for NewWebhook {
    type Error = Error;
    fn try_from(r: v1::CreateWebhookRequest) -> Result<Self> {
        let scope = Scope::parse("scope", &r.scope)?;
        Self::new(
            WebhookUrl::parse(&r.url)?,
            EventFilter::new("events", r.events, scope)?,
            r.description,
            r.secret,
            timeout(r.timeout_ms),
        )
    }
}

/// The update and whether to rotate the secret. `current` is the subscription's filter (an
/// update of only the scope or only the types keeps the other).
pub fn webhook_update(r: v1::UpdateWebhookRequest, current: &EventFilter) -> Result<(WebhookUpdate, bool)> {
    if r.rotate_secret && r.secret.is_some() {
        return Err(Error::invalid("rotate_secret", "give a secret or ask for a new one, not both"));
    }
    let filter = if r.events.is_some() || r.scope.is_some() {
        let scope = r.scope.as_deref().map(|s| Scope::parse("scope", s)).transpose()?;
        let types = r.events.map_or_else(|| current.types.clone(), |e| e.types);
        Some(EventFilter::new("events", types, scope.unwrap_or_else(|| current.scope.clone()))?)
    } else {
        None
    };
    let update = WebhookUpdate {
        url: r.url.as_deref().map(WebhookUrl::parse).transpose()?,
        filter,
        description: r.description,
        secret: r.secret,
        timeout: r.timeout_ms.map(|ms| Duration::from_millis(u64::from(ms))),
        enabled: r.enabled,
    }
    .validated()?;
    Ok((update, r.rotate_secret))
}

impl TryFrom<v1::ListWebhooksRequest> for PageRequest {
    type Error = Error;
    fn try_from(r: v1::ListWebhooksRequest) -> Result<Self> {
        PageRequest::parse("webhooks", r.page_size, &r.page_token)
    }
}

impl From<Webhook> for v1::Webhook {
    fn from(w: Webhook) -> Self {
        Self {
            id: w.id,
            url: w.url.as_str().to_owned(),
            scope: w.filter.scope.to_wire(),
            events: w.filter.types,
            description: w.description,
            timeout_ms: u32::try_from(w.timeout.as_millis()).unwrap_or(u32::MAX),
            enabled: w.enabled,
            disabled_reason: w.disabled_reason,
            created_by: w.created_by,
            created_at: Some(to_timestamp(w.created_at)),
            updated_at: Some(to_timestamp(w.updated_at)),
            cursor_event_id: w.delivery.cursor,
            failed_attempts: w.delivery.attempts,
            next_attempt_at: (w.enabled && w.delivery.attempts > 0)
                .then(|| to_timestamp(w.delivery.next_attempt_at)),
        }
    }
}

impl From<Delivery> for v1::WebhookDelivery {
    fn from(d: Delivery) -> Self {
        let a = d.attempt;
        Self {
            id: d.id,
            webhook_id: d.webhook_id,
            event_id: a.event_id,
            event_type: a.event_type,
            attempt: a.number,
            result: a.result,
            status_code: u32::from(a.status_code),
            error: a.error,
            latency_us: u64::try_from(a.latency.as_micros()).unwrap_or(u64::MAX),
            time: Some(to_timestamp(a.at)),
        }
    }
}

impl From<Event> for v1::Event {
    fn from(e: Event) -> Self {
        Self {
            id: e.id,
            event_type: e.event_type.to_owned(),
            revision: e.revision,
            time: Some(to_timestamp(e.time)),
            actor: e.actor,
            model_name: e.model.into_string(),
            data_json: e.data.to_string(),
        }
    }
}

impl TryFrom<&v1::WatchEventsRequest> for EventFilter {
    type Error = Error;
    fn try_from(r: &v1::WatchEventsRequest) -> Result<Self> {
        EventFilter::new("types", r.types.clone(), Scope::parse("scope", &r.scope)?)
    }
}
