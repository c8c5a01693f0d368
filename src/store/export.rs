//! The bulk export of set and FINAL results (payroll, credit points, HR spreadsheets).
//!
//! An export reads results **as of one snapshot time**: each page is one keyset query (by
//! evaluation id, within the evaluation period and the unit subtree) joined with the SKP, the
//! employee and the objection, and each row is rebuilt as it stood at the snapshot time by
//! [`crate::domain::export::as_of`]. Nothing is held open between pages, so a cut export resumes
//! from its cursor on any replica and reads the same snapshot; results set after the snapshot
//! time are not part of it.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, JoinType, Order, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::assessment::{EvaluationPeriodRow, find_period};
use super::entities::{
    employee, objection, outbox_event, performance_period, skp, skp_evaluation, unit,
};
use super::{Store, find_or_not_found};
use crate::domain::assessment::State;
use crate::domain::export::{self as rules, AsOf, Ratings};
use crate::error::{Error, Result};

/// What an export covers, resolved from the request.
#[derive(Debug, Clone)]
pub struct Scope {
    /// The evaluation period.
    pub period: EvaluationPeriodRow,
    /// Agency of the period.
    pub agency_id: String,
    /// Year of the period.
    pub year: i32,
    /// The unit whose subtree is exported, or `None` for the whole agency.
    pub unit: Option<super::UnitRow>,
}

/// One exported result.
#[derive(Debug, Clone)]
pub struct ExportRow {
    /// Evaluation id.
    pub evaluation_id: String,
    /// Employee id.
    pub employee_id: String,
    /// NIP.
    pub nip: String,
    /// Employee name.
    pub employee_name: String,
    /// SKP id.
    pub skp_id: String,
    /// Unit snapshot of the SKP.
    pub unit_id: String,
    /// Unit name snapshot.
    pub unit_name: String,
    /// Post name snapshot.
    pub position_name: String,
    /// Post type snapshot.
    pub position_type: String,
    /// Organisation rating when set.
    pub org_rating: Option<String>,
    /// When it was set.
    pub set_at: DateTime<Utc>,
    /// The result at the snapshot time.
    pub at: AsOf,
}

/// One page of an export.
#[derive(Debug, Clone)]
pub struct ExportPage {
    /// The results of the page (those of the snapshot that pass the filters).
    pub rows: Vec<ExportRow>,
    /// Evaluation id of the last result examined: the next page starts after it.
    pub last_key: Option<String>,
    /// True when no result after `last_key` remains.
    pub exhausted: bool,
}

#[derive(Debug, FromQueryResult)]
struct Joined {
    evaluation_id: String,
    state: String,
    set_at: Option<DateTime<Utc>>,
    objection_deadline: Option<DateTime<Utc>>,
    final_at: Option<DateTime<Utc>>,
    results_rating: Option<String>,
    behaviour_rating: Option<String>,
    predikat: Option<String>,
    org_rating: Option<String>,
    skp_id: String,
    employee_id: String,
    unit_id: String,
    unit_name: String,
    position_name: String,
    position_type: String,
    nip: String,
    employee_name: String,
    o_filed_at: Option<DateTime<Utc>>,
    o_decided_at: Option<DateTime<Utc>>,
    o_prev_results: Option<String>,
    o_prev_behaviour: Option<String>,
    o_prev_predikat: Option<String>,
}

impl Store {
    /// Resolves and checks what an export of `ep_id` (within `unit_id`, if any) covers.
    pub async fn export_scope(&self, ep_id: &str, unit_id: Option<&str>) -> Result<Scope> {
        let period = find_period(self.conn(), ep_id).await?;
        let pp = find_or_not_found::<performance_period::Entity, _>(
            self.conn(),
            "PerformancePeriod",
            &period.period_id,
        )
        .await?;
        let unit = match unit_id {
            None => None,
            Some(id) => {
                let u = self.get_unit(id).await?;
                if u.agency_id != pp.agency_id {
                    return Err(Error::invalid(
                        "unit_id",
                        "the unit belongs to another agency than the evaluation period",
                    ));
                }
                Some(u)
            }
        };
        Ok(Scope {
            period,
            agency_id: pp.agency_id,
            year: pp.year,
            unit,
        })
    }

    /// The root units of an agency (an export of the whole agency is one of all its roots).
    pub async fn agency_roots(&self, agency_id: &str) -> Result<Vec<super::UnitRow>> {
        Ok(unit::Entity::find()
            .filter(unit::Column::AgencyId.eq(agency_id))
            .filter(unit::Column::ParentId.is_null())
            .order_by_asc(unit::Column::Id)
            .all(self.conn())
            .await?)
    }

    /// Id of the newest committed event of the feed (empty when the feed is empty).
    pub async fn newest_event_id(&self) -> Result<String> {
        Ok(outbox_event::Entity::find()
            .order_by_desc(outbox_event::Column::Seq)
            .limit(1)
            .one(self.conn())
            .await?
            .map(|e| e.id)
            .unwrap_or_default())
    }

