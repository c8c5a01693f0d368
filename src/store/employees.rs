//! Employees and their bulk import.

use std::collections::{HashMap, HashSet};

use chrono::{NaiveDate, Utc};
use sea_orm::prelude::Expr;
use sea_orm::sea_query::ExprTrait;
use sea_orm::sea_query::Query;
use sea_orm::sea_query::extension::postgres::PgFunc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    FromQueryResult, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};

use super::audit::{Actor, Change};
use super::entities::{agency, assignment, employee, unit};
use super::idempotency::{Claim, claim};
use super::org::check_versioned;
use super::template::SqlTemplate;
use super::{DbKind, EmployeeRow, Store, new_id};
use crate::error::{Error, Result};
use crate::pagination::Page;

mod bulk;
use bulk::AsgRow;

/// Values of a new employee (already validated by the API layer).
#[derive(Debug, Clone)]
pub struct NewEmployee {
    /// NIP.
    pub nip: String,
    /// Name.
    pub name: String,
    /// PNS or PPPK.
    pub status: String,
    /// Position type.
    pub position_type: String,
    /// Position name.
    pub position_name: String,
    /// Agency.
    pub agency_id: String,
}

/// Changes to an employee; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct EmployeeChanges {
    /// New name.
    pub name: Option<String>,
    /// New status.
    pub status: Option<String>,
    /// New position type.
    pub position_type: Option<String>,
    /// New position name.
    pub position_name: Option<String>,
}

/// Filters of an employee listing.
#[derive(Debug, Clone, Default)]
pub struct EmployeeFilter {
    /// Agency.
    pub agency_id: Option<String>,
    /// Unit subtree, evaluated on `as_of`.
    pub unit_id: Option<String>,
    /// Date of the unit filter.
    pub as_of: Option<NaiveDate>,
    /// Position type.
    pub position_type: Option<String>,
    /// Lower-case name prefix.
    pub name_prefix: Option<String>,
}

/// An assignment in an import, naming employees by NIP.
#[derive(Debug, Clone)]
pub struct ImportAssignment {
    /// NIP of the assigned employee.
    pub employee_nip: String,
    /// Unit.
    pub unit_id: String,
    /// NIP of the superior, if any.
    pub superior_nip: Option<String>,
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

/// One row of an import with its number in the stream.
#[derive(Debug, Clone)]
pub enum ImportItem {
    /// An employee.
    Employee(NewEmployee),
    /// An assignment.
    Assignment(ImportAssignment),
}

/// A refused import row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// Row number (from 1).
    pub row: i64,
    /// Field.
    pub field: String,
    /// Reason.
    pub reason: String,
}

/// Outcome of an import.
#[derive(Debug, Clone, Default)]
pub struct ImportOutcome {
    /// Employees stored.
    pub employees: i64,
    /// Assignments stored.
    pub assignments: i64,
    /// Refused rows; when not empty nothing was stored.
    pub errors: Vec<RowError>,
}

/// Keys per lookup query of an import.
const INSERT_CHUNK: usize = 5_000;
/// SQLite page cache (KiB, as `PRAGMA cache_size = -N`) of the connection running an import,
/// so a batch's dirty pages stay in memory instead of spilling to the WAL mid-transaction
/// (the default 2 MB spills: a 10,000-employee batch dirties about 10 MB of table and index
/// pages). Restored to the default when the import ends.
const IMPORT_CACHE_KIB: i64 = 32 * 1024;
/// SQLite's default page cache (`PRAGMA cache_size = -2000`).
const DEFAULT_CACHE_KIB: i64 = 2000;

/// Name-prefix matches from which a search walks the employees in id order instead of reading
/// every match through the name index and sorting them (SQLite, see [`NameScan`]). A match read
/// through the index costs about 2 µs, a row walked about 0.15 µs: at 1,000,000 employees the
/// two plans cost the same near 2,000 matches (a page of 51 walks 51 / share of matches rows).
const NAME_RANGE_MAX: u64 = 2_000;

/// How the name-prefix condition is evaluated on SQLite, which plans without statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NameScan {
    /// Few matches: read them through `ix_employees_name` and sort them by id (a page costs
    /// the number of matches, below [`NAME_RANGE_MAX`]). A prefix nobody's name has took
    /// 357 ms with the `LIKE` walk at 1,000,000 employees, 0.25 ms as a range.
    Range,
    /// Many matches (a common first name, one letter): walk the employees in id order and
    /// test each name until the page is full. A one-letter prefix (200,000 matches) read
    /// through the index and sorted took 390 ms at 1,000,000 employees, walked 0.1 ms.
    Walk,
}

