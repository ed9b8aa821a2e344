//! PostgreSQL implementation of [`bindery_core::Store`].
//!
//! Every write runs in one transaction that takes its model row lock (`FOR UPDATE`) first and the
//! global `registry_state` row lock last (by bumping the revision), so writers never deadlock and
//! revisions commit in order. See `write.rs` for the change-log/audit/NOTIFY half of every write.

mod access;
mod annotations;
mod audit;
mod bindings;
mod error;
mod feed;
mod gc;
mod migrate;
mod models;
mod promotions;
mod rollouts;
mod rows;
mod search;
mod sessions;
mod snapshots;
mod tls;
mod versions;
mod webhooks;
mod write;

use std::future::Future;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bindery_core::annotation::{Annotated, Annotation, Card, CardEdit, NewAnnotation};
use bindery_core::rollout::{Rollout, RolloutAct, RolloutFilter, RolloutSpec};
use bindery_core::webhook::{Attempt, Delivery, NewWebhook, Progress, Webhook, WebhookUpdate};
use bindery_core::{
    AuditEvent, AuditFilter, Binding, BindingHistoryEntry, BindingName, BindingWrite, BindingsWrite,
    DeleteBinding, Error, Grant, GrantRecord, Model, ModelName, ModelUpdate, ModelVersion, NewModel,
    NewToken, NewVersion, ObjectInfo, ObjectLocation, Page, PageRequest, Policy, PromotionAct,
    PromotionFilter, PromotionPolicy, PromotionPolicyRecord, PromotionRequest, Protection, ProtectionRecord,
    Registered, Resolved, Result, RollbackBinding, Scope, SetBindings, Store, Subject, Token, TokenEntry,
    UploadSession, VersionKey, VersionStatus, VersionUpdate, WriteContext, gates::GateResult,
};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tracing::Instrument;

use crate::error::{StoreError, StoreResult};
pub use crate::feed::{PgFeed, PgFeedConnection};
pub use crate::migrate::migrate;
pub use crate::snapshots::{MAX_BEHIND as SNAPSHOT_MAX_BEHIND, SnapshotPolicy, StoredSnapshot};
pub use tls::{SslSettings, Verify};

/// A parsed connection string: tokio-postgres's settings (reachable through `Deref`) and the TLS
/// connector its `sslmode`/`sslrootcert` call for (see `tls.rs`).
#[derive(Clone)]
pub struct PgConfig {
    pg: tokio_postgres::Config,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
    pub ssl: SslSettings,
}

impl std::ops::Deref for PgConfig {
    type Target = tokio_postgres::Config;
    fn deref(&self) -> &Self::Target {
        &self.pg
    }
}

impl std::ops::DerefMut for PgConfig {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.pg
    }
}

impl std::fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConfig")
            .field("host", &self.pg.get_hosts())
            .field("dbname", &self.pg.get_dbname())
            .field("ssl", &self.ssl)
            .finish_non_exhaustive()
    }
}

/// Connection settings for the store's pool.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    pub max_size: usize,
    /// How long a call waits for a free connection, or for a new one to connect.
    pub timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self { max_size: 16, timeout: Duration::from_secs(5) }
    }
}

/// Parses a `postgres://` URL (or key=value string) and applies Bindery's connection defaults.
pub fn parse_config(url: &str, connect_timeout: Duration) -> Result<PgConfig> {
    let (rest, ssl) = tls::split_ssl(url)?;
    let mut pg: tokio_postgres::Config = rest.parse().map_err(|e| {
        Error::InvalidArgument(format!("database url is not a valid PostgreSQL connection string: {e}"))
    })?;
    pg.connect_timeout(connect_timeout);
    pg.ssl_mode(ssl.mode);
    if pg.get_application_name().is_none() {
        pg.application_name("bindery");
    }
    let tls = tls::connector(&ssl)?;
    Ok(PgConfig { pg, tls, ssl })
}

