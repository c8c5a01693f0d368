//! Dated assignments: overlaps, the assessor on a date, direct reports on a date, mutasi.

use kinerja::proto::v1 as pb;
use tonic::Code;

use crate::harness::{TestServer, d, nip};

async fn assign(
    s: &TestServer,
    emp: &str,
    unit: &str,
    sup: &str,
    start: Option<pb::Date>,
    end: Option<pb::Date>,
    kind: pb::AssignmentKind,
) -> Result<pb::Assignment, tonic::Status> {
    s.assignments()
        .create_assignment(pb::CreateAssignmentRequest {
            assignment: Some(pb::Assignment {
                employee_id: emp.into(),
                unit_id: unit.into(),
                superior_employee_id: sup.into(),
                position_name: "Analis".into(),
                position_type: pb::PositionType::Pelaksana as i32,
                kind: kind as i32,
                start_date: start,
                end_date: end,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn assessor_and_reports_follow_the_dates() {
    let s = TestServer::start().await;
    let (agency, unit) = s.agency_with_unit("ASG").await;
    let kepala_a = s.employee(&agency, &nip(1), "Kepala A").await;
    let kepala_b = s.employee(&agency, &nip(2), "Kepala B").await;
    let staf = s.employee(&agency, &nip(3), "Staf").await;
    use pb::AssignmentKind::{Definitif, Plt};

    // Staf reports to A in the first half, to B from July (mutasi).
    let first = assign(
        &s,
        &staf.id,
        &unit,
        &kepala_a.id,
        d(2026, 1, 1),
        d(2026, 6, 30),
        Definitif,
    )
    .await
    .unwrap();
    assign(
        &s,
        &staf.id,
        &unit,
        &kepala_b.id,
        d(2026, 7, 1),
        None,
        Definitif,
    )
    .await
    .unwrap();
    // Overlaps are refused with the reason.
    let err = assign(
        &s,
        &staf.id,
        &unit,
        &kepala_a.id,
        d(2026, 6, 1),
        None,
        Definitif,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("overlaps"), "{}", err.message());
    // A Plt post may overlap the definitive one.
    assign(
        &s,
        &staf.id,
        &unit,
        &kepala_a.id,
        d(2026, 3, 1),
        d(2026, 3, 31),
        Plt,
    )
    .await
    .unwrap();
    // End before start, self as superior, unknown unit.
    let err = assign(
        &s,
        &staf.id,
        &unit,
        "",
        d(2027, 2, 1),
        d(2027, 1, 1),
        Definitif,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = assign(
        &s,
        &staf.id,
        &unit,
        &staf.id,
        d(2028, 1, 1),
        None,
        Definitif,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    let who = |date| {
        let mut c = s.assignments();
        let id = staf.id.clone();
        async move {
            c.get_assessor(pb::GetAssessorRequest {
                employee_id: id,
                date,
            })
            .await
            .map(|r| r.into_inner().assessor.map(|e| e.name))
        }
    };
    assert_eq!(
        who(d(2026, 3, 15)).await.unwrap().as_deref(),
        Some("Kepala A")
    );
    assert_eq!(
        who(d(2026, 6, 30)).await.unwrap().as_deref(),
        Some("Kepala A")
    );
    assert_eq!(
        who(d(2026, 7, 1)).await.unwrap().as_deref(),
        Some("Kepala B")
    );
    assert_eq!(
        who(d(2025, 12, 31)).await.unwrap_err().code(),
        Code::FailedPrecondition
    );

    let reports = |boss: String, date| {
        let mut c = s.assignments();
        async move {
            c.list_direct_reports(pb::ListDirectReportsRequest {
                employee_id: boss,
                date,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .reports
            .into_iter()
            .map(|r| r.employee.unwrap().name)
            .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        reports(kepala_a.id.clone(), d(2026, 2, 1)).await,
        vec!["Staf"]
    );
    assert!(reports(kepala_b.id.clone(), d(2026, 2, 1)).await.is_empty());
    assert_eq!(
        reports(kepala_b.id.clone(), d(2026, 8, 1)).await,
        vec!["Staf"]
    );

    // Ending the first assignment earlier (mutasi) with its etag; a stale etag is ABORTED.
    let upd = pb::UpdateAssignmentRequest {
        assignment: Some(pb::Assignment {
            id: first.id.clone(),
            end_date: d(2026, 5, 31),
            etag: first.etag.clone(),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["end_date".into()],
        }),
    };
    let ended = s
        .assignments()
        .update_assignment(upd.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ended.end_date, d(2026, 5, 31));
    assert_eq!(
        s.assignments()
            .update_assignment(upd)
            .await
            .unwrap_err()
            .code(),
        Code::Aborted
    );
    // Extending it over the next assignment is an overlap.
    let err = s
        .assignments()
        .update_assignment(pb::UpdateAssignmentRequest {
            assignment: Some(pb::Assignment {
                id: first.id.clone(),
                end_date: d(2026, 12, 31),
                etag: ended.etag.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["end_date".into()],
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);

    let history = s
        .assignments()
        .list_assignments(pb::ListAssignmentsRequest {
            employee_id: staf.id.clone(),
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(history.assignments.len(), 1);
    assert_eq!(history.assignments[0].start_date, d(2026, 1, 1));
    let next = s
        .assignments()
        .list_assignments(pb::ListAssignmentsRequest {
            employee_id: staf.id.clone(),
            page_size: 5,
            page_token: history.next_page_token,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(next.assignments.len(), 2);

    // The unit filter of ListEmployees follows the dates too.
    let in_unit = s
        .employees()
        .list_employees(pb::ListEmployeesRequest {
            unit_id: unit.clone(),
            as_of_date: d(2026, 2, 1),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(in_unit.employees.len(), 1);
    let before = s
        .employees()
        .list_employees(pb::ListEmployeesRequest {
            unit_id: unit.clone(),
            as_of_date: d(2025, 2, 1),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(before.employees.is_empty());
    s.stop().await;
}
