//! The embedded store for `bindery dev`: SQLite (bundled, WAL), one file, no server.
//!
//! One dedicated thread owns the connection and runs every operation, so no blocking SQLite call
//! ever runs on the async runtime, and writes are naturally serialised (SQLite allows one writer
//! anyway). Committed changes are published, in commit order, to an in-process broadcast that
//! [`SqliteStore`]'s [`ChangeFeed`] serves — the same revision semantics as Postgres's
//! LISTEN/NOTIFY + `changes` table, so the reader's cache and apply loop are reused as they are.

mod access;
mod annotations;
mod audit;
mod bindings;
mod feed;
mod gc;
mod models;
mod ops;
mod promotions;
mod rollouts;
mod search;
mod sessions;
mod versions;
mod webhooks;

use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bindery_core::annotation::{Annotated, Annotation, Card, CardEdit, NewAnnotation};
use bindery_core::rollout::{Rollout, RolloutAct, RolloutFilter, RolloutSpec};
use bindery_core::webhook::{Attempt, Delivery, NewWebhook, Progress, Webhook, WebhookUpdate};
use bindery_core::{
    AuditEvent, AuditFilter, Binding, BindingHistoryEntry, BindingName, BindingWrite, BindingsWrite, Change,
    ChangeFeed, DeleteBinding, Error, FeedConnection, Grant, GrantRecord, Model, ModelName, ModelUpdate,
    ModelVersion, NewModel, NewToken, NewVersion, Notification, ObjectInfo, ObjectLocation, Page,
    PageRequest, Policy, PromotionAct, PromotionFilter, PromotionPolicy, PromotionPolicyRecord,
    PromotionRequest, Protection, ProtectionRecord, Registered, Resolved, Result, RollbackBinding, Scope,
    SetBindings, Snapshot, Store, Subject, Token, TokenEntry, UploadSession, VersionKey, VersionStatus,
    VersionUpdate, WriteContext, gates::GateResult,
};
use rusqlite::Connection;
use tokio::sync::{broadcast, oneshot};

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// Changes a slow feed subscriber may fall behind before it re-reads the log.
const FEED_BUFFER: usize = 65_536;

