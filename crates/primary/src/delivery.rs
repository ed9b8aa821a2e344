//! Webhook delivery (issue 16): the HTTP sender, which refuses addresses the operator has not
//! allowed at every connection (names are checked after resolution, so a name that resolves to
//! an internal address is refused too), and the worker loop that leases due subscriptions and
//! delivers each one's events in order. What an attempt's outcome does is
//! `bindery_core::webhook::after_attempt`'s; the subscription's state is in the store, so a
//! primary killed mid-delivery loses nothing: its lease lapses and the event is sent again.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bindery_core::Store;
use bindery_core::event::Event;
use bindery_core::webhook::{
    Attempt, HostPolicy, Outcome, Progress, RetryPolicy, Webhook, after_attempt, signature,
};
use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::TokioExecutor;
use tokio::sync::Semaphore;

/// How the delivery worker runs.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    pub hosts: HostPolicy,
    pub retry: RetryPolicy,
    /// How long a worker holds a subscription; another primary takes it over after this when
    /// the holder dies. Longer than any delivery timeout.
    pub lease: Duration,
    /// How often the worker looks for due subscriptions.
    pub poll: Duration,
    /// Subscriptions delivered at once (each delivers one event at a time, in order).
    pub concurrency: usize,
    /// How long attempts stay listed.
    pub retention: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            hosts: HostPolicy::default(),
            retry: RetryPolicy::default(),
            lease: Duration::from_secs(60),
            poll: Duration::from_millis(200),
            concurrency: 32,
            retention: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// Resolves names and keeps only the addresses the policy allows.
#[derive(Clone)]
struct CheckedResolver {
    hosts: Arc<HostPolicy>,
}

impl tower_service::Service<Name> for CheckedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let hosts = Arc::clone(&self.hosts);
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refusal = None;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| match hosts.check(&host, a.ip()) {
                    Ok(()) => true,
                    Err(e) => {
                        refusal = Some(e.to_string());
                        false
                    }
                })
                .collect();
            if allowed.is_empty() {
                let why = refusal.unwrap_or_else(|| format!("{host} did not resolve"));
                return Err(std::io::Error::new(std::io::ErrorKind::PermissionDenied, why));
            }
            Ok(allowed.into_iter())
        })
    }
}

/// Sends signed deliveries.
#[derive(Clone)]
pub struct Sender {
    client: Client<HttpsConnector<HttpConnector<CheckedResolver>>, Full<Bytes>>,
    hosts: Arc<HostPolicy>,
}

/// One delivery's content.
pub struct Message<'a> {
    pub id: &'a str,
    pub event_type: &'a str,
    pub body: Bytes,
    pub attempt: u32,
}

impl Sender {
    /// `idle`: connections kept open per receiver host (at least the delivery concurrency, so
    /// webhooks on one host do not reconnect for every event).
    pub fn new(hosts: HostPolicy, idle: usize) -> anyhow::Result<Self> {
        let hosts = Arc::new(hosts);
        let mut http = HttpConnector::new_with_resolver(CheckedResolver { hosts: Arc::clone(&hosts) });
        http.enforce_http(false);
        http.set_connect_timeout(Some(Duration::from_secs(5)));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(idle.max(4)).build(https);
        Ok(Self { client, hosts })
    }

    /// POSTs `m` to `w` within its timeout; never fails, the outcome says what happened.
    pub async fn post(&self, w: &Webhook, m: &Message<'_>) -> (Outcome, Duration) {
        let started = Instant::now();
        // Names are checked after resolution (CheckedResolver); addresses and `localhost` here.
        if let Err(e) = self.hosts.check_literal(&w.url) {
            return (Outcome::Retryable { status: None, error: e.to_string() }, started.elapsed());
        }
        let timestamp = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let request = hyper::Request::post(w.url.as_str())
            .header("content-type", "application/json")
            .header("user-agent", concat!("bindery-webhooks/", env!("CARGO_PKG_VERSION")))
            .header("webhook-id", m.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature(&w.secret, m.id, timestamp, &m.body))
            .header("x-bindery-event", m.event_type)
            .header("x-bindery-attempt", m.attempt.to_string())
            .body(Full::new(m.body.clone()));
        let request = match request {
            Ok(r) => r,
            Err(e) => {
                let error = format!("the request cannot be built: {e}");
                return (Outcome::Retryable { status: None, error }, started.elapsed());
            }
        };
        let outcome = match tokio::time::timeout(w.timeout, self.client.request(request)).await {
            Err(_) => Outcome::Retryable {
                status: None,
                error: format!("no answer within {} ms", w.timeout.as_millis()),
            },
            Ok(Err(e)) => Outcome::Retryable { status: None, error: chain(&e) },
            // The body is not read: only the status counts, and a receiver cannot make the
            // worker hold a large answer.
            Ok(Ok(response)) => Outcome::of_status(response.status().as_u16()),
        };
        (outcome, started.elapsed())
    }
}

