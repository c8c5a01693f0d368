//! Reports over gRPC: a small world built through the API (the assessment test's unit of ten)
//! whose distribution, completion, history, assessor and indicator reports are checked against
//! counts the test computes from what it created and from what GetEvaluation shows (lazy FINAL
//! at the window's end included), with paging, bad input and refusals; and 100,000 synthetic
//! results bulk-inserted straight into the database, generated with a seeded random generator
//! that keeps the expected counts while it writes.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use kinerja::auth::Role;
use kinerja::proto::v1 as pb;
use kinerja::proto::v1::export_service_client::ExportServiceClient;
use kinerja::proto::v1::report_service_client::ReportServiceClient;
use sea_orm::{
    ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement, TransactionTrait, Value,
};
use tokio_stream::StreamExt;
use tonic::Code;

use crate::assessment::{
    BUPATI, HEAD, STAFF_N, World, emp, fields, get_eval, object, org_rating, rate, rate_all,
    report_all, set, t, world,
};
use crate::harness::{Authed, TestServer, token};

use pb::Rating::{
    DiAtasEkspektasi as ATAS, DiBawahEkspektasi as BAWAH, SesuaiEkspektasi as SESUAI,
};

fn reports(s: &TestServer, tok: &str) -> ReportServiceClient<Authed> {
    ReportServiceClient::new(s.authed(Some(tok)))
}

fn service(scope: &str) -> String {
    token("payroll-svc", &[Role::Service], &[], &[scope])
}

/// Expected result counts, computed by the test.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Want {
    head_count: i32,
    not_set: i32,
    rated_not_set: i32,
    set: i32,
    fin: i32,
    dist: [i32; 5],
    exc: i32,
}

fn pidx(p: i32) -> Option<usize> {
    (1..=5).contains(&p).then(|| (p - 1) as usize)
}

impl Want {
    /// Adds one result in (effective) state `st` with predikat `p` (proto values; state 0 = no
    /// evaluation row).
    fn add(&mut self, st: i32, p: i32, exc: bool) {
        use pb::EvaluationState as S;
        self.head_count += 1;
        match S::try_from(st).unwrap_or(S::Unspecified) {
            S::Unspecified | S::Terbuka => self.not_set += 1,
            S::Dinilai => {
                self.not_set += 1;
                self.rated_not_set += 1;
            }
            s @ (S::Ditetapkan | S::Final) => {
                if s == S::Final {
                    self.fin += 1;
                } else {
                    self.set += 1;
                }
                if let Some(i) = pidx(p) {
                    self.dist[i] += 1;
                }
                if exc {
                    self.exc += 1;
                }
            }
        }
    }
}

fn got(c: &Option<pb::ResultCounts>) -> Want {
    let c = c.as_ref().expect("counts");
    let d = c.distribution.as_ref().expect("distribution");
    Want {
        head_count: c.head_count,
        not_set: c.not_set,
        rated_not_set: c.rated_not_set,
        set: c.set,
        fin: c.r#final,
        dist: [
            d.sangat_baik,
            d.baik,
            d.butuh_perbaikan,
            d.kurang,
            d.sangat_kurang,
        ],
        exc: c.set_under_exception,
    }
}

fn dist_arr(d: &Option<pb::PredikatDistribution>) -> [i32; 5] {
    let d = d.as_ref().expect("distribution");
    [
        d.sangat_baik,
        d.baik,
        d.butuh_perbaikan,
        d.kurang,
        d.sangat_kurang,
    ]
}

async fn distribution(
    s: &TestServer,
    tok: &str,
    unit: &str,
    ep: &str,
    size: i32,
    token: &str,
) -> Result<pb::DistributionReport, tonic::Status> {
    reports(s, tok)
        .get_distribution_report(pb::GetDistributionReportRequest {
            unit_id: unit.into(),
            evaluation_period_id: ep.into(),
            page_size: size,
            page_token: token.into(),
        })
        .await
        .map(|r| r.into_inner())
}

/// Every child row of a distribution report, across pages.
async fn all_children(
    s: &TestServer,
    tok: &str,
    unit: &str,
    ep: &str,
    size: i32,
) -> (pb::DistributionReport, Vec<pb::ChildUnitDistribution>) {
    let first = distribution(s, tok, unit, ep, size, "")
        .await
        .expect("distribution");
    let mut rows = first.children.clone();
    let mut next = first.next_page_token.clone();
    while !next.is_empty() {
        let p = distribution(s, tok, unit, ep, size, &next)
            .await
            .expect("page");
        assert!(p.children.len() <= size as usize);
        assert_eq!(p.total, first.total, "totals are the same on every page");
        rows.extend(p.children);
        next = p.next_page_token;
    }
    (first, rows)
}

async fn completion(
    s: &TestServer,
    tok: &str,
    unit: &str,
    ep: &str,
    status: pb::CompletionStatus,
    size: i32,
) -> (pb::CompletionReport, Vec<pb::CompletionEntry>) {
    let mut entries = Vec::new();
    let mut token = String::new();
    loop {
        let r = reports(s, tok)
            .get_completion_report(pb::GetCompletionReportRequest {
                unit_id: unit.into(),
                evaluation_period_id: ep.into(),
                status: status as i32,
                page_size: size,
                page_token: token.clone(),
            })
            .await
            .expect("completion")
            .into_inner();
        assert!(r.entries.len() <= size as usize);
        entries.extend(r.entries.iter().cloned());
        token = r.next_page_token.clone();
        if token.is_empty() {
            return (r, entries);
        }
    }
}

async fn assessors(
    s: &TestServer,
    tok: &str,
    unit: &str,
    ep: &str,
    size: i32,
) -> Vec<pb::AssessorStatistics> {
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let r = reports(s, tok)
            .list_assessor_statistics(pb::ListAssessorStatisticsRequest {
                unit_id: unit.into(),
                evaluation_period_id: ep.into(),
                page_size: size,
                page_token: token.clone(),
            })
            .await
            .expect("assessor statistics")
            .into_inner();
        assert!(r.assessors.len() <= size as usize);
        out.extend(r.assessors);
        token = r.next_page_token;
        if token.is_empty() {
            return out;
        }
    }
}

