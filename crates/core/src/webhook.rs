//! Webhook subscriptions (issue 16): what a subscription is and how it is validated, which
//! addresses deliveries may go to, how a delivery is signed, and what one attempt's outcome does
//! to the subscription (retry when, give up when, disable why). Stores persist what these
//! functions decide; the primary's delivery worker does the I/O.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

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
    /// The audit view: everything but the secret.
    pub fn audit_json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "url": self.url.as_str(),
            "events": self.filter.types,
            "scope": self.filter.scope.to_wire(),
            "description": self.description,
            "timeout_ms": u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
            "enabled": self.enabled,
            "disabled_reason": self.disabled_reason,
        })
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
    getrandom::fill(&mut bytes).map_err(|e| Error::Internal(format!("no randomness for a webhook secret: {e}")))?;
    Ok(format!("whsec_{}", hex(&bytes)))
}

/// A receiver's URL: `http` or `https`, a host, an optional port and path; no credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    url: String,
    host: String,
    port: u16,
    https: bool,
}

impl WebhookUrl {
    pub fn parse(value: &str) -> Result<Self> {
        let bad = |why: &str| Error::invalid("url", format!("{value:?} is not a receiver URL: {why}"));
        if value.len() > MAX_URL_LEN {
            return Err(bad(&format!("longer than {MAX_URL_LEN} bytes")));
        }
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("it contains whitespace or control characters"));
        }
        let (https, rest) = if let Some(rest) = value.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = value.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(bad("use http:// or https://"));
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.contains('@') {
            return Err(bad("credentials in the URL are refused; deliveries are signed with the secret"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (ip, after) = v6.split_once(']').ok_or_else(|| bad("unclosed IPv6 bracket"))?;
            (ip, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = match port {
            None => {
                if https {
                    443
                } else {
                    80
                }
            }
            Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| bad("bad port"))?,
        };
        Ok(Self { url: value.to_owned(), host: host.to_ascii_lowercase(), port, https })
    }

    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// Lowercase, without IPv6 brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn is_https(&self) -> bool {
        self.https
    }

    /// The host as an IP address, when it is one.
    pub fn ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }
}

/// Which addresses deliveries may go to. Public unicast addresses are allowed; loopback,
/// private, link-local (cloud metadata lives there), unique-local, shared, multicast and
/// unspecified addresses are refused unless the operator allowed the host by name or the
/// address by network (`--webhook-allowed-hosts`), so a subscription cannot probe the network
/// the registry runs in. The check applies to every address a name resolves to, at delivery.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostPolicy {
    hosts: Vec<String>,
    nets: Vec<(IpAddr, u8)>,
}

impl HostPolicy {
    /// A comma-separated list of host names, addresses and networks (`10.0.0.0/8`).
    pub fn parse(list: &str) -> Result<Self> {
        let mut policy = Self::default();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let bad = || Error::invalid("webhook-allowed-hosts", format!("{entry:?} is not a host, address or network"));
            if let Some((ip, bits)) = entry.split_once('/') {
                let ip: IpAddr = ip.parse().map_err(|_| bad())?;
                let bits: u8 = bits.parse().map_err(|_| bad())?;
                let max = if ip.is_ipv4() { 32 } else { 128 };
                if bits > max {
                    return Err(bad());
                }
                policy.nets.push((ip, bits));
            } else if let Ok(ip) = entry.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
                policy.nets.push((ip, if ip.is_ipv4() { 32 } else { 128 }));
            } else if entry.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') {
                policy.hosts.push(entry.to_ascii_lowercase());
            } else {
                return Err(bad());
            }
        }
        Ok(policy)
    }

    /// Whether a delivery to `host` may connect to `ip` (one of the addresses it resolved to, or
    /// the host itself); the error says why not and how to allow it.
    pub fn check(&self, host: &str, ip: IpAddr) -> Result<()> {
        let ip = canonical(ip);
        let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        if !is_internal(ip) || self.hosts.contains(&host) || self.nets.iter().any(|(n, b)| in_net(ip, *n, *b)) {
            return Ok(());
        }
        Err(Error::FailedPrecondition(format!(
            "webhook host {host} is {ip}, an internal address (loopback, private, link-local or \
             metadata); deliveries go there only if the operator allows it with --webhook-allowed-hosts"
        )))
    }

    /// The check for a URL whose host is an address or `localhost`, before anything is sent.
    pub fn check_literal(&self, url: &WebhookUrl) -> Result<()> {
        match url.ip() {
            Some(ip) => self.check(url.host(), ip),
            None if url.host() == "localhost" || url.host().ends_with(".localhost") => {
                self.check(url.host(), IpAddr::V4(Ipv4Addr::LOCALHOST))
            }
            None => Ok(()),
        }
    }
}

