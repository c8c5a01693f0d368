//! Performance planning over gRPC: periods, SKP with cascading RHK, the workflow with its actors,
//! locking, reopening, mutasi, the cascade view, history, copying and templates.

use kinerja::auth::Role;
use kinerja::proto::v1 as pb;
use kinerja::proto::v1::event_service_client::EventServiceClient;
use kinerja::proto::v1::performance_period_service_client::PerformancePeriodServiceClient;
use kinerja::proto::v1::skp_service_client::SkpServiceClient;
use sea_orm::{ConnectionTrait, Database, Statement};
use tokio_stream::StreamExt;
use tonic::Code;
use tonic_types::StatusExt;

use crate::harness::{Authed, TestServer, d, nip, token};

const BUPATI: u32 = 1;
const HEAD: u32 = 2;
const STAFF1: u32 = 3;
const STAFF2: u32 = 4;
const HEAD2: u32 = 5;

/// Token of the employee with NIP `nip(n)`.
fn emp(n: u32) -> String {
    token(&nip(n), &[Role::Employee], &[], &[])
}

fn skp_client(s: &TestServer, tok: &str) -> SkpServiceClient<Authed> {
    SkpServiceClient::new(s.authed(Some(tok)))
}

fn periods(s: &TestServer, tok: &str) -> PerformancePeriodServiceClient<Authed> {
    PerformancePeriodServiceClient::new(s.authed(Some(tok)))
}

fn reason(st: &tonic::Status) -> String {
    st.get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default()
}

fn fields(st: &tonic::Status) -> Vec<String> {
    st.get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|f| f.field.clone()).collect())
        .unwrap_or_default()
}

fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.iter().map(|p| p.to_string()).collect(),
    })
}

/// Agency with a root unit (the regent's office) and a bidang under it; the regent (top, no
/// superior), a head of bidang reporting to the regent, two staff reporting to the head, and a
/// second head in another bidang (for mutasi). Periods 2025 and 2026.
struct World {
    s: TestServer,
    bidang: String,
    bidang2: String,
    p2025: pb::PerformancePeriod,
    p2026: pb::PerformancePeriod,
    bupati: pb::Employee,
    head: pb::Employee,
    staff1: pb::Employee,
    staff2: pb::Employee,
    head2: pb::Employee,
    staff1_post: pb::Assignment,
}

