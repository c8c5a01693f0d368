//! OpenTelemetry for Kinerja: the callers' W3C trace context is continued, every RPC gets one
//! SERVER span with database child spans, traces and metrics go out over OTLP (gRPC or HTTP) in
//! batches that never hold a call, and logs carry trace and span ids.
//!
//! Spans are made with the OpenTelemetry API and an explicit tracer that belongs to one server
//! ([`Telemetry`]), not through a global `tracing` subscriber: every server (and every test in one
//! process) has its own providers and exporters, and the log filter cannot switch traces off. The
//! span of a call is carried in the OpenTelemetry [`Context`] that [`TelemetryLayer`] attaches to
//! the call's future; code on the request path reads it with [`current_trace_id`],
//! [`record_caller`] and [`add_event`], and database statements become child spans through the
//! store's statement observer ([`db`]).
//!
//! Logs are the one global part: the `tracing` subscriber of the process ([`logs::init`]) writes
//! JSON or text lines with the ids of the current span and, when configured, also sends the
//! records over OTLP.

pub mod db;
mod layer;
pub mod logs;
mod metrics;

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracer, SdkTracerProvider,
};

pub use layer::{TelemetryLayer, TelemetryService, TracedBody};
pub use metrics::Metrics;
pub use opentelemetry::KeyValue;

use crate::context::Caller;
use crate::error::{Error, Result};

/// Instrumentation scope name of every span and instrument Kinerja makes.
pub const SCOPE: &str = "kinerja";
/// `service.name` when neither `OTEL_SERVICE_NAME` nor `OTEL_RESOURCE_ATTRIBUTES` names one.
pub const DEFAULT_SERVICE_NAME: &str = "kinerja";

/// Wire protocol of the OTLP exporter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP over gRPC (`grpc`, usually port 4317).
    Grpc,
    /// OTLP over HTTP with protobuf bodies (`http/protobuf`, usually port 4318).
    HttpProtobuf,
}

impl Protocol {
    /// Parses an `OTEL_EXPORTER_OTLP_PROTOCOL` value.
    pub fn parse(v: &str) -> Option<Self> {
        match v.trim() {
            "grpc" => Some(Protocol::Grpc),
            "http/protobuf" => Some(Protocol::HttpProtobuf),
            _ => None,
        }
    }
}

/// Where telemetry goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Export {
    /// Nothing leaves the process: spans still exist locally (trace ids, log fields), metrics
    /// are no-ops.
    Off,
    /// OTLP as the standard `OTEL_EXPORTER_OTLP_*` variables say (endpoint, protocol, headers,
    /// timeout, compression, per-signal variants).
    FromEnv,
    /// OTLP to an explicit endpoint (tests, embedding). For HTTP this is the base URL and
    /// `/v1/traces`, `/v1/metrics` and `/v1/logs` are appended. Headers and timeouts still come
    /// from the standard variables when they are set.
    Otlp {
        /// Wire protocol.
        protocol: Protocol,
        /// Collector URL, e.g. `http://127.0.0.1:4317`.
        endpoint: String,
    },
}

