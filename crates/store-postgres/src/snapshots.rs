//! Compact snapshots stored in the database (issue 20, README "Read node cold start"). Joining a
//! million bindings with their versions takes PostgreSQL seconds; reading back a stored snapshot
//! in the compact encoding (`bindery_core::snapshot_codec`) takes a fraction of one. The primary
//! writes one now and then; a read node loads the newest and replays the change log after it.
//!
//! A stored snapshot is used only when the change log still reaches back to it and it is not far
//! behind; otherwise the read node reads the tables as before. It is written by the registry's
//! own role, like the change log, and trusted as much.

use std::collections::HashSet;
use std::time::Duration;

use bindery_core::BindingChange;
use bindery_core::snapshot_codec::{BindingView, Encoder};
use futures_util::TryStreamExt;
use tokio_postgres::{IsolationLevel, Transaction};

use crate::error::StoreResult;
use crate::feed::{SNAPSHOT_BINDINGS, model_names, snapshot_binding};
use crate::write::SELECT_REVISION;
use crate::{PgStore, rows};

/// Parts are cut at about this size.
const PART_BYTES: usize = 4 * 1024 * 1024;
/// A stored snapshot further behind the database than this many changes is not used: replaying
/// that much of the log would take longer than reading the tables.
pub const MAX_BEHIND: u64 = 20_000;
/// Only one primary writes a snapshot at a time ("bindery" + 1).
const SNAPSHOT_LOCK: i64 = 0x0062_696e_6465_7280;

/// When the primary writes a new snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotPolicy {
    /// Once the newest one is this many changes behind.
    pub min_changes: u64,
    /// Or once it is this old and anything changed since.
    pub max_age: Duration,
}

/// A snapshot written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredSnapshot {
    pub revision: u64,
    pub bindings: u64,
    pub parts: usize,
    pub bytes: usize,
}

/// Writes a snapshot of the current state if `policy` says one is due and no other primary is
/// writing one, and drops the older ones (a reader still reading one keeps seeing it: MVCC).
pub(crate) async fn write(store: &PgStore, policy: SnapshotPolicy) -> StoreResult<Option<StoredSnapshot>> {
    let mut client = store.client().await?;
    let tx = client.build_transaction().isolation_level(IsolationLevel::RepeatableRead).start().await?;
    let locked: bool =
        tx.query_one("SELECT pg_try_advisory_xact_lock($1)", &[&SNAPSHOT_LOCK]).await?.try_get(0)?;
    if !locked {
        return Ok(None);
    }
    let revision = rows::u(tx.query_one(SELECT_REVISION, &[]).await?.try_get(0)?)?;
    let newest = tx
        .query_opt(
            "SELECT revision, extract(epoch FROM now() - created_at)::float8 FROM snapshots
             ORDER BY revision DESC LIMIT 1",
            &[],
        )
        .await?;
    if let Some(row) = newest {
        let behind = revision.saturating_sub(rows::u(row.try_get(0)?)?);
        let age: f64 = row.try_get(1)?;
        if behind == 0 || (behind < policy.min_changes && age < policy.max_age.as_secs_f64()) {
            return Ok(None);
        }
    }
    let (parts, bindings) = encode(&tx, revision).await?;
    let bytes: usize = parts.iter().map(Vec::len).sum();
    tx.execute(
        "INSERT INTO snapshots (revision, parts, bindings, bytes) VALUES ($1, $2, $3, $4)",
        &[
            &rows::i(revision)?,
            &i32::try_from(parts.len()).unwrap_or(i32::MAX),
            &rows::i(bindings)?,
            &i64::try_from(bytes).unwrap_or(i64::MAX),
        ],
    )
    .await?;
    let insert = tx.prepare("INSERT INTO snapshot_parts (revision, part, data) VALUES ($1, $2, $3)").await?;
    for (i, part) in parts.iter().enumerate() {
        tx.execute(&insert, &[&rows::i(revision)?, &i32::try_from(i).unwrap_or(i32::MAX), &part.as_slice()])
            .await?;
    }
    tx.execute("DELETE FROM snapshots WHERE revision < $1", &[&rows::i(revision)?]).await?;
    tx.commit().await?;
    Ok(Some(StoredSnapshot { revision, bindings, parts: parts.len(), bytes }))
}

