//! Propagation latency: how long after a SetBinding is acknowledged is it visible on every reader?
//!
//! Starts a primary and R readers (in this process, on a fresh database of the PostgreSQL at
//! `BINDERY_TEST_DATABASE_URL`), subscribes a WatchBindings stream on each reader, then performs
//! N sequential SetBinding writes. For each write it records
//! - `ack`: the write's round trip (request sent -> response received), the baseline;
//! - `visible`: request sent -> the change has arrived on the watch stream of *every* reader.
//!
//! `visible - ack` bounds the propagation after commit from above (the commit happens before
//! the ack). Percentiles are nearest-rank over all writes.
//!
//! With `--tier2`, as many tier-2 read nodes follow the tier-1 ones (`--upstream`, each starting
//! with a different one), and `tier-2 visible` is request sent -> arrived on every tier-2 node:
//! the propagation through the tree, next to tier 1's in the same run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bindery_benches::{Summary, ms};
use bindery_proto::v1;
use bindery_test_util::{TestPrimary, TestReader};
use clap::Parser;
use futures_util::StreamExt;
use tokio::sync::Notify;

#[derive(Debug, Parser)]
struct Args {
    /// Sequential writes to measure.
    #[arg(long, default_value_t = 1_000)]
    writes: usize,
    /// Reader counts to measure, e.g. `1,4`.
    #[arg(long, value_delimiter = ',', default_value = "1,4")]
    readers: Vec<usize>,
    /// Also measure tier-2 read nodes following the tier-1 ones.
    #[arg(long)]
    tier2: bool,
}

const SECRET: &str = "propagation-benchmark-replication-secret";

/// Arrival times of each revision on each reader.
#[derive(Default)]
struct Arrivals {
    seen: Mutex<HashMap<u64, (usize, Instant)>>,
    notify: Notify,
}

/// Subscribes to `bench` on `reader` and records each revision's arrival in `arrivals`.
async fn watch(reader: &TestReader, arrivals: Arc<Arrivals>) -> anyhow::Result<()> {
    let mut stream = reader
        .resolver()
        .await?
        .watch_bindings(v1::WatchBindingsRequest { model_names: vec!["bench".into()], ..Default::default() })
        .await?
        .into_inner();
    let first = stream.next().await.context("watch ended")??;
    if !first.reset {
        bail!("first watch message must be the current state");
    }
    tokio::spawn(async move {
        while let Some(Ok(message)) = stream.next().await {
            let now = Instant::now();
            {
                let mut seen = arrivals.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let entry = seen.entry(message.revision).or_insert((0, now));
                entry.0 += 1;
                entry.1 = entry.1.max(now);
            }
            arrivals.notify.notify_waiters();
        }
    });
    Ok(())
}

/// When `revision` had arrived on all `n` watchers.
async fn all_seen(arrivals: &Arrivals, revision: u64, n: usize) -> anyhow::Result<Instant> {
    loop {
        let notified = arrivals.notify.notified();
        let done = {
            let seen = arrivals.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            seen.get(&revision).filter(|(count, _)| *count == n).map(|(_, t)| *t)
        };
        if let Some(t) = done {
            return Ok(t);
        }
        if tokio::time::timeout(Duration::from_secs(10), notified).await.is_err() {
            bail!("revision {revision} not visible on all {n} readers within 10 s");
        }
    }
}

struct Measured {
    ack: Summary,
    visible: Summary,
    after_ack: Summary,
    tier2: Option<Summary>,
}

