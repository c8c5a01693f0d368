//! `kinerja.v1.SkpService`: performance plans, their content, workflow, history, cascade view
//! and templates. Every call on an existing SKP is authorized against the relations recorded on
//! it (employee, assessor, assessor's superior, unit snapshot), not against today's assignments.

use std::collections::HashSet;

use chrono::NaiveDate;
use tonic::{Request, Response, Status};

use super::convert::{
    approach_enum, approach_text, aspect_enum, aspect_text, berakhlak_enum, berakhlak_text, date,
    opt_id, parse_date, perspective_enum, perspective_text, position_enum, rhk_kind_enum,
    rhk_kind_text, skp_state_enum, skp_state_text, ts,
};
use super::{AppState, digest, mask_paths, require_id, respond};
use crate::authz::Target;
use crate::context::RequestContext;
use crate::domain::org::TimeZone;
use crate::domain::skp::{
    self as rules, MAX_ANNEX_TEXT, MAX_NOTE_TEXT, MAX_RESULT_TEXT, MAX_UNIT_TEXT,
};
use crate::domain::text;
use crate::error::{Error, Result, Violations};
use crate::pagination::Page;
use crate::proto::v1 as pb;
use crate::proto::v1::skp_service_server::SkpService;
use crate::store::cascade::{Cascade, Node};
use crate::store::org::parse_etag;
use crate::store::periods::PeriodRow;
use crate::store::skp::{
    Acting, Annex, BehaviourRow, IndicatorChanges, IndicatorRow, NewIndicator, NewRhk, NewSkp,
    RhkChanges, RhkDoc, SKP_RESOURCE, SkpChanges, SkpDoc, SkpFilter, SkpRow, Step, Template,
    TemplateOutcome,
};

/// Most employees in one template application.
pub const MAX_TEMPLATE_EMPLOYEES: usize = 1000;

/// Handler of the SKP service.
#[derive(Debug, Clone)]
pub struct SkpApi {
    state: AppState,
}

fn plan_target(s: &SkpRow) -> Target<'_> {
    Target::Plan {
        owner: &s.employee_id,
        assessor: s.assessor_id.as_deref(),
        assessor_superior: s.assessor_superior_id.as_deref(),
        unit: &s.unit_id,
    }
}

impl SkpApi {
    /// A handler over `state`.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }

    /// Authorizes the call on `s` and returns the caller's recorded relations to it.
    async fn acting(&self, ctx: &RequestContext, s: &SkpRow) -> Result<Acting> {
        let relations = self.state.authz.plan_relations(ctx, plan_target(s)).await?;
        Ok(Acting {
            actor: ctx.actor(),
            relations,
            assessor_seen: s.assessor_id.clone(),
        })
    }

    /// Authorizes a read of `s`.
    async fn may_read(&self, ctx: &RequestContext, s: &SkpRow) -> Result<()> {
        self.state.authz.check(ctx, plan_target(s)).await
    }

    /// Today in the period's agency, clamped into the period: the date an employee's relations
    /// are taken on for calls that create plans.
    async fn period_day(&self, period: &PeriodRow) -> Result<NaiveDate> {
        let agency = self.state.store.get_agency(&period.agency_id).await?;
        let today = TimeZone::parse(&agency.time_zone)
            .unwrap_or(TimeZone::Wib)
            .today(self.state.clock.now());
        Ok(today.clamp(period.start_date, period.end_date))
    }

    /// Loads an SKP and authorizes a change of it.
    async fn skp_for_change(&self, ctx: &RequestContext, id: &str) -> Result<(SkpRow, Acting)> {
        let s = self.state.store.get_skp(id).await?;
        let acting = self.acting(ctx, &s).await?;
        Ok((s, acting))
    }
}

/// The proto form of an indicator.
pub fn indicator_pb(r: IndicatorRow) -> pb::Indicator {
    pb::Indicator {
        aspect: aspect_enum(&r.aspect),
        id: r.id,
        rhk_id: r.rhk_id,
        text: r.text,
        target: r.target,
        unit: r.unit,
        sequence: r.sequence,
        create_time: ts(r.created_at),
        update_time: ts(r.updated_at),
        etag: r.version.to_string(),
    }
}

/// The proto form of an RHK with its indicators.
pub fn rhk_pb(d: RhkDoc) -> pb::Rhk {
    let r = d.rhk;
    pb::Rhk {
        kind: rhk_kind_enum(&r.kind),
        perspective: r.perspective.as_deref().map_or(0, perspective_enum),
        indicators: d.indicators.into_iter().map(indicator_pb).collect(),
        id: r.id,
        skp_id: r.skp_id,
        text: r.text,
        parent_rhk_id: r.parent_rhk_id.unwrap_or_default(),
        sequence: r.sequence,
        create_time: ts(r.created_at),
        update_time: ts(r.updated_at),
        etag: r.version.to_string(),
    }
}

