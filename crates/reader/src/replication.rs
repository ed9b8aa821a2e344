//! `ReplicationService`: how tier-2 read nodes follow this node (README "Tier-2 read nodes").
//! Every call needs the node's replication secret; without one configured, replication is off.
//! The state goes out in the change log's own encoding (`Change::encode`, read back with
//! `Change::decode` on the other side), so there is one format for PostgreSQL and for peers.

use std::pin::Pin;
use std::sync::Arc;

use bindery_core::replication::ReplicationSecret;
use bindery_core::{BindingChange, BindingsPayload, Change, Snapshot};
use bindery_proto::status_from_error;
use bindery_proto::v1::replication_service_server::ReplicationService;
use bindery_proto::v1::{
    FollowRevisionsRequest, FollowRevisionsResponse, GetChangesRequest, GetChangesResponse,
    GetSnapshotRequest, ReplicationEntry, SnapshotChunk,
};
use tokio::sync::{mpsc, watch};
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::{Cache, ChangesAfter};

/// Changes one GetChanges answers at most.
pub const MAX_CHANGES: u32 = 1_000;
/// A snapshot chunk is cut once it holds about this much (well under any message limit).
const CHUNK_BYTES: usize = 1024 * 1024;

/// The replication side of a read node.
pub struct ReplicationServer {
    cache: Arc<Cache>,
    secret: Option<ReplicationSecret>,
    stop: watch::Receiver<bool>,
}

type RpcStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

impl ReplicationServer {
    /// `secret`: `None` refuses every call (replication off). `stop` ends open streams when the
    /// node shuts down.
    pub fn new(cache: Arc<Cache>, secret: Option<ReplicationSecret>, stop: watch::Receiver<bool>) -> Self {
        Self { cache, secret, stop }
    }

    fn authorize<T>(&self, request: &Request<T>) -> Result<(), Status> {
        let Some(secret) = &self.secret else {
            return Err(Status::permission_denied(
                "replication is off on this read node: start it with --replication-secret to let tier-2 nodes follow it",
            ));
        };
        let header =
            request.metadata().get(bindery_proto::auth::AUTHORIZATION_HEADER).and_then(|v| v.to_str().ok());
        secret.check(header).map_err(status_from_error)
    }

    fn loaded(&self) -> Result<(), Status> {
        if self.cache.is_loaded() {
            Ok(())
        } else {
            Err(Status::unavailable("this read node has not loaded its state yet; try another or retry"))
        }
    }
}

fn entry(change: &Change) -> Result<ReplicationEntry, Status> {
    let (kind, model, payload) = change
        .encode()
        .ok_or_else(|| Status::internal(format!("change {} cannot be encoded", change.revision)))?;
    Ok(ReplicationEntry {
        revision: change.revision,
        kind: kind.to_owned(),
        model,
        payload: payload.to_string().into(),
    })
}

/// The snapshot as chunks: model names, then each model's bindings as one `binding` entry, then
/// the access changes, cut at about [`CHUNK_BYTES`].
fn chunks(snapshot: Snapshot) -> Result<Vec<SnapshotChunk>, Status> {
    let revision = snapshot.revision;
    let mut out = Vec::new();
    let mut chunk = SnapshotChunk { revision, ..Default::default() };
    let mut size = 0usize;
    let cut = |chunk: &mut SnapshotChunk, size: &mut usize, out: &mut Vec<SnapshotChunk>, more: usize| {
        *size += more;
        if *size >= CHUNK_BYTES {
            out.push(std::mem::replace(chunk, SnapshotChunk { revision, ..Default::default() }));
            *size = 0;
        }
    };
    for model in snapshot.models {
        let len = model.as_str().len() + 4;
        chunk.models.push(model.as_str().to_owned());
        cut(&mut chunk, &mut size, &mut out, len);
    }
    let mut bindings = snapshot.bindings.into_iter().peekable();
    while let Some(first) = bindings.next() {
        // Bindings of one model come together (the cache hands them out model by model).
        let model = first.model_name.clone();
        let mut group: Vec<BindingChange> = vec![first];
        while let Some(next) = bindings.next_if(|b| b.model_name == model) {
            group.push(next);
        }
        let payload = serde_json::to_vec(&BindingsPayload::new(group))
            .map_err(|e| Status::internal(format!("encoding the bindings of {model}: {e}")))?;
        let len = payload.len() + model.as_str().len() + 16;
        chunk.entries.push(ReplicationEntry {
            revision: 0,
            kind: "binding".into(),
            model: model.as_str().to_owned(),
            payload,
        });
        cut(&mut chunk, &mut size, &mut out, len);
    }
    for access in snapshot.access {
        let payload = serde_json::to_vec(&access)
            .map_err(|e| Status::internal(format!("encoding an access entry: {e}")))?;
        let len = payload.len() + 16;
        chunk.entries.push(ReplicationEntry {
            revision: 0,
            kind: bindery_core::ACCESS_KIND.into(),
            model: String::new(),
            payload,
        });
        cut(&mut chunk, &mut size, &mut out, len);
    }
    chunk.last = true;
    out.push(chunk);
    Ok(out)
}

