//! Scale: a read node's cold start (snapshot load until SERVING) and memory with N bindings (and
//! N versions) in the database. For each N: a fresh database, seeded in bulk (N/4 models × 4
//! versions, one binding per version), then a `bindery reader` release process; we time it from
//! spawn to SERVING and read its RSS. An empty database gives the baseline RSS, so
//! `(RSS(N) - RSS(0)) / N` is the memory per cached binding.

use std::time::{Duration, Instant};

use anyhow::Context;
use bindery_benches::{Process, bindery_binary, seed};
use bindery_test_util::TestDb;
use clap::Parser;

#[derive(Debug, Parser)]
struct Args {
    /// Binding counts, e.g. `10000,100000,1000000`.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000,1000000")]
    bindings: Vec<usize>,
}

struct Measured {
    bindings: usize,
    seed: Duration,
    cold_start: Duration,
    rss_kib: u64,
    peak_kib: u64,
}

async fn measure(binary: &str, n: usize) -> anyhow::Result<Measured> {
    let db = TestDb::create().await?;
    let pg = bindery_store_postgres::parse_config(&db.url, Duration::from_secs(10))?;
    let mut conn = bindery_store_postgres::connect(&pg).await?;
    bindery_store_postgres::migrate(&mut conn).await?;
    let seeded = Instant::now();
    if n > 0 {
        let (_, bindings) = seed(&conn, n.div_ceil(4), 4).await?;
        anyhow::ensure!(usize::try_from(bindings)? == n.div_ceil(4) * 4, "seeded {bindings} bindings");
    }
    let seed = seeded.elapsed();
    let mut reader = Process::spawn(binary, &["reader", "--database-url", &db.url, "--auth", "none"])?;
    let cold_start = reader.wait_serving(Duration::from_secs(300)).await.context("reader cold start")?;
    // Let the allocator settle after the snapshot load.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (rss_kib, peak_kib) = reader.rss_kib()?;
    Ok(Measured { bindings: n, seed, cold_start, rss_kib, peak_kib })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let binary = bindery_binary()?;
    let empty = measure(&binary, 0).await?;
    #[allow(clippy::print_stdout)]
    {
        println!(
            "empty database: cold start {:.3} s, RSS {} KiB",
            empty.cold_start.as_secs_f64(),
            empty.rss_kib
        );
        println!(
            "RESULT {{\"label\":\"scale\",\"bindings\":0,\"cold_start_s\":{:.3},\"rss_kib\":{},\"peak_kib\":{},\"bytes_per_binding\":0}}",
            empty.cold_start.as_secs_f64(),
            empty.rss_kib,
            empty.peak_kib
        );
    }
    for &n in &args.bindings {
        let m = measure(&binary, n).await?;
        #[allow(clippy::cast_precision_loss)]
        let per_binding = (m.rss_kib.saturating_sub(empty.rss_kib) * 1024) as f64 / m.bindings as f64;
        #[allow(clippy::print_stdout)]
        {
            println!(
                "{} bindings (seeded in {:.1} s): cold start {:.3} s, RSS {} KiB (peak {} KiB), {per_binding:.0} bytes per binding",
                m.bindings,
                m.seed.as_secs_f64(),
                m.cold_start.as_secs_f64(),
                m.rss_kib,
                m.peak_kib
            );
            println!(
                "RESULT {{\"label\":\"scale\",\"bindings\":{},\"cold_start_s\":{:.3},\"rss_kib\":{},\"peak_kib\":{},\"bytes_per_binding\":{per_binding:.0}}}",
                m.bindings,
                m.cold_start.as_secs_f64(),
                m.rss_kib,
                m.peak_kib
            );
        }
    }
    Ok(())
}
