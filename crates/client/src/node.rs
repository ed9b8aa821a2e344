//! The nodes, their health, and the failover rule every call follows.

use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bindery_proto::v1::resolver_service_client::ResolverServiceClient;
use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tonic::{Request, Response, Status};

use crate::{Config, retriable};

pub(crate) type Client = ResolverServiceClient<InterceptedService<Channel, Auth>>;

/// Adds the token to every call.
#[derive(Clone, Debug)]
pub(crate) struct Auth(Option<MetadataValue<tonic::metadata::Ascii>>);

impl Interceptor for Auth {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.0 {
            request.metadata_mut().insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// One read node.
#[derive(Debug)]
pub struct Node {
    pub address: String,
    channel: Channel,
    health: Mutex<Health>,
}

#[derive(Debug, Default)]
struct Health {
    /// Set aside until then (after a failure).
    until: Option<Instant>,
    /// Consecutive failures (the back-off doubles with each, up to 30 s).
    failures: u32,
}

impl Node {
    /// Whether the node is currently in use (not set aside after a failure).
    pub fn healthy(&self) -> bool {
        self.health.lock().map(|h| h.until.is_none_or(|t| t <= Instant::now())).unwrap_or(true)
    }

    fn failed(&self) {
        if let Ok(mut h) = self.health.lock() {
            h.failures = h.failures.saturating_add(1);
            let backoff = Duration::from_millis(250u64.saturating_mul(1 << h.failures.min(7)))
                .min(Duration::from_secs(30));
            h.until = Some(Instant::now() + backoff);
        }
    }

    fn succeeded(&self) {
        if let Ok(mut h) = self.health.lock() {
            *h = Health::default();
        }
    }

    fn available_at(&self) -> Instant {
        self.health.lock().ok().and_then(|h| h.until).unwrap_or_else(Instant::now)
    }
}

#[derive(Debug)]
pub(crate) struct Nodes {
    nodes: Vec<Node>,
    current: AtomicUsize,
    auth: Auth,
    timeout: Duration,
    retries: u32,
}

impl Nodes {
    pub(crate) fn new(config: &Config) -> Result<Self, Status> {
        if config.addresses.is_empty() {
            return Err(Status::invalid_argument("at least one read node address is needed"));
        }
        let mut nodes = Vec::with_capacity(config.addresses.len());
        for address in &config.addresses {
            // `host:port` alone means plaintext, as in the Python and Go clients.
            let address =
                if address.contains("://") { address.clone() } else { format!("http://{}", address.trim()) };
            let address = &address;
            let mut endpoint = Endpoint::from_shared(address.clone())
                .map_err(|e| Status::invalid_argument(format!("{address:?} is not a valid URL: {e}")))?
                .connect_timeout(Duration::from_secs(5))
                .tcp_nodelay(true)
                .http2_keep_alive_interval(Duration::from_secs(30))
                .keep_alive_while_idle(true);
            if address.starts_with("https://") {
                let tls = config.tls.clone().unwrap_or_else(|| ClientTlsConfig::new().with_native_roots());
                endpoint = endpoint
                    .tls_config(tls)
                    .map_err(|e| Status::invalid_argument(format!("TLS for {address}: {e}")))?;
            }
            nodes.push(Node {
                address: address.clone(),
                channel: endpoint.connect_lazy(),
                health: Mutex::default(),
            });
        }
        let token = match config.token.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            Some(t) => Some(
                format!("Bearer {t}")
                    .parse()
                    .map_err(|_| Status::invalid_argument("the token must be printable ASCII"))?,
            ),
            None => None,
        };
        Ok(Self {
            nodes,
            current: AtomicUsize::new(0),
            auth: Auth(token),
            timeout: config.timeout,
            retries: config.retries,
        })
    }

    pub(crate) fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The node to use: the current one if healthy, else the next healthy one, else the one back
    /// soonest.
    pub(crate) fn pick(&self) -> (usize, Client) {
        let n = self.nodes.len();
        let start = self.current.load(Ordering::Relaxed) % n;
        let index = (0..n)
            .map(|i| (start + i) % n)
            .find(|&i| self.nodes[i].healthy())
            .or_else(|| (0..n).min_by_key(|&i| self.nodes[i].available_at()))
            .unwrap_or(0);
        self.current.store(index, Ordering::Relaxed);
        (index, ResolverServiceClient::with_interceptor(self.nodes[index].channel.clone(), self.auth.clone()))
    }

    pub(crate) fn failed(&self, index: usize) {
        self.nodes[index].failed();
        let _ = self.current.compare_exchange(
            index,
            (index + 1) % self.nodes.len(),
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    pub(crate) fn succeeded(&self, index: usize) {
        self.nodes[index].succeeded();
    }

    /// Runs a unary call with the deadline, failing over on retriable codes.
    pub(crate) async fn call<Q, R, F, Fut>(&self, call: F, request: Q) -> Result<R, Status>
    where
        Q: Clone,
        F: Fn(Client, Request<Q>) -> Fut,
        Fut: Future<Output = Result<Response<R>, Status>>,
    {
        let mut attempt = 0;
        loop {
            let (index, client) = self.pick();
            let mut req = Request::new(request.clone());
            req.set_timeout(self.timeout);
            match call(client, req).await {
                Ok(response) => {
                    self.succeeded(index);
                    return Ok(response.into_inner());
                }
                Err(status) if retriable(status.code()) && attempt < self.retries => {
                    tracing::debug!(node = %self.nodes[index].address, %status, "read node failed; trying another");
                    self.failed(index);
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(25u64 << attempt.min(6))).await;
                }
                Err(status) => {
                    if retriable(status.code()) {
                        self.failed(index);
                    }
                    return Err(status);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failed_node_is_set_aside_until_every_node_failed() {
        let nodes =
            Nodes::new(&Config::new(["http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3"]))
                .unwrap();
        assert_eq!(nodes.pick().0, 0);
        nodes.failed(0);
        assert!(!nodes.nodes()[0].healthy());
        assert_eq!(nodes.pick().0, 1, "the next healthy node");
        nodes.failed(1);
        nodes.failed(2);
        assert_eq!(nodes.pick().0, 0, "all set aside: the one back soonest");
        nodes.succeeded(1);
        assert_eq!(nodes.pick().0, 1, "a node that answered is used again");
        nodes.failed(0);
        nodes.failed(0);
        let first = nodes.nodes()[0].available_at();
        assert!(first > Instant::now() + Duration::from_millis(500), "back-off grows with failures");
    }

    #[tokio::test]
    async fn bad_configuration_is_refused() {
        assert_eq!(
            Nodes::new(&Config::new(Vec::<String>::new())).unwrap_err().code(),
            tonic::Code::InvalidArgument
        );
        assert!(Nodes::new(&Config::new(["not a url"])).is_err());
        assert!(Nodes::new(&Config::new(["http://x:1"]).token("bad\ntoken")).is_err());
        let bare = Nodes::new(&Config::new(["127.0.0.1:50052"])).unwrap();
        assert_eq!(bare.nodes()[0].address, "http://127.0.0.1:50052", "host:port means plaintext");
    }
}
