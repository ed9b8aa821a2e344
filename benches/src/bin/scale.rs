//! Scale: a read node's cold start (snapshot load until SERVING) and memory with N bindings (and
//! N versions) in the database. For each N: a fresh database, seeded in bulk (N/4 models × 4
//! versions, one binding per version), then a `bindery reader` release process; we time it from
//! spawn to SERVING and read its RSS. An empty database gives the baseline RSS, so
//! `(RSS(N) - RSS(0)) / N` is the memory per cached binding. Each N is started twice: reading the
//! tables (no stored snapshot yet), then from the compact snapshot the primary would have stored
//! (written here with the same store call, and timed).

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
    /// Reading the tables (no stored snapshot yet).
    from_tables: Start,
    /// Writing a compact snapshot (what the primary does in the background).
    store_snapshot: Duration,
    snapshot_bytes: usize,
    /// From the stored compact snapshot.
    from_snapshot: Start,
    /// A tier-2 node from that tier-1 node.
    from_upstream: Start,
}

struct Start {
    cold_start: Duration,
    rss_kib: u64,
    peak_kib: u64,
}

const SECRET: &str = "scale-benchmark-replication-secret-0123";

/// A reader with `args` (after `reader --auth none`), timed from spawn to SERVING; its RSS.
async fn start(binary: &str, args: &[&str]) -> anyhow::Result<(Start, Process)> {
    let mut argv = vec!["reader", "--auth", "none", "--metrics-listen", "off"];
    argv.extend_from_slice(args);
    let mut reader = Process::spawn(binary, &argv)?;
    let cold_start = reader.wait_serving(Duration::from_secs(300)).await.context("reader cold start")?;
    // Let the allocator settle after the snapshot load.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (rss_kib, peak_kib) = reader.rss_kib()?;
    Ok((Start { cold_start, rss_kib, peak_kib }, reader))
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
    let (from_tables, reader) = start(binary, &["--database-url", &db.url]).await?;
    drop(reader);
    let store = bindery_store_postgres::PgStore::new(pg, &bindery_store_postgres::PoolOptions::default())?;
    let writing = Instant::now();
    let policy = bindery_store_postgres::SnapshotPolicy { min_changes: 1, max_age: Duration::ZERO };
    let stored = store.write_snapshot(policy).await?.context("no snapshot written")?;
    let store_snapshot = writing.elapsed();
    let (from_snapshot, tier1) =
        start(binary, &["--database-url", &db.url, "--replication-secret", SECRET]).await?;
    let upstream = format!("http://{}", tier1.addr);
    let (from_upstream, _tier2) =
        start(binary, &["--upstream", &upstream, "--upstream-secret", SECRET]).await?;
    Ok(Measured {
        bindings: n,
        seed,
        from_tables,
        store_snapshot,
        snapshot_bytes: stored.bytes,
        from_snapshot,
        from_upstream,
    })
}

/// Prints what it measured (one `RESULT` JSON line per start for benches/run.sh).
#[allow(clippy::print_stdout)]
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let binary = bindery_binary()?;
    let empty = measure(&binary, 0).await?;
    let baseline = empty.from_tables.rss_kib;
    {
        println!(
            "empty database: cold start {:.3} s, RSS {baseline} KiB",
            empty.from_tables.cold_start.as_secs_f64()
        );
    }
    for &n in &args.bindings {
        let m = measure(&binary, n).await?;
        #[allow(clippy::cast_precision_loss)]
        let per_binding = |s: &Start| (s.rss_kib.saturating_sub(baseline) * 1024) as f64 / m.bindings as f64;
        let sources = [
            ("tables", &m.from_tables),
            ("stored snapshot", &m.from_snapshot),
            ("upstream", &m.from_upstream),
        ];
        for (source, s) in sources {
            println!(
                "{} bindings (seeded in {:.1} s), from the {source}: cold start {:.3} s, RSS {} KiB (peak {} KiB), {:.0} bytes per binding",
                m.bindings,
                m.seed.as_secs_f64(),
                s.cold_start.as_secs_f64(),
                s.rss_kib,
                s.peak_kib,
                per_binding(s),
            );
            println!(
                "RESULT {{\"label\":\"scale\",\"source\":\"{source}\",\"bindings\":{},\"cold_start_s\":{:.3},\"rss_kib\":{},\"peak_kib\":{},\"bytes_per_binding\":{:.0},\"snapshot_write_s\":{:.3},\"snapshot_bytes\":{}}}",
                m.bindings,
                s.cold_start.as_secs_f64(),
                s.rss_kib,
                s.peak_kib,
                per_binding(s),
                m.store_snapshot.as_secs_f64(),
                m.snapshot_bytes,
            );
        }
    }
    Ok(())
}
