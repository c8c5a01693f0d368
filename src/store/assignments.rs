//! Dated assignments and the questions asked of them: the assessor on a date, and the direct
//! reports on a date.

use chrono::{NaiveDate, Utc};
use sea_orm::prelude::Expr;
use sea_orm::sea_query::{DynIden, ExprTrait, IntoIden};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use super::audit::{Actor, Change};
use super::entities::{assignment, employee, unit};
use super::idempotency::{Claim, claim};
use super::org::check_versioned;
use super::outbox::Event;
use super::{AssignmentRow, EmployeeRow, Store, find_or_not_found, lock_row, new_id};
use crate::domain::org::Span;
use crate::error::{Error, Result};
use crate::pagination::Page;

/// Values of a new assignment (validated by the API layer).
#[derive(Debug, Clone)]
pub struct NewAssignment {
    /// Employee.
    pub employee_id: String,
    /// Unit.
    pub unit_id: String,
    /// Superior, if any.
    pub superior_employee_id: Option<String>,
    /// Post name.
    pub position_name: String,
    /// Post type.
    pub position_type: String,
    /// DEFINITIF or PLT.
    pub kind: String,
    /// First day.
    pub start_date: NaiveDate,
    /// Last day.
    pub end_date: Option<NaiveDate>,
}

/// Changes to an assignment; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct AssignmentChanges {
    /// New end date (`Some(None)` clears it).
    pub end_date: Option<Option<NaiveDate>>,
    /// New superior (`Some(None)` clears it).
    pub superior_employee_id: Option<Option<String>>,
    /// New post name.
    pub position_name: Option<String>,
    /// New post type.
    pub position_type: Option<String>,
}

/// Condition "the assignment covers day `d`" (columns qualified with the `assignments` table).
pub(super) fn covers(d: NaiveDate) -> Condition {
    covers_in(assignment::Entity.into_iden(), d)
}

/// Condition "the assignment covers day `d`" on the assignments named `t` (the table or an
/// alias of it in a statement that reads it twice).
pub(super) fn covers_in(t: DynIden, d: NaiveDate) -> Condition {
    let col = |c: assignment::Column| Expr::col((t.clone(), c));
    Condition::all()
        .add(col(assignment::Column::StartDate).lte(d))
        .add(
            Condition::any()
                .add(col(assignment::Column::EndDate).is_null())
                .add(col(assignment::Column::EndDate).gte(d)),
        )
}

impl Store {
    /// Creates an assignment; an overlap with another of the same kind is FAILED_PRECONDITION.
    pub async fn create_assignment(
        &self,
        actor: &Actor,
        new: NewAssignment,
        request_id: &str,
        digest: &str,
    ) -> Result<AssignmentRow> {
        let txn = self.begin_write().await?;
        let id = new_id();
        if let Claim::Replay(existing) =
            claim(&txn, "CreateAssignment", request_id, digest, &id).await?
        {
            txn.commit().await?;
            return self.get_assignment(&existing).await;
        }
        // The employee's agency, read with a row lock on PostgreSQL (SQLite's IMMEDIATE
        // transaction holds the write lock), so overlap checks hold under concurrent writers.
        let mut employee = employee::Entity::find_by_id(new.employee_id.clone())
            .select_only()
            .column(employee::Column::AgencyId);
        if self.kind() == super::DbKind::Postgres {
            employee = employee.lock(sea_orm::sea_query::LockType::NoKeyUpdate);
        }
        let Some(agency): Option<String> = employee.into_tuple().one(&txn).await? else {
            return Err(Error::not_found("Employee", &new.employee_id));
        };
        let unit = self
            .check_refs(&txn, &new.unit_id, new.superior_employee_id.as_deref())
            .await?;
        let span = Span {
            start: new.start_date,
            end: new.end_date,
        };
        check_overlap(&txn, &new.employee_id, &new.kind, span, None).await?;
        let now = Utc::now();
        let row = assignment::ActiveModel {
            id: Set(id),
            employee_id: Set(new.employee_id),
            unit_id: Set(new.unit_id),
            superior_employee_id: Set(new.superior_employee_id),
            position_name: Set(new.position_name),
            position_type: Set(new.position_type),
            kind: Set(new.kind),
            start_date: Set(new.start_date),
            end_date: Set(new.end_date),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
            outside_agency: Set(agency != unit.agency_id),
        }
        .insert(&txn)
        .await?;
        self.record(
            &txn,
            actor,
            Change {
                resource_type: "Assignment",
                resource_id: &row.id,
                action: "create",
                detail: serde_json::json!({"employee_id": row.employee_id, "unit_id": row.unit_id, "superior_employee_id": row.superior_employee_id, "kind": row.kind, "start_date": row.start_date, "end_date": row.end_date}),
            },
        )
        .await?;
        self.publish(
            &txn,
            actor,
            Event {
                event_type: "assignment.created",
                resource_type: "Assignment",
                resource_id: &row.id,
                data: serde_json::json!({"employee_id": row.employee_id, "unit_id": row.unit_id, "superior_employee_id": row.superior_employee_id, "kind": row.kind, "start_date": row.start_date, "end_date": row.end_date}),
            },
        )
        .await?;
        self.commit_with_events(txn).await?;
        Ok(row)
    }

