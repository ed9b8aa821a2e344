//! What every Bindery process serves the same way: health and reflection.

use anyhow::Context;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use tonic_reflection::server::{v1, v1alpha};

/// The health service name liveness probes ask for: SERVING for as long as the process runs,
/// whatever the database does (a database outage must not get every pod restarted).
pub const LIVENESS_SERVICE: &str = "liveness";

pub(crate) async fn set_live(reporter: &HealthReporter) {
    reporter.set_service_status(LIVENESS_SERVICE, ServingStatus::Serving).await;
}

pub(crate) async fn set_health(reporter: &HealthReporter, services: &[&str], status: ServingStatus) {
    for service in services {
        reporter.set_service_status(*service, status).await;
    }
}

/// Server reflection, v1 and v1alpha (Python's grpcio only ships a v1alpha client).
#[allow(clippy::type_complexity)]
fn reflection() -> anyhow::Result<(
    v1::ServerReflectionServer<impl v1::ServerReflection>,
    v1alpha::ServerReflectionServer<impl v1alpha::ServerReflection>,
)> {
    let v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(bindery_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .context("building reflection service")?;
    let v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(bindery_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .context("building reflection service")?;
    Ok((v1, v1alpha))
}

/// What wraps every call: metrics and the call's trace span, in one layer.
pub(crate) type Layers = tower_layer::Stack<crate::metrics::MetricsLayer, tower_layer::Identity>;

/// A gRPC server with what every Bindery process serves: health and reflection (v1, v1alpha),
/// over TLS when `tls` is set (`TlsArgs::server_config`). Callers add their own services.
pub(crate) fn router(
    health: tonic_health::pb::health_server::HealthServer<impl tonic_health::pb::health_server::Health>,
    metrics: &std::sync::Arc<crate::metrics::Metrics>,
    tls: Option<tonic::transport::ServerTlsConfig>,
) -> anyhow::Result<tonic::transport::server::Router<Layers>> {
    let (reflection_v1, reflection_v1alpha) = reflection()?;
    let mut server = tonic::transport::Server::builder();
    if let Some(config) = tls {
        server = server.tls_config(config).context("configuring TLS on the gRPC listener")?;
    }
    Ok(server
        .layer(metrics.layer())
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha))
}

/// Accepted connections with `TCP_NODELAY`: gRPC writes small frames, and Nagle's algorithm
/// meeting the peer's delayed ACKs stalls them for ~40 ms (seen in benches as a p99.9 of 44 ms).
pub(crate) fn incoming(listener: tokio::net::TcpListener) -> tonic::transport::server::TcpIncoming {
    tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true))
}

/// A listen address that may be `off` (`--metrics-listen`, `--mlflow-listen`, `--console-listen`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenAddr(pub Option<std::net::SocketAddr>);

impl std::str::FromStr for ListenAddr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() || s == "off" {
            return Ok(Self(None));
        }
        s.parse()
            .map(|a| Self(Some(a)))
            .map_err(|e| format!("{s:?}: {e} (an address such as 0.0.0.0:9090, or off)"))
    }
}

/// An HTTP front end served on `listen` when set: `what` names it in errors and logs, `flag` is
/// the option that sets it; the caller keeps the task.
pub(crate) async fn start_http<F, Fut>(
    listen: ListenAddr,
    what: &str,
    flag: &str,
    serve: F,
) -> anyhow::Result<Option<(std::net::SocketAddr, tokio::task::JoinHandle<()>)>>
where
    F: FnOnce(tokio::net::TcpListener) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(addr) = listen.0 else { return Ok(None) };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {what} to {addr} ({flag})"))?;
    let local = listener.local_addr()?;
    tracing::info!(addr = %local, "serving {what}");
    Ok(Some((local, tokio::spawn(serve(listener)))))
}

/// MLflow's REST API over `primary` (`--mlflow-listen`).
pub(crate) async fn start_mlflow(
    listen: ListenAddr,
    primary: bindery_primary::Primary,
) -> anyhow::Result<Option<(std::net::SocketAddr, tokio::task::JoinHandle<()>)>> {
    if listen.0.is_none() {
        return Ok(None);
    }
    let facade = bindery_mlflow::Facade::new(primary)?;
    start_http(listen, "MLflow's REST API", "--mlflow-listen", |l| facade.serve(l)).await
}

/// The web console (`--console-listen`).
pub(crate) async fn start_console(
    listen: ListenAddr,
    console: bindery_console::Console,
) -> anyhow::Result<Option<(std::net::SocketAddr, tokio::task::JoinHandle<()>)>> {
    start_http(listen, "the web console", "--console-listen", |l| console.serve(l)).await
}

/// The process's metrics, served on `listen` when set, with HTTP probes answered from `health`.
pub(crate) fn start_metrics(
    listen: ListenAddr,
    health: &HealthReporter,
) -> anyhow::Result<(std::sync::Arc<crate::metrics::Metrics>, Option<tokio::task::JoinHandle<()>>)> {
    let metrics = crate::metrics::Metrics::new();
    let task = match listen.0 {
        Some(addr) => {
            let std_listener =
                std::net::TcpListener::bind(addr).with_context(|| format!("binding metrics to {addr}"))?;
            std_listener.set_nonblocking(true)?;
            let listener = tokio::net::TcpListener::from_std(std_listener)?;
            tracing::info!(%addr, "serving /metrics");
            let health = std::sync::Arc::new(tonic_health::server::HealthService::from_health_reporter(
                health.clone(),
            ));
            Some(tokio::spawn(crate::metrics::serve_on(metrics.clone(), Some(health), listener)))
        }
        None => None,
    };
    Ok((metrics, task))
}
