//! The tonic server: services, tower layers (grpc-web, telemetry, request context), health
//! checking driven by the database, reflection, deadlines, message limits and graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Certificate, Identity as TlsIdentity, ServerTlsConfig};
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use tower::layer::util::{Identity, Stack};

use crate::api::AppState;
use crate::api::assessment::AssessmentApi;
use crate::api::assignments::AssignmentApi;
use crate::api::audit::AuditApi;
use crate::api::calibration::CalibrationApi;
use crate::api::employees::EmployeeApi;
use crate::api::events::EventApi;
use crate::api::export::ExportApi;
use crate::api::followup::FollowUpApi;
use crate::api::org::OrganizationApi;
use crate::api::periods::PeriodApi;
use crate::api::reports::ReportApi;
use crate::api::skp::SkpApi;
use crate::auth::jwt::{Verifier, VerifierConfig};
use crate::auth::layer::{AuthLayer, AuthSettings};
use crate::authz::Authorizer;
use crate::clock::Clock;
use crate::context::ContextLayer;
use crate::error::{Error, Result};
use crate::proto::v1::assessment_service_server::AssessmentServiceServer;
use crate::proto::v1::assignment_service_server::AssignmentServiceServer;
use crate::proto::v1::audit_service_server::AuditServiceServer;
use crate::proto::v1::calibration_service_server::CalibrationServiceServer;
use crate::proto::v1::employee_service_server::EmployeeServiceServer;
use crate::proto::v1::event_service_server::EventServiceServer;
use crate::proto::v1::export_service_server::ExportServiceServer;
use crate::proto::v1::follow_up_service_server::FollowUpServiceServer;
use crate::proto::v1::organization_service_server::OrganizationServiceServer;
use crate::proto::v1::performance_period_service_server::PerformancePeriodServiceServer;
use crate::proto::v1::report_service_server::ReportServiceServer;
use crate::proto::v1::skp_service_server::SkpServiceServer;
use crate::store::{DbConfig, Store};
use crate::telemetry::db::{DbObserver, DbTarget};
use crate::telemetry::{Telemetry, TelemetryConfig, TelemetryGuard, TelemetryLayer};

/// Fully qualified names of the services, as health checking and reflection report them.
pub const SERVICE_NAMES: &[&str] = &[
    "kinerja.v1.OrganizationService",
    "kinerja.v1.EmployeeService",
    "kinerja.v1.AssignmentService",
    "kinerja.v1.AuditService",
    "kinerja.v1.EventService",
    "kinerja.v1.PerformancePeriodService",
    "kinerja.v1.SkpService",
    "kinerja.v1.AssessmentService",
    "kinerja.v1.CalibrationService",
    "kinerja.v1.ExportService",
    "kinerja.v1.FollowUpService",
    "kinerja.v1.ReportService",
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
    /// TLS (and mutual TLS) settings; plaintext when `None`.
    pub tls: Option<TlsFiles>,
    /// How often event-feed streams look for events committed by other replicas.
    pub watch_poll: Duration,
    /// OpenTelemetry: export, sampling, baggage attributes (off by default).
    pub telemetry: TelemetryConfig,
    /// How often the sweeper makes FINAL the set results whose objection window passed
    /// (zero: never).
    pub finalize_interval: Duration,
    /// How often the sweeper publishes `plan.overdue` for development actions past their
    /// target date (zero: never).
    pub overdue_interval: Duration,
}

/// Certificate files for TLS.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Server certificate chain (PEM).
    pub cert: std::path::PathBuf,
    /// Server private key (PEM).
    pub key: std::path::PathBuf,
    /// CA whose certificates clients must present (mutual TLS); `None` for server-only TLS.
    pub client_ca: Option<std::path::PathBuf>,
}

