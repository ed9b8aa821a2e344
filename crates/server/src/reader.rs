//! `bindery reader`: a stateless read node. It LISTENs on the database (or, as a tier-2 node,
//! follows other read nodes), loads a snapshot, applies changes in revision order, and answers
//! ResolverService from memory only; with a replication secret it lets tier-2 nodes follow it.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use bindery_proto::v1::registry_service_server::RegistryServiceServer;
use bindery_proto::v1::replication_service_server::ReplicationServiceServer;
use bindery_proto::v1::resolver_service_server::ResolverServiceServer;
use bindery_reader::{
    Cache, FeedStatus, Follower, ReaderService, ReplicationServer, UpstreamFeed, WriteRedirect,
};
use bindery_store_postgres::PgFeed;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::config::ReaderConfig;

const HEALTH_SERVICES: &[&str] = &["", "bindery.v1.ResolverService"];

/// Health services of a process serving both sides (`bindery dev`).
pub(crate) const ALL_SERVICES: &[&str] = &["", "bindery.v1.RegistryService", "bindery.v1.ResolverService"];

/// Serves a read node on `listener` until `shutdown` completes.
pub async fn serve_reader(
    listener: TcpListener,
    config: ReaderConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    config.validate()?;
    let tls = config.tls.server_config()?;
    let replication_secret = config.replication_secret()?;
    let mut cache =
        Cache::new(config.watch_history, config.watch_buffer).with_history_bytes(config.watch_history_bytes);
    if replication_secret.is_some() {
        // Only a node others may follow keeps whole changes for them.
        cache = cache.with_replication(config.watch_history);
    }
    let cache = Arc::new(cache);
    let status = Arc::new(FeedStatus::default());
    let serving = Arc::new(AtomicBool::new(false));
    // `stop` ends watch streams and the health loop when shutdown begins; the follower keeps
    // applying changes until the last in-flight call has drained (a Resolve may be waiting for
    // its min_revision), then stops.
    let (stop_tx, stop_rx) = watch::channel(false);
    let (follower_stop_tx, follower_stop_rx) = watch::channel(false);

    // Tier 1 follows the database; tier 2 (`--upstream`) follows other read nodes, through the
    // same follower.
    let follower_task = if config.upstream.is_empty() {
        let feed = PgFeed::new(config.database.pg_config()?);
        tokio::spawn(
            Follower::new(feed, cache.clone(), status.clone(), config.follower()).run(follower_stop_rx),
        )
    } else {
        let feed = UpstreamFeed::new(
            config.upstream.clone(),
            config.upstream_secret.as_deref().unwrap_or_default(),
            config.upstream_tls()?,
            config.max_message_bytes,
            cache.clone(),
            status.clone(),
        )
        .map_err(|e| anyhow::anyhow!("--upstream: {e}"))?;
        tokio::spawn(
            Follower::new(feed, cache.clone(), status.clone(), config.follower()).run(follower_stop_rx),
        )
    };
    let replication = ReplicationServiceServer::new(ReplicationServer::new(
        cache.clone(),
        replication_secret,
        stop_rx.clone(),
    ))
    .max_decoding_message_size(config.max_message_bytes)
    .max_encoding_message_size(config.max_message_bytes);

    let (reporter, health_service) = tonic_health::server::health_reporter();
    let (metrics, metrics_task) = crate::common::start_metrics(config.metrics_listen, &reporter)?;
    register_reader_gauges(&metrics, cache.clone(), status.clone());
    crate::common::set_health(&reporter, HEALTH_SERVICES, ServingStatus::NotServing).await;
    crate::common::set_live(&reporter).await;
    let health_task = tokio::spawn(health_loop(
        cache.clone(),
        status.clone(),
        serving.clone(),
        config.max_staleness(),
        reporter.clone(),
        stop_rx.clone(),
        HEALTH_SERVICES,
    ));

    let artifacts = Arc::new(config.artifacts.build().await.context("configuring the object store")?);
    config.auth.warn_if_off("reader");
    let service = ReaderService::new(cache, status, serving.clone(), config.max_wait(), stop_rx)
        .with_artifacts(artifacts)
        .with_auth(config.auth.mode())
        .with_jwt(config.jwt.build().await?)
        .with_watch_limits(bindery_reader::WatchLimits {
            per_node: config.max_watchers,
            per_connection: config.max_watchers_per_connection,
        });
    let max = config.max_message_bytes;
    let resolver =
        ResolverServiceServer::new(service).max_decoding_message_size(max).max_encoding_message_size(max);
    let redirect = RegistryServiceServer::new(WriteRedirect::new(config.primary_address.clone()));

    let local = listener.local_addr().context("reading the listen address")?;
    if config.upstream.is_empty() {
        tracing::info!(listen = %local, tls = config.tls.describe(), database = %config.database.database_url, "bindery reader starting");
    } else {
        tracing::info!(listen = %local, tls = config.tls.describe(), upstream = ?config.upstream, "bindery reader (tier 2) starting");
    }
    let drain_delay = config.drain_delay();
    let shutdown = async move {
        shutdown.await;
        tracing::info!(
            "shutting down: health NOT_SERVING, ending watch streams (clients reconnect elsewhere)"
        );
        serving.store(false, Ordering::Release);
        health_task.abort();
        crate::common::set_health(&reporter, HEALTH_SERVICES, ServingStatus::NotServing).await;
        let _ = stop_tx.send(true);
        // Load balancers and Kubernetes see NOT_SERVING before the listener closes.
        tokio::time::sleep(drain_delay).await;
        tracing::info!("no longer accepting connections; draining in-flight calls");
    };
    crate::common::router(health_service, &metrics, tls)?
        .add_service(resolver)
        .add_service(replication)
        .add_service(redirect)
        .serve_with_incoming_shutdown(crate::common::incoming(listener), shutdown)
        .await
        .context("serving gRPC")?;
    let _ = follower_stop_tx.send(true);
    let _ = follower_task.await;
    if let Some(task) = metrics_task {
        task.abort();
    }
    tracing::info!("bindery reader stopped: every call drained");
    Ok(())
}

