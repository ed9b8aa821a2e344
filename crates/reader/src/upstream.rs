//! The change feed of a tier-2 read node: another read node's `ReplicationService` instead of
//! PostgreSQL (README "Tier-2 read nodes"). The [`crate::Follower`] drives it exactly as it drives
//! the database feed, so ordering, gap filling, snapshots, anti-entropy polls and reconnects with
//! backoff are the same code; this module only speaks the protocol and fails over between
//! upstreams.
//!
//! Prefix consistency: an upstream's state is always the primary's at some revision, its changes
//! come in revision order without gaps, and a snapshot is one revision's whole state, so a node
//! following it is too. Monotonic: an upstream behind this node is skipped at connect (this node
//! would otherwise go back in time on a snapshot), and the next one tried.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bindery_core::{
    Change, ChangeEffect, ChangeFeed, Error, FeedConnection, ModelName, Notification, Result, Snapshot,
};
use bindery_proto::v1::replication_service_client::ReplicationServiceClient;
use bindery_proto::v1::{
    FollowRevisionsRequest, FollowRevisionsResponse, GetChangesRequest, GetSnapshotRequest,
};
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tonic::{Request, Streaming};

use crate::{Cache, FeedStatus};

/// Upstream read nodes, tried in order from the last one that worked.
pub struct UpstreamFeed {
    urls: Vec<String>,
    secret: MetadataValue<tonic::metadata::Ascii>,
    tls: Option<ClientTlsConfig>,
    max_message_bytes: usize,
    cache: Arc<Cache>,
    status: Arc<FeedStatus>,
    next: AtomicUsize,
}

impl UpstreamFeed {
    /// `urls`: `http(s)://host:port` of tier-1 (or other tier-2) read nodes; `secret`: their
    /// replication secret.
    pub fn new(
        urls: Vec<String>,
        secret: &str,
        tls: Option<ClientTlsConfig>,
        max_message_bytes: usize,
        cache: Arc<Cache>,
        status: Arc<FeedStatus>,
    ) -> Result<Self> {
        if urls.is_empty() {
            return Err(Error::invalid("upstream", "name at least one read node"));
        }
        for url in &urls {
            if !(url.starts_with("http://") || url.starts_with("https://"))
                || Endpoint::from_shared(url.clone()).is_err()
            {
                return Err(Error::invalid("upstream", format!("{url:?} is not an http(s)://host:port URL")));
            }
        }
        let secret = MetadataValue::try_from(format!("Bearer {}", secret.trim()))
            .map_err(|_| Error::invalid("upstream secret", "must be printable ASCII"))?;
        Ok(Self { urls, secret, tls, max_message_bytes, cache, status, next: AtomicUsize::new(0) })
    }

    async fn open(&self, url: &str) -> Result<UpstreamConnection> {
        let unavailable = |what: &str, e: &dyn std::fmt::Display| {
            Error::Unavailable(format!("upstream {url}: {what}: {e}"))
        };
        let mut endpoint = Endpoint::from_shared(url.to_owned())
            .map_err(|e| unavailable("bad URL", &e))?
            .connect_timeout(Duration::from_secs(3))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(10))
            .keep_alive_timeout(Duration::from_secs(5));
        if let Some(tls) = &self.tls {
            endpoint = endpoint.tls_config(tls.clone()).map_err(|e| unavailable("TLS", &e))?;
        }
        let channel = endpoint.connect().await.map_err(|e| unavailable("connecting", &e))?;
        let client = ReplicationServiceClient::new(channel)
            .max_decoding_message_size(self.max_message_bytes)
            .max_encoding_message_size(self.max_message_bytes);
        let mut conn = UpstreamConnection {
            url: url.to_owned(),
            client,
            secret: self.secret.clone(),
            revisions: None,
            first: None,
        };
        let mut revisions = conn
            .client
            .follow_revisions(conn.request(FollowRevisionsRequest {}))
            .await
            .map_err(|s| conn.failed(&s))?
            .into_inner();
        let first = next_revision(&mut revisions, url).await?;
        let applied = self.cache.revision();
        if first < applied {
            return Err(Error::Unavailable(format!(
                "upstream {url} is at revision {first}, behind this node's {applied}; trying another"
            )));
        }
        conn.revisions = Some(revisions);
        conn.first = Some(first);
        Ok(conn)
    }
}

async fn next_revision(stream: &mut Streaming<FollowRevisionsResponse>, url: &str) -> Result<u64> {
    match stream.message().await {
        Ok(Some(m)) => Ok(m.revision),
        Ok(None) => Err(Error::Unavailable(format!("upstream {url} ended its revision stream"))),
        Err(s) => Err(Error::Unavailable(format!("upstream {url}: {}", s.message()))),
    }
}

#[async_trait]
impl ChangeFeed for UpstreamFeed {
    type Connection = UpstreamConnection;

    async fn connect(&self) -> Result<UpstreamConnection> {
        let start = self.next.load(Ordering::Relaxed);
        let mut failures = Vec::new();
        for i in 0..self.urls.len() {
            let index = (start + i) % self.urls.len();
            let url = &self.urls[index];
            match self.open(url).await {
                Ok(conn) => {
                    self.next.store(index, Ordering::Relaxed);
                    self.status.set_upstream(url);
                    tracing::info!(upstream = %url, "following upstream read node");
                    return Ok(conn);
                }
                Err(e) => {
                    tracing::warn!(upstream = %url, error = %e, "upstream read node unusable");
                    failures.push(e.to_string());
                }
            }
        }
        // Next time, start with the one after the first we tried.
        self.next.store((start + 1) % self.urls.len(), Ordering::Relaxed);
        self.status.set_upstream("");
        Err(Error::Unavailable(format!("no upstream read node is usable: {}", failures.join("; "))))
    }
}

