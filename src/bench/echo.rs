//! The baselines: a no-op `kinerja.bench.v1.EchoService` on the same tonic server settings as
//! Kinerja ([`crate::server::server_builder`]), served either bare or behind the very tower
//! stack Kinerja runs behind ([`crate::server::layers`]: request context, load shedding, the
//! in-flight limit, authentication with cached token verification and the per-caller rate
//! limit, grpc-web).
//!
//! Why a bench-only proto rather than reusing `grpc.health.v1.Health/Check`: health is exempt
//! from authentication by default (and has no policy entry), so it would skip the most expensive
//! layer; and its response is fixed, while the echo returns a payload of the size asked for. The
//! echo proto is compiled only with the `bench` feature and is never added to `kinerja serve`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use tonic::{Request, Response, Status};

use super::proto::echo_service_server::{EchoService, EchoServiceServer};
use super::proto::{EchoRequest, EchoResponse};
use crate::auth::jwt::Verifier;
use crate::auth::layer::AuthLayer;
use crate::server::{AuthConfig, layers, server_builder};

/// The no-op service.
#[derive(Debug, Clone, Copy, Default)]
pub struct Echo;

#[tonic::async_trait]
impl EchoService for Echo {
    async fn echo(&self, req: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        Ok(Response::new(EchoResponse {
            payload: req.into_inner().payload,
        }))
    }
}

/// Which stack the echo runs behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum EchoStack {
    /// tonic alone.
    Bare,
    /// Kinerja's tower layers in front.
    Full,
}

/// Serves the echo (and gRPC health, so the bench can wait for it) on `listen` until `stop`
/// resolves.
pub async fn serve(
    listen: SocketAddr,
    stack: EchoStack,
    auth: AuthConfig,
    request_timeout: Duration,
    max_in_flight: usize,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let echo = EchoServiceServer::new(Echo);
    match stack {
        EchoStack::Bare => {
            server_builder(request_timeout)
                .add_service(health)
                .add_service(echo)
                .serve_with_incoming_shutdown(incoming, stop)
                .await?
        }
        EchoStack::Full => {
            let verifier = Arc::new(Verifier::new(auth.verifier)?);
            // Telemetry as the service runs it by default: local spans, nothing exported.
            let (telemetry, _guard) =
                crate::telemetry::Telemetry::init(&crate::telemetry::TelemetryConfig::default())?;
            server_builder(request_timeout)
                .layer(layers(
                    crate::telemetry::TelemetryLayer::new(
                        telemetry,
                        Some(request_timeout),
                        ["kinerja.bench.v1.EchoService", "grpc.health.v1.Health"],
                    ),
                    AuthLayer::new(verifier, auth.settings),
                    max_in_flight,
                ))
                .add_service(health)
                .add_service(echo)
                .serve_with_incoming_shutdown(incoming, stop)
                .await?
        }
    }
    Ok(())
}
