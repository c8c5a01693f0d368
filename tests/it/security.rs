//! Security: token verification, the authorization policy on real data, the audit chain, and
//! the per-caller rate limit.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kinerja::auth::Role;
use kinerja::auth::jwt::{Claims, DEFAULT_AUDIENCE, DEV_ISSUER, DevKey};
use kinerja::clock::SystemClock;
use kinerja::proto::v1 as pb;
use kinerja::proto::v1::audit_service_client::AuditServiceClient;
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use tonic::Code;
use tonic_types::StatusExt;

use crate::harness::{TestServer, d, employee_msg, nip, test_key, token};

fn agency_req(code: &str) -> pb::CreateAgencyRequest {
    pb::CreateAgencyRequest {
        agency: Some(pb::Agency {
            code: code.into(),
            name: "Agency".into(),
            ..Default::default()
        }),
        request_id: String::new(),
    }
}

fn claims() -> Claims {
    Claims::new("sysadmin", DEV_ISSUER, DEFAULT_AUDIENCE, 3600).roles(&[Role::SystemAdmin])
}

#[tokio::test]
async fn bad_tokens_are_unauthenticated_and_reach_no_handler() {
    let s = TestServer::start().await;
    let key = test_key();
    let now = jsonwebtoken::get_current_timestamp() as i64;
    let sign = |c: Claims| key.sign(&c).expect("sign");
    let mut expired = claims();
    (expired.exp, expired.nbf) = (now - 3600, Some(now - 7200));
    let mut future = claims();
    (future.nbf, future.exp) = (Some(now + 3600), now + 7200);
    let mut wrong_iss = claims();
    wrong_iss.iss = "someone-else".into();
    let mut wrong_aud = claims();
    wrong_aud.aud = "payroll".into();
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims()).unwrap());
    let alg_none = format!(
        "{}.{payload}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#)
    );
    // Algorithm confusion: HS256 keyed with the (public) verification key.
    let jwks: serde_json::Value = serde_json::from_str(&key.jwks()).unwrap();
    let public_x = jwks["keys"][0]["x"].as_str().unwrap().to_owned();
    let mut hs_header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hs_header.kid = Some("kinerja-dev".into());
    let hs256 = jsonwebtoken::encode(
        &hs_header,
        &claims(),
        &jsonwebtoken::EncodingKey::from_secret(public_x.as_bytes()),
    )
    .unwrap();
    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing", None),
        ("malformed", Some("not-a-jwt".into())),
        ("expired", Some(sign(expired))),
        ("not yet valid", Some(sign(future))),
        ("wrong issuer", Some(sign(wrong_iss))),
        ("wrong audience", Some(sign(wrong_aud))),
        (
            "wrong key",
            Some(DevKey::from_seed([9; 32]).sign(&claims()).unwrap()),
        ),
        ("alg none", Some(alg_none)),
        ("HS256 with the public key", Some(hs256)),
    ];
    for (i, (why, tok)) in cases.into_iter().enumerate() {
        let mut client =
            kinerja::proto::v1::organization_service_client::OrganizationServiceClient::new(
                s.authed(tok.as_deref()),
            );
        let err = client
            .create_agency(agency_req(&format!("BAD{i}")))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated, "{why}: {err:?}");
    }
    let all = s
        .org()
        .list_agencies(pb::ListAgenciesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(
        all.agencies.is_empty(),
        "no handler ran: nothing was created"
    );
    // Health and reflection stay open by default.
    let mut health = tonic_health::pb::health_client::HealthClient::new(s.channel.clone());
    health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health open");
    s.stop().await;
}

/// Agency with units A and B; head H (assessor of S in 2025), head H2 (assessor of S since
/// 2026), staff S and another employee O, all in unit A.
struct World {
    s: TestServer,
    unit_a: String,
    unit_b: String,
    h: pb::Employee,
    staff: pb::Employee,
    /// O: no post at all.
    other: pb::Employee,
}