/// Telemetry settings of one server.
#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    /// Where traces, metrics and logs go.
    pub export: Export,
    /// Export traces (off with `OTEL_TRACES_EXPORTER=none`).
    pub traces: bool,
    /// Export metrics (off with `OTEL_METRICS_EXPORTER=none`).
    pub metrics: bool,
    /// Export logs (off with `OTEL_LOGS_EXPORTER=none`); used by [`logs::init`] only.
    pub logs: bool,
    /// Sampler; `None` takes `OTEL_TRACES_SAMPLER`/`_ARG`, by default `parentbased_always_on`.
    pub sampler: Option<Sampler>,
    /// `service.name`; `None` takes `OTEL_SERVICE_NAME`, then `OTEL_RESOURCE_ATTRIBUTES`, then
    /// [`DEFAULT_SERVICE_NAME`].
    pub service_name: Option<String>,
    /// Baggage entries (by key) copied onto the server span as attributes of the same name.
    pub baggage_attributes: Vec<String>,
    /// Metric export interval; `None` takes `OTEL_METRIC_EXPORT_INTERVAL` (default 60 s).
    pub metric_interval: Option<Duration>,
    /// Delay between span batches; `None` takes `OTEL_BSP_SCHEDULE_DELAY` (default 5 s).
    pub batch_delay: Option<Duration>,
    /// Longest time shutdown waits for the last batches to be delivered.
    pub flush_timeout: Duration,
    /// Database child spans kept per call; later statements are only counted
    /// (`kinerja.db.spans_dropped`), so a bulk import cannot flood the exporter.
    pub max_db_spans_per_call: u32,
    /// Statements that take at least this long are logged (WARN) with their SQL text (with
    /// placeholders, no values); `None` logs none.
    pub slow_statement: Option<Duration>,
}

impl Default for TelemetryConfig {
    /// Nothing exported, standard sampler, no baggage attributes.
    fn default() -> Self {
        Self {
            export: Export::Off,
            traces: true,
            metrics: true,
            logs: true,
            sampler: None,
            service_name: None,
            baggage_attributes: Vec::new(),
            metric_interval: None,
            batch_delay: None,
            flush_timeout: Duration::from_secs(5),
            max_db_spans_per_call: 500,
            slow_statement: None,
        }
    }
}

impl TelemetryConfig {
    /// Settings from the process environment (see [`TelemetryConfig::from_lookup`]).
    pub fn from_env() -> Self {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Settings from environment variables read through `var`: export is on when
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` or a per-signal
    /// `OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_ENDPOINT` is set and `OTEL_SDK_DISABLED` is not
    /// `true`; a signal whose `OTEL_*_EXPORTER` is `none`, or that has no endpoint at all, stays
    /// local. Everything else is read by the SDK itself.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Self {
        let set = |k: &str| var(k).is_some_and(|v| !v.trim().is_empty());
        let disabled =
            var("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        let generic = set("OTEL_EXPORTER_OTLP_ENDPOINT");
        let signal = |name: &str| {
            let exporter = var(&format!("OTEL_{name}_EXPORTER"));
            let off = exporter.is_some_and(|v| v.trim().eq_ignore_ascii_case("none"));
            !off && (generic || set(&format!("OTEL_EXPORTER_OTLP_{name}_ENDPOINT")))
        };
        let (traces, metrics, logs) = (signal("TRACES"), signal("METRICS"), signal("LOGS"));
        Self {
            export: if !disabled && (traces || metrics || logs) {
                Export::FromEnv
            } else {
                Export::Off
            },
            traces,
            metrics,
            logs,
            ..Self::default()
        }
    }

    /// Settings that export to `endpoint` over `protocol` (tests, embedding).
    pub fn otlp(protocol: Protocol, endpoint: impl Into<String>) -> Self {
        Self {
            export: Export::Otlp {
                protocol,
                endpoint: endpoint.into(),
            },
            ..Self::default()
        }
    }

    fn exports(&self, signal: bool) -> bool {
        signal && self.export != Export::Off
    }

    /// The resource describing this process: service name and version, plus
    /// `OTEL_RESOURCE_ATTRIBUTES`.
    pub fn resource(&self) -> Resource {
        let detected = Resource::builder().build();
        let named = detected
            .get(&opentelemetry::Key::from_static_str("service.name"))
            .is_some_and(|v| !v.as_str().starts_with("unknown_service"));
        let mut b = Resource::builder()
            .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")));
        if let Some(name) = &self.service_name {
            b = b.with_service_name(name.clone());
        } else if !named {
            b = b.with_service_name(DEFAULT_SERVICE_NAME);
        }
        b.build()
    }

    /// Checks what the SDK would otherwise accept silently: the protocol variables must name
    /// `grpc` or `http/protobuf`, and OTLP/HTTP endpoints must be `http://` (TLS is available on
    /// OTLP/gRPC only).
    fn validate(&self, var: impl Fn(&str) -> Option<String>) -> Result<()> {
        let bad = |what: String| Err(Error::Internal(format!("telemetry configuration: {what}")));
        if self.export != Export::FromEnv {
            if let Export::Otlp {
                protocol: Protocol::HttpProtobuf,
                endpoint,
            } = &self.export
                && endpoint.starts_with("https://")
            {
                return bad(format!(
                    "OTLP/HTTP endpoint {endpoint} uses TLS, which this build supports over gRPC only"
                ));
            }
            return Ok(());
        }
        let generic = var("OTEL_EXPORTER_OTLP_PROTOCOL");
        for signal in ["TRACES", "METRICS", "LOGS"] {
            let name = format!("OTEL_EXPORTER_OTLP_{signal}_PROTOCOL");
            let value = var(&name).or_else(|| generic.clone());
            let protocol = match &value {
                None => Protocol::HttpProtobuf,
                Some(v) => match Protocol::parse(v) {
                    Some(p) => p,
                    None => {
                        return bad(format!(
                            "{name} / OTEL_EXPORTER_OTLP_PROTOCOL is {v:?}; use grpc or http/protobuf"
                        ));
                    }
                },
            };
            let endpoint = var(&format!("OTEL_EXPORTER_OTLP_{signal}_ENDPOINT"))
                .or_else(|| var("OTEL_EXPORTER_OTLP_ENDPOINT"));
            if protocol == Protocol::HttpProtobuf
                && let Some(e) = endpoint
                && e.trim().starts_with("https://")
            {
                return bad(format!(
                    "OTLP/HTTP endpoint {e} uses TLS, which this build supports over gRPC only; \
                     set OTEL_EXPORTER_OTLP_PROTOCOL=grpc"
                ));
            }
        }
        Ok(())
    }
}

/// Which signal an exporter is for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Signal {
    Traces,
    Metrics,
    Logs,
}

