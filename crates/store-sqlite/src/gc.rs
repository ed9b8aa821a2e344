//! Garbage collection's half in the embedded store: tombstones for objects about to be deleted,
//! the check that keeps registrations off them, and the audit rows of what was deleted (the same
//! rules as PostgreSQL's `gc.rs`; the single writer is the write lock).

use std::time::SystemTime;

use bindery_core::{ArtifactReferences, ObjectInfo, ObjectLocation, Result, TOMBSTONE_TTL, WriteContext};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::ops::{Sql, immediate, micros, now};

/// Refuses registering `uri` onto an object garbage collection is deleting.
pub(crate) fn check_not_collected(tx: &Transaction<'_>, uri: &str) -> Result<()> {
    let found: Option<String> = tx
        .query_row(
            "SELECT location FROM gc_tombstones
             WHERE location = ?1 OR (substr(?1, -1) = '/' AND substr(location, 1, length(?1)) = ?1) LIMIT 1",
            params![uri],
            |r| r.get(0),
        )
        .optional()
        .sql()?;
    match found {
        Some(object) => Err(bindery_core::artifact_being_collected(uri, &object)),
        None => Ok(()),
    }
}

pub(crate) fn mark(
    conn: &mut Connection,
    cutoff: SystemTime,
    candidates: &[ObjectLocation],
) -> Result<Vec<ObjectLocation>> {
    let tx = immediate(conn)?;
    let references = ArtifactReferences::new(&crate::sessions::references(&tx, cutoff)?);
    let marked: Vec<ObjectLocation> = candidates.iter().filter(|c| !references.cover(c)).cloned().collect();
    let forget_before = SystemTime::now().checked_sub(TOMBSTONE_TTL).unwrap_or(SystemTime::UNIX_EPOCH);
    tx.execute("DELETE FROM gc_tombstones WHERE marked_at < ?1", params![micros(forget_before)]).sql()?;
    let at = now();
    for object in &marked {
        tx.execute(
            "INSERT INTO gc_tombstones (location, marked_at) VALUES (?1, ?2)
             ON CONFLICT (location) DO UPDATE SET marked_at = excluded.marked_at",
            params![object.uri(), at],
        )
        .sql()?;
    }
    tx.commit().sql()?;
    Ok(marked)
}

pub(crate) fn record_collected(
    conn: &mut Connection,
    ctx: &WriteContext,
    deleted: &[ObjectInfo],
) -> Result<()> {
    if deleted.is_empty() {
        return Ok(());
    }
    let tx = immediate(conn)?;
    let revision: i64 = tx.query_row("SELECT revision FROM registry_state", [], |r| r.get(0)).sql()?;
    for object in deleted {
        let (target, before) = object.audit();
        let audit =
            crate::ops::Audit { action: "artifact.delete", target, before: Some(before), after: None };
        crate::ops::append_audit(&tx, revision, ctx, audit)?;
    }
    tx.commit().sql()?;
    Ok(())
}
