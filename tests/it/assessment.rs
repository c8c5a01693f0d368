//! Assessment over gRPC: a unit of ten staff through a whole year (action plans, realisasi with
//! evidence, feedback, self-assessment, ratings, calibration refused and fixed, an exception,
//! set, objections upheld and changed, FINAL by decision and by the window, immutability of FINAL
//! results, annual result with angka kredit), bad input and permissions, settings, rule-set
//! versions and the sweeper. Time is a ManualClock, so windows are crossed without waiting.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use kinerja::auth::Role;
use kinerja::clock::ManualClock;
use kinerja::proto::v1 as pb;
use kinerja::proto::v1::assessment_service_client::AssessmentServiceClient;
use kinerja::proto::v1::calibration_service_client::CalibrationServiceClient;
use kinerja::proto::v1::event_service_client::EventServiceClient;
use kinerja::proto::v1::performance_period_service_client::PerformancePeriodServiceClient;
use kinerja::proto::v1::report_service_client::ReportServiceClient;
use kinerja::proto::v1::skp_service_client::SkpServiceClient;
use sha2::{Digest, Sha256};
use tokio_stream::StreamExt;
use tonic::Code;
use tonic_types::StatusExt;

use crate::harness::{Authed, TestServer, d, nip, token};

use pb::Predikat as P;
use pb::Rating::{
    DiAtasEkspektasi as ATAS, DiBawahEkspektasi as BAWAH, SesuaiEkspektasi as SESUAI,
};

pub(crate) const BUPATI: u32 = 1;
pub(crate) const HEAD: u32 = 2;
pub(crate) const HEAD2: u32 = 3;
pub(crate) const STAFF0: u32 = 10;
pub(crate) const STAFF_N: usize = 10;

pub(crate) fn emp(n: u32) -> String {
    token(&nip(n), &[Role::Employee], &[], &[])
}

pub(crate) fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("time")
        .with_timezone(&Utc)
}

pub(crate) fn reason(st: &tonic::Status) -> String {
    st.get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default()
}

pub(crate) fn fields(st: &tonic::Status) -> Vec<String> {
    st.get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|f| f.field.clone()).collect())
        .unwrap_or_default()
}

