//! The index the sweeper that finalizes results reads (`state = 'DITETAPKAN' AND
//! objection_deadline < now ORDER BY objection_deadline, id LIMIT n`): `(state,
//! objection_deadline, id)` gives the rows in the order asked for, so a batch reads `n` index
//! entries. The index it replaces, `(state, objection_deadline)`, does not give the `id` order,
//! so every expired result was read and sorted for each batch (35-107 ms once a minute with
//! 200,000 results past their window, BENCHMARKS.md session 10). Its prefix is the old index, so
//! the old one is dropped.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SkpEvaluations {
    Table,
    State,
    ObjectionDeadline,
    Id,
}

const OLD: &str = "ix_skp_evaluations_state";
const NEW: &str = "ix_skp_evaluations_expiry";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use SkpEvaluations as V;
        m.create_index(
            Index::create()
                .name(NEW)
                .table(V::Table)
                .col(V::State)
                .col(V::ObjectionDeadline)
                .col(V::Id)
                .to_owned(),
        )
        .await?;
        m.drop_index(Index::drop().name(OLD).table(V::Table).to_owned())
            .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use SkpEvaluations as V;
        m.create_index(
            Index::create()
                .name(OLD)
                .table(V::Table)
                .col(V::State)
                .col(V::ObjectionDeadline)
                .to_owned(),
        )
        .await?;
        m.drop_index(Index::drop().name(NEW).table(V::Table).to_owned())
            .await
    }
}
