//! Deploy storm (issue 20): P simulated pods start at the same moment, each opening a fresh
//! connection and asking for its model once, as a fleet-wide deploy does.
//!
//! - Bindery: `Resolve{presign: true}` over a fresh HTTP/2 connection per pod, the pods spread
//!   over 2 tier-1 read nodes (on the database), then over 2 tier-2 read nodes (following the
//!   tier-1 ones). Every process is a release `bindery` started here on a fresh database.
//! - MLflow (with `--mlflow <base>`, a server `httpload --seed` prepared): what an MLflow-based
//!   deploy asks, the alias lookup then `get-download-uri`, over one fresh HTTP/1.1 connection
//!   per pod.
//!
//! Per phase: the time until the last pod has its answer, per-pod latency p50/p99 from the
//! release, and errors. Prints `RESULT {...}` lines.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use bindery_benches::{Process, Summary, bindery_binary, ms};
use bindery_proto::v1;
use bindery_proto::v1::registry_service_client::RegistryServiceClient;
use bindery_proto::v1::resolver_service_client::ResolverServiceClient;
use bindery_test_util::TestDb;
use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::sync::watch;
use tonic::transport::Endpoint;

#[derive(Debug, Parser)]
struct Args {
    /// Pods per phase.
    #[arg(long, default_value_t = 10_000)]
    pods: usize,
    /// `http://host:port` of an MLflow server seeded by `httpload --seed` (model `bench-0`).
    #[arg(long)]
    mlflow: Option<String>,
    /// A label for the MLflow phase's RESULT line (e.g. `mlflow` or `facade`).
    #[arg(long, default_value = "mlflow")]
    mlflow_label: String,
    /// Skip the Bindery phases (only the MLflow one).
    #[arg(long)]
    mlflow_only: bool,
}

const SECRET: &str = "deploy-storm-benchmark-replication-secret";
const S3: &[&str] = &[
    "--s3-endpoint",
    "http://127.0.0.1:9",
    "--s3-region",
    "us-east-1",
    "--s3-force-path-style",
    "--s3-access-key-id",
    "bench",
    "--s3-secret-access-key",
    "bench-secret",
    "--artifact-allowed",
    "s3://bench",
];

struct Outcome {
    latencies: Vec<Duration>,
    errors: usize,
    first_error: String,
    last: Duration,
}

/// Runs `pods` copies of `pod` released together; each gets its index and answers Ok or an error.
async fn storm<F, Fut>(pods: usize, pod: F) -> Outcome
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let (go_tx, go_rx) = watch::channel(None::<Instant>);
    let ready = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::with_capacity(pods);
    for i in 0..pods {
        let mut go = go_rx.clone();
        let ready = ready.clone();
        let work = pod(i);
        tasks.push(tokio::spawn(async move {
            ready.fetch_add(1, Ordering::Relaxed);
            let released = match go.wait_for(Option::is_some).await {
                Ok(at) => (*at).unwrap_or_else(Instant::now),
                Err(_) => Instant::now(),
            };
            let result = work.await;
            (released.elapsed(), result)
        }));
    }
    while ready.load(Ordering::Relaxed) < pods {
        tokio::task::yield_now().await;
    }
    let _ = go_tx.send(Some(Instant::now()));
    let mut outcome = Outcome {
        latencies: Vec::with_capacity(pods),
        errors: 0,
        first_error: String::new(),
        last: Duration::ZERO,
    };
    for task in tasks {
        match task.await {
            Ok((took, Ok(()))) => {
                outcome.latencies.push(took);
                outcome.last = outcome.last.max(took);
            }
            Ok((took, Err(e))) => {
                outcome.errors += 1;
                outcome.last = outcome.last.max(took);
                if outcome.first_error.is_empty() {
                    outcome.first_error = format!("{e:#}");
                }
            }
            Err(e) => {
                outcome.errors += 1;
                if outcome.first_error.is_empty() {
                    outcome.first_error = e.to_string();
                }
            }
        }
    }
    outcome
}

fn report(label: &str, nodes: usize, pods: usize, mut outcome: Outcome) {
    let summary = Summary::of(&mut outcome.latencies);
    let (p50, p99) = summary.as_ref().map_or((Duration::ZERO, Duration::ZERO), |s| (s.p50, s.p99));
    #[allow(clippy::print_stdout)]
    {
        println!(
            "storm {label}: {pods} pods on {nodes} nodes: last answer after {} ms, p50 {} ms, p99 {} ms, {} errors{}",
            ms(outcome.last),
            ms(p50),
            ms(p99),
            outcome.errors,
            if outcome.errors > 0 { format!(" (first: {})", outcome.first_error) } else { String::new() }
        );
        println!(
            "RESULT {{\"label\":\"storm\",\"target\":\"{label}\",\"nodes\":{nodes},\"pods\":{pods},\"last_ms\":{},\"p50_ms\":{},\"p99_ms\":{},\"errors\":{}}}",
            ms(outcome.last),
            ms(p50),
            ms(p99),
            outcome.errors
        );
    }
}

