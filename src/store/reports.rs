//! Reports, aggregated in the database with `GROUP BY` and `EXISTS` (no report loads the rows it
//! counts): the predikat distribution of a unit subtree, an employee's history, the completion of
//! an evaluation period, assessor statistics and indicator quality.
//!
//! **Subtree.** A recursive query over `units.parent_id` (indexed) gives the unit and every unit
//! below it, each tagged with the child of the unit it lies under (the unit itself for its own
//! rows); results join it on the SKP's unit snapshot (`ix_skps_unit_period`).
//!
//! **Which results.** Approved SKP (DISETUJUI, or DITUTUP after approval) of the period's
//! performance year that overlap the evaluation period. The state is the one a reader sees now:
//! a DITETAPKAN result whose objection deadline passed without a pending objection counts as
//! FINAL, exactly as [`crate::domain::assessment::effective_state`] decides for GetEvaluation.
//! Predikat are counted for set and FINAL results only.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QueryResult, QuerySelect,
};

use super::assessment::EvaluationPeriodRow;
use super::calibration::{
    Check, check_counts, current_rule_set, exception_for, exceptions_of, groups_counts,
};
use super::entities::{employee, org_rating, unit};
use super::sql::{
    Sql, approved_in, approved_overlapping, count, effective_state, same_period_by_employee,
};
use super::{Store, find_or_not_found};
use crate::domain::assessment::State;
use crate::domain::curve::{Curve, OrgRating};
use crate::domain::rating::{Predikat, Rating};
use crate::domain::report::{Counts, IndicatorFlag, Missing, indicator_flags, missing};
use crate::error::{Error, Result};
use crate::pagination::Page;

/// The subtree of `root` as CTEs `sub(id, top)` and `scope(id, top)`: every unit at or below the
/// root, with `top` the root's child it lies under (the root itself for the root).
fn subtree_cte(q: &mut Sql, root: &str) -> String {
    let (r1, r2) = (q.p(root), q.p(root));
    format!(
        "WITH RECURSIVE sub(id, top) AS ( \
           SELECT id, id FROM units WHERE parent_id = {r1} \
           UNION ALL \
           SELECT c.id, sub.top FROM units c JOIN sub ON c.parent_id = sub.id \
         ), scope(id, top) AS ( \
           SELECT id, id FROM units WHERE id = {r2} \
           UNION ALL SELECT id, top FROM sub \
         )"
    )
}

fn flag(r: &QueryResult, col: &str) -> Result<bool> {
    let v: i32 = r.try_get("", col)?;
    Ok(v != 0)
}

/// The calibration status of the report's unit.
#[derive(Debug, Clone)]
pub struct CalibrationStatus {
    /// The check of the unit's group against the current curve.
    pub check: Check,
    /// The curve its organisation rating implies in the current rule set.
    pub curve: Option<Curve>,
    /// Exceptions recorded for the unit and period.
    pub exceptions_granted: u32,
}

/// One row of the per-child breakdown.
#[derive(Debug, Clone)]
pub struct ChildRow {
    /// The unit.
    pub unit: unit::Model,
    /// True for the requested unit's own staff.
    pub own_staff: bool,
    /// Its organisation rating.
    pub org_rating: Option<OrgRating>,
    /// Counts of its subtree (own staff only for the own-staff row).
    pub counts: Counts,
    /// The calibration status of the unit's own group.
    pub calibration: CalibrationStatus,
}

/// The distribution report.
#[derive(Debug, Clone)]
pub struct DistributionReport {
    /// The unit.
    pub unit_id: String,
    /// The evaluation period.
    pub evaluation_period_id: String,
    /// The whole subtree.
    pub total: Counts,
    /// The unit's calibration.
    pub calibration: CalibrationStatus,
    /// This page of the breakdown.
    pub children: Vec<ChildRow>,
    /// Next page token.
    pub next_page_token: String,
}

