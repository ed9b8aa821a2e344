//! WatchBindings cannot exhaust a read node: streams are capped per connection and per node
//! (RESOURCE_EXHAUSTED saying which), a stream whose client left frees its place at once, and a
//! `since_revision` ahead of the node gets the current state as a reset instead of silence.

use std::time::Duration;

use bindery_proto::v1;
use bindery_proto::v1::resolver_service_client::ResolverServiceClient;
use bindery_test_util::TestReader;
use tonic::Code;
use tonic::transport::Channel;

use crate::helpers::*;

fn watch(since_revision: u64) -> v1::WatchBindingsRequest {
    v1::WatchBindingsRequest { since_revision, ..Default::default() }
}

async fn open(
    client: &mut ResolverServiceClient<Channel>,
) -> Result<tonic::Streaming<v1::WatchBindingsResponse>, tonic::Status> {
    let mut stream = client.watch_bindings(watch(0)).await?.into_inner();
    // The first message (the current state) proves the stream is open server-side.
    stream.message().await?;
    Ok(stream)
}

#[tokio::test]
async fn watch_streams_are_capped_per_connection_and_per_node() {
    let primary = TestPrimary::start().await.unwrap();
    let mut registry = primary.registry().await.unwrap();
    create_model(&mut registry, "m").await;
    register(&mut registry, "m", "r1").await;
    let bound = bind(&mut registry, "m", "production", 1, None).await.unwrap();
    let reader = TestReader::start_with(&primary.db.url, |c| {
        c.max_watchers = 5;
        c.max_watchers_per_connection = 3;
        c.max_wait_ms = 300;
    })
    .await
    .unwrap();
    reader.wait_revision(bound.revision, Duration::from_secs(10)).await.unwrap();

    let mut one = reader.resolver().await.unwrap();
    let mut streams = Vec::new();
    for _ in 0..3 {
        streams.push(open(&mut one).await.unwrap());
    }
    let refused = open(&mut one).await.map(drop);
    assert_status(
        refused,
        Code::ResourceExhausted,
        &["3 watch streams open", "--max-watchers-per-connection"],
    );
    // Another connection has its own allowance, up to the node's cap.
    let mut two = reader.resolver().await.unwrap();
    streams.push(open(&mut two).await.unwrap());
    streams.push(open(&mut two).await.unwrap());
    let mut three = reader.resolver().await.unwrap();
    assert_status(
        open(&mut three).await.map(drop),
        Code::ResourceExhausted,
        &["5 watch streams", "--max-watchers"],
    );

    // A client that goes away frees its place without waiting for a change to be sent.
    drop(streams.remove(0));
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        match open(&mut one).await {
            Ok(stream) => {
                streams.push(stream);
                break;
            }
            Err(e) if std::time::Instant::now() < deadline && e.code() == Code::ResourceExhausted => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("the freed place was not reused: {e:?}"),
        }
    }
    assert_eq!(reader.status().await.unwrap().watchers, 5);
    drop(streams);

    // Ahead of the node (say, a restored database): after a bounded wait, the current state.
    let mut client = reader.resolver().await.unwrap();
    let mut ahead = client.watch_bindings(watch(bound.revision + 1_000)).await.unwrap().into_inner();
    let first =
        tokio::time::timeout(Duration::from_secs(5), ahead.message()).await.unwrap().unwrap().unwrap();
    assert!(first.reset, "{first:?}");
    assert_eq!((first.revision, first.bindings.len()), (bound.revision, 1));
    // And it then follows new changes.
    let next = bind(&mut registry, "m", "canary", 1, None).await.unwrap();
    let change =
        tokio::time::timeout(Duration::from_secs(5), ahead.message()).await.unwrap().unwrap().unwrap();
    assert_eq!((change.revision, change.reset), (next.revision, false));
}
