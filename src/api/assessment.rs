//! `kinerja.v1.AssessmentService`: action plans, realisasi with evidence, feedback, the period
//! evaluation (self-assessment, ratings, predikat), explanations, objections, annual results and
//! angka kredit coefficients. Every call on an SKP's assessment is authorized against the
//! relations recorded on the SKP (`Target::Plan`): the assessor who rates is the SKP's recorded
//! assessor, the superior who decides an objection is the SKP's recorded assessor's superior.

use chrono::NaiveDate;
use tonic::{Request, Response, Status};

use super::convert::{
    aspect_enum, berakhlak_enum, berakhlak_text, date, evaluation_state_enum,
    evaluation_state_text, final_reason_enum, objection_decision_enum, objection_decision_text,
    objection_state_enum, objection_state_text, opt_enum, opt_id, opt_rating_text,
    org_predikat_enum, position_enum, predikat_enum, rating_enum, rating_of, rhk_kind_enum, ts,
};
use super::{AppState, digest, mask_paths, require_id, respond};
use crate::auth::Role;
use crate::authz::Target;
use crate::context::RequestContext;
use crate::domain::assessment::{
    self as rules, MAX_ACCOUNT_TEXT, MAX_DOCUMENT_REF, MAX_EVIDENCE, MAX_LONG_TEXT, State,
};
use crate::domain::period::YEARS;
use crate::domain::rating::{self, Rating};
use crate::domain::text;
use crate::error::{Error, Result, Violations};
use crate::pagination::Page;
use crate::proto::v1 as pb;
use crate::proto::v1::assessment_service_server::AssessmentService;
use crate::store::assessment::{
    ActionPlanRow, Annual, Decision, EvaluationDoc, EvidenceItem, Explanation, FeedbackRow,
    NewFeedback, NewRealisasi, ObjectionRow, RealisasiChanges, RealisasiDoc, SelfAssessmentInput,
    evidence_of,
};
use crate::store::org::parse_etag;
use crate::store::skp::{SkpRead, SkpRow};

/// Handler of the assessment service.
#[derive(Debug, Clone)]
pub struct AssessmentApi {
    state: AppState,
}

/// The authorization target of an SKP: the relations recorded on it.
pub fn plan_target(s: &SkpRow) -> Target<'_> {
    Target::Plan {
        owner: &s.employee_id,
        assessor: s.assessor_id.as_deref(),
        assessor_superior: s.assessor_superior_id.as_deref(),
        unit: &s.unit_id,
    }
}

/// True when the caller reads only as a service account (scope `results:read`): such callers
/// see set (DITETAPKAN) and FINAL results only.
pub fn results_only(ctx: &RequestContext) -> bool {
    ctx.principal.as_deref().is_some_and(|p| {
        p.has(Role::Service)
            && ![
                Role::Employee,
                Role::Admin,
                Role::SystemAdmin,
                Role::Auditor,
            ]
            .iter()
            .any(|r| p.has(*r))
    })
}

/// An optional etag: empty means "do not check".
pub fn opt_etag(etag: &str) -> Result<Option<i64>> {
    if etag.trim().is_empty() {
        Ok(None)
    } else {
        parse_etag(etag).map(Some)
    }
}

/// Keeps the items after the page token (items sorted by `key`) and cuts the page.
pub fn page_in_memory<T>(
    items: Vec<T>,
    page: &Page,
    key: impl Fn(&T) -> String,
) -> (Vec<T>, String) {
    let after = page.after.as_ref().and_then(|k| k.first().cloned());
    let rest: Vec<T> = items
        .into_iter()
        .filter(|i| after.as_ref().is_none_or(|a| key(i) > *a))
        .take(usize::try_from(page.fetch_limit()).unwrap_or(usize::MAX))
        .collect();
    page.finish(rest, |i| vec![key(i)])
}

fn evidence_pb(e: EvidenceItem) -> pb::Evidence {
    pb::Evidence {
        url: e.url.unwrap_or_default(),
        document_ref: e.document_ref.unwrap_or_default(),
        sha256: e.sha256,
        description: e.description,
    }
}

/// The proto form of an action plan.
pub fn action_plan_pb(r: ActionPlanRow) -> pb::ActionPlan {
    pb::ActionPlan {
        id: r.id,
        skp_id: r.skp_id,
        rhk_id: r.rhk_id,
        evaluation_period_id: r.evaluation_period_id,
        text: r.text,
        create_time: ts(r.created_at),
        update_time: ts(r.updated_at),
        etag: r.version.to_string(),
    }
}

fn realisasi_pb(d: RealisasiDoc) -> pb::Realisasi {
    let r = d.row;
    pb::Realisasi {
        evidence: evidence_of(&r).into_iter().map(evidence_pb).collect(),
        id: r.id,
        skp_id: r.skp_id,
        indicator_id: r.indicator_id,
        evaluation_period_id: r.evaluation_period_id,
        value: r.value,
        account: r.account,
        capaian_percent: d.capaian,
        create_time: ts(r.created_at),
        update_time: ts(r.updated_at),
        etag: r.version.to_string(),
    }
}

/// The proto form of a feedback item.
pub fn feedback_pb(r: FeedbackRow) -> pb::Feedback {
    pb::Feedback {
        behaviour: opt_enum(r.behaviour.as_deref(), berakhlak_enum),
        id: r.id,
        skp_id: r.skp_id,
        evaluation_period_id: r.evaluation_period_id.unwrap_or_default(),
        rhk_id: r.rhk_id.unwrap_or_default(),
        text: r.text,
        author_id: r.author_id,
        create_time: ts(r.created_at),
    }
}

