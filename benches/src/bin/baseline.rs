//! The baseline: a bare tonic server of Bindery's Resolve message shapes whose handler returns a
//! constant response. Whatever it answers per second is the loopback limit of tonic on this
//! machine; a reader's throughput is reported as a ratio to it, so the gap is Bindery's own cost.

use std::net::SocketAddr;

use bindery_proto::v1;
use bindery_proto::v1::resolver_service_server::{ResolverService, ResolverServiceServer};
use clap::Parser;
use tonic::{Request, Response, Status};

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:50090")]
    listen: SocketAddr,
}

struct Constant(v1::ResolveResponse);

#[tonic::async_trait]
impl ResolverService for Constant {
    async fn resolve(
        &self,
        _request: Request<v1::ResolveRequest>,
    ) -> Result<Response<v1::ResolveResponse>, Status> {
        Ok(Response::new(self.0.clone()))
    }

    async fn resolve_many(
        &self,
        _request: Request<v1::ResolveManyRequest>,
    ) -> Result<Response<v1::ResolveManyResponse>, Status> {
        Err(Status::unimplemented("baseline serves Resolve only"))
    }

    type WatchBindingsStream = tokio_stream::Empty<Result<v1::WatchBindingsResponse, Status>>;

    async fn watch_bindings(
        &self,
        _request: Request<v1::WatchBindingsRequest>,
    ) -> Result<Response<Self::WatchBindingsStream>, Status> {
        Err(Status::unimplemented("baseline serves Resolve only"))
    }

    async fn get_reader_status(
        &self,
        _request: Request<v1::GetReaderStatusRequest>,
    ) -> Result<Response<v1::ReaderStatus>, Status> {
        Err(Status::unimplemented("baseline serves Resolve only"))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // The same shape and size as a reader's answer for a seeded key.
    let answer = v1::ResolveResponse {
        model_name: "bench/m0".into(),
        binding: "b0".into(),
        version: 1,
        artifact_uri: "s3://bench-models/bench/m0/1/model.onnx".into(),
        sha256: "ab".repeat(32),
        size_bytes: 104_857_600,
        generation: 1,
        revision: 1,
        artifact_format: "onnx".into(),
        download_urls: Vec::new(),
    };
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_service_status("", tonic_health::ServingStatus::Serving).await;
    tonic::transport::Server::builder()
        .add_service(health)
        .add_service(ResolverServiceServer::new(Constant(answer)))
        .serve(args.listen)
        .await?;
    Ok(())
}