#[derive(Clone)]
pub struct SqliteStore {
    jobs: std_mpsc::Sender<Job>,
    changes: broadcast::Sender<Change>,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.path).finish()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`, migrates it, and starts the
    /// store's thread.
    pub fn open(path: &Path) -> Result<Self> {
        let mut conn = Connection::open(path)
            .map_err(|e| Error::Unavailable(format!("cannot open {}: {e}", path.display())))?;
        // WAL: readers never block the writer. synchronous=FULL: a write is acknowledged only
        // once it is durable, so a crash (even of the machine) never loses an acknowledged write.
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
        )
        .map_err(ops::sql)?;
        ops::migrate(&mut conn)?;
        let (jobs, queue) = std_mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("bindery-sqlite".into())
            .spawn(move || {
                while let Ok(job) = queue.recv() {
                    job(&mut conn);
                }
            })
            .map_err(|e| Error::Internal(format!("starting the store thread: {e}")))?;
        let (changes, _) = broadcast::channel(FEED_BUFFER);
        Ok(Self { jobs, changes, path: path.to_owned() })
    }

    /// Runs `op` on the store's thread.
    async fn call<T: Send + 'static>(
        &self,
        op: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Box::new(move |conn| {
                let _ = tx.send(op(conn));
            }))
            .map_err(|_| Error::Unavailable("the embedded store has stopped".into()))?;
        rx.await.map_err(|_| Error::Internal("the embedded store dropped a request".into()))?
    }

    /// Runs a write on the store's thread and publishes its change after commit — from that
    /// thread, so changes are published in commit order.
    async fn write<T: Send + 'static>(
        &self,
        op: impl FnOnce(&mut Connection) -> Result<(T, Option<Change>)> + Send + 'static,
    ) -> Result<T> {
        let changes = self.changes.clone();
        self.call(move |conn| {
            let (out, change) = op(conn)?;
            if let Some(change) = change {
                // No subscriber is fine: followers also poll and read the log.
                let _ = changes.send(change);
            }
            Ok(out)
        })
        .await
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_model(&self, ctx: &WriteContext, model: NewModel) -> Result<Model> {
        let ctx = ctx.clone();
        self.write(move |c| models::create_model(c, &ctx, &model).map(|(m, ch)| (m, Some(ch)))).await
    }

    async fn get_model(&self, name: &ModelName) -> Result<Model> {
        let name = name.clone();
        self.call(move |c| models::get_model(c, &name)).await
    }

    async fn list_models(&self, page: PageRequest) -> Result<Page<Model>> {
        self.call(move |c| models::list_models(c, &page)).await
    }

    async fn update_model(&self, ctx: &WriteContext, name: &ModelName, update: ModelUpdate) -> Result<Model> {
        let (ctx, name) = (ctx.clone(), name.clone());
        self.write(move |c| models::update_model(c, &ctx, &name, &update)).await
    }

    async fn delete_model(&self, ctx: &WriteContext, name: &ModelName) -> Result<u64> {
        let (ctx, name) = (ctx.clone(), name.clone());
        self.write(move |c| models::delete_model(c, &ctx, &name).map(|(r, ch)| (r, Some(ch)))).await
    }

    async fn register_version(&self, ctx: &WriteContext, version: NewVersion) -> Result<Registered> {
        let ctx = ctx.clone();
        self.write(move |c| versions::register_version(c, &ctx, &version)).await
    }

    async fn get_version(&self, key: &VersionKey) -> Result<ModelVersion> {
        let key = key.clone();
        self.call(move |c| versions::get_version(c, &key)).await
    }

    async fn get_bound_version(&self, model: &ModelName, binding: &BindingName) -> Result<ModelVersion> {
        let (model, binding) = (model.clone(), binding.clone());
        self.call(move |c| versions::get_bound_version(c, &model, &binding)).await
    }

    async fn find_registration(
        &self,
        model: &ModelName,
        request_id: &str,
    ) -> Result<Option<(ModelVersion, serde_json::Value)>> {
        let (model, request_id) = (model.clone(), request_id.to_owned());
        self.call(move |c| versions::find_registration(c, &model, &request_id)).await
    }

    async fn list_versions(&self, model: &ModelName, page: PageRequest) -> Result<Page<ModelVersion>> {
        let model = model.clone();
        self.call(move |c| versions::list_versions(c, &model, &page)).await
    }

    async fn update_version(
        &self,
        ctx: &WriteContext,
        key: &VersionKey,
        update: VersionUpdate,
    ) -> Result<ModelVersion> {
        let (ctx, key) = (ctx.clone(), key.clone());
        self.write(move |c| versions::update_version(c, &ctx, &key, &update)).await
    }

    async fn archive_version(&self, ctx: &WriteContext, key: &VersionKey) -> Result<ModelVersion> {
        let (ctx, key) = (ctx.clone(), key.clone());
        self.write(move |c| versions::set_version_status(c, &ctx, &key, VersionStatus::Archived)).await
    }

    async fn delete_version(&self, ctx: &WriteContext, key: &VersionKey) -> Result<u64> {
        let (ctx, key) = (ctx.clone(), key.clone());
        let deleted =
            self.write(move |c| versions::set_version_status(c, &ctx, &key, VersionStatus::Deleted)).await?;
        Ok(deleted.revision)
    }

    async fn create_upload_session(&self, ctx: &WriteContext, session: &UploadSession) -> Result<()> {
        let (ctx, session) = (ctx.clone(), session.clone());
        self.call(move |c| sessions::create(c, &ctx, &session)).await
    }

    async fn get_upload_session(&self, id: &str) -> Result<UploadSession> {
        let id = id.to_owned();
        self.call(move |c| sessions::get(c, &id)).await
    }

    async fn expire_upload_sessions(&self, now: SystemTime) -> Result<Vec<UploadSession>> {
        self.call(move |c| sessions::expire(c, now)).await
    }

    async fn artifact_references(&self, cutoff: SystemTime) -> Result<Vec<String>> {
        self.call(move |c| sessions::references(c, cutoff)).await
    }

    async fn mark_garbage(
        &self,
        cutoff: SystemTime,
        candidates: &[ObjectLocation],
    ) -> Result<Vec<ObjectLocation>> {
        let candidates = candidates.to_vec();
        self.call(move |c| gc::mark(c, cutoff, &candidates)).await
    }

    async fn record_collected(&self, ctx: &WriteContext, deleted: &[ObjectInfo]) -> Result<()> {
        let (ctx, deleted) = (ctx.clone(), deleted.to_vec());
        self.call(move |c| gc::record_collected(c, &ctx, &deleted)).await
    }

    async fn set_bindings(&self, ctx: &WriteContext, req: SetBindings) -> Result<BindingsWrite> {
        let ctx = ctx.clone();
        self.write(move |c| bindings::set_bindings(c, &ctx, &req)).await
    }

    async fn delete_binding(&self, ctx: &WriteContext, req: DeleteBinding) -> Result<u64> {
        let ctx = ctx.clone();
        self.write(move |c| bindings::delete_binding(c, &ctx, &req).map(|(r, ch)| (r, Some(ch)))).await
    }

    async fn rollback_binding(&self, ctx: &WriteContext, req: RollbackBinding) -> Result<BindingWrite> {
        let ctx = ctx.clone();
        self.write(move |c| bindings::rollback_binding(c, &ctx, &req).map(|(w, ch)| (w, Some(ch)))).await
    }

    async fn list_bindings(&self, model: &ModelName) -> Result<Vec<Binding>> {
        let model = model.clone();
        self.call(move |c| bindings::list_bindings(c, &model)).await
    }

    async fn binding_history(
        &self,
        model: &ModelName,
        binding: &BindingName,
        page: PageRequest,
    ) -> Result<Page<BindingHistoryEntry>> {
        let (model, binding) = (model.clone(), binding.clone());
        self.call(move |c| bindings::binding_history(c, &model, &binding, &page)).await
    }

    async fn resolve(&self, model: &ModelName, binding: &BindingName) -> Result<Resolved> {
        let (model, binding) = (model.clone(), binding.clone());
        self.call(move |c| bindings::resolve(c, &model, &binding)).await
    }

    async fn resolve_many(&self, keys: &[(ModelName, BindingName)]) -> Result<(Vec<Result<Resolved>>, u64)> {
        let keys = keys.to_vec();
        // One thread, one operation at a time: every lookup sees the same state.
        self.call(move |c| {
            let revision = bindings::revision(c)?;
            let results = keys.iter().map(|(m, b)| bindings::resolve(c, m, b)).collect();
            Ok((results, revision))
        })
        .await
    }

    async fn revision(&self) -> Result<u64> {
        self.call(|c| bindings::revision(c)).await
    }

    async fn create_token(&self, ctx: &WriteContext, token: &NewToken) -> Result<(Token, u64)> {
        let (ctx, token) = (ctx.clone(), token.clone());
        self.write(move |c| access::create_token(c, &ctx, &token)).await
    }

    async fn list_tokens(
        &self,
        principal: Option<&str>,
        include_revoked: bool,
        page: PageRequest,
    ) -> Result<Page<Token>> {
        let principal = principal.map(str::to_owned);
        self.call(move |c| access::list_tokens(c, principal.as_deref(), include_revoked, &page)).await
    }

    async fn revoke_token(&self, ctx: &WriteContext, id: &str) -> Result<u64> {
        let (ctx, id) = (ctx.clone(), id.to_owned());
        self.write(move |c| access::revoke_token(c, &ctx, &id)).await
    }

    async fn find_token(&self, hash: &str) -> Result<Option<TokenEntry>> {
        let hash = hash.to_owned();
        self.call(move |c| access::find_token(c, &hash)).await
    }

    async fn create_grant(&self, ctx: &WriteContext, grant: &Grant) -> Result<(GrantRecord, u64)> {
        let (ctx, grant) = (ctx.clone(), grant.clone());
        self.write(move |c| access::create_grant(c, &ctx, &grant)).await
    }

    async fn delete_grant(&self, ctx: &WriteContext, grant: &Grant) -> Result<u64> {
        let (ctx, grant) = (ctx.clone(), grant.clone());
        self.write(move |c| access::delete_grant(c, &ctx, &grant)).await
    }

    async fn list_grants(&self, subject: Option<&Subject>, page: PageRequest) -> Result<Page<GrantRecord>> {
        let subject = subject.cloned();
        self.call(move |c| access::list_grants(c, subject.as_ref(), &page)).await
    }

    async fn set_protection(
        &self,
        ctx: &WriteContext,
        protection: &Protection,
    ) -> Result<(ProtectionRecord, u64)> {
        let (ctx, protection) = (ctx.clone(), protection.clone());
        self.write(move |c| access::set_protection(c, &ctx, &protection)).await
    }

    async fn list_protections(&self) -> Result<Vec<ProtectionRecord>> {
        self.call(|c| access::list_protections(c)).await
    }

    async fn policy_for(&self, subjects: &[String]) -> Result<Policy> {
        let subjects = subjects.to_vec();
        self.call(move |c| access::policy_for(c, &subjects)).await
    }

    async fn search_models(
        &self,
        search: &bindery_core::filter::Search,
        visibility: &bindery_core::Visibility,
        page: PageRequest,
    ) -> Result<Page<(Model, bindery_core::filter::Keyset)>> {
        let (search, visibility) = (search.clone(), visibility.clone());
        self.call(move |c| search::models(c, &search, &visibility, &page)).await
    }

    async fn search_versions(
        &self,
        search: &bindery_core::filter::Search,
        visibility: &bindery_core::Visibility,
        page: PageRequest,
    ) -> Result<Page<(ModelVersion, bindery_core::filter::Keyset)>> {
        let (search, visibility) = (search.clone(), visibility.clone());
        self.call(move |c| search::versions(c, &search, &visibility, &page)).await
    }

    async fn set_card(&self, ctx: &WriteContext, edit: &CardEdit) -> Result<Option<Card>> {
        let (ctx, edit) = (ctx.clone(), edit.clone());
        self.call(move |c| annotations::set_card(c, &ctx, &edit)).await
    }

    async fn get_card(&self, of: &Annotated) -> Result<Option<Card>> {
        let of = of.clone();
        self.call(move |c| annotations::get_card(c, &of)).await
    }

    async fn card_history(&self, of: &Annotated, page: PageRequest) -> Result<Page<Card>> {
        let of = of.clone();
        self.call(move |c| annotations::card_history(c, &of, &page)).await
    }

    async fn add_annotation(&self, ctx: &WriteContext, new: &NewAnnotation) -> Result<Annotation> {
        let (ctx, new) = (ctx.clone(), new.clone());
        self.call(move |c| annotations::add(c, &ctx, &new)).await
    }

    async fn list_annotations(&self, of: &Annotated) -> Result<Vec<Annotation>> {
        let of = of.clone();
        self.call(move |c| annotations::list(c, &of)).await
    }

    async fn remove_annotation(&self, ctx: &WriteContext, of: &Annotated, id: u64) -> Result<()> {
        let (ctx, of) = (ctx.clone(), of.clone());
        self.call(move |c| annotations::remove(c, &ctx, &of, id)).await
    }

    async fn set_promotion_policy(
        &self,
        ctx: &WriteContext,
        policy: &PromotionPolicy,
    ) -> Result<PromotionPolicyRecord> {
        let (ctx, policy) = (ctx.clone(), policy.clone());
        self.call(move |c| promotions::set_policy(c, &ctx, &policy)).await
    }

    async fn delete_promotion_policy(
        &self,
        ctx: &WriteContext,
        binding: &BindingName,
        scope: &Scope,
    ) -> Result<()> {
        let (ctx, binding, scope) = (ctx.clone(), binding.clone(), scope.clone());
        self.call(move |c| promotions::delete_policy(c, &ctx, &binding, &scope)).await
    }

    async fn list_promotion_policies(
        &self,
        binding: Option<&BindingName>,
    ) -> Result<Vec<PromotionPolicyRecord>> {
        let binding = binding.cloned();
        self.call(move |c| promotions::list_policies(c, binding.as_ref())).await
    }

    async fn start_rollout(
        &self,
        ctx: &WriteContext,
        spec: &RolloutSpec,
        now: SystemTime,
    ) -> Result<Rollout> {
        let (ctx, spec) = (ctx.clone(), spec.clone());
        self.write(move |c| rollouts::start(c, &ctx, &spec, now)).await
    }

    async fn act_on_rollout(
        &self,
        ctx: &WriteContext,
        id: u64,
        act: RolloutAct,
        reason: &str,
        now: SystemTime,
    ) -> Result<Rollout> {
        let (ctx, reason) = (ctx.clone(), reason.to_owned());
        self.write(move |c| rollouts::act(c, &ctx, id, act, &reason, now)).await
    }

    async fn advance_rollouts(&self, ctx: &WriteContext, now: SystemTime) -> Result<Vec<Rollout>> {
        let mut changed = Vec::new();
        // One rollout per transaction, as on PostgreSQL; at most 100 per call.
        for _ in 0..100 {
            let ctx = ctx.clone();
            match self.write(move |c| rollouts::advance_one(c, &ctx, now)).await? {
                Some(r) => changed.push(r),
                None => break,
            }
        }
        Ok(changed)
    }

    async fn get_rollout(&self, id: u64) -> Result<Rollout> {
        self.call(move |c| rollouts::get(c, id)).await
    }

    async fn list_rollouts(&self, filter: &RolloutFilter, page: PageRequest) -> Result<Page<Rollout>> {
        let filter = filter.clone();
        self.call(move |c| rollouts::list(c, &filter, &page)).await
    }

    async fn promote(&self, ctx: &WriteContext, act: &PromotionAct) -> Result<PromotionRequest> {
        let (ctx, act) = (ctx.clone(), act.clone());
        self.write(move |c| promotions::promote(c, &ctx, &act)).await
    }

    async fn evaluate_promotion(
        &self,
        model: &ModelName,
        binding: &BindingName,
        version: u64,
        requester: &str,
    ) -> Result<(Option<PromotionPolicy>, Vec<GateResult>)> {
        let (model, binding, requester) = (model.clone(), binding.clone(), requester.to_owned());
        self.call(move |c| promotions::evaluate(c, &model, &binding, version, &requester)).await
    }

    async fn get_promotion_request(&self, id: u64) -> Result<PromotionRequest> {
        self.call(move |c| promotions::get(c, id)).await
    }

    async fn list_promotion_requests(
        &self,
        filter: &PromotionFilter,
        page: PageRequest,
    ) -> Result<Page<PromotionRequest>> {
        let filter = filter.clone();
        self.call(move |c| promotions::list(c, &filter, &page)).await
    }

    async fn list_audit_events(&self, filter: &AuditFilter, page: PageRequest) -> Result<Page<AuditEvent>> {
        let filter = filter.clone();
        self.call(move |c| audit::list(c, &filter, &page)).await
    }

    async fn audit_rows(&self, after: u64, limit: u32) -> Result<Vec<AuditEvent>> {
        self.call(move |c| audit::rows_after(c, after, limit)).await
    }

    async fn create_webhook(&self, ctx: &WriteContext, new: &NewWebhook, now: SystemTime) -> Result<Webhook> {
        let (ctx, new) = (ctx.clone(), new.clone());
        self.call(move |c| webhooks::create(c, &ctx, &new, now)).await
    }

    async fn update_webhook(
        &self,
        ctx: &WriteContext,
        id: u64,
        update: &WebhookUpdate,
        now: SystemTime,
    ) -> Result<Webhook> {
        let (ctx, update) = (ctx.clone(), update.clone());
        self.call(move |c| webhooks::update(c, &ctx, id, &update, now)).await
    }

    async fn delete_webhook(&self, ctx: &WriteContext, id: u64) -> Result<()> {
        let ctx = ctx.clone();
        self.call(move |c| webhooks::delete(c, &ctx, id)).await
    }

    async fn get_webhook(&self, id: u64) -> Result<Webhook> {
        self.call(move |c| webhooks::get(c, id)).await
    }

    async fn list_webhooks(&self, page: PageRequest) -> Result<Page<Webhook>> {
        self.call(move |c| webhooks::list(c, &page)).await
    }

    async fn claim_webhooks(
        &self,
        worker: &str,
        now: SystemTime,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<Webhook>> {
        let worker = worker.to_owned();
        self.call(move |c| webhooks::claim(c, &worker, now, lease, limit)).await
    }

    async fn record_webhook_progress(&self, worker: &str, id: u64, progress: &Progress) -> Result<bool> {
        let (worker, progress) = (worker.to_owned(), progress.clone());
        self.call(move |c| webhooks::progress(c, &worker, id, &progress)).await
    }

    async fn record_webhook_delivery(&self, id: u64, delivery: &Attempt) -> Result<u64> {
        let delivery = delivery.clone();
        self.call(move |c| webhooks::record_delivery(c, id, &delivery)).await
    }

    async fn list_webhook_deliveries(&self, id: u64, page: PageRequest) -> Result<Page<Delivery>> {
        self.call(move |c| webhooks::deliveries(c, id, &page)).await
    }

    async fn prune_webhook_deliveries(&self, before: SystemTime) -> Result<u64> {
        self.call(move |c| webhooks::prune(c, before)).await
    }
}

/// A subscription to the store's committed changes.
pub struct SqliteFeedConnection {
    store: SqliteStore,
    changes: broadcast::Receiver<Change>,
}

#[async_trait]
impl ChangeFeed for SqliteStore {
    type Connection = SqliteFeedConnection;

    /// Subscribed when this returns, so a snapshot taken afterwards misses nothing.
    async fn connect(&self) -> Result<SqliteFeedConnection> {
        Ok(SqliteFeedConnection { store: self.clone(), changes: self.changes.subscribe() })
    }
}

#[async_trait]
impl FeedConnection for SqliteFeedConnection {
    async fn notification(&mut self) -> Result<Notification> {
        match self.changes.recv().await {
            Ok(change) => Ok(Notification::Change(change)),
            // Fell behind the buffer: announce the current revision; the follower reads the log.
            Err(broadcast::error::RecvError::Lagged(_)) => {
                Ok(Notification::Revision(self.store.revision().await?))
            }
            Err(broadcast::error::RecvError::Closed) => {
                Err(Error::Unavailable("the embedded store has stopped".into()))
            }
        }
    }

    async fn snapshot(&mut self) -> Result<Snapshot> {
        self.store.call(feed::snapshot).await
    }

    async fn changes_after(&mut self, after: u64, limit: u32) -> Result<Vec<Change>> {
        self.store.call(move |c| feed::changes_after(c, after, limit)).await
    }

    async fn revision(&mut self) -> Result<u64> {
        self.store.revision().await
    }
}
