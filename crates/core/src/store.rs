//! The store trait the gRPC services are written against.
//!
//! Contract every implementation keeps (the integration suite checks it):
//! - every write is atomic: all of its effects (rows, revision bump, change-log entry, audit row,
//!   notification) or none of them;
//! - every write that changes state bumps the global revision by exactly one, in commit order, and
//!   returns it; no-op writes (setting a binding to the version it already has, archiving an
//!   archived version) change nothing and return the current revision of the thing;
//! - version numbers are assigned per model from 1 without gaps or reuse;
//! - errors are [`crate::Error`] kinds; an unreachable backend is `Unavailable`.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use crate::{
    AuditEvent, AuditFilter, Binding, BindingHistoryEntry, BindingName, BindingWrite, BindingsWrite,
    DeleteBinding, Grant, GrantRecord, Model, ModelName, ModelUpdate, ModelVersion, NewModel, NewToken,
    NewVersion, ObjectInfo, ObjectLocation, Page, PageRequest, Policy, PromotionAct, PromotionFilter,
    PromotionPolicy, PromotionPolicyRecord, PromotionRequest, Protection, ProtectionRecord, Registered,
    Resolved, Result, RollbackBinding, Scope, SetBinding, SetBindings, Subject, Token, TokenEntry,
    UploadSession, VersionKey, VersionUpdate, WriteContext,
    annotation::{Annotated, Annotation, Card, CardEdit, NewAnnotation},
    gates::GateResult,
    webhook::{Attempt, Delivery, NewWebhook, Progress, Webhook, WebhookUpdate},
};

