//! Prometheus metrics on a separate HTTP port (`GET /metrics`), with `prometheus-client`: the
//! official Prometheus Rust client, maintained under the Prometheus organisation, no global
//! registry and no macros — metrics are plain values registered once.
//!
//! Every process counts its gRPC calls (a tower layer around the server): requests by method and
//! status code, calls in flight by method, and a latency histogram by method and code. Roles add
//! gauges refreshed at scrape time (a reader's revision, lag, watchers and cache size; a
//! primary's pool).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::Full;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tonic::codegen::http;
use tracing::Instrument;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabels {
    pub method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    pub method: &'static str,
    pub code: String,
}

/// Gauges refreshed at scrape time.
pub type Refresh = Box<dyn Fn() + Send + Sync>;

/// The same per-call metrics as OpenTelemetry instruments, when OTLP export is configured.
struct OtelCalls {
    meter: opentelemetry::metrics::Meter,
    requests: opentelemetry::metrics::Counter<u64>,
    in_flight: opentelemetry::metrics::UpDownCounter<i64>,
    duration: opentelemetry::metrics::Histogram<f64>,
}

pub struct Metrics {
    registry: std::sync::Mutex<Registry>,
    requests: Family<CallLabels, Counter>,
    in_flight: Family<MethodLabels, Gauge>,
    latency: Family<CallLabels, Histogram>,
    refresh: Arc<std::sync::Mutex<Vec<Refresh>>>,
    otel: Option<OtelCalls>,
}

fn run_refresh(refresh: &std::sync::Mutex<Vec<Refresh>>) {
    if let Ok(refresh) = refresh.lock() {
        for r in refresh.iter() {
            r();
        }
    }
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("bindery");
        let requests = Family::<CallLabels, Counter>::default();
        let in_flight = Family::<MethodLabels, Gauge>::default();
        // 50 µs to about 3.3 s.
        let latency = Family::<CallLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.000_05, 2.0, 17))
        });
        registry.register("rpc_requests", "gRPC calls handled, by method and status code", requests.clone());
        registry.register("rpc_in_flight", "gRPC calls being handled, by method", in_flight.clone());
        registry.register(
            "rpc_duration_seconds",
            "gRPC call latency to the response headers, by method and status code",
            latency.clone(),
        );
        // With OTLP configured, the same metrics also go out through the OpenTelemetry meter.
        let otel = crate::telemetry::meter().map(|meter| OtelCalls {
            meter: meter.clone(),
            requests: meter
                .u64_counter("bindery.rpc.requests")
                .with_description("gRPC calls handled")
                .build(),
            in_flight: meter
                .i64_up_down_counter("bindery.rpc.in_flight")
                .with_description("gRPC calls being handled")
                .build(),
            duration: meter
                .f64_histogram("bindery.rpc.duration")
                .with_unit("s")
                .with_description("gRPC call latency to the response headers")
                .build(),
        });
        Arc::new(Self {
            registry: std::sync::Mutex::new(registry),
            requests,
            in_flight,
            latency,
            refresh: Arc::new(std::sync::Mutex::new(Vec::new())),
            otel,
        })
    }

    /// Registers a gauge (`bindery_<name>`; `bindery.<name>` over OTLP) and returns it.
    pub fn gauge(&self, name: &str, help: &str) -> Gauge {
        let gauge = Gauge::default();
        if let Ok(mut r) = self.registry.lock() {
            r.register(name, help, gauge.clone());
        }
        if let Some(otel) = &self.otel {
            let (g, refresh) = (gauge.clone(), self.refresh.clone());
            let _ = otel
                .meter
                .i64_observable_gauge(format!("bindery.{name}"))
                .with_description(help.to_owned())
                .with_callback(move |observer| {
                    run_refresh(&refresh);
                    observer.observe(g.get(), &[]);
                })
                .build();
        }
        gauge
    }

    /// Registers a counter (`bindery_<name>_total`) whose value is set at scrape time.
    pub fn counter(&self, name: &str, help: &str) -> Counter {
        let counter = Counter::default();
        if let Ok(mut r) = self.registry.lock() {
            r.register(name, help, counter.clone());
        }
        if let Some(otel) = &self.otel {
            let (c, refresh) = (counter.clone(), self.refresh.clone());
            let _ = otel
                .meter
                .u64_observable_counter(format!("bindery.{name}"))
                .with_description(help.to_owned())
                .with_callback(move |observer| {
                    run_refresh(&refresh);
                    observer.observe(c.get(), &[]);
                })
                .build();
        }
        counter
    }

    /// Runs before every scrape.
    pub fn on_scrape(&self, refresh: Refresh) {
        if let Ok(mut r) = self.refresh.lock() {
            r.push(refresh);
        }
    }

    /// The text exposition of every metric.
    pub fn encode(&self) -> String {
        run_refresh(&self.refresh);
        let mut out = String::new();
        if let Ok(r) = self.registry.lock() {
            let _ = prometheus_client::encoding::text::encode(&mut out, &r);
        }
        out
    }

    pub fn layer(self: &Arc<Self>) -> MetricsLayer {
        MetricsLayer(self.clone())
    }
}

