//! `kinerja.v1.ReportService`: read-only reports aggregated in the database (distribution,
//! employee history, completion, assessor statistics, indicator quality).
//!
//! Unit reports are authorized like calibration reads: against the unit's leader on the last
//! day of the evaluation period (`Target::Employee { leader }`), so `SelfTarget` is the leader,
//! `AssessorOfTarget` the leader one level up and `AdminOfTarget` an admin of the unit; a unit
//! without a leader is `Target::Unit` (admins). The history is authorized on the employee.

use tonic::{Request, Response, Status};

use super::calibration::{breach_pb, dist_pb, rule_pb};
use super::convert::{
    aspect_enum, date, evaluation_state_enum, org_predikat_enum, predikat_enum, rating_enum, ts,
};
use super::{AppState, authorize_unit_in_period, require_id, respond};
use crate::authz::Target;
use crate::context::RequestContext;
use crate::domain::report::{IndicatorFlag, Missing, assessor_measures};
use crate::error::{Error, Result, Violations};
use crate::pagination::Page;
use crate::proto::v1 as pb;
use crate::proto::v1::report_service_server::ReportService;
use crate::store::assessment::EvaluationPeriodRow;
use crate::store::reports::{CalibrationStatus, CompletionFilter, DistributionReport};

/// Handler of the report service.
#[derive(Debug, Clone)]
pub struct ReportApi {
    state: AppState,
}

fn n32(x: u32) -> i32 {
    i32::try_from(x).unwrap_or(i32::MAX)
}

fn counts_pb(c: &crate::domain::report::Counts) -> pb::ResultCounts {
    pb::ResultCounts {
        head_count: n32(c.head_count),
        not_set: n32(c.not_set),
        rated_not_set: n32(c.rated_not_set),
        set: n32(c.set),
        r#final: n32(c.final_),
        distribution: Some(dist_pb(&c.distribution)),
        set_under_exception: n32(c.set_under_exception),
    }
}

fn missing_enum(m: Missing) -> pb::CompletionStatus {
    match m {
        Missing::NoApprovedSkp => pb::CompletionStatus::NoApprovedSkp,
        Missing::NoRealisasi => pb::CompletionStatus::NoRealisasi,
        Missing::NotRated => pb::CompletionStatus::NotRated,
        Missing::ObjectionPending => pb::CompletionStatus::ObjectionPending,
    }
}

fn flag_enum(f: IndicatorFlag) -> pb::IndicatorFlag {
    match f {
        IndicatorFlag::AlwaysAtTarget => pb::IndicatorFlag::AlwaysAtTarget,
        IndicatorFlag::NeverEvidenced => pb::IndicatorFlag::NeverEvidenced,
    }
}

/// The completion filter of a request's `status`.
fn completion_filter(status: i32) -> Result<CompletionFilter> {
    Ok(match pb::CompletionStatus::try_from(status) {
        Ok(pb::CompletionStatus::Unspecified) => CompletionFilter::All,
        Ok(pb::CompletionStatus::NoApprovedSkp) => {
            CompletionFilter::Missing(Missing::NoApprovedSkp)
        }
        Ok(pb::CompletionStatus::NoRealisasi) => CompletionFilter::Missing(Missing::NoRealisasi),
        Ok(pb::CompletionStatus::NotRated) => CompletionFilter::Missing(Missing::NotRated),
        Ok(pb::CompletionStatus::ObjectionPending) => {
            CompletionFilter::Missing(Missing::ObjectionPending)
        }
        Ok(pb::CompletionStatus::Complete) => CompletionFilter::Complete,
        Err(_) => {
            return Err(Error::invalid(
                "status",
                format!("{status} is not a valid value"),
            ));
        }
    })
}

/// The indicator filter of a request's `flag` (`None`: either flag).
fn indicator_filter(flag: i32) -> Result<Option<IndicatorFlag>> {
    match pb::IndicatorFlag::try_from(flag) {
        Ok(pb::IndicatorFlag::Unspecified) => Ok(None),
        Ok(pb::IndicatorFlag::AlwaysAtTarget) => Ok(Some(IndicatorFlag::AlwaysAtTarget)),
        Ok(pb::IndicatorFlag::NeverEvidenced) => Ok(Some(IndicatorFlag::NeverEvidenced)),
        Err(_) => Err(Error::invalid(
            "flag",
            format!("{flag} is not a valid value"),
        )),
    }
}

fn calibration_pb(c: &CalibrationStatus) -> pb::CalibrationStatus {
    let rep = &c.check;
    pb::CalibrationStatus {
        org_rating: rep.org_rating.map_or(0, |o| org_predikat_enum(o.as_str())),
        curve: c.curve.as_ref().map(|cv| pb::Curve {
            org_rating: org_predikat_enum(cv.org_rating.as_str()),
            rules: cv.constraints.iter().map(rule_pb).collect(),
        }),
        rule_set_version: rep.rule_set_version.clone(),
        group_size: n32(rep.counts.head_count),
        unrated: n32(rep.counts.unrated),
        distribution: Some(dist_pb(&rep.counts.distribution)),
        within_curve: rep.conforms,
        breaches: rep.breaches.iter().map(breach_pb).collect(),
        exception_id: rep
            .exception
            .as_ref()
            .map(|x| x.id.clone())
            .unwrap_or_default(),
        exceptions_granted: n32(c.exceptions_granted),
    }
}

