//! Calibration and assessment administration: evaluation period locks, organisation ratings,
//! calibration groups, the versioned distribution-curve rule sets, calibration exceptions,
//! setting a unit's results, the objection window setting and finalising expired results.
//!
//! **Calibration group.** The group of a unit for an evaluation period is every approved SKP
//! covering part of the period whose recorded assessor holds a definitive post in the unit on the
//! SKP's last day in the period: a unit leader's team is calibrated in the unit; the leaders of
//! sub-units (rated by the leader of the parent unit) are calibrated with the parent unit.
//!
//! **Setting results** locks the unit row, then every member's SKP row in id order (rating locks
//! only the SKP row, so no lock cycle), recomputes the report under those locks and sets every
//! rated member in one transaction, with one audit entry and one `result.set` event each.
//!
//! **FINAL on window expiry** happens twice over: readers see a set result whose window passed
//! without objection as FINAL at once (computed), and [`Store::finalize_expired`] (run by the
//! `FinalizeExpiredResults` RPC and by a background sweeper on every replica) writes it down,
//! one evaluation per transaction under the SKP's row lock with a conditional update, so several
//! replicas sweeping at once finalise each result exactly once.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::prelude::Expr;
use sea_orm::sea_query::{Alias, DynIden, ExprTrait, IntoIden, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    FromQueryResult, IdenStatic, Iterable, QueryFilter, QueryOrder, QueryResult, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::assessment::{
    EVALUATION_RESOURCE, EvaluationDoc, EvaluationPeriodRow, EvaluationRow, effective, find_period,
    load_docs, objection_of, state_of,
};
use super::assignments::covers_in;
use super::audit::{Actor, Change};
use super::entities::{
    agency, assessment_setting, assignment, calibration_exception, curve_rule_set,
    evaluation_period_lock, org_rating, performance_period, skp, skp_evaluation, unit,
};
use super::idempotency::{Claim, claim};
use super::outbox::Event;
use super::skp::SkpRow;
use super::sql::{Sql, approved_overlapping, count, effective_state, same_period_by_employee};
use super::{Store, find_or_not_found, lock_row, new_id};
use crate::domain::assessment::{self as rules, Action, DEFAULT_OBJECTION_DAYS, State};
use crate::domain::curve::{self, Breach, Distribution, OrgRating, RuleSet};
use crate::domain::org::TimeZone;
use crate::domain::rating::{self, Predikat};
use crate::domain::report::GroupCounts;
use crate::error::{Error, Result};
use crate::pagination::Page;

pub use calibration_exception::Model as ExceptionRow;
pub use evaluation_period_lock::Model as LockRow;
pub use org_rating::Model as OrgRatingRow;

/// Label of the built-in rule set's creator.
pub const BUILT_IN: &str = "built-in";
/// Scope key of the installation-wide settings row.
const GLOBAL_SCOPE: &str = "*";

/// A rule-set version as stored.
#[derive(Debug, Clone)]
pub struct StoredRuleSet {
    /// The rules.
    pub rules: RuleSet,
    /// Who added it ([`BUILT_IN`] for the default).
    pub created_by: String,
    /// When it was added (`None` for the default before any version was added).
    pub created_at: Option<DateTime<Utc>>,
    /// True for the version in use.
    pub current: bool,
}

/// A unit seen in an evaluation period, as calls about the unit in that period authorize.
#[derive(Debug, Clone)]
pub struct UnitInPeriod {
    /// The evaluation period.
    pub period: EvaluationPeriodRow,
    /// The unit's leader on the period's last day (employee id), if the unit has one.
    pub leader: Option<String>,
}

/// One member of a calibration group.
#[derive(Debug, Clone)]
pub struct Member {
    /// The SKP.
    pub skp_id: String,
    /// Its employee.
    pub employee_id: String,
    /// Its recorded assessor.
    pub assessor_id: Option<String>,
    /// Employee name.
    pub name: String,
    /// The stored evaluation, if any.
    pub evaluation_id: Option<String>,
    /// Effective state.
    pub state: State,
    /// Predikat when rated.
    pub predikat: Option<Predikat>,
}

/// Why a unit's results cannot be set now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocker {
    /// Stable reason.
    pub reason: &'static str,
    /// In words.
    pub message: String,
}

/// A breach as stored with an exception.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreachRecord {
    /// The rule.
    pub rule: curve::Constraint,
    /// People counted.
    pub actual: u32,
    /// Head-count bound.
    pub bound: u32,
    /// People to move.
    pub excess: u32,
    /// In words.
    pub description: String,
}

/// A group's counts checked against the curve of its organisation rating.
#[derive(Debug, Clone)]
pub struct Check {
    /// The unit.
    pub unit_id: String,
    /// The evaluation period.
    pub period: EvaluationPeriodRow,
    /// The unit's organisation rating.
    pub org_rating: Option<OrgRating>,
    /// The rule set checked against.
    pub rule_set_version: String,
    /// Members, unrated members and the distribution of the rated ones.
    pub counts: GroupCounts,
    /// Broken rules with their descriptions.
    pub breaches: Vec<BreachRecord>,
    /// No blocking rule broken.
    pub conforms: bool,
    /// Exception matching this distribution, if any.
    pub exception: Option<ExceptionRow>,
}

/// The check of a group with its members, and what keeps its results from being set.
#[derive(Debug, Clone)]
pub struct Report {
    /// The check of the members' counts.
    pub check: Check,
    /// The members, by name.
    pub members: Vec<Member>,
    /// Why nothing can be set now (empty: settable).
    pub blockers: Vec<Blocker>,
}

/// Effective assessment settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The agency, or `None` for the installation.
    pub agency_id: Option<String>,
    /// Objection window in days.
    pub objection_window_days: u32,
    /// DEFAULT, GLOBAL or AGENCY.
    pub source: &'static str,
    /// Stored row at the asked level, if any (etag and time).
    pub row: Option<assessment_setting::Model>,
}

fn dist_json(d: &Distribution) -> String {
    json!([
        d.sangat_baik,
        d.baik,
        d.butuh_perbaikan,
        d.kurang,
        d.sangat_kurang
    ])
    .to_string()
}

/// The distribution stored with an exception.
pub fn dist_of_json(s: &str) -> Distribution {
    let v: Vec<u32> = serde_json::from_str(s).unwrap_or_default();
    let at = |i: usize| v.get(i).copied().unwrap_or(0);
    Distribution {
        sangat_baik: at(0),
        baik: at(1),
        butuh_perbaikan: at(2),
        kurang: at(3),
        sangat_kurang: at(4),
    }
}

/// The breaches stored with an exception.
pub fn breaches_of_json(s: &str) -> Vec<BreachRecord> {
    serde_json::from_str(s).unwrap_or_default()
}

fn record(b: &Breach, n: u32) -> BreachRecord {
    BreachRecord {
        rule: b.constraint.clone(),
        actual: b.actual,
        bound: b.bound,
        excess: b.excess,
        description: rules::describe_breach(b, n),
    }
}

fn rank(position_type: &str) -> u8 {
    match position_type {
        "JPT" => 0,
        "ADMINISTRATOR" => 1,
        "PENGAWAS" => 2,
        "JF" => 3,
        _ => 4,
    }
}

