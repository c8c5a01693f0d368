//! The tonic server: services, tower layers (request context, grpc-web), health checking driven
//! by the database, reflection, deadlines, message limits and graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use tower::layer::util::{Identity, Stack};

use crate::api::AppState;
use crate::api::assignments::AssignmentApi;
use crate::api::audit::AuditApi;
use crate::api::employees::EmployeeApi;
use crate::api::org::OrganizationApi;
use crate::auth::jwt::{Verifier, VerifierConfig};
use crate::auth::layer::{AuthLayer, AuthSettings};
use crate::authz::Authorizer;
use crate::clock::Clock;
use crate::context::ContextLayer;
use crate::error::{Error, Result};
use crate::proto::v1::assignment_service_server::AssignmentServiceServer;
use crate::proto::v1::audit_service_server::AuditServiceServer;
use crate::proto::v1::employee_service_server::EmployeeServiceServer;
use crate::proto::v1::organization_service_server::OrganizationServiceServer;
use crate::store::{DbConfig, Store};

/// Fully qualified names of the services, as health checking and reflection report them.
pub const SERVICE_NAMES: &[&str] = &[
    "kinerja.v1.OrganizationService",
    "kinerja.v1.EmployeeService",
    "kinerja.v1.AssignmentService",
    "kinerja.v1.AuditService",
];

/// Settings of a server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Listen address; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Database settings.
    pub db: DbConfig,
    /// Apply migrations at start.
    pub migrate: bool,
    /// Server-side deadline of every call.
    pub request_timeout: Duration,
    /// Largest message in either direction.
    pub max_message_bytes: usize,
    /// Time in-flight calls get after shutdown starts.
    pub shutdown_grace: Duration,
    /// Interval of the database check behind health status.
    pub health_interval: Duration,
    /// Token verification, exemptions and limits.
    pub auth: AuthConfig,
    /// Calls in flight across all connections; more are shed with RESOURCE_EXHAUSTED.
    pub max_in_flight: usize,
}

/// Authentication settings of a server.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Where the verification keys come from, and the accepted issuer and audience.
    pub verifier: VerifierConfig,
    /// Exemptions and per-caller rate limit.
    pub settings: AuthSettings,
}

impl ServerConfig {
    /// Defaults for a given database and listen address (used by tests and the CLI).
    pub fn new(listen: SocketAddr, db: DbConfig, auth: AuthConfig) -> Self {
        Self {
            listen,
            db,
            migrate: true,
            request_timeout: Duration::from_secs(30),
            max_message_bytes: 4 * 1024 * 1024,
            shutdown_grace: Duration::from_secs(10),
            health_interval: Duration::from_secs(2),
            auth,
            max_in_flight: 1024,
        }
    }
}

/// A server running in the background.
#[derive(Debug)]
pub struct RunningServer {
    /// The bound address (with the real port when 0 was asked for).
    pub addr: SocketAddr,
    /// The store, shared with the handlers.
    pub store: Store,
    stop: Option<oneshot::Sender<()>>,
    serve: JoinHandle<std::result::Result<(), tonic::transport::Error>>,
    health: JoinHandle<()>,
    keys: JoinHandle<()>,
    grace: Duration,
}

impl RunningServer {
    /// Stops accepting calls, lets in-flight calls finish within the grace period, then closes
    /// the database pool.
    pub async fn shutdown(mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let outcome = tokio::time::timeout(self.grace, &mut self.serve).await;
        if outcome.is_err() {
            tracing::warn!("in-flight calls did not finish within the grace period; aborting them");
            self.serve.abort();
        }
        self.health.abort();
        self.keys.abort();
        self.store.close().await;
        tracing::info!("server stopped");
        match outcome {
            Ok(Ok(Err(e))) => Err(Error::Internal(format!("server error: {e}"))),
            _ => Ok(()),
        }
    }
}

/// The tower layers in front of every service, outermost first: request context, load
/// shedding, the global in-flight limit, authentication (cached token verification, policy
/// presence, per-caller rate limit), grpc-web.
pub type Layers = tower::ServiceBuilder<
    Stack<
        tonic_web::GrpcWebLayer,
        Stack<
            AuthLayer,
            Stack<
                tower::limit::GlobalConcurrencyLimitLayer,
                Stack<tower::load_shed::LoadShedLayer, Stack<ContextLayer, Identity>>,
            >,
        >,
    >,
>;

/// Builds [`Layers`]. The server and the load generator's echo baseline (`kinerja-bench`) both
/// use this, so the baseline measures exactly the stack the service runs behind.
pub fn layers(auth: AuthLayer, max_in_flight: usize) -> Layers {
    tower::ServiceBuilder::new()
        .layer(ContextLayer)
        .layer(tower::load_shed::LoadShedLayer::new())
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            max_in_flight.max(1),
        ))
        .layer(auth)
        .layer(tonic_web::GrpcWebLayer::new())
}