fn distribution_pb(r: DistributionReport) -> pb::DistributionReport {
    pb::DistributionReport {
        total: Some(counts_pb(&r.total)),
        calibration: Some(calibration_pb(&r.calibration)),
        children: r
            .children
            .into_iter()
            .map(|k| pb::ChildUnitDistribution {
                unit_id: k.unit.id,
                unit_code: k.unit.code,
                unit_name: k.unit.name,
                own_staff: k.own_staff,
                org_rating: k.org_rating.map_or(0, |o| org_predikat_enum(o.as_str())),
                counts: Some(counts_pb(&k.counts)),
                calibration: Some(calibration_pb(&k.calibration)),
            })
            .collect(),
        unit_id: r.unit_id,
        evaluation_period_id: r.evaluation_period_id,
        next_page_token: r.next_page_token,
    }
}

impl ReportApi {
    /// A handler on `state`.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }

    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.state.clock.now()
    }

    fn unit_ids(v: &mut Violations, unit_id: &str, ep_id: &str) {
        v.check(require_id("unit_id", unit_id));
        v.check(require_id("evaluation_period_id", ep_id));
    }

    /// The page asked for by a unit report (its token bound to the unit, the period and `filter`
    /// when the report has one) and the evaluation period, once the caller is authorized for
    /// the unit in it. Call after the request's fields were validated.
    async fn unit_report(
        &self,
        ctx: &RequestContext,
        unit_id: &str,
        ep_id: &str,
        (page_size, page_token): (i32, &str),
        filter: Option<&str>,
    ) -> Result<(Page, EvaluationPeriodRow)> {
        let mut key = vec![unit_id, ep_id];
        key.extend(filter);
        let page = Page::parse(page_size, page_token, &key)?;
        let ep = authorize_unit_in_period(&self.state, ctx, unit_id, ep_id).await?;
        Ok((page, ep))
    }
}

