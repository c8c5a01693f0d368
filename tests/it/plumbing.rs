//! Server plumbing: health, reflection, request ids, deadlines, outage detection, shutdown.

use std::sync::Arc;
use std::time::Duration;

use kinerja::clock::SystemClock;
use kinerja::proto::v1 as pb;
use tokio_stream::StreamExt;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

use crate::harness::{Proxy, TestDb, TestServer, pg_url};

async fn health(s: &TestServer, service: &str) -> Result<i32, tonic::Status> {
    HealthClient::new(s.channel.clone())
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .map(|r| r.into_inner().status)
}

#[tokio::test]
async fn health_reports_every_service_serving() {
    let s = TestServer::start().await;
    for name in [
        "",
        "kinerja.v1.OrganizationService",
        "kinerja.v1.EmployeeService",
        "kinerja.v1.AssignmentService",
    ] {
        assert_eq!(
            health(&s, name).await.expect("health"),
            ServingStatus::Serving as i32,
            "{name}"
        );
    }
    assert_eq!(
        health(&s, "no.such.Service").await.unwrap_err().code(),
        Code::NotFound
    );
    s.stop().await;
}

#[tokio::test]
async fn reflection_lists_the_services() {
    let s = TestServer::start().await;
    let mut client = ServerReflectionClient::new(s.channel.clone());
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = client
        .server_reflection_info(tokio_stream::iter(vec![req]))
        .await
        .expect("reflection")
        .into_inner();
    let resp = stream.next().await.expect("one response").expect("ok");
    let Some(MessageResponse::ListServicesResponse(list)) = resp.message_response else {
        panic!("unexpected reflection response");
    };
    let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    for want in kinerja::server::SERVICE_NAMES
        .iter()
        .copied()
        .chain(["grpc.health.v1.Health"])
    {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }

    // Error details are described too, so generic clients decode them by name.
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::FileContainingSymbol(
            "google.rpc.ErrorInfo".into(),
        )),
    };
    let mut stream = client
        .server_reflection_info(tokio_stream::iter(vec![req]))
        .await
        .expect("reflection")
        .into_inner();
    let resp = stream.next().await.expect("one response").expect("ok");
    assert!(
        matches!(
            resp.message_response,
            Some(MessageResponse::FileDescriptorResponse(ref f)) if !f.file_descriptor_proto.is_empty()
        ),
        "google.rpc.ErrorInfo not described: {:?}",
        resp.message_response
    );

    // The same through v1alpha, the only version older clients (grpcurl before 1.9) speak.
    use tonic_reflection::pb::v1alpha as alpha;
    let mut client =
        alpha::server_reflection_client::ServerReflectionClient::new(s.channel.clone());
    let req = alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            alpha::server_reflection_request::MessageRequest::ListServices(String::new()),
        ),
    };
    let mut stream = client
        .server_reflection_info(tokio_stream::iter(vec![req]))
        .await
        .expect("reflection v1alpha")
        .into_inner();
    let resp = stream.next().await.expect("one response").expect("ok");
    let Some(alpha::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        resp.message_response
    else {
        panic!("unexpected reflection v1alpha response");
    };
    let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    for want in ["kinerja.v1.FollowUpService", "kinerja.v1.ReportService"] {
        assert!(
            names.contains(&want),
            "{want} missing from {names:?} (v1alpha)"
        );
    }
    s.stop().await;
}

