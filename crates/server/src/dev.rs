//! `bindery dev`: the whole registry in one process on the embedded SQLite store — no PostgreSQL,
//! no S3. Writes go through the same RegistryService as the primary's; Resolve and WatchBindings
//! are answered by the reader's cache and apply loop, fed by the store's in-process change feed.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Context;
use bindery_core::Store;
use bindery_primary::Primary;
use bindery_proto::auth::AuthMode;
use bindery_proto::v1::registry_service_server::RegistryServiceServer;
use bindery_proto::v1::resolver_service_server::ResolverServiceServer;
use bindery_reader::{Cache, FeedStatus, Follower, FollowerConfig, ReaderService};
use bindery_store_sqlite::SqliteStore;
use clap::Args;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic_health::ServingStatus;

use crate::config::ArtifactArgs;
use crate::reader::{ALL_SERVICES, health_loop};

/// `bindery dev`.
#[derive(Debug, Clone, Args)]
pub struct DevConfig {
    /// Where the embedded database lives (created if missing).
    #[arg(long, env = "BINDERY_DATA_DIR", default_value = "./bindery-data")]
    pub data_dir: PathBuf,
    /// Address the gRPC server listens on.
    #[arg(long, env = "BINDERY_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,
    /// Largest gRPC message accepted or sent, in bytes.
    #[arg(long, env = "BINDERY_MAX_MESSAGE_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_message_bytes: usize,
    /// Directory standing in for S3 (`s3://bucket/key` is `<dir>/bucket/key`); default
    /// `<data-dir>/artifacts`.
    #[arg(long, env = "BINDERY_ARTIFACT_DIR")]
    pub artifact_dir: Option<PathBuf>,
    /// Address of the HTTP server that answers the local store's presigned URLs.
    #[arg(long, env = "BINDERY_ARTIFACT_LISTEN", default_value = "127.0.0.1:50080")]
    pub artifact_listen: SocketAddr,
    #[command(flatten)]
    pub artifacts: ArtifactArgs,
    /// Where Prometheus scrapes `GET /metrics` (an address, or `off`).
    #[arg(long, env = "BINDERY_METRICS_LISTEN", default_value = "127.0.0.1:9090")]
    pub metrics_listen: crate::common::ListenAddr,
    /// Require API tokens, as a primary does (default: authentication off, on 127.0.0.1).
    /// Create the first admin token with `bindery token create --bootstrap --data-dir <dir>`.
    #[arg(long = "auth", env = "BINDERY_DEV_AUTH")]
    pub auth: bool,
    /// JWTs, next to API tokens, with `--auth`.
    #[command(flatten)]
    pub jwt: crate::config::JwtArgs,
    #[command(flatten)]
    pub tls: crate::tls::TlsArgs,
    /// How long a promotion request waits for its approvals before it expires (seconds).
    #[arg(long, env = "BINDERY_PROMOTION_TTL_SECS", default_value_t = crate::config::PROMOTION_TTL_SECS)]
    pub promotion_ttl_secs: u64,
    #[command(flatten)]
    pub webhooks: crate::config::WebhookArgs,
    /// Where MLflow clients reach the registry (`MLFLOW_TRACKING_URI=http://<this>`): MLflow's
    /// REST API over HTTP/1.1, or `off`.
    #[arg(long, env = "BINDERY_MLFLOW_LISTEN", default_value = "127.0.0.1:5000")]
    pub mlflow_listen: crate::common::ListenAddr,
    /// Where the web console is served (open it in a browser), or `off`.
    #[arg(long, env = "BINDERY_CONSOLE_LISTEN", default_value = "127.0.0.1:5080")]
    pub console_listen: crate::common::ListenAddr,
    #[command(flatten)]
    pub console_sso: crate::config::ConsoleSsoArgs,
}

impl DevConfig {
    /// Defaults, with the artifact HTTP server on an ephemeral port.
    pub fn new(data_dir: PathBuf, listen: SocketAddr) -> Self {
        Self {
            data_dir,
            listen,
            max_message_bytes: 4 * 1024 * 1024,
            artifact_dir: None,
            artifact_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            artifacts: ArtifactArgs::default(),
            metrics_listen: crate::common::ListenAddr(None),
            auth: false,
            jwt: crate::config::JwtArgs::default(),
            tls: crate::tls::TlsArgs::default(),
            promotion_ttl_secs: crate::config::PROMOTION_TTL_SECS,
            webhooks: crate::config::WebhookArgs::default(),
            mlflow_listen: crate::common::ListenAddr(None),
            console_listen: crate::common::ListenAddr(None),
            console_sso: crate::config::ConsoleSsoArgs::default(),
        }
    }

