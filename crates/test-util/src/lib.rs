//! Test helpers: every test gets its own freshly created database (dropped afterwards, even when
//! the test panics), servers listen on port 0, and a throwaway PostgreSQL cluster can be started
//! and stopped for tests that need the database to go away.

mod artifacts;
mod cluster;
mod pki;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use bindery_proto::v1::registry_service_client::RegistryServiceClient;
use bindery_proto::v1::resolver_service_client::ResolverServiceClient;
use bindery_proto::v1::{GetReaderStatusRequest, ReaderStatus};
use bindery_server::{ArtifactArgs, AuthArg, DatabaseUrl, DevConfig, PrimaryConfig, ReaderConfig};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::{Channel, ClientTlsConfig};

pub use artifacts::{ArtifactFixture, TestS3};
pub use cluster::TempCluster;
pub use pki::{CertName, TestPki};

/// A number no other call in this process returns.
fn unique_suffix() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Logs from servers under test, when `BINDERY_TEST_LOG` is set (an env-filter, e.g. `debug`).
pub fn init_test_logging() {
    if let Ok(filter) = std::env::var("BINDERY_TEST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_test_writer()
            .try_init();
    }
}

/// The server tests create their databases on.
pub fn server_url() -> String {
    std::env::var("BINDERY_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// `url` with its database name replaced by `db`.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let base = match base[after_scheme..].find('/') {
        Some(slash) => &base[..after_scheme + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

async fn admin_client(url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, connection) =
        tokio_postgres::connect(url, tokio_postgres::NoTls).await.with_context(|| {
            format!("connecting to the test server at {url}; is PostgreSQL running? (see README)")
        })?;
    tokio::spawn(connection);
    Ok(client)
}

/// A database created for one test and dropped when this value is dropped.
pub struct TestDb {
    pub name: String,
    pub url: String,
    server_url: String,
}

impl TestDb {
    /// Creates an empty database with a unique name on [`server_url`].
    pub async fn create() -> anyhow::Result<Self> {
        Self::create_on(&server_url()).await
    }

    pub async fn create_on(server: &str) -> anyhow::Result<Self> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let name = format!(
            "bindery_test_{}_{}_{}",
            std::process::id(),
            nanos,
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let admin = admin_client(server).await?;
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await
            .context("creating test database")?;
        Ok(Self { url: with_database(server, &name), name, server_url: server.to_owned() })
    }

    /// A database that already exists on [`server_url`] (e.g. one a benchmark kept); dropped
    /// like any other when this goes out of scope.
    pub fn existing(name: &str) -> Self {
        let server = server_url();
        Self { url: with_database(&server, name), name: name.to_owned(), server_url: server }
    }

    /// A client connected to this database, for asserting on rows directly.
    pub async fn client(&self) -> anyhow::Result<tokio_postgres::Client> {
        admin_client(&self.url).await
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (server, name) = (self.server_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime; use a thread with its own runtime.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            rt.block_on(async {
                let admin = admin_client(&server).await?;
                admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await?;
                anyhow::Ok(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("warning: could not drop test database {}", self.name);
        }
    }
}

/// A gRPC server running in this process on 127.0.0.1:0; aborted when dropped.
pub struct Served {
    pub addr: SocketAddr,
    /// How this harness's own channels (health checks, `channel()`) reach a TLS listener.
    pub tls: Option<ClientTlsConfig>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl Served {
    /// Binds 127.0.0.1:0 and runs `serve(listener, shutdown)` in a task.
    pub async fn spawn<F, Fut>(serve: F) -> anyhow::Result<Self>
    where
        F: FnOnce(tokio::net::TcpListener, SocketAddr, oneshot::Receiver<()>) -> Fut,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        init_test_logging();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, addr, stopped));
        Ok(Self { addr, tls: None, stop: Some(stop), task: Some(task) })
    }

    pub fn endpoint(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    pub async fn channel(&self) -> anyhow::Result<Channel> {
        self.channel_with(self.tls.clone()).await
    }

    /// A channel with its own TLS settings (another client certificate, or none).
    pub async fn channel_with(&self, tls: Option<ClientTlsConfig>) -> anyhow::Result<Channel> {
        let scheme = if tls.is_some() { "https" } else { "http" };
        let mut endpoint = Channel::from_shared(format!("{scheme}://{}", self.addr))?;
        if let Some(tls) = tls {
            endpoint = endpoint.tls_config(tls)?;
        }
        Ok(endpoint.connect().await?)
    }

    pub async fn resolver(&self) -> anyhow::Result<ResolverServiceClient<Channel>> {
        Ok(ResolverServiceClient::new(self.channel().await?))
    }

    /// The health status of `service` ("" for the whole server).
    pub async fn health(&self, service: &str) -> anyhow::Result<i32> {
        let mut client = tonic_health::pb::health_client::HealthClient::new(self.channel().await?);
        let reply =
            client.check(tonic_health::pb::HealthCheckRequest { service: service.to_owned() }).await?;
        Ok(reply.into_inner().status)
    }

    /// Waits until health reports SERVING.
    pub async fn wait_serving(&self, timeout: Duration) -> anyhow::Result<()> {
        self.wait_health(tonic_health::pb::health_check_response::ServingStatus::Serving, timeout).await
    }

    pub async fn wait_health(
        &self,
        want: tonic_health::pb::health_check_response::ServingStatus,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(status) = self.health("").await
                && status == want as i32
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("server at {} did not become {want:?} within {timeout:?}", self.addr);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `GetReaderStatus` of a server with a read side (a reader, or `bindery dev`).
    pub async fn status(&self) -> anyhow::Result<ReaderStatus> {
        Ok(self.resolver().await?.get_reader_status(GetReaderStatusRequest {}).await?.into_inner())
    }

    /// Waits until the read side has applied `revision`.
    pub async fn wait_revision(&self, revision: u64, timeout: Duration) -> anyhow::Result<ReaderStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            let status = self.status().await?;
            if status.applied_revision >= revision {
                return Ok(status);
            }
            if Instant::now() > deadline {
                bail!(
                    "read side {} stuck at revision {} (wanted {revision}): {status:?}",
                    self.addr,
                    status.applied_revision
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await??;
        }
        Ok(())
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Webhook delivery as the suites run it: receivers on 127.0.0.1 allowed (the tests' own), and
/// retries, leases and polling fast enough for a test to watch them.
pub fn test_webhooks() -> bindery_server::config::WebhookArgs {
    bindery_server::config::WebhookArgs {
        webhook_allowed_hosts: "127.0.0.1".into(),
        webhook_retry_base_ms: 100,
        webhook_retry_max_ms: 400,
        webhook_lease_ms: 3_000,
        webhook_poll_ms: 50,
        ..bindery_server::config::WebhookArgs::default()
    }
}

/// A primary serving a [`TestDb`] on 127.0.0.1:0, stopped when dropped.
pub struct TestPrimary {
    pub server: Served,
    pub addr: SocketAddr,
    pub db: TestDb,
}

impl std::ops::Deref for TestPrimary {
    type Target = Served;
    fn deref(&self) -> &Served {
        &self.server
    }
}

impl TestPrimary {
    /// Fresh database, primary started, migrated and SERVING.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(TestDb::create().await?, |_| {}).await
    }

    /// Starts a primary on `db` after `tweak` adjusts its config.
    pub async fn start_with(db: TestDb, tweak: impl FnOnce(&mut PrimaryConfig)) -> anyhow::Result<Self> {
        Self::start_tls(db, None, tweak).await
    }

    /// [`TestPrimary::start_with`], this harness reaching it with `tls` (when `tweak` turns TLS
    /// on).
    pub async fn start_tls(
        db: TestDb,
        tls: Option<ClientTlsConfig>,
        tweak: impl FnOnce(&mut PrimaryConfig),
    ) -> anyhow::Result<Self> {
        let url = db.url.clone();
        let mut server = Served::spawn(move |listener, addr, stopped| {
            let mut config = PrimaryConfig::new(addr, DatabaseUrl::new(url));
            config.pool_size = 32;
            config.readiness_interval_ms = 200;
            config.database.database_timeout_secs = 2;
            // The behaviour suite registers made-up s3:// URIs; the artifacts suite verifies.
            config.artifacts.verify_artifacts = false;
            // Most suites test registry behaviour, not access; the access suite turns it on.
            config.auth = AuthArg::None;
            config.webhooks = test_webhooks();
            tweak(&mut config);
            bindery_server::serve_primary(listener, config, async {
                let _ = stopped.await;
            })
        })
        .await?;
        server.tls = tls;
        let primary = Self { addr: server.addr, server, db };
        primary.wait_serving(Duration::from_secs(30)).await?;
        Ok(primary)
    }

    pub async fn registry(&self) -> anyhow::Result<RegistryServiceClient<Channel>> {
        Ok(RegistryServiceClient::new(self.channel().await?))
    }

    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.server.stop().await
    }
}

/// A read node following the database at `url`, on 127.0.0.1:0.
pub struct TestReader {
    pub server: Served,
}

impl std::ops::Deref for TestReader {
    type Target = Served;
    fn deref(&self) -> &Served {
        &self.server
    }
}

impl TestReader {
    /// Starts a reader (polling every 200 ms) and waits until it is SERVING.
    pub async fn start(url: &str) -> anyhow::Result<Self> {
        Self::start_with(url, |_| {}).await
    }

    pub async fn start_with(url: &str, tweak: impl FnOnce(&mut ReaderConfig)) -> anyhow::Result<Self> {
        Self::start_tls(url, None, tweak).await
    }

    /// [`TestReader::start_with`], this harness reaching it with `tls`.
    pub async fn start_tls(
        url: &str,
        tls: Option<ClientTlsConfig>,
        tweak: impl FnOnce(&mut ReaderConfig),
    ) -> anyhow::Result<Self> {
        let mut reader = Self::spawn(url, tweak).await?;
        reader.server.tls = tls;
        reader.wait_serving(Duration::from_secs(30)).await?;
        Ok(reader)
    }

    /// Starts a reader without waiting for it to be ready.
    pub async fn spawn(url: &str, tweak: impl FnOnce(&mut ReaderConfig)) -> anyhow::Result<Self> {
        let url = url.to_owned();
        let server = Served::spawn(move |listener, addr, stopped| {
            let mut config = ReaderConfig::new(addr, DatabaseUrl::new(url));
            config.poll_interval_ms = 200;
            config.database.database_timeout_secs = 2;
            config.auth = AuthArg::None;
            tweak(&mut config);
            bindery_server::serve_reader(listener, config, async {
                let _ = stopped.await;
            })
        })
        .await?;
        Ok(Self { server })
    }
}

/// A fresh directory for a `bindery dev` under test.
fn dev_dir() -> PathBuf {
    std::env::temp_dir().join(format!("bindery-dev-test-{}-{}", std::process::id(), unique_suffix()))
}

/// How a secured test registry is reached: TLS on its listeners and how this harness connects.
#[derive(Clone, Default)]
pub struct Transport {
    pub server: bindery_server::TlsArgs,
    pub client: Option<ClientTlsConfig>,
}

/// The stores the behaviour suite runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `bindery primary` on a fresh PostgreSQL database.
    Postgres,
    /// `bindery dev` on a fresh embedded SQLite file.
    Sqlite,
}

/// A registry (write and read side) on either store, for the shared behaviour suite. On
/// Postgres that is a primary plus a read node (`resolver()` talks to the read node); on SQLite,
/// `bindery dev` (one process, reads answered by its in-process cache).
#[allow(clippy::large_enum_variant)] // one per test; boxing would only add noise
pub enum TestRegistry {
    Postgres { primary: TestPrimary, reader: TestReader },
    Sqlite { server: Served, dir: PathBuf },
}

impl std::ops::Deref for TestRegistry {
    type Target = Served;
    /// The write side.
    fn deref(&self) -> &Served {
        match self {
            Self::Postgres { primary, .. } => &primary.server,
            Self::Sqlite { server, .. } => server,
        }
    }
}

impl TestRegistry {
    /// A registry that records artifacts as declared (no object store).
    pub async fn start(backend: Backend) -> anyhow::Result<Self> {
        Self::start_with(backend, None).await
    }

    /// A registry whose primary, reader or dev process use `artifacts` (`None`: unverified).
    pub async fn start_with(backend: Backend, artifacts: Option<ArtifactArgs>) -> anyhow::Result<Self> {
        let unverified = ArtifactArgs { verify_artifacts: false, ..ArtifactArgs::default() };
        let artifacts = artifacts.unwrap_or(unverified);
        match backend {
            Backend::Postgres => {
                let for_primary = artifacts.clone();
                let primary =
                    TestPrimary::start_with(TestDb::create().await?, move |c| c.artifacts = for_primary)
                        .await?;
                let reader =
                    TestReader::start_with(&primary.db.url, move |c| c.artifacts = artifacts).await?;
                Ok(Self::Postgres { primary, reader })
            }
            Backend::Sqlite => {
                let dir = dev_dir();
                let server = Self::serve_dev(&dir, artifacts, None, Transport::default()).await?;
                Ok(Self::Sqlite { server, dir })
            }
        }
    }

    pub async fn registry(&self) -> anyhow::Result<RegistryServiceClient<Channel>> {
        Ok(RegistryServiceClient::new(self.channel().await?))
    }

    /// A registry that requires tokens (primary and reader, or `bindery dev --auth`), with a
    /// first admin bootstrapped as `bindery token create --bootstrap` does. Returns the admin's
    /// secret.
    pub async fn start_secured(backend: Backend) -> anyhow::Result<(Self, String)> {
        Self::start_secured_with(backend, bindery_server::config::JwtArgs::default()).await
    }

    /// [`TestRegistry::start_secured`], also accepting JWTs as `jwt` configures.
    pub async fn start_secured_with(
        backend: Backend,
        jwt: bindery_server::config::JwtArgs,
    ) -> anyhow::Result<(Self, String)> {
        Self::start_secured_over(backend, jwt, Transport::default()).await
    }

    /// [`TestRegistry::start_secured_with`], every listener secured as `transport` says.
    pub async fn start_secured_over(
        backend: Backend,
        jwt: bindery_server::config::JwtArgs,
        transport: Transport,
    ) -> anyhow::Result<(Self, String)> {
        let unverified = ArtifactArgs { verify_artifacts: false, ..ArtifactArgs::default() };
        match backend {
            Backend::Postgres => {
                let db = TestDb::create().await?;
                let database = bindery_server::config::DatabaseArgs {
                    database_url: DatabaseUrl::new(db.url.clone()),
                    database_timeout_secs: 5,
                    create_database: false,
                };
                bindery_server::migrate_database(&database).await?;
                let secret = {
                    let store = bindery_store_postgres::PgStore::new(
                        database.pg_config()?,
                        &bindery_store_postgres::PoolOptions::default(),
                    )?;
                    bindery_primary::bootstrap_admin(&store, "admin", "test bootstrap").await?.1
                };
                let url = db.url.clone();
                let (for_primary, tls_primary) = (jwt.clone(), transport.server.clone());
                let primary = TestPrimary::start_tls(db, transport.client.clone(), |c| {
                    c.auth = AuthArg::Tokens;
                    c.jwt = for_primary;
                    c.tls = tls_primary;
                })
                .await?;
                let reader = TestReader::start_tls(&url, transport.client, |c| {
                    c.auth = AuthArg::Tokens;
                    c.artifacts = unverified;
                    c.jwt = jwt;
                    c.tls = transport.server;
                })
                .await?;
                Ok((Self::Postgres { primary, reader }, secret))
            }
            Backend::Sqlite => {
                let dir = dev_dir();
                std::fs::create_dir_all(&dir)?;
                let secret = {
                    let store = bindery_store_sqlite::SqliteStore::open(&dir.join("bindery.db"))?;
                    bindery_primary::bootstrap_admin(&store, "admin", "test bootstrap").await?.1
                };
                let server = Self::serve_dev(&dir, unverified, Some(jwt), transport).await?;
                Ok((Self::Sqlite { server, dir }, secret))
            }
        }
    }

    /// `bindery dev` on `dir`; `auth`: with `--auth` and these JWT settings.
    async fn serve_dev(
        dir: &std::path::Path,
        artifacts: ArtifactArgs,
        auth: Option<bindery_server::config::JwtArgs>,
        transport: Transport,
    ) -> anyhow::Result<Served> {
        let data = dir.to_owned();
        let mut server = Served::spawn(move |listener, addr, stopped| {
            let mut config = DevConfig::new(data, addr);
            config.artifacts = artifacts;
            config.tls = transport.server;
            config.auth = auth.is_some();
            config.jwt = auth.unwrap_or_default();
            config.webhooks = test_webhooks();
            bindery_server::serve_dev(listener, config, async {
                let _ = stopped.await;
            })
        })
        .await?;
        server.tls = transport.client;
        server.wait_serving(Duration::from_secs(30)).await?;
        Ok(server)
    }

    /// The read side: the read node (Postgres) or the dev process's cache (SQLite).
    pub fn read_side(&self) -> &Served {
        match self {
            Self::Postgres { reader, .. } => &reader.server,
            Self::Sqlite { server, .. } => server,
        }
    }

    pub async fn resolver(&self) -> anyhow::Result<ResolverServiceClient<Channel>> {
        self.read_side().resolver().await
    }

    /// The PostgreSQL database, for Postgres-only assertions.
    pub fn postgres(&self) -> Option<&TestDb> {
        match self {
            Self::Postgres { primary, .. } => Some(&primary.db),
            Self::Sqlite { .. } => None,
        }
    }

    /// Runs `sql` (returning one integer column, then text columns) on the store itself.
    pub async fn rows(&self, sql: &str) -> anyhow::Result<Vec<(i64, Vec<String>)>> {
        if let Some(db) = self.postgres() {
            let client = db.client().await?;
            let rows = client.query(sql, &[]).await?;
            return rows
                .iter()
                .map(|r| {
                    let texts = (1..r.len()).map(|i| r.try_get::<_, String>(i)).collect::<Result<_, _>>()?;
                    Ok((r.try_get::<_, i64>(0)?, texts))
                })
                .collect();
        }
        let path = match self {
            Self::Sqlite { dir, .. } => dir.join("bindery.db"),
            Self::Postgres { .. } => bail!("not an embedded store"),
        };
        let sql = sql.to_owned();
        tokio::task::spawn_blocking(move || {
            let conn =
                rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
            let mut stmt = conn.prepare(&sql)?;
            let width = stmt.column_count();
            let rows = stmt
                .query_map([], |r| {
                    let texts = (1..width).map(|i| r.get::<_, String>(i)).collect::<Result<_, _>>()?;
                    Ok((r.get::<_, i64>(0)?, texts))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            anyhow::Ok(rows)
        })
        .await?
    }

    /// Runs a statement on the store itself, bypassing the registry (tampering tests).
    pub async fn execute(&self, sql: &str) -> anyhow::Result<u64> {
        if let Some(db) = self.postgres() {
            return Ok(db.client().await?.execute(sql, &[]).await?);
        }
        let path = match self {
            Self::Sqlite { dir, .. } => dir.join("bindery.db"),
            Self::Postgres { .. } => bail!("not an embedded store"),
        };
        let sql = sql.to_owned();
        tokio::task::spawn_blocking(move || {
            let conn = rusqlite::Connection::open(&path)?;
            conn.busy_timeout(Duration::from_secs(5))?;
            anyhow::Ok(conn.execute(&sql, [])? as u64)
        })
        .await?
    }

    /// The store itself, as a second client of the same database (or data directory) would
    /// open it: for driving store operations no RPC exposes (garbage collection's phases).
    pub fn store(&self) -> anyhow::Result<std::sync::Arc<dyn bindery_core::Store>> {
        Ok(match self {
            Self::Postgres { primary, .. } => {
                let config = bindery_server::config::DatabaseArgs {
                    database_url: DatabaseUrl::new(primary.db.url.clone()),
                    database_timeout_secs: 5,
                    create_database: false,
                }
                .pg_config()?;
                std::sync::Arc::new(bindery_store_postgres::PgStore::new(
                    config,
                    &bindery_store_postgres::PoolOptions::default(),
                )?)
            }
            Self::Sqlite { dir, .. } => {
                std::sync::Arc::new(bindery_store_sqlite::SqliteStore::open(&dir.join("bindery.db"))?)
            }
        })
    }

    /// The store's current revision, read from the store itself.
    pub async fn revision(&self) -> anyhow::Result<u64> {
        let rows = self.rows("SELECT revision FROM registry_state").await?;
        Ok(u64::try_from(rows.first().map_or(0, |r| r.0))?)
    }

    /// `(revision, action, actor)` of every audit row, oldest first.
    pub async fn audit(&self) -> anyhow::Result<Vec<(u64, String, String)>> {
        let rows = self.rows("SELECT revision, action, actor FROM audit_log ORDER BY id").await?;
        rows.into_iter()
            .map(|(revision, texts)| {
                let [action, actor]: [String; 2] =
                    texts.try_into().map_err(|_| anyhow::anyhow!("unexpected audit columns"))?;
                Ok((u64::try_from(revision)?, action, actor))
            })
            .collect()
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        if let Self::Sqlite { dir, .. } = self {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