/// Opens a dedicated (unpooled) connection, e.g. for migrations or LISTEN.
pub async fn connect(config: &PgConfig) -> Result<tokio_postgres::Client> {
    let (client, connection) = config
        .pg
        .connect(config.tls.clone())
        .await
        .map_err(|e| StoreError::from(e).into_domain("connect"))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "dedicated database connection ended");
        }
    });
    Ok(client)
}

#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    /// Connections reads may hold at once: the rest of the pool stays free for writes (and the
    /// per-call token and grant lookups), however many large reads run.
    reads: std::sync::Arc<tokio::sync::Semaphore>,
    read_permits: usize,
    wait: Duration,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("pool", &self.pool.status()).finish()
    }
}

const MAX_ATTEMPTS: u32 = 3;

impl PgStore {
    /// Builds the pool. Connections are opened lazily, so this succeeds while the database is
    /// down; calls then fail with `Unavailable` until it is back.
    pub fn new(config: PgConfig, options: &PoolOptions) -> Result<Self> {
        let manager = Manager::from_config(
            config.pg,
            config.tls,
            ManagerConfig { recycling_method: RecyclingMethod::Fast },
        );
        let pool = Pool::builder(manager)
            .max_size(options.max_size)
            .wait_timeout(Some(options.timeout))
            .create_timeout(Some(options.timeout))
            .recycle_timeout(Some(options.timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| Error::Internal(format!("building the connection pool: {e}")))?;
        // A quarter of the pool (at least one connection) is kept from reads.
        let read_permits = options.max_size.saturating_sub((options.max_size / 4).max(1)).max(1);
        Ok(Self {
            pool,
            reads: std::sync::Arc::new(tokio::sync::Semaphore::new(read_permits)),
            read_permits,
            wait: options.timeout,
        })
    }

    /// Ready to serve: the database answers and its schema is the one this binary expects.
    pub async fn check_ready(&self) -> Result<()> {
        async {
            let client = self.pool.get().await?;
            migrate::check_schema(&client).await
        }
        .await
        .map_err(|e| e.into_domain("check_ready"))
    }

    /// Deletes change-log entries older than `retain`, always keeping the newest one. A reader
    /// that was behind the pruned part reloads a snapshot. Returns how many entries went.
    pub async fn prune_changes(&self, retain: Duration) -> Result<u64> {
        let seconds = retain.as_secs_f64();
        self.run("prune_changes", || async {
            let client = self.client().await?;
            let stmt = client.prepare_cached(write::PRUNE_CHANGES).await?;
            Ok(client.execute(&stmt, &[&seconds]).await?)
        })
        .await
    }

    /// `(max size, open connections, idle connections, callers waiting)` of the pool.
    pub fn pool_status(&self) -> (usize, usize, usize, usize) {
        let s = self.pool.status();
        (s.max_size, s.size, s.available, s.waiting)
    }

    async fn client(&self) -> StoreResult<deadpool_postgres::Object> {
        Ok(self.pool.get().await?)
    }

    /// Runs `op`, rerunning it when the database reports a serialization failure or deadlock
    /// (the failed attempt's transaction was rolled back, so rerunning is safe).
    /// [`PgStore::run`] for a read: within the read budget, so reads never take the whole pool.
    async fn read<T, F, Fut>(&self, name: &'static str, op: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = StoreResult<T>>,
    {
        let _permit = match tokio::time::timeout(self.wait, self.reads.acquire()).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) => return Err(Error::Internal("the read budget is closed".into())),
            Err(_) => {
                return Err(Error::Unavailable(format!(
                    "the registry is busy: {} database reads are running; retry shortly",
                    self.read_permits
                )));
            }
        };
        self.run(name, op).await
    }