async fn run(readers_n: usize, writes: usize, tier2: bool) -> anyhow::Result<Measured> {
    let primary = TestPrimary::start().await?;
    let mut registry = primary.registry().await?;
    let request = |name: &str| v1::CreateModelRequest { name: name.into(), ..Default::default() };
    registry.create_model(request("bench")).await?;
    for v in 1..=2 {
        registry
            .register_version(v1::RegisterVersionRequest {
                model_name: "bench".into(),
                request_id: format!("r{v}"),
                artifact: Some(v1::Artifact {
                    uri: format!("s3://bench/{v}/model.onnx"),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await?;
    }
    let mut readers = Vec::new();
    for _ in 0..readers_n {
        readers.push(
            TestReader::start_with(&primary.db.url, |c| c.replication_secret = Some(SECRET.into())).await?,
        );
    }
    let mut second = Vec::new();
    if tier2 {
        for i in 0..readers_n {
            // Each tier-2 node starts with a different tier-1 node.
            let urls: Vec<String> =
                (0..readers_n).map(|k| format!("http://{}", readers[(i + k) % readers_n].addr)).collect();
            second.push(
                TestReader::start_with("postgres://unused@127.0.0.1:1/unused", |c| {
                    c.upstream = urls;
                    c.upstream_secret = Some(SECRET.into());
                })
                .await?,
            );
        }
    }
    let arrivals = Arc::new(Arrivals::default());
    for reader in &readers {
        watch(reader, arrivals.clone()).await?;
    }
    let arrivals2 = Arc::new(Arrivals::default());
    for reader in &second {
        watch(reader, arrivals2.clone()).await?;
    }

    let (mut ack, mut visible, mut after_ack, mut visible2) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..writes {
        let version = (i % 2 + 1) as u64;
        let sent = Instant::now();
        let written = registry
            .set_binding(v1::SetBindingRequest {
                model_name: "bench".into(),
                binding: "production".into(),
                version,
                expected_generation: None,
                reason: String::new(),
                ..Default::default()
            })
            .await?
            .into_inner();
        let acked = Instant::now();
        let seen = all_seen(&arrivals, written.revision, readers_n).await?;
        ack.push(acked - sent);
        visible.push(seen.saturating_duration_since(sent));
        after_ack.push(seen.saturating_duration_since(acked));
        if tier2 {
            visible2.push(
                all_seen(&arrivals2, written.revision, readers_n).await?.saturating_duration_since(sent),
            );
        }
    }
    let summary = |v: &mut Vec<Duration>| Summary::of(v).context("no samples");
    Ok(Measured {
        ack: summary(&mut ack)?,
        visible: summary(&mut visible)?,
        after_ack: summary(&mut after_ack)?,
        tier2: if tier2 { Some(summary(&mut visible2)?) } else { None },
    })
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut out = String::from(
        "| readers | writes | write ack p50 / p99 (ms) | visible on all p50 / p99 (ms) | after ack p50 / p99 / max (ms) | visible p50 / ack p50 |\n|---|---|---|---|---|---|\n",
    );
    for &n in &args.readers {
        let Measured { ack, visible, after_ack: after, tier2 } = run(n, args.writes, args.tier2).await?;
        out.push_str(&format!(
            "| {n} | {} | {} / {} | {} / {} | {} / {} / {} | {:.2} |\n",
            ack.count,
            ms(ack.p50),
            ms(ack.p99),
            ms(visible.p50),
            ms(visible.p99),
            ms(after.p50),
            ms(after.p99),
            ms(after.max),
            visible.p50.as_secs_f64() / ack.p50.as_secs_f64(),
        ));
        let tier2 = tier2.map_or_else(String::new, |t| {
            out.push_str(&format!("|   tier 2 ({n} nodes) | | | {} / {} | | |\n", ms(t.p50), ms(t.p99)));
            format!(",\"tier2_visible_p50_ms\":{},\"tier2_visible_p99_ms\":{}", ms(t.p50), ms(t.p99))
        });
        out.push_str(&format!(
            "RESULT {{\"label\":\"propagation\",\"readers\":{n},\"writes\":{},\"ack_p50_ms\":{},\"ack_p99_ms\":{},\"visible_p50_ms\":{},\"visible_p99_ms\":{},\"after_ack_p99_ms\":{},\"after_ack_max_ms\":{}{tier2}}}\n",
            ack.count,
            ms(ack.p50),
            ms(ack.p99),
            ms(visible.p50),
            ms(visible.p99),
            ms(after.p99),
            ms(after.max)
        ));
    }
    #[allow(clippy::print_stdout)]
    {
        print!("{out}");
    }
    Ok(())
}
