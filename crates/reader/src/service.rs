//! `ResolverService` answered from the cache alone: no call here touches the database.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bindery_artifacts::Artifacts;
use bindery_core::{Artifact, BindingName, Credential, ModelName, Principal, Role, Scope};
use bindery_proto::auth::{AuthMode, credential, jwt_not_configured};
use bindery_proto::v1;
use bindery_proto::v1::resolver_service_server::ResolverService;
use bindery_proto::{ResolveManyPlan, status_from_error, to_timestamp, traffic};
use tokio::sync::{broadcast, mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::{Cache, Event, FeedStatus, Target, WatchFilter, WatchMessage};

const WATCH_STREAM_BUFFER: usize = 256;

#[derive(Clone)]
pub struct ReaderService {
    cache: Arc<Cache>,
    status: Arc<FeedStatus>,
    serving: Arc<AtomicBool>,
    /// Upper bound on a `min_revision` wait, whatever the call's deadline.
    max_wait: Duration,
    shutdown: watch::Receiver<bool>,
    /// Presigns downloads with this node's own object-store credentials (local signing).
    artifacts: Arc<Artifacts>,
    auth: AuthMode,
    jwt: Option<Arc<bindery_auth::JwtVerifier>>,
    certs: Arc<bindery_auth::ClientCertPrincipals>,
    limits: WatchLimits,
    /// Open watch streams per client connection (remote address).
    per_connection: Arc<dashmap::DashMap<std::net::SocketAddr, usize>>,
}

/// How many WatchBindings streams a node holds open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchLimits {
    pub per_node: u64,
    pub per_connection: usize,
}

impl Default for WatchLimits {
    fn default() -> Self {
        Self { per_node: 10_000, per_connection: 100 }
    }
}

/// Releases a watch stream's place in the per-connection count.
struct ConnectionSlot {
    map: Arc<dashmap::DashMap<std::net::SocketAddr, usize>>,
    peer: Option<std::net::SocketAddr>,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        if let Some(peer) = self.peer {
            self.map.remove_if_mut(&peer, |_, n| {
                *n -= 1;
                *n == 0
            });
        }
    }
}

impl ReaderService {
    pub fn new(
        cache: Arc<Cache>,
        status: Arc<FeedStatus>,
        serving: Arc<AtomicBool>,
        max_wait: Duration,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        Self {
            cache,
            status,
            serving,
            max_wait,
            shutdown,
            artifacts: Arc::new(Artifacts::unverified()),
            auth: AuthMode::Required,
            jwt: None,
            certs: Arc::default(),
            limits: WatchLimits::default(),
            per_connection: Arc::default(),
        }
    }

    /// Caps on open WatchBindings streams (default 10,000 per node, 100 per connection).
    #[must_use]
    pub fn with_watch_limits(mut self, limits: WatchLimits) -> Self {
        self.limits = limits;
        self
    }

    /// A place for one more watch stream from `peer`, or `RESOURCE_EXHAUSTED` saying which cap
    /// was reached.
    fn watch_slot(&self, peer: Option<std::net::SocketAddr>) -> Result<ConnectionSlot, Status> {
        if self.cache.watchers() >= self.limits.per_node {
            return Err(Status::resource_exhausted(format!(
                "this read node already serves {} watch streams (--max-watchers); watch from another \
                 node, or filter by model to share one stream",
                self.limits.per_node
            )));
        }
        if let Some(peer) = peer {
            let mut open = self.per_connection.entry(peer).or_insert(0);
            if *open >= self.limits.per_connection {
                return Err(Status::resource_exhausted(format!(
                    "this connection already has {} watch streams open (--max-watchers-per-connection); \
                     close some, or watch several models in one stream",
                    self.limits.per_connection
                )));
            }
            *open += 1;
        }
        Ok(ConnectionSlot { map: self.per_connection.clone(), peer })
    }

    /// Also accepts JWTs this verifier accepts (checked by this node, from its own JWKS).
    #[must_use]
    pub fn with_jwt(mut self, jwt: Option<Arc<bindery_auth::JwtVerifier>>) -> Self {
        self.jwt = jwt;
        self
    }

    /// Whether callers must authenticate (default: they must).
    #[must_use]
    pub fn with_auth(mut self, auth: AuthMode) -> Self {
        self.auth = auth;
        self
    }

