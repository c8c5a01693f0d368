//! Starting a server per test on its own database, and clients for it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use kinerja::auth::Role;
use kinerja::auth::jwt::{Claims, DEFAULT_AUDIENCE, DEV_ISSUER, DevKey, KeySource, VerifierConfig};
use kinerja::auth::layer::AuthSettings;
use kinerja::clock::{Clock, SystemClock};
use kinerja::proto::v1 as pb;
use kinerja::proto::v1::assignment_service_client::AssignmentServiceClient;
use kinerja::proto::v1::employee_service_client::EmployeeServiceClient;
use kinerja::proto::v1::organization_service_client::OrganizationServiceClient;
use kinerja::server::{AuthConfig, RunningServer, ServerConfig};
use kinerja::store::DbConfig;
use sea_orm::{ConnectionTrait, Database, Statement};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

/// Environment variable naming a PostgreSQL server (any database on it) to run the tests on.
pub const PG_ENV: &str = "KINERJA_TEST_DATABASE_URL";

/// The PostgreSQL admin URL when the tests run on PostgreSQL.
pub fn pg_url() -> Option<String> {
    std::env::var(PG_ENV).ok().filter(|s| !s.is_empty())
}

/// A database made for one test.
pub enum TestDb {
    /// A SQLite file in a temporary directory (removed when dropped).
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    /// A PostgreSQL database created for the test and dropped at the end.
    Postgres {
        /// URL of the server's admin database.
        admin: String,
        /// Name of the test's database.
        name: String,
    },
}

impl TestDb {
    /// Creates a fresh database.
    pub async fn create() -> (Self, String) {
        match pg_url() {
            None => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}/kinerja.db?mode=rwc", dir.path().display());
                (TestDb::Sqlite(dir), url)
            }
            Some(admin) => {
                let name = format!("kinerja_t_{}", uuid::Uuid::new_v4().simple());
                let db = Database::connect(&admin)
                    .await
                    .expect("connect to PostgreSQL");
                db.execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create test database");
                db.close().await.ok();
                let url = with_database(&admin, &name);
                (TestDb::Postgres { admin, name }, url)
            }
        }
    }

    /// Drops the database (PostgreSQL); SQLite files go with their directory.
    pub async fn drop_db(mut self) {
        if let TestDb::Postgres { admin, name } = &mut self {
            drop_postgres(admin, name).await;
            // Dropped: nothing left for `Drop`.
            name.clear();
        }
    }
}

/// A test that ends without `TestServer::stop` (or panics) still drops its PostgreSQL database,
/// from a plain thread since the test's runtime may be gone: the shared server keeps no
/// leftovers of a run.
impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { admin, name } = self
            && !name.is_empty()
        {
            let (admin, name) = (std::mem::take(admin), std::mem::take(name));
            let _ = std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime")
                    .block_on(drop_postgres(&admin, &name))
            })
            .join();
        }
    }
}

/// Drops database `name` through the server's admin database `admin`.
async fn drop_postgres(admin: &str, name: &str) {
    if let Ok(db) = Database::connect(admin).await {
        let _ = db
            .execute_raw(Statement::from_string(
                db.get_database_backend(),
                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            ))
            .await;
        db.close().await.ok();
    }
}

/// Replaces the database name (path) of a PostgreSQL URL.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let slash = base.rfind('/').unwrap_or(base.len());
    let prefix = if base[..slash].ends_with('/') {
        base
    } else {
        &base[..slash]
    };
    let mut out = format!("{prefix}/{name}");
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// The signing key of every test server (a fixed seed: tests only).
pub fn test_key() -> DevKey {
    DevKey::from_seed([42; 32])
}

/// A token signed by the test key.
pub fn token(sub: &str, roles: &[Role], units: &[String], scopes: &[&str]) -> String {
    let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
    test_key()
        .sign(
            &Claims::new(sub, DEV_ISSUER, DEFAULT_AUDIENCE, 3600)
                .roles(roles)
                .units(units)
                .scopes(&scopes),
        )
        .expect("sign")
}

/// Adds `authorization: Bearer <token>` to every call.
#[derive(Clone)]
pub struct Bearer(pub Option<String>);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(t) = &self.0 {
            let v = format!("Bearer {t}")
                .parse()
                .map_err(|_| tonic::Status::internal("bad token"))?;
            req.metadata_mut().insert("authorization", v);
        }
        Ok(req)
    }
}

/// A channel that sends a token.
pub type Authed = InterceptedService<Channel, Bearer>;

/// Default authentication settings of test servers (generous rate limit).
pub fn test_auth() -> AuthConfig {
    AuthConfig {
        verifier: VerifierConfig {
            keys: KeySource::Jwks(test_key().jwks()),
            issuer: DEV_ISSUER.into(),
            audience: DEFAULT_AUDIENCE.into(),
        },
        settings: AuthSettings {
            rate_per_second: 100_000,
            rate_burst: 100_000,
            ..AuthSettings::default()
        },
    }
}

