//! Webhook subscriptions (issue 16): what a subscription is and how it is validated and stored.
//! Which addresses deliveries may go to is `address.rs`; how a delivery is signed and what one
//! attempt's outcome does to the subscription (retry when, give up when, disable why) is
//! `delivery.rs`. Stores persist what these functions decide; the primary's delivery worker does
//! the I/O.

mod address;
mod delivery;

use std::time::{Duration, SystemTime};

pub use address::{HostPolicy, WebhookUrl};
pub use delivery::{Attempt, Delivery, Next, Outcome, Progress, RetryPolicy, after_attempt, signature};

use crate::event::EventFilter;
use crate::{Error, Result, from_unix_micros, hex, unix_micros};

/// Bounds on what a subscription holds.
pub const MAX_URL_LEN: usize = 2048;
pub const MAX_DESCRIPTION_LEN: usize = 1024;
pub const MIN_SECRET_LEN: usize = 16;
pub const MAX_SECRET_LEN: usize = 256;
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
pub const MAX_TIMEOUT: Duration = Duration::from_secs(30);

/// A stored subscription. `secret` never leaves the primary except as the HMAC key.
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    pub id: u64,
    pub url: WebhookUrl,
    pub filter: EventFilter,
    pub description: String,
    pub secret: String,
    pub timeout: Duration,
    pub enabled: bool,
    /// Why the registry disabled it (empty when enabled or disabled by a caller).
    pub disabled_reason: String,
    pub created_by: String,
    pub created_at: SystemTime,
    pub updated_at: SystemTime,
    pub delivery: DeliveryState,
}

impl Webhook {
    /// The audit view: the settings ([`Webhook::config`]), the id and whether it is enabled;
    /// never the secret.
    pub fn audit_json(&self) -> serde_json::Value {
        let mut view = self.config();
        if let Some(map) = view.as_object_mut() {
            map.remove("created_by");
            map.insert("id".into(), self.id.into());
            map.insert("enabled".into(), self.enabled.into());
            map.insert("disabled_reason".into(), self.disabled_reason.clone().into());
        }
        view
    }

    /// The audit target: `webhooks/<id>`.
    pub fn target(id: u64) -> String {
        format!("webhooks/{id}")
    }
}

/// Where a subscription stands in the event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryState {
    /// The last event id handled (delivered, or skipped as not matching). The next delivery is
    /// the first matching event after it, so events go out in order, each at least once.
    pub cursor: u64,
    /// Failed attempts at the event after `cursor`.
    pub attempts: u32,
    /// When the event after `cursor` first failed.
    pub failing_since: Option<SystemTime>,
    pub next_attempt_at: SystemTime,
}

impl DeliveryState {
    pub fn at(cursor: u64, now: SystemTime) -> Self {
        Self { cursor, attempts: 0, failing_since: None, next_attempt_at: now }
    }
}

/// A new subscription, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct NewWebhook {
    pub url: WebhookUrl,
    pub filter: EventFilter,
    pub description: String,
    pub secret: String,
    pub timeout: Duration,
}

impl NewWebhook {
    /// An empty `secret` gets a generated one (returned once, by CreateWebhook).
    pub fn new(
        url: WebhookUrl,
        filter: EventFilter,
        description: String,
        secret: String,
        timeout: Option<Duration>,
    ) -> Result<Self> {
        if filter.types.is_empty() {
            return Err(Error::invalid("events", "name at least one event type (or `*` for all)"));
        }
        let secret = if secret.is_empty() { generate_secret()? } else { check_secret(secret)? };
        Ok(Self {
            url,
            filter,
            description: check_description(description)?,
            secret,
            timeout: check_timeout(timeout)?,
        })
    }
}

/// A change to a subscription: `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WebhookUpdate {
    pub url: Option<WebhookUrl>,
    pub filter: Option<EventFilter>,
    pub description: Option<String>,
    pub secret: Option<String>,
    pub timeout: Option<Duration>,
    /// `Some(true)` re-enables a disabled subscription: it resumes at the event it stopped at.
    pub enabled: Option<bool>,
}

