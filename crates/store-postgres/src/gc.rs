//! Garbage collection's half in the database: tombstones for objects about to be deleted, the
//! check that keeps registrations off them, and the audit rows of what was deleted.

use std::time::SystemTime;

use bindery_core::{ArtifactReferences, ObjectInfo, ObjectLocation, TOMBSTONE_TTL, WriteContext};
use deadpool_postgres::Transaction;

use crate::error::StoreResult;
use crate::{PgStore, write};

/// The tombstone a registration of `$1` would land on: the object itself, or one under it when
/// `$1` is a prefix.
const TOMBSTONED: &str = "SELECT location FROM gc_tombstones
    WHERE location = $1 OR (right($1, 1) = '/' AND starts_with(location, $1)) LIMIT 1";

/// Refuses registering `uri` onto an object garbage collection is deleting. Runs after the
/// registration took the write lock, so it sees every tombstone committed before it.
pub(crate) async fn check_not_collected(tx: &Transaction<'_>, uri: &str) -> StoreResult<()> {
    let stmt = tx.prepare_cached(TOMBSTONED).await?;
    match tx.query_opt(&stmt, &[&uri]).await? {
        Some(row) => Err(bindery_core::artifact_being_collected(uri, &row.try_get::<_, String>(0)?).into()),
        None => Ok(()),
    }
}

pub(crate) async fn mark(
    store: &PgStore,
    cutoff: SystemTime,
    candidates: &[ObjectLocation],
) -> StoreResult<Vec<ObjectLocation>> {
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    // The write lock: registrations commit before this reads their references, or after it
    // commits the tombstones (and then see them).
    write::lock(&tx).await?;
    let references = ArtifactReferences::new(&crate::sessions::references_in(&tx, cutoff).await?);
    let marked: Vec<ObjectLocation> = candidates.iter().filter(|c| !references.cover(c)).cloned().collect();
    let forget_before = SystemTime::now().checked_sub(TOMBSTONE_TTL).unwrap_or(SystemTime::UNIX_EPOCH);
    let stmt = tx.prepare_cached("DELETE FROM gc_tombstones WHERE marked_at < $1").await?;
    tx.execute(&stmt, &[&forget_before]).await?;
    let uris: Vec<String> = marked.iter().map(ObjectLocation::uri).collect();
    let stmt = tx
        .prepare_cached(
            "INSERT INTO gc_tombstones (location) SELECT unnest($1::text[])
             ON CONFLICT (location) DO UPDATE SET marked_at = now()",
        )
        .await?;
    tx.execute(&stmt, &[&uris]).await?;
    tx.commit().await?;
    Ok(marked)
}

pub(crate) async fn record_collected(
    store: &PgStore,
    ctx: &WriteContext,
    deleted: &[ObjectInfo],
) -> StoreResult<()> {
    if deleted.is_empty() {
        return Ok(());
    }
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    for object in deleted {
        let (target, before) = object.audit();
        let audit = write::Audit { action: "artifact.delete", target, before: Some(before), after: None };
        write::record_audit_only(&tx, ctx, audit).await?;
    }
    tx.commit().await?;
    Ok(())
}
