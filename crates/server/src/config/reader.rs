//! `bindery reader`'s configuration: a tier-1 node on the database or a tier-2 node following
//! other read nodes.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::bail;
use clap::Args;

use super::*;

/// `bindery reader`.
#[derive(Debug, Clone, Args)]
pub struct ReaderConfig {
    /// Address the gRPC server listens on.
    #[arg(long, env = "BINDERY_LISTEN", default_value = "0.0.0.0:50052")]
    pub listen: SocketAddr,
    /// How callers authenticate: API tokens (default, checked against the node's cache), or
    /// `none`.
    #[arg(long, env = "BINDERY_AUTH", value_enum, default_value_t = AuthArg::Tokens)]
    pub auth: AuthArg,
    #[command(flatten)]
    pub jwt: JwtArgs,
    #[command(flatten)]
    pub tls: crate::tls::TlsArgs,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Milliseconds between anti-entropy polls of the database revision.
    #[arg(long, env = "BINDERY_POLL_INTERVAL_MS", default_value_t = 1_000)]
    pub poll_interval_ms: u64,
    /// Seconds without a confirmed sync after which health turns NOT_SERVING; 0 = never (keep
    /// serving the last state through any database outage).
    #[arg(long, env = "BINDERY_MAX_STALENESS_SECS", default_value_t = 0)]
    pub max_staleness_secs: u64,
    /// Longest a Resolve waits for its min_revision, whatever the call's deadline.
    #[arg(long, env = "BINDERY_MAX_WAIT_MS", default_value_t = 5_000)]
    pub max_wait_ms: u64,
    /// Binding changes kept in memory so watchers can resume with since_revision.
    #[arg(long, env = "BINDERY_WATCH_HISTORY", default_value_t = 10_000)]
    pub watch_history: usize,
    /// Memory the watch history may take, in bytes (oldest changes go first).
    #[arg(long, env = "BINDERY_WATCH_HISTORY_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub watch_history_bytes: usize,
    /// Changes a watcher may fall behind before it is sent a reset.
    #[arg(long, env = "BINDERY_WATCH_BUFFER", default_value_t = 4_096)]
    pub watch_buffer: usize,
    /// Open WatchBindings streams this node serves at most; more are RESOURCE_EXHAUSTED.
    #[arg(long, env = "BINDERY_MAX_WATCHERS", default_value_t = 10_000)]
    pub max_watchers: u64,
    /// Open WatchBindings streams one client connection may hold.
    #[arg(long, env = "BINDERY_MAX_WATCHERS_PER_CONNECTION", default_value_t = 100)]
    pub max_watchers_per_connection: usize,
    /// Largest gRPC message accepted or sent, in bytes.
    #[arg(long, env = "BINDERY_MAX_MESSAGE_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_message_bytes: usize,
    /// The primary's address, told to clients that send writes here.
    #[arg(long, env = "BINDERY_PRIMARY_ADDRESS")]
    pub primary_address: Option<String>,
    /// The node's own object-store access, for Resolve{presign} (signed locally).
    #[command(flatten)]
    pub artifacts: ArtifactArgs,
    /// On SIGTERM, milliseconds between turning NOT_SERVING (and ending watch streams) and
    /// closing the listener, so load balancers stop routing here first.
    #[arg(long, env = "BINDERY_DRAIN_DELAY_MS", default_value_t = 0)]
    pub drain_delay_ms: u64,
    /// Where Prometheus scrapes `GET /metrics` (an address, or `off`).
    #[arg(long, env = "BINDERY_METRICS_LISTEN", default_value = "0.0.0.0:9091")]
    pub metrics_listen: ListenAddr,
    /// A tier-2 read node: follow these read nodes (`http://reader-a:50052,http://reader-b:50052`,
    /// failing over between them) instead of the database, which it then never connects to.
    #[arg(long, env = "BINDERY_UPSTREAM", value_delimiter = ',')]
    pub upstream: Vec<String>,
    /// The upstream nodes' replication secret (prefer the environment variable: a flag shows in
    /// `ps`).
    #[arg(long, env = "BINDERY_UPSTREAM_SECRET", hide_env_values = true)]
    pub upstream_secret: Option<String>,
    /// PEM CA bundle to verify `https://` upstreams with (default: the system's roots).
    #[arg(long, env = "BINDERY_UPSTREAM_CA_CERT")]
    pub upstream_ca_cert: Option<std::path::PathBuf>,
    /// Let tier-2 read nodes follow this one, presenting this secret (32 to 256 characters;
    /// prefer the environment variable). Without it, replication calls are refused.
    #[arg(long, env = "BINDERY_REPLICATION_SECRET", hide_env_values = true)]
    pub replication_secret: Option<String>,
}

