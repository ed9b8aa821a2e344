//! The apply loop (design.md §3.3–3.6): connect (subscribed), then snapshot or catch up, then
//! apply notifications in revision order — duplicates dropped, gaps filled from the change log —
//! while polling the source's revision as anti-entropy. A lost connection keeps the cache serving
//! its last state and reconnects with capped exponential backoff plus jitter.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bindery_core::{Change, ChangeFeed, Error, FeedConnection, Notification, Result};
use tokio::sync::watch;

use crate::Cache;

#[derive(Debug, Clone)]
pub struct FollowerConfig {
    /// How often the source's revision is polled (anti-entropy).
    pub poll_interval: Duration,
    /// A poll or fetch slower than this counts as a dead connection.
    pub query_timeout: Duration,
    /// The same for a whole snapshot, which is much more to read (a million bindings from the
    /// tables take seconds).
    pub snapshot_timeout: Duration,
    /// On reconnect, catch up from the change log when at most this many revisions behind;
    /// otherwise reload a snapshot.
    pub resync_max_changes: u64,
    /// Changes fetched per round trip.
    pub batch: u32,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// Longest pause between retries of a change that cannot be applied.
    pub stuck_retry_max: Duration,
}

impl Default for FollowerConfig {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(1),
            query_timeout: Duration::from_secs(5),
            snapshot_timeout: Duration::from_secs(120),
            resync_max_changes: 10_000,
            batch: 1_000,
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(10),
            stuck_retry_max: Duration::from_secs(60),
        }
    }
}

/// What the follower knows about its own freshness; shared with the service and health.
#[derive(Debug, Default)]
pub struct FeedStatus {
    pub connected: AtomicBool,
    pub database_revision: AtomicU64,
    last_sync: Mutex<Option<SystemTime>>,
    last_error: Mutex<String>,
    pub notifications: AtomicU64,
    pub duplicates_dropped: AtomicU64,
    pub gaps_filled: AtomicU64,
    pub snapshots_loaded: AtomicU64,
    pub reconnects: AtomicU64,
    /// The revision of a change that cannot be applied; 0 when none.
    pub stuck_at: AtomicU64,
    pub apply_failures: AtomicU64,
    /// A tier-2 node: the upstream read node it follows now.
    upstream: Mutex<String>,
}