    /// The caller, authenticated from the cache's tokens (no database call); `None` when
    /// authentication is off (then every call is allowed).
    async fn caller<T>(&self, request: &Request<T>) -> Result<Option<Arc<Principal>>, Status> {
        let credential = self.credential(request)?;
        self.principal(credential).await
    }

    /// The call's credential (a bearer token checked for shape only, or the principal of its
    /// verified client certificate): a call without one is refused at once.
    fn credential<'a, T>(&self, request: &'a Request<T>) -> Result<Option<Credential<'a>>, Status> {
        match self.auth {
            AuthMode::Off => Ok(None),
            AuthMode::Required => {
                let peer_certs = request.peer_certs();
                let client_cert =
                    peer_certs.as_deref().and_then(|c| c.first()).map(|c| self.certs.principal(c));
                credential(request.metadata(), client_cert).map(Some).map_err(status_from_error)
            }
        }
    }

    /// Who `credential` stands for in the state the cache serves now. Calls with a `min_revision`
    /// ask after waiting for it, so a token or grant committed before the call is honoured.
    async fn principal(&self, credential: Option<Credential<'_>>) -> Result<Option<Arc<Principal>>, Status> {
        let Some(credential) = credential else { return Ok(None) };
        let who = match credential {
            Credential::ApiToken(token) => {
                self.cache.access().authenticate_shared(token, std::time::SystemTime::now)
            }
            Credential::Jwt(token) => match &self.jwt {
                Some(jwt) => jwt.verify(token).await.map(Arc::new),
                None => Err(jwt_not_configured()),
            },
            Credential::ClientCertificate(who) => Ok(who),
        };
        who.map(Some).map_err(status_from_error)
    }

    /// VIEWER on `model`, unless authentication is off.
    fn require_viewer(&self, who: Option<&Principal>, model: &ModelName) -> Result<(), bindery_core::Error> {
        match who {
            None => Ok(()),
            Some(who) => self.cache.access().policy().require_model(who, Role::Viewer, model),
        }
    }

    /// Lets `Resolve{presign: true}` sign download URLs with this object-store configuration.
    #[must_use]
    pub fn with_artifacts(mut self, artifacts: Arc<Artifacts>) -> Self {
        self.artifacts = artifacts;
        self
    }

    fn ensure_loaded(&self) -> Result<(), Status> {
        if self.cache.is_loaded() {
            Ok(())
        } else {
            Err(Status::unavailable("this read node has not loaded its first snapshot yet; retry shortly"))
        }
    }

    /// Read-your-writes: waits (bounded by the deadline and `max_wait`) until `min` is applied.
    async fn wait_for(&self, min: u64, deadline: Option<Duration>) -> Result<(), Status> {
        if min <= self.cache.revision() {
            return Ok(());
        }
        // Answer a little before the caller's deadline, so the answer (not a timeout) reaches it.
        let budget = deadline.map_or(self.max_wait, |d| d.mul_f64(0.8).min(self.max_wait));
        self.cache.wait_for(min, budget).await.map(drop).map_err(|current| {
            Status::unavailable(format!(
                "this read node is at revision {current}, {} behind the requested min_revision {min} \
                 (waited {budget:?}); retry, or read from another node",
                min - current
            ))
        })
    }
}

/// The call's deadline from the `grpc-timeout` header (`<digits><unit>`).
fn deadline<T>(request: &Request<T>) -> Option<Duration> {
    let value = request.metadata().get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3_600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// The answer for `target` (with `routing_key`, empty for none), and the artifact answered.
fn response<'a>(
    model: &ModelName,
    binding: &BindingName,
    target: &'a Target,
    revision: u64,
    routing_key: &str,
) -> (v1::ResolveResponse, Cow<'a, Artifact>) {
    let first = target.artifact();
    let answer = {
        let found = traffic::Found {
            generation: target.generation,
            revision,
            version: target.version,
            artifact: &first,
            traffic: target.traffic.as_ref().map(|t| &t.traffic),
        };
        let artifact_of = |v| if v == target.version { Some(&*first) } else { target.other_artifact(v) };
        traffic::resolve_response(model, binding, found, artifact_of, routing_key).0
    };
    // The version answered is the first one or another of the split (whose artifact is whole).
    let artifact = target.other_artifact(answer.version).filter(|_| answer.version != target.version);
    (answer, artifact.map_or(first, Cow::Borrowed))
}

