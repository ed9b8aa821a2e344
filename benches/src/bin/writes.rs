//! The write path on a `bindery primary` release process (fresh database, verification off):
//! sequential RegisterVersion and SetBinding latency, then sustained writes/s with C concurrent
//! writers, each on its own model (SetBinding flips between two versions; RegisterVersion with a
//! fresh request id). Prints `RESULT {...}` lines.

use std::time::{Duration, Instant};

use anyhow::Context;
use bindery_benches::{Process, Summary, bindery_binary, ms};
use bindery_proto::v1;
use bindery_proto::v1::registry_service_client::RegistryServiceClient;
use bindery_test_util::TestDb;
use clap::Parser;
use tonic::transport::Channel;

#[derive(Debug, Parser)]
struct Args {
    /// Sequential calls per latency measurement.
    #[arg(long, default_value_t = 500)]
    calls: usize,
    /// Concurrent writers for the sustained runs.
    #[arg(long, default_value_t = 16)]
    writers: usize,
    /// Seconds per sustained run.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
}

fn register(model: &str, request_id: String) -> v1::RegisterVersionRequest {
    let uri = format!("s3://bench-models/{model}/{request_id}/model.onnx");
    v1::RegisterVersionRequest {
        model_name: model.into(),
        request_id,
        artifact: Some(v1::Artifact {
            uri,
            sha256: "ab".repeat(32),
            size_bytes: 104_857_600,
            format: "onnx".into(),
            ..Default::default()
        }),
        metrics: [("auc".to_owned(), 0.93)].into(),
        params: [("lr".to_owned(), "0.01".to_owned())].into(),
        ..Default::default()
    }
}

fn bind(model: &str, version: u64) -> v1::SetBindingRequest {
    v1::SetBindingRequest {
        model_name: model.into(),
        binding: "production".into(),
        version,
        ..Default::default()
    }
}

fn report(label: &str, samples: &mut [Duration], elapsed: Option<Duration>) -> anyhow::Result<()> {
    let s = Summary::of(samples).context("no samples")?;
    #[allow(clippy::cast_precision_loss)]
    let rate = elapsed.map_or(0.0, |e| s.count as f64 / e.as_secs_f64());
    #[allow(clippy::print_stdout)]
    {
        println!(
            "{label}: {} calls, p50 {} ms, p99 {} ms, max {} ms{}",
            s.count,
            ms(s.p50),
            ms(s.p99),
            ms(s.max),
            if elapsed.is_some() { format!(", {rate:.0} writes/s") } else { String::new() }
        );
        println!(
            "RESULT {{\"label\":\"{label}\",\"calls\":{},\"p50_ms\":{},\"p99_ms\":{},\"max_ms\":{},\"writes_per_s\":{rate:.1}}}",
            s.count,
            ms(s.p50),
            ms(s.p99),
            ms(s.max)
        );
    }
    Ok(())
}

async fn sustained(
    channel: &Channel,
    writers: usize,
    duration: Duration,
    register_versions: bool,
) -> anyhow::Result<(Vec<Duration>, Duration)> {
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(writers);
    for w in 0..writers {
        let mut client = RegistryServiceClient::new(channel.clone());
        tasks.push(tokio::spawn(async move {
            let model = format!("bench/w{w}");
            let mut samples = Vec::new();
            let mut i = 0u64;
            while started.elapsed() < duration {
                let sent = Instant::now();
                if register_versions {
                    client.register_version(register(&model, format!("s{i}"))).await?;
                } else {
                    client.set_binding(bind(&model, 1 + i % 2)).await?;
                }
                samples.push(sent.elapsed());
                i += 1;
            }
            anyhow::Ok(samples)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    Ok((all, started.elapsed()))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let binary = bindery_binary()?;
    let db = TestDb::create().await?;
    let mut primary = Process::spawn(
        &binary,
        &["primary", "--database-url", &db.url, "--verify-artifacts", "false", "--auth", "none"],
    )?;
    primary.wait_serving(Duration::from_secs(30)).await?;
    let channel = Channel::from_shared(primary.endpoint())?.connect().await?;
    let mut client = RegistryServiceClient::new(channel.clone());

    client.create_model(v1::CreateModelRequest { name: "bench/seq".into(), ..Default::default() }).await?;
    for w in 0..args.writers {
        let model = format!("bench/w{w}");
        client.create_model(v1::CreateModelRequest { name: model.clone(), ..Default::default() }).await?;
        for v in 1..=2 {
            client.register_version(register(&model, format!("seed{v}"))).await?;
        }
    }
    // Warm up connections and statement caches.
    for i in 0..20 {
        client.register_version(register("bench/seq", format!("warm{i}"))).await?;
    }

    let mut samples = Vec::with_capacity(args.calls);
    for i in 0..args.calls {
        let sent = Instant::now();
        client.register_version(register("bench/seq", format!("r{i}"))).await?;
        samples.push(sent.elapsed());
    }
    report("register_version", &mut samples, None)?;

    let mut samples = Vec::with_capacity(args.calls);
    for i in 0..args.calls {
        let sent = Instant::now();
        client.set_binding(bind("bench/seq", 1 + (i as u64 % 2))).await?;
        samples.push(sent.elapsed());
    }
    report("set_binding", &mut samples, None)?;

    let duration = Duration::from_secs_f64(args.duration);
    let (mut samples, elapsed) = sustained(&channel, args.writers, duration, false).await?;
    report(&format!("set_binding_x{}", args.writers), &mut samples, Some(elapsed))?;
    let (mut samples, elapsed) = sustained(&channel, args.writers, duration, true).await?;
    report(&format!("register_version_x{}", args.writers), &mut samples, Some(elapsed))?;
    drop(primary);
    Ok(())
}
