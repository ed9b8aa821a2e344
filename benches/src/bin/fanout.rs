//! Watch fan-out: W concurrent WatchBindings streams on one read node; how long until one change
//! has reached all of them. A primary and a reader run as `bindery` release processes on a fresh
//! database; the watchers and the writer live here. For each round: start the clock, SetBinding
//! on the primary, stop when the last watcher has the change. Prints `RESULT {...}` lines.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bindery_benches::{Process, Summary, bindery_binary, ms};
use bindery_proto::v1;
use bindery_proto::v1::registry_service_client::RegistryServiceClient;
use bindery_proto::v1::resolver_service_client::ResolverServiceClient;
use bindery_test_util::TestDb;
use clap::Parser;
use futures_util::StreamExt;
use tokio::sync::Notify;
use tonic::transport::Endpoint;

#[derive(Debug, Parser)]
struct Args {
    /// Watcher counts to measure, e.g. `1000,10000`.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    watchers: Vec<usize>,
    /// Changes measured per watcher count.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Watch streams per HTTP/2 connection.
    #[arg(long, default_value_t = 100)]
    streams_per_connection: usize,
}

struct Round {
    /// Nanoseconds since `base` when the round's write was sent.
    sent_at: AtomicU64,
    revision: AtomicU64,
    arrived: AtomicUsize,
    /// Per-watcher arrival, nanoseconds after the send.
    latencies: std::sync::Mutex<Vec<Duration>>,
    done: Notify,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    for &w in &args.watchers {
        run(w, &args).await?;
    }
    Ok(())
}

async fn run(watchers: usize, args: &Args) -> anyhow::Result<()> {
    let binary = bindery_binary()?;
    let db = TestDb::create().await?;
    let mut primary = Process::spawn(
        &binary,
        &["primary", "--database-url", &db.url, "--verify-artifacts", "false", "--auth", "none"],
    )?;
    primary.wait_serving(Duration::from_secs(30)).await?;
    let max_watchers = (watchers + 1_000).max(20_000).to_string();
    let mut reader = Process::spawn(
        &binary,
        &["reader", "--database-url", &db.url, "--auth", "none", "--max-watchers", &max_watchers],
    )?;
    reader.wait_serving(Duration::from_secs(30)).await?;

    let mut registry = RegistryServiceClient::connect(primary.endpoint()).await?;
    registry.create_model(v1::CreateModelRequest { name: "fanout".into(), ..Default::default() }).await?;
    for v in 1..=2 {
        registry
            .register_version(v1::RegisterVersionRequest {
                model_name: "fanout".into(),
                artifact: Some(v1::Artifact {
                    uri: format!("s3://bench/fanout/{v}/model.onnx"),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await?;
    }
    let bind = |version: u64| v1::SetBindingRequest {
        model_name: "fanout".into(),
        binding: "production".into(),
        version,
        ..Default::default()
    };
    // Nothing else writes, so each round's write has the revision after the previous one.
    let mut last_revision = registry.set_binding(bind(1)).await?.into_inner().revision;

    let base = Instant::now();
    let round = Arc::new(Round {
        sent_at: AtomicU64::new(0),
        revision: AtomicU64::new(u64::MAX),
        arrived: AtomicUsize::new(0),
        latencies: std::sync::Mutex::new(Vec::with_capacity(watchers)),
        done: Notify::new(),
    });
    let connections = watchers.div_ceil(args.streams_per_connection.max(1));
    let mut channels = Vec::with_capacity(connections);
    for _ in 0..connections {
        channels.push(Endpoint::from_shared(reader.endpoint())?.connect().await?);
    }
    let opened = Instant::now();
    let ready = Arc::new(AtomicUsize::new(0));
    for i in 0..watchers {
        let mut client = ResolverServiceClient::new(channels[i % connections].clone());
        let (round, ready) = (round.clone(), ready.clone());
        let mut stream = client
            .watch_bindings(v1::WatchBindingsRequest {
                model_names: vec!["fanout".into()],
                ..Default::default()
            })
            .await
            .with_context(|| format!("opening watcher {i}"))?
            .into_inner();
        tokio::spawn(async move {
            // The first message is the current state.
            if stream.next().await.is_none() {
                return;
            }
            ready.fetch_add(1, Ordering::SeqCst);
            while let Some(Ok(message)) = stream.next().await {
                if message.revision < round.revision.load(Ordering::SeqCst) {
                    continue;
                }
                let now = u64::try_from(base.elapsed().as_nanos()).unwrap_or(u64::MAX);
                let took = Duration::from_nanos(now.saturating_sub(round.sent_at.load(Ordering::SeqCst)));
                if let Ok(mut l) = round.latencies.lock() {
                    l.push(took);
                }
                if round.arrived.fetch_add(1, Ordering::SeqCst) + 1 == watchers {
                    round.done.notify_one();
                }
            }
        });
    }
    while ready.load(Ordering::SeqCst) < watchers {
        if opened.elapsed() > Duration::from_secs(120) {
            bail!("only {} of {watchers} watchers started", ready.load(Ordering::SeqCst));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let open_time = opened.elapsed();

    let mut all = Vec::with_capacity(args.rounds);
    let mut last_latencies = Vec::new();
    for r in 0..args.rounds {
        round.arrived.store(0, Ordering::SeqCst);
        if let Ok(mut l) = round.latencies.lock() {
            l.clear();
        }
        let expected = last_revision + 1;
        round.revision.store(expected, Ordering::SeqCst);
        let done = round.done.notified();
        tokio::pin!(done);
        round.sent_at.store(u64::try_from(base.elapsed().as_nanos()).unwrap_or(0), Ordering::SeqCst);
        let sent = Instant::now();
        let written = registry.set_binding(bind(2 - (r as u64 % 2))).await?.into_inner();
        if written.revision != expected {
            bail!("unexpected revision {} (expected {expected}): something else wrote", written.revision);
        }
        last_revision = expected;
        tokio::time::timeout(Duration::from_secs(60), &mut done)
            .await
            .context("not every watcher got the change")?;
        all.push(sent.elapsed());
        last_latencies = round.latencies.lock().map(|l| l.clone()).unwrap_or_default();
    }
    let everyone = Summary::of(&mut all).context("no rounds")?;
    let each = Summary::of(&mut last_latencies).context("no arrivals")?;
    #[allow(clippy::print_stdout)]
    {
        println!(
            "fan-out to {watchers} watchers ({connections} connections, opened in {:.1}s): all received p50 {} ms, \
             max {} ms over {} rounds; last round per watcher p50 {} ms p99 {} ms",
            open_time.as_secs_f64(),
            ms(everyone.p50),
            ms(everyone.max),
            everyone.count,
            ms(each.p50),
            ms(each.p99)
        );
        println!(
            "RESULT {{\"label\":\"fanout\",\"watchers\":{watchers},\"all_p50_ms\":{},\"all_max_ms\":{},\"each_p50_ms\":{},\"each_p99_ms\":{},\"rounds\":{}}}",
            ms(everyone.p50),
            ms(everyone.max),
            ms(each.p50),
            ms(each.p99),
            everyone.count
        );
    }
    drop(reader);
    drop(primary);
    Ok(())
}