/// The leader of a unit on a day: among the definitive posts of the unit on that day, the holder
/// whose superior is not posted in the unit (or who has none); with several, the highest post
/// type (JPT, Administrator, Pengawas, JF, Pelaksana), then the smallest employee id.
///
/// The database finds the candidates (an anti-join of the unit's posts with themselves: one
/// row for a unit with one head, where reading every post of a unit of 1,000 employees handed
/// 1,000 rows to the service for each calibration read); the service picks among them.
pub(crate) async fn unit_leader_on<C: ConnectionTrait>(
    db: &C,
    unit_id: &str,
    d: NaiveDate,
) -> Result<Option<String>> {
    use assignment::Column as A;
    // The unit's definitive posts on `d`, of the assignments named `t`.
    let posted = |t: DynIden| {
        Condition::all()
            .add(Expr::col((t.clone(), A::UnitId)).eq(unit_id))
            .add(Expr::col((t.clone(), A::Kind)).eq("DEFINITIF"))
            .add(covers_in(t, d))
    };
    let b = Alias::new("b");
    let superior_posted = Query::select()
        .expr(Expr::val(1))
        .from_as(assignment::Entity, b.clone())
        .and_where(
            Expr::col((b.clone(), A::EmployeeId))
                .equals((assignment::Entity, A::SuperiorEmployeeId)),
        )
        .cond_where(posted(b.into_iden()))
        .to_owned();
    let candidates = Query::select()
        .columns([
            (assignment::Entity, A::EmployeeId),
            (assignment::Entity, A::PositionType),
        ])
        .from(assignment::Entity)
        .cond_where(posted(assignment::Entity.into_iden()))
        .and_where(Expr::exists(superior_posted).not())
        .to_owned();
    let mut best: Option<(u8, String)> = None;
    for r in db.query_all(&candidates).await? {
        let id: String = r.try_get("", "employee_id")?;
        let key = (rank(&r.try_get::<String>("", "position_type")?), id);
        if best.as_ref().is_none_or(|b| key < *b) {
            best = Some(key);
        }
    }
    Ok(best.map(|(_, id)| id))
}

/// The condition that SKP `s` belongs to the calibration group of `unit_id` in `ep` (see the
/// module documentation): approved, overlapping the period, and its assessor holds a definitive
/// post in the unit on the SKP's last day in the period. The `IN` list (the unit's posts during
/// the period, which the day's post implies) lets the planner start from the assessors' SKP
/// (`ix_skps_assessor`) instead of every SKP of the period; the period is compared in the form
/// no index serves, because SQLite without statistics would otherwise prefer the period index
/// and scan the whole province's SKPs for a group of a few hundred (`EXPLAIN QUERY PLAN`).
fn in_group(q: &mut Sql, unit_id: &str, ep: &EvaluationPeriodRow) -> String {
    let period = same_period_by_employee(q, ep);
    let approved = approved_overlapping(q, ep, &period);
    let (unit, start, end) = (q.p(unit_id), q.p(ep.start_date), q.p(ep.end_date));
    let day = format!("CASE WHEN s.end_date < {end} THEN s.end_date ELSE {end} END");
    format!(
        "{approved} \
         AND s.assessor_id IN (SELECT a.employee_id FROM assignments a \
           WHERE a.unit_id = {unit} AND a.kind = 'DEFINITIF' AND a.start_date <= {end} \
           AND (a.end_date IS NULL OR a.end_date >= {start})) \
         AND EXISTS (SELECT 1 FROM assignments a \
           WHERE a.unit_id = {unit} AND a.employee_id = s.assessor_id AND a.kind = 'DEFINITIF' \
           AND a.start_date <= {day} AND (a.end_date IS NULL OR a.end_date >= {day}))"
    )
}

/// A member's effective state and predikat from the SQL state (`NONE`: no evaluation, which is
/// TERBUKA) and the stored predikat (none while TERBUKA).
fn member_state(st: &str, predikat: Option<String>) -> Result<(State, Option<Predikat>)> {
    let state = match st {
        "NONE" => State::Terbuka,
        s => State::parse(s)
            .ok_or_else(|| Error::Internal(format!("evaluation has unknown state {s}")))?,
    };
    let predikat = match state {
        State::Terbuka => None,
        _ => predikat.as_deref().and_then(Predikat::parse),
    };
    Ok((state, predikat))
}

/// The counts of the calibration group of a unit in an evaluation period, grouped in the
/// database (no member is loaded).
pub(crate) async fn group_counts<C: ConnectionTrait>(
    db: &C,
    unit_id: &str,
    ep: &EvaluationPeriodRow,
    now: DateTime<Utc>,
) -> Result<GroupCounts> {
    let mut by_unit = groups_counts(db, &[unit_id], ep, now).await?;
    Ok(by_unit.remove(unit_id).unwrap_or_default())
}

/// The counts of the calibration groups of several units in an evaluation period, in one
/// statement grouped by unit (a unit whose group is empty has no entry).
///
/// The same membership as [`in_group`], with the unit a column: the `IN` list of the units'
/// posts during the period leads to their assessors' SKP (`ix_skps_assessor`), and each SKP is
/// joined to its assessor's definitive post on its last day in the period, whose unit it is
/// counted in. An employee holds at most one definitive post on a day (assignments of one kind
/// never overlap), so no SKP is counted twice. A join through a derived table of the units'
/// assessors instead (as `SELECT DISTINCT`) was planned by PostgreSQL, for the prepared
/// statement, as a nested loop over every SKP of the province per assessor (180 ms at 10,000
/// employees, against 5-9 ms for this form).
pub(crate) async fn groups_counts<C: ConnectionTrait>(
    db: &C,
    unit_ids: &[&str],
    ep: &EvaluationPeriodRow,
    now: DateTime<Utc>,
) -> Result<HashMap<String, GroupCounts>> {
    let mut by_unit: HashMap<String, GroupCounts> = HashMap::new();
    if unit_ids.is_empty() {
        return Ok(by_unit);
    }
    let mut q = Sql::of(db);
    let st = effective_state(&mut q, now);
    let epp = q.p(ep.id.clone());
    let period = same_period_by_employee(&mut q, ep);
    let approved = approved_overlapping(&mut q, ep, &period);
    let units = |q: &mut Sql| {
        unit_ids
            .iter()
            .map(|u| q.p(*u))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (posted, during) = (units(&mut q), units(&mut q));
    let (start, end) = (q.p(ep.start_date), q.p(ep.end_date));
    let day = format!("CASE WHEN s.end_date < {end} THEN s.end_date ELSE {end} END");
    let sql = format!(
        "SELECT a.unit_id AS unit, {st} AS st, e.predikat AS predikat, COUNT(*) AS n \
         FROM skps s \
         JOIN assignments a ON a.employee_id = s.assessor_id AND a.unit_id IN ({posted}) \
           AND a.kind = 'DEFINITIF' AND a.start_date <= {day} \
           AND (a.end_date IS NULL OR a.end_date >= {day}) \
         LEFT JOIN skp_evaluations e ON e.skp_id = s.id AND e.evaluation_period_id = {epp} \
         WHERE {approved} \
         AND s.assessor_id IN (SELECT p.employee_id FROM assignments p \
           WHERE p.unit_id IN ({during}) AND p.kind = 'DEFINITIF' AND p.start_date <= {end} \
           AND (p.end_date IS NULL OR p.end_date >= {start})) \
         GROUP BY 1, 2, 3"
    );
    for r in db.query_all_raw(q.statement(sql)).await? {
        let unit: String = r.try_get("", "unit")?;
        let st: String = r.try_get("", "st")?;
        let (state, predikat) = member_state(&st, r.try_get("", "predikat")?)?;
        by_unit
            .entry(unit)
            .or_default()
            .add(state, predikat, count(&r, "n")?);
    }
    Ok(by_unit)
}

/// The members of the calibration group of a unit in an evaluation period, in SKP id order.
pub(crate) async fn group<C: ConnectionTrait>(
    db: &C,
    unit_id: &str,
    ep: &EvaluationPeriodRow,
    now: DateTime<Utc>,
) -> Result<Vec<Member>> {
    group_where(db, unit_id, ep, now, &MemberFilter::default()).await
}

/// Which members of a calibration group a listing reads, decided in SQL.
#[derive(Debug, Default)]
struct MemberFilter {
    /// Only members in one of these effective states (`None`: any).
    states: Option<Vec<State>>,
    /// Only SKP ids after this one (the page token's key).
    after: Option<String>,
    /// At most this many members.
    limit: Option<u64>,
}

/// The effective states a listing shows: the one asked for (any when `None`), and only set
/// results when `set_only`; `None` when every state is shown. An empty list shows nothing.
fn listed_states(state: Option<State>, set_only: bool) -> Option<Vec<State>> {
    if state.is_none() && !set_only {
        return None;
    }
    Some(
        State::ALL
            .into_iter()
            .filter(|s| state.is_none_or(|x| x == *s) && (!set_only || s.is_set()))
            .collect(),
    )
}

/// The members of a unit's calibration group that `f` selects, in SKP id order.
async fn group_where<C: ConnectionTrait>(
    db: &C,
    unit_id: &str,
    ep: &EvaluationPeriodRow,
    now: DateTime<Utc>,
    f: &MemberFilter,
) -> Result<Vec<Member>> {
    group_query(db, unit_id, ep, now, f, "", |_, m| Ok(m)).await
}

/// The members of a unit's calibration group that `f` selects, in SKP id order, each with its
/// stored SKP and evaluation read in the same statement (a page of evaluations: no second
/// and third statement by id).
async fn group_page<C: ConnectionTrait>(
    db: &C,
    unit_id: &str,
    ep: &EvaluationPeriodRow,
    now: DateTime<Utc>,
    f: &MemberFilter,
) -> Result<Vec<(Member, SkpRow, Option<EvaluationRow>)>> {
    // Every column of both tables under its prefix, listed once per process.
    static COLUMNS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        skp::Column::iter()
            .map(|c| format!(", s.{0} AS s_{0}", c.as_str()))
            .chain(skp_evaluation::Column::iter().map(|c| format!(", e.{0} AS e_{0}", c.as_str())))
            .collect()
    });
    group_query(db, unit_id, ep, now, f, &COLUMNS, |r, m| {
        let s = SkpRow::from_query_result(r, "s_")?;
        let e = match m.evaluation_id {
            Some(_) => Some(EvaluationRow::from_query_result(r, "e_")?),
            None => None,
        };
        Ok((m, s, e))
    })
    .await
}