/// One entry of an employee's history.
#[derive(Debug, Clone)]
pub struct HistoryEntry {
    /// Evaluation id.
    pub evaluation_id: String,
    /// SKP id.
    pub skp_id: String,
    /// Year.
    pub year: i32,
    /// Evaluation period id.
    pub evaluation_period_id: String,
    /// Its number in the year.
    pub sequence: i32,
    /// Annual evaluation.
    pub annual: bool,
    /// First day.
    pub start_date: NaiveDate,
    /// Last day.
    pub end_date: NaiveDate,
    /// Unit on the SKP.
    pub unit_id: String,
    /// Unit name on the SKP.
    pub unit_name: String,
    /// Post on the SKP.
    pub position_name: String,
    /// Assessor on the SKP.
    pub assessor_id: Option<String>,
    /// Effective state (DITETAPKAN or FINAL).
    pub state: State,
    /// Predikat.
    pub predikat: Option<Predikat>,
    /// Results rating.
    pub results_rating: Option<Rating>,
    /// Behaviour rating.
    pub behaviour_rating: Option<Rating>,
    /// Organisation rating used.
    pub org_rating: Option<OrgRating>,
    /// Rule-set version used.
    pub rule_set_version: Option<String>,
    /// When set.
    pub set_at: Option<DateTime<Utc>>,
    /// An objection is pending.
    pub objection_pending: bool,
}

/// One employee of the completion report.
#[derive(Debug, Clone)]
pub struct CompletionEntry {
    /// Employee id.
    pub employee_id: String,
    /// Name.
    pub name: String,
    /// NIP.
    pub nip: String,
    /// Unit of the post on the period's last day.
    pub unit_id: String,
    /// What is missing (empty: complete).
    pub missing: Vec<Missing>,
}

/// The completion report.
#[derive(Debug, Clone, Default)]
pub struct CompletionReport {
    /// Employees counted.
    pub employees: u32,
    /// Without an approved SKP.
    pub no_approved_skp: u32,
    /// Without realisasi.
    pub no_realisasi: u32,
    /// Not rated.
    pub not_rated: u32,
    /// Objection pending.
    pub objection_pending: u32,
    /// Nothing missing.
    pub complete: u32,
    /// This page.
    pub entries: Vec<CompletionEntry>,
    /// Next page token.
    pub next_page_token: String,
}

/// Filter of the completion list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompletionFilter {
    /// Every employee.
    All,
    /// Employees lacking this.
    Missing(Missing),
    /// Employees lacking nothing.
    Complete,
}

/// One assessor's distribution and that of the units they rated in.
#[derive(Debug, Clone)]
pub struct AssessorRow {
    /// Assessor id.
    pub assessor_id: String,
    /// Name.
    pub name: String,
    /// Their set and FINAL results.
    pub own: crate::domain::curve::Distribution,
    /// Every set and FINAL result of the units they rated in (inside the subtree).
    pub unit: crate::domain::curve::Distribution,
}

/// One flagged indicator.
#[derive(Debug, Clone)]
pub struct IndicatorRow {
    /// Indicator id.
    pub indicator_id: String,
    /// SKP id.
    pub skp_id: String,
    /// Employee.
    pub employee_id: String,
    /// Unit on the SKP.
    pub unit_id: String,
    /// Text.
    pub text: String,
    /// Aspect.
    pub aspect: String,
    /// Target.
    pub target: f64,
    /// Target unit.
    pub target_unit: String,
    /// Periods with realisasi.
    pub reported: u32,
    /// Of those, with evidence.
    pub evidenced: u32,
    /// Flags.
    pub flags: Vec<IndicatorFlag>,
}

/// The indicator quality list.
#[derive(Debug, Clone, Default)]
pub struct IndicatorQuality {
    /// Indicators checked.
    pub checked: u32,
    /// Always at target.
    pub always_at_target: u32,
    /// Never evidenced.
    pub never_evidenced: u32,
    /// This page.
    pub rows: Vec<IndicatorRow>,
    /// Next page token.
    pub next_page_token: String,
}

fn parse_state(s: &str) -> Option<State> {
    State::parse(s)
}

