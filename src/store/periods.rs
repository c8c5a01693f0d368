//! Performance periods and their evaluation periods.

use chrono::{NaiveDate, Utc};
use sea_orm::prelude::Expr;
use sea_orm::sea_query::ExprTrait;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use super::audit::{Actor, Change};
use super::entities::{agency, evaluation_period, performance_period, skp_evaluation};
use super::idempotency::{Claim, claim};
use super::org::check_versioned;
use super::{Store, find_or_not_found, lock_row, new_id};
use crate::domain::period::{self, Schedule};
use crate::error::{Error, Result};
use crate::pagination::Page;

pub use evaluation_period::Model as EvaluationPeriodRow;
pub use performance_period::Model as PeriodRow;

/// Values of a new performance period (validated by the API layer).
#[derive(Debug, Clone)]
pub struct NewPeriod {
    /// Agency.
    pub agency_id: String,
    /// Calendar year.
    pub year: i32,
    /// Evaluation schedule.
    pub schedule: Schedule,
    /// SKP approval deadline.
    pub planning_deadline: NaiveDate,
    /// Days after each evaluation period within which it is assessed.
    pub evaluation_deadline_days: i32,
}

/// Changes to a period; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PeriodChanges {
    /// New schedule.
    pub schedule: Option<&'static str>,
    /// New planning deadline.
    pub planning_deadline: Option<NaiveDate>,
    /// New evaluation deadline offset.
    pub evaluation_deadline_days: Option<i32>,
}

/// A period with its evaluation periods.
#[derive(Debug, Clone)]
pub struct PeriodWithWindows {
    /// The period.
    pub period: PeriodRow,
    /// Its evaluation periods in order.
    pub windows: Vec<EvaluationPeriodRow>,
}

