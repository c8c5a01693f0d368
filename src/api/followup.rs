//! `kinerja.v1.FollowUpService`: individual development plans (rencana pengembangan individu)
//! with their actions and agreements, overdue actions for HR, recognition and consequence flags
//! with HR's decision, and the follow-up settings (the consequence rule).
//!
//! Plans and flags are authorized against the relations recorded on the SKP of the evaluation
//! they follow up (`Target::Plan`): the employee, the recorded assessor (and their superior, who
//! reads), admins whose unit subtrees hold the SKP's unit. Listings name the employee
//! (`Target::Employee`), a unit (`Target::Unit`) or nothing (`Target::Global`: system admins,
//! auditors and service accounts with `followup:read` only).

use tonic::{Request, Response, Status};

use super::assessment::opt_etag;
use super::convert::{
    date, opt_id, parse_date, predikat_enum, predikat_text, setting_source_enum, ts,
};
use super::{AppState, digest, mask_paths, require_id, respond};
use crate::authz::Target;
use crate::context::RequestContext;
use crate::domain::followup::{self as rules, ActionStatus, PlanState};
use crate::domain::rating::Predikat;
use crate::domain::skp::Actor as SkpActor;
use crate::domain::text;
use crate::error::{Error, Result, Violations};
use crate::pagination::Page;
use crate::proto::v1 as pb;
use crate::proto::v1::follow_up_service_server::FollowUpService;
use crate::store::followup::{
    ActionChanges, Agreer, CONSEQUENCE, FlagFilter, FlagRow, FollowUpSettings, NewAction,
    OverdueItem, PlanDoc, PlanFilter, PlanOp, PlanRow, RECOGNITION, is_overdue,
};

/// Handler of the follow-up service.
#[derive(Debug, Clone)]
pub struct FollowUpApi {
    state: AppState,
}

/// The authorization target of a plan: the relations recorded on its SKP.
fn plan_target(p: &PlanRow) -> Target<'_> {
    Target::Plan {
        owner: &p.employee_id,
        assessor: p.assessor_id.as_deref(),
        assessor_superior: p.assessor_superior_id.as_deref(),
        unit: &p.unit_id,
    }
}

fn plan_state_enum(s: &str) -> i32 {
    match PlanState::parse(s) {
        Some(PlanState::Draft) => pb::DevelopmentPlanState::Draft as i32,
        Some(PlanState::Agreed) => pb::DevelopmentPlanState::Agreed as i32,
        Some(PlanState::Completed) => pb::DevelopmentPlanState::Completed as i32,
        None => 0,
    }
}

fn plan_state_of(field: &str, v: i32) -> Result<Option<PlanState>> {
    match pb::DevelopmentPlanState::try_from(v) {
        Ok(pb::DevelopmentPlanState::Unspecified) => Ok(None),
        Ok(pb::DevelopmentPlanState::Draft) => Ok(Some(PlanState::Draft)),
        Ok(pb::DevelopmentPlanState::Agreed) => Ok(Some(PlanState::Agreed)),
        Ok(pb::DevelopmentPlanState::Completed) => Ok(Some(PlanState::Completed)),
        Err(_) => Err(Error::invalid(field, format!("{v} is not a valid value"))),
    }
}

fn kind_enum(s: &str) -> i32 {
    use pb::DevelopmentActionKind as K;
    match s {
        "TRAINING" => K::Training as i32,
        "COACHING" => K::Coaching as i32,
        "MENTORING" => K::Mentoring as i32,
        "OTHER" => K::Other as i32,
        _ => 0,
    }
}

fn kind_text(field: &str, v: i32) -> Result<&'static str> {
    use pb::DevelopmentActionKind as K;
    match K::try_from(v) {
        Ok(K::Training) => Ok("TRAINING"),
        Ok(K::Coaching) => Ok("COACHING"),
        Ok(K::Mentoring) => Ok("MENTORING"),
        Ok(K::Other) => Ok("OTHER"),
        _ => Err(Error::invalid(
            field,
            "must be TRAINING, COACHING, MENTORING or OTHER",
        )),
    }
}