impl Store {
    /// The predikat distribution of a unit subtree in an evaluation period, with the unit's
    /// calibration status and a page of per-child rows (the unit's own staff first).
    pub async fn distribution_report(
        &self,
        unit_id: &str,
        ep: &EvaluationPeriodRow,
        page: &Page,
        now: DateTime<Utc>,
    ) -> Result<DistributionReport> {
        let root = find_or_not_found::<unit::Entity, _>(self.conn(), "Unit", unit_id).await?;
        let mut q = Sql::new(self.kind());
        let cte = subtree_cte(&mut q, unit_id);
        let st = effective_state(&mut q, now);
        let epp = q.p(ep.id.clone());
        let approved = approved_in(&mut q, ep);
        let sql = format!(
            "{cte} SELECT scope.top AS top, {st} AS st, e.predikat AS predikat, \
               CASE WHEN e.calibration_exception_id IS NULL THEN 0 ELSE 1 END AS exc, \
               COUNT(*) AS n \
             FROM skps s JOIN scope ON scope.id = s.unit_id \
             LEFT JOIN skp_evaluations e ON e.skp_id = s.id AND e.evaluation_period_id = {epp} \
             WHERE {approved} \
             GROUP BY 1, 2, 3, 4"
        );
        let rows = self.conn().query_all_raw(q.statement(sql)).await?;
        let mut by_top: HashMap<String, Counts> = HashMap::new();
        for r in rows {
            let top: String = r.try_get("", "top")?;
            let st: String = r.try_get("", "st")?;
            let p: Option<String> = r.try_get("", "predikat")?;
            let exc: i32 = r.try_get("", "exc")?;
            let n = count(&r, "n")?;
            by_top.entry(top).or_default().add(
                parse_state(&st),
                p.as_deref().and_then(Predikat::parse),
                exc != 0,
                n,
            );
        }
        let mut total = Counts::default();
        for c in by_top.values() {
            total.merge(c);
        }

        // The page of child units, by code.
        let mut cq = unit::Entity::find().filter(unit::Column::ParentId.eq(unit_id));
        if let Some(after) = &page.after {
            let (code, id) = match after.as_slice() {
                [c, i] => (c.clone(), i.clone()),
                _ => {
                    return Err(Error::invalid(
                        "page_token",
                        "is not a token of this report",
                    ));
                }
            };
            cq = cq.filter(
                sea_orm::Condition::any()
                    .add(unit::Column::Code.gt(code.clone()))
                    .add(
                        sea_orm::Condition::all()
                            .add(unit::Column::Code.eq(code))
                            .add(unit::Column::Id.gt(id)),
                    ),
            );
        }
        let kids = cq
            .order_by_asc(unit::Column::Code)
            .order_by_asc(unit::Column::Id)
            .limit(page.fetch_limit())
            .all(self.conn())
            .await?;
        let (kids, next_page_token) = page.finish(kids, |u| vec![u.code.clone(), u.id.clone()]);
        let mut ids: Vec<String> = kids.iter().map(|k| k.id.clone()).collect();
        ids.push(unit_id.to_owned());
        let ratings: HashMap<String, OrgRating> = org_rating::Entity::find()
            .filter(org_rating::Column::EvaluationPeriodId.eq(ep.id.as_str()))
            .filter(org_rating::Column::UnitId.is_in(ids.iter().map(String::as_str)))
            .all(self.conn())
            .await?
            .into_iter()
            .filter_map(|r| OrgRating::parse(&r.rating).map(|o| (r.unit_id, o)))
            .collect();
        let rules = current_rule_set(self.conn()).await?.rules;
        let mut statuses = self
            .calibration_statuses(&ids, ep, now, &rules, &ratings)
            .await?;
        let mut status_of = |id: &str| {
            statuses
                .remove(id)
                .ok_or_else(|| Error::Internal(format!("no calibration status of unit {id}")))
        };
        let calibration = status_of(unit_id)?;
        let mut children = Vec::with_capacity(kids.len() + 1);
        if page.after.is_none() {
            children.push(ChildRow {
                org_rating: ratings.get(unit_id).copied(),
                counts: by_top.get(unit_id).cloned().unwrap_or_default(),
                unit: root.clone(),
                own_staff: true,
                calibration: calibration.clone(),
            });
        }
        for k in kids {
            children.push(ChildRow {
                org_rating: ratings.get(&k.id).copied(),
                counts: by_top.get(&k.id).cloned().unwrap_or_default(),
                calibration: status_of(&k.id)?,
                unit: k,
                own_staff: false,
            });
        }

        Ok(DistributionReport {
            unit_id: unit_id.to_owned(),
            evaluation_period_id: ep.id.clone(),
            total,
            calibration,
            children,
            next_page_token,
        })
    }

