//! `kinerja.v1.AssignmentService`: dated assignments, assessors and direct reports.

use chrono::NaiveDate;
use tonic::{Request, Response, Status};

use super::convert::{
    date, kind_enum, kind_text, opt_id, parse_date, position_enum, position_text, ts,
};
use super::employees::employee_pb;
use super::{AppState, digest, mask_paths, require_id, respond};
use crate::authz::Target;
use crate::context::RequestContext;
use crate::domain::org::TimeZone;
use crate::domain::text;
use crate::error::{Error, Result, Violations};
use crate::pagination::Page;
use crate::proto::v1 as pb;
use crate::proto::v1::assignment_service_server::AssignmentService;
use crate::store::AssignmentRow;
use crate::store::assignments::{AssignmentChanges, NewAssignment};
use crate::store::org::parse_etag;

/// Handler of the assignment service.
#[derive(Debug, Clone)]
pub struct AssignmentApi {
    state: AppState,
}

impl AssignmentApi {
    /// A handler over `state`.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }

    /// The requested date, or today in the employee's agency's time zone.
    async fn date_or_today(
        &self,
        field: &str,
        d: Option<&pb::Date>,
        employee_id: &str,
    ) -> Result<NaiveDate> {
        if let Some(d) = parse_date(field, d)? {
            return Ok(d);
        }
        let e = self.state.store.get_employee(employee_id).await?;
        let a = self.state.store.get_agency(&e.agency_id).await?;
        let tz = TimeZone::parse(&a.time_zone).unwrap_or(TimeZone::Wib);
        Ok(tz.today(self.state.clock.now()))
    }
}

/// The proto form of a stored assignment.
pub fn assignment_pb(r: AssignmentRow) -> pb::Assignment {
    pb::Assignment {
        position_type: position_enum(&r.position_type),
        kind: kind_enum(&r.kind),
        start_date: Some(date(r.start_date)),
        end_date: r.end_date.map(date),
        id: r.id,
        employee_id: r.employee_id,
        unit_id: r.unit_id,
        superior_employee_id: r.superior_employee_id.unwrap_or_default(),
        position_name: r.position_name,
        create_time: ts(r.created_at),
        update_time: ts(r.updated_at),
        etag: r.version.to_string(),
    }
}

fn validate_new(a: &pb::Assignment) -> Result<NewAssignment> {
    let mut v = Violations::new();
    v.check(require_id("assignment.employee_id", &a.employee_id));
    v.check(require_id("assignment.unit_id", &a.unit_id));
    text::required(&mut v, "assignment.position_name", &a.position_name, 300);
    let position_type = v.take(position_text("assignment.position_type", a.position_type));
    let kind = v.take(kind_text("assignment.kind", a.kind));
    let start = v.take(parse_date("assignment.start_date", a.start_date.as_ref()));
    let end = v
        .take(parse_date("assignment.end_date", a.end_date.as_ref()))
        .flatten();
    if matches!(start, Some(None)) {
        v.add("assignment.start_date", "is required");
    }
    let start = start.flatten();
    if let (Some(s), Some(e)) = (start, end)
        && e < s
    {
        v.add("assignment.end_date", "must not be before the start date");
    }
    let superior = opt_id(&a.superior_employee_id);
    if superior.as_deref() == Some(a.employee_id.trim()) {
        v.add(
            "assignment.superior_employee_id",
            "an employee cannot be their own superior",
        );
    }
    v.finish()?;
    match (position_type, kind, start) {
        (Some(position_type), Some(kind), Some(start_date)) => Ok(NewAssignment {
            employee_id: a.employee_id.trim().to_owned(),
            unit_id: a.unit_id.trim().to_owned(),
            superior_employee_id: superior,
            position_name: a.position_name.trim().to_owned(),
            position_type: position_type.to_owned(),
            kind: kind.to_owned(),
            start_date,
            end_date: end,
        }),
        _ => Err(Error::Internal("validation passed without values".into())),
    }
}