/// A running server with its own database.
pub struct TestServer {
    /// A channel to it.
    pub channel: Channel,
    /// URL of its database.
    pub db_url: String,
    /// Token of a system administrator, used by the default clients.
    pub admin_token: String,
    server: Option<RunningServer>,
    db: Option<TestDb>,
}

impl TestServer {
    /// A server with default settings.
    pub async fn start() -> Self {
        Self::start_with(|_| {}, Arc::new(SystemClock)).await
    }

    /// A server whose settings `tweak` adjusts, with the given clock.
    pub async fn start_with(tweak: impl FnOnce(&mut ServerConfig), clock: Arc<dyn Clock>) -> Self {
        let (db, url) = TestDb::create().await;
        Self::start_on(db, url, tweak, clock).await
    }

    /// A TLS server (the channel field is unusable: tests build their own TLS clients).
    pub async fn start_tls(tls: kinerja::server::TlsFiles, clock: Arc<dyn Clock>) -> Self {
        let (db, url) = TestDb::create().await;
        let mut cfg = ServerConfig::new(
            "127.0.0.1:0".parse().expect("addr"),
            DbConfig {
                url: url.clone(),
                ..DbConfig::default()
            },
            test_auth(),
        );
        cfg.tls = Some(tls);
        let server = kinerja::server::start(cfg, clock)
            .await
            .expect("server starts");
        let channel = Endpoint::from_shared(format!("http://{}", server.addr))
            .expect("endpoint")
            .connect_lazy();
        Self {
            channel,
            db_url: url,
            admin_token: token("sysadmin", &[Role::SystemAdmin], &[], &[]),
            server: Some(server),
            db: Some(db),
        }
    }

    /// A second server (replica) on the database of `self`; it does not own the database.
    pub async fn replica(&self) -> Self {
        let (db, url) = (None, self.db_url.clone());
        let mut cfg = ServerConfig::new(
            "127.0.0.1:0".parse().expect("addr"),
            DbConfig {
                url: url.clone(),
                ..DbConfig::default()
            },
            test_auth(),
        );
        cfg.watch_poll = Duration::from_millis(100);
        let server = kinerja::server::start(cfg, Arc::new(SystemClock))
            .await
            .expect("replica starts");
        let channel = Endpoint::from_shared(format!("http://{}", server.addr))
            .expect("endpoint")
            .connect()
            .await
            .expect("connect");
        Self {
            channel,
            db_url: url,
            admin_token: self.admin_token.clone(),
            server: Some(server),
            db,
        }
    }

    /// A second server (replica) on the database of `self` with adjusted settings and its own
    /// clock; it does not own the database.
    pub async fn replica_with(
        &self,
        tweak: impl FnOnce(&mut ServerConfig),
        clock: Arc<dyn Clock>,
    ) -> Self {
        let mut cfg = ServerConfig::new(
            "127.0.0.1:0".parse().expect("addr"),
            DbConfig {
                url: self.db_url.clone(),
                ..DbConfig::default()
            },
            test_auth(),
        );
        cfg.shutdown_grace = Duration::from_secs(5);
        tweak(&mut cfg);
        let server = kinerja::server::start(cfg, clock)
            .await
            .expect("replica starts");
        let channel = Endpoint::from_shared(format!("http://{}", server.addr))
            .expect("endpoint")
            .connect()
            .await
            .expect("connect");
        Self {
            channel,
            db_url: self.db_url.clone(),
            admin_token: self.admin_token.clone(),
            server: Some(server),
            db: None,
        }
    }

    /// Address of the server.
    pub fn addr(&self) -> SocketAddr {
        self.server.as_ref().map(|s| s.addr).expect("running")
    }

    /// A server on an existing test database, reached through `url`.
    pub async fn start_on(
        db: TestDb,
        url: String,
        tweak: impl FnOnce(&mut ServerConfig),
        clock: Arc<dyn Clock>,
    ) -> Self {
        let mut cfg = ServerConfig::new(
            "127.0.0.1:0".parse().expect("addr"),
            DbConfig {
                url: url.clone(),
                max_connections: 8,
                acquire_timeout: Duration::from_secs(5),
                busy_timeout: Duration::from_secs(10),
                ..DbConfig::default()
            },
            test_auth(),
        );
        cfg.shutdown_grace = Duration::from_secs(5);
        tweak(&mut cfg);
        let server = kinerja::server::start(cfg, clock)
            .await
            .expect("server starts");
        let channel = Endpoint::from_shared(format!("http://{}", server.addr))
            .expect("endpoint")
            .connect()
            .await
            .expect("connect");
        Self {
            channel,
            db_url: url,
            admin_token: token("sysadmin", &[Role::SystemAdmin], &[], &[]),
            server: Some(server),
            db: Some(db),
        }
    }

