//! HTTP/1.1 load generator for MLflow's REST API, the same for Bindery's MLflow facade and a real
//! MLflow server: N keep-alive connections, one request in flight on each (HTTP/1.1), for a fixed
//! time; `GET <base><path>` with `{m}` in the path replaced by a model index drawn uniformly from
//! 0..models. Latencies in an HDR histogram; a non-200 answer is an error. Prints one human line
//! and one JSON line (`RESULT {...}`).
//!
//! `--seed` instead creates models `bench-0..models`, each with version 1 (an `s3://` source)
//! and alias `champion`, through the same REST API, then exits.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bindery_benches::{LoadState, Rng, latency_histogram};
use bytes::Bytes;
use clap::Parser;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

#[derive(Debug, Parser)]
struct Args {
    /// `http://host:port` of the MLflow API.
    #[arg(long)]
    base: String,
    /// Path and query, `{m}` replaced by the model index.
    #[arg(long, default_value = "/api/2.0/mlflow/registered-models/alias?name=bench-{m}&alias=champion")]
    path: String,
    /// Connections, each with one request in flight.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    #[arg(long, default_value_t = 100)]
    models: usize,
    #[arg(long, default_value = "mlflow_alias")]
    label: String,
    /// Create the models, versions and aliases, then exit.
    #[arg(long)]
    seed: bool,
    /// Wait up to this long for `GET /health` to answer 200.
    #[arg(long, default_value_t = 120.0)]
    wait_secs: f64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let authority = args.base.strip_prefix("http://").context("--base must be http://host:port")?.to_owned();
    wait_healthy(&authority, Duration::from_secs_f64(args.wait_secs)).await?;
    if args.seed {
        return seed(&authority, args.models).await;
    }
    let shared = Arc::new(LoadState::default());
    let mut tasks = Vec::with_capacity(args.concurrency);
    for i in 0..args.concurrency {
        let conn = connect(&authority).await?;
        tasks.push(tokio::spawn(worker(
            conn,
            authority.clone(),
            args.path.clone(),
            args.models,
            shared.clone(),
            i as u64,
        )));
    }
    let (warmup, duration) = (Duration::from_secs_f64(args.warmup), Duration::from_secs_f64(args.duration));
    let (total, elapsed) = shared.run(warmup, duration, tasks).await?;
    let detail = format!("{} HTTP/1.1 connections, {} models", args.concurrency, args.models);
    shared.print(&args.label, &total, elapsed, args.concurrency, args.concurrency, &detail);
    Ok(())
}

type Conn = SendRequest<Full<Bytes>>;

async fn connect(authority: &str) -> anyhow::Result<Conn> {
    let stream = TcpStream::connect(authority).await.with_context(|| format!("connecting to {authority}"))?;
    stream.set_nodelay(true)?;
    let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(send)
}

/// Sends one request; answers the status and body.
async fn send(
    conn: &mut Conn,
    authority: &str,
    method: &str,
    path: &str,
    body: Option<String>,
) -> anyhow::Result<(u16, Bytes)> {
    conn.ready().await?;
    let mut builder = Request::builder().method(method).uri(path).header("host", authority);
    if body.is_some() {
        builder = builder.header("content-type", "application/json");
    }
    let request = builder.body(Full::new(Bytes::from(body.unwrap_or_default())))?;
    let response = conn.send_request(request).await?;
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await?.to_bytes();
    Ok((status, bytes))
}

async fn worker(
    mut conn: Conn,
    authority: String,
    path: String,
    models: usize,
    shared: Arc<LoadState>,
    seed: u64,
) -> anyhow::Result<Histogram<u64>> {
    let mut histogram = latency_histogram()?;
    let mut rng = Rng::new(seed + 1);
    let models = u64::try_from(models.max(1))?;
    while !shared.stop.load(Ordering::Relaxed) {
        let m = rng.next_u64() % models;
        let target = path.replace("{m}", &m.to_string());
        let sent = Instant::now();
        let ok = match send(&mut conn, &authority, "GET", &target, None).await {
            Ok((status, _)) => status == 200,
            Err(_) => {
                // The server closed the connection (e.g. a worker restarted): open another.
                conn = connect(&authority).await?;
                false
            }
        };
        shared.record(&mut histogram, ok, sent.elapsed())?;
    }
    Ok(histogram)
}

async fn seed(authority: &str, models: usize) -> anyhow::Result<()> {
    let mut conn = connect(authority).await?;
    for m in 0..models {
        let name = format!("bench-{m}");
        let calls = [
            ("/api/2.0/mlflow/registered-models/create", format!(r#"{{"name":"{name}"}}"#)),
            (
                "/api/2.0/mlflow/model-versions/create",
                format!(
                    r#"{{"name":"{name}","source":"s3://bench/{name}/model","tags":[{{"key":"team","value":"bench"}}]}}"#
                ),
            ),
            (
                "/api/2.0/mlflow/registered-models/alias",
                format!(r#"{{"name":"{name}","alias":"champion","version":"1"}}"#),
            ),
        ];
        for (path, body) in calls {
            let (status, answer) = send(&mut conn, authority, "POST", path, Some(body)).await?;
            if status != 200 {
                bail!("{path} for {name}: {status} {}", String::from_utf8_lossy(&answer));
            }
        }
    }
    Ok(())
}

async fn wait_healthy(authority: &str, timeout: Duration) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        if let Ok(mut conn) = connect(authority).await
            && let Ok((200, _)) = send(&mut conn, authority, "GET", "/health", None).await
        {
            return Ok(());
        }
        anyhow::ensure!(
            started.elapsed() < timeout,
            "{authority} did not answer GET /health within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
