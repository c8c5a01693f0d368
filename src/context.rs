//! The request context every handler receives: who calls (and for which calling service), the
//! request id and the trace id. One tower layer builds it from the HTTP/2 request before tonic
//! decodes anything, and echoes the ids back as response headers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderValue, Request, Response};
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tower::{Layer, Service};

use crate::auth::Principal;
use crate::store::audit::Actor;

/// Calls this process has started (every call through [`ContextLayer`]); the server's idle
/// check reads it to hand memory back to the operating system once calls stop.
static CALLS_STARTED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many calls this process has started so far.
pub fn calls_started() -> u64 {
    CALLS_STARTED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Header carrying the caller's request id; generated when absent, echoed in the response.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// Response header carrying the trace id of the call.
pub const TRACE_ID_HEADER: &str = "x-trace-id";

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Subject: an employee id/NIP or a service account; `anonymous` when unknown.
    pub subject: String,
    /// The calling service acting for the subject, if any.
    pub calling_service: Option<String>,
}

/// Per-call context handed to every handler through the request extensions.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The caller.
    pub caller: Caller,
    /// The verified principal (set by the authentication layer); `None` before it ran.
    pub principal: Option<Arc<Principal>>,
    /// Request id (the caller's `x-request-id` or a generated one).
    pub request_id: String,
    /// W3C trace id of the call's OpenTelemetry span (continuing `traceparent`, or new).
    pub trace_id: String,
    /// Full gRPC method path, e.g. `/kinerja.v1.EmployeeService/GetEmployee`.
    pub rpc: String,
    /// Peer address, when known.
    pub peer: Option<SocketAddr>,
}

impl RequestContext {
    /// Context for code paths without a gRPC request (tests, startup jobs).
    pub fn internal(rpc: &str) -> Self {
        Self {
            caller: Caller {
                subject: "system".into(),
                calling_service: None,
            },
            principal: None,
            request_id: uuid::Uuid::new_v4().to_string(),
            trace_id: new_trace_id(),
            rpc: rpc.into(),
            peer: None,
        }
    }

    /// Records the verified principal as the caller.
    pub fn set_principal(&mut self, p: Arc<Principal>) {
        self.caller = Caller {
            subject: p.subject.clone(),
            calling_service: p.acting_service.clone(),
        };
        self.principal = Some(p);
    }

    /// The audit actor of this call.
    pub fn actor(&self) -> Actor {
        Actor {
            subject: self.caller.subject.clone(),
            calling_service: self.caller.calling_service.clone(),
            request_id: self.request_id.clone(),
            trace_id: self.trace_id.clone(),
            rpc: self.rpc.clone(),
        }
    }

    /// The context of a tonic request (set by [`ContextLayer`]), or an anonymous one.
    pub fn of<T>(req: &tonic::Request<T>) -> Self {
        req.extensions()
            .get::<RequestContext>()
            .cloned()
            .unwrap_or_else(|| Self::internal("unknown"))
    }
}

fn new_trace_id() -> String {
    let u = uuid::Uuid::new_v4();
    hex::encode(u.as_bytes())
}

/// Extracts the trace id from a W3C `traceparent` value (`00-<32 hex>-<16 hex>-<2 hex>`).
pub fn trace_id_from_traceparent(v: &str) -> Option<String> {
    let mut parts = v.split('-');
    let (_ver, tid) = (parts.next()?, parts.next()?);
    (tid.len() == 32
        && tid
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        && tid != "00000000000000000000000000000000")
        .then(|| tid.to_owned())
}

/// Tower layer that builds the [`RequestContext`].
#[derive(Debug, Clone, Default)]
pub struct ContextLayer;

impl<S> Layer<S> for ContextLayer {
    type Service = ContextService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        ContextService { inner }
    }
}

/// Service produced by [`ContextLayer`].
#[derive(Debug, Clone)]
pub struct ContextService<S> {
    inner: S,
}

fn header(req: &Request<impl Sized>, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty() && s.len() <= 256)
}

impl<S, B, RB> Service<Request<B>> for ContextService<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
    S::Future: Send + 'static,
    S::Error: 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        CALLS_STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let peer = req
            .extensions()
            .get::<TcpConnectInfo>()
            .and_then(|i| i.remote_addr())
            .or_else(|| {
                req.extensions()
                    .get::<TlsConnectInfo<TcpConnectInfo>>()
                    .and_then(|i| i.get_ref().remote_addr())
            });
        // The caller stays anonymous until the authentication layer verifies a token.
        let caller = Caller {
            subject: "anonymous".into(),
            calling_service: None,
        };
        let request_id =
            header(&req, REQUEST_ID_HEADER).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        // The trace id of the span `telemetry::TelemetryLayer` opened (it continues the
        // caller's `traceparent`); without that layer, the caller's or a new one.
        let trace_id = crate::telemetry::current_trace_id()
            .or_else(|| header(&req, "traceparent").and_then(|v| trace_id_from_traceparent(&v)))
            .unwrap_or_else(new_trace_id);
        let ctx = RequestContext {
            caller,
            principal: None,
            request_id: request_id.clone(),
            trace_id: trace_id.clone(),
            rpc: req.uri().path().to_owned(),
            peer,
        };
        req.extensions_mut().insert(ctx);
        let fut = self.inner.call(req);
        Box::pin(async move {
            let mut resp = fut.await?;
            if let Ok(v) = HeaderValue::from_str(&request_id) {
                resp.headers_mut().insert(REQUEST_ID_HEADER, v);
            }
            if let Ok(v) = HeaderValue::from_str(&trace_id) {
                resp.headers_mut().insert(TRACE_ID_HEADER, v);
            }
            Ok(resp)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_traceparent() {
        assert_eq!(
            trace_id_from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
                .as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert!(
            trace_id_from_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01")
                .is_none()
        );
        assert!(trace_id_from_traceparent("garbage").is_none());
    }
}
