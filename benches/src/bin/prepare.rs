//! Creates (or with `--drop`, drops) a benchmark database on the PostgreSQL server the tests use
//! (`BINDERY_TEST_DATABASE_URL`), migrated and seeded with `--models` × `--bindings` bindings.
//! Prints the database URL.

use anyhow::Context;
use bindery_benches::seed;
use clap::Parser;

#[derive(Debug, Parser)]
struct Args {
    /// Database name.
    #[arg(long, default_value = "bindery_bench")]
    database: String,
    #[arg(long, default_value_t = 1_000)]
    models: usize,
    #[arg(long, default_value_t = 4)]
    bindings: usize,
    /// Drop the database and exit.
    #[arg(long)]
    drop: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.database.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
        "--database must be [a-z0-9_]"
    );
    let server = bindery_test_util::server_url();
    let (admin, connection) =
        tokio_postgres::connect(&server, tokio_postgres::NoTls).await.context("connecting")?;
    tokio::spawn(connection);
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", args.database)).await?;
    if args.drop {
        return Ok(());
    }
    admin.batch_execute(&format!("CREATE DATABASE {}", args.database)).await?;
    let url = bindery_test_util::with_database(&server, &args.database);
    let pg = bindery_store_postgres::parse_config(&url, std::time::Duration::from_secs(10))?;
    let mut conn = bindery_store_postgres::connect(&pg).await?;
    bindery_store_postgres::migrate(&mut conn).await?;
    seed(&conn, args.models, args.bindings).await?;
    #[allow(clippy::print_stdout)]
    {
        println!("{url}");
    }
    Ok(())
}