impl WebhookUpdate {
    pub fn validated(self) -> Result<Self> {
        if self.filter.as_ref().is_some_and(|f| f.types.is_empty()) {
            return Err(Error::invalid("events", "name at least one event type (or `*` for all)"));
        }
        Ok(Self {
            description: self.description.map(check_description).transpose()?,
            secret: self.secret.map(check_secret).transpose()?,
            timeout: self.timeout.map(|t| check_timeout(Some(t))).transpose()?,
            ..self
        })
    }

    /// `w` with the update applied, at `now`.
    pub fn apply(&self, mut w: Webhook, now: SystemTime) -> Webhook {
        if let Some(url) = &self.url {
            w.url = url.clone();
        }
        if let Some(filter) = &self.filter {
            w.filter = filter.clone();
        }
        if let Some(d) = &self.description {
            w.description.clone_from(d);
        }
        if let Some(s) = &self.secret {
            w.secret.clone_from(s);
        }
        if let Some(t) = self.timeout {
            w.timeout = t;
        }
        match self.enabled {
            Some(true) if !w.enabled => {
                w.enabled = true;
                w.disabled_reason.clear();
                w.delivery = DeliveryState::at(w.delivery.cursor, now);
            }
            Some(false) => w.enabled = false,
            _ => {}
        }
        w.updated_at = now;
        w
    }
}

fn check_description(d: String) -> Result<String> {
    if d.len() > MAX_DESCRIPTION_LEN {
        return Err(Error::invalid("description", format!("at most {MAX_DESCRIPTION_LEN} bytes")));
    }
    Ok(d)
}

fn check_secret(s: String) -> Result<String> {
    if !(MIN_SECRET_LEN..=MAX_SECRET_LEN).contains(&s.len()) || s.chars().any(char::is_control) {
        return Err(Error::invalid(
            "secret",
            format!(
                "a secret is {MIN_SECRET_LEN} to {MAX_SECRET_LEN} printable bytes; leave it empty to have one generated"
            ),
        ));
    }
    Ok(s)
}

fn check_timeout(t: Option<Duration>) -> Result<Duration> {
    match t {
        None => Ok(DEFAULT_TIMEOUT),
        Some(t) if t >= Duration::from_millis(100) && t <= MAX_TIMEOUT => Ok(t),
        Some(_) => Err(Error::invalid(
            "timeout_ms",
            format!("a delivery timeout is 100 ms to {} s", MAX_TIMEOUT.as_secs()),
        )),
    }
}

/// `whsec_` and 32 random bytes in hex.
pub fn generate_secret() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::Internal(format!("no randomness for a webhook secret: {e}")))?;
    Ok(format!("whsec_{}", hex(&bytes)))
}

