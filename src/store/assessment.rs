//! The assessment of approved SKP: action plans, realisasi with evidence, feedback, the
//! evaluation per SKP and evaluation period (self-assessment, ratings, predikat), objections,
//! annual results and angka kredit coefficients.
//!
//! Every change locks the SKP row (PostgreSQL; SQLite holds its write lock), checks the rules of
//! [`crate::domain::assessment`] against the evaluation's state *as of now* (a set result whose
//! objection window passed reads FINAL even before the sweeper writes it), writes, and appends an
//! audit entry on `Evaluation/<id>` (feedback: on `Skp/<id>`) in the same transaction. Results
//! set, objections filed and decided, and results made FINAL are published to the outbox.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::prelude::Expr;
use sea_orm::sea_query::ExprTrait;
use sea_orm::sea_query::{OnConflict, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, TryIntoModel, Value,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::audit::{Actor, Change};
use super::cache::{ContentCache, SkpContent};
use super::entities::{
    action_plan, employee, evaluation_period, evaluation_period_lock, feedback, objection,
    realisasi, skp, skp_credit_coefficient, skp_evaluation, skp_indicator, skp_rhk,
};
use super::idempotency::{Claim, claim};
use super::outbox::Event;
use super::skp::{ContentFrom, IndicatorRow, RhkRow, SKP_RESOURCE, SkpRead, SkpRow, load_content};
use super::template::SqlTemplate;
use super::{DbKind, Store, find_or_not_found, keyset_page, lock_row, new_id};
use crate::domain::assessment::{self as rules, Action, State};
use crate::domain::rating::{self, Aspect, Predikat, Rating};
use crate::error::{Error, Result};
use crate::pagination::Page;

pub use action_plan::Model as ActionPlanRow;
pub use evaluation_period::Model as EvaluationPeriodRow;
pub use feedback::Model as FeedbackRow;
pub use objection::Model as ObjectionRow;
pub use realisasi::Model as RealisasiRow;
pub use skp_credit_coefficient::Model as CoefficientRow;
pub use skp_evaluation::Model as EvaluationRow;

/// The resource type of evaluations in the audit trail.
pub const EVALUATION_RESOURCE: &str = "Evaluation";
/// The resource type of objections in the audit trail and the event feed.
pub const OBJECTION_RESOURCE: &str = "Objection";

/// One evidence item of a realisasi (stored as JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceItem {
    /// Link, if the evidence is online.
    pub url: Option<String>,
    /// Document reference, if archived.
    pub document_ref: Option<String>,
    /// SHA-256 of the content, lower-case hex.
    pub sha256: String,
    /// Short description.
    pub description: String,
}

/// The evidence items of a stored realisasi.
pub fn evidence_of(r: &RealisasiRow) -> Vec<EvidenceItem> {
    serde_json::from_str(&r.evidence).unwrap_or_default()
}

/// A realisasi with the capaian computed from its indicator.
#[derive(Debug, Clone)]
pub struct RealisasiDoc {
    /// The realisasi.
    pub row: RealisasiRow,
    /// Capaian in percent, when defined.
    pub capaian: Option<f64>,
}

/// Values of a new realisasi (validated by the API layer).
#[derive(Debug, Clone, Serialize)]
pub struct NewRealisasi {
    /// The indicator.
    pub indicator_id: String,
    /// The evaluation period.
    pub evaluation_period_id: String,
    /// Value achieved.
    pub value: f64,
    /// Short account.
    pub account: String,
    /// Evidence.
    pub evidence: Vec<EvidenceItem>,
}

/// Changes to a realisasi; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RealisasiChanges {
    /// New value.
    pub value: Option<f64>,
    /// New account.
    pub account: Option<String>,
    /// New evidence.
    pub evidence: Option<Vec<EvidenceItem>>,
}

/// Values of new feedback (validated by the API layer).
#[derive(Debug, Clone, Serialize)]
pub struct NewFeedback {
    /// The SKP.
    pub skp_id: String,
    /// The evaluation period, if named.
    pub evaluation_period_id: Option<String>,
    /// The RHK it is about.
    pub rhk_id: Option<String>,
    /// The behaviour value it is about.
    pub behaviour: Option<String>,
    /// The feedback.
    pub text: String,
}

/// The employee's self-assessment (validated by the API layer).
#[derive(Debug, Clone, Serialize)]
pub struct SelfAssessmentInput {
    /// What the employee says.
    pub text: String,
    /// Proposed results rating.
    pub results: Option<&'static str>,
    /// Proposed behaviour rating.
    pub behaviour: Option<&'static str>,
}

/// Decision on an objection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The ratings stand.
    Uphold,
    /// New ratings.
    Change {
        /// New results rating.
        results: Rating,
        /// New behaviour rating.
        behaviour: Rating,
    },
}

/// Capaian of one indicator in an evaluation.
///
/// The RHK and the indicator are read from the SKP's content, shared with the other items of
/// the SKP (and the content cache), not copied per item.
#[derive(Debug, Clone)]
pub struct CapaianItem {
    /// The content of the SKP the indicator belongs to.
    content: Arc<SkpContent>,
    /// Position of the RHK in the content.
    rhk_ix: usize,
    /// Position of the indicator in its RHK.
    indicator_ix: usize,
    /// The value of its realisasi in the period, if one was recorded.
    pub realisasi: Option<f64>,
    /// The stored realisasi (account, evidence), read only for an explanation
    /// ([`Realisasi::Records`]); `None` otherwise.
    pub record: Option<RealisasiRow>,
    /// Capaian in percent, when defined.
    pub capaian: Option<f64>,
}

impl CapaianItem {
    /// The RHK.
    pub fn rhk(&self) -> &RhkRow {
        &self.content.rhk[self.rhk_ix].rhk
    }

    /// The indicator.
    pub fn indicator(&self) -> &IndicatorRow {
        &self.content.rhk[self.rhk_ix].indicators[self.indicator_ix]
    }
}

/// How much of each indicator's realisasi an evaluation read takes from the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Realisasi {
    /// The values only (capaian): pages, calibration, `GetEvaluation`.
    Values,
    /// The whole stored rows, account and evidence included (`ExplainEvaluation`).
    Records,
}

/// An evaluation as a reader sees it now.
#[derive(Debug, Clone)]
pub struct EvaluationDoc {
    /// The SKP.
    pub skp: SkpRow,
    /// The evaluation period.
    pub period: EvaluationPeriodRow,
    /// The stored row; `None` while nothing was entered.
    pub row: Option<EvaluationRow>,
    /// Effective state.
    pub state: State,
    /// When it became FINAL (stored, or the end of the window).
    pub final_at: Option<DateTime<Utc>>,
    /// Why it is FINAL.
    pub final_reason: Option<String>,
    /// The objection, if any.
    pub objection: Option<ObjectionRow>,
    /// True while the evaluation period is locked.
    pub locked: bool,
    /// Capaian of every indicator.
    pub capaian: Vec<CapaianItem>,
}

/// One SKP of an annual result.
#[derive(Debug, Clone)]
pub struct AnnualPart {
    /// The SKP.
    pub skp: SkpRow,
    /// Months counted for pro-rating.
    pub months: u32,
    /// Its last evaluation period of the year.
    pub period: Option<EvaluationPeriodRow>,
    /// Effective state of that evaluation.
    pub state: State,
    /// Its predikat, if rated.
    pub predikat: Option<Predikat>,
    /// Coefficient recorded on the SKP.
    pub coefficient: Option<f64>,
    /// Angka kredit of this part (JF with a coefficient and a set result).
    pub angka_kredit: Option<f64>,
}

/// An employee's annual result.
#[derive(Debug, Clone)]
pub struct Annual {
    /// The parts, by start date.
    pub parts: Vec<AnnualPart>,
    /// Annual predikat (the set result of the part covering the latest day).
    pub predikat: Option<Predikat>,
    /// Every part set.
    pub complete: bool,
    /// Every part FINAL.
    pub final_: bool,
    /// Sum of the parts' angka kredit.
    pub angka_kredit_total: Option<f64>,
}

/// An explained result: the evaluation and everything that produced it.
#[derive(Debug, Clone)]
pub struct Explanation {
    /// The evaluation.
    pub doc: EvaluationDoc,
    /// Action plans of the period.
    pub action_plans: Vec<ActionPlanRow>,
    /// Feedback on the SKP, newest first.
    pub feedback: Vec<FeedbackRow>,
    /// Name of the recorded assessor.
    pub assessor_name: String,
    /// Reason of the calibration exception, if any.
    pub exception_reason: String,
}

fn refusal(id: &str, r: rules::Refusal) -> Error {
    Error::precondition(r.reason, format!("evaluations/{id}"), r.message)
}

pub(crate) fn state_of(row: &EvaluationRow) -> Result<State> {
    State::parse(&row.state).ok_or_else(|| {
        Error::Internal(format!(
            "evaluation {} has unknown state {}",
            row.id, row.state
        ))
    })
}

pub(crate) fn aspect_of(s: &str) -> Aspect {
    match s {
        "KUALITAS" => Aspect::Kualitas,
        "WAKTU" => Aspect::Waktu,
        "BIAYA" => Aspect::Biaya,
        _ => Aspect::Kuantitas,
    }
}

fn capaian_of(ind: &IndicatorRow, value: f64) -> Option<f64> {
    rating::capaian(aspect_of(&ind.aspect), ind.target, value)
}

pub(crate) async fn find_skp<C: ConnectionTrait>(db: &C, id: &str) -> Result<SkpRow> {
    find_or_not_found::<skp::Entity, _>(db, "Skp", id).await
}

pub(crate) async fn find_period<C: ConnectionTrait>(
    db: &C,
    id: &str,
) -> Result<EvaluationPeriodRow> {
    find_or_not_found::<evaluation_period::Entity, _>(db, "EvaluationPeriod", id).await
}

