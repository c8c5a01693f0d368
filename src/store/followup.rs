//! Follow-up (tindak lanjut) of FINAL results: individual development plans with their actions,
//! recognition and consequence flags with HR's decision, the follow-up settings, and the
//! once-only `plan.overdue` notice.
//!
//! **Hook.** [`Store::follow_up_final`] runs inside every transaction that writes a result FINAL
//! (the window-expiry sweeper / `FinalizeExpiredResults` and the objection decision), so the plan
//! and the flags are committed with the FINAL state and its events or not at all. Opening is
//! idempotent: one plan per evaluation and one flag per evaluation and kind (unique indexes,
//! inserts that do nothing on conflict), so replicas racing on one result open it once.
//! Results that readers already see as FINAL (window passed) get their plan when the sweeper
//! writes FINAL down.
//!
//! **Consequence rule.** The employee's annual results (the evaluation of the last evaluation
//! period of a year; with several SKP in a year, the one of the SKP that ends last) that are
//! FINAL with a predikat at or below the threshold form the poor years; every year ending a run
//! of `consequence_years` consecutive poor years whose window holds the year that just became
//! FINAL flags that year's evaluation (so the order in which years become FINAL does not matter).
//!
//! **Overdue.** Read paths compute overdue at the agency's calendar day; the sweeper
//! ([`Store::notify_overdue`]) publishes `plan.overdue` once per action through a conditional
//! update of `overdue_notified_at IS NULL`, so several replicas publish it exactly once.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::prelude::Expr;
use sea_orm::sea_query::{ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbBackend,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement, TryInsertResult,
};
use serde_json::json;

use super::assessment::{EvaluationRow, find_period, find_skp};
use super::audit::{Actor, Change};
use super::entities::{
    agency, development_action, development_plan, evaluation_period, followup_flag,
    followup_setting, skp, skp_evaluation, unit,
};
use super::idempotency::{Claim, claim};
use super::outbox::Event;
use super::skp::SkpRow;
use super::{DbKind, Store, find_or_not_found, lock_row, new_id};
use crate::domain::assessment::State;
use crate::domain::followup::{
    self as rules, ActionStatus, DEFAULT_CONSEQUENCE_THRESHOLD, DEFAULT_CONSEQUENCE_YEARS,
    OPEN_STATUSES, PlanChange, PlanState,
};
use crate::domain::org::TimeZone;
use crate::domain::rating::Predikat;
use crate::error::{Error, Result};
use crate::pagination::Page;

pub use development_action::Model as DevActionRow;
pub use development_plan::Model as PlanRow;
pub use followup_flag::Model as FlagRow;

/// Resource type of development plans in the audit trail and the event feed.
pub const PLAN_RESOURCE: &str = "DevelopmentPlan";
/// Resource type of follow-up flags in the audit trail and the event feed.
pub const FLAG_RESOURCE: &str = "FollowUpFlag";
/// Flag kind: reward and talent-pool review.
pub const RECOGNITION: &str = "RECOGNITION";
/// Flag kind: HR's sanctions path.
pub const CONSEQUENCE: &str = "CONSEQUENCE";
/// Scope key of the installation-wide settings row.
const GLOBAL_SCOPE: &str = "*";

/// A plan with its actions and the agency's calendar day (for overdue).
#[derive(Debug, Clone)]
pub struct PlanDoc {
    /// The plan.
    pub plan: PlanRow,
    /// Its actions, in the order they were added.
    pub actions: Vec<DevActionRow>,
    /// Today in the plan's agency.
    pub today: NaiveDate,
}

impl PlanDoc {
    /// The plan's competency gaps.
    pub fn gaps(&self) -> Vec<String> {
        serde_json::from_str(&self.plan.competency_gaps).unwrap_or_default()
    }
}

/// True when `a` is unfinished and past its target date on `today`.
pub fn is_overdue(a: &DevActionRow, today: NaiveDate) -> bool {
    ActionStatus::parse(&a.status).is_some_and(|s| rules::overdue(s, a.target_date, today))
}

/// Effective follow-up settings.
#[derive(Debug, Clone)]
pub struct FollowUpSettings {
    /// The agency, or `None` for the installation.
    pub agency_id: Option<String>,
    /// Consecutive annual years of poor results that raise a consequence flag.
    pub consequence_years: u32,
    /// Best predikat still counted as poor.
    pub consequence_threshold: Predikat,
    /// DEFAULT, GLOBAL or AGENCY.
    pub source: &'static str,
    /// Stored row at the asked level, if any (etag and time).
    pub row: Option<followup_setting::Model>,
}

/// Filters of a plan listing.
#[derive(Debug, Clone, Default)]
pub struct PlanFilter {
    /// Only this employee.
    pub employee_id: Option<String>,
    /// Only this unit's subtree.
    pub unit_id: Option<String>,
    /// Only this evaluation period.
    pub evaluation_period_id: Option<String>,
    /// Only this state.
    pub state: Option<PlanState>,
    /// Only plans with an overdue action.
    pub overdue_only: bool,
}

/// Filters of a flag listing.
#[derive(Debug, Clone, Default)]
pub struct FlagFilter {
    /// Only this employee.
    pub employee_id: Option<String>,
    /// Only this unit's subtree.
    pub unit_id: Option<String>,
    /// Only this kind.
    pub kind: Option<&'static str>,
    /// Only this state (PENDING or DECIDED).
    pub state: Option<&'static str>,
    /// Only this year.
    pub year: Option<i32>,
    /// Only flags of annual evaluations.
    pub annual_only: bool,
}

/// Values of a new development action (validated by the API layer).
#[derive(Debug, Clone)]
pub struct NewAction {
    /// Stored kind.
    pub kind: &'static str,
    /// What is to be done.
    pub description: String,
    /// Target date.
    pub target_date: NaiveDate,
}

