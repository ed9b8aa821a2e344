//! Webhook deliveries against the write path (issue 16): sequential SetBinding latency on a
//! `bindery primary` release process with no webhooks, then with W webhooks subscribed to
//! `binding.changed` on a local receiver (every write fans out to W deliveries while the next
//! writes run), then with none again; rounds alternate so drift on this shared machine shows.
//! Also how long the deliveries take to drain after the writes stop. Prints `RESULT {...}` lines.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use bindery_benches::{Process, Summary, bindery_binary, ms};
use bindery_proto::v1;
use bindery_proto::v1::registry_service_client::RegistryServiceClient;
use bindery_test_util::TestDb;
use clap::Parser;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tonic::transport::Channel;

#[derive(Debug, Parser)]
struct Args {
    /// Sequential SetBinding calls per round.
    #[arg(long, default_value_t = 500)]
    calls: usize,
    /// Webhooks subscribed in the loaded rounds.
    #[arg(long, default_value_t = 100)]
    webhooks: usize,
    /// Rounds of (without, with).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// SetBinding calls per second (0: back to back, as fast as the primary answers).
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
}

/// A minimal HTTP/1.1 receiver answering 204 to everything; counts requests.
async fn receiver(listener: TcpListener, count: Arc<AtomicU64>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { return };
        let count = Arc::clone(&count);
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut read = BufReader::new(read);
            let mut line = String::new();
            loop {
                line.clear();
                if read.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return;
                }
                let mut len = 0usize;
                loop {
                    line.clear();
                    if read.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let l = line.trim_end().to_ascii_lowercase();
                    if l.is_empty() {
                        break;
                    }
                    if let Some(v) = l.strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; len];
                if read.read_exact(&mut body).await.is_err() {
                    return;
                }
                count.fetch_add(1, Ordering::Relaxed);
                if write.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").await.is_err() {
                    return;
                }
            }
        });
    }
}

async fn set_bindings(
    client: &mut RegistryServiceClient<Channel>,
    calls: usize,
    first: u64,
    rate: f64,
) -> anyhow::Result<Vec<Duration>> {
    let mut samples = Vec::with_capacity(calls);
    let mut pace = (rate > 0.0).then(|| tokio::time::interval(Duration::from_secs_f64(1.0 / rate)));
    for i in 0..calls {
        if let Some(pace) = &mut pace {
            pace.tick().await;
        }
        let req = v1::SetBindingRequest {
            model_name: "bench/hooks".into(),
            binding: "production".into(),
            version: 1 + (first + i as u64) % 2,
            ..Default::default()
        };
        let sent = Instant::now();
        client.set_binding(req).await?;
        samples.push(sent.elapsed());
    }
    Ok(samples)
}

fn result(label: &str, samples: &mut [Duration], extra: &str) -> anyhow::Result<Duration> {
    let s = Summary::of(samples).context("no samples")?;
    #[allow(clippy::print_stdout)]
    {
        println!("{label}: {} calls, p50 {} ms, p99 {} ms{extra}", s.count, ms(s.p50), ms(s.p99));
        println!(
            "RESULT {{\"label\":\"{label}\",\"calls\":{},\"p50_ms\":{},\"p99_ms\":{}}}",
            s.count,
            ms(s.p50),
            ms(s.p99)
        );
    }
    Ok(s.p50)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let received = Arc::new(AtomicU64::new(0));
    tokio::spawn(receiver(listener, Arc::clone(&received)));

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
            "--webhook-allowed-hosts",
            "127.0.0.1",
        ],
    )?;
    primary.wait_serving(Duration::from_secs(30)).await?;
    let channel = Channel::from_shared(primary.endpoint())?.connect().await?;
    let mut client = RegistryServiceClient::new(channel);
    client.create_model(v1::CreateModelRequest { name: "bench/hooks".into(), ..Default::default() }).await?;
    for v in 1..=2 {
        let req = v1::RegisterVersionRequest {
            model_name: "bench/hooks".into(),
            artifact: Some(v1::Artifact {
                uri: format!("s3://bench-models/hooks/{v}/model.onnx"),
                sha256: "ab".repeat(32),
                size_bytes: 1,
                format: "onnx".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        client.register_version(req).await?;
    }
    set_bindings(&mut client, 50, 0, 0.0).await?; // warm up

    let mut without = Vec::new();
    let mut with = Vec::new();
    let mut first = 50;
    for round in 0..args.rounds {
        let mut samples = set_bindings(&mut client, args.calls, first, args.rate).await?;
        first += args.calls as u64;
        let mode = if args.rate > 0.0 { format!("paced{}", args.rate) } else { "flat".to_owned() };
        without.push(result(&format!("webhooks_{mode}_none_r{round}"), &mut samples, "")?);

        let mut ids = Vec::new();
        for _ in 0..args.webhooks {
            let req = v1::CreateWebhookRequest {
                url: url.clone(),
                events: vec!["binding.changed".into()],
                scope: "bench/".into(),
                ..Default::default()
            };
            ids.push(client.create_webhook(req).await?.into_inner().webhook.context("no webhook")?.id);
        }
        let before = received.load(Ordering::Relaxed);
        let started = Instant::now();
        let mut samples = set_bindings(&mut client, args.calls, first, args.rate).await?;
        first += args.calls as u64;
        let writes_done = started.elapsed();
        let expected = before + (args.calls * args.webhooks) as u64;
        let deadline = Instant::now() + Duration::from_secs(600);
        while received.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let drained = started.elapsed();
        let got = received.load(Ordering::Relaxed) - before;
        #[allow(clippy::cast_precision_loss)]
        let rate = got as f64 / drained.as_secs_f64();
        let extra = format!(
            "; {got} deliveries drained {:.2} s after the first write ({:.2} s of writes), {rate:.0} deliveries/s",
            drained.as_secs_f64(),
            writes_done.as_secs_f64()
        );
        let label = format!("webhooks_{mode}_{}_r{round}", args.webhooks);
        with.push(result(&label, &mut samples, &extra)?);
        #[allow(clippy::print_stdout)]
        {
            println!(
                "RESULT {{\"label\":\"webhooks_drain\",\"mode\":\"{mode}\",\"round\":{round},\"deliveries\":{got},\"drain_s\":{:.3},\"writes_s\":{:.3},\"deliveries_per_s\":{rate:.1}}}",
                drained.as_secs_f64(),
                writes_done.as_secs_f64()
            );
        }
        for id in ids {
            client.delete_webhook(v1::DeleteWebhookRequest { id }).await?;
        }
    }
    without.sort();
    with.sort();
    let (a, b) = (without[without.len() / 2], with[with.len() / 2]);
    #[allow(clippy::print_stdout)]
    {
        println!(
            "set_binding p50 with {} webhooks / without (median of {} rounds, {}): {:.3}",
            args.webhooks,
            args.rounds,
            if args.rate > 0.0 { format!("{} writes/s", args.rate) } else { "back to back".to_owned() },
            b.as_secs_f64() / a.as_secs_f64()
        );
        println!(
            "RESULT {{\"label\":\"webhooks_ratio\",\"rate\":{},\"rounds\":{},\"webhooks\":{},\"p50_without_ms\":{},\"p50_with_ms\":{},\"ratio\":{:.3}}}",
            args.rate,
            args.rounds,
            args.webhooks,
            ms(a),
            ms(b),
            b.as_secs_f64() / a.as_secs_f64()
        );
    }
    drop(primary);
    Ok(())
}