fn statuses(e: &pb::CompletionEntry) -> Vec<i32> {
    e.statuses.clone()
}

/// The expected distribution of the unit of ten, from what GetEvaluation shows each staff
/// member now, plus the head's own (approved, never rated) SKP.
async fn want_from_evaluations(w: &World, q: usize) -> Want {
    let mut want = Want::default();
    for i in 0..STAFF_N {
        let ev = get_eval(w, &w.admin, i, q).await.expect("evaluation");
        want.add(
            ev.state,
            ev.predikat,
            !ev.calibration_exception_id.is_empty(),
        );
    }
    want.add(0, 0, false); // the head's SKP: approved, no evaluation
    want
}

#[tokio::test]
async fn reports_agree_with_the_data_of_a_unit_of_ten() {
    use pb::CompletionStatus as C;
    let w = world(|cfg| cfg.finalize_interval = std::time::Duration::ZERO).await;
    let bupati = emp(BUPATI);
    let head = emp(HEAD);
    let q0 = w.ep(0);

    // Q1: everyone reports (KUANTITAS 3 of 12 = 25%, WAKTU 25 days for 30 = 120%, evidence on
    // both); the head rates 7 SANGAT_BAIK, 2 BAIK, 1 BUTUH_PERBAIKAN; the regent sets.
    w.clock.set(t("2026-02-10T02:00:00Z"));
    report_all(&w, 0).await;
    w.clock.set(t("2026-04-02T02:00:00Z"));
    let mut want_p = Vec::new();
    for i in 0..STAFF_N {
        let (h, p, want) = match i {
            0..=6 => (ATAS, ATAS, pb::Predikat::SangatBaik),
            7 | 8 => (SESUAI, SESUAI, pb::Predikat::Baik),
            _ => (BAWAH, SESUAI, pb::Predikat::ButuhPerbaikan),
        };
        let ev = rate(&w, i, 0, h, p).await.expect("rate");
        assert_eq!(ev.predikat, want as i32);
        want_p.push(want);
    }
    // Rated, not set: the draft predikat are not counted yet.
    let (r, _) = all_children(&w.s, &w.admin, &w.root, &q0, 50).await;
    let mut want = Want {
        head_count: 11,
        not_set: 11,
        rated_not_set: 10,
        ..Default::default()
    };
    assert_eq!(got(&r.total), want);
    org_rating(&w, &bupati, 0, pb::OrganizationPredikat::Istimewa)
        .await
        .expect("org rating");
    let set_at = t("2026-04-10T02:00:00Z");
    w.clock.set(set_at);
    set(&w, &bupati, 0).await.expect("set");
    w.clock.set(t("2026-04-12T02:00:00Z"));
    object(&w, World::staff_n(0), 0, 0)
        .await
        .expect("objection");

    // Set, window running: counts from the test's own ratings.
    want = Want {
        head_count: 11,
        not_set: 1,
        set: 10,
        dist: [7, 2, 1, 0, 0],
        ..Default::default()
    };
    let (r, children) = all_children(&w.s, &w.admin, &w.root, &q0, 1).await;
    assert_eq!(got(&r.total), want);
    assert_eq!(want_from_evaluations(&w, 0).await, want);
    // Rows: the regent's own staff (none) first, then the two bidang by code.
    let codes: Vec<(&str, bool)> = children
        .iter()
        .map(|c| (c.unit_code.as_str(), c.own_staff))
        .collect();
    assert_eq!(
        codes,
        vec![
            ("SETDA", true),
            ("BAPPEDA-EVL", false),
            ("BAPPEDA-REN", false)
        ]
    );
    assert_eq!(got(&children[0].counts).head_count, 0);
    assert_eq!(got(&children[1].counts).head_count, 0);
    assert_eq!(got(&children[2].counts), want);
    assert_eq!(
        children[2].org_rating,
        pb::OrganizationPredikat::Istimewa as i32
    );
    let bidang2 = children[1].unit_id.clone();
    // The root's own calibration group is the head (rated by the regent), not rated.
    let cal = r.calibration.as_ref().expect("calibration");
    assert_eq!((cal.group_size, cal.unrated, cal.org_rating), (1, 1, 0));
    assert!(cal.curve.is_none());
    // The bidang: ISTIMEWA, its curve, within it, no exception.
    let rb = distribution(&w.s, &head, &w.bidang, &q0, 10, "")
        .await
        .expect("the head reads the report of the unit they lead");
    let cal = rb.calibration.as_ref().expect("calibration");
    assert_eq!(cal.org_rating, pb::OrganizationPredikat::Istimewa as i32);
    assert_eq!(cal.rule_set_version, "permenpanrb-6-2022");
    assert_eq!(
        cal.curve.as_ref().map(|c| c.org_rating),
        Some(pb::OrganizationPredikat::Istimewa as i32)
    );
    assert!(cal.within_curve);
    assert_eq!((cal.group_size, cal.unrated), (10, 0));
    assert_eq!(dist_arr(&cal.distribution), [7, 2, 1, 0, 0]);
    assert_eq!(cal.exceptions_granted, 0);
    assert_eq!(got(&rb.total), want);
    assert_eq!(
        rb.children.len(),
        1,
        "own staff only: the bidang has no child"
    );
    // Each row carries its own unit's calibration status: the bidang's row shows the bidang's
    // group (as its own report does), the own-staff row the root's, the empty bidang nothing.
    assert_eq!(children[2].calibration, rb.calibration);
    assert_eq!(children[0].calibration, r.calibration);
    assert_eq!(rb.children[0].calibration, rb.calibration);
    let cal2 = children[1].calibration.as_ref().expect("row calibration");
    assert_eq!((cal2.group_size, cal2.unrated, cal2.org_rating), (0, 0, 0));

    // At the deadline nothing is FINAL; a millisecond later every result without a pending
    // objection is, exactly as GetEvaluation shows it.
    let deadline = t("2026-04-24T15:59:59.999Z");
    w.clock.set(deadline);
    let r = distribution(&w.s, &w.admin, &w.root, &q0, 10, "")
        .await
        .unwrap();
    assert_eq!((got(&r.total).set, got(&r.total).fin), (10, 0));
    w.clock.set(deadline + chrono::Duration::milliseconds(1));
    want.set = 1;
    want.fin = 9;
    let r = distribution(&w.s, &w.admin, &w.root, &q0, 10, "")
        .await
        .unwrap();
    assert_eq!(got(&r.total), want);
    assert_eq!(want_from_evaluations(&w, 0).await, want);

    // Completion of Q1 in the whole tree: who holds a post there, and what each lacks.
    // regent: no SKP; head: approved SKP, no realisasi, not rated; head2: no SKP;
    // staff: complete, staff 0 with a pending objection.
    let mut expect: HashMap<String, Vec<i32>> = HashMap::new();
    let none = vec![
        C::NoApprovedSkp as i32,
        C::NoRealisasi as i32,
        C::NotRated as i32,
    ];
    let bupati_id = w.plans[0].0.assessor_superior_id.clone();
    let head_id = w.plans[0].0.assessor_id.clone();
    expect.insert(bupati_id.clone(), none.clone());
    expect.insert(w.head2.id.clone(), none.clone());
    expect.insert(
        head_id.clone(),
        vec![C::NoRealisasi as i32, C::NotRated as i32],
    );
    for (i, e) in w.staff.iter().enumerate() {
        let st = if i == 0 {
            vec![C::ObjectionPending as i32]
        } else {
            vec![C::Complete as i32]
        };
        expect.insert(e.id.clone(), st);
    }
    let count = |s: C| expect.values().filter(|v| v.contains(&(s as i32))).count() as i32;
    let (rep, entries) = completion(&w.s, &w.admin, &w.root, &q0, C::Unspecified, 4).await;
    assert_eq!(rep.employees, expect.len() as i32);
    assert_eq!(rep.no_approved_skp, count(C::NoApprovedSkp));
    assert_eq!(rep.no_realisasi, count(C::NoRealisasi));
    assert_eq!(rep.not_rated, count(C::NotRated));
    assert_eq!(rep.objection_pending, count(C::ObjectionPending));
    assert_eq!(rep.complete, count(C::Complete));
    assert_eq!(
        (
            rep.no_approved_skp,
            rep.no_realisasi,
            rep.not_rated,
            rep.objection_pending,
            rep.complete
        ),
        (2, 3, 3, 1, 9)
    );
    let seen: HashMap<String, Vec<i32>> = entries
        .iter()
        .map(|e| (e.employee_id.clone(), statuses(e)))
        .collect();
    assert_eq!(seen.len(), entries.len(), "no employee on two pages");
    assert_eq!(seen, expect);
    let names: Vec<&str> = entries.iter().map(|e| e.employee_name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "by name");
    for s in [
        C::NoApprovedSkp,
        C::NoRealisasi,
        C::NotRated,
        C::ObjectionPending,
        C::Complete,
    ] {
        let (_, only) = completion(&w.s, &w.admin, &w.root, &q0, s, 2).await;
        let ids: HashSet<String> = only.iter().map(|e| e.employee_id.clone()).collect();
        let want_ids: HashSet<String> = expect
            .iter()
            .filter(|(_, v)| v.contains(&(s as i32)))
            .map(|(k, _)| k.clone())
            .collect();
        assert_eq!(ids, want_ids, "filter {s:?}");
    }

    // Assessor statistics: the head alone rated in the bidang.
    let a = assessors(&w.s, &w.admin, &w.root, &q0, 10).await;
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].assessor_id, head_id);
    assert_eq!(dist_arr(&a[0].distribution), [7, 2, 1, 0, 0]);
    assert_eq!(dist_arr(&a[0].unit_distribution), [7, 2, 1, 0, 0]);
    assert_eq!(a[0].mean_score, 4.6); // (7*5 + 2*4 + 3) / 10
    assert_eq!((a[0].leniency, a[0].top_share_difference), (0.0, 0.0));
    assert_eq!(a[0].middle_share, 20.0);

    // Indicator quality up to Q1: 11 SKP x 2 indicators; every WAKTU indicator of the staff
    // reached its target (120%), the head's two indicators were never evidenced.
    let mut flagged = Vec::new();
    let mut tok = String::new();
    loop {
        let r = reports(&w.s, &w.admin)
            .list_indicator_quality(pb::ListIndicatorQualityRequest {
                unit_id: w.bidang.clone(),
                evaluation_period_id: q0.clone(),
                flag: 0,
                page_size: 5,
                page_token: tok,
            })
            .await
            .expect("indicator quality")
            .into_inner();
        assert_eq!(
            (r.indicators_checked, r.always_at_target, r.never_evidenced),
            (22, 10, 2)
        );
        flagged.extend(r.indicators);
        tok = r.next_page_token;
        if tok.is_empty() {
            break;
        }
    }
    assert_eq!(flagged.len(), 12);
    let waktu: HashSet<String> = w.plans.iter().map(|p| p.3.id.clone()).collect();
    for i in &flagged {
        if waktu.contains(&i.indicator_id) {
            assert_eq!(i.flags, vec![pb::IndicatorFlag::AlwaysAtTarget as i32]);
            assert_eq!((i.periods_reported, i.periods_evidenced), (1, 1));
        } else {
            assert_eq!(i.employee_id, head_id);
            assert_eq!(i.flags, vec![pb::IndicatorFlag::NeverEvidenced as i32]);
            assert_eq!(i.periods_reported, 0);
        }
    }
    let only_never = reports(&w.s, &w.admin)
        .list_indicator_quality(pb::ListIndicatorQualityRequest {
            unit_id: w.root.clone(),
            evaluation_period_id: q0.clone(),
            flag: pb::IndicatorFlag::NeverEvidenced as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(only_never.indicators.len(), 2);

    // Q2: 3 SANGAT_BAIK, 7 BAIK; the history of staff 1 (SB, SB) and 5 (SB then BAIK).
    w.clock.set(t("2026-05-20T02:00:00Z"));
    report_all(&w, 1).await;
    w.clock.set(t("2026-07-03T02:00:00Z"));
    rate_all(&w, 1, 3).await;
    org_rating(&w, &bupati, 1, pb::OrganizationPredikat::Istimewa)
        .await
        .expect("org rating Q2");
    set(&w, &bupati, 1).await.expect("set Q2");
    for (i, want) in [
        (1usize, [pb::Predikat::SangatBaik, want_p[1]]),
        (5, [pb::Predikat::Baik, want_p[5]]),
    ] {
        let me = emp(World::staff_n(i));
        let id = w.staff[i].id.clone();
        let mut got_p = Vec::new();
        let mut tok = String::new();
        loop {
            let r = reports(&w.s, &me)
                .list_employee_history(pb::ListEmployeeHistoryRequest {
                    employee_id: id.clone(),
                    page_size: 1,
                    page_token: tok,
                })
                .await
                .expect("own history")
                .into_inner();
            for e in &r.entries {
                assert_eq!(e.year, 2026);
                assert_eq!(e.unit_id, w.bidang);
                assert_eq!(e.assessor_id, head_id);
                assert_eq!(e.org_rating, pb::OrganizationPredikat::Istimewa as i32);
                got_p.push((e.evaluation_period_sequence, e.predikat, e.state));
            }
            tok = r.next_page_token;
            if tok.is_empty() {
                break;
            }
        }
        assert_eq!(
            got_p,
            vec![
                (2, want[0] as i32, pb::EvaluationState::Ditetapkan as i32),
                (1, want[1] as i32, pb::EvaluationState::Final as i32),
            ],
            "staff {i}: newest first"
        );
    }

    // Refusals and bad input.
    let staff1 = emp(World::staff_n(1));
    let staff2 = emp(World::staff_n(2));
    let denied = |r: Result<pb::DistributionReport, tonic::Status>| {
        assert_eq!(r.unwrap_err().code(), Code::PermissionDenied);
    };
    denied(distribution(&w.s, &staff1, &w.bidang, &q0, 0, "").await);
    denied(distribution(&w.s, &head, &w.root, &q0, 0, "").await);
    denied(distribution(&w.s, &service("results:read"), &w.root, &q0, 0, "").await);
    let other_admin = token("admin-evl", &[Role::Admin], &[bidang2], &[]);
    denied(distribution(&w.s, &other_admin, &w.bidang, &q0, 0, "").await);
    for ok in [
        bupati.clone(),
        service("reports:read"),
        token("inspektorat", &[Role::Auditor], &[], &[]),
    ] {
        distribution(&w.s, &ok, &w.bidang, &q0, 0, "")
            .await
            .expect("allowed reader");
    }
    let history = |tok: String, id: String| {
        let s = &w.s;
        async move {
            reports(s, &tok)
                .list_employee_history(pb::ListEmployeeHistoryRequest {
                    employee_id: id,
                    ..Default::default()
                })
                .await
        }
    };
    let s1 = w.staff[1].id.clone();
    for refused in [staff2.clone(), head.clone(), service("results:read")] {
        assert_eq!(
            history(refused, s1.clone()).await.unwrap_err().code(),
            Code::PermissionDenied
        );
    }
    for ok in [w.admin.clone(), service("reports:read")] {
        history(ok, s1.clone()).await.expect("allowed");
    }
    let e = distribution(&w.s, &w.admin, "", "", 0, "")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(fields(&e), vec!["unit_id", "evaluation_period_id"]);
    let e = distribution(&w.s, &w.admin, "no-such-unit", &q0, 0, "")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let e = reports(&w.s, &w.admin)
        .get_completion_report(pb::GetCompletionReportRequest {
            unit_id: w.root.clone(),
            evaluation_period_id: q0.clone(),
            status: 99,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        (e.code(), fields(&e)),
        (Code::InvalidArgument, vec!["status".to_owned()])
    );
    let page = reports(&w.s, &w.admin)
        .get_completion_report(pb::GetCompletionReportRequest {
            unit_id: w.root.clone(),
            evaluation_period_id: q0.clone(),
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let e = reports(&w.s, &w.admin)
        .get_completion_report(pb::GetCompletionReportRequest {
            unit_id: w.root.clone(),
            evaluation_period_id: q0.clone(),
            status: C::NotRated as i32,
            page_size: 1,
            page_token: page.next_page_token,
        })
        .await
        .unwrap_err();
    assert_eq!(
        (e.code(), fields(&e)),
        (Code::InvalidArgument, vec!["page_token".to_owned()])
    );
    let e = history(w.admin.clone(), "no-such-employee".into())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    w.s.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 100,000 synthetic results.

/// A small seeded generator (SplitMix64): reproducible data without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A value as an SQL literal (the generated data holds no quotes). Timestamps are written as the
/// database driver writes bound values (RFC 3339 with `+00:00`), so comparisons with bound values
/// work on SQLite's text columns too.
fn lit(v: &Value) -> String {
    match v {
        Value::String(Some(s)) => format!("'{}'", s.as_str()),
        Value::Bool(Some(b)) => if *b { "TRUE" } else { "FALSE" }.to_owned(),
        Value::Int(Some(i)) => i.to_string(),
        Value::BigInt(Some(i)) => i.to_string(),
        Value::Double(Some(f)) => format!("{f:?}"),
        Value::ChronoDate(Some(d)) => format!("'{}'", d.format("%Y-%m-%d")),
        Value::ChronoDateTimeUtc(Some(t)) => {
            format!(
                "'{}'",
                t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)
            )
        }
        Value::String(None)
        | Value::Bool(None)
        | Value::Int(None)
        | Value::BigInt(None)
        | Value::Double(None)
        | Value::ChronoDate(None)
        | Value::ChronoDateTimeUtc(None) => "NULL".to_owned(),
        other => panic!("no literal for {other:?}"),
    }
}

/// A value as a CSV cell of PostgreSQL's `COPY` (an empty unquoted cell is NULL).
fn csv(v: &Value) -> String {
    match v {
        Value::String(Some(s)) => format!("\"{}\"", s.as_str().replace('"', "\"\"")),
        _ => {
            let l = lit(v);
            if l == "NULL" {
                String::new()
            } else {
                l.trim_matches('\'').to_owned()
            }
        }
    }
}

/// Inserts `rows` into `table`: `COPY ... FROM STDIN` on PostgreSQL, multi-row INSERTs of
/// 2,000 literal rows on SQLite (binding hundreds of thousands of parameters costs more than
/// the inserts themselves in a debug build).
async fn bulk_insert(db: &DatabaseConnection, table: &str, cols: &[&str], rows: Vec<Vec<Value>>) {
    let backend = db.get_database_backend();
    if backend == DbBackend::Postgres {
        use sea_orm::sqlx::postgres::PgPoolCopyExt;
        let mut data = String::new();
        for row in &rows {
            assert_eq!(row.len(), cols.len(), "{table}: row width");
            let cells: Vec<String> = row.iter().map(csv).collect();
            data.push_str(&cells.join(","));
            data.push('\n');
        }
        let mut copy = db
            .get_postgres_connection_pool()
            .copy_in_raw(&format!(
                "COPY {table} ({}) FROM STDIN WITH (FORMAT csv)",
                cols.join(", ")
            ))
            .await
            .unwrap_or_else(|e| panic!("copy into {table}: {e}"));
        copy.send(data.as_bytes())
            .await
            .unwrap_or_else(|e| panic!("copy into {table}: {e}"));
        copy.finish()
            .await
            .unwrap_or_else(|e| panic!("copy into {table}: {e}"));
        return;
    }
    let txn = db.begin().await.expect("begin");
    for chunk in rows.chunks(2000) {
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", cols.join(", "));
        for (ri, row) in chunk.iter().enumerate() {
            assert_eq!(row.len(), cols.len(), "{table}: row width");
            if ri > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            let cells: Vec<String> = row.iter().map(lit).collect();
            sql.push_str(&cells.join(", "));
            sql.push(')');
        }
        txn.execute_raw(Statement::from_string(backend, sql))
            .await
            .unwrap_or_else(|e| panic!("insert into {table}: {e}"));
    }
    txn.commit().await.expect("commit");
}

fn v<T: Into<Value>>(x: T) -> Value {
    x.into()
}

fn none_text() -> Value {
    Value::String(None)
}

fn none_ts() -> Value {
    Value::ChronoDateTimeUtc(None)
}

/// Completion facts of one synthetic employee: unit index, approved SKP, realisasi, rated,
/// objection pending.
type Facts = (usize, bool, bool, bool, bool);

const CHILDREN: usize = 10;
const GRANDCHILDREN: usize = 10;
const EMPLOYEES: usize = 100_000;
const ASSESSORS_PER_UNIT: usize = 5;

#[tokio::test]
async fn reports_on_100k_synthetic_results_stay_correct() {
    use pb::CompletionStatus as C;
    let clock0 = std::time::Instant::now();
    let lap = |what: &str| eprintln!("{what}: {:?}", clock0.elapsed());
    let now = t("2026-04-20T00:00:00Z");
    let clock = kinerja::clock::ManualClock::new(now);
    let s = TestServer::start_with(|_| {}, std::sync::Arc::new(clock.clone())).await;
    let (agency, root) = s.agency_with_unit("PROV-SYN").await;
    let period =
        kinerja::proto::v1::performance_period_service_client::PerformancePeriodServiceClient::new(
            s.authed(Some(&s.admin_token)),
        )
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
    let ep = period.evaluation_periods[0].clone(); // 1 January to 31 March
    let db = Database::connect(&s.db_url).await.expect("connect");
    let created: DateTime<Utc> = t("2026-01-02T00:00:00Z");
    let root_path = format!("/{root}/");

    // Units: the root, 10 children, 10 grandchildren each.
    let mut units: Vec<(String, usize)> = vec![(root.clone(), usize::MAX)]; // (id, child index)
    let mut unit_rows = Vec::new();
    for c in 0..CHILDREN {
        let cid = format!("u-{c:02}");
        let cpath = format!("{root_path}{cid}/");
        unit_rows.push(vec![
            v(cid.clone()),
            v(agency.clone()),
            v(root.clone()),
            v(format!("C{c:02}")),
            v(format!("Dinas {c:02}")),
            v(true),
            v(1i32),
            v(cpath.clone()),
            v(created),
            v(created),
        ]);
        units.push((cid.clone(), c));
        for g in 0..GRANDCHILDREN {
            let gid = format!("u-{c:02}-{g:02}");
            unit_rows.push(vec![
                v(gid.clone()),
                v(agency.clone()),
                v(cid.clone()),
                v(format!("C{c:02}G{g:02}")),
                v(format!("Bidang {c:02}.{g:02}")),
                v(true),
                v(2i32),
                v(format!("{cpath}{gid}/")),
                v(created),
                v(created),
            ]);
            units.push((gid, c));
        }
    }
    bulk_insert(
        &db,
        "units",
        &[
            "id",
            "agency_id",
            "parent_id",
            "code",
            "name",
            "active",
            "depth",
            "path",
            "created_at",
            "updated_at",
        ],
        unit_rows,
    )
    .await;
    let sub_units = &units[1..]; // employees sit in children and grandchildren

    // Employees, their posts, SKP and Q1 evaluations, with the expectations kept on the way.
    let mut rng = Rng(0x5EED_2026);
    let ep_start = NaiveDate::from_ymd_opt(2026, 1, 1).expect("date");
    let year_end = NaiveDate::from_ymd_opt(2026, 12, 31).unwrap();
    let (mut emps, mut posts, mut skps, mut evals, mut objs) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut rhks, mut inds, mut reals) = (Vec::new(), Vec::new(), Vec::new());
    // indicators: (checked, always at target, never evidenced)
    let mut want_ind = (0, 0, 0);
    let mut want_total = Want::default();
    let mut want_child: Vec<Want> = vec![Want::default(); CHILDREN];
    // set and FINAL results as an export shows them: evaluation id -> (state, predikat)
    let mut want_export: BTreeMap<String, (i32, i32)> = BTreeMap::new();
    // completion facts per employee: (unit index, has_skp, has_real, rated, pending)
    let mut facts: Vec<Facts> = Vec::with_capacity(EMPLOYEES);
    // predikat counts of set/FINAL results per assessor and per unit
    let mut by_assessor: BTreeMap<String, [i32; 5]> = BTreeMap::new();
    let mut by_unit: HashMap<usize, [i32; 5]> = HashMap::new();
    let mut assessor_units: HashMap<String, HashSet<usize>> = HashMap::new();
    let preds = [
        "SANGAT_BAIK",
        "BAIK",
        "BUTUH_PERBAIKAN",
        "KURANG",
        "SANGAT_KURANG",
    ];
    let past = t("2026-04-15T00:00:00Z");
    let future = t("2026-04-30T00:00:00Z");
    for i in 0..EMPLOYEES {
        let ui = i % sub_units.len();
        let (uid, child) = &sub_units[ui];
        let eid = format!("e-{i:06}");
        // The first ASSESSORS_PER_UNIT employees of each unit are its assessors.
        let assessor = format!(
            "e-{:06}",
            ui + sub_units.len() * (rng.below(ASSESSORS_PER_UNIT as u64) as usize)
        );
        emps.push(vec![
            v(eid.clone()),
            v(format!("9{i:017}")),
            v(format!("Pegawai {i:06}")),
            v(format!("pegawai {i:06}")),
            v("PNS"),
            v("PELAKSANA"),
            v("Analis"),
            v(agency.clone()),
            v(created),
            v(created),
        ]);
        posts.push(vec![
            v(format!("a-{i:06}")),
            v(eid.clone()),
            v(uid.clone()),
            none_text(),
            v("Analis"),
            v("PELAKSANA"),
            v("DEFINITIF"),
            v(ep_start),
            Value::ChronoDate(None),
            v(created),
            v(created),
        ]);
        let roll = rng.below(100);
        let (has_skp, approved) = match roll {
            0..=4 => (false, false), // no SKP
            5..=9 => (true, false),  // a draft SKP
            _ => (true, true),
        };
        let mut fact = (ui, approved, false, false, false);
        if has_skp {
            let sid = format!("s-{i:06}");
            skps.push(vec![
                v(sid.clone()),
                v(eid.clone()),
                v(period.id.clone()),
                v(agency.clone()),
                v(2026i32),
                v(ep_start),
                v(year_end),
                v("KUANTITATIF"),
                v(if approved { "DISETUJUI" } else { "DRAFT" }),
                v(assessor.clone()),
                none_text(),
                v(false),
                v(false),
                v(uid.clone()),
                v(format!("Unit {uid}")),
                v("Analis"),
                v("PELAKSANA"),
                v(""),
                v(""),
                v(""),
                if approved { v(created) } else { none_ts() },
                v(1i64),
                v(created),
                v(created),
            ]);
            if approved {
                if i % 7 == 0 {
                    let (rid, iid) = (format!("r-{i:06}"), format!("i-{i:06}"));
                    rhks.push(vec![
                        v(rid.clone()),
                        v(sid.clone()),
                        v(1i32),
                        v("UTAMA"),
                        v("Rencana"),
                        v(created),
                        v(created),
                    ]);
                    inds.push(vec![
                        v(iid.clone()),
                        v(rid),
                        v(sid.clone()),
                        v(1i32),
                        v("KUANTITAS"),
                        v("Dokumen"),
                        v(12.0f64),
                        v("dokumen"),
                        v(created),
                        v(created),
                    ]);
                    reals.push(vec![
                        v(format!("x-{i:06}")),
                        v(sid.clone()),
                        v(iid),
                        v(ep.id.clone()),
                        v(if i % 2 == 0 { 12.0f64 } else { 3.0 }),
                        v("Laporan"),
                        v(if i % 3 == 0 {
                            r#"[{"description":"Laporan","sha256":"ab"}]"#
                        } else {
                            "[]"
                        }),
                        v(created),
                        v(created),
                    ]);
                    fact.2 = true;
                    want_ind.0 += 1;
                    want_ind.1 += i32::from(i % 2 == 0);
                    want_ind.2 += i32::from(i % 3 != 0);
                }
                // State: 0 none, 1 TERBUKA, 2 DINILAI, 3 set (window runs), 4 set (window
                // passed: FINAL for readers), 5 stored FINAL.
                let st = match rng.below(100) {
                    0..=9 => 0,
                    10..=19 => 1,
                    20..=34 => 2,
                    35..=54 => 3,
                    55..=79 => 4,
                    _ => 5,
                };
                let p = rng.below(5) as usize;
                let exc = st >= 3 && rng.below(20) == 0;
                let pending = st == 4 && rng.below(10) == 0;
                if st > 0 {
                    let vid = format!("v-{i:06}");
                    let state = [
                        "",
                        "TERBUKA",
                        "DINILAI",
                        "DITETAPKAN",
                        "DITETAPKAN",
                        "FINAL",
                    ][st];
                    let rated = st >= 2;
                    evals.push(vec![
                        v(vid.clone()),
                        v(sid.clone()),
                        v(ep.id.clone()),
                        v(state),
                        v(created),
                        v(created),
                        if rated { v(preds[p]) } else { none_text() },
                        if st >= 3 {
                            v(if st == 4 { past } else { future })
                        } else {
                            none_ts()
                        },
                        if exc {
                            v(format!("exc-{i}"))
                        } else {
                            none_text()
                        },
                        if st >= 3 { v("ISTIMEWA") } else { none_text() },
                        if st >= 3 { v(created) } else { none_ts() },
                        if st == 5 { v(past) } else { none_ts() },
                    ]);
                    if pending {
                        objs.push(vec![
                            v(format!("o-{i:06}")),
                            v(vid),
                            v(sid.clone()),
                            v(eid.clone()),
                            v("Keberatan"),
                            v("DIAJUKAN"),
                            v(created),
                            v("DI_ATAS_EKSPEKTASI"),
                            v("SESUAI_EKSPEKTASI"),
                            v(preds[p]),
                            v(created),
                            v(created),
                        ]);
                    }
                    fact.3 = rated;
                    fact.4 = pending;
                }
                let shown = match st {
                    0 => 0,
                    1 => pb::EvaluationState::Terbuka as i32,
                    2 => pb::EvaluationState::Dinilai as i32,
                    3 => pb::EvaluationState::Ditetapkan as i32,
                    4 if pending => pb::EvaluationState::Ditetapkan as i32,
                    _ => pb::EvaluationState::Final as i32,
                };
                let pv = p as i32 + 1;
                if st >= 3 {
                    want_export.insert(format!("v-{i:06}"), (shown, pv));
                }
                want_total.add(shown, pv, exc);
                want_child[*child].add(shown, pv, exc);
                if st >= 3 {
                    by_assessor.entry(assessor.clone()).or_default()[p] += 1;
                    by_unit.entry(ui).or_default()[p] += 1;
                    assessor_units
                        .entry(assessor.clone())
                        .or_default()
                        .insert(ui);
                }
            }
        }
        facts.push(fact);
    }
    bulk_insert(
        &db,
        "employees",
        &[
            "id",
            "nip",
            "name",
            "name_lower",
            "status",
            "position_type",
            "position_name",
            "agency_id",
            "created_at",
            "updated_at",
        ],
        emps,
    )
    .await;
    bulk_insert(
        &db,
        "assignments",
        &[
            "id",
            "employee_id",
            "unit_id",
            "superior_employee_id",
            "position_name",
            "position_type",
            "kind",
            "start_date",
            "end_date",
            "created_at",
            "updated_at",
        ],
        posts,
    )
    .await;
    bulk_insert(
        &db,
        "skps",
        &[
            "id",
            "employee_id",
            "period_id",
            "agency_id",
            "year",
            "start_date",
            "end_date",
            "approach",
            "state",
            "assessor_id",
            "assessor_superior_id",
            "assessor_overridden",
            "top_of_chain",
            "unit_id",
            "unit_name",
            "position_name",
            "position_type",
            "annex_resource_support",
            "annex_accountability",
            "annex_consequences",
            "approved_at",
            "version",
            "created_at",
            "updated_at",
        ],
        skps,
    )
    .await;
    bulk_insert(
        &db,
        "skp_rhk",
        &[
            "id",
            "skp_id",
            "sequence",
            "kind",
            "text",
            "created_at",
            "updated_at",
        ],
        rhks,
    )
    .await;
    bulk_insert(
        &db,
        "skp_indicators",
        &[
            "id",
            "rhk_id",
            "skp_id",
            "sequence",
            "aspect",
            "text",
            "target",
            "unit",
            "created_at",
            "updated_at",
        ],
        inds,
    )
    .await;
    bulk_insert(
        &db,
        "realisasi",
        &[
            "id",
            "skp_id",
            "indicator_id",
            "evaluation_period_id",
            "value",
            "account",
            "evidence",
            "created_at",
            "updated_at",
        ],
        reals,
    )
    .await;
    bulk_insert(
        &db,
        "skp_evaluations",
        &[
            "id",
            "skp_id",
            "evaluation_period_id",
            "state",
            "created_at",
            "updated_at",
            "predikat",
            "objection_deadline",
            "calibration_exception_id",
            "org_rating",
            "set_at",
            "final_at",
        ],
        evals,
    )
    .await;
    bulk_insert(
        &db,
        "objections",
        &[
            "id",
            "evaluation_id",
            "skp_id",
            "employee_id",
            "reasons",
            "state",
            "filed_at",
            "prev_results_rating",
            "prev_behaviour_rating",
            "prev_predikat",
            "created_at",
            "updated_at",
        ],
        objs,
    )
    .await;
    db.close().await.ok();
    lap("inserted");

    // Distribution of the whole province and per child, across pages of 3.
    let admin = s.admin_token.clone();
    let (r, children) = all_children(&s, &admin, &root, &ep.id, 3).await;
    assert_eq!(got(&r.total), want_total);
    assert_eq!(
        want_total.head_count as usize,
        facts.iter().filter(|f| f.1).count()
    );
    assert_eq!(children.len(), CHILDREN + 1);
    assert!(children[0].own_staff);
    assert_eq!(got(&children[0].counts).head_count, 0);
    for (c, row) in children[1..].iter().enumerate() {
        assert_eq!(row.unit_id, format!("u-{c:02}"));
        assert_eq!(got(&row.counts), want_child[c], "child {c}");
    }
    // One child's own report agrees with its row.
    let one = distribution(&s, &admin, "u-03", &ep.id, 0, "")
        .await
        .unwrap();
    assert_eq!(got(&one.total), want_child[3]);
    lap("distribution");

    // Completion: totals of the province; the list of one bidang, paged, per employee.
    let want_flags = |f: &Facts| -> Vec<i32> {
        let mut v = Vec::new();
        if !f.1 {
            v.push(C::NoApprovedSkp as i32);
        }
        if !f.2 {
            v.push(C::NoRealisasi as i32);
        }
        if !f.3 {
            v.push(C::NotRated as i32);
        }
        if f.4 {
            v.push(C::ObjectionPending as i32);
        }
        if v.is_empty() {
            v.push(C::Complete as i32);
        }
        v
    };
    let rep = reports(&s, &admin)
        .get_completion_report(pb::GetCompletionReportRequest {
            unit_id: root.clone(),
            evaluation_period_id: ep.id.clone(),
            page_size: 1,
            ..Default::default()
        })
        .await
        .expect("completion")
        .into_inner();
    let n = |p: &dyn Fn(&Facts) -> bool| facts.iter().filter(|f| p(f)).count() as i32;
    assert_eq!(rep.employees, EMPLOYEES as i32);
    assert_eq!(rep.no_approved_skp, n(&|f| !f.1));
    assert_eq!(rep.no_realisasi, n(&|f| !f.2));
    assert_eq!(rep.not_rated, n(&|f| !f.3));
    assert_eq!(rep.objection_pending, n(&|f| f.4));
    assert_eq!(rep.complete, n(&|f| f.1 && f.2 && f.3 && !f.4));
    lap("completion totals");
    let target_unit = 17usize; // a grandchild
    let (uid, _) = &sub_units[target_unit];
    let (_, entries) = completion(&s, &admin, uid, &ep.id, C::Unspecified, 250).await;
    let want_entries: HashMap<String, Vec<i32>> = facts
        .iter()
        .enumerate()
        .filter(|(_, f)| f.0 == target_unit)
        .map(|(i, f)| (format!("e-{i:06}"), want_flags(f)))
        .collect();
    let got_entries: HashMap<String, Vec<i32>> = entries
        .iter()
        .map(|e| (e.employee_id.clone(), e.statuses.clone()))
        .collect();
    assert_eq!(got_entries.len(), entries.len());
    assert_eq!(got_entries, want_entries);

    lap("completion list");
    // Assessor statistics of one child (its own unit and ten bidang), paged.
    let child = 4usize;
    let list = assessors(&s, &admin, &format!("u-{child:02}"), &ep.id, 7).await;
    let in_child: Vec<usize> = (0..sub_units.len())
        .filter(|u| sub_units[*u].1 == child)
        .collect();
    let want_assessors: Vec<&String> = by_assessor
        .keys()
        .filter(|a| assessor_units[*a].iter().all(|u| in_child.contains(u)))
        .collect();
    assert_eq!(list.len(), want_assessors.len());
    for a in &list {
        let own = by_assessor[&a.assessor_id];
        assert_eq!(dist_arr(&a.distribution), own, "{}", a.assessor_id);
        let mut unit = [0; 5];
        for u in &assessor_units[&a.assessor_id] {
            for (k, x) in by_unit[u].iter().enumerate() {
                unit[k] += x;
            }
        }
        assert_eq!(dist_arr(&a.unit_distribution), unit, "{}", a.assessor_id);
        let mean = |d: &[i32; 5]| {
            let n: i32 = d.iter().sum();
            let s: i32 = d.iter().enumerate().map(|(k, x)| (5 - k as i32) * x).sum();
            s as f64 / n as f64
        };
        let lenient = ((mean(&own) - mean(&unit)) * 100.0).round() / 100.0;
        assert!(
            (a.leniency - lenient).abs() < 0.011,
            "{} {}",
            a.leniency,
            lenient
        );
    }
    lap("assessors");

    // Indicator quality of the province: 12 of 12 reached the target, 3 did not; a third
    // carries evidence.
    let iq = reports(&s, &admin)
        .list_indicator_quality(pb::ListIndicatorQualityRequest {
            unit_id: root.clone(),
            evaluation_period_id: ep.id.clone(),
            flag: pb::IndicatorFlag::AlwaysAtTarget as i32,
            page_size: 100,
            ..Default::default()
        })
        .await
        .expect("indicator quality")
        .into_inner();
    assert_eq!(
        (
            iq.indicators_checked,
            iq.always_at_target,
            iq.never_evidenced
        ),
        want_ind
    );
    assert_eq!(iq.indicators.len(), 100);
    for i in &iq.indicators {
        let n: usize = i.indicator_id[2..].parse().expect("synthetic id");
        assert_eq!(n % 2, 0, "{}", i.indicator_id);
        let never = i
            .flags
            .contains(&(pb::IndicatorFlag::NeverEvidenced as i32));
        assert_eq!(never, !n.is_multiple_of(3), "{}", i.indicator_id);
    }
    lap("indicators");

    // The payroll export of the province, 5,000 results a message, cut after two messages and
    // resumed from the last cursor: every set or FINAL result exactly once, in the state and
    // with the predikat readers see.
    let payroll = token("svc-tpp", &[Role::Service], &[], &["results:read"]);
    let mut ex = ExportServiceClient::new(s.authed(Some(&payroll)));
    let export_req = |cursor: String| pb::ExportResultsRequest {
        evaluation_period_id: ep.id.clone(),
        batch_size: 5000,
        cursor,
        ..Default::default()
    };
    let mut seen: BTreeMap<String, (i32, i32)> = BTreeMap::new();
    let mut keep = |m: pb::ExportResultsResponse| {
        for x in m.results {
            let id = x.evaluation_id.clone();
            assert!(
                seen.insert(x.evaluation_id, (x.state, x.predikat))
                    .is_none(),
                "{id} twice"
            );
        }
        (m.cursor, m.done)
    };
    let mut stream = ex
        .export_results(export_req(String::new()))
        .await
        .expect("export")
        .into_inner();
    let mut cursor = String::new();
    for _ in 0..2 {
        let (c, done) = keep(stream.next().await.expect("message").expect("ok"));
        assert!(!done);
        cursor = c;
    }
    drop(stream);
    let mut stream = ex
        .export_results(export_req(cursor))
        .await
        .expect("resumed export")
        .into_inner();
    let mut done = false;
    while let Some(m) = stream.next().await {
        assert!(!done, "nothing after the last message");
        done = keep(m.expect("ok")).1;
    }
    assert!(done);
    assert_eq!(seen.len(), want_export.len());
    assert_eq!(seen, want_export);
    lap("export");
    s.stop().await;
}
