//! Follow-up over gRPC: development plans opened when a poor result becomes FINAL (by the window
//! sweep and by an objection decision), none for BAIK; SANGAT_BAIK flagged for recognition and
//! HR's decision recorded once; consecutive poor annual years flagged for consequences (default
//! two years, configurable), whatever the order in which the years become FINAL; the plan's
//! agreement, progress and completion; overdue actions for HR and `plan.overdue` exactly once.
//! Results are built through the assessment API (rate, calibrate, set, object, finalize).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use kinerja::auth::Role;
use kinerja::clock::ManualClock;
use kinerja::proto::v1 as pb;
use kinerja::proto::v1::assessment_service_client::AssessmentServiceClient;
use kinerja::proto::v1::audit_service_client::AuditServiceClient;
use kinerja::proto::v1::calibration_service_client::CalibrationServiceClient;
use kinerja::proto::v1::event_service_client::EventServiceClient;
use kinerja::proto::v1::follow_up_service_client::FollowUpServiceClient;
use kinerja::proto::v1::performance_period_service_client::PerformancePeriodServiceClient;
use tokio_stream::StreamExt;
use tonic::Code;

use crate::assessment::{approve, assign, emp, plan, reason, t, ts_of};
use crate::harness::{Authed, TestServer, d, nip, token};

use pb::Rating::{
    DiAtasEkspektasi as ATAS, DiBawahEkspektasi as BAWAH, SesuaiEkspektasi as SESUAI,
};

const BUPATI: u32 = 1;
const HEAD: u32 = 2;
const STAFF0: u32 = 10;
const STAFF_N: usize = 4;

/// One performance year: its annual evaluation period and each staff member's approved SKP.
struct Year {
    year: i32,
    annual: String,
    skps: Vec<String>,
}

/// A bidang whose head assesses four staff, the regent above the head, approved SKP for 2025
/// and 2026, and an HR admin of the whole agency.
struct World {
    s: TestServer,
    clock: ManualClock,
    agency: String,
    bidang: String,
    hr: String,
    staff: Vec<pb::Employee>,
    years: Vec<Year>,
}

fn staff_n(i: usize) -> u32 {
    STAFF0 + i as u32
}

impl World {
    fn follow(&self, tok: &str) -> FollowUpServiceClient<Authed> {
        FollowUpServiceClient::new(self.s.authed(Some(tok)))
    }
    fn assess(&self, tok: &str) -> AssessmentServiceClient<Authed> {
        AssessmentServiceClient::new(self.s.authed(Some(tok)))
    }
    fn calib(&self) -> CalibrationServiceClient<Authed> {
        CalibrationServiceClient::new(self.s.authed(Some(&self.s.admin_token)))
    }
    fn staff_tok(&self, i: usize) -> String {
        emp(staff_n(i))
    }
}

