//! Test helpers: every test gets its own freshly created database (dropped afterwards, even when
//! the test panics), servers listen on port 0, and a throwaway PostgreSQL cluster can be started
//! and stopped for tests that need the database to go away.

mod cluster;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use bindery_proto::v1::registry_service_client::RegistryServiceClient;
use bindery_proto::v1::resolver_service_client::ResolverServiceClient;
use bindery_server::{DatabaseUrl, PrimaryConfig};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

pub use cluster::TempCluster;

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

/// A primary serving a [`TestDb`] on 127.0.0.1:0, stopped when dropped.
pub struct TestPrimary {
    pub addr: SocketAddr,
    pub db: TestDb,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestPrimary {
    /// Fresh database, primary started, migrated and SERVING.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(TestDb::create().await?, |_| {}).await
    }

    /// Starts a primary on `db` after `tweak` adjusts its config.
    pub async fn start_with(db: TestDb, tweak: impl FnOnce(&mut PrimaryConfig)) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let mut config = PrimaryConfig::new(addr, DatabaseUrl::new(db.url.clone()));
        config.pool_size = 32;
        config.readiness_interval_ms = 200;
        config.database.database_timeout_secs = 2;
        tweak(&mut config);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(bindery_server::serve_primary(listener, config, async {
            let _ = stopped.await;
        }));
        let primary = Self { addr, db, stop: Some(stop), task: Some(task) };
        primary.wait_serving(Duration::from_secs(30)).await?;
        Ok(primary)
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub async fn channel(&self) -> anyhow::Result<Channel> {
        Ok(Channel::from_shared(self.endpoint())?.connect().await?)
    }

    pub async fn registry(&self) -> anyhow::Result<RegistryServiceClient<Channel>> {
        Ok(RegistryServiceClient::new(self.channel().await?))
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
                bail!("primary at {} did not become {want:?} within {timeout:?}", self.addr);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the server (graceful) and waits for it.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await??;
        }
        Ok(())
    }
}

impl Drop for TestPrimary {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
