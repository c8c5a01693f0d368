//! Indexes for the reports: results are found by the unit recorded on their SKP and the
//! performance period (`ix_skps_unit_period`), and evaluations by evaluation period and state
//! (`ix_skp_evaluations_period_state`), so a report on a unit subtree reads only its units' rows.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Skps {
    Table,
    UnitId,
    PeriodId,
}

#[derive(DeriveIden)]
enum SkpEvaluations {
    Table,
    EvaluationPeriodId,
    State,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name("ix_skps_unit_period")
                .table(Skps::Table)
                .col(Skps::UnitId)
                .col(Skps::PeriodId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_skp_evaluations_period_state")
                .table(SkpEvaluations::Table)
                .col(SkpEvaluations::EvaluationPeriodId)
                .col(SkpEvaluations::State)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("ix_skp_evaluations_period_state")
                .table(SkpEvaluations::Table)
                .to_owned(),
        )
        .await?;
        m.drop_index(
            Index::drop()
                .name("ix_skps_unit_period")
                .table(Skps::Table)
                .to_owned(),
        )
        .await
    }
}