impl TlsFiles {
    fn server_config(&self) -> Result<ServerTlsConfig> {
        let read = |p: &std::path::Path| {
            std::fs::read(p)
                .map_err(|e| Error::Internal(format!("cannot read {}: {e}", p.display())))
        };
        let mut tls = ServerTlsConfig::new()
            .identity(TlsIdentity::from_pem(read(&self.cert)?, read(&self.key)?));
        if let Some(ca) = &self.client_ca {
            tls = tls
                .client_ca_root(Certificate::from_pem(read(ca)?))
                .client_auth_optional(false);
        }
        Ok(tls)
    }
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
            tls: None,
            watch_poll: Duration::from_millis(500),
            telemetry: TelemetryConfig::default(),
            finalize_interval: Duration::from_secs(60),
            overdue_interval: Duration::from_secs(300),
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
    streams: tokio::sync::watch::Sender<bool>,
    serve: JoinHandle<std::result::Result<(), tonic::transport::Error>>,
    health: JoinHandle<()>,
    keys: JoinHandle<()>,
    finalizer: JoinHandle<()>,
    overdue: JoinHandle<()>,
    content: JoinHandle<()>,
    grace: Duration,
    telemetry: Option<TelemetryGuard>,
}

impl RunningServer {
    /// Stops accepting calls, lets in-flight calls finish within the grace period, then closes
    /// the database pool.
    pub async fn shutdown(mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // Long-lived streams (the event feed) end so their clients reconnect elsewhere.
        let _ = self.streams.send(true);
        let outcome = tokio::time::timeout(self.grace, &mut self.serve).await;
        if outcome.is_err() {
            tracing::warn!("in-flight calls did not finish within the grace period; aborting them");
            self.serve.abort();
        }
        self.health.abort();
        self.keys.abort();
        self.finalizer.abort();
        self.overdue.abort();
        self.content.abort();
        self.store.close().await;
        tracing::info!("server stopped");
        if let Some(t) = self.telemetry.take() {
            t.shutdown().await;
        }
        match outcome {
            Ok(Ok(Err(e))) => Err(Error::Internal(format!("server error: {e}"))),
            _ => Ok(()),
        }
    }
}

/// The tower layers in front of every service, outermost first: grpc-web, telemetry (the
/// SERVER span and RPC metrics), request context, load shedding, the global in-flight limit,
/// authentication (cached token verification, policy presence, per-caller rate limit).
pub type Layers = tower::ServiceBuilder<
    Stack<
        AuthLayer,
        Stack<
            tower::limit::GlobalConcurrencyLimitLayer,
            Stack<
                tower::load_shed::LoadShedLayer,
                Stack<
                    ContextLayer,
                    Stack<TelemetryLayer, Stack<tonic_web::GrpcWebLayer, Identity>>,
                >,
            >,
        >,
    >,
>;

