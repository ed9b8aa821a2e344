//! Resolve load generator: N calls in flight over M HTTP/2 connections for a fixed time, keys
//! drawn uniformly or Zipf-distributed over K models × B bindings (named as `seed` names them),
//! latencies in an HDR histogram. Prints one human line and one JSON line (`RESULT {...}`).
//!
//! `--write-body FILE` instead writes a gRPC-framed Resolve request for an independent load
//! generator (h2load: `-d FILE`), then exits.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context;
use bindery_benches::{Distribution, KeySpace, LoadState, Rng, latency_histogram};
use bindery_proto::v1;
use bindery_proto::v1::resolver_service_client::ResolverServiceClient;
use clap::Parser;
use hdrhistogram::Histogram;
use prost::Message;
use tonic::transport::{Channel, Endpoint};

#[derive(Debug, Parser)]
struct Args {
    /// The ResolverService to load (a reader, the primary, or the baseline).
    #[arg(long, default_value = "http://127.0.0.1:50052")]
    target: String,
    /// HTTP/2 connections.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Calls in flight (spread over the connections).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Unmeasured seconds first.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    #[arg(long, default_value_t = 1_000)]
    models: usize,
    #[arg(long, default_value_t = 4)]
    bindings: usize,
    /// `uniform`, `zipf` or `zipf:<exponent>`.
    #[arg(long, default_value = "uniform")]
    distribution: Distribution,
    /// A label for the JSON line.
    #[arg(long, default_value = "resolve")]
    label: String,
    /// Wait up to this long for the target to report SERVING.
    #[arg(long, default_value_t = 60.0)]
    wait_secs: f64,
    /// Send `authorization: Bearer <token>` with every call (a reader with `--auth tokens`).
    #[arg(long, env = "BINDERY_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Write a gRPC-framed ResolveRequest body to this file and exit.
    #[arg(long)]
    write_body: Option<std::path::PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let keys = Arc::new(KeySpace::new(args.models, args.bindings, &args.distribution));
    if let Some(path) = &args.write_body {
        let (model_name, binding) = keys.key(0);
        let body = v1::ResolveRequest { model_name, binding, ..Default::default() }.encode_to_vec();
        let mut framed = vec![0u8];
        framed.extend_from_slice(&u32::try_from(body.len())?.to_be_bytes());
        framed.extend_from_slice(&body);
        std::fs::write(path, framed)?;
        return Ok(());
    }

    wait_serving(&args.target, Duration::from_secs_f64(args.wait_secs)).await?;
    let mut channels = Vec::with_capacity(args.connections);
    for _ in 0..args.connections.max(1) {
        // One Channel = one HTTP/2 connection.
        let channel = Endpoint::from_shared(args.target.clone())?
            .tcp_nodelay(true)
            .connect()
            .await
            .with_context(|| format!("connecting to {}", args.target))?;
        channels.push(channel);
    }
    let shared = Arc::new(LoadState::default());
    let authorization = match &args.token {
        Some(token) => Some(format!("Bearer {token}").parse().context("--token must be printable ASCII")?),
        None => None,
    };
    let mut tasks = Vec::with_capacity(args.concurrency);
    for i in 0..args.concurrency {
        let client = ResolverServiceClient::new(channels[i % channels.len()].clone());
        tasks.push(tokio::spawn(worker(
            client,
            keys.clone(),
            shared.clone(),
            i as u64,
            authorization.clone(),
        )));
    }
    let (warmup, duration) = (Duration::from_secs_f64(args.warmup), Duration::from_secs_f64(args.duration));
    let (total, elapsed) = shared.run(warmup, duration, tasks).await?;
    let detail = format!(
        "{} in flight over {} connections, {} keys {:?}",
        args.concurrency,
        args.connections,
        keys.len(),
        args.distribution
    );
    shared.print(&args.label, &total, elapsed, args.concurrency, args.connections, &detail);
    Ok(())
}

async fn worker(
    mut client: ResolverServiceClient<Channel>,
    keys: Arc<KeySpace>,
    shared: Arc<LoadState>,
    seed: u64,
    authorization: Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>,
) -> anyhow::Result<Histogram<u64>> {
    let mut histogram = latency_histogram()?;
    let mut rng = Rng::new(seed + 1);
    while !shared.stop.load(Ordering::Relaxed) {
        let (model_name, binding) = keys.key(keys.draw(&mut rng));
        let mut request =
            tonic::Request::new(v1::ResolveRequest { model_name, binding, ..Default::default() });
        if let Some(value) = &authorization {
            request.metadata_mut().insert("authorization", value.clone());
        }
        let sent = Instant::now();
        let ok = client.resolve(request).await.is_ok();
        shared.record(&mut histogram, ok, sent.elapsed())?;
    }
    Ok(histogram)
}

async fn wait_serving(target: &str, timeout: Duration) -> anyhow::Result<()> {
    use tonic_health::pb::health_check_response::ServingStatus;
    let started = Instant::now();
    loop {
        if let Ok(channel) = Endpoint::from_shared(target.to_owned())?.connect().await {
            let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
            let request = tonic_health::pb::HealthCheckRequest { service: String::new() };
            if let Ok(r) = health.check(request).await
                && r.into_inner().status == ServingStatus::Serving as i32
            {
                return Ok(());
            }
        }
        anyhow::ensure!(started.elapsed() < timeout, "{target} not SERVING within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
