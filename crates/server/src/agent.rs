//! `bindery agent`: keeps the version a binding serves on local disk, for a model server in the
//! same pod. As an init container (`--once`) it installs the current version and exits; as a
//! sidecar it follows the binding and swaps versions atomically.
//!
//! Layout of `--dir`: `v<N>/` per version (downloaded into `.partial-v<N>-*` first, every file's
//! size and SHA-256 checked, then renamed), and `current`, a symlink to the version served,
//! replaced by `rename(2)` so a reader sees the old or the new version and never neither. The
//! previous versions (`--keep`) stay for an instant local rollback. A download that does not
//! match the registry is refused: the served version stays, and the agent retries with back-off.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use anyhow::{Context, anyhow, bail};
use bindery_artifacts::Transfer;
use bindery_client::{Config, ReadClient};
use bindery_proto::v1;
use bytes::Bytes;
use clap::Args;
use http_body_util::Full;
use tonic::codegen::http;

/// `bindery agent`.
#[derive(Debug, Clone, Args)]
pub struct AgentConfig {
    /// The model to serve.
    #[arg(long, env = "BINDERY_AGENT_MODEL")]
    pub model: String,
    /// The binding (stage or alias) whose target to serve.
    #[arg(long, env = "BINDERY_AGENT_BINDING")]
    pub binding: String,
    /// Where versions live (`v<N>/`) and `current` points.
    #[arg(long, env = "BINDERY_AGENT_DIR")]
    pub dir: PathBuf,
    /// Read nodes (or `bindery dev`), comma-separated; the agent fails over between them.
    #[arg(long, env = "BINDERY_READERS", value_delimiter = ',', default_value = "http://127.0.0.1:50051")]
    pub readers: Vec<String>,
    /// Install the version bound now and exit (an init container); without it, keep following.
    #[arg(long)]
    pub once: bool,
    /// With a split: the routing key whose side this pod serves (default: the first side).
    #[arg(long, env = "BINDERY_AGENT_ROUTING_KEY", default_value = "")]
    pub routing_key: String,
    /// After each swap, POST `{"model", "binding", "version", "path", "previous"}` here (the
    /// model server's reload endpoint).
    #[arg(long, env = "BINDERY_AGENT_NOTIFY_URL")]
    pub notify_url: Option<String>,
    /// After each swap, write the served version's number into this file (a model server
    /// watching its mtime reloads).
    #[arg(long, env = "BINDERY_AGENT_NOTIFY_FILE")]
    pub notify_file: Option<PathBuf>,
    /// `GET /readyz` (200 once a version is in place, else 503) and `GET /livez` for probes (an
    /// address, or `off`).
    #[arg(long, env = "BINDERY_AGENT_HEALTH_LISTEN", default_value = "0.0.0.0:8081")]
    pub health_listen: crate::common::ListenAddr,
    /// Versions kept on disk: the served one and the ones before it, for a local rollback.
    #[arg(long, env = "BINDERY_AGENT_KEEP", default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub keep: u64,
}

/// What the readiness probe reports.
#[derive(Debug, Default)]
pub struct AgentState {
    ready: AtomicBool,
    version: AtomicU64,
}

impl AgentState {
    pub fn ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// The version in place (0: none yet).
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }
}

/// Runs the agent until `shutdown` (sidecar) or until the version is in place (`--once`).
pub async fn run_agent(
    config: AgentConfig,
    token: Option<String>,
    tls: &crate::tls::ClientTlsArgs,
    state: Arc<AgentState>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    if config.readers.is_empty() {
        bail!("--readers needs at least one address");
    }
    let mut client_config = Config::new(config.readers.clone());
    client_config.token = token;
    if let Some(https) = config.readers.iter().find(|r| r.starts_with("https://")) {
        client_config.tls = tls.client_config(https)?;
    }
    let client = ReadClient::new(&client_config).map_err(|s| anyhow!("{}", s.message()))?;
    tokio::fs::create_dir_all(&config.dir)
        .await
        .with_context(|| format!("creating {}", config.dir.display()))?;
    let agent = Agent { config, client, transfer: Transfer::new()?, state };
    if let Some(current) = agent.installed_version() {
        // A restarted sidecar serves what is on disk while it catches up.
        agent.state.version.store(current, Ordering::Release);
        agent.state.ready.store(true, Ordering::Release);
    }
    let health = agent.serve_health().await?;
    let result = if agent.config.once {
        agent.install_current().await
    } else {
        tokio::select! {
            r = agent.follow() => r,
            () = shutdown => Ok(()),
        }
    };
    if let Some(h) = health {
        h.abort();
    }
    result
}

struct Agent {
    config: AgentConfig,
    client: ReadClient,
    transfer: Transfer,
    state: Arc<AgentState>,
}

impl Agent {
    fn current_link(&self) -> PathBuf {
        self.config.dir.join("current")
    }

