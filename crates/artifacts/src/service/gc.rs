//! Garbage collection under the managed prefix (design.md §4): expiring upload sessions,
//! sweeping orphaned multipart uploads, and deleting unreferenced objects in two phases with
//! the registry (tombstone under its write lock, then delete, then audit).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bindery_core::{
    ArtifactReferences, ArtifactStore, Error, ObjectInfo, ObjectLocation, Result, Store, UploadSessionState,
    WriteContext, validate,
};

use super::Artifacts;

/// What a garbage-collection pass found (and, unless dry, deleted).
#[derive(Debug, Clone, Default)]
pub struct GcReport {
    pub garbage: Vec<ObjectInfo>,
    /// Objects kept because a version or an open session references them, or they are younger
    /// than the grace period.
    pub kept: usize,
    /// Sessions that expired in this pass (their multipart uploads aborted).
    pub expired_sessions: usize,
    /// Objects whose deletion failed (tried again next pass), with why.
    pub failed: Vec<(ObjectLocation, String)>,
    /// Multipart uploads under the managed prefix that no open session owns, aborted.
    pub aborted_uploads: usize,
}

/// Multipart uploads one garbage-collection pass looks at for orphans.
const ORPHAN_SWEEP_LIMIT: usize = 1_000;

/// Aborts a multipart upload, trying three times (100 ms, then 400 ms apart).
async fn abort_with_retries(
    store: &dyn ArtifactStore,
    object: &ObjectLocation,
    upload_id: &str,
) -> Result<()> {
    let mut pause = Duration::from_millis(100);
    let mut last = None;
    for _ in 0..3 {
        match store.abort_multipart(object, upload_id).await {
            Ok(()) => return Ok(()),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(pause).await;
        pause *= 4;
    }
    Err(last.unwrap_or_else(|| Error::Internal("abort failed".into())))
}

/// The actor of garbage collection's audit rows.
pub const GC_ACTOR: &str = "bindery-gc";

/// Objects listed per round trip by garbage collection.
const GC_PAGE: usize = 1_000;

impl Artifacts {
    /// Expires open sessions past their lifetime and aborts their multipart uploads.
    pub async fn expire_sessions(&self, registry: &dyn Store) -> Result<usize> {
        let expired = registry.expire_upload_sessions(SystemTime::now()).await?;
        if let Some(store) = &self.store {
            for s in &expired {
                for f in &s.files {
                    if let Some(m) = &f.multipart {
                        // A failure here is not final: the orphan sweep finds the upload later.
                        let object = s.location.join(&f.path);
                        if let Err(e) = abort_with_retries(store.as_ref(), &object, &m.upload_id).await {
                            tracing::warn!(%object, error = %e, "could not abort an expired session's upload");
                        }
                    }
                }
            }
        }
        Ok(expired.len())
    }

    /// Deletes (or with `dry_run` only lists) the objects under the managed prefix that no
    /// version and no live session references and that are older than the grace period. Never
    /// touches anything outside the managed prefix.
    pub async fn collect_garbage(&self, registry: &dyn Store, dry_run: bool) -> Result<GcReport> {
        let (store, managed) = self.managed()?;
        let expired_sessions = if dry_run { 0 } else { self.expire_sessions(registry).await? };
        let aborted_uploads = if dry_run { 0 } else { self.sweep_orphaned_uploads(registry).await };
        let cutoff = SystemTime::now().checked_sub(self.settings.gc_grace).unwrap_or(SystemTime::UNIX_EPOCH);
        let references = ArtifactReferences::new(&registry.artifact_references(cutoff).await?);
        let ctx = WriteContext::new(GC_ACTOR);
        let mut report = GcReport { expired_sessions, aborted_uploads, ..GcReport::default() };
        let mut after: Option<String> = None;
        loop {
            let page = store.list(managed, after.as_deref(), GC_PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.location.key.clone());
            let full = page.len() >= GC_PAGE;
            let (candidates, kept): (Vec<ObjectInfo>, Vec<ObjectInfo>) = page.into_iter().partition(|o| {
                let young = o.last_modified.is_none_or(|t| t > cutoff);
                !references.cover(&o.location) && !young && managed.covers(&o.location)
            });
            report.kept += kept.len();
            if dry_run || candidates.is_empty() {
                report.garbage.extend(candidates);
            } else {
                self.delete_marked(registry, store, &ctx, cutoff, candidates, &mut report).await?;
            }
            if !full {
                break;
            }
        }
        Ok(report)
    }
    /// Aborts multipart uploads under the managed prefix that no open session owns and that
    /// started before the grace period: those of expired sessions whose abort failed, and those
    /// a crash left between starting the upload and recording its session. Best effort: a
    /// failure is logged and retried next pass.
    async fn sweep_orphaned_uploads(&self, registry: &dyn Store) -> usize {
        let Ok((store, managed)) = self.managed() else { return 0 };
        let cutoff = SystemTime::now().checked_sub(self.settings.gc_grace).unwrap_or(SystemTime::UNIX_EPOCH);
        let uploads = match store.list_multipart_uploads(managed, ORPHAN_SWEEP_LIMIT).await {
            Ok(u) => u,
            Err(e) => {
                tracing::warn!(prefix = %managed, error = %e, "could not list multipart uploads to sweep orphans");
                return 0;
            }
        };
        let mut aborted = 0;
        for upload in uploads {
            if upload.initiated.is_none_or(|t| t > cutoff) {
                continue;
            }
            // Keys are `<managed prefix><model>/<session id>/<path>`; the session id is the first
            // segment after the prefix that is a UUID (model names may hold '/').
            let session_id = upload.location.key[managed.key.len()..]
                .split('/')
                .find(|segment| validate::uuid("session", segment).is_ok());
            let owned = match session_id {
                Some(id) => match registry.get_upload_session(id).await {
                    Ok(session) => {
                        session.state == UploadSessionState::Open
                            && session.files.iter().any(|f| {
                                f.multipart.as_ref().is_some_and(|m| m.upload_id == upload.upload_id)
                            })
                    }
                    Err(Error::NotFound(_)) => false,
                    Err(e) => {
                        tracing::warn!(error = %e, "orphan sweep could not read an upload session");
                        continue;
                    }
                },
                None => false,
            };
            if owned {
                continue;
            }
            match abort_with_retries(store.as_ref(), &upload.location, &upload.upload_id).await {
                Ok(()) => {
                    tracing::info!(object = %upload.location, upload_id = %upload.upload_id, "aborted an orphaned multipart upload");
                    aborted += 1;
                }
                Err(e) => {
                    tracing::warn!(object = %upload.location, error = %e, "could not abort an orphaned upload");
                }
            }
        }
        aborted
    }

    /// Tombstones `candidates` that are still unreferenced under the registry's write lock
    /// (a registration that raced the listing keeps its object), deletes those, and audits each
    /// deletion. A failed deletion is reported and skipped; the next pass tries again.
    async fn delete_marked(
        &self,
        registry: &dyn Store,
        store: &Arc<dyn ArtifactStore>,
        ctx: &WriteContext,
        cutoff: SystemTime,
        candidates: Vec<ObjectInfo>,
        report: &mut GcReport,
    ) -> Result<()> {
        let locations: Vec<ObjectLocation> = candidates.iter().map(|o| o.location.clone()).collect();
        let marked: std::collections::HashSet<ObjectLocation> =
            registry.mark_garbage(cutoff, &locations).await?.into_iter().collect();
        let mut deleted = Vec::new();
        for object in candidates {
            if !marked.contains(&object.location) {
                report.kept += 1;
                continue;
            }
            match store.delete(&object.location).await {
                Ok(()) => deleted.push(object),
                Err(e) => {
                    tracing::warn!(object = %object.location, error = %e, "garbage collection could not delete");
                    report.failed.push((object.location, e.to_string()));
                }
            }
        }
        registry.record_collected(ctx, &deleted).await?;
        report.garbage.extend(deleted);
        Ok(())
    }
}