impl Signal {
    fn env_name(self) -> &'static str {
        match self {
            Signal::Traces => "TRACES",
            Signal::Metrics => "METRICS",
            Signal::Logs => "LOGS",
        }
    }

    fn http_path(self) -> &'static str {
        match self {
            Signal::Traces => "/v1/traces",
            Signal::Metrics => "/v1/metrics",
            Signal::Logs => "/v1/logs",
        }
    }
}

/// How one signal's exporter is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Transport {
    protocol: Protocol,
    /// Explicit URL (with the `/v1/...` path for HTTP); `None` leaves it to the exporter, which
    /// reads the signal's or the generic endpoint variable.
    endpoint: Option<String>,
    /// The endpoint is `https://`: TLS with the bundled web PKI roots, plus the CA in
    /// `OTEL_EXPORTER_OTLP_CERTIFICATE` when set.
    tls: bool,
}

impl Transport {
    /// Resolves `export` for `signal` with the environment read through `var`.
    fn resolve(export: &Export, signal: Signal, var: impl Fn(&str) -> Option<String>) -> Self {
        let name = signal.env_name();
        match export {
            Export::Otlp { protocol, endpoint } => {
                let endpoint = match protocol {
                    Protocol::Grpc => endpoint.clone(),
                    Protocol::HttpProtobuf => {
                        format!("{}{}", endpoint.trim_end_matches('/'), signal.http_path())
                    }
                };
                Transport {
                    protocol: *protocol,
                    tls: endpoint.starts_with("https://"),
                    endpoint: Some(endpoint),
                }
            }
            Export::Off | Export::FromEnv => {
                let protocol = var(&format!("OTEL_EXPORTER_OTLP_{name}_PROTOCOL"))
                    .or_else(|| var("OTEL_EXPORTER_OTLP_PROTOCOL"))
                    .and_then(|v| Protocol::parse(&v))
                    .unwrap_or(Protocol::HttpProtobuf);
                let endpoint = var(&format!("OTEL_EXPORTER_OTLP_{name}_ENDPOINT"))
                    .or_else(|| var("OTEL_EXPORTER_OTLP_ENDPOINT"))
                    .unwrap_or_default();
                Transport {
                    protocol,
                    endpoint: None,
                    tls: endpoint.trim().starts_with("https://"),
                }
            }
        }
    }
}