#[async_trait]
pub trait Store: Send + Sync + 'static {
    // Models
    async fn create_model(&self, ctx: &WriteContext, model: NewModel) -> Result<Model>;
    async fn get_model(&self, name: &ModelName) -> Result<Model>;
    async fn list_models(&self, page: PageRequest) -> Result<Page<Model>>;
    async fn update_model(&self, ctx: &WriteContext, name: &ModelName, update: ModelUpdate) -> Result<Model>;
    /// Soft delete; returns the revision. Fails while bindings point into the model.
    async fn delete_model(&self, ctx: &WriteContext, name: &ModelName) -> Result<u64>;

    /// Models matching a search (issue 14) that `visibility` lets the caller see, each with the
    /// keyset the next page continues after.
    async fn search_models(
        &self,
        search: &crate::filter::Search,
        visibility: &crate::Visibility,
        page: PageRequest,
    ) -> Result<Page<(Model, crate::filter::Keyset)>>;

    // Versions
    async fn register_version(&self, ctx: &WriteContext, version: NewVersion) -> Result<Registered>;
    async fn get_version(&self, key: &VersionKey) -> Result<ModelVersion>;
    /// The version `binding` of `model` points at (for a split, its first side), in one read.
    /// `NotFound` names the model when it does not exist, else the binding.
    async fn get_bound_version(&self, model: &ModelName, binding: &BindingName) -> Result<ModelVersion>;
    /// The version `request_id` registered on `model` and the request payload it was registered
    /// with, if any: a retry is answered from this without touching the object store.
    async fn find_registration(
        &self,
        model: &ModelName,
        request_id: &str,
    ) -> Result<Option<(ModelVersion, serde_json::Value)>>;
    /// Newest first.
    async fn list_versions(&self, model: &ModelName, page: PageRequest) -> Result<Page<ModelVersion>>;
    /// Versions matching a search, as [`Store::search_models`].
    async fn search_versions(
        &self,
        search: &crate::filter::Search,
        visibility: &crate::Visibility,
        page: PageRequest,
    ) -> Result<Page<(ModelVersion, crate::filter::Keyset)>>;
    async fn update_version(
        &self,
        ctx: &WriteContext,
        key: &VersionKey,
        update: VersionUpdate,
    ) -> Result<ModelVersion>;
    async fn archive_version(&self, ctx: &WriteContext, key: &VersionKey) -> Result<ModelVersion>;
    /// Soft delete (status DELETED, a no-op when already deleted); returns the revision. Fails
    /// while bindings point at the version. Its objects become garbage after the grace period.
    async fn delete_version(&self, ctx: &WriteContext, key: &VersionKey) -> Result<u64>;

    // Bindings
    /// One binding: [`Store::set_bindings`] with one entry.
    async fn set_binding(&self, ctx: &WriteContext, req: SetBinding) -> Result<BindingWrite> {
        let written = self.set_bindings(ctx, req.into()).await?;
        let revision = written.revision;
        written
            .bindings
            .into_iter()
            .next()
            .map(|binding| BindingWrite { binding, revision })
            .ok_or_else(|| crate::Error::Internal("set_binding produced no binding".into()))
    }
    /// Several bindings of one model at once: all or nothing, one revision.
    async fn set_bindings(&self, ctx: &WriteContext, req: SetBindings) -> Result<BindingsWrite>;
    /// Returns the revision of the delete.
    async fn delete_binding(&self, ctx: &WriteContext, req: DeleteBinding) -> Result<u64>;
    async fn rollback_binding(&self, ctx: &WriteContext, req: RollbackBinding) -> Result<BindingWrite>;
    async fn list_bindings(&self, model: &ModelName) -> Result<Vec<Binding>>;
    /// Newest change first.
    async fn binding_history(
        &self,
        model: &ModelName,
        binding: &BindingName,
        page: PageRequest,
    ) -> Result<Page<BindingHistoryEntry>>;

    /// Strongly consistent resolve, read straight from the store.
    async fn resolve(&self, model: &ModelName, binding: &BindingName) -> Result<Resolved>;
    /// Several resolves from one consistent state; returns each outcome and that state's revision.
    async fn resolve_many(&self, keys: &[(ModelName, BindingName)]) -> Result<(Vec<Result<Resolved>>, u64)>;

    /// The current global revision.
    async fn revision(&self) -> Result<u64>;

    // Upload sessions and artifact garbage collection (design.md §4). Sessions are not registry
    // state: they are audited but do not bump the revision. `register_version` with an
    // `upload_session_id` consumes its session in the same transaction.
    async fn create_upload_session(&self, ctx: &WriteContext, session: &UploadSession) -> Result<()>;
    async fn get_upload_session(&self, id: &str) -> Result<UploadSession>;
    /// Marks the open sessions that expired by `now` EXPIRED and returns them.
    async fn expire_upload_sessions(&self, now: SystemTime) -> Result<Vec<UploadSession>>;
    /// Artifact URIs that garbage collection must keep: versions not deleted, or deleted after
    /// `cutoff` (with their model or alone), and prefixes of unregistered sessions expiring
    /// after `cutoff`.
    async fn artifact_references(&self, cutoff: SystemTime) -> Result<Vec<String>>;
    /// Garbage collection, before deleting: of `candidates` (objects it found unreferenced and
    /// older than `cutoff`), those [`ArtifactReferences`](crate::ArtifactReferences) still finds unreferenced under the
    /// write lock are tombstoned and returned. Registering an artifact at or over a tombstone is
    /// then refused (checked under the same lock), so no version can land on bytes about to go.
    /// Tombstones older than [`TOMBSTONE_TTL`](crate::TOMBSTONE_TTL) are dropped.
    async fn mark_garbage(
        &self,
        cutoff: SystemTime,
        candidates: &[ObjectLocation],
    ) -> Result<Vec<ObjectLocation>>;
    /// One audit row per object garbage collection deleted.
    async fn record_collected(&self, ctx: &WriteContext, deleted: &[ObjectInfo]) -> Result<()>;

    // Who may do what (tokens, grants, protections). Each change bumps the revision and is a
    // change-log entry of kind `access`, so read nodes authenticate and authorize from memory.
    /// Stores the token's hash (never the secret); returns it and the revision.
    async fn create_token(&self, ctx: &WriteContext, token: &NewToken) -> Result<(Token, u64)>;
    /// Tokens by id; revoked ones only when asked.
    async fn list_tokens(
        &self,
        principal: Option<&str>,
        include_revoked: bool,
        page: PageRequest,
    ) -> Result<Page<Token>>;
    /// Revokes a token; `NotFound` when unknown, a no-op (the current revision) when revoked.
    async fn revoke_token(&self, ctx: &WriteContext, id: &str) -> Result<u64>;
    /// A live (not revoked) token, by the hash of its secret.
    async fn find_token(&self, hash: &str) -> Result<Option<TokenEntry>>;
    /// `AlreadyExists` when the same (subject, role, scope) is granted.
    async fn create_grant(&self, ctx: &WriteContext, grant: &Grant) -> Result<(GrantRecord, u64)>;
    /// `NotFound` when no such grant exists.
    async fn delete_grant(&self, ctx: &WriteContext, grant: &Grant) -> Result<u64>;
    /// Grants in creation order, optionally of one subject.
    async fn list_grants(&self, subject: Option<&Subject>, page: PageRequest) -> Result<Page<GrantRecord>>;
    /// Sets whether a binding name is protected at a scope; a no-op when already so.
    async fn set_protection(
        &self,
        ctx: &WriteContext,
        protection: &Protection,
    ) -> Result<(ProtectionRecord, u64)>;
    async fn list_protections(&self) -> Result<Vec<ProtectionRecord>>;
    /// The grants naming any of `subjects`, and every protection: what decides a caller's calls.
    async fn policy_for(&self, subjects: &[String]) -> Result<Policy>;

    // Promotion gates (issue 13; every decision is `crate::promotion`'s). Policies and requests
    // are audited but do not bump the revision (read nodes serve nothing of them); a request
    // that applies moves its binding as an ordinary binding write in the same transaction, and a
    // binding move of any kind supersedes the pending requests for that binding.
    /// Creates or replaces the policy of a binding name at a scope.
    async fn set_promotion_policy(
        &self,
        ctx: &WriteContext,
        policy: &PromotionPolicy,
    ) -> Result<PromotionPolicyRecord>;
    /// `NotFound` when there is none.
    async fn delete_promotion_policy(
        &self,
        ctx: &WriteContext,
        binding: &BindingName,
        scope: &Scope,
    ) -> Result<()>;
    /// Every policy, or those naming one binding, ordered by binding and scope.
    async fn list_promotion_policies(
        &self,
        binding: Option<&BindingName>,
    ) -> Result<Vec<PromotionPolicyRecord>>;
    /// Requests, approves, rejects or cancels a promotion as one write, under the model lock;
    /// returns the request as saved (APPLIED, with `applied_revision`, when this call moved the
    /// binding).
    async fn promote(&self, ctx: &WriteContext, act: &PromotionAct) -> Result<PromotionRequest>;
    /// The policy gating `binding` and its gate table for `version`, recording nothing.
    async fn evaluate_promotion(
        &self,
        model: &ModelName,
        binding: &BindingName,
        version: u64,
        requester: &str,
    ) -> Result<(Option<PromotionPolicy>, Vec<GateResult>)>;
    async fn get_promotion_request(&self, id: u64) -> Result<PromotionRequest>;
    /// Newest first.
    async fn list_promotion_requests(
        &self,
        filter: &PromotionFilter,
        page: PageRequest,
    ) -> Result<Page<PromotionRequest>>;

    // Model cards and annotations (issue 14; the rules are `crate::annotation`'s), on a model or
    // one version. Audited; no revision bump (read nodes serve nothing of them). A model that is
    // not live, or a version it does not have, is `NotFound`; a deleted version's are frozen.
    /// Writes the next edition under the model lock (nothing when the text is the card's
    /// already); returns the newest edition, if there is one.
    async fn set_card(&self, ctx: &WriteContext, edit: &CardEdit) -> Result<Option<Card>>;
    /// The newest edition (empty markdown: the card was cleared), if there is one.
    async fn get_card(&self, of: &Annotated) -> Result<Option<Card>>;
    /// Every edition, newest first.
    async fn card_history(&self, of: &Annotated, page: PageRequest) -> Result<Page<Card>>;
    async fn add_annotation(&self, ctx: &WriteContext, new: &NewAnnotation) -> Result<Annotation>;
    /// Oldest first (at most `annotation::MAX_ANNOTATIONS`).
    async fn list_annotations(&self, of: &Annotated) -> Result<Vec<Annotation>>;
    /// `NotFound` when the target has no such annotation.
    async fn remove_annotation(&self, ctx: &WriteContext, of: &Annotated, id: u64) -> Result<()>;

    // Progressive rollouts (issue 15; every decision is `crate::rollout`'s). Audited; no revision
    // bump of their own: each step, and an abort's restore, is an ordinary binding write.
    /// Starts a rollout of `spec` on a binding that exists and has no active rollout, and applies
    /// its first step in the same transaction (gate-checked; a failing gate refuses the start).
    async fn start_rollout(
        &self,
        ctx: &WriteContext,
        spec: &crate::rollout::RolloutSpec,
        now: SystemTime,
    ) -> Result<crate::rollout::Rollout>;
    /// Pauses, resumes or aborts a rollout; an abort moves the binding back to the starting
    /// target when the binding is still where the rollout left it.
    async fn act_on_rollout(
        &self,
        ctx: &WriteContext,
        id: u64,
        act: crate::rollout::RolloutAct,
        reason: &str,
        now: SystemTime,
    ) -> Result<crate::rollout::Rollout>;
    /// Runs every running rollout due at `now`, each in its own transaction under a row lock, so
    /// two primaries never advance the same rollout; returns the rollouts it changed.
    async fn advance_rollouts(
        &self,
        ctx: &WriteContext,
        now: SystemTime,
    ) -> Result<Vec<crate::rollout::Rollout>>;
    async fn get_rollout(&self, id: u64) -> Result<crate::rollout::Rollout>;
    /// Newest first.
    async fn list_rollouts(
        &self,
        filter: &crate::rollout::RolloutFilter,
        page: PageRequest,
    ) -> Result<Page<crate::rollout::Rollout>>;

    // The audit trail (hash-chained; see `audit.rs`).
    /// Newest first.
    async fn list_audit_events(&self, filter: &AuditFilter, page: PageRequest) -> Result<Page<AuditEvent>>;
    /// Up to `limit` rows with id above `after`, oldest first (for walking the chain).
    async fn audit_rows(&self, after: u64, limit: u32) -> Result<Vec<AuditEvent>>;

    // Webhook subscriptions (issue 16; the rules are `webhook.rs`'s). Creating, changing and
    // deleting one is audited without its secret; delivery bookkeeping is not audited.
    /// Starts the subscription's cursor at the newest audit row: it gets the events after it.
    async fn create_webhook(&self, ctx: &WriteContext, new: &NewWebhook, now: SystemTime) -> Result<Webhook>;
    async fn update_webhook(
        &self,
        ctx: &WriteContext,
        id: u64,
        update: &WebhookUpdate,
        now: SystemTime,
    ) -> Result<Webhook>;
    async fn delete_webhook(&self, ctx: &WriteContext, id: u64) -> Result<()>;
    async fn get_webhook(&self, id: u64) -> Result<Webhook>;
    /// Oldest first.
    async fn list_webhooks(&self, page: PageRequest) -> Result<Page<Webhook>>;
    /// Leases to `worker`, until `now + lease`, up to `limit` enabled subscriptions that are due
    /// at `now`, not leased by another worker, and have audit rows after their cursor. Two
    /// primaries never hold the same subscription, so each delivers in order.
    async fn claim_webhooks(
        &self,
        worker: &str,
        now: SystemTime,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<Webhook>>;
    /// Stores a subscription's new delivery state (and the attempt, if any) if `worker` still
    /// holds its lease; `false` when it does not (deleted, or the lease expired and was taken).
    async fn record_webhook_progress(&self, worker: &str, id: u64, progress: &Progress) -> Result<bool>;
    /// Appends an attempt outside the ordered stream (a redelivery or a test); returns its id.
    async fn record_webhook_delivery(&self, id: u64, delivery: &Attempt) -> Result<u64>;
    /// Newest first.
    async fn list_webhook_deliveries(&self, id: u64, page: PageRequest) -> Result<Page<Delivery>>;
    /// Deletes attempts recorded before `before`; returns how many.
    async fn prune_webhook_deliveries(&self, before: SystemTime) -> Result<u64>;
}
