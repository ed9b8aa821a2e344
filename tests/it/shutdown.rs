//! Graceful shutdown of a real `bindery reader` process: SIGTERM while 100 Resolves are in flight
//! (each waiting for a revision not yet written) flips health to NOT_SERVING first, ends watch
//! streams telling clients to reconnect, lets every in-flight call complete, and exits 0 within
//! the grace period. Liveness stays SERVING throughout.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bindery_proto::v1;
use bindery_proto::v1::resolver_service_client::ResolverServiceClient;
use futures_util::StreamExt;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::dev::{bindery_bin, free_port};
use crate::helpers::*;

async fn health(endpoint: &str, service: &str) -> Option<i32> {
    let channel = Channel::from_shared(endpoint.to_owned()).ok()?.connect().await.ok()?;
    let request = HealthCheckRequest { service: service.into() };
    HealthClient::new(channel).check(request).await.ok().map(|r| r.into_inner().status)
}

#[tokio::test]
async fn sigterm_drains_in_flight_resolves_after_turning_not_serving() {
    const SERVING: i32 = 1;
    const NOT_SERVING: i32 = 2;
    let primary = TestPrimary::start().await.unwrap();
    let mut registry = primary.registry().await.unwrap();
    create_model(&mut registry, "drain").await;
    register(&mut registry, "drain", "r1").await;
    register(&mut registry, "drain", "r2").await;
    let bound = bind(&mut registry, "drain", "production", 1, None).await.unwrap();

    let port = free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(bindery_bin())
        .args(["--shutdown-grace-secs", "20", "reader", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--database-url", &primary.db.url, "--drain-delay-ms", "1500", "--max-wait-ms", "20000"])
        .args(["--auth", "none"])
        .env("BINDERY_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while health(&endpoint, "").await != Some(SERVING) {
        assert!(Instant::now() < deadline, "reader never SERVING");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // 100 Resolves waiting for the next revision, on 4 connections, and one watcher.
    let mut channels = Vec::new();
    for _ in 0..4 {
        channels.push(Channel::from_shared(endpoint.clone()).unwrap().connect().await.unwrap());
    }
    let mut watch = ResolverServiceClient::new(channels[0].clone())
        .watch_bindings(v1::WatchBindingsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(watch.next().await.unwrap().unwrap().reset);
    let mut calls = Vec::new();
    for i in 0..100 {
        let mut client = ResolverServiceClient::new(channels[i % 4].clone());
        let request = v1::ResolveRequest {
            model_name: "drain".into(),
            binding: "production".into(),
            min_revision: bound.revision + 1,
            presign: false,
            ..Default::default()
        };
        calls.push(tokio::spawn(async move { client.resolve(request).await }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(calls.iter().all(|c| !c.is_finished()), "the calls should still be waiting");

    let signalled = Instant::now();
    let kill = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());

    // Health turns NOT_SERVING while the calls are still in flight; liveness does not.
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        if health(&endpoint, "").await == Some(NOT_SERVING) {
            break;
        }
        assert!(Instant::now() < deadline, "health did not turn NOT_SERVING after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(health(&endpoint, "liveness").await, Some(SERVING));
    assert!(calls.iter().all(|c| !c.is_finished()), "in-flight calls were cut off by the health flip");

    // The watcher is told to go elsewhere.
    let ended =
        tokio::time::timeout(Duration::from_secs(5), watch.next()).await.expect("watch stream not ended");
    let status = ended.expect("an end status").expect_err("the stream ends with a status");
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");

    // The revision they wait for arrives; every one of them completes with it.
    let written = bind(&mut registry, "drain", "production", 2, None).await.unwrap();
    for call in calls {
        let answer = call.await.unwrap().expect("an in-flight Resolve failed during shutdown").into_inner();
        assert_eq!((answer.version, answer.revision), (2, written.revision));
    }

    // Then the process exits, cleanly and within the grace period.
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "reader did not exit within the grace period");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "exit status {exit:?}");
    assert!(signalled.elapsed() < Duration::from_secs(20));
}
