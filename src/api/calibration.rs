//! `kinerja.v1.CalibrationService`: evaluation period locks, organisation ratings, calibration
//! checks and exceptions, setting a unit's results, finalising expired results, the objection
//! window setting and the versioned curve rule sets.
//!
//! Calls about a unit's calibration are authorized against the unit's leader on the last day of
//! the evaluation period (`Target::Employee { leader }`): `AssessorOfTarget` is then the leader
//! one level up, `SelfTarget` the leader, `AdminOfTarget` an admin of the unit. A unit without
//! a leader is `Target::Unit` (admins only).

use tonic::{Request, Response, Status};

use super::assessment::{evaluation_pb, opt_etag};
use super::convert::{
    org_predikat_enum, org_predikat_text, predikat_enum, predikat_text, setting_source_enum, ts,
};
use super::{AppState, authorize_unit_in_period, mask_paths, require_id, respond};
use crate::authz::Target;
use crate::context::RequestContext;
use crate::domain::assessment::{self as rules, MAX_LONG_TEXT};
use crate::domain::curve::{Bound, Constraint, Curve, Distribution, OrgRating, RuleSet};
use crate::domain::rating::Predikat;
use crate::domain::text;
use crate::error::{Error, Result, Violations};
use crate::pagination::Page;
use crate::proto::v1 as pb;
use crate::proto::v1::calibration_service_server::CalibrationService;
use crate::store::calibration::{
    BreachRecord, ExceptionRow, LockRow, OrgRatingRow, Report, Settings, StoredRuleSet,
    breaches_of_json, dist_of_json,
};

/// Handler of the calibration service.
#[derive(Debug, Clone)]
pub struct CalibrationApi {
    state: AppState,
}

fn lock_pb(r: LockRow) -> pb::EvaluationPeriodLock {
    pb::EvaluationPeriodLock {
        evaluation_period_id: r.evaluation_period_id,
        locked: r.locked,
        reason: r.reason,
        changed_by: r.changed_by,
        update_time: if r.version == 0 {
            None
        } else {
            ts(r.updated_at)
        },
        etag: r.version.to_string(),
    }
}

fn org_rating_pb(r: OrgRatingRow) -> pb::OrganizationRating {
    pb::OrganizationRating {
        rating: org_predikat_enum(&r.rating),
        unit_id: r.unit_id,
        evaluation_period_id: r.evaluation_period_id,
        reason: r.reason,
        set_by: r.set_by,
        update_time: ts(r.updated_at),
        etag: r.version.to_string(),
    }
}

/// A distribution as its message (also used by the reports).
pub(crate) fn dist_pb(d: &Distribution) -> pb::PredikatDistribution {
    let n = |x: u32| i32::try_from(x).unwrap_or(i32::MAX);
    pb::PredikatDistribution {
        sangat_baik: n(d.sangat_baik),
        baik: n(d.baik),
        butuh_perbaikan: n(d.butuh_perbaikan),
        kurang: n(d.kurang),
        sangat_kurang: n(d.sangat_kurang),
    }
}

fn bound_enum(b: Bound) -> i32 {
    match b {
        Bound::AtMost => pb::CurveBound::AtMost as i32,
        Bound::AtLeast => pb::CurveBound::AtLeast as i32,
        Bound::AtLeastOne => pb::CurveBound::AtLeastOne as i32,
    }
}

/// A curve rule as its message (also used by the reports).
pub(crate) fn rule_pb(c: &Constraint) -> pb::CurveRule {
    pb::CurveRule {
        id: c.id.clone(),
        bound: bound_enum(c.bound),
        percent: i32::try_from(c.percent).unwrap_or(i32::MAX),
        predikat: c
            .predikat
            .iter()
            .map(|p| predikat_enum(p.as_str()))
            .collect(),
        blocking: c.blocking,
    }
}

/// A breach as its message (also used by the reports).
pub(crate) fn breach_pb(b: &BreachRecord) -> pb::CurveBreach {
    let n = |x: u32| i32::try_from(x).unwrap_or(i32::MAX);
    pb::CurveBreach {
        rule: Some(rule_pb(&b.rule)),
        actual: n(b.actual),
        bound: n(b.bound),
        excess: n(b.excess),
        description: b.description.clone(),
    }
}