/// What one watch message may weigh: well under the 4 MiB a gRPC message carries.
const WATCH_MESSAGE_BYTES: usize = 1024 * 1024;

/// `m` as watch messages: one, or for a reset too large for one, parts of at most
/// [`WATCH_MESSAGE_BYTES`] (the first flagged `reset`, all but the last `continues`).
fn watch_messages(m: &WatchMessage) -> Vec<v1::WatchBindingsResponse> {
    use prost::Message as _;
    if !m.reset {
        // A change is at most one write's bindings: one message, nothing to weigh.
        let bindings = m.bindings.iter().map(Into::into).collect();
        return vec![v1::WatchBindingsResponse {
            revision: m.revision,
            reset: false,
            bindings,
            continues: false,
        }];
    }
    let mut parts =
        vec![v1::WatchBindingsResponse { revision: m.revision, reset: true, ..Default::default() }];
    let mut weight = 0;
    for binding in &m.bindings {
        let state = v1::BindingState::from(binding);
        let size = state.encoded_len() + 8;
        if weight + size > WATCH_MESSAGE_BYTES && weight > 0 {
            parts.push(v1::WatchBindingsResponse { revision: m.revision, ..Default::default() });
            weight = 0;
        }
        weight += size;
        if let Some(part) = parts.last_mut() {
            part.bindings.push(state);
        }
    }
    let last = parts.len() - 1;
    for part in &mut parts[..last] {
        part.continues = true;
    }
    parts
}