/// The proto form of an evaluation.
pub fn evaluation_pb(d: EvaluationDoc) -> pb::Evaluation {
    let capaian = d
        .capaian
        .iter()
        .map(|c| pb::IndicatorCapaian {
            rhk_id: c.rhk().id.clone(),
            rhk_kind: rhk_kind_enum(&c.rhk().kind),
            indicator_id: c.indicator().id.clone(),
            aspect: aspect_enum(&c.indicator().aspect),
            target: c.indicator().target,
            unit: c.indicator().unit.clone(),
            realisasi: c.realisasi,
            capaian_percent: c.capaian,
        })
        .collect();
    let stored = d.row.is_some();
    let row = d.row.unwrap_or_default();
    pb::Evaluation {
        id: if stored { row.id } else { String::new() },
        skp_id: d.skp.id,
        evaluation_period_id: d.period.id,
        employee_id: d.skp.employee_id,
        sequence: d.period.sequence,
        annual: d.period.annual,
        state: evaluation_state_enum(d.state.as_str()),
        self_assessment: row.self_assessment.map(|t| pb::SelfAssessment {
            text: t,
            results_rating: opt_enum(row.self_results_rating.as_deref(), rating_enum),
            behaviour_rating: opt_enum(row.self_behaviour_rating.as_deref(), rating_enum),
            submit_time: row.self_assessed_at.and_then(ts),
        }),
        results_rating: opt_enum(row.results_rating.as_deref(), rating_enum),
        behaviour_rating: opt_enum(row.behaviour_rating.as_deref(), rating_enum),
        rating_reason: row.rating_reason.unwrap_or_default(),
        predikat: opt_enum(row.predikat.as_deref(), predikat_enum),
        assessor_id: row.rated_by.unwrap_or_default(),
        rate_time: row.rated_at.and_then(ts),
        capaian,
        org_rating: opt_enum(row.org_rating.as_deref(), org_predikat_enum),
        rule_set_version: row.rule_set_version.unwrap_or_default(),
        calibration_exception_id: row.calibration_exception_id.unwrap_or_default(),
        set_time: row.set_at.and_then(ts),
        objection_deadline: row.objection_deadline.and_then(ts),
        objection_id: d.objection.map(|o| o.id).unwrap_or_default(),
        final_time: d.final_at.and_then(ts),
        final_reason: opt_enum(d.final_reason.as_deref(), final_reason_enum),
        period_locked: d.locked,
        create_time: if stored { ts(row.created_at) } else { None },
        update_time: if stored { ts(row.updated_at) } else { None },
        etag: if stored {
            row.version.to_string()
        } else {
            "0".to_owned()
        },
    }
}

/// The proto form of an objection.
pub fn objection_pb(o: ObjectionRow, evaluation_period_id: String) -> pb::Objection {
    pb::Objection {
        state: objection_state_enum(&o.state),
        decision: opt_enum(o.decision.as_deref(), objection_decision_enum),
        previous_results_rating: rating_enum(&o.prev_results_rating),
        previous_behaviour_rating: rating_enum(&o.prev_behaviour_rating),
        previous_predikat: predikat_enum(&o.prev_predikat),
        results_rating: opt_enum(o.new_results_rating.as_deref(), rating_enum),
        behaviour_rating: opt_enum(o.new_behaviour_rating.as_deref(), rating_enum),
        predikat: opt_enum(o.new_predikat.as_deref(), predikat_enum),
        file_time: ts(o.filed_at),
        decide_time: o.decided_at.and_then(ts),
        id: o.id,
        skp_id: o.skp_id,
        evaluation_period_id,
        evaluation_id: o.evaluation_id,
        employee_id: o.employee_id,
        reasons: o.reasons,
        decider_id: o.decider_id.unwrap_or_default(),
        decision_reason: o.decision_reason.unwrap_or_default(),
    }
}

fn fmt_pct(c: Option<f64>) -> String {
    c.map_or_else(|| "undefined".to_owned(), |v| format!("{v:.1}%"))
}

