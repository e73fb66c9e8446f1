//! Logs, traces and request metrics.
//!
//! `tracing` everywhere; JSON lines when configured. When `OTEL_EXPORTER_OTLP_ENDPOINT` is set,
//! spans are exported over OTLP/HTTP and W3C `traceparent` links the gateway's span to the
//! service's. Every HTTP server wraps [`observe`], which opens the request span (child of the
//! caller's trace context) and records the Prometheus request metrics.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::TelemetrySettings;

/// Keeps the trace exporter alive; dropping it flushes the spans still buffered.
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(e) = provider.shutdown()
        {
            eprintln!("trace exporter shutdown: {e}");
        }
    }
}

/// Whether request spans leave the process (OTLP export is on). Like the subscriber it is set
/// once per process; without export a span's name and final status have no reader, and
/// formatting them was a measurable share of a token request.
static TRACES_EXPORTED: AtomicBool = AtomicBool::new(false);

/// Installs the global subscriber once per process. A second call (tests, the all-in-one
/// binary) keeps the first subscriber and returns a guard that does nothing.
pub fn init(service_name: &str, settings: &TelemetrySettings) -> TelemetryGuard {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.log_level))
        .unwrap_or_else(|_| EnvFilter::new("info"));

    let provider = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
        .ok()
        .filter(|v| !v.is_empty())
        .and_then(|_| match build_provider(service_name) {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("OTLP trace export disabled: {e}");
                None
            }
        });
    let otel_layer = provider
        .as_ref()
        .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer(service_name.to_owned())));
    let fmt_layer = if settings.json_logs {
        tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer().compact().boxed()
    };
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(fmt_layer)
        .with(otel_layer)
        .try_init()
        .is_ok();
    match (installed, provider) {
        (true, Some(p)) => {
            TRACES_EXPORTED.store(true, Ordering::Relaxed);
            opentelemetry::global::set_tracer_provider(p.clone());
            TelemetryGuard { provider: Some(p) }
        }
        _ => TelemetryGuard { provider: None },
    }
}

use tracing_subscriber::Layer as _;

fn build_provider(service_name: &str) -> Result<SdkTracerProvider, String> {
    // The exporter reads OTEL_EXPORTER_OTLP_ENDPOINT (and _TRACES_ENDPOINT, _HEADERS) itself.
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
        .map_err(|e| e.to_string())?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(
            std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| service_name.to_owned()),
        )
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

/// Collects the current span's trace context as header pairs (`traceparent`, `tracestate`).
/// Empty when no exporter is installed: callers then pass on what they received.
pub fn current_trace_headers() -> Vec<(String, String)> {
    struct Collect(Vec<(String, String)>);
    impl Injector for Collect {
        fn set(&mut self, key: &str, value: String) {
            self.0.push((key.to_owned(), value));
        }
    }
    let cx = tracing::Span::current().context();
    let mut out = Collect(Vec::new());
    opentelemetry::global::get_text_map_propagator(|p| p.inject_context(&cx, &mut out));
    out.0
}

/// Writes the current trace context into an outgoing request's headers.
pub fn inject_trace_headers(headers: &mut HeaderMap) {
    for (k, v) in current_trace_headers() {
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k), HeaderValue::from_str(&v)) {
            headers.insert(k, v);
        }
    }
}

// ---------------------------------------------------------------------------------------------

/// Prometheus registry of one process part (a service, the gateway) and its request metrics.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
}

impl Metrics {
    pub fn new(service: &str) -> Metrics {
        let registry = Registry::new_custom(Some("idp".into()), None)
            .expect("a constant prefix is a valid registry");
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests answered")
                .const_label("service", service),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "Time to answer a request")
                .const_label("service", service)
                .buckets(vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ]),
            &["method", "route"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(requests.clone()))
            .expect("registered once");
        registry
            .register(Box::new(latency.clone()))
            .expect("registered once");
        Metrics {
            registry,
            requests,
            latency,
        }
    }

    /// The registry, for a part's own metrics (the gateway's upstream errors, ...).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .with_label_values(&[method, route, &status.to_string()])
            .inc();
        self.latency
            .with_label_values(&[method, route])
            .observe(seconds);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let encoder = prometheus::TextEncoder::new();
        if let Err(e) = encoder.encode(&self.registry.gather(), &mut buf) {
            tracing::warn!(error = %e, "metrics encoding failed");
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// The route label of a request whose handler is not an actix route of its own (the
/// gateway's proxy puts its route-table pattern here).
#[derive(Debug, Clone)]
pub struct RouteLabel(pub String);

/// Middleware for every server: request span linked to the caller's trace, and metrics
/// labelled by route pattern (never by raw path, which would grow without bound).
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().as_str().to_owned();
    let parent = opentelemetry::global::get_text_map_propagator(|p| {
        p.extract(&HeaderExtractor(req.headers()))
    });
    let exported = TRACES_EXPORTED.load(Ordering::Relaxed);
    // Log lines inside the request carry method and path either way.
    let span = if exported {
        tracing::info_span!(
            "request",
            otel.name = %format!("{} {}", method, req.path()),
            http.method = %method,
            http.path = %req.path(),
            http.status = tracing::field::Empty,
        )
    } else {
        tracing::info_span!("request", http.method = %method, http.path = %req.path())
    };
    if let Err(e) = span.set_parent(parent) {
        tracing::debug!(error = ?e, "trace parent not set");
    }
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let res = next.call(req).instrument(span.clone()).await?;
    let status = res.status().as_u16();
    if exported {
        span.record("http.status", status);
    }
    if let Some(metrics) = metrics {
        let labelled = res.request().extensions().get::<RouteLabel>().cloned();
        let route = labelled
            .map(|l| l.0)
            .or_else(|| res.request().match_pattern())
            .unwrap_or_else(|| "unmatched".to_owned());
        metrics.observe(&method, &route, status, started.elapsed().as_secs_f64());
    }
    Ok(res)
}
