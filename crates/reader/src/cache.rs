//! The binding cache.
//!
//! Layout: `ArcSwap<DashMap<model, Arc<ModelEntry>>>`. A change touches one model; applying it
//! builds that model's new entry and swaps it in (copy-on-write), so no reader sees half of it.
//! A snapshot reload builds a whole new map and swaps the pointer.
//!
//! Consistency: a seqlock (`seq`, odd while a change is being applied) brackets every apply, and
//! every lookup retries if `seq` moved. A Resolve (or a whole ResolveMany) therefore reads the
//! state at exactly one revision — the one it reports — never a mix.
//!
//! Watchers: the applier holds `apply` (a mutex readers of the cache never take) while it
//! applies, appends to the history and broadcasts; a new subscriber takes the same mutex to
//! subscribe and read its starting point, so it neither misses nor repeats a change.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use arc_swap::ArcSwap;
use bindery_core::snapshot_codec::{BindingView, Visitor, visit_part};
use bindery_core::{
    AccessChange, AccessState, BindingChange, BindingName, BindingTarget, Change, ChangeEffect, Error,
    ModelName, Snapshot,
};
use dashmap::DashMap;
use tokio::sync::{broadcast, watch};

mod entry;
mod replication;
pub use entry::Target;
use entry::{ModelEntry, Shared, without_manifests};
pub use replication::ChangesAfter;
use replication::ReplicationLog;

/// foldhash (randomly seeded per process) instead of SipHash: lookups and snapshot loads hash
/// every key, and SipHash was a tenth of a 1M-binding load's CPU. Keys come from the registry's
/// own writers, not from callers, so flooding them needs write access.
type Hasher = foldhash::fast::RandomState;

type Models = DashMap<ModelName, ModelEntry, Hasher>;

/// Broadcast to watchers.
#[derive(Debug, Clone)]
pub enum Event {
    /// The binding changes of one revision (possibly several bindings, applied atomically).
    Change(Arc<WatchMessage>),
    /// The state was replaced wholesale (snapshot reload): re-read it.
    Reset(u64),
}

/// One message of a watch stream, before filtering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchMessage {
    pub revision: u64,
    pub reset: bool,
    pub bindings: Vec<BindingChange>,
}

/// Which bindings a watcher wants; empty sets mean all.
#[derive(Debug, Clone, Default)]
pub struct WatchFilter {
    pub models: HashSet<ModelName>,
    pub bindings: HashSet<BindingName>,
}

impl WatchFilter {
    pub fn matches(&self, model: &ModelName, binding: &BindingName) -> bool {
        (self.models.is_empty() || self.models.contains(model))
            && (self.bindings.is_empty() || self.bindings.contains(binding))
    }

    /// The part of `message` this filter wants; `None` when nothing is left of a change.
    pub fn apply(&self, message: &WatchMessage) -> Option<WatchMessage> {
        let bindings: Vec<BindingChange> =
            message.bindings.iter().filter(|b| self.matches(&b.model_name, &b.binding)).cloned().collect();
        (message.reset || !bindings.is_empty()).then_some(WatchMessage {
            revision: message.revision,
            reset: message.reset,
            bindings,
        })
    }
}

/// A watcher's starting point: events after `revision` arrive on `events`.
pub struct Subscription {
    pub events: broadcast::Receiver<Event>,
    pub revision: u64,
    /// What to send first: the current state (reset) or the retained changes since the requested
    /// revision, already filtered.
    pub initial: Vec<WatchMessage>,
}

struct ApplyState {
    /// Binding changes with revision in `(floor, applied]`, oldest first.
    /// Each with its size in bytes (estimated once, when it is added).
    history: VecDeque<(Arc<WatchMessage>, usize)>,
    /// What `history` holds, in (estimated) bytes.
    history_bytes: usize,
    floor: u64,
    events: broadcast::Sender<Event>,
    /// For tier-2 nodes following this one.
    replication: ReplicationLog,
}

/// Bytes a watch message holds in memory, estimated from its strings.
fn message_bytes(m: &WatchMessage) -> usize {
    64 + m
        .bindings
        .iter()
        .map(|b| {
            let target = b.target.as_ref().map_or(0, |t| {
                t.artifact.uri.len()
                    + t.artifact.sha256.len()
                    + t.artifact.format.len()
                    + t.artifact.etag.len()
            });
            96 + b.model_name.as_str().len() + b.binding.as_str().len() + target
        })
        .sum::<usize>()
}

