//! Object-storage configuration shared by `primary`, `reader`, `dev` and `gc`, and the periodic
//! upload-session expiry and garbage collection.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use bindery_artifacts::{ArtifactSettings, Artifacts, LocalStore, MIN_PART_SIZE, S3Config, S3Store};
use bindery_core::{AllowedLocations, ArtifactStore, ObjectLocation, Store};
use clap::{ArgAction, Args, ValueEnum};

/// A secret from a flag or the environment; `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ArtifactStoreKind {
    /// S3 or an S3-compatible server (MinIO, Ceph, R2, GCS interop).
    S3,
    /// A local directory served over HTTP (`bindery dev` only).
    Local,
    /// No object store: nothing is verified or presigned.
    None,
}

const MIB: u64 = 1024 * 1024;
/// S3 refuses presigned URLs valid for longer than 7 days.
const MAX_PRESIGN_SECS: u64 = 7 * 24 * 3_600;

/// Where artifacts live and how the registry treats them.
#[derive(Debug, Clone, Args)]
pub struct ArtifactArgs {
    /// Object store: `s3`, `local` (`bindery dev` only) or `none`. Default: `local` for `bindery
    /// dev`; otherwise `s3` when --artifact-bucket or --s3-endpoint is set, else `none`.
    #[arg(long, env = "BINDERY_ARTIFACT_STORE", value_enum)]
    pub artifact_store: Option<ArtifactStoreKind>,
    /// S3 endpoint URL for S3-compatible servers, e.g. `http://minio:9000`; unset for AWS.
    #[arg(long, env = "BINDERY_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// S3 region (default: from the AWS environment, else us-east-1).
    #[arg(long, env = "BINDERY_S3_REGION")]
    pub s3_region: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`), as most S3-compatible servers need.
    #[arg(long, env = "BINDERY_S3_FORCE_PATH_STYLE")]
    pub s3_force_path_style: bool,
    /// Static S3 credentials; unset uses the AWS chain (env, profile, web identity, IMDS).
    #[arg(long, env = "BINDERY_S3_ACCESS_KEY_ID")]
    pub s3_access_key_id: Option<String>,
    /// Never logged.
    #[arg(long, env = "BINDERY_S3_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub s3_secret_access_key: Option<Secret>,
    /// Bucket for upload sessions (the registry-managed prefix lives in it).
    #[arg(long, env = "BINDERY_ARTIFACT_BUCKET")]
    pub artifact_bucket: Option<String>,
    /// Where else artifacts may live, comma-separated: `s3://bucket` or `s3://bucket/prefix/`
    /// (`*`: anywhere). The registry verifies and presigns only there and in the managed
    /// bucket, so callers cannot point its credentials at anything else.
    #[arg(long, env = "BINDERY_ARTIFACT_ALLOWED", value_delimiter = ',')]
    pub artifact_allowed: Vec<String>,
    /// Registry-managed prefix in that bucket; garbage collection never deletes outside it.
    #[arg(long, env = "BINDERY_ARTIFACT_PREFIX", default_value = "bindery/")]
    pub artifact_prefix: String,
    /// Verify every registered artifact against the object store. With `false`, versions are
    /// recorded as declared with verified=false (for URIs the registry cannot reach).
    #[arg(long, env = "BINDERY_VERIFY_ARTIFACTS", default_value_t = true, action = ArgAction::Set)]
    pub verify_artifacts: bool,
    /// Upload files above this size in parts.
    #[arg(long, env = "BINDERY_MULTIPART_THRESHOLD_BYTES", default_value_t = 64 * MIB)]
    pub multipart_threshold_bytes: u64,
    /// Size of each part (at least 5 MiB; raised for files that would need over 10,000 parts).
    #[arg(long, env = "BINDERY_MULTIPART_PART_BYTES", default_value_t = 64 * MIB)]
    pub multipart_part_bytes: u64,
    /// Lifetime of upload URLs and of an upload session.
    #[arg(long, env = "BINDERY_UPLOAD_TTL_SECS", default_value_t = 3_600)]
    pub upload_ttl_secs: u64,
    /// Lifetime of presigned download URLs.
    #[arg(long, env = "BINDERY_DOWNLOAD_TTL_SECS", default_value_t = 900)]
    pub download_ttl_secs: u64,
    /// Objects of deleted versions and expired sessions are kept this long before collection.
    /// At least 60 s from the command line: S3's object times come from another clock.
    #[arg(long, env = "BINDERY_GC_GRACE_SECS", default_value_t = 24 * 3_600, value_parser = clap::value_parser!(u64).range(60..))]
    pub gc_grace_secs: u64,
    /// Seconds between garbage-collection passes on the primary; 0 turns them off.
    #[arg(long, env = "BINDERY_GC_INTERVAL_SECS", default_value_t = 3_600)]
    pub gc_interval_secs: u64,
}

