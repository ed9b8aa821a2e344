//! Search at scale (issue 14): a fresh database with `--models` models × `--versions` versions
//! (default 10,000 × 100 = 1,000,000), each version with 10 metrics, 10 tags and 2 dataset refs,
//! some bound to `production` / `staging`; then each of a fixed set of representative filters
//! (selective and broad, ordered, a second page) run `--runs` times through the PostgreSQL store
//! as the primary runs them. Reports p50/p95 per filter and the plan PostgreSQL chose (EXPLAIN,
//! written to target/bench/search-explain.txt). Nothing asserts a time.

use std::time::{Duration, Instant};

use bindery_core::filter::{Search, Target};
use bindery_core::{PageRequest, Store, Visibility};
use bindery_filter_sql::{Dialect, Param, compile};
use bindery_test_util::TestDb;
use clap::Parser;

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, default_value_t = 10_000)]
    models: i64,
    #[arg(long, default_value_t = 100)]
    versions: i64,
    #[arg(long, default_value_t = 30)]
    runs: usize,
    /// Measure on a database an earlier run kept (`BINDERY_BENCH_KEEP_DB=1`) instead of seeding
    /// a new one.
    #[arg(long)]
    reuse: Option<String>,
}

/// The migration's backfill: the side tables filled from `versions`, set-based, exactly as an
/// upgraded database gets them.
const BACKFILL: &str = include_str!("../../../crates/store-postgres/migrations/0007_search_index.sql");

async fn seed(client: &tokio_postgres::Client, models: i64, versions: i64) -> anyhow::Result<()> {
    client
        .batch_execute("SELECT setseed(0.42); ALTER TABLE versions DISABLE TRIGGER versions_search_index")
        .await?;
    client
        .execute(
            "INSERT INTO models (name, description, owner, tags, last_version, created_at, created_by,
                 updated_at, updated_by, revision)
             SELECT 'ns' || (g % 100) || '/model-' || g, '', 'team' || (g % 50),
                 jsonb_build_object('tier', (g % 3)::text), $2, now(), 'bench', now(), 'bench', 1
             FROM generate_series(1, $1::bigint) g",
            &[&models, &versions],
        )
        .await?;
    let metrics = (0..10).map(|i| format!("'m{i}', random()")).collect::<Vec<_>>().join(", ");
    let tags =
        (0..10).map(|i| format!("'t{i}', 'v' || floor(random() * 100)::int")).collect::<Vec<_>>().join(", ");
    client
        .batch_execute(&format!(
            "INSERT INTO versions (model_id, version, status, request_payload, artifact_uri, artifact_sha256,
                 artifact_size, artifact_format, params, metrics, tags, lineage, signature_inputs,
                 signature_outputs, description, created_at, created_by, updated_at, updated_by, revision)
             SELECT m.id, v, CASE WHEN random() < 0.1 THEN 'ARCHIVED' ELSE 'READY' END, '{{}}',
                 's3://models/' || m.name || '/' || v, repeat('ab', 32), 1000, 'onnx',
                 jsonb_build_object('lr', '0.0' || (v % 9 + 1)),
                 jsonb_build_object({metrics}), jsonb_build_object({tags}),
                 jsonb_build_object('training_run_id', 'run-' || m.id || '-' || v, 'code_ref', 'git+x@' || v,
                     'datasets', jsonb_build_array(
                         jsonb_build_object('uri', 's3://data/d' || floor(random() * 1000)::int, 'version', '1'),
                         jsonb_build_object('uri', 's3://data/d' || floor(random() * 1000)::int, 'version', '2')),
                     'parent_versions', '[]'::jsonb, 'environment', '{{}}'::jsonb),
                 '', '', '', now() - make_interval(hours => v::int, secs => m.id::double precision), 'bench', now(), 'bench', 1
             FROM models m, generate_series(1, {versions}) v"
        ))
        .await?;
    let backfill = BACKFILL.split("-- Backfill what is already registered.").nth(1).unwrap_or_default();
    client.batch_execute(backfill).await?;
    client
        .batch_execute(
            "ALTER TABLE versions ENABLE TRIGGER versions_search_index;
             INSERT INTO bindings (model_id, name, version, generation, updated_at, updated_by, revision)
                 SELECT id, 'production', 1 + id % last_version, 1, now(), 'bench', 1 FROM models;
             INSERT INTO bindings (model_id, name, version, generation, updated_at, updated_by, revision)
                 SELECT id, 'staging', last_version, 1, now(), 'bench', 1 FROM models WHERE id % 2 = 0;
             UPDATE registry_state SET revision = 1",
        )
        .await?;
    // As autovacuum would after a bulk load: statistics, and the visibility map that lets the
    // covering indexes answer without visiting the tables.
    client.batch_execute("VACUUM ANALYZE").await?;
    Ok(())
}

