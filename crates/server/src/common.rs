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

/// A gRPC server with what every Bindery process serves: health and reflection (v1, v1alpha).
/// Callers add their own services.
pub(crate) fn router(
    health: tonic_health::pb::health_server::HealthServer<impl tonic_health::pb::health_server::Health>,
) -> anyhow::Result<tonic::transport::server::Router> {
    let (reflection_v1, reflection_v1alpha) = reflection()?;
    Ok(tonic::transport::Server::builder()
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha))
}

/// Accepted connections with `TCP_NODELAY`: gRPC writes small frames, and Nagle's algorithm
/// meeting the peer's delayed ACKs stalls them for ~40 ms (seen in benches as a p99.9 of 44 ms).
pub(crate) fn incoming(listener: tokio::net::TcpListener) -> tonic::transport::server::TcpIncoming {
    tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true))
}