    /// The version `current` points at, if any.
    fn installed_version(&self) -> Option<u64> {
        let target = std::fs::read_link(self.current_link()).ok()?;
        target.to_str()?.strip_prefix('v')?.parse().ok()
    }

    async fn serve_health(&self) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
        let Some(addr) = self.config.health_listen.0 else { return Ok(None) };
        let listener = bind(addr).await?;
        let state = Arc::clone(&self.state);
        Ok(Some(tokio::spawn(bindery_artifacts::serve_http1(
            listener,
            bindery_artifacts::HttpLimits::default(),
            move |request| {
                let state = Arc::clone(&state);
                async move {
                    let (status, body) = match request.uri().path() {
                        "/livez" => (http::StatusCode::OK, "ok\n".to_owned()),
                        "/readyz" if state.ready() => {
                            (http::StatusCode::OK, format!("serving v{}\n", state.version()))
                        }
                        "/readyz" => {
                            (http::StatusCode::SERVICE_UNAVAILABLE, "no version in place yet\n".to_owned())
                        }
                        _ => (http::StatusCode::NOT_FOUND, "GET /readyz or /livez\n".to_owned()),
                    };
                    let mut response = http::Response::new(Full::new(Bytes::from(body)));
                    *response.status_mut() = status;
                    response
                }
            },
        ))))
    }

    /// `--once`: resolve, install, done.
    async fn install_current(&self) -> anyhow::Result<()> {
        let answer = self.resolve(0).await?;
        self.install(&answer).await
    }

    /// Sidecar: follow the binding; install each new target. Failures (a refused download, an
    /// object store away) keep the served version and are retried with back-off.
    async fn follow(&self) -> anyhow::Result<()> {
        let mut watch = self.client.watch(v1::WatchBindingsRequest {
            model_names: vec![self.config.model.clone()],
            bindings: vec![self.config.binding.clone()],
            since_revision: 0,
        });
        let mut failures = 0u32;
        loop {
            let update = watch.next().await.map_err(|s| anyhow!("watching the binding: {}", s.message()))?;
            let Some(state) = update
                .bindings
                .iter()
                .find(|b| b.model_name == self.config.model && b.binding == self.config.binding)
            else {
                if update.reset {
                    tracing::warn!(model = %self.config.model, binding = %self.config.binding, "the binding does not exist; waiting for it");
                }
                continue;
            };
            if state.deleted {
                tracing::warn!(model = %self.config.model, binding = %self.config.binding, "the binding was deleted; keeping the served version");
                continue;
            }
            // Install what this revision binds (or something later), retrying until it lands.
            loop {
                let attempt = async {
                    let answer = self.resolve(update.revision).await?;
                    if Some(answer.version) == self.installed_version() {
                        return Ok(());
                    }
                    self.install(&answer).await
                };
                match attempt.await {
                    Ok(()) => {
                        failures = 0;
                        break;
                    }
                    Err(e) => {
                        failures = (failures + 1).min(8);
                        let delay = Duration::from_millis(250u64 << failures).min(Duration::from_secs(60));
                        tracing::error!(error = %format!("{e:#}"), retry_in = ?delay, served = self.state.version(), "installing the bound version failed; still serving the previous one");
                        tokio::time::sleep(delay).await;
                    }
                }
            }
        }
    }

    async fn resolve(&self, min_revision: u64) -> anyhow::Result<v1::ResolveResponse> {
        self.client
            .resolve(v1::ResolveRequest {
                model_name: self.config.model.clone(),
                binding: self.config.binding.clone(),
                min_revision,
                presign: true,
                routing_key: self.config.routing_key.clone(),
            })
            .await
            .map_err(|s| {
                anyhow!(
                    "resolving {}@{}: {}: {}",
                    self.config.model,
                    self.config.binding,
                    crate::output::code_name(s.code()),
                    s.message()
                )
            })
    }

    /// Downloads (unless already on disk), checks, swaps `current`, prunes, notifies.
    async fn install(&self, answer: &v1::ResolveResponse) -> anyhow::Result<()> {
        let name = format!("v{}", answer.version);
        let dir = self.config.dir.join(&name);
        if !tokio::fs::try_exists(&dir).await? {
            self.download(answer, &dir).await?;
        }
        let previous = self.installed_version();
        swap_symlink(&self.current_link(), Path::new(&name)).await?;
        self.state.version.store(answer.version, Ordering::Release);
        self.state.ready.store(true, Ordering::Release);
        tracing::info!(model = %answer.model_name, binding = %answer.binding, version = answer.version, ?previous, "serving");
        self.prune(answer.version).await;
        self.notify(answer, &dir, previous).await;
        Ok(())
    }

    async fn download(&self, answer: &v1::ResolveResponse, dir: &Path) -> anyhow::Result<()> {
        if answer.download_urls.is_empty() {
            bail!(
                "the registry gave no download URLs for v{} (is the read node configured with object-store credentials?)",
                answer.version
            );
        }
        let nonce = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let partial = self.config.dir.join(format!(".partial-v{}-{nonce}", answer.version));
        let result = async {
            for file in &answer.download_urls {
                let relative = safe_relative(&file.path)?;
                let request = file.request.as_ref().ok_or_else(|| anyhow!("{:?} has no download URL", file.path))?;
                let dest = partial.join(&relative);
                let (status, sha256) = self.transfer.download(&bindery_core::PresignedRequest::from(request), &dest).await?;
                if status != 200 {
                    bail!("downloading {:?} failed with HTTP {status}", file.path);
                }
                let expected = if file.sha256.is_empty() && answer.download_urls.len() == 1 { &answer.sha256 } else { &file.sha256 };
                if !expected.is_empty() && !expected.eq_ignore_ascii_case(&sha256) {
                    bail!("{:?} of v{} arrived with SHA-256 {sha256}, the registry recorded {expected}: refused", file.path, answer.version);
                }
                let size = tokio::fs::metadata(&dest).await?.len();
                if file.size_bytes != 0 && size != file.size_bytes {
                    bail!("{:?} of v{} arrived with {size} bytes, the registry recorded {}: refused", file.path, answer.version, file.size_bytes);
                }
            }
            tokio::fs::rename(&partial, dir).await.with_context(|| format!("moving the download into {}", dir.display()))
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_dir_all(&partial).await;
        }
        result
    }

    /// Removes versions beyond `--keep` (oldest first by number), never the served one.
    async fn prune(&self, serving: u64) {
        let Ok(mut entries) = tokio::fs::read_dir(&self.config.dir).await else { return };
        let mut versions = Vec::new();
        while let Ok(Some(entry)) = entries.next_entry().await {
            let name = entry.file_name();
            if let Some(n) =
                name.to_str().and_then(|n| n.strip_prefix('v')).and_then(|n| n.parse::<u64>().ok())
            {
                versions.push(n);
            }
        }
        versions.sort_unstable_by(|a, b| b.cmp(a));
        let keep = usize::try_from(self.config.keep).unwrap_or(usize::MAX);
        let others: Vec<u64> = versions.into_iter().filter(|v| *v != serving).collect();
        for old in others.into_iter().skip(keep.saturating_sub(1)) {
            let path = self.config.dir.join(format!("v{old}"));
            if let Err(e) = tokio::fs::remove_dir_all(&path).await {
                tracing::warn!(path = %path.display(), error = %e, "could not remove an old version");
            }
        }
    }

    async fn notify(&self, answer: &v1::ResolveResponse, dir: &Path, previous: Option<u64>) {
        if let Some(file) = &self.config.notify_file
            && let Err(e) = tokio::fs::write(file, format!("{}\n", answer.version)).await
        {
            tracing::warn!(file = %file.display(), error = %e, "could not write the notify file");
        }
        if let Some(url) = &self.config.notify_url {
            let body = serde_json::json!({
                "model": answer.model_name,
                "binding": answer.binding,
                "version": answer.version,
                "path": dir.display().to_string(),
                "previous": previous,
            });
            let request = bindery_core::PresignedRequest {
                method: "POST".into(),
                url: url.clone(),
                headers: vec![("content-type".into(), "application/json".into())],
                expires_at: SystemTime::now(),
            };
            match self.transfer.send(&request, Bytes::from(body.to_string())).await {
                Ok(reply) if (200..300).contains(&reply.status) => {}
                Ok(reply) => {
                    tracing::warn!(url, status = reply.status, "the reload notification was refused");
                }
                Err(e) => tracing::warn!(url, error = %e, "the reload notification failed"),
            }
        }
    }
}

async fn bind(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding the health endpoint {addr}"))
}

/// A downloaded file's path inside its destination directory: relative, no `..`, never escaping
/// it (the agent's versions and `bindery download` both write through this).
pub(crate) fn safe_relative(path: &str) -> anyhow::Result<PathBuf> {
    if path.starts_with('/') || path.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        bail!("refusing to write artifact file {path:?} outside the destination directory");
    }
    Ok(PathBuf::from(path))
}

/// Points `link` at `target` atomically: a new symlink beside it, renamed over it.
async fn swap_symlink(link: &Path, target: &Path) -> anyhow::Result<()> {
    let tmp = link.with_extension("next");
    let _ = tokio::fs::remove_file(&tmp).await;
    tokio::fs::symlink(target, &tmp).await.with_context(|| format!("creating {}", tmp.display()))?;
    tokio::fs::rename(&tmp, link).await.with_context(|| format!("replacing {}", link.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_paths_stay_inside() {
        assert!(safe_relative("model.onnx").is_ok());
        assert!(safe_relative("tokenizer/vocab.json").is_ok());
        for bad in ["/etc/passwd", "../x", "a/../../x", "a//b", "./a"] {
            assert!(safe_relative(bad).is_err(), "{bad}");
        }
    }
}
