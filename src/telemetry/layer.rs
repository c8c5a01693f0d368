//! The tower layer that traces every call: it extracts the caller's W3C context (`traceparent`,
//! `tracestate`, `baggage`), opens the SERVER span `package.Service/Method` as its child (a call
//! without them starts a new trace), attaches the span's context to the call's future and
//! response body, and ends the span with the gRPC status once the status is known: from the
//! response headers (trailers-only errors) or from the trailers at the end of the body. It also
//! records the RPC duration and in-flight metrics.
//!
//! A tower layer and not an interceptor: interceptors are synchronous, so a span opened there
//! cannot wrap the handler. The layer sits inside `GrpcWebLayer`, so it always sees native gRPC
//! (status in headers or trailers), for grpc-web callers too.
//!
//! Semantic conventions: the RPC span attributes follow semconv v1.37 (`rpc.system`,
//! `rpc.service`, `rpc.method`, `rpc.grpc.status_code`), which collectors and backends read
//! today, plus the newer `rpc.system.name` and `rpc.response.status_code`. As the gRPC server
//! conventions say, only UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE and
//! DATA_LOSS mark the span as an error (with `error.type` = the code's name); client errors such
//! as NOT_FOUND or INVALID_ARGUMENT leave the status unset.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use http::{HeaderMap, Request, Response};
use http_body::{Body, Frame, SizeHint};
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer as _};
use opentelemetry::{Context, KeyValue};
use tonic::transport::server::TcpConnectInfo;
use tower::{Layer, Service};
use tracing::Instrument as _;

use super::Telemetry;
use super::db::DbSpanBudget;

/// Largest span name (and `rpc.service` / `rpc.method` value) taken from a request path.
const MAX_NAME: usize = 200;

/// Tower layer that traces calls with a server's [`Telemetry`].
#[derive(Debug, Clone)]
pub struct TelemetryLayer {
    telemetry: Telemetry,
    server_timeout: Option<Duration>,
    known_services: Arc<[String]>,
}

impl TelemetryLayer {
    /// A layer making spans with `telemetry`. `server_timeout` is the server's own deadline: a
    /// call dropped after it (or after the client's `grpc-timeout`) is recorded as
    /// DEADLINE_EXCEEDED, one dropped earlier as CANCELLED. Metrics name the services in
    /// `known_services` and put every other path under `_OTHER`, so callers cannot grow the
    /// number of metric series.
    pub fn new(
        telemetry: Telemetry,
        server_timeout: Option<Duration>,
        known_services: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            telemetry,
            server_timeout,
            known_services: known_services.into_iter().map(Into::into).collect(),
        }
    }
}

impl<S> Layer<S> for TelemetryLayer {
    type Service = TelemetryService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        TelemetryService {
            inner,
            telemetry: self.telemetry.clone(),
            server_timeout: self.server_timeout,
            known_services: self.known_services.clone(),
        }
    }
}

/// Service produced by [`TelemetryLayer`].
#[derive(Debug, Clone)]
pub struct TelemetryService<S> {
    inner: S,
    telemetry: Telemetry,
    server_timeout: Option<Duration>,
    known_services: Arc<[String]>,
}

impl<S, B, RB> Service<Request<B>> for TelemetryService<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
    S::Future: Send + 'static,
    S::Error: 'static,
    RB: Body + Unpin,
{
    type Response = Response<TracedBody<RB>>;
    type Error = S::Error;
    type Future =
        Pin<Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let call = CallGuard::start(
            &self.telemetry,
            &req,
            self.server_timeout,
            &self.known_services,
        );
        let cx = call.cx.clone();
        let log_span = call.log_span.clone();
        // Inner layers (request context, authentication) run with the span current, so they
        // can read the trace id and record the caller on it.
        let fut = {
            let _attached = cx.clone().attach();
            let _entered = log_span.enter();
            self.inner.call(req)
        };
        Box::pin(async move {
            let mut call = call;
            match fut.with_context(cx).instrument(log_span).await {
                Ok(resp) => {
                    let (parts, body) = resp.into_parts();
                    let guard = match grpc_status(&parts.headers) {
                        Some(code) => {
                            call.finish(code);
                            None
                        }
                        // An empty body without a status will never carry trailers.
                        None if body.is_end_stream() => {
                            call.finish(CODE_UNKNOWN);
                            None
                        }
                        None => Some(call),
                    };
                    Ok(Response::from_parts(
                        parts,
                        TracedBody { inner: body, guard },
                    ))
                }
                Err(e) => {
                    call.finish(CODE_UNKNOWN);
                    Err(e)
                }
            }
        })
    }
}