fn report_pb(r: Report) -> pb::CalibrationReport {
    let n = |x: u32| i32::try_from(x).unwrap_or(i32::MAX);
    let c = r.check;
    pb::CalibrationReport {
        org_rating: c.org_rating.map_or(0, |o| org_predikat_enum(o.as_str())),
        head_count: n(c.counts.head_count),
        unrated: n(c.counts.unrated),
        distribution: Some(dist_pb(&c.counts.distribution)),
        breaches: c.breaches.iter().map(breach_pb).collect(),
        conforms: c.conforms,
        exception_id: c
            .exception
            .as_ref()
            .map(|x| x.id.clone())
            .unwrap_or_default(),
        settable: r.blockers.is_empty(),
        members: r
            .members
            .iter()
            .map(|m| pb::CalibrationMember {
                skp_id: m.skp_id.clone(),
                employee_id: m.employee_id.clone(),
                employee_name: m.name.clone(),
                assessor_id: m.assessor_id.clone().unwrap_or_default(),
                state: super::convert::evaluation_state_enum(m.state.as_str()),
                predikat: m.predikat.map_or(0, |p| predikat_enum(p.as_str())),
            })
            .collect(),
        blockers: r.blockers.iter().map(|b| b.message.clone()).collect(),
        unit_id: c.unit_id,
        evaluation_period_id: c.period.id,
        rule_set_version: c.rule_set_version,
    }
}

fn exception_pb(x: ExceptionRow) -> pb::CalibrationException {
    pb::CalibrationException {
        distribution: Some(dist_pb(&dist_of_json(&x.distribution))),
        breaches: breaches_of_json(&x.breaches)
            .iter()
            .map(breach_pb)
            .collect(),
        org_rating: org_predikat_enum(&x.org_rating),
        id: x.id,
        unit_id: x.unit_id,
        evaluation_period_id: x.evaluation_period_id,
        reason: x.reason,
        rule_set_version: x.rule_set_version,
        created_by: x.created_by,
        create_time: ts(x.created_at),
    }
}

fn settings_pb(s: Settings) -> pb::AssessmentSettings {
    pb::AssessmentSettings {
        agency_id: s.agency_id.unwrap_or_default(),
        objection_window_days: i32::try_from(s.objection_window_days).unwrap_or(i32::MAX),
        source: setting_source_enum(s.source),
        update_time: s.row.as_ref().and_then(|r| ts(r.updated_at)),
        etag: s.row.map_or(0, |r| r.version).to_string(),
    }
}

fn rule_set_pb(r: StoredRuleSet) -> pb::CurveRuleSet {
    pb::CurveRuleSet {
        version: r.rules.version.clone(),
        curves: r
            .rules
            .curves
            .iter()
            .map(|c| pb::Curve {
                org_rating: org_predikat_enum(c.org_rating.as_str()),
                rules: c.constraints.iter().map(rule_pb).collect(),
            })
            .collect(),
        current: r.current,
        created_by: r.created_by,
        create_time: r.created_at.and_then(ts),
    }
}

/// A rule set sent by a caller, as the domain value (field violations collected in `v`).
fn rule_set_of(v: &mut Violations, r: &pb::CurveRuleSet) -> RuleSet {
    let mut curves = Vec::new();
    for (i, c) in r.curves.iter().enumerate() {
        let f = format!("rule_set.curves[{i}]");
        let org = v
            .take(org_predikat_text(&format!("{f}.org_rating"), c.org_rating))
            .and_then(OrgRating::parse);
        let mut constraints = Vec::new();
        for (j, k) in c.rules.iter().enumerate() {
            let g = format!("{f}.rules[{j}]");
            let bound = match pb::CurveBound::try_from(k.bound) {
                Ok(pb::CurveBound::AtMost) => Some(Bound::AtMost),
                Ok(pb::CurveBound::AtLeast) => Some(Bound::AtLeast),
                Ok(pb::CurveBound::AtLeastOne) => Some(Bound::AtLeastOne),
                _ => {
                    v.add(format!("{g}.bound"), "is required");
                    None
                }
            };
            let percent = u32::try_from(k.percent).ok();
            if percent.is_none() {
                v.add(format!("{g}.percent"), "must be 0 to 100");
            }
            let mut predikat = Vec::new();
            for (x, p) in k.predikat.iter().enumerate() {
                if let Some(p) = v
                    .take(predikat_text(&format!("{g}.predikat[{x}]"), *p))
                    .and_then(Predikat::parse)
                {
                    predikat.push(p);
                }
            }
            if let (Some(bound), Some(percent)) = (bound, percent) {
                constraints.push(Constraint {
                    id: k.id.trim().to_owned(),
                    bound,
                    percent,
                    predikat,
                    blocking: k.blocking,
                });
            }
        }
        if let Some(org_rating) = org {
            curves.push(Curve {
                org_rating,
                constraints,
            });
        }
    }
    let rules = RuleSet {
        version: r.version.trim().to_owned(),
        curves,
    };
    for (field, reason) in rules::validate_rule_set(&rules) {
        v.add(field, reason);
    }
    rules
}

