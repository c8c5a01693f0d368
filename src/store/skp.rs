//! Performance plans (SKP): creation from the dated assignments, content (RHK, indicators,
//! behaviour expectations), the workflow, closing on mutasi, copying and templates.
//!
//! Every change locks the SKP row (PostgreSQL; SQLite holds its write lock), checks the workflow
//! rule of [`crate::domain::skp`] against the caller's relations recorded on the SKP, bumps the
//! SKP's version (its etag) and appends one audit entry on the resource `Skp/<id>` in the same
//! transaction, so the SKP's audit entries are its history. Workflow transitions (submitted,
//! approved, returned, reopened, closed, assessor changed) are also published to the event
//! outbox in the same transaction, as `skp.<transition>` events.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{Duration, NaiveDate, Utc};
use sea_orm::prelude::Expr;
use sea_orm::sea_query::{ExprTrait, OnConflict, Order, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbBackend,
    EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
    Statement, Value,
};
use serde_json::json;

use super::assignments::covers;
use super::audit::{Actor, Change};
use super::cache::{ContentCache, SkpContent};
use super::entities::{
    assignment, employee, performance_period, skp, skp_behaviour, skp_content, skp_evaluation,
    skp_indicator, skp_rhk, unit,
};
use super::idempotency::{Claim, claim};
use super::outbox::Event;
use super::periods::{assessed_counts, assessed_periods};
use super::template::SqlTemplate;
use super::{AssignmentRow, Store, find_or_not_found, lock_row, new_id};
use crate::domain::org::Span;
use crate::domain::skp::{
    self as rules, Action, Actor as Relation, BERAKHLAK, LinkSide, Refusal, RhkSummary, State,
};
use crate::error::{Error, Result};
use crate::pagination::Page;

pub use skp::Model as SkpRow;
pub use skp_behaviour::Model as BehaviourRow;
pub use skp_indicator::Model as IndicatorRow;
pub use skp_rhk::Model as RhkRow;

/// The resource type of SKP in the audit trail (the SKP's history).
pub const SKP_RESOURCE: &str = "Skp";

/// Who acts on an SKP and how they relate to it.
#[derive(Debug, Clone)]
pub struct Acting {
    /// Who, for the audit trail.
    pub actor: Actor,
    /// The caller's relations to the SKP (from the ids recorded on it).
    pub relations: Vec<Relation>,
    /// The assessor recorded on the SKP when the relations were taken; if it changed since, the
    /// call is ABORTED rather than decided on stale relations.
    pub assessor_seen: Option<String>,
}

/// An RHK with its indicators.
#[derive(Debug, Clone, PartialEq)]
pub struct RhkDoc {
    /// The RHK.
    pub rhk: RhkRow,
    /// Its indicators in order.
    pub indicators: Vec<IndicatorRow>,
}

/// An SKP with its content.
#[derive(Debug, Clone)]
pub struct SkpDoc {
    /// The SKP.
    pub skp: SkpRow,
    /// Its RHK in order (empty in the basic view).
    pub rhk: Vec<RhkDoc>,
    /// The seven behaviour values in the official order (empty in the basic view).
    pub behaviours: Vec<BehaviourRow>,
    /// Evaluation periods already assessed.
    pub assessed_periods: u64,
}

/// Annex texts.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Annex {
    /// Resource support.
    pub resource_support: String,
    /// Accountability scheme.
    pub accountability: String,
    /// Consequences.
    pub consequences: String,
}

/// Values of a new SKP (validated by the API layer).
#[derive(Debug, Clone)]
pub struct NewSkp {
    /// The employee.
    pub employee_id: String,
    /// The performance period.
    pub period_id: String,
    /// KUANTITATIF or KUALITATIF.
    pub approach: String,
    /// Annex texts.
    pub annex: Annex,
    /// Requested first day, if any.
    pub start_date: Option<NaiveDate>,
}

/// Changes to an SKP; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SkpChanges {
    /// New approach.
    pub approach: Option<String>,
    /// New resource support text.
    pub resource_support: Option<String>,
    /// New accountability text.
    pub accountability: Option<String>,
    /// New consequences text.
    pub consequences: Option<String>,
}

/// Values of a new RHK.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NewRhk {
    /// UTAMA or TAMBAHAN.
    pub kind: String,
    /// The planned result.
    pub text: String,
    /// Perspective (JPT only).
    pub perspective: Option<String>,
    /// The assessor's RHK it supports.
    pub parent_rhk_id: Option<String>,
}

/// Changes to an RHK; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RhkChanges {
    /// New kind.
    pub kind: Option<String>,
    /// New text.
    pub text: Option<String>,
    /// New perspective (`Some(None)` clears it).
    pub perspective: Option<Option<String>>,
    /// New link (`Some(None)` clears it).
    pub parent_rhk_id: Option<Option<String>>,
}

/// Values of a new indicator.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NewIndicator {
    /// KUANTITAS, KUALITAS, WAKTU or BIAYA.
    pub aspect: String,
    /// What is measured.
    pub text: String,
    /// Target (> 0, finite).
    pub target: f64,
    /// Unit.
    pub unit: String,
}

/// Changes to an indicator; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct IndicatorChanges {
    /// New aspect.
    pub aspect: Option<String>,
    /// New text.
    pub text: Option<String>,
    /// New target.
    pub target: Option<f64>,
    /// New unit.
    pub unit: Option<String>,
}

/// A workflow step with its inputs.
#[derive(Debug, Clone)]
pub enum Step {
    /// Employee submits.
    Submit,
    /// Assessor approves.
    Approve,
    /// Assessor returns with a note.
    Return {
        /// What to change.
        note: String,
    },
    /// Assessor reopens with a reason.
    Reopen {
        /// Why.
        reason: String,
    },
    /// Admin closes on mutasi.
    Close {
        /// Last day covered.
        end_date: NaiveDate,
        /// Why.
        reason: String,
    },
    /// Admin overrides the assessor.
    SetAssessor {
        /// New assessor.
        assessor_id: String,
        /// New assessor's superior.
        assessor_superior_id: Option<String>,
        /// Why.
        reason: String,
    },
}

impl Step {
    fn action(&self) -> Action {
        match self {
            Step::Submit => Action::Submit,
            Step::Approve => Action::Approve,
            Step::Return { .. } => Action::Return,
            Step::Reopen { .. } => Action::Reopen,
            Step::Close { .. } => Action::Close,
            Step::SetAssessor { .. } => Action::SetAssessor,
        }
    }
    fn method(&self) -> &'static str {
        match self {
            Step::Submit => "SubmitSkp",
            Step::Approve => "ApproveSkp",
            Step::Return { .. } => "ReturnSkp",
            Step::Reopen { .. } => "ReopenSkp",
            Step::Close { .. } => "CloseSkp",
            Step::SetAssessor { .. } => "SetSkpAssessor",
        }
    }
}

/// Filters of an SKP listing.
#[derive(Debug, Clone, Default)]
pub struct SkpFilter {
    /// Employee.
    pub employee_id: Option<String>,
    /// Recorded assessor.
    pub assessor_id: Option<String>,
    /// Period.
    pub period_id: Option<String>,
    /// State.
    pub state: Option<String>,
}

/// A template of RHK for a position (validated by the API layer).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Template {
    /// Post name the template is for.
    pub position_name: String,
    /// Approach of new SKP.
    pub approach: String,
    /// RHK with their indicators.
    pub rhk: Vec<(NewRhk, Vec<NewIndicator>)>,
}

/// What applying a template did for one employee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateOutcome {
    /// A new draft SKP was created.
    Created,
    /// The RHK were added to an open draft.
    Updated,
    /// A retry: the first call did it.
    AlreadyApplied,
}

fn refusal(id: &str, r: Refusal) -> Error {
    match r {
        Refusal::NotActor { .. } => Error::PermissionDenied(r.to_string()),
        Refusal::WrongState { .. } => {
            Error::precondition("SKP_WRONG_STATE", format!("skps/{id}"), r.to_string())
        }
    }
}

fn state_of(row: &SkpRow) -> Result<State> {
    State::parse(&row.state)
        .ok_or_else(|| Error::Internal(format!("SKP {} has unknown state {}", row.id, row.state)))
}

fn link_side(s: &SkpRow) -> Result<LinkSide<'_>> {
    Ok(LinkSide {
        skp_id: &s.id,
        employee_id: &s.employee_id,
        period_id: &s.period_id,
        year: s.year,
        assessor_id: s.assessor_id.as_deref(),
        top_of_chain: s.top_of_chain,
        approved: s.approved_at.is_some(),
        state: state_of(s)?,
    })
}

async fn definitive_on<C: ConnectionTrait>(
    db: &C,
    employee_id: &str,
    d: NaiveDate,
) -> Result<Option<AssignmentRow>> {
    Ok(assignment::Entity::find()
        .filter(assignment::Column::EmployeeId.eq(employee_id))
        .filter(assignment::Column::Kind.eq("DEFINITIF"))
        .filter(covers(d))
        .one(db)
        .await?)
}

async fn find_skp<C: ConnectionTrait>(db: &C, id: &str) -> Result<SkpRow> {
    find_or_not_found::<skp::Entity, _>(db, "Skp", id).await
}

async fn find_rhk<C: ConnectionTrait>(db: &C, id: &str) -> Result<RhkRow> {
    find_or_not_found::<skp_rhk::Entity, _>(db, "Rhk", id).await
}