/// The snapshot in the compact encoding, one part of about [`CHUNK_BYTES`] per chunk.
fn packed_chunks(cache: &Cache) -> Result<Vec<SnapshotChunk>, Status> {
    let revision = cache.revision();
    let parts = cache.export_packed(CHUNK_BYTES).map_err(status_from_error)?;
    let last = parts.len().saturating_sub(1);
    Ok(parts
        .into_iter()
        .enumerate()
        .map(|(i, part)| SnapshotChunk { revision, last: i == last, part, ..Default::default() })
        .collect())
}

#[tonic::async_trait]
impl ReplicationService for ReplicationServer {
    type GetSnapshotStream = RpcStream<SnapshotChunk>;
    type FollowRevisionsStream = RpcStream<FollowRevisionsResponse>;

    async fn get_snapshot(
        &self,
        request: Request<GetSnapshotRequest>,
    ) -> Result<Response<Self::GetSnapshotStream>, Status> {
        self.authorize(&request)?;
        self.loaded()?;
        let packed = request.get_ref().packed;
        let cache = self.cache.clone();
        let chunks = tokio::task::spawn_blocking(move || {
            if packed { packed_chunks(&cache) } else { chunks(cache.export_snapshot()) }
        })
        .await
        .map_err(|e| Status::internal(format!("exporting the snapshot: {e}")))??;
        tracing::info!(
            chunks = chunks.len(),
            revision = chunks.first().map_or(0, |c| c.revision),
            "snapshot sent to a tier-2 node"
        );
        Ok(Response::new(Box::pin(tokio_stream::iter(chunks.into_iter().map(Ok)))))
    }

    async fn get_changes(
        &self,
        request: Request<GetChangesRequest>,
    ) -> Result<Response<GetChangesResponse>, Status> {
        self.authorize(&request)?;
        self.loaded()?;
        let GetChangesRequest { after_revision, limit } = request.into_inner();
        if limit > MAX_CHANGES {
            return Err(Status::invalid_argument(format!(
                "limit must be at most {MAX_CHANGES}, got {limit}"
            )));
        }
        let revision = self.cache.revision();
        if limit == 0 {
            return Ok(Response::new(GetChangesResponse { changes: Vec::new(), revision, pruned: false }));
        }
        let answer = match self.cache.changes_after(after_revision, limit as usize) {
            ChangesAfter::Pruned => GetChangesResponse { changes: Vec::new(), revision, pruned: true },
            ChangesAfter::Changes(changes) => GetChangesResponse {
                changes: changes.iter().map(entry).collect::<Result<_, _>>()?,
                revision,
                pruned: false,
            },
        };
        Ok(Response::new(answer))
    }