/// The proto form of a behaviour value.
pub fn behaviour_pb(r: BehaviourRow) -> pb::Behaviour {
    pb::Behaviour {
        value: berakhlak_enum(&r.value),
        skp_id: r.skp_id,
        expectation: r.expectation,
        update_time: ts(r.updated_at),
        etag: r.version.to_string(),
    }
}

/// The proto form of an SKP.
pub fn skp_pb(d: SkpDoc) -> pb::Skp {
    let s = d.skp;
    pb::Skp {
        approach: approach_enum(&s.approach),
        state: skp_state_enum(&s.state),
        start_date: Some(date(s.start_date)),
        end_date: Some(date(s.end_date)),
        post: Some(pb::PostSnapshot {
            assignment_id: s.assignment_id.unwrap_or_default(),
            unit_id: s.unit_id,
            unit_name: s.unit_name,
            position_type: position_enum(&s.position_type),
            position_name: s.position_name,
        }),
        annex: Some(pb::SkpAnnex {
            resource_support: s.annex_resource_support,
            accountability: s.annex_accountability,
            consequences: s.annex_consequences,
        }),
        rhk: d.rhk.into_iter().map(rhk_pb).collect(),
        behaviours: d.behaviours.into_iter().map(behaviour_pb).collect(),
        id: s.id,
        employee_id: s.employee_id,
        period_id: s.period_id,
        year: s.year,
        assessor_id: s.assessor_id.unwrap_or_default(),
        assessor_superior_id: s.assessor_superior_id.unwrap_or_default(),
        assessor_overridden: s.assessor_overridden,
        top_of_chain: s.top_of_chain,
        return_note: s.return_note.unwrap_or_default(),
        reopen_reason: s.reopen_reason.unwrap_or_default(),
        close_reason: s.close_reason.unwrap_or_default(),
        submit_time: s.submitted_at.and_then(ts),
        approve_time: s.approved_at.and_then(ts),
        close_time: s.closed_at.and_then(ts),
        source_skp_id: s.source_skp_id.unwrap_or_default(),
        assessed_periods: i32::try_from(d.assessed_periods).unwrap_or(i32::MAX),
        create_time: ts(s.created_at),
        update_time: ts(s.updated_at),
        etag: s.version.to_string(),
    }
}

fn node_pb(n: Node) -> pb::CascadeNode {
    pb::CascadeNode {
        rhk: Some(rhk_pb(n.rhk)),
        skp_id: n.skp_id,
        employee_id: n.employee_id,
        employee_name: n.employee_name,
        depth: i32::try_from(n.depth).unwrap_or(i32::MAX),
        supported_by: n.supported_by.into_iter().map(node_pb).collect(),
    }
}

fn cascade_pb(c: Cascade) -> pb::SkpCascade {
    pb::SkpCascade {
        skp: Some(skp_pb(c.root)),
        nodes: c.nodes.into_iter().map(node_pb).collect(),
        unsupported_rhk: c
            .unsupported
            .into_iter()
            .map(|u| pb::UnsupportedRhk {
                kind: rhk_kind_enum(&u.kind),
                rhk_id: u.rhk_id,
                text: u.text,
                skp_id: u.skp_id,
                employee_id: u.employee_id,
            })
            .collect(),
        missing_skps: c
            .missing
            .into_iter()
            .map(|m| {
                let (skp_id, state) = m.skp.unwrap_or_default();
                pb::MissingSkp {
                    employee_id: m.employee_id,
                    employee_name: m.employee_name,
                    superior_id: m.superior_id,
                    state: skp_state_enum(&state),
                    skp_id,
                }
            })
            .collect(),
    }
}

/// An optional etag of a workflow call: empty means "do not check".
fn opt_etag(etag: &str) -> Result<Option<i64>> {
    if etag.trim().is_empty() {
        Ok(None)
    } else {
        parse_etag(etag).map(Some)
    }
}

fn full_view(view: i32, default_full: bool) -> Result<bool> {
    match pb::SkpView::try_from(view) {
        Ok(pb::SkpView::Unspecified) => Ok(default_full),
        Ok(pb::SkpView::Basic) => Ok(false),
        Ok(pb::SkpView::Full) => Ok(true),
        Err(_) => Err(Error::invalid(
            "view",
            format!("{view} is not a valid value"),
        )),
    }
}