/// An error and its sources, innermost last: "client error (Connect): connection refused".
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

/// A number in [0, 1) that differs between calls (backoff jitter; not for secrets).
fn jitter() -> f64 {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    f64::from(nanos % 1_000_000) / 1_000_000.0
}

/// Audit rows read per store call while looking for a subscription's next event.
const SCAN: u32 = 500;
/// Recent audit rows kept for every webhook to read (they mostly read the same new ones).
const CACHED_ROWS: usize = 20_000;
/// Delivered attempts recorded together (a crash before the write sends them again).
const FLUSH_EVERY: usize = 50;
const FLUSH_AFTER: Duration = Duration::from_millis(500);

/// The tail of the audit log, shared by the worker's tasks: webhooks at the same point read it
/// once from the store instead of once each. The log only grows at its end and is read as a
/// prefix (writers append under the global lock, in id order), so rows fetched right after the
/// newest cached one extend it without a gap.
/// Each row is projected once: its event (if it is one) and the body every webhook sends.
#[derive(Default)]
struct EventLog {
    tail: std::sync::Mutex<Tail>,
}

/// Every audit row with an id above `from`, oldest first.
#[derive(Default)]
struct Tail {
    from: u64,
    rows: std::collections::VecDeque<Arc<Entry>>,
}

/// One audit row as the worker needs it.
struct Entry {
    id: u64,
    event: Option<(Event, Bytes)>,
}

impl EventLog {
    async fn after(&self, store: &dyn Store, cursor: u64) -> bindery_core::Result<Vec<Arc<Entry>>> {
        if let Some(hit) = self.cached(cursor) {
            return Ok(hit);
        }
        let fetched: Vec<Arc<Entry>> = store
            .audit_rows(cursor, SCAN)
            .await?
            .iter()
            .map(|row| {
                let event = Event::from_audit(row).map(|e| {
                    let body = Bytes::from(e.body());
                    (e, body)
                });
                Arc::new(Entry { id: row.id, event })
            })
            .collect();
        if let (Ok(mut tail), Some(newest)) = (self.tail.lock(), fetched.last()) {
            let end = tail.rows.back().map_or(tail.from, |r| r.id);
            if cursor != end && newest.id > end {
                // The tail is behind what webhooks read now: start it over from here.
                *tail = Tail { from: cursor, rows: std::collections::VecDeque::new() };
            }
            if cursor == tail.rows.back().map_or(tail.from, |r| r.id) {
                tail.rows.extend(fetched.iter().cloned());
                while tail.rows.len() > CACHED_ROWS {
                    if let Some(old) = tail.rows.pop_front() {
                        tail.from = old.id;
                    }
                }
            }
        }
        Ok(fetched)
    }

    /// The rows after `cursor` when the cache holds them and has some past it.
    fn cached(&self, cursor: u64) -> Option<Vec<Arc<Entry>>> {
        let tail = self.tail.lock().ok()?;
        if cursor < tail.from || cursor >= tail.rows.back()?.id {
            return None;
        }
        let start = tail.rows.partition_point(|r| r.id <= cursor);
        Some(tail.rows.range(start..).take(SCAN as usize).cloned().collect())
    }
}