fn status_enum(s: &str) -> i32 {
    use pb::DevelopmentActionStatus as S;
    match ActionStatus::parse(s) {
        Some(ActionStatus::Planned) => S::Planned as i32,
        Some(ActionStatus::InProgress) => S::InProgress as i32,
        Some(ActionStatus::Done) => S::Done as i32,
        Some(ActionStatus::Cancelled) => S::Cancelled as i32,
        None => 0,
    }
}

fn status_of(field: &str, v: i32) -> Result<ActionStatus> {
    use pb::DevelopmentActionStatus as S;
    match S::try_from(v) {
        Ok(S::Planned) => Ok(ActionStatus::Planned),
        Ok(S::InProgress) => Ok(ActionStatus::InProgress),
        Ok(S::Done) => Ok(ActionStatus::Done),
        Ok(S::Cancelled) => Ok(ActionStatus::Cancelled),
        _ => Err(Error::invalid(
            field,
            "must be PLANNED, IN_PROGRESS, DONE or CANCELLED",
        )),
    }
}

fn flag_kind_enum(s: &str) -> i32 {
    match s {
        RECOGNITION => pb::FollowUpFlagKind::Recognition as i32,
        CONSEQUENCE => pb::FollowUpFlagKind::Consequence as i32,
        _ => 0,
    }
}

fn flag_state_enum(s: &str) -> i32 {
    match s {
        "PENDING" => pb::FollowUpFlagState::Pending as i32,
        "DECIDED" => pb::FollowUpFlagState::Decided as i32,
        _ => 0,
    }
}

fn outcome_enum(s: &str) -> i32 {
    use pb::FollowUpOutcome as O;
    match s {
        "REWARD" => O::Reward as i32,
        "TALENT_POOL" => O::TalentPool as i32,
        "REWARD_AND_TALENT_POOL" => O::RewardAndTalentPool as i32,
        "SANCTION_PROCEEDING" => O::SanctionProceeding as i32,
        "COACHING" => O::Coaching as i32,
        "NO_ACTION" => O::NoAction as i32,
        _ => 0,
    }
}

/// The stored outcome of a decision on a flag of `kind`, refusing outcomes of the other kind.
fn outcome_for(kind: &str, v: i32) -> Result<&'static str> {
    use pb::FollowUpOutcome as O;
    let out = match O::try_from(v) {
        Ok(O::Reward) => "REWARD",
        Ok(O::TalentPool) => "TALENT_POOL",
        Ok(O::RewardAndTalentPool) => "REWARD_AND_TALENT_POOL",
        Ok(O::SanctionProceeding) => "SANCTION_PROCEEDING",
        Ok(O::Coaching) => "COACHING",
        Ok(O::NoAction) => "NO_ACTION",
        _ => return Err(Error::invalid("outcome", "is required")),
    };
    let fits = match kind {
        RECOGNITION => matches!(
            out,
            "REWARD" | "TALENT_POOL" | "REWARD_AND_TALENT_POOL" | "NO_ACTION"
        ),
        _ => matches!(out, "SANCTION_PROCEEDING" | "COACHING" | "NO_ACTION"),
    };
    if fits {
        Ok(out)
    } else {
        Err(Error::invalid(
            "outcome",
            format!("{out} is not an outcome of a {kind} flag"),
        ))
    }
}

fn action_pb(
    a: &crate::store::followup::DevActionRow,
    today: chrono::NaiveDate,
) -> pb::DevelopmentAction {
    pb::DevelopmentAction {
        id: a.id.clone(),
        kind: kind_enum(&a.kind),
        description: a.description.clone(),
        target_date: Some(date(a.target_date)),
        progress_percent: a.progress_percent,
        status: status_enum(&a.status),
        overdue: is_overdue(a, today),
        create_time: ts(a.created_at),
        update_time: ts(a.updated_at),
    }
}