    async fn run<T, F, Fut>(&self, name: &'static str, op: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = StoreResult<T>>,
    {
        // One span per store operation, named by it: a child of the call's span in traces.
        // Statements and their parameters are never recorded.
        let span = tracing::info_span!(
            "db",
            otel.name = name,
            otel.kind = "client",
            db.system = "postgresql",
            db.operation.name = name,
        );
        async {
            let mut attempt = 1;
            loop {
                match op().await {
                    Err(e) if e.is_retryable() && attempt < MAX_ATTEMPTS => {
                        tracing::debug!(op = name, attempt, "retrying after serialization failure");
                        tokio::time::sleep(Duration::from_millis(5 * u64::from(attempt))).await;
                        attempt += 1;
                    }
                    other => return other.map_err(|e| e.into_domain(name)),
                }
            }
        }
        .instrument(span)
        .await
    }
}

#[async_trait]
impl Store for PgStore {
    async fn create_model(&self, ctx: &WriteContext, model: NewModel) -> Result<Model> {
        self.run("create_model", || models::create(self, ctx, &model)).await
    }

    async fn get_model(&self, name: &ModelName) -> Result<Model> {
        self.read("get_model", || models::get(self, name)).await
    }

    async fn list_models(&self, page: PageRequest) -> Result<Page<Model>> {
        self.read("list_models", || models::list(self, &page)).await
    }

    async fn update_model(&self, ctx: &WriteContext, name: &ModelName, update: ModelUpdate) -> Result<Model> {
        self.run("update_model", || models::update(self, ctx, name, &update)).await
    }

    async fn delete_model(&self, ctx: &WriteContext, name: &ModelName) -> Result<u64> {
        self.run("delete_model", || models::delete(self, ctx, name)).await
    }

    async fn register_version(&self, ctx: &WriteContext, version: NewVersion) -> Result<Registered> {
        self.run("register_version", || versions::register(self, ctx, &version)).await
    }

    async fn get_version(&self, key: &VersionKey) -> Result<ModelVersion> {
        self.read("get_version", || versions::get(self, key)).await
    }

    async fn get_bound_version(&self, model: &ModelName, binding: &BindingName) -> Result<ModelVersion> {
        self.read("get_bound_version", || versions::get_bound(self, model, binding)).await
    }

    async fn find_registration(
        &self,
        model: &ModelName,
        request_id: &str,
    ) -> Result<Option<(ModelVersion, serde_json::Value)>> {
        self.run("find_registration", || versions::find_registration(self, model, request_id)).await
    }

    async fn list_versions(&self, model: &ModelName, page: PageRequest) -> Result<Page<ModelVersion>> {
        self.read("list_versions", || versions::list(self, model, &page)).await
    }

    async fn update_version(
        &self,
        ctx: &WriteContext,
        key: &VersionKey,
        update: VersionUpdate,
    ) -> Result<ModelVersion> {
        self.run("update_version", || versions::update(self, ctx, key, &update)).await
    }

    async fn archive_version(&self, ctx: &WriteContext, key: &VersionKey) -> Result<ModelVersion> {
        self.run("archive_version", || versions::set_status(self, ctx, key, VersionStatus::Archived)).await
    }

    async fn delete_version(&self, ctx: &WriteContext, key: &VersionKey) -> Result<u64> {
        let deleted = self
            .run("delete_version", || versions::set_status(self, ctx, key, VersionStatus::Deleted))
            .await?;
        Ok(deleted.revision)
    }

    async fn create_upload_session(&self, ctx: &WriteContext, session: &UploadSession) -> Result<()> {
        self.run("create_upload_session", || sessions::create(self, ctx, session)).await
    }

    async fn get_upload_session(&self, id: &str) -> Result<UploadSession> {
        self.read("get_upload_session", || sessions::get(self, id)).await
    }

    async fn expire_upload_sessions(&self, now: SystemTime) -> Result<Vec<UploadSession>> {
        self.run("expire_upload_sessions", || sessions::expire(self, now)).await
    }

    async fn artifact_references(&self, cutoff: SystemTime) -> Result<Vec<String>> {
        self.read("artifact_references", || sessions::references(self, cutoff)).await
    }

    async fn mark_garbage(
        &self,
        cutoff: SystemTime,
        candidates: &[ObjectLocation],
    ) -> Result<Vec<ObjectLocation>> {
        self.run("mark_garbage", || gc::mark(self, cutoff, candidates)).await
    }