/// The members of a unit's calibration group that `f` selects, in SKP id order, with the
/// `extra` columns of `skps s` and `skp_evaluations e` (each starting with a comma) that `read`
/// turns, with the member, into the result.
async fn group_query<C: ConnectionTrait, T>(
    db: &C,
    unit_id: &str,
    ep: &EvaluationPeriodRow,
    now: DateTime<Utc>,
    f: &MemberFilter,
    extra: &str,
    read: impl Fn(&QueryResult, Member) -> Result<T>,
) -> Result<Vec<T>> {
    let mut q = Sql::of(db);
    let st = effective_state(&mut q, now);
    let epp = q.p(ep.id.clone());
    let mut cond = in_group(&mut q, unit_id, ep);
    if let Some(states) = &f.states {
        // The SQL state of a member without an evaluation row is NONE, which is TERBUKA.
        let mut texts: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
        if states.contains(&State::Terbuka) {
            texts.push("NONE");
        }
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let st2 = effective_state(&mut q, now);
        let list: Vec<String> = texts.into_iter().map(|t| q.p(t)).collect();
        cond.push_str(&format!(" AND ({st2}) IN ({})", list.join(", ")));
    }
    if let Some(after) = &f.after {
        cond.push_str(&format!(" AND s.id > {}", q.p(after.clone())));
    }
    let limit = match f.limit {
        Some(n) => format!(" LIMIT {}", q.p(i64::try_from(n).unwrap_or(i64::MAX))),
        None => String::new(),
    };
    let sql = format!(
        "SELECT s.id AS sid, s.employee_id AS emp, s.assessor_id AS aid, m.name AS name, \
           e.id AS eid, {st} AS st, e.predikat AS predikat{extra} \
         FROM skps s \
         LEFT JOIN employees m ON m.id = s.employee_id \
         LEFT JOIN skp_evaluations e ON e.skp_id = s.id AND e.evaluation_period_id = {epp} \
         WHERE {cond} ORDER BY s.id{limit}"
    );
    let rows = db.query_all_raw(q.statement(sql)).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let st: String = r.try_get("", "st")?;
        let (state, predikat) = member_state(&st, r.try_get("", "predikat")?)?;
        let name: Option<String> = r.try_get("", "name")?;
        let member = Member {
            skp_id: r.try_get("", "sid")?,
            employee_id: r.try_get("", "emp")?,
            assessor_id: r.try_get("", "aid")?,
            name: name.unwrap_or_default(),
            evaluation_id: r.try_get("", "eid")?,
            state,
            predikat,
        };
        out.push(read(&r, member)?);
    }
    Ok(out)
}

/// The stored evaluations of these ids.
async fn evaluation_rows<C: ConnectionTrait>(
    db: &C,
    ids: Vec<String>,
) -> Result<HashMap<String, EvaluationRow>> {
    let mut rows = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        for r in skp_evaluation::Entity::find()
            .filter(skp_evaluation::Column::Id.is_in(chunk.to_vec()))
            .all(db)
            .await?
        {
            rows.insert(r.id.clone(), r);
        }
    }
    Ok(rows)
}

/// The stored SKP and evaluation of each member, in the members' order.
async fn member_rows<C: ConnectionTrait>(
    db: &C,
    members: &[&Member],
) -> Result<Vec<(SkpRow, Option<EvaluationRow>)>> {
    let mut skps: HashMap<String, SkpRow> = HashMap::with_capacity(members.len());
    for chunk in members.chunks(500) {
        let ids: Vec<String> = chunk.iter().map(|m| m.skp_id.clone()).collect();
        for s in skp::Entity::find()
            .filter(skp::Column::Id.is_in(ids))
            .all(db)
            .await?
        {
            skps.insert(s.id.clone(), s);
        }
    }
    let mut rows = evaluation_rows(
        db,
        members
            .iter()
            .filter_map(|m| m.evaluation_id.clone())
            .collect(),
    )
    .await?;
    members
        .iter()
        .map(|m| {
            let s = skps
                .remove(&m.skp_id)
                .ok_or_else(|| Error::Internal(format!("SKP {} vanished", m.skp_id)))?;
            Ok((s, m.evaluation_id.as_ref().and_then(|id| rows.remove(id))))
        })
        .collect()
}

/// The rule set in use: the newest stored version, or the built-in default.
pub(crate) async fn current_rule_set<C: ConnectionTrait>(db: &C) -> Result<StoredRuleSet> {
    let row = curve_rule_set::Entity::find()
        .order_by_desc(curve_rule_set::Column::Seq)
        .one(db)
        .await?;
    match row {
        Some(r) => Ok(StoredRuleSet {
            rules: serde_json::from_str(&r.definition).map_err(|e| {
                Error::Internal(format!("rule set {} is unreadable: {e}", r.version))
            })?,
            created_by: r.created_by,
            created_at: Some(r.created_at),
            current: true,
        }),
        None => Ok(StoredRuleSet {
            rules: RuleSet::default_2022(),
            created_by: BUILT_IN.to_owned(),
            created_at: None,
            current: true,
        }),
    }
}

async fn org_rating_of<C: ConnectionTrait>(
    db: &C,
    unit_id: &str,
    ep_id: &str,
) -> Result<Option<OrgRatingRow>> {
    Ok(org_rating::Entity::find()
        .filter(org_rating::Column::UnitId.eq(unit_id))
        .filter(org_rating::Column::EvaluationPeriodId.eq(ep_id))
        .one(db)
        .await?)
}