/// The state at the transaction's revision, encoded model by model as the rows stream in (the
/// primary never holds more than the encoded parts).
async fn encode(tx: &Transaction<'_>, revision: u64) -> StoreResult<(Vec<Vec<u8>>, u64)> {
    let names = model_names(tx).await?;
    let ordered = format!("{SNAPSHOT_BINDINGS} ORDER BY b.model_id");
    let stream = tx.query_raw(&ordered, std::iter::empty::<i32>()).await?;
    futures_util::pin_mut!(stream);
    let mut encoder = Encoder::new(revision, PART_BYTES);
    let mut done: HashSet<i64> = HashSet::with_capacity(names.len());
    let mut group: (Option<i64>, Vec<BindingChange>) = (None, Vec::new());
    let mut count = 0u64;
    let flush = |encoder: &mut Encoder, group: &mut Vec<BindingChange>| -> StoreResult<()> {
        let Some(model) = group.first().map(|b| b.model_name.clone()) else { return Ok(()) };
        let mut digests = vec![[0u8; 32]; group.len()];
        let views = group
            .iter()
            .zip(digests.iter_mut())
            .map(|(b, d)| BindingView::of(b, d))
            .collect::<bindery_core::Result<Vec<_>>>()?;
        encoder.model(model.as_str(), &views);
        group.clear();
        Ok(())
    };
    while let Some(row) = stream.try_next().await? {
        let model_id: i64 = row.try_get("model_id")?;
        if group.0 != Some(model_id) {
            flush(&mut encoder, &mut group.1)?;
            group.0 = Some(model_id);
            done.insert(model_id);
        }
        group.1.push(snapshot_binding(&row, &names)?);
        count += 1;
    }
    flush(&mut encoder, &mut group.1)?;
    for (id, name) in &names {
        if !done.contains(id) {
            encoder.model(name.as_str(), &[]);
        }
    }
    for access in crate::access::snapshot(tx).await? {
        encoder.access(&access)?;
    }
    Ok((encoder.finish(), count))
}

/// The newest stored snapshot a read node at database revision `revision` can use, and its
/// revision: at most [`MAX_BEHIND`] behind, with the change log reaching back to it.
pub(crate) async fn read(tx: &Transaction<'_>, revision: u64) -> StoreResult<Option<(u64, Vec<Vec<u8>>)>> {
    let Some(row) = tx
        .query_opt(
            "SELECT revision, parts FROM snapshots WHERE revision <= $1 ORDER BY revision DESC LIMIT 1",
            &[&rows::i(revision)?],
        )
        .await?
    else {
        return Ok(None);
    };
    let at = rows::u(row.try_get(0)?)?;
    let expected: i32 = row.try_get(1)?;
    if revision - at > MAX_BEHIND {
        return Ok(None);
    }
    if at < revision
        && tx.query_opt("SELECT 1 FROM changes WHERE revision = $1", &[&rows::i(at + 1)?]).await?.is_none()
    {
        return Ok(None);
    }
    let stream = tx
        .query_raw("SELECT data FROM snapshot_parts WHERE revision = $1 ORDER BY part", [rows::i(at)?])
        .await?;
    futures_util::pin_mut!(stream);
    let mut parts = Vec::new();
    while let Some(row) = stream.try_next().await? {
        parts.push(row.try_get::<_, Vec<u8>>(0)?);
    }
    if i32::try_from(parts.len()).ok() != Some(expected) {
        tracing::warn!(
            revision = at,
            expected,
            found = parts.len(),
            "stored snapshot incomplete; reading the tables"
        );
        return Ok(None);
    }
    Ok(Some((at, parts)))
}

impl PgStore {
    /// Writes a compact snapshot for read nodes if `policy` says one is due (README "Read node
    /// cold start"). `None`: none was due, or another primary is writing one.
    pub async fn write_snapshot(
        &self,
        policy: SnapshotPolicy,
    ) -> bindery_core::Result<Option<StoredSnapshot>> {
        write(self, policy).await.map_err(|e| e.into_domain("write_snapshot"))
    }
}