    async fn record_collected(&self, ctx: &WriteContext, deleted: &[ObjectInfo]) -> Result<()> {
        self.run("record_collected", || gc::record_collected(self, ctx, deleted)).await
    }

    async fn set_bindings(&self, ctx: &WriteContext, req: SetBindings) -> Result<BindingsWrite> {
        self.run("set_bindings", || bindings::set(self, ctx, &req)).await
    }

    async fn delete_binding(&self, ctx: &WriteContext, req: DeleteBinding) -> Result<u64> {
        self.run("delete_binding", || bindings::delete(self, ctx, &req)).await
    }

    async fn rollback_binding(&self, ctx: &WriteContext, req: RollbackBinding) -> Result<BindingWrite> {
        self.run("rollback_binding", || bindings::rollback(self, ctx, &req)).await
    }

    async fn list_bindings(&self, model: &ModelName) -> Result<Vec<Binding>> {
        self.read("list_bindings", || bindings::list(self, model)).await
    }

    async fn binding_history(
        &self,
        model: &ModelName,
        binding: &BindingName,
        page: PageRequest,
    ) -> Result<Page<BindingHistoryEntry>> {
        self.read("binding_history", || bindings::history(self, model, binding, &page)).await
    }

    async fn resolve(&self, model: &ModelName, binding: &BindingName) -> Result<Resolved> {
        self.read("resolve", || bindings::resolve(self, model, binding)).await
    }

    async fn resolve_many(&self, keys: &[(ModelName, BindingName)]) -> Result<(Vec<Result<Resolved>>, u64)> {
        self.read("resolve_many", || bindings::resolve_many(self, keys)).await
    }

    async fn create_token(&self, ctx: &WriteContext, token: &NewToken) -> Result<(Token, u64)> {
        self.run("create_token", || access::create_token(self, ctx, token)).await
    }

    async fn list_tokens(
        &self,
        principal: Option<&str>,
        include_revoked: bool,
        page: PageRequest,
    ) -> Result<Page<Token>> {
        self.read("list_tokens", || access::list_tokens(self, principal, include_revoked, &page)).await
    }

    async fn revoke_token(&self, ctx: &WriteContext, id: &str) -> Result<u64> {
        self.run("revoke_token", || access::revoke_token(self, ctx, id)).await
    }

    async fn find_token(&self, hash: &str) -> Result<Option<TokenEntry>> {
        self.run("find_token", || access::find_token(self, hash)).await
    }

    async fn create_grant(&self, ctx: &WriteContext, grant: &Grant) -> Result<(GrantRecord, u64)> {
        self.run("create_grant", || access::create_grant(self, ctx, grant)).await
    }

    async fn delete_grant(&self, ctx: &WriteContext, grant: &Grant) -> Result<u64> {
        self.run("delete_grant", || access::delete_grant(self, ctx, grant)).await
    }

    async fn list_grants(&self, subject: Option<&Subject>, page: PageRequest) -> Result<Page<GrantRecord>> {
        self.read("list_grants", || access::list_grants(self, subject, &page)).await
    }

    async fn set_protection(
        &self,
        ctx: &WriteContext,
        protection: &Protection,
    ) -> Result<(ProtectionRecord, u64)> {
        self.run("set_protection", || access::set_protection(self, ctx, protection)).await
    }

    async fn list_protections(&self) -> Result<Vec<ProtectionRecord>> {
        self.read("list_protections", || access::list_protections(self)).await
    }

    async fn policy_for(&self, subjects: &[String]) -> Result<Policy> {
        self.run("policy_for", || access::policy_for(self, subjects)).await
    }

    async fn search_models(
        &self,
        search: &bindery_core::filter::Search,
        visibility: &bindery_core::Visibility,
        page: PageRequest,
    ) -> Result<Page<(Model, bindery_core::filter::Keyset)>> {
        self.read("search_models", || search::models(self, search, visibility, &page)).await
    }