    /// The next page of the export of `scope` as of `snapshot`, after evaluation id `after`:
    /// at most `limit` results examined, in evaluation id order.
    pub async fn export_page(
        &self,
        scope: &Scope,
        snapshot: DateTime<Utc>,
        final_only: bool,
        after: Option<&str>,
        limit: u64,
    ) -> Result<ExportPage> {
        let e = Alias::new("e");
        let s = Alias::new("s");
        let m = Alias::new("m");
        let o = Alias::new("o");
        let u = Alias::new("u");
        let mut q = Query::select();
        q.expr_as(
            Expr::col((e.clone(), skp_evaluation::Column::Id)),
            Alias::new("evaluation_id"),
        );
        for c in [
            skp_evaluation::Column::State,
            skp_evaluation::Column::SetAt,
            skp_evaluation::Column::ObjectionDeadline,
            skp_evaluation::Column::FinalAt,
            skp_evaluation::Column::ResultsRating,
            skp_evaluation::Column::BehaviourRating,
            skp_evaluation::Column::Predikat,
            skp_evaluation::Column::OrgRating,
            skp_evaluation::Column::SkpId,
        ] {
            q.column((e.clone(), c));
        }
        for c in [
            skp::Column::EmployeeId,
            skp::Column::UnitId,
            skp::Column::UnitName,
            skp::Column::PositionName,
            skp::Column::PositionType,
        ] {
            q.column((s.clone(), c));
        }
        q.column((m.clone(), employee::Column::Nip))
            .expr_as(
                Expr::col((m.clone(), employee::Column::Name)),
                Alias::new("employee_name"),
            )
            .expr_as(
                Expr::col((o.clone(), objection::Column::FiledAt)),
                Alias::new("o_filed_at"),
            )
            .expr_as(
                Expr::col((o.clone(), objection::Column::DecidedAt)),
                Alias::new("o_decided_at"),
            )
            .expr_as(
                Expr::col((o.clone(), objection::Column::PrevResultsRating)),
                Alias::new("o_prev_results"),
            )
            .expr_as(
                Expr::col((o.clone(), objection::Column::PrevBehaviourRating)),
                Alias::new("o_prev_behaviour"),
            )
            .expr_as(
                Expr::col((o.clone(), objection::Column::PrevPredikat)),
                Alias::new("o_prev_predikat"),
            )
            .from_as(skp_evaluation::Entity, e.clone())
            .join_as(
                JoinType::InnerJoin,
                skp::Entity,
                s.clone(),
                Expr::col((s.clone(), skp::Column::Id))
                    .equals((e.clone(), skp_evaluation::Column::SkpId)),
            )
            .join_as(
                JoinType::InnerJoin,
                employee::Entity,
                m.clone(),
                Expr::col((m.clone(), employee::Column::Id))
                    .equals((s.clone(), skp::Column::EmployeeId)),
            )
            .join_as(
                JoinType::LeftJoin,
                objection::Entity,
                o.clone(),
                Expr::col((o.clone(), objection::Column::EvaluationId))
                    .equals((e.clone(), skp_evaluation::Column::Id)),
            )
            .and_where(
                Expr::col((e.clone(), skp_evaluation::Column::EvaluationPeriodId))
                    .eq(scope.period.id.as_str()),
            )
            .and_where(
                Expr::col((e.clone(), skp_evaluation::Column::State))
                    .is_in([State::Ditetapkan.as_str(), State::Final.as_str()]),
            )
            .and_where(Expr::col((e.clone(), skp_evaluation::Column::SetAt)).lte(snapshot))
            .order_by((e.clone(), skp_evaluation::Column::Id), Order::Asc)
            .limit(limit);
        if let Some(a) = after {
            q.and_where(Expr::col((e.clone(), skp_evaluation::Column::Id)).gt(a));
        }
        if let Some(root) = &scope.unit {
            q.join_as(
                JoinType::InnerJoin,
                unit::Entity,
                u.clone(),
                Expr::col((u.clone(), unit::Column::Id)).equals((s.clone(), skp::Column::UnitId)),
            )
            .and_where(Expr::col((u.clone(), unit::Column::Path)).like(like_prefix(&root.path)));
        }
        let stmt = self.conn().get_database_backend().build(&q);
        let rows = Joined::find_by_statement(stmt).all(self.conn()).await?;
        let exhausted = (rows.len() as u64) < limit;
        let last_key = rows.last().map(|r| r.evaluation_id.clone());
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let state = State::parse(&r.state).ok_or_else(|| {
                Error::Internal(format!(
                    "evaluation {} has unknown state {}",
                    r.evaluation_id, r.state
                ))
            })?;
            let stored = rules::Stored {
                state,
                set_at: r.set_at,
                objection_deadline: r.objection_deadline,
                final_at: r.final_at,
                ratings: Ratings {
                    results: r.results_rating,
                    behaviour: r.behaviour_rating,
                    predikat: r.predikat,
                },
            };
            let objection = r.o_filed_at.map(|filed_at| rules::Objection {
                filed_at,
                decided_at: r.o_decided_at,
                previous: Ratings {
                    results: r.o_prev_results.clone(),
                    behaviour: r.o_prev_behaviour.clone(),
                    predikat: r.o_prev_predikat.clone(),
                },
            });
            let (Some(at), Some(set_at)) = (
                rules::as_of(&stored, objection.as_ref(), snapshot),
                r.set_at,
            ) else {
                continue;
            };
            if final_only && at.state != State::Final {
                continue;
            }
            out.push(ExportRow {
                evaluation_id: r.evaluation_id,
                employee_id: r.employee_id,
                nip: r.nip,
                employee_name: r.employee_name,
                skp_id: r.skp_id,
                unit_id: r.unit_id,
                unit_name: r.unit_name,
                position_name: r.position_name,
                position_type: r.position_type,
                org_rating: r.org_rating,
                set_at,
                at,
            });
        }
        Ok(ExportPage {
            rows: out,
            last_key,
            exhausted,
        })
    }
}

/// A LIKE pattern matching every string that starts with `prefix` (wildcards escaped).
fn like_prefix(prefix: &str) -> sea_orm::sea_query::LikeExpr {
    let escaped: String = prefix
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    sea_orm::sea_query::LikeExpr::new(format!("{escaped}%")).escape('\\')
}