impl ReaderConfig {
    pub fn new(listen: SocketAddr, database_url: DatabaseUrl) -> Self {
        Self {
            listen,
            auth: AuthArg::Tokens,
            jwt: JwtArgs::default(),
            tls: crate::tls::TlsArgs::default(),
            database: DatabaseArgs { database_url, database_timeout_secs: 5, create_database: false },
            poll_interval_ms: 1_000,
            max_staleness_secs: 0,
            max_wait_ms: 5_000,
            watch_history: 10_000,
            watch_history_bytes: 64 * 1024 * 1024,
            watch_buffer: 4_096,
            max_watchers: 10_000,
            max_watchers_per_connection: 100,
            max_message_bytes: 4 * 1024 * 1024,
            primary_address: None,
            artifacts: ArtifactArgs::default(),
            drain_delay_ms: 0,
            metrics_listen: ListenAddr(None),
            upstream: Vec::new(),
            upstream_secret: None,
            upstream_ca_cert: None,
            replication_secret: None,
        }
    }

    pub fn drain_delay(&self) -> Duration {
        Duration::from_millis(self.drain_delay_ms)
    }

    /// The secret tier-2 nodes present to follow this one, checked.
    pub fn replication_secret(&self) -> anyhow::Result<Option<bindery_core::replication::ReplicationSecret>> {
        self.replication_secret
            .as_deref()
            .map(bindery_core::replication::ReplicationSecret::new)
            .transpose()
            .map_err(|e| anyhow::anyhow!("--replication-secret: {e}"))
    }

    /// TLS for `https://` upstreams: the CA bundle given, else the system's roots.
    pub fn upstream_tls(&self) -> anyhow::Result<Option<tonic::transport::ClientTlsConfig>> {
        if !self.upstream.iter().any(|u| u.starts_with("https://")) {
            return Ok(None);
        }
        let tls = tonic::transport::ClientTlsConfig::new();
        Ok(Some(match &self.upstream_ca_cert {
            Some(path) => {
                let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                tls.ca_certificate(tonic::transport::Certificate::from_pem(pem))
            }
            None => tls.with_native_roots(),
        }))
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if self.poll_interval_ms < 10 {
            bail!("poll_interval_ms must be at least 10");
        }
        if self.watch_buffer == 0 {
            bail!("watch_buffer must be at least 1");
        }
        self.artifacts.validate(false)?;
        if !(1_024..=256 * 1024 * 1024).contains(&self.max_message_bytes) {
            bail!("max_message_bytes must be between 1 KiB and 256 MiB, got {}", self.max_message_bytes);
        }
        self.jwt.validate()?;
        self.replication_secret()?;
        if !self.upstream.is_empty() {
            let secret = self.upstream_secret.as_deref().unwrap_or_default();
            bindery_core::replication::ReplicationSecret::new(secret).map_err(|e| {
                anyhow::anyhow!("--upstream needs --upstream-secret (BINDERY_UPSTREAM_SECRET), the upstream nodes' replication secret: {e}")
            })?;
            return Ok(());
        }
        self.database.pg_config().map(drop)
    }

    pub fn max_staleness(&self) -> Option<Duration> {
        (self.max_staleness_secs > 0).then(|| Duration::from_secs(self.max_staleness_secs))
    }

    pub fn max_wait(&self) -> Duration {
        Duration::from_millis(self.max_wait_ms)
    }

    pub fn follower(&self) -> bindery_reader::FollowerConfig {
        bindery_reader::FollowerConfig {
            poll_interval: Duration::from_millis(self.poll_interval_ms),
            query_timeout: self.database.timeout(),
            snapshot_timeout: self.database.timeout().max(Duration::from_secs(120)),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tier2_reader_needs_the_upstream_secret_and_secrets_have_a_shape() {
        let url = DatabaseUrl::new("postgres://bindery@db/bindery");
        let mut c = ReaderConfig::new(SocketAddr::from(([127, 0, 0, 1], 0)), url);
        c.validate().unwrap();
        c.upstream = vec!["http://reader-a:50052".into()];
        assert!(c.validate().unwrap_err().to_string().contains("--upstream-secret"));
        c.upstream_secret = Some("s".repeat(40));
        c.validate().unwrap();
        c.replication_secret = Some("short".into());
        assert!(c.validate().unwrap_err().to_string().contains("--replication-secret"));
    }
}
