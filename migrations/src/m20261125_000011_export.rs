//! Index for the bulk export of results: one evaluation period's results in evaluation id order
//! (the export's keyset), so each page is an index range scan.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SkpEvaluations {
    Table,
    EvaluationPeriodId,
    Id,
}

const INDEX: &str = "ix_skp_evaluations_period_id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name(INDEX)
                .table(SkpEvaluations::Table)
                .col(SkpEvaluations::EvaluationPeriodId)
                .col(SkpEvaluations::Id)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name(INDEX)
                .table(SkpEvaluations::Table)
                .to_owned(),
        )
        .await
    }
}
