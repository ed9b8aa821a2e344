//! What a read node keeps so that tier-2 read nodes can follow it (README "Tier-2 read nodes"):
//! the changes it applied recently, in order and whole (manifests included), and the access
//! changes since its last snapshot, so that it can hand out its state at one revision and
//! everything after it without asking the database.

use std::collections::VecDeque;

use bindery_core::snapshot_codec::Encoder;
use bindery_core::{AccessChange, BindingChange, BindingName, Change, ChangeEffect, Error, Snapshot};

use super::Cache;

/// Changes a node keeps for the nodes following it. Off (nothing kept, nothing copied on the
/// apply path) unless the node lets tier-2 nodes follow it ([`Cache::with_replication`]).
#[derive(Debug)]
pub(super) struct ReplicationLog {
    /// Applied changes with revision in `(floor, applied]`, oldest first.
    recent: VecDeque<Change>,
    floor: u64,
    /// Changes kept; 0: replication is off.
    limit: usize,
    /// The snapshot's access state as creations, then every access change applied since: applied
    /// in order they give the node's current access state.
    access: Vec<AccessChange>,
}

impl ReplicationLog {
    pub(super) fn off() -> Self {
        Self { recent: VecDeque::new(), floor: 0, limit: 0, access: Vec::new() }
    }

    pub(super) fn reset(&mut self, revision: u64, access: Vec<AccessChange>) {
        self.recent.clear();
        self.floor = revision;
        if self.limit > 0 {
            self.access = access;
        }
    }

    pub(super) fn push(&mut self, change: &Change) {
        if self.limit == 0 {
            self.floor = change.revision;
            return;
        }
        if let ChangeEffect::Access(access) = &change.effect {
            self.access.push(access.clone());
        }
        self.recent.push_back(change.clone());
        while self.recent.len() > self.limit {
            if let Some(oldest) = self.recent.pop_front() {
                self.floor = oldest.revision;
            }
        }
    }
}

/// What a follower asking for the changes after a revision gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangesAfter {
    /// In order, starting right after the revision asked about (empty: none yet).
    Changes(Vec<Change>),
    /// This node's history no longer reaches that far back: load a snapshot.
    Pruned,
}

impl Cache {
    /// Keep the last `changes` applied changes (and the access changes since the last snapshot)
    /// so that tier-2 nodes can follow this one. Must be set before the first snapshot loads.
    #[must_use]
    pub fn with_replication(self, changes: usize) -> Self {
        self.lock().replication.limit = changes.max(1);
        self
    }

    /// Up to `limit` applied changes after `after`, from the recent history (with replication
    /// off there is none: anything before the applied revision is `Pruned`).
    pub fn changes_after(&self, after: u64, limit: usize) -> ChangesAfter {
        let state = self.lock();
        let log = &state.replication;
        if after < log.floor {
            return ChangesAfter::Pruned;
        }
        ChangesAfter::Changes(log.recent.iter().filter(|c| c.revision > after).take(limit).cloned().collect())
    }

    /// The whole state at the applied revision, as a snapshot from the database would give it.
    /// Holds the apply lock while it copies (resolves never take it; changes wait).
    pub fn export_snapshot(&self) -> Snapshot {
        let state = self.lock();
        let models = self.models.load();
        let mut names = Vec::with_capacity(models.len());
        let mut bindings = Vec::with_capacity(usize::try_from(self.bindings_count()).unwrap_or(0));
        for entry in models.iter() {
            names.push(entry.key().clone());
            for (name, target) in entry.value().iter() {
                // Names in the cache were valid when they came in.
                let Ok(name) = BindingName::parse("binding", name) else { continue };
                bindings.push(BindingChange {
                    model_name: entry.key().clone(),
                    binding: name,
                    generation: target.generation,
                    target: Some(target.as_change_target()),
                });
            }
        }
        let snapshot = Snapshot {
            revision: self.revision(),
            models: names,
            bindings,
            access: state.replication.access.clone(),
            packed: Vec::new(),
        };
        drop(state);
        snapshot
    }

    /// The whole state at the applied revision in the compact encoding, in parts of about
    /// `part_bytes`: a fraction of the memory of [`Cache::export_snapshot`], and no copy of any
    /// compact target. The apply lock is held only to take the models' entries (copy-on-write:
    /// holding them freezes this revision's state); they are encoded after it, on every core.
    pub fn export_packed(&self, part_bytes: usize) -> Result<Vec<Vec<u8>>, Error> {
        let state = self.lock();
        let revision = self.revision();
        let models: Vec<_> =
            self.models.load().iter().map(|e| (e.key().clone(), e.value().clone())).collect();
        let access = state.replication.access.clone();
        drop(state);
        let per = models.len().div_ceil(super::threads()).max(1);
        let encoded: Vec<Result<Vec<Vec<u8>>, Error>> = std::thread::scope(|s| {
            let handles: Vec<_> = models
                .chunks(per)
                .map(|group| {
                    s.spawn(move || {
                        let mut encoder = Encoder::new(revision, part_bytes);
                        for (name, entry) in group {
                            entry.encode(name, &mut encoder)?;
                        }
                        Ok(encoder.finish())
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| Err(Error::Internal("encoding the snapshot panicked".into())))
                })
                .collect()
        });
        let mut parts = Vec::new();
        for group in encoded {
            parts.extend(group?);
        }
        let mut tail = Encoder::new(revision, part_bytes);
        for change in &access {
            tail.access(change)?;
        }
        parts.extend(tail.finish());
        Ok(parts)
    }

    /// The applied revision, now and each time it moves.
    pub fn revisions(&self) -> tokio::sync::watch::Receiver<u64> {
        self.applied.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use bindery_core::ModelName;

    use super::*;

    fn other(revision: u64) -> Change {
        Change {
            revision,
            model: Some(ModelName::parse("model", "m/x").unwrap()),
            effect: ChangeEffect::Other,
        }
    }

    #[test]
    fn only_a_node_with_replication_keeps_changes_for_followers() {
        for (cache, kept) in [(Cache::new(10, 4), false), (Cache::new(10, 4).with_replication(2), true)] {
            cache.load_snapshot(Snapshot { revision: 5, ..Default::default() }).unwrap();
            for r in 6..=8 {
                cache.apply(&other(r)).unwrap();
            }
            assert_eq!(cache.changes_after(8, 10), ChangesAfter::Changes(Vec::new()));
            assert_eq!(cache.changes_after(5, 10), ChangesAfter::Pruned, "kept at most 2");
            let recent = if kept { ChangesAfter::Changes(vec![other(8)]) } else { ChangesAfter::Pruned };
            assert_eq!(cache.changes_after(7, 10), recent);
        }
    }
}