pub struct Cache {
    models: ArcSwap<Models>,
    /// Live tokens and the policy, at the same revision as `models` (replaced whole on change:
    /// access changes are rare, lookups constant).
    access: ArcSwap<AccessState>,
    /// Seqlock counter: odd while the state is being changed.
    seq: AtomicU64,
    revision: AtomicU64,
    loaded: AtomicBool,
    bindings: AtomicU64,
    watchers: AtomicU64,
    applied: watch::Sender<u64>,
    apply: Mutex<ApplyState>,
    history_limit: usize,
    history_max_bytes: usize,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("revision", &self.revision())
            .field("bindings", &self.bindings_count())
            .finish()
    }
}

/// The exact lookup errors a Resolve gets.
fn lookup(models: &Models, model: &ModelName, binding: &BindingName) -> Result<Target, Error> {
    let entry = models.get(model).ok_or_else(|| Error::NotFound(format!("model '{model}' not found")))?;
    entry
        .get(binding.as_str())
        .cloned()
        .ok_or_else(|| Error::NotFound(format!("binding '{binding}' not found on model '{model}'")))
}

impl Cache {
    /// `history_limit`: binding changes kept for resuming watchers; `broadcast_capacity`: events
    /// a watcher may fall behind before it is reset.
    pub fn new(history_limit: usize, broadcast_capacity: usize) -> Self {
        let (events, _) = broadcast::channel(broadcast_capacity.max(1));
        Self {
            models: ArcSwap::from_pointee(Models::default()),
            access: ArcSwap::from_pointee(AccessState::default()),
            seq: AtomicU64::new(0),
            revision: AtomicU64::new(0),
            loaded: AtomicBool::new(false),
            bindings: AtomicU64::new(0),
            watchers: AtomicU64::new(0),
            applied: watch::channel(0).0,
            apply: Mutex::new(ApplyState {
                history: VecDeque::new(),
                history_bytes: 0,
                floor: 0,
                events,
                replication: ReplicationLog::off(),
            }),
            history_limit,
            history_max_bytes: usize::MAX,
        }
    }

    /// Also bounds the watch history by its size (oldest changes go first).
    #[must_use]
    pub fn with_history_bytes(mut self, max_bytes: usize) -> Self {
        self.history_max_bytes = max_bytes;
        self
    }

    /// The revision of the state served.
    pub fn revision(&self) -> u64 {
        self.revision.load(Ordering::Acquire)
    }

    /// Who may do what, as of the applied revision.
    pub fn access(&self) -> arc_swap::Guard<Arc<AccessState>> {
        self.access.load()
    }

    /// Whether a snapshot was ever loaded (before that, nothing is served).
    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    pub fn bindings_count(&self) -> u64 {
        self.bindings.load(Ordering::Relaxed)
    }

    pub fn models_count(&self) -> u64 {
        self.models.load().len() as u64
    }

    pub fn watchers(&self) -> u64 {
        self.watchers.load(Ordering::Relaxed)
    }

    /// Counts an open watch stream until the guard is dropped.
    pub fn watcher_guard(self: &Arc<Self>) -> WatcherGuard {
        self.watchers.fetch_add(1, Ordering::Relaxed);
        WatcherGuard(self.clone())
    }

    fn lock(&self) -> MutexGuard<'_, ApplyState> {
        // A panic while applying leaves the state as consistent as the last completed step;
        // keep serving rather than poisoning every later call.
        self.apply.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// One optimistic seqlock read: `read`'s result and the state's revision, unless a change
    /// was being applied meanwhile.
    fn try_read<T>(&self, read: &impl Fn(&Models) -> T) -> Option<(T, u64)> {
        let before = self.seq.load(Ordering::Acquire);
        if !before.is_multiple_of(2) {
            return None;
        }
        let models = self.models.load();
        let revision = self.revision.load(Ordering::Acquire);
        let value = read(&models);
        std::sync::atomic::fence(Ordering::Acquire);
        (self.seq.load(Ordering::Relaxed) == before).then_some((value, revision))
    }

