//! `kinerja.v1.ExportService`: set and FINAL results of a period, streamed as rows or CSV, as of
//! one snapshot time, resumable from the cursor of any message.

use std::pin::Pin;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::convert::{
    evaluation_state_enum, opt_enum, org_predikat_enum, predikat_enum, rating_enum, ts,
};
use super::{AppState, require_id};
use crate::authz::Target;
use crate::context::RequestContext;
use crate::error::{Error, Result, Violations};
use crate::pagination::{decode_cursor, encode_cursor};
use crate::proto::v1 as pb;
use crate::proto::v1::export_service_server::ExportService;
use crate::store::Store;
use crate::store::export::{ExportRow, Scope};

/// Results per message when the caller sends 0.
pub const DEFAULT_BATCH: i32 = 500;
/// Largest batch a caller may ask for.
pub const MAX_BATCH: i32 = 5000;

/// The CSV columns, in order (the header line of a fresh CSV export).
pub const CSV_COLUMNS: [&str; 20] = [
    "evaluation_id",
    "nip",
    "employee_name",
    "employee_id",
    "skp_id",
    "unit_id",
    "unit_name",
    "position_name",
    "position_type",
    "evaluation_period_id",
    "year",
    "period_sequence",
    "annual",
    "state",
    "predikat",
    "results_rating",
    "behaviour_rating",
    "org_rating",
    "set_time",
    "final_time",
];

/// Handler of the export service.
#[derive(Debug, Clone)]
pub struct ExportApi {
    state: AppState,
}

impl ExportApi {
    /// A handler over `state`.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

/// What a cursor carries: the snapshot, the feed position it contains and the last key sent.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Position {
    /// Snapshot time, microseconds since the epoch.
    t: i64,
    /// Newest event id contained in the snapshot.
    w: String,
    /// Evaluation id of the last result examined.
    a: Option<String>,
}

fn filters<'a>(req: &'a pb::ExportResultsRequest, final_only: &'a str) -> [&'a str; 3] {
    [
        req.evaluation_period_id.as_str(),
        req.unit_id.as_str(),
        final_only,
    ]
}

fn validate(req: &pb::ExportResultsRequest) -> Result<(ExportFormat, u64)> {
    let mut v = Violations::new();
    v.check(require_id(
        "evaluation_period_id",
        &req.evaluation_period_id,
    ));
    if req.unit_id.len() > 64 {
        v.add("unit_id", "is not a valid id");
    }
    let format = match pb::ExportFormat::try_from(req.format) {
        Ok(pb::ExportFormat::Unspecified | pb::ExportFormat::Rows) => ExportFormat::Rows,
        Ok(pb::ExportFormat::Csv) => ExportFormat::Csv,
        Err(_) => {
            v.add("format", "must be ROWS or CSV");
            ExportFormat::Rows
        }
    };
    let batch = match req.batch_size {
        0 => DEFAULT_BATCH,
        n if (1..=MAX_BATCH).contains(&n) => n,
        _ => {
            v.add(
                "batch_size",
                format!("must be between 1 and {MAX_BATCH} (0 means {DEFAULT_BATCH})"),
            );
            DEFAULT_BATCH
        }
    };
    v.finish()?;
    Ok((format, batch as u64))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExportFormat {
    Rows,
    Csv,
}

fn text_or_empty(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("")
}

fn rfc3339(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// The CSV lines of `rows` (and the header line first when `header`).
fn csv_of(scope: &Scope, rows: &[ExportRow], header: bool) -> Result<String> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::with_capacity(rows.len() * 256 + 512));
    let io = |e: csv::Error| Error::Internal(format!("writing CSV: {e}"));
    if header {
        w.write_record(CSV_COLUMNS).map_err(io)?;
    }
    let year = scope.year.to_string();
    let seq = scope.period.sequence.to_string();
    let annual = if scope.period.annual { "true" } else { "false" };
    for r in rows {
        w.write_record([
            r.evaluation_id.as_str(),
            &r.nip,
            &r.employee_name,
            &r.employee_id,
            &r.skp_id,
            &r.unit_id,
            &r.unit_name,
            &r.position_name,
            &r.position_type,
            &scope.period.id,
            &year,
            &seq,
            annual,
            r.at.state.as_str(),
            text_or_empty(&r.at.ratings.predikat),
            text_or_empty(&r.at.ratings.results),
            text_or_empty(&r.at.ratings.behaviour),
            text_or_empty(&r.org_rating),
            &rfc3339(Some(r.set_at)),
            &rfc3339(r.at.final_at),
        ])
        .map_err(io)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Error::Internal(format!("writing CSV: {e}")))?;
    String::from_utf8(bytes).map_err(|e| Error::Internal(format!("CSV is not UTF-8: {e}")))
}

fn row_pb(scope: &Scope, r: ExportRow) -> pb::ExportedResult {
    pb::ExportedResult {
        evaluation_id: r.evaluation_id,
        employee_id: r.employee_id,
        nip: r.nip,
        employee_name: r.employee_name,
        skp_id: r.skp_id,
        unit_id: r.unit_id,
        unit_name: r.unit_name,
        position_name: r.position_name,
        position_type: r.position_type,
        evaluation_period_id: scope.period.id.clone(),
        year: scope.year,
        period_sequence: scope.period.sequence,
        annual: scope.period.annual,
        state: evaluation_state_enum(r.at.state.as_str()),
        predikat: opt_enum(r.at.ratings.predikat.as_deref(), predikat_enum),
        results_rating: opt_enum(r.at.ratings.results.as_deref(), rating_enum),
        behaviour_rating: opt_enum(r.at.ratings.behaviour.as_deref(), rating_enum),
        org_rating: opt_enum(r.org_rating.as_deref(), org_predikat_enum),
        set_time: ts(r.set_at),
        final_time: r.at.final_at.and_then(ts),
        objection_pending: r.at.objection_pending,
    }
}