impl FeedStatus {
    /// The upstream read node followed now (empty: the database).
    pub fn upstream(&self) -> String {
        self.upstream.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    pub fn set_upstream(&self, url: &str) {
        url.clone_into(&mut self.upstream.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    }

    /// When the node last knew it was current.
    pub fn last_sync(&self) -> Option<SystemTime> {
        *self.last_sync.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn last_error(&self) -> String {
        self.last_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    fn synced(&self) {
        *self.last_sync.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(SystemTime::now());
    }

    fn failed(&self, error: &Error) {
        *self.last_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = error.to_string();
    }

    /// Time since the last sync; `None` before the first.
    pub fn staleness(&self) -> Option<Duration> {
        self.last_sync().map(|t| t.elapsed().unwrap_or_default())
    }
}

pub struct Follower<F: ChangeFeed> {
    feed: F,
    cache: Arc<Cache>,
    status: Arc<FeedStatus>,
    config: FollowerConfig,
    /// While a change cannot be applied: when to try again, and the pause after that.
    retry: Mutex<Option<(Instant, Duration)>>,
}

impl<F: ChangeFeed> Follower<F> {
    pub fn new(feed: F, cache: Arc<Cache>, status: Arc<FeedStatus>, config: FollowerConfig) -> Self {
        Self { feed, cache, status, config, retry: Mutex::new(None) }
    }

    /// Follows the feed until `shutdown` turns true. Never returns early on errors.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = self.config.backoff_min;
        loop {
            let session = tokio::select! {
                r = self.session(&mut backoff) => r,
                _ = shutdown.wait_for(|stop| *stop) => return,
            };
            self.status.connected.store(false, Ordering::Release);
            if let Err(e) = session {
                tracing::warn!(error = %e, retry_in = ?backoff, "change feed lost; serving the cached state");
                self.status.failed(&e);
            }
            self.status.reconnects.fetch_add(1, Ordering::Relaxed);
            let pause = jitter(backoff);
            backoff = (backoff * 2).min(self.config.backoff_max);
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
        }
    }

    /// One connection's life: subscribe, resync, then follow until something breaks.
    async fn session(&self, backoff: &mut Duration) -> Result<()> {
        let mut conn = self.timed(self.feed.connect()).await?;
        self.resync(&mut conn).await?;
        self.status.connected.store(true, Ordering::Release);
        *backoff = self.config.backoff_min;
        tracing::info!(revision = self.cache.revision(), "change feed connected and in sync");
        let mut poll = tokio::time::interval(self.config.poll_interval);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                notification = conn.notification() => {
                    self.status.notifications.fetch_add(1, Ordering::Relaxed);
                    match notification? {
                        Notification::Change(change) => self.on_change(&mut conn, change).await?,
                        Notification::Revision(revision) => self.on_revision(&mut conn, revision).await?,
                    }
                }
                _ = poll.tick() => {
                    let revision = self.timed(conn.revision()).await?;
                    tracing::trace!(revision, applied = self.cache.revision(), "polled");
                    self.status.database_revision.fetch_max(revision, Ordering::AcqRel);
                    if revision > self.cache.revision() {
                        self.catch_up(&mut conn).await?;
                    }
                    if self.cache.revision() >= revision {
                        self.status.synced();
                    }
                }
            }
        }
    }

    async fn timed<T>(&self, f: impl Future<Output = Result<T>>) -> Result<T> {
        Self::within(self.config.query_timeout, f).await
    }

    async fn within<T>(limit: Duration, f: impl Future<Output = Result<T>>) -> Result<T> {
        tokio::time::timeout(limit, f).await.unwrap_or_else(|_| {
            Err(Error::Unavailable(format!("the change feed did not answer within {limit:?}; reconnecting")))
        })
    }

    /// After (re)connecting: load a snapshot the first time or when far behind, else replay the
    /// change log from where the cache is.
    async fn resync(&self, conn: &mut F::Connection) -> Result<()> {
        let source = self.timed(conn.revision()).await?;
        self.status.database_revision.fetch_max(source, Ordering::AcqRel);
        let applied = self.cache.revision();
        let catch_up =
            self.cache.is_loaded() && source >= applied && source - applied <= self.config.resync_max_changes;
        if catch_up {
            self.catch_up(conn).await?;
        } else {
            self.snapshot(conn).await?;
            // A stored snapshot may be a little older than the database: the log has the rest.
            if self.cache.revision() < source {
                self.catch_up(conn).await?;
            }
        }
        if self.cache.revision() >= source {
            self.status.synced();
        }
        Ok(())
    }

    async fn snapshot(&self, conn: &mut F::Connection) -> Result<()> {
        let started = Instant::now();
        let snapshot = Self::within(self.config.snapshot_timeout, conn.snapshot()).await?;
        let mut fetched = started.elapsed();
        let mut revision = snapshot.revision;
        let mut packed = snapshot.packed.len();
        if let Err(e) = self.cache.load_snapshot(snapshot) {
            if packed == 0 {
                return Err(e);
            }
            // A stored compact snapshot that does not read is skipped, not retried forever.
            tracing::warn!(error = %e, "the stored snapshot is unreadable; loading the full one instead");
            let snapshot = Self::within(self.config.snapshot_timeout, conn.full_snapshot()).await?;
            fetched = started.elapsed();
            (revision, packed) = (snapshot.revision, 0);
            self.cache.load_snapshot(snapshot)?;
        }
        self.status.snapshots_loaded.fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            revision,
            bindings = self.cache.bindings_count(),
            fetch_ms = fetched.as_millis(),
            build_ms = (started.elapsed() - fetched).as_millis(),
            packed_parts = packed,
            "loaded snapshot"
        );
        Ok(())
    }

    async fn on_change(&self, conn: &mut F::Connection, change: Change) -> Result<()> {
        let applied = self.cache.revision();
        if change.revision <= applied {
            self.status.duplicates_dropped.fetch_add(1, Ordering::Relaxed);
        } else if self.is_stuck() {
            // Retried from the log when due.
            self.catch_up(conn).await?;
        } else if change.revision == applied + 1 {
            match self.cache.apply(&change) {
                // Anything applied was committed: the database is at least there. (Notifications
                // themselves are not trusted for this; anyone with access can NOTIFY.)
                Ok(()) => {
                    self.status.database_revision.fetch_max(change.revision, Ordering::AcqRel);
                }
                Err(e) => self.stuck(change.revision, &e),
            }
        } else {
            // A gap: something between was lost or is late. The log has it all, in order.
            self.status.gaps_filled.fetch_add(1, Ordering::Relaxed);
            self.catch_up(conn).await?;
        }
        Ok(())
    }