    /// The calibration status of each unit's own group in an evaluation period, from the
    /// groups' counts (their members are not loaded) and the units' organisation ratings
    /// `ratings`: two statements for any number of units.
    async fn calibration_statuses(
        &self,
        unit_ids: &[String],
        ep: &EvaluationPeriodRow,
        now: DateTime<Utc>,
        rules: &crate::domain::curve::RuleSet,
        ratings: &HashMap<String, OrgRating>,
    ) -> Result<HashMap<String, CalibrationStatus>> {
        let ids: Vec<&str> = unit_ids.iter().map(String::as_str).collect();
        let mut counts = groups_counts(self.conn(), &ids, ep, now).await?;
        let recorded = exceptions_of(self.conn(), &ids, &ep.id).await?;
        let mut out = HashMap::with_capacity(ids.len());
        for id in ids {
            let group = counts.remove(id).unwrap_or_default();
            let mut check = check_counts(id, ep, group, ratings.get(id).copied(), rules);
            if check.wants_exception() {
                check.exception = exception_for(&check, &recorded);
            }
            let curve = check.org_rating.and_then(|o| rules.curve(o).cloned());
            let granted = recorded.iter().filter(|x| x.unit_id == id).count();
            out.insert(
                id.to_owned(),
                CalibrationStatus {
                    check,
                    curve,
                    exceptions_granted: u32::try_from(granted).unwrap_or(u32::MAX),
                },
            );
        }
        Ok(out)
    }