/// Refuses an evaluation period that is not one of the SKP's (its year, overlapping its span).
pub(crate) fn check_period_of(s: &SkpRow, ep: &EvaluationPeriodRow) -> Result<()> {
    if ep.period_id != s.period_id || ep.end_date < s.start_date || ep.start_date > s.end_date {
        return Err(Error::precondition(
            "EVALUATION_PERIOD_OUTSIDE_SKP",
            format!("skps/{}", s.id),
            format!(
                "evaluation period {} ({} to {}) is not part of the SKP, which covers {} to {} of its performance year",
                ep.id, ep.start_date, ep.end_date, s.start_date, s.end_date
            ),
        ));
    }
    Ok(())
}

/// Realisasi, action plans and self-assessments are entered only on an approved, open SKP.
fn check_reportable(s: &SkpRow) -> Result<()> {
    match s.state.as_str() {
        "DISETUJUI" => Ok(()),
        "DITUTUP" => Err(Error::precondition(
            "SKP_CLOSED",
            format!("skps/{}", s.id),
            "the SKP is closed (DITUTUP): realisasi, action plans and self-assessments are entered only on an approved, open SKP",
        )),
        st => Err(Error::precondition(
            "SKP_NOT_APPROVED",
            format!("skps/{}", s.id),
            format!(
                "the SKP is {st}: realisasi, action plans and self-assessments are entered only once it is approved (DISETUJUI)"
            ),
        )),
    }
}

/// Ratings are given on an SKP that was approved (and may since have been closed on mutasi).
fn check_ratable(s: &SkpRow) -> Result<()> {
    if s.approved_at.is_some() && matches!(s.state.as_str(), "DISETUJUI" | "DITUTUP") {
        Ok(())
    } else {
        Err(Error::precondition(
            "SKP_NOT_APPROVED",
            format!("skps/{}", s.id),
            format!("the SKP is {}: only approved SKP are rated", s.state),
        ))
    }
}

/// The refusal of a change in the locked evaluation period `ep`.
fn period_locked(ep: &EvaluationPeriodRow) -> Error {
    Error::precondition(
        "PERIOD_LOCKED",
        format!("evaluationPeriods/{}", ep.id),
        format!(
            "the evaluation period {} to {} is locked (deadline {}); an administrator must unlock it first",
            ep.start_date, ep.end_date, ep.deadline
        ),
    )
}

pub(crate) async fn evaluation_of<C: ConnectionTrait>(
    db: &C,
    skp_id: &str,
    ep_id: &str,
) -> Result<Option<EvaluationRow>> {
    Ok(skp_evaluation::Entity::find()
        .filter(skp_evaluation::Column::SkpId.eq(skp_id))
        .filter(skp_evaluation::Column::EvaluationPeriodId.eq(ep_id))
        .one(db)
        .await?)
}

pub(crate) async fn objection_of<C: ConnectionTrait>(
    db: &C,
    evaluation_id: &str,
) -> Result<Option<ObjectionRow>> {
    Ok(objection::Entity::find()
        .filter(objection::Column::EvaluationId.eq(evaluation_id))
        .one(db)
        .await?)
}

/// The state a reader sees now, and since when and why it is FINAL.
pub(crate) fn effective(
    row: &EvaluationRow,
    objection: Option<&ObjectionRow>,
    now: DateTime<Utc>,
) -> Result<(State, Option<DateTime<Utc>>, Option<String>)> {
    let stored = state_of(row)?;
    let pending = objection.is_some_and(|o| o.state == "DIAJUKAN");
    let (state, lazily_final) =
        rules::effective_state(stored, row.objection_deadline, pending, now);
    Ok(match lazily_final {
        Some(at) => (state, Some(at), Some("WINDOW_PASSED".to_owned())),
        None => (state, row.final_at, row.final_reason.clone()),
    })
}

/// Stores the evaluation of `s` in `ep`, TERBUKA (none is stored yet).
async fn new_evaluation(
    txn: &super::Txn,
    s: &SkpRow,
    ep: &EvaluationPeriodRow,
    now: DateTime<Utc>,
) -> Result<EvaluationRow> {
    Ok(skp_evaluation::ActiveModel {
        id: Set(new_id()),
        skp_id: Set(s.id.clone()),
        evaluation_period_id: Set(ep.id.clone()),
        state: Set(State::Terbuka.as_str().to_owned()),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?)
}

/// Loads the readers' view of many (SKP, period, row) triples with a few queries.
pub(crate) async fn load_docs<C: ConnectionTrait>(
    db: &C,
    cache: Option<&ContentCache>,
    items: Vec<(SkpRow, EvaluationPeriodRow, Option<EvaluationRow>)>,
    now: DateTime<Utc>,
) -> Result<Vec<EvaluationDoc>> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let mut ep_ids: Vec<String> = items.iter().map(|(_, e, _)| e.id.clone()).collect();
    ep_ids.sort();
    ep_ids.dedup();
    let eval_ids: Vec<String> = items
        .iter()
        .filter_map(|(_, _, r)| r.as_ref().map(|r| r.id.clone()))
        .collect();
    let mut objections: HashMap<String, ObjectionRow> = HashMap::new();
    if !eval_ids.is_empty() {
        for o in objection::Entity::find()
            .filter(objection::Column::EvaluationId.is_in(eval_ids))
            .all(db)
            .await?
        {
            objections.insert(o.evaluation_id.clone(), o);
        }
    }
    let locked: std::collections::HashSet<String> = evaluation_period_lock::Entity::find()
        .filter(evaluation_period_lock::Column::EvaluationPeriodId.is_in(ep_ids))
        .filter(evaluation_period_lock::Column::Locked.eq(true))
        .all(db)
        .await?
        .into_iter()
        .map(|l| l.evaluation_period_id)
        .collect();
    assemble(
        db,
        ContentFrom::cache(cache),
        items,
        objections,
        &locked,
        now,
        RealisasiFrom::Read(Realisasi::Values),
    )
    .await
}

/// Evaluation period id -> indicator id -> realisasi value, with the stored row when asked for
/// (a page of evaluations needs the values only: the account and evidence stay in the
/// database). Each indicator belongs to one SKP, so each entry is taken once by [`assemble`].
type ByPeriod = HashMap<String, ByIndicator>;

/// Indicator id -> realisasi value, with the stored row when asked for (see [`ByPeriod`]).
type ByIndicator = HashMap<String, (f64, Option<RealisasiRow>)>;

/// Where [`assemble`] takes the realisasi of its evaluations from.
enum RealisasiFrom {
    /// Read from the database, as much of each as asked.
    Read(Realisasi),
    /// Already read with the evaluation (see [`realisasi_values_expr`]).
    Known(ByPeriod),
}

/// The realisasi of the SKPs `skp_ids` in the evaluation periods `ep_ids`, in one statement.
async fn read_realisasi<C: ConnectionTrait>(
    db: &C,
    skp_ids: Vec<String>,
    ep_ids: Vec<String>,
    detail: Realisasi,
) -> Result<ByPeriod> {
    let mut real: ByPeriod = HashMap::new();
    let of_page = realisasi::Entity::find()
        .filter(realisasi::Column::SkpId.is_in(skp_ids))
        .filter(realisasi::Column::EvaluationPeriodId.is_in(ep_ids));
    match detail {
        Realisasi::Values => {
            let values: Vec<(String, String, f64)> = of_page
                .select_only()
                .column(realisasi::Column::EvaluationPeriodId)
                .column(realisasi::Column::IndicatorId)
                .column(realisasi::Column::Value)
                .into_tuple()
                .all(db)
                .await?;
            for (ep, indicator, value) in values {
                real.entry(ep).or_default().insert(indicator, (value, None));
            }
        }
        Realisasi::Records => {
            for r in of_page.all(db).await? {
                real.entry(r.evaluation_period_id.clone())
                    .or_default()
                    .insert(r.indicator_id.clone(), (r.value, Some(r)));
            }
        }
    }
    Ok(real)
}

/// The readers' view of (SKP, period, row) triples whose objections (by evaluation id) and
/// locked evaluation periods are known: reads the SKP content and the realisasi.
async fn assemble<C: ConnectionTrait>(
    db: &C,
    from: ContentFrom<'_>,
    items: Vec<(SkpRow, EvaluationPeriodRow, Option<EvaluationRow>)>,
    mut objections: HashMap<String, ObjectionRow>,
    locked: &std::collections::HashSet<String>,
    now: DateTime<Utc>,
    real: RealisasiFrom,
) -> Result<Vec<EvaluationDoc>> {
    let mut skp_ids: Vec<String> = items.iter().map(|(s, _, _)| s.id.clone()).collect();
    skp_ids.sort();
    skp_ids.dedup();
    let mut ep_ids: Vec<String> = items.iter().map(|(_, e, _)| e.id.clone()).collect();
    ep_ids.sort();
    ep_ids.dedup();
    // The RHK and indicators of each SKP, in document order (cached by SKP version).
    let skps: Vec<(&str, i64)> = {
        let mut seen = std::collections::HashSet::new();
        items
            .iter()
            .filter(|(s, _, _)| seen.insert(s.id.as_str()))
            .map(|(s, _, _)| (s.id.as_str(), s.version))
            .collect()
    };
    let content = load_content(db, from, &skps).await?;
    let mut real = match real {
        RealisasiFrom::Known(values) => values,
        RealisasiFrom::Read(detail) => read_realisasi(db, skp_ids, ep_ids, detail).await?,
    };
    let mut out = Vec::with_capacity(items.len());
    for (s, ep, row) in items {
        let objection = row.as_ref().and_then(|r| objections.remove(&r.id));
        let (state, final_at, final_reason) = match &row {
            Some(r) => effective(r, objection.as_ref(), now)?,
            None => (State::Terbuka, None, None),
        };
        let mut of_period = real.get_mut(&ep.id);
        let mut capaian = Vec::new();
        if let Some(c) = content.get(&s.id) {
            for (rhk_ix, r) in c.rhk.iter().enumerate() {
                for (indicator_ix, i) in r.indicators.iter().enumerate() {
                    let (realisasi, record) = match of_period.as_mut().and_then(|m| m.remove(&i.id))
                    {
                        Some((value, record)) => (Some(value), record),
                        None => (None, None),
                    };
                    capaian.push(CapaianItem {
                        content: c.clone(),
                        rhk_ix,
                        indicator_ix,
                        realisasi,
                        record,
                        capaian: realisasi.and_then(|v| capaian_of(i, v)),
                    });
                }
            }
        }
        out.push(EvaluationDoc {
            locked: locked.contains(&ep.id),
            skp: s,
            period: ep,
            row,
            state,
            final_at,
            final_reason,
            objection,
            capaian,
        });
    }
    Ok(out)
}

