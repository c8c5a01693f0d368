//! Agencies and the unit tree.

use kinerja::proto::v1 as pb;
use tonic::Code;

use crate::harness::TestServer;

#[tokio::test]
async fn unit_tree_move_and_deactivate() {
    let s = TestServer::start().await;
    let (agency, root) = s.agency_with_unit("JABAR").await;
    let a = s.child_unit(&agency, &root, "A").await;
    let b = s.child_unit(&agency, &root, "B").await;
    let a1 = s.child_unit(&agency, &a.id, "A1").await;
    assert_eq!(a1.depth, 2);

    let children = s
        .org()
        .list_units(pb::ListUnitsRequest {
            agency_id: agency.clone(),
            parent_id: root.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let codes: Vec<_> = children.units.iter().map(|u| u.code.as_str()).collect();
    assert_eq!(codes, vec!["A", "B"]);

    // Moving A under its own child is refused; moving it under B works and re-roots A1.
    let err = s
        .org()
        .move_unit(pb::MoveUnitRequest {
            id: a.id.clone(),
            new_parent_id: a1.id.clone(),
            etag: a.etag.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    let moved = s
        .org()
        .move_unit(pb::MoveUnitRequest {
            id: a.id.clone(),
            new_parent_id: b.id.clone(),
            etag: a.etag.clone(),
        })
        .await
        .expect("move")
        .into_inner();
    assert_eq!(moved.parent_id, b.id);
    assert_eq!(moved.depth, 2);
    let a1_after = s
        .org()
        .get_unit(pb::GetUnitRequest { id: a1.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a1_after.depth, 3);

    // A stale etag is ABORTED.
    let err = s
        .org()
        .move_unit(pb::MoveUnitRequest {
            id: a.id.clone(),
            new_parent_id: root.clone(),
            etag: a.etag.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Aborted);

    // A unit with an active child cannot be deactivated; its leaf can, and stays readable.
    let err = s
        .org()
        .deactivate_unit(pb::DeactivateUnitRequest {
            id: moved.id.clone(),
            etag: moved.etag.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    let off = s
        .org()
        .deactivate_unit(pb::DeactivateUnitRequest {
            id: a1.id.clone(),
            etag: a1_after.etag.clone(),
        })
        .await
        .expect("deactivate")
        .into_inner();
    assert!(!off.active);
    let listed = s
        .org()
        .list_units(pb::ListUnitsRequest {
            agency_id: agency.clone(),
            parent_id: a.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(listed.units.is_empty());
    let listed = s
        .org()
        .list_units(pb::ListUnitsRequest {
            agency_id: agency.clone(),
            parent_id: a.id.clone(),
            include_inactive: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.units.len(), 1);
    s.stop().await;
}

#[tokio::test]
async fn agency_validation_and_update() {
    let s = TestServer::start().await;
    let err = s
        .org()
        .create_agency(pb::CreateAgencyRequest {
            agency: Some(pb::Agency {
                code: "bad code".into(),
                name: String::new(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("agency.code") && err.message().contains("agency.name"),
        "{}",
        err.message()
    );

    let (agency, _) = s.agency_with_unit("SULSEL").await;
    let got = s
        .org()
        .get_agency(pb::GetAgencyRequest { id: agency.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.time_zone, pb::AgencyTimeZone::Wib as i32);
    let updated = s
        .org()
        .update_agency(pb::UpdateAgencyRequest {
            agency: Some(pb::Agency {
                id: agency.clone(),
                time_zone: pb::AgencyTimeZone::Wita as i32,
                name: "ignored".into(),
                etag: got.etag.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["time_zone".into()],
            }),
        })
        .await
        .expect("update")
        .into_inner();
    assert_eq!(updated.time_zone, pb::AgencyTimeZone::Wita as i32);
    assert_eq!(updated.name, got.name, "fields outside the mask stay");
    assert_ne!(updated.etag, got.etag);
    let dup = s
        .org()
        .create_agency(pb::CreateAgencyRequest {
            agency: Some(pb::Agency {
                code: "SULSEL".into(),
                name: "Again".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(dup.code(), Code::AlreadyExists);
    s.stop().await;
}