    async fn on_revision(&self, conn: &mut F::Connection, revision: u64) -> Result<()> {
        if revision <= self.cache.revision() {
            self.status.duplicates_dropped.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        if revision > self.cache.revision() + 1 {
            self.status.gaps_filled.fetch_add(1, Ordering::Relaxed);
        }
        self.catch_up(conn).await
    }

    /// Applies every committed change after the cache's revision, in order (see [`Self::apply_log`]).
    /// A change that cannot be applied is not a lost connection: the node stays at the last
    /// change it could apply, serving, reports it (`stuck_at`, the last error, a failure count)
    /// and tries again after a pause that doubles up to `stuck_retry_max` — no reconnect, and no
    /// query per notification meanwhile. Only `UNAVAILABLE` (the connection) is returned.
    async fn catch_up(&self, conn: &mut F::Connection) -> Result<()> {
        if self.retry_pending() {
            return Ok(());
        }
        match self.apply_log(conn).await {
            Ok(()) => {
                if self.status.stuck_at.swap(0, Ordering::AcqRel) != 0 {
                    tracing::info!(revision = self.cache.revision(), "change applied after earlier failures");
                }
                *self.retry.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
                Ok(())
            }
            Err(e @ Error::Unavailable(_)) => Err(e),
            Err(e) => {
                self.stuck(self.cache.revision() + 1, &e);
                Ok(())
            }
        }
    }

    fn is_stuck(&self) -> bool {
        self.status.stuck_at.load(Ordering::Acquire) != 0
    }

    /// Stuck, and the next retry is not due yet.
    fn retry_pending(&self) -> bool {
        self.retry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_some_and(|(at, _)| Instant::now() < at)
    }

    fn stuck(&self, revision: u64, error: &Error) {
        self.status.stuck_at.store(revision, Ordering::Release);
        self.status.apply_failures.fetch_add(1, Ordering::Relaxed);
        self.status.failed(error);
        let mut retry = self.retry.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let pause =
            retry.map_or(self.config.poll_interval, |(_, p)| (p * 2).min(self.config.stuck_retry_max));
        *retry = Some((Instant::now() + pause, pause));
        tracing::error!(
            revision,
            applied = self.cache.revision(),
            error = %error,
            retry_in = ?pause,
            "cannot apply a change; serving the last state it applied"
        );
    }

    /// The change log after the cache's revision, applied in order. If the log no longer holds
    /// the next change (pruned), reloads a snapshot instead.
    async fn apply_log(&self, conn: &mut F::Connection) -> Result<()> {
        loop {
            let applied = self.cache.revision();
            let batch = self.timed(conn.changes_after(applied, self.config.batch)).await?;
            tracing::trace!(applied, fetched = batch.len(), "catch up");
            let Some(first) = batch.first() else { return Ok(()) };
            if first.revision != applied + 1 {
                tracing::warn!(
                    applied,
                    next = first.revision,
                    "change log pruned past this node; reloading a snapshot"
                );
                return self.snapshot(conn).await;
            }
            let full = batch.len() >= self.config.batch as usize;
            for change in &batch {
                self.cache.apply(change)?;
            }
            self.status.database_revision.fetch_max(self.cache.revision(), Ordering::AcqRel);
            if !full {
                return Ok(());
            }
        }
    }
}

/// `base` ± 25%, from the clock's low bits (no RNG dependency needed for spreading reconnects).
fn jitter(base: Duration) -> Duration {
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let factor = 0.75 + f64::from(nanos % 1_000) / 2_000.0;
    base.mul_f64(factor)
}

#[cfg(test)]
mod tests {
    //! The ordering rules against a scripted feed, where delivery order is fully controlled.
    //! (The same rules are exercised against real PostgreSQL in the integration suite.)

    use std::sync::Mutex as StdMutex;

    use async_trait::async_trait;
    use bindery_core::{
        Artifact, BindingChange, BindingName, BindingTarget, ChangeEffect, ModelName, Snapshot,
    };
    use tokio::sync::mpsc;

    use super::*;

    fn model() -> ModelName {
        ModelName::parse("m", "m").unwrap_or_else(|e| panic!("{e}"))
    }

