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

/// Imports `rows` in one message of one stream.
async fn import_one(s: &TestServer, rows: Vec<pb::ImportRow>) -> pb::ImportEmployeesResponse {
    s.employees()
        .import_employees(tokio_stream::iter(vec![pb::ImportEmployeesRequest {
            rows,
        }]))
        .await
        .unwrap()
        .into_inner()
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
    let resp = import_one(&s, rows).await;
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
    let resp = import_one(&s, rows).await;
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

fn asg_dated(unit: &str, n: u32, start: (i32, i32), end: Option<(i32, i32)>) -> pb::ImportRow {
    pb::ImportRow {
        row: Some(pb::import_row::Row::Assignment(pb::ImportAssignment {
            employee_nip: nip(n),
            unit_id: unit.into(),
            superior_nip: String::new(),
            position_name: "Pelaksana".into(),
            position_type: pb::PositionType::Pelaksana as i32,
            start_date: d(start.0, start.1, 1),
            end_date: end.and_then(|(y, m)| d(y, m, 28)),
            kind: pb::AssignmentKind::Definitif as i32,
        })),
    }
}

/// Every employee listed for `unit` on 2026-03-01, following pages of 7.
async fn listed(s: &TestServer, unit: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let p = s
            .employees()
            .list_employees(pb::ListEmployeesRequest {
                unit_id: unit.into(),
                as_of_date: d(2026, 3, 1),
                page_size: 7,
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        out.extend(p.employees.into_iter().map(|e| e.nip));
        if p.next_page_token.is_empty() {
            return out;
        }
        token = p.next_page_token;
    }
}

/// The unit filter of ListEmployees answers the same for small subtrees (listed by member ids)
/// and large ones (more than 200 units: the agency's employees walked in id order, merged with
/// members seconded from other agencies), on the date asked for.
#[tokio::test]
async fn subtree_listing_is_the_same_for_small_and_large_subtrees() {
    let s = TestServer::start().await;
    // Employees of another agency, imported before and after this tree's (ids on both sides of
    // its members), some seconded into it.
    let (other, other_unit) = s.agency_with_unit("OTHER").await;
    let import = |rows| async {
        let resp = import_one(&s, rows).await;
        assert!(resp.committed, "{:?}", resp.errors);
    };
    import((50..55).map(|i| emp(&other, i)).collect()).await;
    let (agency, root) = s.agency_with_unit("TREE").await;
    let big = s.child_unit(&agency, &root, "BIG").await.id;
    let small = s.child_unit(&agency, &root, "SMALL").await.id;
    let s1 = s.child_unit(&agency, &small, "S1").await.id;
    let s2 = s.child_unit(&agency, &s1, "S2").await.id;
    let mut leaves = Vec::new();
    for i in 0..205 {
        leaves.push(s.child_unit(&agency, &big, &format!("LEAF{i:03}")).await.id);
    }
    // Employees 0..40: 0-4 in the root, 5-6 in SMALL, 7-8 in its child S1, 9 in S1's child S2,
    // 10-39 spread over BIG's leaves; 40-44 in
    // a leaf but only until 2025 (not members on the date), 45-49 only from 2027.
    let mut rows: Vec<_> = (0..50).map(|i| emp(&agency, i)).collect();
    for i in 0..50u32 {
        let (unit, start, end) = match i {
            0..=4 => (root.clone(), (2026, 1), None),
            5..=6 => (small.clone(), (2026, 1), None),
            7..=8 => (s1.clone(), (2026, 1), None),
            9 => (s2.clone(), (2026, 1), None),
            10..=39 => (leaves[(i as usize * 7) % 205].clone(), (2026, 1), None),
            40..=44 => (leaves[1].clone(), (2024, 1), Some((2025, 12))),
            _ => (leaves[2].clone(), (2027, 1), None),
        };
        rows.push(asg_dated(&unit, i, start, end));
    }
    import(rows).await;
    // Seconded (import path): 50-52 and 55-56 into BIG's leaves, 53 there only until 2025;
    // 57 stays in its own agency's unit.
    let mut rows: Vec<_> = (55..58).map(|i| emp(&other, i)).collect();
    for (i, unit, end) in [
        (50, &leaves[3], None),
        (51, &leaves[204], None),
        (52, &leaves[3], None),
        (53, &leaves[5], Some((2025, 12))),
        (55, &leaves[100], None),
        (56, &leaves[0], None),
        (57, &other_unit, None),
    ] {
        let start = if end.is_some() { (2024, 1) } else { (2026, 1) };
        rows.push(asg_dated(unit, i, start, end));
    }
    import(rows).await;
    // Seconded (CreateAssignment): 54 into the root itself.
    let e54 = s
        .employees()
        .get_employee(pb::GetEmployeeRequest {
            key: Some(pb::get_employee_request::Key::Nip(nip(54))),
        })
        .await
        .unwrap()
        .into_inner();
    s.assignments()
        .create_assignment(pb::CreateAssignmentRequest {
            assignment: Some(pb::Assignment {
                employee_id: e54.id,
                unit_id: root.clone(),
                position_name: "Analis".into(),
                position_type: pb::PositionType::Pelaksana as i32,
                kind: pb::AssignmentKind::Definitif as i32,
                start_date: d(2026, 1, 1),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap();

    let sorted = |v: &[String]| {
        let mut v = v.to_vec();
        v.sort();
        v
    };
    let nips = |r: std::ops::Range<u32>, more: &[u32]| {
        sorted(&r.chain(more.iter().copied()).map(nip).collect::<Vec<_>>())
    };
    let root_list = listed(&s, &root).await; // 210 units: large subtree
    assert_eq!(sorted(&root_list), nips(0..40, &[50, 51, 52, 54, 55, 56]));
    let big_list = listed(&s, &big).await; // 206 units: large subtree
    assert_eq!(sorted(&big_list), nips(10..40, &[50, 51, 52, 55, 56]));
    let small_list = listed(&s, &small).await; // three units: small
    assert_eq!(sorted(&small_list), nips(5..10, &[]));
    assert_eq!(sorted(&listed(&s, &s1).await), nips(7..10, &[])); // two units: small
    // Small subtrees with seconded members: a leaf with only 50 and 52; one with 30 and 53,
    // whose secondment ended in 2025.
    assert_eq!(sorted(&listed(&s, &leaves[3]).await), nips(50..51, &[52]));
    assert_eq!(listed(&s, &leaves[5]).await, vec![nip(30)]);
    let leaf = leaves[70].clone(); // employee 10: (10 * 7) % 205
    assert_eq!(listed(&s, &leaf).await, vec![nip(10)]);
    assert!(listed(&s, &leaves[1]).await.is_empty(), "ended in 2025");
    assert!(listed(&s, &leaves[2]).await.is_empty(), "starts in 2027");

    // Both plans return pages in the same (id) order as an unfiltered listing.
    let all = s
        .employees()
        .list_employees(pb::ListEmployeesRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .employees;
    let order: Vec<String> = all.into_iter().map(|e| e.nip).collect();
    let in_order = |v: &[String]| {
        let pos: Vec<usize> = v
            .iter()
            .map(|n| order.iter().position(|o| o == n).expect("listed"))
            .collect();
        pos.windows(2).all(|w| w[0] < w[1])
    };
    assert!(in_order(&root_list) && in_order(&big_list) && in_order(&small_list));
    s.stop().await;
}

/// The bulk insert path (one `unnest` statement per table on PostgreSQL, multi-row statements
/// of 2,000 rows on SQLite) stores exactly what the single-row calls would: every field, NULL
/// superiors and end dates, version 1, across statement chunks; and the batch's audit entry
/// keeps the hash chain intact.
#[tokio::test]
async fn bulk_insert_stores_every_field_across_chunks_and_keeps_the_audit_chain() {
    use kinerja::auth::Role;
    use kinerja::proto::v1::audit_service_client::AuditServiceClient;

    let s = TestServer::start().await;
    let (agency, unit) = s.agency_with_unit("CHUNK").await;
    // 4,500 employees: more than two SQLite statements of 2,000 rows per table.
    const N: u32 = 4_500;
    let mut rows: Vec<_> = (0..N).map(|i| emp(&agency, i)).collect();
    if let Some(pb::import_row::Row::Employee(e)) = &mut rows[7].row {
        e.name = "ÄNNE Über-Straße".into();
        e.status = pb::EmploymentStatus::Pppk as i32;
    }
    for i in 0..N {
        let mut a = asg(&unit, i, (i > 0).then_some(0));
        if i == 4_321
            && let Some(pb::import_row::Row::Assignment(x)) = &mut a.row
        {
            x.end_date = d(2026, 12, 31);
            x.kind = pb::AssignmentKind::Plt as i32;
            x.position_name = "Plt. Kepala Seksi".into();
        }
        rows.push(a);
    }
    let msgs: Vec<_> = rows
        .chunks(1000)
        .map(|c| pb::ImportEmployeesRequest { rows: c.to_vec() })
        .collect();
    let resp = s
        .employees()
        .import_employees(tokio_stream::iter(msgs))
        .await
        .unwrap()
        .into_inner();
    assert!(resp.committed, "{:?}", resp.errors);
    assert_eq!(
        (resp.employees_created, resp.assignments_created),
        (N as i64, N as i64)
    );
    assert_eq!(count(&s, &agency).await, N as usize);

    let get = |n: u32| {
        let s = &s;
        async move {
            s.employees()
                .get_employee(pb::GetEmployeeRequest {
                    key: Some(pb::get_employee_request::Key::Nip(nip(n))),
                })
                .await
                .unwrap()
                .into_inner()
        }
    };
    let odd = get(7).await;
    assert_eq!(odd.name, "ÄNNE Über-Straße");
    assert_eq!(odd.status, pb::EmploymentStatus::Pppk as i32);
    assert_eq!(odd.agency_id, agency);
    assert_eq!(odd.etag, "1");
    assert!(odd.create_time.is_some() && odd.update_time == odd.create_time);
    // The lower-case name column feeds the name-prefix filter.
    let found = s
        .employees()
        .list_employees(pb::ListEmployeesRequest {
            agency_id: agency.clone(),
            name_prefix: "änne über".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.employees.len(), 1);
    assert_eq!(found.employees[0].id, odd.id);

    let head = get(0).await;
    let assignments_of = |id: String| {
        let s = &s;
        async move {
            s.assignments()
                .list_assignments(pb::ListAssignmentsRequest {
                    employee_id: id,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
                .assignments
        }
    };
    let top = assignments_of(head.id.clone()).await;
    assert_eq!(top.len(), 1);
    assert_eq!(
        top[0].superior_employee_id, "",
        "no superior stored as NULL"
    );
    assert_eq!(top[0].end_date, None, "no end date stored as NULL");
    assert_eq!(top[0].unit_id, unit);
    assert_eq!(top[0].start_date, d(2026, 1, 1));
    assert_eq!(top[0].kind, pb::AssignmentKind::Definitif as i32);
    assert_eq!(top[0].position_type, pb::PositionType::Pelaksana as i32);
    assert_eq!(top[0].etag, "1");

    let plt = assignments_of(get(4_321).await.id).await;
    assert_eq!(plt.len(), 1);
    assert_eq!(plt[0].superior_employee_id, head.id);
    assert_eq!(plt[0].end_date, d(2026, 12, 31));
    assert_eq!(plt[0].kind, pb::AssignmentKind::Plt as i32);
    assert_eq!(plt[0].position_name, "Plt. Kepala Seksi");

    // Everybody but the head reports to the head.
    let mut reports = 0;
    let mut token = String::new();
    loop {
        let page = s
            .assignments()
            .list_direct_reports(pb::ListDirectReportsRequest {
                employee_id: head.id.clone(),
                date: d(2026, 3, 1),
                page_size: 1000,
                page_token: token,
            })
            .await
            .unwrap()
            .into_inner();
        reports += page.reports.len();
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(reports, N as usize - 1);

    let auditor = crate::harness::token("inspektorat", &[Role::Auditor], &[], &[]);
    let verdict = AuditServiceClient::new(s.authed(Some(&auditor)))
        .verify_audit_chain(pb::VerifyAuditChainRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(verdict.intact, "{:?}", verdict.broken);
    assert!(verdict.entries_checked >= 1);
    s.stop().await;
}