async fn world(tweak: impl FnOnce(&mut kinerja::server::ServerConfig)) -> World {
    use pb::PositionType::{Administrator, Jpt, Pelaksana};
    let clock = ManualClock::new(t("2025-01-05T01:00:00Z"));
    let s = TestServer::start_with(
        |cfg| {
            cfg.finalize_interval = Duration::ZERO;
            cfg.overdue_interval = Duration::ZERO;
            tweak(cfg);
        },
        Arc::new(clock.clone()),
    )
    .await;
    let agency = s
        .org()
        .create_agency(pb::CreateAgencyRequest {
            agency: Some(pb::Agency {
                code: "KOTA-PAREPARE".into(),
                name: "Pemerintah Kota Parepare".into(),
                time_zone: pb::AgencyTimeZone::Wita as i32,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("agency")
        .into_inner()
        .id;
    let mut units: Vec<String> = Vec::new();
    for (code, parent) in [("SETDA", None), ("BKPSDM-PK", Some(0))] {
        let id = s
            .org()
            .create_unit(pb::CreateUnitRequest {
                unit: Some(pb::Unit {
                    agency_id: agency.clone(),
                    parent_id: parent.map(|p: usize| units[p].clone()).unwrap_or_default(),
                    code: code.into(),
                    name: format!("Unit {code}"),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .expect("unit")
            .into_inner()
            .id;
        units.push(id);
    }
    let (root, bidang) = (units[0].clone(), units[1].clone());
    let bupati = s.employee(&agency, &nip(BUPATI), "Wali Kota").await;
    let head = s.employee(&agency, &nip(HEAD), "Kepala Bidang").await;
    assign(&s, &bupati.id, &root, "", "Wali Kota", Jpt).await;
    assign(
        &s,
        &head.id,
        &bidang,
        &bupati.id,
        "Kepala Bidang",
        Administrator,
    )
    .await;
    let mut staff = Vec::new();
    for i in 0..STAFF_N {
        let e = s
            .employee(&agency, &nip(staff_n(i)), &format!("Staf {i}"))
            .await;
        assign(
            &s,
            &e.id,
            &bidang,
            &head.id,
            "Analis SDM Aparatur",
            Pelaksana,
        )
        .await;
        staff.push(e);
    }
    let mut years = Vec::new();
    for year in [2025, 2026] {
        let period = PerformancePeriodServiceClient::new(s.authed(Some(&s.admin_token)))
            .create_period(pb::CreatePeriodRequest {
                period: Some(pb::PerformancePeriod {
                    agency_id: agency.clone(),
                    year,
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .expect("period")
            .into_inner();
        let annual = period
            .evaluation_periods
            .iter()
            .find(|e| e.annual)
            .expect("annual evaluation period")
            .id
            .clone();
        let (head_plan, head_rhk, _, _) = plan(&s, HEAD, &head.id, &period.id, "").await;
        approve(&s, BUPATI, &head_plan.id).await;
        let mut skps = Vec::new();
        for (i, e) in staff.iter().enumerate() {
            let (skp, _, _, _) = plan(&s, staff_n(i), &e.id, &period.id, &head_rhk.id).await;
            skps.push(approve(&s, HEAD, &skp.id).await.id);
        }
        years.push(Year { year, annual, skps });
    }
    let hr = token("bkpsdm-parepare", &[Role::Admin], &[root], &[]);
    World {
        s,
        clock,
        agency,
        bidang,
        hr,
        staff,
        years,
    }
}

/// Rates every staff member's annual evaluation of year `y` (after the year), sets the unit's
/// results and returns the objection deadline.
async fn close_year(w: &World, y: usize, ratings: &[(pb::Rating, pb::Rating)]) -> DateTime<Utc> {
    let yr = &w.years[y];
    w.clock.set(t(&format!("{}-01-04T02:00:00Z", yr.year + 1)));
    for (i, (h, p)) in ratings.iter().enumerate() {
        w.assess(&emp(HEAD))
            .rate_evaluation(pb::RateEvaluationRequest {
                skp_id: yr.skps[i].clone(),
                evaluation_period_id: yr.annual.clone(),
                results_rating: *h as i32,
                behaviour_rating: *p as i32,
                reason: format!("Penilaian tahunan {}", yr.year),
                ..Default::default()
            })
            .await
            .expect("rate");
    }
    w.calib()
        .set_organization_rating(pb::SetOrganizationRatingRequest {
            organization_rating: Some(pb::OrganizationRating {
                unit_id: w.bidang.clone(),
                evaluation_period_id: yr.annual.clone(),
                rating: pb::OrganizationPredikat::Istimewa as i32,
                reason: "Capaian kinerja organisasi".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("organisation rating");
    let out = w
        .calib()
        .set_unit_results(pb::SetUnitResultsRequest {
            unit_id: w.bidang.clone(),
            evaluation_period_id: yr.annual.clone(),
            request_id: String::new(),
        })
        .await
        .expect("set results")
        .into_inner();
    assert_eq!(out.evaluations.len(), ratings.len());
    ts_of(&out.evaluations[0].objection_deadline)
}

/// Staff member `i` objects to their annual result of year `y`.
async fn object(w: &World, y: usize, i: usize) -> pb::Objection {
    w.assess(&w.staff_tok(i))
        .file_objection(pb::FileObjectionRequest {
            skp_id: w.years[y].skps[i].clone(),
            evaluation_period_id: w.years[y].annual.clone(),
            reasons: "Penilaian tidak sesuai dengan bukti dukung".into(),
            request_id: String::new(),
        })
        .await
        .expect("objection")
        .into_inner()
}

/// The regent (the recorded assessor's superior) upholds an objection: the result is FINAL.
async fn uphold(w: &World, id: &str) {
    w.assess(&emp(BUPATI))
        .decide_objection(pb::DecideObjectionRequest {
            id: id.into(),
            decision: pb::ObjectionDecision::Uphold as i32,
            reason: "Penilaian sudah sesuai bukti".into(),
            ..Default::default()
        })
        .await
        .expect("decide objection");
}

/// Passes the objection window and sweeps (FinalizeExpiredResults); returns how many became FINAL.
async fn pass(w: &World, deadline: DateTime<Utc>) -> i32 {
    w.clock.set(deadline + chrono::Duration::seconds(1));
    finalize(w).await
}

async fn finalize(w: &World) -> i32 {
    finalize_on(&w.s).await
}

async fn finalize_on(s: &TestServer) -> i32 {
    CalibrationServiceClient::new(s.authed(Some(&s.admin_token)))
        .finalize_expired_results(pb::FinalizeExpiredResultsRequest::default())
        .await
        .expect("finalize")
        .into_inner()
        .finalized
}

async fn plans(
    w: &World,
    tok: &str,
    req: pb::ListDevelopmentPlansRequest,
) -> Vec<pb::DevelopmentPlan> {
    w.follow(tok)
        .list_development_plans(req)
        .await
        .expect("list plans")
        .into_inner()
        .development_plans
}

async fn unit_plans(w: &World) -> Vec<pb::DevelopmentPlan> {
    plans(
        w,
        &w.hr,
        pb::ListDevelopmentPlansRequest {
            unit_id: w.bidang.clone(),
            ..Default::default()
        },
    )
    .await
}

async fn flags(w: &World, kind: pb::FollowUpFlagKind) -> Vec<pb::FollowUpFlag> {
    w.follow(&w.hr)
        .list_follow_up_flags(pb::ListFollowUpFlagsRequest {
            unit_id: w.bidang.clone(),
            kind: kind as i32,
            ..Default::default()
        })
        .await
        .expect("list flags")
        .into_inner()
        .flags
}

/// Events of `types` committed so far.
async fn events(w: &World, types: &[&str]) -> Vec<pb::Event> {
    let mut stream = EventServiceClient::new(w.s.authed(Some(&token(
        "svc-simpeg",
        &[Role::Service],
        &[],
        &["events:read"],
    ))))
    .watch(pb::WatchRequest {
        after_event_id: String::new(),
        event_types: types.iter().map(|s| s.to_string()).collect(),
        follow: false,
    })
    .await
    .expect("watch")
    .into_inner();
    let mut out = Vec::new();
    while let Some(item) = stream.next().await {
        out.push(item.expect("event").event.expect("event body"));
    }
    out
}

fn action(
    kind: pb::DevelopmentActionKind,
    text: &str,
    target: Option<pb::Date>,
) -> pb::DevelopmentAction {
    pb::DevelopmentAction {
        kind: kind as i32,
        description: text.into(),
        target_date: target,
        ..Default::default()
    }
}

#[tokio::test]
async fn poor_results_open_plans_sangat_baik_is_flagged_and_plans_are_carried_out() {
    let w = world(|cfg| cfg.overdue_interval = Duration::from_millis(50)).await;
    let head = emp(HEAD);

    // 2025: S0 SANGAT_BAIK, S1 BAIK, S2 KURANG, S3 BUTUH_PERBAIKAN (objects; upheld later).
    let deadline = close_year(
        &w,
        0,
        &[
            (ATAS, ATAS),
            (SESUAI, SESUAI),
            (SESUAI, BAWAH),
            (BAWAH, SESUAI),
        ],
    )
    .await;
    let objection = object(&w, 0, 3).await;
    assert!(unit_plans(&w).await.is_empty(), "set results are not FINAL");

    // The window passes: the sweep writes three results FINAL and opens the one plan due.
    assert_eq!(pass(&w, deadline).await, 3);
    assert_eq!(finalize(&w).await, 0, "a second sweep finds nothing");
    let opened = unit_plans(&w).await;
    assert_eq!(opened.len(), 1, "exactly one plan: S2's KURANG");
    let p2 = &opened[0];
    assert_eq!(p2.employee_id, w.staff[2].id);
    assert_eq!(p2.state, pb::DevelopmentPlanState::Draft as i32);
    assert_eq!(p2.predikat, pb::Predikat::Kurang as i32);
    assert!(p2.required);
    assert_eq!(
        (p2.year, p2.skp_id.as_str()),
        (2025, w.years[0].skps[2].as_str())
    );
    assert_eq!(p2.evaluation_period_id, w.years[0].annual);

    // The objection decided makes S3's result FINAL and opens its plan in the same transaction.
    uphold(&w, &objection.id).await;
    let opened = unit_plans(&w).await;
    assert_eq!(opened.len(), 2);
    let p3 = opened
        .iter()
        .find(|p| p.employee_id == w.staff[3].id)
        .expect("S3's plan");
    assert_eq!(p3.predikat, pb::Predikat::ButuhPerbaikan as i32);
    // BAIK opens none; the employee lists their own plans.
    let own = plans(
        &w,
        &w.staff_tok(1),
        pb::ListDevelopmentPlansRequest {
            employee_id: w.staff[1].id.clone(),
            ..Default::default()
        },
    )
    .await;
    assert!(own.is_empty());

    // An optional plan for the BAIK result, by the assessor; a second one is refused.
    let ev1 = w
        .assess(&head)
        .get_evaluation(pb::GetEvaluationRequest {
            skp_id: w.years[0].skps[1].clone(),
            evaluation_period_id: w.years[0].annual.clone(),
        })
        .await
        .expect("evaluation")
        .into_inner();
    let create = pb::CreateDevelopmentPlanRequest {
        evaluation_id: ev1.id.clone(),
        competency_gaps: vec!["Penguasaan analisis jabatan".into()],
        request_id: "rpi-s1-2025".into(),
    };
    let optional = w
        .follow(&head)
        .create_development_plan(create.clone())
        .await
        .expect("optional plan")
        .into_inner();
    assert!(!optional.required);
    let again = w
        .follow(&head)
        .create_development_plan(create)
        .await
        .expect("a retry returns the first plan")
        .into_inner();
    assert_eq!(again.id, optional.id);
    let e = w
        .follow(&w.staff_tok(1))
        .create_development_plan(pb::CreateDevelopmentPlanRequest {
            evaluation_id: ev1.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "the employee opens none");
    let e = w
        .follow(&head)
        .create_development_plan(pb::CreateDevelopmentPlanRequest {
            evaluation_id: ev1.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::AlreadyExists);

    // SANGAT_BAIK is flagged for recognition, once.
    let rec = flags(&w, pb::FollowUpFlagKind::Recognition).await;
    assert_eq!(rec.len(), 1);
    let flag = &rec[0];
    assert_eq!(flag.employee_id, w.staff[0].id);
    assert_eq!(flag.state, pb::FollowUpFlagState::Pending as i32);
    assert_eq!(flag.predikat, pb::Predikat::SangatBaik as i32);
    assert!(flag.annual && flag.year == 2025);
    assert!(
        flags(&w, pb::FollowUpFlagKind::Consequence)
            .await
            .is_empty()
    );
    // The employee sees their own flag; a colleague may not list it.
    let mine = w
        .follow(&w.staff_tok(0))
        .list_follow_up_flags(pb::ListFollowUpFlagsRequest {
            employee_id: w.staff[0].id.clone(),
            ..Default::default()
        })
        .await
        .expect("own flags")
        .into_inner()
        .flags;
    assert_eq!(mine.len(), 1);
    let e = w
        .follow(&w.staff_tok(1))
        .list_follow_up_flags(pb::ListFollowUpFlagsRequest {
            employee_id: w.staff[0].id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);

    // HR decides; the employee may not; an outcome of the other kind is refused.
    let decide = |outcome: pb::FollowUpOutcome| pb::DecideFollowUpFlagRequest {
        id: flag.id.clone(),
        outcome: outcome as i32,
        reason: "SK Wali Kota 800/112/BKPSDM/2026".into(),
        request_id: String::new(),
    };
    let e = w
        .follow(&w.staff_tok(0))
        .decide_follow_up_flag(decide(pb::FollowUpOutcome::Reward))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let e = w
        .follow(&w.hr)
        .decide_follow_up_flag(decide(pb::FollowUpOutcome::SanctionProceeding))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let decided = w
        .follow(&w.hr)
        .decide_follow_up_flag(decide(pb::FollowUpOutcome::RewardAndTalentPool))
        .await
        .expect("HR decides")
        .into_inner();
    assert_eq!(decided.state, pb::FollowUpFlagState::Decided as i32);
    assert_eq!(
        decided.outcome,
        pb::FollowUpOutcome::RewardAndTalentPool as i32
    );
    assert_eq!(decided.decided_by, "bkpsdm-parepare");
    assert!(decided.decide_time.is_some());
    let e = w
        .follow(&w.hr)
        .decide_follow_up_flag(decide(pb::FollowUpOutcome::NoAction))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert_eq!(reason(&e), "FLAG_DECIDED");
    // One flag by the id a followup.flagged event names: the employee, HR and followup:read
    // read it with the decision; a colleague and a results:read service may not.
    let flagged = events(&w, &["followup.flagged"]).await;
    let ev = flagged
        .iter()
        .find(|e| e.resource_id == flag.id)
        .expect("followup.flagged names the flag");
    let get = |id: &str| pb::GetFollowUpFlagRequest { id: id.to_owned() };
    for tok in [
        w.staff_tok(0),
        w.hr.clone(),
        token("svc-talenta", &[Role::Service], &[], &["followup:read"]),
    ] {
        let got = w
            .follow(&tok)
            .get_follow_up_flag(get(&ev.resource_id))
            .await
            .expect("get flag")
            .into_inner();
        assert_eq!(got, decided);
    }
    for tok in [
        w.staff_tok(1),
        token("svc-tpp", &[Role::Service], &[], &["results:read"]),
    ] {
        let e = w
            .follow(&tok)
            .get_follow_up_flag(get(&flag.id))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied);
    }
    let e = w
        .follow(&w.hr)
        .get_follow_up_flag(get("01a00000-0000-7000-8000-000000000000"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let e = w
        .follow(&w.hr)
        .get_follow_up_flag(get(" "))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);

    let audit = AuditServiceClient::new(w.s.authed(Some(&token(
        "inspektorat",
        &[Role::Auditor],
        &[],
        &[],
    ))))
    .list_audit_entries(pb::ListAuditEntriesRequest {
        resource_type: "FollowUpFlag".into(),
        resource_id: flag.id.clone(),
        ..Default::default()
    })
    .await
    .expect("audit")
    .into_inner()
    .entries;
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["flag", "decide"]);
    assert_eq!(audit[1].actor, "bkpsdm-parepare");
    assert!(audit[1].change_json.contains("REWARD_AND_TALENT_POOL"));

    // S2's plan: only the employee, their assessor and HR read it.
    let e = w
        .follow(&w.staff_tok(1))
        .get_development_plan(pb::GetDevelopmentPlanRequest { id: p2.id.clone() })
        .await
        .unwrap_err();
    assert_eq!(
        e.code(),
        Code::PermissionDenied,
        "a colleague may not read it"
    );
    w.follow(&w.staff_tok(2))
        .get_development_plan(pb::GetDevelopmentPlanRequest { id: p2.id.clone() })
        .await
        .expect("the employee reads their plan");
    // The assessor writes the gaps and the actions; the employee may not.
    let e = w
        .follow(&w.staff_tok(2))
        .add_development_action(pb::AddDevelopmentActionRequest {
            plan_id: p2.id.clone(),
            etag: String::new(),
            action: Some(action(
                pb::DevelopmentActionKind::Training,
                "Diklat",
                d(2026, 3, 31),
            )),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let e = w
        .follow(&head)
        .add_development_action(pb::AddDevelopmentActionRequest {
            plan_id: p2.id.clone(),
            etag: String::new(),
            action: Some(action(pb::DevelopmentActionKind::Unspecified, " ", None)),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let e = w
        .follow(&w.staff_tok(2))
        .agree_development_plan(pb::AgreeDevelopmentPlanRequest {
            id: p2.id.clone(),
            etag: p2.etag.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&e), "PLAN_EMPTY", "nothing to agree to yet");
    let p = w
        .follow(&head)
        .update_development_plan(pb::UpdateDevelopmentPlanRequest {
            development_plan: Some(pb::DevelopmentPlan {
                id: p2.id.clone(),
                etag: p2.etag.clone(),
                competency_gaps: vec![
                    "Integritas dalam pelaporan kehadiran".into(),
                    "Penyusunan laporan analisis".into(),
                ],
                ..Default::default()
            }),
            update_mask: None,
        })
        .await
        .expect("gaps")
        .into_inner();
    assert_eq!(p.competency_gaps.len(), 2);
    let mut p = p;
    for (kind, text, target) in [
        (
            pb::DevelopmentActionKind::Training,
            "Pelatihan penulisan laporan, 24 JP",
            d(2026, 3, 31),
        ),
        (
            pb::DevelopmentActionKind::Coaching,
            "Coaching bulanan dengan kepala bidang",
            d(2026, 6, 30),
        ),
    ] {
        p = w
            .follow(&head)
            .add_development_action(pb::AddDevelopmentActionRequest {
                plan_id: p2.id.clone(),
                etag: p.etag.clone(),
                action: Some(action(kind, text, target)),
            })
            .await
            .expect("action")
            .into_inner();
    }
    assert_eq!(p.actions.len(), 2);
    let training = p.actions[0].id.clone();
    // A stale etag is refused.
    let e = w
        .follow(&w.staff_tok(2))
        .agree_development_plan(pb::AgreeDevelopmentPlanRequest {
            id: p.id.clone(),
            etag: p2.etag.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Aborted);
    // The employee and the assessor agree: AGREED.
    let p = w
        .follow(&w.staff_tok(2))
        .agree_development_plan(pb::AgreeDevelopmentPlanRequest {
            id: p.id.clone(),
            etag: p.etag.clone(),
        })
        .await
        .expect("employee agrees")
        .into_inner();
    assert_eq!(p.state, pb::DevelopmentPlanState::Draft as i32);
    assert!(p.employee_agree_time.is_some());
    let e = w
        .follow(&w.hr)
        .agree_development_plan(pb::AgreeDevelopmentPlanRequest {
            id: p.id.clone(),
            etag: p.etag.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        e.code(),
        Code::PermissionDenied,
        "HR does not agree for them"
    );
    let p = w
        .follow(&head)
        .agree_development_plan(pb::AgreeDevelopmentPlanRequest {
            id: p.id.clone(),
            etag: p.etag.clone(),
        })
        .await
        .expect("assessor agrees")
        .into_inner();
    assert_eq!(p.state, pb::DevelopmentPlanState::Agreed as i32);
    // The employee reports progress (the plan stays agreed) but may not move a target date.
    let progress =
        |status: pb::DevelopmentActionStatus, pct: i32| pb::UpdateDevelopmentActionRequest {
            plan_id: p2.id.clone(),
            etag: String::new(),
            action: Some(pb::DevelopmentAction {
                id: training.clone(),
                progress_percent: pct,
                status: status as i32,
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["progress_percent".into(), "status".into()],
            }),
        };
    let p = w
        .follow(&w.staff_tok(2))
        .update_development_action(progress(pb::DevelopmentActionStatus::InProgress, 40))
        .await
        .expect("progress")
        .into_inner();
    assert_eq!(p.state, pb::DevelopmentPlanState::Agreed as i32);
    assert_eq!(p.actions[0].progress_percent, 40);
    let e = w
        .follow(&w.staff_tok(2))
        .update_development_action(pb::UpdateDevelopmentActionRequest {
            plan_id: p2.id.clone(),
            etag: String::new(),
            action: Some(pb::DevelopmentAction {
                id: training.clone(),
                target_date: d(2026, 12, 31),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["target_date".into()],
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let e = w
        .follow(&w.staff_tok(2))
        .update_development_action(progress(pb::DevelopmentActionStatus::InProgress, 140))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    // Completing with unfinished actions is refused.
    let e = w
        .follow(&head)
        .complete_development_plan(pb::CompleteDevelopmentPlanRequest {
            id: p2.id.clone(),
            etag: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&e), "PLAN_ACTIONS_OPEN");

    // The training passes its target date unfinished: HR sees it, and the overdue sweepers of
    // three replicas (same database, same clock) announce it exactly once.
    let mut replicas = Vec::new();
    for _ in 0..2 {
        replicas.push(
            w.s.replica_with(
                |cfg| {
                    cfg.finalize_interval = Duration::ZERO;
                    cfg.overdue_interval = Duration::from_millis(10);
                },
                Arc::new(w.clock.clone()),
            )
            .await,
        );
    }
    assert!(
        events(&w, &["plan.overdue"]).await.is_empty(),
        "nothing is overdue yet"
    );
    w.clock.set(t("2026-04-02T02:00:00Z"));
    let overdue = w
        .follow(&w.hr)
        .list_overdue_development_actions(pb::ListOverdueDevelopmentActionsRequest {
            unit_id: w.bidang.clone(),
            ..Default::default()
        })
        .await
        .expect("overdue")
        .into_inner()
        .actions;
    assert_eq!(overdue.len(), 1);
    assert_eq!(overdue[0].plan_id, p2.id);
    assert_eq!(overdue[0].days_overdue, 2);
    assert!(overdue[0].action.as_ref().is_some_and(|a| a.overdue));
    let e = w
        .follow(&w.staff_tok(2))
        .list_overdue_development_actions(pb::ListOverdueDevelopmentActionsRequest {
            unit_id: w.bidang.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let only_overdue = plans(
        &w,
        &w.hr,
        pb::ListDevelopmentPlansRequest {
            unit_id: w.bidang.clone(),
            overdue_only: true,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        only_overdue
            .iter()
            .map(|p| p.id.as_str())
            .collect::<Vec<_>>(),
        [p2.id.as_str()]
    );
    let mut seen = Vec::new();
    for _ in 0..200 {
        seen = events(&w, &["plan.overdue"]).await;
        if !seen.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(seen.len(), 1, "announced");
    // Several more sweeps publish nothing more.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let seen = events(&w, &["plan.overdue"]).await;
    assert_eq!(seen.len(), 1, "published exactly once");
    assert_eq!(seen[0].resource_id, p2.id);
    assert!(seen[0].data_json.contains(&training));

    // Done: no longer overdue; both done, the plan is completed and changes no more.
    let p = w
        .follow(&w.staff_tok(2))
        .update_development_action(progress(pb::DevelopmentActionStatus::Done, 0))
        .await
        .expect("done")
        .into_inner();
    assert_eq!(p.actions[0].progress_percent, 100, "DONE is 100%");
    let overdue = w
        .follow(&w.hr)
        .list_overdue_development_actions(pb::ListOverdueDevelopmentActionsRequest {
            unit_id: w.bidang.clone(),
            ..Default::default()
        })
        .await
        .expect("overdue")
        .into_inner()
        .actions;
    assert!(overdue.is_empty());
    // The assessor moves the coaching's date: agreement is re-opened (back to DRAFT).
    let coaching = p.actions[1].id.clone();
    let p = w
        .follow(&head)
        .update_development_action(pb::UpdateDevelopmentActionRequest {
            plan_id: p2.id.clone(),
            etag: p.etag.clone(),
            action: Some(pb::DevelopmentAction {
                id: coaching.clone(),
                target_date: d(2026, 5, 31),
                status: pb::DevelopmentActionStatus::Done as i32,
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["target_date".into(), "status".into()],
            }),
        })
        .await
        .expect("assessor changes the plan")
        .into_inner();
    assert_eq!(p.state, pb::DevelopmentPlanState::Draft as i32);
    assert!(p.employee_agree_time.is_none() && p.assessor_agree_time.is_none());
    let mut p = p;
    for tok in [w.staff_tok(2), head.clone()] {
        p = w
            .follow(&tok)
            .agree_development_plan(pb::AgreeDevelopmentPlanRequest {
                id: p.id.clone(),
                etag: p.etag.clone(),
            })
            .await
            .expect("agree again")
            .into_inner();
    }
    let p = w
        .follow(&head)
        .complete_development_plan(pb::CompleteDevelopmentPlanRequest {
            id: p.id.clone(),
            etag: p.etag.clone(),
        })
        .await
        .expect("complete")
        .into_inner();
    assert_eq!(p.state, pb::DevelopmentPlanState::Completed as i32);
    assert!(p.complete_time.is_some());
    let e = w
        .follow(&head)
        .update_development_plan(pb::UpdateDevelopmentPlanRequest {
            development_plan: Some(pb::DevelopmentPlan {
                id: p.id.clone(),
                competency_gaps: vec!["Lagi".into()],
                ..Default::default()
            }),
            update_mask: None,
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&e), "PLAN_COMPLETED");

    // The feed carries every follow-up change, written with the change.
    let opened = events(&w, &["plan.opened"]).await;
    assert_eq!(opened.len(), 3, "S2, S3 and the optional plan");
    assert_eq!(events(&w, &["followup.flagged"]).await.len(), 1);
    assert_eq!(events(&w, &["followup.decided"]).await.len(), 1);
    // An agency admin elsewhere sees nothing of this unit.
    let stranger = token("bkd-lain", &[Role::Admin], &[], &[]);
    let e = w
        .follow(&stranger)
        .list_development_plans(pb::ListDevelopmentPlansRequest {
            unit_id: w.bidang.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    for r in replicas {
        r.stop().await;
    }
}

#[tokio::test]
async fn two_consecutive_poor_annual_years_are_flagged_for_consequences() {
    let w = world(|_| {}).await;
    // 2025: S0 KURANG, S1 KURANG, S2 SANGAT_KURANG (objects; decided only after 2026), S3 BAIK.
    let deadline = close_year(
        &w,
        0,
        &[
            (SESUAI, BAWAH),
            (SESUAI, BAWAH),
            (BAWAH, BAWAH),
            (SESUAI, SESUAI),
        ],
    )
    .await;
    let objection = object(&w, 0, 2).await;
    // Two replicas sweep at once: each result is finalised, and followed up, exactly once.
    let replica =
        w.s.replica_with(
            |cfg| {
                cfg.finalize_interval = Duration::ZERO;
                cfg.overdue_interval = Duration::ZERO;
            },
            Arc::new(w.clock.clone()),
        )
        .await;
    w.clock.set(deadline + chrono::Duration::seconds(1));
    let (a, b) = tokio::join!(finalize_on(&w.s), finalize_on(&replica));
    assert_eq!(a + b, 3);
    replica.stop().await;
    assert_eq!(
        unit_plans(&w).await.len(),
        2,
        "S0 and S1; S2 waits for its objection"
    );
    assert_eq!(events(&w, &["plan.opened"]).await.len(), 2);
    assert!(
        flags(&w, pb::FollowUpFlagKind::Consequence)
            .await
            .is_empty(),
        "one poor year is not repeated"
    );
    // 2026: S0 KURANG (second year: flagged), S1 BAIK (none), S2 KURANG, S3 KURANG (first year).
    let deadline = close_year(
        &w,
        1,
        &[
            (SESUAI, BAWAH),
            (SESUAI, SESUAI),
            (SESUAI, BAWAH),
            (SESUAI, BAWAH),
        ],
    )
    .await;
    assert_eq!(pass(&w, deadline).await, 4);
    let cons = flags(&w, pb::FollowUpFlagKind::Consequence).await;
    assert_eq!(
        cons.iter()
            .map(|f| f.employee_id.as_str())
            .collect::<Vec<_>>(),
        [w.staff[0].id.as_str()],
        "KURANG twice: flagged; KURANG then BAIK, BAIK then KURANG: not; S2's 2025 is not FINAL yet"
    );
    let f = &cons[0];
    assert_eq!((f.year, f.annual), (2026, true));
    assert_eq!(f.skp_id, w.years[1].skps[0]);
    assert_eq!(f.state, pb::FollowUpFlagState::Pending as i32);
    assert!(f.reason.contains("2025, 2026"), "{}", f.reason);

    // S2's 2025 objection is decided after 2026 is FINAL: the run is complete now, and the flag
    // goes to the later year's evaluation.
    uphold(&w, &objection.id).await;
    let cons = flags(&w, pb::FollowUpFlagKind::Consequence).await;
    assert_eq!(cons.len(), 2);
    let f2 = cons
        .iter()
        .find(|f| f.employee_id == w.staff[2].id)
        .expect("S2 flagged");
    assert_eq!(f2.skp_id, w.years[1].skps[2]);
    assert_eq!(f2.predikat, pb::Predikat::Kurang as i32);
    // Nothing is raised twice.
    assert_eq!(finalize(&w).await, 0);
    assert_eq!(flags(&w, pb::FollowUpFlagKind::Consequence).await.len(), 2);
    let flagged = events(&w, &["followup.flagged"]).await;
    assert_eq!(
        flagged
            .iter()
            .filter(|e| e.data_json.contains("CONSEQUENCE"))
            .count(),
        2
    );
    // Each poor FINAL result has its plan: S0, S1, S2 in 2025; S0, S2, S3 in 2026.
    assert_eq!(unit_plans(&w).await.len(), 6);
    // Filters: pending flags of 2026 only.
    let pending_2026 = w
        .follow(&w.hr)
        .list_follow_up_flags(pb::ListFollowUpFlagsRequest {
            unit_id: w.bidang.clone(),
            state: pb::FollowUpFlagState::Pending as i32,
            year: 2026,
            annual_only: true,
            page_size: 1,
            ..Default::default()
        })
        .await
        .expect("page 1")
        .into_inner();
    assert_eq!(pending_2026.flags.len(), 1);
    assert!(!pending_2026.next_page_token.is_empty());
    // A service account with followup:read reads flags; one without the scope does not.
    let payroll = token("svc-karier", &[Role::Service], &[], &["followup:read"]);
    let all = w
        .follow(&payroll)
        .list_follow_up_flags(pb::ListFollowUpFlagsRequest::default())
        .await
        .expect("scope reads")
        .into_inner()
        .flags;
    assert_eq!(all.len(), 2);
    let other = token("svc-lain", &[Role::Service], &[], &["results:read"]);
    let e = w
        .follow(&other)
        .list_follow_up_flags(pb::ListFollowUpFlagsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn the_consequence_rule_is_configurable() {
    let w = world(|_| {}).await;
    let get = w
        .follow(&w.staff_tok(0))
        .get_follow_up_settings(pb::GetFollowUpSettingsRequest {
            agency_id: w.agency.clone(),
        })
        .await
        .expect("settings")
        .into_inner();
    assert_eq!(get.consequence_years, 2);
    assert_eq!(get.consequence_threshold, pb::Predikat::Kurang as i32);
    assert_eq!(get.source, pb::SettingSource::Default as i32);
    let update = |years: i32, threshold: pb::Predikat| pb::UpdateFollowUpSettingsRequest {
        settings: Some(pb::FollowUpSettings {
            agency_id: w.agency.clone(),
            consequence_years: years,
            consequence_threshold: threshold as i32,
            ..Default::default()
        }),
        update_mask: None,
    };
    let e = w
        .follow(&w.staff_tok(0))
        .update_follow_up_settings(update(3, pb::Predikat::Kurang))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let e = w
        .follow(&w.hr)
        .update_follow_up_settings(update(1, pb::Predikat::Baik))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let set = w
        .follow(&w.hr)
        .update_follow_up_settings(update(3, pb::Predikat::Kurang))
        .await
        .expect("HR sets three years")
        .into_inner();
    assert_eq!(
        (set.consequence_years, set.source, set.etag.as_str()),
        (3, pb::SettingSource::Agency as i32, "1")
    );
    let e = w
        .follow(&w.hr)
        .update_follow_up_settings(update(4, pb::Predikat::Kurang))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Aborted, "the stored setting needs its etag");

    // KURANG in 2025 and 2026: two years are not three.
    for (y, ratings) in [
        (
            0,
            [
                (SESUAI, BAWAH),
                (SESUAI, SESUAI),
                (SESUAI, SESUAI),
                (ATAS, SESUAI),
            ],
        ),
        (
            1,
            [
                (SESUAI, BAWAH),
                (SESUAI, SESUAI),
                (SESUAI, SESUAI),
                (ATAS, SESUAI),
            ],
        ),
    ] {
        let deadline = close_year(&w, y, &ratings).await;
        assert_eq!(pass(&w, deadline).await, 4);
    }
    assert!(
        flags(&w, pb::FollowUpFlagKind::Consequence)
            .await
            .is_empty()
    );
    let own = plans(
        &w,
        &w.staff_tok(0),
        pb::ListDevelopmentPlansRequest {
            employee_id: w.staff[0].id.clone(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(own.iter().map(|p| p.year).collect::<Vec<_>>(), [2025, 2026]);
}

/// Listing an employee's plans follows the assessor recorded on each plan, as reading one does:
/// after the employee's superior changes, the former assessor still lists the plan they made
/// and the new superior does not see it.
#[tokio::test]
async fn listing_an_employees_plans_follows_the_assessor_recorded_on_them() {
    let w = world(|_| {}).await;
    let deadline = close_year(
        &w,
        0,
        &[
            (SESUAI, SESUAI),
            (SESUAI, SESUAI),
            (SESUAI, BAWAH),
            (SESUAI, SESUAI),
        ],
    )
    .await;
    assert_eq!(pass(&w, deadline).await, 4);
    let opened = unit_plans(&w).await;
    assert_eq!(opened.len(), 1, "S2's KURANG opens a plan");
    let p2 = opened[0].clone();
    let ids = |v: Vec<pb::DevelopmentPlan>| v.into_iter().map(|p| p.id).collect::<Vec<String>>();
    assert_eq!(
        ids(plans_of(&w, &emp(HEAD), &w.staff[2].id)
            .await
            .expect("head lists")),
        [p2.id.as_str()]
    );

    // S2 moves under a new head of bidang (today's superior changes; the plan keeps its record).
    let new_head = w.s.employee(&w.agency, &nip(3), "Kepala Bidang Baru").await;
    let asg =
        w.s.assignments()
            .list_assignments(pb::ListAssignmentsRequest {
                employee_id: w.staff[2].id.clone(),
                ..Default::default()
            })
            .await
            .expect("assignments")
            .into_inner()
            .assignments
            .remove(0);
    w.s.assignments()
        .update_assignment(pb::UpdateAssignmentRequest {
            assignment: Some(pb::Assignment {
                id: asg.id.clone(),
                superior_employee_id: new_head.id.clone(),
                etag: asg.etag.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["superior_employee_id".into()],
            }),
        })
        .await
        .expect("new superior");

    // The former assessor still lists and reads the plan they made; the new one sees neither.
    assert_eq!(
        ids(plans_of(&w, &emp(HEAD), &w.staff[2].id)
            .await
            .expect("former assessor lists")),
        [p2.id.as_str()]
    );
    assert!(
        w.follow(&emp(HEAD))
            .get_development_plan(pb::GetDevelopmentPlanRequest { id: p2.id.clone() })
            .await
            .is_ok()
    );
    assert_eq!(
        w.follow(&emp(3))
            .get_development_plan(pb::GetDevelopmentPlanRequest { id: p2.id.clone() })
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    assert!(
        plans_of(&w, &emp(3), &w.staff[2].id)
            .await
            .expect("new superior lists")
            .is_empty()
    );
    // The employee, HR and a colleague as before.
    assert_eq!(
        ids(plans_of(&w, &w.staff_tok(2), &w.staff[2].id)
            .await
            .expect("own")),
        [p2.id.as_str()]
    );
    assert_eq!(
        ids(plans_of(&w, &w.hr.clone(), &w.staff[2].id)
            .await
            .expect("HR")),
        [p2.id.as_str()]
    );
    assert_eq!(
        plans_of(&w, &w.staff_tok(1), &w.staff[2].id)
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
}

async fn plans_of(
    w: &World,
    tok: &str,
    employee: &str,
) -> Result<Vec<pb::DevelopmentPlan>, tonic::Status> {
    w.follow(tok)
        .list_development_plans(pb::ListDevelopmentPlansRequest {
            employee_id: employee.to_owned(),
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner().development_plans)
}