async fn insert_windows(
    txn: &super::Txn,
    period_id: &str,
    year: i32,
    schedule: Schedule,
    deadline_days: i32,
) -> Result<()> {
    let rows: Vec<_> = period::evaluation_windows(year, schedule, deadline_days)
        .into_iter()
        .map(|w| evaluation_period::ActiveModel {
            id: Set(new_id()),
            period_id: Set(period_id.to_owned()),
            sequence: Set(w.sequence),
            start_date: Set(w.start),
            end_date: Set(w.end),
            deadline: Set(w.deadline),
            annual: Set(w.annual),
        })
        .collect();
    if rows.is_empty() {
        return Err(Error::invalid("period.year", "is outside 2000..2100"));
    }
    evaluation_period::Entity::insert_many(rows)
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

impl Store {
    /// Creates a period (idempotent on `request_id`); a second period for the same agency and
    /// year is ALREADY_EXISTS.
    pub async fn create_period(
        &self,
        actor: &Actor,
        new: NewPeriod,
        request_id: &str,
        digest: &str,
    ) -> Result<PeriodWithWindows> {
        let txn = self.begin_write().await?;
        let id = new_id();
        if let Claim::Replay(existing) =
            claim(&txn, "CreatePeriod", request_id, digest, &id).await?
        {
            txn.commit().await?;
            return self.get_period(&existing).await;
        }
        find_or_not_found::<agency::Entity, _>(&txn, "Agency", &new.agency_id).await?;
        let (start, end) = period::year_span(new.year)
            .ok_or_else(|| Error::invalid("period.year", "is outside 2000..2100"))?;
        let now = Utc::now();
        let row = performance_period::ActiveModel {
            id: Set(id.clone()),
            agency_id: Set(new.agency_id.clone()),
            year: Set(new.year),
            schedule: Set(new.schedule.as_str().to_owned()),
            start_date: Set(start),
            end_date: Set(end),
            planning_deadline: Set(new.planning_deadline),
            evaluation_deadline_days: Set(new.evaluation_deadline_days),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await
        .map_err(|e| match Error::from(e) {
            Error::AlreadyExists { .. } => Error::AlreadyExists {
                kind: "PerformancePeriod",
                detail: format!("the agency has a period for {} already", new.year),
            },
            other => other,
        })?;
        insert_windows(
            &txn,
            &id,
            new.year,
            new.schedule,
            new.evaluation_deadline_days,
        )
        .await?;
        self.record(
            &txn,
            actor,
            Change {
                resource_type: "PerformancePeriod",
                resource_id: &id,
                action: "create",
                detail: serde_json::json!({"agency_id": row.agency_id, "year": row.year, "schedule": row.schedule, "planning_deadline": row.planning_deadline, "evaluation_deadline_days": row.evaluation_deadline_days}),
            },
        )
        .await?;
        txn.commit().await?;
        self.get_period(&id).await
    }

    /// Reads a period row.
    pub async fn get_period_row(&self, id: &str) -> Result<PeriodRow> {
        find_or_not_found::<performance_period::Entity, _>(self.conn(), "PerformancePeriod", id)
            .await
    }

    /// Reads a period with its evaluation periods.
    pub async fn get_period(&self, id: &str) -> Result<PeriodWithWindows> {
        let period = self.get_period_row(id).await?;
        let windows = self.windows_of(std::slice::from_ref(&period.id)).await?;
        Ok(PeriodWithWindows { period, windows })
    }

    async fn windows_of(&self, ids: &[String]) -> Result<Vec<EvaluationPeriodRow>> {
        Ok(evaluation_period::Entity::find()
            .filter(evaluation_period::Column::PeriodId.is_in(ids.to_vec()))
            .order_by_asc(evaluation_period::Column::PeriodId)
            .order_by_asc(evaluation_period::Column::Sequence)
            .all(self.conn())
            .await?)
    }

    /// The period of `agency_id` for `year`, if any.
    pub async fn period_of_year(&self, agency_id: &str, year: i32) -> Result<Option<PeriodRow>> {
        Ok(performance_period::Entity::find()
            .filter(performance_period::Column::AgencyId.eq(agency_id))
            .filter(performance_period::Column::Year.eq(year))
            .one(self.conn())
            .await?)
    }

    /// Lists an agency's periods, newest year first.
    pub async fn list_periods(
        &self,
        agency_id: &str,
        page: &Page,
    ) -> Result<(Vec<PeriodWithWindows>, String)> {
        let mut q = performance_period::Entity::find()
            .filter(performance_period::Column::AgencyId.eq(agency_id))
            .order_by_desc(performance_period::Column::Year);
        if let Some(k) = &page.after {
            let year: i32 = k.first().and_then(|s| s.parse().ok()).ok_or_else(|| {
                Error::invalid("page_token", "is not a token returned by this list call")
            })?;
            q = q.filter(performance_period::Column::Year.lt(year));
        }
        let rows = q.limit(page.fetch_limit()).all(self.conn()).await?;
        let (rows, next) = page.finish(rows, |r| vec![r.year.to_string()]);
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let windows = self.windows_of(&ids).await?;
        let out = rows
            .into_iter()
            .map(|p| PeriodWithWindows {
                windows: windows
                    .iter()
                    .filter(|w| w.period_id == p.id)
                    .cloned()
                    .collect(),
                period: p,
            })
            .collect();
        Ok((out, next))
    }

    /// Updates a period if `version` is current. A schedule change rebuilds the evaluation
    /// periods and is refused once any SKP of the period has an evaluation.
    pub async fn update_period(
        &self,
        actor: &Actor,
        id: &str,
        version: i64,
        ch: PeriodChanges,
    ) -> Result<PeriodWithWindows> {
        let changes_json = serde_json::to_value(&ch).unwrap_or_default();
        let txn = self.begin_write().await?;
        if !lock_row(&txn, self.kind(), "performance_periods", id).await? {
            return Err(Error::not_found("PerformancePeriod", id));
        }
        let cur = find_or_not_found::<performance_period::Entity, _>(&txn, "PerformancePeriod", id)
            .await?;
        if cur.version != version {
            return Err(Error::Aborted {
                kind: "PerformancePeriod",
                id: id.to_owned(),
            });
        }
        if let Some(d) = ch.planning_deadline {
            period::check_planning_deadline(cur.year, d)
                .map_err(|r| Error::invalid("period.planning_deadline", r))?;
        }
        let schedule = match ch.schedule {
            Some(s) => Schedule::parse(s)
                .ok_or_else(|| Error::invalid("period.schedule", "is not a valid value"))?,
            None => Schedule::parse(&cur.schedule).unwrap_or(Schedule::Quarterly),
        };
        let days = ch
            .evaluation_deadline_days
            .unwrap_or(cur.evaluation_deadline_days);
        if ch.schedule.is_some() || ch.evaluation_deadline_days.is_some() {
            let window_ids: Vec<String> = evaluation_period::Entity::find()
                .select_only()
                .column(evaluation_period::Column::Id)
                .filter(evaluation_period::Column::PeriodId.eq(id))
                .into_tuple()
                .all(&txn)
                .await?;
            let schedule_changed = ch.schedule.is_some_and(|s| s != cur.schedule);
            if schedule_changed {
                let evaluated = skp_evaluation::Entity::find()
                    .filter(skp_evaluation::Column::EvaluationPeriodId.is_in(window_ids))
                    .count(&txn)
                    .await?;
                if evaluated > 0 {
                    return Err(Error::precondition(
                        "PERIOD_HAS_EVALUATIONS",
                        format!("performancePeriods/{id}"),
                        format!(
                            "{evaluated} evaluation(s) already exist in this period; its schedule can no longer change"
                        ),
                    ));
                }
                evaluation_period::Entity::delete_many()
                    .filter(evaluation_period::Column::PeriodId.eq(id))
                    .exec(&txn)
                    .await?;
                insert_windows(&txn, id, cur.year, schedule, days).await?;
            } else {
                // Same windows, new deadlines.
                for w in period::evaluation_windows(cur.year, schedule, days) {
                    evaluation_period::Entity::update_many()
                        .col_expr(evaluation_period::Column::Deadline, Expr::value(w.deadline))
                        .filter(evaluation_period::Column::PeriodId.eq(id))
                        .filter(evaluation_period::Column::Sequence.eq(w.sequence))
                        .exec(&txn)
                        .await?;
                }
            }
        }
        let mut q = performance_period::Entity::update_many()
            .col_expr(
                performance_period::Column::Version,
                Expr::col(performance_period::Column::Version).add(1),
            )
            .col_expr(
                performance_period::Column::UpdatedAt,
                Expr::value(Utc::now()),
            );
        if let Some(s) = ch.schedule {
            q = q.col_expr(performance_period::Column::Schedule, Expr::value(s));
        }
        if let Some(d) = ch.planning_deadline {
            q = q.col_expr(performance_period::Column::PlanningDeadline, Expr::value(d));
        }
        if let Some(d) = ch.evaluation_deadline_days {
            q = q.col_expr(
                performance_period::Column::EvaluationDeadlineDays,
                Expr::value(d),
            );
        }
        let res = q
            .filter(performance_period::Column::Id.eq(id))
            .filter(performance_period::Column::Version.eq(version))
            .exec(&txn)
            .await?;
        check_versioned(res.rows_affected, true, "PerformancePeriod", id)?;
        self.record(
            &txn,
            actor,
            Change {
                resource_type: "PerformancePeriod",
                resource_id: id,
                action: "update",
                detail: serde_json::json!({"changes": changes_json, "version": version + 1}),
            },
        )
        .await?;
        txn.commit().await?;
        self.get_period(id).await
    }

    /// Number of evaluation periods of an SKP that are assessed (an evaluation past TERBUKA).
    pub async fn assessed_periods(&self, skp_id: &str) -> Result<u64> {
        assessed_periods(self.conn(), skp_id).await
    }
}

/// Number of evaluation periods of `skp_id` whose evaluation is past `TERBUKA` (rated, set or
/// final). The planning stage refuses to reopen such an SKP.
pub(crate) async fn assessed_periods<C: sea_orm::ConnectionTrait>(
    db: &C,
    skp_id: &str,
) -> Result<u64> {
    Ok(skp_evaluation::Entity::find()
        .filter(skp_evaluation::Column::SkpId.eq(skp_id))
        .filter(skp_evaluation::Column::State.ne("TERBUKA"))
        .count(db)
        .await?)
}

/// [`assessed_periods`] of many SKP at once (missing ids have none).
pub(crate) async fn assessed_counts<C: sea_orm::ConnectionTrait>(
    db: &C,
    skp_ids: &[String],
) -> Result<std::collections::HashMap<String, u64>> {
    let mut out = std::collections::HashMap::new();
    for chunk in skp_ids.chunks(500) {
        let rows: Vec<(String, i64)> = skp_evaluation::Entity::find()
            .select_only()
            .column(skp_evaluation::Column::SkpId)
            .column_as(skp_evaluation::Column::Id.count(), "n")
            .filter(skp_evaluation::Column::SkpId.is_in(chunk.to_vec()))
            .filter(skp_evaluation::Column::State.ne("TERBUKA"))
            .group_by(skp_evaluation::Column::SkpId)
            .into_tuple()
            .all(db)
            .await?;
        out.extend(
            rows.into_iter()
                .map(|(id, n)| (id, u64::try_from(n).unwrap_or(0))),
        );
    }
    Ok(out)
}
