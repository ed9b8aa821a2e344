//! Embedded schema migrations, applied under a Postgres advisory lock so that several primaries
//! starting at once apply each migration exactly once. Readers only check the schema version.

use bindery_core::{Error, Result};
use tokio_postgres::Client;

use crate::error::StoreError;

/// `(version, name, sql)`, in order. Never edit an applied migration; add a new one.
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "init", include_str!("../migrations/0001_init.sql")),
    (2, "artifacts", include_str!("../migrations/0002_artifacts.sql")),
    (3, "access", include_str!("../migrations/0003_access.sql")),
    (4, "audit_head", include_str!("../migrations/0004_audit_head.sql")),
    (5, "gc_tombstones", include_str!("../migrations/0005_gc_tombstones.sql")),
    (6, "promotions", include_str!("../migrations/0006_promotions.sql")),
    (7, "search_index", include_str!("../migrations/0007_search_index.sql")),
    (8, "annotations", include_str!("../migrations/0008_annotations.sql")),
    (9, "traffic", include_str!("../migrations/0009_traffic.sql")),
    (10, "webhooks", include_str!("../migrations/0010_webhooks.sql")),
    (11, "snapshots", include_str!("../migrations/0011_snapshots.sql")),
];

/// Arbitrary but fixed: "bindery" in ASCII.
const MIGRATION_LOCK: i64 = 0x0062_696e_6465_7279;

/// The schema version this binary expects.
pub fn expected_schema_version() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

const CREATE_MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)";

/// Applies pending migrations on `client` (a dedicated connection, not a pooled one: the advisory
/// lock belongs to the session). Returns the versions applied by this call.
pub async fn migrate(client: &mut Client) -> Result<Vec<i32>> {
    run(client).await.map_err(|e| e.into_domain("migrate"))
}

async fn run(client: &mut Client) -> Result<Vec<i32>, StoreError> {
    client.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK]).await?;
    let result = apply_pending(client).await;
    // Released with the session anyway; unlock explicitly so a long-lived caller does not hold it.
    let unlocked = client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]).await;
    let applied = result?;
    unlocked?;
    Ok(applied)
}

async fn apply_pending(client: &mut Client) -> Result<Vec<i32>, StoreError> {
    client.batch_execute(CREATE_MIGRATIONS_TABLE).await?;
    let current = current_version(client).await?;
    check_not_newer(current)?;
    let mut applied = Vec::new();
    for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        let tx = client.transaction().await?;
        tx.batch_execute(sql).await?;
        tx.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", &[version, name]).await?;
        tx.commit().await?;
        tracing::info!(version, name, "applied migration");
        applied.push(*version);
    }
    Ok(applied)
}

/// The schema version of the database (0 when never migrated).
pub(crate) async fn current_version(client: &Client) -> Result<i32, StoreError> {
    let exists: bool =
        client.query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[]).await?.try_get(0)?;
    if !exists {
        return Ok(0);
    }
    let row = client.query_one("SELECT COALESCE(max(version), 0) FROM schema_migrations", &[]).await?;
    Ok(row.try_get(0)?)
}

fn check_not_newer(current: i32) -> Result<(), StoreError> {
    let expected = expected_schema_version();
    if current > expected {
        return Err(Error::FailedPrecondition(format!(
            "database schema version {current} is newer than this binary supports ({expected}); upgrade bindery"
        ))
        .into());
    }
    Ok(())
}

/// Checks that the database is migrated to exactly the version this binary expects.
pub(crate) async fn check_schema(client: &Client) -> Result<(), StoreError> {
    let current = current_version(client).await?;
    check_not_newer(current)?;
    if current < expected_schema_version() {
        return Err(Error::FailedPrecondition(format!(
            "database schema version {current} is older than required ({}); run `bindery migrate`",
            expected_schema_version()
        ))
        .into());
    }
    Ok(())
}