/// The sentences of an explanation.
fn reasons(x: &Explanation) -> Vec<String> {
    let d = &x.doc;
    let mut out = Vec::new();
    let row = d.row.as_ref();
    let rated = row.and_then(|r| {
        let h = Rating::parse(r.results_rating.as_deref()?)?;
        let p = Rating::parse(r.behaviour_rating.as_deref()?)?;
        Some(rating::predikat(h, p))
    });
    match rated {
        Some(cell) => {
            out.push(format!(
                "Predikat {} comes from the matrix cell of rating hasil kerja {} (row) and rating perilaku kerja {} (column).",
                cell.predikat.as_str(),
                cell.hasil_kerja.as_str(),
                cell.perilaku.as_str()
            ));
            let who = if x.assessor_name.is_empty() {
                row.and_then(|r| r.rated_by.clone()).unwrap_or_default()
            } else {
                x.assessor_name.clone()
            };
            out.push(format!(
                "Rated by the assessor {who}: {}",
                row.and_then(|r| r.rating_reason.clone())
                    .unwrap_or_default()
            ));
        }
        None => out.push("Not rated yet.".to_owned()),
    }
    for c in &d.capaian {
        out.push(format!(
            "{} RHK \"{}\", indicator \"{}\" ({}): target {} {}, realisasi {}, capaian {}.",
            c.rhk().kind,
            c.rhk().text,
            c.indicator().text,
            c.indicator().aspect,
            c.indicator().target,
            c.indicator().unit,
            c.realisasi
                .map_or_else(|| "not recorded".to_owned(), |v| v.to_string()),
            fmt_pct(c.capaian)
        ));
    }
    if !x.feedback.is_empty() {
        out.push(format!(
            "{} feedback item(s) were given on this SKP.",
            x.feedback.len()
        ));
    }
    if let Some(r) = row
        && let (Some(v), Some(o)) = (&r.rule_set_version, &r.org_rating)
    {
        out.push(format!(
            "Set on the curve of organisation rating {o} under rule set {v}{}.",
            if x.exception_reason.is_empty() {
                String::new()
            } else {
                format!(", with a calibration exception: {}", x.exception_reason)
            }
        ));
    }
    if let Some(o) = &d.objection {
        match o.decision.as_deref() {
            Some(dec) => out.push(format!(
                "An objection was decided ({dec}): predikat {} became {}; reason: {}.",
                o.prev_predikat,
                o.new_predikat.clone().unwrap_or_default(),
                o.decision_reason.clone().unwrap_or_default()
            )),
            None => out.push(
                "An objection is waiting for the decision of the assessor's superior.".to_owned(),
            ),
        }
    }
    match (d.state, d.final_reason.as_deref()) {
        (State::Final, Some("WINDOW_PASSED")) => {
            out.push("FINAL: the objection window passed without objection.".to_owned())
        }
        (State::Final, _) => out.push("FINAL: the objection was decided.".to_owned()),
        (State::Ditetapkan, _) => out.push(format!(
            "Set; an objection may be filed until {}.",
            row.and_then(|r| r.objection_deadline)
                .map(|t| t.to_rfc3339())
                .unwrap_or_default()
        )),
        _ => {}
    }
    out
}

fn explanation_pb(x: Explanation) -> pb::EvaluationExplanation {
    let reasons = reasons(&x);
    let d = &x.doc;
    let matrix_cell = d.row.as_ref().and_then(|r| {
        let h = Rating::parse(r.results_rating.as_deref()?)?;
        let p = Rating::parse(r.behaviour_rating.as_deref()?)?;
        let cell = rating::predikat(h, p);
        Some(pb::MatrixCell {
            results_rating: rating_enum(h.as_str()),
            behaviour_rating: rating_enum(p.as_str()),
            predikat: predikat_enum(cell.predikat.as_str()),
        })
    });
    let indicators = d
        .capaian
        .iter()
        .map(|c| pb::IndicatorResult {
            rhk_id: c.rhk().id.clone(),
            rhk_text: c.rhk().text.clone(),
            rhk_kind: rhk_kind_enum(&c.rhk().kind),
            indicator_id: c.indicator().id.clone(),
            indicator_text: c.indicator().text.clone(),
            aspect: aspect_enum(&c.indicator().aspect),
            target: c.indicator().target,
            unit: c.indicator().unit.clone(),
            realisasi: c.realisasi,
            capaian_percent: c.capaian,
            account: c
                .record
                .as_ref()
                .map(|r| r.account.clone())
                .unwrap_or_default(),
            evidence: c
                .record
                .as_ref()
                .map(|r| evidence_of(r).into_iter().map(evidence_pb).collect())
                .unwrap_or_default(),
        })
        .collect();
    let objection = d
        .objection
        .clone()
        .map(|o| objection_pb(o, d.period.id.clone()));
    pb::EvaluationExplanation {
        matrix_cell,
        indicators,
        objection,
        assessor_id: d.skp.assessor_id.clone().unwrap_or_default(),
        assessor_superior_id: d.skp.assessor_superior_id.clone().unwrap_or_default(),
        assessor_name: x.assessor_name,
        calibration_exception_reason: x.exception_reason,
        action_plans: x.action_plans.into_iter().map(action_plan_pb).collect(),
        feedback: x.feedback.into_iter().map(feedback_pb).collect(),
        reasons,
        evaluation: Some(evaluation_pb(x.doc)),
    }
}

fn annual_pb(employee_id: &str, year: i32, a: Annual, results_only: bool) -> pb::AnnualResult {
    pb::AnnualResult {
        employee_id: employee_id.to_owned(),
        year,
        predikat: a.predikat.map_or(0, |p| predikat_enum(p.as_str())),
        complete: a.complete,
        r#final: a.final_,
        angka_kredit_total: a.angka_kredit_total,
        parts: a
            .parts
            .into_iter()
            .map(|p| {
                let show = !results_only || p.state.is_set();
                pb::AnnualPart {
                    skp_id: p.skp.id.clone(),
                    start_date: Some(date(p.skp.start_date)),
                    end_date: Some(date(p.skp.end_date)),
                    months: i32::try_from(p.months).unwrap_or(12),
                    position_type: position_enum(&p.skp.position_type),
                    position_name: p.skp.position_name.clone(),
                    unit_id: p.skp.unit_id.clone(),
                    evaluation_period_id: p.period.map(|e| e.id).unwrap_or_default(),
                    state: evaluation_state_enum(p.state.as_str()),
                    predikat: p
                        .predikat
                        .filter(|_| show)
                        .map_or(0, |x| predikat_enum(x.as_str())),
                    credit_coefficient: p.coefficient,
                    angka_kredit: p.angka_kredit,
                }
            })
            .collect(),
    }
}

