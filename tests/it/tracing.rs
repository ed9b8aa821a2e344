//! Traces across processes: a caller's `traceparent` becomes the parent of the primary's and
//! the reader's server spans, and the primary's database call is a child span named by its
//! operation. The spans (and the metrics, which go out over OTLP too) are received by an OTLP
//! receiver running in this test.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bindery_proto::v1;
use bindery_server::telemetry::Telemetry;
use bindery_test_util::{TestDb, TestReader};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::trace::v1::Span;
use tonic::{Request, Response, Status};
use tracing_subscriber::layer::SubscriberExt;

use crate::helpers::*;

#[derive(Clone, Default)]
struct Receiver(Arc<Mutex<Vec<Span>>>);

/// `(metric name, rpc.method attribute or "", value)` of every number data point received.
#[derive(Clone, Default)]
struct MetricsReceiver(Arc<Mutex<Vec<(String, String, f64)>>>);

#[tonic::async_trait]
impl MetricsService for MetricsReceiver {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        use opentelemetry_proto::tonic::metrics::v1::metric::Data;
        use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value;
        let mut out = self.0.lock().unwrap();
        for resource in request.into_inner().resource_metrics {
            for scope in resource.scope_metrics {
                for metric in scope.metrics {
                    let points = match metric.data {
                        Some(Data::Sum(s)) => s.data_points,
                        Some(Data::Gauge(g)) => g.data_points,
                        _ => Vec::new(),
                    };
                    for p in points {
                        let method = p
                            .attributes
                            .iter()
                            .find(|a| a.key == "rpc.method")
                            .and_then(|a| a.value.as_ref())
                            .map(|v| format!("{v:?}"))
                            .unwrap_or_default();
                        #[allow(clippy::cast_precision_loss)]
                        let value = match p.value {
                            Some(Value::AsInt(i)) => i as f64,
                            Some(Value::AsDouble(d)) => d,
                            None => 0.0,
                        };
                        out.push((metric.name.clone(), method, value));
                    }
                }
            }
        }
        Ok(Response::new(ExportMetricsServiceResponse { partial_success: None }))
    }
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let mut spans = self.0.lock().unwrap();
        for resource in request.into_inner().resource_spans {
            for scope in resource.scope_spans {
                spans.extend(scope.spans);
            }
        }
        Ok(Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

fn unhex(s: &str) -> Vec<u8> {
    bindery_core::unhex(s).unwrap()
}

fn with_traceparent<T>(message: T, trace: &str, parent: &str) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert("traceparent", format!("00-{trace}-{parent}-01").parse().unwrap());
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callers_trace_continues_through_primary_reader_and_database() {
    let receiver = Receiver::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let service = TraceServiceServer::new(receiver.clone());
    let metrics = MetricsReceiver::default();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .add_service(MetricsServiceServer::new(metrics.clone()))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    let telemetry = Arc::new(Telemetry::otlp(&endpoint, "bindery-test").unwrap());
    // Global: the servers' tasks run on the runtime's worker threads.
    let only_info = tracing_subscriber::filter::LevelFilter::INFO;
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(only_info).with(telemetry.layer()),
    )
    .unwrap();

    let primary = TestPrimary::start_with(TestDb::create().await.unwrap(), |_| {}).await.unwrap();
    let reader = TestReader::start(&primary.db.url).await.unwrap();
    let mut registry = primary.registry().await.unwrap();
    create_model(&mut registry, "traced").await;
    register(&mut registry, "traced", "r1").await;

    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let (write_parent, read_parent) = ("00f067aa0ba902b7", "00f067aa0ba902b8");
    let set = v1::SetBindingRequest {
        model_name: "traced".into(),
        binding: "production".into(),
        version: 1,
        ..Default::default()
    };
    let written =
        registry.set_binding(with_traceparent(set, trace, write_parent)).await.unwrap().into_inner();
    let resolve = v1::ResolveRequest {
        model_name: "traced".into(),
        binding: "production".into(),
        min_revision: written.revision,
        presign: false,
        ..Default::default()
    };
    reader.resolver().await.unwrap().resolve(with_traceparent(resolve, trace, read_parent)).await.unwrap();

    let find = |spans: &[Span], parent: &[u8], name: &str| {
        spans
            .iter()
            .find(|s| s.trace_id == unhex(trace) && s.parent_span_id == parent && s.name.contains(name))
            .cloned()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let (write, db, read) = loop {
        let flusher = telemetry.clone();
        tokio::task::spawn_blocking(move || flusher.flush()).await.unwrap();
        let spans = receiver.0.lock().unwrap().clone();
        let write = find(&spans, &unhex(write_parent), "RegistryService/SetBinding");
        // The database span descends from the call's server span (through the handler's span).
        let descends = |span: &Span, ancestor: &[u8]| {
            let mut parent = span.parent_span_id.clone();
            for _ in 0..8 {
                if parent == ancestor {
                    return true;
                }
                match spans.iter().find(|s| s.span_id == parent) {
                    Some(p) => parent = p.parent_span_id.clone(),
                    None => return false,
                }
            }
            false
        };
        let db = write.as_ref().and_then(|w| {
            spans
                .iter()
                .find(|s| s.name == "set_bindings" && s.trace_id == w.trace_id && descends(s, &w.span_id))
                .cloned()
        });
        let read = find(&spans, &unhex(read_parent), "ResolverService/Resolve");
        if let (Some(w), Some(d), Some(r)) = (write, db, read) {
            break (w, d, r);
        }
        assert!(
            Instant::now() < deadline,
            "spans not received: {:?}",
            spans
                .iter()
                .filter(|s| s.trace_id == unhex(trace) || s.name.contains("Service/"))
                .map(|s| (&s.name, bindery_core::hex(&s.trace_id), bindery_core::hex(&s.parent_span_id)))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_ne!(write.span_id, read.span_id);
    assert_eq!(db.trace_id, write.trace_id, "the database span is in the caller's trace");
    assert!(db.attributes.iter().any(|a| a.key == "db.system"), "{:?}", db.attributes);
    // Statement parameters never appear: the span is named by the operation only.
    assert!(
        !db.attributes.iter().any(|a| format!("{:?}", a.value).contains("traced")),
        "{:?}",
        db.attributes
    );

    // The metrics went out over OTLP as well: per-call counts by method, and the reader's state.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let flusher = telemetry.clone();
        tokio::task::spawn_blocking(move || flusher.flush()).await.unwrap();
        let points = metrics.0.lock().unwrap().clone();
        let set_bindings = points.iter().any(|(n, m, v)| {
            n == "bindery.rpc.requests" && m.contains("RegistryService/SetBinding") && *v >= 1.0
        });
        let applied = points.iter().any(|(n, _, v)| n == "bindery.reader_applied_revision" && *v >= 1.0);
        if set_bindings && applied {
            break;
        }
        assert!(Instant::now() < deadline, "metrics not received: {points:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