type ExportStream =
    Pin<Box<dyn Stream<Item = std::result::Result<pb::ExportResultsResponse, Status>> + Send>>;

/// Everything the streaming task needs.
struct Job {
    store: Store,
    scope: Scope,
    final_only: bool,
    format: ExportFormat,
    batch: u64,
    fingerprint: [String; 3],
    position: Position,
    snapshot: DateTime<Utc>,
    header: bool,
}

impl Job {
    fn cursor(&self) -> String {
        let f: Vec<&str> = self.fingerprint.iter().map(String::as_str).collect();
        encode_cursor(&self.position, &f)
    }

    async fn run(
        mut self,
        tx: mpsc::Sender<std::result::Result<pb::ExportResultsResponse, Status>>,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut sent: i64 = 0;
        loop {
            let page = tokio::select! {
                p = self.store.export_page(
                    &self.scope,
                    self.snapshot,
                    self.final_only,
                    self.position.a.as_deref(),
                    self.batch,
                ) => p.map_err(Status::from),
                () = tx.closed() => return,
                _ = shutdown.wait_for(|stop| *stop) => Err(Status::unavailable(
                    "the server is shutting down; resume from the last cursor",
                )),
            };
            let page = match page {
                Ok(p) => p,
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            };
            if page.last_key.is_some() {
                self.position.a = page.last_key.clone();
            }
            sent += page.rows.len() as i64;
            let done = page.exhausted;
            let mut msg = pb::ExportResultsResponse {
                snapshot_time: ts(self.snapshot),
                watch_after_event_id: self.position.w.clone(),
                done,
                sent,
                ..Default::default()
            };
            match self.format {
                ExportFormat::Rows => {
                    msg.results = page
                        .rows
                        .into_iter()
                        .map(|r| row_pb(&self.scope, r))
                        .collect();
                }
                ExportFormat::Csv => match csv_of(&self.scope, &page.rows, self.header) {
                    Ok(text) => {
                        self.header = false;
                        msg.csv = text;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(Status::from(e))).await;
                        return;
                    }
                },
            }
            // A page whose rows were all filtered out still moves the cursor; send it only at
            // the end or when it carries something, so consumers see no empty chatter.
            let carries = !msg.results.is_empty() || !msg.csv.is_empty();
            if carries || done {
                msg.cursor = self.cursor();
                if tx.send(Ok(msg)).await.is_err() {
                    return; // The consumer went away.
                }
            }
            if done {
                return;
            }
        }
    }
}

#[tonic::async_trait]
impl ExportService for ExportApi {
    type ExportResultsStream = ExportStream;

    async fn export_results(
        &self,
        req: Request<pb::ExportResultsRequest>,
    ) -> std::result::Result<Response<Self::ExportResultsStream>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        let job = async {
            let (format, batch) = validate(&req)?;
            let final_only = if req.final_only { "final" } else { "set" };
            let f = filters(&req, final_only);
            let resumed: Option<Position> = if req.cursor.is_empty() {
                None
            } else {
                Some(decode_cursor("cursor", &req.cursor, &f)?)
            };
            let store = &self.state.store;
            let unit = (!req.unit_id.is_empty()).then_some(req.unit_id.as_str());
            let scope = store.export_scope(&req.evaluation_period_id, unit).await?;
            match &scope.unit {
                Some(u) => self.state.authz.check(&ctx, Target::Unit(&u.id)).await?,
                None => {
                    // The whole agency: every root unit of it must be the caller's.
                    let roots = store.agency_roots(&scope.agency_id).await?;
                    if roots.is_empty() {
                        self.state
                            .authz
                            .check(&ctx, Target::Agency(&scope.agency_id))
                            .await?;
                    }
                    for r in &roots {
                        self.state.authz.check(&ctx, Target::Unit(&r.id)).await?;
                    }
                }
            }
            let position = match resumed {
                Some(p) => p,
                None => Position {
                    // The feed position first: every change after it is in the feed, every
                    // change before it is in the snapshot taken just after.
                    w: store.newest_event_id().await?,
                    t: self.state.clock.now().timestamp_micros(),
                    a: None,
                },
            };
            let snapshot = DateTime::from_timestamp_micros(position.t)
                .ok_or_else(|| Error::invalid("cursor", "holds an invalid snapshot time"))?;
            Ok::<_, Error>(Job {
                store: store.clone(),
                scope,
                final_only: req.final_only,
                format,
                batch,
                fingerprint: f.map(str::to_owned),
                header: req.cursor.is_empty(),
                position,
                snapshot,
            })
        }
        .await
        .map_err(Status::from)?;
        let (tx, rx) = mpsc::channel(2);
        tokio::spawn(job.run(tx, self.state.shutdown.clone()));
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_and_format_are_checked() {
        let ok = pb::ExportResultsRequest {
            evaluation_period_id: "ep".into(),
            ..Default::default()
        };
        assert_eq!(validate(&ok).unwrap(), (ExportFormat::Rows, 500));
        let bad = pb::ExportResultsRequest {
            batch_size: MAX_BATCH + 1,
            format: 9,
            ..Default::default()
        };
        let e = validate(&bad).unwrap_err().to_string();
        for f in ["evaluation_period_id", "batch_size", "format"] {
            assert!(e.contains(f), "{e}");
        }
    }
}