fn sha(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

pub(crate) fn ts_of(t: &Option<prost_types::Timestamp>) -> DateTime<Utc> {
    let t = t.as_ref().expect("timestamp");
    DateTime::from_timestamp(t.seconds, t.nanos as u32).expect("valid timestamp")
}

/// A unit (bidang) whose head assesses ten staff; the regent above the head; a second head in
/// another bidang. Every staff SKP is approved, the last staff member holds a JF post.
pub(crate) struct World {
    pub(crate) s: TestServer,
    pub(crate) clock: ManualClock,
    pub(crate) agency: String,
    pub(crate) root: String,
    pub(crate) bidang: String,
    pub(crate) period: pb::PerformancePeriod,
    pub(crate) admin: String,
    pub(crate) head2: pb::Employee,
    pub(crate) staff: Vec<pb::Employee>,
    /// Per staff member: SKP, RHK, indicator KUANTITAS (target 12), indicator WAKTU (target 30).
    pub(crate) plans: Vec<(pb::Skp, pb::Rhk, pb::Indicator, pb::Indicator)>,
}

impl World {
    pub(crate) fn assess(&self, tok: &str) -> AssessmentServiceClient<Authed> {
        AssessmentServiceClient::new(self.s.authed(Some(tok)))
    }
    pub(crate) fn calib(&self, tok: &str) -> CalibrationServiceClient<Authed> {
        CalibrationServiceClient::new(self.s.authed(Some(tok)))
    }
    pub(crate) fn skp(&self, tok: &str) -> SkpServiceClient<Authed> {
        SkpServiceClient::new(self.s.authed(Some(tok)))
    }
    pub(crate) fn ep(&self, q: usize) -> String {
        self.period.evaluation_periods[q].id.clone()
    }
    pub(crate) fn staff_n(i: usize) -> u32 {
        STAFF0 + i as u32
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn assign(
    s: &TestServer,
    emp: &str,
    unit: &str,
    sup: &str,
    name: &str,
    ptype: pb::PositionType,
) {
    s.assignments()
        .create_assignment(pb::CreateAssignmentRequest {
            assignment: Some(pb::Assignment {
                employee_id: emp.into(),
                unit_id: unit.into(),
                superior_employee_id: sup.into(),
                position_name: name.into(),
                position_type: ptype as i32,
                start_date: d(2025, 1, 1),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("assignment");
}

pub(crate) async fn plan(
    w_s: &TestServer,
    n: u32,
    employee: &str,
    period: &str,
    parent: &str,
) -> (pb::Skp, pb::Rhk, pb::Indicator, pb::Indicator) {
    let c = SkpServiceClient::new(w_s.authed(Some(&emp(n))));
    let skp = c
        .clone()
        .create_skp(pb::CreateSkpRequest {
            employee_id: employee.into(),
            period_id: period.into(),
            approach: pb::SkpApproach::Kuantitatif as i32,
            ..Default::default()
        })
        .await
        .expect("create skp")
        .into_inner();
    let rhk = c
        .clone()
        .create_rhk(pb::CreateRhkRequest {
            skp_id: skp.id.clone(),
            rhk: Some(pb::Rhk {
                kind: pb::RhkKind::Utama as i32,
                text: "Tersusunnya kajian kebijakan".into(),
                parent_rhk_id: parent.into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("rhk")
        .into_inner();
    let mut inds = Vec::new();
    for (aspect, target, unit) in [
        (pb::IndicatorAspect::Kuantitas, 12.0, "dokumen"),
        (pb::IndicatorAspect::Waktu, 30.0, "hari"),
    ] {
        inds.push(
            c.clone()
                .create_indicator(pb::CreateIndicatorRequest {
                    rhk_id: rhk.id.clone(),
                    indicator: Some(pb::Indicator {
                        aspect: aspect as i32,
                        text: format!("Indikator {unit}"),
                        target,
                        unit: unit.into(),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                })
                .await
                .expect("indicator")
                .into_inner(),
        );
    }
    c.clone()
        .submit_skp(pb::SubmitSkpRequest {
            id: skp.id.clone(),
            ..Default::default()
        })
        .await
        .expect("submit");
    let w = inds.pop().expect("waktu");
    let k = inds.pop().expect("kuantitas");
    (skp, rhk, k, w)
}

pub(crate) async fn approve(s: &TestServer, n: u32, id: &str) -> pb::Skp {
    SkpServiceClient::new(s.authed(Some(&emp(n))))
        .approve_skp(pb::ApproveSkpRequest {
            id: id.into(),
            ..Default::default()
        })
        .await
        .expect("approve")
        .into_inner()
}

pub(crate) async fn world(tweak: impl FnOnce(&mut kinerja::server::ServerConfig)) -> World {
    use pb::PositionType::{Administrator, Jf, Jpt, Pelaksana};
    let clock = ManualClock::new(t("2026-01-05T01:00:00Z"));
    let s = TestServer::start_with(tweak, Arc::new(clock.clone())).await;
    let agency = s
        .org()
        .create_agency(pb::CreateAgencyRequest {
            agency: Some(pb::Agency {
                code: "KAB-MAROS".into(),
                name: "Pemerintah Kabupaten Maros".into(),
                time_zone: pb::AgencyTimeZone::Wita as i32,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("agency")
        .into_inner()
        .id;
    let mk_unit = |code: &'static str, parent: String| {
        let s = &s;
        let agency = agency.clone();
        async move {
            s.org()
                .create_unit(pb::CreateUnitRequest {
                    unit: Some(pb::Unit {
                        agency_id: agency,
                        parent_id: parent,
                        code: code.into(),
                        name: format!("Unit {code}"),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                })
                .await
                .expect("unit")
                .into_inner()
                .id
        }
    };
    let root = mk_unit("SETDA", String::new()).await;
    let bidang = mk_unit("BAPPEDA-REN", root.clone()).await;
    let bidang2 = mk_unit("BAPPEDA-EVL", root.clone()).await;
    let bupati = s.employee(&agency, &nip(BUPATI), "Bupati Maros").await;
    let head = s.employee(&agency, &nip(HEAD), "Kepala Bidang").await;
    let head2 = s.employee(&agency, &nip(HEAD2), "Kepala Bidang Dua").await;
    assign(&s, &bupati.id, &root, "", "Bupati", Jpt).await;
    assign(
        &s,
        &head.id,
        &bidang,
        &bupati.id,
        "Kepala Bidang",
        Administrator,
    )
    .await;
    assign(
        &s,
        &head2.id,
        &bidang2,
        &bupati.id,
        "Kepala Bidang",
        Administrator,
    )
    .await;
    let mut staff = Vec::new();
    for i in 0..STAFF_N {
        let e = s
            .employee(&agency, &nip(World::staff_n(i)), &format!("Staf {i:02}"))
            .await;
        let (name, ptype) = if i == STAFF_N - 1 {
            ("Perencana Ahli Pertama", Jf)
        } else {
            ("Analis Perencanaan", Pelaksana)
        };
        assign(&s, &e.id, &bidang, &head.id, name, ptype).await;
        staff.push(e);
    }
    let period = PerformancePeriodServiceClient::new(s.authed(Some(&s.admin_token)))
        .create_period(pb::CreatePeriodRequest {
            period: Some(pb::PerformancePeriod {
                agency_id: agency.clone(),
                year: 2026,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("period")
        .into_inner();
    // The head's plan (top of the chain: the regent has no superior), approved by the regent.
    let (head_plan, head_rhk, _, _) = plan(&s, HEAD, &head.id, &period.id, "").await;
    approve(&s, BUPATI, &head_plan.id).await;
    let mut plans = Vec::new();
    for (i, e) in staff.iter().enumerate() {
        let (skp, rhk, k, wk) = plan(&s, World::staff_n(i), &e.id, &period.id, &head_rhk.id).await;
        let skp = approve(&s, HEAD, &skp.id).await;
        assert_eq!(skp.assessor_id, head.id);
        assert_eq!(skp.assessor_superior_id, bupati.id);
        plans.push((skp, rhk, k, wk));
    }
    let admin = token(
        "bkpsdm-maros",
        &[Role::Admin],
        std::slice::from_ref(&root),
        &[],
    );
    World {
        s,
        clock,
        agency,
        root,
        bidang,
        period,
        admin,
        head2,
        staff,
        plans,
    }
}

pub(crate) fn evidence(i: usize, q: usize) -> Vec<pb::Evidence> {
    vec![pb::Evidence {
        url: format!("https://arsip.maroskab.go.id/bukti/{q}/{i}.pdf"),
        sha256: sha(&format!("bukti {q} {i}")),
        description: "Laporan kajian".into(),
        ..Default::default()
    }]
}

pub(crate) fn realisasi_req(
    ind: &str,
    ep: &str,
    value: f64,
    ev: Vec<pb::Evidence>,
) -> pb::CreateRealisasiRequest {
    pb::CreateRealisasiRequest {
        realisasi: Some(pb::Realisasi {
            indicator_id: ind.into(),
            evaluation_period_id: ep.into(),
            value,
            account: "Kajian disusun dan disampaikan kepada pimpinan".into(),
            evidence: ev,
            ..Default::default()
        }),
        request_id: String::new(),
    }
}

/// Every staff member reports both indicators with evidence and assesses themself.
pub(crate) async fn report_all(w: &World, q: usize) {
    let ep = w.ep(q);
    for (i, (skp, _, k, wk)) in w.plans.iter().enumerate() {
        let c = w.assess(&emp(World::staff_n(i)));
        let r = c
            .clone()
            .create_realisasi(realisasi_req(
                &k.id,
                &ep,
                3.0 * (q as f64 + 1.0),
                evidence(i, q),
            ))
            .await
            .expect("realisasi")
            .into_inner();
        assert!(r.capaian_percent.is_some());
        c.clone()
            .create_realisasi(realisasi_req(&wk.id, &ep, 25.0, evidence(i, q)))
            .await
            .expect("realisasi waktu");
        c.clone()
            .submit_self_assessment(pb::SubmitSelfAssessmentRequest {
                skp_id: skp.id.clone(),
                evaluation_period_id: ep.clone(),
                self_assessment: Some(pb::SelfAssessment {
                    text: "Target triwulan tercapai".into(),
                    results_rating: ATAS as i32,
                    behaviour_rating: SESUAI as i32,
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .expect("self assessment");
    }
}

pub(crate) async fn rate(
    w: &World,
    i: usize,
    q: usize,
    h: pb::Rating,
    p: pb::Rating,
) -> Result<pb::Evaluation, tonic::Status> {
    w.assess(&emp(HEAD))
        .rate_evaluation(pb::RateEvaluationRequest {
            skp_id: w.plans[i].0.id.clone(),
            evaluation_period_id: w.ep(q),
            results_rating: h as i32,
            behaviour_rating: p as i32,
            reason: format!("Penilaian triwulan {}", q + 1),
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner())
}

/// The head rates: the first `sb` staff SANGAT_BAIK, the rest BAIK.
pub(crate) async fn rate_all(w: &World, q: usize, sb: usize) {
    for i in 0..STAFF_N {
        let (h, p) = if i < sb {
            (ATAS, ATAS)
        } else {
            (SESUAI, SESUAI)
        };
        let e = rate(w, i, q, h, p).await.expect("rate");
        assert_eq!(e.state, pb::EvaluationState::Dinilai as i32);
        let want = if i < sb { P::SangatBaik } else { P::Baik };
        assert_eq!(e.predikat, want as i32);
    }
}

pub(crate) async fn org_rating(
    w: &World,
    tok: &str,
    q: usize,
    r: pb::OrganizationPredikat,
) -> Result<pb::OrganizationRating, tonic::Status> {
    w.calib(tok)
        .set_organization_rating(pb::SetOrganizationRatingRequest {
            organization_rating: Some(pb::OrganizationRating {
                unit_id: w.bidang.clone(),
                evaluation_period_id: w.ep(q),
                rating: r as i32,
                reason: "Capaian kinerja organisasi sangat baik".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .map(|r| r.into_inner())
}

pub(crate) async fn set(
    w: &World,
    tok: &str,
    q: usize,
) -> Result<pb::SetUnitResultsResponse, tonic::Status> {
    w.calib(tok)
        .set_unit_results(pb::SetUnitResultsRequest {
            unit_id: w.bidang.clone(),
            evaluation_period_id: w.ep(q),
            request_id: String::new(),
        })
        .await
        .map(|r| r.into_inner())
}

/// CheckCalibration of the bidang. Every check is compared with the calibration status of the
/// bidang's distribution report, which counts the group in the database instead of listing its
/// members: both must agree in every state the tests go through (no evaluation, TERBUKA,
/// DINILAI, set, FINAL written or seen lazily, objections, exceptions).
async fn check(w: &World, tok: &str, q: usize) -> pb::CalibrationReport {
    let report = w
        .calib(tok)
        .check_calibration(pb::CheckCalibrationRequest {
            unit_id: w.bidang.clone(),
            evaluation_period_id: w.ep(q),
        })
        .await
        .expect("check")
        .into_inner();
    let dist = ReportServiceClient::new(w.s.authed(Some(&w.admin)))
        .get_distribution_report(pb::GetDistributionReportRequest {
            unit_id: w.bidang.clone(),
            evaluation_period_id: w.ep(q),
            page_size: 1,
            page_token: String::new(),
        })
        .await
        .expect("distribution report")
        .into_inner();
    let cal = dist.calibration.expect("calibration status");
    // The bidang's row in the report of the unit above (counted for all child rows of a page
    // in one statement) carries the same status as the bidang's own report.
    let parent = ReportServiceClient::new(w.s.authed(Some(&w.admin)))
        .get_distribution_report(pb::GetDistributionReportRequest {
            unit_id: w.root.clone(),
            evaluation_period_id: w.ep(q),
            page_size: 10,
            page_token: String::new(),
        })
        .await
        .expect("distribution report of the unit above")
        .into_inner();
    let row = parent
        .children
        .iter()
        .find(|c| c.unit_id == w.bidang)
        .expect("the bidang's row");
    assert_eq!(
        row.calibration.as_ref(),
        Some(&cal),
        "child row and own report"
    );
    let listed = report.members.len() as i32;
    let unrated = report.members.iter().filter(|m| m.predikat == 0).count() as i32;
    assert_eq!(
        (report.head_count, report.unrated),
        (listed, unrated),
        "counts of the listed members"
    );
    assert_eq!(
        (
            cal.group_size,
            cal.unrated,
            cal.distribution,
            cal.within_curve,
            cal.breaches,
            cal.exception_id,
            cal.org_rating,
            cal.rule_set_version,
        ),
        (
            report.head_count,
            report.unrated,
            report.distribution,
            report.conforms,
            report.breaches.clone(),
            report.exception_id.clone(),
            report.org_rating,
            report.rule_set_version.clone(),
        ),
        "counted in the database and listed agree"
    );
    list_matches_members(w, &report, q, 0).await;
    for st in [
        pb::EvaluationState::Dinilai,
        pb::EvaluationState::Ditetapkan,
    ] {
        list_matches_members(w, &report, q, st as i32).await;
    }
    report
}

/// `ListEvaluations` of the bidang, walked in pages of 3 (optionally of one state), lists each
/// calibration group member (in that state) once, in SKP id order, in the member's state.
async fn list_matches_members(w: &World, report: &pb::CalibrationReport, q: usize, state: i32) {
    let mut expected: Vec<(String, i32)> = report
        .members
        .iter()
        .filter(|m| state == 0 || m.state == state)
        .map(|m| (m.skp_id.clone(), m.state))
        .collect();
    expected.sort();
    let listed: Vec<(String, i32)> = list_bidang(w, q, state)
        .await
        .into_iter()
        .map(|e| (e.skp_id, e.state))
        .collect();
    assert_eq!(
        listed, expected,
        "listed evaluations (state {state}) are the group's members"
    );
}

/// Every evaluation of the bidang in evaluation period `q` (in `state`, 0: any), as the admin
/// walks `ListEvaluations` in pages of 3.
async fn list_bidang(w: &World, q: usize, state: i32) -> Vec<pb::Evaluation> {
    let mut listed = Vec::new();
    let mut token = String::new();
    loop {
        let page = w
            .assess(&w.admin)
            .list_evaluations(pb::ListEvaluationsRequest {
                unit_id: w.bidang.clone(),
                evaluation_period_id: w.ep(q),
                state,
                page_size: 3,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .expect("list evaluations")
            .into_inner();
        assert!(
            page.evaluations.len() <= 3,
            "a page holds at most page_size"
        );
        listed.extend(page.evaluations);
        if page.next_page_token.is_empty() {
            return listed;
        }
        token = page.next_page_token;
    }
}

/// Every evaluation that `ListEvaluations` of the bidang lists (pages of 3) is the document
/// `GetEvaluation` returns for its SKP, field for field (state, objection, final reason, lock,
/// capaian); returns the listed evaluations.
async fn page_matches_point_reads(w: &World, q: usize) -> Vec<pb::Evaluation> {
    let listed = list_bidang(w, q, 0).await;
    assert!(!listed.is_empty(), "the bidang's group lists evaluations");
    for e in &listed {
        let one = w
            .assess(&w.admin)
            .get_evaluation(pb::GetEvaluationRequest {
                skp_id: e.skp_id.clone(),
                evaluation_period_id: w.ep(q),
            })
            .await
            .expect("get evaluation")
            .into_inner();
        assert_eq!(e, &one, "listed and read alone agree");
    }
    listed
}

pub(crate) async fn get_eval(
    w: &World,
    tok: &str,
    i: usize,
    q: usize,
) -> Result<pb::Evaluation, tonic::Status> {
    w.assess(tok)
        .get_evaluation(pb::GetEvaluationRequest {
            skp_id: w.plans[i].0.id.clone(),
            evaluation_period_id: w.ep(q),
        })
        .await
        .map(|r| r.into_inner())
}

pub(crate) async fn finalize(w: &World) -> pb::FinalizeExpiredResultsResponse {
    w.calib(&w.s.admin_token)
        .finalize_expired_results(pb::FinalizeExpiredResultsRequest::default())
        .await
        .expect("finalize")
        .into_inner()
}

pub(crate) async fn object(
    w: &World,
    n: u32,
    i: usize,
    q: usize,
) -> Result<pb::Objection, tonic::Status> {
    w.assess(&emp(n))
        .file_objection(pb::FileObjectionRequest {
            skp_id: w.plans[i].0.id.clone(),
            evaluation_period_id: w.ep(q),
            reasons: "Capaian saya di atas target dan bukti dukung lengkap".into(),
            request_id: String::new(),
        })
        .await
        .map(|r| r.into_inner())
}

pub(crate) async fn decide(
    w: &World,
    n: u32,
    id: &str,
    decision: pb::ObjectionDecision,
    ratings: Option<(pb::Rating, pb::Rating)>,
) -> Result<pb::Objection, tonic::Status> {
    let (h, p) = ratings.map_or((0, 0), |(h, p)| (h as i32, p as i32));
    w.assess(&emp(n))
        .decide_objection(pb::DecideObjectionRequest {
            id: id.into(),
            decision: decision as i32,
            results_rating: h,
            behaviour_rating: p,
            reason: "Keberatan telah diperiksa bersama penilai".into(),
            request_id: String::new(),
        })
        .await
        .map(|r| r.into_inner())
}

/// Moves the clock past the objection window of a set and finalises.
async fn pass_window(w: &World, deadline: DateTime<Utc>) -> pb::FinalizeExpiredResultsResponse {
    w.clock.set(deadline + chrono::Duration::seconds(1));
    // An admin of the agency finalises its results; the whole installation is not theirs.
    let e = w
        .calib(&w.admin)
        .finalize_expired_results(pb::FinalizeExpiredResultsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    w.calib(&w.admin)
        .finalize_expired_results(pb::FinalizeExpiredResultsRequest {
            agency_id: w.agency.clone(),
        })
        .await
        .expect("finalize the agency's results")
        .into_inner()
}

#[tokio::test]
async fn a_unit_of_ten_through_a_year() {
    // No sweeper: the test finalises by RPC and counts what each call did.
    let w = world(|cfg| cfg.finalize_interval = Duration::ZERO).await;
    let head = emp(HEAD);
    let bupati = emp(BUPATI);

    // ---- Q1: during the quarter ----
    w.clock.set(t("2026-02-10T02:00:00Z"));
    let q1 = w.ep(0);
    let s0 = emp(World::staff_n(0));
    // Action plans by the employee.
    let ap = w
        .assess(&s0)
        .create_action_plan(pb::CreateActionPlanRequest {
            action_plan: Some(pb::ActionPlan {
                rhk_id: w.plans[0].1.id.clone(),
                evaluation_period_id: q1.clone(),
                text: "Mengumpulkan data dan menyusun draf kajian".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("action plan")
        .into_inner();
    let ap = w
        .assess(&s0)
        .update_action_plan(pb::UpdateActionPlanRequest {
            action_plan: Some(pb::ActionPlan {
                id: ap.id.clone(),
                etag: ap.etag.clone(),
                text: "Mengumpulkan data, menyusun dan memaparkan draf kajian".into(),
                ..Default::default()
            }),
            update_mask: None,
        })
        .await
        .expect("update action plan")
        .into_inner();
    assert_eq!(ap.etag, "2");
    // Feedback by the assessor on the RHK and on a behaviour value, visible to the employee.
    for f in [
        pb::Feedback {
            skp_id: w.plans[0].0.id.clone(),
            evaluation_period_id: q1.clone(),
            rhk_id: w.plans[0].1.id.clone(),
            text: "Perkuat analisis data primer".into(),
            ..Default::default()
        },
        pb::Feedback {
            skp_id: w.plans[0].0.id.clone(),
            behaviour: pb::BerakhlakValue::Kolaboratif as i32,
            text: "Libatkan bidang lain sejak awal".into(),
            ..Default::default()
        },
    ] {
        let fb = w
            .assess(&head)
            .create_feedback(pb::CreateFeedbackRequest {
                feedback: Some(f),
                request_id: String::new(),
            })
            .await
            .expect("feedback")
            .into_inner();
        assert_eq!(fb.author_id, w.plans[0].0.assessor_id);
        assert!(fb.create_time.is_some());
    }
    let seen = w
        .assess(&s0)
        .list_feedback(pb::ListFeedbackRequest {
            skp_id: w.plans[0].0.id.clone(),
            ..Default::default()
        })
        .await
        .expect("employee sees feedback")
        .into_inner()
        .feedback;
    assert_eq!(seen.len(), 2);
    assert_eq!(
        seen[0].behaviour,
        pb::BerakhlakValue::Kolaboratif as i32,
        "newest first"
    );
    // Realisasi with evidence and self-assessments of everyone.
    report_all(&w, 0).await;
    let listed = w
        .assess(&head)
        .list_realisasi(pb::ListRealisasiRequest {
            skp_id: w.plans[0].0.id.clone(),
            evaluation_period_id: q1.clone(),
            ..Default::default()
        })
        .await
        .expect("assessor lists realisasi")
        .into_inner()
        .realisasi;
    assert_eq!(listed.len(), 2);
    let k = listed
        .iter()
        .find(|r| r.indicator_id == w.plans[0].2.id)
        .expect("kuantitas");
    assert_eq!(k.capaian_percent, Some(25.0), "3 of 12 dokumen");
    assert_eq!(k.evidence[0].sha256, sha("bukti 0 0"));
    let wk = listed
        .iter()
        .find(|r| r.indicator_id == w.plans[0].3.id)
        .expect("waktu");
    assert_eq!(
        wk.capaian_percent,
        Some(120.0),
        "30 days target, done in 25"
    );

    // ---- Q1: assessment after the quarter ----
    w.clock.set(t("2026-04-02T02:00:00Z"));
    // 8 SANGAT_BAIK and 2 BAIK.
    rate_all(&w, 0, 8).await;
    let e0 = get_eval(&w, &s0, 0, 0).await.expect("employee reads");
    assert_eq!(e0.capaian.len(), 2, "capaian shown with the rating");
    assert_eq!(
        e0.self_assessment.as_ref().map(|s| s.results_rating),
        Some(ATAS as i32)
    );
    assert_eq!(e0.assessor_id, w.plans[0].0.assessor_id);

    // The organisation rating: the head (the unit's own leader) may not set it, the regent
    // (the leader one level up) may.
    let e = org_rating(&w, &head, 0, pb::OrganizationPredikat::Istimewa)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let org = org_rating(&w, &bupati, 0, pb::OrganizationPredikat::Istimewa)
        .await
        .expect("regent sets the organisation rating");
    assert_eq!(org.etag, "1");

    // Calibration: ISTIMEWA allows at most 70% (7 of 10) SANGAT_BAIK; 8 break it by one.
    let report = check(&w, &head, 0).await;
    assert_eq!(
        report.head_count, 10,
        "the head's own plan is calibrated one level up"
    );
    assert_eq!(report.unrated, 0);
    assert!(!report.conforms && !report.settable);
    let b = &report.breaches[0];
    assert_eq!(
        (
            b.rule.as_ref().map(|r| r.id.as_str()),
            b.actual,
            b.bound,
            b.excess
        ),
        (Some("ISTIMEWA.max_sangat_baik"), 8, 7, 1)
    );
    assert!(b.description.contains("1 too many"), "{}", b.description);
    assert_eq!(report.rule_set_version, "permenpanrb-6-2022");
    let e = set(&w, &bupati, 0).await.unwrap_err();
    assert_eq!(
        (e.code(), reason(&e).as_str()),
        (Code::FailedPrecondition, "CALIBRATION_BREACH")
    );
    assert!(
        e.message().contains("ISTIMEWA.max_sangat_baik"),
        "{}",
        e.message()
    );
    for i in 0..STAFF_N {
        let ev = get_eval(&w, &head, i, 0).await.unwrap();
        assert_eq!(ev.state, pb::EvaluationState::Dinilai as i32, "nothing set");
    }
    // The fix: the assessor reconsiders one rating (BAIK: results above, behaviour meets).
    let fixed = rate(&w, 7, 0, ATAS, SESUAI).await.expect("re-rate");
    assert_eq!(fixed.predikat, P::Baik as i32);
    assert!(check(&w, &head, 0).await.settable);
    // The head is not the leader one level up: setting is the regent's (or an admin's).
    assert_eq!(
        set(&w, &head, 0).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    let set_at = t("2026-04-10T02:00:00Z"); // 10:00 WITA
    w.clock.set(set_at);
    let out = set(&w, &bupati, 0).await.expect("set");
    assert_eq!(out.evaluations.len(), 10);
    // 14 days counted in WITA: until 24 April 23:59:59.999 WITA.
    let deadline = t("2026-04-24T15:59:59.999Z");
    for ev in &out.evaluations {
        assert_eq!(ev.state, pb::EvaluationState::Ditetapkan as i32);
        assert_eq!(ev.rule_set_version, "permenpanrb-6-2022");
        assert_eq!(ev.org_rating, pb::OrganizationPredikat::Istimewa as i32);
        assert_eq!(ts_of(&ev.objection_deadline), deadline);
        assert_eq!(ts_of(&ev.set_time), set_at);
    }
    // The organisation rating is now fixed for the period.
    let e = org_rating(&w, &bupati, 0, pb::OrganizationPredikat::Baik)
        .await
        .unwrap_err();
    assert_eq!(reason(&e), "ORG_RATING_LOCKED");

    // ---- Q1: objections ----
    w.clock.set(t("2026-04-15T03:00:00Z"));
    // Only the employee may object.
    let e = object(&w, HEAD, 8, 0).await.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let e = object(&w, World::staff_n(9), 8, 0).await.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "not their own result");
    let upheld = object(&w, World::staff_n(8), 8, 0)
        .await
        .expect("objection");
    assert_eq!(upheld.state, pb::ObjectionState::Diajukan as i32);
    assert_eq!(upheld.previous_predikat, P::Baik as i32);
    let changed = object(&w, World::staff_n(9), 9, 0)
        .await
        .expect("objection");
    let e = object(&w, World::staff_n(9), 9, 0).await.unwrap_err();
    assert_eq!(reason(&e), "OBJECTION_EXISTS");
    // The superior of the assessor decides; the assessor may not.
    let e = decide(&w, HEAD, &upheld.id, pb::ObjectionDecision::Uphold, None)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let d1 = decide(&w, BUPATI, &upheld.id, pb::ObjectionDecision::Uphold, None)
        .await
        .expect("upheld");
    assert_eq!(
        (d1.state, d1.decision, d1.predikat),
        (
            pb::ObjectionState::Diputus as i32,
            pb::ObjectionDecision::Uphold as i32,
            P::Baik as i32
        )
    );
    let d2 = decide(
        &w,
        BUPATI,
        &changed.id,
        pb::ObjectionDecision::Change,
        Some((ATAS, ATAS)),
    )
    .await
    .expect("changed");
    assert_eq!(
        (d2.previous_predikat, d2.predikat),
        (P::Baik as i32, P::SangatBaik as i32)
    );
    for (i, want) in [(8, P::Baik), (9, P::SangatBaik)] {
        let ev = get_eval(&w, &emp(World::staff_n(i)), i, 0).await.unwrap();
        assert_eq!(ev.state, pb::EvaluationState::Final as i32);
        assert_eq!(ev.final_reason, pb::FinalReason::ObjectionDecided as i32);
        assert_eq!(ev.predikat, want as i32);
    }
    let listed = page_matches_point_reads(&w, 0).await;
    assert!(
        [&upheld.id, &changed.id]
            .iter()
            .all(|id| listed.iter().any(|e| &&e.objection_id == id)),
        "the page names both objections"
    );
    let e = decide(&w, BUPATI, &changed.id, pb::ObjectionDecision::Uphold, None)
        .await
        .unwrap_err();
    assert_eq!(reason(&e), "OBJECTION_DECIDED", "the decision is final");

    // ---- Q1: the window ----
    w.clock.set(deadline);
    let late = object(&w, World::staff_n(1), 1, 0).await;
    assert!(
        late.is_ok(),
        "the last millisecond of the window still counts"
    );
    // (staff 1 objected at the deadline; the decision comes later)
    w.clock.set(deadline + chrono::Duration::milliseconds(1));
    let e = object(&w, World::staff_n(2), 2, 0).await.unwrap_err();
    assert_eq!(
        (e.code(), reason(&e).as_str()),
        (Code::FailedPrecondition, "OBJECTION_WINDOW_CLOSED")
    );
    // Readers see FINAL at once; the sweep writes it down (7: not the two decided, not the
    // pending objection).
    let ev = get_eval(&w, &emp(World::staff_n(0)), 0, 0).await.unwrap();
    assert_eq!(
        (ev.state, ev.final_reason),
        (
            pb::EvaluationState::Final as i32,
            pb::FinalReason::WindowPassed as i32
        )
    );
    assert_eq!(ts_of(&ev.final_time), deadline);
    assert_eq!(finalize(&w).await.finalized, 7);
    assert_eq!(finalize(&w).await.finalized, 0, "each result once");
    let pending = get_eval(&w, &head, 1, 0).await.unwrap();
    assert_eq!(
        pending.state,
        pb::EvaluationState::Ditetapkan as i32,
        "held by its objection"
    );
    decide(
        &w,
        BUPATI,
        &late.unwrap().id,
        pb::ObjectionDecision::Uphold,
        None,
    )
    .await
    .expect("late objection decided");

    // ---- A FINAL result never changes ----
    let before = get_eval(&w, &head, 0, 0).await.unwrap();
    let e = rate(&w, 0, 0, BAWAH, BAWAH).await.unwrap_err();
    assert_eq!(reason(&e), "EVALUATION_FINAL");
    let e = w
        .assess(&s0)
        .update_realisasi(pb::UpdateRealisasiRequest {
            realisasi: Some(pb::Realisasi {
                id: k.id.clone(),
                etag: k.etag.clone(),
                value: 12.0,
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["value".into()],
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&e), "EVALUATION_FINAL");
    let e = w
        .assess(&s0)
        .submit_self_assessment(pb::SubmitSelfAssessmentRequest {
            skp_id: w.plans[0].0.id.clone(),
            evaluation_period_id: q1.clone(),
            self_assessment: Some(pb::SelfAssessment {
                text: "Revisi".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&e), "EVALUATION_FINAL");
    let e = object(&w, World::staff_n(0), 0, 0).await.unwrap_err();
    assert_eq!(reason(&e), "OBJECTION_WINDOW_CLOSED");
    let e = set(&w, &bupati, 0).await.unwrap_err();
    assert_eq!(reason(&e), "NOTHING_TO_SET");
    assert_eq!(
        get_eval(&w, &head, 0, 0).await.unwrap(),
        before,
        "unchanged"
    );

    // ---- Explanation ----
    let x = w
        .assess(&emp(World::staff_n(9)))
        .explain_evaluation(pb::ExplainEvaluationRequest {
            skp_id: w.plans[9].0.id.clone(),
            evaluation_period_id: q1.clone(),
        })
        .await
        .expect("explain")
        .into_inner();
    let cell = x.matrix_cell.expect("matrix cell");
    assert_eq!(
        (cell.results_rating, cell.behaviour_rating, cell.predikat),
        (ATAS as i32, ATAS as i32, P::SangatBaik as i32)
    );
    assert_eq!(x.indicators.len(), 2);
    assert!(
        x.indicators
            .iter()
            .all(|i| i.capaian_percent.is_some() && !i.evidence.is_empty())
    );
    assert_eq!(x.assessor_name, "Kepala Bidang");
    assert_eq!(
        x.evaluation.as_ref().map(|e| e.rule_set_version.as_str()),
        Some("permenpanrb-6-2022")
    );
    assert_eq!(
        x.objection.as_ref().map(|o| o.decision),
        Some(pb::ObjectionDecision::Change as i32)
    );
    assert!(
        x.reasons.iter().any(|r| r.contains("Predikat SANGAT_BAIK")),
        "{:?}",
        x.reasons
    );
    let x0 = w
        .assess(&s0)
        .explain_evaluation(pb::ExplainEvaluationRequest {
            skp_id: w.plans[0].0.id.clone(),
            evaluation_period_id: q1.clone(),
        })
        .await
        .expect("explain")
        .into_inner();
    assert_eq!(x0.feedback.len(), 2);
    assert_eq!(x0.action_plans.len(), 1);

    // The employee sees every change of their result: the first rating, the one after
    // calibration, the set and FINAL.
    let history = w
        .assess(&emp(World::staff_n(7)))
        .list_evaluation_history(pb::ListEvaluationHistoryRequest {
            skp_id: w.plans[7].0.id.clone(),
            evaluation_period_id: q1.clone(),
            ..Default::default()
        })
        .await
        .expect("history")
        .into_inner()
        .entries;
    assert_eq!(
        history
            .iter()
            .map(|e| e.action.as_str())
            .collect::<Vec<_>>(),
        vec![
            "realisasi.create",
            "realisasi.create",
            "self_assessment",
            "rate",
            "rate",
            "set",
            "finalize"
        ]
    );
    assert_eq!(history[4].actor, nip(HEAD));
    assert!(
        history[4].change_json.contains("SANGAT_BAIK"),
        "the predikat before"
    );
    let payroll = token("svc-payroll", &[Role::Service], &[], &["results:read"]);
    let e = w
        .assess(&payroll)
        .list_evaluation_history(pb::ListEvaluationHistoryRequest {
            skp_id: w.plans[7].0.id.clone(),
            evaluation_period_id: q1.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        e.code(),
        Code::PermissionDenied,
        "drafts are not for services"
    );

    // ---- Q2: the curve broken again, set under an admin's exception ----
    w.clock.set(t("2026-05-20T02:00:00Z"));
    report_all(&w, 1).await;
    w.clock.set(t("2026-07-03T02:00:00Z"));
    rate_all(&w, 1, 8).await;
    org_rating(&w, &w.admin, 1, pb::OrganizationPredikat::Istimewa)
        .await
        .expect("an admin sets it too");
    assert_eq!(
        reason(&set(&w, &bupati, 1).await.unwrap_err()),
        "CALIBRATION_BREACH"
    );
    // The regent may not record exceptions; an admin may, with a reason.
    let exc_req = pb::RecordCalibrationExceptionRequest {
        unit_id: w.bidang.clone(),
        evaluation_period_id: w.ep(1),
        reason: "Delapan pegawai menyelesaikan proyek strategis daerah (SK Bupati 12/2026)".into(),
        request_id: String::new(),
    };
    let e = w
        .calib(&bupati)
        .record_calibration_exception(exc_req.clone())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let exc = w
        .calib(&w.admin)
        .record_calibration_exception(exc_req)
        .await
        .expect("exception")
        .into_inner();
    assert_eq!(exc.breaches.len(), 1);
    assert_eq!(exc.distribution.as_ref().map(|d| d.sangat_baik), Some(8));
    let report = check(&w, &bupati, 1).await;
    assert!(report.settable && !report.conforms);
    assert_eq!(report.exception_id, exc.id);
    let out = set(&w, &bupati, 1).await.expect("set under the exception");
    assert!(
        out.evaluations
            .iter()
            .all(|e| e.calibration_exception_id == exc.id)
    );
    // The explanation of a result set under the exception shows its reason and the assessor.
    let x = w
        .assess(&w.admin)
        .explain_evaluation(pb::ExplainEvaluationRequest {
            skp_id: w.plans[0].0.id.clone(),
            evaluation_period_id: w.ep(1),
        })
        .await
        .expect("explain under the exception")
        .into_inner();
    assert_eq!(
        x.calibration_exception_reason,
        "Delapan pegawai menyelesaikan proyek strategis daerah (SK Bupati 12/2026)"
    );
    assert_eq!(x.assessor_name, "Kepala Bidang");
    let q2_deadline = ts_of(&out.evaluations[0].objection_deadline);
    assert_eq!(pass_window(&w, q2_deadline).await.finalized, 10);

    // ---- Q3 and Q4 (the annual evaluation) ----
    for (q, report_at, rate_at) in [
        (2, "2026-08-20T02:00:00Z", "2026-10-02T02:00:00Z"),
        (3, "2026-11-20T02:00:00Z", "2027-01-04T02:00:00Z"),
    ] {
        w.clock.set(t(report_at));
        report_all(&w, q).await;
        w.clock.set(t(rate_at));
        rate_all(&w, q, 7).await;
        org_rating(&w, &bupati, q, pb::OrganizationPredikat::Istimewa)
            .await
            .expect("org rating");
        let out = set(&w, &bupati, q).await.expect("set");
        assert_eq!(out.evaluations.len(), 10);
        let dl = ts_of(&out.evaluations[0].objection_deadline);
        assert_eq!(pass_window(&w, dl).await.finalized, 10);
    }
    assert!(w.period.evaluation_periods[3].annual);
    let annual_ev = get_eval(&w, &head, 0, 3).await.unwrap();
    assert!(annual_ev.annual);

    // ---- Annual result and angka kredit of the JF staff member ----
    let jf = 9;
    let e = w
        .assess(&head)
        .set_credit_coefficient(pb::SetCreditCoefficientRequest {
            credit_coefficient: Some(pb::CreditCoefficient {
                skp_id: w.plans[jf].0.id.clone(),
                coefficient: 12.5,
                reason: "Ahli Pertama".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "admins set coefficients");
    let e = w
        .assess(&w.admin)
        .set_credit_coefficient(pb::SetCreditCoefficientRequest {
            credit_coefficient: Some(pb::CreditCoefficient {
                skp_id: w.plans[0].0.id.clone(),
                coefficient: 12.5,
                reason: "Ahli Pertama".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&e), "NOT_FUNCTIONAL_POSITION");
    w.assess(&w.admin)
        .set_credit_coefficient(pb::SetCreditCoefficientRequest {
            credit_coefficient: Some(pb::CreditCoefficient {
                skp_id: w.plans[jf].0.id.clone(),
                coefficient: 12.5,
                reason: "Perencana Ahli Pertama (PermenPANRB 1/2023)".into(),
                ..Default::default()
            }),
        })
        .await
        .expect("coefficient");
    let payroll = token("svc-payroll", &[Role::Service], &[], &["results:read"]);
    let annual = w
        .assess(&payroll)
        .get_annual_result(pb::GetAnnualResultRequest {
            employee_id: w.staff[jf].id.clone(),
            year: 2026,
        })
        .await
        .expect("annual result")
        .into_inner();
    assert!(annual.complete && annual.r#final);
    // Q4 rates staff 9 BAIK (7 SANGAT_BAIK first): 12.5 x 100% x 12/12.
    assert_eq!(annual.predikat, P::Baik as i32);
    assert_eq!(annual.parts.len(), 1);
    assert_eq!(annual.parts[0].months, 12);
    assert_eq!(annual.parts[0].evaluation_period_id, w.ep(3));
    assert_eq!(annual.angka_kredit_total, Some(12.5));
    let annual0 = w
        .assess(&s0)
        .get_annual_result(pb::GetAnnualResultRequest {
            employee_id: w.staff[0].id.clone(),
            year: 2026,
        })
        .await
        .expect("own annual result")
        .into_inner();
    assert_eq!(annual0.predikat, P::SangatBaik as i32);
    assert_eq!(annual0.angka_kredit_total, None, "not a JF");

    // ---- The event feed ----
    let feed = token("svc-simpeg", &[Role::Service], &[], &["events:read"]);
    let mut stream = EventServiceClient::new(w.s.authed(Some(&feed)))
        .watch(pb::WatchRequest {
            after_event_id: String::new(),
            event_types: vec![
                "result.set".into(),
                "result.final".into(),
                "objection.filed".into(),
                "objection.decided".into(),
            ],
            follow: false,
        })
        .await
        .expect("watch")
        .into_inner();
    let mut counts = std::collections::BTreeMap::new();
    while let Some(item) = stream.next().await {
        let e = item.expect("event").event.expect("event");
        *counts.entry(e.r#type).or_insert(0) += 1;
    }
    assert_eq!(counts.get("result.set"), Some(&40));
    assert_eq!(counts.get("result.final"), Some(&40));
    assert_eq!(counts.get("objection.filed"), Some(&3));
    assert_eq!(counts.get("objection.decided"), Some(&3));
    let _ = (&w.agency, &w.root, &w.head2);
    w.s.stop().await;
}

#[tokio::test]
async fn bad_input_and_permissions_are_refused_and_store_nothing() {
    let w = world(|cfg| cfg.finalize_interval = Duration::ZERO).await;
    w.clock.set(t("2026-02-10T02:00:00Z"));
    let q1 = w.ep(0);
    let s0 = emp(World::staff_n(0));
    let (skp0, rhk0, k0, _) = &w.plans[0];
    let create = |req: pb::CreateRealisasiRequest| {
        let c = w.assess(&s0);
        async move { c.clone().create_realisasi(req).await }
    };
    let ok_ev = evidence(0, 0);
    // Values and evidence.
    for (value, ev, field) in [
        (-1.0, ok_ev.clone(), "realisasi.value"),
        (f64::NAN, ok_ev.clone(), "realisasi.value"),
        (f64::INFINITY, ok_ev.clone(), "realisasi.value"),
        (1.0, vec![], "realisasi.evidence"),
        (
            1.0,
            vec![pb::Evidence {
                url: "https://x.go.id/a".into(),
                sha256: "a".repeat(63),
                ..Default::default()
            }],
            "realisasi.evidence[0].sha256",
        ),
        (
            1.0,
            vec![pb::Evidence {
                url: "https://x.go.id/a".into(),
                sha256: "z".repeat(64),
                ..Default::default()
            }],
            "realisasi.evidence[0].sha256",
        ),
        (
            1.0,
            vec![pb::Evidence {
                url: "https://x.go.id/a".into(),
                document_ref: "ND/12/2026".into(),
                sha256: sha("x"),
                ..Default::default()
            }],
            "realisasi.evidence[0].url",
        ),
        (
            1.0,
            vec![pb::Evidence {
                url: "javascript:alert(1)".into(),
                sha256: sha("x"),
                ..Default::default()
            }],
            "realisasi.evidence[0].url",
        ),
    ] {
        let e = create(realisasi_req(&k0.id, &q1, value, ev))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{field}");
        assert!(
            fields(&e).contains(&field.to_owned()),
            "{field}: {:?}",
            fields(&e)
        );
    }
    // Someone else's indicator.
    let e = w
        .assess(&emp(World::staff_n(1)))
        .create_realisasi(realisasi_req(&k0.id, &q1, 1.0, ok_ev.clone()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    // A period of another year.
    let p2027 = PerformancePeriodServiceClient::new(w.s.authed(Some(&w.s.admin_token)))
        .create_period(pb::CreatePeriodRequest {
            period: Some(pb::PerformancePeriod {
                agency_id: w.agency.clone(),
                year: 2027,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let e = create(realisasi_req(
        &k0.id,
        &p2027.evaluation_periods[0].id,
        1.0,
        ok_ev.clone(),
    ))
    .await
    .unwrap_err();
    assert_eq!(reason(&e), "EVALUATION_PERIOD_OUTSIDE_SKP");
    // A locked period: no realisasi, no rating, until unlocked.
    let lock = w
        .calib(&w.admin)
        .lock_evaluation_period(pb::LockEvaluationPeriodRequest {
            evaluation_period_id: q1.clone(),
            reason: "Batas waktu penilaian".into(),
            request_id: String::new(),
        })
        .await
        .expect("lock")
        .into_inner();
    assert!(lock.locked);
    let e = create(realisasi_req(&k0.id, &q1, 1.0, ok_ev.clone()))
        .await
        .unwrap_err();
    assert_eq!(reason(&e), "PERIOD_LOCKED");
    assert_eq!(
        reason(&rate(&w, 0, 0, ATAS, ATAS).await.unwrap_err()),
        "PERIOD_LOCKED"
    );
    let e = w
        .calib(&emp(HEAD))
        .unlock_evaluation_period(pb::UnlockEvaluationPeriodRequest {
            evaluation_period_id: q1.clone(),
            reason: "Perpanjangan".into(),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let unlock = w
        .calib(&w.admin)
        .unlock_evaluation_period(pb::UnlockEvaluationPeriodRequest {
            evaluation_period_id: q1.clone(),
            reason: "Perpanjangan karena gangguan sistem".into(),
            request_id: String::new(),
        })
        .await
        .expect("unlock")
        .into_inner();
    assert!(!unlock.locked);
    // Nothing was stored by any refused call.
    let listed = w
        .assess(&s0)
        .list_realisasi(pb::ListRealisasiRequest {
            skp_id: skp0.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .realisasi;
    assert!(listed.is_empty());
    let ev = get_eval(&w, &s0, 0, 0).await.unwrap();
    assert_eq!(
        (ev.id.as_str(), ev.state),
        ("", pb::EvaluationState::Terbuka as i32)
    );

    // Idempotent create, then a duplicate and a stale update.
    let mut req = realisasi_req(&k0.id, &q1, 4.0, ok_ev.clone());
    req.request_id = "7d8c1b5e-0f1a-4c51-9f8e-3a5e2f1d0c11".into();
    let r1 = create(req.clone()).await.unwrap().into_inner();
    let r2 = create(req).await.unwrap().into_inner();
    assert_eq!(r1, r2, "a retry returns the first result");
    let e = create(realisasi_req(&k0.id, &q1, 5.0, ok_ev.clone()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::AlreadyExists);
    assert!(e.message().contains(&r1.id), "{}", e.message());
    // A refused create with a request id of its own leaves no claim: its retry is refused the
    // same way (not a replay of a realisasi that was never stored).
    let mut dup = realisasi_req(&k0.id, &q1, 5.0, ok_ev.clone());
    dup.request_id = "5b0e7c2a-9d4f-4e8b-a1c3-2f6d8e0b4a71".into();
    for _ in 0..2 {
        let e = create(dup.clone()).await.unwrap_err();
        assert_eq!(e.code(), Code::AlreadyExists, "{}", e.message());
    }
    let v = crate::security::verify(&w.s).await;
    assert!(v.intact, "{:?}", v.broken);
    let upd = |etag: &str| pb::UpdateRealisasiRequest {
        realisasi: Some(pb::Realisasi {
            id: r1.id.clone(),
            etag: etag.into(),
            value: 6.0,
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["value".into()],
        }),
    };
    let r3 = w
        .assess(&s0)
        .update_realisasi(upd("1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((r3.value, r3.capaian_percent), (6.0, Some(50.0)));
    let e = w.assess(&s0).update_realisasi(upd("1")).await.unwrap_err();
    assert_eq!(e.code(), Code::Aborted);

    // Ratings: only the SKP's recorded assessor; the employee, another head and the regent
    // are refused; ratings are required and the predikat is never taken from the client.
    for n in [World::staff_n(0), HEAD2, BUPATI] {
        let e = w
            .assess(&emp(n))
            .rate_evaluation(pb::RateEvaluationRequest {
                skp_id: skp0.id.clone(),
                evaluation_period_id: q1.clone(),
                results_rating: ATAS as i32,
                behaviour_rating: ATAS as i32,
                reason: "x".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied, "{n}");
    }
    let e = w
        .assess(&emp(HEAD))
        .rate_evaluation(pb::RateEvaluationRequest {
            skp_id: skp0.id.clone(),
            evaluation_period_id: q1.clone(),
            results_rating: 0,
            behaviour_rating: 9,
            reason: String::new(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    let f = fields(&e);
    assert!(
        ["results_rating", "behaviour_rating", "reason"]
            .iter()
            .all(|x| f.contains(&x.to_string())),
        "{f:?}"
    );
    // Feedback: the assessor only, on exactly one subject.
    let e = w
        .assess(&s0)
        .create_feedback(pb::CreateFeedbackRequest {
            feedback: Some(pb::Feedback {
                skp_id: skp0.id.clone(),
                rhk_id: rhk0.id.clone(),
                text: "Bagus".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let e = w
        .assess(&emp(HEAD))
        .create_feedback(pb::CreateFeedbackRequest {
            feedback: Some(pb::Feedback {
                skp_id: skp0.id.clone(),
                rhk_id: rhk0.id.clone(),
                behaviour: pb::BerakhlakValue::Akuntabel as i32,
                text: "Bagus".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&e), vec!["feedback.rhk_id"]);
    // Objections before a result is set, and by the assessor.
    let e = object(&w, World::staff_n(0), 0, 0).await.unwrap_err();
    assert_eq!(reason(&e), "EVALUATION_NOT_SET");
    assert_eq!(
        object(&w, HEAD, 0, 0).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    // A result service account sees nothing that is not set.
    let payroll = token("svc-payroll", &[Role::Service], &[], &["results:read"]);
    rate(&w, 0, 0, ATAS, SESUAI).await.expect("rated");
    assert_eq!(
        get_eval(&w, &payroll, 0, 0).await.unwrap_err().code(),
        Code::NotFound
    );
    assert_eq!(
        get_eval(&w, &emp(World::staff_n(0)), 0, 0)
            .await
            .unwrap()
            .predikat,
        P::Baik as i32
    );
    // Realisasi after the rating: the evaluation is no longer open.
    let e = w.assess(&s0).update_realisasi(upd("2")).await.unwrap_err();
    assert_eq!(reason(&e), "EVALUATION_NOT_OPEN");

    // A closed SKP takes no realisasi, and an unapproved one neither.
    let (skp1, _, k1, _) = &w.plans[1];
    SkpServiceClient::new(w.s.authed(Some(&w.admin)))
        .close_skp(pb::CloseSkpRequest {
            id: skp1.id.clone(),
            end_date: d(2026, 6, 30),
            reason: "Mutasi ke dinas lain".into(),
            ..Default::default()
        })
        .await
        .expect("close");
    let e = w
        .assess(&emp(World::staff_n(1)))
        .create_realisasi(realisasi_req(&k1.id, &w.ep(1), 1.0, evidence(1, 1)))
        .await
        .unwrap_err();
    assert_eq!(reason(&e), "SKP_CLOSED");
    let e = w
        .assess(&emp(World::staff_n(1)))
        .create_realisasi(realisasi_req(&k1.id, &w.ep(2), 1.0, evidence(1, 2)))
        .await
        .unwrap_err();
    assert_eq!(reason(&e), "EVALUATION_PERIOD_OUTSIDE_SKP");
    // The closed SKP is still rated for the part of the year it covered.
    rate(&w, 1, 1, SESUAI, SESUAI)
        .await
        .expect("closed SKP rated");
    let (draft, _, dk, _) = plan(&w.s, HEAD2, &w.head2.id, &w.period.id, "").await;
    let e = w
        .assess(&emp(HEAD2))
        .create_realisasi(realisasi_req(&dk.id, &q1, 1.0, ok_ev.clone()))
        .await
        .unwrap_err();
    assert_eq!(reason(&e), "SKP_NOT_APPROVED");
    let e = w
        .assess(&emp(BUPATI))
        .rate_evaluation(pb::RateEvaluationRequest {
            skp_id: draft.id.clone(),
            evaluation_period_id: q1.clone(),
            results_rating: ATAS as i32,
            behaviour_rating: ATAS as i32,
            reason: "x".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&e), "SKP_NOT_APPROVED");
    // The planning stage sees the assessed period: the SKP can no longer be reopened.
    let e = w
        .skp(&emp(HEAD))
        .reopen_skp(pb::ReopenSkpRequest {
            id: skp0.id.clone(),
            reason: "Revisi".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&e), "SKP_ASSESSED");
    // Calibration reads: a stranger may not check the unit; the head (its leader) may.
    assert_eq!(
        w.calib(&emp(World::staff_n(2)))
            .check_calibration(pb::CheckCalibrationRequest {
                unit_id: w.bidang.clone(),
                evaluation_period_id: q1.clone(),
            })
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    let r = check(&w, &emp(HEAD), 0).await;
    assert_eq!((r.head_count, r.unrated), (10, 9));
    assert!(!r.settable);
    assert!(
        r.blockers.iter().any(|b| b.contains("not rated")),
        "{:?}",
        r.blockers
    );
    w.s.stop().await;
}

#[tokio::test]
async fn settings_rule_set_versions_and_the_sweeper() {
    let w = world(|cfg| cfg.finalize_interval = Duration::from_millis(100)).await;
    let bupati = emp(BUPATI);
    // The objection window: 14 days by default; an agency setting of 7 days.
    let settings = w
        .calib(&emp(HEAD))
        .get_assessment_settings(pb::GetAssessmentSettingsRequest {
            agency_id: w.agency.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            settings.objection_window_days,
            settings.source,
            settings.etag.as_str()
        ),
        (14, pb::SettingSource::Default as i32, "0")
    );
    let upd = |tok: &str, days: i32, etag: &str| {
        let c = w.calib(tok);
        let req = pb::UpdateAssessmentSettingsRequest {
            settings: Some(pb::AssessmentSettings {
                agency_id: w.agency.clone(),
                objection_window_days: days,
                etag: etag.into(),
                ..Default::default()
            }),
            update_mask: None,
        };
        async move { c.clone().update_assessment_settings(req).await }
    };
    assert_eq!(
        upd(&emp(HEAD), 7, "0").await.unwrap_err().code(),
        Code::PermissionDenied
    );
    assert_eq!(
        fields(&upd(&w.admin, 0, "0").await.unwrap_err()),
        vec!["settings.objection_window_days"]
    );
    let s7 = upd(&w.admin, 7, "0").await.unwrap().into_inner();
    assert_eq!(
        (s7.objection_window_days, s7.source),
        (7, pb::SettingSource::Agency as i32)
    );
    assert_eq!(
        upd(&w.admin, 8, "0").await.unwrap_err().code(),
        Code::Aborted
    );

    // A new rule-set version: ISTIMEWA allows 80% SANGAT_BAIK.
    let mut rules = w
        .calib(&w.admin)
        .list_curve_rule_sets(pb::ListCurveRuleSetsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .rule_sets;
    assert_eq!(rules.len(), 1);
    assert_eq!(
        (rules[0].version.as_str(), rules[0].current),
        ("permenpanrb-6-2022", true)
    );
    let mut custom = rules.remove(0);
    custom.version = "maros-2026".into();
    for c in &mut custom.curves {
        for r in &mut c.rules {
            if r.id == "ISTIMEWA.max_sangat_baik" {
                r.percent = 80;
            }
        }
    }
    let e = w
        .calib(&w.admin)
        .create_curve_rule_set(pb::CreateCurveRuleSetRequest {
            rule_set: Some(custom.clone()),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        e.code(),
        Code::PermissionDenied,
        "system administrators only"
    );
    let mut broken = custom.clone();
    broken.curves.pop();
    let e = w
        .calib(&w.s.admin_token)
        .create_curve_rule_set(pb::CreateCurveRuleSetRequest {
            rule_set: Some(broken),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&e), vec!["rule_set.curves"]);
    let create = pb::CreateCurveRuleSetRequest {
        rule_set: Some(custom.clone()),
        request_id: "5b0c9d1e-6a57-4d8e-8f4b-2f3c1a9e7d21".into(),
    };
    let first = w
        .calib(&w.s.admin_token)
        .create_curve_rule_set(create.clone())
        .await
        .expect("new version")
        .into_inner();
    assert!(first.current);
    let retry = w
        .calib(&w.s.admin_token)
        .create_curve_rule_set(create)
        .await
        .expect("a retry returns the first result")
        .into_inner();
    assert_eq!(retry, first);
    let e = w
        .calib(&w.s.admin_token)
        .create_curve_rule_set(pb::CreateCurveRuleSetRequest {
            rule_set: Some(custom),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::AlreadyExists, "versions never change");
    let listed = w
        .calib(&w.admin)
        .list_curve_rule_sets(pb::ListCurveRuleSetsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .rule_sets;
    assert_eq!(
        listed
            .iter()
            .map(|r| (r.version.as_str(), r.current))
            .collect::<Vec<_>>(),
        vec![("maros-2026", true), ("permenpanrb-6-2022", false)]
    );

    // Q1: 8 of 10 SANGAT_BAIK conform under the new version.
    w.clock.set(t("2026-03-20T02:00:00Z"));
    report_all(&w, 0).await;
    w.clock.set(t("2026-04-06T23:30:00Z")); // 7 April 07:30 WITA
    rate_all(&w, 0, 8).await;
    org_rating(&w, &bupati, 0, pb::OrganizationPredikat::Istimewa)
        .await
        .unwrap();
    // The regent and an admin set at the same moment: one sets all ten, the other finds
    // nothing left to set.
    let (a, b) = tokio::join!(set(&w, &bupati, 0), set(&w, &w.admin, 0));
    let (out, other) = match (a, b) {
        (Ok(out), Err(e)) | (Err(e), Ok(out)) => (out, e),
        other => panic!("exactly one set must succeed: {other:?}"),
    };
    assert_eq!(reason(&other), "NOTHING_TO_SET");
    assert_eq!(out.evaluations.len(), 10);
    assert!(
        out.evaluations
            .iter()
            .all(|e| e.rule_set_version == "maros-2026")
    );
    // Seven days in WITA from 7 April: until 14 April 23:59:59.999 WITA.
    let deadline = t("2026-04-14T15:59:59.999Z");
    assert_eq!(ts_of(&out.evaluations[0].objection_deadline), deadline);

    // The sweepers of two replicas (every 100 ms here) write FINAL once the window passed,
    // each result exactly once.
    let mut cfg = kinerja::server::ServerConfig::new(
        "127.0.0.1:0".parse().expect("addr"),
        kinerja::store::DbConfig {
            url: w.s.db_url.clone(),
            ..Default::default()
        },
        crate::harness::test_auth(),
    );
    cfg.finalize_interval = Duration::from_millis(100);
    let replica = kinerja::server::start(cfg, Arc::new(w.clock.clone()))
        .await
        .expect("replica");
    w.clock.set(deadline + chrono::Duration::seconds(1));
    let feed = token("svc-simpeg", &[Role::Service], &[], &["events:read"]);
    let count_finals = || {
        let c = EventServiceClient::new(w.s.authed(Some(&feed)));
        async move {
            let mut stream = c
                .clone()
                .watch(pb::WatchRequest {
                    after_event_id: String::new(),
                    event_types: vec!["result.final".into()],
                    follow: false,
                })
                .await
                .expect("watch")
                .into_inner();
            let mut ids = std::collections::HashSet::new();
            let mut n = 0;
            while let Some(item) = stream.next().await {
                ids.insert(item.expect("event").event.expect("event").resource_id);
                n += 1;
            }
            (n, ids.len())
        }
    };
    let mut finals = (0, 0);
    for _ in 0..100 {
        finals = count_finals().await;
        if finals.0 >= 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A few more sweeps of both replicas change nothing.
    tokio::time::sleep(Duration::from_millis(400)).await;
    replica.shutdown().await.expect("replica stops");
    assert_eq!(finals, (10, 10));
    assert_eq!(
        count_finals().await,
        (10, 10),
        "every result finalised once"
    );
    assert_eq!(finalize(&w).await.finalized, 0);
    let ev = get_eval(&w, &emp(World::staff_n(3)), 3, 0).await.unwrap();
    assert_eq!(ev.state, pb::EvaluationState::Final as i32);
    w.s.stop().await;
}

async fn rate_skp(
    w: &World,
    skp_id: &str,
    q: usize,
    h: pb::Rating,
    p: pb::Rating,
) -> pb::Evaluation {
    w.assess(&emp(HEAD))
        .rate_evaluation(pb::RateEvaluationRequest {
            skp_id: skp_id.into(),
            evaluation_period_id: w.ep(q),
            results_rating: h as i32,
            behaviour_rating: p as i32,
            reason: "Penilaian".into(),
            ..Default::default()
        })
        .await
        .expect("rate")
        .into_inner()
}

#[tokio::test]
async fn angka_kredit_is_pro_rated_across_a_mutasi() {
    let w = world(|cfg| cfg.finalize_interval = Duration::ZERO).await;
    let bupati = emp(BUPATI);
    let jf = STAFF_N - 1;
    let n = World::staff_n(jf);
    // Promoted on 10 June: the first SKP is closed on 9 June, a second one covers the rest.
    w.clock.set(t("2026-06-10T01:00:00Z"));
    let first = w.plans[jf].0.clone();
    w.skp(&w.admin)
        .close_skp(pb::CloseSkpRequest {
            id: first.id.clone(),
            end_date: d(2026, 6, 9),
            reason: "Kenaikan jenjang ke Ahli Muda".into(),
            ..Default::default()
        })
        .await
        .expect("close");
    let parent = w.plans[jf].1.parent_rhk_id.clone();
    let (second, _, _, _) = plan(&w.s, n, &w.staff[jf].id, &w.period.id, &parent).await;
    let second = approve(&w.s, HEAD, &second.id).await;
    assert_eq!(second.start_date, d(2026, 6, 10));
    for (skp, c, why) in [
        (&first.id, 12.5, "Perencana Ahli Pertama"),
        (&second.id, 25.0, "Perencana Ahli Muda"),
    ] {
        w.assess(&w.admin)
            .set_credit_coefficient(pb::SetCreditCoefficientRequest {
                credit_coefficient: Some(pb::CreditCoefficient {
                    skp_id: skp.clone(),
                    coefficient: c,
                    reason: why.into(),
                    ..Default::default()
                }),
            })
            .await
            .expect("coefficient");
    }
    // Q2: both SKP of the JF are in the group (11 people: at most 8 SANGAT_BAIK).
    w.clock.set(t("2026-07-02T02:00:00Z"));
    for i in 0..STAFF_N {
        let (h, p) = if i < 7 {
            (ATAS, ATAS)
        } else {
            (SESUAI, SESUAI)
        };
        rate_skp(&w, &w.plans[i].0.id, 1, h, p).await;
    }
    rate_skp(&w, &second.id, 1, SESUAI, SESUAI).await;
    org_rating(&w, &bupati, 1, pb::OrganizationPredikat::Istimewa)
        .await
        .unwrap();
    let report = check(&w, &bupati, 1).await;
    assert_eq!(report.head_count, 11);
    assert!(report.settable, "{:?}", report.blockers);
    set(&w, &bupati, 1).await.expect("set Q2");
    // Q4: the closed SKP is not part of it.
    w.clock.set(t("2027-01-05T02:00:00Z"));
    for i in 0..jf {
        rate_skp(&w, &w.plans[i].0.id, 3, SESUAI, SESUAI).await;
    }
    let e = w
        .assess(&emp(HEAD))
        .rate_evaluation(pb::RateEvaluationRequest {
            skp_id: first.id.clone(),
            evaluation_period_id: w.ep(3),
            results_rating: ATAS as i32,
            behaviour_rating: ATAS as i32,
            reason: "x".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&e), "EVALUATION_PERIOD_OUTSIDE_SKP");
    rate_skp(&w, &second.id, 3, ATAS, ATAS).await;
    org_rating(&w, &bupati, 3, pb::OrganizationPredikat::Baik)
        .await
        .unwrap();
    // BAIK: at most 70% BAIK (7 of 10); 9 BAIK break it by two.
    let report = check(&w, &bupati, 3).await;
    let b = report
        .breaches
        .iter()
        .find(|b| b.rule.as_ref().is_some_and(|r| r.id == "BAIK.max_baik"))
        .expect("breach");
    assert_eq!((b.actual, b.bound, b.excess), (9, 7, 2));
    for i in 0..2 {
        rate_skp(&w, &w.plans[i].0.id, 3, BAWAH, SESUAI).await;
    }
    let out = set(&w, &bupati, 3).await.expect("set Q4");
    assert_eq!(out.evaluations.len(), 10);
    let annual = w
        .assess(&emp(n))
        .get_annual_result(pb::GetAnnualResultRequest {
            employee_id: w.staff[jf].id.clone(),
            year: 2026,
        })
        .await
        .expect("annual")
        .into_inner();
    // Months: January to May (5) and June to December (7), by whose SKP covers the 15th.
    let parts: Vec<_> = annual
        .parts
        .iter()
        .map(|p| (p.months, p.predikat, p.angka_kredit))
        .collect();
    assert_eq!(
        parts,
        vec![
            (5, P::Baik as i32, Some(5.208)),
            (7, P::SangatBaik as i32, Some(21.875)),
        ]
    );
    assert_eq!(annual.predikat, P::SangatBaik as i32);
    assert_eq!(annual.angka_kredit_total, Some(27.083));
    assert!(
        annual.complete && !annual.r#final,
        "set, the windows still open"
    );
    w.s.stop().await;
}

/// Realisasi values come back exactly as recorded, through every read that carries them: the
/// point read (which takes them in its period statement as text), the explanation (the stored
/// rows) and a page of evaluations (a statement of their own).
#[tokio::test]
async fn realisasi_values_are_read_back_exactly() {
    let w = world(|_| {}).await;
    w.clock.set(t("2026-02-10T02:00:00Z"));
    let q1 = w.ep(0);
    let (skp, _, k, wk) = &w.plans[0];
    let s0 = emp(World::staff_n(0));
    // Values whose shortest exact decimal form has 17 significant digits, and small ones.
    let third = 100.0 / 3.0;
    let sum = 0.1 + 0.2;
    for (ind, value) in [(&k.id, third), (&wk.id, sum)] {
        w.assess(&s0)
            .create_realisasi(realisasi_req(ind, &q1, value, evidence(0, 0)))
            .await
            .expect("realisasi");
    }
    let want = |items: Vec<(String, Option<f64>)>| {
        let mut got: Vec<(String, f64)> = items
            .into_iter()
            .filter_map(|(i, v)| v.map(|v| (i, v)))
            .collect();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        let mut want = vec![(k.id.clone(), third), (wk.id.clone(), sum)];
        want.sort_by(|a, b| a.0.cmp(&b.0));
        for ((gi, gv), (wi, wv)) in got.iter().zip(&want) {
            assert_eq!(gi, wi);
            assert_eq!(
                gv.to_bits(),
                wv.to_bits(),
                "{gi}: {gv} read back as recorded {wv}"
            );
        }
        assert_eq!(got.len(), want.len(), "both values read back: {got:?}");
    };
    let one = get_eval(&w, &w.admin, 0, 0).await.expect("get evaluation");
    want(
        one.capaian
            .iter()
            .map(|c| (c.indicator_id.clone(), c.realisasi))
            .collect(),
    );
    let x = w
        .assess(&w.admin)
        .explain_evaluation(pb::ExplainEvaluationRequest {
            skp_id: skp.id.clone(),
            evaluation_period_id: q1.clone(),
        })
        .await
        .expect("explain")
        .into_inner();
    want(
        x.evaluation
            .expect("evaluation")
            .capaian
            .iter()
            .map(|c| (c.indicator_id.clone(), c.realisasi))
            .collect(),
    );
    let page = w
        .assess(&w.admin)
        .list_evaluations(pb::ListEvaluationsRequest {
            skp_id: skp.id.clone(),
            evaluation_period_id: q1.clone(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(page.evaluations.len(), 1);
    assert_eq!(page.evaluations[0], one, "listed and read alone agree");
    w.s.stop().await;
}
