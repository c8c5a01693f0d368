//! The bulk export of results: a stream cut in the middle and resumed from its cursor yields every
//! result exactly once and as of the first stream's snapshot (changes after it do not leak in),
//! CSV through the same stream, the event-feed position that completes the export, scopes and
//! refusals.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kinerja::auth::Role;
use kinerja::proto::v1 as pb;
use kinerja::proto::v1::event_service_client::EventServiceClient;
use kinerja::proto::v1::export_service_client::ExportServiceClient;
use tokio_stream::StreamExt;
use tonic::Code;

use crate::assessment::{
    BUPATI, STAFF_N, World, decide, emp, finalize, object, org_rating, rate_all, report_all, set,
    t, ts_of, world,
};
use crate::harness::{Authed, nip, token};

fn export(w: &World, tok: &str) -> ExportServiceClient<Authed> {
    ExportServiceClient::new(w.s.authed(Some(tok)))
}

fn payroll() -> String {
    token("svc-tpp", &[Role::Service], &[], &["results:read"])
}

fn req(w: &World, cursor: &str, batch: i32) -> pb::ExportResultsRequest {
    pb::ExportResultsRequest {
        evaluation_period_id: w.ep(0),
        cursor: cursor.into(),
        batch_size: batch,
        ..Default::default()
    }
}

/// Reads a whole export; returns the messages.
async fn drain(
    c: &mut ExportServiceClient<Authed>,
    r: pb::ExportResultsRequest,
) -> Vec<pb::ExportResultsResponse> {
    let mut s = c.export_results(r).await.expect("export").into_inner();
    let mut out = Vec::new();
    while let Some(m) = s.next().await {
        out.push(m.expect("message"));
    }
    out
}

/// The assessment world with Q1 set on 10 April 10:00 WITA: everyone reported, 6 SANGAT_BAIK and
/// 4 BAIK, organisation rating ISTIMEWA; no sweeper.
async fn first_quarter_set() -> (World, pb::SetUnitResultsResponse) {
    let w = world(|cfg| cfg.finalize_interval = Duration::ZERO).await;
    let bupati = emp(BUPATI);
    w.clock.set(t("2026-02-10T02:00:00Z"));
    report_all(&w, 0).await;
    w.clock.set(t("2026-04-02T02:00:00Z"));
    rate_all(&w, 0, 6).await;
    org_rating(&w, &bupati, 0, pb::OrganizationPredikat::Istimewa)
        .await
        .expect("org rating");
    w.clock.set(t("2026-04-10T02:00:00Z"));
    let out = set(&w, &bupati, 0).await.expect("set");
    (w, out)
}

