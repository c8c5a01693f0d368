//! Raw SQL shared by the reports and the calibration check: a statement builder with numbered
//! placeholders for either engine, and the conditions both count with (approved SKP of an
//! evaluation period, the state a reader sees now), so the two cannot drift apart.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Statement, Value};

use super::DbKind;
use super::assessment::EvaluationPeriodRow;
use crate::error::Result;

/// Builds one raw statement with placeholders numbered for the backend (`?N` / `$N`).
pub(crate) struct Sql {
    backend: DbBackend,
    values: Vec<Value>,
}

impl Sql {
    /// A statement for `kind`.
    pub(crate) fn new(kind: DbKind) -> Self {
        Self {
            backend: match kind {
                DbKind::Sqlite => DbBackend::Sqlite,
                DbKind::Postgres => DbBackend::Postgres,
            },
            values: Vec::new(),
        }
    }

    /// A statement for the backend of `db`.
    pub(crate) fn of<C: ConnectionTrait>(db: &C) -> Self {
        Self::new(match db.get_database_backend() {
            DbBackend::Postgres => DbKind::Postgres,
            _ => DbKind::Sqlite,
        })
    }

    /// A placeholder bound to `v`.
    pub(crate) fn p(&mut self, v: impl Into<Value>) -> String {
        self.values.push(v.into());
        match self.backend {
            DbBackend::Postgres => format!("${}", self.values.len()),
            _ => format!("?{}", self.values.len()),
        }
    }

    /// The statement of `sql` with the values bound so far.
    pub(crate) fn statement(self, sql: String) -> Statement {
        Statement::from_sql_and_values(self.backend, sql, self.values)
    }
}

/// Approved SKP of the evaluation period's year that overlap it (alias `s`).
pub(crate) fn approved_in(q: &mut Sql, ep: &EvaluationPeriodRow) -> String {
    let period = q.p(ep.period_id.clone());
    approved_overlapping(q, ep, &format!("s.period_id = {period}"))
}

/// The SKP's period compared in a form no index serves (`s.period_id || ''`): in a subquery
/// per employee the planner must then use the employee index (a handful of rows) instead of the
/// period index (every SKP of the year), which SQLite would otherwise prefer without statistics.
/// The evaluation period of evaluations and realisasi is compared the same way there, so they are
/// reached through their SKP, not scanned by period once per employee.
pub(crate) fn same_period_by_employee(q: &mut Sql, ep: &EvaluationPeriodRow) -> String {
    let period = q.p(ep.period_id.clone());
    format!("s.period_id || '' = {period}")
}

/// Approved SKP (alias `s`) matching the `period` condition that overlap the evaluation period.
pub(crate) fn approved_overlapping(q: &mut Sql, ep: &EvaluationPeriodRow, period: &str) -> String {
    let (end, start) = (q.p(ep.end_date), q.p(ep.start_date));
    format!(
        "{period} AND s.approved_at IS NOT NULL \
         AND s.state IN ('DISETUJUI', 'DITUTUP') \
         AND s.start_date <= {end} AND s.end_date >= {start}"
    )
}

/// The state a reader sees now of evaluation `e` (NONE when there is no evaluation row): a
/// DITETAPKAN result whose objection deadline passed without a pending objection is FINAL, as
/// [`crate::domain::assessment::effective_state`] decides.
pub(crate) fn effective_state(q: &mut Sql, now: DateTime<Utc>) -> String {
    let now = q.p(now);
    format!(
        "CASE WHEN e.id IS NULL THEN 'NONE' \
              WHEN e.state = 'DITETAPKAN' AND e.objection_deadline IS NOT NULL \
                   AND e.objection_deadline < {now} \
                   AND NOT EXISTS (SELECT 1 FROM objections o \
                                   WHERE o.evaluation_id = e.id AND o.state = 'DIAJUKAN') \
              THEN 'FINAL' \
              ELSE e.state END"
    )
}

/// A `COUNT` or `SUM` column as a head count (NULL, from an empty `SUM`, is 0).
pub(crate) fn count(r: &QueryResult, col: &str) -> Result<u32> {
    let v: Option<i64> = r.try_get("", col)?;
    Ok(u32::try_from(v.unwrap_or(0)).unwrap_or(u32::MAX))
}