async fn find_indicator<C: ConnectionTrait>(db: &C, id: &str) -> Result<IndicatorRow> {
    find_or_not_found::<skp_indicator::Entity, _>(db, "Indicator", id).await
}

/// What a change of an SKP did to its content (RHK, indicators, behaviour values).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Content {
    /// The content changed: its stored encoding is built again.
    Changed,
    /// Only the SKP's own row changed: the stored encoding stays valid.
    Kept,
}

/// Bumps the SKP's version and update time (every content change and transition does), and
/// keeps its stored content current; returns the new version.
async fn touch(txn: &super::Txn, id: &str, content: Content) -> Result<i64> {
    skp::Entity::update_many()
        .col_expr(skp::Column::Version, Expr::col(skp::Column::Version).add(1))
        .col_expr(skp::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(skp::Column::Id.eq(id))
        .exec(txn)
        .await?;
    let version = find_skp(txn, id).await?.version;
    match content {
        Content::Changed => store_content(txn, id, version).await?,
        Content::Kept => carry_content(txn, id).await?,
    }
    Ok(version)
}

/// An SKP row read for a point read, with what its document needs from the same statement
/// (see [`Store::read_skp`]); the caller authorizes on the row before the document is built.
#[derive(Debug)]
pub struct SkpRead {
    /// The SKP's row.
    pub row: SkpRow,
    /// The content stored with the SKP at the row's version, encoded; `None` when none is
    /// stored at that version, or when this replica cached that version as the statement ran.
    stored: Option<Vec<u8>>,
    /// Evaluation periods already assessed.
    assessed: u64,
}

impl SkpRead {
    /// The SKP's content at the row's version without a statement: from `cache` when it holds
    /// that version, else decoded from the stored encoding (and then cached); `None` when
    /// neither has it (content damaged or never stored: the content tables are read instead).
    fn content(&mut self, cache: &ContentCache) -> Option<Arc<SkpContent>> {
        if let Some(c) = cache.get(&self.row.id, self.row.version) {
            return Some(c);
        }
        let c = Arc::new(decode_stored(&self.row.id, &self.stored.take()?)?);
        cache.put(&self.row.id, self.row.version, c.clone());
        Some(c)
    }

    /// Where [`load_content`] finds this SKP's content: as already known when the cache or the
    /// stored encoding had it (else read); `cache` is handed on only with `use_cache` (never
    /// inside a transaction).
    pub(crate) fn content_from<'a>(
        &mut self,
        cache: &'a ContentCache,
        use_cache: bool,
    ) -> ContentFrom<'a> {
        ContentFrom {
            known: self
                .content(cache)
                .map(|c| HashMap::from([(self.row.id.clone(), c)]))
                .unwrap_or_default(),
            cache: use_cache.then_some(cache),
        }
    }
}

/// Stored content of SKP `skp_id`, decoded; `None` (and a warning) when it does not decode, so
/// that the content is read from the content tables instead.
fn decode_stored(skp_id: &str, bytes: &[u8]) -> Option<SkpContent> {
    super::content::decode(skp_id, bytes)
        .inspect_err(|e| {
            tracing::warn!(skp_id, error = %e, "stored SKP content does not decode; reading its rows")
        })
        .ok()
}

/// SKP `id`'s row, its stored content unless its version is `cached`, and its assessed
/// periods, in one statement (two scalar subqueries on the primary keys).
async fn read_skp<C: ConnectionTrait>(db: &C, id: &str, cached: Option<i64>) -> Result<SkpRead> {
    let stmt = read_skp_statement(db.get_database_backend(), id, cached);
    let row = db
        .query_one_raw(stmt)
        .await?
        .ok_or_else(|| Error::not_found("Skp", id))?;
    let (skp, assessed) = row_and_assessed(&row)?;
    Ok(SkpRead {
        row: skp,
        stored: row.try_get::<Option<Vec<u8>>>("", "stored_content")?,
        assessed,
    })
}

/// The statement of [`read_skp`], rendered once per engine with a cached version and once
/// without.
pub(crate) fn read_skp_statement(backend: DbBackend, id: &str, cached: Option<i64>) -> Statement {
    /// Without a cached version, then with one (two shapes).
    static READ: [SqlTemplate; 2] = [SqlTemplate::new(), SqlTemplate::new()];
    match cached {
        None => READ[0].statement(backend, [id.into()], read_skp_uncached),
        Some(v) => READ[1].statement(backend, [id.into(), v.into()], read_skp_cached),
    }
}

/// [`read_skp`]'s statement without a cached version, built in full (the SKP id).
pub(crate) fn read_skp_uncached(b: DbBackend, [id]: &[Value; 1]) -> Statement {
    read_skp_select(id.clone(), None).build(b)
}

/// [`read_skp`]'s statement when this replica caches a version, built in full (the SKP id,
/// the cached version).
fn read_skp_cached(b: DbBackend, [id, v]: &[Value; 2]) -> Statement {
    read_skp_select(id.clone(), Some(v.clone())).build(b)
}

/// The statement of [`read_skp`]: SKP `id` with the content stored at its version (unless that
/// version is `cached`) and its assessed periods.
fn read_skp_select(id: Value, cached: Option<Value>) -> sea_orm::Select<skp::Entity> {
    let mut stored = Query::select();
    stored
        .column((skp_content::Entity, skp_content::Column::Content))
        .from(skp_content::Entity)
        .and_where(
            Expr::col((skp_content::Entity, skp_content::Column::SkpId))
                .equals((skp::Entity, skp::Column::Id)),
        )
        .and_where(
            Expr::col((skp_content::Entity, skp_content::Column::Version))
                .equals((skp::Entity, skp::Column::Version)),
        );
    if let Some(v) = cached {
        stored.and_where(Expr::col((skp::Entity, skp::Column::Version)).ne(v));
    }
    skp::Entity::find()
        .filter(skp::Column::Id.eq(id))
        .expr_as(
            Expr::SubQuery(None, Box::new(stored.into())),
            "stored_content",
        )
        .expr_as(assessed_periods_expr(), "assessed_periods")
}

/// The documents of the given SKP rows: their content when `full` (see [`load_content`]) and
/// the evaluation periods already assessed.
async fn load_docs<C: ConnectionTrait>(
    db: &C,
    cache: Option<&ContentCache>,
    rows: Vec<SkpRow>,
    full: bool,
) -> Result<Vec<SkpDoc>> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let assessed = assessed_counts(db, &ids).await?;
    let rows = rows
        .into_iter()
        .map(|s| {
            let n = assessed.get(&s.id).copied().unwrap_or(0);
            (s, n)
        })
        .collect();
    docs_of(db, ContentFrom::cache(cache), rows, full).await
}

/// The documents of SKP rows whose assessed periods are known (row, count): their content when
/// `full`, taken from `from` first (see [`load_content`]).
async fn docs_of<C: ConnectionTrait>(
    db: &C,
    from: ContentFrom<'_>,
    rows: Vec<(SkpRow, u64)>,
    full: bool,
) -> Result<Vec<SkpDoc>> {
    let mut content = if full {
        let keys: Vec<(&str, i64)> = rows
            .iter()
            .map(|(r, _)| (r.id.as_str(), r.version))
            .collect();
        load_content(db, from, &keys).await?
    } else {
        HashMap::new()
    };
    let mut out = Vec::with_capacity(rows.len());
    for (s, assessed_periods) in rows {
        // Moved out when nothing else holds the content (no cache), copied when cached.
        let (rhk, behaviours) = match content.remove(&s.id).map(Arc::try_unwrap) {
            Some(Ok(c)) => (c.rhk, c.behaviours),
            Some(Err(c)) => (c.rhk.clone(), c.behaviours.clone()),
            None => (Vec::new(), Vec::new()),
        };
        out.push(SkpDoc {
            assessed_periods,
            rhk,
            behaviours,
            skp: s,
        });
    }
    Ok(out)
}

/// The number of evaluation periods already assessed of the SKP of the outer query's row
/// (`skps`), as a scalar subquery: the count [`assessed_counts`] makes, read with the rows.
fn assessed_periods_expr() -> Expr {
    let assessed = Query::select()
        .expr(Expr::col((skp_evaluation::Entity, skp_evaluation::Column::Id)).count())
        .from(skp_evaluation::Entity)
        .and_where(
            Expr::col((skp_evaluation::Entity, skp_evaluation::Column::SkpId))
                .equals((skp::Entity, skp::Column::Id)),
        )
        .and_where(Expr::col((skp_evaluation::Entity, skp_evaluation::Column::State)).ne("TERBUKA"))
        .to_owned();
    Expr::SubQuery(None, Box::new(assessed.into()))
}

/// An SKP row read with [`assessed_periods_expr`] as `assessed_periods`.
fn row_and_assessed(row: &sea_orm::QueryResult) -> Result<(SkpRow, u64)> {
    Ok((
        SkpRow::from_query_result(row, "")?,
        u64::try_from(row.try_get::<i64>("", "assessed_periods")?).unwrap_or(0),
    ))
}

/// Where [`load_content`] looks for SKP content before the database.
#[derive(Default)]
pub(crate) struct ContentFrom<'a> {
    /// Content the caller already holds, by SKP id, at the versions asked for.
    pub known: HashMap<String, Arc<SkpContent>>,
    /// The replica's cache; `None` inside a transaction (see [`super::cache`]).
    pub cache: Option<&'a ContentCache>,
}

