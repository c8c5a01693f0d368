//! The event feed: resumable, at least once, in order per resource, across replicas, by scope.

use std::collections::HashSet;
use std::time::Duration;

use kinerja::auth::Role;
use kinerja::proto::v1 as pb;
use kinerja::proto::v1::event_service_client::EventServiceClient;
use tokio_stream::StreamExt;
use tonic::Code;

use crate::harness::{Authed, TestServer, d, nip, token};

fn consumer(s: &TestServer) -> EventServiceClient<Authed> {
    EventServiceClient::new(s.authed(Some(&token(
        "svc-payroll",
        &[Role::Service],
        &[],
        &["events:read"],
    ))))
}

async fn read_all(s: &TestServer, after: &str, limit: usize) -> Vec<pb::Event> {
    let mut stream = consumer(s)
        .watch(pb::WatchRequest {
            after_event_id: after.into(),
            event_types: vec![],
            follow: false,
        })
        .await
        .expect("watch")
        .into_inner();
    let mut out = Vec::new();
    while let Some(item) = stream.next().await {
        out.push(item.expect("event").event.expect("event body"));
        if out.len() == limit {
            break; // The consumer disconnects in the middle.
        }
    }
    out
}

/// Creates `n` employees with one assignment each and ends half of them: 1.5 n events.
async fn changes(s: &TestServer, n: u32) -> usize {
    let (agency, unit) = s.agency_with_unit("EVT").await;
    let mut made = 0;
    for i in 0..n {
        let e = s.employee(&agency, &nip(i), "Pegawai").await;
        let a = s
            .assignments()
            .create_assignment(pb::CreateAssignmentRequest {
                assignment: Some(pb::Assignment {
                    employee_id: e.id,
                    unit_id: unit.clone(),
                    position_name: "Analis".into(),
                    position_type: pb::PositionType::Pelaksana as i32,
                    start_date: d(2026, 1, 1),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        made += 1;
        if i % 2 == 0 {
            s.assignments()
                .update_assignment(pb::UpdateAssignmentRequest {
                    assignment: Some(pb::Assignment {
                        id: a.id,
                        end_date: d(2026, 6, 30),
                        etag: a.etag,
                        ..Default::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["end_date".into()],
                    }),
                })
                .await
                .unwrap();
            made += 1;
        }
    }
    made
}

#[tokio::test]
async fn a_consumer_that_disconnects_and_resumes_misses_nothing() {
    let s = TestServer::start().await;
    let total = changes(&s, 10).await;
    let first = read_all(&s, "", 4).await;
    assert_eq!(first.len(), 4);
    // Resume after the last event seen; re-reading one event is fine (at least once).
    let resume_from = first[2].id.clone();
    let rest = read_all(&s, &resume_from, usize::MAX).await;
    let mut ids = Vec::new();
    let mut seen = HashSet::new();
    for e in first.iter().chain(rest.iter()) {
        if seen.insert(e.id.clone()) {
            ids.push(e.clone());
        }
    }
    assert_eq!(ids.len(), total, "every event once after de-duplication");
    let seqs: Vec<i64> = rest.iter().map(|e| e.seq).collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "in order, without gaps"
    );
    // Per resource: created before updated.
    for e in ids.iter().filter(|e| e.r#type == "assignment.updated") {
        let created = ids
            .iter()
            .find(|c| c.resource_id == e.resource_id && c.r#type == "assignment.created")
            .unwrap();
        assert!(created.seq < e.seq);
    }
    assert!(
        ids.iter()
            .all(|e| e.trace_id.len() == 32 && e.data_json.starts_with('{'))
    );
    // Filtering by type.
    let mut only = consumer(&s)
        .watch(pb::WatchRequest {
            after_event_id: String::new(),
            event_types: vec!["assignment.updated".into()],
            follow: false,
        })
        .await
        .unwrap()
        .into_inner();
    let mut n = 0;
    while let Some(e) = only.next().await {
        assert_eq!(e.unwrap().event.unwrap().r#type, "assignment.updated");
        n += 1;
    }
    assert_eq!(n, 5);
    s.stop().await;
}

#[tokio::test]
async fn followers_of_either_replica_see_every_event_with_its_trace() {
    let a = TestServer::start().await;
    let b = a.replica().await;
    let mut stream = consumer(&b)
        .watch(pb::WatchRequest {
            after_event_id: String::new(),
            event_types: vec![],
            follow: true,
        })
        .await
        .unwrap()
        .into_inner();
    // Write through replica A with a known trace; the follower on B sees it (polling).
    let (agency, unit) = a.agency_with_unit("REP").await;
    let e = a.employee(&agency, &nip(1), "Pegawai").await;
    let mut req = tonic::Request::new(pb::CreateAssignmentRequest {
        assignment: Some(pb::Assignment {
            employee_id: e.id,
            unit_id: unit,
            position_name: "Analis".into(),
            position_type: pb::PositionType::Pelaksana as i32,
            start_date: d(2026, 1, 1),
            ..Default::default()
        }),
        request_id: String::new(),
    });
    req.metadata_mut().insert(
        "traceparent",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
            .parse()
            .unwrap(),
    );
    a.assignments().create_assignment(req).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("event arrives")
        .expect("stream open")
        .expect("ok")
        .event
        .unwrap();
    assert_eq!(got.r#type, "assignment.created");
    assert_eq!(got.trace_id, "0af7651916cd43dd8448eb211c80319c");
    b.stop().await;
    a.stop().await;
}

#[tokio::test]
async fn consumers_need_the_events_scope() {
    let s = TestServer::start().await;
    let payroll = token("svc-payroll", &[Role::Service], &[], &["results:read"]);
    let mut c = EventServiceClient::new(s.authed(Some(&payroll)));
    let err = c
        .watch(pb::WatchRequest {
            after_event_id: String::new(),
            event_types: vec![],
            follow: false,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = consumer(&s)
        .watch(pb::WatchRequest {
            after_event_id: "no-such-event".into(),
            event_types: vec![],
            follow: false,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    s.stop().await;
}