impl Default for ArtifactArgs {
    fn default() -> Self {
        Self {
            artifact_store: None,
            s3_endpoint: None,
            s3_region: None,
            s3_force_path_style: false,
            s3_access_key_id: None,
            s3_secret_access_key: None,
            artifact_bucket: None,
            artifact_allowed: Vec::new(),
            artifact_prefix: "bindery/".into(),
            verify_artifacts: true,
            multipart_threshold_bytes: 64 * MIB,
            multipart_part_bytes: 64 * MIB,
            upload_ttl_secs: 3_600,
            download_ttl_secs: 900,
            gc_grace_secs: 24 * 3_600,
            gc_interval_secs: 3_600,
        }
    }
}

impl ArtifactArgs {
    /// The store kind in effect, given the role's default.
    pub fn kind(&self, dev: bool) -> ArtifactStoreKind {
        self.artifact_store.unwrap_or(if dev {
            ArtifactStoreKind::Local
        } else if self.artifact_bucket.is_some() || self.s3_endpoint.is_some() {
            ArtifactStoreKind::S3
        } else {
            ArtifactStoreKind::None
        })
    }

    pub fn validate(&self, dev: bool) -> anyhow::Result<()> {
        if self.kind(dev) == ArtifactStoreKind::Local && !dev {
            bail!("artifact_store: `local` is for `bindery dev` only; use s3 or none");
        }
        if self.multipart_part_bytes < MIN_PART_SIZE {
            bail!(
                "multipart_part_bytes must be at least 5 MiB (S3's minimum part), got {}",
                self.multipart_part_bytes
            );
        }
        for (key, secs) in
            [("upload_ttl_secs", self.upload_ttl_secs), ("download_ttl_secs", self.download_ttl_secs)]
        {
            if !(1..=MAX_PRESIGN_SECS).contains(&secs) {
                bail!("{key} must be between 1 and {MAX_PRESIGN_SECS} (7 days), got {secs}");
            }
        }
        if self.s3_access_key_id.is_some() != self.s3_secret_access_key.is_some() {
            bail!("s3_access_key_id and s3_secret_access_key must be set together");
        }
        if let Some(bucket) = &self.artifact_bucket {
            bindery_core::validate::artifact_uri("artifact_bucket", &format!("s3://{bucket}/x"))?;
        }
        let prefix = self.artifact_prefix.trim_matches('/');
        if self.artifact_bucket.is_some() && prefix.is_empty() {
            bail!("artifact_prefix must not be empty: garbage collection owns everything under it");
        }
        if prefix.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
            bail!("artifact_prefix {:?} has an empty, '.' or '..' segment", self.artifact_prefix);
        }
        AllowedLocations::parse(&self.artifact_allowed, None)?;
        Ok(())
    }

    /// The settings for a registry whose managed bucket defaults to `default_bucket` (`dev`'s
    /// local store), or an error naming a bad `--artifact-allowed` entry.
    pub fn settings(&self, default_bucket: Option<&str>) -> anyhow::Result<ArtifactSettings> {
        let bucket = self.artifact_bucket.as_deref().or(default_bucket);
        let managed =
            bucket.map(|b| ObjectLocation::new(b, format!("{}/", self.artifact_prefix.trim_matches('/'))));
        Ok(ArtifactSettings {
            verify: self.verify_artifacts,
            allowed: AllowedLocations::parse(&self.artifact_allowed, managed.as_ref())?,
            managed,
            multipart_threshold: self.multipart_threshold_bytes,
            part_size: self.multipart_part_bytes,
            upload_ttl: Duration::from_secs(self.upload_ttl_secs),
            download_ttl: Duration::from_secs(self.download_ttl_secs),
            gc_grace: Duration::from_secs(self.gc_grace_secs),
        })
    }

    pub fn s3_config(&self) -> S3Config {
        S3Config {
            endpoint: self.s3_endpoint.clone(),
            region: self.s3_region.clone(),
            force_path_style: self.s3_force_path_style,
            access_key_id: self.s3_access_key_id.clone(),
            secret_access_key: self.s3_secret_access_key.as_ref().map(|s| s.expose().to_owned()),
        }
    }

    /// The artifact service for a primary or reader (`none` or `s3`).
    pub async fn build(&self) -> anyhow::Result<Artifacts> {
        self.validate(false)?;
        match self.kind(false) {
            ArtifactStoreKind::S3 => {
                let store: Arc<dyn ArtifactStore> = Arc::new(S3Store::connect(&self.s3_config()).await?);
                Ok(Artifacts::new(Some(store), self.settings(None)?))
            }
            ArtifactStoreKind::Local | ArtifactStoreKind::None => Ok(self.without_store()?),
        }
    }

    /// No object store: no credentials to misuse, so no location is refused for that reason.
    fn without_store(&self) -> anyhow::Result<Artifacts> {
        let settings = ArtifactSettings { allowed: AllowedLocations::Any, ..self.settings(None)? };
        Ok(Artifacts::new(None, settings))
    }

    /// The artifact service for `bindery dev`: `local` (returned so it can be served) or `s3`.
    pub async fn build_dev(
        &self,
        dir: &Path,
        base_url: &str,
    ) -> anyhow::Result<(Artifacts, Option<Arc<LocalStore>>)> {
        self.validate(true)?;
        match self.kind(true) {
            ArtifactStoreKind::Local => {
                let local = Arc::new(
                    LocalStore::new(dir, base_url)
                        .with_context(|| format!("artifact directory {}", dir.display()))?,
                );
                let store: Arc<dyn ArtifactStore> = local.clone();
                Ok((Artifacts::new(Some(store), self.settings(Some("dev"))?), Some(local)))
            }
            ArtifactStoreKind::S3 => {
                let store: Arc<dyn ArtifactStore> = Arc::new(S3Store::connect(&self.s3_config()).await?);
                Ok((Artifacts::new(Some(store), self.settings(None)?), None))
            }
            ArtifactStoreKind::None => Ok((self.without_store()?, None)),
        }
    }

    pub fn gc_interval(&self) -> Option<Duration> {
        (self.gc_interval_secs > 0).then(|| Duration::from_secs(self.gc_interval_secs))
    }
}