    async fn search_versions(
        &self,
        search: &bindery_core::filter::Search,
        visibility: &bindery_core::Visibility,
        page: PageRequest,
    ) -> Result<Page<(ModelVersion, bindery_core::filter::Keyset)>> {
        self.read("search_versions", || search::versions(self, search, visibility, &page)).await
    }

    async fn set_promotion_policy(
        &self,
        ctx: &WriteContext,
        policy: &PromotionPolicy,
    ) -> Result<PromotionPolicyRecord> {
        self.run("set_promotion_policy", || promotions::set_policy(self, ctx, policy)).await
    }

    async fn delete_promotion_policy(
        &self,
        ctx: &WriteContext,
        binding: &BindingName,
        scope: &Scope,
    ) -> Result<()> {
        self.run("delete_promotion_policy", || promotions::delete_policy(self, ctx, binding, scope)).await
    }

    async fn list_promotion_policies(
        &self,
        binding: Option<&BindingName>,
    ) -> Result<Vec<PromotionPolicyRecord>> {
        self.read("list_promotion_policies", || promotions::list_policies(self, binding)).await
    }

    async fn set_card(&self, ctx: &WriteContext, edit: &CardEdit) -> Result<Option<Card>> {
        self.run("set_card", || annotations::set_card(self, ctx, edit)).await
    }

    async fn get_card(&self, of: &Annotated) -> Result<Option<Card>> {
        self.read("get_card", || annotations::get_card(self, of)).await
    }

    async fn card_history(&self, of: &Annotated, page: PageRequest) -> Result<Page<Card>> {
        self.read("card_history", || annotations::card_history(self, of, &page)).await
    }

    async fn add_annotation(&self, ctx: &WriteContext, new: &NewAnnotation) -> Result<Annotation> {
        self.run("add_annotation", || annotations::add(self, ctx, new)).await
    }

    async fn list_annotations(&self, of: &Annotated) -> Result<Vec<Annotation>> {
        self.read("list_annotations", || annotations::list(self, of)).await
    }

    async fn remove_annotation(&self, ctx: &WriteContext, of: &Annotated, id: u64) -> Result<()> {
        self.run("remove_annotation", || annotations::remove(self, ctx, of, id)).await
    }

    async fn promote(&self, ctx: &WriteContext, act: &PromotionAct) -> Result<PromotionRequest> {
        self.run("promote", || promotions::promote(self, ctx, act)).await
    }

    async fn evaluate_promotion(
        &self,
        model: &ModelName,
        binding: &BindingName,
        version: u64,
        requester: &str,
    ) -> Result<(Option<PromotionPolicy>, Vec<GateResult>)> {
        self.read("evaluate_promotion", || promotions::evaluate(self, model, binding, version, requester))
            .await
    }

    async fn get_promotion_request(&self, id: u64) -> Result<PromotionRequest> {
        self.read("get_promotion_request", || promotions::get(self, id)).await
    }

    async fn list_promotion_requests(
        &self,
        filter: &PromotionFilter,
        page: PageRequest,
    ) -> Result<Page<PromotionRequest>> {
        self.read("list_promotion_requests", || promotions::list(self, filter, &page)).await
    }

    async fn start_rollout(
        &self,
        ctx: &WriteContext,
        spec: &RolloutSpec,
        now: SystemTime,
    ) -> Result<Rollout> {
        self.run("start_rollout", || rollouts::start(self, ctx, spec, now)).await
    }

    async fn act_on_rollout(
        &self,
        ctx: &WriteContext,
        id: u64,
        act: RolloutAct,
        reason: &str,
        now: SystemTime,
    ) -> Result<Rollout> {
        self.run("act_on_rollout", || rollouts::act(self, ctx, id, act, reason, now)).await
    }

    async fn advance_rollouts(&self, ctx: &WriteContext, now: SystemTime) -> Result<Vec<Rollout>> {
        self.run("advance_rollouts", || rollouts::advance(self, ctx, now)).await
    }