type RpcResult<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl ResolverService for ReaderService {
    async fn resolve(&self, request: Request<v1::ResolveRequest>) -> RpcResult<v1::ResolveResponse> {
        let credential = self.credential(&request)?;
        self.ensure_loaded()?;
        self.wait_for(request.get_ref().min_revision, deadline(&request)).await?;
        let who = self.principal(credential).await?;
        let r = request.into_inner();
        let (presign, routing_key) = (r.presign, r.routing_key.clone());
        let (model, binding) = <(ModelName, BindingName)>::try_from(r).map_err(status_from_error)?;
        self.require_viewer(who.as_deref(), &model).map_err(status_from_error)?;
        let (target, revision) = self.cache.resolve(&model, &binding);
        let target = target.map_err(status_from_error)?;
        let (mut answer, artifact) = response(&model, &binding, &target, revision, &routing_key);
        if presign {
            let urls = self.artifacts.all_download_urls(&artifact).await.map_err(status_from_error)?;
            answer.download_urls = urls.into_iter().map(Into::into).collect();
        }
        Ok(Response::new(answer))
    }

    async fn resolve_many(
        &self,
        request: Request<v1::ResolveManyRequest>,
    ) -> RpcResult<v1::ResolveManyResponse> {
        let credential = self.credential(&request)?;
        self.ensure_loaded()?;
        let min_revision = request.get_ref().requests.iter().map(|r| r.min_revision).max().unwrap_or(0);
        self.wait_for(min_revision, deadline(&request)).await?;
        let who = self.principal(credential).await?;
        let plan = ResolveManyPlan::new(request.into_inner().requests)?;
        let (found, revision) = self.cache.resolve_many(&plan.keys);
        // An entry the caller may not view answers PERMISSION_DENIED on its own.
        let found = found
            .into_iter()
            .zip(&plan.keys)
            .map(|(r, (model, _))| self.require_viewer(who.as_deref(), model).and(r))
            .collect();
        Ok(Response::new(plan.answer(found, revision, |model, binding, routing_key, target| {
            response(model, binding, &target, revision, routing_key).0
        })))
    }

    type WatchBindingsStream = ReceiverStream<Result<v1::WatchBindingsResponse, Status>>;

    async fn watch_bindings(
        &self,
        request: Request<v1::WatchBindingsRequest>,
    ) -> RpcResult<Self::WatchBindingsStream> {
        let who = self.caller(&request).await?;
        self.ensure_loaded()?;
        let peer = request.remote_addr();
        let r = request.into_inner();
        let filter = WatchFilter {
            models: r
                .model_names
                .into_iter()
                .map(|m| ModelName::parse("model_names", m))
                .collect::<Result<_, _>>()
                .map_err(status_from_error)?,
            bindings: r
                .bindings
                .into_iter()
                .map(|b| BindingName::parse("bindings", b))
                .collect::<Result<_, _>>()
                .map_err(status_from_error)?,
        };
        // Watching everything needs VIEWER globally; else VIEWER on each model watched.
        if let Some(who) = &who {
            let access = self.cache.access();
            if filter.models.is_empty() {
                access.policy().require(who, Role::Viewer, &Scope::Global)
            } else {
                filter.models.iter().try_for_each(|m| access.policy().require_model(who, Role::Viewer, m))
            }
            .map_err(status_from_error)?;
        }
        let slot = self.watch_slot(peer)?;
        // A watcher ahead of this node is usually one that wrote through the primary a moment
        // ago: wait (bounded) for the node to catch up; still ahead after that (a restored
        // database), it gets the current state as a reset.
        if r.since_revision > self.cache.revision() {
            let _ = self.cache.wait_for(r.since_revision, self.max_wait).await;
        }
        let subscription = self.cache.subscribe(&filter, r.since_revision);
        let (tx, rx) = mpsc::channel(WATCH_STREAM_BUFFER);
        let cache = self.cache.clone();
        let guard = cache.watcher_guard();
        let mut shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            let _guard = (guard, slot);
            let mut events = subscription.events;
            // Changes at or below `last` were already covered by what was sent (the subscription's
            // revision is at least `since_revision` unless it answered with a reset).
            let mut last = subscription.revision;
            for part in subscription.initial.iter().flat_map(watch_messages) {
                if tx.send(Ok(part)).await.is_err() {
                    return;
                }
            }
            loop {
                let event = tokio::select! {
                    event = events.recv() => Some(event),
                    _ = shutdown.wait_for(|stop| *stop) => None,
                    // The client went away: free its slots now, not at the next change.
                    () = tx.closed() => return,
                };
                let Some(event) = event else {
                    let status = Status::unavailable(
                        "this read node is shutting down; reconnect (with since_revision) to another",
                    );
                    let _ = tx.send(Err(status)).await;
                    return;
                };
                let outgoing = match event {
                    Ok(Event::Change(message)) => {
                        if message.revision <= last {
                            continue;
                        }
                        last = message.revision;
                        match filter.apply(&message) {
                            Some(m) => watch_messages(&m),
                            None => continue,
                        }
                    }
                    // The state was replaced, or this watcher fell too far behind to be told
                    // change by change: start over from the current state, flagged as a reset.
                    Ok(Event::Reset(_)) | Err(broadcast::error::RecvError::Lagged(_)) => {
                        let fresh = cache.subscribe(&filter, 0);
                        events = fresh.events;
                        last = fresh.revision;
                        match fresh.initial.first() {
                            Some(m) => watch_messages(m),
                            None => continue,
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                for part in outgoing {
                    if tx.send(Ok(part)).await.is_err() {
                        return; // the client went away
                    }
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn get_reader_status(
        &self,
        request: Request<v1::GetReaderStatusRequest>,
    ) -> RpcResult<v1::ReaderStatus> {
        if let Some(who) = self.caller(&request).await? {
            self.cache.access().policy().require_any(&who).map_err(status_from_error)?;
        }
        let applied = self.cache.revision();
        let database = self.status.database_revision.load(Ordering::Acquire).max(applied);
        Ok(Response::new(v1::ReaderStatus {
            applied_revision: applied,
            database_revision: database,
            lag: database - applied,
            connected: self.status.connected.load(Ordering::Acquire),
            last_sync_time: self.status.last_sync().map(to_timestamp),
            bindings_cached: self.cache.bindings_count(),
            models_cached: self.cache.models_count(),
            watchers: self.cache.watchers(),
            serving: self.serving.load(Ordering::Acquire),
            last_error: self.status.last_error(),
            stuck_at_revision: self.status.stuck_at.load(Ordering::Acquire),
            apply_failures: self.status.apply_failures.load(Ordering::Relaxed),
            notifications: self.status.notifications.load(Ordering::Relaxed),
            duplicates_dropped: self.status.duplicates_dropped.load(Ordering::Relaxed),
            gaps_filled: self.status.gaps_filled.load(Ordering::Relaxed),
            snapshots_loaded: self.status.snapshots_loaded.load(Ordering::Relaxed),
            reconnects: self.status.reconnects.load(Ordering::Relaxed),
            upstream: self.status.upstream(),
        }))
    }
}