/// The evaluation of SKP `s` in evaluation period `ep_id` (TERBUKA when nothing was entered),
/// with the names an explanation shows when `detail` is [`Realisasi::Records`].
async fn evaluation_doc<C: ConnectionTrait>(
    db: &C,
    from: ContentFrom<'_>,
    s: SkpRow,
    ep_id: &str,
    now: DateTime<Utc>,
    detail: Realisasi,
) -> Result<(EvaluationDoc, Names)> {
    // One statement where a page needs five: the period with its lock flag, the evaluation
    // with its objection, and the realisasi values when only the values are wanted (the
    // names of an explanation otherwise).
    let pe = period_evaluation(db, &s, ep_id, detail).await?;
    check_period_of(&s, &pe.period)?;
    let objections = match (&pe.row, pe.objection) {
        (Some(r), Some(o)) => HashMap::from([(r.id.clone(), o)]),
        _ => HashMap::new(),
    };
    let locked = if pe.locked {
        std::collections::HashSet::from([pe.period.id.clone()])
    } else {
        std::collections::HashSet::new()
    };
    let real = match pe.values {
        Some(values) => RealisasiFrom::Known(HashMap::from([(pe.period.id.clone(), values)])),
        None => RealisasiFrom::Read(detail),
    };
    let doc = assemble(
        db,
        from,
        vec![(s, pe.period, pe.row)],
        objections,
        &locked,
        now,
        real,
    )
    .await?
    .pop()
    .ok_or_else(|| Error::Internal("evaluation vanished while loading".into()))?;
    Ok((doc, pe.names))
}

/// The names an explanation shows beside an evaluation (empty when not read or not set).
#[derive(Debug, Default)]
struct Names {
    /// Name of the SKP's recorded assessor.
    assessor: String,
    /// Reason of the evaluation's calibration exception.
    exception_reason: String,
}

/// What [`period_evaluation`] read.
struct PeriodEvaluation {
    /// The evaluation period.
    period: EvaluationPeriodRow,
    /// Whether the period is locked now.
    locked: bool,
    /// The evaluation, if entered.
    row: Option<EvaluationRow>,
    /// Its objection, if filed.
    objection: Option<ObjectionRow>,
    /// The SKP's realisasi values in the period by indicator ([`Realisasi::Values`]).
    values: Option<ByIndicator>,
    /// The names an explanation shows ([`Realisasi::Records`]).
    names: Names,
}

/// What a point read of SKP `s`'s evaluation in `ep_id` needs besides the SKP, in one
/// statement: the evaluation period, whether it is locked now, the evaluation (if entered), its
/// objection (if filed) and, for [`Realisasi::Values`], the SKP's realisasi values in the
/// period; for [`Realisasi::Records`] (an explanation, which reads the stored realisasi rows
/// after this), the assessor's name and the calibration exception's reason instead.
/// NOT_FOUND when the period does not exist.
async fn period_evaluation<C: ConnectionTrait>(
    db: &C,
    s: &SkpRow,
    ep_id: &str,
    detail: Realisasi,
) -> Result<PeriodEvaluation> {
    let backend = db.get_database_backend();
    let stmt = period_evaluation_statement(backend, &s.id, ep_id, s.assessor_id.as_deref(), detail);
    let row = db
        .query_one_raw(stmt)
        .await?
        .ok_or_else(|| Error::not_found("EvaluationPeriod", ep_id))?;
    let mut pe = decode_period_evaluation(&row)?;
    match detail {
        Realisasi::Values => {
            let text = row.try_get::<Option<String>>("", "realisasi_values")?;
            pe.values = Some(parse_realisasi_values(text.as_deref().unwrap_or_default())?);
        }
        Realisasi::Records => {
            let text = |c: &str| row.try_get::<Option<String>>("", c);
            pe.names.assessor = text("assessor_name")?.unwrap_or_default();
            pe.names.exception_reason = text("exception_reason")?.unwrap_or_default();
        }
    }
    Ok(pe)
}

/// The statement of [`period_evaluation`] for SKP `skp_id` (whose recorded assessor is
/// `assessor`) in evaluation period `ep_id`, rendered once per engine for each [`Realisasi`].
pub(crate) fn period_evaluation_statement(
    backend: sea_orm::DbBackend,
    skp_id: &str,
    ep_id: &str,
    assessor: Option<&str>,
    detail: Realisasi,
) -> sea_orm::Statement {
    /// One shape for each [`Realisasi`].
    static READ: [SqlTemplate; 2] = [SqlTemplate::new(), SqlTemplate::new()];
    match detail {
        Realisasi::Values => READ[0].statement(
            backend,
            [skp_id.into(), ep_id.into()],
            period_evaluation_values,
        ),
        Realisasi::Records => READ[1].statement(
            backend,
            [skp_id.into(), ep_id.into(), assessor.into()],
            period_evaluation_records,
        ),
    }
}

/// [`period_evaluation`]'s statement for [`Realisasi::Values`] built in full (SKP id, period
/// id).
pub(crate) fn period_evaluation_values(
    b: sea_orm::DbBackend,
    [skp, ep]: &[Value; 2],
) -> sea_orm::Statement {
    period_evaluation_select(skp.clone(), ep.clone())
        .expr_as(realisasi_values_expr(b, skp.clone()), "realisasi_values")
        .build(b)
}

/// [`period_evaluation`]'s statement for [`Realisasi::Records`] built in full (SKP id, period
/// id, the SKP's assessor).
pub(crate) fn period_evaluation_records(
    b: sea_orm::DbBackend,
    [skp, ep, assessor]: &[Value; 3],
) -> sea_orm::Statement {
    period_evaluation_select(skp.clone(), ep.clone())
        .expr_as(assessor_name_expr(assessor.clone()), "assessor_name")
        .expr_as(exception_reason_expr(), "exception_reason")
        .build(b)
}

/// The statement behind [`period_evaluation`]: evaluation period `ep_id` (its columns as
/// `A_*`, sea-orm's pair) with whether it is locked now (`A_locked_now`), the evaluation of
/// SKP `skp_id` in it (`B_*`) and that evaluation's objection (`C_*`), each joined on a key.
fn period_evaluation_select(
    skp_id: Value,
    ep_id: Value,
) -> sea_orm::SelectTwo<evaluation_period::Entity, skp_evaluation::Entity> {
    let locked_now = Expr::exists(
        Query::select()
            .expr(Expr::val(1))
            .from(evaluation_period_lock::Entity)
            .and_where(
                Expr::col((
                    evaluation_period_lock::Entity,
                    evaluation_period_lock::Column::EvaluationPeriodId,
                ))
                .equals((evaluation_period::Entity, evaluation_period::Column::Id)),
            )
            .and_where(
                Expr::col((
                    evaluation_period_lock::Entity,
                    evaluation_period_lock::Column::Locked,
                ))
                .eq(true),
            )
            .to_owned(),
    );
    let skp = skp_id;
    let entered: sea_orm::RelationDef =
        evaluation_period::Entity::belongs_to(skp_evaluation::Entity)
            .from(evaluation_period::Column::Id)
            .to(skp_evaluation::Column::EvaluationPeriodId)
            .into();
    let entered = entered.on_condition(move |_, e| {
        Expr::col((e, skp_evaluation::Column::SkpId))
            .eq(skp.clone())
            .into()
    });
    let filed: sea_orm::RelationDef = skp_evaluation::Entity::belongs_to(objection::Entity)
        .from(skp_evaluation::Column::Id)
        .to(objection::Column::EvaluationId)
        .into();
    let mut q = evaluation_period::Entity::find()
        .filter(evaluation_period::Column::Id.eq(ep_id))
        .expr_as(locked_now, "locked_now")
        .join(sea_orm::JoinType::LeftJoin, entered)
        .join(sea_orm::JoinType::LeftJoin, filed)
        .select_also(skp_evaluation::Entity);
    for c in <objection::Column as sea_orm::Iterable>::iter() {
        q = q.expr_as(
            Expr::col((objection::Entity, c)),
            format!("C_{}", sea_orm::IdenStatic::as_str(&c)),
        );
    }
    q
}

/// The period, lock flag, evaluation and objection of a row of [`period_evaluation_select`].
fn decode_period_evaluation(row: &sea_orm::QueryResult) -> Result<PeriodEvaluation> {
    Ok(PeriodEvaluation {
        period: EvaluationPeriodRow::from_query_result(row, "A_")?,
        locked: row.try_get::<bool>("", "A_locked_now")?,
        row: EvaluationRow::from_query_result_optional(row, "B_")?,
        objection: ObjectionRow::from_query_result_optional(row, "C_")?,
        values: None,
        names: Names::default(),
    })
}

/// The name of the employee `assessor` (NULL when none or not found), as a column.
fn assessor_name_expr(assessor: Value) -> Expr {
    let name = Query::select()
        .column((employee::Entity, employee::Column::Name))
        .from(employee::Entity)
        .and_where(Expr::col((employee::Entity, employee::Column::Id)).eq(assessor))
        .to_owned();
    Expr::SubQuery(None, Box::new(name.into()))
}

/// The reason of the calibration exception of the enclosing row of `skp_evaluations` (NULL
/// when it has none), as a column.
fn exception_reason_expr() -> Expr {
    use super::entities::calibration_exception as x;
    let reason = Query::select()
        .column((x::Entity, x::Column::Reason))
        .from(x::Entity)
        .and_where(Expr::col((x::Entity, x::Column::Id)).equals((
            skp_evaluation::Entity,
            skp_evaluation::Column::CalibrationExceptionId,
        )))
        .to_owned();
    Expr::SubQuery(None, Box::new(reason.into()))
}

