//! A real S3-compatible server per test (`s3s-fs`, which checks SigV4 signatures, so a wrong or
//! expired presigned URL really fails), and a fixture that runs the artifacts suite against
//! either PostgreSQL + S3 or `bindery dev`'s local directory.

use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region, RequestChecksumCalculation};
use aws_sdk_s3::primitives::ByteStream;
use base64::Engine;
use bindery_artifacts::{Artifacts, GcReport, LocalStore};
use bindery_server::{ArtifactArgs, ArtifactStoreKind, Secret};
use sha2::{Digest, Sha256};

use crate::{Backend, TestRegistry};

const ACCESS_KEY: &str = "bindery-test";
const SECRET_KEY: &str = "bindery-test-secret";

fn s3s_fs_binary() -> anyhow::Result<PathBuf> {
    if let Ok(path) = std::env::var("BINDERY_TEST_S3S_FS") {
        return Ok(PathBuf::from(path));
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join("s3s-fs")).find(|c| c.is_file()))
        .unwrap_or_default();
    let in_cargo = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin/s3s-fs"));
    on_path.or(in_cargo.filter(|p| p.is_file())).context(
        "s3s-fs not found: install it with `cargo install --locked s3s-fs@0.14.1 --features binary` \
         (scripts/test.sh does) or set BINDERY_TEST_S3S_FS",
    )
}