/// Runs [`delivery_loop`] on a thread of its own (a single-threaded runtime with its own HTTP
/// client), so deliveries use at most one core and never hold the gRPC runtime's workers while
/// writes wait. Dropping the returned guard stops the thread, and with it every delivery in
/// flight (their leases lapse; the events are sent again).
pub fn spawn_delivery_loop(
    store: Arc<dyn Store>,
    settings: WebhookSettings,
    ready: impl Future<Output = ()> + Send + 'static,
) -> DeliveryWorker {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new().name("bindery-webhooks".into()).spawn(move || {
        background_priority();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
        let sender = Sender::new(settings.hosts.clone(), settings.concurrency);
        match (runtime, sender) {
            (Ok(runtime), Ok(sender)) => runtime.block_on(async move {
                tokio::select! {
                    () = delivery_loop(store, sender, settings, ready) => {}
                    _ = stopped => {}
                }
            }),
            (Err(e), _) => tracing::error!(error = %e, "webhook deliveries are off: no runtime"),
            (_, Err(e)) => tracing::error!(error = %e, "webhook deliveries are off: no TLS roots"),
        }
    });
    if let Err(e) = thread {
        tracing::error!(error = %e, "webhook deliveries are off: no thread");
    }
    DeliveryWorker { _stop: stop }
}

/// Lowers the calling thread's CPU priority (nice 10): when the machine is busy, writes and
/// reads get the cores before deliveries do, and deliveries take what is left.
fn background_priority() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), 10) {
        tracing::warn!(error = %e, "could not lower the webhook thread's priority");
    }
}

/// The delivery thread of [`spawn_delivery_loop`]; it stops when this is dropped.
pub struct DeliveryWorker {
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// Delivers due subscriptions until the task is dropped. Each claimed subscription is delivered
/// by its own task, at most `concurrency` at once, one event at a time, in order.
pub async fn delivery_loop(
    store: Arc<dyn Store>,
    sender: Sender,
    settings: WebhookSettings,
    ready: impl Future<Output = ()>,
) {
    ready.await;
    let worker = format!(
        "{}-{}",
        std::process::id(),
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos())
    );
    let worker: Arc<str> = Arc::from(worker);
    let settings = Arc::new(settings);
    let log = Arc::new(EventLog::default());
    let slots = Arc::new(Semaphore::new(settings.concurrency.max(1)));
    let mut ticker = tokio::time::interval(settings.poll);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut pruned = Instant::now();
    // Deliveries in flight die with the loop (as they would with the process): their leases
    // lapse and another worker sends the events again.
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        ticker.tick().await;
        while tasks.try_join_next().is_some() {}
        let free = slots.available_permits();
        if free == 0 {
            continue;
        }
        let limit = u32::try_from(free).unwrap_or(u32::MAX);
        let claimed = match store.claim_webhooks(&worker, SystemTime::now(), settings.lease, limit).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "claiming webhooks failed; retrying at the next tick");
                continue;
            }
        };
        for w in claimed {
            let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else { break };
            let (store, sender, settings, worker, log) = (
                Arc::clone(&store),
                sender.clone(),
                Arc::clone(&settings),
                Arc::clone(&worker),
                Arc::clone(&log),
            );
            tasks.spawn(async move {
                let job = Job {
                    store: store.as_ref(),
                    sender: &sender,
                    settings: &settings,
                    worker: &worker,
                    log: &log,
                };
                job.deliver(w).await;
                drop(permit);
            });
        }
        if pruned.elapsed() > Duration::from_secs(3600) {
            pruned = Instant::now();
            if let Err(e) = store.prune_webhook_deliveries(SystemTime::now() - settings.retention).await {
                tracing::warn!(error = %e, "pruning webhook deliveries failed");
            }
        }
    }
}

/// What delivering one leased webhook needs.
struct Job<'a> {
    store: &'a dyn Store,
    sender: &'a Sender,
    settings: &'a WebhookSettings,
    worker: &'a str,
    log: &'a EventLog,
}

