//! Webhooks and events (issue 16) against a real HTTP receiver in the test: every event type
//! arrives once, in order, signed; a receiver that is down and comes back loses nothing; a 500 is
//! retried; a receiver that keeps refusing disables the webhook until it is re-enabled; a primary
//! killed mid-delivery is resumed by the next one; WatchEvents streams the same events; and the
//! denial and bad-input paths.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lc_rs::hmac;
use base64::Engine as _;
use bindery_proto::v1;
use bindery_test_util::{TestDb, TestPrimary};
use futures_util::StreamExt as _;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tonic::Code;

use crate::access::{create_token, grant, with};
use crate::helpers::*;

const SECRET: &str = "whsec_integration_test_0001";

/// One request the receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    pub status: u16,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    /// Whether `webhook-signature` is the HMAC-SHA256 of `id.timestamp.body` under `secret`,
    /// checked with aws-lc (not bindery's code).
    pub fn signed_with(&self, secret: &str) -> bool {
        let (id, ts) = (&self.headers["webhook-id"], &self.headers["webhook-timestamp"]);
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
        let mut signed = format!("{id}.{ts}.").into_bytes();
        signed.extend_from_slice(&self.body);
        let expected = base64::engine::general_purpose::STANDARD.encode(hmac::sign(&key, &signed).as_ref());
        self.headers["webhook-signature"] == format!("v1,{expected}")
    }
}

#[derive(Default)]
struct ReceiverState {
    /// Statuses to answer before falling back to `default` (200 unless set).
    script: VecDeque<u16>,
    default: Option<u16>,
    /// Delay before answering (a slow receiver).
    delay: Duration,
    got: Vec<Received>,
}

/// A local HTTP/1.1 receiver that can be stopped (connection refused) and started again on the
/// same port.
pub(crate) struct Receiver {
    pub addr: SocketAddr,
    state: Arc<Mutex<ReceiverState>>,
    tasks: Option<JoinSet<()>>,
}

