//! `kinerja.v1.EmployeeService`: employees and their bulk import.

use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};

use super::convert::{
    kind_text, opt_id, parse_date, position_enum, position_text, status_enum, status_text, ts,
};
use super::{AppState, digest, mask_paths, require_id, respond};
use crate::authz::Target;
use crate::context::RequestContext;
use crate::domain::{nip, text};
use crate::error::{Error, Result, Violation, Violations};
use crate::pagination::Page;
use crate::proto::v1 as pb;
use crate::proto::v1::employee_service_server::EmployeeService;
use crate::store::EmployeeRow;
use crate::store::employees::{
    EmployeeChanges, EmployeeFilter, ImportAssignment, ImportItem, NewEmployee,
};
use crate::store::org::parse_etag;
use crate::telemetry::{KeyValue, add_event};

/// Rows accepted in one import stream.
pub const MAX_IMPORT_ROWS: usize = 5_000_000;
/// Refused rows listed in an import response.
pub const MAX_LISTED_ERRORS: usize = 1000;
/// Rows received when the first progress event is recorded on the call's span; each later one
/// comes at twice the rows of the one before, so even the largest import makes few events.
pub const FIRST_PROGRESS_EVENT_ROWS: i64 = 1000;

/// Handler of the employee service.
#[derive(Debug, Clone)]
pub struct EmployeeApi {
    state: AppState,
}