fn plan_pb(d: PlanDoc) -> pb::DevelopmentPlan {
    let gaps = d.gaps();
    let actions = d.actions.iter().map(|a| action_pb(a, d.today)).collect();
    let p = d.plan;
    pb::DevelopmentPlan {
        id: p.id,
        evaluation_id: p.evaluation_id,
        skp_id: p.skp_id,
        evaluation_period_id: p.evaluation_period_id,
        employee_id: p.employee_id,
        unit_id: p.unit_id,
        assessor_id: p.assessor_id.unwrap_or_default(),
        year: p.year,
        predikat: predikat_enum(&p.predikat),
        required: p.required,
        state: plan_state_enum(&p.state),
        competency_gaps: gaps,
        actions,
        employee_agree_time: p.employee_agreed_at.and_then(ts),
        assessor_agree_time: p.assessor_agreed_at.and_then(ts),
        complete_time: p.completed_at.and_then(ts),
        create_time: ts(p.created_at),
        update_time: ts(p.updated_at),
        etag: p.version.to_string(),
    }
}

fn flag_pb(f: FlagRow) -> pb::FollowUpFlag {
    pb::FollowUpFlag {
        kind: flag_kind_enum(&f.kind),
        state: flag_state_enum(&f.state),
        outcome: f.outcome.as_deref().map_or(0, outcome_enum),
        predikat: predikat_enum(&f.predikat),
        id: f.id,
        evaluation_id: f.evaluation_id,
        skp_id: f.skp_id,
        evaluation_period_id: f.evaluation_period_id,
        employee_id: f.employee_id,
        unit_id: f.unit_id,
        year: f.year,
        annual: f.annual,
        reason: f.reason,
        decision_reason: f.decision_reason.unwrap_or_default(),
        decided_by: f.decided_by.unwrap_or_default(),
        decide_time: f.decided_at.and_then(ts),
        create_time: ts(f.created_at),
    }
}

fn overdue_pb(o: OverdueItem) -> pb::OverdueDevelopmentAction {
    let today = o.action.target_date + chrono::Duration::days(o.days);
    pb::OverdueDevelopmentAction {
        action: Some(action_pb(&o.action, today)),
        plan_id: o.plan.id,
        employee_id: o.plan.employee_id,
        unit_id: o.plan.unit_id,
        assessor_id: o.plan.assessor_id.unwrap_or_default(),
        days_overdue: i32::try_from(o.days).unwrap_or(i32::MAX),
    }
}

fn settings_pb(s: FollowUpSettings) -> pb::FollowUpSettings {
    pb::FollowUpSettings {
        agency_id: s.agency_id.unwrap_or_default(),
        consequence_years: i32::try_from(s.consequence_years).unwrap_or(i32::MAX),
        consequence_threshold: predikat_enum(s.consequence_threshold.as_str()),
        source: setting_source_enum(s.source),
        update_time: s.row.as_ref().and_then(|r| ts(r.updated_at)),
        etag: s.row.map_or(0, |r| r.version).to_string(),
    }
}

/// Validates competency gaps: each non-empty, trimmed, at most [`rules::MAX_GAP_TEXT`]
/// characters, at most [`rules::MAX_GAPS`] of them.
fn check_gaps(v: &mut Violations, field: &str, gaps: &[String]) -> Vec<String> {
    if gaps.len() > rules::MAX_GAPS {
        v.add(field, format!("at most {} gaps", rules::MAX_GAPS));
    }
    for (i, g) in gaps.iter().enumerate() {
        text::required(v, &format!("{field}[{i}]"), g, rules::MAX_GAP_TEXT);
    }
    gaps.iter().map(|g| g.trim().to_owned()).collect()
}

/// Which listing target a set of filters names.
fn list_target<'a>(employee: Option<&'a str>, unit: Option<&'a str>) -> Result<Target<'a>> {
    match (employee, unit) {
        (Some(e), _) => {
            require_id("employee_id", e)?;
            Ok(Target::Employee { id: e, on: None })
        }
        (None, Some(u)) => {
            require_id("unit_id", u)?;
            Ok(Target::Unit(u))
        }
        (None, None) => Ok(Target::Global),
    }
}