#[tokio::test]
async fn a_cut_export_resumes_exactly_once_from_its_snapshot() {
    let (w, out) = first_quarter_set().await;
    let want: BTreeMap<String, String> = out
        .evaluations
        .iter()
        .map(|e| (e.id.clone(), e.employee_id.clone()))
        .collect();
    assert_eq!(want.len(), STAFF_N);
    // Staff 8 (BAIK) objects on 15 April; the window ends on 24 April.
    w.clock.set(t("2026-04-15T03:00:00Z"));
    let objection = object(&w, World::staff_n(8), 8, 0)
        .await
        .expect("objection");
    let objected = &w.staff[8].id;

    // The payroll service starts the export on 16 April, three results a message, and is cut
    // after two messages.
    let snapshot = t("2026-04-16T01:00:00Z");
    w.clock.set(snapshot);
    let tok = payroll();
    let mut c = export(&w, &tok);
    let mut stream = c
        .export_results(req(&w, "", 3))
        .await
        .expect("export")
        .into_inner();
    let mut got: Vec<pb::ExportedResult> = Vec::new();
    let mut cursor = String::new();
    let mut watch_after = String::new();
    for _ in 0..2 {
        let m = stream.next().await.expect("a message").expect("ok");
        assert_eq!(ts_of(&m.snapshot_time), snapshot);
        assert!(!m.done);
        assert!(m.results.len() <= 3 && !m.results.is_empty());
        got.extend(m.results);
        cursor = m.cursor;
        watch_after = m.watch_after_event_id;
    }
    drop(stream);
    assert_eq!(got.len(), 6);

    // Meanwhile: the objection is decided (changed to SANGAT_BAIK) and every result becomes
    // FINAL when the window passes.
    w.clock.set(t("2026-04-17T03:00:00Z"));
    decide(
        &w,
        BUPATI,
        &objection.id,
        pb::ObjectionDecision::Change,
        Some((pb::Rating::DiAtasEkspektasi, pb::Rating::DiAtasEkspektasi)),
    )
    .await
    .expect("decided");
    w.clock.set(t("2026-04-25T00:00:00Z"));
    assert_eq!(finalize(&w).await.finalized, (STAFF_N - 1) as i32);

    // Resumed (by a new connection): the rest, exactly once, as of the first snapshot.
    let rest = drain(&mut c, req(&w, &cursor, 3)).await;
    let last = rest.last().expect("messages");
    assert!(last.done);
    assert!(rest[..rest.len() - 1].iter().all(|m| !m.done));
    for m in &rest {
        assert_eq!(
            ts_of(&m.snapshot_time),
            snapshot,
            "the snapshot travels in the cursor"
        );
        assert_eq!(m.watch_after_event_id, watch_after);
    }
    got.extend(rest.into_iter().flat_map(|m| m.results));
    let ids: Vec<&str> = got.iter().map(|r| r.evaluation_id.as_str()).collect();
    let unique: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(ids.len(), unique.len(), "no result twice: {ids:?}");
    assert_eq!(
        unique,
        want.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        "every result once"
    );
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted, "a stable order (evaluation id)");
    for r in &got {
        assert_eq!(want[&r.evaluation_id], r.employee_id);
        assert_eq!(
            r.state,
            pb::EvaluationState::Ditetapkan as i32,
            "as of 16 April"
        );
        assert_eq!(r.org_rating, pb::OrganizationPredikat::Istimewa as i32);
        assert_eq!(ts_of(&r.set_time), t("2026-04-10T02:00:00Z"));
        assert!(r.final_time.is_none());
        assert_eq!(r.year, 2026);
        assert_eq!(r.period_sequence, 1);
        assert_eq!(r.nip.len(), 18);
        if &r.employee_id == objected {
            assert!(r.objection_pending);
            assert_eq!(
                r.predikat,
                pb::Predikat::Baik as i32,
                "the decision came later"
            );
        } else {
            assert!(!r.objection_pending);
        }
    }

    // A fresh export now: everything FINAL, the changed result with its new predikat.
    let now = drain(
        &mut c,
        pb::ExportResultsRequest {
            final_only: true,
            ..req(&w, "", 0)
        },
    )
    .await;
    assert_eq!(now.len(), 1, "one message of up to 500");
    let rows = &now[0].results;
    assert_eq!(rows.len(), STAFF_N);
    assert!(
        rows.iter()
            .all(|r| r.state == pb::EvaluationState::Final as i32)
    );
    let changed = rows
        .iter()
        .find(|r| &r.employee_id == objected)
        .expect("objected result");
    assert_eq!(changed.predikat, pb::Predikat::SangatBaik as i32);
    assert_eq!(ts_of(&changed.final_time), t("2026-04-17T03:00:00Z"));
    let sb = rows
        .iter()
        .filter(|r| r.predikat == pb::Predikat::SangatBaik as i32)
        .count();
    assert_eq!(sb, 7);
    // The feed after the export's position holds every later change: the decision and ten
    // result.final events, and no result.set (those are in the export).
    let mut feed = EventServiceClient::new(w.s.authed(Some(&token(
        "svc-tpp",
        &[Role::Service],
        &[],
        &["events:read"],
    ))))
    .watch(pb::WatchRequest {
        after_event_id: watch_after.clone(),
        ..Default::default()
    })
    .await
    .expect("watch")
    .into_inner();
    let mut finals = BTreeSet::new();
    let mut types = Vec::new();
    while let Some(e) = feed.next().await {
        let e = e.expect("event").event.expect("event");
        if e.r#type == "result.final" {
            finals.insert(e.resource_id.clone());
        }
        types.push(e.r#type);
    }
    assert!(types.contains(&"objection.decided".to_owned()), "{types:?}");
    assert!(!types.contains(&"result.set".to_owned()), "{types:?}");
    assert_eq!(finals, want.keys().cloned().collect::<BTreeSet<_>>());
}