impl Receiver {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut r = Self { addr: listener.local_addr().unwrap(), state: Arc::default(), tasks: None };
        r.serve(listener);
        r
    }

    pub fn url(&self) -> String {
        format!("http://{}/hooks", self.addr)
    }

    fn serve(&mut self, listener: TcpListener) {
        let mut tasks = JoinSet::new();
        let state = Arc::clone(&self.state);
        tasks.spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let state = Arc::clone(&state);
                connections.spawn(async move {
                    let _ = connection(stream, state).await;
                });
            }
        });
        self.tasks = Some(tasks);
    }

    /// Closes the listener and every open connection.
    pub async fn stop(&mut self) {
        if let Some(mut tasks) = self.tasks.take() {
            tasks.shutdown().await;
        }
    }

    pub async fn restart(&mut self) {
        let listener = TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener);
    }

    pub fn script(&self, statuses: &[u16]) {
        self.state.lock().unwrap().script.extend(statuses);
    }

    pub fn always(&self, status: Option<u16>) {
        self.state.lock().unwrap().default = status;
    }

    pub fn delay(&self, d: Duration) {
        self.state.lock().unwrap().delay = d;
    }

    pub fn got(&self) -> Vec<Received> {
        self.state.lock().unwrap().got.clone()
    }

    /// The bodies of the requests answered 2xx, by event id, in arrival order.
    pub fn delivered(&self) -> Vec<serde_json::Value> {
        self.got().iter().filter(|r| (200..300).contains(&r.status)).map(Received::json).collect()
    }

    /// Waits until `n` requests were answered 2xx.
    pub async fn wait_delivered(&self, n: usize, within: Duration) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + within;
        loop {
            let got = self.delivered();
            if got.len() >= n {
                return got;
            }
            assert!(Instant::now() < deadline, "{} of {n} deliveries after {within:?}: {got:#?}", got.len());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn connection(stream: tokio::net::TcpStream, state: Arc<Mutex<ReceiverState>>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    loop {
        let mut headers = BTreeMap::new();
        let mut line = String::new();
        if read.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        loop {
            line.clear();
            read.read_line(&mut line).await?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        let len = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        let mut body = vec![0; len];
        read.read_exact(&mut body).await?;
        let (status, delay) = {
            let mut s = state.lock().unwrap();
            (s.script.pop_front().or(s.default).unwrap_or(200), s.delay)
        };
        tokio::time::sleep(delay).await;
        state.lock().unwrap().got.push(Received { headers, body, status });
        write.write_all(format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n").as_bytes()).await?;
    }
}

pub(crate) async fn create_webhook(r: &mut Registry, url: &str, events: &[&str], scope: &str) -> v1::Webhook {
    let req = v1::CreateWebhookRequest {
        url: url.into(),
        events: events.iter().map(|e| (*e).to_owned()).collect(),
        scope: scope.into(),
        secret: SECRET.into(),
        ..Default::default()
    };
    let created = r.create_webhook(req).await.unwrap().into_inner();
    assert_eq!(created.secret, SECRET);
    created.webhook.unwrap()
}

async fn deliveries(r: &mut Registry, id: u64) -> Vec<v1::WebhookDelivery> {
    let req = v1::ListWebhookDeliveriesRequest { id, page_size: 100, page_token: String::new() };
    let mut d = r.list_webhook_deliveries(req).await.unwrap().into_inner().deliveries;
    d.reverse();
    d
}

fn types(events: &[serde_json::Value]) -> Vec<String> {
    events.iter().map(|e| e["type"].as_str().unwrap().to_owned()).collect()
}

fn ids(events: &[serde_json::Value]) -> Vec<u64> {
    events.iter().map(|e| e["id"].as_str().unwrap().parse().unwrap()).collect()
}

/// Every change the issue names, once: the event types in the order they must arrive.
async fn every_kind_of_change(r: &mut Registry, model: &str) -> Vec<&'static str> {
    create_model(r, model).await;
    r.update_model(v1::UpdateModelRequest {
        name: model.into(),
        description: Some("fraud scores".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    for i in 1..=3 {
        register(r, model, &format!("w{i}")).await;
    }
    r.update_version(v1::UpdateVersionRequest {
        model_name: model.into(),
        version: 1,
        description: Some("first".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    bind(r, model, "production", 1, None).await.unwrap();
    bind(r, model, "production", 2, None).await.unwrap();
    rollback(r, model, "production").await.unwrap();
    // A gated promotion that passes applies at once.
    r.set_promotion_policy(auc_policy(model, 0.0)).await.unwrap();
    let req = v1::RequestPromotionRequest {
        model_name: model.into(),
        binding: "production".into(),
        version: 2,
        reason: "promote v2".into(),
        expected_generation: None,
    };
    r.request_promotion(req).await.unwrap();
    let req = v1::StartRolloutRequest {
        model_name: model.into(),
        binding: "production".into(),
        to_version: 3,
        steps: vec![1_000, 10_000],
        interval_seconds: 3_600,
        abort_if: vec![],
        reason: "v3".into(),
    };
    let rollout = r.start_rollout(req).await.unwrap().into_inner();
    r.abort_rollout(v1::AbortRolloutRequest { id: rollout.id, reason: "stop".into() }).await.unwrap();
    unbind(r, model, "production", None).await.unwrap();
    r.archive_version(v1::ArchiveVersionRequest { model_name: model.into(), version: 3 }).await.unwrap();
    r.delete_version(v1::DeleteVersionRequest { model_name: model.into(), version: 3 }).await.unwrap();
    r.delete_model(v1::DeleteModelRequest { name: model.into() }).await.unwrap();
    vec![
        "model.created",
        "model.updated",
        "version.registered",
        "version.registered",
        "version.registered",
        "version.updated",
        "binding.changed",
        "binding.changed",
        "binding.changed",
        "promotion.requested",
        "binding.changed",
        "promotion.applied",
        "binding.changed",
        "rollout.started",
        "binding.changed",
        "rollout.aborted",
        "binding.changed",
        "version.archived",
        "version.deleted",
        "model.deleted",
    ]
}

pub(crate) async fn every_event_arrives_once_in_order_and_signed(backend: Backend) {
    let registry = TestRegistry::start(backend).await.unwrap();
    let mut r = registry.registry().await.unwrap();
    let receiver = Receiver::start().await;
    let hook = create_webhook(&mut r, &receiver.url(), &["*"], "*").await;
    // Events of another namespace and types not asked for stay out of a second webhook.
    let narrow = Receiver::start().await;
    create_webhook(&mut r, &narrow.url(), &["binding.changed"], "other/").await;

    let expected = every_kind_of_change(&mut r, "fraud/detector").await;
    create_model(&mut r, "other/m").await;
    register(&mut r, "other/m", "o1").await;
    bind(&mut r, "other/m", "champion", 1, None).await.unwrap();

    let got = receiver.wait_delivered(expected.len() + 3, Duration::from_secs(30)).await;
    let mut want: Vec<&str> = expected.clone();
    want.extend(["model.created", "version.registered", "binding.changed"]);
    assert_eq!(types(&got), want);
    let got_ids = ids(&got);
    assert!(got_ids.windows(2).all(|w| w[0] < w[1]), "in order, once each: {got_ids:?}");
    assert!(receiver.got().iter().all(|r| r.signed_with(SECRET)), "every delivery is signed");
    assert!(receiver.got().iter().all(|r| r.headers["webhook-id"] == r.json()["id"]));
    // binding.changed carries the binding and both states.
    let change = &got[7];
    assert_eq!(change["data"]["binding"], "production");
    assert_eq!(change["data"]["model"], "fraud/detector");
    assert!(change["data"]["before"].is_object() && change["data"]["after"].is_object(), "{change}");
    assert!(got.iter().all(|e| e["revision"].as_u64().unwrap() > 0 && e["actor"].is_string()));

    // Nothing more arrives: each event once.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.got().len(), want.len());
    let narrow_got = narrow.wait_delivered(1, Duration::from_secs(10)).await;
    assert_eq!(types(&narrow_got), ["binding.changed"]);
    assert_eq!(narrow_got[0]["data"]["model"], "other/m");

    // The deliveries are listed, and the webhook's cursor is at the last event.
    let listed = deliveries(&mut r, hook.id).await;
    assert_eq!(listed.len(), want.len());
    assert!(listed.iter().all(|d| d.result == "delivered" && d.status_code == 200 && d.attempt == 1));
    let now = r.get_webhook(v1::GetWebhookRequest { id: hook.id }).await.unwrap().into_inner();
    assert!(now.enabled && now.failed_attempts == 0);

    // WatchEvents streams the same events from the same point.
    let first = got_ids[0];
    let req = v1::WatchEventsRequest { since_event_id: first - 1, ..Default::default() };
    let mut stream = r.watch_events(req).await.unwrap().into_inner();
    let mut watched = Vec::new();
    while watched.len() < want.len() {
        let batch =
            tokio::time::timeout(Duration::from_secs(10), stream.next()).await.unwrap().unwrap().unwrap();
        watched.extend(batch.events);
    }
    assert_eq!(watched.iter().map(|e| e.id).collect::<Vec<_>>(), got_ids);
    assert_eq!(watched.iter().map(|e| e.event_type.clone()).collect::<Vec<_>>(), want);
    // Resuming after the fifth, filtered to one type and one namespace.
    let req = v1::WatchEventsRequest {
        since_event_id: got_ids[4],
        types: vec!["binding.changed".into()],
        scope: "other/".into(),
        ..Default::default()
    };
    let mut stream = r.watch_events(req).await.unwrap().into_inner();
    let batch = tokio::time::timeout(Duration::from_secs(10), stream.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(batch.events.len(), 1);
    assert_eq!(batch.events[0].model_name, "other/m");
    // Starting after a revision: the events above it.
    let revision = got[10]["revision"].as_u64().unwrap();
    let req = v1::WatchEventsRequest { since_revision: revision, ..Default::default() };
    let mut stream = r.watch_events(req).await.unwrap().into_inner();
    let batch = tokio::time::timeout(Duration::from_secs(10), stream.next()).await.unwrap().unwrap().unwrap();
    assert!(batch.events.iter().all(|e| e.revision > revision));
    let expected_after: Vec<u64> = got
        .iter()
        .filter(|e| e["revision"].as_u64().unwrap() > revision)
        .map(|e| e["id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(batch.events.iter().map(|e| e.id).collect::<Vec<_>>(), expected_after);
}

pub(crate) async fn a_receiver_down_for_a_while_loses_nothing(backend: Backend) {
    let registry = TestRegistry::start(backend).await.unwrap();
    let mut r = registry.registry().await.unwrap();
    let mut receiver = Receiver::start().await;
    let hook = create_webhook(&mut r, &receiver.url(), &["binding.*"], "fraud/").await;
    create_model(&mut r, "fraud/m").await;
    for i in 1..=3 {
        register(&mut r, "fraud/m", &format!("d{i}")).await;
    }
    receiver.stop().await;
    for v in [1, 2, 3, 1, 2] {
        bind(&mut r, "fraud/m", "production", v, None).await.unwrap();
    }
    // Attempts fail while it is down (connection refused), then back off.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let failed = deliveries(&mut r, hook.id).await;
    assert!(failed.len() >= 2, "retried while down: {failed:#?}");
    assert!(failed.iter().all(|d| d.status_code == 0 && d.result == "retrying" && !d.error.is_empty()));
    assert!(failed.iter().all(|d| d.event_id == failed[0].event_id), "nothing skipped ahead");
    let w = r.get_webhook(v1::GetWebhookRequest { id: hook.id }).await.unwrap().into_inner();
    assert!(w.enabled && w.failed_attempts >= 2 && w.next_attempt_at.is_some());

    receiver.restart().await;
    let got = receiver.wait_delivered(5, Duration::from_secs(20)).await;
    let versions: Vec<u64> =
        got.iter().map(|e| e["data"]["after"]["version"].as_u64().unwrap_or(0)).collect();
    assert_eq!(versions, [1, 2, 3, 1, 2], "{got:#?}");
    assert_eq!(ids(&got)[0], failed[0].event_id);
}

pub(crate) async fn a_500_is_retried_and_a_refusing_receiver_disables_the_webhook(backend: Backend) {
    let registry = TestRegistry::start(backend).await.unwrap();
    let mut r = registry.registry().await.unwrap();
    let receiver = Receiver::start().await;
    receiver.script(&[500]);
    let hook = create_webhook(&mut r, &receiver.url(), &["model.created"], "*").await;
    create_model(&mut r, "retry/a").await;
    let got = receiver.wait_delivered(1, Duration::from_secs(10)).await;
    assert_eq!(got[0]["data"]["model"], "retry/a");
    let attempts = deliveries(&mut r, hook.id).await;
    let summary: Vec<(u32, u32, &str)> =
        attempts.iter().map(|d| (d.attempt, d.status_code, d.result.as_str())).collect();
    assert_eq!(summary, [(1, 500, "retrying"), (2, 200, "delivered")]);
    assert_eq!(receiver.got()[0].headers["webhook-id"], receiver.got()[1].headers["webhook-id"]);

    // 404 every time: three attempts, then disabled with the reason; the cursor stays.
    receiver.always(Some(404));
    create_model(&mut r, "retry/b").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let disabled = loop {
        let w = r.get_webhook(v1::GetWebhookRequest { id: hook.id }).await.unwrap().into_inner();
        if !w.enabled {
            break w;
        }
        assert!(Instant::now() < deadline, "not disabled: {w:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        disabled.disabled_reason.contains("404") && disabled.disabled_reason.contains("re-enable"),
        "{disabled:?}"
    );
    let refused: Vec<_> =
        deliveries(&mut r, hook.id).await.into_iter().filter(|d| d.status_code == 404).collect();
    assert_eq!(refused.iter().map(|d| d.attempt).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(refused[2].result, "failed");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.got().len(), 5, "a disabled webhook gets nothing");

    // Fixed and re-enabled: it resumes at the event that failed.
    receiver.always(None);
    let update = v1::UpdateWebhookRequest { id: hook.id, enabled: Some(true), ..Default::default() };
    let w = r.update_webhook(update).await.unwrap().into_inner().webhook.unwrap();
    assert!(w.enabled && w.disabled_reason.is_empty());
    let got = receiver.wait_delivered(2, Duration::from_secs(10)).await;
    assert_eq!(got[1]["data"]["model"], "retry/b");

    // TestWebhook sends a signed ping now; RedeliverWebhook replays a past event.
    let ping =
        r.test_webhook(v1::TestWebhookRequest { id: hook.id }).await.unwrap().into_inner().delivery.unwrap();
    assert_eq!(
        (ping.status_code, ping.result.as_str(), ping.event_type.as_str()),
        (200, "test delivered", "webhook.ping")
    );
    let last = receiver.got().last().cloned().unwrap();
    assert!(last.signed_with(SECRET));
    assert_eq!(last.json()["type"], "webhook.ping");
    let first_event = ids(&got)[0];
    let again = v1::RedeliverWebhookRequest { id: hook.id, event_id: first_event };
    let d = r.redeliver_webhook(again).await.unwrap().into_inner().delivery.unwrap();
    assert_eq!((d.event_id, d.result.as_str()), (first_event, "redelivered"));
    assert_eq!(receiver.got().last().unwrap().json(), got[0]);
    // An event the webhook does not get cannot be replayed through it.
    let version_event = {
        register(&mut r, "retry/b", "x1").await;
        let req = v1::WatchEventsRequest {
            since_event_id: first_event,
            types: vec!["version.*".into()],
            ..Default::default()
        };
        let mut s = r.watch_events(req).await.unwrap().into_inner();
        tokio::time::timeout(Duration::from_secs(10), s.next()).await.unwrap().unwrap().unwrap().events[0].id
    };
    let wrong =
        r.redeliver_webhook(v1::RedeliverWebhookRequest { id: hook.id, event_id: version_event }).await;
    assert_status(wrong, Code::FailedPrecondition, &["not one webhook"]);
}

pub(crate) async fn webhooks_are_validated_and_need_admin_on_their_scope(backend: Backend) {
    let (registry, admin) = TestRegistry::start_secured(backend).await.unwrap();
    let mut r = registry.registry().await.unwrap();
    let receiver = Receiver::start().await;
    let ns_admin = create_token(&mut r, &admin, "nadia").await;
    grant(&mut r, &admin, "nadia", v1::Role::Admin, "team/").await;
    let contributor = create_token(&mut r, &admin, "carl").await;
    grant(&mut r, &admin, "carl", v1::Role::Contributor, "*").await;
    let viewer = create_token(&mut r, &admin, "vera").await;
    grant(&mut r, &admin, "vera", v1::Role::Viewer, "team/").await;

    let req = |scope: &str| v1::CreateWebhookRequest {
        url: receiver.url(),
        events: vec!["binding.changed".into()],
        scope: scope.into(),
        ..Default::default()
    };
    // Roles: ADMIN on the webhook's scope.
    assert_status(
        r.create_webhook(with(req("*"), Some(&contributor))).await,
        Code::PermissionDenied,
        &["carl"],
    );
    assert_status(r.create_webhook(with(req("team/"), Some(&viewer))).await, Code::PermissionDenied, &[]);
    assert_status(r.create_webhook(with(req("*"), Some(&ns_admin))).await, Code::PermissionDenied, &[]);
    assert_status(r.create_webhook(with(req("*"), None)).await, Code::Unauthenticated, &[]);
    let team = r.create_webhook(with(req("team/"), Some(&ns_admin))).await.unwrap().into_inner();
    assert!(team.secret.starts_with("whsec_"), "a secret is generated and shown once");
    let team = team.webhook.unwrap();
    let global = r.create_webhook(with(req("*"), Some(&admin))).await.unwrap().into_inner().webhook.unwrap();
    let listed = r.list_webhooks(with(v1::ListWebhooksRequest::default(), Some(&ns_admin))).await.unwrap();
    assert_eq!(listed.into_inner().webhooks.iter().map(|w| w.id).collect::<Vec<_>>(), [team.id]);
    for (id, token, code) in
        [(global.id, &ns_admin, Code::PermissionDenied), (team.id, &viewer, Code::PermissionDenied)]
    {
        let get = r.get_webhook(with(v1::GetWebhookRequest { id }, Some(token))).await;
        assert_status(get, code, &[]);
        let del = r.delete_webhook(with(v1::DeleteWebhookRequest { id }, Some(token))).await;
        assert_status(del, code, &[]);
        let d = r
            .list_webhook_deliveries(with(
                v1::ListWebhookDeliveriesRequest { id, ..Default::default() },
                Some(token),
            ))
            .await;
        assert_status(d, code, &[]);
        assert_status(r.test_webhook(with(v1::TestWebhookRequest { id }, Some(token))).await, code, &[]);
        let again = v1::RedeliverWebhookRequest { id, event_id: 1 };
        assert_status(r.redeliver_webhook(with(again, Some(token))).await, code, &[]);
    }
    // Moving a webhook out of one's scope is refused.
    let widen = v1::UpdateWebhookRequest { id: team.id, scope: Some("*".into()), ..Default::default() };
    assert_status(r.update_webhook(with(widen, Some(&ns_admin))).await, Code::PermissionDenied, &[]);
    // Watching needs VIEWER on the watched scope.
    let watch = |scope: &str| v1::WatchEventsRequest { scope: scope.into(), ..Default::default() };
    assert_status(
        r.watch_events(with(watch("*"), Some(&viewer))).await.map(drop),
        Code::PermissionDenied,
        &[],
    );
    assert!(r.watch_events(with(watch("team/"), Some(&viewer))).await.is_ok());

    // Bad input, each naming the field.
    let bad = |url: &str, events: &[&str], secret: &str, timeout_ms: u32| v1::CreateWebhookRequest {
        url: url.into(),
        events: events.iter().map(|e| (*e).to_owned()).collect(),
        secret: secret.into(),
        timeout_ms,
        ..Default::default()
    };
    let url = receiver.url();
    for (req, needle) in [
        (bad("ftp://x/", &["*"], "", 0), "url"),
        (bad("http://user:pw@example.com/", &["*"], "", 0), "credentials"),
        (bad("http://169.254.169.254/latest/meta-data", &["*"], "", 0), "webhook-allowed-hosts"),
        (bad("http://10.1.2.3/", &["*"], "", 0), "internal address"),
        (bad("http://127.0.0.2:9/", &["*"], "", 0), "internal address"),
        (bad(&url, &[], "", 0), "events"),
        (bad(&url, &["version.exploded"], "", 0), "unknown event type"),
        (bad(&url, &["*"], "short", 0), "secret"),
        (bad(&url, &["*"], "", 60_000), "timeout"),
        (bad(&format!("https://example.com/{}", "a".repeat(3000)), &["*"], "", 0), "2048"),
    ] {
        assert_status(r.create_webhook(with(req, Some(&admin))).await, Code::InvalidArgument, &[needle]);
    }
    let both = v1::UpdateWebhookRequest {
        id: team.id,
        secret: Some("s".repeat(20)),
        rotate_secret: true,
        ..Default::default()
    };
    assert_status(
        r.update_webhook(with(both, Some(&admin))).await,
        Code::InvalidArgument,
        &["rotate_secret"],
    );
    let missing = r.get_webhook(with(v1::GetWebhookRequest { id: 999 }, Some(&admin))).await;
    assert_status(missing, Code::NotFound, &["webhook 999"]);
    let watch_bad = v1::WatchEventsRequest { types: vec!["nope".into()], ..Default::default() };
    assert_status(
        r.watch_events(with(watch_bad, Some(&admin))).await.map(drop),
        Code::InvalidArgument,
        &["types"],
    );

    // Rotating gives a new secret once; deliveries are signed with it. Management is audited
    // without the secret.
    let rotate = v1::UpdateWebhookRequest { id: team.id, rotate_secret: true, ..Default::default() };
    let rotated = r.update_webhook(with(rotate, Some(&ns_admin))).await.unwrap().into_inner();
    assert!(rotated.secret.starts_with("whsec_"));
    let ping = r.test_webhook(with(v1::TestWebhookRequest { id: team.id }, Some(&ns_admin))).await.unwrap();
    assert_eq!(ping.into_inner().delivery.unwrap().status_code, 200);
    assert!(receiver.got().last().unwrap().signed_with(&rotated.secret));
    let audit: Vec<_> = r
        .list_audit_events(with(
            v1::ListAuditEventsRequest { page_size: 100, ..Default::default() },
            Some(&admin),
        ))
        .await
        .unwrap()
        .into_inner()
        .events
        .into_iter()
        .filter(|e| e.action.starts_with("webhook."))
        .collect();
    assert_eq!(
        audit.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["webhook.update", "webhook.create", "webhook.create"]
    );
    assert!(audit.iter().all(|e| !format!("{e:?}").contains("whsec_")), "no secret in the audit log");
    r.delete_webhook(with(v1::DeleteWebhookRequest { id: team.id }, Some(&ns_admin))).await.unwrap();
    assert_status(
        r.get_webhook(with(v1::GetWebhookRequest { id: team.id }, Some(&admin))).await,
        Code::NotFound,
        &[],
    );
}

/// A primary killed while a slow receiver holds a delivery: the next primary on the same
/// database takes the webhook over when the lease lapses, and every event arrives, in order.
#[tokio::test]
async fn a_killed_primary_is_resumed_by_the_next_one() {
    let mut first = TestPrimary::start_with(TestDb::create().await.unwrap(), |_| {}).await.unwrap();
    let db = first.db.client().await.unwrap();
    let mut r = first.registry().await.unwrap();
    let receiver = Receiver::start().await;
    create_webhook(&mut r, &receiver.url(), &["binding.changed"], "*").await;
    create_model(&mut r, "kill/m").await;
    for i in 1..=3 {
        register(&mut r, "kill/m", &format!("k{i}")).await;
    }
    receiver.delay(Duration::from_secs(5));
    bind(&mut r, "kill/m", "production", 1, None).await.unwrap();
    // The first delivery is in flight (the receiver sits on it) when the primary dies.
    let deadline = Instant::now() + Duration::from_secs(5);
    while db.query("SELECT id FROM webhooks WHERE lease_owner IS NOT NULL", &[]).await.unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the delivery never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.server.stop().await.unwrap();
    receiver.delay(Duration::ZERO);

    let second = TestPrimary::start_with(TestDb::existing(&first.db.name), |_| {}).await.unwrap();
    let mut r = second.registry().await.unwrap();
    bind(&mut r, "kill/m", "production", 2, None).await.unwrap();
    bind(&mut r, "kill/m", "production", 3, None).await.unwrap();
    receiver.wait_delivered(3, Duration::from_secs(30)).await;
    // At least once: the in-flight event may arrive twice, nothing is lost, order is kept.
    let mut versions: Vec<u64> =
        receiver.delivered().iter().map(|e| e["data"]["after"]["version"].as_u64().unwrap()).collect();
    versions.dedup();
    assert_eq!(versions, [1, 2, 3]);
}

/// `bindery webhook ...` and `bindery events` as a terminal user runs them.
pub(crate) async fn the_cli_manages_webhooks_and_streams_events(backend: Backend) {
    let registry = TestRegistry::start(backend).await.unwrap();
    let receiver = Receiver::start().await;
    let url = receiver.url();
    let out = cli(&registry, &["webhook", "create", &url, "--events", "model.*", "--description", "ci"])
        .await
        .unwrap();
    assert!(out.contains("webhook #1") && out.contains("scope *") && out.contains("secret: whsec_"), "{out}");
    cli(&registry, &["model", "create", "cli/m"]).await.unwrap();
    receiver.wait_delivered(1, Duration::from_secs(10)).await;
    let out = cli(&registry, &["webhook", "deliveries", "1"]).await.unwrap();
    assert!(out.contains("model.created") && out.contains("delivered") && out.contains("HTTP 200"), "{out}");
    let listed: serde_json::Value =
        serde_json::from_str(&cli(&registry, &["--json", "webhook", "list"]).await.unwrap()).unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    let out = cli(&registry, &["webhook", "update", "1", "--disable"]).await.unwrap();
    assert!(out.contains("DISABLED"), "{out}");
    let out = cli(&registry, &["webhook", "test", "1"]).await.unwrap();
    assert!(out.contains("webhook.ping") && out.contains("test delivered"), "{out}");
    let err =
        cli(&registry, &["webhook", "create", "http://169.254.169.254/", "--events", "*"]).await.unwrap_err();
    assert!(err.to_string().starts_with("INVALID_ARGUMENT: "), "{err}");
    // `events` prints JSON lines to stdout; with --count it stops after that many.
    let out = cli(&registry, &["--json", "events", "--since-event", "1", "--count", "1"]).await.unwrap();
    assert!(out.contains("\"events\": 1"), "{out}");
    cli(&registry, &["webhook", "delete", "1"]).await.unwrap();
    assert!(
        cli(&registry, &["webhook", "show", "1"]).await.unwrap_err().to_string().starts_with("NOT_FOUND: ")
    );
}
