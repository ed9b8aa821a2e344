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
    let answer = bindery_benches::seeded_answer();
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_service_status("", tonic_health::ServingStatus::Serving).await;
    tonic::transport::Server::builder()
        .add_service(health)
        .add_service(ResolverServiceServer::new(Constant(answer)))
        .serve(args.listen)
        .await?;
    Ok(())
}