/// TLS settings of the OTLP/gRPC exporter: the bundled web PKI roots, and the PEM CA file named
/// by `OTEL_EXPORTER_OTLP_CERTIFICATE` (for a collector behind a private CA).
pub(crate) fn grpc_tls() -> Result<opentelemetry_otlp::tonic_types::transport::ClientTlsConfig> {
    use opentelemetry_otlp::tonic_types::transport::{Certificate, ClientTlsConfig};
    let tls = ClientTlsConfig::new().with_enabled_roots();
    match std::env::var("OTEL_EXPORTER_OTLP_CERTIFICATE") {
        Ok(path) if !path.trim().is_empty() => {
            let pem = std::fs::read(path.trim()).map_err(|e| {
                Error::Internal(format!(
                    "telemetry: cannot read OTEL_EXPORTER_OTLP_CERTIFICATE {path}: {e}"
                ))
            })?;
            Ok(tls.ca_certificate(Certificate::from_pem(pem)))
        }
        _ => Ok(tls),
    }
}

/// Builds a signal's OTLP exporter from its [`Transport`]; a macro because the three signal
/// builders share no trait for the transport choice. Evaluates to
/// `Result<Exporter, crate::error::Error>`.
macro_rules! otlp_exporter {
    ($builder:expr, $transport:expr) => {{
        use opentelemetry_otlp::{WithExportConfig as _, WithTonicConfig as _};
        let t: $crate::telemetry::Transport = $transport;
        let built = match t.protocol {
            $crate::telemetry::Protocol::Grpc => {
                let mut b = $builder.with_tonic();
                if let Some(e) = t.endpoint {
                    b = b.with_endpoint(e);
                }
                if t.tls {
                    b = b.with_tls_config($crate::telemetry::grpc_tls()?);
                }
                b.build()
            }
            $crate::telemetry::Protocol::HttpProtobuf => {
                let mut b = $builder
                    .with_http()
                    .with_protocol(opentelemetry_otlp::Protocol::HttpBinary);
                if let Some(e) = t.endpoint {
                    b = b.with_endpoint(e);
                }
                b.build()
            }
        };
        built.map_err(|e| {
            $crate::error::Error::Internal(format!("telemetry: cannot build an OTLP exporter: {e}"))
        })
    }};
}
pub(crate) use otlp_exporter;

struct Inner {
    tracer: SdkTracer,
    propagator: TextMapCompositePropagator,
    baggage_attributes: Vec<String>,
    metrics: Metrics,
    max_db_spans_per_call: u32,
    slow_statement: Option<Duration>,
}

/// The telemetry of one server: its tracer, propagators and metric instruments. Cheap to clone.
#[derive(Clone)]
pub struct Telemetry {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry").finish_non_exhaustive()
    }
}

/// Owns the providers of one server; [`TelemetryGuard::shutdown`] flushes them within the
/// configured timeout.
#[derive(Debug)]
pub struct TelemetryGuard {
    tracer_provider: SdkTracerProvider,
    meter_provider: Option<SdkMeterProvider>,
    flush_timeout: Duration,
}