/// IPv4-mapped IPv6 addresses are checked as the IPv4 address they carry.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // shared address space (RFC 6598)
                || (a == 192 && b == 0 && v4.octets()[2] == 0) // IETF protocol assignments
                || a >= 240
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local (fd00:ec2::254 is AWS metadata)
                || (first & 0xffc0) == 0xfe80 // link local
                || v6 == Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0xa9fe, 0xa9fe) // NAT64 of 169.254.169.254
        }
    }
}

fn in_net(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, canonical(net)) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - u32::from(bits)) };
            (u32::from(a) & mask) == (u32::from(n) & mask)
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - u32::from(bits)) };
            (u128::from(a) & mask) == (u128::from(n) & mask)
        }
        _ => false,
    }
}

/// The `webhook-signature` header: `v1,` and the base64 HMAC-SHA256 of `id.timestamp.body`
/// keyed with the secret's bytes (the Standard Webhooks scheme).
pub fn signature(secret: &str, id: &str, timestamp: u64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| {
        // HMAC takes keys of any length; this branch cannot run.
        <Hmac<Sha256> as Mac>::new_from_slice(b"-").unwrap_or_else(|_| unreachable!())
    });
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

/// How failed deliveries are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The first retry's delay; each further one doubles, up to `cap`.
    pub base: Duration,
    pub cap: Duration,
    /// Attempts at an event a receiver refuses with a 4xx other than 408/429 before the
    /// subscription is disabled.
    pub permanent_tries: u32,
    /// How long an event may keep failing with retryable errors before the subscription is
    /// disabled.
    pub give_up_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(300),
            permanent_tries: 3,
            give_up_after: Duration::from_secs(24 * 3600),
        }
    }
}

impl RetryPolicy {
    /// The delay before attempt `attempts + 1`: `base * 2^(attempts-1)` capped, with jitter
    /// (`jitter` in [0, 1) takes up to half of it away, so receivers coming back are not hit
    /// by every subscription at once).
    pub fn backoff(&self, attempts: u32, jitter: f64) -> Duration {
        let exp = self.base.saturating_mul(1u32 << attempts.saturating_sub(1).min(20));
        let full = exp.min(self.cap);
        full.mul_f64(1.0 - jitter.clamp(0.0, 1.0) / 2.0)
    }
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered { status: u16 },
    /// Network error, timeout, 408, 429 or 5xx: retried with backoff.
    Retryable { status: Option<u16>, error: String },
    /// Any other answer (3xx, 4xx): retried a few times, then the subscription is disabled.
    Refused { status: u16 },
}

impl Outcome {
    /// The outcome of an HTTP answer.
    pub fn of_status(status: u16) -> Self {
        match status {
            200..=299 => Self::Delivered { status },
            408 | 429 | 500..=599 => Self::Retryable { status: Some(status), error: String::new() },
            _ => Self::Refused { status },
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Delivered { status } | Self::Refused { status } => Some(*status),
            Self::Retryable { status, .. } => *status,
        }
    }

    pub fn error(&self) -> String {
        match self {
            Self::Delivered { .. } => String::new(),
            Self::Retryable { status: Some(s), error } if error.is_empty() => format!("HTTP {s}"),
            Self::Retryable { error, .. } => error.clone(),
            Self::Refused { status } => format!("HTTP {status}"),
        }
    }
}

/// What an attempt does to the subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Next {
    pub state: DeliveryState,
    /// `Some(reason)`: the subscription is disabled (it keeps its cursor; re-enabling resumes
    /// at the event that failed).
    pub disable: Option<String>,
    /// `delivered`, `retrying` or `failed`: what the attempt's row says.
    pub result: &'static str,
}