impl<'a> ContentFrom<'a> {
    /// Only the replica's cache (`None`: nothing).
    pub(crate) fn cache(cache: Option<&'a ContentCache>) -> Self {
        Self {
            known: HashMap::new(),
            cache,
        }
    }
}

/// The content (RHK with indicators, behaviour values) of each SKP of `skps` (id, version), by
/// SKP id: from `known` (content the caller already holds at that version), then from `cache`
/// where it holds that version; then from the encoded content stored with each SKP where it was
/// built at that version (one statement for all of them); the rest read from the three content
/// tables (three statements). What was read is then cached.
/// `cache` must be `None` inside a transaction (see [`super::cache`]).
pub(crate) async fn load_content<C: ConnectionTrait>(
    db: &C,
    from: ContentFrom<'_>,
    skps: &[(&str, i64)],
) -> Result<HashMap<String, Arc<SkpContent>>> {
    let ContentFrom { mut known, cache } = from;
    let mut out = HashMap::with_capacity(skps.len());
    let mut missing: Vec<(&str, i64)> = Vec::new();
    for &(id, version) in skps {
        if let Some(c) = known.remove(id) {
            out.insert(id.to_owned(), c);
            continue;
        }
        match cache.and_then(|c| c.get(id, version)) {
            Some(c) => {
                out.insert(id.to_owned(), c);
            }
            None => missing.push((id, version)),
        }
    }
    if missing.is_empty() {
        return Ok(out);
    }
    let mut found = stored_content(db, &missing).await?;
    missing.retain(|(id, _)| !found.contains_key(*id));
    if !missing.is_empty() {
        found.extend(read_content(db, &missing).await?);
    }
    let versions: HashMap<&str, i64> = skps.iter().copied().collect();
    for (id, c) in found {
        let c = Arc::new(c);
        if let (Some(cache), Some(&version)) = (cache, versions.get(id.as_str())) {
            cache.put(&id, version, c.clone());
        }
        out.insert(id, c);
    }
    Ok(out)
}

/// The encoded content stored with each SKP of `skps` (id, version) that was built at exactly
/// that version, decoded. Content that cannot be decoded is left out (and logged), so that it is
/// read from the content tables instead.
async fn stored_content<C: ConnectionTrait>(
    db: &C,
    skps: &[(&str, i64)],
) -> Result<HashMap<String, SkpContent>> {
    let ids: Vec<String> = skps.iter().map(|(id, _)| (*id).to_owned()).collect();
    let rows = skp_content::Entity::find()
        .filter(skp_content::Column::SkpId.is_in(ids))
        .all(db)
        .await?;
    let versions: HashMap<&str, i64> = skps.iter().copied().collect();
    let mut out = HashMap::with_capacity(rows.len());
    for row in rows {
        if versions.get(row.skp_id.as_str()) != Some(&row.version) {
            continue;
        }
        if let Some(c) = decode_stored(&row.skp_id, &row.content) {
            out.insert(row.skp_id, c);
        }
    }
    Ok(out)
}

/// The content of each SKP of `skps` read from the three content tables (three statements;
/// an SKP without rows gets empty content).
async fn read_content<C: ConnectionTrait>(
    db: &C,
    skps: &[(&str, i64)],
) -> Result<HashMap<String, SkpContent>> {
    let ids: Vec<String> = skps.iter().map(|(id, _)| (*id).to_owned()).collect();
    let mut inds_by: HashMap<String, Vec<IndicatorRow>> = HashMap::new();
    for i in skp_indicator::Entity::find()
        .filter(skp_indicator::Column::SkpId.is_in(ids.clone()))
        .order_by_asc(skp_indicator::Column::Sequence)
        .order_by_asc(skp_indicator::Column::Id)
        .all(db)
        .await?
    {
        inds_by.entry(i.rhk_id.clone()).or_default().push(i);
    }
    let mut rhk_by: HashMap<String, Vec<RhkDoc>> = HashMap::new();
    for r in skp_rhk::Entity::find()
        .filter(skp_rhk::Column::SkpId.is_in(ids.clone()))
        .order_by_asc(skp_rhk::Column::Sequence)
        .order_by_asc(skp_rhk::Column::Id)
        .all(db)
        .await?
    {
        let indicators = inds_by.remove(&r.id).unwrap_or_default();
        rhk_by
            .entry(r.skp_id.clone())
            .or_default()
            .push(RhkDoc { rhk: r, indicators });
    }
    let mut beh_by: HashMap<String, Vec<BehaviourRow>> = HashMap::new();
    for b in skp_behaviour::Entity::find()
        .filter(skp_behaviour::Column::SkpId.is_in(ids))
        .all(db)
        .await?
    {
        beh_by.entry(b.skp_id.clone()).or_default().push(b);
    }
    let mut out = HashMap::with_capacity(skps.len());
    for &(id, _) in skps {
        let mut behaviours = beh_by.remove(id).unwrap_or_default();
        behaviours.sort_by_key(|b| rules::berakhlak_rank(&b.value).unwrap_or(usize::MAX));
        out.insert(
            id.to_owned(),
            SkpContent {
                rhk: rhk_by.remove(id).unwrap_or_default(),
                behaviours,
            },
        );
    }
    Ok(out)
}