    /// The channel with a token (or none).
    pub fn authed(&self, token: Option<&str>) -> Authed {
        InterceptedService::new(self.channel.clone(), Bearer(token.map(str::to_owned)))
    }
    /// Organisation client as system administrator.
    pub fn org(&self) -> OrganizationServiceClient<Authed> {
        self.org_as(&self.admin_token)
    }
    /// Organisation client with `token`.
    pub fn org_as(&self, token: &str) -> OrganizationServiceClient<Authed> {
        OrganizationServiceClient::new(self.authed(Some(token)))
    }
    /// Employee client as system administrator.
    pub fn employees(&self) -> EmployeeServiceClient<Authed> {
        self.employees_as(&self.admin_token)
    }
    /// Employee client with `token`.
    pub fn employees_as(&self, token: &str) -> EmployeeServiceClient<Authed> {
        EmployeeServiceClient::new(self.authed(Some(token)))
    }
    /// Assignment client as system administrator.
    pub fn assignments(&self) -> AssignmentServiceClient<Authed> {
        self.assignments_as(&self.admin_token)
    }
    /// Assignment client with `token`.
    pub fn assignments_as(&self, token: &str) -> AssignmentServiceClient<Authed> {
        AssignmentServiceClient::new(self.authed(Some(token)))
    }

    /// Stops the server and drops its database.
    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await.expect("clean shutdown");
        }
        if let Some(db) = self.db.take() {
            db.drop_db().await;
        }
    }

    /// Creates an agency and a top unit; returns (agency id, unit id).
    pub async fn agency_with_unit(&self, code: &str) -> (String, String) {
        let agency = self
            .org()
            .create_agency(pb::CreateAgencyRequest {
                agency: Some(pb::Agency {
                    code: code.into(),
                    name: format!("Agency {code}"),
                    time_zone: pb::AgencyTimeZone::Wib as i32,
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .expect("create agency")
            .into_inner();
        let unit = self
            .org()
            .create_unit(pb::CreateUnitRequest {
                unit: Some(pb::Unit {
                    agency_id: agency.id.clone(),
                    code: format!("{code}-ROOT"),
                    name: "Sekretariat Daerah".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .expect("create unit")
            .into_inner();
        (agency.id, unit.id)
    }

    /// Creates unit `code` under unit `parent` of `agency`.
    pub async fn child_unit(&self, agency: &str, parent: &str, code: &str) -> pb::Unit {
        self.org()
            .create_unit(pb::CreateUnitRequest {
                unit: Some(pb::Unit {
                    agency_id: agency.into(),
                    parent_id: parent.into(),
                    code: code.into(),
                    name: format!("Unit {code}"),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .expect("create unit")
            .into_inner()
    }

    /// Creates an employee with NIP `nip`.
    pub async fn employee(&self, agency_id: &str, nip: &str, name: &str) -> pb::Employee {
        self.employees()
            .create_employee(pb::CreateEmployeeRequest {
                employee: Some(employee_msg(agency_id, nip, name)),
                request_id: String::new(),
            })
            .await
            .expect("create employee")
            .into_inner()
    }
}

/// An employee message ready to create.
pub fn employee_msg(agency_id: &str, nip: &str, name: &str) -> pb::Employee {
    pb::Employee {
        nip: nip.into(),
        name: name.into(),
        status: pb::EmploymentStatus::Pns as i32,
        position_type: pb::PositionType::Pelaksana as i32,
        position_name: "Analis Data".into(),
        agency_id: agency_id.into(),
        ..Default::default()
    }
}

/// A valid NIP whose sequence and appointment month vary with `n` (up to 999,999 distinct).
pub fn nip(n: u32) -> String {
    let seq = n % 1000;
    let month = (n / 1000) % 12 + 1;
    let year = 2000 + (n / 12_000) % 25;
    format!("19850315{year:04}{month:02}1{seq:03}")
}

/// A proto date.
pub fn d(year: i32, month: i32, day: i32) -> Option<pb::Date> {
    Some(pb::Date { year, month, day })
}

/// A TCP proxy in front of the database that a test can take down and bring back, to simulate
/// an outage without touching the shared server.
pub struct Proxy {
    /// Address to connect to.
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
    cut: Arc<Notify>,
}

impl Proxy {
    /// Starts a proxy to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let up = Arc::new(AtomicBool::new(true));
        let cut = Arc::new(Notify::new());
        let (up2, cut2) = (up.clone(), cut.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let cut = cut2.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        () = cut.notified() => {}
                    }
                });
            }
        });
        Self { addr, up, cut }
    }

    /// Refuses new connections and cuts the open ones.
    pub fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cut.notify_waiters();
    }

    /// Accepts connections again.
    pub fn up(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}