/// Changes to an action; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ActionChanges {
    /// New kind.
    pub kind: Option<&'static str>,
    /// New description.
    pub description: Option<String>,
    /// New target date.
    pub target_date: Option<NaiveDate>,
    /// New progress.
    pub progress_percent: Option<i32>,
    /// New status.
    pub status: Option<ActionStatus>,
}

impl ActionChanges {
    /// True when the agreed content changes (kind, description or target date).
    pub fn touches_content(&self) -> bool {
        self.kind.is_some() || self.description.is_some() || self.target_date.is_some()
    }
}

/// Who agrees to a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agreer {
    /// The employee.
    Employee,
    /// The recorded assessor.
    Assessor,
}

/// A change to a plan.
#[derive(Debug, Clone)]
pub enum PlanOp {
    /// Replace the competency gaps.
    SetGaps(Vec<String>),
    /// Add an action.
    AddAction(NewAction),
    /// Change an action.
    UpdateAction {
        /// The action.
        id: String,
        /// The changes.
        changes: ActionChanges,
    },
    /// Record an agreement.
    Agree(Agreer),
    /// Complete the plan.
    Complete,
}

/// An overdue action with its plan.
#[derive(Debug, Clone)]
pub struct OverdueItem {
    /// The plan.
    pub plan: PlanRow,
    /// The action.
    pub action: DevActionRow,
    /// Days since the target date.
    pub days: i64,
}

fn tz_of(a: &agency::Model) -> TimeZone {
    TimeZone::parse(&a.time_zone).unwrap_or(TimeZone::Wib)
}

async fn agency_today<C: ConnectionTrait>(
    db: &C,
    agency_id: &str,
    now: DateTime<Utc>,
) -> Result<NaiveDate> {
    let a = find_or_not_found::<agency::Entity, _>(db, "Agency", agency_id).await?;
    Ok(tz_of(&a).today(now))
}

/// Today of every agency (few rows; used by listings that span agencies).
async fn todays<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
) -> Result<HashMap<String, NaiveDate>> {
    Ok(agency::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|a| {
            let d = tz_of(&a).today(now);
            (a.id, d)
        })
        .collect())
}

/// Ids of the agencies in one time zone.
fn agencies_in_zone(tz: TimeZone) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(agency::Column::Id)
        .from(agency::Entity)
        .and_where(agency::Column::TimeZone.eq(tz.as_str()))
        .to_owned()
}

/// Actions that are overdue now, whatever the agency's time zone: unfinished, with a target
/// date before the agency's calendar day.
fn overdue_actions(now: DateTime<Utc>) -> Condition {
    let mut any = Condition::any();
    for tz in [TimeZone::Wib, TimeZone::Wita, TimeZone::Wit] {
        any = any.add(
            Condition::all()
                .add(development_action::Column::TargetDate.lt(tz.today(now)))
                .add(
                    development_action::Column::PlanId.in_subquery(
                        Query::select()
                            .column(development_plan::Column::Id)
                            .from(development_plan::Entity)
                            .and_where(
                                development_plan::Column::AgencyId
                                    .in_subquery(agencies_in_zone(tz)),
                            )
                            .to_owned(),
                    ),
                ),
        );
    }
    Condition::all()
        .add(development_action::Column::Status.is_in(OPEN_STATUSES))
        .add(any)
}

/// Units at or below `unit_id` (by materialised path).
async fn subtree<C: ConnectionTrait>(
    db: &C,
    unit_id: &str,
) -> Result<sea_orm::sea_query::SelectStatement> {
    let u = find_or_not_found::<unit::Entity, _>(db, "Unit", unit_id).await?;
    Ok(Query::select()
        .column(unit::Column::Id)
        .from(unit::Entity)
        .and_where(Expr::col(unit::Column::Path).like(format!("{}%", u.path)))
        .to_owned())
}

async fn settings_for<C: ConnectionTrait>(
    db: &C,
    agency_id: Option<&str>,
) -> Result<FollowUpSettings> {
    let own = match agency_id {
        Some(a) => {
            followup_setting::Entity::find_by_id(a.to_owned())
                .one(db)
                .await?
        }
        None => None,
    };
    let global = followup_setting::Entity::find_by_id(GLOBAL_SCOPE.to_owned())
        .one(db)
        .await?;
    let (years, threshold, source) = match (&own, &global) {
        (Some(o), _) => (
            o.consequence_years,
            o.consequence_threshold.clone(),
            "AGENCY",
        ),
        (None, Some(g)) => (
            g.consequence_years,
            g.consequence_threshold.clone(),
            "GLOBAL",
        ),
        (None, None) => (
            DEFAULT_CONSEQUENCE_YEARS as i32,
            DEFAULT_CONSEQUENCE_THRESHOLD.as_str().to_owned(),
            "DEFAULT",
        ),
    };
    Ok(FollowUpSettings {
        agency_id: agency_id.map(str::to_owned),
        consequence_years: u32::try_from(years).unwrap_or(DEFAULT_CONSEQUENCE_YEARS),
        consequence_threshold: Predikat::parse(&threshold).unwrap_or(DEFAULT_CONSEQUENCE_THRESHOLD),
        source,
        row: if agency_id.is_some() { own } else { global },
    })
}

fn refusal(id: &str, r: rules::Refusal) -> Error {
    Error::precondition(r.reason, format!("developmentPlans/{id}"), r.message)
}

async fn actions_of<C: ConnectionTrait>(db: &C, plan_id: &str) -> Result<Vec<DevActionRow>> {
    Ok(development_action::Entity::find()
        .filter(development_action::Column::PlanId.eq(plan_id))
        .order_by_asc(development_action::Column::CreatedAt)
        .order_by_asc(development_action::Column::Id)
        .all(db)
        .await?)
}