/// The `method` label (and span name) of a call to `path`: the path when it names an RPC this
/// process serves, else `unknown`, so junk paths cannot mint series or span names.
pub fn method_label(path: &str) -> &'static str {
    type Known = std::collections::HashSet<String, foldhash::fast::FixedState>;
    static KNOWN: std::sync::LazyLock<Known> = std::sync::LazyLock::new(|| {
        use prost::Message as _;
        // tonic-reflection does not export its descriptors; its one method per version is known.
        let reflection =
            ["v1", "v1alpha"].map(|v| format!("/grpc.reflection.{v}.ServerReflection/ServerReflectionInfo"));
        [bindery_proto::FILE_DESCRIPTOR_SET, tonic_health::pb::FILE_DESCRIPTOR_SET]
            .into_iter()
            .filter_map(|set| prost_types::FileDescriptorSet::decode(set).ok())
            .flat_map(|set| set.file)
            .flat_map(|file| {
                let package = file.package.unwrap_or_default();
                file.service.into_iter().flat_map(move |service| {
                    let service_name = format!("{package}.{}", service.name.unwrap_or_default());
                    service
                        .method
                        .into_iter()
                        .map(move |m| format!("/{service_name}/{}", m.name.unwrap_or_default()))
                })
            })
            .chain(reflection)
            .collect()
    });
    KNOWN.get(path).map_or("unknown", String::as_str)
}

/// Wraps every gRPC call once: counts it, times it, and runs it in its trace span.
#[derive(Clone)]
pub struct MetricsLayer(Arc<Metrics>);

impl<S> tower_layer::Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        MetricsService { inner, metrics: self.0.clone() }
    }
}

#[derive(Clone)]
pub struct MetricsService<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

/// Decrements the in-flight gauges however the call ends (a cancelled call drops its future).
struct InFlight(Gauge, Arc<Metrics>, Option<[opentelemetry::KeyValue; 1]>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
        if let (Some(otel), Some(attr)) = (&self.1.otel, &self.2) {
            otel.in_flight.add(-1, attr);
        }
    }
}