/// Builds [`Layers`]. The server and the load generator's echo baseline (`kinerja-bench`) both
/// use this, so the baseline measures exactly the stack the service runs behind.
pub fn layers(telemetry: TelemetryLayer, auth: AuthLayer, max_in_flight: usize) -> Layers {
    tower::ServiceBuilder::new()
        .layer(tonic_web::GrpcWebLayer::new())
        .layer(telemetry)
        .layer(ContextLayer)
        .layer(tower::load_shed::LoadShedLayer::new())
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            max_in_flight.max(1),
        ))
        .layer(auth)
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
    let mut store = Store::connect(&cfg.db).await?;
    let (telemetry, telemetry_guard) = match Telemetry::init(&cfg.telemetry) {
        Ok(t) => t,
        Err(e) => {
            store.close().await;
            return Err(e);
        }
    };
    let target = DbTarget::from_url(store.kind(), &cfg.db.url);
    store
        .set_statement_observer(DbObserver::new(telemetry.clone(), store.kind(), target).into_fn());
    telemetry.metrics().observe_pool(&store);
    if cfg.migrate {
        store.migrate().await?;
    }
    let version = store
        .server_version()
        .await
        .unwrap_or_else(|_| "unknown".into());
    let verifier = Arc::new(Verifier::new(cfg.auth.verifier.clone())?);
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let state = AppState {
        shutdown: shutdown_rx,
        store: store.clone(),
        authz: Authorizer::new(store.clone(), clock.clone()),
        clock,
        telemetry: telemetry.clone(),
    };

    let (reporter, health_service) = tonic_health::server::health_reporter();
    set_all(&reporter, ServingStatus::Serving).await;

    // Reflection v1 and, for clients that only speak it (grpcurl before 1.9, many IDE
    // plugins), v1alpha: the same descriptors under both names.
    let reflection_builder = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            // google.rpc error details, so clients decode ErrorInfo, BadRequest, ... by name.
            .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection = reflection_builder()
        .build_v1()
        .map_err(|e| Error::Internal(format!("reflection: {e}")))?;
    let reflection_v1alpha = reflection_builder()
        .build_v1alpha()
        .map_err(|e| Error::Internal(format!("reflection v1alpha: {e}")))?;

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
    let events = EventServiceServer::new(EventApi::new(state.clone(), cfg.watch_poll))
        .max_decoding_message_size(max)
        .max_encoding_message_size(max);
    let export = ExportServiceServer::new(ExportApi::new(state.clone()))
        .max_decoding_message_size(max)
        .max_encoding_message_size(max);
    let audit = AuditServiceServer::new(AuditApi::new(state.clone()))
        .max_decoding_message_size(max)
        .max_encoding_message_size(max);
    let periods = PerformancePeriodServiceServer::new(PeriodApi::new(state.clone()))
        .max_decoding_message_size(max)
        .max_encoding_message_size(max);
    let skp = SkpServiceServer::new(SkpApi::new(state.clone()))
        .max_decoding_message_size(max)
        .max_encoding_message_size(max);
    let assessment = AssessmentServiceServer::new(AssessmentApi::new(state.clone()))
        .max_decoding_message_size(max)
        .max_encoding_message_size(max);
    let calibration = CalibrationServiceServer::new(CalibrationApi::new(state.clone()))
        .max_decoding_message_size(max)
        .max_encoding_message_size(max);
    let followup = FollowUpServiceServer::new(FollowUpApi::new(state.clone()))
        .max_decoding_message_size(max)
        .max_encoding_message_size(max);
    let reports = ReportServiceServer::new(ReportApi::new(state.clone()))
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
    let mut builder = server_builder(cfg.request_timeout);
    if let Some(tls) = &cfg.tls {
        builder = builder
            .tls_config(tls.server_config()?)
            .map_err(|e| Error::Internal(format!("TLS configuration: {e}")))?
            .accept_http1(false);
    }
    let router = builder
        .layer(layers(
            TelemetryLayer::new(
                telemetry,
                Some(cfg.request_timeout),
                SERVICE_NAMES.iter().copied().chain([
                    "grpc.health.v1.Health",
                    "grpc.reflection.v1.ServerReflection",
                    "grpc.reflection.v1alpha.ServerReflection",
                ]),
            ),
            AuthLayer::new(verifier.clone(), cfg.auth.settings.clone()),
            cfg.max_in_flight,
        ))
        .add_service(health_service)
        .add_service(reflection)
        .add_service(reflection_v1alpha)
        .add_service(org)
        .add_service(emp)
        .add_service(asg)
        .add_service(audit)
        .add_service(events)
        .add_service(periods)
        .add_service(skp)
        .add_service(assessment)
        .add_service(calibration)
        .add_service(export)
        .add_service(followup)
        .add_service(reports);
    let serve = tokio::spawn(router.serve_with_incoming_shutdown(incoming, async {
        let _ = stop_rx.await;
    }));

    let kept = KeptInMemory {
        store: store.clone(),
        verifier: verifier.clone(),
        authz: state.authz.clone(),
    };
    let health = tokio::spawn(watch_database(kept, reporter, cfg.health_interval));
    let keys = tokio::spawn(watch_keys(verifier));
    let finalizer = tokio::spawn(finalize_expired(
        store.clone(),
        state.clock.clone(),
        cfg.finalize_interval,
    ));
    let overdue = tokio::spawn(notify_overdue(
        store.clone(),
        state.clock.clone(),
        cfg.overdue_interval,
    ));
    let content = tokio::spawn(build_stale_content(store.clone()));

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
        streams: shutdown_tx,
        serve,
        health,
        keys,
        finalizer,
        overdue,
        content,
        grace: cfg.shutdown_grace,
        telemetry: Some(telemetry_guard),
    })
}

async fn set_all(reporter: &HealthReporter, status: ServingStatus) {
    reporter.set_service_status("", status).await;
    for name in SERVICE_NAMES {
        reporter.set_service_status(*name, status).await;
    }
}