/// One pod on Bindery: a fresh HTTP/2 connection, one Resolve{presign: true}.
async fn resolve_pod(url: String) -> anyhow::Result<()> {
    let channel = Endpoint::from_shared(url)?
        .connect_timeout(Duration::from_secs(60))
        .timeout(Duration::from_secs(60))
        .connect()
        .await
        .context("connecting")?;
    let answer = ResolverServiceClient::new(channel)
        .resolve(v1::ResolveRequest {
            model_name: "storm/model".into(),
            binding: "production".into(),
            presign: true,
            ..Default::default()
        })
        .await
        .context("resolving")?
        .into_inner();
    anyhow::ensure!(answer.version == 1 && !answer.download_urls.is_empty(), "no presigned URL: {answer:?}");
    Ok(())
}

/// One pod on MLflow: a fresh HTTP/1.1 connection, the alias lookup, then get-download-uri.
async fn mlflow_pod(authority: String) -> anyhow::Result<()> {
    let stream = tokio::net::TcpStream::connect(&authority).await.context("connecting")?;
    stream.set_nodelay(true)?;
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut get = async |path: &str| -> anyhow::Result<Bytes> {
        send.ready().await?;
        let request = hyper::Request::get(path).header("host", &authority).body(Full::new(Bytes::new()))?;
        let response = send.send_request(request).await?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await?.to_bytes();
        anyhow::ensure!(status == 200, "HTTP {status} for {path}");
        Ok(body)
    };
    let alias = get("/api/2.0/mlflow/registered-models/alias?name=bench-0&alias=champion").await?;
    let alias: serde_json::Value = serde_json::from_slice(&alias)?;
    let version =
        alias["model_version"]["version"].as_str().context("no version in the alias answer")?.to_owned();
    let uri = get(&format!("/api/2.0/mlflow/model-versions/get-download-uri?name=bench-0&version={version}"))
        .await?;
    anyhow::ensure!(uri.windows(12).any(|w| w == b"artifact_uri"), "no artifact_uri");
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !args.mlflow_only {
        bindery_phases(args.pods).await?;
    }
    if let Some(base) = &args.mlflow {
        let authority = base.strip_prefix("http://").context("--mlflow must be http://host:port")?.to_owned();
        let outcome = storm(args.pods, |_| mlflow_pod(authority.clone())).await;
        report(&args.mlflow_label, 1, args.pods, outcome);
    }
    Ok(())
}

async fn bindery_phases(pods: usize) -> anyhow::Result<()> {
    let binary = bindery_binary()?;
    let db = TestDb::create().await?;
    let mut primary = Process::spawn(
        &binary,
        &[
            "primary",
            "--database-url",
            &db.url,
            "--verify-artifacts",
            "false",
            "--auth",
            "none",
            "--metrics-listen",
            "off",
        ],
    )?;
    primary.wait_serving(Duration::from_secs(30)).await?;
    let mut registry = RegistryServiceClient::connect(primary.endpoint()).await?;
    registry
        .create_model(v1::CreateModelRequest { name: "storm/model".into(), ..Default::default() })
        .await?;
    registry
        .register_version(v1::RegisterVersionRequest {
            model_name: "storm/model".into(),
            artifact: Some(v1::Artifact {
                uri: "s3://bench/storm/1/model.onnx".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await?;
    registry
        .set_binding(v1::SetBindingRequest {
            model_name: "storm/model".into(),
            binding: "production".into(),
            version: 1,
            ..Default::default()
        })
        .await?;

    let mut tier1 = Vec::new();
    for _ in 0..2 {
        let mut args = vec!["reader", "--database-url", &db.url, "--auth", "none", "--metrics-listen", "off"];
        args.extend_from_slice(&["--replication-secret", SECRET]);
        args.extend_from_slice(S3);
        let mut reader = Process::spawn(&binary, &args)?;
        reader.wait_serving(Duration::from_secs(30)).await?;
        tier1.push(reader);
    }
    let upstreams = [
        format!("{},{}", tier1[0].endpoint(), tier1[1].endpoint()),
        format!("{},{}", tier1[1].endpoint(), tier1[0].endpoint()),
    ];
    let mut tier2 = Vec::new();
    for upstream in &upstreams {
        let mut args = vec!["reader", "--auth", "none", "--metrics-listen", "off", "--upstream", upstream];
        args.extend_from_slice(&["--upstream-secret", SECRET]);
        args.extend_from_slice(S3);
        let mut reader = Process::spawn(&binary, &args)?;
        reader.wait_serving(Duration::from_secs(30)).await?;
        tier2.push(reader);
    }
    for (label, nodes) in [("tier1", &tier1), ("tier2", &tier2)] {
        let urls: Vec<String> = nodes.iter().map(Process::endpoint).collect();
        // A warm-up pod per node, so the first storm does not pay for lazy initialisation.
        for url in &urls {
            resolve_pod(url.clone()).await?;
        }
        let outcome = storm(pods, |i| resolve_pod(urls[i % urls.len()].clone())).await;
        report(label, urls.len(), pods, outcome);
    }
    drop((tier2, tier1, primary));
    Ok(())
}