#[tonic::async_trait]
impl AssignmentService for AssignmentApi {
    async fn create_assignment(
        &self,
        req: Request<pb::CreateAssignmentRequest>,
    ) -> Result<Response<pb::Assignment>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let a = req.assignment.clone().unwrap_or_default();
            let new = validate_new(&a)?;
            self.state
                .authz
                .check(&ctx, Target::Unit(&new.unit_id))
                .await?;
            Ok(assignment_pb(
                self.state
                    .store
                    .create_assignment(&ctx.actor(), new, &req.request_id, &digest(&a))
                    .await?,
            ))
        })
        .await
    }

    async fn get_assignment(
        &self,
        req: Request<pb::GetAssignmentRequest>,
    ) -> Result<Response<pb::Assignment>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            require_id("id", &req.id)?;
            let a = self.state.store.get_assignment(&req.id).await?;
            let target = Target::Employee {
                id: &a.employee_id,
                on: Some(a.start_date),
            };
            self.state.authz.check(&ctx, target).await?;
            Ok(assignment_pb(a))
        })
        .await
    }

    async fn list_assignments(
        &self,
        req: Request<pb::ListAssignmentsRequest>,
    ) -> Result<Response<pb::ListAssignmentsResponse>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            require_id("employee_id", &req.employee_id)?;
            let target = Target::Employee {
                id: &req.employee_id,
                on: None,
            };
            self.state.authz.check(&ctx, target).await?;
            let page = Page::parse(req.page_size, &req.page_token, &[&req.employee_id])?;
            let (rows, next) = self
                .state
                .store
                .list_assignments(&req.employee_id, &page)
                .await?;
            Ok(pb::ListAssignmentsResponse {
                assignments: rows.into_iter().map(assignment_pb).collect(),
                next_page_token: next,
            })
        })
        .await
    }

    async fn update_assignment(
        &self,
        req: Request<pb::UpdateAssignmentRequest>,
    ) -> Result<Response<pb::Assignment>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let a = req
                .assignment
                .ok_or_else(|| Error::invalid("assignment", "is required"))?;
            require_id("assignment.id", &a.id)?;
            let version = parse_etag(&a.etag)?;
            let current = self.state.store.get_assignment(&a.id).await?;
            self.state
                .authz
                .check(&ctx, Target::Unit(&current.unit_id))
                .await?;
            let mut v = Violations::new();
            let mut ch = AssignmentChanges::default();
            let paths = mask_paths(
                req.update_mask.as_ref(),
                &[
                    "end_date",
                    "superior_employee_id",
                    "position_name",
                    "position_type",
                ],
            )?;
            for p in paths {
                match p {
                    "end_date" => match parse_date("assignment.end_date", a.end_date.as_ref()) {
                        Ok(d) => ch.end_date = Some(d),
                        Err(e) => v.check(Err(e)),
                    },
                    "superior_employee_id" => {
                        ch.superior_employee_id = Some(opt_id(&a.superior_employee_id))
                    }
                    "position_name" => {
                        text::required(&mut v, "assignment.position_name", &a.position_name, 300);
                        ch.position_name = Some(a.position_name.trim().to_owned());
                    }
                    _ => match position_text("assignment.position_type", a.position_type) {
                        Ok(t) => ch.position_type = Some(t.to_owned()),
                        Err(e) => v.check(Err(e)),
                    },
                }
            }
            v.finish()?;
            Ok(assignment_pb(
                self.state
                    .store
                    .update_assignment(&ctx.actor(), &a.id, version, ch)
                    .await?,
            ))
        })
        .await
    }

    async fn get_assessor(
        &self,
        req: Request<pb::GetAssessorRequest>,
    ) -> Result<Response<pb::GetAssessorResponse>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            require_id("employee_id", &req.employee_id)?;
            let d = self
                .date_or_today("date", req.date.as_ref(), &req.employee_id)
                .await?;
            let target = Target::Employee {
                id: &req.employee_id,
                on: Some(d),
            };
            self.state.authz.check(&ctx, target).await?;
            let (a, sup) = self.state.store.assessor_on(&req.employee_id, d).await?;
            Ok(pb::GetAssessorResponse {
                assessor: sup.map(employee_pb),
                assignment: Some(assignment_pb(a)),
            })
        })
        .await
    }

    async fn list_direct_reports(
        &self,
        req: Request<pb::ListDirectReportsRequest>,
    ) -> Result<Response<pb::ListDirectReportsResponse>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            require_id("employee_id", &req.employee_id)?;
            let d = self
                .date_or_today("date", req.date.as_ref(), &req.employee_id)
                .await?;
            let target = Target::Employee {
                id: &req.employee_id,
                on: Some(d),
            };
            self.state.authz.check(&ctx, target).await?;
            let ds = d.to_string();
            let page = Page::parse(req.page_size, &req.page_token, &[&req.employee_id, &ds])?;
            let (rows, next) = self
                .state
                .store
                .direct_reports_on(&req.employee_id, d, &page)
                .await?;
            Ok(pb::ListDirectReportsResponse {
                reports: rows
                    .into_iter()
                    .map(|(e, a)| pb::DirectReport {
                        employee: Some(employee_pb(e)),
                        assignment: Some(assignment_pb(a)),
                    })
                    .collect(),
                next_page_token: next,
            })
        })
        .await
    }
}
