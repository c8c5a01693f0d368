//! The tower layer in front of every RPC: bearer token verification, deny-by-default for RPCs
//! without a policy entry, and the per-caller rate limit. Nothing reaches a handler without a
//! valid token (health and reflection excepted by setting).

use std::num::NonZeroU32;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use http::{Request, Response};
use tonic::Status;
use tower::{Layer, Service};

use super::jwt::Verifier;
use super::{Principal, policy};
use crate::context::RequestContext;
use crate::error::Error;

/// Settings of the authentication layer.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// Let health checks through without a token.
    pub health_without_token: bool,
    /// Let reflection through without a token.
    pub reflection_without_token: bool,
    /// Sustained calls per second per caller.
    pub rate_per_second: u32,
    /// Burst size per caller.
    pub rate_burst: u32,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            health_without_token: true,
            reflection_without_token: true,
            rate_per_second: 200,
            rate_burst: 400,
        }
    }
}

/// State shared by every connection's copy of the layer.
pub struct AuthState {
    verifier: Arc<Verifier>,
    settings: AuthSettings,
    limiter: DefaultKeyedRateLimiter<String>,
}

impl std::fmt::Debug for AuthState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthState")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Tower layer that authenticates calls.
#[derive(Debug, Clone)]
pub struct AuthLayer {
    state: Arc<AuthState>,
}

impl AuthLayer {
    /// A layer verifying tokens with `verifier`.
    pub fn new(verifier: Arc<Verifier>, settings: AuthSettings) -> Self {
        let per_sec = NonZeroU32::new(settings.rate_per_second.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(settings.rate_burst.max(1)).unwrap_or(NonZeroU32::MIN);
        let limiter = RateLimiter::keyed(Quota::per_second(per_sec).allow_burst(burst));
        Self {
            state: Arc::new(AuthState {
                verifier,
                settings,
                limiter,
            }),
        }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            state: self.state.clone(),
        }
    }
}

/// Service produced by [`AuthLayer`].
#[derive(Debug, Clone)]
pub struct AuthService<S> {
    inner: S,
    state: Arc<AuthState>,
}

impl AuthState {
    fn exempt(&self, path: &str) -> bool {
        (self.settings.health_without_token && path.starts_with("/grpc.health.v1.Health/"))
            || (self.settings.reflection_without_token
                && (path.starts_with("/grpc.reflection.v1.ServerReflection/")
                    || path.starts_with("/grpc.reflection.v1alpha.ServerReflection/")))
    }

    /// Authenticates and admits one call, or says why not.
    fn admit(&self, path: &str, authorization: Option<&str>) -> Result<Arc<Principal>, Error> {
        let token = authorization
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Error::Unauthenticated("send `authorization: Bearer <token>`".into()))?;
        let principal = self.verifier.verify(token)?;
        // An RPC the API defines but the policy does not name is refused; a path no service
        // serves goes on to the router, which answers UNIMPLEMENTED.
        if policy::rule(path).is_none() && policy::is_api_method(path) {
            return Err(Error::PermissionDenied(format!(
                "{path} has no policy entry and is refused"
            )));
        }
        if let Err(not_until) = self.limiter.check_key(&principal.subject) {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            return Err(Error::ResourceExhausted {
                message: "too many calls from this caller; slow down".into(),
                retry_after: wait.max(Duration::from_millis(1)),
            });
        }
        Ok(principal)
    }
}

/// The common name of the verified client certificate (mutual TLS), if any.
pub fn client_certificate_name<B>(req: &Request<B>) -> Option<String> {
    use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
    let certs = req
        .extensions()
        .get::<TlsConnectInfo<TcpConnectInfo>>()?
        .peer_certs()?;
    let der = certs.first()?;
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).ok()?;
    let cn = cert
        .subject()
        .iter_common_name()
        .next()?
        .as_str()
        .ok()?
        .to_owned();
    Some(cn)
}

/// Records the client certificate's identity as the calling service when the token names none.
fn with_client_certificate<B>(p: Arc<Principal>, req: &Request<B>) -> Arc<Principal> {
    if p.acting_service.is_some() {
        return p;
    }
    match client_certificate_name(req) {
        Some(cn) => Arc::new(Principal {
            acting_service: Some(cn),
            ..(*p).clone()
        }),
        None => p,
    }
}

impl<S, B, RB> Service<Request<B>> for AuthService<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
    S::Future: Send + 'static,
    S::Error: 'static,
    RB: Default + Send + 'static,
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
        let path = req.uri().path().to_owned();
        if self.state.exempt(&path) {
            return Box::pin(self.inner.call(req));
        }
        let auth = req
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        match self.state.admit(&path, auth) {
            Ok(principal) => {
                let principal = with_client_certificate(principal, &req);
                if let Some(ctx) = req.extensions_mut().get_mut::<RequestContext>() {
                    ctx.set_principal(principal.clone());
                    crate::telemetry::record_caller(&ctx.caller);
                }
                req.extensions_mut().insert(principal);
                Box::pin(self.inner.call(req))
            }
            Err(e) => {
                let status: Status = e.into();
                Box::pin(async move { Ok(status.into_http()) })
            }
        }
    }
}