impl FollowUpApi {
    /// A handler over `state`.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }

    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.state.clock.now()
    }

    /// Loads a plan and authorizes the call on it.
    /// Keeps the plans the caller may read by the relations recorded on each (few distinct
    /// relation sets per employee, each checked once).
    async fn readable_plans(
        &self,
        ctx: &RequestContext,
        docs: Vec<PlanDoc>,
    ) -> Result<Vec<PlanDoc>> {
        let mut seen: std::collections::HashMap<(Option<String>, Option<String>, String), bool> =
            std::collections::HashMap::new();
        let mut kept = Vec::with_capacity(docs.len());
        for d in docs {
            let p = &d.plan;
            let key = (
                p.assessor_id.clone(),
                p.assessor_superior_id.clone(),
                p.unit_id.clone(),
            );
            let ok = match seen.get(&key) {
                Some(ok) => *ok,
                None => {
                    let ok = match self.state.authz.check(ctx, plan_target(p)).await {
                        Ok(()) => true,
                        Err(Error::PermissionDenied(_)) => false,
                        Err(e) => return Err(e),
                    };
                    seen.insert(key, ok);
                    ok
                }
            };
            if ok {
                kept.push(d);
            }
        }
        Ok(kept)
    }

    async fn plan_checked(&self, ctx: &RequestContext, id: &str) -> Result<PlanRow> {
        require_id("id", id)?;
        let p = self.state.store.get_plan_row(id).await?;
        self.state.authz.check(ctx, plan_target(&p)).await?;
        Ok(p)
    }

    /// Loads a plan, authorizes the call and returns the caller's relations to it.
    async fn plan_relations(
        &self,
        ctx: &RequestContext,
        field: &str,
        id: &str,
    ) -> Result<(PlanRow, Vec<SkpActor>)> {
        require_id(field, id)?;
        let p = self.state.store.get_plan_row(id).await?;
        let rel = self
            .state
            .authz
            .plan_relations(ctx, plan_target(&p))
            .await?;
        Ok((p, rel))
    }
}