fn validate_evidence(
    v: &mut Violations,
    prefix: &str,
    items: &[pb::Evidence],
) -> Vec<EvidenceItem> {
    if items.is_empty() || items.len() > MAX_EVIDENCE {
        v.add(
            prefix,
            format!("must hold 1 to {MAX_EVIDENCE} items (bukti dukung)"),
        );
    }
    let mut out = Vec::new();
    for (i, e) in items.iter().enumerate() {
        let f = format!("{prefix}[{i}]");
        let url = opt_id(&e.url);
        let doc = opt_id(&e.document_ref);
        match (&url, &doc) {
            (Some(_), Some(_)) | (None, None) => v.add(
                format!("{f}.url"),
                "set exactly one of url and document_ref",
            ),
            (Some(u), None) => {
                if let Err(r) = rules::check_url(u) {
                    v.add(format!("{f}.url"), r);
                }
            }
            (None, Some(_)) => text::required(
                v,
                &format!("{f}.document_ref"),
                &e.document_ref,
                MAX_DOCUMENT_REF,
            ),
        }
        text::optional(
            v,
            &format!("{f}.description"),
            &e.description,
            MAX_DOCUMENT_REF,
        );
        match rules::check_sha256(&e.sha256) {
            Ok(h) => out.push(EvidenceItem {
                url,
                document_ref: doc,
                sha256: h,
                description: e.description.trim().to_owned(),
            }),
            Err(r) => v.add(format!("{f}.sha256"), r),
        }
    }
    out
}

fn check_value(v: &mut Violations, field: &str, value: f64) {
    if let Err(r) = rules::check_value(value) {
        v.add(field, r);
    }
}

impl AssessmentApi {
    /// A handler over `state`.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }

    /// Loads an SKP and authorizes the call on it.
    async fn skp_checked(&self, ctx: &RequestContext, skp_id: &str) -> Result<SkpRow> {
        let s = self.state.store.get_skp(skp_id).await?;
        self.state.authz.check(ctx, plan_target(&s)).await?;
        Ok(s)
    }

    /// [`Self::skp_checked`] for a point read that goes on to the SKP's content: the row comes
    /// with its stored content in one statement ([`crate::store::Store::read_skp`]).
    async fn skp_read_checked(&self, ctx: &RequestContext, skp_id: &str) -> Result<SkpRead> {
        let read = self.state.store.read_skp(skp_id).await?;
        self.state.authz.check(ctx, plan_target(&read.row)).await?;
        Ok(read)
    }

    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.state.clock.now()
    }
}

