//! WatchBindings as a resumable stream.

use std::sync::Arc;
use std::time::Duration;

use bindery_proto::v1;
use tonic::{Status, Streaming};

use crate::node::Nodes;

/// One step of a watch: with `reset`, `bindings` is the whole state of what is watched (replace
/// your view); otherwise the changes made at `revision` (deleted bindings have `deleted` set).
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub revision: u64,
    pub reset: bool,
    pub bindings: Vec<v1::BindingState>,
}

/// A watch that reconnects by itself: after a disconnect, a node restart or an UNAVAILABLE it
/// moves to the next node with back-off and resumes after the last revision it delivered (a node
/// that no longer has those changes answers with a reset). Other errors (a bad request, a
/// missing permission) end it.
pub struct Watch {
    nodes: Arc<Nodes>,
    request: v1::WatchBindingsRequest,
    stream: Option<(usize, Streaming<v1::WatchBindingsResponse>)>,
    attempt: u32,
    /// Reconnections so far.
    pub reconnects: u64,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch").field("request", &self.request).field("reconnects", &self.reconnects).finish()
    }
}

impl Watch {
    pub(crate) fn new(nodes: Arc<Nodes>, request: v1::WatchBindingsRequest) -> Self {
        Self { nodes, request, stream: None, attempt: 0, reconnects: 0 }
    }

    /// The revision of the last update delivered: where a reconnect resumes.
    pub fn revision(&self) -> u64 {
        self.request.since_revision
    }

    async fn back_off(&mut self, index: usize, why: &Status) {
        tracing::debug!(node = %self.nodes.nodes()[index].address, %why, "watch interrupted; reconnecting");
        self.nodes.failed(index);
        self.stream = None;
        self.reconnects += 1;
        self.attempt = (self.attempt + 1).min(6);
        tokio::time::sleep(Duration::from_millis(50u64 << self.attempt)).await;
    }

    /// The next update; waits for it, reconnecting as needed.
    pub async fn next(&mut self) -> Result<Update, Status> {
        let mut pending: Vec<v1::BindingState> = Vec::new();
        let mut assembling = false;
        loop {
            let (index, stream) = match &mut self.stream {
                Some((index, stream)) => (*index, stream),
                None => {
                    let (index, mut client) = self.nodes.pick();
                    match client.watch_bindings(self.request.clone()).await {
                        Ok(response) => {
                            self.stream = Some((index, response.into_inner()));
                            continue;
                        }
                        Err(status)
                            if crate::retriable(status.code())
                                || status.code() == tonic::Code::ResourceExhausted =>
                        {
                            self.back_off(index, &status).await;
                            continue;
                        }
                        Err(status) => return Err(status),
                    }
                }
            };
            let message = match stream.message().await {
                Ok(Some(message)) => message,
                Ok(None) => {
                    let why = Status::unavailable("the read node ended the watch");
                    pending.clear();
                    assembling = false;
                    self.back_off(index, &why).await;
                    continue;
                }
                Err(status)
                    if crate::retriable(status.code())
                        || matches!(
                            status.code(),
                            tonic::Code::Internal | tonic::Code::ResourceExhausted | tonic::Code::Aborted
                        ) =>
                {
                    pending.clear();
                    assembling = false;
                    self.back_off(index, &status).await;
                    continue;
                }
                Err(status) => return Err(status),
            };
            if message.reset {
                pending = message.bindings;
                assembling = true;
            } else if assembling {
                pending.extend(message.bindings);
            } else {
                pending = message.bindings;
            }
            if message.continues {
                continue;
            }
            self.nodes.succeeded(index);
            self.attempt = 0;
            self.request.since_revision = message.revision;
            return Ok(Update {
                revision: message.revision,
                reset: assembling,
                bindings: std::mem::take(&mut pending),
            });
        }
    }
}