#[tokio::test]
async fn request_and_trace_ids_are_echoed() {
    let s = TestServer::start().await;
    let mut req = tonic::Request::new(pb::ListAgenciesRequest::default());
    req.metadata_mut()
        .insert("x-request-id", "req-123".parse().unwrap());
    req.metadata_mut().insert(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            .parse()
            .unwrap(),
    );
    let resp = s.org().list_agencies(req).await.expect("list");
    assert_eq!(resp.metadata().get("x-request-id").unwrap(), "req-123");
    assert_eq!(
        resp.metadata().get("x-trace-id").unwrap(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    // Without a traceparent a new 32-hex trace id is made.
    let resp = s
        .org()
        .list_agencies(pb::ListAgenciesRequest::default())
        .await
        .expect("list");
    let tid = resp
        .metadata()
        .get("x-trace-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(tid.len(), 32);
    s.stop().await;
}

#[tokio::test]
async fn bad_ids_and_missing_resources() {
    let s = TestServer::start().await;
    let err = s
        .org()
        .get_agency(pb::GetAgencyRequest { id: String::new() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = s
        .org()
        .get_agency(pb::GetAgencyRequest { id: "nope".into() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = s
        .org()
        .list_agencies(pb::ListAgenciesRequest {
            page_size: 1,
            page_token: "not-a-token".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    s.stop().await;
}

/// Health follows the database: NOT_SERVING while it is unreachable, SERVING when it is back.
/// PostgreSQL only: the outage is a TCP proxy between the service and the shared server.
#[tokio::test]
async fn health_follows_database_outage() {
    let Some(admin) = pg_url() else {
        eprintln!(
            "health_follows_database_outage: runs on PostgreSQL only (set KINERJA_TEST_DATABASE_URL)"
        );
        return;
    };
    let (proxy, s) = behind_proxy(&admin, |c| {
        c.health_interval = Duration::from_millis(200);
        c.db.acquire_timeout = Duration::from_millis(500);
    })
    .await;
    assert_eq!(health(&s, "").await.unwrap(), ServingStatus::Serving as i32);
    // Several calls at once, so several pooled connections are open (and idle) when the
    // outage cuts them.
    let list_at_once = || list_agencies_at_once(&s);
    for r in list_at_once().await {
        r.expect("before the outage");
    }
    proxy.down();
    wait_for(&s, ServingStatus::NotServing).await;
    assert_eq!(
        health(&s, "kinerja.v1.EmployeeService").await.unwrap(),
        ServingStatus::NotServing as i32
    );
    // Calls fail cleanly while the database is away.
    let err = s
        .org()
        .list_agencies(pb::ListAgenciesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    proxy.up();
    wait_for(&s, ServingStatus::Serving).await;
    // Every call works again at once: no call gets a connection the outage broke.
    for r in list_at_once().await {
        r.expect("works again");
    }
    s.stop().await;
}

/// Connections that broke while idle (an outage that neither a call nor the health check saw,
/// e.g. a database restart between two calls) are replaced without failing a call: a write's
/// `BEGIN` and a read that meet one are tried again on a new connection. PostgreSQL only.
#[tokio::test]
async fn connections_broken_while_idle_are_replaced_without_failing_calls() {
    let Some(admin) = pg_url() else {
        eprintln!("connections_broken_while_idle_...: runs on PostgreSQL only");
        return;
    };
    // No health check during the test: it would find and close the broken connections.
    let (proxy, s) = behind_proxy(&admin, |c| c.health_interval = Duration::from_secs(3600)).await;
    let list_at_once = || list_agencies_at_once(&s);
    let cut_idle_connections = || async {
        for r in list_at_once().await {
            r.expect("before the cut");
        }
        proxy.down();
        proxy.up();
        // The proxy closes the cut sockets on its own tasks.
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    // A write first: its transaction begins on a broken connection, then on a new one.
    cut_idle_connections().await;
    let (agency, _) = s.agency_with_unit("CUT1").await;
    let listed = s
        .org()
        .list_agencies(pb::ListAgenciesRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert_eq!(
        listed.agencies.iter().filter(|a| a.id == agency).count(),
        1,
        "the agency written after the cut is stored once"
    );

    // Reads at once: each that meets a broken connection is tried again on a new one.
    cut_idle_connections().await;
    for r in list_at_once().await {
        r.expect("works after connections broke while idle");
    }
    s.stop().await;
}

/// A server on a new PostgreSQL test database reached through a TCP proxy the test controls.
async fn behind_proxy(
    admin: &str,
    tweak: impl FnOnce(&mut kinerja::server::ServerConfig),
) -> (Proxy, TestServer) {
    let (db, url) = TestDb::create().await;
    let target = pg_target(admin);
    let proxy = Proxy::start(target).await;
    let proxied = url.replace(
        &format!("{}:{}", target.ip(), target.port()),
        &proxy.addr.to_string(),
    );
    assert_ne!(proxied, url, "the test URL must name 127.0.0.1:PORT");
    let s = TestServer::start_on(db, proxied, tweak, Arc::new(SystemClock)).await;
    (proxy, s)
}

/// Six `ListAgencies` calls at once, so as many pooled connections are open (and then idle).
async fn list_agencies_at_once(
    s: &TestServer,
) -> Vec<Result<tonic::Response<pb::ListAgenciesResponse>, tonic::Status>> {
    let calls: Vec<_> = (0..6)
        .map(|_| {
            let mut org = s.org();
            async move { org.list_agencies(pb::ListAgenciesRequest::default()).await }
        })
        .collect();
    futures::future::join_all(calls).await
}

fn pg_target(url: &str) -> std::net::SocketAddr {
    let host = url
        .split('@')
        .nth(1)
        .unwrap_or(url)
        .split('/')
        .next()
        .unwrap_or("127.0.0.1:5432");
    let host = host.replace("localhost", "127.0.0.1");
    let host = if host.contains(':') {
        host
    } else {
        format!("{host}:5432")
    };
    host.parse()
        .expect("PostgreSQL test URL must use an IP address and port")
}

async fn wait_for(s: &TestServer, want: ServingStatus) {
    for _ in 0..100 {
        if health(s, "").await.ok() == Some(want as i32) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("health never became {want:?}");
}

/// A call in flight when shutdown starts still completes.
#[tokio::test]
async fn shutdown_lets_in_flight_calls_finish() {
    let s = TestServer::start().await;
    let (agency, _) = s.agency_with_unit("SHUT").await;
    let mut client = s.employees();
    let rows: Vec<pb::ImportRow> = (0..2000)
        .map(|i| pb::ImportRow {
            row: Some(pb::import_row::Row::Employee(crate::harness::employee_msg(
                &agency,
                &crate::harness::nip(i),
                "Pegawai",
            ))),
        })
        .collect();
    let call = tokio::spawn(async move {
        client
            .import_employees(tokio_stream::iter(vec![pb::ImportEmployeesRequest {
                rows,
            }]))
            .await
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    s.stop().await;
    let resp = call
        .await
        .expect("join")
        .expect("in-flight import completes")
        .into_inner();
    assert!(resp.committed);
}

/// SQLite: connections opened under load are closed once idle for the idle timeout (one stays
/// open), so an idle server gives their page caches and threads back; the pool reopens
/// connections when calls come again. (PostgreSQL pools keep sqlx's defaults.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sqlite_connections_are_closed() {
    use kinerja::store::{DbConfig, Store};
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("idle.db").display());
    let store = Store::connect(&DbConfig {
        url,
        sqlite_idle_timeout: Duration::from_millis(200),
        ..DbConfig::default()
    })
    .await
    .expect("connect");
    // Concurrent calls make the pool open more than its one resident connection.
    let mut most = 0;
    for _ in 0..50 {
        let pings: Vec<_> = (0..32).map(|_| store.ping()).collect();
        for r in futures::future::join_all(pings).await {
            r.expect("ping");
        }
        most = most.max(store.pool_usage().open);
        if most > 2 {
            break;
        }
    }
    assert!(
        most > 1,
        "concurrent calls opened only {most} connection(s)"
    );
    // Idle timeout 200 ms, checked every 200 ms: after a second only the resident one is left.
    let mut open = u32::MAX;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        open = store.pool_usage().open;
        if open <= 1 {
            break;
        }
    }
    assert_eq!(open, 1, "idle connections were not closed");
    store
        .ping()
        .await
        .expect("the pool serves again after closing idle connections");
    store.close().await;
}