#[tonic::async_trait]
impl ReportService for ReportApi {
    async fn get_distribution_report(
        &self,
        req: Request<pb::GetDistributionReportRequest>,
    ) -> Result<Response<pb::DistributionReport>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let mut v = Violations::new();
            Self::unit_ids(&mut v, &req.unit_id, &req.evaluation_period_id);
            v.finish()?;
            let (page, ep) = self
                .unit_report(
                    &ctx,
                    &req.unit_id,
                    &req.evaluation_period_id,
                    (req.page_size, &req.page_token),
                    None,
                )
                .await?;
            Ok(distribution_pb(
                self.state
                    .store
                    .distribution_report(&req.unit_id, &ep, &page, self.now())
                    .await?,
            ))
        })
        .await
    }

    async fn list_employee_history(
        &self,
        req: Request<pb::ListEmployeeHistoryRequest>,
    ) -> Result<Response<pb::ListEmployeeHistoryResponse>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let mut v = Violations::new();
            v.check(require_id("employee_id", &req.employee_id));
            v.finish()?;
            let page = Page::parse(req.page_size, &req.page_token, &[&req.employee_id])?;
            self.state.store.get_employee(&req.employee_id).await?;
            self.state
                .authz
                .check(
                    &ctx,
                    Target::Employee {
                        id: &req.employee_id,
                        on: None,
                    },
                )
                .await?;
            let (rows, next) = self
                .state
                .store
                .employee_history(&req.employee_id, &page, self.now())
                .await?;
            Ok(pb::ListEmployeeHistoryResponse {
                entries: rows
                    .into_iter()
                    .map(|h| pb::EmployeeHistoryEntry {
                        evaluation_id: h.evaluation_id,
                        skp_id: h.skp_id,
                        year: h.year,
                        evaluation_period_id: h.evaluation_period_id,
                        evaluation_period_sequence: h.sequence,
                        annual: h.annual,
                        period_start: Some(date(h.start_date)),
                        period_end: Some(date(h.end_date)),
                        unit_id: h.unit_id,
                        unit_name: h.unit_name,
                        position_name: h.position_name,
                        assessor_id: h.assessor_id.unwrap_or_default(),
                        state: evaluation_state_enum(h.state.as_str()),
                        predikat: h.predikat.map_or(0, |p| predikat_enum(p.as_str())),
                        results_rating: h.results_rating.map_or(0, |r| rating_enum(r.as_str())),
                        behaviour_rating: h.behaviour_rating.map_or(0, |r| rating_enum(r.as_str())),
                        org_rating: h.org_rating.map_or(0, |o| org_predikat_enum(o.as_str())),
                        rule_set_version: h.rule_set_version.unwrap_or_default(),
                        set_time: h.set_at.and_then(ts),
                        objection_pending: h.objection_pending,
                    })
                    .collect(),
                next_page_token: next,
            })
        })
        .await
    }

    async fn get_completion_report(
        &self,
        req: Request<pb::GetCompletionReportRequest>,
    ) -> Result<Response<pb::CompletionReport>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let mut v = Violations::new();
            Self::unit_ids(&mut v, &req.unit_id, &req.evaluation_period_id);
            let filter = v.take(completion_filter(req.status));
            v.finish()?;
            let filter = filter.unwrap_or(CompletionFilter::All);
            let (page, ep) = self
                .unit_report(
                    &ctx,
                    &req.unit_id,
                    &req.evaluation_period_id,
                    (req.page_size, &req.page_token),
                    Some(&req.status.to_string()),
                )
                .await?;
            let r = self
                .state
                .store
                .completion_report(&req.unit_id, &ep, filter, &page)
                .await?;
            Ok(pb::CompletionReport {
                unit_id: req.unit_id,
                evaluation_period_id: req.evaluation_period_id,
                employees: n32(r.employees),
                no_approved_skp: n32(r.no_approved_skp),
                no_realisasi: n32(r.no_realisasi),
                not_rated: n32(r.not_rated),
                objection_pending: n32(r.objection_pending),
                complete: n32(r.complete),
                entries: r
                    .entries
                    .into_iter()
                    .map(|e| pb::CompletionEntry {
                        statuses: if e.missing.is_empty() {
                            vec![pb::CompletionStatus::Complete as i32]
                        } else {
                            e.missing.iter().map(|m| missing_enum(*m) as i32).collect()
                        },
                        employee_id: e.employee_id,
                        employee_name: e.name,
                        nip: e.nip,
                        unit_id: e.unit_id,
                    })
                    .collect(),
                next_page_token: r.next_page_token,
            })
        })
        .await
    }

    async fn list_assessor_statistics(
        &self,
        req: Request<pb::ListAssessorStatisticsRequest>,
    ) -> Result<Response<pb::ListAssessorStatisticsResponse>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let mut v = Violations::new();
            Self::unit_ids(&mut v, &req.unit_id, &req.evaluation_period_id);
            v.finish()?;
            let (page, ep) = self
                .unit_report(
                    &ctx,
                    &req.unit_id,
                    &req.evaluation_period_id,
                    (req.page_size, &req.page_token),
                    None,
                )
                .await?;
            let (rows, next) = self
                .state
                .store
                .assessor_statistics(&req.unit_id, &ep, &page)
                .await?;
            Ok(pb::ListAssessorStatisticsResponse {
                assessors: rows
                    .into_iter()
                    .map(|a| {
                        let m = assessor_measures(&a.own, &a.unit);
                        pb::AssessorStatistics {
                            assessor_id: a.assessor_id,
                            assessor_name: a.name,
                            distribution: Some(dist_pb(&a.own)),
                            unit_distribution: Some(dist_pb(&a.unit)),
                            mean_score: m.mean_score,
                            unit_mean_score: m.unit_mean_score,
                            leniency: m.leniency,
                            top_share_difference: m.top_share_difference,
                            middle_share: m.middle_share,
                            unit_middle_share: m.unit_middle_share,
                        }
                    })
                    .collect(),
                next_page_token: next,
            })
        })
        .await
    }

    async fn list_indicator_quality(
        &self,
        req: Request<pb::ListIndicatorQualityRequest>,
    ) -> Result<Response<pb::ListIndicatorQualityResponse>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let mut v = Violations::new();
            Self::unit_ids(&mut v, &req.unit_id, &req.evaluation_period_id);
            let only = v.take(indicator_filter(req.flag));
            v.finish()?;
            let only = only.flatten();
            let (page, ep) = self
                .unit_report(
                    &ctx,
                    &req.unit_id,
                    &req.evaluation_period_id,
                    (req.page_size, &req.page_token),
                    Some(&req.flag.to_string()),
                )
                .await?;
            let r = self
                .state
                .store
                .indicator_quality(&req.unit_id, &ep, only, &page)
                .await?;
            Ok(pb::ListIndicatorQualityResponse {
                indicators_checked: n32(r.checked),
                always_at_target: n32(r.always_at_target),
                never_evidenced: n32(r.never_evidenced),
                indicators: r
                    .rows
                    .into_iter()
                    .map(|i| pb::IndicatorQuality {
                        aspect: aspect_enum(&i.aspect),
                        flags: i.flags.iter().map(|f| flag_enum(*f) as i32).collect(),
                        indicator_id: i.indicator_id,
                        skp_id: i.skp_id,
                        employee_id: i.employee_id,
                        unit_id: i.unit_id,
                        text: i.text,
                        target: i.target,
                        target_unit: i.target_unit,
                        periods_reported: n32(i.reported),
                        periods_evidenced: n32(i.evidenced),
                    })
                    .collect(),
                next_page_token: r.next_page_token,
            })
        })
        .await
    }
}