    async fn get_rollout(&self, id: u64) -> Result<Rollout> {
        self.read("get_rollout", || rollouts::get(self, id)).await
    }

    async fn list_rollouts(&self, filter: &RolloutFilter, page: PageRequest) -> Result<Page<Rollout>> {
        self.read("list_rollouts", || rollouts::list(self, filter, &page)).await
    }

    async fn list_audit_events(&self, filter: &AuditFilter, page: PageRequest) -> Result<Page<AuditEvent>> {
        self.read("list_audit_events", || audit::list(self, filter, &page)).await
    }

    async fn audit_rows(&self, after: u64, limit: u32) -> Result<Vec<AuditEvent>> {
        self.read("audit_rows", || audit::rows_after(self, after, limit)).await
    }

    async fn create_webhook(&self, ctx: &WriteContext, new: &NewWebhook, now: SystemTime) -> Result<Webhook> {
        self.run("create_webhook", || webhooks::create(self, ctx, new, now)).await
    }

    async fn update_webhook(
        &self,
        ctx: &WriteContext,
        id: u64,
        update: &WebhookUpdate,
        now: SystemTime,
    ) -> Result<Webhook> {
        self.run("update_webhook", || webhooks::update(self, ctx, id, update, now)).await
    }

    async fn delete_webhook(&self, ctx: &WriteContext, id: u64) -> Result<()> {
        self.run("delete_webhook", || webhooks::delete(self, ctx, id)).await
    }

    async fn get_webhook(&self, id: u64) -> Result<Webhook> {
        self.read("get_webhook", || webhooks::get(self, id)).await
    }

    async fn list_webhooks(&self, page: PageRequest) -> Result<Page<Webhook>> {
        self.read("list_webhooks", || webhooks::list(self, &page)).await
    }

    async fn claim_webhooks(
        &self,
        worker: &str,
        now: SystemTime,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<Webhook>> {
        self.run("claim_webhooks", || webhooks::claim(self, worker, now, lease, limit)).await
    }

    async fn record_webhook_progress(&self, worker: &str, id: u64, progress: &Progress) -> Result<bool> {
        self.run("record_webhook_progress", || webhooks::progress(self, worker, id, progress)).await
    }

    async fn record_webhook_delivery(&self, id: u64, delivery: &Attempt) -> Result<u64> {
        self.run("record_webhook_delivery", || webhooks::record_delivery(self, id, delivery)).await
    }

    async fn list_webhook_deliveries(&self, id: u64, page: PageRequest) -> Result<Page<Delivery>> {
        self.read("list_webhook_deliveries", || webhooks::deliveries(self, id, &page)).await
    }

    async fn prune_webhook_deliveries(&self, before: SystemTime) -> Result<u64> {
        self.run("prune_webhook_deliveries", || webhooks::prune(self, before)).await
    }

    async fn revision(&self) -> Result<u64> {
        self.run("revision", || async {
            let client = self.client().await?;
            let row = client.query_one(write::SELECT_REVISION, &[]).await?;
            rows::u(row.try_get(0)?)
        })
        .await
    }
}

/// Creates the database `config` names if it does not exist yet (connecting to the server's
/// `postgres` database to do so). Returns whether it created it. Safe to race.
pub async fn create_database_if_missing(config: &PgConfig) -> Result<bool> {
    let name = config
        .get_dbname()
        .ok_or_else(|| Error::InvalidArgument("database url names no database".into()))?
        .to_owned();
    let mut maintenance = config.clone();
    maintenance.dbname("postgres");
    let client = connect(&maintenance).await?;
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await
        .map_err(|e| StoreError::from(e).into_domain("create_database"))?
        .is_some();
    if exists {
        return Ok(false);
    }
    let quoted = format!("\"{}\"", name.replace('"', "\"\""));
    match client.batch_execute(&format!("CREATE DATABASE {quoted}")).await {
        Ok(()) => Ok(true),
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE) => Ok(false),
        Err(e) => Err(StoreError::from(e).into_domain("create_database")),
    }
}