impl EmployeeApi {
    /// A handler over `state`.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

/// The proto form of a stored employee.
pub fn employee_pb(r: EmployeeRow) -> pb::Employee {
    pb::Employee {
        status: status_enum(&r.status),
        position_type: position_enum(&r.position_type),
        id: r.id,
        nip: r.nip,
        name: r.name,
        position_name: r.position_name,
        agency_id: r.agency_id,
        create_time: ts(r.created_at),
        update_time: ts(r.updated_at),
        etag: r.version.to_string(),
    }
}

fn check_enum(v: &mut Violations, r: Result<&'static str>) -> String {
    v.take(r).unwrap_or_default().to_owned()
}

/// `s` without surrounding white space, reusing its buffer when there is none (the common case
/// in a bulk import: no copy per field).
fn trimmed(s: String) -> String {
    let t = s.trim();
    if t.len() == s.len() { s } else { t.to_owned() }
}

/// Validates an employee sent by a caller (fields named `employee.*`).
pub fn validate_employee(e: pb::Employee) -> Result<NewEmployee> {
    let mut v = Violations::new();
    if let Err(reason) = nip::check(e.nip.trim()) {
        v.add("employee.nip", reason);
    }
    text::required(&mut v, "employee.name", &e.name, 300);
    v.check(require_id("employee.agency_id", &e.agency_id));
    let status = check_enum(&mut v, status_text("employee.status", e.status));
    let position_type = check_enum(
        &mut v,
        position_text("employee.position_type", e.position_type),
    );
    text::required(&mut v, "employee.position_name", &e.position_name, 300);
    v.finish()?;
    Ok(NewEmployee {
        nip: trimmed(e.nip),
        name: trimmed(e.name),
        status,
        position_type,
        position_name: trimmed(e.position_name),
        agency_id: trimmed(e.agency_id),
    })
}

fn validate_import_assignment(a: pb::ImportAssignment) -> Result<ImportAssignment> {
    let mut v = Violations::new();
    if let Err(reason) = nip::check(a.employee_nip.trim()) {
        v.add("assignment.employee_nip", reason);
    }
    let superior = Some(trimmed(a.superior_nip)).filter(|s| !s.is_empty());
    if let Some(s) = &superior
        && let Err(reason) = nip::check(s)
    {
        v.add("assignment.superior_nip", reason);
    }
    v.check(require_id("assignment.unit_id", &a.unit_id));
    text::required(&mut v, "assignment.position_name", &a.position_name, 300);
    let position_type = check_enum(
        &mut v,
        position_text("assignment.position_type", a.position_type),
    );
    let kind = check_enum(&mut v, kind_text("assignment.kind", a.kind));
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
    v.finish()?;
    Ok(ImportAssignment {
        employee_nip: trimmed(a.employee_nip),
        unit_id: trimmed(a.unit_id),
        superior_nip: superior,
        position_name: trimmed(a.position_name),
        position_type,
        kind,
        start_date: start.ok_or_else(|| Error::invalid("assignment.start_date", "is required"))?,
        end_date: end,
    })
}

#[tonic::async_trait]
impl EmployeeService for EmployeeApi {
    async fn create_employee(
        &self,
        req: Request<pb::CreateEmployeeRequest>,
    ) -> Result<Response<pb::Employee>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let e = req.employee.clone().unwrap_or_default();
            let d = digest(&e);
            let new = validate_employee(e)?;
            self.state
                .authz
                .check(&ctx, Target::Agency(&new.agency_id))
                .await?;
            let row = self
                .state
                .store
                .create_employee(&ctx.actor(), new, &req.request_id, &d)
                .await?;
            Ok(employee_pb(row))
        })
        .await
    }

    async fn get_employee(
        &self,
        req: Request<pb::GetEmployeeRequest>,
    ) -> Result<Response<pb::Employee>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let row = match req.key {
                Some(pb::get_employee_request::Key::Id(id)) => {
                    require_id("id", &id)?;
                    self.state.store.get_employee(&id).await?
                }
                Some(pb::get_employee_request::Key::Nip(n)) => {
                    nip::parse(n.trim()).map_err(|r| Error::invalid("nip", r))?;
                    self.state.store.get_employee_by_nip(n.trim()).await?
                }
                None => return Err(Error::invalid("key", "set id or nip")),
            };
            self.state
                .authz
                .check(
                    &ctx,
                    Target::Employee {
                        id: &row.id,
                        on: None,
                    },
                )
                .await?;
            Ok(employee_pb(row))
        })
        .await
    }

    async fn list_employees(
        &self,
        req: Request<pb::ListEmployeesRequest>,
    ) -> Result<Response<pb::ListEmployeesResponse>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let target = match opt_id(&req.unit_id) {
                Some(_) => Target::Unit(&req.unit_id),
                None => Target::Global,
            };
            self.state.authz.check(&ctx, target).await?;
            let position_type = match req.position_type {
                0 => None,
                v => Some(position_text("position_type", v)?.to_owned()),
            };
            let as_of = parse_date("as_of_date", req.as_of_date.as_ref())?;
            let as_of = match (&req.unit_id, as_of) {
                (u, None) if !u.is_empty() => {
                    let unit = self.state.store.get_unit(u).await?;
                    let agency = self.state.store.get_agency(&unit.agency_id).await?;
                    crate::domain::org::TimeZone::parse(&agency.time_zone)
                        .map(|z| z.today(self.state.clock.now()))
                }
                (_, d) => d,
            };
            let prefix = req.name_prefix.trim().to_lowercase();
            if prefix.chars().count() > 300 {
                return Err(Error::invalid(
                    "name_prefix",
                    "must be at most 300 characters",
                ));
            }
            let filter = EmployeeFilter {
                agency_id: opt_id(&req.agency_id),
                unit_id: opt_id(&req.unit_id),
                as_of,
                position_type,
                name_prefix: (!prefix.is_empty()).then_some(prefix),
            };
            let as_of_s = filter.as_of.map(|d| d.to_string()).unwrap_or_default();
            let pt = req.position_type.to_string();
            let page = Page::parse(
                req.page_size,
                &req.page_token,
                &[
                    &req.agency_id,
                    &req.unit_id,
                    &pt,
                    &req.name_prefix,
                    &as_of_s,
                ],
            )?;
            let (rows, next) = self.state.store.list_employees(&filter, &page).await?;
            Ok(pb::ListEmployeesResponse {
                employees: rows.into_iter().map(employee_pb).collect(),
                next_page_token: next,
            })
        })
        .await
    }

    async fn update_employee(
        &self,
        req: Request<pb::UpdateEmployeeRequest>,
    ) -> Result<Response<pb::Employee>, Status> {
        let ctx = RequestContext::of(&req);
        let req = req.into_inner();
        respond(async {
            let e = req
                .employee
                .ok_or_else(|| Error::invalid("employee", "is required"))?;
            require_id("employee.id", &e.id)?;
            let version = parse_etag(&e.etag)?;
            self.state
                .authz
                .check(
                    &ctx,
                    Target::Employee {
                        id: &e.id,
                        on: None,
                    },
                )
                .await?;
            let mut v = Violations::new();
            let mut ch = EmployeeChanges::default();
            let paths = mask_paths(
                req.update_mask.as_ref(),
                &["name", "status", "position_type", "position_name"],
            )?;
            for p in paths {
                match p {
                    "name" => {
                        text::required(&mut v, "employee.name", &e.name, 300);
                        ch.name = Some(e.name.trim().to_owned());
                    }
                    "status" => {
                        ch.status =
                            Some(check_enum(&mut v, status_text("employee.status", e.status)))
                    }
                    "position_type" => {
                        ch.position_type = Some(check_enum(
                            &mut v,
                            position_text("employee.position_type", e.position_type),
                        ))
                    }
                    _ => {
                        text::required(&mut v, "employee.position_name", &e.position_name, 300);
                        ch.position_name = Some(e.position_name.trim().to_owned());
                    }
                }
            }
            v.finish()?;
            Ok(employee_pb(
                self.state
                    .store
                    .update_employee(&ctx.actor(), &e.id, version, ch)
                    .await?,
            ))
        })
        .await
    }

    async fn import_employees(
        &self,
        req: Request<Streaming<pb::ImportEmployeesRequest>>,
    ) -> Result<Response<pb::ImportEmployeesResponse>, Status> {
        let ctx = RequestContext::of(&req);
        self.state
            .authz
            .check(&ctx, Target::Global)
            .await
            .map_err(Status::from)?;
        let mut stream = req.into_inner();
        let mut items = Vec::new();
        let mut errors: Vec<Violation> = Vec::new();
        let mut error_rows = Vec::new();
        let mut row: i64 = 0;
        let mut next_progress = FIRST_PROGRESS_EVENT_ROWS;
        while let Some(msg) = stream.next().await {
            let msg = msg?;
            for r in msg.rows {
                row += 1;
                if row == next_progress {
                    add_event(
                        "import.progress",
                        vec![
                            KeyValue::new("kinerja.import.rows_received", row),
                            KeyValue::new("kinerja.import.rows_refused", errors.len() as i64),
                        ],
                    );
                    next_progress = next_progress.saturating_mul(2);
                }
                if row as usize > MAX_IMPORT_ROWS {
                    return Err(Error::invalid(
                        "rows",
                        format!("an import holds at most {MAX_IMPORT_ROWS} rows"),
                    )
                    .into());
                }
                let parsed = match r.row {
                    Some(pb::import_row::Row::Employee(e)) => {
                        validate_employee(e).map(ImportItem::Employee)
                    }
                    Some(pb::import_row::Row::Assignment(a)) => {
                        validate_import_assignment(a).map(ImportItem::Assignment)
                    }
                    None => Err(Error::invalid(
                        "row",
                        "is empty: set employee or assignment",
                    )),
                };
                match parsed {
                    Ok(item) => items.push((row, item)),
                    Err(Error::InvalidArgument(vs)) => {
                        for v in vs {
                            error_rows.push(row);
                            errors.push(v);
                        }
                    }
                    Err(other) => return Err(other.into()),
                }
            }
        }
        add_event(
            "import.received",
            vec![
                KeyValue::new("kinerja.import.rows_received", row),
                KeyValue::new("kinerja.import.rows_refused", errors.len() as i64),
            ],
        );
        let mut resp = pb::ImportEmployeesResponse {
            rows_received: row,
            ..Default::default()
        };
        let row_errors: Vec<pb::ImportRowError> = if errors.is_empty() {
            let out = self
                .state
                .store
                .import(&ctx.actor(), items)
                .await
                .map_err(Status::from)?;
            resp.employees_created = out.employees;
            resp.assignments_created = out.assignments;
            out.errors
                .into_iter()
                .map(|e| pb::ImportRowError {
                    row: e.row,
                    field: e.field,
                    reason: e.reason,
                })
                .collect()
        } else {
            error_rows
                .into_iter()
                .zip(errors)
                .map(|(row, v)| pb::ImportRowError {
                    row,
                    field: v.field,
                    reason: v.reason,
                })
                .collect()
        };
        resp.committed = row_errors.is_empty();
        resp.error_count = row_errors.len() as i64;
        if !resp.committed {
            resp.employees_created = 0;
            resp.assignments_created = 0;
        }
        resp.errors = row_errors.into_iter().take(MAX_LISTED_ERRORS).collect();
        add_event(
            if resp.committed {
                "import.committed"
            } else {
                "import.refused"
            },
            vec![
                KeyValue::new("kinerja.import.employees_created", resp.employees_created),
                KeyValue::new(
                    "kinerja.import.assignments_created",
                    resp.assignments_created,
                ),
                KeyValue::new("kinerja.import.error_count", resp.error_count),
            ],
        );
        Ok(Response::new(resp))
    }
}
