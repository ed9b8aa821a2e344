//! A local cache of bindings kept current by a watch.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use bindery_proto::v1;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::Status;

use crate::watch::{Update, Watch};

type Key = (String, String);

#[derive(Debug, Default)]
struct State {
    bindings: HashMap<Key, v1::BindingState>,
    revision: u64,
    error: Option<Status>,
}

/// Answers "which target does model@binding have" from memory. A background task applies the
/// watch's updates; [`Resolver::changes`] tells when the view moved. Dropping it stops the task.
#[derive(Debug)]
pub struct Resolver {
    state: Arc<RwLock<State>>,
    revision: watch::Receiver<u64>,
    task: JoinHandle<()>,
}

impl Resolver {
    pub(crate) fn start(mut watch: Watch) -> Self {
        let state = Arc::new(RwLock::new(State::default()));
        let (tx, rx) = watch::channel(0);
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            loop {
                match watch.next().await {
                    Ok(update) => {
                        let revision = update.revision;
                        if let Ok(mut s) = shared.write() {
                            apply(&mut s, update);
                        }
                        tx.send_replace(revision);
                    }
                    Err(status) => {
                        tracing::warn!(%status, "the binding watch failed; the cache keeps its last state");
                        if let Ok(mut s) = shared.write() {
                            s.error = Some(status);
                        }
                        return;
                    }
                }
            }
        });
        Self { state, revision: rx, task }
    }

    /// The current target of `model`/`binding`, if it exists (a split: every side in `sides`).
    pub fn get(&self, model: &str, binding: &str) -> Option<v1::BindingState> {
        let s = self.state.read().ok()?;
        s.bindings.get(&(model.to_owned(), binding.to_owned())).cloned()
    }

    /// The revision the cache reflects (0 before the first update).
    pub fn revision(&self) -> u64 {
        self.state.read().map(|s| s.revision).unwrap_or(0)
    }

    /// Why the watch stopped, if it did (a permission or a bad request; outages are retried).
    pub fn error(&self) -> Option<Status> {
        self.state.read().ok().and_then(|s| s.error.clone())
    }

    /// A receiver of the revision after every applied update (wait on `changed()`).
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.revision.clone()
    }

    /// Waits until the cache has applied at least `revision` (1: the first state).
    pub async fn wait_for(&self, revision: u64) -> Result<(), Status> {
        let mut rx = self.changes();
        loop {
            if *rx.borrow_and_update() >= revision {
                return Ok(());
            }
            if let Some(e) = self.error() {
                return Err(e);
            }
            if rx.changed().await.is_err() {
                return Err(self.error().unwrap_or_else(|| Status::unavailable("the binding watch stopped")));
            }
        }
    }
}

impl Drop for Resolver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn apply(s: &mut State, update: Update) {
    if update.reset {
        s.bindings.clear();
    }
    for b in update.bindings {
        let key = (b.model_name.clone(), b.binding.clone());
        if b.deleted {
            s.bindings.remove(&key);
        } else {
            s.bindings.insert(key, b);
        }
    }
    s.revision = update.revision;
    s.error = None;
}
