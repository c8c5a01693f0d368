//! Employees: NIP validation, paging, etags, idempotent creates, concurrent writers.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use kinerja::proto::v1 as pb;
use tonic::Code;
use tonic_types::StatusExt;

use crate::harness::{TestServer, employee_msg, nip};

#[tokio::test]
async fn invalid_nips_name_the_field_and_duplicates_are_refused() {
    let s = TestServer::start().await;
    let (agency, _) = s.agency_with_unit("NIP").await;
    for (bad, why) in [
        ("19850315201001100", "wrong length"),
        ("1985031520100110011", "wrong length"),
        ("19850315201001100X", "letters"),
        ("198502302010011001", "impossible birth date"),
        ("198503152010013001", "sex digit 3"),
    ] {
        let err = s
            .employees()
            .create_employee(pb::CreateEmployeeRequest {
                employee: Some(employee_msg(&agency, bad, "Budi")),
                request_id: String::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{why}");
        let details = err.get_error_details();
        let fields: Vec<_> = details
            .bad_request()
            .expect("BadRequest details")
            .field_violations
            .iter()
            .map(|v| v.field.clone())
            .collect();
        assert_eq!(fields, vec!["employee.nip".to_owned()], "{why}");
    }
    s.employee(&agency, "198503152010011001", "Budi").await;
    let err = s
        .employees()
        .create_employee(pb::CreateEmployeeRequest {
            employee: Some(employee_msg(&agency, "198503152010011001", "Budi Lagi")),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    let by_nip = s
        .employees()
        .get_employee(pb::GetEmployeeRequest {
            key: Some(pb::get_employee_request::Key::Nip(
                "198503152010011001".into(),
            )),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_nip.name, "Budi");
    s.stop().await;
}

async fn import(s: &TestServer, rows: Vec<pb::ImportRow>) -> pb::ImportEmployeesResponse {
    s.employees()
        .import_employees(tokio_stream::iter(vec![pb::ImportEmployeesRequest {
            rows,
        }]))
        .await
        .expect("import")
        .into_inner()
}

fn emp_row(agency: &str, n: u32, name: &str) -> pb::ImportRow {
    pb::ImportRow {
        row: Some(pb::import_row::Row::Employee(employee_msg(
            agency,
            &nip(n),
            name,
        ))),
    }
}

#[tokio::test]
async fn paging_returns_each_employee_once_while_others_are_inserted() {
    let s = TestServer::start().await;
    let (agency, _) = s.agency_with_unit("PAGE").await;
    let rows = (0..1000)
        .map(|i| emp_row(&agency, i, &format!("Pegawai {i}")))
        .collect();
    assert!(import(&s, rows).await.committed);

    // Keep inserting other employees while paging.
    let writer = {
        let client = s.employees();
        let agency = agency.clone();
        tokio::spawn(async move {
            let mut client = client;
            for i in 0..60u32 {
                client
                    .create_employee(pb::CreateEmployeeRequest {
                        employee: Some(employee_msg(&agency, &nip(500_000 + i), "Baru")),
                        request_id: String::new(),
                    })
                    .await
                    .expect("concurrent insert");
            }
        })
    };
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = s
            .employees()
            .list_employees(pb::ListEmployeesRequest {
                agency_id: agency.clone(),
                page_size: 7,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .expect("page")
            .into_inner();
        assert!(page.employees.len() <= 7);
        seen.extend(page.employees.into_iter().map(|e| (e.id, e.name)));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    writer.await.expect("writer");
    let ids: Vec<_> = seen.iter().map(|(id, _)| id.clone()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "stable order");
    let unique: HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "no employee twice");
    let originals = seen
        .iter()
        .filter(|(_, n)| n.starts_with("Pegawai"))
        .count();
    assert_eq!(originals, 1000, "every original employee exactly once");
    s.stop().await;
}

#[tokio::test]
async fn name_prefix_and_position_filters() {
    let s = TestServer::start().await;
    let (agency, _) = s.agency_with_unit("FILT").await;
    s.employee(&agency, &nip(1), "Siti Aminah").await;
    s.employee(&agency, &nip(2), "siti Rahma").await;
    s.employee(&agency, &nip(3), "Agus").await;
    s.employee(&agency, &nip(4), "Sitj").await;
    s.employee(&agency, &nip(5), "Siti_Nur").await;
    s.employee(&agency, &nip(6), "Sit").await;
    let names = |prefix: &'static str| {
        let mut client = s.employees();
        async move {
            let mut names: Vec<String> = client
                .list_employees(pb::ListEmployeesRequest {
                    name_prefix: prefix.into(),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
                .employees
                .into_iter()
                .map(|e| e.name)
                .collect();
            names.sort();
            names
        }
    };
    // Case-insensitive, exact prefix: not "Sit" (shorter), not "Sitj" (the next string).
    assert_eq!(
        names("SITI").await,
        ["Siti Aminah", "Siti_Nur", "siti Rahma"]
    );
    // `_` and `%` are characters of the name, not wildcards.
    assert_eq!(names("siti_").await, ["Siti_Nur"]);
    assert!(names("s%").await.is_empty());
    assert!(names("sit_").await.is_empty());
    assert_eq!(names("agus").await, ["Agus"]);
    let page = s
        .employees()
        .list_employees(pb::ListEmployeesRequest {
            position_type: pb::PositionType::Jpt as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(page.employees.is_empty());
    s.stop().await;
}

#[tokio::test]
async fn concurrent_updates_with_one_etag_let_exactly_one_win() {
    let s = TestServer::start().await;
    let (agency, _) = s.agency_with_unit("ETAG").await;
    let e = s.employee(&agency, &nip(7), "Awal").await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let mut client = s.employees();
        let mut upd = e.clone();
        upd.name = format!("Nama {i}");
        tasks.push(tokio::spawn(async move {
            client
                .update_employee(pb::UpdateEmployeeRequest {
                    employee: Some(upd),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["name".into()],
                    }),
                })
                .await
        }));
    }
    let mut ok = 0;
    let mut aborted = 0;
    for t in tasks {
        match t.await.expect("join") {
            Ok(_) => ok += 1,
            Err(st) if st.code() == Code::Aborted => aborted += 1,
            Err(st) => panic!("unexpected {st:?}"),
        }
    }
    assert_eq!((ok, aborted), (1, 15));
    // Only the update that won left an audit entry; the chains are intact.
    let actions: Vec<String> = crate::security::history(&s, &e.id)
        .await
        .into_iter()
        .map(|x| x.action)
        .collect();
    assert_eq!(actions, ["create", "update"]);
    let v = crate::security::verify(&s).await;
    assert!(v.intact, "{:?}", v.broken);
    let now = s
        .employees()
        .get_employee(pb::GetEmployeeRequest {
            key: Some(pb::get_employee_request::Key::Id(e.id.clone())),
        })
        .await
        .unwrap()
        .into_inner();
    assert_ne!(now.etag, e.etag);
    assert!(now.name.starts_with("Nama "));
    // Updating a field outside the allowed list is refused.
    let err = s
        .employees()
        .update_employee(pb::UpdateEmployeeRequest {
            employee: Some(now.clone()),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["nip".into()],
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    s.stop().await;
}

#[tokio::test]
async fn concurrent_creates_with_one_request_id_make_one_row() {
    let s = TestServer::start().await;
    let (agency, _) = s.agency_with_unit("IDEM").await;
    let rid = uuid::Uuid::new_v4().to_string();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let mut client = s.employees();
        let req = pb::CreateEmployeeRequest {
            employee: Some(employee_msg(&agency, &nip(42), "Sekali")),
            request_id: rid.clone(),
        };
        tasks.push(tokio::spawn(
            async move { client.create_employee(req).await },
        ));
    }
    let mut ids = HashSet::new();
    for t in tasks {
        ids.insert(
            t.await
                .expect("join")
                .expect("create or replay")
                .into_inner()
                .id,
        );
    }
    assert_eq!(ids.len(), 1, "every retry returns the same resource");
    let page = s
        .employees()
        .list_employees(pb::ListEmployeesRequest {
            agency_id: agency.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.employees.len(), 1, "one row");
    // The same id with a different request is refused.
    let err = s
        .employees()
        .create_employee(pb::CreateEmployeeRequest {
            employee: Some(employee_msg(&agency, &nip(43), "Lain")),
            request_id: rid,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    s.stop().await;
}

#[tokio::test]
async fn concurrent_writers_never_see_database_is_locked() {
    let s = TestServer::start().await;
    let (agency, _) = s.agency_with_unit("LOCK").await;
    let mut base = Vec::new();
    for i in 0..8u32 {
        base.push(s.employee(&agency, &nip(900_000 + i), "Penulis").await);
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut tasks = Vec::new();
    for (w, e) in base.into_iter().enumerate() {
        let mut client = s.employees();
        let agency = agency.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u32;
            let mut cur = e;
            let mut errors = Vec::new();
            while Instant::now() < deadline {
                // Alternate read-modify-write updates and inserts.
                cur.name = format!("Penulis {w} {n}");
                match client
                    .update_employee(pb::UpdateEmployeeRequest {
                        employee: Some(cur.clone()),
                        update_mask: Some(prost_types::FieldMask {
                            paths: vec!["name".into()],
                        }),
                    })
                    .await
                {
                    Ok(r) => cur = r.into_inner(),
                    Err(e) => errors.push(e.message().to_owned()),
                }
                let seq = 100_000 + (w as u32) * 10_000 + n;
                if let Err(e) = client
                    .create_employee(pb::CreateEmployeeRequest {
                        employee: Some(employee_msg(&agency, &nip(seq), "Tambahan")),
                        request_id: String::new(),
                    })
                    .await
                {
                    errors.push(e.message().to_owned());
                }
                n += 1;
            }
            (n, errors)
        }));
    }
    let mut total = 0;
    for t in tasks {
        let (n, errors) = t.await.expect("join");
        assert!(errors.is_empty(), "writer errors: {errors:?}");
        total += n;
    }
    assert!(total > 8, "writers made progress ({total} rounds)");
    // The writers' audit entries share 16 chains: every chain is still whole.
    let v = crate::security::verify(&s).await;
    assert!(v.intact, "{:?}", v.broken);
    assert!(v.entries_checked > i64::from(total), "{total} rounds");
    s.stop().await;
}

/// Every NIP that `ListEmployees` returns for `req`, walking its pages; fails on a repeated
/// employee or a page out of creation (id) order.
async fn list_all(s: &TestServer, mut req: pb::ListEmployeesRequest) -> Vec<String> {
    let (mut nips, mut last_id) = (Vec::new(), String::new());
    loop {
        let page = s
            .employees()
            .list_employees(req.clone())
            .await
            .expect("list employees")
            .into_inner();
        for e in page.employees {
            assert!(e.id > last_id, "pages are in id order without repeats");
            last_id = e.id;
            nips.push(e.nip);
        }
        if page.next_page_token.is_empty() {
            return nips;
        }
        req.page_token = page.next_page_token;
    }
}

/// The unit filter lists exactly the employees assigned on the date to the unit or a unit
/// below it, whether the subtree is small (members collected in the database) or large (more
/// than 200 units: employees walked in id order), combined with the other filters and paged.
#[tokio::test]
async fn unit_subtree_filter_lists_current_members_small_and_large() {
    let s = TestServer::start().await;
    let (agency, root) = s.agency_with_unit("TREE").await;
    let (other_agency, other_root) = s.agency_with_unit("ELSEWHERE").await;
    // root -> p -> {p1 -> p11, p2}; root -> big -> 205 leaves.
    let p = s.child_unit(&agency, &root, "P").await.id;
    let p1 = s.child_unit(&agency, &p, "P1").await.id;
    let p2 = s.child_unit(&agency, &p, "P2").await.id;
    let p11 = s.child_unit(&agency, &p1, "P11").await.id;
    let big = s.child_unit(&agency, &root, "BIG").await.id;
    let mut leaves = Vec::new();
    for i in 0..205 {
        leaves.push(s.child_unit(&agency, &big, &format!("BIG-{i}")).await.id);
    }
    // (unit, ancestors-or-self) of every unit that gets members.
    let mut homes: Vec<(String, Vec<String>)> = vec![
        (root.clone(), vec![root.clone()]),
        (p.clone(), vec![root.clone(), p.clone()]),
        (p1.clone(), vec![root.clone(), p.clone(), p1.clone()]),
        (p2.clone(), vec![root.clone(), p.clone(), p2.clone()]),
        (
            p11.clone(),
            vec![root.clone(), p.clone(), p1.clone(), p11.clone()],
        ),
        (big.clone(), vec![root.clone(), big.clone()]),
    ];
    for leaf in leaves.iter().step_by(7).chain(leaves.last()) {
        homes.push((leaf.clone(), vec![root.clone(), big.clone(), leaf.clone()]));
    }
    let on = (2026, 3, 1);
    // Employee n: unit homes[n % len]; every fifth one's post ended before `on`, every
    // seventh one's starts after it; position types alternate.
    let mut rows = Vec::new();
    let mut current: Vec<(String, usize, i32)> = Vec::new(); // (nip, home, position type)
    for n in 0..120u32 {
        let home = n as usize % homes.len();
        let position_type = if n % 2 == 0 {
            pb::PositionType::Pelaksana
        } else {
            pb::PositionType::Jf
        } as i32;
        let mut e = employee_msg(&agency, &nip(5_000 + n), &format!("Pegawai {n}"));
        e.position_type = position_type;
        rows.push(pb::ImportRow {
            row: Some(pb::import_row::Row::Employee(e)),
        });
        let (start, end) = match n {
            n if n % 5 == 0 => (
                crate::harness::d(2025, 1, 1),
                crate::harness::d(2026, 2, 28),
            ),
            n if n % 7 == 0 => (crate::harness::d(2026, 3, 2), None),
            _ => (crate::harness::d(2026, 1, 1), None),
        };
        if n % 5 != 0 && n % 7 != 0 {
            current.push((nip(5_000 + n), home, position_type));
        }
        rows.push(pb::ImportRow {
            row: Some(pb::import_row::Row::Assignment(pb::ImportAssignment {
                employee_nip: nip(5_000 + n),
                unit_id: homes[home].0.clone(),
                position_name: "Analis".into(),
                position_type,
                start_date: start,
                end_date: end,
                kind: pb::AssignmentKind::Definitif as i32,
                ..Default::default()
            })),
        });
    }
    // A member of another agency's tree.
    rows.push(pb::ImportRow {
        row: Some(pb::import_row::Row::Employee(employee_msg(
            &other_agency,
            &nip(9_999),
            "Luar",
        ))),
    });
    rows.push(pb::ImportRow {
        row: Some(pb::import_row::Row::Assignment(pb::ImportAssignment {
            employee_nip: nip(9_999),
            unit_id: other_root.clone(),
            position_name: "Analis".into(),
            position_type: pb::PositionType::Pelaksana as i32,
            start_date: crate::harness::d(2026, 1, 1),
            kind: pb::AssignmentKind::Definitif as i32,
            ..Default::default()
        })),
    });
    let done = import(&s, rows).await;
    assert!(done.errors.is_empty(), "{:?}", done.errors);

    for unit in [
        &root,
        &p,
        &p1,
        &p11,
        &p2,
        &big,
        &leaves[0],
        &leaves[204],
        &leaves[1],
    ] {
        for position_type in [0, pb::PositionType::Jf as i32] {
            let mut want: Vec<String> = current
                .iter()
                .filter(|(_, h, t)| {
                    homes[*h].1.contains(unit) && (position_type == 0 || *t == position_type)
                })
                .map(|(n, _, _)| n.clone())
                .collect();
            let got = list_all(
                &s,
                pb::ListEmployeesRequest {
                    unit_id: unit.clone(),
                    as_of_date: crate::harness::d(on.0, on.1, on.2),
                    position_type,
                    agency_id: agency.clone(),
                    page_size: 3,
                    ..Default::default()
                },
            )
            .await;
            // `list_all` checked the id order; the members are compared as sets.
            let mut sorted = got.clone();
            sorted.sort();
            want.sort();
            assert_eq!(sorted, want, "unit {unit}, position type {position_type}");
        }
    }
    // Nothing of the tree for a unit of another agency, and the other agency's member there.
    let theirs = list_all(
        &s,
        pb::ListEmployeesRequest {
            unit_id: other_root.clone(),
            as_of_date: crate::harness::d(on.0, on.1, on.2),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(theirs, vec![nip(9_999)]);
    s.stop().await;
}