    async fn check_refs(
        &self,
        txn: &super::Txn,
        unit_id: &str,
        superior: Option<&str>,
    ) -> Result<super::UnitRow> {
        let u = find_or_not_found::<unit::Entity, _>(txn, "Unit", unit_id).await?;
        if !u.active {
            return Err(Error::precondition(
                "UNIT_INACTIVE",
                format!("units/{unit_id}"),
                "the unit is deactivated",
            ));
        }
        if let Some(s) = superior {
            find_or_not_found::<employee::Entity, _>(txn, "Employee", s).await?;
        }
        Ok(u)
    }

    /// Reads an assignment.
    pub async fn get_assignment(&self, id: &str) -> Result<AssignmentRow> {
        find_or_not_found::<assignment::Entity, _>(self.conn(), "Assignment", id).await
    }

    /// Lists an employee's assignments by start date.
    pub async fn list_assignments(
        &self,
        employee_id: &str,
        page: &Page,
    ) -> Result<(Vec<AssignmentRow>, String)> {
        let mut q = assignment::Entity::find()
            .filter(assignment::Column::EmployeeId.eq(employee_id))
            .order_by_asc(assignment::Column::StartDate)
            .order_by_asc(assignment::Column::Id);
        if let Some(k) = &page.after {
            let (d, id) = parse_date_key(k)?;
            q = q.filter(
                Condition::any()
                    .add(assignment::Column::StartDate.gt(d))
                    .add(
                        Condition::all()
                            .add(assignment::Column::StartDate.eq(d))
                            .add(assignment::Column::Id.gt(id)),
                    ),
            );
        }
        let rows = q.limit(page.fetch_limit()).all(self.conn()).await?;
        Ok(page.finish(rows, |r| vec![r.start_date.to_string(), r.id.clone()]))
    }

