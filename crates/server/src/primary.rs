//! `bindery primary` and `bindery migrate`.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use bindery_primary::Primary;
use bindery_proto::v1::registry_service_server::RegistryServiceServer;
use bindery_proto::v1::resolver_service_server::ResolverServiceServer;
use bindery_store_postgres::{PgConfig, PgStore, PoolOptions};
use tokio::net::TcpListener;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::config::{DatabaseArgs, PrimaryConfig};

/// Applies pending migrations once (under the advisory lock) and returns what was applied.
pub async fn migrate_database(database: &DatabaseArgs) -> anyhow::Result<Vec<i32>> {
    let config = database.pg_config()?;
    if database.create_database && bindery_store_postgres::create_database_if_missing(&config).await? {
        tracing::info!(database = %database.database_url, "created database");
    }
    let mut client = bindery_store_postgres::connect(&config)
        .await
        .with_context(|| format!("connecting to {}", database.database_url))?;
    let applied = bindery_store_postgres::migrate(&mut client).await.context("applying migrations")?;
    Ok(applied)
}

/// The services whose health the primary reports: the overall server ("") and each gRPC service.
const HEALTH_SERVICES: &[&str] = &["", "bindery.v1.RegistryService", "bindery.v1.ResolverService"];

async fn set_health(reporter: &HealthReporter, status: ServingStatus) {
    crate::common::set_health(reporter, HEALTH_SERVICES, status).await;
}

/// Serves the primary on `listener` until `shutdown` completes.
///
/// The process starts even when the database is down: health stays NOT_SERVING (and calls answer
/// UNAVAILABLE) until the database is reachable and migrated, then turns SERVING, and turns back
/// only after `readiness_failures` consecutive failed checks.
/// How often a primary (or `bindery dev`) looks for rollout steps that are due.
pub(crate) const ROLLOUT_TICK: std::time::Duration = std::time::Duration::from_secs(1);

pub async fn serve_primary(
    listener: TcpListener,
    config: PrimaryConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    config.validate()?;
    let tls = config.tls.server_config()?;
    let pg_config = config.database.pg_config()?;
    let options = PoolOptions { max_size: config.pool_size, timeout: config.database.timeout() };
    let store = Arc::new(PgStore::new(pg_config.clone(), &options)?);
    // Webhook deliveries get a pool of their own: its connections are opened, and driven, by the
    // delivery thread, so a busy delivery worker never delays a write's statements nor takes its
    // connections.
    let delivery_pool = PoolOptions { max_size: 4, timeout: config.database.timeout() };
    let delivery_store: Arc<dyn bindery_core::Store> =
        Arc::new(PgStore::new(pg_config.clone(), &delivery_pool)?);
    let artifacts = Arc::new(config.artifacts.build().await.context("configuring the object store")?);
    config.auth.warn_if_off("primary");
    let jwt = config.jwt.build().await?;
    let webhooks = Arc::new(bindery_primary::Webhooks::new(config.webhooks.settings()?));
    let primary = Primary::new(store.clone(), artifacts.clone(), config.auth.mode())
        .with_jwt(jwt)
        .with_promotion_ttl(crate::config::promotion_ttl(config.promotion_ttl_secs)?)
        .with_webhooks(webhooks.clone());
    // Pruning and garbage collection touch the schema: they start once it is migrated.
    let (migrated_tx, migrated_rx) = tokio::sync::watch::channel(false);
    let schema_ready = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|m| *m).await;
    };
    let gc = config.artifacts.gc_interval().map(|every| {
        tokio::spawn(crate::artifacts::gc_loop(
            artifacts,
            store.clone(),
            every,
            schema_ready(migrated_rx.clone()),
        ))
    });

    let (reporter, health_service) = tonic_health::server::health_reporter();
    let (metrics, metrics_task) = crate::common::start_metrics(config.metrics_listen, &reporter)?;
    register_pool_gauges(&metrics, store.clone());
    set_health(&reporter, ServingStatus::NotServing).await;
    crate::common::set_live(&reporter).await;
    let readiness =
        tokio::spawn(readiness_loop(store.clone(), pg_config, config.clone(), reporter.clone(), migrated_tx));
    let rollouts = tokio::spawn(bindery_primary::rollout_loop(
        store.clone(),
        ROLLOUT_TICK,
        schema_ready(migrated_rx.clone()),
    ));
    let deliveries = bindery_primary::spawn_delivery_loop(
        delivery_store,
        webhooks.settings.clone(),
        schema_ready(migrated_rx.clone()),
    );
    let pruning = tokio::spawn(prune_loop(store.clone(), config.clone(), schema_ready(migrated_rx.clone())));
    let snapshots = tokio::spawn(snapshot_loop(store, config.clone(), schema_ready(migrated_rx)));

    let mlflow = crate::common::start_mlflow(config.mlflow_listen, primary.clone()).await?;
    let mut console = bindery_console::Console::new(primary.clone())
        .with_sso(config.console_sso.build(&config.jwt).await?)
        .with_tls(config.tls.https_config()?);
    for url in &config.console_readers {
        console = console.with_remote_reader(url).map_err(|e| anyhow::anyhow!("--console-readers: {e}"))?;
    }
    let console = crate::common::start_console(config.console_listen, console).await?;
    let max = config.max_message_bytes;
    let registry = RegistryServiceServer::new(primary.clone())
        .max_decoding_message_size(max)
        .max_encoding_message_size(max);
    let resolver =
        ResolverServiceServer::new(primary).max_decoding_message_size(max).max_encoding_message_size(max);

    let local = listener.local_addr().context("reading the listen address")?;
    tracing::info!(listen = %local, tls = config.tls.describe(), database = %config.database.database_url, "bindery primary starting");

    let drain_delay = config.drain_delay();
    let shutdown = async move {
        shutdown.await;
        tracing::info!("shutting down: health NOT_SERVING, then draining in-flight calls");
        readiness.abort();
        pruning.abort();
        snapshots.abort();
        rollouts.abort();
        drop(deliveries);
        if let Some(gc) = gc {
            gc.abort();
        }
        set_health(&reporter, ServingStatus::NotServing).await;
        tokio::time::sleep(drain_delay).await;
    };
    crate::common::router(health_service, &metrics, tls)?
        .add_service(registry)
        .add_service(resolver)
        .serve_with_incoming_shutdown(crate::common::incoming(listener), shutdown)
        .await
        .context("serving gRPC")?;
    if let Some(task) = metrics_task {
        task.abort();
    }
    for (_, task) in mlflow.into_iter().chain(console) {
        task.abort();
    }
    tracing::info!("bindery primary stopped");
    Ok(())
}