/// `(label, filter, order_by, second page)`.
const SEARCHES: &[(&str, &str, &str, bool)] = &[
    ("selective metric", "metrics.m0 > 0.9995", "", false),
    ("seed question", "metrics.m1 > 0.95 AND binding = 'production'", "", false),
    ("a tag value", "tags.t3 = 'v17' AND tags.t4 = 'v3'", "", false),
    ("a dataset", "lineage.dataset = 's3://data/d42@1'", "", false),
    ("one model", "name = 'ns7/model-4207'", "", false),
    ("namespace and metric", "namespace = 'ns7' AND metrics.m2 > 0.99", "", false),
    ("metric or tag", "metrics.m0 > 0.999 OR tags.t1 = 'v3'", "", false),
    ("broad, first page", "status = 'READY'", "", false),
    ("broad, second page", "status = 'READY'", "", true),
    ("bound, by metric", "binding = 'production'", "metrics.m3 DESC", false),
    ("broad, by metric", "metrics.m2 > 0.5", "metrics.m2 DESC", false),
    ("broad, by time", "", "created_at DESC", false),
];

/// The `per_mille`-th of `sorted` (nearest rank).
fn percentile(sorted: &[Duration], per_mille: usize) -> f64 {
    let i = (sorted.len().saturating_sub(1) * per_mille).div_ceil(1_000);
    sorted.get(i).map_or(0.0, |d| d.as_secs_f64() * 1_000.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let db = match &args.reuse {
        Some(name) => TestDb::existing(name),
        None => TestDb::create().await?,
    };
    let pg = bindery_store_postgres::parse_config(&db.url, Duration::from_secs(10))?;
    let mut conn = bindery_store_postgres::connect(&pg).await?;
    bindery_store_postgres::migrate(&mut conn).await?;
    let seeded = Instant::now();
    if args.reuse.is_none() {
        seed(&conn, args.models, args.versions).await?;
    }
    let total = args.models * args.versions;
    #[allow(clippy::print_stdout)]
    if args.reuse.is_none() {
        println!(
            "seeded {total} versions over {} models in {:.0} s",
            args.models,
            seeded.elapsed().as_secs_f64()
        );
    }
    let store = bindery_store_postgres::PgStore::new(pg, &bindery_store_postgres::PoolOptions::default())?;
    // The plans as the store runs searches: without parallel workers.
    conn.batch_execute("SET max_parallel_workers_per_gather = 0").await?;
    let mut explain = String::new();
    for (label, filter, order, second) in SEARCHES {
        let search = Search::parse(Target::Versions, filter, order, None)?;
        let first = PageRequest { size: 100, after: None };
        let page = if *second {
            let found = store.search_versions(&search, &Visibility::All, first.clone()).await?;
            PageRequest { size: 100, after: found.next }
        } else {
            first
        };
        // The plan, for the same statement shape the store runs.
        let keyset = bindery_core::filter::Keyset::from_cursor(page.after.as_ref())?;
        let compiled = compile(&search, Dialect::Postgres, &Visibility::All, keyset.as_ref())?;
        explain.push_str(&format!("## {label}: {filter} {order}\n\n"));
        for (i, statement) in compiled.statements.iter().enumerate() {
            let sql = format!("EXPLAIN {}", statement.sql("v.model_id, v.version", 101));
            let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = statement
                .params
                .iter()
                .map(|p| match p {
                    Param::Text(s) => s as &(dyn tokio_postgres::types::ToSql + Sync),
                    Param::Number(n) => n,
                    Param::Int(i) => i,
                    Param::Time(t) => t,
                })
                .collect();
            let plan = conn.query(&sql, &params).await.map_err(|e| anyhow::anyhow!("{label}: {e:?}"))?;
            if compiled.statements.len() > 1 {
                explain.push_str(&format!("statement {} (run while the page is not full):\n", i + 1));
            }
            for row in plan {
                explain.push_str(&row.try_get::<_, String>(0)?);
                explain.push('\n');
            }
            explain.push('\n');
        }
        let mut times = Vec::with_capacity(args.runs);
        let mut rows = 0;
        for run in 0..args.runs + 3 {
            let started = Instant::now();
            let found = store.search_versions(&search, &Visibility::All, page.clone()).await?;
            if run >= 3 {
                times.push(started.elapsed());
            }
            rows = found.items.len();
        }
        times.sort();
        let (p50, p95) = (percentile(&times, 500), percentile(&times, 950));
        #[allow(clippy::print_stdout)]
        {
            println!("{label}: {filter:?} order {order:?}: {rows} rows, p50 {p50:.2} ms, p95 {p95:.2} ms");
            println!(
                "RESULT {{\"label\":\"search\",\"name\":{:?},\"filter\":{:?},\"order\":{:?},\"rows\":{rows},\"versions\":{total},\"p50_ms\":{p50:.2},\"p95_ms\":{p95:.2}}}",
                label, filter, order
            );
        }
    }
    std::fs::create_dir_all("target/bench")?;
    std::fs::write("target/bench/search-explain.txt", explain)?;
    if std::env::var_os("BINDERY_BENCH_KEEP_DB").is_some() {
        // For trying plans by hand: `psql -h 127.0.0.1 -U postgres <name>`; drop it afterwards.
        #[allow(clippy::print_stdout)]
        {
            println!("kept database {}", db.name);
        }
        std::mem::forget(db);
    }
    Ok(())
}