    /// Runs `read` against one consistent state; returns its result and that state's revision.
    fn read<T>(&self, read: impl Fn(&Models) -> T) -> (T, u64) {
        let mut spins = 0u32;
        loop {
            if let Some(done) = self.try_read(&read) {
                return done;
            }
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    /// Resolves one binding. `NotFound` says whether the model or the binding is unknown.
    pub fn resolve(&self, model: &ModelName, binding: &BindingName) -> (Result<Target, Error>, u64) {
        self.read(|models| lookup(models, model, binding))
    }

    /// Resolves several bindings from one state.
    pub fn resolve_many(&self, keys: &[(ModelName, BindingName)]) -> (Vec<Result<Target, Error>>, u64) {
        self.read(|models| keys.iter().map(|(m, b)| lookup(models, m, b)).collect())
    }

    /// Waits until the applied revision reaches `min`, at most `timeout`. Returns the revision
    /// reached, or the current one as the error.
    pub async fn wait_for(&self, min: u64, timeout: Duration) -> Result<u64, u64> {
        let mut rx = self.applied.subscribe();
        let reached = tokio::time::timeout(timeout, rx.wait_for(|r| *r >= min)).await;
        match reached {
            Ok(Ok(r)) => Ok(*r),
            _ => Err(self.revision()),
        }
    }

    /// Replaces the whole state with `snapshot`. A packed part that cannot be read fails the
    /// load and changes nothing.
    pub fn load_snapshot(&self, snapshot: Snapshot) -> Result<(), Error> {
        let Snapshot { revision, models: names, bindings, mut access, packed } = snapshot;
        let built = build_packed(&packed, revision)?;
        drop(packed);
        // Group in a plain map first (no shard locks), then move each model, as one sorted
        // slice, into a map sized for all of them.
        let mut grouped: HashMap<ModelName, Vec<(entry::Name, Target)>, Hasher> =
            HashMap::with_capacity_and_hasher(names.len(), Hasher::default());
        for name in names {
            grouped.entry(name).or_default();
        }
        let mut count = 0u64;
        let mut shared = Shared::default();
        for b in bindings {
            let Some(target) = b.target else { continue };
            let version = target.version;
            let target = Target::new(b.generation, target, &mut shared, || (b.model_name.clone(), version));
            let name = shared.names.get(b.binding.as_str());
            grouped.entry(b.model_name).or_default().push((name, target));
            count += 1;
        }
        let total = grouped.len() + built.iter().map(|b| b.models.len()).sum::<usize>();
        let models = Models::with_capacity_and_hasher(total, Hasher::default());
        for (name, bindings) in grouped {
            models.insert(name, ModelEntry::from_unsorted(bindings));
        }
        for b in built {
            count += b.count;
            access.extend(b.access);
            for (name, entry) in b.models {
                models.insert(name, entry);
            }
        }
        let access_state = AccessState::from_changes(&access);
        let mut state = self.lock();
        state.replication.reset(revision, access);
        self.seq.fetch_add(1, Ordering::AcqRel);
        self.models.store(Arc::new(models));
        self.access.store(Arc::new(access_state));
        self.revision.store(revision, Ordering::Release);
        self.bindings.store(count, Ordering::Relaxed);
        self.seq.fetch_add(1, Ordering::AcqRel);
        state.history.clear();
        state.history_bytes = 0;
        state.floor = revision;
        let _ = state.events.send(Event::Reset(revision));
        self.loaded.store(true, Ordering::Release);
        drop(state);
        self.applied.send_replace(revision);
        Ok(())
    }

    /// Applies the next change. Refuses anything but revision `applied + 1`: the follower owns
    /// ordering, duplicates and gaps; this is the last line of defence.
    pub fn apply(&self, change: &Change) -> Result<(), Error> {
        let mut state = self.lock();
        let applied = self.revision();
        if !self.is_loaded() || change.revision != applied + 1 {
            return Err(Error::Internal(format!(
                "change {} cannot follow revision {applied} (loaded: {})",
                change.revision,
                self.is_loaded()
            )));
        }
        let models = self.models.load();
        let model = match (&change.effect, &change.model) {
            (ChangeEffect::Access(_) | ChangeEffect::Other, _) => None,
            (_, Some(model)) => Some(model),
            (_, None) => {
                return Err(Error::Internal(format!("change {} names no model", change.revision)));
            }
        };
        self.seq.fetch_add(1, Ordering::AcqRel);
        match (&change.effect, model) {
            (ChangeEffect::ModelUpserted, Some(model)) => {
                models.entry(model.clone()).or_default();
            }
            (ChangeEffect::ModelDeleted, Some(model)) => {
                if let Some((_, entry)) = models.remove(model) {
                    self.bindings.fetch_sub(entry.len() as u64, Ordering::Relaxed);
                }
            }
            (ChangeEffect::Bindings(changes), Some(model)) => {
                let entry = models.get(model).map(|e| e.clone()).unwrap_or_default();
                let mut shared = Shared::default();
                let (entry, added, removed) = entry.with_changes(changes.iter().map(|b| {
                    let target = b.target.as_ref().map(|t| {
                        Target::new(b.generation, t.clone(), &mut shared, || (model.clone(), t.version))
                    });
                    (b.binding.as_str(), target)
                }));
                self.bindings.fetch_add(added, Ordering::Relaxed);
                self.bindings.fetch_sub(removed, Ordering::Relaxed);
                models.insert(model.clone(), entry);
            }
            (ChangeEffect::Access(access), _) => {
                let mut next = AccessState::clone(&self.access.load());
                next.apply(access);
                self.access.store(Arc::new(next));
            }
            _ => {}
        }
        self.revision.store(change.revision, Ordering::Release);
        self.seq.fetch_add(1, Ordering::AcqRel);
        state.replication.push(change);

        if let ChangeEffect::Bindings(changes) = &change.effect {
            // Watchers are sent no manifests: the history keeps none.
            let bindings = changes
                .iter()
                .map(|b| BindingChange {
                    model_name: b.model_name.clone(),
                    binding: b.binding.clone(),
                    generation: b.generation,
                    target: b.target.as_ref().map(|t| BindingTarget {
                        version: t.version,
                        artifact: t.artifact.without_manifest(),
                        traffic: t.traffic.clone(),
                        others: without_manifests(&t.others),
                    }),
                })
                .collect();
            let message = Arc::new(WatchMessage { revision: change.revision, reset: false, bindings });
            let size = message_bytes(&message);
            state.history_bytes += size;
            state.history.push_back((message.clone(), size));
            while state.history.len() > self.history_limit
                || (state.history_bytes > self.history_max_bytes && state.history.len() > 1)
            {
                if let Some((oldest, size)) = state.history.pop_front() {
                    state.history_bytes = state.history_bytes.saturating_sub(size);
                    state.floor = oldest.revision;
                }
            }
            // No receivers is fine.
            let _ = state.events.send(Event::Change(message));
        } else if state.history.is_empty() {
            // Nothing retained: the history trivially covers everything up to here.
            state.floor = change.revision;
        }
        drop(state);
        self.applied.send_replace(change.revision);
        Ok(())
    }

    /// Subscribes a watcher. With `since == 0`, or when the history no longer reaches back to
    /// `since` (or lies ahead of this node: the database may have been restored), the first
    /// message is the current state flagged `reset`; otherwise the retained changes after
    /// `since`. The apply lock is held only to register for events and copy the history: the
    /// current state is read from a consistent snapshot afterwards, so a large reset never
    /// stalls the applier.
    pub fn subscribe(&self, filter: &WatchFilter, since: u64) -> Subscription {
        let state = self.lock();
        let events = state.events.subscribe();
        let revision = self.revision();
        let reset = since == 0 || since < state.floor || since > revision;
        let history: Vec<WatchMessage> = if reset {
            Vec::new()
        } else {
            state
                .history
                .iter()
                .filter(|(m, _)| m.revision > since)
                .filter_map(|(m, _)| filter.apply(m))
                .collect()
        };
        drop(state);
        if !reset {
            return Subscription { events, revision, initial: history };
        }
        // Changes after `revision` are both in this snapshot and on `events`; the snapshot's own
        // revision tells the watcher which events to skip.
        let (bindings, at) = self.read_bounded(|models| current(models, filter));
        Subscription {
            events,
            revision: at,
            initial: vec![WatchMessage { revision: at, reset: true, bindings }],
        }
    }

    /// [`Cache::read`] for long reads: a few optimistic tries, then under the apply lock (so a
    /// steady stream of writes cannot starve it).
    fn read_bounded<T>(&self, read: impl Fn(&Models) -> T) -> (T, u64) {
        for _ in 0..3 {
            if let Some(done) = self.try_read(&read) {
                return done;
            }
            std::thread::yield_now();
        }
        let _state = self.lock();
        (read(&self.models.load()), self.revision())
    }
}

/// Models built from packed parts by one thread.
#[derive(Default)]
struct Built {
    models: Vec<(ModelName, ModelEntry)>,
    shared: Shared,
    count: u64,
    access: Vec<AccessChange>,
}

impl Visitor for Built {
    fn model(&mut self, name: ModelName, views: &[BindingView<'_>]) -> Result<(), Error> {
        let mut bindings = Vec::with_capacity(views.len());
        for view in views {
            bindings.push((
                self.shared.names.get(view.binding),
                Target::from_view(view, &mut self.shared, &name)?,
            ));
        }
        self.count += views.len() as u64;
        self.models.push((name, ModelEntry::from_unsorted(bindings)));
        Ok(())
    }

    fn access(&mut self, access: AccessChange) {
        self.access.push(access);
    }
}

/// Threads for encoding and decoding snapshots: one per core, at most 8.
fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get).clamp(1, 8)
}

/// The models of `parts` (all of `revision`), decoded on as many threads as there are cores.
fn build_packed(parts: &[Vec<u8>], revision: u64) -> Result<Vec<Built>, Error> {
    if parts.is_empty() {
        return Ok(Vec::new());
    }
    let per = parts.len().div_ceil(threads());
    std::thread::scope(|s| {
        let handles: Vec<_> = parts
            .chunks(per)
            .map(|group| {
                s.spawn(move || {
                    let mut built = Built::default();
                    for part in group {
                        let at = visit_part(part, &mut built)?;
                        if at != revision {
                            return Err(Error::Internal(format!(
                                "a snapshot part of revision {at} in the snapshot of revision {revision}"
                            )));
                        }
                    }
                    Ok(built)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| Err(Error::Internal("decoding a snapshot part panicked".into())))
            })
            .collect()
    })
}

/// Every current binding of `models` matching `filter`, in (model, binding) order.
fn current(models: &Models, filter: &WatchFilter) -> Vec<BindingChange> {
    let mut out = Vec::new();
    for entry in models.iter() {
        if !filter.models.is_empty() && !filter.models.contains(entry.key()) {
            continue;
        }
        for (name, target) in entry.value().iter() {
            // Names in the cache were valid when they came in.
            let Ok(name) = BindingName::parse("binding", name) else { continue };
            if filter.matches(entry.key(), &name) {
                out.push(BindingChange {
                    model_name: entry.key().clone(),
                    binding: name,
                    generation: target.generation,
                    target: Some(target.watched()),
                });
            }
        }
    }
    out.sort_by(|a, b| (&a.model_name, &a.binding).cmp(&(&b.model_name, &b.binding)));
    out
}

pub struct WatcherGuard(Arc<Cache>);

impl Drop for WatcherGuard {
    fn drop(&mut self) {
        self.0.watchers.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use bindery_core::Artifact;

    use super::*;

    fn name(s: &str) -> ModelName {
        ModelName::parse("m", s).unwrap_or_else(|e| panic!("{e}"))
    }

    fn binding(s: &str) -> BindingName {
        BindingName::parse("b", s).unwrap_or_else(|e| panic!("{e}"))
    }

    fn bind(revision: u64, model: &str, pairs: &[(&str, Option<u64>)]) -> Change {
        Change {
            revision,
            model: Some(name(model)),
            effect: ChangeEffect::Bindings(
                pairs
                    .iter()
                    .map(|(b, v)| BindingChange {
                        model_name: name(model),
                        binding: binding(b),
                        generation: revision,
                        target: v.map(|version| {
                            BindingTarget::single(
                                version,
                                Artifact { uri: format!("s3://b/{version}"), ..Default::default() },
                            )
                        }),
                    })
                    .collect(),
            ),
        }
    }

    fn loaded() -> Cache {
        let cache = Cache::new(3, 16);
        cache
            .load_snapshot(Snapshot { revision: 10, models: vec![name("m")], ..Default::default() })
            .unwrap_or_else(|e| panic!("{e}"));
        cache
    }

    #[test]
    fn the_watch_history_is_bounded_by_bytes_too() {
        let cache = Cache::new(1_000, 16).with_history_bytes(600);
        cache
            .load_snapshot(Snapshot { revision: 10, models: vec![name("m")], ..Default::default() })
            .unwrap_or_else(|e| panic!("{e}"));
        for r in 11..=30 {
            cache.apply(&bind(r, "m", &[("prod", Some(r))])).unwrap_or_else(|e| panic!("{e}"));
        }
        let all = WatchFilter::default();
        let resumed = cache.subscribe(&all, 29);
        assert_eq!(resumed.initial.len(), 1, "the newest change is kept");
        let old = cache.subscribe(&all, 12);
        assert!(old.initial[0].reset, "history older than the byte budget is gone: a reset");
    }

    #[test]
    fn applies_in_order_and_refuses_anything_else() {
        let cache = loaded();
        assert!(cache.apply(&bind(12, "m", &[("prod", Some(1))])).is_err(), "gap refused");
        assert!(cache.apply(&bind(10, "m", &[("prod", Some(1))])).is_err(), "duplicate refused");
        assert!(cache.apply(&bind(11, "m", &[("prod", Some(1)), ("canary", Some(2))])).is_ok());
        let (r, rev) = cache.resolve(&name("m"), &binding("canary"));
        assert_eq!((r.map(|t| t.version).ok(), rev), (Some(2), 11));
        assert_eq!(cache.bindings_count(), 2);
        assert!(cache.apply(&bind(12, "m", &[("canary", None)])).is_ok());
        assert_eq!(cache.bindings_count(), 1);
        match cache.resolve(&name("m"), &binding("canary")).0 {
            Err(Error::NotFound(m)) => assert!(m.contains("binding 'canary'"), "{m}"),
            other => panic!("{other:?}"),
        }
        match cache.resolve(&name("x"), &binding("canary")).0 {
            Err(Error::NotFound(m)) => assert!(m.contains("model 'x'"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn watch_resumes_from_history_or_resets() {
        let cache = loaded();
        for r in 11..=15 {
            cache.apply(&bind(r, "m", &[("prod", Some(r))])).unwrap_or_else(|e| panic!("{e}"));
        }
        // History keeps 3 (13, 14, 15): floor is 12.
        let all = WatchFilter::default();
        let resumed = cache.subscribe(&all, 13);
        assert_eq!(resumed.initial.iter().map(|m| m.revision).collect::<Vec<_>>(), vec![14, 15]);
        assert!(resumed.initial.iter().all(|m| !m.reset));
        let at_floor = cache.subscribe(&all, 12);
        assert_eq!(at_floor.initial.len(), 3);
        let too_old = cache.subscribe(&all, 11);
        assert_eq!(too_old.initial.len(), 1);
        assert!(too_old.initial[0].reset);
        assert_eq!(too_old.initial[0].revision, 15);
        assert_eq!(too_old.initial[0].bindings.len(), 1);
        let filtered = cache
            .subscribe(&WatchFilter { models: HashSet::new(), bindings: [binding("canary")].into() }, 12);
        assert!(filtered.initial.is_empty(), "no canary changes");
    }

    #[test]
    fn concurrent_readers_never_see_half_a_change() {
        let cache = Arc::new(loaded());
        let stop = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (cache, stop) = (cache.clone(), stop.clone());
                std::thread::spawn(move || {
                    let keys = [(name("m"), binding("a")), (name("m"), binding("b"))];
                    let mut checked = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let (results, _) = cache.resolve_many(&keys);
                        let versions: Vec<Option<u64>> =
                            results.into_iter().map(|r| r.ok().map(|t| t.version)).collect();
                        assert_eq!(versions[0], versions[1], "half-applied change seen");
                        checked += 1;
                    }
                    checked
                })
            })
            .collect();
        for r in 11..5_000u64 {
            cache.apply(&bind(r, "m", &[("a", Some(r)), ("b", Some(r))])).unwrap_or_else(|e| panic!("{e}"));
        }
        stop.store(true, Ordering::Relaxed);
        for reader in readers {
            assert!(reader.join().unwrap_or_default() > 0);
        }
    }
}