/// Checks a group's counts against the curve of its organisation rating in `rules`.
async fn check_of<C: ConnectionTrait>(
    db: &C,
    unit_id: &str,
    ep: &EvaluationPeriodRow,
    counts: GroupCounts,
    rules: &RuleSet,
) -> Result<Check> {
    let org = org_rating_of(db, unit_id, &ep.id)
        .await?
        .and_then(|r| OrgRating::parse(&r.rating));
    let mut check = check_counts(unit_id, ep, counts, org, rules);
    if check.wants_exception() {
        let recorded = exceptions_of(db, &[unit_id], &ep.id).await?;
        check.exception = exception_for(&check, &recorded);
    }
    Ok(check)
}

/// Checks a group's counts against the curve of its organisation rating `org` in `rules`,
/// without looking for an exception (see [`Check::wants_exception`]).
pub(crate) fn check_counts(
    unit_id: &str,
    ep: &EvaluationPeriodRow,
    counts: GroupCounts,
    org: Option<OrgRating>,
    rules: &RuleSet,
) -> Check {
    let distribution = counts.distribution;
    let n = distribution.total();
    let breaches: Vec<Breach> = match org.and_then(|o| rules.curve(o)) {
        Some(c) => curve::check(c, &distribution),
        None => Vec::new(),
    };
    Check {
        unit_id: unit_id.to_owned(),
        period: ep.clone(),
        org_rating: org,
        rule_set_version: rules.version.clone(),
        counts,
        conforms: curve::conforms(&breaches),
        breaches: breaches.iter().map(|b| record(b, n)).collect(),
        exception: None,
    }
}

impl Check {
    /// The group has an organisation rating and breaks a blocking rule of its curve, so only a
    /// recorded exception lets its results be set.
    pub(crate) fn wants_exception(&self) -> bool {
        self.org_rating.is_some() && !self.conforms
    }
}

/// The exception among `recorded` (the unit's in the period) that excepts exactly this check:
/// the same rule set, organisation rating and distribution; the newest if several.
pub(crate) fn exception_for(check: &Check, recorded: &[ExceptionRow]) -> Option<ExceptionRow> {
    let org = check.org_rating?;
    let dist = dist_json(&check.counts.distribution);
    recorded
        .iter()
        .filter(|x| {
            x.unit_id == check.unit_id
                && x.evaluation_period_id == check.period.id
                && x.rule_set_version == check.rule_set_version
                && x.org_rating == org.as_str()
                && x.distribution == dist
        })
        .max_by(|a, b| a.id.cmp(&b.id))
        .cloned()
}

/// The calibration exceptions recorded for these units in an evaluation period.
pub(crate) async fn exceptions_of<C: ConnectionTrait>(
    db: &C,
    unit_ids: &[&str],
    ep_id: &str,
) -> Result<Vec<ExceptionRow>> {
    Ok(calibration_exception::Entity::find()
        .filter(calibration_exception::Column::UnitId.is_in(unit_ids.iter().copied()))
        .filter(calibration_exception::Column::EvaluationPeriodId.eq(ep_id))
        .all(db)
        .await?)
}

/// Checks a group against the curve from its counts alone (no member is loaded).
pub(crate) async fn build_check<C: ConnectionTrait>(
    db: &C,
    unit_id: &str,
    ep: &EvaluationPeriodRow,
    now: DateTime<Utc>,
    rules: &RuleSet,
) -> Result<Check> {
    let counts = group_counts(db, unit_id, ep, now).await?;
    check_of(db, unit_id, ep, counts, rules).await
}

/// Checks a group against the curve of its organisation rating, with its members and blockers.
async fn build_report<C: ConnectionTrait>(
    db: &C,
    unit_id: &str,
    ep: &EvaluationPeriodRow,
    now: DateTime<Utc>,
) -> Result<Report> {
    let mut members = group(db, unit_id, ep, now).await?;
    members.sort_by(|a, b| (&a.name, &a.skp_id).cmp(&(&b.name, &b.skp_id)));
    let mut counts = GroupCounts::default();
    for m in &members {
        counts.add(m.state, m.predikat, 1);
    }
    let rules = current_rule_set(db).await?.rules;
    let check = check_of(db, unit_id, ep, counts, &rules).await?;
    let blockers = blockers(&check, &members);
    Ok(Report {
        check,
        members,
        blockers,
    })
}

/// Why a group's results cannot be set now.
fn blockers(check: &Check, members: &[Member]) -> Vec<Blocker> {
    let c = &check.counts;
    let mut blockers = Vec::new();
    let nothing_to_set = c.head_count > 0 && c.unrated == 0 && c.rated_not_set == 0;
    if nothing_to_set {
        blockers.push(Blocker {
            reason: "NOTHING_TO_SET",
            message: "every result of the group is already set".into(),
        });
    }
    if c.head_count == 0 {
        blockers.push(Blocker {
            reason: "EMPTY_GROUP",
            message: "no approved SKP in this period is rated by an assessor posted in the unit"
                .into(),
        });
    }
    if check.org_rating.is_none() {
        blockers.push(Blocker {
            reason: "ORG_RATING_MISSING",
            message: "the unit has no organisation rating for this period; set it first (SetOrganizationRating)".into(),
        });
    }
    if c.unrated > 0 {
        let who: Vec<&str> = members
            .iter()
            .filter(|m| m.predikat.is_none())
            .map(|m| m.name.as_str())
            .collect();
        blockers.push(Blocker {
            reason: "UNIT_NOT_FULLY_RATED",
            message: format!(
                "{} of {} members are not rated yet: {}",
                c.unrated,
                c.head_count,
                who.join(", ")
            ),
        });
    }
    if !check.conforms && check.exception.is_none() && !nothing_to_set {
        let broken: Vec<&str> = check
            .breaches
            .iter()
            .filter(|b| b.rule.blocking)
            .map(|b| b.description.as_str())
            .collect();
        blockers.push(Blocker {
            reason: "CALIBRATION_BREACH",
            message: format!(
                "the distribution breaks the curve of {} ({}): {}; change ratings or have an administrator record an exception",
                check.org_rating.map_or("", |o| o.as_str()),
                check.rule_set_version,
                broken.join("; ")
            ),
        });
    }
    blockers
}

/// Time zone of the agency of an evaluation period.
async fn agency_of_period<C: ConnectionTrait>(
    db: &C,
    ep: &EvaluationPeriodRow,
) -> Result<(String, TimeZone)> {
    let p =
        find_or_not_found::<performance_period::Entity, _>(db, "PerformancePeriod", &ep.period_id)
            .await?;
    let a = find_or_not_found::<agency::Entity, _>(db, "Agency", &p.agency_id).await?;
    Ok((a.id, TimeZone::parse(&a.time_zone).unwrap_or(TimeZone::Wib)))
}

/// The objection window of an agency: its own setting, else the installation's, else 14 days.
async fn settings_for<C: ConnectionTrait>(db: &C, agency_id: Option<&str>) -> Result<Settings> {
    let own = match agency_id {
        Some(a) => {
            assessment_setting::Entity::find_by_id(a.to_owned())
                .one(db)
                .await?
        }
        None => None,
    };
    let global = assessment_setting::Entity::find_by_id(GLOBAL_SCOPE.to_owned())
        .one(db)
        .await?;
    let (days, source) = match (&own, &global) {
        (Some(o), _) => (o.objection_window_days, "AGENCY"),
        (None, Some(g)) => (g.objection_window_days, "GLOBAL"),
        (None, None) => (DEFAULT_OBJECTION_DAYS as i32, "DEFAULT"),
    };
    Ok(Settings {
        agency_id: agency_id.map(str::to_owned),
        objection_window_days: u32::try_from(days).unwrap_or(DEFAULT_OBJECTION_DAYS),
        source,
        row: if agency_id.is_some() { own } else { global },
    })
}

impl Store {
    /// Whether an evaluation period is locked (the stored lock row, if any).
    pub async fn get_period_lock(
        &self,
        ep_id: &str,
    ) -> Result<(EvaluationPeriodRow, Option<LockRow>)> {
        let ep = find_period(self.conn(), ep_id).await?;
        let lock = evaluation_period_lock::Entity::find_by_id(ep_id.to_owned())
            .one(self.conn())
            .await?;
        Ok((ep, lock))
    }