impl CalibrationApi {
    /// A handler over `state`.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }

    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.state.clock.now()
    }

    /// Authorizes a call on an evaluation period of an agency.
    async fn check_period_agency(&self, ctx: &RequestContext, ep_id: &str) -> Result<()> {
        let agency = self.state.store.agency_of_period(ep_id).await?;
        self.state.authz.check(ctx, Target::Agency(&agency)).await
    }

    fn unit_ids(v: &mut Violations, unit_id: &str, ep_id: &str) {
        v.check(require_id("unit_id", unit_id));
        v.check(require_id("evaluation_period_id", ep_id));
    }
}

#[tonic::async_trait]
impl CalibrationService for CalibrationApi {
    async fn lock_evaluation_period(
        &self,
        req: Request<pb::LockEvaluationPeriodRequest>,
    ) -> Result<Response<pb::EvaluationPeriodLock>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let mut v = Violations::new();
            v.check(require_id(
                "evaluation_period_id",
                &req.evaluation_period_id,
            ));
            text::optional(&mut v, "reason", &req.reason, MAX_LONG_TEXT);
            v.finish()?;
            self.check_period_agency(&ctx, &req.evaluation_period_id)
                .await?;
            let reason = match req.reason.trim() {
                "" => "deadline reached".to_owned(),
                r => r.to_owned(),
            };
            Ok(lock_pb(
                self.state
                    .store
                    .set_period_lock(
                        &ctx.actor(),
                        self.now(),
                        &req.evaluation_period_id,
                        true,
                        reason,
                        &req.request_id,
                        &super::digest(&req),
                    )
                    .await?,
            ))
        })
        .await
    }

    async fn unlock_evaluation_period(
        &self,
        req: Request<pb::UnlockEvaluationPeriodRequest>,
    ) -> Result<Response<pb::EvaluationPeriodLock>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let mut v = Violations::new();
            v.check(require_id(
                "evaluation_period_id",
                &req.evaluation_period_id,
            ));
            text::required(&mut v, "reason", &req.reason, MAX_LONG_TEXT);
            v.finish()?;
            self.check_period_agency(&ctx, &req.evaluation_period_id)
                .await?;
            Ok(lock_pb(
                self.state
                    .store
                    .set_period_lock(
                        &ctx.actor(),
                        self.now(),
                        &req.evaluation_period_id,
                        false,
                        req.reason.trim().to_owned(),
                        &req.request_id,
                        &super::digest(&req),
                    )
                    .await?,
            ))
        })
        .await
    }

    async fn get_evaluation_period_lock(
        &self,
        req: Request<pb::GetEvaluationPeriodLockRequest>,
    ) -> Result<Response<pb::EvaluationPeriodLock>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            require_id("evaluation_period_id", &req.evaluation_period_id)?;
            self.state.authz.check(&ctx, Target::Global).await?;
            let (ep, lock) = self
                .state
                .store
                .get_period_lock(&req.evaluation_period_id)
                .await?;
            Ok(lock_pb(lock.unwrap_or(LockRow {
                evaluation_period_id: ep.id,
                locked: false,
                reason: String::new(),
                changed_by: String::new(),
                version: 0,
                updated_at: chrono::DateTime::<chrono::Utc>::MIN_UTC,
            })))
        })
        .await
    }

    async fn set_organization_rating(
        &self,
        req: Request<pb::SetOrganizationRatingRequest>,
    ) -> Result<Response<pb::OrganizationRating>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let r = req.organization_rating.clone().unwrap_or_default();
            let mut v = Violations::new();
            v.check(require_id("organization_rating.unit_id", &r.unit_id));
            v.check(require_id(
                "organization_rating.evaluation_period_id",
                &r.evaluation_period_id,
            ));
            let rating = v
                .take(org_predikat_text("organization_rating.rating", r.rating))
                .and_then(OrgRating::parse);
            text::optional(
                &mut v,
                "organization_rating.reason",
                &r.reason,
                MAX_LONG_TEXT,
            );
            let version = v.take(opt_etag(&r.etag)).flatten();
            v.finish()?;
            let rating = rating
                .ok_or_else(|| Error::invalid("organization_rating.rating", "is required"))?;
            authorize_unit_in_period(&self.state, &ctx, &r.unit_id, &r.evaluation_period_id)
                .await?;
            Ok(org_rating_pb(
                self.state
                    .store
                    .set_org_rating(
                        &ctx.actor(),
                        self.now(),
                        &r.unit_id,
                        &r.evaluation_period_id,
                        rating,
                        r.reason.trim().to_owned(),
                        version,
                        &req.request_id,
                        &super::digest(&req),
                    )
                    .await?,
            ))
        })
        .await
    }

    async fn get_organization_rating(
        &self,
        req: Request<pb::GetOrganizationRatingRequest>,
    ) -> Result<Response<pb::OrganizationRating>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let mut v = Violations::new();
            Self::unit_ids(&mut v, &req.unit_id, &req.evaluation_period_id);
            v.finish()?;
            authorize_unit_in_period(&self.state, &ctx, &req.unit_id, &req.evaluation_period_id)
                .await?;
            Ok(org_rating_pb(
                self.state
                    .store
                    .get_org_rating(&req.unit_id, &req.evaluation_period_id)
                    .await?,
            ))
        })
        .await
    }

    async fn check_calibration(
        &self,
        req: Request<pb::CheckCalibrationRequest>,
    ) -> Result<Response<pb::CalibrationReport>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let mut v = Violations::new();
            Self::unit_ids(&mut v, &req.unit_id, &req.evaluation_period_id);
            v.finish()?;
            let period = authorize_unit_in_period(
                &self.state,
                &ctx,
                &req.unit_id,
                &req.evaluation_period_id,
            )
            .await?;
            Ok(report_pb(
                self.state
                    .store
                    .check_calibration(&req.unit_id, &period, self.now())
                    .await?,
            ))
        })
        .await
    }

    async fn record_calibration_exception(
        &self,
        req: Request<pb::RecordCalibrationExceptionRequest>,
    ) -> Result<Response<pb::CalibrationException>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let mut v = Violations::new();
            Self::unit_ids(&mut v, &req.unit_id, &req.evaluation_period_id);
            text::required(&mut v, "reason", &req.reason, MAX_LONG_TEXT);
            v.finish()?;
            self.state.store.get_unit(&req.unit_id).await?;
            self.state
                .authz
                .check(&ctx, Target::Unit(&req.unit_id))
                .await?;
            Ok(exception_pb(
                self.state
                    .store
                    .record_exception(
                        &ctx.actor(),
                        self.now(),
                        &req.unit_id,
                        &req.evaluation_period_id,
                        req.reason.trim().to_owned(),
                        &req.request_id,
                        &super::digest(&req),
                    )
                    .await?,
            ))
        })
        .await
    }

    async fn set_unit_results(
        &self,
        req: Request<pb::SetUnitResultsRequest>,
    ) -> Result<Response<pb::SetUnitResultsResponse>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let mut v = Violations::new();
            Self::unit_ids(&mut v, &req.unit_id, &req.evaluation_period_id);
            v.finish()?;
            authorize_unit_in_period(&self.state, &ctx, &req.unit_id, &req.evaluation_period_id)
                .await?;
            let (docs, report) = self
                .state
                .store
                .set_unit_results(
                    &ctx.actor(),
                    self.now(),
                    &req.unit_id,
                    &req.evaluation_period_id,
                    &req.request_id,
                    &super::digest(&req),
                )
                .await?;
            Ok(pb::SetUnitResultsResponse {
                evaluations: docs.into_iter().map(evaluation_pb).collect(),
                report: Some(report_pb(report)),
            })
        })
        .await
    }

    async fn finalize_expired_results(
        &self,
        req: Request<pb::FinalizeExpiredResultsRequest>,
    ) -> Result<Response<pb::FinalizeExpiredResultsResponse>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let agency = super::convert::opt_id(&req.agency_id);
            match &agency {
                Some(a) => {
                    require_id("agency_id", a)?;
                    self.state.store.get_agency(a).await?;
                    self.state.authz.check(&ctx, Target::Agency(a)).await?
                }
                None => self.state.authz.check(&ctx, Target::Global).await?,
            }
            let ids = self
                .state
                .store
                .finalize_expired(&ctx.actor(), self.now(), agency.as_deref(), 1000)
                .await?;
            Ok(pb::FinalizeExpiredResultsResponse {
                finalized: i32::try_from(ids.len()).unwrap_or(i32::MAX),
                evaluation_ids: ids,
            })
        })
        .await
    }

    async fn get_assessment_settings(
        &self,
        req: Request<pb::GetAssessmentSettingsRequest>,
    ) -> Result<Response<pb::AssessmentSettings>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let agency = super::convert::opt_id(&req.agency_id);
            if let Some(a) = &agency {
                require_id("agency_id", a)?;
            }
            self.state.authz.check(&ctx, Target::Global).await?;
            Ok(settings_pb(
                self.state.store.get_settings(agency.as_deref()).await?,
            ))
        })
        .await
    }

    async fn update_assessment_settings(
        &self,
        req: Request<pb::UpdateAssessmentSettingsRequest>,
    ) -> Result<Response<pb::AssessmentSettings>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let s = req
                .settings
                .ok_or_else(|| Error::invalid("settings", "is required"))?;
            let mut v = Violations::new();
            let agency = super::convert::opt_id(&s.agency_id);
            if let Some(a) = &agency {
                v.check(require_id("settings.agency_id", a));
            }
            v.check(mask_paths(req.update_mask.as_ref(), &["objection_window_days"]).map(|_| ()));
            let version = v.take(opt_etag(&s.etag)).map(|x| x.unwrap_or(0));
            let days = match rules::check_objection_days(s.objection_window_days) {
                Ok(d) => Some(d),
                Err(r) => {
                    v.add("settings.objection_window_days", r);
                    None
                }
            };
            v.finish()?;
            let (version, days) = version
                .zip(days)
                .ok_or_else(|| Error::invalid("settings", "is required"))?;
            match &agency {
                Some(a) => {
                    self.state.store.get_agency(a).await?;
                    self.state.authz.check(&ctx, Target::Agency(a)).await?
                }
                None => self.state.authz.check(&ctx, Target::Global).await?,
            }
            Ok(settings_pb(
                self.state
                    .store
                    .update_settings(&ctx.actor(), self.now(), agency.as_deref(), version, days)
                    .await?,
            ))
        })
        .await
    }

    async fn create_curve_rule_set(
        &self,
        req: Request<pb::CreateCurveRuleSetRequest>,
    ) -> Result<Response<pb::CurveRuleSet>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let r = req
                .rule_set
                .clone()
                .ok_or_else(|| Error::invalid("rule_set", "is required"))?;
            let mut v = Violations::new();
            let rules = rule_set_of(&mut v, &r);
            v.finish()?;
            self.state.authz.check(&ctx, Target::Global).await?;
            Ok(rule_set_pb(
                self.state
                    .store
                    .create_rule_set(
                        &ctx.actor(),
                        self.now(),
                        rules,
                        &req.request_id,
                        &super::digest(&req),
                    )
                    .await?,
            ))
        })
        .await
    }

    async fn list_curve_rule_sets(
        &self,
        req: Request<pb::ListCurveRuleSetsRequest>,
    ) -> Result<Response<pb::ListCurveRuleSetsResponse>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let page = Page::parse(req.page_size, &req.page_token, &[])?;
            self.state.authz.check(&ctx, Target::Global).await?;
            let (rows, next) = self.state.store.list_rule_sets(&page).await?;
            Ok(pb::ListCurveRuleSetsResponse {
                rule_sets: rows.into_iter().map(rule_set_pb).collect(),
                next_page_token: next,
            })
        })
        .await
    }
}
