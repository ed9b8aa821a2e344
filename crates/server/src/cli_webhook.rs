//! `bindery webhook create|list|show|update|delete|test|deliveries|redeliver` and
//! `bindery events`: webhooks and the event stream from a terminal.

use std::io::Write as _;

use anyhow::anyhow;
use bindery_proto::v1;
use clap::Subcommand;
use tokio_stream::StreamExt as _;

use crate::cli::{Client, Output, status};
use crate::output::when;

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Deliver EVENTS (comma-separated: `binding.changed`, `version.*`, `*`) of SCOPE's models to
    /// URL. Prints the signing secret once.
    Create {
        url: String,
        #[arg(long, value_delimiter = ',', required = true)]
        events: Vec<String>,
        /// `*` (every model), `namespace/` or a model name.
        #[arg(long, default_value = "*")]
        scope: String,
        #[arg(long, default_value = "")]
        description: String,
        /// 16 to 256 bytes; default: a generated one.
        #[arg(long, env = "BINDERY_WEBHOOK_SECRET", default_value = "", hide_env_values = true)]
        secret: String,
        /// Each attempt's time limit in milliseconds (100 to 30000; default 10000).
        #[arg(long, default_value_t = 0)]
        timeout_ms: u32,
    },
    /// The webhooks you administer.
    List,
    Show {
        id: u64,
    },
    /// Change a webhook; `--enable` re-enables a disabled one at the event it stopped at.
    Update {
        id: u64,
        #[arg(long)]
        url: Option<String>,
        #[arg(long, value_delimiter = ',')]
        events: Option<Vec<String>>,
        #[arg(long)]
        scope: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        timeout_ms: Option<u32>,
        /// Generate a new secret (printed once).
        #[arg(long)]
        rotate_secret: bool,
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        #[arg(long)]
        disable: bool,
    },
    Delete {
        id: u64,
    },
    /// Send a `webhook.ping` now and show the attempt.
    Test {
        id: u64,
    },
    /// Attempts, newest first: status codes, errors, latency.
    Deliveries {
        id: u64,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Send one past event again now.
    Redeliver {
        id: u64,
        event_id: u64,
    },
}

fn webhook_line(w: &v1::Webhook) -> String {
    let state = if w.enabled { "enabled".to_owned() } else { format!("DISABLED: {}", w.disabled_reason) };
    let mut out =
        format!("webhook #{}  {}  scope {}  events {}  {state}", w.id, w.url, w.scope, w.events.join(","));
    if w.failed_attempts > 0 {
        out.push_str(&format!(
            "\n  {} failed attempt(s) at the event after {}; next {}",
            w.failed_attempts,
            w.cursor_event_id,
            when(w.next_attempt_at.as_ref())
        ));
    }
    out
}

fn delivery_line(d: &v1::WebhookDelivery) -> String {
    let status = if d.status_code == 0 { "-".to_owned() } else { d.status_code.to_string() };
    let mut out = format!(
        "{}  event {} {}  attempt {}  {}  HTTP {status}  {} ms",
        when(d.time.as_ref()),
        d.event_id,
        d.event_type,
        d.attempt,
        d.result,
        d.latency_us / 1000
    );
    if !d.error.is_empty() {
        out.push_str(&format!("  {}", d.error));
    }
    out
}

fn with_secret(text: String, secret: &str) -> String {
    if secret.is_empty() {
        text
    } else {
        format!(
            "{text}\nsecret: {secret}\n(shown once; receivers verify the webhook-signature header with it)"
        )
    }
}

