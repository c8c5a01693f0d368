//! Bulk import: all-or-nothing batches with per-row errors.

use kinerja::proto::v1 as pb;

use crate::harness::{TestServer, d, employee_msg, nip};

fn emp(agency: &str, n: u32) -> pb::ImportRow {
    pb::ImportRow {
        row: Some(pb::import_row::Row::Employee(employee_msg(
            agency,
            &nip(n),
            &format!("Pegawai {n}"),
        ))),
    }
}

fn asg(unit: &str, n: u32, sup: Option<u32>) -> pb::ImportRow {
    pb::ImportRow {
        row: Some(pb::import_row::Row::Assignment(pb::ImportAssignment {
            employee_nip: nip(n),
            unit_id: unit.into(),
            superior_nip: sup.map(nip).unwrap_or_default(),
            position_name: "Pelaksana".into(),
            position_type: pb::PositionType::Pelaksana as i32,
            start_date: d(2026, 1, 1),
            end_date: None,
            kind: pb::AssignmentKind::Definitif as i32,
        })),
    }
}

async fn count(s: &TestServer, agency: &str) -> usize {
    let mut n = 0;
    let mut token = String::new();
    loop {
        let p = s
            .employees()
            .list_employees(pb::ListEmployeesRequest {
                agency_id: agency.into(),
                page_size: 1000,
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        n += p.employees.len();
        if p.next_page_token.is_empty() {
            return n;
        }
        token = p.next_page_token;
    }
}

#[tokio::test]
async fn one_bad_row_among_ten_thousand_stores_nothing() {
    let s = TestServer::start().await;
    let (agency, _) = s.agency_with_unit("BULK").await;
    let mut rows: Vec<_> = (0..10_000).map(|i| emp(&agency, i)).collect();
    if let Some(pb::import_row::Row::Employee(e)) = &mut rows[6_789].row {
        e.nip = "198502302010011001".into(); // 30 February
    }
    // Streamed in several messages; row numbers count across them.
    let msgs: Vec<_> = rows
        .chunks(1000)
        .map(|c| pb::ImportEmployeesRequest { rows: c.to_vec() })
        .collect();
    let resp = s
        .employees()
        .import_employees(tokio_stream::iter(msgs))
        .await
        .expect("import answers")
        .into_inner();
    assert!(!resp.committed);
    assert_eq!(resp.rows_received, 10_000);
    assert_eq!(resp.error_count, 1);
    assert_eq!(resp.errors[0].row, 6_790);
    assert_eq!(resp.errors[0].field, "employee.nip");
    assert_eq!(resp.employees_created, 0);
    assert_eq!(count(&s, &agency).await, 0, "nothing stored");
    s.stop().await;
}

#[tokio::test]
async fn import_employees_with_assignments_and_reference_errors() {
    let s = TestServer::start().await;
    let (agency, unit) = s.agency_with_unit("IMP").await;
    // Head, then two staff reporting to the head, in one batch.
    let rows = vec![
        emp(&agency, 1),
        emp(&agency, 2),
        emp(&agency, 3),
        asg(&unit, 1, None),
        asg(&unit, 2, Some(1)),
        asg(&unit, 3, Some(1)),
    ];
    let resp = s
        .employees()
        .import_employees(tokio_stream::iter(vec![pb::ImportEmployeesRequest {
            rows,
        }]))
        .await
        .unwrap()
        .into_inner();
    assert!(resp.committed, "{:?}", resp.errors);
    assert_eq!((resp.employees_created, resp.assignments_created), (3, 3));
    let head = s
        .employees()
        .get_employee(pb::GetEmployeeRequest {
            key: Some(pb::get_employee_request::Key::Nip(nip(1))),
        })
        .await
        .unwrap()
        .into_inner();
    let reports = s
        .assignments()
        .list_direct_reports(pb::ListDirectReportsRequest {
            employee_id: head.id,
            date: d(2026, 3, 1),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reports.reports.len(), 2);

    // Second batch: a duplicate NIP, an unknown superior, an overlap with a stored assignment.
    let rows = vec![
        emp(&agency, 1),
        emp(&agency, 4),
        asg(&unit, 4, Some(77)),
        asg(&unit, 2, Some(1)),
    ];
    let resp = s
        .employees()
        .import_employees(tokio_stream::iter(vec![pb::ImportEmployeesRequest {
            rows,
        }]))
        .await
        .unwrap()
        .into_inner();
    assert!(!resp.committed);
    let got: Vec<_> = resp
        .errors
        .iter()
        .map(|e| (e.row, e.field.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, "employee.nip"),
            (3, "assignment.superior_nip"),
            (4, "assignment.start_date")
        ]
    );
    assert_eq!(
        count(&s, &agency).await,
        3,
        "nothing of the bad batch stored"
    );
    s.stop().await;
}