/// Every `interval`, makes FINAL the set results whose objection window passed without
/// objection (see `Store::finalize_expired`: safe on several replicas at once).
async fn finalize_expired(store: Store, clock: Arc<dyn Clock>, interval: Duration) {
    if interval.is_zero() {
        return;
    }
    loop {
        tokio::time::sleep(interval).await;
        let actor = crate::context::RequestContext::internal("kinerja/finalize-expired").actor();
        match store
            .finalize_expired(&actor, clock.now(), None, 1000)
            .await
        {
            Ok(ids) if !ids.is_empty() => {
                tracing::info!(
                    count = ids.len(),
                    "results made FINAL (objection window passed)"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "finalising expired results failed"),
        }
    }
}

/// Once at start, stores the encoded content of SKPs that have none for their current version
/// (written before that was kept, or by a bulk tool), so their reads take one statement instead
/// of three (see `Store::build_stale_content`: safe on several replicas at once).
async fn build_stale_content(store: Store) {
    match store.build_stale_content(200).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(count = n, "stored the content of SKPs written without it"),
        Err(e) => tracing::warn!(error = %e, "storing the content of SKPs failed"),
    }
}

/// Every `interval`, publishes `plan.overdue` for development actions that passed their target
/// date unfinished (see `Store::notify_overdue`: once per action, safe on several replicas).
async fn notify_overdue(store: Store, clock: Arc<dyn Clock>, interval: Duration) {
    if interval.is_zero() {
        return;
    }
    loop {
        tokio::time::sleep(interval).await;
        let actor = crate::context::RequestContext::internal("kinerja/development-overdue").actor();
        match store.notify_overdue(&actor, clock.now(), 1000).await {
            Ok(ids) if !ids.is_empty() => {
                tracing::info!(count = ids.len(), "development actions overdue (notified)")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "notifying overdue development actions failed"),
        }
    }
}

/// Calls per health interval below which the server counts as quiet (health probes and the
/// odd call do not keep it "busy").
const QUIET_CALLS_PER_INTERVAL: u64 = 16;
/// For how many quiet health intervals after load freed memory is handed back (each time):
/// memory is also freed later than the load ends, e.g. when the pool closes idle connections.
const TRIMS_AFTER_LOAD: u32 = 8;
/// Growth of the resident set over its level after the last trim that asks for a trim in a
/// quiet interval even without many calls (a few heavy calls, e.g. province reports).
const TRIM_ON_GROWTH_BYTES: u64 = 16 << 20;

/// What a replica keeps in memory to answer faster and can read again when needed.
struct KeptInMemory {
    /// The store: SKP contents, idle connections.
    store: Store,
    /// Verified tokens.
    verifier: Arc<Verifier>,
    /// Employee ids of principals.
    authz: Authorizer,
}

impl KeptInMemory {
    /// Lets go of all of it and hands the memory freed back to the operating system: the caches
    /// emptied, idle connections closed (on PostgreSQL all but one), the runtime threads'
    /// allocation caches flushed as each goes idle, and the free pages returned
    /// (`release_free_memory`). Live entries, allocation caches and idle connections otherwise
    /// keep 8-10 MB after the bench's rounds (BENCHMARKS.md, session 17).
    fn hand_back(&self) {
        self.store.drop_cached_content();
        self.verifier.forget_verified();
        self.authz.forget_principal_ids();
        self.store.close_idle_connections();
        crate::memory::request_thread_cache_flush();
        crate::store::release_free_memory();
    }
}

/// Pings the database every `interval` and reports NOT_SERVING while it does not answer.
/// Also lets go of caches and hands free memory back to the operating system
/// ([`KeptInMemory::hand_back`]) in quiet intervals as [`crate::memory::TrimPolicy`] decides
/// (after load, or after the resident set grew), so the resident set falls back towards its
/// start size while idle instead of staying at the peak of the last burst of load.
async fn watch_database(kept: KeptInMemory, reporter: HealthReporter, interval: Duration) {
    let store = &kept.store;
    let mut serving = true;
    let mut calls_seen = crate::context::calls_started();
    let mut trim = crate::memory::TrimPolicy::new(
        QUIET_CALLS_PER_INTERVAL,
        TRIMS_AFTER_LOAD,
        TRIM_ON_GROWTH_BYTES,
    );
    loop {
        tokio::time::sleep(interval).await;
        let calls = crate::context::calls_started();
        if trim.tick(
            calls.wrapping_sub(calls_seen),
            crate::memory::resident_bytes(),
        ) {
            kept.hand_back();
        }
        calls_seen = calls;
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