/// Decides what happens after an attempt at event `event_id` (the first matching event after
/// `state.cursor`). `jitter` is a random number in [0, 1).
pub fn after_attempt(
    state: &DeliveryState,
    event_id: u64,
    outcome: &Outcome,
    policy: &RetryPolicy,
    now: SystemTime,
    jitter: f64,
) -> Next {
    if let Outcome::Delivered { .. } = outcome {
        return Next { state: DeliveryState::at(event_id, now), disable: None, result: "delivered" };
    }
    let attempts = state.attempts.saturating_add(1);
    let failing_since = state.failing_since.unwrap_or(now);
    let next = DeliveryState {
        cursor: state.cursor,
        attempts,
        failing_since: Some(failing_since),
        next_attempt_at: now + policy.backoff(attempts, jitter),
    };
    let disable = match outcome {
        Outcome::Refused { status } if attempts >= policy.permanent_tries => Some(format!(
            "event {event_id} was refused with HTTP {status} {attempts} times; fix the receiver, then re-enable the webhook to resume at that event"
        )),
        Outcome::Retryable { .. } if now.duration_since(failing_since).unwrap_or_default() >= policy.give_up_after => {
            Some(format!(
                "event {event_id} failed for {} s ({attempts} attempts, last: {}); re-enable the webhook to resume at that event",
                policy.give_up_after.as_secs(),
                outcome.error()
            ))
        }
        _ => None,
    };
    let result = if disable.is_some() { "failed" } else { "retrying" };
    Next { state: next, disable, result }
}

/// One attempt, as `ListWebhookDeliveries` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: u64,
    pub webhook_id: u64,
    pub event_id: u64,
    pub event_type: String,
    /// 1 for the first attempt at this event.
    pub attempt: u32,
    /// `delivered`, `retrying`, `failed`, or `redelivered` / `redelivery failed` for a replay.
    pub result: String,
    /// 0 when no HTTP answer came.
    pub status_code: u16,
    pub error: String,
    pub latency: Duration,
    pub time: SystemTime,
}

/// An attempt to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    pub event_id: u64,
    pub event_type: String,
    pub attempt: u32,
    pub result: String,
    pub status_code: u16,
    pub error: String,
    pub latency: Duration,
}

impl NewDelivery {
    /// An error message kept to a bounded size.
    pub fn new(event_id: u64, event_type: &str, attempt: u32, result: &str, outcome: &Outcome, latency: Duration) -> Self {
        let mut error = outcome.error();
        if error.len() > 512 {
            let mut end = 512;
            while !error.is_char_boundary(end) {
                end -= 1;
            }
            error.truncate(end);
        }
        Self {
            event_id,
            event_type: event_type.to_owned(),
            attempt,
            result: result.to_owned(),
            status_code: outcome.status().unwrap_or(0),
            error,
            latency,
        }
    }
}