/// Expires upload sessions and collects garbage every `interval` (nothing to do without a managed
/// prefix: no sessions, nothing the registry owns). Failures are logged and retried next time.
/// Starts once `schema_ready` completes (the primary migrates after it starts).
pub async fn gc_loop(
    artifacts: Arc<Artifacts>,
    store: Arc<dyn Store>,
    interval: Duration,
    schema_ready: impl Future<Output = ()>,
) {
    schema_ready.await;
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if artifacts.settings().managed.is_none() {
            continue;
        }
        match artifacts.collect_garbage(store.as_ref(), false).await {
            Ok(report)
                if !report.garbage.is_empty()
                    || report.expired_sessions > 0
                    || report.aborted_uploads > 0
                    || !report.failed.is_empty() =>
            {
                tracing::info!(
                    deleted = report.garbage.len(),
                    kept = report.kept,
                    expired_sessions = report.expired_sessions,
                    failed = report.failed.len(),
                    aborted_uploads = report.aborted_uploads,
                    "artifact garbage collection"
                );
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "artifact garbage collection failed; retrying next interval");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_and_settings_validated() {
        let args = ArtifactArgs {
            s3_access_key_id: Some("id".into()),
            s3_secret_access_key: Some(Secret::new("hunter2")),
            ..ArtifactArgs::default()
        };
        assert!(!format!("{args:?}").contains("hunter2"));
        assert!(args.validate(false).is_ok());
        assert_eq!(args.kind(false), ArtifactStoreKind::None);
        assert_eq!(args.kind(true), ArtifactStoreKind::Local);
        let small_parts = ArtifactArgs { multipart_part_bytes: 1024, ..ArtifactArgs::default() };
        assert!(small_parts.validate(false).is_err());
        let whole_bucket = ArtifactArgs {
            artifact_bucket: Some("b".into()),
            artifact_prefix: "/".into(),
            ..ArtifactArgs::default()
        };
        assert!(whole_bucket.validate(false).is_err());
        let managed = ArtifactArgs { artifact_bucket: Some("b".into()), ..ArtifactArgs::default() };
        assert_eq!(managed.settings(None).unwrap().managed, Some(ObjectLocation::new("b", "bindery/")));
    }
}

/// `bindery gc`: one garbage-collection pass against the primary's database and object store.
#[derive(Debug, Clone, Args)]
pub struct GcArgs {
    #[command(flatten)]
    pub database: crate::config::DatabaseArgs,
    #[command(flatten)]
    pub artifacts: ArtifactArgs,
    /// List what would be deleted; delete nothing and expire no session.
    #[arg(long)]
    pub dry_run: bool,
}

/// Runs one pass and returns the report to print.
pub async fn run_gc(args: &GcArgs) -> anyhow::Result<String> {
    let pg = args.database.pg_config()?;
    let options = bindery_store_postgres::PoolOptions { max_size: 2, timeout: args.database.timeout() };
    let store = bindery_store_postgres::PgStore::new(pg, &options)?;
    let artifacts = args.artifacts.build().await?;
    let report = artifacts.collect_garbage(&store, args.dry_run).await?;
    let verb = if args.dry_run { "would delete" } else { "deleted" };
    let mut out = format!(
        "{verb} {} object(s), kept {}, expired {} upload session(s), aborted {} orphaned upload(s) (grace {}s)",
        report.garbage.len(),
        report.kept,
        report.expired_sessions,
        report.aborted_uploads,
        args.artifacts.gc_grace_secs
    );
    for o in &report.garbage {
        out.push_str(&format!("\n  {}  {} bytes", o.location, o.size_bytes));
    }
    for (location, error) in &report.failed {
        out.push_str(&format!("\n  not deleted: {location}: {error}"));
    }
    Ok(out)
}