fn validate_annex(v: &mut Violations, a: Option<&pb::SkpAnnex>) -> Annex {
    let a = a.cloned().unwrap_or_default();
    text::optional(
        v,
        "annex.resource_support",
        &a.resource_support,
        MAX_ANNEX_TEXT,
    );
    text::optional(v, "annex.accountability", &a.accountability, MAX_ANNEX_TEXT);
    text::optional(v, "annex.consequences", &a.consequences, MAX_ANNEX_TEXT);
    Annex {
        resource_support: a.resource_support.trim().to_owned(),
        accountability: a.accountability.trim().to_owned(),
        consequences: a.consequences.trim().to_owned(),
    }
}

fn check_target(v: &mut Violations, field: &str, target: f64) {
    if let Err(r) = rules::check_target(target) {
        v.add(field, r);
    }
}

fn validate_rhk(
    v: &mut Violations,
    prefix: &str,
    kind: i32,
    text_value: &str,
    perspective: i32,
) -> Option<(String, Option<String>)> {
    let kind = v.take(rhk_kind_text(&format!("{prefix}.kind"), kind));
    text::required(v, &format!("{prefix}.text"), text_value, MAX_RESULT_TEXT);
    let perspective = v.take(perspective_text(
        &format!("{prefix}.perspective"),
        perspective,
    ));
    Some((kind?.to_owned(), perspective?.map(str::to_owned)))
}

fn validate_indicator(
    v: &mut Violations,
    prefix: &str,
    aspect: i32,
    text_value: &str,
    target: f64,
    unit: &str,
) -> Option<NewIndicator> {
    let aspect = v.take(aspect_text(&format!("{prefix}.aspect"), aspect));
    text::required(v, &format!("{prefix}.text"), text_value, MAX_RESULT_TEXT);
    check_target(v, &format!("{prefix}.target"), target);
    text::required(v, &format!("{prefix}.unit"), unit, MAX_UNIT_TEXT);
    Some(NewIndicator {
        aspect: aspect?.to_owned(),
        text: text_value.trim().to_owned(),
        target,
        unit: unit.trim().to_owned(),
    })
}

fn validate_template(t: &pb::SkpTemplate) -> Result<Template> {
    let mut v = Violations::new();
    text::required(&mut v, "template.position_name", &t.position_name, 300);
    let approach = v.take(approach_text("template.approach", t.approach));
    if t.rhk.is_empty() || t.rhk.len() > rules::MAX_RHK {
        v.add(
            "template.rhk",
            format!("must hold 1 to {} RHK", rules::MAX_RHK),
        );
    }
    let mut rhk = Vec::new();
    for (i, r) in t.rhk.iter().enumerate() {
        let p = format!("template.rhk[{i}]");
        let head = validate_rhk(&mut v, &p, r.kind, &r.text, r.perspective);
        if r.indicators.len() > rules::MAX_INDICATORS {
            v.add(
                format!("{p}.indicators"),
                format!("must hold at most {} indicators", rules::MAX_INDICATORS),
            );
        }
        let mut inds = Vec::new();
        for (j, ind) in r.indicators.iter().enumerate() {
            if let Some(n) = validate_indicator(
                &mut v,
                &format!("{p}.indicators[{j}]"),
                ind.aspect,
                &ind.text,
                ind.target,
                &ind.unit,
            ) {
                inds.push(n);
            }
        }
        if let Some((kind, perspective)) = head {
            rhk.push((
                NewRhk {
                    kind,
                    text: r.text.trim().to_owned(),
                    perspective,
                    parent_rhk_id: None,
                },
                inds,
            ));
        }
    }
    v.finish()?;
    Ok(Template {
        position_name: t.position_name.trim().to_owned(),
        approach: approach
            .ok_or_else(|| Error::invalid("template.approach", "is required"))?
            .to_owned(),
        rhk,
    })
}

/// What a per-employee failure of a template application says: the field or rule, and why.
fn failure(index: usize, e: Error) -> Result<(String, String)> {
    Ok(match e {
        Error::InvalidArgument(vs) => {
            let field = vs.first().map(|x| x.field.clone()).unwrap_or_default();
            let reason = vs
                .iter()
                .map(|x| x.reason.clone())
                .collect::<Vec<_>>()
                .join("; ");
            (field, reason)
        }
        Error::FailedPrecondition {
            reason, message, ..
        } => (reason.to_owned(), message),
        Error::NotFound { kind, id } => (
            format!("employee_ids[{index}]"),
            format!("{kind} {id} not found"),
        ),
        Error::PermissionDenied(m) => ("PERMISSION_DENIED".to_owned(), m),
        e @ Error::AlreadyExists { .. } | e @ Error::Aborted { .. } => {
            (e.reason().to_owned(), e.to_string())
        }
        other => return Err(other),
    })
}

fn reason_of(change_json: &str) -> String {
    serde_json::from_str::<serde_json::Value>(change_json)
        .ok()
        .and_then(|v| v.get("reason").and_then(|r| r.as_str()).map(str::to_owned))
        .unwrap_or_default()
}