    /// An employee's set and FINAL results, newest evaluation period first.
    pub async fn employee_history(
        &self,
        employee_id: &str,
        page: &Page,
        now: DateTime<Utc>,
    ) -> Result<(Vec<HistoryEntry>, String)> {
        find_or_not_found::<employee::Entity, _>(self.conn(), "Employee", employee_id).await?;
        let mut q = Sql::new(self.kind());
        let st = effective_state(&mut q, now);
        let emp = q.p(employee_id);
        let mut after = String::new();
        if let Some(a) = &page.after {
            let (d, id) = match a.as_slice() {
                [d, i] => (
                    NaiveDate::parse_from_str(d, "%Y-%m-%d")
                        .map_err(|_| Error::invalid("page_token", "is not a token of this list"))?,
                    i.clone(),
                ),
                _ => return Err(Error::invalid("page_token", "is not a token of this list")),
            };
            let (d1, d2, i) = (q.p(d), q.p(d), q.p(id));
            after = format!("AND (ep.start_date < {d1} OR (ep.start_date = {d2} AND e.id < {i}))");
        }
        let limit = q.p(page.fetch_limit() as i64);
        let sql = format!(
            "SELECT e.id AS eid, s.id AS sid, s.year AS year, ep.id AS epid, \
               ep.sequence AS seq, ep.annual AS annual, ep.start_date AS sd, ep.end_date AS ed, \
               s.unit_id AS uid, s.unit_name AS uname, s.position_name AS pos, \
               s.assessor_id AS aid, {st} AS st, e.predikat AS predikat, \
               e.results_rating AS rr, e.behaviour_rating AS br, e.org_rating AS org, \
               e.rule_set_version AS rsv, e.set_at AS set_at, \
               CASE WHEN EXISTS (SELECT 1 FROM objections o WHERE o.evaluation_id = e.id \
                                 AND o.state = 'DIAJUKAN') THEN 1 ELSE 0 END AS pending \
             FROM skp_evaluations e \
             JOIN skps s ON s.id = e.skp_id \
             JOIN evaluation_periods ep ON ep.id = e.evaluation_period_id \
             WHERE s.employee_id = {emp} AND e.state IN ('DITETAPKAN', 'FINAL') {after} \
             ORDER BY ep.start_date DESC, e.id DESC LIMIT {limit}"
        );
        let rows = self.conn().query_all_raw(q.statement(sql)).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let st: String = r.try_get("", "st")?;
            let text = |c: &str| -> Result<Option<String>> { Ok(r.try_get("", c)?) };
            out.push(HistoryEntry {
                evaluation_id: r.try_get("", "eid")?,
                skp_id: r.try_get("", "sid")?,
                year: r.try_get("", "year")?,
                evaluation_period_id: r.try_get("", "epid")?,
                sequence: r.try_get("", "seq")?,
                annual: r.try_get("", "annual")?,
                start_date: r.try_get("", "sd")?,
                end_date: r.try_get("", "ed")?,
                unit_id: r.try_get("", "uid")?,
                unit_name: r.try_get("", "uname")?,
                position_name: r.try_get("", "pos")?,
                assessor_id: text("aid")?,
                state: parse_state(&st)
                    .ok_or_else(|| Error::Internal(format!("evaluation has unknown state {st}")))?,
                predikat: text("predikat")?.as_deref().and_then(Predikat::parse),
                results_rating: text("rr")?.as_deref().and_then(Rating::parse),
                behaviour_rating: text("br")?.as_deref().and_then(Rating::parse),
                org_rating: text("org")?.as_deref().and_then(OrgRating::parse),
                rule_set_version: text("rsv")?,
                set_at: r.try_get("", "set_at")?,
                objection_pending: flag(&r, "pending")?,
            });
        }
        Ok(page.finish(out, |h| {
            vec![h.start_date.to_string(), h.evaluation_id.clone()]
        }))
    }

    /// The completion of an evaluation period in a unit subtree: the employees holding a
    /// definitive post in the subtree on the period's last day, and what each lacks.
    pub async fn completion_report(
        &self,
        unit_id: &str,
        ep: &EvaluationPeriodRow,
        filter: CompletionFilter,
        page: &Page,
    ) -> Result<CompletionReport> {
        let flags_cte = |q: &mut Sql| -> String {
            let cte = subtree_cte(q, unit_id);
            let (e1, e2) = (q.p(ep.end_date), q.p(ep.end_date));
            let p1 = same_period_by_employee(q, ep);
            let approved = approved_overlapping(q, ep, &p1);
            let (p2, ep2) = (same_period_by_employee(q, ep), q.p(ep.id.clone()));
            let (p3, ep3) = (same_period_by_employee(q, ep), q.p(ep.id.clone()));
            let (p4, ep4) = (same_period_by_employee(q, ep), q.p(ep.id.clone()));
            format!(
                "{cte}, pop AS ( \
                   SELECT a.employee_id AS eid, MIN(a.unit_id) AS unit_id \
                   FROM assignments a JOIN scope ON scope.id = a.unit_id \
                   WHERE a.kind = 'DEFINITIF' AND a.start_date <= {e1} \
                     AND (a.end_date IS NULL OR a.end_date >= {e2}) \
                   GROUP BY a.employee_id \
                 ), flags AS ( \
                   SELECT pop.eid AS eid, pop.unit_id AS unit_id, \
                     CASE WHEN EXISTS (SELECT 1 FROM skps s WHERE s.employee_id = pop.eid \
                       AND {approved}) THEN 1 ELSE 0 END AS has_skp, \
                     CASE WHEN EXISTS (SELECT 1 FROM skps s JOIN realisasi r ON r.skp_id = s.id \
                       WHERE s.employee_id = pop.eid AND {p2} \
                       AND r.evaluation_period_id || '' = {ep2}) THEN 1 ELSE 0 END AS has_real, \
                     CASE WHEN EXISTS (SELECT 1 FROM skps s \
                       JOIN skp_evaluations e ON e.skp_id = s.id \
                       WHERE s.employee_id = pop.eid AND {p3} \
                       AND e.evaluation_period_id || '' = {ep3} AND e.state <> 'TERBUKA') \
                       THEN 1 ELSE 0 END AS rated, \
                     CASE WHEN EXISTS (SELECT 1 FROM skps s \
                       JOIN skp_evaluations e ON e.skp_id = s.id \
                       JOIN objections o ON o.evaluation_id = e.id \
                       WHERE s.employee_id = pop.eid AND {p4} \
                       AND e.evaluation_period_id || '' = {ep4} AND o.state = 'DIAJUKAN') \
                       THEN 1 ELSE 0 END AS pending \
                   FROM pop \
                 )"
            )
        };

        let mut q = Sql::new(self.kind());
        let cte = flags_cte(&mut q);
        let sql = format!(
            "{cte} SELECT COUNT(*) AS n, SUM(1 - has_skp) AS no_skp, SUM(1 - has_real) AS no_real, \
               SUM(1 - rated) AS not_rated, SUM(pending) AS pending, \
               SUM(CASE WHEN has_skp = 1 AND has_real = 1 AND rated = 1 AND pending = 0 \
                   THEN 1 ELSE 0 END) AS complete \
             FROM flags"
        );
        let totals = self
            .conn()
            .query_one_raw(q.statement(sql))
            .await?
            .ok_or_else(|| Error::Internal("completion totals returned no row".into()))?;
        let mut out = CompletionReport {
            employees: count(&totals, "n")?,
            no_approved_skp: count(&totals, "no_skp")?,
            no_realisasi: count(&totals, "no_real")?,
            not_rated: count(&totals, "not_rated")?,
            objection_pending: count(&totals, "pending")?,
            complete: count(&totals, "complete")?,
            ..Default::default()
        };

        let mut q = Sql::new(self.kind());
        let cte = flags_cte(&mut q);
        let cond = match filter {
            CompletionFilter::All => "1 = 1",
            CompletionFilter::Complete => {
                "f.has_skp = 1 AND f.has_real = 1 AND f.rated = 1 AND f.pending = 0"
            }
            CompletionFilter::Missing(Missing::NoApprovedSkp) => "f.has_skp = 0",
            CompletionFilter::Missing(Missing::NoRealisasi) => "f.has_real = 0",
            CompletionFilter::Missing(Missing::NotRated) => "f.rated = 0",
            CompletionFilter::Missing(Missing::ObjectionPending) => "f.pending = 1",
        };
        let mut after = String::new();
        if let Some(a) = &page.after {
            let (name, id) = match a.as_slice() {
                [n, i] => (n.clone(), i.clone()),
                _ => {
                    return Err(Error::invalid(
                        "page_token",
                        "is not a token of this report",
                    ));
                }
            };
            let (n1, n2, i) = (q.p(name.clone()), q.p(name), q.p(id));
            after = format!("AND (emp.name > {n1} OR (emp.name = {n2} AND emp.id > {i}))");
        }
        let limit = q.p(page.fetch_limit() as i64);
        let sql = format!(
            "{cte} SELECT f.eid AS eid, f.unit_id AS unit_id, f.has_skp AS has_skp, \
               f.has_real AS has_real, f.rated AS rated, f.pending AS pending, \
               emp.name AS name, emp.nip AS nip \
             FROM flags f JOIN employees emp ON emp.id = f.eid \
             WHERE {cond} {after} ORDER BY emp.name, emp.id LIMIT {limit}"
        );
        let rows = self.conn().query_all_raw(q.statement(sql)).await?;
        let mut entries = Vec::with_capacity(rows.len());
        for r in rows {
            entries.push(CompletionEntry {
                employee_id: r.try_get("", "eid")?,
                name: r.try_get("", "name")?,
                nip: r.try_get("", "nip")?,
                unit_id: r.try_get("", "unit_id")?,
                missing: missing(
                    flag(&r, "has_skp")?,
                    flag(&r, "has_real")?,
                    flag(&r, "rated")?,
                    flag(&r, "pending")?,
                ),
            });
        }
        let (entries, next) = page.finish(entries, |e| vec![e.name.clone(), e.employee_id.clone()]);
        out.entries = entries;
        out.next_page_token = next;
        Ok(out)
    }

    /// Per assessor of set and FINAL results recorded on the subtree's units: their
    /// distribution and that of every result of the units they rated in, by assessor name.
    pub async fn assessor_statistics(
        &self,
        unit_id: &str,
        ep: &EvaluationPeriodRow,
        page: &Page,
    ) -> Result<(Vec<AssessorRow>, String)> {
        let mut q = Sql::new(self.kind());
        let cte = subtree_cte(&mut q, unit_id);
        let (period, epp) = (q.p(ep.period_id.clone()), q.p(ep.id.clone()));
        let mut after = String::new();
        if let Some(a) = &page.after {
            let (name, id) = match a.as_slice() {
                [n, i] => (n.clone(), i.clone()),
                _ => return Err(Error::invalid("page_token", "is not a token of this list")),
            };
            let (n1, n2, i) = (q.p(name.clone()), q.p(name), q.p(id));
            after = format!("WHERE (emp.name > {n1} OR (emp.name = {n2} AND emp.id > {i}))");
        }
        let limit = q.p(page.fetch_limit() as i64);
        // `agg` is small (assessor x unit x predikat) and read several times: materialised once.
        let sql = format!(
            "{cte}, agg AS MATERIALIZED ( \
               SELECT s.assessor_id AS aid, s.unit_id AS uid, e.predikat AS p, COUNT(*) AS n \
               FROM skps s JOIN scope ON scope.id = s.unit_id \
               JOIN skp_evaluations e ON e.skp_id = s.id AND e.evaluation_period_id = {epp} \
               WHERE s.period_id = {period} AND e.state IN ('DITETAPKAN', 'FINAL') \
                 AND s.assessor_id IS NOT NULL AND e.predikat IS NOT NULL \
               GROUP BY s.assessor_id, s.unit_id, e.predikat \
             ), pg AS ( \
               SELECT DISTINCT agg.aid AS aid, emp.name AS name \
               FROM agg JOIN employees emp ON emp.id = agg.aid {after} \
               ORDER BY emp.name, agg.aid LIMIT {limit} \
             ), au AS ( \
               SELECT DISTINCT agg.aid AS aid, agg.uid AS uid FROM agg JOIN pg ON pg.aid = agg.aid \
             ), ud AS ( \
               SELECT uid, p, SUM(n) AS n FROM agg WHERE uid IN (SELECT uid FROM au) \
               GROUP BY uid, p \
             ) \
             SELECT 'OWN' AS kind, pg.aid AS aid, pg.name AS name, agg.p AS p, \
               CAST(SUM(agg.n) AS BIGINT) AS n \
               FROM pg JOIN agg ON agg.aid = pg.aid GROUP BY pg.aid, pg.name, agg.p \
             UNION ALL \
             SELECT 'UNIT' AS kind, pg.aid AS aid, pg.name AS name, ud.p AS p, \
               CAST(SUM(ud.n) AS BIGINT) AS n \
               FROM pg JOIN au ON au.aid = pg.aid JOIN ud ON ud.uid = au.uid \
               GROUP BY pg.aid, pg.name, ud.p"
        );
        let rows = self.conn().query_all_raw(q.statement(sql)).await?;
        let mut by: HashMap<String, AssessorRow> = HashMap::new();
        for r in rows {
            let kind: String = r.try_get("", "kind")?;
            let aid: String = r.try_get("", "aid")?;
            let name: String = r.try_get("", "name")?;
            let p: String = r.try_get("", "p")?;
            let n = count(&r, "n")?;
            let row = by.entry(aid.clone()).or_insert_with(|| AssessorRow {
                assessor_id: aid,
                name,
                own: Default::default(),
                unit: Default::default(),
            });
            if let Some(p) = Predikat::parse(&p) {
                let d = if kind == "OWN" {
                    &mut row.own
                } else {
                    &mut row.unit
                };
                crate::domain::report::add(d, p, n);
            }
        }
        let mut rows: Vec<AssessorRow> = by.into_values().collect();
        rows.sort_by(|a, b| (&a.name, &a.assessor_id).cmp(&(&b.name, &b.assessor_id)));
        Ok(page.finish(rows, |a| vec![a.name.clone(), a.assessor_id.clone()]))
    }

    /// Indicators of approved SKP in the subtree that overlap the evaluation period, judged on
    /// the realisasi of the year's evaluation periods ending on or before its last day.
    pub async fn indicator_quality(
        &self,
        unit_id: &str,
        ep: &EvaluationPeriodRow,
        only: Option<IndicatorFlag>,
        page: &Page,
    ) -> Result<IndicatorQuality> {
        let q_cte = |q: &mut Sql| -> String {
            let cte = subtree_cte(q, unit_id);
            let (period, end) = (q.p(ep.period_id.clone()), q.p(ep.end_date));
            let approved = approved_in(q, ep);
            let cap = "CASE WHEN i.aspect IN ('WAKTU', 'BIAYA') \
                         THEN (CASE WHEN r.value > 0 AND i.target > 0 THEN i.target / r.value END) \
                         ELSE (CASE WHEN i.target > 0 AND r.value >= 0 THEN r.value / i.target END) END";
            format!(
                "{cte}, eps AS ( \
                   SELECT id FROM evaluation_periods WHERE period_id = {period} AND end_date <= {end} \
                 ), q AS ( \
                   SELECT i.id AS iid, i.skp_id AS skp_id, s.employee_id AS employee_id, \
                     s.unit_id AS unit_id, i.text AS text, i.aspect AS aspect, i.target AS target, \
                     i.unit AS tunit, COUNT(r.id) AS reported, \
                     SUM(CASE WHEN r.id IS NULL THEN 0 WHEN ({cap}) >= 1.0 THEN 0 ELSE 1 END) AS below, \
                     SUM(CASE WHEN r.id IS NOT NULL AND r.evidence <> '[]' AND r.evidence <> '' \
                         THEN 1 ELSE 0 END) AS evidenced \
                   FROM skps s JOIN scope ON scope.id = s.unit_id \
                   JOIN skp_indicators i ON i.skp_id = s.id \
                   LEFT JOIN realisasi r ON r.indicator_id = i.id \
                     AND r.evaluation_period_id IN (SELECT id FROM eps) \
                   WHERE {approved} \
                   GROUP BY i.id, i.skp_id, s.employee_id, s.unit_id, i.text, i.aspect, i.target, i.unit \
                 )"
            )
        };
        const ALWAYS: &str = "(reported > 0 AND below = 0)";
        const NEVER: &str = "(evidenced = 0)";

        let mut q = Sql::new(self.kind());
        let cte = q_cte(&mut q);
        let sql = format!(
            "{cte} SELECT COUNT(*) AS n, \
               SUM(CASE WHEN {ALWAYS} THEN 1 ELSE 0 END) AS always, \
               SUM(CASE WHEN {NEVER} THEN 1 ELSE 0 END) AS never FROM q"
        );
        let totals = self
            .conn()
            .query_one_raw(q.statement(sql))
            .await?
            .ok_or_else(|| Error::Internal("indicator totals returned no row".into()))?;
        let mut out = IndicatorQuality {
            checked: count(&totals, "n")?,
            always_at_target: count(&totals, "always")?,
            never_evidenced: count(&totals, "never")?,
            ..Default::default()
        };

        let mut q = Sql::new(self.kind());
        let cte = q_cte(&mut q);
        let cond = match only {
            None => format!("({ALWAYS} OR {NEVER})"),
            Some(IndicatorFlag::AlwaysAtTarget) => ALWAYS.to_owned(),
            Some(IndicatorFlag::NeverEvidenced) => NEVER.to_owned(),
        };
        let mut after = String::new();
        if let Some(a) = &page.after {
            let id = match a.as_slice() {
                [i] => i.clone(),
                _ => return Err(Error::invalid("page_token", "is not a token of this list")),
            };
            after = format!("AND iid > {}", q.p(id));
        }
        let limit = q.p(page.fetch_limit() as i64);
        let sql = format!("{cte} SELECT * FROM q WHERE {cond} {after} ORDER BY iid LIMIT {limit}");
        let rows = self.conn().query_all_raw(q.statement(sql)).await?;
        let mut list = Vec::with_capacity(rows.len());
        for r in rows {
            let (reported, below, evidenced) = (
                count(&r, "reported")?,
                count(&r, "below")?,
                count(&r, "evidenced")?,
            );
            list.push(IndicatorRow {
                indicator_id: r.try_get("", "iid")?,
                skp_id: r.try_get("", "skp_id")?,
                employee_id: r.try_get("", "employee_id")?,
                unit_id: r.try_get("", "unit_id")?,
                text: r.try_get("", "text")?,
                aspect: r.try_get("", "aspect")?,
                target: r.try_get("", "target")?,
                target_unit: r.try_get("", "tunit")?,
                reported,
                evidenced,
                flags: indicator_flags(reported, below, evidenced),
            });
        }
        let (rows, next) = page.finish(list, |i| vec![i.indicator_id.clone()]);
        out.rows = rows;
        out.next_page_token = next;
        Ok(out)
    }
}