/// A subscription as both stores keep it: its settings as one JSON document (`config`) beside
/// the columns the delivery worker updates. Times are microseconds since the epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredWebhook {
    pub id: u64,
    pub config: serde_json::Value,
    pub secret: String,
    pub enabled: bool,
    pub disabled_reason: String,
    pub cursor: u64,
    pub attempts: u32,
    pub failing_since: Option<i64>,
    pub next_attempt_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Webhook {
    /// The settings document stored in `config`.
    pub fn config(&self) -> serde_json::Value {
        serde_json::json!({
            "url": self.url.as_str(),
            "events": self.filter.types,
            "scope": self.filter.scope.to_wire(),
            "description": self.description,
            "timeout_ms": u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
            "created_by": self.created_by,
        })
    }

    /// A new subscription as it is first stored (the store assigns `id`).
    pub fn first(new: &NewWebhook, created_by: &str, cursor: u64, now: SystemTime) -> Self {
        Self {
            id: 0,
            url: new.url.clone(),
            filter: new.filter.clone(),
            description: new.description.clone(),
            secret: new.secret.clone(),
            timeout: new.timeout,
            enabled: true,
            disabled_reason: String::new(),
            created_by: created_by.to_owned(),
            created_at: now,
            updated_at: now,
            delivery: DeliveryState::at(cursor, now),
        }
    }

    pub fn stored(&self) -> StoredWebhook {
        StoredWebhook {
            id: self.id,
            config: self.config(),
            secret: self.secret.clone(),
            enabled: self.enabled,
            disabled_reason: self.disabled_reason.clone(),
            cursor: self.delivery.cursor,
            attempts: self.delivery.attempts,
            failing_since: self.delivery.failing_since.map(unix_micros),
            next_attempt_at: unix_micros(self.delivery.next_attempt_at),
            created_at: unix_micros(self.created_at),
            updated_at: unix_micros(self.updated_at),
        }
    }

    pub fn from_stored(s: StoredWebhook) -> Result<Self> {
        let corrupt = |what: &str| Error::Internal(format!("stored webhook {}: bad {what}", s.id));
        let text = |key: &str| s.config.get(key).and_then(serde_json::Value::as_str).unwrap_or_default();
        let types = s
            .config
            .get("events")
            .and_then(serde_json::Value::as_array)
            .map(|a| a.iter().filter_map(|t| t.as_str().map(str::to_owned)).collect::<Vec<_>>())
            .unwrap_or_default();
        let scope = crate::Scope::parse("scope", text("scope")).map_err(|_| corrupt("scope"))?;
        let timeout_ms = s
            .config
            .get("timeout_ms")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| corrupt("timeout"))?;
        Ok(Self {
            id: s.id,
            url: WebhookUrl::parse(text("url")).map_err(|_| corrupt("url"))?,
            filter: EventFilter::new("events", types, scope).map_err(|_| corrupt("events"))?,
            description: text("description").to_owned(),
            timeout: Duration::from_millis(timeout_ms),
            created_by: text("created_by").to_owned(),
            secret: s.secret,
            enabled: s.enabled,
            disabled_reason: s.disabled_reason,
            created_at: from_unix_micros(s.created_at),
            updated_at: from_unix_micros(s.updated_at),
            delivery: DeliveryState {
                cursor: s.cursor,
                attempts: s.attempts,
                failing_since: s.failing_since.map(from_unix_micros),
                next_attempt_at: from_unix_micros(s.next_attempt_at),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scope;

    fn url(s: &str) -> WebhookUrl {
        WebhookUrl::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn new_webhooks_are_bounded() {
        let f = |types: &[&str]| {
            EventFilter::new("events", types.iter().map(|s| (*s).to_owned()).collect(), Scope::Global)
                .unwrap_or_else(|e| panic!("{e}"))
        };
        let u = url("https://x.example/");
        let ok = NewWebhook::new(u.clone(), f(&["*"]), String::new(), String::new(), None)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(ok.secret.starts_with("whsec_") && ok.secret.len() == 70);
        assert_eq!(ok.timeout, DEFAULT_TIMEOUT);
        assert!(NewWebhook::new(u.clone(), f(&[]), String::new(), String::new(), None).is_err());
        assert!(NewWebhook::new(u.clone(), f(&["*"]), String::new(), "short".into(), None).is_err());
        assert!(NewWebhook::new(u.clone(), f(&["*"]), "d".repeat(2000), String::new(), None).is_err());
        assert!(
            NewWebhook::new(u, f(&["*"]), String::new(), String::new(), Some(Duration::from_secs(31)))
                .is_err()
        );
    }

    #[test]
    fn re_enabling_resumes_at_the_failed_event() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(5);
        let filter =
            EventFilter::new("events", vec!["*".into()], Scope::Global).unwrap_or_else(|e| panic!("{e}"));
        let w = Webhook {
            id: 1,
            url: url("https://x.example/"),
            filter,
            description: String::new(),
            secret: "s".repeat(16),
            timeout: DEFAULT_TIMEOUT,
            enabled: false,
            disabled_reason: "HTTP 404".into(),
            created_by: "a".into(),
            created_at: now,
            updated_at: now,
            delivery: DeliveryState {
                cursor: 7,
                attempts: 3,
                failing_since: Some(now),
                next_attempt_at: now,
            },
        };
        let later = now + Duration::from_secs(60);
        let on = WebhookUpdate { enabled: Some(true), ..WebhookUpdate::default() }.apply(w, later);
        assert!(on.enabled && on.disabled_reason.is_empty());
        assert_eq!(on.delivery, DeliveryState::at(7, later));
    }
}