impl Telemetry {
    /// Builds the providers `cfg` asks for. With export on this must run inside a tokio runtime
    /// (the gRPC exporter binds its channel to it). Exporters connect lazily: an unreachable
    /// collector never fails or slows the start.
    pub fn init(cfg: &TelemetryConfig) -> Result<(Telemetry, TelemetryGuard)> {
        let env = |k: &str| std::env::var(k).ok();
        cfg.validate(env)?;
        let spans = if cfg.exports(cfg.traces) {
            let exporter = otlp_exporter!(
                opentelemetry_otlp::SpanExporter::builder(),
                Transport::resolve(&cfg.export, Signal::Traces, env)
            )?;
            let mut batch = BatchConfigBuilder::default();
            if let Some(d) = cfg.batch_delay {
                batch = batch.with_scheduled_delay(d);
            }
            Some(
                BatchSpanProcessor::builder(exporter)
                    .with_batch_config(batch.build())
                    .build(),
            )
        } else {
            None
        };
        let metrics = if cfg.exports(cfg.metrics) {
            let exporter = otlp_exporter!(
                opentelemetry_otlp::MetricExporter::builder(),
                Transport::resolve(&cfg.export, Signal::Metrics, env)
            )?;
            let mut reader = PeriodicReader::builder(exporter);
            if let Some(i) = cfg.metric_interval {
                reader = reader.with_interval(i);
            }
            Some(reader.build())
        } else {
            None
        };
        Ok(Self::assemble(cfg, spans, metrics))
    }

    /// Telemetry that exports nothing: spans are local (ids for logs and headers), metrics are
    /// no-ops. For code paths without a configured server.
    pub fn disabled() -> Telemetry {
        Self::assemble(&TelemetryConfig::default(), None, None).0
    }

    fn assemble(
        cfg: &TelemetryConfig,
        spans: Option<BatchSpanProcessor>,
        metrics: Option<PeriodicReader<opentelemetry_otlp::MetricExporter>>,
    ) -> (Telemetry, TelemetryGuard) {
        let resource = cfg.resource();
        let mut tp = SdkTracerProvider::builder().with_resource(resource.clone());
        if let Some(s) = &cfg.sampler {
            tp = tp.with_sampler(s.clone());
        }
        if let Some(p) = spans {
            tp = tp.with_span_processor(p);
        }
        let tracer_provider = tp.build();
        let meter_provider = metrics.map(|reader| {
            SdkMeterProvider::builder()
                .with_resource(resource)
                .with_reader(reader)
                .build()
        });
        let meter = match &meter_provider {
            Some(p) => p.meter(SCOPE),
            None => opentelemetry::metrics::NoopMeterProvider::new().meter(SCOPE),
        };
        let telemetry = Telemetry {
            inner: Arc::new(Inner {
                tracer: tracer_provider.tracer(SCOPE),
                propagator: TextMapCompositePropagator::new(vec![
                    Box::new(TraceContextPropagator::new()),
                    Box::new(BaggagePropagator::new()),
                ]),
                baggage_attributes: cfg.baggage_attributes.clone(),
                metrics: Metrics::new(meter),
                max_db_spans_per_call: cfg.max_db_spans_per_call,
                slow_statement: cfg.slow_statement,
            }),
        };
        let guard = TelemetryGuard {
            tracer_provider,
            meter_provider,
            flush_timeout: cfg.flush_timeout,
        };
        (telemetry, guard)
    }

    /// The metric instruments; domain counters are made from [`Metrics::meter`].
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub(crate) fn tracer(&self) -> &SdkTracer {
        &self.inner.tracer
    }

    /// The caller's context from request headers (`traceparent`, `tracestate`, `baggage`).
    pub(crate) fn extract(&self, headers: &http::HeaderMap) -> Context {
        self.inner
            .propagator
            .extract_with_context(&Context::new(), &HeaderExtractor(headers))
    }

    /// Span attributes for the allow-listed baggage entries of `cx`.
    pub(crate) fn baggage_attributes(&self, cx: &Context) -> Vec<KeyValue> {
        let baggage = cx.baggage();
        self.inner
            .baggage_attributes
            .iter()
            .filter_map(|k| {
                baggage.get(k).map(|v| {
                    let v: String = v.as_str().chars().take(256).collect();
                    KeyValue::new(k.clone(), v)
                })
            })
            .collect()
    }