    async fn follow_revisions(
        &self,
        request: Request<FollowRevisionsRequest>,
    ) -> Result<Response<Self::FollowRevisionsStream>, Status> {
        self.authorize(&request)?;
        self.loaded()?;
        let mut revisions = self.cache.revisions();
        let mut stop = self.stop.clone();
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(async move {
            loop {
                let revision = *revisions.borrow_and_update();
                if tx.send(Ok(FollowRevisionsResponse { revision })).await.is_err() {
                    return;
                }
                tokio::select! {
                    changed = revisions.changed() => if changed.is_err() { return },
                    _ = stop.wait_for(|s| *s) => return,
                    () = tx.closed() => return,
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

#[cfg(test)]
mod tests {
    use bindery_core::{BindingName, ModelName};

    use super::*;

    #[test]
    fn a_snapshot_goes_out_in_chunks_that_decode_back_to_it() {
        let models: Vec<ModelName> =
            (0..3000).map(|i| ModelName::parse("model", format!("ns/model-{i:05}")).unwrap()).collect();
        let artifact = bindery_core::Artifact {
            uri: "s3://m/x.onnx".into(),
            sha256: "ab".repeat(32),
            size_bytes: 1,
            format: "onnx".into(),
            ..Default::default()
        };
        let bindings: Vec<BindingChange> = models
            .iter()
            .flat_map(|m| {
                ["production", "staging"].into_iter().map(|b| BindingChange {
                    model_name: m.clone(),
                    binding: BindingName::parse("binding", b).unwrap(),
                    generation: 1,
                    target: Some(bindery_core::BindingTarget::single(1, artifact.clone())),
                })
            })
            .collect();
        let snapshot = Snapshot {
            revision: 42,
            models: models.clone(),
            bindings: bindings.clone(),
            ..Default::default()
        };
        let chunks = chunks(snapshot).unwrap();
        assert!(chunks.len() > 1, "{} chunks", chunks.len());
        assert!(chunks.iter().all(|c| c.revision == 42) && chunks.last().is_some_and(|c| c.last));
        assert_eq!(chunks.iter().filter(|c| c.last).count(), 1);
        let mut decoded = Vec::new();
        for e in chunks.iter().flat_map(|c| &c.entries) {
            let payload = serde_json::from_slice(&e.payload).unwrap();
            match Change::decode(0, &e.kind, &e.model, payload).map(|c| c.effect) {
                Some(bindery_core::ChangeEffect::Bindings(b)) => decoded.extend(b),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(decoded, bindings);
        assert_eq!(chunks.iter().flat_map(|c| c.models.clone()).count(), models.len());

        // The compact encoding: parts under the chunk size that load into the same state.
        let cache = Cache::new(10, 4).with_replication(10);
        cache.load_snapshot(Snapshot { revision: 42, models, bindings, ..Default::default() }).unwrap();
        let packed = packed_chunks(&cache).unwrap();
        // (6,000 bindings take well under one part, and under a third of the JSON chunks' bytes.)
        let json_bytes: usize = chunks.iter().flat_map(|c| &c.entries).map(|e| e.payload.len()).sum();
        let packed_bytes: usize = packed.iter().map(|c| c.part.len()).sum();
        assert!(packed_bytes * 3 < json_bytes, "{packed_bytes} vs {json_bytes}");
        assert!(packed.iter().all(|c| c.part.len() < 2 * CHUNK_BYTES && c.entries.is_empty()));
        assert_eq!(packed.iter().filter(|c| c.last).count(), 1);
        let follower = Cache::new(10, 4);
        let parts = packed.into_iter().map(|c| c.part).collect();
        follower.load_snapshot(Snapshot { revision: 42, packed: parts, ..Default::default() }).unwrap();
        let sorted = |mut s: Snapshot| {
            s.models.sort();
            s.bindings.sort_by(|a, b| (&a.model_name, &a.binding).cmp(&(&b.model_name, &b.binding)));
            s
        };
        assert_eq!(sorted(follower.export_snapshot()).bindings, sorted(cache.export_snapshot()).bindings);
        assert_eq!(follower.models_count(), 3000);
        assert_eq!(follower.bindings_count(), 6000);
    }
}