/// A subscription's new delivery state, written by `Store::record_webhook_progress`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub state: DeliveryState,
    /// `Some(reason)` disables the subscription.
    pub disable: Option<String>,
    /// The attempt that led here (`None` when events were only skipped).
    pub delivery: Option<NewDelivery>,
    /// Gives the lease back (the worker is done with the subscription for now).
    pub release: bool,
    pub now: SystemTime,
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
        let timeout_ms = s.config.get("timeout_ms").and_then(serde_json::Value::as_u64).ok_or_else(|| corrupt("timeout"))?;
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
    fn urls_are_http_with_a_host_and_no_credentials() {
        let u = url("https://Hooks.Example.com/bindery?x=1");
        assert_eq!((u.host(), u.port(), u.is_https()), ("hooks.example.com", 443, true));
        let u = url("http://[::1]:8080/h");
        assert_eq!((u.host(), u.port(), u.ip()), ("::1", 8080, Some(IpAddr::V6(Ipv6Addr::LOCALHOST))));
        assert_eq!(url("http://10.1.2.3:9/").port(), 9);
        for bad in ["ftp://x/", "http://", "http://u:p@x/", "http://x:0/", "http://x:99999/", "http://a b/", "x"] {
            assert!(WebhookUrl::parse(bad).is_err(), "{bad}");
        }
        assert!(WebhookUrl::parse(&format!("https://x/{}", "a".repeat(MAX_URL_LEN))).is_err());
    }

    #[test]
    fn internal_addresses_need_the_operators_allowance() {
        let none = HostPolicy::default();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap_or_else(|e| panic!("{s}: {e}"));
        let u = url("https://hooks.example.com/");
        assert!(none.check(u.host(), ip("93.184.216.34")).is_ok());
        assert!(none.check(u.host(), ip("2606:2800:220:1::1")).is_ok());
        for internal in [
            "127.0.0.1", "10.0.0.5", "172.16.3.4", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
            "::1", "fe80::1", "fd00:ec2::254", "::ffff:169.254.169.254", "224.0.0.1", "255.255.255.255",
        ] {
            assert!(none.check(u.host(), ip(internal)).is_err(), "{internal}");
        }
        assert!(none.check_literal(&url("http://127.0.0.1:9000/")).is_err());
        assert!(none.check_literal(&url("http://localhost:9000/")).is_err());
        assert!(none.check_literal(&url("https://hooks.example.com/")).is_ok());

        let some = HostPolicy::parse("ci.internal, 10.0.0.0/8, ::1, 127.0.0.1").unwrap_or_else(|e| panic!("{e}"));
        assert!(some.check("ci.internal", ip("192.168.9.9")).is_ok());
        assert!(some.check(u.host(), ip("10.200.0.1")).is_ok());
        assert!(some.check(u.host(), ip("11.0.0.1")).is_ok());
        assert!(some.check(u.host(), ip("::1")).is_ok());
        assert!(some.check_literal(&url("http://127.0.0.1:9000/")).is_ok());
        assert!(some.check(u.host(), ip("169.254.169.254")).is_err());
        assert!(HostPolicy::parse("10.0.0.0/33").is_err());
        assert!(HostPolicy::parse("a b").is_err());
    }

    #[test]
    fn signatures_follow_the_standard_webhooks_scheme() {
        // HMAC-SHA256("whsec_test_secret_0001", "42.1700000000.{}"), base64: computed with
        // Python's hmac module (README shows the receiver's side).
        let sig = signature("whsec_test_secret_0001", "42", 1_700_000_000, b"{}");
        assert_eq!(sig, "v1,ubFLO10jefl4W7ZJsebsFdbQNqrJU9BZ5wzubkBBvSs=");
        assert_eq!(sig, signature("whsec_test_secret_0001", "42", 1_700_000_000, b"{}"));
        assert_ne!(sig, signature("whsec_test_secret_0002", "42", 1_700_000_000, b"{}"));
        assert_ne!(sig, signature("whsec_test_secret_0001", "43", 1_700_000_000, b"{}"));
    }

    #[test]
    fn backoff_doubles_to_a_cap_with_jitter() {
        let p = RetryPolicy { base: Duration::from_secs(1), cap: Duration::from_secs(60), ..RetryPolicy::default() };
        assert_eq!(p.backoff(1, 0.0), Duration::from_secs(1));
        assert_eq!(p.backoff(3, 0.0), Duration::from_secs(4));
        assert_eq!(p.backoff(30, 0.0), Duration::from_secs(60));
        assert_eq!(p.backoff(3, 0.999_999).as_millis(), 2000);
    }

    #[test]
    fn outcomes_move_the_cursor_retry_or_disable() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let p = RetryPolicy::default();
        let s = DeliveryState::at(5, now);
        let ok = after_attempt(&s, 9, &Outcome::of_status(204), &p, now, 0.0);
        assert_eq!((ok.state.cursor, ok.state.attempts, ok.disable, ok.result), (9, 0, None, "delivered"));

        let retry = after_attempt(&s, 9, &Outcome::of_status(503), &p, now, 0.0);
        assert_eq!((retry.state.cursor, retry.state.attempts, retry.result), (5, 1, "retrying"));
        assert_eq!(retry.state.next_attempt_at, now + Duration::from_secs(1));
        assert!(retry.disable.is_none());
        // A receiver down past `give_up_after` disables the subscription.
        let later = now + p.give_up_after;
        let gone = after_attempt(&retry.state, 9, &Outcome::Retryable { status: None, error: "connection refused".into() }, &p, later, 0.0);
        assert!(gone.disable.is_some_and(|r| r.contains("connection refused")));

        // 404 three times: disabled, cursor kept.
        let mut state = s.clone();
        for i in 1..=3 {
            let n = after_attempt(&state, 9, &Outcome::of_status(404), &p, now, 0.0);
            assert_eq!(n.disable.is_some(), i == 3);
            assert_eq!(n.state.cursor, 5);
            state = n.state;
        }
        assert!(matches!(Outcome::of_status(429), Outcome::Retryable { .. }));
        assert!(matches!(Outcome::of_status(408), Outcome::Retryable { .. }));
        assert!(matches!(Outcome::of_status(301), Outcome::Refused { .. }));
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
        assert!(NewWebhook::new(u, f(&["*"]), String::new(), String::new(), Some(Duration::from_secs(31))).is_err());
    }

    #[test]
    fn re_enabling_resumes_at_the_failed_event() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(5);
        let filter = EventFilter::new("events", vec!["*".into()], Scope::Global).unwrap_or_else(|e| panic!("{e}"));
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
            delivery: DeliveryState { cursor: 7, attempts: 3, failing_since: Some(now), next_attempt_at: now },
        };
        let later = now + Duration::from_secs(60);
        let on = WebhookUpdate { enabled: Some(true), ..WebhookUpdate::default() }.apply(w, later);
        assert!(on.enabled && on.disabled_reason.is_empty());
        assert_eq!(on.delivery, DeliveryState::at(7, later));
    }
}