#[tokio::test]
async fn csv_scopes_and_refusals() {
    let (w, _) = first_quarter_set().await;
    w.clock.set(t("2026-04-11T02:00:00Z"));

    // CSV for HR staff, four results a message, cut after the first and resumed: one header.
    let mut c = export(&w, &w.admin);
    let csv_req = |cursor: &str| pb::ExportResultsRequest {
        format: pb::ExportFormat::Csv as i32,
        unit_id: w.bidang.clone(),
        ..req(&w, cursor, 4)
    };
    let mut s = c
        .export_results(csv_req(""))
        .await
        .expect("csv")
        .into_inner();
    let first = s.next().await.expect("message").expect("ok");
    drop(s);
    assert!(first.results.is_empty(), "CSV travels as text");
    let rest = drain(&mut c, csv_req(&first.cursor)).await;
    let text: String = std::iter::once(first.csv.clone())
        .chain(rest.iter().map(|m| m.csv.clone()))
        .collect();
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 1 + STAFF_N, "{text}");
    assert!(
        lines[0].starts_with("evaluation_id,nip,employee_name,"),
        "{}",
        lines[0]
    );
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("evaluation_id"))
            .count(),
        1
    );
    let nips: BTreeSet<String> = lines[1..]
        .iter()
        .map(|l| l.split(',').nth(1).expect("nip column").to_owned())
        .collect();
    let staff_nips: BTreeSet<String> = (0..STAFF_N).map(|i| nip(World::staff_n(i))).collect();
    assert_eq!(nips, staff_nips);
    assert!(lines[1..].iter().all(|l| l.contains(",DITETAPKAN,")));

    // Scopes: the whole agency (the admin holds its root), another bidang (empty), the agency
    // for an admin of one bidang only (refused).
    let whole = drain(&mut c, req(&w, "", 0)).await;
    assert_eq!(
        whole.iter().map(|m| m.results.len()).sum::<usize>(),
        STAFF_N
    );
    let evl_unit =
        w.s.org()
            .list_units(pb::ListUnitsRequest {
                agency_id: w.agency.clone(),
                parent_id: w.root.clone(),
                ..Default::default()
            })
            .await
            .expect("units")
            .into_inner()
            .units
            .into_iter()
            .find(|u| u.code == "BAPPEDA-EVL")
            .expect("second bidang")
            .id;
    let empty = drain(
        &mut c,
        pb::ExportResultsRequest {
            unit_id: evl_unit.clone(),
            ..req(&w, "", 0)
        },
    )
    .await;
    assert_eq!(empty.len(), 1);
    assert!(empty[0].done && empty[0].results.is_empty() && !empty[0].cursor.is_empty());
    let evl_admin = token(
        "bkpsdm-evl",
        &[Role::Admin],
        std::slice::from_ref(&evl_unit),
        &[],
    );
    let e = export(&w, &evl_admin)
        .export_results(req(&w, "", 0))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "not the whole agency");
    let e = export(&w, &evl_admin)
        .export_results(pb::ExportResultsRequest {
            unit_id: w.bidang.clone(),
            ..req(&w, "", 0)
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "another bidang");
    // An employee, and a service without results:read.
    for tok in [
        emp(World::staff_n(0)),
        token("svc-x", &[Role::Service], &[], &["events:read"]),
    ] {
        let e = export(&w, &tok)
            .export_results(req(&w, "", 0))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied);
    }

    // Bad input.
    let bad = |r: pb::ExportResultsRequest| {
        let mut c = c.clone();
        async move { c.export_results(r).await.unwrap_err() }
    };
    let e = bad(pb::ExportResultsRequest {
        batch_size: 5001,
        format: 7,
        ..Default::default()
    })
    .await;
    assert_eq!(e.code(), Code::InvalidArgument);
    for f in ["evaluation_period_id", "batch_size", "format"] {
        assert!(e.message().contains(f), "{}", e.message());
    }
    let e = bad(req(&w, "not-a-cursor", 0)).await;
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("cursor"), "{}", e.message());
    // A cursor is bound to its filters.
    let e = bad(pb::ExportResultsRequest {
        final_only: true,
        ..req(&w, &first.cursor, 0)
    })
    .await;
    assert_eq!(e.code(), Code::InvalidArgument);
    let e = bad(pb::ExportResultsRequest {
        evaluation_period_id: "no-such-period".into(),
        ..Default::default()
    })
    .await;
    assert_eq!(e.code(), Code::NotFound);
}