    fn change(revision: u64) -> Change {
        let effect = if revision == 1 {
            ChangeEffect::ModelUpserted
        } else {
            ChangeEffect::Bindings(vec![BindingChange {
                model_name: model(),
                binding: BindingName::parse("b", format!("b{}", revision % 3))
                    .unwrap_or_else(|e| panic!("{e}")),
                generation: revision,
                target: Some(BindingTarget::single(revision, Artifact::default())),
            }])
        };
        Change { revision, model: Some(model()), effect }
    }

    /// A log of committed changes plus a notification channel the test drives.
    #[derive(Clone)]
    struct Scripted {
        log: Arc<StdMutex<Vec<Change>>>,
        notifications: Arc<StdMutex<Option<mpsc::UnboundedReceiver<Notification>>>>,
    }

    struct ScriptedConnection {
        log: Arc<StdMutex<Vec<Change>>>,
        notifications: mpsc::UnboundedReceiver<Notification>,
    }

    #[async_trait]
    impl ChangeFeed for Scripted {
        type Connection = ScriptedConnection;
        async fn connect(&self) -> Result<ScriptedConnection> {
            let notifications = self
                .notifications
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take()
                .ok_or_else(|| Error::Unavailable("no more connections".into()))?;
            Ok(ScriptedConnection { log: self.log.clone(), notifications })
        }
    }

    #[async_trait]
    impl FeedConnection for ScriptedConnection {
        async fn notification(&mut self) -> Result<Notification> {
            self.notifications.recv().await.ok_or_else(|| Error::Unavailable("closed".into()))
        }
        async fn snapshot(&mut self) -> Result<Snapshot> {
            Ok(Snapshot::default())
        }
        async fn changes_after(&mut self, after: u64, limit: u32) -> Result<Vec<Change>> {
            let log = self.log.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            Ok(log.iter().filter(|c| c.revision > after).take(limit as usize).cloned().collect())
        }
        async fn revision(&mut self) -> Result<u64> {
            Ok(self.log.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len() as u64)
        }
    }

    #[tokio::test]
    async fn out_of_order_duplicate_and_future_notifications_converge_on_the_log() {
        let log = Arc::new(StdMutex::new(Vec::new()));
        let (tx, rx) = mpsc::unbounded_channel();
        let feed = Scripted { log: log.clone(), notifications: Arc::new(StdMutex::new(Some(rx))) };
        let cache = Arc::new(Cache::new(100, 100));
        let status = Arc::new(FeedStatus::default());
        // A slow poll, so notifications (not the poll) drive what happens.
        let config = FollowerConfig { poll_interval: Duration::from_secs(3_600), ..Default::default() };
        let (_stop_tx, stop) = watch::channel(false);
        let follower = tokio::spawn(Follower::new(feed, cache.clone(), status.clone(), config).run(stop));

        let commit = |revision: u64| {
            log.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(change(revision));
        };
        let send = |n: Notification| tx.send(n).unwrap_or_else(|_| panic!("follower gone"));
        // Committed after the first snapshot (before it, the follower would catch up at once).
        while !cache.is_loaded() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        for r in 1..=3 {
            commit(r);
        }
        // 3 before 2 (gap: fetch 1..3 from the log), then 2 and 3 again (duplicates).
        send(Notification::Change(change(3)));
        send(Notification::Change(change(2)));
        send(Notification::Change(change(3)));
        // A revision announced before it is committed: nothing to fetch yet, nothing applied.
        send(Notification::Revision(5));
        commit(4);
        commit(5);
        // The real notifications, late and out of order.
        send(Notification::Change(change(5)));
        send(Notification::Change(change(4)));

        let reached = cache.wait_for(5, Duration::from_secs(10)).await;
        assert_eq!(reached, Ok(5));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(cache.revision(), 5);
        for r in 2..=5u64 {
            let binding = BindingName::parse("b", format!("b{}", r % 3)).unwrap_or_else(|e| panic!("{e}"));
            let (found, _) = cache.resolve(&model(), &binding);
            // b2 was set at revisions 2 and 5; every binding holds its latest change.
            let latest = (2..=5u64).filter(|x| x % 3 == r % 3).max().unwrap_or_default();
            assert_eq!(found.map(|t| t.version).ok(), Some(latest));
        }
        assert!(status.duplicates_dropped.load(Ordering::Relaxed) >= 3);
        assert!(status.gaps_filled.load(Ordering::Relaxed) >= 1);
        follower.abort();
    }
}