/// The realisasi values of SKP `skp_id` in the evaluation period of the enclosing row of
/// `evaluation_periods`, as one text `indicator value,indicator value,...` (NULL when none),
/// so that a point read takes them with the period instead of a statement of their own. Each
/// value is printed so that it parses back to the same `f64`: with 17 significant digits on
/// SQLite, in PostgreSQL's shortest exact form (`float8` output with `extra_float_digits` above
/// 0, which sqlx sets on every connection). Identifiers are generated ids: no space, no comma.
fn realisasi_values_expr(backend: sea_orm::DbBackend, skp_id: Value) -> Expr {
    let agg = match backend {
        sea_orm::DbBackend::Postgres => {
            r#"string_agg("realisasi"."indicator_id" || ' ' || "realisasi"."value"::text, ',')"#
        }
        _ => {
            r#"group_concat("realisasi"."indicator_id" || ' ' || printf('%!.17g', "realisasi"."value"), ',')"#
        }
    };
    let values = Query::select()
        .expr(Expr::cust(agg))
        .from(realisasi::Entity)
        .and_where(Expr::col((realisasi::Entity, realisasi::Column::SkpId)).eq(skp_id))
        .and_where(
            Expr::col((realisasi::Entity, realisasi::Column::EvaluationPeriodId))
                .equals((evaluation_period::Entity, evaluation_period::Column::Id)),
        )
        .to_owned();
    Expr::SubQuery(None, Box::new(values.into()))
}

/// The values [`realisasi_values_expr`] printed, by indicator.
fn parse_realisasi_values(text: &str) -> Result<ByIndicator> {
    let bad = || Error::Internal(format!("unreadable realisasi values {text:?}"));
    let mut out = HashMap::new();
    for item in text.split(',').filter(|i| !i.is_empty()) {
        let (indicator, value) = item.rsplit_once(' ').ok_or_else(bad)?;
        let value: f64 = value.parse().map_err(|_| bad())?;
        out.insert(indicator.to_owned(), (value, None));
    }
    Ok(out)
}

impl Store {
    /// Locks the SKP and reads it with the evaluation period (checking they belong together),
    /// whether the period is locked, the SKP's evaluation in it and that evaluation's objection.
    /// On PostgreSQL the row lock (`SELECT ... FOR UPDATE`) comes first and the read after it,
    /// so that the read sees what the previous holder of the lock committed (read committed: a
    /// statement's snapshot is taken when it starts, before it would wait for a lock); SQLite's
    /// write transaction excludes every other writer from its start, so there the read alone.
    /// Two statements on PostgreSQL and one on SQLite where this took up to six.
    async fn lock_skp_evaluation(
        &self,
        txn: &super::Txn,
        skp_id: &str,
        ep_id: &str,
    ) -> Result<(SkpRow, PeriodEvaluation)> {
        if self.kind() == super::DbKind::Postgres
            && !lock_row(txn, self.kind(), "skps", skp_id).await?
        {
            return Err(Error::not_found("Skp", skp_id));
        }
        /// The statement (one shape).
        static LOCKED: SqlTemplate = SqlTemplate::new();
        let params = [skp_id.into(), ep_id.into()];
        let stmt = LOCKED.statement(self.kind().backend(), params, |b, [skp, ep]| {
            let mut q = period_evaluation_select(skp.clone(), ep.clone());
            sea_orm::QueryTrait::query(&mut q).join(
                sea_orm::JoinType::InnerJoin,
                skp::Entity,
                Expr::col((skp::Entity, skp::Column::Id)).eq(skp.clone()),
            );
            for c in <skp::Column as sea_orm::Iterable>::iter() {
                q = q.expr_as(
                    Expr::col((skp::Entity, c)),
                    format!("S_{}", sea_orm::IdenStatic::as_str(&c)),
                );
            }
            q.build(b)
        });
        let Some(row) = txn.query_one_raw(stmt).await? else {
            // No SKP or no period: say which (the SKP first, as its lock would have).
            find_skp(txn, skp_id).await?;
            return Err(Error::not_found("EvaluationPeriod", ep_id));
        };
        let s = SkpRow::from_query_result(&row, "S_")?;
        let pe = decode_period_evaluation(&row)?;
        check_period_of(&s, &pe.period)?;
        Ok((s, pe))
    }