async fn world() -> World {
    let s = TestServer::start().await;
    let (agency, root) = s.agency_with_unit("SEC").await;
    let mk = |code: &'static str| {
        let mut c = s.org();
        let agency = agency.clone();
        let root = root.clone();
        async move {
            c.create_unit(pb::CreateUnitRequest {
                unit: Some(pb::Unit {
                    agency_id: agency,
                    parent_id: root,
                    code: code.into(),
                    name: code.into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .id
        }
    };
    let unit_a = mk("A").await;
    let unit_b = mk("B").await;
    let h = s.employee(&agency, &nip(1), "Kepala Lama").await;
    let h2 = s.employee(&agency, &nip(2), "Kepala Baru").await;
    let staff = s.employee(&agency, &nip(3), "Staf").await;
    let other = s.employee(&agency, &nip(4), "Orang Lain").await;
    let mut asg = s.assignments();
    for (emp, sup, start, end) in [
        (&staff.id, &h.id, d(2025, 1, 1), d(2025, 12, 31)),
        (&staff.id, &h2.id, d(2026, 1, 1), None),
    ] {
        asg.create_assignment(pb::CreateAssignmentRequest {
            assignment: Some(pb::Assignment {
                employee_id: emp.clone(),
                unit_id: unit_a.clone(),
                superior_employee_id: sup.clone(),
                position_name: "Analis".into(),
                position_type: pb::PositionType::Pelaksana as i32,
                start_date: start,
                end_date: end,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap();
    }
    World {
        s,
        unit_a,
        unit_b,
        h,
        staff,
        other,
    }
}

fn get(id: &str) -> pb::GetEmployeeRequest {
    pb::GetEmployeeRequest {
        key: Some(pb::get_employee_request::Key::Id(id.into())),
    }
}

#[tokio::test]
async fn permissions_follow_roles_relations_and_dates() {
    let w = world().await;
    let s = &w.s;
    let employee = |n: u32| token(&nip(n), &[Role::Employee], &[], &[]);
    let denied = |r: Result<tonic::Response<pb::Employee>, tonic::Status>, why: &str| {
        let err = r.expect_err(why);
        assert_eq!(err.code(), Code::PermissionDenied, "{why}");
        assert!(
            !err.message().contains("Staf"),
            "no resource data in refusals"
        );
    };

    // An employee reads themself but not another employee.
    s.employees_as(&employee(3))
        .get_employee(get(&w.staff.id))
        .await
        .expect("self");
    denied(
        s.employees_as(&employee(4))
            .get_employee(get(&w.staff.id))
            .await,
        "another employee",
    );
    // The assessor of 2025 is not the assessor now: refused today, allowed for a 2025 date.
    denied(
        s.employees_as(&employee(1))
            .get_employee(get(&w.staff.id))
            .await,
        "former assessor",
    );
    s.employees_as(&employee(2))
        .get_employee(get(&w.staff.id))
        .await
        .expect("current assessor");
    let old = s
        .assignments_as(&employee(1))
        .get_assessor(pb::GetAssessorRequest {
            employee_id: w.staff.id.clone(),
            date: d(2025, 6, 1),
        })
        .await
        .expect("assessor on a 2025 date");
    assert_eq!(old.into_inner().assessor.unwrap().id, w.h.id);
    let err = s
        .assignments_as(&employee(1))
        .get_assessor(pb::GetAssessorRequest {
            employee_id: w.staff.id.clone(),
            date: d(2026, 6, 1),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    // An employee cannot change their own record.
    let mut me = s
        .employees()
        .get_employee(get(&w.staff.id))
        .await
        .unwrap()
        .into_inner();
    me.name = "Diubah".into();
    let err = s
        .employees_as(&employee(3))
        .update_employee(pb::UpdateEmployeeRequest {
            employee: Some(me.clone()),
            update_mask: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    // Admin of unit A acts in A, not in B.
    let admin_a = token(
        "admin-a",
        &[Role::Admin],
        std::slice::from_ref(&w.unit_a),
        &[],
    );
    let assignment = |unit: &str, start| pb::CreateAssignmentRequest {
        assignment: Some(pb::Assignment {
            employee_id: w.h.id.clone(),
            unit_id: unit.into(),
            position_name: "Kepala".into(),
            position_type: pb::PositionType::Pengawas as i32,
            start_date: start,
            ..Default::default()
        }),
        request_id: String::new(),
    };
    let err = s
        .assignments_as(&admin_a)
        .create_assignment(assignment(&w.unit_b, d(2025, 1, 1)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    s.assignments_as(&admin_a)
        .create_assignment(assignment(&w.unit_a, d(2025, 1, 1)))
        .await
        .expect("admin in scope");
    s.employees_as(&admin_a)
        .get_employee(get(&w.staff.id))
        .await
        .expect("admin reads in scope");
    // An admin of unit B: not the staff of unit A; an employee without a post belongs to the
    // agency, where both admins have a unit.
    let admin_b = token(
        "admin-b",
        &[Role::Admin],
        std::slice::from_ref(&w.unit_b),
        &[],
    );
    denied(
        s.employees_as(&admin_b)
            .get_employee(get(&w.staff.id))
            .await,
        "admin of another unit",
    );
    for admin in [&admin_a, &admin_b] {
        s.employees_as(admin)
            .get_employee(get(&w.other.id))
            .await
            .expect("an employee without a post is read by the agency's admins");
    }

    // Auditor reads everything and writes nothing.
    let auditor = token("inspektorat", &[Role::Auditor], &[], &[]);
    s.employees_as(&auditor)
        .get_employee(get(&w.staff.id))
        .await
        .expect("auditor reads");
    let err = s
        .org_as(&auditor)
        .create_agency(agency_req("AUD"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = s
        .employees_as(&auditor)
        .update_employee(pb::UpdateEmployeeRequest {
            employee: Some(me.clone()),
            update_mask: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    // Service accounts need the scope.
    let payroll = token("svc-payroll", &[Role::Service], &[], &["results:read"]);
    denied(
        s.employees_as(&payroll)
            .get_employee(get(&w.staff.id))
            .await,
        "service without scope",
    );
    let simpeg = token("svc-simpeg", &[Role::Service], &[], &["employees:read"]);
    s.employees_as(&simpeg)
        .get_employee(get(&w.staff.id))
        .await
        .expect("service with scope");

    // Nothing refused changed anything.
    let now = s
        .employees()
        .get_employee(get(&w.staff.id))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (now.name.as_str(), now.etag.as_str()),
        ("Staf", me.etag.as_str())
    );
    let agencies = s
        .org()
        .list_agencies(pb::ListAgenciesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(agencies.agencies.len(), 1);
    let h_asg = s
        .assignments()
        .list_assignments(pb::ListAssignmentsRequest {
            employee_id: w.h.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        h_asg.assignments.len(),
        1,
        "only the in-scope assignment exists"
    );
    w.s.stop().await;
}

async fn audited(s: &TestServer) -> pb::Employee {
    let (agency, _) = s.agency_with_unit("AUDIT").await;
    let mut e = s.employee(&agency, &nip(11), "Versi 0").await;
    for i in 1..=4 {
        e.name = format!("Versi {i}");
        e = s
            .employees()
            .update_employee(pb::UpdateEmployeeRequest {
                employee: Some(e.clone()),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["name".into()],
                }),
            })
            .await
            .unwrap()
            .into_inner();
    }
    e
}

fn auditor_client(s: &TestServer) -> AuditServiceClient<crate::harness::Authed> {
    AuditServiceClient::new(s.authed(Some(&token("inspektorat", &[Role::Auditor], &[], &[]))))
}

/// The audit service's verification of every chain.
pub(crate) async fn verify(s: &TestServer) -> pb::VerifyAuditChainResponse {
    auditor_client(s)
        .verify_audit_chain(pb::VerifyAuditChainRequest {})
        .await
        .unwrap()
        .into_inner()
}

/// The audit entries of one employee, oldest first.
pub(crate) async fn history(s: &TestServer, id: &str) -> Vec<pb::AuditEntry> {
    auditor_client(s)
        .list_audit_entries(pb::ListAuditEntriesRequest {
            resource_type: "Employee".into(),
            resource_id: id.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries
}

async fn tamper(s: &TestServer, sqls: &[String]) {
    let db = Database::connect(&s.db_url)
        .await
        .expect("direct database access");
    let backend = db.get_database_backend();
    if backend == DbBackend::Postgres {
        // The trigger refuses changes; a database administrator can still switch it off.
        let err = db
            .execute_unprepared("UPDATE audit_log SET actor = actor")
            .await;
        assert!(err.is_err(), "the append-only trigger refuses UPDATE");
        db.execute_unprepared("ALTER TABLE audit_log DISABLE TRIGGER USER")
            .await
            .unwrap();
    }
    for sql in sqls {
        db.execute_raw(Statement::from_string(backend, sql.clone()))
            .await
            .expect("tamper");
    }
    db.close().await.ok();
}

#[tokio::test]
async fn audit_trail_records_every_change_and_detects_an_edit() {
    let s = TestServer::start().await;
    let e = audited(&s).await;
    let v = verify(&s).await;
    assert!(v.intact, "{:?}", v.broken);
    assert!(
        v.entries_checked >= 7,
        "agency, unit, employee and four updates"
    );
    let h = history(&s, &e.id).await;
    let actions: Vec<_> = h.iter().map(|x| x.action.as_str()).collect();
    assert_eq!(
        actions,
        vec!["create", "update", "update", "update", "update"]
    );
    assert!(
        h.iter()
            .all(|x| x.actor == "sysadmin" && !x.request_id.is_empty() && x.trace_id.len() == 32)
    );
    assert!(
        h.iter()
            .all(|x| x.rpc.starts_with("/kinerja.v1.EmployeeService/"))
    );
    let target = &h[2];
    tamper(
        &s,
        &[format!(
            "UPDATE audit_log SET change = '{{\"name\":\"forged\"}}' WHERE id = '{}'",
            target.id
        )],
    )
    .await;
    let v = verify(&s).await;
    assert!(!v.intact);
    assert_eq!(v.broken.len(), 1);
    assert_eq!(
        (
            v.broken[0].chain,
            v.broken[0].seq,
            v.broken[0].entry_id.as_str()
        ),
        (target.chain, target.seq, target.id.as_str())
    );
    s.stop().await;
}

#[tokio::test]
async fn audit_trail_detects_a_deleted_entry() {
    let s = TestServer::start().await;
    let e = audited(&s).await;
    let h = history(&s, &e.id).await;
    let gone = &h[1];
    tamper(
        &s,
        &[format!("DELETE FROM audit_log WHERE id = '{}'", gone.id)],
    )
    .await;
    let v = verify(&s).await;
    assert_eq!(v.broken.len(), 1);
    assert_eq!(
        (v.broken[0].chain, v.broken[0].seq),
        (gone.chain, gone.seq),
        "{:?}",
        v.broken
    );
    // Deleting the newest entry is caught by the chain head.
    let s2 = TestServer::start().await;
    let e2 = audited(&s2).await;
    let last = history(&s2, &e2.id).await.pop().unwrap();
    tamper(
        &s2,
        &[format!("DELETE FROM audit_log WHERE id = '{}'", last.id)],
    )
    .await;
    let v = verify(&s2).await;
    assert_eq!(v.broken.len(), 1);
    assert_eq!((v.broken[0].chain, v.broken[0].seq), (last.chain, last.seq));
    s.stop().await;
    s2.stop().await;
}

#[tokio::test]
async fn audit_trail_detects_reordering() {
    let s = TestServer::start().await;
    let e = audited(&s).await;
    let h = history(&s, &e.id).await;
    let (a, b) = (&h[1], &h[2]);
    assert_eq!(a.chain, b.chain);
    tamper(
        &s,
        &[
            format!("UPDATE audit_log SET seq = -1 WHERE id = '{}'", a.id),
            format!("UPDATE audit_log SET seq = {} WHERE id = '{}'", a.seq, b.id),
            format!("UPDATE audit_log SET seq = {} WHERE id = '{}'", b.seq, a.id),
        ],
    )
    .await;
    let v = verify(&s).await;
    assert_eq!(v.broken.len(), 1);
    assert_eq!(
        (
            v.broken[0].chain,
            v.broken[0].seq,
            v.broken[0].entry_id.as_str()
        ),
        (a.chain, a.seq, b.id.as_str())
    );
    s.stop().await;
}

#[tokio::test]
async fn rate_limit_is_per_caller() {
    let s = TestServer::start_with(
        |c| {
            c.auth.settings.rate_per_second = 1;
            c.auth.settings.rate_burst = 3;
        },
        Arc::new(SystemClock),
    )
    .await;
    let busy = token("busy", &[Role::Employee], &[], &[]);
    let mut limited = None;
    for _ in 0..10 {
        if let Err(e) = s
            .org_as(&busy)
            .list_agencies(pb::ListAgenciesRequest::default())
            .await
        {
            limited = Some(e);
            break;
        }
    }
    let err = limited.expect("the busy caller is limited");
    assert_eq!(err.code(), Code::ResourceExhausted);
    assert!(
        err.get_error_details()
            .retry_info()
            .and_then(|r| r.retry_delay)
            .is_some(),
        "retry delay in details"
    );
    let calm = token("calm", &[Role::Employee], &[], &[]);
    s.org_as(&calm)
        .list_agencies(pb::ListAgenciesRequest::default())
        .await
        .expect("another caller is unaffected");
    s.stop().await;
}

#[tokio::test]
async fn employee_in_a_write_is_recorded_with_the_calling_service() {
    let s = TestServer::start().await;
    let (agency, _) = s.agency_with_unit("ACT").await;
    let t = test_key()
        .sign(
            &Claims::new("sysadmin", DEV_ISSUER, DEFAULT_AUDIENCE, 600)
                .roles(&[Role::SystemAdmin])
                .acting_service(Some("e-kinerja-portal")),
        )
        .unwrap();
    let e = s
        .employees_as(&t)
        .create_employee(pb::CreateEmployeeRequest {
            employee: Some(employee_msg(&agency, &nip(5), "Lewat Portal")),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let h = history(&s, &e.id).await;
    assert_eq!(h[0].calling_service, "e-kinerja-portal");
    s.stop().await;
}