#[allow(clippy::too_many_arguments)]
async fn assign(
    s: &TestServer,
    emp: &str,
    unit: &str,
    sup: &str,
    start: Option<pb::Date>,
    end: Option<pb::Date>,
    name: &str,
    ptype: pb::PositionType,
) -> pb::Assignment {
    s.assignments()
        .create_assignment(pb::CreateAssignmentRequest {
            assignment: Some(pb::Assignment {
                employee_id: emp.into(),
                unit_id: unit.into(),
                superior_employee_id: sup.into(),
                position_name: name.into(),
                position_type: ptype as i32,
                start_date: start,
                end_date: end,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("assignment")
        .into_inner()
}

async fn period(s: &TestServer, agency: &str, year: i32) -> pb::PerformancePeriod {
    periods(s, &s.admin_token)
        .create_period(pb::CreatePeriodRequest {
            period: Some(pb::PerformancePeriod {
                agency_id: agency.into(),
                year,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("period")
        .into_inner()
}

async fn world() -> World {
    use pb::PositionType::{Administrator, Jpt, Pelaksana};
    let s = TestServer::start().await;
    let (agency, root) = s.agency_with_unit("SKP").await;
    let bidang = s.child_unit(&agency, &root, "PRC").await.id;
    let bidang2 = s.child_unit(&agency, &root, "EVL").await.id;
    let bupati = s.employee(&agency, &nip(BUPATI), "Bupati").await;
    let head = s.employee(&agency, &nip(HEAD), "Kepala Bidang").await;
    let staff1 = s.employee(&agency, &nip(STAFF1), "Staf Satu").await;
    let staff2 = s.employee(&agency, &nip(STAFF2), "Staf Dua").await;
    let head2 = s.employee(&agency, &nip(HEAD2), "Kepala Bidang Dua").await;
    let y25 = d(2025, 1, 1);
    assign(&s, &bupati.id, &root, "", y25, None, "Bupati", Jpt).await;
    for h in [&head, &head2] {
        let u = if h.id == head.id { &bidang } else { &bidang2 };
        assign(
            &s,
            &h.id,
            u,
            &bupati.id,
            y25,
            None,
            "Kepala Bidang",
            Administrator,
        )
        .await;
    }
    let staff1_post = assign(
        &s,
        &staff1.id,
        &bidang,
        &head.id,
        y25,
        None,
        "Analis Kebijakan",
        Pelaksana,
    )
    .await;
    assign(
        &s,
        &staff2.id,
        &bidang,
        &head.id,
        y25,
        None,
        "Analis Kebijakan",
        Pelaksana,
    )
    .await;
    let p2025 = period(&s, &agency, 2025).await;
    let p2026 = period(&s, &agency, 2026).await;
    World {
        s,
        bidang,
        bidang2,
        p2025,
        p2026,
        bupati,
        head,
        staff1,
        staff2,
        head2,
        staff1_post,
    }
}

async fn create(s: &TestServer, n: u32, employee_id: &str, period_id: &str) -> pb::Skp {
    skp_client(s, &emp(n))
        .create_skp(pb::CreateSkpRequest {
            employee_id: employee_id.into(),
            period_id: period_id.into(),
            approach: pb::SkpApproach::Kuantitatif as i32,
            annex: Some(pb::SkpAnnex {
                resource_support: "Anggaran DPA bidang".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("create skp")
        .into_inner()
}

fn rhk_req(skp_id: &str, text: &str, kind: pb::RhkKind, parent: &str) -> pb::CreateRhkRequest {
    pb::CreateRhkRequest {
        skp_id: skp_id.into(),
        rhk: Some(pb::Rhk {
            kind: kind as i32,
            text: text.into(),
            parent_rhk_id: parent.into(),
            ..Default::default()
        }),
        request_id: String::new(),
    }
}

async fn add_rhk(s: &TestServer, n: u32, skp_id: &str, text: &str, parent: &str) -> pb::Rhk {
    skp_client(s, &emp(n))
        .create_rhk(rhk_req(skp_id, text, pb::RhkKind::Utama, parent))
        .await
        .expect("create rhk")
        .into_inner()
}

fn ind_req(rhk_id: &str, target: f64, unit: &str) -> pb::CreateIndicatorRequest {
    pb::CreateIndicatorRequest {
        rhk_id: rhk_id.into(),
        indicator: Some(pb::Indicator {
            aspect: pb::IndicatorAspect::Kuantitas as i32,
            text: "Jumlah dokumen yang disusun".into(),
            target,
            unit: unit.into(),
            ..Default::default()
        }),
        request_id: String::new(),
    }
}

async fn add_ind(s: &TestServer, n: u32, rhk_id: &str, target: f64) -> pb::Indicator {
    skp_client(s, &emp(n))
        .create_indicator(ind_req(rhk_id, target, "dokumen"))
        .await
        .expect("create indicator")
        .into_inner()
}

async fn submit(s: &TestServer, n: u32, id: &str) -> Result<pb::Skp, tonic::Status> {
    skp_client(s, &emp(n))
        .submit_skp(pb::SubmitSkpRequest {
            id: id.into(),
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner())
}

async fn approve(s: &TestServer, n: u32, id: &str) -> Result<pb::Skp, tonic::Status> {
    skp_client(s, &emp(n))
        .approve_skp(pb::ApproveSkpRequest {
            id: id.into(),
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner())
}

async fn get(s: &TestServer, id: &str) -> pb::Skp {
    skp_client(s, &s.admin_token)
        .get_skp(pb::GetSkpRequest {
            id: id.into(),
            view: 0,
        })
        .await
        .expect("get skp")
        .into_inner()
}

async fn history(s: &TestServer, n: u32, id: &str) -> Vec<pb::SkpHistoryEntry> {
    skp_client(s, &emp(n))
        .list_skp_history(pb::ListSkpHistoryRequest {
            skp_id: id.into(),
            ..Default::default()
        })
        .await
        .expect("history")
        .into_inner()
        .entries
}

/// The head's 2026 SKP with two RHK UTAMA (the first is supported later, the second stays a
/// gap), submitted and approved by the regent; returns (skp, rhk a, rhk b).
async fn approved_head_plan(w: &World) -> (pb::Skp, pb::Rhk, pb::Rhk) {
    let s = &w.s;
    let plan = create(s, HEAD, &w.head.id, &w.p2026.id).await;
    let a = add_rhk(
        s,
        HEAD,
        &plan.id,
        "Tersusunnya dokumen perencanaan daerah",
        "",
    )
    .await;
    let b = add_rhk(s, HEAD, &plan.id, "Terlaksananya evaluasi program", "").await;
    add_ind(s, HEAD, &a.id, 12.0).await;
    add_ind(s, HEAD, &b.id, 4.0).await;
    submit(s, HEAD, &plan.id).await.expect("head submits");
    let plan = approve(s, BUPATI, &plan.id).await.expect("regent approves");
    (plan, a, b)
}

/// A staff SKP with one RHK UTAMA supporting `parent`, with one indicator.
async fn staff_plan(w: &World, n: u32, employee_id: &str, parent: &str) -> (pb::Skp, pb::Rhk) {
    let plan = create(&w.s, n, employee_id, &w.p2026.id).await;
    let r = add_rhk(&w.s, n, &plan.id, "Tersusunnya kajian kebijakan", parent).await;
    add_ind(&w.s, n, &r.id, 6.0).await;
    (plan, r)
}

#[tokio::test]
async fn periods_have_a_schedule_and_deadlines_and_only_admins_set_them() {
    let w = world().await;
    let s = &w.s;
    let p = &w.p2026;
    assert_eq!(p.schedule, pb::EvaluationSchedule::Quarterly as i32);
    assert_eq!(p.evaluation_deadline_days, 15);
    assert_eq!(p.planning_deadline, d(2026, 1, 31));
    let q: Vec<_> = p
        .evaluation_periods
        .iter()
        .map(|e| (e.sequence, e.end_date, e.deadline, e.annual))
        .collect();
    assert_eq!(
        q,
        vec![
            (1, d(2026, 3, 31), d(2026, 4, 15), false),
            (2, d(2026, 6, 30), d(2026, 7, 15), false),
            (3, d(2026, 9, 30), d(2026, 10, 15), false),
            (4, d(2026, 12, 31), d(2027, 1, 15), true),
        ]
    );
    // A second period for the same year, an employee creating one, bad values.
    let agency = p.agency_id.clone();
    let err = periods(s, &s.admin_token)
        .create_period(pb::CreatePeriodRequest {
            period: Some(pb::PerformancePeriod {
                agency_id: agency.clone(),
                year: 2026,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    let err = periods(s, &emp(HEAD))
        .create_period(pb::CreatePeriodRequest {
            period: Some(pb::PerformancePeriod {
                agency_id: agency.clone(),
                year: 2027,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = periods(s, &s.admin_token)
        .create_period(pb::CreatePeriodRequest {
            period: Some(pb::PerformancePeriod {
                agency_id: agency.clone(),
                year: 1999,
                schedule: 9,
                evaluation_deadline_days: 120,
                planning_deadline: d(2026, 1, 31),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let f = fields(&err);
    for field in [
        "period.year",
        "period.schedule",
        "period.evaluation_deadline_days",
        "period.planning_deadline",
    ] {
        assert!(f.contains(&field.to_owned()), "{field} in {f:?}");
    }
    // Monthly by setting: twelve periods; a stale etag is ABORTED.
    let upd = pb::UpdatePeriodRequest {
        period: Some(pb::PerformancePeriod {
            id: p.id.clone(),
            etag: p.etag.clone(),
            schedule: pb::EvaluationSchedule::Monthly as i32,
            ..Default::default()
        }),
        update_mask: mask(&["schedule"]),
    };
    let monthly = periods(s, &s.admin_token)
        .update_period(upd.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(monthly.evaluation_periods.len(), 12);
    assert_eq!(monthly.evaluation_periods[1].end_date, d(2026, 2, 28));
    let err = periods(s, &s.admin_token)
        .update_period(upd)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Aborted);
    // Everyone reads periods, newest first.
    let list = periods(s, &emp(STAFF1))
        .list_periods(pb::ListPeriodsRequest {
            agency_id: agency,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        list.periods.iter().map(|p| p.year).collect::<Vec<_>>(),
        vec![2026, 2025]
    );
    w.s.stop().await;
}

#[tokio::test]
async fn planning_flow_end_to_end_with_cascade_and_history() {
    let w = world().await;
    let s = &w.s;
    // The head's SKP: assessor and superior from the assignments, snapshots, seven values.
    let head_plan = create(s, HEAD, &w.head.id, &w.p2026.id).await;
    assert_eq!(head_plan.state, pb::SkpState::Draft as i32);
    assert_eq!(head_plan.assessor_id, w.bupati.id);
    assert_eq!(head_plan.assessor_superior_id, "");
    assert!(head_plan.top_of_chain, "the regent has no superior");
    let post = head_plan.post.clone().unwrap();
    assert_eq!(
        (post.unit_id.as_str(), post.position_name.as_str()),
        (w.bidang.as_str(), "Kepala Bidang")
    );
    assert_eq!(
        (head_plan.start_date, head_plan.end_date),
        (d(2026, 1, 1), d(2026, 12, 31))
    );
    let values: Vec<i32> = head_plan.behaviours.iter().map(|b| b.value).collect();
    assert_eq!(
        values,
        (1..=7).collect::<Vec<_>>(),
        "all seven BerAKHLAK values"
    );
    let a = add_rhk(
        s,
        HEAD,
        &head_plan.id,
        "Tersusunnya dokumen perencanaan",
        "",
    )
    .await;
    let b = add_rhk(s, HEAD, &head_plan.id, "Terlaksananya evaluasi program", "").await;
    add_ind(s, HEAD, &a.id, 12.0).await;
    add_ind(s, HEAD, &b.id, 4.0).await;
    submit(s, HEAD, &head_plan.id).await.unwrap();
    // The regent (the assessor) writes an expectation before approving.
    let akuntabel = head_plan
        .behaviours
        .iter()
        .find(|x| x.value == pb::BerakhlakValue::Akuntabel as i32)
        .unwrap()
        .clone();
    let set = skp_client(s, &emp(BUPATI))
        .update_behaviour(pb::UpdateBehaviourRequest {
            behaviour: Some(pb::Behaviour {
                expectation: "Laporan tepat waktu setiap triwulan".into(),
                ..akuntabel
            }),
            update_mask: mask(&["expectation"]),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(set.expectation, "Laporan tepat waktu setiap triwulan");
    let head_plan = approve(s, BUPATI, &head_plan.id).await.unwrap();
    assert_eq!(head_plan.state, pb::SkpState::Disetujui as i32);
    assert!(head_plan.approve_time.is_some());

    // Staff SKP below the top: assessor is the head, linked to the head's RHK A.
    let (p1, r1) = staff_plan(&w, STAFF1, &w.staff1.id, &a.id).await;
    assert_eq!(
        (
            p1.assessor_id.as_str(),
            p1.assessor_superior_id.as_str(),
            p1.top_of_chain
        ),
        (w.head.id.as_str(), w.bupati.id.as_str(), false)
    );
    let (p2, _) = staff_plan(&w, STAFF2, &w.staff2.id, &a.id).await;
    submit(s, STAFF1, &p1.id).await.unwrap();
    submit(s, STAFF2, &p2.id).await.unwrap();

    // The head returns staff 2's SKP with a note; while it is pending the cascade shows the gap.
    let note = "Target terlalu rendah; naikkan menjadi 8 kajian";
    let returned = skp_client(s, &emp(HEAD))
        .return_skp(pb::ReturnSkpRequest {
            id: p2.id.clone(),
            note: note.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(returned.state, pb::SkpState::Dikembalikan as i32);
    assert_eq!(returned.return_note, note);
    approve(s, HEAD, &p1.id).await.unwrap();
    let cascade = |n: u32| {
        let mut c = skp_client(s, &emp(n));
        let id = head_plan.id.clone();
        async move {
            c.get_skp_cascade(pb::GetSkpCascadeRequest {
                skp_id: id,
                max_depth: 0,
            })
            .await
            .map(|r| r.into_inner())
        }
    };
    let mid = cascade(HEAD).await.unwrap();
    assert_eq!(mid.missing_skps.len(), 1);
    assert_eq!(mid.missing_skps[0].employee_id, w.staff2.id);
    assert_eq!(mid.missing_skps[0].state, pb::SkpState::Dikembalikan as i32);

    // Staff 2 edits (raises the target) and resubmits; the head approves.
    let ind = returned.rhk[0].indicators[0].clone();
    skp_client(s, &emp(STAFF2))
        .update_indicator(pb::UpdateIndicatorRequest {
            indicator: Some(pb::Indicator { target: 8.0, ..ind }),
            update_mask: mask(&["target"]),
        })
        .await
        .unwrap();
    let again = submit(s, STAFF2, &p2.id).await.unwrap();
    assert_eq!(again.state, pb::SkpState::Diajukan as i32);
    let done = approve(s, HEAD, &p2.id).await.unwrap();
    assert_eq!(done.state, pb::SkpState::Disetujui as i32);
    assert_eq!(done.rhk[0].indicators[0].target, 8.0);

    // The cascade: A supported by both staff, B by nobody (a gap), nobody missing.
    let c = cascade(BUPATI)
        .await
        .expect("the assessor reads the cascade");
    assert_eq!(c.nodes.len(), 2);
    let node_a = c
        .nodes
        .iter()
        .find(|n| n.rhk.as_ref().unwrap().id == a.id)
        .unwrap();
    let mut supporters: Vec<_> = node_a
        .supported_by
        .iter()
        .map(|n| (n.employee_name.as_str(), n.depth, n.skp_id.as_str()))
        .collect();
    supporters.sort();
    assert_eq!(
        supporters,
        vec![
            ("Staf Dua", 1, p2.id.as_str()),
            ("Staf Satu", 1, p1.id.as_str())
        ]
    );
    assert!(
        node_a
            .supported_by
            .iter()
            .all(|n| n.rhk.as_ref().unwrap().indicators.len() == 1)
    );
    let node_b = c
        .nodes
        .iter()
        .find(|n| n.rhk.as_ref().unwrap().id == b.id)
        .unwrap();
    assert!(node_b.supported_by.is_empty());
    let gaps: Vec<_> = c
        .unsupported_rhk
        .iter()
        .map(|u| u.rhk_id.as_str())
        .collect();
    assert_eq!(gaps, vec![b.id.as_str()]);
    assert!(c.missing_skps.is_empty(), "{:?}", c.missing_skps);
    assert_eq!(
        cascade(STAFF1).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    assert_eq!(r1.parent_rhk_id, a.id);

    // History of staff 2's SKP: who, what, why.
    let h = history(s, STAFF2, &p2.id).await;
    let actions: Vec<_> = h.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        vec![
            "create",
            "rhk.create",
            "indicator.create",
            "submit",
            "return",
            "indicator.update",
            "submit",
            "approve"
        ]
    );
    let ret = &h[4];
    assert_eq!(
        (ret.actor.as_str(), ret.reason.as_str()),
        (nip(HEAD).as_str(), note)
    );
    assert_eq!(h[5].actor, nip(STAFF2));
    assert!(
        h.iter()
            .all(|e| e.time.is_some() && !e.request_id.is_empty())
    );

    // The assessor lists what they decided.
    let mine = skp_client(s, &emp(HEAD))
        .list_skps(pb::ListSkpsRequest {
            assessor_id: w.head.id.clone(),
            period_id: w.p2026.id.clone(),
            state: pb::SkpState::Disetujui as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(mine.skps.len(), 2);
    assert!(mine.skps.iter().all(|p| p.rhk.is_empty()), "basic view");
    w.s.stop().await;
}

#[tokio::test]
async fn approved_skp_cannot_be_edited_and_refusals_change_nothing() {
    let w = world().await;
    let s = &w.s;
    let (head_plan, a, _) = approved_head_plan(&w).await;
    let (p1, r1) = staff_plan(&w, STAFF1, &w.staff1.id, &a.id).await;
    submit(s, STAFF1, &p1.id).await.unwrap();
    let p1 = approve(s, HEAD, &p1.id).await.unwrap();
    let before = get(s, &p1.id).await;
    let hist_before = history(s, STAFF1, &p1.id).await.len();

    let mut me = skp_client(s, &emp(STAFF1));
    let locked = |r: Result<(), tonic::Status>, what: &str| {
        let e = r.expect_err(what);
        assert_eq!(e.code(), Code::FailedPrecondition, "{what}: {e:?}");
        assert_eq!(reason(&e), "SKP_WRONG_STATE", "{what}");
        assert!(e.message().contains("DISETUJUI"), "{what}: {}", e.message());
    };
    locked(
        me.update_skp(pb::UpdateSkpRequest {
            skp: Some(pb::Skp {
                approach: pb::SkpApproach::Kualitatif as i32,
                ..before.clone()
            }),
            update_mask: mask(&["approach"]),
        })
        .await
        .map(|_| ()),
        "update skp",
    );
    locked(
        me.create_rhk(rhk_req(&p1.id, "RHK baru", pb::RhkKind::Tambahan, ""))
            .await
            .map(|_| ()),
        "create rhk",
    );
    let rhk = before.rhk[0].clone();
    locked(
        me.update_rhk(pb::UpdateRhkRequest {
            rhk: Some(pb::Rhk {
                text: "Diubah".into(),
                ..rhk.clone()
            }),
            update_mask: mask(&["text"]),
        })
        .await
        .map(|_| ()),
        "update rhk",
    );
    locked(
        me.delete_rhk(pb::DeleteRhkRequest {
            id: rhk.id.clone(),
            etag: rhk.etag.clone(),
        })
        .await
        .map(|_| ()),
        "delete rhk",
    );
    locked(
        me.create_indicator(ind_req(&r1.id, 3.0, "laporan"))
            .await
            .map(|_| ()),
        "create indicator",
    );
    let ind = rhk.indicators[0].clone();
    locked(
        me.update_indicator(pb::UpdateIndicatorRequest {
            indicator: Some(pb::Indicator {
                target: 99.0,
                ..ind.clone()
            }),
            update_mask: mask(&["target"]),
        })
        .await
        .map(|_| ()),
        "update indicator",
    );
    locked(
        me.delete_indicator(pb::DeleteIndicatorRequest {
            id: ind.id.clone(),
            etag: ind.etag.clone(),
        })
        .await
        .map(|_| ()),
        "delete indicator",
    );
    locked(
        skp_client(s, &emp(HEAD))
            .update_behaviour(pb::UpdateBehaviourRequest {
                behaviour: Some(pb::Behaviour {
                    expectation: "Baru".into(),
                    ..before.behaviours[0].clone()
                }),
                update_mask: mask(&["expectation"]),
            })
            .await
            .map(|_| ()),
        "leader's expectation",
    );
    locked(submit(s, STAFF1, &p1.id).await.map(|_| ()), "submit again");
    // The head's RHK A is supported now: it cannot be deleted even after a reopening.
    skp_client(s, &emp(BUPATI))
        .reopen_skp(pb::ReopenSkpRequest {
            id: head_plan.id.clone(),
            reason: "Penyesuaian renstra".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let err = skp_client(s, &emp(HEAD))
        .delete_rhk(pb::DeleteRhkRequest {
            id: a.id.clone(),
            etag: a.etag.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "RHK_SUPPORTED")
    );

    // Wrong actors: the employee approves their own SKP, another staff edits it, the assessor's
    // superior approves, an admin submits.
    let p2 = create(s, STAFF2, &w.staff2.id, &w.p2026.id).await;
    let denied = |r: Result<pb::Skp, tonic::Status>, why: &str| {
        assert_eq!(r.unwrap_err().code(), Code::PermissionDenied, "{why}");
    };
    denied(
        skp_client(s, &emp(STAFF2))
            .approve_skp(pb::ApproveSkpRequest {
                id: p2.id.clone(),
                ..Default::default()
            })
            .await
            .map(|r| r.into_inner()),
        "self approval",
    );
    let err = skp_client(s, &emp(STAFF1))
        .create_rhk(rhk_req(&p2.id, "Menyusup", pb::RhkKind::Utama, ""))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "another employee's SKP");
    denied(
        approve(s, BUPATI, &p2.id).await,
        "assessor's superior approves",
    );
    denied(
        skp_client(s, &s.admin_token)
            .submit_skp(pb::SubmitSkpRequest {
                id: p2.id.clone(),
                ..Default::default()
            })
            .await
            .map(|r| r.into_inner()),
        "admin submits",
    );
    // The right actor in the wrong state: approving a DRAFT names the state.
    let err = approve(s, HEAD, &p2.id).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("is DRAFT"), "{}", err.message());

    // Nothing refused changed anything.
    let after = get(s, &p1.id).await;
    assert_eq!(after, before);
    assert_eq!(history(s, STAFF1, &p1.id).await.len(), hist_before);
    let p2_now = get(s, &p2.id).await;
    assert!(p2_now.rhk.is_empty());
    assert_eq!(p2_now.etag, p2.etag);
    w.s.stop().await;
}

#[tokio::test]
async fn bad_input_is_refused_naming_the_field_or_rule_and_nothing_is_stored() {
    let w = world().await;
    let s = &w.s;
    let mut staff = skp_client(s, &emp(STAFF1));
    let p1 = create(s, STAFF1, &w.staff1.id, &w.p2026.id).await;
    let invalid = |r: Result<tonic::Response<pb::Rhk>, tonic::Status>, field: &str| {
        let e = r.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{field}: {e:?}");
        assert!(
            fields(&e).contains(&field.to_owned()),
            "{field}: {:?}",
            fields(&e)
        );
    };
    invalid(
        staff
            .create_rhk(rhk_req(&p1.id, "   ", pb::RhkKind::Utama, ""))
            .await,
        "rhk.text",
    );
    invalid(
        staff
            .create_rhk(rhk_req(&p1.id, &"x".repeat(1001), pb::RhkKind::Utama, ""))
            .await,
        "rhk.text",
    );
    let mut bad_kind = rhk_req(&p1.id, "RHK", pb::RhkKind::Utama, "");
    bad_kind.rhk.as_mut().unwrap().kind = 9;
    invalid(staff.create_rhk(bad_kind).await, "rhk.kind");
    let mut persp = rhk_req(&p1.id, "RHK", pb::RhkKind::Utama, "");
    persp.rhk.as_mut().unwrap().perspective = pb::RhkPerspective::Anggaran as i32;
    invalid(staff.create_rhk(persp).await, "rhk.perspective");

    let r = add_rhk(s, STAFF1, &p1.id, "Tersusunnya kajian", "").await;
    for (target, unit) in [
        (0.0, "dokumen"),
        (-3.0, "dokumen"),
        (f64::NAN, "dokumen"),
        (f64::INFINITY, "dokumen"),
    ] {
        let e = staff
            .create_indicator(ind_req(&r.id, target, unit))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{target}");
        assert_eq!(fields(&e), vec!["indicator.target"], "{target}");
    }
    let e = staff
        .create_indicator(ind_req(&r.id, 5.0, &"u".repeat(51)))
        .await
        .unwrap_err();
    assert_eq!(fields(&e), vec!["indicator.unit"]);
    let mut bad_aspect = ind_req(&r.id, 5.0, "dokumen");
    bad_aspect.indicator.as_mut().unwrap().aspect = 42;
    let e = staff.create_indicator(bad_aspect).await.unwrap_err();
    assert_eq!(fields(&e), vec!["indicator.aspect"]);

    // Submission rules: an indicator under every RHK, then a link for every RHK UTAMA.
    let e = submit(s, STAFF1, &p1.id).await.unwrap_err();
    assert_eq!(
        (e.code(), reason(&e).as_str()),
        (Code::FailedPrecondition, "RHK_WITHOUT_INDICATOR")
    );
    add_ind(s, STAFF1, &r.id, 5.0).await;
    let e = submit(s, STAFF1, &p1.id).await.unwrap_err();
    assert_eq!(reason(&e), "RHK_LINK_REQUIRED");

    // Links: to the head's SKP while it is a draft, to another employee's SKP, to last year's SKP.
    let head_plan = create(s, HEAD, &w.head.id, &w.p2026.id).await;
    let ha = add_rhk(s, HEAD, &head_plan.id, "RHK kepala", "").await;
    add_ind(s, HEAD, &ha.id, 1.0).await;
    let link = |parent: &str| pb::UpdateRhkRequest {
        rhk: Some(pb::Rhk {
            id: r.id.clone(),
            etag: r.etag.clone(),
            parent_rhk_id: parent.into(),
            ..Default::default()
        }),
        update_mask: mask(&["parent_rhk_id"]),
    };
    let e = staff.update_rhk(link(&ha.id)).await.unwrap_err();
    assert_eq!(
        (e.code(), reason(&e).as_str()),
        (Code::FailedPrecondition, "RHK_LINK_NOT_APPROVED")
    );
    submit(s, HEAD, &head_plan.id).await.unwrap();
    approve(s, BUPATI, &head_plan.id).await.unwrap();
    let other = create(s, HEAD2, &w.head2.id, &w.p2026.id).await;
    let oa = add_rhk(s, HEAD2, &other.id, "RHK kepala lain", "").await;
    add_ind(s, HEAD2, &oa.id, 1.0).await;
    submit(s, HEAD2, &other.id).await.unwrap();
    approve(s, BUPATI, &other.id).await.unwrap();
    let e = staff.update_rhk(link(&oa.id)).await.unwrap_err();
    assert_eq!(reason(&e), "RHK_LINK_NOT_ASSESSOR");
    let old = create(s, HEAD, &w.head.id, &w.p2025.id).await;
    let olda = add_rhk(s, HEAD, &old.id, "RHK 2025", "").await;
    add_ind(s, HEAD, &olda.id, 1.0).await;
    submit(s, HEAD, &old.id).await.unwrap();
    approve(s, BUPATI, &old.id).await.unwrap();
    let e = staff.update_rhk(link(&olda.id)).await.unwrap_err();
    assert_eq!(reason(&e), "RHK_LINK_OTHER_PERIOD");
    assert!(e.message().contains("2025"), "{}", e.message());
    let e = staff
        .create_rhk(rhk_req(&p1.id, "RHK", pb::RhkKind::Utama, "no-such-rhk"))
        .await
        .unwrap_err();
    assert_eq!(reason(&e), "RHK_LINK_INVALID");

    // A second SKP for the same employee over the same days; a period of another year's dates.
    let e = staff
        .create_skp(pb::CreateSkpRequest {
            employee_id: w.staff1.id.clone(),
            period_id: w.p2026.id.clone(),
            approach: pb::SkpApproach::Kuantitatif as i32,
            start_date: d(2026, 3, 1),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        (e.code(), reason(&e).as_str()),
        (Code::FailedPrecondition, "SKP_OVERLAP")
    );
    let e = staff
        .create_skp(pb::CreateSkpRequest {
            employee_id: w.staff1.id.clone(),
            period_id: w.p2026.id.clone(),
            approach: 7,
            start_date: d(2025, 3, 1),
            annex: Some(pb::SkpAnnex {
                consequences: "k".repeat(4001),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(fields(&e), vec!["approach", "annex.consequences"]);
    // Someone else's plan: another staff member cannot create or edit it.
    let e = skp_client(s, &emp(STAFF2))
        .create_skp(pb::CreateSkpRequest {
            employee_id: w.staff1.id.clone(),
            period_id: w.p2025.id.clone(),
            approach: pb::SkpApproach::Kuantitatif as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);

    // Nothing refused was stored: one RHK, one indicator, no link, one SKP per period.
    let now = get(s, &p1.id).await;
    assert_eq!(now.rhk.len(), 1);
    assert_eq!(now.rhk[0].indicators.len(), 1);
    assert_eq!(now.rhk[0].parent_rhk_id, "");
    assert_eq!(now.state, pb::SkpState::Draft as i32);
    let all = skp_client(s, &emp(STAFF1))
        .list_skps(pb::ListSkpsRequest {
            employee_id: w.staff1.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.skps.len(), 1);

    // With a valid link it goes through.
    staff.update_rhk(link(&ha.id)).await.expect("valid link");
    submit(s, STAFF1, &p1.id).await.expect("ready now");
    w.s.stop().await;
}

#[tokio::test]
async fn reopen_needs_a_reason_and_is_refused_after_an_assessed_period() {
    let w = world().await;
    let s = &w.s;
    let (plan, _, _) = approved_head_plan(&w).await;
    let reopen = |reason: &str| {
        let mut c = skp_client(s, &emp(BUPATI));
        let req = pb::ReopenSkpRequest {
            id: plan.id.clone(),
            reason: reason.into(),
            ..Default::default()
        };
        async move { c.reopen_skp(req).await.map(|r| r.into_inner()) }
    };
    let e = reopen(" ").await.unwrap_err();
    assert_eq!(fields(&e), vec!["reason"]);
    // The employee cannot reopen their own approved plan.
    let e = skp_client(s, &emp(HEAD))
        .reopen_skp(pb::ReopenSkpRequest {
            id: plan.id.clone(),
            reason: "Saya ingin mengubah".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let reopened = reopen("Perubahan anggaran").await.unwrap();
    assert_eq!(reopened.state, pb::SkpState::Draft as i32);
    assert_eq!(reopened.reopen_reason, "Perubahan anggaran");
    assert!(reopened.approve_time.is_none());
    submit(s, HEAD, &plan.id).await.unwrap();
    approve(s, BUPATI, &plan.id).await.unwrap();

    // The first quarter is assessed (the assessment stage writes skp_evaluations).
    let quarter = &w.p2026.evaluation_periods[0];
    let db = Database::connect(&s.db_url).await.unwrap();
    db.execute_raw(Statement::from_string(
        db.get_database_backend(),
        format!(
            "INSERT INTO skp_evaluations (id, skp_id, evaluation_period_id, state, version, created_at, updated_at) \
             VALUES ('{}', '{}', '{}', 'DINILAI', 1, '2026-04-02 08:00:00+00:00', '2026-04-02 08:00:00+00:00')",
            uuid::Uuid::new_v4(),
            plan.id,
            quarter.id
        ),
    ))
    .await
    .unwrap();
    db.close().await.ok();
    let before = get(s, &plan.id).await;
    assert_eq!(before.assessed_periods, 1);
    let e = reopen("Revisi setelah penilaian").await.unwrap_err();
    assert_eq!(
        (e.code(), reason(&e).as_str()),
        (Code::FailedPrecondition, "SKP_ASSESSED")
    );
    assert!(e.message().contains("assessed"), "{}", e.message());
    assert_eq!(get(s, &plan.id).await, before, "nothing changed");
    // Its schedule can no longer change either.
    let e = periods(s, &s.admin_token)
        .update_period(pb::UpdatePeriodRequest {
            period: Some(pb::PerformancePeriod {
                id: w.p2026.id.clone(),
                etag: w.p2026.etag.clone(),
                schedule: pb::EvaluationSchedule::Semester as i32,
                ..Default::default()
            }),
            update_mask: mask(&["schedule"]),
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&e), "PERIOD_HAS_EVALUATIONS");
    let actions: Vec<_> = history(s, HEAD, &plan.id)
        .await
        .into_iter()
        .map(|e| (e.action, e.reason))
        .filter(|(a, _)| a == "reopen")
        .collect();
    assert_eq!(
        actions,
        vec![("reopen".to_owned(), "Perubahan anggaran".to_owned())]
    );
    w.s.stop().await;
}

#[tokio::test]
async fn mutasi_mid_year_closes_the_skp_and_a_new_one_starts_on_the_new_post() {
    let w = world().await;
    let s = &w.s;
    let (_, a, _) = approved_head_plan(&w).await;
    let (p1, _) = staff_plan(&w, STAFF1, &w.staff1.id, &a.id).await;
    submit(s, STAFF1, &p1.id).await.unwrap();
    approve(s, HEAD, &p1.id).await.unwrap();

    // Mutasi: the admin ends the staff member's post on 30 June; the SKP closes with it.
    let admin = token(
        "bkpsdm",
        &[Role::Admin],
        std::slice::from_ref(&w.bidang),
        &[],
    );
    s.assignments_as(&admin)
        .update_assignment(pb::UpdateAssignmentRequest {
            assignment: Some(pb::Assignment {
                id: w.staff1_post.id.clone(),
                etag: w.staff1_post.etag.clone(),
                end_date: d(2026, 6, 30),
                ..Default::default()
            }),
            update_mask: mask(&["end_date"]),
        })
        .await
        .unwrap();
    let closed = get(s, &p1.id).await;
    assert_eq!(closed.state, pb::SkpState::Ditutup as i32);
    assert_eq!(closed.end_date, d(2026, 6, 30));
    assert!(
        closed.close_reason.contains("mutasi"),
        "{}",
        closed.close_reason
    );
    assert!(
        closed.approve_time.is_some(),
        "it was approved before closing"
    );
    let h = history(s, STAFF1, &p1.id).await;
    let last = h.last().unwrap();
    assert_eq!(
        (last.action.as_str(), last.actor.as_str()),
        ("close", "bkpsdm")
    );
    // A closed SKP is final.
    let e = skp_client(s, &emp(HEAD))
        .reopen_skp(pb::ReopenSkpRequest {
            id: p1.id.clone(),
            reason: "Coba".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(e.message().contains("is DITUTUP"), "{}", e.message());

    // Without a new post there is nothing to plan for.
    let e = skp_client(s, &emp(STAFF1))
        .create_skp(pb::CreateSkpRequest {
            employee_id: w.staff1.id.clone(),
            period_id: w.p2026.id.clone(),
            approach: pb::SkpApproach::Kuantitatif as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&e), "NO_ASSIGNMENT_ON_DATE");

    // The new post in another bidang from 1 July; the new SKP covers the rest of the year.
    let new_post = assign(
        s,
        &w.staff1.id,
        &w.bidang2,
        &w.head2.id,
        d(2026, 7, 1),
        None,
        "Analis Evaluasi",
        pb::PositionType::Pelaksana,
    )
    .await;
    let second = create(s, STAFF1, &w.staff1.id, &w.p2026.id).await;
    assert_eq!(
        (second.start_date, second.end_date),
        (d(2026, 7, 1), d(2026, 12, 31))
    );
    assert_eq!(second.state, pb::SkpState::Draft as i32);
    assert_eq!(second.assessor_id, w.head2.id);
    let post = second.post.clone().unwrap();
    assert_eq!(
        (
            post.assignment_id.as_str(),
            post.unit_id.as_str(),
            post.position_name.as_str()
        ),
        (new_post.id.as_str(), w.bidang2.as_str(), "Analis Evaluasi")
    );
    // The old assessor keeps reading the closed plan (recorded relation), not the new one.
    skp_client(s, &emp(HEAD))
        .get_skp(pb::GetSkpRequest {
            id: p1.id.clone(),
            view: 0,
        })
        .await
        .expect("old assessor reads the closed plan");
    let e = skp_client(s, &emp(HEAD))
        .get_skp(pb::GetSkpRequest {
            id: second.id.clone(),
            view: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);

    // Closing by hand (CloseSkp): admins only, within the span, with a reason.
    let e = skp_client(s, &emp(STAFF1))
        .close_skp(pb::CloseSkpRequest {
            id: second.id.clone(),
            end_date: d(2026, 9, 30),
            reason: "Pindah".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let e = skp_client(s, &s.admin_token)
        .close_skp(pb::CloseSkpRequest {
            id: second.id.clone(),
            end_date: d(2026, 6, 1),
            reason: "Pindah".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&e), vec!["end_date"]);
    let by_hand = skp_client(s, &s.admin_token)
        .close_skp(pb::CloseSkpRequest {
            id: second.id.clone(),
            end_date: d(2026, 9, 30),
            reason: "Diberhentikan sementara".into(),
            etag: second.etag.clone(),
            request_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (by_hand.state, by_hand.end_date),
        (pb::SkpState::Ditutup as i32, d(2026, 9, 30))
    );

    // The transitions are in the event feed, in order, the mutasi close included.
    let feed = token("svc-simpeg", &[Role::Service], &[], &["events:read"]);
    let mut stream = EventServiceClient::new(s.authed(Some(&feed)))
        .watch(pb::WatchRequest {
            after_event_id: String::new(),
            event_types: vec![
                "skp.submitted".into(),
                "skp.approved".into(),
                "skp.closed".into(),
            ],
            follow: false,
        })
        .await
        .unwrap()
        .into_inner();
    let mut events = Vec::new();
    while let Some(item) = stream.next().await {
        let e = item.unwrap().event.unwrap();
        if e.resource_id == p1.id || e.resource_id == second.id {
            events.push((e.r#type, e.resource_id == p1.id));
        }
    }
    assert_eq!(
        events,
        vec![
            ("skp.submitted".to_owned(), true),
            ("skp.approved".to_owned(), true),
            ("skp.closed".to_owned(), true),
            ("skp.closed".to_owned(), false),
        ]
    );
    w.s.stop().await;
}

#[tokio::test]
async fn admin_overrides_the_assessor_with_a_reason_and_retries_are_idempotent() {
    let w = world().await;
    let s = &w.s;
    let (head_plan, a, _) = approved_head_plan(&w).await;
    let (p1, _) = staff_plan(&w, STAFF1, &w.staff1.id, &a.id).await;
    // The head is on leave: the admin names head 2 as assessor (recorded with the reason).
    let e = skp_client(s, &s.admin_token)
        .set_skp_assessor(pb::SetSkpAssessorRequest {
            id: p1.id.clone(),
            assessor_id: w.staff1.id.clone(),
            reason: "x".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&e), vec!["assessor_id"]);
    let moved = skp_client(s, &s.admin_token)
        .set_skp_assessor(pb::SetSkpAssessorRequest {
            id: p1.id.clone(),
            assessor_id: w.head2.id.clone(),
            assessor_superior_id: w.bupati.id.clone(),
            reason: "Kepala bidang cuti besar".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(moved.assessor_overridden);
    assert_eq!(moved.assessor_id, w.head2.id);
    // The link to the first head's RHK no longer satisfies the rule at submission.
    let e = submit(s, STAFF1, &p1.id).await.unwrap_err();
    assert_eq!(reason(&e), "RHK_LINK_NOT_ASSESSOR");
    // The old head is no longer the assessor; the new one is.
    assert_eq!(
        approve(s, HEAD, &p1.id).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    let h = history(s, STAFF1, &p1.id).await;
    let last = h.last().unwrap();
    assert_eq!(
        (last.action.as_str(), last.reason.as_str()),
        ("set_assessor", "Kepala bidang cuti besar")
    );

    // Idempotent workflow call: the same request_id twice approves once.
    let (p2, _) = staff_plan(&w, STAFF2, &w.staff2.id, &a.id).await;
    submit(s, STAFF2, &p2.id).await.unwrap();
    let req = pb::ApproveSkpRequest {
        id: p2.id.clone(),
        etag: String::new(),
        request_id: "3b0c1d2e-0000-4000-8000-000000000001".into(),
    };
    let first = skp_client(s, &emp(HEAD))
        .approve_skp(req.clone())
        .await
        .unwrap()
        .into_inner();
    let again = skp_client(s, &emp(HEAD))
        .approve_skp(req)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.etag, again.etag);
    let approvals = history(s, STAFF2, &p2.id)
        .await
        .into_iter()
        .filter(|e| e.action == "approve")
        .count();
    assert_eq!(approvals, 1);
    // A stale etag on a workflow call is ABORTED.
    let e = skp_client(s, &emp(BUPATI))
        .reopen_skp(pb::ReopenSkpRequest {
            id: head_plan.id.clone(),
            reason: "Revisi".into(),
            etag: "1".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Aborted);
    w.s.stop().await;
}

#[tokio::test]
async fn copy_from_last_year_and_apply_a_template_to_many_employees() {
    let w = world().await;
    let s = &w.s;
    // Last year's plan of staff 1, approved, with a link and the leader's expectation.
    let old_head = create(s, HEAD, &w.head.id, &w.p2025.id).await;
    let ha = add_rhk(s, HEAD, &old_head.id, "RHK kepala 2025", "").await;
    add_ind(s, HEAD, &ha.id, 1.0).await;
    submit(s, HEAD, &old_head.id).await.unwrap();
    approve(s, BUPATI, &old_head.id).await.unwrap();
    let old = create(s, STAFF1, &w.staff1.id, &w.p2025.id).await;
    let r = add_rhk(s, STAFF1, &old.id, "Tersusunnya kajian 2025", &ha.id).await;
    add_ind(s, STAFF1, &r.id, 7.0).await;
    let copy = skp_client(s, &emp(STAFF1))
        .copy_skp(pb::CopySkpRequest {
            employee_id: w.staff1.id.clone(),
            period_id: w.p2026.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(copy.source_skp_id, old.id);
    assert_eq!(copy.year, 2026);
    assert_eq!(copy.state, pb::SkpState::Draft as i32);
    assert_eq!(copy.rhk.len(), 1);
    assert_eq!(copy.rhk[0].text, "Tersusunnya kajian 2025");
    assert_eq!(copy.rhk[0].parent_rhk_id, "", "last year's link is dropped");
    assert_eq!(copy.rhk[0].indicators[0].target, 7.0);
    assert_eq!(
        copy.annex.as_ref().unwrap().resource_support,
        "Anggaran DPA bidang"
    );
    // Copying someone else's plan is refused.
    let e = skp_client(s, &emp(STAFF2))
        .copy_skp(pb::CopySkpRequest {
            employee_id: w.staff2.id.clone(),
            period_id: w.p2026.id.clone(),
            source_skp_id: old.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&e), vec!["source_skp_id"]);

    // A template for "Analis Kebijakan": staff 2 gets a new draft; staff 1 gets it added to the
    // copied draft; the head (another post) and an unknown employee fail; nothing else changes.
    let template = pb::SkpTemplate {
        position_name: "analis kebijakan".into(),
        approach: pb::SkpApproach::Kuantitatif as i32,
        rhk: vec![pb::TemplateRhk {
            kind: pb::RhkKind::Utama as i32,
            text: "Tersusunnya rekomendasi kebijakan".into(),
            perspective: 0,
            indicators: vec![pb::TemplateIndicator {
                aspect: pb::IndicatorAspect::Waktu as i32,
                text: "Waktu penyelesaian".into(),
                target: 30.0,
                unit: "hari".into(),
            }],
        }],
    };
    let req = pb::ApplySkpTemplateRequest {
        period_id: w.p2026.id.clone(),
        template: Some(template.clone()),
        employee_ids: vec![
            w.staff2.id.clone(),
            w.staff1.id.clone(),
            w.head.id.clone(),
            "does-not-exist".into(),
        ],
        request_id: "7d1f0a3c-0000-4000-8000-000000000002".into(),
    };
    let admin = token(
        "bkpsdm",
        &[Role::Admin],
        std::slice::from_ref(&w.bidang),
        &[],
    );
    let e = skp_client(s, &emp(HEAD))
        .apply_skp_template(req.clone())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let out = skp_client(s, &admin)
        .apply_skp_template(req.clone())
        .await
        .unwrap()
        .into_inner();
    use pb::TemplateOutcome as T;
    let got: Vec<_> = out
        .results
        .iter()
        .map(|r| (r.outcome, r.field.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (T::Created as i32, ""),
            (T::Updated as i32, ""),
            (T::Failed as i32, "POSITION_MISMATCH"),
            (T::Failed as i32, "PERMISSION_DENIED"),
        ],
        "{:?}",
        out.results
    );
    assert_eq!((out.succeeded, out.failed), (2, 2));
    let created = get(s, &out.results[0].skp_id).await;
    assert_eq!(created.rhk.len(), 1);
    assert_eq!(created.rhk[0].indicators[0].unit, "hari");
    assert_eq!(get(s, &copy.id).await.rhk.len(), 2);
    let head_plans = skp_client(s, &s.admin_token)
        .list_skps(pb::ListSkpsRequest {
            employee_id: w.head.id.clone(),
            period_id: w.p2026.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        head_plans.skps.is_empty(),
        "the failed employee got nothing"
    );
    // A retry does nothing twice.
    let retry = skp_client(s, &admin)
        .apply_skp_template(req)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(retry.results[0].outcome, T::AlreadyApplied as i32);
    assert_eq!(retry.results[0].skp_id, created.id);
    assert_eq!(retry.results[1].outcome, T::AlreadyApplied as i32);
    assert_eq!(get(s, &copy.id).await.rhk.len(), 2);
    // Copies and template-made plans start with their content stored at their version, and a
    // replica that never read them serves it as the rows say.
    let db = Database::connect(&s.db_url).await.unwrap();
    let cold = cold_replica(s).await;
    for id in [&copy.id, &created.id] {
        let (v, built) = stored_at(&db, id).await;
        assert_eq!(built, Some(v), "content of {id} stored at its version");
        assert_eq!(get(&cold, id).await, get(s, id).await);
    }
    cold.stop().await;
    // A bad template is refused as a whole, naming the field.
    let mut bad = template;
    bad.rhk[0].indicators[0].target = -1.0;
    let e = skp_client(s, &admin)
        .apply_skp_template(pb::ApplySkpTemplateRequest {
            period_id: w.p2026.id.clone(),
            template: Some(bad),
            employee_ids: vec![w.staff2.id.clone()],
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&e), vec!["template.rhk[0].indicators[0].target"]);
    w.s.stop().await;
}

#[tokio::test]
async fn drafts_are_edited_with_etags_and_an_skp_without_assessor_waits_for_one() {
    let w = world().await;
    let s = &w.s;
    let mut staff = skp_client(s, &emp(STAFF1));
    let p = create(s, STAFF1, &w.staff1.id, &w.p2026.id).await;
    // Approach and annex of a draft, with the SKP's etag; a stale etag is ABORTED.
    let upd = pb::UpdateSkpRequest {
        skp: Some(pb::Skp {
            id: p.id.clone(),
            etag: p.etag.clone(),
            approach: pb::SkpApproach::Kualitatif as i32,
            annex: Some(pb::SkpAnnex {
                accountability: "Dilaporkan triwulanan kepada kepala bidang".into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        update_mask: mask(&["approach", "annex.accountability"]),
    };
    let edited = staff.update_skp(upd.clone()).await.unwrap().into_inner();
    assert_eq!(edited.approach, pb::SkpApproach::Kualitatif as i32);
    let annex = edited.annex.clone().unwrap();
    assert_eq!(
        (
            annex.accountability.as_str(),
            annex.resource_support.as_str()
        ),
        (
            "Dilaporkan triwulanan kepada kepala bidang",
            "Anggaran DPA bidang"
        ),
        "fields outside the mask keep their values"
    );
    assert_ne!(edited.etag, p.etag);
    assert_eq!(
        staff.update_skp(upd).await.unwrap_err().code(),
        Code::Aborted
    );
    let e = staff
        .update_skp(pb::UpdateSkpRequest {
            skp: Some(pb::Skp {
                id: p.id.clone(),
                etag: edited.etag.clone(),
                ..Default::default()
            }),
            update_mask: mask(&["employee_id"]),
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&e), vec!["update_mask"]);

    // Delete an indicator and an RHK (with their etags); a stale RHK etag is ABORTED.
    let r = add_rhk(s, STAFF1, &p.id, "Tersusunnya laporan", "").await;
    let i = add_ind(s, STAFF1, &r.id, 2.0).await;
    let extra = add_ind(s, STAFF1, &r.id, 3.0).await;
    assert_eq!((i.sequence, extra.sequence), (1, 2));
    staff
        .delete_indicator(pb::DeleteIndicatorRequest {
            id: extra.id.clone(),
            etag: extra.etag.clone(),
        })
        .await
        .unwrap();
    let renamed = staff
        .update_rhk(pb::UpdateRhkRequest {
            rhk: Some(pb::Rhk {
                id: r.id.clone(),
                etag: r.etag.clone(),
                text: "Tersusunnya laporan kinerja".into(),
                kind: pb::RhkKind::Tambahan as i32,
                ..Default::default()
            }),
            update_mask: mask(&["text", "kind"]),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(renamed.kind, pb::RhkKind::Tambahan as i32);
    let e = staff
        .delete_rhk(pb::DeleteRhkRequest {
            id: r.id.clone(),
            etag: r.etag.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Aborted);
    let now = get(s, &p.id).await;
    assert_eq!(now.rhk.len(), 1);
    assert_eq!(now.rhk[0].indicators.len(), 1);
    staff
        .delete_rhk(pb::DeleteRhkRequest {
            id: r.id.clone(),
            etag: renamed.etag.clone(),
        })
        .await
        .unwrap();
    assert!(get(s, &p.id).await.rhk.is_empty());
    let e = submit(s, STAFF1, &p.id).await.unwrap_err();
    assert_eq!(reason(&e), "SKP_HAS_NO_RHK");
    let actions: Vec<_> = history(s, STAFF1, &p.id)
        .await
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert!(actions.contains(&"indicator.delete".to_owned()));
    assert_eq!(actions.last().map(String::as_str), Some("rhk.delete"));

    // The regent's post names no superior: the SKP has no assessor, so it is not at the top of
    // a chain it could be approved in; a JPT's RHK carry a perspective.
    let top = create(s, BUPATI, &w.bupati.id, &w.p2026.id).await;
    assert_eq!((top.assessor_id.as_str(), top.top_of_chain), ("", false));
    let mut persp = rhk_req(
        &top.id,
        "Meningkatnya kualitas pelayanan publik",
        pb::RhkKind::Utama,
        "",
    );
    persp.rhk.as_mut().unwrap().perspective = pb::RhkPerspective::PenerimaLayanan as i32;
    let tr = skp_client(s, &emp(BUPATI))
        .create_rhk(persp)
        .await
        .expect("a JPT's RHK with a perspective")
        .into_inner();
    assert_eq!(tr.perspective, pb::RhkPerspective::PenerimaLayanan as i32);
    add_ind(s, BUPATI, &tr.id, 90.0).await;
    let e = submit(s, BUPATI, &top.id).await.unwrap_err();
    assert_eq!(reason(&e), "SKP_HAS_NO_ASSESSOR");
    w.s.stop().await;
}

#[tokio::test]
async fn concurrent_creates_make_one_skp_per_employee_and_concurrent_approvals_one_transition() {
    let w = world().await;
    let s = &w.s;
    let calls = (0..8).map(|_| {
        let mut c = skp_client(s, &emp(STAFF1));
        let req = pb::CreateSkpRequest {
            employee_id: w.staff1.id.clone(),
            period_id: w.p2026.id.clone(),
            approach: pb::SkpApproach::Kuantitatif as i32,
            start_date: d(2026, 1, 1),
            ..Default::default()
        };
        async move { c.create_skp(req).await.map(|r| r.into_inner()) }
    });
    let results = futures::future::join_all(calls).await;
    let made: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(made.len(), 1, "{results:?}");
    for e in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(reason(e), "SKP_OVERLAP", "{e:?}");
    }
    // Racing approvals of one submitted SKP: one approves, the others find it DISETUJUI.
    let (_, a, _) = approved_head_plan(&w).await;
    let (p2, _) = staff_plan(&w, STAFF2, &w.staff2.id, &a.id).await;
    submit(s, STAFF2, &p2.id).await.unwrap();
    let approvals = futures::future::join_all((0..6).map(|_| approve(s, HEAD, &p2.id))).await;
    assert_eq!(approvals.iter().filter(|r| r.is_ok()).count(), 1);
    for e in approvals.iter().filter_map(|r| r.as_ref().err()) {
        assert!(e.message().contains("is DISETUJUI"), "{e:?}");
    }
    let approved = history(s, STAFF2, &p2.id)
        .await
        .into_iter()
        .filter(|e| e.action == "approve")
        .count();
    assert_eq!(approved, 1);
    w.s.stop().await;
}

/// The SKP (full view) and the list page of its employee's plans (full view) as `s` serves them.
async fn read_both(s: &TestServer, skp_id: &str, employee_id: &str) -> (pb::Skp, Vec<pb::Skp>) {
    let listed = skp_client(s, &s.admin_token)
        .list_skps(pb::ListSkpsRequest {
            employee_id: employee_id.into(),
            view: pb::SkpView::Full as i32,
            ..Default::default()
        })
        .await
        .expect("list skps")
        .into_inner()
        .skps;
    (get(s, skp_id).await, listed)
}

/// Reads the SKP and its employee's plans on `b`, then on `a`, checks both replicas answer the
/// same after `what`, and returns `b`'s answer.
async fn agree(
    a: &TestServer,
    b: &TestServer,
    skp_id: &str,
    employee_id: &str,
    what: &str,
) -> (pb::Skp, Vec<pb::Skp>) {
    let seen = read_both(b, skp_id, employee_id).await;
    let fresh = read_both(a, skp_id, employee_id).await;
    assert_eq!(seen.0, fresh.0, "GetSkp after {what}");
    assert_eq!(seen.1, fresh.1, "ListSkps after {what}");
    seen
}

#[tokio::test]
async fn a_replica_that_cached_an_skp_serves_every_change_made_through_another() {
    // Each replica keeps the content of SKPs it read (RHK, indicators, behaviour values) by the
    // SKP's version; every kind of content change made through replica A shows at once in
    // replica B's reads, which equal A's in full (etags included).
    let w = world().await;
    let a = &w.s;
    // B's health loop (which empties the cache when the server goes quiet) never runs here.
    let b = a
        .replica_with(
            |c| c.health_interval = std::time::Duration::from_secs(3600),
            std::sync::Arc::new(kinerja::clock::SystemClock),
        )
        .await;
    let (p, r) = staff_plan(&w, STAFF1, &w.staff1.id, "").await;
    let employee = w.staff1.id.clone();
    let first = agree(a, &b, &p.id, &employee, "creation").await;
    assert_eq!(first.0.rhk.len(), 1);
    // B serves the content from its cache: a change written behind the service's back (no
    // version bump, as no RPC would do it) does not show on B.
    let db = Database::connect(&a.db_url).await.unwrap();
    db.execute_raw(Statement::from_string(
        db.get_database_backend(),
        format!(
            "UPDATE skp_rhk SET text = 'written behind the service' WHERE id = '{}'",
            r.id
        ),
    ))
    .await
    .unwrap();
    let cached = read_both(&b, &p.id, &employee).await;
    assert_eq!(cached.0.rhk[0].text, "Tersusunnya kajian kebijakan");
    assert_eq!(
        cached, first,
        "B answers from its cache as before the change"
    );
    let mut staff = skp_client(a, &emp(STAFF1));
    let renamed = staff
        .update_rhk(pb::UpdateRhkRequest {
            rhk: Some(pb::Rhk {
                id: r.id.clone(),
                etag: r.etag.clone(),
                text: "Tersusunnya kajian kebijakan daerah".into(),
                ..Default::default()
            }),
            update_mask: mask(&["text"]),
        })
        .await
        .expect("rename rhk")
        .into_inner();
    let seen = agree(a, &b, &p.id, &employee, "an RHK update").await;
    assert_eq!(seen.0.rhk[0].text, "Tersusunnya kajian kebijakan daerah");

    let extra = add_ind(a, STAFF1, &renamed.id, 9.0).await;
    let seen = agree(a, &b, &p.id, &employee, "a new indicator").await;
    assert_eq!(seen.0.rhk[0].indicators.len(), 2);

    let changed = staff
        .update_indicator(pb::UpdateIndicatorRequest {
            indicator: Some(pb::Indicator {
                id: extra.id.clone(),
                etag: extra.etag.clone(),
                target: 11.0,
                ..Default::default()
            }),
            update_mask: mask(&["target"]),
        })
        .await
        .expect("change target")
        .into_inner();
    let seen = agree(a, &b, &p.id, &employee, "an indicator update").await;
    assert_eq!(seen.0.rhk[0].indicators[1].target, 11.0);

    staff
        .delete_indicator(pb::DeleteIndicatorRequest {
            id: changed.id.clone(),
            etag: changed.etag.clone(),
        })
        .await
        .expect("delete indicator");
    let seen = agree(a, &b, &p.id, &employee, "an indicator deletion").await;
    assert_eq!(seen.0.rhk[0].indicators.len(), 1);

    let second = add_rhk(a, STAFF1, &p.id, "Terlaksananya sosialisasi", "").await;
    let seen = agree(a, &b, &p.id, &employee, "a new RHK").await;
    assert_eq!(seen.0.rhk.len(), 2);

    staff
        .delete_rhk(pb::DeleteRhkRequest {
            id: second.id.clone(),
            etag: second.etag.clone(),
        })
        .await
        .expect("delete rhk");
    let seen = agree(a, &b, &p.id, &employee, "an RHK deletion").await;
    assert_eq!(seen.0.rhk.len(), 1);

    // The assessor's expectation of a behaviour value.
    let before = seen.0.behaviours[0].clone();
    skp_client(a, &emp(HEAD))
        .update_behaviour(pb::UpdateBehaviourRequest {
            behaviour: Some(pb::Behaviour {
                expectation: "Melayani dengan ramah".into(),
                ..before
            }),
            update_mask: mask(&["expectation"]),
        })
        .await
        .expect("expectation");
    let seen = agree(a, &b, &p.id, &employee, "a behaviour expectation").await;
    assert_eq!(seen.0.behaviours[0].expectation, "Melayani dengan ramah");
    b.stop().await;
}

/// `skp_id`'s version and the version its stored content was built at.
async fn stored_at(db: &sea_orm::DatabaseConnection, skp_id: &str) -> (i64, Option<i64>) {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!(
                "SELECT s.version, c.version AS content_version FROM skps s \
                 LEFT JOIN skp_contents c ON c.skp_id = s.id WHERE s.id = '{skp_id}'"
            ),
        ))
        .await
        .expect("read skp")
        .expect("skp row");
    (
        row.try_get("", "version").expect("version"),
        row.try_get("", "content_version").expect("content_version"),
    )
}

/// A replica with an empty SKP content cache whose health loop (which empties it) never runs.
async fn cold_replica(s: &TestServer) -> TestServer {
    s.replica_with(
        |c| c.health_interval = std::time::Duration::from_secs(3600),
        std::sync::Arc::new(kinerja::clock::SystemClock),
    )
    .await
}

#[tokio::test]
async fn every_skp_keeps_its_content_stored_for_its_current_version() {
    // Reads take an SKP's content (RHK, indicators, behaviour values) from the encoding stored
    // with its row when it was built at the SKP's current version, and from the content rows
    // otherwise; every change keeps it current, and a replica builds what is missing at start.
    let w = world().await;
    let s = &w.s;
    let db = Database::connect(&s.db_url).await.unwrap();
    let exec = |sql: String| {
        let db = db.clone();
        async move {
            db.execute_raw(Statement::from_string(db.get_database_backend(), sql))
                .await
                .expect("raw update");
        }
    };
    let plan = create(s, HEAD, &w.head.id, &w.p2026.id).await;
    let (v, built) = stored_at(&db, &plan.id).await;
    assert_eq!(built, Some(v), "stored at creation");
    let a = add_rhk(s, HEAD, &plan.id, "Tersusunnya dokumen perencanaan", "").await;
    let (v, built) = stored_at(&db, &plan.id).await;
    assert_eq!(built, Some(v), "stored again after a new RHK");
    add_ind(s, HEAD, &a.id, 12.0).await;
    submit(s, HEAD, &plan.id).await.expect("head submits");
    approve(s, BUPATI, &plan.id).await.expect("regent approves");
    let (v, built) = stored_at(&db, &plan.id).await;
    assert!(v >= 5, "the transitions bumped the version ({v})");
    assert_eq!(
        built,
        Some(v),
        "transitions keep the stored content current"
    );
    let before = get(s, &plan.id).await;
    assert_eq!(before.rhk[0].indicators.len(), 1);

    // A replica that never read this SKP serves the stored content: a change of a content row
    // written behind the service's back, without a version bump, does not show there.
    exec(format!(
        "UPDATE skp_rhk SET text = 'written behind the service' WHERE id = '{}'",
        a.id
    ))
    .await;
    let c = cold_replica(s).await;
    assert_eq!(
        get(&c, &plan.id).await,
        before,
        "read from the stored content"
    );

    // Stored content of another version is never used: the rows are read (and a replica
    // starting now builds the content again from them).
    exec(format!(
        "UPDATE skps SET version = version + 1 WHERE id = '{}'",
        plan.id
    ))
    .await;
    let d = cold_replica(s).await;
    let moved = get(&d, &plan.id).await;
    assert_eq!(moved.rhk[0].text, "written behind the service");
    assert_ne!(moved.etag, before.etag);

    // Content missing altogether (an SKP written before it was kept) is built at start.
    exec(format!(
        "DELETE FROM skp_contents WHERE skp_id = '{}'",
        plan.id
    ))
    .await;
    let e = cold_replica(s).await;
    let mut built = None;
    for _ in 0..100 {
        let (v, at) = stored_at(&db, &plan.id).await;
        if at == Some(v) {
            built = at;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        built.is_some(),
        "a starting replica stores the missing content"
    );
    let f = cold_replica(s).await;
    assert_eq!(
        get(&f, &plan.id).await,
        moved,
        "the rebuilt content reads as the rows"
    );
    assert_eq!(get(&e, &plan.id).await, moved);
    for r in [c, d, e, f] {
        r.stop().await;
    }
}