    /// Locks the SKP and checks that the employee may report in `ep` now: an approved open SKP,
    /// an unlocked period and an open evaluation. Returns the (created if needed) evaluation.
    async fn guard_report(
        &self,
        txn: &super::Txn,
        skp_id: &str,
        ep_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(SkpRow, EvaluationPeriodRow, EvaluationRow)> {
        let (s, pe) = self.lock_skp_evaluation(txn, skp_id, ep_id).await?;
        check_reportable(&s)?;
        if pe.locked {
            return Err(period_locked(&pe.period));
        }
        let (row, obj) = match pe.row {
            Some(row) => (row, pe.objection),
            None => (new_evaluation(txn, &s, &pe.period, now).await?, None),
        };
        let (state, _, _) = effective(&row, obj.as_ref(), now)?;
        rules::step(state, Action::Report).map_err(|r| refusal(&row.id, r))?;
        Ok((s, pe.period, row))
    }

    /// The evaluation of an SKP in an evaluation period as a reader sees it at `now`.
    pub async fn get_evaluation(
        &self,
        skp_id: &str,
        ep_id: &str,
        now: DateTime<Utc>,
    ) -> Result<EvaluationDoc> {
        let read = self.read_skp(skp_id).await?;
        self.skp_evaluation_doc(read, ep_id, now).await
    }

    /// The evaluation of the SKP read by [`Store::read_skp`] in evaluation period `ep_id` as a
    /// reader sees it at `now`, without reading the SKP (nor, mostly, its content) again.
    pub async fn skp_evaluation_doc(
        &self,
        mut read: SkpRead,
        ep_id: &str,
        now: DateTime<Utc>,
    ) -> Result<EvaluationDoc> {
        let from = read.content_from(self.content_cache(), true);
        evaluation_doc(self.conn(), from, read.row, ep_id, now, Realisasi::Values)
            .await
            .map(|(doc, _)| doc)
    }

    /// The stored evaluations of one SKP, by evaluation period; `set_only` keeps DITETAPKAN and
    /// FINAL ones (what `results:read` services see).
    pub async fn list_skp_evaluations(
        &self,
        skp_id: &str,
        ep_id: Option<&str>,
        state: Option<State>,
        set_only: bool,
        now: DateTime<Utc>,
    ) -> Result<Vec<EvaluationDoc>> {
        let s = find_skp(self.conn(), skp_id).await?;
        let mut q = skp_evaluation::Entity::find().filter(skp_evaluation::Column::SkpId.eq(skp_id));
        if let Some(e) = ep_id {
            q = q.filter(skp_evaluation::Column::EvaluationPeriodId.eq(e));
        }
        let rows = q.all(self.conn()).await?;
        let eps: HashMap<String, EvaluationPeriodRow> = evaluation_period::Entity::find()
            .filter(evaluation_period::Column::PeriodId.eq(&s.period_id))
            .all(self.conn())
            .await?
            .into_iter()
            .map(|e| (e.id.clone(), e))
            .collect();
        let mut items = Vec::new();
        for r in rows {
            if let Some(ep) = eps.get(&r.evaluation_period_id) {
                items.push((s.clone(), ep.clone(), Some(r)));
            }
        }
        items.sort_by_key(|(_, ep, _)| ep.sequence);
        let docs = load_docs(self.conn(), Some(self.content_cache()), items, now).await?;
        Ok(docs
            .into_iter()
            .filter(|d| state.is_none_or(|st| d.state == st))
            .filter(|d| !set_only || d.state.is_set())
            .collect())
    }

    /// Adds an action plan to an RHK for an evaluation period (idempotent on `request_id`).
    #[allow(clippy::too_many_arguments)]
    pub async fn create_action_plan(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        rhk_id: &str,
        ep_id: &str,
        text: String,
        request_id: &str,
        digest: &str,
    ) -> Result<ActionPlanRow> {
        let txn = self.begin_write().await?;
        let id = new_id();
        if let Claim::Replay(existing) =
            claim(&txn, "CreateActionPlan", request_id, digest, &id).await?
        {
            txn.commit().await?;
            return self.get_action_plan(&existing).await;
        }
        let rhk = find_or_not_found::<skp_rhk::Entity, _>(&txn, "Rhk", rhk_id).await?;
        let (_, _, ev) = self.guard_report(&txn, &rhk.skp_id, ep_id, now).await?;
        let row = action_plan::ActiveModel {
            id: Set(id.clone()),
            skp_id: Set(rhk.skp_id.clone()),
            rhk_id: Set(rhk.id.clone()),
            evaluation_period_id: Set(ep_id.to_owned()),
            text: Set(text.clone()),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await?;
        self.record(
            &txn,
            actor,
            Change {
                resource_type: EVALUATION_RESOURCE,
                resource_id: &ev.id,
                action: "action_plan.create",
                detail: json!({"action_plan_id": id, "rhk_id": rhk.id, "text": text}),
            },
        )
        .await?;
        txn.commit().await?;
        Ok(row)
    }

    /// Reads an action plan.
    pub async fn get_action_plan(&self, id: &str) -> Result<ActionPlanRow> {
        find_or_not_found::<action_plan::Entity, _>(self.conn(), "ActionPlan", id).await
    }

    /// Changes the text of an action plan if `version` is current; `None` deletes it.
    pub async fn change_action_plan(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        id: &str,
        version: i64,
        text: Option<String>,
    ) -> Result<Option<ActionPlanRow>> {
        let txn = self.begin_write().await?;
        let cur = find_or_not_found::<action_plan::Entity, _>(&txn, "ActionPlan", id).await?;
        let (_, _, ev) = self
            .guard_report(&txn, &cur.skp_id, &cur.evaluation_period_id, now)
            .await?;
        if cur.version != version {
            return Err(Error::Aborted {
                kind: "ActionPlan",
                id: id.to_owned(),
            });
        }
        let (action, detail) = match &text {
            Some(t) => {
                action_plan::Entity::update_many()
                    .col_expr(action_plan::Column::Text, Expr::value(t.clone()))
                    .col_expr(
                        action_plan::Column::Version,
                        Expr::col(action_plan::Column::Version).add(1),
                    )
                    .col_expr(action_plan::Column::UpdatedAt, Expr::value(now))
                    .filter(action_plan::Column::Id.eq(id))
                    .exec(&txn)
                    .await?;
                (
                    "action_plan.update",
                    json!({"action_plan_id": id, "text": t, "previous": cur.text}),
                )
            }
            None => {
                action_plan::Entity::delete_many()
                    .filter(action_plan::Column::Id.eq(id))
                    .exec(&txn)
                    .await?;
                (
                    "action_plan.delete",
                    json!({"action_plan_id": id, "text": cur.text}),
                )
            }
        };
        self.record(
            &txn,
            actor,
            Change {
                resource_type: EVALUATION_RESOURCE,
                resource_id: &ev.id,
                action,
                detail,
            },
        )
        .await?;
        txn.commit().await?;
        match text {
            Some(_) => Ok(Some(self.get_action_plan(id).await?)),
            None => Ok(None),
        }
    }

    /// Lists action plans of an SKP in creation order.
    pub async fn list_action_plans(
        &self,
        skp_id: &str,
        ep_id: Option<&str>,
        page: &Page,
    ) -> Result<(Vec<ActionPlanRow>, String)> {
        let mut q = action_plan::Entity::find().filter(action_plan::Column::SkpId.eq(skp_id));
        if let Some(e) = ep_id {
            q = q.filter(action_plan::Column::EvaluationPeriodId.eq(e));
        }
        keyset_page(self.conn(), q, action_plan::Column::Id, false, page, |r| {
            r.id.clone()
        })
        .await
    }

    /// Records the realisasi of an indicator for a period (idempotent on `request_id`); a
    /// second realisasi of the same indicator and period is ALREADY_EXISTS (update it instead).
    pub async fn create_realisasi(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        new: NewRealisasi,
        request_id: &str,
        digest: &str,
    ) -> Result<RealisasiDoc> {
        let txn = self.begin_write().await?;
        let id = new_id();
        if let Claim::Replay(existing) =
            claim(&txn, "CreateRealisasi", request_id, digest, &id).await?
        {
            txn.commit().await?;
            return self.get_realisasi(&existing).await;
        }
        let ind =
            find_or_not_found::<skp_indicator::Entity, _>(&txn, "Indicator", &new.indicator_id)
                .await?;
        let (_, _, ev) = self
            .guard_report(&txn, &ind.skp_id, &new.evaluation_period_id, now)
            .await?;
        let evidence = serde_json::to_string(&new.evidence)
            .map_err(|e| Error::Internal(format!("evidence: {e}")))?;
        // Stored as the database keeps time (microseconds), so the row answered is the row read
        // later.
        let at = now.trunc_subsecs(6);
        let am = realisasi::ActiveModel {
            id: Set(id.clone()),
            skp_id: Set(ind.skp_id.clone()),
            indicator_id: Set(ind.id.clone()),
            evaluation_period_id: Set(new.evaluation_period_id.clone()),
            value: Set(new.value),
            account: Set(new.account.clone()),
            evidence: Set(evidence),
            version: Set(1),
            created_at: Set(at),
            updated_at: Set(at),
        };
        let row = am.clone().try_into_model()?;
        let change = Change {
            resource_type: EVALUATION_RESOURCE,
            resource_id: &ev.id,
            action: "realisasi.create",
            detail: json!({"realisasi_id": id, "realisasi": new, "capaian_percent": capaian_of(&ind, new.value)}),
        };
        // The insert, skipped if the indicator has a realisasi for this period (its unique
        // index), with the audit entry only if it inserts.
        let mut insert = realisasi::Entity::insert(am)
            .on_conflict(
                OnConflict::columns([
                    realisasi::Column::IndicatorId,
                    realisasi::Column::EvaluationPeriodId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .into_query();
        insert.returning_col(realisasi::Column::Id);
        let insert = self.kind.backend().build(&insert);
        let inserted = match self.kind {
            // One statement (`audit::pg_with_entry`), then COMMIT.
            DbKind::Postgres => {
                let stmt = super::audit::pg_with_entry(insert, actor, Utc::now(), change);
                let rows = txn.query_all_raw(stmt).await?;
                if !rows.is_empty() {
                    txn.commit().await?;
                }
                rows
            }
            // One command (`Txn::commit_with`): the entry if the insert will insert (the write
            // lock keeps it so), the head's move, the call's request id withdrawn if it will
            // not, the insert, COMMIT.
            DbKind::Sqlite => {
                let taken = "EXISTS (SELECT 1 FROM realisasi \
                               WHERE indicator_id = ? AND evaluation_period_id = ?)";
                let keys = || {
                    vec![
                        ind.id.clone().into(),
                        new.evaluation_period_id.clone().into(),
                    ]
                };
                let entry = super::audit::sqlite_append(
                    super::audit::new_entry(actor, Utc::now(), change),
                    &format!("NOT {taken}"),
                    keys(),
                );
                let withdraw =
                    super::idempotency::withdraw_if("CreateRealisasi", request_id, taken, keys());
                for stmt in entry.into_iter().chain(withdraw) {
                    txn.hold(stmt).await?;
                }
                txn.commit_with(insert).await?
            }
        };
        if inserted.is_empty() {
            let e = realisasi::Entity::find()
                .filter(realisasi::Column::IndicatorId.eq(&ind.id))
                .filter(realisasi::Column::EvaluationPeriodId.eq(&new.evaluation_period_id))
                .one(self.conn())
                .await?
                .ok_or_else(|| Error::Internal("realisasi not stored".into()))?;
            return Err(Error::AlreadyExists {
                kind: "Realisasi",
                detail: format!(
                    "realisasi {} already records this indicator for this period; update it",
                    e.id
                ),
            });
        }
        // The inserted row as stored: no read after the commit.
        Ok(RealisasiDoc {
            capaian: capaian_of(&ind, row.value),
            row,
        })
    }

    /// Reads a realisasi with its capaian.
    pub async fn get_realisasi(&self, id: &str) -> Result<RealisasiDoc> {
        let row = find_or_not_found::<realisasi::Entity, _>(self.conn(), "Realisasi", id).await?;
        let ind = skp_indicator::Entity::find_by_id(row.indicator_id.clone())
            .one(self.conn())
            .await?;
        Ok(RealisasiDoc {
            capaian: ind.and_then(|i| capaian_of(&i, row.value)),
            row,
        })
    }

    /// Changes a realisasi if `version` is current.
    pub async fn update_realisasi(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        id: &str,
        version: i64,
        ch: RealisasiChanges,
    ) -> Result<RealisasiDoc> {
        let txn = self.begin_write().await?;
        let cur = find_or_not_found::<realisasi::Entity, _>(&txn, "Realisasi", id).await?;
        let (_, _, ev) = self
            .guard_report(&txn, &cur.skp_id, &cur.evaluation_period_id, now)
            .await?;
        if cur.version != version {
            return Err(Error::Aborted {
                kind: "Realisasi",
                id: id.to_owned(),
            });
        }
        let mut q = realisasi::Entity::update_many()
            .col_expr(
                realisasi::Column::Version,
                Expr::col(realisasi::Column::Version).add(1),
            )
            .col_expr(realisasi::Column::UpdatedAt, Expr::value(now));
        if let Some(v) = ch.value {
            q = q.col_expr(realisasi::Column::Value, Expr::value(v));
        }
        if let Some(a) = &ch.account {
            q = q.col_expr(realisasi::Column::Account, Expr::value(a.clone()));
        }
        if let Some(e) = &ch.evidence {
            let json =
                serde_json::to_string(e).map_err(|e| Error::Internal(format!("evidence: {e}")))?;
            q = q.col_expr(realisasi::Column::Evidence, Expr::value(json));
        }
        let row = q
            .filter(realisasi::Column::Id.eq(id))
            .exec_with_returning(&txn)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| Error::not_found("Realisasi", id))?;
        let ind = skp_indicator::Entity::find_by_id(row.indicator_id.clone())
            .one(&txn)
            .await?;
        self.record(
            &txn,
            actor,
            Change {
                resource_type: EVALUATION_RESOURCE,
                resource_id: &ev.id,
                action: "realisasi.update",
                detail: json!({"realisasi_id": id, "changes": ch, "previous_value": cur.value}),
            },
        )
        .await?;
        txn.commit().await?;
        Ok(RealisasiDoc {
            capaian: ind.and_then(|i| capaian_of(&i, row.value)),
            row,
        })
    }

    /// Lists the realisasi of an SKP in creation order, each with its capaian.
    pub async fn list_realisasi(
        &self,
        skp_id: &str,
        ep_id: Option<&str>,
        page: &Page,
    ) -> Result<(Vec<RealisasiDoc>, String)> {
        let mut q = realisasi::Entity::find().filter(realisasi::Column::SkpId.eq(skp_id));
        if let Some(e) = ep_id {
            q = q.filter(realisasi::Column::EvaluationPeriodId.eq(e));
        }
        let (rows, next) = keyset_page(self.conn(), q, realisasi::Column::Id, false, page, |r| {
            r.id.clone()
        })
        .await?;
        let inds: HashMap<String, IndicatorRow> = skp_indicator::Entity::find()
            .filter(skp_indicator::Column::SkpId.eq(skp_id))
            .all(self.conn())
            .await?
            .into_iter()
            .map(|i| (i.id.clone(), i))
            .collect();
        let docs = rows
            .into_iter()
            .map(|row| RealisasiDoc {
                capaian: inds
                    .get(&row.indicator_id)
                    .and_then(|i| capaian_of(i, row.value)),
                row,
            })
            .collect();
        Ok((docs, next))
    }

    /// Records feedback of the SKP's assessor (idempotent on `request_id`). Feedback is kept as
    /// given: there is no update or delete.
    pub async fn create_feedback(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        new: NewFeedback,
        assessor_seen: Option<&str>,
        request_id: &str,
        digest: &str,
    ) -> Result<FeedbackRow> {
        let txn = self.begin_write().await?;
        let id = new_id();
        if let Claim::Replay(existing) =
            claim(&txn, "CreateFeedback", request_id, digest, &id).await?
        {
            txn.commit().await?;
            return self.get_feedback(&existing).await;
        }
        if !lock_row(&txn, self.kind(), "skps", &new.skp_id).await? {
            return Err(Error::not_found("Skp", &new.skp_id));
        }
        let s = find_skp(&txn, &new.skp_id).await?;
        let author = s
            .assessor_id
            .clone()
            .filter(|a| Some(a.as_str()) == assessor_seen)
            .ok_or_else(|| Error::Aborted {
                kind: "Skp",
                id: s.id.clone(),
            })?;
        if let Some(ep) = &new.evaluation_period_id {
            check_period_of(&s, &find_period(&txn, ep).await?)?;
        }
        if let Some(r) = &new.rhk_id {
            let rhk = skp_rhk::Entity::find_by_id(r.clone())
                .one(&txn)
                .await?
                .filter(|x| x.skp_id == s.id);
            if rhk.is_none() {
                return Err(Error::invalid(
                    "feedback.rhk_id",
                    "is not an RHK of this SKP",
                ));
            }
        }
        let row = feedback::ActiveModel {
            id: Set(id.clone()),
            skp_id: Set(s.id.clone()),
            evaluation_period_id: Set(new.evaluation_period_id.clone()),
            rhk_id: Set(new.rhk_id.clone()),
            behaviour: Set(new.behaviour.clone()),
            text: Set(new.text.clone()),
            author_id: Set(author),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
        self.record(
            &txn,
            actor,
            Change {
                resource_type: SKP_RESOURCE,
                resource_id: &s.id,
                action: "feedback.create",
                detail: json!({"feedback_id": id, "feedback": new}),
            },
        )
        .await?;
        txn.commit().await?;
        Ok(row)
    }

    /// Reads one feedback item.
    pub async fn get_feedback(&self, id: &str) -> Result<FeedbackRow> {
        find_or_not_found::<feedback::Entity, _>(self.conn(), "Feedback", id).await
    }

    /// Lists the feedback on an SKP, newest first.
    pub async fn list_feedback(
        &self,
        skp_id: &str,
        ep_id: Option<&str>,
        page: &Page,
    ) -> Result<(Vec<FeedbackRow>, String)> {
        let mut q = feedback::Entity::find().filter(feedback::Column::SkpId.eq(skp_id));
        if let Some(e) = ep_id {
            q = q.filter(feedback::Column::EvaluationPeriodId.eq(e));
        }
        keyset_page(self.conn(), q, feedback::Column::Id, true, page, |r| {
            r.id.clone()
        })
        .await
    }

    /// Records the employee's self-assessment (idempotent on `request_id`).
    #[allow(clippy::too_many_arguments)]
    pub async fn submit_self_assessment(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        skp_id: &str,
        ep_id: &str,
        input: SelfAssessmentInput,
        version: Option<i64>,
        request_id: &str,
        digest: &str,
    ) -> Result<EvaluationDoc> {
        let txn = self.begin_write().await?;
        if let Claim::Replay(_) =
            claim(&txn, "SubmitSelfAssessment", request_id, digest, skp_id).await?
        {
            txn.commit().await?;
            return self.get_evaluation(skp_id, ep_id, now).await;
        }
        let (_, _, ev) = self.guard_report(&txn, skp_id, ep_id, now).await?;
        if version.is_some_and(|v| v != ev.version) {
            return Err(Error::Aborted {
                kind: "Evaluation",
                id: ev.id.clone(),
            });
        }
        skp_evaluation::Entity::update_many()
            .col_expr(
                skp_evaluation::Column::SelfAssessment,
                Expr::value(input.text.clone()),
            )
            .col_expr(
                skp_evaluation::Column::SelfResultsRating,
                Expr::value(input.results.map(str::to_owned)),
            )
            .col_expr(
                skp_evaluation::Column::SelfBehaviourRating,
                Expr::value(input.behaviour.map(str::to_owned)),
            )
            .col_expr(skp_evaluation::Column::SelfAssessedAt, Expr::value(now))
            .col_expr(
                skp_evaluation::Column::Version,
                Expr::col(skp_evaluation::Column::Version).add(1),
            )
            .col_expr(skp_evaluation::Column::UpdatedAt, Expr::value(now))
            .filter(skp_evaluation::Column::Id.eq(&ev.id))
            .exec(&txn)
            .await?;
        self.record(
            &txn,
            actor,
            Change {
                resource_type: EVALUATION_RESOURCE,
                resource_id: &ev.id,
                action: "self_assessment",
                detail: json!({"self_assessment": input, "version": ev.version + 1}),
            },
        )
        .await?;
        txn.commit().await?;
        self.get_evaluation(skp_id, ep_id, now).await
    }

    /// The assessor rates results and behaviour with a reason (idempotent on `request_id`);
    /// the predikat is computed from the matrix. Allowed while TERBUKA or DINILAI, on an
    /// approved SKP, in an unlocked period, by the assessor recorded on the SKP.
    #[allow(clippy::too_many_arguments)]
    pub async fn rate(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        skp_id: &str,
        ep_id: &str,
        results: Rating,
        behaviour: Rating,
        reason: String,
        version: Option<i64>,
        assessor_seen: Option<&str>,
        request_id: &str,
        digest: &str,
    ) -> Result<EvaluationDoc> {
        let txn = self.begin_write().await?;
        if let Claim::Replay(_) = claim(&txn, "RateEvaluation", request_id, digest, skp_id).await? {
            txn.commit().await?;
            return self.get_evaluation(skp_id, ep_id, now).await;
        }
        let (s, pe) = self.lock_skp_evaluation(&txn, skp_id, ep_id).await?;
        let assessor = s
            .assessor_id
            .clone()
            .filter(|a| Some(a.as_str()) == assessor_seen)
            .ok_or_else(|| Error::Aborted {
                kind: "Skp",
                id: s.id.clone(),
            })?;
        if let Some(row) = &pe.row {
            // A FINAL or set result is refused whatever else is wrong.
            let (state, _, _) = effective(row, pe.objection.as_ref(), now)?;
            rules::step(state, Action::Rate).map_err(|r| refusal(&row.id, r))?;
        }
        check_ratable(&s)?;
        if pe.locked {
            return Err(period_locked(&pe.period));
        }
        let ev = match pe.row {
            Some(row) => row,
            None => new_evaluation(&txn, &s, &pe.period, now).await?,
        };
        if version.is_some_and(|v| v != ev.version) {
            return Err(Error::Aborted {
                kind: "Evaluation",
                id: ev.id.clone(),
            });
        }
        let from = state_of(&ev)?;
        let cell = rating::predikat(results, behaviour);
        skp_evaluation::Entity::update_many()
            .col_expr(
                skp_evaluation::Column::State,
                Expr::value(State::Dinilai.as_str()),
            )
            .col_expr(
                skp_evaluation::Column::ResultsRating,
                Expr::value(results.as_str()),
            )
            .col_expr(
                skp_evaluation::Column::BehaviourRating,
                Expr::value(behaviour.as_str()),
            )
            .col_expr(
                skp_evaluation::Column::RatingReason,
                Expr::value(reason.clone()),
            )
            .col_expr(
                skp_evaluation::Column::Predikat,
                Expr::value(cell.predikat.as_str()),
            )
            .col_expr(
                skp_evaluation::Column::RatedBy,
                Expr::value(assessor.clone()),
            )
            .col_expr(skp_evaluation::Column::RatedAt, Expr::value(now))
            .col_expr(
                skp_evaluation::Column::Version,
                Expr::col(skp_evaluation::Column::Version).add(1),
            )
            .col_expr(skp_evaluation::Column::UpdatedAt, Expr::value(now))
            .filter(skp_evaluation::Column::Id.eq(&ev.id))
            .exec(&txn)
            .await?;
        self.record(
            &txn,
            actor,
            Change {
                resource_type: EVALUATION_RESOURCE,
                resource_id: &ev.id,
                action: "rate",
                detail: json!({
                    "from": from.as_str(), "to": State::Dinilai.as_str(),
                    "results_rating": results.as_str(), "behaviour_rating": behaviour.as_str(),
                    "predikat": cell.predikat.as_str(), "reason": reason,
                    "previous": {"results_rating": ev.results_rating, "behaviour_rating": ev.behaviour_rating, "predikat": ev.predikat},
                    "assessor_id": assessor, "version": ev.version + 1,
                }),
            },
        )
        .await?;
        txn.commit().await?;
        self.get_evaluation(skp_id, ep_id, now).await
    }

    /// A result of the SKP `s` (as the caller read it) with what produced it.
    pub async fn explain(
        &self,
        mut read: SkpRead,
        ep_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Explanation> {
        // The content of the SKP row's version, when the point read brought it (or it is
        // cached): it is the same in any snapshot that holds that version of the row.
        let from = read.content_from(self.content_cache(), false);
        // One connection and one snapshot for all the other reads (a pool checkout per
        // statement costs more than the statement).
        let txn = self.begin_read().await?;
        /// The action plans and the feedback (one shape each).
        static PLANS: SqlTemplate = SqlTemplate::new();
        static FEEDBACK: SqlTemplate = SqlTemplate::new();
        let backend = self.kind.backend();
        let skp_id = Value::from(read.row.id.as_str());
        let action_plans = PLANS.statement(backend, [skp_id.clone(), ep_id.into()], |b, [s, e]| {
            action_plan::Entity::find()
                .filter(action_plan::Column::SkpId.eq(s.clone()))
                .filter(action_plan::Column::EvaluationPeriodId.eq(e.clone()))
                .order_by_asc(action_plan::Column::Id)
                .build(b)
        });
        let feedback = FEEDBACK.statement(backend, [skp_id], |b, [s]| {
            feedback::Entity::find()
                .filter(feedback::Column::SkpId.eq(s.clone()))
                .order_by_desc(feedback::Column::Id)
                .limit(1000)
                .build(b)
        });
        // Both go with the evaluation's first statement (SQLite), in the same snapshot.
        txn.prefetch(action_plans.clone()).await;
        txn.prefetch(feedback.clone()).await;
        let (doc, names) =
            evaluation_doc(&txn, from, read.row, ep_id, now, Realisasi::Records).await?;
        let action_plans = action_plan::Entity::find()
            .from_raw_sql(action_plans)
            .all(&txn)
            .await?;
        let feedback = feedback::Entity::find()
            .from_raw_sql(feedback)
            .all(&txn)
            .await?;
        txn.commit().await?;
        Ok(Explanation {
            doc,
            action_plans,
            feedback,
            assessor_name: names.assessor,
            exception_reason: names.exception_reason,
        })
    }

    /// The audit entries of an evaluation, oldest first (none while nothing was entered).
    pub async fn evaluation_history(
        &self,
        skp_id: &str,
        ep_id: &str,
        page: &Page,
    ) -> Result<(Vec<super::audit::AuditRow>, String)> {
        let s = find_skp(self.conn(), skp_id).await?;
        check_period_of(&s, &find_period(self.conn(), ep_id).await?)?;
        match evaluation_of(self.conn(), skp_id, ep_id).await? {
            Some(ev) => self.audit_history(EVALUATION_RESOURCE, &ev.id, page).await,
            None => Ok((Vec::new(), String::new())),
        }
    }

    /// The employee files an objection against a set result within its window (idempotent on
    /// `request_id`). The assessor's superior recorded on the SKP decides it.
    #[allow(clippy::too_many_arguments)]
    pub async fn file_objection(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        skp_id: &str,
        ep_id: &str,
        reasons: String,
        request_id: &str,
        digest: &str,
    ) -> Result<ObjectionRow> {
        let txn = self.begin_write().await?;
        let id = new_id();
        if let Claim::Replay(existing) =
            claim(&txn, "FileObjection", request_id, digest, &id).await?
        {
            txn.commit().await?;
            return self.get_objection(&existing).await;
        }
        let (s, pe) = self.lock_skp_evaluation(&txn, skp_id, ep_id).await?;
        let ev = pe.row.ok_or_else(|| {
            Error::precondition(
                "EVALUATION_NOT_SET",
                format!("skps/{skp_id}"),
                "nothing was rated in this period; objections are filed against a set (DITETAPKAN) result",
            )
        })?;
        if let Some(o) = pe.objection {
            return Err(Error::precondition(
                "OBJECTION_EXISTS",
                format!("objections/{}", o.id),
                format!(
                    "objection {} was already filed against this result ({}); one objection per result",
                    o.id, o.state
                ),
            ));
        }
        if let Some(deadline) = ev.objection_deadline
            && now > deadline
        {
            return Err(Error::precondition(
                "OBJECTION_WINDOW_CLOSED",
                format!("evaluations/{}", ev.id),
                format!(
                    "the objection window closed at {} (the result is FINAL)",
                    deadline.to_rfc3339()
                ),
            ));
        }
        let (state, _, _) = effective(&ev, None, now)?;
        rules::step(state, Action::Object).map_err(|r| refusal(&ev.id, r))?;
        let decider = s.assessor_superior_id.clone().ok_or_else(|| {
            Error::precondition(
                "OBJECTION_NO_DECIDER",
                format!("skps/{skp_id}"),
                "the SKP records no assessor's superior to decide an objection; an administrator must set one (SetSkpAssessor)",
            )
        })?;
        let missing = || Error::Internal(format!("set evaluation {} has no ratings", ev.id));
        let row = objection::ActiveModel {
            id: Set(id.clone()),
            evaluation_id: Set(ev.id.clone()),
            skp_id: Set(s.id.clone()),
            employee_id: Set(s.employee_id.clone()),
            reasons: Set(reasons.clone()),
            state: Set("DIAJUKAN".to_owned()),
            filed_at: Set(now),
            decider_id: Set(Some(decider.clone())),
            decision: Set(None),
            decision_reason: Set(None),
            prev_results_rating: Set(ev.results_rating.clone().ok_or_else(missing)?),
            prev_behaviour_rating: Set(ev.behaviour_rating.clone().ok_or_else(missing)?),
            prev_predikat: Set(ev.predikat.clone().ok_or_else(missing)?),
            new_results_rating: Set(None),
            new_behaviour_rating: Set(None),
            new_predikat: Set(None),
            decided_at: Set(None),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await?;
        self.record(
            &txn,
            actor,
            Change {
                resource_type: EVALUATION_RESOURCE,
                resource_id: &ev.id,
                action: "objection.file",
                detail: json!({"objection_id": id, "reasons": reasons, "decider_id": decider}),
            },
        )
        .await?;
        self.publish(
            &txn,
            actor,
            Event {
                event_type: "objection.filed",
                resource_type: OBJECTION_RESOURCE,
                resource_id: &id,
                data: json!({
                    "evaluation_id": ev.id, "skp_id": s.id, "evaluation_period_id": ep_id,
                    "employee_id": s.employee_id, "decider_id": decider,
                    "objection_deadline": ev.objection_deadline,
                }),
            },
        )
        .await?;
        self.commit_with_events(txn).await?;
        Ok(row)
    }

    /// The assessor's superior decides an objection (idempotent on `request_id`): the ratings
    /// stand or are replaced; either way the result becomes FINAL.
    #[allow(clippy::too_many_arguments)]
    pub async fn decide_objection(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        id: &str,
        decision: Decision,
        reason: String,
        decider_seen: Option<&str>,
        request_id: &str,
        digest: &str,
    ) -> Result<ObjectionRow> {
        let txn = self.begin_write().await?;
        if let Claim::Replay(existing) =
            claim(&txn, "DecideObjection", request_id, digest, id).await?
        {
            txn.commit().await?;
            return self.get_objection(&existing).await;
        }
        let cur = find_or_not_found::<objection::Entity, _>(&txn, "Objection", id).await?;
        if !lock_row(&txn, self.kind(), "skps", &cur.skp_id).await? {
            return Err(Error::not_found("Skp", &cur.skp_id));
        }
        let s = find_skp(&txn, &cur.skp_id).await?;
        if s.assessor_superior_id.as_deref() != decider_seen {
            return Err(Error::Aborted {
                kind: "Skp",
                id: s.id.clone(),
            });
        }
        let cur = find_or_not_found::<objection::Entity, _>(&txn, "Objection", id).await?;
        if cur.state != "DIAJUKAN" {
            return Err(Error::precondition(
                "OBJECTION_DECIDED",
                format!("objections/{id}"),
                "the objection was already decided; the decision is final",
            ));
        }
        let ev =
            find_or_not_found::<skp_evaluation::Entity, _>(&txn, "Evaluation", &cur.evaluation_id)
                .await?;
        rules::step(state_of(&ev)?, Action::Decide).map_err(|r| refusal(&ev.id, r))?;
        let (results, behaviour, name) = match decision {
            Decision::Uphold => (
                Rating::parse(&cur.prev_results_rating),
                Rating::parse(&cur.prev_behaviour_rating),
                "UPHOLD",
            ),
            Decision::Change { results, behaviour } => (Some(results), Some(behaviour), "CHANGE"),
        };
        let (results, behaviour) = results
            .zip(behaviour)
            .ok_or_else(|| Error::Internal(format!("objection {id} holds unknown ratings")))?;
        let predikat = rating::predikat(results, behaviour).predikat;
        objection::Entity::update_many()
            .col_expr(objection::Column::State, Expr::value("DIPUTUS"))
            .col_expr(objection::Column::Decision, Expr::value(name))
            .col_expr(
                objection::Column::DecisionReason,
                Expr::value(reason.clone()),
            )
            .col_expr(
                objection::Column::NewResultsRating,
                Expr::value(results.as_str()),
            )
            .col_expr(
                objection::Column::NewBehaviourRating,
                Expr::value(behaviour.as_str()),
            )
            .col_expr(
                objection::Column::NewPredikat,
                Expr::value(predikat.as_str()),
            )
            .col_expr(objection::Column::DecidedAt, Expr::value(now))
            .col_expr(
                objection::Column::Version,
                Expr::col(objection::Column::Version).add(1),
            )
            .col_expr(objection::Column::UpdatedAt, Expr::value(now))
            .filter(objection::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        let mut q = skp_evaluation::Entity::update_many()
            .col_expr(
                skp_evaluation::Column::State,
                Expr::value(State::Final.as_str()),
            )
            .col_expr(skp_evaluation::Column::FinalAt, Expr::value(now))
            .col_expr(
                skp_evaluation::Column::FinalReason,
                Expr::value("OBJECTION_DECIDED"),
            )
            .col_expr(
                skp_evaluation::Column::Version,
                Expr::col(skp_evaluation::Column::Version).add(1),
            )
            .col_expr(skp_evaluation::Column::UpdatedAt, Expr::value(now));
        if let Decision::Change { .. } = decision {
            q = q
                .col_expr(
                    skp_evaluation::Column::ResultsRating,
                    Expr::value(results.as_str()),
                )
                .col_expr(
                    skp_evaluation::Column::BehaviourRating,
                    Expr::value(behaviour.as_str()),
                )
                .col_expr(
                    skp_evaluation::Column::Predikat,
                    Expr::value(predikat.as_str()),
                )
                .col_expr(
                    skp_evaluation::Column::RatingReason,
                    Expr::value(format!("objection decided: {reason}")),
                );
        }
        q.filter(skp_evaluation::Column::Id.eq(&ev.id))
            .exec(&txn)
            .await?;
        self.record(
            &txn,
            actor,
            Change {
                resource_type: EVALUATION_RESOURCE,
                resource_id: &ev.id,
                action: "objection.decide",
                detail: json!({
                    "objection_id": id, "decision": name, "reason": reason,
                    "from": State::Ditetapkan.as_str(), "to": State::Final.as_str(),
                    "previous": {"results_rating": cur.prev_results_rating, "behaviour_rating": cur.prev_behaviour_rating, "predikat": cur.prev_predikat},
                    "results_rating": results.as_str(), "behaviour_rating": behaviour.as_str(),
                    "predikat": predikat.as_str(), "version": ev.version + 1,
                }),
            },
        )
        .await?;
        let base = json!({
            "evaluation_id": ev.id, "skp_id": s.id, "employee_id": s.employee_id,
            "evaluation_period_id": ev.evaluation_period_id, "predikat": predikat.as_str(),
        });
        let mut decided = base.clone();
        decided["decision"] = json!(name);
        decided["previous_predikat"] = json!(cur.prev_predikat);
        self.publish(
            &txn,
            actor,
            Event {
                event_type: "objection.decided",
                resource_type: OBJECTION_RESOURCE,
                resource_id: id,
                data: decided,
            },
        )
        .await?;
        let mut fin = base;
        fin["final_reason"] = json!("OBJECTION_DECIDED");
        fin["final_time"] = json!(now);
        fin["results_rating"] = json!(results.as_str());
        fin["behaviour_rating"] = json!(behaviour.as_str());
        self.publish(
            &txn,
            actor,
            Event {
                event_type: "result.final",
                resource_type: EVALUATION_RESOURCE,
                resource_id: &ev.id,
                data: fin,
            },
        )
        .await?;
        // Follow-up (development plan, flags) in the same transaction as FINAL.
        self.follow_up_final(&txn, actor, now, &s, &ev, Some(predikat))
            .await?;
        self.commit_with_events(txn).await?;
        self.get_objection(id).await
    }

    /// Reads one objection.
    pub async fn get_objection(&self, id: &str) -> Result<ObjectionRow> {
        find_or_not_found::<objection::Entity, _>(self.conn(), "Objection", id).await
    }

    /// The evaluation period of an objection's evaluation.
    pub async fn objection_period(&self, o: &ObjectionRow) -> Result<String> {
        Ok(skp_evaluation::Entity::find_by_id(o.evaluation_id.clone())
            .one(self.conn())
            .await?
            .map(|e| e.evaluation_period_id)
            .unwrap_or_default())
    }

    /// Lists objections of an SKP or of a decider, oldest first.
    pub async fn list_objections(
        &self,
        skp_id: Option<&str>,
        decider_id: Option<&str>,
        state: Option<&str>,
        page: &Page,
    ) -> Result<(Vec<ObjectionRow>, String)> {
        let mut q = objection::Entity::find();
        if let Some(s) = skp_id {
            q = q.filter(objection::Column::SkpId.eq(s));
        }
        if let Some(d) = decider_id {
            q = q.filter(objection::Column::DeciderId.eq(d));
        }
        if let Some(st) = state {
            q = q.filter(objection::Column::State.eq(st));
        }
        keyset_page(self.conn(), q, objection::Column::Id, false, page, |r| {
            r.id.clone()
        })
        .await
    }

    /// Sets the angka kredit coefficient of an SKP of a functional position (JF).
    pub async fn set_credit_coefficient(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        skp_id: &str,
        coefficient: f64,
        reason: String,
        version: Option<i64>,
    ) -> Result<CoefficientRow> {
        let txn = self.begin_write().await?;
        if !lock_row(&txn, self.kind(), "skps", skp_id).await? {
            return Err(Error::not_found("Skp", skp_id));
        }
        let s = find_skp(&txn, skp_id).await?;
        if s.position_type != "JF" {
            return Err(Error::precondition(
                "NOT_FUNCTIONAL_POSITION",
                format!("skps/{skp_id}"),
                format!(
                    "angka kredit applies to functional positions (JF); this SKP is for a {} post",
                    s.position_type
                ),
            ));
        }
        let cur = skp_credit_coefficient::Entity::find_by_id(skp_id.to_owned())
            .one(&txn)
            .await?;
        let stale = match (&cur, version) {
            (Some(c), Some(v)) => c.version != v,
            (Some(_), None) => true,
            (None, Some(v)) => v != 0,
            (None, None) => false,
        };
        if stale {
            return Err(Error::Aborted {
                kind: "CreditCoefficient",
                id: skp_id.to_owned(),
            });
        }
        let previous = cur.as_ref().map(|c| c.coefficient);
        match cur {
            Some(c) => {
                skp_credit_coefficient::Entity::update_many()
                    .col_expr(
                        skp_credit_coefficient::Column::Coefficient,
                        Expr::value(coefficient),
                    )
                    .col_expr(
                        skp_credit_coefficient::Column::Reason,
                        Expr::value(reason.clone()),
                    )
                    .col_expr(
                        skp_credit_coefficient::Column::SetBy,
                        Expr::value(actor.subject.clone()),
                    )
                    .col_expr(
                        skp_credit_coefficient::Column::Version,
                        Expr::value(c.version + 1),
                    )
                    .col_expr(skp_credit_coefficient::Column::UpdatedAt, Expr::value(now))
                    .filter(skp_credit_coefficient::Column::SkpId.eq(skp_id))
                    .exec(&txn)
                    .await?;
            }
            None => {
                skp_credit_coefficient::ActiveModel {
                    skp_id: Set(skp_id.to_owned()),
                    coefficient: Set(coefficient),
                    reason: Set(reason.clone()),
                    set_by: Set(actor.subject.clone()),
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
                resource_type: SKP_RESOURCE,
                resource_id: skp_id,
                action: "credit_coefficient.set",
                detail: json!({"coefficient": coefficient, "previous": previous, "reason": reason}),
            },
        )
        .await?;
        txn.commit().await?;
        find_or_not_found::<skp_credit_coefficient::Entity, _>(
            self.conn(),
            "CreditCoefficient",
            skp_id,
        )
        .await
    }

    /// The annual result of an employee: each approved SKP of the year with its last evaluation,
    /// the annual predikat and, for JF, angka kredit pro-rated by months. Drafts (unset results)
    /// are shown per part but count neither for the annual predikat nor for angka kredit.
    pub async fn annual_result(
        &self,
        employee_id: &str,
        year: i32,
        now: DateTime<Utc>,
    ) -> Result<Annual> {
        let skps = skp::Entity::find()
            .filter(skp::Column::EmployeeId.eq(employee_id))
            .filter(skp::Column::Year.eq(year))
            .filter(skp::Column::ApprovedAt.is_not_null())
            .order_by_asc(skp::Column::StartDate)
            .all(self.conn())
            .await?;
        let mut parts = Vec::new();
        for s in skps {
            let ep = evaluation_period::Entity::find()
                .filter(evaluation_period::Column::PeriodId.eq(&s.period_id))
                .filter(evaluation_period::Column::StartDate.lte(s.end_date))
                .filter(evaluation_period::Column::EndDate.gte(s.start_date))
                .order_by_desc(evaluation_period::Column::Sequence)
                .one(self.conn())
                .await?;
            let coefficient = skp_credit_coefficient::Entity::find_by_id(s.id.clone())
                .one(self.conn())
                .await?
                .map(|c| c.coefficient);
            let months = rules::months_covered(s.start_date, s.end_date);
            let (state, predikat) = match &ep {
                Some(ep) => match evaluation_of(self.conn(), &s.id, &ep.id).await? {
                    Some(row) => {
                        let obj = objection_of(self.conn(), &row.id).await?;
                        let (st, _, _) = effective(&row, obj.as_ref(), now)?;
                        (st, row.predikat.as_deref().and_then(Predikat::parse))
                    }
                    None => (State::Terbuka, None),
                },
                None => (State::Terbuka, None),
            };
            let angka_kredit = match (s.position_type.as_str(), coefficient, predikat) {
                ("JF", Some(c), Some(p)) if state.is_set() => {
                    Some(rules::round3(rating::angka_kredit(c, p, months)))
                }
                _ => None,
            };
            parts.push(AnnualPart {
                skp: s,
                months,
                period: ep,
                state,
                predikat,
                coefficient,
                angka_kredit,
            });
        }
        let complete = !parts.is_empty() && parts.iter().all(|p| p.state.is_set());
        let final_ = !parts.is_empty() && parts.iter().all(|p| p.state == State::Final);
        let predikat = parts
            .iter()
            .max_by_key(|p| p.skp.end_date)
            .filter(|p| p.state.is_set())
            .and_then(|p| p.predikat);
        let credits: Vec<f64> = parts.iter().filter_map(|p| p.angka_kredit).collect();
        let angka_kredit_total =
            (!credits.is_empty()).then(|| rules::round3(credits.iter().sum::<f64>()));
        Ok(Annual {
            parts,
            predikat,
            complete,
            final_,
            angka_kredit_total,
        })
    }

    /// The coefficient recorded on an SKP, if any.
    pub async fn credit_coefficient(&self, skp_id: &str) -> Result<Option<CoefficientRow>> {
        Ok(
            skp_credit_coefficient::Entity::find_by_id(skp_id.to_owned())
                .one(self.conn())
                .await?,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realisasi_values_parse_back_exactly_and_refuse_garbage() {
        assert!(parse_realisasi_values("").expect("none").is_empty());
        let third = 100.0_f64 / 3.0;
        let text = format!("i-1 {third:.17},i-2 0.30000000000000004,i-3 1.0e+300");
        let v = parse_realisasi_values(&text).expect("parses");
        assert_eq!(v.len(), 3);
        assert_eq!(v["i-1"].0.to_bits(), third.to_bits());
        assert_eq!(v["i-2"].0.to_bits(), (0.1_f64 + 0.2).to_bits());
        assert_eq!(v["i-3"].0, 1e300);
        for bad in ["i-1", "i-1 x", "i-1 1.5,i-2"] {
            assert!(
                matches!(parse_realisasi_values(bad), Err(Error::Internal(_))),
                "{bad}"
            );
        }
    }
}