    /// The agency of an evaluation period.
    pub async fn agency_of_period(&self, ep_id: &str) -> Result<String> {
        let ep = find_period(self.conn(), ep_id).await?;
        Ok(agency_of_period(self.conn(), &ep).await?.0)
    }

    /// Locks or unlocks an evaluation period (idempotent on `request_id`: a retry does not undo
    /// a later change); a call that changes nothing records nothing.
    #[allow(clippy::too_many_arguments)]
    pub async fn set_period_lock(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        ep_id: &str,
        locked: bool,
        reason: String,
        request_id: &str,
        digest: &str,
    ) -> Result<LockRow> {
        let txn = self.begin_write().await?;
        let method = if locked {
            "LockEvaluationPeriod"
        } else {
            "UnlockEvaluationPeriod"
        };
        let ep = find_period(&txn, ep_id).await?;
        if let Claim::Replay(_) = claim(&txn, method, request_id, digest, ep_id).await? {
            txn.commit().await?;
            return Ok(self.get_period_lock(ep_id).await?.1.unwrap_or(LockRow {
                evaluation_period_id: ep_id.to_owned(),
                locked: false,
                reason: String::new(),
                changed_by: String::new(),
                version: 0,
                updated_at: now,
            }));
        }
        let cur = evaluation_period_lock::Entity::find_by_id(ep_id.to_owned())
            .one(&txn)
            .await?;
        if cur.as_ref().is_some_and(|c| c.locked == locked) || (cur.is_none() && !locked) {
            txn.commit().await?;
            return Ok(cur.unwrap_or(LockRow {
                evaluation_period_id: ep_id.to_owned(),
                locked: false,
                reason: String::new(),
                changed_by: String::new(),
                version: 0,
                updated_at: now,
            }));
        }
        match cur {
            Some(c) => {
                evaluation_period_lock::Entity::update_many()
                    .col_expr(evaluation_period_lock::Column::Locked, Expr::value(locked))
                    .col_expr(
                        evaluation_period_lock::Column::Reason,
                        Expr::value(reason.clone()),
                    )
                    .col_expr(
                        evaluation_period_lock::Column::ChangedBy,
                        Expr::value(actor.subject.clone()),
                    )
                    .col_expr(
                        evaluation_period_lock::Column::Version,
                        Expr::value(c.version + 1),
                    )
                    .col_expr(evaluation_period_lock::Column::UpdatedAt, Expr::value(now))
                    .filter(evaluation_period_lock::Column::EvaluationPeriodId.eq(ep_id))
                    .exec(&txn)
                    .await?;
            }
            None => {
                evaluation_period_lock::ActiveModel {
                    evaluation_period_id: Set(ep_id.to_owned()),
                    locked: Set(locked),
                    reason: Set(reason.clone()),
                    changed_by: Set(actor.subject.clone()),
                    version: Set(1),
                    updated_at: Set(now),
                }
                .insert(&txn)
                .await?;
            }
        }
        self.record(
            &txn,
            actor,
            Change {
                resource_type: "EvaluationPeriod",
                resource_id: ep_id,
                action: if locked { "lock" } else { "unlock" },
                detail: json!({"reason": reason, "deadline": ep.deadline}),
            },
        )
        .await?;
        txn.commit().await?;
        find_or_not_found::<evaluation_period_lock::Entity, _>(
            self.conn(),
            "EvaluationPeriodLock",
            ep_id,
        )
        .await
    }

    /// An evaluation period and a unit's leader on its last day (see [`unit_leader_on`]), for
    /// the calls about the unit in that period; NOT_FOUND when either does not exist.
    pub async fn unit_in_period(&self, unit_id: &str, ep_id: &str) -> Result<UnitInPeriod> {
        let period = find_period(self.conn(), ep_id).await?;
        find_or_not_found::<unit::Entity, _>(self.conn(), "Unit", unit_id).await?;
        let leader = unit_leader_on(self.conn(), unit_id, period.end_date).await?;
        Ok(UnitInPeriod { period, leader })
    }

    /// The organisation rating of a unit for an evaluation period.
    pub async fn get_org_rating(&self, unit_id: &str, ep_id: &str) -> Result<OrgRatingRow> {
        org_rating_of(self.conn(), unit_id, ep_id)
            .await?
            .ok_or_else(|| Error::not_found("OrganizationRating", format!("{unit_id}/{ep_id}")))
    }

    /// Sets a unit's organisation rating for an evaluation period (idempotent on `request_id`).
    /// Changing an existing rating needs its etag; it is refused once results are set.
    #[allow(clippy::too_many_arguments)]
    pub async fn set_org_rating(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        unit_id: &str,
        ep_id: &str,
        rating: OrgRating,
        reason: String,
        version: Option<i64>,
        request_id: &str,
        digest: &str,
    ) -> Result<OrgRatingRow> {
        let txn = self.begin_write().await?;
        if let Claim::Replay(_) =
            claim(&txn, "SetOrganizationRating", request_id, digest, unit_id).await?
        {
            txn.commit().await?;
            return self.get_org_rating(unit_id, ep_id).await;
        }
        if !lock_row(&txn, self.kind(), "units", unit_id).await? {
            return Err(Error::not_found("Unit", unit_id));
        }
        let u = find_or_not_found::<unit::Entity, _>(&txn, "Unit", unit_id).await?;
        let ep = find_period(&txn, ep_id).await?;
        let (agency_id, _) = agency_of_period(&txn, &ep).await?;
        if u.agency_id != agency_id {
            return Err(Error::precondition(
                "UNIT_OTHER_AGENCY",
                format!("units/{unit_id}"),
                "the unit belongs to another agency than the evaluation period",
            ));
        }
        let set = group_counts(&txn, unit_id, &ep, now).await?.set;
        if set > 0 {
            return Err(Error::precondition(
                "ORG_RATING_LOCKED",
                format!("units/{unit_id}"),
                format!(
                    "{set} result(s) of the unit are already set for this period; the organisation rating they were calibrated against cannot change"
                ),
            ));
        }
        let cur = org_rating_of(&txn, unit_id, ep_id).await?;
        let stale = match (&cur, version) {
            (Some(c), Some(v)) => c.version != v,
            (Some(_), None) => true,
            (None, Some(v)) => v != 0,
            (None, None) => false,
        };
        if stale {
            return Err(Error::Aborted {
                kind: "OrganizationRating",
                id: format!("{unit_id}/{ep_id}"),
            });
        }
        let previous = cur.as_ref().map(|c| c.rating.clone());
        let id = match cur {
            Some(c) => {
                org_rating::Entity::update_many()
                    .col_expr(org_rating::Column::Rating, Expr::value(rating.as_str()))
                    .col_expr(org_rating::Column::Reason, Expr::value(reason.clone()))
                    .col_expr(
                        org_rating::Column::SetBy,
                        Expr::value(actor.subject.clone()),
                    )
                    .col_expr(org_rating::Column::Version, Expr::value(c.version + 1))
                    .col_expr(org_rating::Column::UpdatedAt, Expr::value(now))
                    .filter(org_rating::Column::Id.eq(&c.id))
                    .exec(&txn)
                    .await?;
                c.id
            }
            None => {
                let id = new_id();
                org_rating::ActiveModel {
                    id: Set(id.clone()),
                    unit_id: Set(unit_id.to_owned()),
                    evaluation_period_id: Set(ep_id.to_owned()),
                    rating: Set(rating.as_str().to_owned()),
                    reason: Set(reason.clone()),
                    set_by: Set(actor.subject.clone()),
                    version: Set(1),
                    created_at: Set(now),
                    updated_at: Set(now),
                }
                .insert(&txn)
                .await?;
                id
            }
        };
        self.record(
            &txn,
            actor,
            Change {
                resource_type: "OrganizationRating",
                resource_id: &id,
                action: "set",
                detail: json!({"unit_id": unit_id, "evaluation_period_id": ep_id, "rating": rating.as_str(), "previous": previous, "reason": reason}),
            },
        )
        .await?;
        txn.commit().await?;
        self.get_org_rating(unit_id, ep_id).await
    }

