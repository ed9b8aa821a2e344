//! `/metrics` scraped after traffic: per-RPC counts by method and code, latency histograms, the
//! reader's revision, lag and cache size, the primary's pool.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use bindery_proto::v1;
use bindery_server::ListenAddr;
use bindery_test_util::{TestDb, TestReader};

use crate::dev::free_port;
use crate::helpers::*;

/// A plain HTTP/1.1 GET, as Prometheus sends it (async: the server runs on this test's runtime).
async fn scrape(port: u16) -> String {
    let out = get(port, "/metrics").await;
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    out
}

/// The whole HTTP/1.1 response to `GET path`.
async fn get(port: u16, path: &str) -> String {
    let mut stream =
        tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("connect to the metrics port");
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).await.unwrap();
    out
}

/// Calls to paths no service serves are counted under one `method="unknown"`: junk cannot mint
/// series (or span names).
#[tokio::test]
async fn junk_paths_collapse_into_one_series() {
    let port = free_port();
    let primary = TestPrimary::start_with(TestDb::create().await.unwrap(), move |c| {
        c.metrics_listen = ListenAddr(Some(([127, 0, 0, 1], port).into()));
    })
    .await
    .unwrap();
    let before = get(port, "/metrics").await.lines().filter(|l| l.starts_with("bindery_rpc_")).count();
    let mut grpc = tonic::client::Grpc::new(primary.channel().await.unwrap());
    for i in 0..300 {
        grpc.ready().await.unwrap();
        let path =
            tonic::codegen::http::uri::PathAndQuery::try_from(format!("/junk{i}.Service/Method{i}")).unwrap();
        let codec = tonic_prost::ProstCodec::<v1::GetReaderStatusRequest, v1::ReaderStatus>::default();
        let call = grpc.unary(tonic::Request::new(v1::GetReaderStatusRequest {}), path, codec).await;
        assert_eq!(call.unwrap_err().code(), tonic::Code::Unimplemented);
    }
    let m = scrape(port).await;
    assert_eq!(value(&m, "bindery_rpc_requests_total{method=\"unknown\",code=\"Unimplemented\"}"), 300.0);
    let series = m.lines().filter(|l| l.starts_with("bindery_rpc_")).count();
    assert!(series <= before + 25, "{before} series before, {series} after 300 junk paths");
    assert!(!m.contains("junk"), "a junk path became a label");
}

/// `/livez` and `/readyz` on the metrics port answer what gRPC health answers, for probes that
/// cannot speak TLS: a reader whose database is unreachable is alive but not ready.
#[tokio::test]
async fn http_probes_follow_grpc_health() {
    let port = free_port();
    let primary = TestPrimary::start_with(TestDb::create().await.unwrap(), move |c| {
        c.metrics_listen = ListenAddr(Some(([127, 0, 0, 1], port).into()));
    })
    .await
    .unwrap();
    let ready = get(port, "/readyz").await;
    assert!(ready.starts_with("HTTP/1.1 200") && ready.ends_with("SERVING\n"), "{ready}");
    assert!(get(port, "/livez").await.starts_with("HTTP/1.1 200"));
    assert!(get(port, "/other").await.starts_with("HTTP/1.1 404"));
    drop(primary);

    let port = free_port();
    let unreachable = format!("postgres://postgres@127.0.0.1:{}/nowhere", free_port());
    let reader = TestReader::spawn(&unreachable, move |c| {
        c.metrics_listen = ListenAddr(Some(([127, 0, 0, 1], port).into()));
    })
    .await
    .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let ready = loop {
        let out = get_when_listening(port, "/readyz").await;
        if out.is_some() || std::time::Instant::now() > deadline {
            break out.unwrap_or_default();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(ready.starts_with("HTTP/1.1 503") && ready.ends_with("NOT_SERVING\n"), "{ready}");
    assert!(get(port, "/livez").await.starts_with("HTTP/1.1 200"));
    drop(reader);
}

/// `get`, or `None` while nothing listens yet.
async fn get_when_listening(port: u16, path: &str) -> Option<String> {
    tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    Some(get(port, path).await)
}

/// The value of the series whose line starts with `series` (name and labels).
fn value(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no series {series} in:\n{metrics}"))
}

#[tokio::test]
async fn metrics_show_calls_codes_latency_and_reader_state() {
    let (primary_port, reader_port) = (free_port(), free_port());
    let primary = TestPrimary::start_with(TestDb::create().await.unwrap(), move |c| {
        c.metrics_listen = ListenAddr(Some(([127, 0, 0, 1], primary_port).into()));
    })
    .await
    .unwrap();
    let reader = TestReader::start_with(&primary.db.url, move |c| {
        c.metrics_listen = ListenAddr(Some(([127, 0, 0, 1], reader_port).into()));
    })
    .await
    .unwrap();
    let mut registry = primary.registry().await.unwrap();
    create_model(&mut registry, "metered").await;
    register(&mut registry, "metered", "r1").await;
    let bound = bind(&mut registry, "metered", "production", 1, None).await.unwrap();
    let mut resolver = reader.resolver().await.unwrap();
    for _ in 0..20 {
        let request = v1::ResolveRequest {
            model_name: "metered".into(),
            binding: "production".into(),
            min_revision: bound.revision,
            presign: false,
            ..Default::default()
        };
        resolver.resolve(request).await.unwrap();
    }
    let missing =
        v1::ResolveRequest { model_name: "metered".into(), binding: "nope".into(), ..Default::default() };
    assert!(resolver.resolve(missing).await.is_err());

    let m = scrape(reader_port).await;
    let resolve = "method=\"/bindery.v1.ResolverService/Resolve\"";
    assert_eq!(value(&m, &format!("bindery_rpc_requests_total{{{resolve},code=\"Ok\"}}")), 20.0);
    assert_eq!(value(&m, &format!("bindery_rpc_requests_total{{{resolve},code=\"NotFound\"}}")), 1.0);
    assert_eq!(value(&m, &format!("bindery_rpc_duration_seconds_count{{{resolve},code=\"Ok\"}}")), 20.0);
    let sum = value(&m, &format!("bindery_rpc_duration_seconds_sum{{{resolve},code=\"Ok\"}}"));
    assert!(sum > 0.0 && sum < 20.0, "implausible latency sum {sum}");
    assert_eq!(value(&m, &format!("bindery_rpc_in_flight{{{resolve}}}")), 0.0);
    #[allow(clippy::cast_precision_loss)]
    let revision = bound.revision as f64;
    assert_eq!(value(&m, "bindery_reader_applied_revision"), revision);
    assert_eq!(value(&m, "bindery_reader_lag_revisions"), 0.0);
    assert_eq!(value(&m, "bindery_reader_cached_bindings"), 1.0);
    assert_eq!(value(&m, "bindery_reader_cached_models"), 1.0);
    assert_eq!(value(&m, "bindery_reader_connected"), 1.0);
    assert!(value(&m, "bindery_reader_snapshots_total") >= 1.0);

    let p = scrape(primary_port).await;
    let register = "method=\"/bindery.v1.RegistryService/RegisterVersion\"";
    assert_eq!(value(&p, &format!("bindery_rpc_requests_total{{{register},code=\"Ok\"}}")), 1.0);
    assert_eq!(value(&p, "bindery_db_pool_max_connections"), 32.0);
    assert!(value(&p, "bindery_db_pool_connections") >= 1.0);
}