#[tonic::async_trait]
impl SkpService for SkpApi {
    async fn create_skp(
        &self,
        req: Request<pb::CreateSkpRequest>,
    ) -> Result<Response<pb::Skp>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let mut v = Violations::new();
            v.check(require_id("employee_id", &req.employee_id));
            v.check(require_id("period_id", &req.period_id));
            let approach = v.take(approach_text("approach", req.approach));
            let annex = validate_annex(&mut v, req.annex.as_ref());
            let start = v
                .take(parse_date("start_date", req.start_date.as_ref()))
                .flatten();
            v.finish()?;
            let period = self
                .state
                .store
                .get_period_row(req.period_id.trim())
                .await?;
            let on = self.period_day(&period).await?;
            let target = Target::Employee {
                id: req.employee_id.trim(),
                on: Some(start.unwrap_or(on)),
            };
            self.state.authz.check(&ctx, target).await?;
            let new = NewSkp {
                employee_id: req.employee_id.trim().to_owned(),
                period_id: period.id,
                approach: approach
                    .ok_or_else(|| Error::invalid("approach", "is required"))?
                    .to_owned(),
                annex,
                start_date: start,
            };
            let doc = self
                .state
                .store
                .create_skp(&ctx.actor(), new, &req.request_id, &digest(&req))
                .await?;
            Ok(skp_pb(doc))
        })
        .await
    }

    async fn copy_skp(
        &self,
        req: Request<pb::CopySkpRequest>,
    ) -> Result<Response<pb::Skp>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let mut v = Violations::new();
            v.check(require_id("employee_id", &req.employee_id));
            v.check(require_id("period_id", &req.period_id));
            let source = opt_id(&req.source_skp_id);
            if let Some(s) = &source {
                v.check(require_id("source_skp_id", s));
            }
            v.finish()?;
            let period = self
                .state
                .store
                .get_period_row(req.period_id.trim())
                .await?;
            let on = self.period_day(&period).await?;
            let target = Target::Employee {
                id: req.employee_id.trim(),
                on: Some(on),
            };
            self.state.authz.check(&ctx, target).await?;
            let doc = self
                .state
                .store
                .copy_skp(
                    &ctx.actor(),
                    req.employee_id.trim(),
                    &period.id,
                    source.as_deref(),
                    &req.request_id,
                    &digest(&req),
                )
                .await?;
            Ok(skp_pb(doc))
        })
        .await
    }

    async fn get_skp(&self, req: Request<pb::GetSkpRequest>) -> Result<Response<pb::Skp>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            require_id("id", &req.id)?;
            let full = full_view(req.view, true)?;
            let read = self.state.store.read_skp(&req.id).await?;
            self.may_read(&ctx, &read.row).await?;
            Ok(skp_pb(self.state.store.skp_read_doc(read, full).await?))
        })
        .await
    }

    async fn list_skps(
        &self,
        req: Request<pb::ListSkpsRequest>,
    ) -> Result<Response<pb::ListSkpsResponse>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let full = full_view(req.view, false)?;
            let state = match req.state {
                0 => None,
                s => Some(skp_state_text("state", s)?.to_owned()),
            };
            let filter = SkpFilter {
                employee_id: opt_id(&req.employee_id),
                assessor_id: opt_id(&req.assessor_id),
                period_id: opt_id(&req.period_id),
                state,
            };
            for (field, id) in [
                ("employee_id", &filter.employee_id),
                ("assessor_id", &filter.assessor_id),
                ("period_id", &filter.period_id),
            ] {
                if let Some(id) = id {
                    require_id(field, id)?;
                }
            }
            // Listing one employee's plans (or the plans one assessor decides) is reading that
            // employee's records; listing across employees is for auditors and system admins.
            let target = match (&filter.employee_id, &filter.assessor_id) {
                (Some(e), _) => Target::Employee { id: e, on: None },
                (None, Some(a)) => Target::Employee { id: a, on: None },
                (None, None) => Target::Global,
            };
            self.state.authz.check(&ctx, target).await?;
            let st = req.state.to_string();
            let page = Page::parse(
                req.page_size,
                &req.page_token,
                &[&req.employee_id, &req.assessor_id, &req.period_id, &st],
            )?;
            let (rows, next) = self.state.store.list_skps(&filter, full, &page).await?;
            Ok(pb::ListSkpsResponse {
                skps: rows.into_iter().map(skp_pb).collect(),
                next_page_token: next,
            })
        })
        .await
    }

    async fn update_skp(
        &self,
        req: Request<pb::UpdateSkpRequest>,
    ) -> Result<Response<pb::Skp>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let s = req
                .skp
                .ok_or_else(|| Error::invalid("skp", "is required"))?;
            require_id("skp.id", &s.id)?;
            let version = parse_etag(&s.etag)?;
            let paths = mask_paths(
                req.update_mask.as_ref(),
                &[
                    "approach",
                    "annex.resource_support",
                    "annex.accountability",
                    "annex.consequences",
                ],
            )?;
            let mut v = Violations::new();
            let annex = s.annex.clone().unwrap_or_default();
            let mut ch = SkpChanges::default();
            for p in paths {
                let annex_text = |v: &mut Violations, field: &str, value: &str| {
                    text::optional(v, field, value, MAX_ANNEX_TEXT);
                    Some(value.trim().to_owned())
                };
                match p {
                    "approach" => {
                        ch.approach = v
                            .take(approach_text("skp.approach", s.approach))
                            .map(str::to_owned)
                    }
                    "annex.resource_support" => {
                        ch.resource_support = annex_text(
                            &mut v,
                            "skp.annex.resource_support",
                            &annex.resource_support,
                        )
                    }
                    "annex.accountability" => {
                        ch.accountability =
                            annex_text(&mut v, "skp.annex.accountability", &annex.accountability)
                    }
                    _ => {
                        ch.consequences =
                            annex_text(&mut v, "skp.annex.consequences", &annex.consequences)
                    }
                }
            }
            v.finish()?;
            let (_, acting) = self.skp_for_change(&ctx, &s.id).await?;
            Ok(skp_pb(
                self.state
                    .store
                    .update_skp(&acting, &s.id, version, ch)
                    .await?,
            ))
        })
        .await
    }

    async fn create_rhk(
        &self,
        req: Request<pb::CreateRhkRequest>,
    ) -> Result<Response<pb::Rhk>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let mut v = Violations::new();
            v.check(require_id("skp_id", &req.skp_id));
            let r = req.rhk.clone().unwrap_or_default();
            let head = validate_rhk(&mut v, "rhk", r.kind, &r.text, r.perspective);
            let parent = opt_id(&r.parent_rhk_id);
            if let Some(p) = &parent {
                v.check(require_id("rhk.parent_rhk_id", p));
            }
            v.finish()?;
            let (kind, perspective) = head.ok_or_else(|| Error::invalid("rhk", "is required"))?;
            let (_, acting) = self.skp_for_change(&ctx, &req.skp_id).await?;
            let new = NewRhk {
                kind,
                text: r.text.trim().to_owned(),
                perspective,
                parent_rhk_id: parent,
            };
            Ok(rhk_pb(
                self.state
                    .store
                    .create_rhk(&acting, &req.skp_id, new, &req.request_id, &digest(&req))
                    .await?,
            ))
        })
        .await
    }

    async fn update_rhk(
        &self,
        req: Request<pb::UpdateRhkRequest>,
    ) -> Result<Response<pb::Rhk>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let r = req
                .rhk
                .ok_or_else(|| Error::invalid("rhk", "is required"))?;
            require_id("rhk.id", &r.id)?;
            let version = parse_etag(&r.etag)?;
            let paths = mask_paths(
                req.update_mask.as_ref(),
                &["kind", "text", "perspective", "parent_rhk_id"],
            )?;
            let mut v = Violations::new();
            let mut ch = RhkChanges::default();
            for p in paths {
                match p {
                    "kind" => {
                        ch.kind = v.take(rhk_kind_text("rhk.kind", r.kind)).map(str::to_owned)
                    }
                    "text" => {
                        text::required(&mut v, "rhk.text", &r.text, MAX_RESULT_TEXT);
                        ch.text = Some(r.text.trim().to_owned());
                    }
                    "perspective" => {
                        ch.perspective = v
                            .take(perspective_text("rhk.perspective", r.perspective))
                            .map(|p| p.map(str::to_owned))
                    }
                    _ => {
                        let parent = opt_id(&r.parent_rhk_id);
                        if let Some(p) = &parent {
                            v.check(require_id("rhk.parent_rhk_id", p));
                        }
                        ch.parent_rhk_id = Some(parent);
                    }
                }
            }
            v.finish()?;
            let cur = self.state.store.get_rhk(&r.id).await?;
            let (_, acting) = self.skp_for_change(&ctx, &cur.skp_id).await?;
            Ok(rhk_pb(
                self.state
                    .store
                    .update_rhk(&acting, &r.id, version, ch)
                    .await?,
            ))
        })
        .await
    }

    async fn delete_rhk(&self, req: Request<pb::DeleteRhkRequest>) -> Result<Response<()>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            require_id("id", &req.id)?;
            let version = parse_etag(&req.etag)?;
            let cur = self.state.store.get_rhk(&req.id).await?;
            let (_, acting) = self.skp_for_change(&ctx, &cur.skp_id).await?;
            self.state.store.delete_rhk(&acting, &req.id, version).await
        })
        .await
    }

    async fn create_indicator(
        &self,
        req: Request<pb::CreateIndicatorRequest>,
    ) -> Result<Response<pb::Indicator>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let mut v = Violations::new();
            v.check(require_id("rhk_id", &req.rhk_id));
            let i = req.indicator.clone().unwrap_or_default();
            let new = validate_indicator(&mut v, "indicator", i.aspect, &i.text, i.target, &i.unit);
            v.finish()?;
            let new = new.ok_or_else(|| Error::invalid("indicator", "is required"))?;
            let rhk = self.state.store.get_rhk(&req.rhk_id).await?;
            let (_, acting) = self.skp_for_change(&ctx, &rhk.skp_id).await?;
            Ok(indicator_pb(
                self.state
                    .store
                    .create_indicator(&acting, &req.rhk_id, new, &req.request_id, &digest(&req))
                    .await?,
            ))
        })
        .await
    }

    async fn update_indicator(
        &self,
        req: Request<pb::UpdateIndicatorRequest>,
    ) -> Result<Response<pb::Indicator>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let i = req
                .indicator
                .ok_or_else(|| Error::invalid("indicator", "is required"))?;
            require_id("indicator.id", &i.id)?;
            let version = parse_etag(&i.etag)?;
            let paths = mask_paths(
                req.update_mask.as_ref(),
                &["aspect", "text", "target", "unit"],
            )?;
            let mut v = Violations::new();
            let mut ch = IndicatorChanges::default();
            for p in paths {
                match p {
                    "aspect" => {
                        ch.aspect = v
                            .take(aspect_text("indicator.aspect", i.aspect))
                            .map(str::to_owned)
                    }
                    "text" => {
                        text::required(&mut v, "indicator.text", &i.text, MAX_RESULT_TEXT);
                        ch.text = Some(i.text.trim().to_owned());
                    }
                    "target" => {
                        check_target(&mut v, "indicator.target", i.target);
                        ch.target = Some(i.target);
                    }
                    _ => {
                        text::required(&mut v, "indicator.unit", &i.unit, MAX_UNIT_TEXT);
                        ch.unit = Some(i.unit.trim().to_owned());
                    }
                }
            }
            v.finish()?;
            let cur = self.state.store.get_indicator(&i.id).await?;
            let (_, acting) = self.skp_for_change(&ctx, &cur.skp_id).await?;
            Ok(indicator_pb(
                self.state
                    .store
                    .update_indicator(&acting, &i.id, version, ch)
                    .await?,
            ))
        })
        .await
    }

    async fn delete_indicator(
        &self,
        req: Request<pb::DeleteIndicatorRequest>,
    ) -> Result<Response<()>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            require_id("id", &req.id)?;
            let version = parse_etag(&req.etag)?;
            let cur = self.state.store.get_indicator(&req.id).await?;
            let (_, acting) = self.skp_for_change(&ctx, &cur.skp_id).await?;
            self.state
                .store
                .delete_indicator(&acting, &req.id, version)
                .await
        })
        .await
    }

    async fn update_behaviour(
        &self,
        req: Request<pb::UpdateBehaviourRequest>,
    ) -> Result<Response<pb::Behaviour>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let b = req
                .behaviour
                .ok_or_else(|| Error::invalid("behaviour", "is required"))?;
            let mut v = Violations::new();
            v.check(require_id("behaviour.skp_id", &b.skp_id));
            let value = v.take(berakhlak_text("behaviour.value", b.value));
            let version = v.take(parse_etag(&b.etag));
            v.check(mask_paths(req.update_mask.as_ref(), &["expectation"]).map(|_| ()));
            text::optional(
                &mut v,
                "behaviour.expectation",
                &b.expectation,
                MAX_NOTE_TEXT,
            );
            v.finish()?;
            let (value, version) = value
                .zip(version)
                .ok_or_else(|| Error::invalid("behaviour", "is required"))?;
            let (_, acting) = self.skp_for_change(&ctx, &b.skp_id).await?;
            Ok(behaviour_pb(
                self.state
                    .store
                    .update_behaviour(
                        &acting,
                        &b.skp_id,
                        value,
                        version,
                        b.expectation.trim().to_owned(),
                    )
                    .await?,
            ))
        })
        .await
    }

    async fn submit_skp(
        &self,
        req: Request<pb::SubmitSkpRequest>,
    ) -> Result<Response<pb::Skp>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            require_id("id", &req.id)?;
            let version = opt_etag(&req.etag)?;
            let (_, acting) = self.skp_for_change(&ctx, &req.id).await?;
            let d = digest(&req);
            let doc = self
                .state
                .store
                .transition_skp(&acting, &req.id, Step::Submit, version, &req.request_id, &d)
                .await?;
            Ok(skp_pb(doc))
        })
        .await
    }

    async fn approve_skp(
        &self,
        req: Request<pb::ApproveSkpRequest>,
    ) -> Result<Response<pb::Skp>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            require_id("id", &req.id)?;
            let version = opt_etag(&req.etag)?;
            let (_, acting) = self.skp_for_change(&ctx, &req.id).await?;
            let d = digest(&req);
            let doc = self
                .state
                .store
                .transition_skp(
                    &acting,
                    &req.id,
                    Step::Approve,
                    version,
                    &req.request_id,
                    &d,
                )
                .await?;
            Ok(skp_pb(doc))
        })
        .await
    }

    async fn return_skp(
        &self,
        req: Request<pb::ReturnSkpRequest>,
    ) -> Result<Response<pb::Skp>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let mut v = Violations::new();
            v.check(require_id("id", &req.id));
            text::required(&mut v, "note", &req.note, MAX_NOTE_TEXT);
            let version = v.take(opt_etag(&req.etag));
            v.finish()?;
            let (_, acting) = self.skp_for_change(&ctx, &req.id).await?;
            let step = Step::Return {
                note: req.note.trim().to_owned(),
            };
            let d = digest(&req);
            let doc = self
                .state
                .store
                .transition_skp(
                    &acting,
                    &req.id,
                    step,
                    version.flatten(),
                    &req.request_id,
                    &d,
                )
                .await?;
            Ok(skp_pb(doc))
        })
        .await
    }

    async fn reopen_skp(
        &self,
        req: Request<pb::ReopenSkpRequest>,
    ) -> Result<Response<pb::Skp>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let mut v = Violations::new();
            v.check(require_id("id", &req.id));
            text::required(&mut v, "reason", &req.reason, MAX_NOTE_TEXT);
            let version = v.take(opt_etag(&req.etag));
            v.finish()?;
            let (_, acting) = self.skp_for_change(&ctx, &req.id).await?;
            let step = Step::Reopen {
                reason: req.reason.trim().to_owned(),
            };
            let d = digest(&req);
            let doc = self
                .state
                .store
                .transition_skp(
                    &acting,
                    &req.id,
                    step,
                    version.flatten(),
                    &req.request_id,
                    &d,
                )
                .await?;
            Ok(skp_pb(doc))
        })
        .await
    }

    async fn close_skp(
        &self,
        req: Request<pb::CloseSkpRequest>,
    ) -> Result<Response<pb::Skp>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let mut v = Violations::new();
            v.check(require_id("id", &req.id));
            text::required(&mut v, "reason", &req.reason, MAX_NOTE_TEXT);
            let end = v.take(parse_date("end_date", req.end_date.as_ref()));
            if matches!(end, Some(None)) {
                v.add("end_date", "is required");
            }
            let version = v.take(opt_etag(&req.etag));
            v.finish()?;
            let end_date = end
                .flatten()
                .ok_or_else(|| Error::invalid("end_date", "is required"))?;
            let (_, acting) = self.skp_for_change(&ctx, &req.id).await?;
            let step = Step::Close {
                end_date,
                reason: req.reason.trim().to_owned(),
            };
            let d = digest(&req);
            let doc = self
                .state
                .store
                .transition_skp(
                    &acting,
                    &req.id,
                    step,
                    version.flatten(),
                    &req.request_id,
                    &d,
                )
                .await?;
            Ok(skp_pb(doc))
        })
        .await
    }

    async fn set_skp_assessor(
        &self,
        req: Request<pb::SetSkpAssessorRequest>,
    ) -> Result<Response<pb::Skp>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let mut v = Violations::new();
            v.check(require_id("id", &req.id));
            v.check(require_id("assessor_id", &req.assessor_id));
            let superior = opt_id(&req.assessor_superior_id);
            if let Some(s) = &superior {
                v.check(require_id("assessor_superior_id", s));
            }
            text::required(&mut v, "reason", &req.reason, MAX_NOTE_TEXT);
            let version = v.take(opt_etag(&req.etag));
            v.finish()?;
            let (_, acting) = self.skp_for_change(&ctx, &req.id).await?;
            let step = Step::SetAssessor {
                assessor_id: req.assessor_id.trim().to_owned(),
                assessor_superior_id: superior,
                reason: req.reason.trim().to_owned(),
            };
            let d = digest(&req);
            let doc = self
                .state
                .store
                .transition_skp(
                    &acting,
                    &req.id,
                    step,
                    version.flatten(),
                    &req.request_id,
                    &d,
                )
                .await?;
            Ok(skp_pb(doc))
        })
        .await
    }

    async fn list_skp_history(
        &self,
        req: Request<pb::ListSkpHistoryRequest>,
    ) -> Result<Response<pb::ListSkpHistoryResponse>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            require_id("skp_id", &req.skp_id)?;
            let s = self.state.store.get_skp(&req.skp_id).await?;
            self.may_read(&ctx, &s).await?;
            let page = Page::parse(req.page_size, &req.page_token, &[&req.skp_id])?;
            let (rows, next) = self
                .state
                .store
                .audit_history(SKP_RESOURCE, &req.skp_id, &page)
                .await?;
            Ok(pb::ListSkpHistoryResponse {
                entries: rows
                    .into_iter()
                    .map(|r| pb::SkpHistoryEntry {
                        time: ts(r.at),
                        reason: reason_of(&r.change),
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

    async fn get_skp_cascade(
        &self,
        req: Request<pb::GetSkpCascadeRequest>,
    ) -> Result<Response<pb::SkpCascade>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            require_id("skp_id", &req.skp_id)?;
            let depth = match req.max_depth {
                0 => 5,
                d if (1..=10).contains(&d) => d as u32,
                _ => return Err(Error::invalid("max_depth", "must be between 1 and 10")),
            };
            let s = self.state.store.get_skp(&req.skp_id).await?;
            self.may_read(&ctx, &s).await?;
            Ok(cascade_pb(
                self.state.store.cascade(&req.skp_id, depth).await?,
            ))
        })
        .await
    }

    async fn apply_skp_template(
        &self,
        req: Request<pb::ApplySkpTemplateRequest>,
    ) -> Result<Response<pb::ApplySkpTemplateResponse>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let mut v = Violations::new();
            v.check(require_id("period_id", &req.period_id));
            if req.employee_ids.is_empty() || req.employee_ids.len() > MAX_TEMPLATE_EMPLOYEES {
                v.add(
                    "employee_ids",
                    format!("must name 1 to {MAX_TEMPLATE_EMPLOYEES} employees"),
                );
            }
            let mut seen = HashSet::new();
            for (i, e) in req.employee_ids.iter().enumerate() {
                let field = format!("employee_ids[{i}]");
                v.check(require_id(&field, e));
                if !seen.insert(e.trim()) {
                    v.add(field, "appears twice");
                }
            }
            let template = match &req.template {
                Some(t) => v.take(validate_template(t)),
                None => {
                    v.add("template", "is required");
                    None
                }
            };
            v.finish()?;
            let template = template.ok_or_else(|| Error::invalid("template", "is required"))?;
            let period = self
                .state
                .store
                .get_period_row(req.period_id.trim())
                .await?;
            self.state
                .authz
                .check(&ctx, Target::Agency(&period.agency_id))
                .await?;
            let on = self.period_day(&period).await?;
            // Retries may name more or fewer employees: the digest covers the template only.
            let d = digest(&pb::ApplySkpTemplateRequest {
                period_id: req.period_id.clone(),
                template: req.template.clone(),
                employee_ids: Vec::new(),
                request_id: String::new(),
            });
            let mut out = pb::ApplySkpTemplateResponse::default();
            for (i, e) in req.employee_ids.iter().enumerate() {
                let e = e.trim();
                let target = Target::Employee {
                    id: e,
                    on: Some(on),
                };
                let res = match self.state.authz.check(&ctx, target).await {
                    Ok(()) => {
                        self.state
                            .store
                            .apply_template(
                                &ctx.actor(),
                                e,
                                &period.id,
                                &template,
                                &req.request_id,
                                &d,
                            )
                            .await
                    }
                    Err(err) => Err(err),
                };
                let result = match res {
                    Ok((outcome, skp_id)) => {
                        out.succeeded += 1;
                        pb::TemplateResult {
                            employee_id: e.to_owned(),
                            outcome: match outcome {
                                TemplateOutcome::Created => pb::TemplateOutcome::Created,
                                TemplateOutcome::Updated => pb::TemplateOutcome::Updated,
                                TemplateOutcome::AlreadyApplied => {
                                    pb::TemplateOutcome::AlreadyApplied
                                }
                            } as i32,
                            skp_id,
                            ..Default::default()
                        }
                    }
                    Err(err) => {
                        let (field, reason) = failure(i, err)?;
                        out.failed += 1;
                        pb::TemplateResult {
                            employee_id: e.to_owned(),
                            outcome: pb::TemplateOutcome::Failed as i32,
                            field,
                            reason,
                            ..Default::default()
                        }
                    }
                };
                out.results.push(result);
            }
            Ok(out)
        })
        .await
    }
}