    pub(crate) fn max_db_spans_per_call(&self) -> u32 {
        self.inner.max_db_spans_per_call
    }

    /// From how long a statement is logged as slow, if at all.
    pub(crate) fn slow_statement(&self) -> Option<Duration> {
        self.inner.slow_statement
    }
}

impl TelemetryGuard {
    /// Flushes and stops the exporters, waiting at most the flush timeout: a collector that is
    /// down costs shutdown at most that long.
    pub async fn shutdown(self) {
        let timeout = self.flush_timeout;
        let tp = self.tracer_provider;
        let mp = self.meter_provider;
        shutdown_off_thread(timeout, move || {
            let mut out = vec![("span", tp.shutdown_with_timeout(timeout))];
            if let Some(m) = mp {
                out.push(("metric", m.shutdown_with_timeout(timeout)));
            }
            out
        })
        .await;
    }
}

/// Runs the SDK's blocking shutdown on its own thread and waits for it at most `timeout` (plus
/// a little): the SDK blocks, the gRPC exporter needs this runtime to make progress, and a
/// stuck export must not hold the process (a detached thread does not; a blocking task would
/// hold the runtime's shutdown).
pub(crate) async fn shutdown_off_thread<F>(timeout: Duration, f: F)
where
    F: FnOnce() -> Vec<(&'static str, opentelemetry_sdk::error::OTelSdkResult)> + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("kinerja-otel-shutdown".into())
        .spawn(move || {
            let _ = tx.send(f());
        });
    if spawned.is_err() {
        tracing::warn!("telemetry: cannot start the shutdown thread; unsent telemetry is lost");
        return;
    }
    match tokio::time::timeout(timeout + Duration::from_millis(200), rx).await {
        Ok(Ok(results)) => {
            for (signal, r) in results {
                if let Err(e) = r {
                    tracing::warn!(error = %e, "telemetry: {signal} export did not finish cleanly");
                }
            }
        }
        _ => tracing::warn!(
            timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
            "telemetry: exporters did not finish within the flush timeout; giving up"
        ),
    }
}

/// Reads propagation fields from HTTP headers.
struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl opentelemetry::propagation::Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// Trace id of the span current on this task, as 32 lower-case hex digits (`None` outside a
/// traced call).
pub fn current_trace_id() -> Option<String> {
    Context::map_current(|cx| {
        let sc = cx.span().span_context().clone();
        sc.is_valid().then(|| sc.trace_id().to_string())
    })
}

/// Trace and span id of the span current on this task (`None` outside a traced call).
pub fn current_ids() -> Option<(String, String)> {
    Context::map_current(|cx| {
        let sc = cx.span().span_context().clone();
        sc.is_valid()
            .then(|| (sc.trace_id().to_string(), sc.span_id().to_string()))
    })
}

/// Puts the caller's identity on the current server span: `enduser.id` for ids and service
/// accounts, the calling service as `kinerja.calling_service`. A NIP is personal data (it
/// encodes birth date and sex), so a NIP-shaped subject is left out.
pub fn record_caller(caller: &Caller) {
    Context::map_current(|cx| {
        let span = cx.span();
        if !span.is_recording() {
            return;
        }
        if !personal_number(&caller.subject) {
            span.set_attribute(KeyValue::new("enduser.id", caller.subject.clone()));
        }
        if let Some(s) = &caller.calling_service {
            span.set_attribute(KeyValue::new("kinerja.calling_service", s.clone()));
        }
    });
}

/// True for subjects that look like a personal number (NIP: 18 digits, NIK: 16 digits).
fn personal_number(subject: &str) -> bool {
    subject.len() >= 8 && subject.bytes().all(|b| b.is_ascii_digit())
}