    /// Checks a unit's group in evaluation period `ep` against the current curve of its
    /// organisation rating (the unit and the period were read by the caller, as
    /// [`Store::unit_in_period`] does).
    pub async fn check_calibration(
        &self,
        unit_id: &str,
        ep: &EvaluationPeriodRow,
        now: DateTime<Utc>,
    ) -> Result<Report> {
        build_report(self.conn(), unit_id, ep, now).await
    }

    /// Records an exception for the group's current distribution (idempotent on `request_id`);
    /// refused when the distribution breaks no blocking rule.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_exception(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        unit_id: &str,
        ep_id: &str,
        reason: String,
        request_id: &str,
        digest: &str,
    ) -> Result<ExceptionRow> {
        let txn = self.begin_write().await?;
        let id = new_id();
        if let Claim::Replay(existing) =
            claim(&txn, "RecordCalibrationException", request_id, digest, &id).await?
        {
            txn.commit().await?;
            return find_or_not_found::<calibration_exception::Entity, _>(
                self.conn(),
                "CalibrationException",
                &existing,
            )
            .await;
        }
        if !lock_row(&txn, self.kind(), "units", unit_id).await? {
            return Err(Error::not_found("Unit", unit_id));
        }
        let ep = find_period(&txn, ep_id).await?;
        let rules = current_rule_set(&txn).await?.rules;
        let report = build_check(&txn, unit_id, &ep, now, &rules).await?;
        let org = report.org_rating.ok_or_else(|| {
            Error::precondition(
                "ORG_RATING_MISSING",
                format!("units/{unit_id}"),
                "the unit has no organisation rating for this period",
            )
        })?;
        if report.conforms {
            return Err(Error::precondition(
                "CALIBRATION_CONFORMS",
                format!("units/{unit_id}"),
                "the distribution breaks no blocking rule; no exception is needed",
            ));
        }
        let breaches = serde_json::to_string(&report.breaches)
            .map_err(|e| Error::Internal(format!("breaches: {e}")))?;
        let row = calibration_exception::ActiveModel {
            id: Set(id.clone()),
            unit_id: Set(unit_id.to_owned()),
            evaluation_period_id: Set(ep_id.to_owned()),
            reason: Set(reason.clone()),
            rule_set_version: Set(report.rule_set_version.clone()),
            org_rating: Set(org.as_str().to_owned()),
            distribution: Set(dist_json(&report.counts.distribution)),
            breaches: Set(breaches),
            created_by: Set(actor.subject.clone()),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
        self.record(
            &txn,
            actor,
            Change {
                resource_type: "CalibrationException",
                resource_id: &id,
                action: "create",
                detail: json!({
                    "unit_id": unit_id, "evaluation_period_id": ep_id, "reason": reason,
                    "rule_set_version": report.rule_set_version, "org_rating": org.as_str(),
                    "distribution": dist_json(&report.counts.distribution),
                    "breaches": report.breaches.iter().map(|b| b.description.clone()).collect::<Vec<_>>(),
                }),
            },
        )
        .await?;
        txn.commit().await?;
        Ok(row)
    }

    /// Sets every rated result of a unit's group (idempotent on `request_id`): refused unless the
    /// unit has an organisation rating, every member is rated, and the distribution conforms to
    /// the current curve or an exception covers exactly this distribution. Each result records
    /// the rule-set version, the organisation rating, the exception and its objection deadline
    /// (the agency's window, counted in the agency's time zone from `now`).
    pub async fn set_unit_results(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        unit_id: &str,
        ep_id: &str,
        request_id: &str,
        digest: &str,
    ) -> Result<(Vec<EvaluationDoc>, Report)> {
        let txn = self.begin_write().await?;
        if let Claim::Replay(_) = claim(&txn, "SetUnitResults", request_id, digest, unit_id).await?
        {
            txn.commit().await?;
            let ep = find_period(self.conn(), ep_id).await?;
            let report = self.check_calibration(unit_id, &ep, now).await?;
            let docs = self.member_docs(&report, now, true).await?;
            return Ok((docs, report));
        }
        if !lock_row(&txn, self.kind(), "units", unit_id).await? {
            return Err(Error::not_found("Unit", unit_id));
        }
        let ep = find_period(&txn, ep_id).await?;
        for m in group(&txn, unit_id, &ep, now).await? {
            lock_row(&txn, self.kind(), "skps", &m.skp_id).await?;
        }
        let report = build_report(&txn, unit_id, &ep, now).await?;
        let check = &report.check;
        if let Some(first) = report.blockers.first() {
            let all: Vec<&str> = report.blockers.iter().map(|b| b.message.as_str()).collect();
            return Err(Error::precondition(
                first.reason,
                format!("units/{unit_id}"),
                all.join("; "),
            ));
        }
        let org = check
            .org_rating
            .ok_or_else(|| Error::Internal("settable report without org rating".into()))?;
        let (agency_id, tz) = agency_of_period(&txn, &ep).await?;
        let days = settings_for(&txn, Some(&agency_id))
            .await?
            .objection_window_days;
        let deadline = rating::objection_deadline(now, tz, days);
        let exception_id = check.exception.as_ref().map(|x| x.id.clone());
        let mut set_ids = Vec::new();
        let mut rows = evaluation_rows(
            &txn,
            report
                .members
                .iter()
                .filter(|m| m.state == State::Dinilai)
                .filter_map(|m| m.evaluation_id.clone())
                .collect(),
        )
        .await?;
        for m in &report.members {
            let Some(row) = m.evaluation_id.as_ref().and_then(|id| rows.remove(id)) else {
                continue;
            };
            if m.state != State::Dinilai {
                continue;
            }
            let row = &row;
            rules::step(state_of(row)?, Action::Set).map_err(|r| {
                Error::precondition(r.reason, format!("evaluations/{}", row.id), r.message)
            })?;
            let res = skp_evaluation::Entity::update_many()
                .col_expr(
                    skp_evaluation::Column::State,
                    Expr::value(State::Ditetapkan.as_str()),
                )
                .col_expr(
                    skp_evaluation::Column::RuleSetVersion,
                    Expr::value(check.rule_set_version.clone()),
                )
                .col_expr(skp_evaluation::Column::OrgRating, Expr::value(org.as_str()))
                .col_expr(
                    skp_evaluation::Column::CalibrationExceptionId,
                    Expr::value(exception_id.clone()),
                )
                .col_expr(skp_evaluation::Column::SetAt, Expr::value(now))
                .col_expr(
                    skp_evaluation::Column::ObjectionDeadline,
                    Expr::value(deadline),
                )
                .col_expr(
                    skp_evaluation::Column::Version,
                    Expr::col(skp_evaluation::Column::Version).add(1),
                )
                .col_expr(skp_evaluation::Column::UpdatedAt, Expr::value(now))
                .filter(skp_evaluation::Column::Id.eq(&row.id))
                .filter(skp_evaluation::Column::State.eq(State::Dinilai.as_str()))
                .exec(&txn)
                .await?;
            if res.rows_affected != 1 {
                return Err(Error::Aborted {
                    kind: "Evaluation",
                    id: row.id.clone(),
                });
            }
            let detail = json!({
                "from": State::Dinilai.as_str(), "to": State::Ditetapkan.as_str(),
                "unit_id": unit_id, "predikat": row.predikat,
                "results_rating": row.results_rating, "behaviour_rating": row.behaviour_rating,
                "rule_set_version": check.rule_set_version, "org_rating": org.as_str(),
                "calibration_exception_id": exception_id,
                "objection_deadline": deadline, "objection_window_days": days,
                "version": row.version + 1,
            });
            self.record(
                &txn,
                actor,
                Change {
                    resource_type: EVALUATION_RESOURCE,
                    resource_id: &row.id,
                    action: "set",
                    detail: detail.clone(),
                },
            )
            .await?;
            let mut data = detail;
            data["evaluation_id"] = json!(row.id);
            data["skp_id"] = json!(m.skp_id);
            data["employee_id"] = json!(m.employee_id);
            data["evaluation_period_id"] = json!(ep_id);
            data["set_time"] = json!(now);
            self.publish(
                &txn,
                actor,
                Event {
                    event_type: "result.set",
                    resource_type: EVALUATION_RESOURCE,
                    resource_id: &row.id,
                    data,
                },
            )
            .await?;
            set_ids.push(row.id.clone());
        }
        self.commit_with_events(txn).await?;
        let report = self.check_calibration(unit_id, &ep, now).await?;
        let docs = self
            .member_docs(&report, now, false)
            .await?
            .into_iter()
            .filter(|d| d.row.as_ref().is_some_and(|r| set_ids.contains(&r.id)))
            .collect();
        Ok((docs, report))
    }

    /// The evaluations of a report's members (only set ones when `set_only`).
    pub async fn member_docs(
        &self,
        report: &Report,
        now: DateTime<Utc>,
        set_only: bool,
    ) -> Result<Vec<EvaluationDoc>> {
        let members: Vec<&Member> = report
            .members
            .iter()
            .filter(|m| !set_only || m.state.is_set())
            .collect();
        let items = member_rows(self.conn(), &members)
            .await?
            .into_iter()
            .map(|(s, row)| (s, report.check.period.clone(), row))
            .collect();
        load_docs(self.conn(), Some(self.content_cache()), items, now).await
    }

    /// One page of the evaluations of a unit's calibration group in an evaluation period, in SKP
    /// id order: the group's members are filtered (by `state`, and to set results when
    /// `set_only`) and paged in SQL, and only the page's documents are loaded, so the cost
    /// follows the page size, not the group's.
    pub async fn list_unit_evaluations(
        &self,
        unit_id: &str,
        ep: &EvaluationPeriodRow,
        now: DateTime<Utc>,
        state: Option<State>,
        set_only: bool,
        page: &Page,
    ) -> Result<(Vec<EvaluationDoc>, String)> {
        let filter = MemberFilter {
            states: listed_states(state, set_only),
            after: page.after.as_ref().and_then(|k| k.first().cloned()),
            limit: Some(page.fetch_limit()),
        };
        let members = group_page(self.conn(), unit_id, ep, now, &filter).await?;
        let (members, next) = page.finish(members, |(m, _, _)| vec![m.skp_id.clone()]);
        let items = members
            .into_iter()
            .map(|(_, s, row)| (s, ep.clone(), row))
            .collect();
        Ok((
            load_docs(self.conn(), Some(self.content_cache()), items, now).await?,
            next,
        ))
    }

    /// Writes down FINAL for set results whose objection window passed without objection (at
    /// most `limit`, optionally of one agency). Safe to run on several replicas at once: each
    /// result is finalised in its own transaction under its SKP's row lock with a conditional
    /// update, so exactly one sweeper records it (one audit entry, one `result.final` event).
    pub async fn finalize_expired(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        agency_id: Option<&str>,
        limit: u64,
    ) -> Result<Vec<String>> {
        let candidates = expired_results(now, agency_id, limit)
            .all(self.conn())
            .await?;
        let mut done = Vec::new();
        for c in candidates {
            if let Some(id) = self.finalize_one(actor, now, &c, agency_id).await? {
                done.push(id);
            }
        }
        Ok(done)
    }

    async fn finalize_one(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        c: &EvaluationRow,
        agency_id: Option<&str>,
    ) -> Result<Option<String>> {
        let txn = self.begin_write().await?;
        if !lock_row(&txn, self.kind(), "skps", &c.skp_id).await? {
            return Ok(None);
        }
        let s = super::assessment::find_skp(&txn, &c.skp_id).await?;
        if agency_id.is_some_and(|a| a != s.agency_id) {
            return Ok(None);
        }
        let Some(row) = skp_evaluation::Entity::find_by_id(c.id.clone())
            .one(&txn)
            .await?
        else {
            return Ok(None);
        };
        let obj = objection_of(&txn, &row.id).await?;
        let (state, final_at, _) = effective(&row, obj.as_ref(), now)?;
        let (true, Some(final_at)) = (
            state == State::Final && state_of(&row)? == State::Ditetapkan,
            final_at,
        ) else {
            return Ok(None);
        };
        let res = skp_evaluation::Entity::update_many()
            .col_expr(
                skp_evaluation::Column::State,
                Expr::value(State::Final.as_str()),
            )
            .col_expr(skp_evaluation::Column::FinalAt, Expr::value(final_at))
            .col_expr(
                skp_evaluation::Column::FinalReason,
                Expr::value("WINDOW_PASSED"),
            )
            .col_expr(
                skp_evaluation::Column::Version,
                Expr::col(skp_evaluation::Column::Version).add(1),
            )
            .col_expr(skp_evaluation::Column::UpdatedAt, Expr::value(now))
            .filter(skp_evaluation::Column::Id.eq(&row.id))
            .filter(skp_evaluation::Column::State.eq(State::Ditetapkan.as_str()))
            .exec(&txn)
            .await?;
        if res.rows_affected != 1 {
            return Ok(None);
        }
        self.record(
            &txn,
            actor,
            Change {
                resource_type: EVALUATION_RESOURCE,
                resource_id: &row.id,
                action: "finalize",
                detail: json!({
                    "from": State::Ditetapkan.as_str(), "to": State::Final.as_str(),
                    "final_reason": "WINDOW_PASSED", "final_time": final_at,
                    "objection_deadline": row.objection_deadline, "version": row.version + 1,
                }),
            },
        )
        .await?;
        self.publish(
            &txn,
            actor,
            Event {
                event_type: "result.final",
                resource_type: EVALUATION_RESOURCE,
                resource_id: &row.id,
                data: json!({
                    "evaluation_id": row.id, "skp_id": s.id, "employee_id": s.employee_id,
                    "evaluation_period_id": row.evaluation_period_id, "predikat": row.predikat,
                    "results_rating": row.results_rating, "behaviour_rating": row.behaviour_rating,
                    "final_reason": "WINDOW_PASSED", "final_time": final_at,
                }),
            },
        )
        .await?;
        // Follow-up (development plan, flags) in the same transaction as FINAL.
        let predikat = row.predikat.as_deref().and_then(Predikat::parse);
        self.follow_up_final(&txn, actor, now, &s, &row, predikat)
            .await?;
        self.commit_with_events(txn).await?;
        Ok(Some(row.id))
    }

    /// Effective assessment settings of an agency (or of the installation when `None`).
    pub async fn get_settings(&self, agency_id: Option<&str>) -> Result<Settings> {
        if let Some(a) = agency_id {
            find_or_not_found::<agency::Entity, _>(self.conn(), "Agency", a).await?;
        }
        settings_for(self.conn(), agency_id).await
    }

    /// Changes the objection window of an agency (or of the installation) if `version` is the
    /// stored version at that level (0 when none is stored).
    pub async fn update_settings(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        agency_id: Option<&str>,
        version: i64,
        days: u32,
    ) -> Result<Settings> {
        let txn = self.begin_write().await?;
        if let Some(a) = agency_id
            && !lock_row(&txn, self.kind(), "agencies", a).await?
        {
            return Err(Error::not_found("Agency", a));
        }
        let scope = agency_id.unwrap_or(GLOBAL_SCOPE).to_owned();
        let cur = assessment_setting::Entity::find_by_id(scope.clone())
            .one(&txn)
            .await?;
        if cur.as_ref().map_or(0, |c| c.version) != version {
            return Err(Error::Aborted {
                kind: "AssessmentSettings",
                id: scope,
            });
        }
        let days_i = i32::try_from(days).unwrap_or(i32::MAX);
        match &cur {
            Some(c) => {
                assessment_setting::Entity::update_many()
                    .col_expr(
                        assessment_setting::Column::ObjectionWindowDays,
                        Expr::value(days_i),
                    )
                    .col_expr(
                        assessment_setting::Column::Version,
                        Expr::value(c.version + 1),
                    )
                    .col_expr(assessment_setting::Column::UpdatedAt, Expr::value(now))
                    .filter(assessment_setting::Column::Scope.eq(&scope))
                    .exec(&txn)
                    .await?;
            }
            None => {
                assessment_setting::ActiveModel {
                    scope: Set(scope.clone()),
                    objection_window_days: Set(days_i),
                    version: Set(1),
                    updated_at: Set(now),
                }
                .insert(&txn)
                .await?;
            }
        }
        self.record(
            &txn,
            actor,
            Change {
                resource_type: "AssessmentSettings",
                resource_id: &scope,
                action: "update",
                detail: json!({"objection_window_days": days, "previous": cur.map(|c| c.objection_window_days)}),
            },
        )
        .await?;
        txn.commit().await?;
        settings_for(self.conn(), agency_id).await
    }

    /// Adds a rule-set version (validated by the caller); it is current from now on. The built-in
    /// default is stored first when nothing is stored yet, so the order of versions is kept.
    pub async fn create_rule_set(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        rules: RuleSet,
        request_id: &str,
        digest: &str,
    ) -> Result<StoredRuleSet> {
        let txn = self.begin_write().await?;
        if let Claim::Replay(version) = claim(
            &txn,
            "CreateCurveRuleSet",
            request_id,
            digest,
            &rules.version,
        )
        .await?
        {
            txn.commit().await?;
            let row = find_or_not_found::<curve_rule_set::Entity, _>(
                self.conn(),
                "CurveRuleSet",
                &version,
            )
            .await?;
            let top = curve_rule_set::Entity::find()
                .order_by_desc(curve_rule_set::Column::Seq)
                .one(self.conn())
                .await?
                .map_or(0, |r| r.seq);
            return Ok(StoredRuleSet {
                rules: serde_json::from_str(&row.definition)
                    .map_err(|e| Error::Internal(format!("rule set {version}: {e}")))?,
                created_by: row.created_by,
                created_at: Some(row.created_at),
                current: row.seq == top,
            });
        }
        // One writer at a time on the version sequence (SQLite holds its write lock already).
        lock_row_seq(&txn, self.kind()).await?;
        let mut last = curve_rule_set::Entity::find()
            .order_by_desc(curve_rule_set::Column::Seq)
            .one(&txn)
            .await?
            .map_or(0, |r| r.seq);
        if last == 0 {
            let d = RuleSet::default_2022();
            curve_rule_set::ActiveModel {
                version: Set(d.version.clone()),
                seq: Set(1),
                definition: Set(serde_json::to_string(&d)
                    .map_err(|e| Error::Internal(format!("rule set: {e}")))?),
                created_by: Set(BUILT_IN.to_owned()),
                created_at: Set(now),
            }
            .insert(&txn)
            .await?;
            last = 1;
        }
        let exists = curve_rule_set::Entity::find_by_id(rules.version.clone())
            .one(&txn)
            .await?;
        if exists.is_some() {
            return Err(Error::AlreadyExists {
                kind: "CurveRuleSet",
                detail: format!("version {} exists; versions never change", rules.version),
            });
        }
        let definition =
            serde_json::to_string(&rules).map_err(|e| Error::Internal(format!("rule set: {e}")))?;
        curve_rule_set::ActiveModel {
            version: Set(rules.version.clone()),
            seq: Set(last + 1),
            definition: Set(definition.clone()),
            created_by: Set(actor.subject.clone()),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
        self.record(
            &txn,
            actor,
            Change {
                resource_type: "CurveRuleSet",
                resource_id: &rules.version,
                action: "create",
                detail: serde_json::from_str(&definition).unwrap_or_default(),
            },
        )
        .await?;
        txn.commit().await?;
        Ok(StoredRuleSet {
            rules,
            created_by: actor.subject.clone(),
            created_at: Some(now),
            current: true,
        })
    }

    /// Rule-set versions, newest first; the built-in default alone when none was added.
    pub async fn list_rule_sets(&self, page: &Page) -> Result<(Vec<StoredRuleSet>, String)> {
        let mut q = curve_rule_set::Entity::find().order_by_desc(curve_rule_set::Column::Seq);
        if let Some(k) = &page.after {
            let seq: i64 = k.first().and_then(|s| s.parse().ok()).ok_or_else(|| {
                Error::invalid("page_token", "is not a token returned by this list call")
            })?;
            q = q.filter(curve_rule_set::Column::Seq.lt(seq));
        }
        let rows = q.limit(page.fetch_limit()).all(self.conn()).await?;
        if rows.is_empty() && page.after.is_none() {
            return Ok((vec![current_rule_set(self.conn()).await?], String::new()));
        }
        let top = curve_rule_set::Entity::find()
            .order_by_desc(curve_rule_set::Column::Seq)
            .one(self.conn())
            .await?
            .map_or(0, |r| r.seq);
        let (rows, next) = page.finish(rows, |r| vec![r.seq.to_string()]);
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(StoredRuleSet {
                rules: serde_json::from_str(&r.definition).map_err(|e| {
                    Error::Internal(format!("rule set {} is unreadable: {e}", r.version))
                })?,
                current: r.seq == top,
                created_by: r.created_by,
                created_at: Some(r.created_at),
            });
        }
        Ok((out, next))
    }
}