#[tonic::async_trait]
impl FollowUpService for FollowUpApi {
    async fn get_development_plan(
        &self,
        req: Request<pb::GetDevelopmentPlanRequest>,
    ) -> Result<Response<pb::DevelopmentPlan>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            self.plan_checked(&ctx, &req.id).await?;
            Ok(plan_pb(
                self.state.store.get_plan(&req.id, self.now()).await?,
            ))
        })
        .await
    }

    async fn list_development_plans(
        &self,
        req: Request<pb::ListDevelopmentPlansRequest>,
    ) -> Result<Response<pb::ListDevelopmentPlansResponse>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let mut v = Violations::new();
            let state = v.take(plan_state_of("state", req.state)).flatten();
            let ep = opt_id(&req.evaluation_period_id);
            if let Some(e) = &ep {
                v.check(require_id("evaluation_period_id", e));
            }
            let st = req.state.to_string();
            let od = req.overdue_only.to_string();
            let page = v.take(Page::parse(
                req.page_size,
                &req.page_token,
                &[
                    &req.employee_id,
                    &req.unit_id,
                    &req.evaluation_period_id,
                    &st,
                    &od,
                ],
            ));
            v.finish()?;
            let page = page.ok_or_else(|| Error::invalid("page_token", "is invalid"))?;
            let employee = opt_id(&req.employee_id);
            let unit = opt_id(&req.unit_id);
            let target = list_target(employee.as_deref(), unit.as_deref())?;
            // An employee's plans are each authorized against the relations recorded on their
            // SKP, as `GetDevelopmentPlan` does, not against today's assignment: after a mutasi
            // the former assessor still reads the plans they made, the new one not the old ones.
            let upfront = match self.state.authz.check(&ctx, target).await {
                Err(e) if employee.is_none() => return Err(e),
                r => r,
            };
            let filter = PlanFilter {
                employee_id: employee.clone(),
                unit_id: unit.clone(),
                evaluation_period_id: ep,
                state,
                overdue_only: req.overdue_only,
            };
            let (mut docs, next) = self
                .state
                .store
                .list_plans(&filter, &page, self.now())
                .await?;
            if employee.is_some() {
                docs = self.readable_plans(&ctx, docs).await?;
                if docs.is_empty() {
                    upfront?;
                }
            }
            Ok(pb::ListDevelopmentPlansResponse {
                development_plans: docs.into_iter().map(plan_pb).collect(),
                next_page_token: next,
            })
        })
        .await
    }

    async fn create_development_plan(
        &self,
        req: Request<pb::CreateDevelopmentPlanRequest>,
    ) -> Result<Response<pb::DevelopmentPlan>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let mut v = Violations::new();
            v.check(require_id("evaluation_id", &req.evaluation_id));
            let gaps = check_gaps(&mut v, "competency_gaps", &req.competency_gaps);
            v.finish()?;
            let skp = self
                .state
                .store
                .skp_of_evaluation(&req.evaluation_id)
                .await?;
            self.state
                .authz
                .check(&ctx, super::assessment::plan_target(&skp))
                .await?;
            Ok(plan_pb(
                self.state
                    .store
                    .create_plan(
                        &ctx.actor(),
                        self.now(),
                        &req.evaluation_id,
                        gaps,
                        &req.request_id,
                        &digest(&req),
                    )
                    .await?,
            ))
        })
        .await
    }

    async fn update_development_plan(
        &self,
        req: Request<pb::UpdateDevelopmentPlanRequest>,
    ) -> Result<Response<pb::DevelopmentPlan>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let p = req
                .development_plan
                .ok_or_else(|| Error::invalid("development_plan", "is required"))?;
            let mut v = Violations::new();
            v.check(require_id("development_plan.id", &p.id));
            v.check(mask_paths(req.update_mask.as_ref(), &["competency_gaps"]).map(|_| ()));
            let version = v.take(opt_etag(&p.etag)).flatten();
            let gaps = check_gaps(
                &mut v,
                "development_plan.competency_gaps",
                &p.competency_gaps,
            );
            v.finish()?;
            self.plan_checked(&ctx, &p.id).await?;
            Ok(plan_pb(
                self.state
                    .store
                    .change_plan(
                        &ctx.actor(),
                        self.now(),
                        &p.id,
                        version,
                        PlanOp::SetGaps(gaps),
                    )
                    .await?,
            ))
        })
        .await
    }

    async fn add_development_action(
        &self,
        req: Request<pb::AddDevelopmentActionRequest>,
    ) -> Result<Response<pb::DevelopmentPlan>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let a = req
                .action
                .ok_or_else(|| Error::invalid("action", "is required"))?;
            let mut v = Violations::new();
            v.check(require_id("plan_id", &req.plan_id));
            let version = v.take(opt_etag(&req.etag)).flatten();
            let kind = v.take(kind_text("action.kind", a.kind));
            text::required(&mut v, "action.description", &a.description, rules::MAX_TEXT);
            let target = match v.take(parse_date("action.target_date", a.target_date.as_ref())) {
                Some(Some(d)) => Some(d),
                Some(None) => {
                    v.add("action.target_date", "is required");
                    None
                }
                None => None,
            };
            if a.progress_percent != 0 || a.status != 0 {
                v.add(
                    "action.status",
                    "a new action starts PLANNED at 0%; report progress with UpdateDevelopmentAction",
                );
            }
            v.finish()?;
            let (kind, target_date) = kind
                .zip(target)
                .ok_or_else(|| Error::invalid("action", "is incomplete"))?;
            self.plan_checked(&ctx, &req.plan_id).await?;
            let op = PlanOp::AddAction(NewAction {
                kind,
                description: a.description.trim().to_owned(),
                target_date,
            });
            Ok(plan_pb(
                self.state
                    .store
                    .change_plan(&ctx.actor(), self.now(), &req.plan_id, version, op)
                    .await?,
            ))
        })
        .await
    }

    async fn update_development_action(
        &self,
        req: Request<pb::UpdateDevelopmentActionRequest>,
    ) -> Result<Response<pb::DevelopmentPlan>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let a = req
                .action
                .ok_or_else(|| Error::invalid("action", "is required"))?;
            let mut v = Violations::new();
            v.check(require_id("plan_id", &req.plan_id));
            v.check(require_id("action.id", &a.id));
            let version = v.take(opt_etag(&req.etag)).flatten();
            let paths = v
                .take(mask_paths(
                    req.update_mask.as_ref(),
                    &["kind", "description", "target_date", "progress_percent", "status"],
                ))
                .unwrap_or_default();
            let mut changes = ActionChanges::default();
            for p in &paths {
                match *p {
                    "kind" => changes.kind = v.take(kind_text("action.kind", a.kind)),
                    "description" => {
                        text::required(&mut v, "action.description", &a.description, rules::MAX_TEXT);
                        changes.description = Some(a.description.trim().to_owned());
                    }
                    "target_date" => {
                        match v.take(parse_date("action.target_date", a.target_date.as_ref())) {
                            Some(Some(d)) => changes.target_date = Some(d),
                            Some(None) => v.add("action.target_date", "is required"),
                            None => {}
                        }
                    }
                    "progress_percent" => {
                        if !(0..=100).contains(&a.progress_percent) {
                            v.add("action.progress_percent", "must be between 0 and 100");
                        }
                        changes.progress_percent = Some(a.progress_percent);
                    }
                    "status" => changes.status = v.take(status_of("action.status", a.status)),
                    _ => {}
                }
            }
            v.finish()?;
            let (_, rel) = self.plan_relations(&ctx, "plan_id", &req.plan_id).await?;
            let may_edit = rel
                .iter()
                .any(|r| matches!(r, SkpActor::Assessor | SkpActor::Admin));
            if changes.touches_content() && !may_edit {
                return Err(Error::PermissionDenied(
                    "the employee reports progress and status only; kind, description and target date are the assessor's".into(),
                ));
            }
            let op = PlanOp::UpdateAction {
                id: a.id.clone(),
                changes,
            };
            Ok(plan_pb(
                self.state
                    .store
                    .change_plan(&ctx.actor(), self.now(), &req.plan_id, version, op)
                    .await?,
            ))
        })
        .await
    }

    async fn agree_development_plan(
        &self,
        req: Request<pb::AgreeDevelopmentPlanRequest>,
    ) -> Result<Response<pb::DevelopmentPlan>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let mut v = Violations::new();
            v.check(require_id("id", &req.id));
            let version = v.take(opt_etag(&req.etag)).flatten();
            if version.is_none() && req.etag.trim().is_empty() {
                v.add("etag", "is required: one agrees to a version of the plan");
            }
            v.finish()?;
            let (_, rel) = self.plan_relations(&ctx, "id", &req.id).await?;
            let who = if rel.contains(&SkpActor::Owner) {
                Agreer::Employee
            } else if rel.contains(&SkpActor::Assessor) {
                Agreer::Assessor
            } else {
                return Err(Error::PermissionDenied(
                    "only the employee and the recorded assessor agree to a development plan"
                        .into(),
                ));
            };
            Ok(plan_pb(
                self.state
                    .store
                    .change_plan(
                        &ctx.actor(),
                        self.now(),
                        &req.id,
                        version,
                        PlanOp::Agree(who),
                    )
                    .await?,
            ))
        })
        .await
    }

    async fn complete_development_plan(
        &self,
        req: Request<pb::CompleteDevelopmentPlanRequest>,
    ) -> Result<Response<pb::DevelopmentPlan>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let version = opt_etag(&req.etag)?;
            self.plan_checked(&ctx, &req.id).await?;
            Ok(plan_pb(
                self.state
                    .store
                    .change_plan(&ctx.actor(), self.now(), &req.id, version, PlanOp::Complete)
                    .await?,
            ))
        })
        .await
    }

    async fn list_overdue_development_actions(
        &self,
        req: Request<pb::ListOverdueDevelopmentActionsRequest>,
    ) -> Result<Response<pb::ListOverdueDevelopmentActionsResponse>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let page = Page::parse(req.page_size, &req.page_token, &[&req.unit_id])?;
            let unit = opt_id(&req.unit_id);
            let target = list_target(None, unit.as_deref())?;
            self.state.authz.check(&ctx, target).await?;
            let (items, next) = self
                .state
                .store
                .list_overdue(unit.as_deref(), &page, self.now())
                .await?;
            Ok(pb::ListOverdueDevelopmentActionsResponse {
                actions: items.into_iter().map(overdue_pb).collect(),
                next_page_token: next,
            })
        })
        .await
    }

    async fn get_follow_up_flag(
        &self,
        req: Request<pb::GetFollowUpFlagRequest>,
    ) -> Result<Response<pb::FollowUpFlag>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            require_id("id", &req.id)?;
            let flag = self.state.store.get_flag(&req.id).await?;
            let skp = self.state.store.get_skp(&flag.skp_id).await?;
            self.state
                .authz
                .check(
                    &ctx,
                    Target::Plan {
                        owner: &flag.employee_id,
                        assessor: skp.assessor_id.as_deref(),
                        assessor_superior: skp.assessor_superior_id.as_deref(),
                        unit: &flag.unit_id,
                    },
                )
                .await?;
            Ok(flag_pb(flag))
        })
        .await
    }

    async fn list_follow_up_flags(
        &self,
        req: Request<pb::ListFollowUpFlagsRequest>,
    ) -> Result<Response<pb::ListFollowUpFlagsResponse>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let mut v = Violations::new();
            let kind = match pb::FollowUpFlagKind::try_from(req.kind) {
                Ok(pb::FollowUpFlagKind::Unspecified) => None,
                Ok(pb::FollowUpFlagKind::Recognition) => Some(RECOGNITION),
                Ok(pb::FollowUpFlagKind::Consequence) => Some(CONSEQUENCE),
                Err(_) => {
                    v.add("kind", format!("{} is not a valid value", req.kind));
                    None
                }
            };
            let state = match pb::FollowUpFlagState::try_from(req.state) {
                Ok(pb::FollowUpFlagState::Unspecified) => None,
                Ok(pb::FollowUpFlagState::Pending) => Some("PENDING"),
                Ok(pb::FollowUpFlagState::Decided) => Some("DECIDED"),
                Err(_) => {
                    v.add("state", format!("{} is not a valid value", req.state));
                    None
                }
            };
            if req.year != 0 && !crate::domain::period::YEARS.contains(&req.year) {
                v.add("year", "must be between 2000 and 2100 (or 0 for any)");
            }
            let (k, s, y, a) = (
                req.kind.to_string(),
                req.state.to_string(),
                req.year.to_string(),
                req.annual_only.to_string(),
            );
            let page = v.take(Page::parse(
                req.page_size,
                &req.page_token,
                &[&req.employee_id, &req.unit_id, &k, &s, &y, &a],
            ));
            v.finish()?;
            let page = page.ok_or_else(|| Error::invalid("page_token", "is invalid"))?;
            let employee = opt_id(&req.employee_id);
            let unit = opt_id(&req.unit_id);
            let target = list_target(employee.as_deref(), unit.as_deref())?;
            self.state.authz.check(&ctx, target).await?;
            let filter = FlagFilter {
                employee_id: employee.clone(),
                unit_id: unit.clone(),
                kind,
                state,
                year: (req.year != 0).then_some(req.year),
                annual_only: req.annual_only,
            };
            let (rows, next) = self.state.store.list_flags(&filter, &page).await?;
            Ok(pb::ListFollowUpFlagsResponse {
                flags: rows.into_iter().map(flag_pb).collect(),
                next_page_token: next,
            })
        })
        .await
    }

    async fn decide_follow_up_flag(
        &self,
        req: Request<pb::DecideFollowUpFlagRequest>,
    ) -> Result<Response<pb::FollowUpFlag>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let mut v = Violations::new();
            v.check(require_id("id", &req.id));
            text::required(&mut v, "reason", &req.reason, rules::MAX_TEXT);
            if req.outcome == 0 {
                v.add("outcome", "is required");
            }
            v.finish()?;
            let flag = self.state.store.get_flag(&req.id).await?;
            let skp = self.state.store.get_skp(&flag.skp_id).await?;
            self.state
                .authz
                .check(
                    &ctx,
                    Target::Plan {
                        owner: &flag.employee_id,
                        assessor: skp.assessor_id.as_deref(),
                        assessor_superior: skp.assessor_superior_id.as_deref(),
                        unit: &flag.unit_id,
                    },
                )
                .await?;
            let outcome = outcome_for(&flag.kind, req.outcome)?;
            Ok(flag_pb(
                self.state
                    .store
                    .decide_flag(
                        &ctx.actor(),
                        self.now(),
                        &req.id,
                        outcome,
                        req.reason.trim().to_owned(),
                        &req.request_id,
                        &digest(&req),
                    )
                    .await?,
            ))
        })
        .await
    }

    async fn get_follow_up_settings(
        &self,
        req: Request<pb::GetFollowUpSettingsRequest>,
    ) -> Result<Response<pb::FollowUpSettings>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let agency = opt_id(&req.agency_id);
            if let Some(a) = &agency {
                require_id("agency_id", a)?;
            }
            self.state.authz.check(&ctx, Target::Global).await?;
            Ok(settings_pb(
                self.state
                    .store
                    .get_followup_settings(agency.as_deref())
                    .await?,
            ))
        })
        .await
    }

    async fn update_follow_up_settings(
        &self,
        req: Request<pb::UpdateFollowUpSettingsRequest>,
    ) -> Result<Response<pb::FollowUpSettings>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let s = req
                .settings
                .ok_or_else(|| Error::invalid("settings", "is required"))?;
            let mut v = Violations::new();
            let agency = opt_id(&s.agency_id);
            if let Some(a) = &agency {
                v.check(require_id("settings.agency_id", a));
            }
            let paths = v
                .take(mask_paths(
                    req.update_mask.as_ref(),
                    &["consequence_years", "consequence_threshold"],
                ))
                .unwrap_or_default();
            let version = v.take(opt_etag(&s.etag)).map(|x| x.unwrap_or(0));
            let mut years = None;
            let mut threshold = None;
            if paths.contains(&"consequence_years") {
                match rules::check_years(s.consequence_years) {
                    Ok(n) => years = Some(n),
                    Err(r) => v.add("settings.consequence_years", r),
                }
            }
            if paths.contains(&"consequence_threshold") {
                threshold = v
                    .take(predikat_text(
                        "settings.consequence_threshold",
                        s.consequence_threshold,
                    ))
                    .and_then(Predikat::parse)
                    .and_then(|p| match rules::check_threshold(p) {
                        Ok(p) => Some(p),
                        Err(r) => {
                            v.add("settings.consequence_threshold", r);
                            None
                        }
                    });
            }
            v.finish()?;
            let version = version.ok_or_else(|| Error::invalid("settings.etag", "is invalid"))?;
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
                    .update_followup_settings(
                        &ctx.actor(),
                        self.now(),
                        agency.as_deref(),
                        version,
                        years,
                        threshold,
                    )
                    .await?,
            ))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_fit_their_kind() {
        use pb::FollowUpOutcome as O;
        assert_eq!(
            outcome_for(RECOGNITION, O::Reward as i32).unwrap(),
            "REWARD"
        );
        assert!(outcome_for(RECOGNITION, O::SanctionProceeding as i32).is_err());
        assert!(outcome_for(CONSEQUENCE, O::TalentPool as i32).is_err());
        assert_eq!(
            outcome_for(CONSEQUENCE, O::NoAction as i32).unwrap(),
            "NO_ACTION"
        );
        assert!(outcome_for(CONSEQUENCE, 0).is_err());
        for o in ["REWARD", "TALENT_POOL", "SANCTION_PROCEEDING", "NO_ACTION"] {
            assert_ne!(outcome_enum(o), 0);
        }
    }

    #[test]
    fn enums_round_trip() {
        for s in ["TRAINING", "COACHING", "MENTORING", "OTHER"] {
            assert_eq!(kind_text("k", kind_enum(s)).unwrap(), s);
        }
        for s in ["PLANNED", "IN_PROGRESS", "DONE", "CANCELLED"] {
            assert_eq!(status_of("s", status_enum(s)).unwrap().as_str(), s);
        }
        assert!(kind_text("k", 0).is_err() && status_of("s", 0).is_err());
        assert_eq!(plan_state_of("s", 0).unwrap(), None);
        assert!(plan_state_of("s", 99).is_err());
    }
}