/// Records an event (progress of a long call, a phase change) on the current span.
pub fn add_event(name: &'static str, attributes: Vec<KeyValue>) {
    Context::map_current(|cx| {
        let span = cx.span();
        if span.is_recording() {
            span.add_event(name, attributes);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn export_is_off_without_an_endpoint() {
        let c = TelemetryConfig::from_lookup(env(&[("OTEL_SERVICE_NAME", "x")]));
        assert_eq!(c.export, Export::Off);
        let c = TelemetryConfig::from_lookup(env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_SDK_DISABLED", "true"),
        ]));
        assert_eq!(c.export, Export::Off);
    }

    #[test]
    fn signals_follow_endpoints_and_exporter_variables() {
        let c = TelemetryConfig::from_lookup(env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_METRICS_EXPORTER", "none"),
        ]));
        assert_eq!(c.export, Export::FromEnv);
        assert!(c.traces && !c.metrics && c.logs);
        let c = TelemetryConfig::from_lookup(env(&[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://c:4318/v1/traces",
        )]));
        assert_eq!(c.export, Export::FromEnv);
        assert!(c.traces && !c.metrics && !c.logs);
    }

    #[test]
    fn transports_follow_the_standard_variables() {
        let t = Transport::resolve(
            &Export::FromEnv,
            Signal::Metrics,
            env(&[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
                ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "grpc"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4317"),
            ]),
        );
        assert_eq!(
            t,
            Transport {
                protocol: Protocol::Grpc,
                endpoint: None,
                tls: true
            }
        );
        let t = Transport::resolve(&Export::FromEnv, Signal::Traces, env(&[]));
        assert_eq!(t.protocol, Protocol::HttpProtobuf, "the spec's default");
        let t = Transport::resolve(
            &Export::Otlp {
                protocol: Protocol::HttpProtobuf,
                endpoint: "http://127.0.0.1:4318/".into(),
            },
            Signal::Logs,
            env(&[]),
        );
        assert_eq!(t.endpoint.as_deref(), Some("http://127.0.0.1:4318/v1/logs"));
        assert!(!t.tls);
    }

    #[test]
    fn protocol_and_tls_are_checked() {
        let c = TelemetryConfig {
            export: Export::FromEnv,
            ..TelemetryConfig::default()
        };
        assert!(
            c.validate(env(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]))
                .is_ok()
        );
        assert!(
            c.validate(env(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")]))
                .is_err()
        );
        assert!(
            c.validate(env(&[(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "https://collector:4318"
            )]))
            .is_err()
        );
        assert!(
            c.validate(env(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4317"),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ]))
            .is_ok()
        );
    }

    #[test]
    fn ids_are_read_from_the_attached_context() {
        let t = Telemetry::disabled();
        assert!(current_trace_id().is_none());
        let headers = {
            let mut h = http::HeaderMap::new();
            h.insert(
                "traceparent",
                http::HeaderValue::from_static(
                    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                ),
            );
            h
        };
        let parent = t.extract(&headers);
        let span = opentelemetry::trace::Tracer::start_with_context(t.tracer(), "x", &parent);
        let _g = parent.with_span(span).attach();
        assert_eq!(
            current_trace_id().as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        let (_, span_id) = current_ids().expect("ids");
        assert_ne!(span_id, "00f067aa0ba902b7");
    }

    #[test]
    fn personal_numbers_are_recognised() {
        assert!(personal_number("198503152010011001"));
        assert!(!personal_number("0192f7a1-6c3e-7b10-9d3a-2f4c5b6a7e80"));
        assert!(!personal_number("svc-siasn"));
    }

    #[test]
    fn allow_listed_baggage_only() {
        let (t, _g) = Telemetry::init(&TelemetryConfig {
            baggage_attributes: vec!["app.name".into()],
            ..TelemetryConfig::default()
        })
        .expect("init");
        let mut h = http::HeaderMap::new();
        h.insert(
            "baggage",
            http::HeaderValue::from_static("app.name=siasn,user.nip=198503152010011001"),
        );
        let attrs = t.baggage_attributes(&t.extract(&h));
        assert_eq!(attrs, vec![KeyValue::new("app.name", "siasn")]);
    }
}