fn temp_dir(what: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    std::env::temp_dir().join(format!(
        "bindery-{what}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

/// `s3s-fs` on 127.0.0.1 with its own data directory, killed and removed on drop.
pub struct TestS3 {
    pub endpoint: String,
    pub dir: PathBuf,
    child: Child,
}

impl TestS3 {
    pub async fn start() -> anyhow::Result<Self> {
        let binary = s3s_fs_binary()?;
        let dir = temp_dir("s3");
        std::fs::create_dir_all(&dir)?;
        let port = StdListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new(&binary)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut s3 = Self { endpoint: format!("http://127.0.0.1:{port}"), dir, child };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Ok(s3);
            }
            if let Some(status) = s3.child.try_wait()? {
                bail!("s3s-fs exited with {status} before listening on port {port}");
            }
            if Instant::now() > deadline {
                bail!("s3s-fs did not listen on port {port} within 15 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// s3s-fs serves each directory under its root as a bucket.
    pub fn create_bucket(&self, name: &str) -> anyhow::Result<()> {
        Ok(std::fs::create_dir_all(self.dir.join(name))?)
    }

    /// How a registry reaches this server.
    pub fn artifact_args(&self, bucket: &str) -> ArtifactArgs {
        ArtifactArgs {
            artifact_store: Some(ArtifactStoreKind::S3),
            s3_endpoint: Some(self.endpoint.clone()),
            s3_region: Some("us-east-1".into()),
            s3_force_path_style: true,
            s3_access_key_id: Some(ACCESS_KEY.into()),
            s3_secret_access_key: Some(Secret::new(SECRET_KEY)),
            artifact_bucket: Some(bucket.into()),
            gc_interval_secs: 0,
            ..ArtifactArgs::default()
        }
    }

    /// A plain SDK client, as a training job would use to put objects.
    pub fn client(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(Region::new("us-east-1"))
            .force_path_style(true)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test"))
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }
}

impl Drop for TestS3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A registry with artifacts on: PostgreSQL primary + reader against `s3s-fs`, or `bindery dev`
/// on its local directory. Objects are put the way a training job would (an SDK upload with a
/// SHA-256 checksum, or a plain file in the directory) and checked the same independent way.
pub struct ArtifactFixture {
    pub registry: TestRegistry,
    pub args: ArtifactArgs,
    /// The bucket holding the managed prefix (and the suite's other objects).
    pub bucket: String,
    s3: Option<TestS3>,
}

impl ArtifactFixture {
    pub async fn start(backend: Backend, tweak: impl FnOnce(&mut ArtifactArgs)) -> anyhow::Result<Self> {
        match backend {
            Backend::Postgres => {
                let s3 = TestS3::start().await?;
                s3.create_bucket("models")?;
                let mut args = s3.artifact_args("models");
                tweak(&mut args);
                let registry = TestRegistry::start_with(backend, Some(args.clone())).await?;
                Ok(Self { registry, args, bucket: "models".into(), s3: Some(s3) })
            }
            Backend::Sqlite => {
                let mut args = ArtifactArgs { gc_interval_secs: 0, ..ArtifactArgs::default() };
                tweak(&mut args);
                let registry = TestRegistry::start_with(backend, Some(args.clone())).await?;
                Ok(Self { registry, args, bucket: "dev".into(), s3: None })
            }
        }
    }

    fn local_root(&self) -> anyhow::Result<PathBuf> {
        match &self.registry {
            TestRegistry::Sqlite { dir, .. } => Ok(dir.join("artifacts")),
            TestRegistry::Postgres { .. } => bail!("not a local store"),
        }
    }

    /// Puts `bytes` at `key` of the bucket; with `checksum`, as an upload that sends its SHA-256
    /// (S3 then reports it on HeadObject).
    pub async fn put_object(&self, key: &str, bytes: &[u8], checksum: bool) -> anyhow::Result<()> {
        self.put_object_in(&self.bucket, key, bytes, checksum).await
    }

    /// [`ArtifactFixture::put_object`] into `bucket` (created if missing), which the registry may
    /// or may not be allowed to read.
    pub async fn put_object_in(
        &self,
        bucket: &str,
        key: &str,
        bytes: &[u8],
        checksum: bool,
    ) -> anyhow::Result<()> {
        match &self.s3 {
            Some(s3) => {
                s3.create_bucket(bucket)?;
                let mut put =
                    s3.client().put_object().bucket(bucket).key(key).body(ByteStream::from(bytes.to_vec()));
                if checksum {
                    let digest = Sha256::digest(bytes);
                    put = put.checksum_sha256(base64::engine::general_purpose::STANDARD.encode(digest));
                }
                put.send().await.with_context(|| format!("putting s3://{bucket}/{key}"))?;
            }
            None => {
                let path = self.local_root()?.join(bucket).join(key);
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(path, bytes)?;
            }
        }
        Ok(())
    }

    /// Deletes `key` from the bucket behind the registry's back.
    pub async fn delete_object(&self, key: &str) -> anyhow::Result<()> {
        match &self.s3 {
            Some(s3) => {
                s3.client().delete_object().bucket(&self.bucket).key(key).send().await?;
            }
            None => std::fs::remove_file(self.local_root()?.join(&self.bucket).join(key))?,
        }
        Ok(())
    }

    /// Whether `key` exists in `bucket`, asked of the store directly (not through the registry).
    pub async fn object_exists(&self, key: &str) -> anyhow::Result<bool> {
        match &self.s3 {
            Some(s3) => match s3.client().head_object().bucket(&self.bucket).key(key).send().await {
                Ok(_) => Ok(true),
                Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(false),
                Err(e) => Err(e.into()),
            },
            None => Ok(self.local_root()?.join(&self.bucket).join(key).is_file()),
        }
    }

    /// Multipart uploads the store holds open, read from its own files: s3s-fs keeps one
    /// `.upload-<id>.json` per upload in progress, the local store one directory.
    pub fn multipart_uploads_in_progress(&self) -> anyhow::Result<usize> {
        let (dir, is_upload): (PathBuf, fn(&str) -> bool) = match &self.s3 {
            Some(s3) => (s3.dir.clone(), |n| n.starts_with(".upload-") && n.ends_with(".json")),
            None => (self.local_root()?.join(".bindery-uploads"), |_| true),
        };
        let mut n = 0;
        for entry in std::fs::read_dir(dir)? {
            if entry?.file_name().to_str().is_some_and(is_upload) {
                n += 1;
            }
        }
        Ok(n)
    }

    /// One garbage-collection pass, as `bindery gc` (Postgres) or the dev process's loop runs it.
    pub async fn collect_garbage(&self, dry_run: bool) -> anyhow::Result<GcReport> {
        match &self.registry {
            TestRegistry::Postgres { primary, .. } => {
                let pg = bindery_store_postgres::parse_config(&primary.db.url, Duration::from_secs(5))?;
                let options =
                    bindery_store_postgres::PoolOptions { max_size: 2, timeout: Duration::from_secs(5) };
                let store = bindery_store_postgres::PgStore::new(pg, &options)?;
                let artifacts = self.args.build().await?;
                Ok(artifacts.collect_garbage(&store, dry_run).await?)
            }
            TestRegistry::Sqlite { dir, .. } => {
                // A second connection to the dev database (WAL allows it) and the same directory.
                let store = bindery_store_sqlite::SqliteStore::open(&dir.join("bindery.db"))?;
                let local = LocalStore::new(&self.local_root()?, "http://127.0.0.1:1")?;
                let artifacts =
                    Artifacts::new(Some(std::sync::Arc::new(local)), self.args.settings(Some("dev"))?);
                Ok(artifacts.collect_garbage(&store, dry_run).await?)
            }
        }
    }

    /// The database URL (Postgres) for `bindery gc`-style runs.
    pub fn database_url(&self) -> Option<&str> {
        self.registry.postgres().map(|db| db.url.as_str())
    }

    pub fn root(&self) -> Option<&Path> {
        self.s3.as_ref().map(|s| s.dir.as_path())
    }
}