    fn auth_mode(&self) -> AuthMode {
        if self.auth { AuthMode::Required } else { AuthMode::Off }
    }
}

/// Serves the embedded registry on `listener` until `shutdown` completes.
pub async fn serve_dev(
    listener: TcpListener,
    config: DevConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let tls = config.tls.server_config()?;
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating the data directory {}", config.data_dir.display()))?;
    let path = config.data_dir.join("bindery.db");
    let store = SqliteStore::open(&path).with_context(|| format!("opening {}", path.display()))?;
    let registry_store: Arc<dyn Store> = Arc::new(store.clone());

    let artifact_dir = config.artifact_dir.clone().unwrap_or_else(|| config.data_dir.join("artifacts"));
    let artifact_listener = TcpListener::bind(config.artifact_listen)
        .await
        .with_context(|| format!("binding the artifact HTTP server to {}", config.artifact_listen))?;
    let artifact_addr = artifact_listener.local_addr().context("reading the artifact listen address")?;
    let (artifacts, local) =
        config.artifacts.build_dev(&artifact_dir, &format!("http://{artifact_addr}")).await?;
    let artifacts = Arc::new(artifacts);
    let artifact_http =
        local.map(|local| tokio::spawn(bindery_artifacts::serve_local(local, artifact_listener)));
    let gc = config.artifacts.gc_interval().map(|every| {
        tokio::spawn(crate::artifacts::gc_loop(
            artifacts.clone(),
            registry_store.clone(),
            every,
            std::future::ready(()),
        ))
    });

    let rollouts = tokio::spawn(bindery_primary::rollout_loop(
        registry_store.clone(),
        crate::primary::ROLLOUT_TICK,
        std::future::ready(()),
    ));
    let webhooks = Arc::new(bindery_primary::Webhooks::new(config.webhooks.settings()?));
    let deliveries = bindery_primary::spawn_delivery_loop(
        registry_store.clone(),
        webhooks.settings.clone(),
        std::future::ready(()),
    );

    let cache = Arc::new(Cache::new(10_000, 4_096).with_history_bytes(64 * 1024 * 1024));
    let status = Arc::new(FeedStatus::default());
    let serving = Arc::new(AtomicBool::new(false));
    let (stop_tx, stop_rx) = watch::channel(false);
    let follower = Follower::new(store.clone(), cache.clone(), status.clone(), FollowerConfig::default());
    let follower_task = tokio::spawn(follower.run(stop_rx.clone()));

    let (reporter, health_service) = tonic_health::server::health_reporter();
    let (metrics, metrics_task) = crate::common::start_metrics(config.metrics_listen, &reporter)?;
    crate::reader::register_reader_gauges(&metrics, cache.clone(), status.clone());
    crate::common::set_health(&reporter, ALL_SERVICES, ServingStatus::NotServing).await;
    crate::common::set_live(&reporter).await;
    let health_task = tokio::spawn(health_loop(
        cache.clone(),
        status.clone(),
        serving.clone(),
        None,
        reporter.clone(),
        stop_rx.clone(),
        ALL_SERVICES,
    ));

    let max = config.max_message_bytes;
    let auth = config.auth_mode();
    let jwt = config.jwt.build().await?;
    let primary = Primary::new(registry_store, artifacts.clone(), auth)
        .with_jwt(jwt.clone())
        .with_promotion_ttl(crate::config::promotion_ttl(config.promotion_ttl_secs)?)
        .with_webhooks(webhooks);
    let mlflow = crate::common::start_mlflow(config.mlflow_listen, primary.clone()).await?;
    let reader = Arc::new(
        ReaderService::new(cache, status, serving, Duration::from_secs(5), stop_rx)
            .with_artifacts(artifacts)
            .with_auth(auth)
            .with_jwt(jwt),
    );
    let console = bindery_console::Console::new(primary.clone())
        .with_local_reader("embedded resolver", reader.clone())
        .with_sso(config.console_sso.build(&config.jwt).await?)
        .with_tls(config.tls.https_config()?);
    let console_scheme = console.scheme();
    let console = crate::common::start_console(config.console_listen, console).await?;
    let registry =
        RegistryServiceServer::new(primary).max_decoding_message_size(max).max_encoding_message_size(max);
    let resolver =
        ResolverServiceServer::from_arc(reader).max_decoding_message_size(max).max_encoding_message_size(max);

    let local = listener.local_addr().context("reading the listen address")?;
    tracing::info!(listen = %local, tls = config.tls.describe(), data = %path.display(), artifacts = %artifact_dir.display(), "bindery dev starting");
    let auth_line = if config.auth {
        format!(
            "ON: every call needs a token. First admin:\n             bindery token create --bootstrap --principal admin --data-dir {}",
            config.data_dir.display()
        )
    } else {
        "OFF (anyone who reaches this port can do anything; `bindery dev --auth` requires tokens)".to_owned()
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let (cli, on_path) = cli_command();
    // The CLI's default server is http://127.0.0.1:50051: name it only when this is elsewhere.
    let server = if scheme == "http" && local == SocketAddr::from(([127, 0, 0, 1], 50051)) {
        String::new()
    } else {
        format!(" --server {scheme}://{local}")
    };
    let install = if on_path {
        String::new()
    } else {
        "\n        (to type `bindery` instead: cargo install --path crates/server --locked)".to_owned()
    };
    let mlflow_line = match &mlflow {
        Some((addr, _)) => format!("MLFLOW_TRACKING_URI=http://{addr} (MLflow's registry API)"),
        None => "off".to_owned(),
    };
    let console_line = match &console {
        Some((addr, _)) => format!("{console_scheme}://{addr}/ (web console: open it in a browser)"),
        None => "off".to_owned(),
    };
    let banner = format!(
        "\nBindery (dev mode) is serving on {local}\n  data:      {}\n  artifacts: {} (s3://dev/... is {}/dev/..., presigned URLs on http://{artifact_addr})\n  console:   {console_line}\n  mlflow:    {mlflow_line}\n  auth:      {auth_line}\n  try:  {cli}{server} model create demo\n        {cli}{server} upload demo <file or directory> --request-id first\n        {cli}{server} bind demo production 1\n        {cli}{server} resolve demo production{install}\n",
        path.display(),
        artifact_dir.display(),
        artifact_dir.display()
    );
    #[allow(clippy::print_stderr)]
    {
        eprintln!("{banner}");
    }

    let shutdown = async move {
        shutdown.await;
        let _ = stop_tx.send(true);
        health_task.abort();
        crate::common::set_health(&reporter, ALL_SERVICES, ServingStatus::NotServing).await;
    };
    crate::common::router(health_service, &metrics, tls)?
        .add_service(registry)
        .add_service(resolver)
        .serve_with_incoming_shutdown(crate::common::incoming(listener), shutdown)
        .await
        .context("serving gRPC")?;
    follower_task.abort();
    rollouts.abort();
    drop(deliveries);
    if let Some(task) = metrics_task {
        task.abort();
    }
    if let Some(task) = artifact_http {
        task.abort();
    }
    for (_, task) in mlflow.into_iter().chain(console) {
        task.abort();
    }
    if let Some(task) = gc {
        task.abort();
    }
    Ok(())
}

/// How to run this binary as the CLI, for the banner's commands to work as printed: `bindery`
/// when that name on PATH is this very binary (true), else its full path (false).
fn cli_command() -> (String, bool) {
    let Ok(exe) = std::env::current_exe() else { return ("bindery".to_owned(), false) };
    let exe = exe.canonicalize().unwrap_or(exe);
    let on_path = std::env::var_os("PATH")
        .and_then(|p| std::env::split_paths(&p).map(|d| d.join("bindery")).find(|c| c.is_file()))
        .and_then(|c| c.canonicalize().ok());
    if on_path.as_deref() == Some(exe.as_path()) {
        return ("bindery".to_owned(), true);
    }
    let shown = exe.display().to_string();
    let plain = shown.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+".contains(c));
    (if plain { shown } else { format!("'{}'", shown.replace('\'', r"'\''")) }, false)
}
