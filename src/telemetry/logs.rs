//! Logs: the process-wide `tracing` subscriber. Text lines show the call's `rpc` span with its
//! `trace_id` and `span_id`; JSON lines carry `trace_id` and `span_id` as top-level fields of
//! every event logged inside a traced call. When OTLP log export is configured, the same events
//! also go to the collector as log records with the trace context of the current span.
//!
//! The OTLP bridge has its own filter: the log filter, with the crates that carry the export
//! itself (tonic, hyper, h2, reqwest, opentelemetry) silenced so exporting cannot log about
//! itself in a loop.

use std::fmt::Write as _;
use std::time::Duration;

use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::{FilterExt as _, filter_fn};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{Layer as _, Registry};

use super::{Signal, TelemetryConfig, Transport, otlp_exporter};
use crate::config::LogFormat;
use crate::error::{Error, Result};

/// Crates whose events never go to the OTLP log exporter (they carry the export).
const EXPORT_CRATES: &[&str] = &[
    "h2",
    "hyper",
    "hyper_util",
    "tonic",
    "tower",
    "reqwest",
    "opentelemetry",
    "opentelemetry_sdk",
    "opentelemetry_otlp",
];

/// Owns the OTLP log provider (when log export is on); flush it at exit with
/// [`LogGuard::shutdown`].
#[derive(Debug)]
pub struct LogGuard {
    provider: Option<SdkLoggerProvider>,
    flush_timeout: Duration,
}

impl LogGuard {
    /// Flushes and stops the log exporter within the flush timeout.
    pub async fn shutdown(self) {
        if let Some(p) = self.provider {
            super::shutdown_off_thread(self.flush_timeout, move || {
                vec![("log", p.shutdown_with_timeout(self.flush_timeout))]
            })
            .await;
        }
    }
}

/// Installs the process-wide subscriber: `format` lines on stderr filtered by `filter`
/// (EnvFilter syntax; an invalid filter falls back to `info`), plus OTLP log export when `cfg`
/// asks for it. Must run inside a tokio runtime when OTLP over gRPC is configured.
pub fn init(format: LogFormat, filter: &str, cfg: &TelemetryConfig) -> Result<LogGuard> {
    let env_filter = || EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let provider = if cfg.exports(cfg.logs) {
        cfg.validate(|k| std::env::var(k).ok())?;
        let exporter = otlp_exporter!(
            opentelemetry_otlp::LogExporter::builder(),
            Transport::resolve(&cfg.export, Signal::Logs, |k| std::env::var(k).ok())
        )?;
        Some(
            SdkLoggerProvider::builder()
                .with_resource(cfg.resource())
                .with_batch_exporter(exporter)
                .build(),
        )
    } else {
        None
    };
    let bridge = provider.as_ref().map(|p| {
        let mut f = env_filter();
        for c in EXPORT_CRATES {
            if let Ok(d) = format!("{c}=off").parse() {
                f = f.add_directive(d);
            }
        }
        // Records of the `log` crate all have the target `log`, so the directives above cannot
        // tell the exporter's HTTP client from others: only their warnings and errors go out.
        let not_log_chatter =
            filter_fn(|m| m.target() != "log" || *m.level() <= tracing::Level::WARN);
        OpenTelemetryTracingBridge::new(p).with_filter(f.and(not_log_chatter))
    });
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false);
    let lines = match format {
        LogFormat::Json => fmt
            .event_format(JsonLines)
            .with_filter(env_filter())
            .boxed(),
        LogFormat::Text => fmt.with_filter(env_filter()).boxed(),
    };
    Registry::default()
        .with(lines)
        .with(bridge)
        .try_init()
        .map_err(|e| Error::Internal(format!("logging is already set up: {e}")))?;
    Ok(LogGuard {
        provider,
        flush_timeout: cfg.flush_timeout,
    })
}

/// One JSON object per event: `timestamp` (UTC, RFC 3339), `level`, `target`, `message`, the
/// event's fields, and `trace_id` / `span_id` of the current OpenTelemetry span when there is one.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let line = json_line(event, chrono::Utc::now());
        writeln!(writer, "{line}")
    }
}