/// A session with one upstream: its revision stream (the doorbell) and unary calls.
pub struct UpstreamConnection {
    url: String,
    client: ReplicationServiceClient<Channel>,
    secret: MetadataValue<tonic::metadata::Ascii>,
    revisions: Option<Streaming<FollowRevisionsResponse>>,
    /// The revision the stream opened with, delivered as the first notification.
    first: Option<u64>,
}

impl UpstreamConnection {
    fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        request.metadata_mut().insert(bindery_proto::auth::AUTHORIZATION_HEADER, self.secret.clone());
        request.set_timeout(Duration::from_secs(60));
        request
    }

    /// A failed call: authentication and bad requests are this node's configuration (the
    /// follower retries them with backoff and reports them); the rest is the upstream's absence.
    fn failed(&self, status: &tonic::Status) -> Error {
        let message = format!("upstream {}: {}", self.url, status.message());
        match status.code() {
            tonic::Code::Unauthenticated => Error::Unauthenticated(message),
            tonic::Code::PermissionDenied => Error::PermissionDenied(message),
            tonic::Code::InvalidArgument => Error::InvalidArgument(message),
            _ => Error::Unavailable(message),
        }
    }

    /// The upstream's snapshot, in the compact encoding when `packed` (an upstream that
    /// predates it answers with JSON entries, read all the same).
    async fn fetch_snapshot(&mut self, packed: bool) -> Result<Snapshot> {
        let request = self.request(GetSnapshotRequest { packed });
        let mut stream = self.client.get_snapshot(request).await.map_err(|s| self.failed(&s))?.into_inner();
        let mut snapshot = Snapshot::default();
        loop {
            let chunk = match stream.message().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => {
                    return Err(Error::Unavailable(format!(
                        "upstream {}: the snapshot was cut short",
                        self.url
                    )));
                }
                Err(s) => return Err(self.failed(&s)),
            };
            if snapshot.revision != 0 && chunk.revision != snapshot.revision {
                return Err(Error::Internal(format!(
                    "upstream {}: snapshot chunks of two revisions",
                    self.url
                )));
            }
            snapshot.revision = chunk.revision;
            if !chunk.part.is_empty() {
                snapshot.packed.push(chunk.part);
            }
            for name in chunk.models {
                snapshot.models.push(ModelName::parse("model", &name)?);
            }
            for entry in chunk.entries {
                match decode(&entry, &self.url)?.effect {
                    ChangeEffect::Bindings(bindings) => snapshot.bindings.extend(bindings),
                    ChangeEffect::Access(access) => snapshot.access.push(access),
                    _ => {
                        return Err(Error::Internal(format!(
                            "upstream {}: unexpected snapshot entry",
                            self.url
                        )));
                    }
                }
            }
            if chunk.last {
                return Ok(snapshot);
            }
        }
    }
}

fn decode(entry: &bindery_proto::v1::ReplicationEntry, url: &str) -> Result<Change> {
    let payload = serde_json::from_slice(&entry.payload).ok();
    payload.and_then(|p| Change::decode(entry.revision, &entry.kind, &entry.model, p)).ok_or_else(|| {
        Error::Internal(format!(
            "upstream {url} sent change {} (kind '{}') that this version of bindery cannot decode; upgrade this node",
            entry.revision, entry.kind
        ))
    })
}

#[async_trait]
impl FeedConnection for UpstreamConnection {
    async fn notification(&mut self) -> Result<Notification> {
        if let Some(first) = self.first.take() {
            return Ok(Notification::Revision(first));
        }
        let url = self.url.clone();
        let Some(stream) = self.revisions.as_mut() else {
            return Err(Error::Unavailable(format!("upstream {url}: no revision stream")));
        };
        next_revision(stream, &url).await.map(Notification::Revision)
    }

    async fn snapshot(&mut self) -> Result<Snapshot> {
        self.fetch_snapshot(true).await
    }

    async fn full_snapshot(&mut self) -> Result<Snapshot> {
        self.fetch_snapshot(false).await
    }

    async fn changes_after(&mut self, after: u64, limit: u32) -> Result<Vec<Change>> {
        let limit = limit.clamp(1, crate::replication::MAX_CHANGES);
        let request = self.request(GetChangesRequest { after_revision: after, limit });
        let answer = self.client.get_changes(request).await.map_err(|s| self.failed(&s))?.into_inner();
        if answer.pruned {
            // The feed contract's "pruned" signal: a first change past `after + 1` (never applied:
            // the follower loads a snapshot instead).
            return Ok(vec![Change { revision: after + 2, model: None, effect: ChangeEffect::Other }]);
        }
        // Decoded as a log read from the database is: up to the first change this version
        // cannot decode (the follower then reports it and retries).
        let rows = answer
            .changes
            .into_iter()
            .map(|e| (e.revision, e.kind, e.model, serde_json::from_slice(&e.payload).ok()));
        bindery_core::decode_log(rows)
    }

    async fn revision(&mut self) -> Result<u64> {
        let request = self.request(GetChangesRequest { after_revision: 0, limit: 0 });
        Ok(self.client.get_changes(request).await.map_err(|s| self.failed(&s))?.into_inner().revision)
    }
}
