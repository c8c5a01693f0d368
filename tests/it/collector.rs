//! In-process OTLP collectors for the telemetry tests: the `opentelemetry-proto` gRPC trace and
//! metrics services on 127.0.0.1:0, a minimal OTLP/HTTP receiver, and a "black hole" that
//! accepts connections and never answers (an unreachable collector that hangs instead of
//! refusing).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
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
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::Metric;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

/// A received span with the `service.name` of its resource.
#[derive(Debug, Clone)]
pub struct Received {
    /// `service.name` of the exporting process.
    pub service_name: Option<String>,
    /// The span.
    pub span: Span,
}

/// What a collector has received so far.
#[derive(Clone, Default)]
pub struct Store {
    spans: Arc<Mutex<Vec<Received>>>,
    metrics: Arc<Mutex<Vec<Metric>>>,
    logs: Arc<Mutex<Vec<LogRecord>>>,
    http_paths: Arc<Mutex<Vec<String>>>,
}

impl Store {
    fn add_traces(&self, req: ExportTraceServiceRequest) {
        let mut spans = self.spans.lock().expect("spans");
        for rs in req.resource_spans {
            let service_name = rs
                .resource
                .as_ref()
                .and_then(|r| attr(&r.attributes, "service.name"))
                .and_then(as_str);
            for ss in rs.scope_spans {
                for span in ss.spans {
                    spans.push(Received {
                        service_name: service_name.clone(),
                        span,
                    });
                }
            }
        }
    }

    fn add_metrics(&self, req: ExportMetricsServiceRequest) {
        let mut metrics = self.metrics.lock().expect("metrics");
        for rm in req.resource_metrics {
            for sm in rm.scope_metrics {
                metrics.extend(sm.metrics);
            }
        }
    }

    /// Every log record received.
    pub fn logs(&self) -> Vec<LogRecord> {
        self.logs.lock().expect("logs").clone()
    }

    /// Every span received.
    pub fn spans(&self) -> Vec<Received> {
        self.spans.lock().expect("spans").clone()
    }

    /// The spans of one trace (trace id in hex).
    pub fn trace(&self, trace_id: &str) -> Vec<Span> {
        self.spans()
            .into_iter()
            .map(|r| r.span)
            .filter(|s| hex::encode(&s.trace_id) == trace_id)
            .collect()
    }

    /// Every metric received (one entry per export).
    pub fn metrics(&self) -> Vec<Metric> {
        self.metrics.lock().expect("metrics").clone()
    }

    /// Request paths the HTTP receiver saw.
    pub fn http_paths(&self) -> Vec<String> {
        self.http_paths.lock().expect("paths").clone()
    }
}

#[tonic::async_trait]
impl TraceService for Store {
    async fn export(
        &self,
        req: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.add_traces(req.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Store {
    async fn export(
        &self,
        req: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.add_metrics(req.into_inner());
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl LogsService for Store {
    async fn export(
        &self,
        req: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        let mut logs = self.logs.lock().expect("logs");
        for rl in req.into_inner().resource_logs {
            for sl in rl.scope_logs {
                logs.extend(sl.log_records);
            }
        }
        Ok(tonic::Response::new(ExportLogsServiceResponse::default()))
    }
}

/// An OTLP/gRPC collector (traces, metrics and logs) running in this process.
pub struct GrpcCollector {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// What it received.
    pub store: Store,
    stop: Option<oneshot::Sender<()>>,
}

impl GrpcCollector {
    /// Starts a collector on a free port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let store = Store::default();
        let (stop, stopped) = oneshot::channel::<()>();
        let router = Server::builder()
            .add_service(TraceServiceServer::new(store.clone()))
            .add_service(MetricsServiceServer::new(store.clone()))
            .add_service(LogsServiceServer::new(store.clone()));
        tokio::spawn(
            router.serve_with_incoming_shutdown(TcpIncoming::from(listener), async {
                let _ = stopped.await;
            }),
        );
        Self {
            endpoint: format!("http://{addr}"),
            store,
            stop: Some(stop),
        }
    }
}

impl Drop for GrpcCollector {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// A minimal OTLP/HTTP receiver (HTTP/1.1, protobuf bodies, keep-alive): enough for the
/// exporter's POSTs to `/v1/traces` and `/v1/metrics`.
pub struct HttpCollector {
    /// `http://127.0.0.1:PORT` (the base URL; the exporter appends `/v1/...`).
    pub endpoint: String,
    /// What it received.
    pub store: Store,
}

impl HttpCollector {
    /// Starts a receiver on a free port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let store = Store::default();
        let s = store.clone();
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                tokio::spawn(serve_http(conn, s.clone()));
            }
        });
        Self {
            endpoint: format!("http://{addr}"),
            store,
        }
    }
}

async fn serve_http(mut conn: TcpStream, store: Store) {
    let mut buf = Vec::new();
    loop {
        // Read the head.
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 8192];
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let path = head
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        let len: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        while buf.len() < head_end + len {
            let mut chunk = [0u8; 8192];
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body = buf[head_end..head_end + len].to_vec();
        buf.drain(..head_end + len);
        store.http_paths.lock().expect("paths").push(path.clone());
        let answer: Vec<u8> = match path.as_str() {
            "/v1/traces" => {
                if let Ok(req) = ExportTraceServiceRequest::decode(body.as_slice()) {
                    store.add_traces(req);
                }
                ExportTraceServiceResponse::default().encode_to_vec()
            }
            "/v1/metrics" => {
                if let Ok(req) = ExportMetricsServiceRequest::decode(body.as_slice()) {
                    store.add_metrics(req);
                }
                ExportMetricsServiceResponse::default().encode_to_vec()
            }
            _ => Vec::new(),
        };
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: {}\r\n\r\n",
            answer.len()
        );
        if conn.write_all(head.as_bytes()).await.is_err() || conn.write_all(&answer).await.is_err()
        {
            return;
        }
    }
}

/// A collector address that accepts connections and then never reads or answers: exports to it
/// hang until the exporter's own timeout.
pub struct BlackHole {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

impl BlackHole {
    /// Starts one on a free port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((conn, _)) = listener.accept().await {
                held.push(conn);
            }
        });
        Self {
            endpoint: format!("http://{addr}"),
        }
    }
}

/// The value of attribute `key`.
pub fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
}

/// A string value.
pub fn as_str(v: &AnyValue) -> Option<String> {
    match &v.value {
        Some(any_value::Value::StringValue(s)) => Some(s.clone()),
        _ => None,
    }
}

/// An integer value.
pub fn as_int(v: &AnyValue) -> Option<i64> {
    match &v.value {
        Some(any_value::Value::IntValue(i)) => Some(*i),
        _ => None,
    }
}

/// String attribute `key` of `attrs`.
pub fn str_attr(attrs: &[KeyValue], key: &str) -> Option<String> {
    attr(attrs, key).and_then(as_str)
}

/// Integer attribute `key` of `attrs`.
pub fn int_attr(attrs: &[KeyValue], key: &str) -> Option<i64> {
    attr(attrs, key).and_then(as_int)
}

/// Every attribute value of a span (its own and its events'), rendered as text.
pub fn all_values(span: &Span) -> Vec<String> {
    span.attributes
        .iter()
        .chain(span.events.iter().flat_map(|e| e.attributes.iter()))
        .filter_map(|kv| kv.value.as_ref())
        .map(|v| format!("{:?}", v.value))
        .collect()
}