#[tonic::async_trait]
impl AssessmentService for AssessmentApi {
    async fn create_action_plan(
        &self,
        req: Request<pb::CreateActionPlanRequest>,
    ) -> Result<Response<pb::ActionPlan>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let p = req.action_plan.clone().unwrap_or_default();
            let mut v = Violations::new();
            v.check(require_id("action_plan.rhk_id", &p.rhk_id));
            v.check(require_id(
                "action_plan.evaluation_period_id",
                &p.evaluation_period_id,
            ));
            text::required(&mut v, "action_plan.text", &p.text, MAX_LONG_TEXT);
            v.finish()?;
            let rhk = self.state.store.get_rhk(p.rhk_id.trim()).await?;
            self.skp_checked(&ctx, &rhk.skp_id).await?;
            let row = self
                .state
                .store
                .create_action_plan(
                    &ctx.actor(),
                    self.now(),
                    &rhk.id,
                    p.evaluation_period_id.trim(),
                    p.text.trim().to_owned(),
                    &req.request_id,
                    &digest(&req),
                )
                .await?;
            Ok(action_plan_pb(row))
        })
        .await
    }

    async fn update_action_plan(
        &self,
        req: Request<pb::UpdateActionPlanRequest>,
    ) -> Result<Response<pb::ActionPlan>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let p = req
                .action_plan
                .ok_or_else(|| Error::invalid("action_plan", "is required"))?;
            let mut v = Violations::new();
            v.check(require_id("action_plan.id", &p.id));
            let version = v.take(parse_etag(&p.etag));
            v.check(mask_paths(req.update_mask.as_ref(), &["text"]).map(|_| ()));
            text::required(&mut v, "action_plan.text", &p.text, MAX_LONG_TEXT);
            v.finish()?;
            let version =
                version.ok_or_else(|| Error::invalid("action_plan.etag", "is required"))?;
            let cur = self.state.store.get_action_plan(&p.id).await?;
            self.skp_checked(&ctx, &cur.skp_id).await?;
            let row = self
                .state
                .store
                .change_action_plan(
                    &ctx.actor(),
                    self.now(),
                    &p.id,
                    version,
                    Some(p.text.trim().to_owned()),
                )
                .await?
                .ok_or_else(|| Error::not_found("ActionPlan", &p.id))?;
            Ok(action_plan_pb(row))
        })
        .await
    }

    async fn delete_action_plan(
        &self,
        req: Request<pb::DeleteActionPlanRequest>,
    ) -> Result<Response<()>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            require_id("id", &req.id)?;
            let version = parse_etag(&req.etag)?;
            let cur = self.state.store.get_action_plan(&req.id).await?;
            self.skp_checked(&ctx, &cur.skp_id).await?;
            self.state
                .store
                .change_action_plan(&ctx.actor(), self.now(), &req.id, version, None)
                .await?;
            Ok(())
        })
        .await
    }

    async fn list_action_plans(
        &self,
        req: Request<pb::ListActionPlansRequest>,
    ) -> Result<Response<pb::ListActionPlansResponse>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            require_id("skp_id", &req.skp_id)?;
            let ep = opt_id(&req.evaluation_period_id);
            self.skp_checked(&ctx, &req.skp_id).await?;
            let page = Page::parse(
                req.page_size,
                &req.page_token,
                &[&req.skp_id, &req.evaluation_period_id],
            )?;
            let (rows, next) = self
                .state
                .store
                .list_action_plans(&req.skp_id, ep.as_deref(), &page)
                .await?;
            Ok(pb::ListActionPlansResponse {
                action_plans: rows.into_iter().map(action_plan_pb).collect(),
                next_page_token: next,
            })
        })
        .await
    }

    async fn create_realisasi(
        &self,
        req: Request<pb::CreateRealisasiRequest>,
    ) -> Result<Response<pb::Realisasi>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let r = req.realisasi.clone().unwrap_or_default();
            let mut v = Violations::new();
            v.check(require_id("realisasi.indicator_id", &r.indicator_id));
            v.check(require_id(
                "realisasi.evaluation_period_id",
                &r.evaluation_period_id,
            ));
            check_value(&mut v, "realisasi.value", r.value);
            text::required(&mut v, "realisasi.account", &r.account, MAX_ACCOUNT_TEXT);
            let evidence = validate_evidence(&mut v, "realisasi.evidence", &r.evidence);
            v.finish()?;
            let ind = self
                .state
                .store
                .get_indicator(r.indicator_id.trim())
                .await?;
            self.skp_checked(&ctx, &ind.skp_id).await?;
            let new = NewRealisasi {
                indicator_id: ind.id,
                evaluation_period_id: r.evaluation_period_id.trim().to_owned(),
                value: r.value,
                account: r.account.trim().to_owned(),
                evidence,
            };
            let doc = self
                .state
                .store
                .create_realisasi(
                    &ctx.actor(),
                    self.now(),
                    new,
                    &req.request_id,
                    &digest(&req),
                )
                .await?;
            Ok(realisasi_pb(doc))
        })
        .await
    }

    async fn update_realisasi(
        &self,
        req: Request<pb::UpdateRealisasiRequest>,
    ) -> Result<Response<pb::Realisasi>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let r = req
                .realisasi
                .ok_or_else(|| Error::invalid("realisasi", "is required"))?;
            let mut v = Violations::new();
            v.check(require_id("realisasi.id", &r.id));
            let version = v.take(parse_etag(&r.etag));
            let paths = v
                .take(mask_paths(
                    req.update_mask.as_ref(),
                    &["value", "account", "evidence"],
                ))
                .unwrap_or_default();
            let mut ch = RealisasiChanges::default();
            for p in paths {
                match p {
                    "value" => {
                        check_value(&mut v, "realisasi.value", r.value);
                        ch.value = Some(r.value);
                    }
                    "account" => {
                        text::required(&mut v, "realisasi.account", &r.account, MAX_ACCOUNT_TEXT);
                        ch.account = Some(r.account.trim().to_owned());
                    }
                    _ => {
                        ch.evidence =
                            Some(validate_evidence(&mut v, "realisasi.evidence", &r.evidence))
                    }
                }
            }
            v.finish()?;
            let version = version.ok_or_else(|| Error::invalid("realisasi.etag", "is required"))?;
            let cur = self.state.store.get_realisasi(&r.id).await?;
            self.skp_checked(&ctx, &cur.row.skp_id).await?;
            let doc = self
                .state
                .store
                .update_realisasi(&ctx.actor(), self.now(), &r.id, version, ch)
                .await?;
            Ok(realisasi_pb(doc))
        })
        .await
    }

    async fn list_realisasi(
        &self,
        req: Request<pb::ListRealisasiRequest>,
    ) -> Result<Response<pb::ListRealisasiResponse>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            require_id("skp_id", &req.skp_id)?;
            let ep = opt_id(&req.evaluation_period_id);
            self.skp_checked(&ctx, &req.skp_id).await?;
            let page = Page::parse(
                req.page_size,
                &req.page_token,
                &[&req.skp_id, &req.evaluation_period_id],
            )?;
            let (rows, next) = self
                .state
                .store
                .list_realisasi(&req.skp_id, ep.as_deref(), &page)
                .await?;
            Ok(pb::ListRealisasiResponse {
                realisasi: rows.into_iter().map(realisasi_pb).collect(),
                next_page_token: next,
            })
        })
        .await
    }

    async fn create_feedback(
        &self,
        req: Request<pb::CreateFeedbackRequest>,
    ) -> Result<Response<pb::Feedback>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let f = req.feedback.clone().unwrap_or_default();
            let mut v = Violations::new();
            v.check(require_id("feedback.skp_id", &f.skp_id));
            text::required(&mut v, "feedback.text", &f.text, MAX_LONG_TEXT);
            let ep = opt_id(&f.evaluation_period_id);
            if let Some(e) = &ep {
                v.check(require_id("feedback.evaluation_period_id", e));
            }
            let rhk = opt_id(&f.rhk_id);
            let behaviour = match f.behaviour {
                0 => None,
                b => v.take(berakhlak_text("feedback.behaviour", b)),
            };
            match (&rhk, behaviour) {
                (Some(r), None) => v.check(require_id("feedback.rhk_id", r)),
                (None, Some(_)) => {}
                _ => v.add("feedback.rhk_id", "set exactly one of rhk_id and behaviour"),
            }
            v.finish()?;
            let s = self.skp_checked(&ctx, f.skp_id.trim()).await?;
            let new = NewFeedback {
                skp_id: s.id.clone(),
                evaluation_period_id: ep,
                rhk_id: rhk,
                behaviour: behaviour.map(str::to_owned),
                text: f.text.trim().to_owned(),
            };
            let row = self
                .state
                .store
                .create_feedback(
                    &ctx.actor(),
                    self.now(),
                    new,
                    s.assessor_id.as_deref(),
                    &req.request_id,
                    &digest(&req),
                )
                .await?;
            Ok(feedback_pb(row))
        })
        .await
    }

    async fn list_feedback(
        &self,
        req: Request<pb::ListFeedbackRequest>,
    ) -> Result<Response<pb::ListFeedbackResponse>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            require_id("skp_id", &req.skp_id)?;
            let ep = opt_id(&req.evaluation_period_id);
            self.skp_checked(&ctx, &req.skp_id).await?;
            let page = Page::parse(
                req.page_size,
                &req.page_token,
                &[&req.skp_id, &req.evaluation_period_id],
            )?;
            let (rows, next) = self
                .state
                .store
                .list_feedback(&req.skp_id, ep.as_deref(), &page)
                .await?;
            Ok(pb::ListFeedbackResponse {
                feedback: rows.into_iter().map(feedback_pb).collect(),
                next_page_token: next,
            })
        })
        .await
    }

    async fn get_evaluation(
        &self,
        req: Request<pb::GetEvaluationRequest>,
    ) -> Result<Response<pb::Evaluation>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let mut v = Violations::new();
            v.check(require_id("skp_id", &req.skp_id));
            v.check(require_id(
                "evaluation_period_id",
                &req.evaluation_period_id,
            ));
            v.finish()?;
            let read = self.skp_read_checked(&ctx, &req.skp_id).await?;
            let doc = self
                .state
                .store
                .skp_evaluation_doc(read, &req.evaluation_period_id, self.now())
                .await?;
            if results_only(&ctx) && !doc.state.is_set() {
                return Err(Error::not_found(
                    "Evaluation",
                    format!("{}/{}", req.skp_id, req.evaluation_period_id),
                ));
            }
            Ok(evaluation_pb(doc))
        })
        .await
    }

    async fn list_evaluations(
        &self,
        req: Request<pb::ListEvaluationsRequest>,
    ) -> Result<Response<pb::ListEvaluationsResponse>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let skp_id = opt_id(&req.skp_id);
            let unit_id = opt_id(&req.unit_id);
            let ep = opt_id(&req.evaluation_period_id);
            let state = match req.state {
                0 => None,
                s => Some(
                    State::parse(evaluation_state_text("state", s)?)
                        .ok_or_else(|| Error::invalid("state", "is not a valid value"))?,
                ),
            };
            let st = req.state.to_string();
            let page = Page::parse(
                req.page_size,
                &req.page_token,
                &[&req.skp_id, &req.unit_id, &req.evaluation_period_id, &st],
            )?;
            let set_only = results_only(&ctx);
            let now = self.now();
            let (docs, next) = match (skp_id, unit_id, ep) {
                (Some(s), None, ep) => {
                    require_id("skp_id", &s)?;
                    self.skp_checked(&ctx, &s).await?;
                    let docs = self
                        .state
                        .store
                        .list_skp_evaluations(&s, ep.as_deref(), state, set_only, now)
                        .await?;
                    page_in_memory(docs, &page, |d| format!("{:04}", d.period.sequence))
                }
                (None, Some(u), Some(ep)) => {
                    require_id("unit_id", &u)?;
                    require_id("evaluation_period_id", &ep)?;
                    let period =
                        super::authorize_unit_in_period(&self.state, &ctx, &u, &ep).await?;
                    self.state
                        .store
                        .list_unit_evaluations(&u, &period, now, state, set_only, &page)
                        .await?
                }
                _ => {
                    return Err(Error::invalid(
                        "skp_id",
                        "set skp_id, or unit_id with evaluation_period_id",
                    ));
                }
            };
            Ok(pb::ListEvaluationsResponse {
                evaluations: docs.into_iter().map(evaluation_pb).collect(),
                next_page_token: next,
            })
        })
        .await
    }

    async fn submit_self_assessment(
        &self,
        req: Request<pb::SubmitSelfAssessmentRequest>,
    ) -> Result<Response<pb::Evaluation>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let sa = req.self_assessment.clone().unwrap_or_default();
            let mut v = Violations::new();
            v.check(require_id("skp_id", &req.skp_id));
            v.check(require_id(
                "evaluation_period_id",
                &req.evaluation_period_id,
            ));
            text::required(&mut v, "self_assessment.text", &sa.text, MAX_LONG_TEXT);
            let results = v
                .take(opt_rating_text(
                    "self_assessment.results_rating",
                    sa.results_rating,
                ))
                .flatten();
            let behaviour = v
                .take(opt_rating_text(
                    "self_assessment.behaviour_rating",
                    sa.behaviour_rating,
                ))
                .flatten();
            let version = v.take(opt_etag(&req.etag)).flatten();
            v.finish()?;
            self.skp_checked(&ctx, &req.skp_id).await?;
            let input = SelfAssessmentInput {
                text: sa.text.trim().to_owned(),
                results,
                behaviour,
            };
            let doc = self
                .state
                .store
                .submit_self_assessment(
                    &ctx.actor(),
                    self.now(),
                    &req.skp_id,
                    &req.evaluation_period_id,
                    input,
                    version,
                    &req.request_id,
                    &digest(&req),
                )
                .await?;
            Ok(evaluation_pb(doc))
        })
        .await
    }

    async fn rate_evaluation(
        &self,
        req: Request<pb::RateEvaluationRequest>,
    ) -> Result<Response<pb::Evaluation>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let mut v = Violations::new();
            v.check(require_id("skp_id", &req.skp_id));
            v.check(require_id(
                "evaluation_period_id",
                &req.evaluation_period_id,
            ));
            let results = v.take(rating_of("results_rating", req.results_rating));
            let behaviour = v.take(rating_of("behaviour_rating", req.behaviour_rating));
            text::required(&mut v, "reason", &req.reason, MAX_LONG_TEXT);
            let version = v.take(opt_etag(&req.etag)).flatten();
            v.finish()?;
            let (results, behaviour) = results
                .zip(behaviour)
                .ok_or_else(|| Error::invalid("results_rating", "is required"))?;
            let s = self.skp_checked(&ctx, &req.skp_id).await?;
            let doc = self
                .state
                .store
                .rate(
                    &ctx.actor(),
                    self.now(),
                    &req.skp_id,
                    &req.evaluation_period_id,
                    results,
                    behaviour,
                    req.reason.trim().to_owned(),
                    version,
                    s.assessor_id.as_deref(),
                    &req.request_id,
                    &digest(&req),
                )
                .await?;
            Ok(evaluation_pb(doc))
        })
        .await
    }

    async fn explain_evaluation(
        &self,
        req: Request<pb::ExplainEvaluationRequest>,
    ) -> Result<Response<pb::EvaluationExplanation>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let mut v = Violations::new();
            v.check(require_id("skp_id", &req.skp_id));
            v.check(require_id(
                "evaluation_period_id",
                &req.evaluation_period_id,
            ));
            v.finish()?;
            let read = self.skp_read_checked(&ctx, &req.skp_id).await?;
            let x = self
                .state
                .store
                .explain(read, &req.evaluation_period_id, self.now())
                .await?;
            if results_only(&ctx) && !x.doc.state.is_set() {
                return Err(Error::not_found(
                    "Evaluation",
                    format!("{}/{}", req.skp_id, req.evaluation_period_id),
                ));
            }
            Ok(explanation_pb(x))
        })
        .await
    }

    async fn list_evaluation_history(
        &self,
        req: Request<pb::ListEvaluationHistoryRequest>,
    ) -> Result<Response<pb::ListEvaluationHistoryResponse>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let mut v = Violations::new();
            v.check(require_id("skp_id", &req.skp_id));
            v.check(require_id(
                "evaluation_period_id",
                &req.evaluation_period_id,
            ));
            v.finish()?;
            self.skp_checked(&ctx, &req.skp_id).await?;
            let page = Page::parse(
                req.page_size,
                &req.page_token,
                &[&req.skp_id, &req.evaluation_period_id],
            )?;
            let (rows, next) = self
                .state
                .store
                .evaluation_history(&req.skp_id, &req.evaluation_period_id, &page)
                .await?;
            Ok(pb::ListEvaluationHistoryResponse {
                entries: rows
                    .into_iter()
                    .map(|r| pb::SkpHistoryEntry {
                        time: ts(r.at),
                        reason: serde_json::from_str::<serde_json::Value>(&r.change)
                            .ok()
                            .and_then(|v| {
                                v.get("reason").and_then(|x| x.as_str()).map(str::to_owned)
                            })
                            .unwrap_or_default(),
                        actor: r.actor,
                        calling_service: r.calling_service.unwrap_or_default(),
                        action: r.action,
                        change_json: r.change,
                        request_id: r.request_id,
                    })
                    .collect(),
                next_page_token: next,
            })
        })
        .await
    }

    async fn file_objection(
        &self,
        req: Request<pb::FileObjectionRequest>,
    ) -> Result<Response<pb::Objection>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let mut v = Violations::new();
            v.check(require_id("skp_id", &req.skp_id));
            v.check(require_id(
                "evaluation_period_id",
                &req.evaluation_period_id,
            ));
            text::required(&mut v, "reasons", &req.reasons, MAX_LONG_TEXT);
            v.finish()?;
            self.skp_checked(&ctx, &req.skp_id).await?;
            let row = self
                .state
                .store
                .file_objection(
                    &ctx.actor(),
                    self.now(),
                    &req.skp_id,
                    &req.evaluation_period_id,
                    req.reasons.trim().to_owned(),
                    &req.request_id,
                    &digest(&req),
                )
                .await?;
            Ok(objection_pb(row, req.evaluation_period_id.clone()))
        })
        .await
    }

    async fn decide_objection(
        &self,
        req: Request<pb::DecideObjectionRequest>,
    ) -> Result<Response<pb::Objection>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let mut v = Violations::new();
            v.check(require_id("id", &req.id));
            text::required(&mut v, "reason", &req.reason, MAX_LONG_TEXT);
            let decision = match v.take(objection_decision_text("decision", req.decision)) {
                Some("UPHOLD") => {
                    if req.results_rating != 0 || req.behaviour_rating != 0 {
                        v.add(
                            "results_rating",
                            "must be empty when the ratings are upheld",
                        );
                    }
                    Some(Decision::Uphold)
                }
                Some(_) => {
                    let r = v.take(rating_of("results_rating", req.results_rating));
                    let b = v.take(rating_of("behaviour_rating", req.behaviour_rating));
                    r.zip(b)
                        .map(|(results, behaviour)| Decision::Change { results, behaviour })
                }
                None => None,
            };
            v.finish()?;
            let decision = decision.ok_or_else(|| Error::invalid("decision", "is required"))?;
            let cur = self.state.store.get_objection(&req.id).await?;
            let s = self.skp_checked(&ctx, &cur.skp_id).await?;
            let row = self
                .state
                .store
                .decide_objection(
                    &ctx.actor(),
                    self.now(),
                    &req.id,
                    decision,
                    req.reason.trim().to_owned(),
                    s.assessor_superior_id.as_deref(),
                    &req.request_id,
                    &digest(&req),
                )
                .await?;
            let ep = self.state.store.objection_period(&row).await?;
            Ok(objection_pb(row, ep))
        })
        .await
    }

    async fn get_objection(
        &self,
        req: Request<pb::GetObjectionRequest>,
    ) -> Result<Response<pb::Objection>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            require_id("id", &req.id)?;
            let row = self.state.store.get_objection(&req.id).await?;
            self.skp_checked(&ctx, &row.skp_id).await?;
            let ep = self.state.store.objection_period(&row).await?;
            Ok(objection_pb(row, ep))
        })
        .await
    }

    async fn list_objections(
        &self,
        req: Request<pb::ListObjectionsRequest>,
    ) -> Result<Response<pb::ListObjectionsResponse>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let skp_id = opt_id(&req.skp_id);
            let decider = opt_id(&req.decider_id);
            let state = match req.state {
                0 => None,
                s => Some(objection_state_text("state", s)?),
            };
            match (&skp_id, &decider) {
                (Some(s), None) => {
                    require_id("skp_id", s)?;
                    self.skp_checked(&ctx, s).await?;
                }
                (None, Some(d)) => {
                    require_id("decider_id", d)?;
                    self.state
                        .authz
                        .check(&ctx, Target::Employee { id: d, on: None })
                        .await?;
                }
                _ => {
                    return Err(Error::invalid(
                        "skp_id",
                        "set exactly one of skp_id and decider_id",
                    ));
                }
            }
            let st = req.state.to_string();
            let page = Page::parse(
                req.page_size,
                &req.page_token,
                &[&req.skp_id, &req.decider_id, &st],
            )?;
            let (rows, next) = self
                .state
                .store
                .list_objections(skp_id.as_deref(), decider.as_deref(), state, &page)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                let ep = self.state.store.objection_period(&r).await?;
                out.push(objection_pb(r, ep));
            }
            Ok(pb::ListObjectionsResponse {
                objections: out,
                next_page_token: next,
            })
        })
        .await
    }

    async fn get_annual_result(
        &self,
        req: Request<pb::GetAnnualResultRequest>,
    ) -> Result<Response<pb::AnnualResult>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let mut v = Violations::new();
            v.check(require_id("employee_id", &req.employee_id));
            if !YEARS.contains(&req.year) {
                v.add("year", "must be between 2000 and 2100");
            }
            v.finish()?;
            let last_day = NaiveDate::from_ymd_opt(req.year, 12, 31)
                .ok_or_else(|| Error::invalid("year", "is not a valid year"))?;
            self.state
                .authz
                .check(
                    &ctx,
                    Target::Employee {
                        id: &req.employee_id,
                        on: Some(last_day),
                    },
                )
                .await?;
            self.state.store.get_employee(&req.employee_id).await?;
            let a = self
                .state
                .store
                .annual_result(&req.employee_id, req.year, self.now())
                .await?;
            Ok(annual_pb(&req.employee_id, req.year, a, results_only(&ctx)))
        })
        .await
    }

    async fn set_credit_coefficient(
        &self,
        req: Request<pb::SetCreditCoefficientRequest>,
    ) -> Result<Response<pb::CreditCoefficient>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let c = req
                .credit_coefficient
                .ok_or_else(|| Error::invalid("credit_coefficient", "is required"))?;
            let mut v = Violations::new();
            v.check(require_id("credit_coefficient.skp_id", &c.skp_id));
            if let Err(r) = rules::check_coefficient(c.coefficient) {
                v.add("credit_coefficient.coefficient", r);
            }
            text::required(
                &mut v,
                "credit_coefficient.reason",
                &c.reason,
                MAX_LONG_TEXT,
            );
            let version = v.take(opt_etag(&c.etag)).flatten();
            v.finish()?;
            self.skp_checked(&ctx, &c.skp_id).await?;
            let row = self
                .state
                .store
                .set_credit_coefficient(
                    &ctx.actor(),
                    self.now(),
                    &c.skp_id,
                    c.coefficient,
                    c.reason.trim().to_owned(),
                    version,
                )
                .await?;
            Ok(pb::CreditCoefficient {
                skp_id: row.skp_id,
                coefficient: row.coefficient,
                reason: row.reason,
                update_time: ts(row.updated_at),
                etag: row.version.to_string(),
            })
        })
        .await
    }
}