/// SERVING once the first snapshot is applied; NOT_SERVING when the last sync is older than
/// `max_staleness` (if set). A reader that lost its database keeps serving until then.
pub(crate) async fn health_loop(
    cache: Arc<Cache>,
    status: Arc<FeedStatus>,
    serving: Arc<AtomicBool>,
    max_staleness: Option<Duration>,
    reporter: HealthReporter,
    mut stop: watch::Receiver<bool>,
    services: &'static [&'static str],
) {
    let mut current = false;
    loop {
        let fresh = match (max_staleness, status.staleness()) {
            (None, _) => true,
            (Some(max), Some(staleness)) => staleness <= max,
            (Some(_), None) => false,
        };
        let now = cache.is_loaded() && fresh;
        if now != current {
            current = now;
            serving.store(now, Ordering::Release);
            let health = if now { ServingStatus::Serving } else { ServingStatus::NotServing };
            crate::common::set_health(&reporter, services, health).await;
            tracing::info!(serving = now, revision = cache.revision(), staleness = ?status.staleness(), "reader health changed");
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// How current the cache is and what it holds, as gauges read at scrape time (the bindery dev
/// process reports the same).
pub(crate) fn register_reader_gauges(
    metrics: &crate::metrics::Metrics,
    cache: Arc<Cache>,
    status: Arc<FeedStatus>,
) {
    let applied = metrics.gauge("reader_applied_revision", "Revision applied to this node's cache");
    let database = metrics.gauge("reader_database_revision", "Latest revision this node saw in the database");
    let lag = metrics.gauge("reader_lag_revisions", "Revisions the cache is behind the database");
    let staleness =
        metrics.gauge("reader_staleness_seconds", "Seconds since this node last knew it was current");
    let connected = metrics.gauge("reader_connected", "1 while the change feed is connected");
    let reconnects = metrics.counter("reader_reconnects", "Change feed reconnects");
    let snapshots = metrics.counter("reader_snapshots", "Snapshots loaded");
    let stuck = metrics.gauge(
        "reader_stuck_revision",
        "Revision of a change this node cannot apply (it serves the state before it); 0 when none",
    );
    let apply_failures = metrics.counter("reader_apply_failures", "Failed attempts to apply a change");
    let watchers = metrics.gauge("reader_watchers", "Open WatchBindings streams");
    let bindings = metrics.gauge("reader_cached_bindings", "Bindings in the cache");
    let models = metrics.gauge("reader_cached_models", "Models in the cache");
    metrics.on_scrape(Box::new(move || {
        let g = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let db = status.database_revision.load(Ordering::Acquire);
        applied.set(g(cache.revision()));
        database.set(g(db));
        lag.set(g(db.saturating_sub(cache.revision())));
        staleness.set(status.staleness().map_or(-1, |s| i64::try_from(s.as_secs()).unwrap_or(i64::MAX)));
        connected.set(i64::from(status.connected.load(Ordering::Acquire)));
        let catch_up = |c: &prometheus_client::metrics::counter::Counter, to: u64| {
            let now = c.get();
            if to > now {
                c.inc_by(to - now);
            }
        };
        catch_up(&reconnects, status.reconnects.load(Ordering::Relaxed));
        catch_up(&snapshots, status.snapshots_loaded.load(Ordering::Relaxed));
        catch_up(&apply_failures, status.apply_failures.load(Ordering::Relaxed));
        stuck.set(g(status.stuck_at.load(Ordering::Acquire)));
        watchers.set(g(cache.watchers()));
        bindings.set(g(cache.bindings_count()));
        models.set(g(cache.models_count()));
    }));
}