    /// Updates an assignment if `version` is current, re-checking overlaps.
    pub async fn update_assignment(
        &self,
        actor: &Actor,
        id: &str,
        version: i64,
        ch: AssignmentChanges,
    ) -> Result<AssignmentRow> {
        let changes_json = serde_json::to_value(&ch).unwrap_or_default();
        let txn = self.begin_write().await?;
        let cur = find_or_not_found::<assignment::Entity, _>(&txn, "Assignment", id).await?;
        lock_row(&txn, self.kind(), "employees", &cur.employee_id).await?;
        if let Some(Some(s)) = &ch.superior_employee_id {
            if *s == cur.employee_id {
                return Err(Error::invalid(
                    "assignment.superior_employee_id",
                    "an employee cannot be their own superior",
                ));
            }
            self.check_refs(&txn, &cur.unit_id, Some(s)).await?;
        }
        if let Some(end) = ch.end_date {
            if end.is_some_and(|e| e < cur.start_date) {
                return Err(Error::invalid(
                    "assignment.end_date",
                    "must not be before the start date",
                ));
            }
            let span = Span {
                start: cur.start_date,
                end,
            };
            check_overlap(&txn, &cur.employee_id, &cur.kind, span, Some(id)).await?;
        }
        let mut q = assignment::Entity::update_many()
            .col_expr(
                assignment::Column::Version,
                Expr::col(assignment::Column::Version).add(1),
            )
            .col_expr(assignment::Column::UpdatedAt, Expr::value(Utc::now()));
        if let Some(v) = ch.end_date {
            q = q.col_expr(assignment::Column::EndDate, Expr::value(v));
        }
        if let Some(v) = ch.superior_employee_id {
            q = q.col_expr(assignment::Column::SuperiorEmployeeId, Expr::value(v));
        }
        if let Some(v) = ch.position_name {
            q = q.col_expr(assignment::Column::PositionName, Expr::value(v));
        }
        if let Some(v) = ch.position_type {
            q = q.col_expr(assignment::Column::PositionType, Expr::value(v));
        }
        let res = q
            .filter(assignment::Column::Id.eq(id))
            .filter(assignment::Column::Version.eq(version))
            .exec(&txn)
            .await?;
        check_versioned(res.rows_affected, true, "Assignment", id)?;
        if let Some(Some(end)) = ch.end_date {
            // Mutasi: the SKP made from this assignment ends with it.
            self.close_skps_on_assignment_end(&txn, actor, &cur, end)
                .await?;
        }
        self.record(
            &txn,
            actor,
            Change {
                resource_type: "Assignment",
                resource_id: id,
                action: "update",
                detail: serde_json::json!({"changes": changes_json, "version": version + 1}),
            },
        )
        .await?;
        self.publish(
            &txn,
            actor,
            Event {
                event_type: "assignment.updated",
                resource_type: "Assignment",
                resource_id: id,
                data: serde_json::json!({"employee_id": cur.employee_id, "changes": changes_json}),
            },
        )
        .await?;
        self.commit_with_events(txn).await?;
        self.get_assignment(id).await
    }

    /// The employee's definitive assignment on `date` and the superior it names.
    pub async fn assessor_on(
        &self,
        employee_id: &str,
        date: NaiveDate,
    ) -> Result<(AssignmentRow, Option<EmployeeRow>)> {
        self.get_employee(employee_id).await?;
        let a = assignment::Entity::find()
            .filter(assignment::Column::EmployeeId.eq(employee_id))
            .filter(assignment::Column::Kind.eq("DEFINITIF"))
            .filter(covers(date))
            .one(self.conn())
            .await?
            .ok_or_else(|| {
                Error::precondition(
                    "NO_ASSIGNMENT_ON_DATE",
                    format!("employees/{employee_id}"),
                    format!("the employee holds no definitive post on {date}"),
                )
            })?;
        let sup = match &a.superior_employee_id {
            Some(s) => Some(self.get_employee(s).await?),
            None => None,
        };
        Ok((a, sup))
    }

    /// Employees whose assignment on `date` names `superior_id` as their superior, by employee id.
    pub async fn direct_reports_on(
        &self,
        superior_id: &str,
        date: NaiveDate,
        page: &Page,
    ) -> Result<(Vec<(EmployeeRow, AssignmentRow)>, String)> {
        self.get_employee(superior_id).await?;
        let mut q = assignment::Entity::find()
            .filter(assignment::Column::SuperiorEmployeeId.eq(superior_id))
            .filter(covers(date))
            .order_by_asc(assignment::Column::EmployeeId)
            .order_by_asc(assignment::Column::Id);
        if let Some(k) = &page.after {
            let emp = k.first().cloned().unwrap_or_default();
            let aid = k.get(1).cloned().unwrap_or_default();
            q = q.filter(
                Condition::any()
                    .add(assignment::Column::EmployeeId.gt(emp.clone()))
                    .add(
                        Condition::all()
                            .add(assignment::Column::EmployeeId.eq(emp))
                            .add(assignment::Column::Id.gt(aid)),
                    ),
            );
        }
        let rows = q.limit(page.fetch_limit()).all(self.conn()).await?;
        let (rows, next) = page.finish(rows, |r| vec![r.employee_id.clone(), r.id.clone()]);
        let ids: Vec<String> = rows.iter().map(|r| r.employee_id.clone()).collect();
        let emps: std::collections::HashMap<String, EmployeeRow> = employee::Entity::find()
            .filter(employee::Column::Id.is_in(ids))
            .all(self.conn())
            .await?
            .into_iter()
            .map(|e| (e.id.clone(), e))
            .collect();
        let out = rows
            .into_iter()
            .filter_map(|a| emps.get(&a.employee_id).cloned().map(|e| (e, a)))
            .collect();
        Ok((out, next))
    }
}