/// Employees whose lower-case name starts with `prefix`: the range `prefix <= name_lower <`
/// [`after_prefix`]`(prefix)` compared by code point (SQLite's `BINARY` collation,
/// PostgreSQL's `"C"`), which `ix_employees_name` serves on both engines. Exact: no character
/// of the prefix is a wildcard (`LIKE` read `%` and `_` as such, and no index served it).
/// On SQLite `scan` picks the plan (the unary `+` keeps the index out of a walk); PostgreSQL's
/// planner picks from its statistics.
pub(super) fn name_starts_with(kind: DbKind, prefix: &str, scan: NameScan) -> Condition {
    let upper = after_prefix(prefix);
    let (lower, upper) = match (kind, scan) {
        (DbKind::Sqlite, NameScan::Range) => (
            employee::Column::NameLower.gte(prefix),
            upper.map(|u| employee::Column::NameLower.lt(u)),
        ),
        (DbKind::Sqlite, NameScan::Walk) => (
            Expr::cust_with_values(r#"+"employees"."name_lower" >= ?"#, [prefix]),
            upper.map(|u| Expr::cust_with_values(r#"+"employees"."name_lower" < ?"#, [u])),
        ),
        (DbKind::Postgres, _) => (
            Expr::cust_with_values(r#""employees"."name_lower" COLLATE "C" >= $1"#, [prefix]),
            upper.map(|u| {
                Expr::cust_with_values(r#""employees"."name_lower" COLLATE "C" < $1"#, [u])
            }),
        ),
    };
    Condition::all().add(lower).add_option(upper)
}

/// The first string in code-point order after every string that starts with `prefix` (its last
/// character that has a successor, incremented, with what follows it dropped); `None` when
/// there is none (an empty prefix, or one of `char::MAX` only).
fn after_prefix(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        // The next scalar value: surrogates are not characters, so skip them.
        if let Some(next) = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32) {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

impl Store {
    /// Creates an employee (idempotent on `request_id`); a duplicate NIP is ALREADY_EXISTS.
    pub async fn create_employee(
        &self,
        actor: &Actor,
        new: NewEmployee,
        request_id: &str,
        digest: &str,
    ) -> Result<EmployeeRow> {
        let txn = self.begin_write().await?;
        let id = new_id();
        if let Claim::Replay(existing) =
            claim(&txn, "CreateEmployee", request_id, digest, &id).await?
        {
            txn.commit().await?;
            return self.get_employee(&existing).await;
        }
        agency::Entity::find_by_id(new.agency_id.clone())
            .one(&txn)
            .await?
            .ok_or_else(|| Error::not_found("Agency", &new.agency_id))?;
        let nip = new.nip.clone();
        let row = employee_model(id, new)
            .insert(&txn)
            .await
            .map_err(|e| match Error::from(e) {
                Error::AlreadyExists { .. } => Error::AlreadyExists {
                    kind: "Employee",
                    detail: format!("an employee with NIP {nip} exists"),
                },
                other => other,
            })?;
        self.record(
            &txn,
            actor,
            Change {
                resource_type: "Employee",
                resource_id: &row.id,
                action: "create",
                detail: serde_json::json!({"nip": row.nip, "status": row.status, "position_type": row.position_type, "agency_id": row.agency_id}),
            },
        )
        .await?;
        txn.commit().await?;
        Ok(row)
    }

    /// Reads an employee by id.
    pub async fn get_employee(&self, id: &str) -> Result<EmployeeRow> {
        static BY_ID: SqlTemplate = SqlTemplate::new();
        self.employee_where(&BY_ID, employee::Column::Id, id)
            .await?
            .ok_or_else(|| Error::not_found("Employee", id))
    }

    /// The employee whose `column` (a unique one: the id, the NIP) is `value`, read with the
    /// statement `template` renders (one per column).
    async fn employee_where(
        &self,
        template: &SqlTemplate,
        column: employee::Column,
        value: &str,
    ) -> Result<Option<EmployeeRow>> {
        let stmt = template.statement(self.kind().backend(), [value.into()], |b, [v]| {
            employee::Entity::find()
                .filter(column.eq(v.clone()))
                .limit(1)
                .build(b)
        });
        Ok(employee::Entity::find()
            .from_raw_sql(stmt)
            .one(self.conn())
            .await?)
    }

    /// Reads an employee with the time zone of their agency in one statement (what an
    /// authorization on "the employee today" needs); `None` for the zone if the agency is gone.
    pub async fn employee_and_time_zone(&self, id: &str) -> Result<(EmployeeRow, Option<String>)> {
        let of_agency: sea_orm::RelationDef = employee::Entity::belongs_to(agency::Entity)
            .from(employee::Column::AgencyId)
            .to(agency::Column::Id)
            .into();
        let (e, a) = employee::Entity::find_by_id(id.to_owned())
            .join(sea_orm::JoinType::LeftJoin, of_agency)
            .select_also(agency::Entity)
            .one(self.conn())
            .await?
            .ok_or_else(|| Error::not_found("Employee", id))?;
        Ok((e, a.map(|a| a.time_zone)))
    }

    /// Reads an employee by NIP.
    pub async fn get_employee_by_nip(&self, nip: &str) -> Result<EmployeeRow> {
        static BY_NIP: SqlTemplate = SqlTemplate::new();
        self.employee_where(&BY_NIP, employee::Column::Nip, nip)
            .await?
            .ok_or_else(|| Error::not_found("Employee", format!("nip:{nip}")))
    }

    /// How to evaluate a name-prefix search on SQLite: count its matches in the name index up
    /// to [`NAME_RANGE_MAX`] (an index-only read of at most that many entries).
    pub(super) async fn name_scan(&self, prefix: &str) -> Result<NameScan> {
        if self.kind() != DbKind::Sqlite {
            return Ok(NameScan::Range);
        }
        // The limit inside the count (sea-orm's `count` drops a query's limit).
        let matches = Query::select()
            .column(employee::Column::Id)
            .from(employee::Entity)
            .cond_where(name_starts_with(DbKind::Sqlite, prefix, NameScan::Range))
            .limit(NAME_RANGE_MAX)
            .to_owned();
        let st = Query::select()
            .expr_as(Expr::cust("COUNT(*)"), "n")
            .from_subquery(matches, "m")
            .to_owned();
        let n = match self.conn().query_one(&st).await? {
            Some(r) => super::sql::count(&r, "n")?,
            None => 0,
        };
        Ok(if u64::from(n) < NAME_RANGE_MAX {
            NameScan::Range
        } else {
            NameScan::Walk
        })
    }

    /// Lists employees in id (creation) order with the given filters.
    pub async fn list_employees(
        &self,
        f: &EmployeeFilter,
        page: &Page,
    ) -> Result<(Vec<EmployeeRow>, String)> {
        let mut q = employee::Entity::find().order_by_asc(employee::Column::Id);
        if let Some(a) = &f.agency_id {
            q = q.filter(employee::Column::AgencyId.eq(a.as_str()));
        }
        if let Some(t) = &f.position_type {
            q = q.filter(employee::Column::PositionType.eq(t.as_str()));
        }
        if let Some(p) = &f.name_prefix {
            let scan = self.name_scan(p).await?;
            q = q.filter(name_starts_with(self.kind(), p, scan));
        }
        if let Some(unit_id) = &f.unit_id {
            let u = self.get_unit(unit_id).await?;
            let d = f.as_of.unwrap_or_else(|| Utc::now().date_naive());
            if let Some(units) = self.small_subtree_units(&u, d).await? {
                // A small subtree: the database collects its members (an index probe per unit)
                // and reads the page of them in id order, instead of walking every employee in
                // id order looking for them; only the page's rows leave the database.
                q = q.filter(member_ids(
                    self.kind(),
                    members_in_units(self.kind(), units, d),
                ));
            } else {
                return self.list_large_subtree(q, &u, d, page).await;
            }
        }
        if let Some(k) = &page.after {
            q = q.filter(employee::Column::Id.gt(k.first().cloned().unwrap_or_default()));
        }
        let rows = q.limit(page.fetch_limit()).all(self.conn()).await?;
        Ok(page.finish(rows, |r| vec![r.id.clone()]))
    }

    /// A page of the members on `d` of the large subtree of unit `u` (see [`list_employees`]),
    /// in id order, from two statements merged here:
    /// - the members from the unit's own agency: its employees walked in id order
    ///   (`ix_employees_agency`), each kept when it has an assignment in the subtree (an index
    ///   probe), until the page is full. Members are dense among them, so few are skipped;
    ///   walking every employee instead read all the agencies imported before this one (half a
    ///   second a page on average at 1,000,000 employees in 20 agencies, BENCHMARKS.md
    ///   session 11).
    ///   Collecting every member first would sort all of them (1 s for a 200,000 province).
    /// - members seconded from other agencies, through the partial index of such assignments.
    ///
    /// [`list_employees`]: Store::list_employees
    async fn list_large_subtree(
        &self,
        mut q: sea_orm::Select<employee::Entity>,
        u: &super::UnitRow,
        d: NaiveDate,
        page: &Page,
    ) -> Result<(Vec<EmployeeRow>, String)> {
        if let Some(k) = &page.after {
            q = q.filter(employee::Column::Id.gt(k.first().cloned().unwrap_or_default()));
        }
        let limit = page.fetch_limit();
        let [home, seconded] = large_subtree_members(self.kind(), q, u, d);
        let home = home.limit(limit).all(self.conn()).await?;
        let seconded = seconded.limit(limit).all(self.conn()).await?;
        let mut rows = home;
        if !seconded.is_empty() {
            rows.extend(seconded);
            rows.sort_by(|a, b| a.id.cmp(&b.id));
            rows.truncate(limit as usize);
        }
        Ok(page.finish(rows, |r| vec![r.id.clone()]))
    }

    /// Updates an employee if `version` is current.
    pub async fn update_employee(
        &self,
        actor: &Actor,
        id: &str,
        version: i64,
        ch: EmployeeChanges,
    ) -> Result<EmployeeRow> {
        let changes_json = serde_json::to_value(&ch).unwrap_or_default();
        let change = Change {
            resource_type: "Employee",
            resource_id: id,
            action: "update",
            detail: serde_json::json!({"changes": changes_json, "version": version + 1}),
        };
        let mut q = employee::Entity::update_many()
            .col_expr(
                employee::Column::Version,
                Expr::col(employee::Column::Version).add(1),
            )
            .col_expr(employee::Column::UpdatedAt, Expr::value(Utc::now()));
        if let Some(n) = ch.name {
            q = q
                .col_expr(employee::Column::NameLower, Expr::value(n.to_lowercase()))
                .col_expr(employee::Column::Name, Expr::value(n));
        }
        if let Some(v) = ch.status {
            q = q.col_expr(employee::Column::Status, Expr::value(v));
        }
        if let Some(v) = ch.position_type {
            q = q.col_expr(employee::Column::PositionType, Expr::value(v));
        }
        if let Some(v) = ch.position_name {
            q = q.col_expr(employee::Column::PositionName, Expr::value(v));
        }
        let mut update = q
            .filter(employee::Column::Id.eq(id))
            .filter(employee::Column::Version.eq(version))
            .into_query();
        update.returning_all();
        let update = self.kind.backend().build(&update);
        let updated = match self.kind {
            // One statement, its own transaction: the update (RETURNING the row) with the
            // audit entry, appended only if the version matched.
            DbKind::Postgres => {
                let rows = self.pg_write_with_entry(update, actor, change).await?;
                rows.first()
                    .map(|r| employee::Model::from_query_result(r, ""))
                    .transpose()?
            }
            // One command: BEGIN IMMEDIATE, the audit entry (if the version matches, checked by
            // the update's own condition), the head's move, the update, COMMIT.
            DbKind::Sqlite => {
                let txn = self.begin_write().await?;
                let entry = super::audit::sqlite_append(
                    super::audit::new_entry(actor, Utc::now(), change),
                    "EXISTS (SELECT 1 FROM employees WHERE id = ? AND version = ?)",
                    vec![id.into(), version.into()],
                );
                for stmt in entry {
                    txn.hold(stmt).await?;
                }
                let rows = txn.commit_with(update).await?;
                rows.first()
                    .map(|r| employee::Model::from_query_result(r, ""))
                    .transpose()?
            }
        };
        let Some(row) = updated else {
            let exists = employee::Entity::find_by_id(id.to_owned())
                .one(self.conn())
                .await?
                .is_some();
            check_versioned(0, exists, "Employee", id)?;
            return Err(Error::not_found("Employee", id));
        };
        Ok(row)
    }

    /// Imports a batch all-or-nothing: referential checks against the batch and the database,
    /// then chunked inserts in one transaction. Any refused row stores nothing.
    pub async fn import(
        &self,
        actor: &Actor,
        items: Vec<(i64, ImportItem)>,
    ) -> Result<ImportOutcome> {
        let items_len = items.len();
        let batch_id = new_id();
        let txn = self.begin_write().await?;
        // The lookups below send their keys as one array on PostgreSQL (`= ANY($1)`, see
        // `one_of`), so their cached plans are index probes whatever the batch or table size.
        let mut out = ImportOutcome::default();
        let mut err = |row: i64, field: &str, reason: String| {
            out.errors.push(RowError {
                row,
                field: field.to_owned(),
                reason,
            })
        };

        // NIPs and agencies of the batch's employees (borrowed from the batch: no copy per row).
        let mut batch_nips: HashMap<&str, usize> = HashMap::new(); // nip -> index in `employees`
        let mut agencies: HashSet<&str> = HashSet::new();
        let mut employees: Vec<(i64, String, &NewEmployee)> = Vec::new();
        for (row, item) in &items {
            if let ImportItem::Employee(e) = item {
                if batch_nips.contains_key(e.nip.as_str()) {
                    err(
                        *row,
                        "employee.nip",
                        format!("NIP {} appears twice in the batch", e.nip),
                    );
                    continue;
                }
                batch_nips.insert(&e.nip, employees.len());
                agencies.insert(&e.agency_id);
                employees.push((*row, new_id(), e));
            }
        }
        let known_agencies = ids_present::<agency::Entity>(&txn, owned(agencies)).await?;
        let stored_nips = existing_nips(&txn, owned(batch_nips.keys().copied())).await?;
        for (row, _, e) in &employees {
            if stored_nips.contains_key(&e.nip) {
                err(
                    *row,
                    "employee.nip",
                    format!("an employee with NIP {} exists", e.nip),
                );
            }
            let a = &e.agency_id;
            if !known_agencies.contains(a) {
                err(
                    *row,
                    "employee.agency_id",
                    format!("agency {a} does not exist"),
                );
            }
        }

        // Assignments: resolve NIPs (batch first, then database), units, overlaps.
        let mut want_nips: HashSet<&str> = HashSet::new();
        let mut want_units: HashSet<&str> = HashSet::new();
        for (_, item) in &items {
            if let ImportItem::Assignment(a) = item {
                for n in std::iter::once(&a.employee_nip).chain(&a.superior_nip) {
                    if !batch_nips.contains_key(n.as_str()) {
                        want_nips.insert(n);
                    }
                }
                want_units.insert(&a.unit_id);
            }
        }
        let db_nips = existing_nips(&txn, owned(want_nips)).await?;
        let unit_agency = unit_agencies(&txn, owned(want_units)).await?;
        // NIP -> (employee id, agency id), from the batch first.
        let resolve = |nip: &str| -> Option<(&str, &str)> {
            match batch_nips.get(nip) {
                Some(&i) => Some((employees[i].1.as_str(), employees[i].2.agency_id.as_str())),
                None => db_nips.get(nip).map(|(id, a)| (id.as_str(), a.as_str())),
            }
        };
        let mut spans: HashMap<(&str, &str), Spans> = HashMap::new();
        // (id, employee id, superior id, the unit is outside the employee's agency, row)
        let mut assignments: Vec<(String, &str, Option<&str>, bool, &ImportAssignment)> =
            Vec::new();
        for (row, item) in &items {
            let ImportItem::Assignment(a) = item else {
                continue;
            };
            let Some((emp, emp_agency)) = resolve(&a.employee_nip) else {
                err(
                    *row,
                    "assignment.employee_nip",
                    format!("no employee with NIP {}", a.employee_nip),
                );
                continue;
            };
            let sup = match &a.superior_nip {
                None => None,
                Some(s) if *s == a.employee_nip => {
                    err(
                        *row,
                        "assignment.superior_nip",
                        "an employee cannot be their own superior".into(),
                    );
                    continue;
                }
                Some(s) => match resolve(s) {
                    Some((id, _)) => Some(id),
                    None => {
                        err(
                            *row,
                            "assignment.superior_nip",
                            format!("no employee with NIP {s}"),
                        );
                        continue;
                    }
                },
            };
            let Some(unit_agency) = unit_agency.get(&a.unit_id) else {
                err(
                    *row,
                    "assignment.unit_id",
                    format!("unit {} does not exist", a.unit_id),
                );
                continue;
            };
            let span = crate::domain::org::Span {
                start: a.start_date,
                end: a.end_date,
            };
            match spans.entry((emp, a.kind.as_str())) {
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(Spans {
                        first: span,
                        more: Vec::new(),
                    });
                }
                std::collections::hash_map::Entry::Occupied(mut o) => {
                    if o.get().overlaps(&span) {
                        err(
                            *row,
                            "assignment.start_date",
                            "overlaps another assignment of the same employee in the batch".into(),
                        );
                        continue;
                    }
                    o.get_mut().more.push(span);
                }
            }
            assignments.push((new_id(), emp, sup, unit_agency != emp_agency, a));
        }
        // Overlaps with assignments already stored for existing employees.
        let existing_emp_ids: Vec<String> = db_nips.values().map(|(id, _)| id.clone()).collect();
        if !existing_emp_ids.is_empty() {
            for chunk in existing_emp_ids.chunks(INSERT_CHUNK) {
                let stored = assignment::Entity::find()
                    .filter(one_of(
                        self.kind(),
                        Expr::col(assignment::Column::EmployeeId),
                        chunk.to_vec(),
                    ))
                    .all(&txn)
                    .await?;
                for s in stored {
                    let span = crate::domain::org::Span {
                        start: s.start_date,
                        end: s.end_date,
                    };
                    if let Some(list) = spans.get(&(s.employee_id.as_str(), s.kind.as_str()))
                        && list.overlaps(&span)
                    {
                        // Find the batch row of that employee for the report.
                        for (row, item) in &items {
                            if let ImportItem::Assignment(a) = item
                                && resolve(&a.employee_nip).map(|(id, _)| id)
                                    == Some(s.employee_id.as_str())
                                && a.kind == s.kind
                                && (crate::domain::org::Span {
                                    start: a.start_date,
                                    end: a.end_date,
                                })
                                .overlaps(&span)
                            {
                                err(
                                    *row,
                                    "assignment.start_date",
                                    format!("overlaps stored assignment {}", s.id),
                                );
                            }
                        }
                    }
                }
            }
        }

        if !out.errors.is_empty() {
            out.errors.sort_by_key(|e| e.row);
            return Ok(out);
        }
        let n_emp = employees.len() as i64;
        let n_asg = assignments.len() as i64;
        let now = Utc::now();
        let sqlite = self.kind() == super::DbKind::Sqlite;
        if sqlite {
            txn.execute_unprepared(&format!("PRAGMA cache_size = -{IMPORT_CACHE_KIB}"))
                .await?;
        }
        let emp_rows: Vec<(&str, &NewEmployee)> = employees
            .iter()
            .map(|(_, id, e)| (id.as_str(), *e))
            .collect();
        let asg_rows: Vec<AsgRow<'_>> = assignments
            .iter()
            .map(|(id, emp, sup, outside, a)| AsgRow {
                id,
                employee_id: emp,
                superior: *sup,
                outside_agency: *outside,
                a,
            })
            .collect();
        bulk::insert_employees(&txn, self.kind(), &emp_rows, now).await?;
        bulk::insert_assignments(&txn, self.kind(), &asg_rows, now).await?;
        self.record(
            &txn,
            actor,
            Change {
                resource_type: "ImportBatch",
                resource_id: &batch_id,
                action: "import",
                detail: serde_json::json!({"employees": n_emp, "assignments": n_asg, "rows": items_len}),
            },
        )
        .await?;
        if sqlite {
            txn.execute_unprepared(&format!("PRAGMA cache_size = -{DEFAULT_CACHE_KIB}"))
                .await?;
        }
        txn.commit().await?;
        super::release_free_memory();
        out.employees = n_emp;
        out.assignments = n_asg;
        Ok(out)
    }
}

/// The spans of one employee and assignment kind accepted so far in an import batch (most
/// employees have one: it is kept without a separate allocation).
struct Spans {
    first: crate::domain::org::Span,
    more: Vec<crate::domain::org::Span>,
}

impl Spans {
    fn overlaps(&self, s: &crate::domain::org::Span) -> bool {
        self.first.overlaps(s) || self.more.iter().any(|m| m.overlaps(s))
    }
}

/// Owned copies of borrowed keys, for a lookup query.
fn owned<'a>(keys: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    keys.into_iter().map(str::to_owned).collect()
}

/// Largest unit subtree whose members the database collects before paging them (see
/// [`Store::small_subtree_units`]); larger subtrees are listed by walking employees in id order.
const SMALL_SUBTREE_UNITS: usize = 200;
/// Largest member count of a subtree collected before paging.
const SMALL_SUBTREE_MEMBERS: usize = 5_000;

impl Store {
    /// The units of the subtree of unit `u` (itself included) when it is small on `d`: at most
    /// [`SMALL_SUBTREE_UNITS`] units and [`SMALL_SUBTREE_MEMBERS`] assignments; `None` for a
    /// large subtree. One statement: the subtree walked through the parent index (a recursive
    /// query, not a `LIKE` on the path, which neither database can serve from an index here),
    /// each unit returned with its own member count (capped), counted by an index probe per
    /// unit. Counting over the whole subtree at once instead got a generic plan on PostgreSQL
    /// that hashed the units and scanned every assignment (2 ms a call at 10,000 employees).
    async fn small_subtree_units(
        &self,
        u: &super::UnitRow,
        d: NaiveDate,
    ) -> Result<Option<Vec<String>>> {
        let rows = self
            .conn()
            .query_all_raw(subtree_sizing(self.kind(), &u.id, d))
            .await?;
        if rows.len() > SMALL_SUBTREE_UNITS {
            return Ok(None);
        }
        let mut units = Vec::with_capacity(rows.len());
        let mut members = 0;
        for r in &rows {
            members += r.try_get::<i64>("", "members")?;
            units.push(r.try_get::<String>("", "id")?);
        }
        Ok((members <= SMALL_SUBTREE_MEMBERS as i64).then_some(units))
    }
}

/// The statement behind [`Store::small_subtree_units`]: the first `SMALL_SUBTREE_UNITS + 1`
/// units of the subtree of `unit`, each with its member count on `d` (capped).
pub(super) fn subtree_sizing(kind: super::DbKind, unit: &str, d: NaiveDate) -> sea_orm::Statement {
    let mut q = super::sql::Sql::new(kind);
    let unit = q.p(unit.to_owned());
    let max_units = q.p(SMALL_SUBTREE_UNITS as i64 + 1);
    let day = q.p(d);
    let max_members = q.p(SMALL_SUBTREE_MEMBERS as i64 + 1);
    // The step reads from `sub` first (`CROSS JOIN` fixes that order on SQLite), probing
    // `units(parent_id)` for the children of each unit found. With `units c JOIN sub` and
    // the agency in the condition, SQLite 3.51 made `units` the outer loop and scanned every
    // unit of the agency once per unit found: 400 ms for a subtree of 200 units in a
    // province of 10,000 units, 3 ms even for a leaf (BENCHMARKS.md, session 10).
    let sql = format!(
        "WITH RECURSIVE sub(id) AS ( \
           SELECT id FROM units WHERE id = {unit} \
           UNION ALL \
           SELECT c.id FROM sub CROSS JOIN units c WHERE c.parent_id = sub.id \
         ), few AS (SELECT id FROM sub LIMIT {max_units}) \
         SELECT few.id, \
                (SELECT COUNT(*) FROM ( \
                   SELECT 1 FROM assignments a \
                   WHERE a.unit_id = few.id AND a.start_date <= {day} \
                     AND (a.end_date IS NULL OR a.end_date >= {day}) \
                   LIMIT {max_members}) m) AS members \
         FROM few"
    );
    q.statement(sql)
}

/// The two statements of [`Store::list_large_subtree`], from the listing `q` (its filters and
/// order): the members on `d` of the subtree of `u` from `u`'s own agency, and those seconded
/// from other agencies.
pub(super) fn large_subtree_members(
    kind: super::DbKind,
    q: sea_orm::Select<employee::Entity>,
    u: &super::UnitRow,
    d: NaiveDate,
) -> [sea_orm::Select<employee::Entity>; 2] {
    let in_subtree = || {
        Query::select()
            .from(assignment::Entity)
            .inner_join(
                unit::Entity,
                Expr::col((unit::Entity, unit::Column::Id))
                    .equals((assignment::Entity, assignment::Column::UnitId)),
            )
            .and_where(Expr::col((unit::Entity, unit::Column::Path)).like(format!("{}%", u.path)))
            .cond_where(super::assignments::covers(d))
            .to_owned()
    };
    let mut member = in_subtree()
        .expr(Expr::val(1))
        .and_where(
            Expr::col((assignment::Entity, assignment::Column::EmployeeId))
                .equals((employee::Entity, employee::Column::Id)),
        )
        .to_owned();
    if kind == super::DbKind::Postgres {
        // `OFFSET 0` keeps PostgreSQL from turning the EXISTS into a semi-join, which collects
        // and sorts every member of the subtree before the page: 72 ms for 22,000 members, 1 s
        // for a province of 200,000, against well under a millisecond for the walk
        // (BENCHMARKS.md session 10).
        member.offset(0);
    }
    let home = q
        .clone()
        .filter(employee::Column::AgencyId.eq(u.agency_id.as_str()))
        .filter(Expr::exists(member));
    let seconded = in_subtree()
        .column((assignment::Entity, assignment::Column::EmployeeId))
        // The partial index's own condition, as a literal term, so both databases use it.
        .and_where(Expr::col((
            assignment::Entity,
            assignment::Column::OutsideAgency,
        )))
        .to_owned();
    let seconded = q
        .filter(employee::Column::AgencyId.ne(u.agency_id.as_str()))
        .filter(member_ids(kind, seconded));
    [home, seconded]
}

/// The ids of the employees assigned on `d` to one of `units`, as a subquery.
fn members_in_units(
    kind: super::DbKind,
    units: Vec<String>,
    d: NaiveDate,
) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(assignment::Column::EmployeeId)
        .from(assignment::Entity)
        .and_where(one_of(kind, Expr::col(assignment::Column::UnitId), units))
        .cond_where(super::assignments::covers(d))
        .to_owned()
}

/// `employees.id` is one of the ids `members` selects, a subquery the database runs itself
/// (the members never leave the database).
fn member_ids(kind: super::DbKind, members: sea_orm::sea_query::SelectStatement) -> Expr {
    let id = Expr::col((employee::Entity, employee::Column::Id));
    match kind {
        // `= ANY(ARRAY(subquery))`: the members become one array (an InitPlan) probed in the
        // primary key index, which returns them in id order. A plain `IN (subquery)` gets a
        // generic plan that hashes the members and scans every employee (PostgreSQL 15
        // estimates an `= ANY($1)` at 66 rows whatever the array holds).
        super::DbKind::Postgres => id.eq(PgFunc::any(
            sea_orm::sea_query::Func::cust("ARRAY")
                .arg(Expr::SubQuery(None, Box::new(members.into()))),
        )),
        super::DbKind::Sqlite => id.in_subquery(members),
    }
}

fn employee_model(id: String, new: NewEmployee) -> employee::ActiveModel {
    let now = Utc::now();
    employee::ActiveModel {
        id: Set(id),
        nip: Set(new.nip),
        name_lower: Set(new.name.to_lowercase()),
        name: Set(new.name),
        status: Set(new.status),
        position_type: Set(new.position_type),
        position_name: Set(new.position_name),
        agency_id: Set(new.agency_id),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

/// `col IN (values)`. On PostgreSQL it is `col = ANY($1)` with one array parameter: the
/// statement text does not depend on the number of values, and the plan PostgreSQL caches for
/// it is an index probe per value. (A prepared `IN ($1, ..., $500)` gets a generic plan after
/// five runs, made for the table as it was then — empty at the first import — a sequential
/// scan that rebuilds the 500-value list for every row: imports slowed down quadratically.)
fn one_of(kind: super::DbKind, col: Expr, values: Vec<String>) -> Expr {
    match kind {
        super::DbKind::Postgres => col.eq(PgFunc::any(Expr::val(values))),
        super::DbKind::Sqlite => col.is_in(values),
    }
}

fn kind_of(txn: &super::Txn) -> super::DbKind {
    match txn.get_database_backend() {
        sea_orm::DbBackend::Postgres => super::DbKind::Postgres,
        _ => super::DbKind::Sqlite,
    }
}

/// NIP -> (id, agency id) of the employees stored with one of `nips`.
async fn existing_nips(
    txn: &super::Txn,
    nips: Vec<String>,
) -> Result<HashMap<String, (String, String)>> {
    let mut found = HashMap::new();
    for chunk in nips.chunks(INSERT_CHUNK) {
        let rows: Vec<(String, String, String)> = employee::Entity::find()
            .select_only()
            .column(employee::Column::Nip)
            .column(employee::Column::Id)
            .column(employee::Column::AgencyId)
            .filter(one_of(
                kind_of(txn),
                Expr::col(employee::Column::Nip),
                chunk.to_vec(),
            ))
            .into_tuple()
            .all(txn)
            .await?;
        found.extend(
            rows.into_iter()
                .map(|(nip, id, agency)| (nip, (id, agency))),
        );
    }
    Ok(found)
}

/// Unit id -> agency id of the stored units among `ids`.
async fn unit_agencies(txn: &super::Txn, ids: Vec<String>) -> Result<HashMap<String, String>> {
    let mut found = HashMap::new();
    for chunk in ids.chunks(INSERT_CHUNK) {
        let rows: Vec<(String, String)> = unit::Entity::find()
            .select_only()
            .column(unit::Column::Id)
            .column(unit::Column::AgencyId)
            .filter(one_of(
                kind_of(txn),
                Expr::col(unit::Column::Id),
                chunk.to_vec(),
            ))
            .into_tuple()
            .all(txn)
            .await?;
        found.extend(rows);
    }
    Ok(found)
}

/// Which of `ids` exist in the table of entity `E` (whose primary key is a text `id`).
async fn ids_present<E>(txn: &super::Txn, ids: Vec<String>) -> Result<HashSet<String>>
where
    E: EntityTrait,
{
    let mut found = HashSet::new();
    let id_col = Expr::col((E::default(), sea_orm::sea_query::Alias::new("id")));
    for chunk in ids.chunks(INSERT_CHUNK) {
        let rows: Vec<String> = E::find()
            .select_only()
            .expr(id_col.clone())
            .filter(one_of(kind_of(txn), id_col.clone(), chunk.to_vec()))
            .into_tuple()
            .all(txn)
            .await?;
        found.extend(rows);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::after_prefix;

    #[test]
    fn the_bound_after_a_prefix_is_its_last_character_incremented() {
        assert_eq!(after_prefix("siti").as_deref(), Some("sitj"));
        assert_eq!(after_prefix("änne").as_deref(), Some("ännf"));
        // Surrogates are not characters: U+D7FF is followed by U+E000.
        assert_eq!(after_prefix("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
        // The last character has no successor: the one before it is incremented.
        assert_eq!(after_prefix("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(after_prefix("\u{10FFFF}"), None);
        assert_eq!(after_prefix(""), None);
    }
}