impl Job<'_> {
    /// Writes `progress`; `false` when the lease is gone (or the write failed: then the lease
    /// lapses and the unrecorded events are sent again, at least once).
    async fn record(&self, id: u64, progress: &Progress) -> bool {
        match self.store.record_webhook_progress(self.worker, id, progress).await {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!(webhook = id, error = %e, "recording webhook progress failed");
                false
            }
        }
    }

    /// Delivers `w`'s events in order until it is caught up, an attempt fails (the next is due
    /// later), the lease is lost, or two thirds of the lease are used (then it gives the lease
    /// back and is claimed again at the next tick). Delivered attempts are recorded in batches.
    async fn deliver(&self, w: Webhook) {
        let until = Instant::now() + self.settings.lease.mul_f64(2.0 / 3.0);
        let mut state = w.delivery.clone();
        let mut pending = Vec::new();
        let mut flushed = Instant::now();
        'scan: while Instant::now() < until {
            let rows = match self.log.after(self.store, state.cursor).await {
                Ok(rows) if rows.is_empty() => break,
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!(webhook = w.id, error = %e, "reading events failed; retrying later");
                    break;
                }
            };
            for row in &rows {
                if Instant::now() >= until {
                    break 'scan;
                }
                let Some((event, body)) = row.event.as_ref().filter(|(e, _)| w.filter.matches(e)) else {
                    state.cursor = row.id;
                    continue;
                };
                let id = event.id.to_string();
                let attempt = state.attempts + 1;
                let message = Message { id: &id, event_type: event.event_type, body: body.clone(), attempt };
                let (outcome, latency) = self.sender.post(&w, &message).await;
                let now = SystemTime::now();
                let decided = after_attempt(&state, event.id, &outcome, &self.settings.retry, now, jitter());
                pending.push(Attempt::new(
                    event.id,
                    event.event_type,
                    attempt,
                    decided.result,
                    &outcome,
                    latency,
                ));
                if !matches!(outcome, Outcome::Delivered { .. }) {
                    tracing::info!(webhook = w.id, event = event.id, attempt, error = %outcome.error(), result = decided.result, "webhook delivery failed");
                    let failed = Progress {
                        state: decided.state,
                        disable: decided.disable,
                        deliveries: std::mem::take(&mut pending),
                        release: true,
                    };
                    self.record(w.id, &failed).await;
                    return;
                }
                state = decided.state;
                if pending.len() >= FLUSH_EVERY || flushed.elapsed() >= FLUSH_AFTER {
                    flushed = Instant::now();
                    let batch = Progress {
                        state: state.clone(),
                        disable: None,
                        deliveries: std::mem::take(&mut pending),
                        release: false,
                    };
                    if !self.record(w.id, &batch).await {
                        return;
                    }
                }
            }
        }
        let done = Progress { state, disable: None, deliveries: pending, release: true };
        self.record(w.id, &done).await;
    }
}

#[cfg(test)]
mod tests {
    use tower_service::Service as _;

    use super::*;

    fn resolve(allowed: &str, name: &str) -> Result<Vec<SocketAddr>, std::io::Error> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let hosts = Arc::new(HostPolicy::parse(allowed).map_err(std::io::Error::other)?);
        let name: Name = name.parse().map_err(std::io::Error::other)?;
        rt.block_on(async { CheckedResolver { hosts }.call(name).await.map(Iterator::collect) })
    }

    #[test]
    fn names_resolving_to_internal_addresses_are_refused_unless_allowed() {
        // `localhost` resolves to loopback addresses without any network.
        let refused = resolve("", "localhost").map(drop).map_err(|e| (e.kind(), e.to_string()));
        let Err((kind, why)) = refused else { panic!("localhost was allowed: {refused:?}") };
        assert_eq!(kind, std::io::ErrorKind::PermissionDenied);
        assert!(why.contains("--webhook-allowed-hosts"), "{why}");
        let allowed = resolve("localhost", "localhost").unwrap_or_default();
        assert!(!allowed.is_empty() && allowed.iter().all(|a| a.ip().is_loopback()));
        // Allowing 127.0.0.1 lets that address through, and nothing else.
        let v4 = resolve("127.0.0.1", "localhost").unwrap_or_default();
        assert!(v4.iter().all(|a| a.ip() == std::net::IpAddr::from([127, 0, 0, 1])), "{v4:?}");
    }
}