/// Builds SKP `id`'s content from its rows inside `txn` and stores it encoded as the content of
/// `version` (the SKP's version after the change the transaction makes).
async fn store_content(txn: &super::Txn, id: &str, version: i64) -> Result<()> {
    let content = read_content(txn, &[(id, version)])
        .await?
        .remove(id)
        .unwrap_or(SkpContent {
            rhk: Vec::new(),
            behaviours: Vec::new(),
        });
    skp_content::Entity::insert(skp_content::ActiveModel {
        skp_id: Set(id.to_owned()),
        version: Set(version),
        content: Set(super::content::encode(&content)),
    })
    .on_conflict(
        OnConflict::column(skp_content::Column::SkpId)
            .update_columns([skp_content::Column::Version, skp_content::Column::Content])
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// After a change that bumped SKP `id`'s version by one without changing its content (its own
/// row: annex, transitions, mutasi), keeps the stored content current: moves it to the new
/// version when it was current at the one before. Called after the bump, which locks the SKP's
/// row until the transaction ends.
async fn carry_content(txn: &super::Txn, id: &str) -> Result<()> {
    // The SKP is now one version past the stored content's.
    let bumped = Query::select()
        .expr(Expr::val(1))
        .from(skp::Entity)
        .and_where(
            Expr::col((skp::Entity, skp::Column::Id))
                .equals((skp_content::Entity, skp_content::Column::SkpId)),
        )
        .and_where(
            Expr::col((skp::Entity, skp::Column::Version)).eq(Expr::col((
                skp_content::Entity,
                skp_content::Column::Version,
            ))
            .add(1)),
        )
        .to_owned();
    skp_content::Entity::update_many()
        .col_expr(
            skp_content::Column::Version,
            Expr::col(skp_content::Column::Version).add(1),
        )
        .filter(skp_content::Column::SkpId.eq(id))
        .filter(Expr::exists(bumped))
        .exec(txn)
        .await?;
    Ok(())
}

/// The employee's SKP other than `except`, to check spans against.
async fn skps_of_employee<C: ConnectionTrait>(
    db: &C,
    employee_id: &str,
    except: Option<&str>,
) -> Result<Vec<SkpRow>> {
    let mut q = skp::Entity::find().filter(skp::Column::EmployeeId.eq(employee_id));
    if let Some(e) = except {
        q = q.filter(skp::Column::Id.ne(e));
    }
    Ok(q.order_by_asc(skp::Column::StartDate).all(db).await?)
}

/// Refuses an RHK link that breaks the cascade rule.
async fn check_parent(txn: &super::Txn, child: &SkpRow, parent_rhk_id: &str) -> Result<()> {
    let parent = skp_rhk::Entity::find_by_id(parent_rhk_id.to_owned())
        .one(txn)
        .await?
        .ok_or_else(|| {
            Error::precondition(
                "RHK_LINK_INVALID",
                format!("rhk/{parent_rhk_id}"),
                format!("the linked RHK {parent_rhk_id} does not exist"),
            )
        })?;
    let parent_skp = find_skp(txn, &parent.skp_id).await?;
    rules::check_link(&link_side(child)?, &link_side(&parent_skp)?)
        .map_err(|(reason, msg)| Error::precondition(reason, format!("rhk/{parent_rhk_id}"), msg))
}

fn check_perspective(s: &SkpRow, perspective: Option<&str>) -> Result<()> {
    if perspective.is_some() && s.position_type != "JPT" {
        return Err(Error::invalid(
            "rhk.perspective",
            format!(
                "only RHK of a JPT carry a perspective; this SKP is for a {} post",
                s.position_type
            ),
        ));
    }
    Ok(())
}

async fn next_rhk_sequence(txn: &super::Txn, skp_id: &str) -> Result<(i32, u64)> {
    let count = skp_rhk::Entity::find()
        .filter(skp_rhk::Column::SkpId.eq(skp_id))
        .count(txn)
        .await?;
    let last = skp_rhk::Entity::find()
        .filter(skp_rhk::Column::SkpId.eq(skp_id))
        .order_by_desc(skp_rhk::Column::Sequence)
        .one(txn)
        .await?
        .map_or(0, |r| r.sequence);
    Ok((last + 1, count))
}

async fn insert_rhk(txn: &super::Txn, s: &SkpRow, id: String, new: &NewRhk) -> Result<RhkRow> {
    let (sequence, count) = next_rhk_sequence(txn, &s.id).await?;
    if count as usize >= rules::MAX_RHK {
        return Err(Error::precondition(
            "TOO_MANY_RHK",
            format!("skps/{}", s.id),
            format!("an SKP holds at most {} RHK", rules::MAX_RHK),
        ));
    }
    let now = Utc::now();
    Ok(skp_rhk::ActiveModel {
        id: Set(id),
        skp_id: Set(s.id.clone()),
        sequence: Set(sequence),
        kind: Set(new.kind.clone()),
        text: Set(new.text.clone()),
        perspective: Set(new.perspective.clone()),
        parent_rhk_id: Set(new.parent_rhk_id.clone()),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(txn)
    .await?)
}

async fn insert_indicator(
    txn: &super::Txn,
    rhk: &RhkRow,
    id: String,
    new: &NewIndicator,
) -> Result<IndicatorRow> {
    let count = skp_indicator::Entity::find()
        .filter(skp_indicator::Column::RhkId.eq(&rhk.id))
        .count(txn)
        .await?;
    if count as usize >= rules::MAX_INDICATORS {
        return Err(Error::precondition(
            "TOO_MANY_INDICATORS",
            format!("rhk/{}", rhk.id),
            format!("an RHK holds at most {} indicators", rules::MAX_INDICATORS),
        ));
    }
    let last = skp_indicator::Entity::find()
        .filter(skp_indicator::Column::RhkId.eq(&rhk.id))
        .order_by_desc(skp_indicator::Column::Sequence)
        .one(txn)
        .await?
        .map_or(0, |i| i.sequence);
    let now = Utc::now();
    Ok(skp_indicator::ActiveModel {
        id: Set(id),
        rhk_id: Set(rhk.id.clone()),
        skp_id: Set(rhk.skp_id.clone()),
        sequence: Set(last + 1),
        aspect: Set(new.aspect.clone()),
        text: Set(new.text.clone()),
        target: Set(new.target),
        unit: Set(new.unit.clone()),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(txn)
    .await?)
}

impl Store {
    /// Locks the SKP, checks the caller's relations are current, the etag (when given) and the
    /// workflow rule for `action`; returns the row and the state it leads to.
    async fn guard(
        &self,
        txn: &super::Txn,
        id: &str,
        acting: &Acting,
        action: Action,
        version: Option<i64>,
    ) -> Result<(SkpRow, State)> {
        if !lock_row(txn, self.kind(), "skps", id).await? {
            return Err(Error::not_found("Skp", id));
        }
        let row = find_skp(txn, id).await?;
        if row.assessor_id != acting.assessor_seen {
            return Err(Error::Aborted {
                kind: "Skp",
                id: id.to_owned(),
            });
        }
        if version.is_some_and(|v| v != row.version) {
            return Err(Error::Aborted {
                kind: "Skp",
                id: id.to_owned(),
            });
        }
        let next = rules::transition(state_of(&row)?, action, &acting.relations)
            .map_err(|r| refusal(id, r))?;
        Ok((row, next))
    }

    /// Reads an SKP row.
    pub async fn get_skp(&self, id: &str) -> Result<SkpRow> {
        find_skp(self.conn(), id).await
    }

    /// Reads SKP `id` for a point read in one statement: its row, the content stored at its
    /// version (unless this replica caches that version) and its assessed periods. The caller
    /// authorizes on [`SkpRead::row`], then builds the document with [`Store::skp_read_doc`].
    pub async fn read_skp(&self, id: &str) -> Result<SkpRead> {
        read_skp(self.conn(), id, self.content_cache().version_of(id)).await
    }

    /// The document of an SKP read by [`Store::read_skp`]: no further statement unless its
    /// content was neither cached nor stored at its version.
    pub async fn skp_read_doc(&self, mut read: SkpRead, full: bool) -> Result<SkpDoc> {
        let from = if full {
            read.content_from(self.content_cache(), true)
        } else {
            ContentFrom::default()
        };
        docs_of(self.conn(), from, vec![(read.row, read.assessed)], full)
            .await?
            .pop()
            .ok_or_else(|| Error::Internal("SKP vanished while loading".into()))
    }

    /// Reads an SKP with (when `full`) its RHK, indicators and behaviour: [`Store::read_skp`]
    /// then [`Store::skp_read_doc`] (what every write returns its SKP with).
    pub async fn get_skp_doc(&self, id: &str, full: bool) -> Result<SkpDoc> {
        let read = self.read_skp(id).await?;
        self.skp_read_doc(read, full).await
    }

    /// Reads an RHK row.
    pub async fn get_rhk(&self, id: &str) -> Result<RhkRow> {
        find_rhk(self.conn(), id).await
    }

    /// Reads an RHK with its indicators.
    pub async fn get_rhk_doc(&self, id: &str) -> Result<RhkDoc> {
        let rhk = self.get_rhk(id).await?;
        let indicators = skp_indicator::Entity::find()
            .filter(skp_indicator::Column::RhkId.eq(id))
            .order_by_asc(skp_indicator::Column::Sequence)
            .all(self.conn())
            .await?;
        Ok(RhkDoc { rhk, indicators })
    }

    /// Reads an indicator row.
    pub async fn get_indicator(&self, id: &str) -> Result<IndicatorRow> {
        find_indicator(self.conn(), id).await
    }

    /// Lists SKP in creation order.
    pub async fn list_skps(
        &self,
        f: &SkpFilter,
        full: bool,
        page: &Page,
    ) -> Result<(Vec<SkpDoc>, String)> {
        let mut q = skp::Entity::find().order_by_asc(skp::Column::Id);
        if let Some(v) = &f.employee_id {
            q = q.filter(skp::Column::EmployeeId.eq(v.as_str()));
        }
        if let Some(v) = &f.assessor_id {
            q = q.filter(skp::Column::AssessorId.eq(v.as_str()));
        }
        if let Some(v) = &f.period_id {
            q = q.filter(skp::Column::PeriodId.eq(v.as_str()));
        }
        if let Some(v) = &f.state {
            q = q.filter(skp::Column::State.eq(v.as_str()));
        }
        if let Some(k) = &page.after {
            q = q.filter(skp::Column::Id.gt(k.first().cloned().unwrap_or_default()));
        }
        // Each row comes with its assessed periods (one statement for the page).
        let q = q
            .expr_as(assessed_periods_expr(), "assessed_periods")
            .limit(page.fetch_limit());
        let rows = self
            .conn()
            .query_all_raw(q.build(self.conn().get_database_backend()))
            .await?
            .iter()
            .map(row_and_assessed)
            .collect::<Result<Vec<_>>>()?;
        let (rows, next) = page.finish(rows, |(r, _)| vec![r.id.clone()]);
        let from = ContentFrom::cache(Some(self.content_cache()));
        Ok((docs_of(self.conn(), from, rows, full).await?, next))
    }

    /// Creates a draft SKP (idempotent on `request_id`). Its span, assessor, assessor's superior
    /// and post snapshot come from the employee's definitive assignment on the first day.
    pub async fn create_skp(
        &self,
        actor: &Actor,
        new: NewSkp,
        request_id: &str,
        digest: &str,
    ) -> Result<SkpDoc> {
        let txn = self.begin_write().await?;
        let id = new_id();
        if let Claim::Replay(existing) = claim(&txn, "CreateSkp", request_id, digest, &id).await? {
            txn.commit().await?;
            return self.get_skp_doc(&existing, true).await;
        }
        let row = self.insert_skp(&txn, actor, &id, &new, None).await?;
        store_content(&txn, &id, row.version).await?;
        txn.commit().await?;
        self.get_skp_doc(&id, true).await
    }

    /// Inserts a draft SKP with its seven behaviour values, and records it. The caller stores its
    /// content (`store_content`, or `touch`) once everything the SKP starts with is in.
    async fn insert_skp(
        &self,
        txn: &super::Txn,
        actor: &Actor,
        id: &str,
        new: &NewSkp,
        source: Option<&str>,
    ) -> Result<SkpRow> {
        if !lock_row(txn, self.kind(), "employees", &new.employee_id).await? {
            return Err(Error::not_found("Employee", &new.employee_id));
        }
        let emp =
            find_or_not_found::<employee::Entity, _>(txn, "Employee", &new.employee_id).await?;
        let period = find_or_not_found::<performance_period::Entity, _>(
            txn,
            "PerformancePeriod",
            &new.period_id,
        )
        .await?;
        if period.agency_id != emp.agency_id {
            return Err(Error::precondition(
                "PERIOD_OTHER_AGENCY",
                format!("performancePeriods/{}", period.id),
                "the period belongs to another agency than the employee",
            ));
        }
        let existing = skps_of_employee(txn, &emp.id, None).await?;
        let requested = new.start_date.is_some();
        let mut start = match new.start_date {
            Some(d) => {
                if d < period.start_date || d > period.end_date {
                    return Err(Error::invalid(
                        "start_date",
                        format!("must be a day of {}", period.year),
                    ));
                }
                d
            }
            None => existing
                .iter()
                .filter(|s| s.period_id == period.id)
                .map(|s| s.end_date + Duration::days(1))
                .fold(period.start_date, std::cmp::max),
        };
        if start > period.end_date {
            return Err(Error::precondition(
                "PERIOD_COVERED",
                format!("employees/{}", emp.id),
                format!(
                    "the employee's SKP already cover {} to the end of the year",
                    period.year
                ),
            ));
        }
        let post = match definitive_on(txn, &emp.id, start).await? {
            Some(a) => a,
            None if !requested => assignment::Entity::find()
                .filter(assignment::Column::EmployeeId.eq(&emp.id))
                .filter(assignment::Column::Kind.eq("DEFINITIF"))
                .filter(assignment::Column::StartDate.gt(start))
                .filter(assignment::Column::StartDate.lte(period.end_date))
                .order_by_asc(assignment::Column::StartDate)
                .one(txn)
                .await?
                .ok_or_else(|| {
                    Error::precondition(
                        "NO_ASSIGNMENT_ON_DATE",
                        format!("employees/{}", emp.id),
                        format!(
                            "the employee holds no definitive post between {start} and {}",
                            period.end_date
                        ),
                    )
                })?,
            None => {
                return Err(Error::precondition(
                    "NO_ASSIGNMENT_ON_DATE",
                    format!("employees/{}", emp.id),
                    format!("the employee holds no definitive post on {start}"),
                ));
            }
        };
        start = std::cmp::max(start, post.start_date);
        let end = post
            .end_date
            .map_or(period.end_date, |e| std::cmp::min(e, period.end_date));
        let span = Span {
            start,
            end: Some(end),
        };
        if let Some(other) = existing.iter().find(|s| {
            span.overlaps(&Span {
                start: s.start_date,
                end: Some(s.end_date),
            })
        }) {
            return Err(Error::precondition(
                "SKP_OVERLAP",
                format!("skps/{}", other.id),
                format!(
                    "the employee's SKP {} ({}) covers {} to {}, overlapping {start} to {end}; one SKP per employee and day",
                    other.id, other.state, other.start_date, other.end_date
                ),
            ));
        }
        let assessor = post.superior_employee_id.clone();
        let assessor_superior = match &assessor {
            Some(a) => definitive_on(txn, a, start)
                .await?
                .and_then(|x| x.superior_employee_id),
            None => None,
        };
        let unit_name = unit::Entity::find_by_id(post.unit_id.clone())
            .one(txn)
            .await?
            .map(|u| u.name)
            .unwrap_or_default();
        let now = Utc::now();
        let row = skp::ActiveModel {
            id: Set(id.to_owned()),
            employee_id: Set(emp.id.clone()),
            period_id: Set(period.id.clone()),
            agency_id: Set(period.agency_id.clone()),
            year: Set(period.year),
            start_date: Set(start),
            end_date: Set(end),
            approach: Set(new.approach.clone()),
            state: Set(State::Draft.as_str().to_owned()),
            top_of_chain: Set(assessor.is_some() && assessor_superior.is_none()),
            assessor_id: Set(assessor),
            assessor_superior_id: Set(assessor_superior),
            assessor_overridden: Set(false),
            assignment_id: Set(Some(post.id.clone())),
            unit_id: Set(post.unit_id.clone()),
            unit_name: Set(unit_name),
            position_name: Set(post.position_name.clone()),
            position_type: Set(post.position_type.clone()),
            annex_resource_support: Set(new.annex.resource_support.clone()),
            annex_accountability: Set(new.annex.accountability.clone()),
            annex_consequences: Set(new.annex.consequences.clone()),
            return_note: Set(None),
            reopen_reason: Set(None),
            close_reason: Set(None),
            submitted_at: Set(None),
            approved_at: Set(None),
            closed_at: Set(None),
            source_skp_id: Set(source.map(str::to_owned)),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(txn)
        .await?;
        let behaviours: Vec<_> = BERAKHLAK
            .iter()
            .map(|v| skp_behaviour::ActiveModel {
                skp_id: Set(id.to_owned()),
                value: Set((*v).to_owned()),
                expectation: Set(String::new()),
                version: Set(1),
                updated_at: Set(now),
            })
            .collect();
        skp_behaviour::Entity::insert_many(behaviours)
            .exec_without_returning(txn)
            .await?;
        self.record(
            txn,
            actor,
            Change {
                resource_type: SKP_RESOURCE,
                resource_id: id,
                action: "create",
                detail: json!({
                    "employee_id": row.employee_id, "period_id": row.period_id, "year": row.year,
                    "start_date": row.start_date, "end_date": row.end_date,
                    "approach": row.approach, "state": row.state,
                    "assessor_id": row.assessor_id, "assessor_superior_id": row.assessor_superior_id,
                    "top_of_chain": row.top_of_chain, "assignment_id": row.assignment_id,
                    "unit_id": row.unit_id, "position_name": row.position_name,
                    "source_skp_id": row.source_skp_id,
                }),
            },
        )
        .await?;
        Ok(row)
    }

    /// Creates a draft SKP copying approach, annex, RHK (without links, which pointed into the
    /// source's period) and indicators of `source` (by default the employee's latest SKP of the
    /// previous year, approved ones first). Leaders' expectations are not copied.
    pub async fn copy_skp(
        &self,
        actor: &Actor,
        employee_id: &str,
        period_id: &str,
        source_id: Option<&str>,
        request_id: &str,
        digest: &str,
    ) -> Result<SkpDoc> {
        let txn = self.begin_write().await?;
        let id = new_id();
        if let Claim::Replay(existing) = claim(&txn, "CopySkp", request_id, digest, &id).await? {
            txn.commit().await?;
            return self.get_skp_doc(&existing, true).await;
        }
        let source = match source_id {
            Some(s) => {
                let src = find_skp(&txn, s).await?;
                if src.employee_id != employee_id {
                    return Err(Error::invalid(
                        "source_skp_id",
                        "belongs to another employee; only one's own SKP can be copied",
                    ));
                }
                src
            }
            None => {
                let period = find_period(&txn, period_id).await?;
                let mut candidates: Vec<SkpRow> = skp::Entity::find()
                    .filter(skp::Column::EmployeeId.eq(employee_id))
                    .filter(skp::Column::Year.eq(period.year - 1))
                    .all(&txn)
                    .await?;
                candidates.sort_by_key(|s| (s.approved_at.is_some(), s.end_date));
                candidates.pop().ok_or_else(|| {
                    Error::precondition(
                        "NO_PREVIOUS_SKP",
                        format!("employees/{employee_id}"),
                        format!(
                            "the employee has no SKP of {} to copy; name one in source_skp_id",
                            period.year - 1
                        ),
                    )
                })?
            }
        };
        let new = NewSkp {
            employee_id: employee_id.to_owned(),
            period_id: period_id.to_owned(),
            approach: source.approach.clone(),
            annex: Annex {
                resource_support: source.annex_resource_support.clone(),
                accountability: source.annex_accountability.clone(),
                consequences: source.annex_consequences.clone(),
            },
            start_date: None,
        };
        let row = self
            .insert_skp(&txn, actor, &id, &new, Some(&source.id))
            .await?;
        let doc = load_docs(&txn, None, vec![source.clone()], true)
            .await?
            .pop()
            .ok_or_else(|| Error::Internal("source SKP vanished".into()))?;
        let keep_perspective = row.position_type == "JPT";
        for r in &doc.rhk {
            let new_rhk = NewRhk {
                kind: r.rhk.kind.clone(),
                text: r.rhk.text.clone(),
                perspective: r.rhk.perspective.clone().filter(|_| keep_perspective),
                parent_rhk_id: None,
            };
            let rhk = insert_rhk(&txn, &row, new_id(), &new_rhk).await?;
            for i in &r.indicators {
                let ni = NewIndicator {
                    aspect: i.aspect.clone(),
                    text: i.text.clone(),
                    target: i.target,
                    unit: i.unit.clone(),
                };
                insert_indicator(&txn, &rhk, new_id(), &ni).await?;
            }
        }
        store_content(&txn, &id, row.version).await?;
        self.record(
            &txn,
            actor,
            Change {
                resource_type: SKP_RESOURCE,
                resource_id: &id,
                action: "copy",
                detail: json!({"source_skp_id": source.id, "rhk_copied": doc.rhk.len(), "links_dropped": true}),
            },
        )
        .await?;
        txn.commit().await?;
        self.get_skp_doc(&id, true).await
    }

    /// Builds the stored content of the SKPs whose stored content is missing or not of their
    /// current version (SKPs written before migration 000016, or by a bulk tool), `batch` at a
    /// time in id order; returns how many it stored. Safe on several replicas at once and beside
    /// writers: an SKP's content is read in one snapshot with its version and stored only while
    /// the SKP is still at that version.
    pub async fn build_stale_content(&self, batch: u64) -> Result<u64> {
        let batch = Ord::max(batch, 1);
        let mut after: Option<String> = None;
        let mut stored = 0;
        loop {
            let read = self.begin_read().await?;
            let (s, c) = (skp::Entity, skp_content::Entity);
            let mut q = Query::select()
                .columns([(s, skp::Column::Id), (s, skp::Column::Version)])
                .from(s)
                .left_join(
                    c,
                    Expr::col((c, skp_content::Column::SkpId)).equals((s, skp::Column::Id)),
                )
                .cond_where(
                    Condition::any()
                        .add(Expr::col((c, skp_content::Column::SkpId)).is_null())
                        .add(
                            Expr::col((c, skp_content::Column::Version))
                                .ne(Expr::col((s, skp::Column::Version))),
                        ),
                )
                .order_by((s, skp::Column::Id), Order::Asc)
                .limit(batch)
                .to_owned();
            if let Some(a) = &after {
                q.and_where(Expr::col((s, skp::Column::Id)).gt(a.as_str()));
            }
            let mut stale: Vec<(String, i64)> = Vec::new();
            for r in read.query_all(&q).await? {
                stale.push((r.try_get("", "id")?, r.try_get("", "version")?));
            }
            let keys: Vec<(&str, i64)> = stale.iter().map(|(id, v)| (id.as_str(), *v)).collect();
            let content = read_content(&read, &keys).await?;
            read.commit().await?;
            let Some((last, _)) = stale.last() else {
                break;
            };
            after = Some(last.clone());
            let txn = self.begin_write().await?;
            for (id, version) in &stale {
                let Some(content) = content.get(id) else {
                    continue;
                };
                // Stored only while the SKP is still at the version its content was read at.
                let unchanged = Query::select()
                    .expr(Expr::val(1))
                    .from(s)
                    .and_where(Expr::col((s, skp::Column::Id)).eq(id.as_str()))
                    .and_where(Expr::col((s, skp::Column::Version)).eq(*version))
                    .to_owned();
                let row = Query::select()
                    .exprs([
                        Expr::val(id.as_str()),
                        Expr::val(*version),
                        Expr::val(super::content::encode(content)),
                    ])
                    .and_where(Expr::exists(unchanged))
                    .to_owned();
                let insert = Query::insert()
                    .into_table(c)
                    .columns([
                        skp_content::Column::SkpId,
                        skp_content::Column::Version,
                        skp_content::Column::Content,
                    ])
                    .select_from(row)
                    .map_err(|e| Error::Internal(format!("stored content insert: {e}")))?
                    .on_conflict(
                        OnConflict::column(skp_content::Column::SkpId)
                            .update_columns([
                                skp_content::Column::Version,
                                skp_content::Column::Content,
                            ])
                            .to_owned(),
                    )
                    .to_owned();
                stored += txn.execute(&insert).await?.rows_affected();
            }
            txn.commit().await?;
            if (stale.len() as u64) < batch {
                break;
            }
        }
        Ok(stored)
    }

    /// Updates the approach or annex of an editable SKP.
    pub async fn update_skp(
        &self,
        acting: &Acting,
        id: &str,
        version: i64,
        ch: SkpChanges,
    ) -> Result<SkpDoc> {
        let changes_json = serde_json::to_value(&ch).unwrap_or_default();
        let txn = self.begin_write().await?;
        self.guard(&txn, id, acting, Action::Edit, Some(version))
            .await?;
        let mut q = skp::Entity::update_many();
        let mut any = false;
        for (col, v) in [
            (skp::Column::Approach, ch.approach),
            (skp::Column::AnnexResourceSupport, ch.resource_support),
            (skp::Column::AnnexAccountability, ch.accountability),
            (skp::Column::AnnexConsequences, ch.consequences),
        ] {
            if let Some(v) = v {
                q = q.col_expr(col, Expr::value(v));
                any = true;
            }
        }
        if any {
            q.filter(skp::Column::Id.eq(id)).exec(&txn).await?;
        }
        let v = touch(&txn, id, Content::Kept).await?;
        self.record(
            &txn,
            &acting.actor,
            Change {
                resource_type: SKP_RESOURCE,
                resource_id: id,
                action: "update",
                detail: json!({"changes": changes_json, "version": v}),
            },
        )
        .await?;
        txn.commit().await?;
        self.get_skp_doc(id, true).await
    }

    /// Adds an RHK to an editable SKP (idempotent on `request_id`).
    pub async fn create_rhk(
        &self,
        acting: &Acting,
        skp_id: &str,
        new: NewRhk,
        request_id: &str,
        digest: &str,
    ) -> Result<RhkDoc> {
        let txn = self.begin_write().await?;
        let id = new_id();
        if let Claim::Replay(existing) = claim(&txn, "CreateRhk", request_id, digest, &id).await? {
            txn.commit().await?;
            return self.get_rhk_doc(&existing).await;
        }
        let (s, _) = self.guard(&txn, skp_id, acting, Action::Edit, None).await?;
        check_perspective(&s, new.perspective.as_deref())?;
        if let Some(p) = &new.parent_rhk_id {
            check_parent(&txn, &s, p).await?;
        }
        let row = insert_rhk(&txn, &s, id.clone(), &new).await?;
        let v = touch(&txn, skp_id, Content::Changed).await?;
        self.record(
            &txn,
            &acting.actor,
            Change {
                resource_type: SKP_RESOURCE,
                resource_id: skp_id,
                action: "rhk.create",
                detail: json!({"rhk_id": id, "sequence": row.sequence, "rhk": new, "version": v}),
            },
        )
        .await?;
        txn.commit().await?;
        self.get_rhk_doc(&id).await
    }

    /// Updates an RHK of an editable SKP if `version` is the RHK's current version.
    pub async fn update_rhk(
        &self,
        acting: &Acting,
        id: &str,
        version: i64,
        ch: RhkChanges,
    ) -> Result<RhkDoc> {
        let changes_json = serde_json::to_value(&ch).unwrap_or_default();
        let txn = self.begin_write().await?;
        let cur = find_rhk(&txn, id).await?;
        let (s, _) = self
            .guard(&txn, &cur.skp_id, acting, Action::Edit, None)
            .await?;
        if cur.version != version {
            return Err(Error::Aborted {
                kind: "Rhk",
                id: id.to_owned(),
            });
        }
        if let Some(p) = &ch.perspective {
            check_perspective(&s, p.as_deref())?;
        }
        if let Some(Some(p)) = &ch.parent_rhk_id {
            check_parent(&txn, &s, p).await?;
        }
        let mut q = skp_rhk::Entity::update_many()
            .col_expr(
                skp_rhk::Column::Version,
                Expr::col(skp_rhk::Column::Version).add(1),
            )
            .col_expr(skp_rhk::Column::UpdatedAt, Expr::value(Utc::now()));
        if let Some(v) = ch.kind {
            q = q.col_expr(skp_rhk::Column::Kind, Expr::value(v));
        }
        if let Some(v) = ch.text {
            q = q.col_expr(skp_rhk::Column::Text, Expr::value(v));
        }
        if let Some(v) = ch.perspective {
            q = q.col_expr(skp_rhk::Column::Perspective, Expr::value(v));
        }
        if let Some(v) = ch.parent_rhk_id {
            q = q.col_expr(skp_rhk::Column::ParentRhkId, Expr::value(v));
        }
        q.filter(skp_rhk::Column::Id.eq(id)).exec(&txn).await?;
        let v = touch(&txn, &s.id, Content::Changed).await?;
        self.record(
            &txn,
            &acting.actor,
            Change {
                resource_type: SKP_RESOURCE,
                resource_id: &s.id,
                action: "rhk.update",
                detail: json!({"rhk_id": id, "changes": changes_json, "version": v}),
            },
        )
        .await?;
        txn.commit().await?;
        self.get_rhk_doc(id).await
    }

    /// Deletes an RHK and its indicators; refused while RHK of other SKP support it.
    pub async fn delete_rhk(&self, acting: &Acting, id: &str, version: i64) -> Result<()> {
        let txn = self.begin_write().await?;
        let cur = find_rhk(&txn, id).await?;
        let (s, _) = self
            .guard(&txn, &cur.skp_id, acting, Action::Edit, None)
            .await?;
        if cur.version != version {
            return Err(Error::Aborted {
                kind: "Rhk",
                id: id.to_owned(),
            });
        }
        let supporters = skp_rhk::Entity::find()
            .filter(skp_rhk::Column::ParentRhkId.eq(id))
            .count(&txn)
            .await?;
        if supporters > 0 {
            return Err(Error::precondition(
                "RHK_SUPPORTED",
                format!("rhk/{id}"),
                format!("{supporters} RHK of subordinates link to this RHK; it cannot be deleted"),
            ));
        }
        skp_indicator::Entity::delete_many()
            .filter(skp_indicator::Column::RhkId.eq(id))
            .exec(&txn)
            .await?;
        skp_rhk::Entity::delete_many()
            .filter(skp_rhk::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        let v = touch(&txn, &s.id, Content::Changed).await?;
        self.record(
            &txn,
            &acting.actor,
            Change {
                resource_type: SKP_RESOURCE,
                resource_id: &s.id,
                action: "rhk.delete",
                detail: json!({"rhk_id": id, "text": cur.text, "version": v}),
            },
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Adds an indicator to an RHK of an editable SKP (idempotent on `request_id`).
    pub async fn create_indicator(
        &self,
        acting: &Acting,
        rhk_id: &str,
        new: NewIndicator,
        request_id: &str,
        digest: &str,
    ) -> Result<IndicatorRow> {
        let txn = self.begin_write().await?;
        let id = new_id();
        if let Claim::Replay(existing) =
            claim(&txn, "CreateIndicator", request_id, digest, &id).await?
        {
            txn.commit().await?;
            return self.get_indicator(&existing).await;
        }
        let rhk = find_rhk(&txn, rhk_id).await?;
        self.guard(&txn, &rhk.skp_id, acting, Action::Edit, None)
            .await?;
        let row = insert_indicator(&txn, &rhk, id.clone(), &new).await?;
        let v = touch(&txn, &rhk.skp_id, Content::Changed).await?;
        self.record(
            &txn,
            &acting.actor,
            Change {
                resource_type: SKP_RESOURCE,
                resource_id: &rhk.skp_id,
                action: "indicator.create",
                detail: json!({"rhk_id": rhk_id, "indicator_id": id, "sequence": row.sequence, "indicator": new, "version": v}),
            },
        )
        .await?;
        txn.commit().await?;
        Ok(row)
    }

    /// Updates an indicator if `version` is its current version.
    pub async fn update_indicator(
        &self,
        acting: &Acting,
        id: &str,
        version: i64,
        ch: IndicatorChanges,
    ) -> Result<IndicatorRow> {
        let changes_json = serde_json::to_value(&ch).unwrap_or_default();
        let txn = self.begin_write().await?;
        let cur = find_indicator(&txn, id).await?;
        self.guard(&txn, &cur.skp_id, acting, Action::Edit, None)
            .await?;
        if cur.version != version {
            return Err(Error::Aborted {
                kind: "Indicator",
                id: id.to_owned(),
            });
        }
        let mut q = skp_indicator::Entity::update_many()
            .col_expr(
                skp_indicator::Column::Version,
                Expr::col(skp_indicator::Column::Version).add(1),
            )
            .col_expr(skp_indicator::Column::UpdatedAt, Expr::value(Utc::now()));
        if let Some(v) = ch.aspect {
            q = q.col_expr(skp_indicator::Column::Aspect, Expr::value(v));
        }
        if let Some(v) = ch.text {
            q = q.col_expr(skp_indicator::Column::Text, Expr::value(v));
        }
        if let Some(v) = ch.target {
            q = q.col_expr(skp_indicator::Column::Target, Expr::value(v));
        }
        if let Some(v) = ch.unit {
            q = q.col_expr(skp_indicator::Column::Unit, Expr::value(v));
        }
        q.filter(skp_indicator::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        let v = touch(&txn, &cur.skp_id, Content::Changed).await?;
        self.record(
            &txn,
            &acting.actor,
            Change {
                resource_type: SKP_RESOURCE,
                resource_id: &cur.skp_id,
                action: "indicator.update",
                detail: json!({"rhk_id": cur.rhk_id, "indicator_id": id, "changes": changes_json, "version": v}),
            },
        )
        .await?;
        txn.commit().await?;
        self.get_indicator(id).await
    }

    /// Deletes an indicator of an editable SKP.
    pub async fn delete_indicator(&self, acting: &Acting, id: &str, version: i64) -> Result<()> {
        let txn = self.begin_write().await?;
        let cur = find_indicator(&txn, id).await?;
        self.guard(&txn, &cur.skp_id, acting, Action::Edit, None)
            .await?;
        if cur.version != version {
            return Err(Error::Aborted {
                kind: "Indicator",
                id: id.to_owned(),
            });
        }
        skp_indicator::Entity::delete_many()
            .filter(skp_indicator::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        let v = touch(&txn, &cur.skp_id, Content::Changed).await?;
        self.record(
            &txn,
            &acting.actor,
            Change {
                resource_type: SKP_RESOURCE,
                resource_id: &cur.skp_id,
                action: "indicator.delete",
                detail: json!({"rhk_id": cur.rhk_id, "indicator_id": id, "text": cur.text, "version": v}),
            },
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Sets the leader's expectation of one behaviour value if `version` is current.
    pub async fn update_behaviour(
        &self,
        acting: &Acting,
        skp_id: &str,
        value: &str,
        version: i64,
        expectation: String,
    ) -> Result<BehaviourRow> {
        let txn = self.begin_write().await?;
        self.guard(&txn, skp_id, acting, Action::SetExpectation, None)
            .await?;
        let res = skp_behaviour::Entity::update_many()
            .col_expr(
                skp_behaviour::Column::Expectation,
                Expr::value(expectation.clone()),
            )
            .col_expr(
                skp_behaviour::Column::Version,
                Expr::col(skp_behaviour::Column::Version).add(1),
            )
            .col_expr(skp_behaviour::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(skp_behaviour::Column::SkpId.eq(skp_id))
            .filter(skp_behaviour::Column::Value.eq(value))
            .filter(skp_behaviour::Column::Version.eq(version))
            .exec(&txn)
            .await?;
        if res.rows_affected != 1 {
            return Err(Error::Aborted {
                kind: "Behaviour",
                id: format!("{skp_id}/{value}"),
            });
        }
        let v = touch(&txn, skp_id, Content::Changed).await?;
        self.record(
            &txn,
            &acting.actor,
            Change {
                resource_type: SKP_RESOURCE,
                resource_id: skp_id,
                action: "behaviour.update",
                detail: json!({"value": value, "expectation": expectation, "version": v}),
            },
        )
        .await?;
        txn.commit().await?;
        skp_behaviour::Entity::find_by_id((skp_id.to_owned(), value.to_owned()))
            .one(self.conn())
            .await?
            .ok_or_else(|| Error::not_found("Behaviour", format!("{skp_id}/{value}")))
    }

    /// Runs one workflow step (idempotent on `request_id`): checks the actor and state, the
    /// step's own rules, then records the transition with its reason.
    pub async fn transition_skp(
        &self,
        acting: &Acting,
        id: &str,
        step: Step,
        version: Option<i64>,
        request_id: &str,
        digest: &str,
    ) -> Result<SkpDoc> {
        let txn = self.begin_write().await?;
        if let Claim::Replay(existing) = claim(&txn, step.method(), request_id, digest, id).await? {
            txn.commit().await?;
            return self.get_skp_doc(&existing, true).await;
        }
        let (row, next) = self.guard(&txn, id, acting, step.action(), version).await?;
        let from = state_of(&row)?;
        let now = Utc::now();
        let mut q = skp::Entity::update_many()
            .col_expr(skp::Column::State, Expr::value(next.as_str()))
            .col_expr(skp::Column::Version, Expr::col(skp::Column::Version).add(1))
            .col_expr(skp::Column::UpdatedAt, Expr::value(now));
        let mut detail = json!({"from": from.as_str(), "to": next.as_str()});
        match &step {
            Step::Submit => {
                self.check_submittable(&txn, &row).await?;
                q = q.col_expr(skp::Column::SubmittedAt, Expr::value(now));
            }
            Step::Approve => {
                q = q.col_expr(skp::Column::ApprovedAt, Expr::value(now));
            }
            Step::Return { note } => {
                q = q.col_expr(skp::Column::ReturnNote, Expr::value(note.clone()));
                detail["reason"] = json!(note);
            }
            Step::Reopen { reason } => {
                let assessed = assessed_periods(&txn, id).await?;
                rules::check_reopen(assessed)
                    .map_err(|m| Error::precondition("SKP_ASSESSED", format!("skps/{id}"), m))?;
                q = q
                    .col_expr(skp::Column::ReopenReason, Expr::value(reason.clone()))
                    .col_expr(
                        skp::Column::ApprovedAt,
                        Expr::value(None::<chrono::DateTime<Utc>>),
                    );
                detail["reason"] = json!(reason);
            }
            Step::Close { end_date, reason } => {
                if *end_date < row.start_date || *end_date > row.end_date {
                    return Err(Error::invalid(
                        "end_date",
                        format!(
                            "must lie within the SKP's span {} to {}",
                            row.start_date, row.end_date
                        ),
                    ));
                }
                q = q
                    .col_expr(skp::Column::EndDate, Expr::value(*end_date))
                    .col_expr(skp::Column::ClosedAt, Expr::value(now))
                    .col_expr(skp::Column::CloseReason, Expr::value(reason.clone()));
                detail["reason"] = json!(reason);
                detail["end_date"] = json!(end_date);
                detail["previous_end_date"] = json!(row.end_date);
            }
            Step::SetAssessor {
                assessor_id,
                assessor_superior_id,
                reason,
            } => {
                check_assessor(&txn, &row, assessor_id, assessor_superior_id.as_deref()).await?;
                q = q
                    .col_expr(skp::Column::AssessorId, Expr::value(assessor_id.clone()))
                    .col_expr(
                        skp::Column::AssessorSuperiorId,
                        Expr::value(assessor_superior_id.clone()),
                    )
                    .col_expr(skp::Column::AssessorOverridden, Expr::value(true))
                    .col_expr(
                        skp::Column::TopOfChain,
                        Expr::value(assessor_superior_id.is_none()),
                    );
                detail["reason"] = json!(reason);
                detail["previous"] = json!({"assessor_id": row.assessor_id, "assessor_superior_id": row.assessor_superior_id});
                detail["assessor_id"] = json!(assessor_id);
                detail["assessor_superior_id"] = json!(assessor_superior_id);
            }
        }
        q.filter(skp::Column::Id.eq(id)).exec(&txn).await?;
        carry_content(&txn, id).await?;
        detail["version"] = json!(row.version + 1);
        let action = match step.action() {
            Action::SetAssessor => "set_assessor",
            a => a.as_str(),
        };
        let event_type = match step {
            Step::Submit => "skp.submitted",
            Step::Approve => "skp.approved",
            Step::Return { .. } => "skp.returned",
            Step::Reopen { .. } => "skp.reopened",
            Step::Close { .. } => "skp.closed",
            Step::SetAssessor { .. } => "skp.assessor_changed",
        };
        let mut data = detail.clone();
        data["employee_id"] = json!(row.employee_id);
        data["period_id"] = json!(row.period_id);
        data["year"] = json!(row.year);
        self.record(
            &txn,
            &acting.actor,
            Change {
                resource_type: SKP_RESOURCE,
                resource_id: id,
                action,
                detail,
            },
        )
        .await?;
        self.publish(
            &txn,
            &acting.actor,
            Event {
                event_type,
                resource_type: SKP_RESOURCE,
                resource_id: id,
                data,
            },
        )
        .await?;
        self.commit_with_events(txn).await?;
        self.get_skp_doc(id, true).await
    }

    /// Refuses a submission the plan is not ready for (see [`rules::check_ready`]), or whose
    /// links no longer satisfy the cascade rule.
    async fn check_submittable(&self, txn: &super::Txn, s: &SkpRow) -> Result<()> {
        if s.assessor_id.is_none() {
            return Err(Error::precondition(
                "SKP_HAS_NO_ASSESSOR",
                format!("skps/{}", s.id),
                "the SKP has no assessor (the post names no superior); an administrator must set one (SetSkpAssessor) first",
            ));
        }
        let doc = load_docs(txn, None, vec![s.clone()], true)
            .await?
            .pop()
            .ok_or_else(|| Error::Internal("SKP vanished".into()))?;
        let summaries: Vec<RhkSummary> = doc
            .rhk
            .iter()
            .map(|r| RhkSummary {
                id: r.rhk.id.clone(),
                sequence: r.rhk.sequence,
                utama: r.rhk.kind == "UTAMA",
                indicators: r.indicators.len(),
                linked: r.rhk.parent_rhk_id.is_some(),
            })
            .collect();
        rules::check_ready(s.top_of_chain, &summaries).map_err(|n| {
            let subject = n
                .rhk_id
                .map_or_else(|| format!("skps/{}", s.id), |r| format!("rhk/{r}"));
            Error::precondition(n.reason, subject, n.message)
        })?;
        for r in &doc.rhk {
            if let Some(p) = &r.rhk.parent_rhk_id {
                check_parent(txn, s, p).await?;
            }
        }
        Ok(())
    }

    /// Closes the open SKP made from `assignment` when its end date is set before the SKP's end
    /// (mutasi), inside the assignment update's transaction. An SKP that starts after the new
    /// end date makes the update FAILED_PRECONDITION.
    pub(crate) async fn close_skps_on_assignment_end(
        &self,
        txn: &super::Txn,
        actor: &Actor,
        assignment: &AssignmentRow,
        end: NaiveDate,
    ) -> Result<()> {
        let candidates: Vec<String> = skp::Entity::find()
            .select_only()
            .column(skp::Column::Id)
            .filter(skp::Column::AssignmentId.eq(&assignment.id))
            .filter(skp::Column::State.ne(State::Ditutup.as_str()))
            .filter(skp::Column::EndDate.gt(end))
            .into_tuple()
            .all(txn)
            .await?;
        for id in candidates {
            // Lock, then read again: a concurrent transition may have changed it meanwhile.
            lock_row(txn, self.kind(), "skps", &id).await?;
            let s = find_skp(txn, &id).await?;
            if s.state == State::Ditutup.as_str() || s.end_date <= end {
                continue;
            }
            if s.start_date > end {
                return Err(Error::precondition(
                    "SKP_STARTS_AFTER_END",
                    format!("skps/{}", s.id),
                    format!(
                        "SKP {} made from this assignment starts on {}, after the new end date {end}; close it first",
                        s.id, s.start_date
                    ),
                ));
            }
            let now = Utc::now();
            let reason = format!("mutasi: assignment {} ends on {end}", assignment.id);
            skp::Entity::update_many()
                .col_expr(skp::Column::State, Expr::value(State::Ditutup.as_str()))
                .col_expr(skp::Column::EndDate, Expr::value(end))
                .col_expr(skp::Column::ClosedAt, Expr::value(now))
                .col_expr(skp::Column::CloseReason, Expr::value(reason.clone()))
                .col_expr(skp::Column::Version, Expr::col(skp::Column::Version).add(1))
                .col_expr(skp::Column::UpdatedAt, Expr::value(now))
                .filter(skp::Column::Id.eq(&s.id))
                .exec(txn)
                .await?;
            carry_content(txn, &s.id).await?;
            let detail = json!({
                "from": s.state, "to": State::Ditutup.as_str(), "reason": reason,
                "end_date": end, "previous_end_date": s.end_date,
                "assignment_id": assignment.id, "automatic": true,
                "version": s.version + 1,
            });
            let mut data = detail.clone();
            data["employee_id"] = json!(s.employee_id);
            data["period_id"] = json!(s.period_id);
            data["year"] = json!(s.year);
            self.record(
                txn,
                actor,
                Change {
                    resource_type: SKP_RESOURCE,
                    resource_id: &s.id,
                    action: "close",
                    detail,
                },
            )
            .await?;
            self.publish(
                txn,
                actor,
                Event {
                    event_type: "skp.closed",
                    resource_type: SKP_RESOURCE,
                    resource_id: &s.id,
                    data,
                },
            )
            .await?;
        }
        Ok(())
    }

    /// Applies `template` to one employee in its own transaction: a new draft SKP, or the RHK
    /// added to their editable SKP of the period. Retries with the same `request_id` do nothing
    /// twice.
    pub async fn apply_template(
        &self,
        actor: &Actor,
        employee_id: &str,
        period_id: &str,
        template: &Template,
        request_id: &str,
        digest: &str,
    ) -> Result<(TemplateOutcome, String)> {
        let txn = self.begin_write().await?;
        if !lock_row(&txn, self.kind(), "employees", employee_id).await? {
            return Err(Error::not_found("Employee", employee_id));
        }
        let period = find_period(&txn, period_id).await?;
        let existing = skps_of_employee(&txn, employee_id, None)
            .await?
            .into_iter()
            .filter(|s| s.period_id == period.id && s.state != State::Ditutup.as_str())
            .max_by_key(|s| s.start_date);
        let id = existing.as_ref().map_or_else(new_id, |s| s.id.clone());
        let method = format!("ApplySkpTemplate:{employee_id}");
        if let Claim::Replay(done) = claim(&txn, &method, request_id, digest, &id).await? {
            txn.commit().await?;
            return Ok((TemplateOutcome::AlreadyApplied, done));
        }
        let (row, outcome) = match existing {
            Some(s) => {
                rules::transition(state_of(&s)?, Action::Edit, &[Relation::Admin])
                    .map_err(|r| refusal(&s.id, r))?;
                (s, TemplateOutcome::Updated)
            }
            None => {
                let new = NewSkp {
                    employee_id: employee_id.to_owned(),
                    period_id: period_id.to_owned(),
                    approach: template.approach.clone(),
                    annex: Annex::default(),
                    start_date: None,
                };
                (
                    self.insert_skp(&txn, actor, &id, &new, None).await?,
                    TemplateOutcome::Created,
                )
            }
        };
        if !row
            .position_name
            .trim()
            .eq_ignore_ascii_case(template.position_name.trim())
        {
            return Err(Error::precondition(
                "POSITION_MISMATCH",
                format!("skps/{}", row.id),
                format!(
                    "the employee's post is {:?}, not {:?}",
                    row.position_name, template.position_name
                ),
            ));
        }
        for (r, inds) in &template.rhk {
            check_perspective(&row, r.perspective.as_deref())?;
            let rhk = insert_rhk(&txn, &row, new_id(), r).await?;
            for i in inds {
                insert_indicator(&txn, &rhk, new_id(), i).await?;
            }
        }
        let v = touch(&txn, &row.id, Content::Changed).await?;
        self.record(
            &txn,
            actor,
            Change {
                resource_type: SKP_RESOURCE,
                resource_id: &row.id,
                action: "template.apply",
                detail: json!({"position_name": template.position_name, "rhk_added": template.rhk.len(), "version": v}),
            },
        )
        .await?;
        txn.commit().await?;
        Ok((outcome, row.id))
    }
}

async fn find_period(txn: &super::Txn, id: &str) -> Result<performance_period::Model> {
    find_or_not_found::<performance_period::Entity, _>(txn, "PerformancePeriod", id).await
}

/// Checks an assessor override: existing employees, neither the SKP's employee, and distinct.
async fn check_assessor(
    txn: &super::Txn,
    s: &SkpRow,
    assessor_id: &str,
    superior_id: Option<&str>,
) -> Result<()> {
    if assessor_id == s.employee_id {
        return Err(Error::invalid(
            "assessor_id",
            "an employee cannot assess their own SKP",
        ));
    }
    if superior_id == Some(s.employee_id.as_str()) {
        return Err(Error::invalid(
            "assessor_superior_id",
            "the employee cannot be their assessor's superior",
        ));
    }
    if superior_id == Some(assessor_id) {
        return Err(Error::invalid(
            "assessor_superior_id",
            "must differ from the assessor",
        ));
    }
    for (field, id) in [
        ("assessor_id", Some(assessor_id)),
        ("assessor_superior_id", superior_id),
    ] {
        if let Some(id) = id {
            let found = employee::Entity::find_by_id(id.to_owned()).one(txn).await?;
            if found.is_none() {
                return Err(Error::invalid(
                    field,
                    format!("employee {id} does not exist"),
                ));
            }
        }
    }
    Ok(())
}
