//! `kinerja.v1.PerformancePeriodService`: performance years of agencies, their evaluation
//! schedule and deadlines.

use tonic::{Request, Response, Status};

use super::convert::{date, parse_date, schedule_enum, schedule_text, ts};
use super::{AppState, digest, mask_paths, require_id, respond};
use crate::authz::Target;
use crate::context::RequestContext;
use crate::domain::period::{self, DEFAULT_EVALUATION_DEADLINE_DAYS, Schedule};
use crate::error::{Error, Violations};
use crate::pagination::Page;
use crate::proto::v1 as pb;
use crate::proto::v1::performance_period_service_server::PerformancePeriodService;
use crate::store::org::parse_etag;
use crate::store::periods::{NewPeriod, PeriodChanges, PeriodWithWindows};

/// Handler of the performance period service.
#[derive(Debug, Clone)]
pub struct PeriodApi {
    state: AppState,
}

impl PeriodApi {
    /// A handler over `state`.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

/// The proto form of a stored period.
pub fn period_pb(p: PeriodWithWindows) -> pb::PerformancePeriod {
    let r = p.period;
    pb::PerformancePeriod {
        schedule: schedule_enum(&r.schedule),
        start_date: Some(date(r.start_date)),
        end_date: Some(date(r.end_date)),
        planning_deadline: Some(date(r.planning_deadline)),
        evaluation_periods: p
            .windows
            .into_iter()
            .map(|w| pb::EvaluationPeriod {
                id: w.id,
                sequence: w.sequence,
                start_date: Some(date(w.start_date)),
                end_date: Some(date(w.end_date)),
                deadline: Some(date(w.deadline)),
                annual: w.annual,
            })
            .collect(),
        id: r.id,
        agency_id: r.agency_id,
        year: r.year,
        evaluation_deadline_days: r.evaluation_deadline_days,
        create_time: ts(r.created_at),
        update_time: ts(r.updated_at),
        etag: r.version.to_string(),
    }
}

#[tonic::async_trait]
impl PerformancePeriodService for PeriodApi {
    async fn create_period(
        &self,
        req: Request<pb::CreatePeriodRequest>,
    ) -> Result<Response<pb::PerformancePeriod>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let p = req.period.clone().unwrap_or_default();
            let mut v = Violations::new();
            v.check(require_id("period.agency_id", &p.agency_id));
            if period::year_span(p.year).is_none() {
                v.add("period.year", "must be a year between 2000 and 2100");
            }
            let schedule = v
                .take(schedule_text("period.schedule", p.schedule))
                .and_then(Schedule::parse);
            let deadline = v
                .take(parse_date(
                    "period.planning_deadline",
                    p.planning_deadline.as_ref(),
                ))
                .flatten();
            if let Some(d) = deadline
                && let Err(r) = period::check_planning_deadline(p.year, d)
            {
                v.add("period.planning_deadline", r);
            }
            let days = match p.evaluation_deadline_days {
                0 => DEFAULT_EVALUATION_DEADLINE_DAYS,
                d => d,
            };
            if let Err(r) = period::check_deadline_days(days) {
                v.add("period.evaluation_deadline_days", r);
            }
            v.finish()?;
            let planning_deadline = deadline
                .or_else(|| period::default_planning_deadline(p.year))
                .ok_or_else(|| Error::invalid("period.year", "is not a valid year"))?;
            self.state
                .authz
                .check(&ctx, Target::Agency(p.agency_id.trim()))
                .await?;
            let new = NewPeriod {
                agency_id: p.agency_id.trim().to_owned(),
                year: p.year,
                schedule: schedule.unwrap_or(Schedule::Quarterly),
                planning_deadline,
                evaluation_deadline_days: days,
            };
            Ok(period_pb(
                self.state
                    .store
                    .create_period(&ctx.actor(), new, &req.request_id, &digest(&p))
                    .await?,
            ))
        })
        .await
    }

    async fn get_period(
        &self,
        req: Request<pb::GetPeriodRequest>,
    ) -> Result<Response<pb::PerformancePeriod>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            require_id("id", &req.id)?;
            self.state.authz.check(&ctx, Target::Global).await?;
            Ok(period_pb(self.state.store.get_period(&req.id).await?))
        })
        .await
    }

    async fn list_periods(
        &self,
        req: Request<pb::ListPeriodsRequest>,
    ) -> Result<Response<pb::ListPeriodsResponse>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            require_id("agency_id", &req.agency_id)?;
            self.state.authz.check(&ctx, Target::Global).await?;
            let page = Page::parse(req.page_size, &req.page_token, &[&req.agency_id])?;
            let (rows, next) = self.state.store.list_periods(&req.agency_id, &page).await?;
            Ok(pb::ListPeriodsResponse {
                periods: rows.into_iter().map(period_pb).collect(),
                next_page_token: next,
            })
        })
        .await
    }

    async fn update_period(
        &self,
        req: Request<pb::UpdatePeriodRequest>,
    ) -> Result<Response<pb::PerformancePeriod>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let p = req
                .period
                .ok_or_else(|| Error::invalid("period", "is required"))?;
            require_id("period.id", &p.id)?;
            let version = parse_etag(&p.etag)?;
            let cur = self.state.store.get_period_row(&p.id).await?;
            self.state
                .authz
                .check(&ctx, Target::Agency(&cur.agency_id))
                .await?;
            let paths = mask_paths(
                req.update_mask.as_ref(),
                &["schedule", "planning_deadline", "evaluation_deadline_days"],
            )?;
            let mut v = Violations::new();
            let mut ch = PeriodChanges::default();
            for path in paths {
                match path {
                    "schedule" => {
                        ch.schedule = v.take(schedule_text("period.schedule", p.schedule))
                    }
                    "planning_deadline" => {
                        match v.take(parse_date(
                            "period.planning_deadline",
                            p.planning_deadline.as_ref(),
                        )) {
                            Some(Some(d)) => match period::check_planning_deadline(cur.year, d) {
                                Ok(()) => ch.planning_deadline = Some(d),
                                Err(r) => v.add("period.planning_deadline", r),
                            },
                            Some(None) => v.add("period.planning_deadline", "is required"),
                            None => {}
                        }
                    }
                    _ => match period::check_deadline_days(p.evaluation_deadline_days) {
                        Ok(()) => ch.evaluation_deadline_days = Some(p.evaluation_deadline_days),
                        Err(r) => v.add("period.evaluation_deadline_days", r),
                    },
                }
            }
            v.finish()?;
            Ok(period_pb(
                self.state
                    .store
                    .update_period(&ctx.actor(), &p.id, version, ch)
                    .await?,
            ))
        })
        .await
    }
}
