//! TLS and mutual TLS: clients without a certificate, or with one from another CA, are refused
//! at the handshake; a client certificate's common name is recorded as the calling service.

use std::path::Path;
use std::sync::Arc;

use kinerja::auth::Role;
use kinerja::clock::SystemClock;
use kinerja::proto::v1 as pb;
use kinerja::proto::v1::audit_service_client::AuditServiceClient;
use kinerja::proto::v1::organization_service_client::OrganizationServiceClient;
use kinerja::server::TlsFiles;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

use crate::harness::{Bearer, TestServer, token};

struct Pki {
    ca: CertifiedIssuer<'static, KeyPair>,
}

impl Pki {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let ca =
            CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("ca");
        Self { ca }
    }

    /// (certificate PEM, key PEM) for `cn` with the given subject alternative names.
    fn leaf(&self, cn: &str, sans: &[&str]) -> (String, String) {
        let key = KeyPair::generate().expect("key");
        let mut params =
            CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .expect("params");
        params.distinguished_name.push(DnType::CommonName, cn);
        let cert = params.signed_by(&key, &self.ca).expect("sign");
        (cert.pem(), key.serialize_pem())
    }
}

fn write(dir: &Path, name: &str, body: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).expect("write");
    p
}

async fn client(
    addr: std::net::SocketAddr,
    ca_pem: &str,
    identity: Option<&(String, String)>,
) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca_pem))
        .domain_name("localhost");
    if let Some((cert, key)) = identity {
        tls = tls.identity(Identity::from_pem(cert, key));
    }
    Endpoint::from_shared(format!("https://127.0.0.1:{}", addr.port()))?
        .tls_config(tls)?
        .connect()
        .await
}

#[tokio::test]
async fn mutual_tls_refuses_unknown_clients_and_names_the_calling_service() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = Pki::new("Kinerja Test CA");
    let other = Pki::new("Another CA");
    let (srv_cert, srv_key) = pki.leaf("kinerja", &["localhost", "127.0.0.1"]);
    let tls = TlsFiles {
        cert: write(dir.path(), "server.pem", &srv_cert),
        key: write(dir.path(), "server.key", &srv_key),
        client_ca: Some(write(dir.path(), "ca.pem", &pki.ca.pem())),
    };
    let s = TestServer::start_tls(tls, Arc::new(SystemClock)).await;
    let ca_pem = pki.ca.pem();
    let admin = token("sysadmin", &[Role::SystemAdmin], &[], &[]);
    let create = |code: &str| pb::CreateAgencyRequest {
        agency: Some(pb::Agency {
            code: code.into(),
            name: "Agency".into(),
            ..Default::default()
        }),
        request_id: String::new(),
    };

    // No client certificate, and a certificate from another CA: refused at the handshake.
    let portal_other = other.leaf("svc-portal", &[]);
    for (why, id) in [
        ("no certificate", None),
        ("another CA", Some(&portal_other)),
    ] {
        let refused = match client(s.addr(), &ca_pem, id).await {
            Err(_) => true,
            Ok(ch) => {
                let mut c = OrganizationServiceClient::new(InterceptedService::new(
                    ch,
                    Bearer(Some(admin.clone())),
                ));
                c.create_agency(create("REFUSED")).await.is_err()
            }
        };
        assert!(refused, "{why}: the handshake must fail");
    }

    // A certificate from the trusted CA works; its CN is the calling service in the audit trail.
    let portal = pki.leaf("svc-portal", &[]);
    let ch = client(s.addr(), &ca_pem, Some(&portal))
        .await
        .expect("mTLS handshake");
    let mut c = OrganizationServiceClient::new(InterceptedService::new(
        ch.clone(),
        Bearer(Some(admin.clone())),
    ));
    let agency = c
        .create_agency(create("MTLS"))
        .await
        .expect("call over mTLS")
        .into_inner();
    let all = c
        .list_agencies(pb::ListAgenciesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.agencies.len(), 1, "the refused clients created nothing");
    let auditor = token("inspektorat", &[Role::Auditor], &[], &[]);
    let mut audit = AuditServiceClient::new(InterceptedService::new(ch, Bearer(Some(auditor))));
    let entries = audit
        .list_audit_entries(pb::ListAuditEntriesRequest {
            resource_type: "Agency".into(),
            resource_id: agency.id,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(entries[0].calling_service, "svc-portal");
    s.stop().await;
}