pub(crate) async fn webhook(c: &mut Client, cmd: WebhookCommand) -> anyhow::Result<Output> {
    let r = match cmd {
        WebhookCommand::Create { url, events, scope, description, secret, timeout_ms } => {
            let req = v1::CreateWebhookRequest { url, events, scope, description, secret, timeout_ms };
            let r = c.registry.create_webhook(c.request(req)?).await.map_err(status)?.into_inner();
            let w = r.webhook.clone().unwrap_or_default();
            return Ok(Output::of(&r, with_secret(webhook_line(&w), &r.secret)));
        }
        WebhookCommand::List => {
            let mut all = Vec::new();
            let mut page_token = String::new();
            loop {
                let req = v1::ListWebhooksRequest { page_size: 100, page_token };
                let r = c.registry.list_webhooks(c.request(req)?).await.map_err(status)?.into_inner();
                all.extend(r.webhooks);
                if r.next_page_token.is_empty() {
                    break;
                }
                page_token = r.next_page_token;
            }
            let columns = ["ID", "URL", "SCOPE", "EVENTS", "STATE", "FAILED ATTEMPTS"];
            return Ok(Output::table(&all, &columns, |w| {
                vec![
                    format!("#{}", w.id),
                    w.url.clone(),
                    w.scope.clone(),
                    w.events.join(","),
                    if w.enabled { "enabled".to_owned() } else { format!("DISABLED: {}", w.disabled_reason) },
                    w.failed_attempts.to_string(),
                ]
            }));
        }
        WebhookCommand::Show { id } => c.registry.get_webhook(c.request(v1::GetWebhookRequest { id })?).await,
        WebhookCommand::Update {
            id,
            url,
            events,
            scope,
            description,
            timeout_ms,
            rotate_secret,
            enable,
            disable,
        } => {
            let enabled = match (enable, disable) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            };
            let req = v1::UpdateWebhookRequest {
                id,
                url,
                events: events.map(|types| v1::WebhookEventTypes { types }),
                scope,
                description,
                secret: None,
                rotate_secret,
                timeout_ms,
                enabled,
            };
            let r = c.registry.update_webhook(c.request(req)?).await.map_err(status)?.into_inner();
            let w = r.webhook.clone().unwrap_or_default();
            return Ok(Output::of(&r, with_secret(webhook_line(&w), &r.secret)));
        }
        WebhookCommand::Delete { id } => {
            let r = c
                .registry
                .delete_webhook(c.request(v1::DeleteWebhookRequest { id })?)
                .await
                .map_err(status)?;
            return Ok(Output::of(&r.into_inner(), format!("webhook #{id} deleted")));
        }
        WebhookCommand::Test { id } => {
            let r =
                c.registry.test_webhook(c.request(v1::TestWebhookRequest { id })?).await.map_err(status)?;
            let r = r.into_inner();
            let line = r.delivery.as_ref().map(delivery_line).unwrap_or_default();
            return Ok(Output::of(&r, line));
        }
        WebhookCommand::Deliveries { id, limit } => {
            let req = v1::ListWebhookDeliveriesRequest { id, page_size: limit, page_token: String::new() };
            let r = c.registry.list_webhook_deliveries(c.request(req)?).await.map_err(status)?.into_inner();
            return Ok(Output::list(&r.deliveries, delivery_line));
        }
        WebhookCommand::Redeliver { id, event_id } => {
            let req = v1::RedeliverWebhookRequest { id, event_id };
            let r = c.registry.redeliver_webhook(c.request(req)?).await.map_err(status)?.into_inner();
            let line = r.delivery.as_ref().map(delivery_line).unwrap_or_default();
            return Ok(Output::of(&r, line));
        }
    };
    let w = r.map_err(status)?.into_inner();
    Ok(Output::of(&w, webhook_line(&w)))
}

/// `bindery events`: streams events as JSON lines (`{id, type, revision, time, actor, data}`, the
/// webhook body) until interrupted, or until `count` have been printed.
#[derive(Debug, clap::Args)]
pub struct EventsArgs {
    /// Resume after this event id (the last one you saw).
    #[arg(long, default_value_t = 0)]
    since_event: u64,
    /// Start after this revision.
    #[arg(long, default_value_t = 0)]
    since_revision: u64,
    /// Types to watch (comma-separated; default every type).
    #[arg(long = "type", value_delimiter = ',')]
    types: Vec<String>,
    #[arg(long, default_value = "*")]
    scope: String,
    /// Stop after this many events.
    #[arg(long)]
    count: Option<u64>,
}

pub(crate) async fn events(c: &mut Client, args: EventsArgs) -> anyhow::Result<Output> {
    let req = v1::WatchEventsRequest {
        since_event_id: args.since_event,
        since_revision: args.since_revision,
        types: args.types,
        scope: args.scope,
    };
    let mut stream = c.registry.watch_events(c.request(req)?).await.map_err(status)?.into_inner();
    let mut printed = 0;
    let mut out = std::io::stdout();
    while let Some(batch) = stream.next().await {
        for e in batch.map_err(status)?.events {
            let data: serde_json::Value = serde_json::from_str(&e.data_json).unwrap_or_default();
            let time = e.time.as_ref().map(ToString::to_string).unwrap_or_default();
            let line = serde_json::json!({
                "id": e.id.to_string(), "type": e.event_type, "revision": e.revision,
                "time": time, "actor": e.actor, "data": data,
            });
            writeln!(out, "{line}")?;
            out.flush()?;
            printed += 1;
            if args.count.is_some_and(|n| printed >= n) {
                return Ok(Output::value(serde_json::json!({ "events": printed }), ""));
            }
        }
    }
    Err(anyhow!("the event stream ended after {printed} event(s); resume with --since-event"))
}