impl Store {
    /// Follows up an evaluation that was just written FINAL inside `txn`: opens the required
    /// development plan, raises the recognition flag, and checks the consequence rule. Every
    /// step is idempotent and publishes its event only when it inserted something.
    pub(crate) async fn follow_up_final(
        &self,
        txn: &super::Txn,
        actor: &Actor,
        now: DateTime<Utc>,
        s: &SkpRow,
        ev: &EvaluationRow,
        predikat: Option<Predikat>,
    ) -> Result<()> {
        let Some(p) = predikat else {
            return Ok(());
        };
        if rules::requires_plan(p) {
            self.open_plan(txn, actor, now, s, ev, p, true, Vec::new())
                .await?;
        }
        let ep = find_period(txn, &ev.evaluation_period_id).await?;
        if rules::recognised(p) {
            let reason = format!(
                "SANGAT_BAIK {} result of {}: review for reward and the talent pool",
                if ep.annual { "annual" } else { "periodic" },
                s.year
            );
            self.raise_flag(txn, actor, now, RECOGNITION, s, ev, ep.annual, p, reason)
                .await?;
        }
        if ep.annual {
            let settings = settings_for(txn, Some(&s.agency_id)).await?;
            if rules::at_or_below(p, settings.consequence_threshold) {
                self.check_consequence(txn, actor, now, s, &settings)
                    .await?;
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn open_plan(
        &self,
        txn: &super::Txn,
        actor: &Actor,
        now: DateTime<Utc>,
        s: &SkpRow,
        ev: &EvaluationRow,
        p: Predikat,
        required: bool,
        gaps: Vec<String>,
    ) -> Result<Option<String>> {
        let id = new_id();
        let gaps_json = json!(gaps).to_string();
        let res = development_plan::Entity::insert(development_plan::ActiveModel {
            id: Set(id.clone()),
            evaluation_id: Set(ev.id.clone()),
            skp_id: Set(s.id.clone()),
            evaluation_period_id: Set(ev.evaluation_period_id.clone()),
            employee_id: Set(s.employee_id.clone()),
            agency_id: Set(s.agency_id.clone()),
            unit_id: Set(s.unit_id.clone()),
            assessor_id: Set(s.assessor_id.clone()),
            assessor_superior_id: Set(s.assessor_superior_id.clone()),
            year: Set(s.year),
            predikat: Set(p.as_str().to_owned()),
            required: Set(required),
            state: Set(PlanState::Draft.as_str().to_owned()),
            competency_gaps: Set(gaps_json),
            employee_agreed_at: Set(None),
            assessor_agreed_at: Set(None),
            completed_at: Set(None),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .on_conflict_do_nothing_on([development_plan::Column::EvaluationId])
        .exec_without_returning(txn)
        .await?;
        if !matches!(res, TryInsertResult::Inserted(1)) {
            return Ok(None);
        }
        self.record(
            txn,
            actor,
            Change {
                resource_type: PLAN_RESOURCE,
                resource_id: &id,
                action: "open",
                detail: json!({
                    "evaluation_id": ev.id, "employee_id": s.employee_id, "predikat": p.as_str(),
                    "required": required, "competency_gaps": gaps, "state": "DRAFT",
                }),
            },
        )
        .await?;
        self.publish(
            txn,
            actor,
            Event {
                event_type: "plan.opened",
                resource_type: PLAN_RESOURCE,
                resource_id: &id,
                data: json!({
                    "plan_id": id, "evaluation_id": ev.id, "skp_id": s.id,
                    "employee_id": s.employee_id, "evaluation_period_id": ev.evaluation_period_id,
                    "unit_id": s.unit_id, "predikat": p.as_str(), "required": required,
                }),
            },
        )
        .await?;
        Ok(Some(id))
    }

    #[allow(clippy::too_many_arguments)]
    async fn raise_flag(
        &self,
        txn: &super::Txn,
        actor: &Actor,
        now: DateTime<Utc>,
        kind: &'static str,
        s: &SkpRow,
        ev: &EvaluationRow,
        annual: bool,
        p: Predikat,
        reason: String,
    ) -> Result<()> {
        let id = new_id();
        let res = followup_flag::Entity::insert(followup_flag::ActiveModel {
            id: Set(id.clone()),
            kind: Set(kind.to_owned()),
            evaluation_id: Set(ev.id.clone()),
            skp_id: Set(s.id.clone()),
            evaluation_period_id: Set(ev.evaluation_period_id.clone()),
            employee_id: Set(s.employee_id.clone()),
            agency_id: Set(s.agency_id.clone()),
            unit_id: Set(s.unit_id.clone()),
            year: Set(s.year),
            annual: Set(annual),
            predikat: Set(p.as_str().to_owned()),
            reason: Set(reason.clone()),
            state: Set("PENDING".to_owned()),
            outcome: Set(None),
            decision_reason: Set(None),
            decided_by: Set(None),
            decided_at: Set(None),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .on_conflict_do_nothing_on([
            followup_flag::Column::EvaluationId,
            followup_flag::Column::Kind,
        ])
        .exec_without_returning(txn)
        .await?;
        if !matches!(res, TryInsertResult::Inserted(1)) {
            return Ok(());
        }
        self.record(
            txn,
            actor,
            Change {
                resource_type: FLAG_RESOURCE,
                resource_id: &id,
                action: "flag",
                detail: json!({
                    "kind": kind, "evaluation_id": ev.id, "employee_id": s.employee_id,
                    "year": s.year, "predikat": p.as_str(), "reason": reason,
                }),
            },
        )
        .await?;
        self.publish(
            txn,
            actor,
            Event {
                event_type: "followup.flagged",
                resource_type: FLAG_RESOURCE,
                resource_id: &id,
                data: json!({
                    "flag_id": id, "kind": kind, "evaluation_id": ev.id, "skp_id": s.id,
                    "employee_id": s.employee_id, "unit_id": s.unit_id, "year": s.year,
                    "annual": annual, "predikat": p.as_str(), "reason": reason,
                }),
            },
        )
        .await?;
        Ok(())
    }

    /// Applies the consequence rule to the annual results of the employee of `s` (whose annual
    /// evaluation just became FINAL).
    async fn check_consequence(
        &self,
        txn: &super::Txn,
        actor: &Actor,
        now: DateTime<Utc>,
        s: &SkpRow,
        settings: &FollowUpSettings,
    ) -> Result<()> {
        // Two years of one employee may become FINAL in concurrent transactions (a sweep and an
        // objection decision); each must see the other's FINAL once it committed, so the
        // consequence check of one employee runs one at a time. PostgreSQL: a transaction-level
        // advisory lock on the employee (taken last, after the SKP row lock, and nothing is
        // locked after it, so no lock cycle); SQLite: the write transaction already serialises.
        if self.kind() == DbKind::Postgres {
            txn.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_advisory_xact_lock(hashtext($1))",
                [format!("kinerja.followup:{}", s.employee_id).into()],
            ))
            .await?;
        }
        let skps: HashMap<String, SkpRow> = skp::Entity::find()
            .filter(skp::Column::EmployeeId.eq(&s.employee_id))
            .all(txn)
            .await?
            .into_iter()
            .map(|k| (k.id.clone(), k))
            .collect();
        let annual = skp_evaluation::Entity::find()
            .filter(skp_evaluation::Column::SkpId.is_in(skps.keys().cloned()))
            .filter(
                skp_evaluation::Column::EvaluationPeriodId.in_subquery(
                    Query::select()
                        .column(evaluation_period::Column::Id)
                        .from(evaluation_period::Entity)
                        .and_where(evaluation_period::Column::Annual.eq(true))
                        .to_owned(),
                ),
            )
            .all(txn)
            .await?;
        // The annual result of a year: the evaluation of the SKP that ends last.
        let mut by_year: HashMap<i32, (&SkpRow, EvaluationRow)> = HashMap::new();
        for ev in annual {
            let Some(k) = skps.get(&ev.skp_id) else {
                continue;
            };
            let later = by_year
                .get(&k.year)
                .is_none_or(|(cur, _)| (k.end_date, &k.id) > (cur.end_date, &cur.id));
            if later {
                by_year.insert(k.year, (k, ev));
            }
        }
        let poor: BTreeSet<i32> = by_year
            .iter()
            .filter(|(_, (_, ev))| {
                ev.state == State::Final.as_str()
                    && ev
                        .predikat
                        .as_deref()
                        .and_then(Predikat::parse)
                        .is_some_and(|p| rules::at_or_below(p, settings.consequence_threshold))
            })
            .map(|(y, _)| *y)
            .collect();
        let n = settings.consequence_years;
        for end in rules::consequence_years(&poor, n, s.year) {
            let Some((k, ev)) = by_year.get(&end) else {
                continue;
            };
            let Some(p) = ev.predikat.as_deref().and_then(Predikat::parse) else {
                continue;
            };
            let years: Vec<String> = (end - n as i32 + 1..=end).map(|y| y.to_string()).collect();
            let reason = format!(
                "{} or worse in the annual results of {} consecutive years ({}): review for the sanctions path",
                settings.consequence_threshold.as_str(),
                n,
                years.join(", ")
            );
            self.raise_flag(txn, actor, now, CONSEQUENCE, k, ev, true, p, reason)
                .await?;
        }
        Ok(())
    }

    async fn plan_doc<C: ConnectionTrait>(
        &self,
        db: &C,
        plan: PlanRow,
        now: DateTime<Utc>,
    ) -> Result<PlanDoc> {
        let actions = actions_of(db, &plan.id).await?;
        let today = agency_today(db, &plan.agency_id, now).await?;
        Ok(PlanDoc {
            plan,
            actions,
            today,
        })
    }

    /// The SKP of an evaluation (to authorize calls naming the evaluation).
    pub async fn skp_of_evaluation(&self, evaluation_id: &str) -> Result<SkpRow> {
        let ev = find_or_not_found::<skp_evaluation::Entity, _>(
            self.conn(),
            "Evaluation",
            evaluation_id,
        )
        .await?;
        find_skp(self.conn(), &ev.skp_id).await
    }

    /// Reads one plan (without its actions).
    pub async fn get_plan_row(&self, id: &str) -> Result<PlanRow> {
        find_or_not_found::<development_plan::Entity, _>(self.conn(), "DevelopmentPlan", id).await
    }

    /// Reads one plan with its actions.
    pub async fn get_plan(&self, id: &str, now: DateTime<Utc>) -> Result<PlanDoc> {
        let plan = self.get_plan_row(id).await?;
        self.plan_doc(self.conn(), plan, now).await
    }

    /// Lists plans, oldest first (by id, which is time-ordered).
    pub async fn list_plans(
        &self,
        f: &PlanFilter,
        page: &Page,
        now: DateTime<Utc>,
    ) -> Result<(Vec<PlanDoc>, String)> {
        let mut q = development_plan::Entity::find().order_by_asc(development_plan::Column::Id);
        if let Some(e) = &f.employee_id {
            q = q.filter(development_plan::Column::EmployeeId.eq(e));
        }
        if let Some(u) = &f.unit_id {
            q = q.filter(
                development_plan::Column::UnitId.in_subquery(subtree(self.conn(), u).await?),
            );
        }
        if let Some(ep) = &f.evaluation_period_id {
            q = q.filter(development_plan::Column::EvaluationPeriodId.eq(ep));
        }
        if let Some(st) = f.state {
            q = q.filter(development_plan::Column::State.eq(st.as_str()));
        }
        if f.overdue_only {
            q = q.filter(
                development_plan::Column::Id.in_subquery(
                    Query::select()
                        .column(development_action::Column::PlanId)
                        .from(development_action::Entity)
                        .cond_where(overdue_actions(now))
                        .to_owned(),
                ),
            );
        }
        if let Some(k) = &page.after {
            q = q.filter(development_plan::Column::Id.gt(k.first().cloned().unwrap_or_default()));
        }
        let rows = q.limit(page.fetch_limit()).all(self.conn()).await?;
        let (rows, next) = page.finish(rows, |r| vec![r.id.clone()]);
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let mut actions: HashMap<String, Vec<DevActionRow>> = HashMap::new();
        for a in development_action::Entity::find()
            .filter(development_action::Column::PlanId.is_in(ids))
            .order_by_asc(development_action::Column::CreatedAt)
            .order_by_asc(development_action::Column::Id)
            .all(self.conn())
            .await?
        {
            actions.entry(a.plan_id.clone()).or_default().push(a);
        }
        let today = todays(self.conn(), now).await?;
        let docs = rows
            .into_iter()
            .map(|plan| PlanDoc {
                actions: actions.remove(&plan.id).unwrap_or_default(),
                today: today
                    .get(&plan.agency_id)
                    .copied()
                    .unwrap_or_else(|| TimeZone::Wib.today(now)),
                plan,
            })
            .collect();
        Ok((docs, next))
    }

    /// Opens an optional plan for a FINAL evaluation (one whose predikat does not require one is
    /// the usual case; a required one exists already and is ALREADY_EXISTS).
    #[allow(clippy::too_many_arguments)]
    pub async fn create_plan(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        evaluation_id: &str,
        gaps: Vec<String>,
        request_id: &str,
        digest: &str,
    ) -> Result<PlanDoc> {
        let txn = self.begin_write().await?;
        // The claim names the evaluation (one plan per evaluation): a retry finds the plan by it.
        if let Claim::Replay(existing) = claim(
            &txn,
            "CreateDevelopmentPlan",
            request_id,
            digest,
            evaluation_id,
        )
        .await?
        {
            txn.commit().await?;
            let plan = development_plan::Entity::find()
                .filter(development_plan::Column::EvaluationId.eq(&existing))
                .one(self.conn())
                .await?
                .ok_or_else(|| Error::not_found("DevelopmentPlan", existing))?;
            return self.plan_doc(self.conn(), plan, now).await;
        }
        let ev = find_or_not_found::<skp_evaluation::Entity, _>(&txn, "Evaluation", evaluation_id)
            .await?;
        if !lock_row(&txn, self.kind(), "skps", &ev.skp_id).await? {
            return Err(Error::not_found("Skp", &ev.skp_id));
        }
        let s = find_skp(&txn, &ev.skp_id).await?;
        let ev = find_or_not_found::<skp_evaluation::Entity, _>(&txn, "Evaluation", evaluation_id)
            .await?;
        let p = match (
            ev.state.as_str(),
            ev.predikat.as_deref().and_then(Predikat::parse),
        ) {
            ("FINAL", Some(p)) => p,
            _ => {
                return Err(Error::precondition(
                    "EVALUATION_NOT_FINAL",
                    format!("evaluations/{evaluation_id}"),
                    "a development plan follows up a FINAL result; this one is not FINAL (yet)",
                ));
            }
        };
        let opened = self
            .open_plan(&txn, actor, now, &s, &ev, p, false, gaps)
            .await?;
        if opened.is_none() {
            return Err(Error::AlreadyExists {
                kind: "DevelopmentPlan",
                detail: format!("evaluation {evaluation_id} has a development plan already"),
            });
        }
        self.commit_with_events(txn).await?;
        let plan = development_plan::Entity::find()
            .filter(development_plan::Column::EvaluationId.eq(evaluation_id))
            .one(self.conn())
            .await?
            .ok_or_else(|| Error::not_found("DevelopmentPlan", evaluation_id))?;
        self.plan_doc(self.conn(), plan, now).await
    }

    /// Applies one change to a plan under its row lock, checking the etag when given, the state
    /// machine, and (for agreements) that the caller's relation is recorded on the plan.
    pub async fn change_plan(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        id: &str,
        version: Option<i64>,
        op: PlanOp,
    ) -> Result<PlanDoc> {
        let txn = self.begin_write().await?;
        if !lock_row(&txn, self.kind(), "development_plans", id).await? {
            return Err(Error::not_found("DevelopmentPlan", id));
        }
        let plan =
            find_or_not_found::<development_plan::Entity, _>(&txn, "DevelopmentPlan", id).await?;
        if version.is_some_and(|v| v != plan.version) {
            return Err(Error::Aborted {
                kind: "DevelopmentPlan",
                id: id.to_owned(),
            });
        }
        let state = PlanState::parse(&plan.state)
            .ok_or_else(|| Error::Internal(format!("plan {id} has state {}", plan.state)))?;
        let actions = actions_of(&txn, id).await?;
        let (change, action_name) = match &op {
            PlanOp::SetGaps(_) => (PlanChange::Content, "gaps.update"),
            PlanOp::AddAction(_) => (PlanChange::Content, "action.add"),
            PlanOp::UpdateAction { changes, .. } if changes.touches_content() => {
                (PlanChange::Content, "action.update")
            }
            PlanOp::UpdateAction { .. } => (PlanChange::Progress, "action.progress"),
            PlanOp::Agree(_) => (PlanChange::Agree, "agree"),
            PlanOp::Complete => (PlanChange::Complete, "complete"),
        };
        let all_finished = actions
            .iter()
            .all(|a| ActionStatus::parse(&a.status).is_some_and(|s| !s.open()));
        let (mut next, clear) =
            rules::step(state, change, all_finished).map_err(|r| refusal(id, r))?;
        let mut employee_agreed = if clear { None } else { plan.employee_agreed_at };
        let mut assessor_agreed = if clear { None } else { plan.assessor_agreed_at };
        let mut gaps_json = plan.competency_gaps.clone();
        let mut completed_at = plan.completed_at;
        let detail = match op {
            PlanOp::SetGaps(gaps) => {
                let before: Vec<String> =
                    serde_json::from_str(&plan.competency_gaps).unwrap_or_default();
                gaps_json = json!(gaps).to_string();
                json!({"competency_gaps": gaps, "previous": before})
            }
            PlanOp::AddAction(a) => {
                if actions.len() >= rules::MAX_ACTIONS {
                    return Err(Error::precondition(
                        "PLAN_TOO_MANY_ACTIONS",
                        format!("developmentPlans/{id}"),
                        format!("a plan holds at most {} actions", rules::MAX_ACTIONS),
                    ));
                }
                let aid = new_id();
                development_action::ActiveModel {
                    id: Set(aid.clone()),
                    plan_id: Set(id.to_owned()),
                    kind: Set(a.kind.to_owned()),
                    description: Set(a.description.clone()),
                    target_date: Set(a.target_date),
                    progress_percent: Set(0),
                    status: Set(ActionStatus::Planned.as_str().to_owned()),
                    overdue_notified_at: Set(None),
                    version: Set(1),
                    created_at: Set(now),
                    updated_at: Set(now),
                }
                .insert(&txn)
                .await?;
                json!({"action_id": aid, "kind": a.kind, "description": a.description, "target_date": a.target_date})
            }
            PlanOp::UpdateAction { id: aid, changes } => {
                let cur = actions
                    .iter()
                    .find(|a| a.id == aid)
                    .ok_or_else(|| Error::not_found("DevelopmentAction", &aid))?;
                let status = match changes.status {
                    Some(s) => s,
                    None => ActionStatus::parse(&cur.status).unwrap_or(ActionStatus::Planned),
                };
                let progress = rules::check_progress(
                    status,
                    changes.progress_percent.unwrap_or(cur.progress_percent),
                )
                .map_err(|r| Error::invalid("action.progress_percent", r))?;
                let mut am: development_action::ActiveModel = cur.clone().into();
                if let Some(k) = changes.kind {
                    am.kind = Set(k.to_owned());
                }
                if let Some(d) = &changes.description {
                    am.description = Set(d.clone());
                }
                if let Some(t) = changes.target_date {
                    am.target_date = Set(t);
                    // A new target date may become overdue again: notify again then.
                    if t != cur.target_date {
                        am.overdue_notified_at = Set(None);
                    }
                }
                am.status = Set(status.as_str().to_owned());
                am.progress_percent = Set(progress);
                am.version = Set(cur.version + 1);
                am.updated_at = Set(now);
                am.update(&txn).await?;
                json!({
                    "action_id": aid, "kind": changes.kind, "description": changes.description,
                    "target_date": changes.target_date, "progress_percent": progress,
                    "status": status.as_str(),
                    "previous": {"kind": cur.kind, "description": cur.description,
                        "target_date": cur.target_date, "progress_percent": cur.progress_percent,
                        "status": cur.status},
                })
            }
            PlanOp::Agree(who) => {
                rules::check_agreeable(actions.len()).map_err(|r| refusal(id, r))?;
                match who {
                    Agreer::Employee => employee_agreed = Some(now),
                    Agreer::Assessor => assessor_agreed = Some(now),
                }
                next = rules::after_agreement(employee_agreed.is_some(), assessor_agreed.is_some());
                json!({"by": match who { Agreer::Employee => "EMPLOYEE", Agreer::Assessor => "ASSESSOR" }, "version": plan.version})
            }
            PlanOp::Complete => {
                completed_at = Some(now);
                json!({})
            }
        };
        let mut detail = detail;
        detail["from"] = json!(plan.state);
        detail["to"] = json!(next.as_str());
        if clear && (plan.employee_agreed_at.is_some() || plan.assessor_agreed_at.is_some()) {
            detail["agreement_cleared"] = json!(true);
        }
        development_plan::Entity::update_many()
            .col_expr(development_plan::Column::State, Expr::value(next.as_str()))
            .col_expr(
                development_plan::Column::CompetencyGaps,
                Expr::value(gaps_json),
            )
            .col_expr(
                development_plan::Column::EmployeeAgreedAt,
                Expr::value(employee_agreed),
            )
            .col_expr(
                development_plan::Column::AssessorAgreedAt,
                Expr::value(assessor_agreed),
            )
            .col_expr(
                development_plan::Column::CompletedAt,
                Expr::value(completed_at),
            )
            .col_expr(
                development_plan::Column::Version,
                Expr::value(plan.version + 1),
            )
            .col_expr(development_plan::Column::UpdatedAt, Expr::value(now))
            .filter(development_plan::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        self.record(
            &txn,
            actor,
            Change {
                resource_type: PLAN_RESOURCE,
                resource_id: id,
                action: action_name,
                detail,
            },
        )
        .await?;
        txn.commit().await?;
        self.get_plan(id, now).await
    }

    /// Unfinished actions past their target date, earliest first, optionally of a unit subtree.
    pub async fn list_overdue(
        &self,
        unit_id: Option<&str>,
        page: &Page,
        now: DateTime<Utc>,
    ) -> Result<(Vec<OverdueItem>, String)> {
        let mut q = development_action::Entity::find()
            .filter(overdue_actions(now))
            .order_by_asc(development_action::Column::TargetDate)
            .order_by_asc(development_action::Column::Id);
        if let Some(u) = unit_id {
            q = q.filter(
                development_action::Column::PlanId.in_subquery(
                    Query::select()
                        .column(development_plan::Column::Id)
                        .from(development_plan::Entity)
                        .and_where(
                            development_plan::Column::UnitId
                                .in_subquery(subtree(self.conn(), u).await?),
                        )
                        .to_owned(),
                ),
            );
        }
        if let Some(k) = &page.after {
            let date = k
                .first()
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                .ok_or_else(|| {
                    Error::invalid("page_token", "is not a token returned by this list call")
                })?;
            let id = k.get(1).cloned().unwrap_or_default();
            q = q.filter(
                Condition::any()
                    .add(development_action::Column::TargetDate.gt(date))
                    .add(
                        Condition::all()
                            .add(development_action::Column::TargetDate.eq(date))
                            .add(development_action::Column::Id.gt(id)),
                    ),
            );
        }
        let rows = q.limit(page.fetch_limit()).all(self.conn()).await?;
        let (rows, next) = page.finish(rows, |a| {
            vec![a.target_date.format("%Y-%m-%d").to_string(), a.id.clone()]
        });
        let plan_ids: Vec<String> = rows.iter().map(|a| a.plan_id.clone()).collect();
        let plans: HashMap<String, PlanRow> = development_plan::Entity::find()
            .filter(development_plan::Column::Id.is_in(plan_ids))
            .all(self.conn())
            .await?
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect();
        let today = todays(self.conn(), now).await?;
        let items = rows
            .into_iter()
            .filter_map(|a| {
                let plan = plans.get(&a.plan_id)?.clone();
                let t = today.get(&plan.agency_id).copied()?;
                Some(OverdueItem {
                    days: (t - a.target_date).num_days(),
                    plan,
                    action: a,
                })
            })
            .collect();
        Ok((items, next))
    }

    /// Publishes `plan.overdue` for actions that became overdue (at most `limit`), each exactly
    /// once even with several replicas: the action's `overdue_notified_at` is set by a
    /// conditional update and only the transaction whose update hit the row publishes.
    pub async fn notify_overdue(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<String>> {
        let candidates = development_action::Entity::find()
            .filter(overdue_actions(now))
            .filter(development_action::Column::OverdueNotifiedAt.is_null())
            .order_by_asc(development_action::Column::TargetDate)
            .order_by_asc(development_action::Column::Id)
            .limit(limit)
            .all(self.conn())
            .await?;
        let mut done = Vec::new();
        for a in candidates {
            let txn = self.begin_write().await?;
            let res = development_action::Entity::update_many()
                .col_expr(
                    development_action::Column::OverdueNotifiedAt,
                    Expr::value(now),
                )
                .filter(development_action::Column::Id.eq(&a.id))
                .filter(development_action::Column::OverdueNotifiedAt.is_null())
                .filter(development_action::Column::TargetDate.eq(a.target_date))
                .filter(development_action::Column::Status.is_in(OPEN_STATUSES))
                .exec(&txn)
                .await?;
            if res.rows_affected != 1 {
                continue;
            }
            let Some(plan) = development_plan::Entity::find_by_id(a.plan_id.clone())
                .one(&txn)
                .await?
            else {
                continue;
            };
            self.record(
                &txn,
                actor,
                Change {
                    resource_type: PLAN_RESOURCE,
                    resource_id: &plan.id,
                    action: "action.overdue",
                    detail: json!({"action_id": a.id, "target_date": a.target_date, "status": a.status}),
                },
            )
            .await?;
            self.publish(
                &txn,
                actor,
                Event {
                    event_type: "plan.overdue",
                    resource_type: PLAN_RESOURCE,
                    resource_id: &plan.id,
                    data: json!({
                        "plan_id": plan.id, "action_id": a.id, "employee_id": plan.employee_id,
                        "unit_id": plan.unit_id, "assessor_id": plan.assessor_id,
                        "kind": a.kind, "target_date": a.target_date, "status": a.status,
                        "progress_percent": a.progress_percent,
                    }),
                },
            )
            .await?;
            self.commit_with_events(txn).await?;
            done.push(a.id);
        }
        Ok(done)
    }

    /// Reads one flag.
    pub async fn get_flag(&self, id: &str) -> Result<FlagRow> {
        find_or_not_found::<followup_flag::Entity, _>(self.conn(), "FollowUpFlag", id).await
    }

    /// Lists flags, oldest first (by id, which is time-ordered).
    pub async fn list_flags(&self, f: &FlagFilter, page: &Page) -> Result<(Vec<FlagRow>, String)> {
        let mut q = followup_flag::Entity::find().order_by_asc(followup_flag::Column::Id);
        if let Some(e) = &f.employee_id {
            q = q.filter(followup_flag::Column::EmployeeId.eq(e));
        }
        if let Some(u) = &f.unit_id {
            q = q.filter(followup_flag::Column::UnitId.in_subquery(subtree(self.conn(), u).await?));
        }
        if let Some(k) = f.kind {
            q = q.filter(followup_flag::Column::Kind.eq(k));
        }
        if let Some(s) = f.state {
            q = q.filter(followup_flag::Column::State.eq(s));
        }
        if let Some(y) = f.year {
            q = q.filter(followup_flag::Column::Year.eq(y));
        }
        if f.annual_only {
            q = q.filter(followup_flag::Column::Annual.eq(true));
        }
        if let Some(k) = &page.after {
            q = q.filter(followup_flag::Column::Id.gt(k.first().cloned().unwrap_or_default()));
        }
        let rows = q.limit(page.fetch_limit()).all(self.conn()).await?;
        Ok(page.finish(rows, |r| vec![r.id.clone()]))
    }

    /// Records HR's decision on a pending flag. The decision is final: a second one is refused
    /// (`FLAG_DECIDED`); a retry with the same `request_id` returns the decided flag.
    #[allow(clippy::too_many_arguments)]
    pub async fn decide_flag(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        id: &str,
        outcome: &'static str,
        reason: String,
        request_id: &str,
        digest: &str,
    ) -> Result<FlagRow> {
        let txn = self.begin_write().await?;
        if let Claim::Replay(existing) =
            claim(&txn, "DecideFollowUpFlag", request_id, digest, id).await?
        {
            txn.commit().await?;
            return self.get_flag(&existing).await;
        }
        if !lock_row(&txn, self.kind(), "followup_flags", id).await? {
            return Err(Error::not_found("FollowUpFlag", id));
        }
        let cur = find_or_not_found::<followup_flag::Entity, _>(&txn, "FollowUpFlag", id).await?;
        if cur.state != "PENDING" {
            return Err(Error::precondition(
                "FLAG_DECIDED",
                format!("followUpFlags/{id}"),
                "HR already recorded its decision on this flag; the decision is final",
            ));
        }
        let res = followup_flag::Entity::update_many()
            .col_expr(followup_flag::Column::State, Expr::value("DECIDED"))
            .col_expr(followup_flag::Column::Outcome, Expr::value(outcome))
            .col_expr(
                followup_flag::Column::DecisionReason,
                Expr::value(reason.clone()),
            )
            .col_expr(
                followup_flag::Column::DecidedBy,
                Expr::value(actor.subject.clone()),
            )
            .col_expr(followup_flag::Column::DecidedAt, Expr::value(now))
            .col_expr(followup_flag::Column::Version, Expr::value(cur.version + 1))
            .col_expr(followup_flag::Column::UpdatedAt, Expr::value(now))
            .filter(followup_flag::Column::Id.eq(id))
            .filter(followup_flag::Column::State.eq("PENDING"))
            .exec(&txn)
            .await?;
        if res.rows_affected != 1 {
            return Err(Error::precondition(
                "FLAG_DECIDED",
                format!("followUpFlags/{id}"),
                "HR already recorded its decision on this flag; the decision is final",
            ));
        }
        self.record(
            &txn,
            actor,
            Change {
                resource_type: FLAG_RESOURCE,
                resource_id: id,
                action: "decide",
                detail: json!({
                    "kind": cur.kind, "outcome": outcome, "reason": reason,
                    "employee_id": cur.employee_id, "evaluation_id": cur.evaluation_id,
                    "from": "PENDING", "to": "DECIDED",
                }),
            },
        )
        .await?;
        self.publish(
            &txn,
            actor,
            Event {
                event_type: "followup.decided",
                resource_type: FLAG_RESOURCE,
                resource_id: id,
                data: json!({
                    "flag_id": id, "kind": cur.kind, "outcome": outcome,
                    "employee_id": cur.employee_id, "evaluation_id": cur.evaluation_id,
                    "year": cur.year, "decided_by": actor.subject, "decide_time": now,
                }),
            },
        )
        .await?;
        self.commit_with_events(txn).await?;
        self.get_flag(id).await
    }

    /// Effective follow-up settings of an agency (or of the installation when `None`).
    pub async fn get_followup_settings(&self, agency_id: Option<&str>) -> Result<FollowUpSettings> {
        if let Some(a) = agency_id {
            find_or_not_found::<agency::Entity, _>(self.conn(), "Agency", a).await?;
        }
        settings_for(self.conn(), agency_id).await
    }

    /// Changes the consequence rule of an agency (or of the installation) if `version` is the
    /// stored version at that level (0 when none is stored); `None` keeps a value.
    pub async fn update_followup_settings(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        agency_id: Option<&str>,
        version: i64,
        years: Option<u32>,
        threshold: Option<Predikat>,
    ) -> Result<FollowUpSettings> {
        let txn = self.begin_write().await?;
        if let Some(a) = agency_id
            && !lock_row(&txn, self.kind(), "agencies", a).await?
        {
            return Err(Error::not_found("Agency", a));
        }
        let scope = agency_id.unwrap_or(GLOBAL_SCOPE).to_owned();
        let cur = followup_setting::Entity::find_by_id(scope.clone())
            .one(&txn)
            .await?;
        if cur.as_ref().map_or(0, |c| c.version) != version {
            return Err(Error::Aborted {
                kind: "FollowUpSettings",
                id: scope,
            });
        }
        let effective = settings_for(&txn, agency_id).await?;
        let years = years.unwrap_or(effective.consequence_years);
        let threshold = threshold.unwrap_or(effective.consequence_threshold);
        let years_i = i32::try_from(years).unwrap_or(i32::MAX);
        match &cur {
            Some(c) => {
                followup_setting::Entity::update_many()
                    .col_expr(
                        followup_setting::Column::ConsequenceYears,
                        Expr::value(years_i),
                    )
                    .col_expr(
                        followup_setting::Column::ConsequenceThreshold,
                        Expr::value(threshold.as_str()),
                    )
                    .col_expr(
                        followup_setting::Column::Version,
                        Expr::value(c.version + 1),
                    )
                    .col_expr(followup_setting::Column::UpdatedAt, Expr::value(now))
                    .filter(followup_setting::Column::Scope.eq(&scope))
                    .exec(&txn)
                    .await?;
            }
            None => {
                followup_setting::ActiveModel {
                    scope: Set(scope.clone()),
                    consequence_years: Set(years_i),
                    consequence_threshold: Set(threshold.as_str().to_owned()),
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
                resource_type: "FollowUpSettings",
                resource_id: &scope,
                action: "update",
                detail: json!({
                    "consequence_years": years, "consequence_threshold": threshold.as_str(),
                    "previous": cur.map(|c| json!({"consequence_years": c.consequence_years, "consequence_threshold": c.consequence_threshold})),
                }),
            },
        )
        .await?;
        txn.commit().await?;
        settings_for(self.conn(), agency_id).await
    }
}