fn json_line(event: &Event<'_>, now: chrono::DateTime<chrono::Utc>) -> String {
    let meta = event.metadata();
    let mut obj = Map::new();
    obj.insert(
        "timestamp".into(),
        now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            .into(),
    );
    obj.insert("level".into(), meta.level().as_str().into());
    obj.insert("target".into(), meta.target().into());
    event.record(&mut JsonFields(&mut obj));
    // Records of the `log` crate: report their own target, not `log` and the bridge's fields.
    if meta.target() == "log"
        && let Some(Value::String(target)) = obj.remove("log.target")
    {
        obj.insert("target".into(), target.into());
        for k in ["log.file", "log.line", "log.module_path"] {
            obj.remove(k);
        }
    }
    if let Some((trace_id, span_id)) = super::current_ids() {
        obj.insert("trace_id".into(), trace_id.into());
        obj.insert("span_id".into(), span_id.into());
    }
    Value::Object(obj).to_string()
}

/// Collects an event's fields into a JSON object.
struct JsonFields<'a>(&'a mut Map<String, Value>);

impl Visit for JsonFields<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0.insert(field.name().into(), value.to_string().into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut s = String::new();
        let _ = write!(s, "{value:?}");
        self.0.insert(field.name().into(), s.into());
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::{Arc, Mutex};

    use opentelemetry::trace::{TraceContextExt as _, Tracer as _};
    use opentelemetry_sdk::logs::InMemoryLogExporter;

    use super::*;
    use crate::telemetry::Telemetry;

    /// A writer that appends to a shared buffer.
    #[derive(Clone, Default)]
    pub(crate) struct Buf(pub(crate) Arc<Mutex<Vec<u8>>>);

    impl Buf {
        /// Everything written so far, as text.
        pub(crate) fn text(&self) -> String {
            String::from_utf8(self.0.lock().expect("buffer").clone()).expect("utf-8")
        }
    }

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut v) = self.0.lock() {
                v.extend_from_slice(b);
            }
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn traced_context() -> opentelemetry::Context {
        let t = Telemetry::disabled();
        let mut h = http::HeaderMap::new();
        h.insert(
            "traceparent",
            http::HeaderValue::from_static(
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
        );
        let parent = t.extract(&h);
        let span = t.tracer().start_with_context("call", &parent);
        parent.with_span(span)
    }

    #[test]
    fn json_lines_carry_trace_and_span_ids() {
        let buf = Buf::default();
        let w = buf.clone();
        let subscriber = Registry::default().with(
            tracing_subscriber::fmt::layer()
                .event_format(JsonLines)
                .with_writer(move || w.clone()),
        );
        let cx = traced_context();
        let span_id = cx.span().span_context().span_id().to_string();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(rows = 3_u64, "outside");
            let _g = cx.attach();
            tracing::warn!(employee_id = "e-1", "inside a call");
        });
        let text = String::from_utf8(buf.0.lock().expect("buffer").clone()).expect("utf-8");
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["message"], "outside");
        assert_eq!(lines[0]["rows"], 3);
        assert!(lines[0].get("trace_id").is_none());
        assert_eq!(lines[1]["level"], "WARN");
        assert_eq!(lines[1]["employee_id"], "e-1");
        assert_eq!(lines[1]["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(lines[1]["span_id"], span_id.as_str());
    }

    #[test]
    fn otlp_log_records_carry_the_trace_context() {
        let exporter = InMemoryLogExporter::default();
        let provider = SdkLoggerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let subscriber = Registry::default().with(OpenTelemetryTracingBridge::new(&provider));
        let cx = traced_context();
        let span_id = cx.span().span_context().span_id();
        tracing::subscriber::with_default(subscriber, || {
            let _g = cx.attach();
            tracing::info!("stored");
        });
        let logs = exporter.get_emitted_logs().expect("logs");
        assert_eq!(logs.len(), 1);
        let tc = logs[0].record.trace_context().expect("trace context");
        assert_eq!(tc.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(tc.span_id, span_id);
    }
}