/// Serialises rule-set creation on PostgreSQL (an advisory transaction lock; SQLite writers
/// already hold the database write lock).
async fn lock_row_seq(txn: &super::Txn, kind: super::DbKind) -> Result<()> {
    if kind == super::DbKind::Postgres {
        txn.execute_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1)",
            [0x4b49_4e45_4355_5256_i64.into()],
        ))
        .await?;
    }
    Ok(())
}

/// Set results whose objection window passed before `now` (optionally of one agency), oldest
/// deadline first, at most `limit`: read through `ix_skp_evaluations_expiry` in that order.
pub(super) fn expired_results(
    now: DateTime<Utc>,
    agency_id: Option<&str>,
    limit: u64,
) -> sea_orm::Select<skp_evaluation::Entity> {
    let mut q = skp_evaluation::Entity::find()
        .filter(skp_evaluation::Column::State.eq(State::Ditetapkan.as_str()))
        .filter(skp_evaluation::Column::ObjectionDeadline.lt(now));
    if let Some(a) = agency_id {
        q = q.filter(
            skp_evaluation::Column::SkpId.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(skp::Column::Id)
                    .from(skp::Entity)
                    .and_where(skp::Column::AgencyId.eq(a))
                    .to_owned(),
            ),
        );
    }
    q.order_by_asc(skp_evaluation::Column::ObjectionDeadline)
        .order_by_asc(skp_evaluation::Column::Id)
        .limit(limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_shows_the_asked_state_and_only_set_results_to_results_readers() {
        assert_eq!(listed_states(None, false), None, "no filter: every state");
        assert_eq!(
            listed_states(None, true),
            Some(vec![State::Ditetapkan, State::Final])
        );
        assert_eq!(
            listed_states(Some(State::Dinilai), false),
            Some(vec![State::Dinilai])
        );
        assert_eq!(
            listed_states(Some(State::Final), true),
            Some(vec![State::Final])
        );
        assert_eq!(
            listed_states(Some(State::Dinilai), true),
            Some(vec![]),
            "a DINILAI result is not set: nothing to show"
        );
    }
}
