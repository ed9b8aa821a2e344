//! Traces: `tracing` spans exported as OpenTelemetry spans over OTLP/gRPC when an endpoint is
//! configured (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`; the other
//! standard `OTEL_*` variables apply), and nothing at all when not — no exporter, no error logs
//! about an absent collector.
//!
//! Incoming calls continue the caller's W3C trace context (`traceparent`): [`server_span`] makes
//! one server span per call whose parent is the caller's span; database calls are child spans
//! named by statement (`PgStore::run`), never with their parameters.

use opentelemetry::propagation::Extractor;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tonic::codegen::http;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The OTLP endpoint from the standard variables, if any.
pub fn endpoint_from_env() -> Option<String> {
    ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
}

/// The meter of the OTLP metrics pipeline, once [`Telemetry::otlp`] has set one up: servers
/// started afterwards export their metrics through it as well as on `/metrics`.
static METER: std::sync::OnceLock<opentelemetry::metrics::Meter> = std::sync::OnceLock::new();

pub fn meter() -> Option<&'static opentelemetry::metrics::Meter> {
    METER.get()
}

/// OTLP trace and metrics pipelines; flushed on [`Telemetry::shutdown`].
pub struct Telemetry {
    provider: SdkTracerProvider,
    meters: opentelemetry_sdk::metrics::SdkMeterProvider,
}

impl Telemetry {
    /// Exports to `endpoint` (gRPC) as `service`, batching on the tokio runtime. Also installs
    /// the W3C trace-context propagator. Call within a tokio runtime.
    pub fn otlp(endpoint: &str, service: &str) -> anyhow::Result<Self> {
        let exporter =
            opentelemetry_otlp::SpanExporter::builder().with_tonic().with_endpoint(endpoint).build()?;
        let processor =
            opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor::builder(
                exporter,
                opentelemetry_sdk::runtime::Tokio,
            )
            .build();
        let resource = opentelemetry_sdk::Resource::builder().with_service_name(service.to_owned()).build();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_resource(resource.clone())
            .build();
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
        let metrics_endpoint = std::env::var("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
            .ok()
            .filter(|e| !e.is_empty())
            .unwrap_or_else(|| endpoint.to_owned());
        let exporter = opentelemetry_otlp::MetricExporter::builder()
            .with_tonic()
            .with_endpoint(metrics_endpoint)
            .build()?;
        let reader = opentelemetry_sdk::metrics::periodic_reader_with_async_runtime::PeriodicReader::builder(
            exporter,
            opentelemetry_sdk::runtime::Tokio,
        )
        .build();
        let meters = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
            .with_reader(reader)
            .with_resource(resource)
            .build();
        let _ = METER.set(opentelemetry::metrics::MeterProvider::meter(&meters, "bindery"));
        Ok(Self { provider, meters })
    }

    /// The `tracing` layer that turns spans into OpenTelemetry spans.
    pub fn layer<S>(&self) -> impl tracing_subscriber::Layer<S> + use<S>
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        tracing_opentelemetry::layer().with_tracer(self.provider.tracer("bindery"))
    }

    /// Exports what is buffered now (spans, and the metrics collected so far).
    pub fn flush(&self) {
        let _ = self.provider.force_flush();
        let _ = self.meters.force_flush();
    }

    /// Flushes and stops the exporters (the last step of a graceful shutdown).
    pub fn shutdown(self) {
        let _ = self.provider.shutdown();
        let _ = self.meters.shutdown();
    }
}

struct Headers<'a>(&'a http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// The server span of one gRPC call, named by its method, continuing the caller's trace context
/// (`traceparent`). Opened by the per-call layer in `metrics.rs`, so each call is wrapped once.
/// The span of a call to `method` (its [`crate::metrics::method_label`], computed once per call
/// by the metrics layer).
pub fn server_span<B>(request: &http::Request<B>, method: &'static str) -> tracing::Span {
    let path = method;
    let (service, method) = path.trim_start_matches('/').split_once('/').unwrap_or((path, ""));
    let span = tracing::info_span!(
        "grpc",
        otel.name = %path.trim_start_matches('/'),
        otel.kind = "server",
        rpc.system = "grpc",
        rpc.service = %service,
        rpc.method = %method,
    );
    let parent = opentelemetry::global::get_text_map_propagator(|p| p.extract(&Headers(request.headers())));
    let _ = span.set_parent(parent);
    span
}