fn parse_date_key(k: &[String]) -> Result<(NaiveDate, String)> {
    let bad = || Error::invalid("page_token", "is not a token returned by this list call");
    let d = k
        .first()
        .and_then(|s| s.parse::<NaiveDate>().ok())
        .ok_or_else(bad)?;
    Ok((d, k.get(1).cloned().unwrap_or_default()))
}

/// Refuses `span` when another assignment of the same employee and kind overlaps it.
async fn check_overlap(
    txn: &super::Txn,
    employee_id: &str,
    kind: &str,
    span: Span,
    except: Option<&str>,
) -> Result<()> {
    let mut q = assignment::Entity::find()
        .filter(assignment::Column::EmployeeId.eq(employee_id))
        .filter(assignment::Column::Kind.eq(kind));
    if let Some(e) = except {
        q = q.filter(assignment::Column::Id.ne(e));
    }
    for other in q.all(txn).await? {
        let o = Span {
            start: other.start_date,
            end: other.end_date,
        };
        if o.overlaps(&span) {
            let until = other
                .end_date
                .map(|d| d.to_string())
                .unwrap_or_else(|| "open end".into());
            return Err(Error::precondition(
                "ASSIGNMENT_OVERLAP",
                format!("assignments/{}", other.id),
                format!(
                    "overlaps the employee's {kind} assignment {} from {} to {until}; end it first",
                    other.id, other.start_date
                ),
            ));
        }
    }
    Ok(())
}

impl Store {
    /// Whether the unit of the employee's definitive post on `date` lies in the subtree of one
    /// of the units `scope` (an admin's scope); `None` when the employee has no definitive post
    /// that day. One statement: the scope's units and the post's unit, the latter flagged, with
    /// their paths.
    pub async fn employee_unit_within(
        &self,
        scope: &[String],
        employee_id: &str,
        date: NaiveDate,
    ) -> Result<Option<bool>> {
        if scope.is_empty() {
            return Ok(Some(false));
        }
        let post = || {
            sea_orm::sea_query::Query::select()
                .column(assignment::Column::UnitId)
                .from(assignment::Entity)
                .and_where(assignment::Column::EmployeeId.eq(employee_id))
                .and_where(assignment::Column::Kind.eq("DEFINITIF"))
                .cond_where(covers(date))
                .to_owned()
        };
        let rows: Vec<(String, String, bool)> = unit::Entity::find()
            .select_only()
            .column(unit::Column::Id)
            .column(unit::Column::Path)
            .expr_as(unit::Column::Id.in_subquery(post()), "post")
            .filter(
                Condition::any()
                    .add(unit::Column::Id.is_in(scope.to_vec()))
                    .add(unit::Column::Id.in_subquery(post())),
            )
            .into_tuple()
            .all(self.conn())
            .await?;
        let Some((_, target, _)) = rows.iter().find(|(_, _, post)| *post) else {
            return Ok(None);
        };
        let path_of = |u: &str| {
            rows.iter()
                .find(|(id, _, _)| id == u)
                .map(|(_, path, _)| path.as_str())
        };
        Ok(Some(super::org::in_scope(scope, path_of, target)))
    }
}