/// Response body that ends the call's span when the trailers (or the end, or a drop) arrive,
/// and runs its polls (streamed responses) with the call's context attached.
pub struct TracedBody<B> {
    inner: B,
    guard: Option<CallGuard>,
}

impl<B: std::fmt::Debug> std::fmt::Debug for TracedBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TracedBody")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<B: Body + Unpin> Body for TracedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        let attached = this.guard.as_ref().map(|g| g.cx.clone().attach());
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        drop(attached);
        if let Some(guard) = this.guard.as_mut() {
            match &polled {
                Poll::Ready(Some(Ok(frame))) => {
                    if let Some(code) = frame.trailers_ref().and_then(grpc_status) {
                        guard.finish(code);
                    }
                }
                Poll::Ready(Some(Err(_))) | Poll::Ready(None) => guard.finish(CODE_UNKNOWN),
                Poll::Pending => {}
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

const CODE_CANCELLED: i32 = 1;
const CODE_UNKNOWN: i32 = 2;
const CODE_DEADLINE_EXCEEDED: i32 = 4;
const CODE_UNIMPLEMENTED: i32 = 12;

/// One call in progress: its span context, start time and deadline. Ends the span exactly once,
/// also when dropped before a status was seen (client cancel or server deadline).
struct CallGuard {
    cx: Context,
    /// The `tracing` span of the call (`rpc`, with the trace and span ids for text logs).
    log_span: tracing::Span,
    telemetry: Telemetry,
    /// `rpc.service` for metrics: a known service, or `_OTHER`.
    service: String,
    /// `rpc.method` for metrics: `_OTHER` for unknown services (and, at the end, UNIMPLEMENTED).
    method: String,
    start: Instant,
    deadline: Option<Duration>,
    done: bool,
}

impl CallGuard {
    fn start<B>(
        t: &Telemetry,
        req: &Request<B>,
        server_timeout: Option<Duration>,
        known_services: &[String],
    ) -> CallGuard {
        let parent = t.extract(req.headers());
        let (service, method) = split_path(req.uri().path());
        let name = format!("{service}/{method}");
        let mut attrs = vec![
            KeyValue::new("rpc.system", "grpc"),
            KeyValue::new("rpc.system.name", "grpc"),
            KeyValue::new("rpc.service", service.clone()),
            KeyValue::new("rpc.method", method.clone()),
            KeyValue::new("network.transport", "tcp"),
            KeyValue::new("network.protocol.name", "http"),
        ];
        let version = match req.version() {
            http::Version::HTTP_2 => Some("2"),
            http::Version::HTTP_11 => Some("1.1"),
            _ => None,
        };
        if let Some(v) = version {
            attrs.push(KeyValue::new("network.protocol.version", v));
        }
        let conn = req.extensions().get::<TcpConnectInfo>();
        let local = conn.and_then(|c| c.local_addr());
        match (req.uri().host(), local) {
            (Some(host), _) => {
                attrs.push(KeyValue::new("server.address", host.to_owned()));
                if let Some(p) = req.uri().port_u16().or(local.map(|l| l.port())) {
                    attrs.push(KeyValue::new("server.port", i64::from(p)));
                }
            }
            (None, Some(l)) => {
                attrs.push(KeyValue::new("server.address", l.ip().to_string()));
                attrs.push(KeyValue::new("server.port", i64::from(l.port())));
            }
            (None, None) => {}
        }
        if let Some(peer) = conn.and_then(|c| c.remote_addr()) {
            let (ip, port) = (peer.ip().to_string(), i64::from(peer.port()));
            attrs.push(KeyValue::new("client.address", ip.clone()));
            attrs.push(KeyValue::new("client.port", port));
            attrs.push(KeyValue::new("network.peer.address", ip));
            attrs.push(KeyValue::new("network.peer.port", port));
        }
        attrs.extend(t.baggage_attributes(&parent));

        let tracer = t.tracer();
        let span = tracer
            .span_builder(name.clone())
            .with_kind(SpanKind::Server)
            .with_attributes(attrs)
            .start_with_context(tracer, &parent);
        let cx = parent
            .with_span(span)
            .with_value(DbSpanBudget::new(t.max_db_spans_per_call()));
        let (service, method) = if known_services.contains(&service) {
            (service, method)
        } else {
            ("_OTHER".to_owned(), "_OTHER".to_owned())
        };
        t.metrics().rpc_active.add(
            1,
            &[
                KeyValue::new("rpc.system", "grpc"),
                KeyValue::new("rpc.service", service.clone()),
            ],
        );
        let sc = cx.span().span_context().clone();
        let log_span = tracing::info_span!(
            "rpc",
            rpc = %name,
            trace_id = %sc.trace_id(),
            span_id = %sc.span_id(),
        );
        let client = grpc_timeout(req.headers());
        let deadline = match (server_timeout, client) {
            (Some(s), Some(c)) => Some(s.min(c)),
            (s, c) => s.or(c),
        };
        CallGuard {
            cx,
            log_span,
            telemetry: t.clone(),
            service,
            method,
            start: Instant::now(),
            deadline,
            done: false,
        }
    }

    fn finish(&mut self, code: i32) {
        if self.done {
            return;
        }
        self.done = true;
        let elapsed = self.start.elapsed();
        let code_name = code_name(code);
        let error = server_error(code);

        let span = self.cx.span();
        span.set_attribute(KeyValue::new("rpc.grpc.status_code", i64::from(code)));
        span.set_attribute(KeyValue::new("rpc.response.status_code", code_name));
        if error {
            span.set_attribute(KeyValue::new("error.type", code_name));
            span.set_status(Status::error(code_name));
        }
        if let Some(dropped) = self.cx.get::<DbSpanBudget>().map(|b| b.dropped())
            && dropped > 0
        {
            span.set_attribute(KeyValue::new(
                "kinerja.db.spans_dropped",
                i64::from(dropped),
            ));
        }
        span.end();

        {
            let _attached = self.cx.clone().attach();
            let _entered = self.log_span.enter();
            let elapsed_ms = elapsed.as_secs_f64() * 1000.0;
            if error {
                tracing::warn!(code = code_name, elapsed_ms, "call failed");
            } else {
                tracing::debug!(code = code_name, elapsed_ms, "call finished");
            }
        }

        let metrics = self.telemetry.metrics();
        let active = [
            KeyValue::new("rpc.system", "grpc"),
            KeyValue::new("rpc.service", self.service.clone()),
        ];
        metrics.rpc_active.add(-1, &active);
        // Unknown methods would give unbounded metric cardinality: they share one series.
        let (service, method) = if code == CODE_UNIMPLEMENTED {
            (self.service.clone(), "_OTHER".to_owned())
        } else {
            (self.service.clone(), self.method.clone())
        };
        let mut attrs = vec![
            KeyValue::new("rpc.system", "grpc"),
            KeyValue::new("rpc.service", service),
            KeyValue::new("rpc.method", method),
            KeyValue::new("rpc.grpc.status_code", i64::from(code)),
            KeyValue::new("rpc.response.status_code", code_name),
        ];
        if error {
            attrs.push(KeyValue::new("error.type", code_name));
        }
        metrics.rpc_duration.record(elapsed.as_secs_f64(), &attrs);
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        if !self.done {
            // Dropped without a status: the server's deadline fired (tonic then answers
            // DEADLINE_EXCEEDED outside this layer) or the client went away. A client's own
            // deadline timer started before the request reached us and fires first, so a reset
            // close to the deadline counts as the deadline: a tenth of it, 2 ms to 100 ms.
            let late = self.deadline.is_some_and(|d| {
                let slack = (d / 10).clamp(Duration::from_millis(2), Duration::from_millis(100));
                self.start.elapsed() + slack >= d
            });
            self.finish(if late {
                CODE_DEADLINE_EXCEEDED
            } else {
                CODE_CANCELLED
            });
        }
    }
}

/// `/package.Service/Method` -> (`package.Service`, `Method`); anything else -> `_OTHER`.
fn split_path(path: &str) -> (String, String) {
    let clip = |s: &str| s.chars().take(MAX_NAME).collect::<String>();
    match path.trim_start_matches('/').split_once('/') {
        Some((s, m)) if !s.is_empty() && !m.is_empty() && !m.contains('/') => (clip(s), clip(m)),
        _ => ("_OTHER".to_owned(), "_OTHER".to_owned()),
    }
}

fn grpc_status(headers: &HeaderMap) -> Option<i32> {
    headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// The client's deadline from `grpc-timeout` (at most 8 digits and a unit: H M S m u n).
fn grpc_timeout(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get("grpc-timeout")?.to_str().ok()?;
    let unit = v.chars().last()?;
    let digits = &v[..v.len() - unit.len_utf8()];
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        'H' => Duration::from_secs(n * 3600),
        'M' => Duration::from_secs(n * 60),
        'S' => Duration::from_secs(n),
        'm' => Duration::from_millis(n),
        'u' => Duration::from_micros(n),
        'n' => Duration::from_nanos(n),
        _ => return None,
    })
}

/// Server-side codes the gRPC semantic conventions count as errors.
fn server_error(code: i32) -> bool {
    matches!(code, 2 | 4 | 12 | 13 | 14 | 15)
}

fn code_name(code: i32) -> &'static str {
    match code {
        0 => "OK",
        1 => "CANCELLED",
        2 => "UNKNOWN",
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        5 => "NOT_FOUND",
        6 => "ALREADY_EXISTS",
        7 => "PERMISSION_DENIED",
        8 => "RESOURCE_EXHAUSTED",
        9 => "FAILED_PRECONDITION",
        10 => "ABORTED",
        11 => "OUT_OF_RANGE",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        15 => "DATA_LOSS",
        16 => "UNAUTHENTICATED",
        _ => "_OTHER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_service_and_method() {
        assert_eq!(
            split_path("/kinerja.v1.EmployeeService/GetEmployee"),
            ("kinerja.v1.EmployeeService".into(), "GetEmployee".into())
        );
        assert_eq!(split_path("/"), ("_OTHER".into(), "_OTHER".into()));
        assert_eq!(split_path("/a/b/c"), ("_OTHER".into(), "_OTHER".into()));
    }

    #[test]
    fn grpc_timeouts() {
        let h = |v: &'static str| {
            let mut m = HeaderMap::new();
            m.insert("grpc-timeout", http::HeaderValue::from_static(v));
            m
        };
        assert_eq!(grpc_timeout(&h("250m")), Some(Duration::from_millis(250)));
        assert_eq!(grpc_timeout(&h("2S")), Some(Duration::from_secs(2)));
        assert_eq!(grpc_timeout(&h("1H")), Some(Duration::from_secs(3600)));
        assert_eq!(grpc_timeout(&h("123456789S")), None);
        assert_eq!(grpc_timeout(&h("5x")), None);
        assert_eq!(grpc_timeout(&h("m")), None);
    }

    #[test]
    fn only_server_faults_are_errors() {
        for c in [0, 1, 3, 5, 6, 7, 8, 9, 10, 11, 16] {
            assert!(!server_error(c), "{}", code_name(c));
        }
        for c in [2, 4, 12, 13, 14, 15] {
            assert!(server_error(c), "{}", code_name(c));
        }
    }
}