impl<S, ReqBody, ResBody> tower_service::Service<http::Request<ReqBody>> for MetricsService<S>
where
    S: tower_service::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let method = method_label(request.uri().path());
        let metrics = self.metrics.clone();
        let gauge = metrics.in_flight.get_or_create(&MethodLabels { method }).clone();
        gauge.inc();
        let method_attr = metrics.otel.as_ref().map(|o| {
            let attr = [opentelemetry::KeyValue::new("rpc.method", method)];
            o.in_flight.add(1, &attr);
            attr
        });
        let guard = InFlight(gauge, metrics.clone(), method_attr);
        let span = crate::telemetry::server_span(&request, method);
        let started = Instant::now();
        let call = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        Box::pin(async move {
            let result = call.instrument(span).await;
            drop(guard);
            // Errors of unary calls come as trailers-only responses, with `grpc-status` in the
            // headers; without it the call succeeded (or a stream's end status is still to come).
            let code = match &result {
                Ok(response) => response
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<i32>().ok())
                    .map_or(tonic::Code::Ok, tonic::Code::from),
                Err(_) => tonic::Code::Unknown,
            };
            let seconds = started.elapsed().as_secs_f64();
            let labels = CallLabels { method, code: format!("{code:?}") };
            if let Some(otel) = &metrics.otel {
                let attrs = [
                    opentelemetry::KeyValue::new("rpc.method", labels.method),
                    opentelemetry::KeyValue::new("rpc.grpc.status_code", labels.code.clone()),
                ];
                otel.requests.add(1, &attrs);
                otel.duration.record(seconds, &attrs);
            }
            metrics.requests.get_or_create(&labels).inc();
            metrics.latency.get_or_create(&labels).observe(seconds);
            result
        })
    }
}

/// Serves `GET /metrics` and, with `health`, `GET /livez` and `GET /readyz` (200 when the gRPC
/// health service reports SERVING for `liveness` or the whole server, else 503): plain-HTTP
/// probes for when the gRPC port speaks TLS, which Kubernetes' gRPC probes cannot.
pub async fn serve_on(
    metrics: Arc<Metrics>,
    health: Option<Arc<tonic_health::server::HealthService>>,
    listener: tokio::net::TcpListener,
) {
    bindery_artifacts::serve_http1(listener, bindery_artifacts::HttpLimits::default(), move |request| {
        let (metrics, health) = (metrics.clone(), health.clone());
        async move {
            let probe = match request.uri().path() {
                "/livez" => Some(crate::common::LIVENESS_SERVICE),
                "/readyz" => Some(""),
                _ => None,
            };
            match (request.uri().path(), probe, health) {
                ("/metrics", _, _) => {
                    let mut r = http::Response::new(Full::new(Bytes::from(metrics.encode())));
                    r.headers_mut().insert(
                        http::header::CONTENT_TYPE,
                        http::HeaderValue::from_static(
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        ),
                    );
                    r
                }
                (_, Some(service), Some(health)) => probe_response(&health, service).await,
                _ => {
                    let mut r = http::Response::new(Full::new(Bytes::from_static(
                        b"GET /metrics, /livez or /readyz\n",
                    )));
                    *r.status_mut() = http::StatusCode::NOT_FOUND;
                    r
                }
            }
        }
    })
    .await;
}

/// 200 `SERVING` when the health service reports `service` serving, else 503 with its status.
async fn probe_response(
    health: &tonic_health::server::HealthService,
    service: &str,
) -> http::Response<Full<Bytes>> {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_server::Health;
    let request = tonic::Request::new(tonic_health::pb::HealthCheckRequest { service: service.to_owned() });
    let status = match health.check(request).await {
        Ok(r) => ServingStatus::try_from(r.into_inner().status).unwrap_or(ServingStatus::Unknown),
        Err(_) => ServingStatus::ServiceUnknown,
    };
    let mut response = http::Response::new(Full::new(Bytes::from(format!("{}\n", status.as_str_name()))));
    if status != ServingStatus::Serving {
        *response.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_served_methods_name_series() {
        for known in [
            "/bindery.v1.ResolverService/Resolve",
            "/bindery.v1.RegistryService/CreateToken",
            "/grpc.health.v1.Health/Check",
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        ] {
            assert_eq!(method_label(known), known);
        }
        for junk in ["/x/y", "/bindery.v1.ResolverService/Nope", "", "/bindery.v1.ResolverService/Resolve/"] {
            assert_eq!(method_label(junk), "unknown");
        }
    }
}
