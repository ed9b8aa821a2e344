//! The Rust client of Bindery's read side, for serving sidecars and tools.
//!
//! - [`ReadClient`]: several read nodes behind one handle. Calls go to a healthy node; a node
//!   that answers UNAVAILABLE (down, restarting, behind `min_revision`) or cannot be reached is
//!   set aside with a growing back-off while the others answer, and the call is retried there.
//! - [`Watch`]: WatchBindings as a stream that survives disconnects and node restarts: it
//!   reconnects (to the next node) and resumes after the last revision it delivered, and joins a
//!   reset sent in parts into one [`Update`].
//! - [`Resolver`]: a local cache kept current by a watch: [`Resolver::get`] answers from memory.
//!
//! Every call carries the token as `authorization: Bearer`; `https://` addresses use TLS with the
//! system's roots unless [`Config::tls`] says otherwise.

mod node;
mod resolver;
mod watch;

use std::sync::Arc;
use std::time::Duration;

use bindery_proto::v1;
use tonic::Status;
use tonic::transport::ClientTlsConfig;

pub use node::Node;
pub use resolver::Resolver;
pub use watch::{Update, Watch};

/// Where the read nodes are and how to talk to them.
#[derive(Debug, Clone)]
pub struct Config {
    /// `http://host:port`, `https://host:port` or `host:port` (plaintext), in order of preference.
    pub addresses: Vec<String>,
    /// Sent as `authorization: Bearer <token>`.
    pub token: Option<String>,
    /// TLS for `https://` addresses (default: the system's roots).
    pub tls: Option<ClientTlsConfig>,
    /// Deadline of one unary call.
    pub timeout: Duration,
    /// Retries of a unary call after the first attempt, across nodes.
    pub retries: u32,
}

impl Config {
    /// Defaults for `addresses`: 10 s calls, 4 retries, no token.
    pub fn new<S: Into<String>>(addresses: impl IntoIterator<Item = S>) -> Self {
        Self {
            addresses: addresses.into_iter().map(Into::into).collect(),
            token: None,
            tls: None,
            timeout: Duration::from_secs(10),
            retries: 4,
        }
    }

    #[must_use]
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    #[must_use]
    pub fn tls(mut self, tls: ClientTlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }
}

/// Read nodes behind one cheap-to-clone handle.
#[derive(Clone, Debug)]
pub struct ReadClient {
    inner: Arc<node::Nodes>,
}

/// Codes worth another node or another attempt: the node is away, restarting or shedding load.
pub(crate) fn retriable(code: tonic::Code) -> bool {
    matches!(code, tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Cancelled)
}

impl ReadClient {
    /// Sets up a channel per address; connections are made on first use (and re-made after a
    /// failure), so this succeeds while nodes are still starting. Call it inside a Tokio runtime
    /// (the channels' workers are spawned on it).
    pub fn new(config: &Config) -> Result<Self, Status> {
        Ok(Self { inner: Arc::new(node::Nodes::new(config)?) })
    }

    /// The nodes and their state, for status pages.
    pub fn nodes(&self) -> &[Node] {
        self.inner.nodes()
    }

    /// Which artifact a binding serves.
    pub async fn resolve(&self, request: v1::ResolveRequest) -> Result<v1::ResolveResponse, Status> {
        self.inner.call(|mut client, request| async move { client.resolve(request).await }, request).await
    }

    /// `model@binding` with an optional routing key.
    pub async fn resolve_ref(
        &self,
        reference: &str,
        routing_key: &str,
    ) -> Result<v1::ResolveResponse, Status> {
        let (model, binding) = reference
            .rsplit_once('@')
            .filter(|(m, b)| !m.is_empty() && !b.is_empty())
            .ok_or_else(|| Status::invalid_argument(format!("expected model@binding, got {reference:?}")))?;
        self.resolve(v1::ResolveRequest {
            model_name: model.to_owned(),
            binding: binding.to_owned(),
            routing_key: routing_key.to_owned(),
            ..Default::default()
        })
        .await
    }

    /// Several resolves from one state.
    pub async fn resolve_many(
        &self,
        request: v1::ResolveManyRequest,
    ) -> Result<v1::ResolveManyResponse, Status> {
        self.inner
            .call(|mut client, request| async move { client.resolve_many(request).await }, request)
            .await
    }

    /// How current the answering node is.
    pub async fn status(&self) -> Result<v1::ReaderStatus, Status> {
        self.inner
            .call(
                |mut client, request| async move { client.get_reader_status(request).await },
                v1::GetReaderStatusRequest {},
            )
            .await
    }

    /// Follows bindings; see [`Watch`].
    pub fn watch(&self, request: v1::WatchBindingsRequest) -> Watch {
        Watch::new(Arc::clone(&self.inner), request)
    }

    /// A local cache of the watched bindings, kept current in the background; see [`Resolver`].
    pub fn resolver(&self, request: v1::WatchBindingsRequest) -> Resolver {
        Resolver::start(self.watch(request))
    }
}