/// The tonic server settings every Kinerja server (and the echo baseline) uses: HTTP/1 accepted
/// for grpc-web, and the server-side deadline.
pub fn server_builder(request_timeout: Duration) -> Server {
    Server::builder()
        .accept_http1(true)
        .timeout(request_timeout)
}

/// Connects the database, applies migrations, binds the listener and starts serving.
pub async fn start(cfg: ServerConfig, clock: Arc<dyn Clock>) -> Result<RunningServer> {
    let store = Store::connect(&cfg.db).await?;
    if cfg.migrate {
        store.migrate().await?;
    }
    let version = store
        .server_version()
        .await
        .unwrap_or_else(|_| "unknown".into());
    let verifier = Arc::new(Verifier::new(cfg.auth.verifier.clone())?);
    let state = AppState {
        store: store.clone(),
        authz: Authorizer::new(store.clone(), clock.clone()),
        clock,
    };

    let (reporter, health_service) = tonic_health::server::health_reporter();
    set_all(&reporter, ServingStatus::Serving).await;

    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| Error::Internal(format!("reflection: {e}")))?;

    let max = cfg.max_message_bytes;
    let org = OrganizationServiceServer::new(OrganizationApi::new(state.clone()))
        .max_decoding_message_size(max)
        .max_encoding_message_size(max);
    let emp = EmployeeServiceServer::new(EmployeeApi::new(state.clone()))
        .max_decoding_message_size(max)
        .max_encoding_message_size(max);
    let asg = AssignmentServiceServer::new(AssignmentApi::new(state.clone()))
        .max_decoding_message_size(max)
        .max_encoding_message_size(max);
    let audit = AuditServiceServer::new(AuditApi::new(state.clone()))
        .max_decoding_message_size(max)
        .max_encoding_message_size(max);

    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| Error::Unavailable(format!("cannot listen on {}: {e}", cfg.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Internal(e.to_string()))?;
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));

    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let router = server_builder(cfg.request_timeout)
        .layer(layers(
            AuthLayer::new(verifier.clone(), cfg.auth.settings.clone()),
            cfg.max_in_flight,
        ))
        .add_service(health_service)
        .add_service(reflection)
        .add_service(org)
        .add_service(emp)
        .add_service(asg)
        .add_service(audit);
    let serve = tokio::spawn(router.serve_with_incoming_shutdown(incoming, async {
        let _ = stop_rx.await;
    }));

    let health = tokio::spawn(watch_database(store.clone(), reporter, cfg.health_interval));
    let keys = tokio::spawn(watch_keys(verifier));

    tracing::info!(
        address = %addr,
        database = store.kind().as_str(),
        database_version = %version,
        kinerja_version = env!("CARGO_PKG_VERSION"),
        "kinerja listening on {addr} ({} {version})",
        store.kind().as_str()
    );
    Ok(RunningServer {
        addr,
        store,
        stop: Some(stop_tx),
        serve,
        health,
        keys,
        grace: cfg.shutdown_grace,
    })
}

async fn set_all(reporter: &HealthReporter, status: ServingStatus) {
    reporter.set_service_status("", status).await;
    for name in SERVICE_NAMES {
        reporter.set_service_status(*name, status).await;
    }
}

/// Pings the database every `interval` and reports NOT_SERVING while it does not answer.
async fn watch_database(store: Store, reporter: HealthReporter, interval: Duration) {
    let mut serving = true;
    loop {
        tokio::time::sleep(interval).await;
        let ok = tokio::time::timeout(interval.max(Duration::from_secs(1)), store.ping())
            .await
            .is_ok_and(|r| r.is_ok());
        if ok != serving {
            serving = ok;
            if ok {
                tracing::info!("database reachable again; SERVING");
                set_all(&reporter, ServingStatus::Serving).await;
            } else {
                tracing::warn!("database unreachable; NOT_SERVING");
                set_all(&reporter, ServingStatus::NotServing).await;
            }
        }
    }
}

/// Reloads the JWKS file when it changes (polled) or on SIGHUP.
async fn watch_keys(verifier: Arc<Verifier>) {
    #[cfg(unix)]
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    loop {
        #[cfg(unix)]
        let hup_fired = async {
            match hup.as_mut() {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let hup_fired = std::future::pending::<()>();
        tokio::select! {
            () = hup_fired => {
                match verifier.reload() {
                    Ok(()) => tracing::info!("keys reloaded on SIGHUP"),
                    Err(e) => tracing::error!(error = %e, "key reload on SIGHUP failed; keeping the old keys"),
                }
            }
            () = tokio::time::sleep(Duration::from_secs(2)) => {
                verifier.reload_if_changed();
            }
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