/// Keeps the change log to its retention window (design.md §3.5). Failures are logged and retried
/// next round; concurrent primaries pruning at once is harmless.
async fn prune_loop(store: Arc<PgStore>, config: PrimaryConfig, schema_ready: impl Future<Output = ()>) {
    let retain = std::time::Duration::from_secs(config.changes_retention_secs);
    schema_ready.await;
    let mut every = tokio::time::interval(std::time::Duration::from_millis(config.prune_interval_ms));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        match store.prune_changes(retain).await {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(pruned, ?retain, "pruned the change log"),
            Err(e) => tracing::debug!(error = %e, "pruning the change log failed; will retry"),
        }
    }
}

/// Keeps a compact snapshot for read nodes to start from (README "Read node cold start").
/// The first check is one interval after start; failures are logged and retried next round.
async fn snapshot_loop(store: Arc<PgStore>, config: PrimaryConfig, schema_ready: impl Future<Output = ()>) {
    if config.snapshot_interval_secs == 0 {
        return;
    }
    let interval = std::time::Duration::from_secs(config.snapshot_interval_secs);
    let policy = bindery_store_postgres::SnapshotPolicy {
        min_changes: config.snapshot_min_changes,
        max_age: interval * 10,
    };
    schema_ready.await;
    let mut every = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let started = std::time::Instant::now();
        match store.write_snapshot(policy).await {
            Ok(None) => {}
            Ok(Some(s)) => tracing::info!(
                revision = s.revision,
                bindings = s.bindings,
                parts = s.parts,
                bytes = s.bytes,
                ms = started.elapsed().as_millis(),
                "stored a snapshot for read nodes"
            ),
            Err(e) => tracing::warn!(error = %e, "storing a snapshot for read nodes failed; will retry"),
        }
    }
}

async fn readiness_loop(
    store: Arc<PgStore>,
    pg_config: PgConfig,
    config: PrimaryConfig,
    reporter: HealthReporter,
    migrated_tx: tokio::sync::watch::Sender<bool>,
) {
    let mut migrated = config.no_migrate;
    migrated_tx.send_replace(migrated);
    let mut serving = false;
    let mut failures = 0u32;
    loop {
        if !migrated {
            if config.database.create_database {
                match bindery_store_postgres::create_database_if_missing(&pg_config).await {
                    Ok(true) => tracing::info!(database = %config.database.database_url, "created database"),
                    Ok(false) => {}
                    Err(e) => tracing::warn!(error = %e, "creating the database failed; will retry"),
                }
            }
            match bindery_store_postgres::connect(&pg_config).await {
                Ok(mut client) => match bindery_store_postgres::migrate(&mut client).await {
                    Ok(applied) => {
                        migrated = true;
                        migrated_tx.send_replace(true);
                        tracing::info!(?applied, "database schema is current");
                    }
                    Err(e) => tracing::warn!(error = %e, "migrating the database failed; will retry"),
                },
                Err(e) => tracing::warn!(error = %e, "database unreachable; will retry"),
            }
        }
        let ready = if migrated {
            store.check_ready().await
        } else {
            Err(bindery_core::Error::Unavailable("not migrated".into()))
        };
        match ready {
            Ok(()) => {
                failures = 0;
                if !serving {
                    serving = true;
                    set_health(&reporter, ServingStatus::Serving).await;
                    tracing::info!("ready: health SERVING");
                }
            }
            Err(e) => {
                failures += 1;
                if serving && failures >= config.readiness_failures {
                    serving = false;
                    set_health(&reporter, ServingStatus::NotServing).await;
                    tracing::warn!(error = %e, failures, "not ready: health NOT_SERVING");
                } else if !serving {
                    tracing::debug!(error = %e, "not ready yet");
                }
            }
        }
        // Poll faster until first ready, so a fresh process serves as soon as it can.
        let pause = if serving {
            config.readiness_interval()
        } else {
            config.readiness_interval().min(std::time::Duration::from_millis(250))
        };
        tokio::time::sleep(pause).await;
    }
}

/// The connection pool, as gauges read at scrape time.
fn register_pool_gauges(metrics: &crate::metrics::Metrics, store: Arc<PgStore>) {
    let max = metrics.gauge("db_pool_max_connections", "Largest size of the database connection pool");
    let open = metrics.gauge("db_pool_connections", "Database connections open");
    let idle = metrics.gauge("db_pool_idle_connections", "Database connections open and idle");
    let waiting = metrics.gauge("db_pool_waiting", "Calls waiting for a database connection");
    metrics.on_scrape(Box::new(move || {
        let (m, o, i, w) = store.pool_status();
        let g = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
        max.set(g(m));
        open.set(g(o));
        idle.set(g(i));
        waiting.set(g(w));
    }));
}
