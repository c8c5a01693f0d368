//! An index on `units(parent_id)` for walking a unit subtree downwards (reports, calibration,
//! subtree listings): each step of the recursive walk looks up the children of the units found
//! so far. `ix_units_parent` leads with `agency_id`, so a walk that does not repeat the agency
//! could not use it: SQLite built an automatic index over every unit for each report, and
//! PostgreSQL scans the units table once per level of the tree.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Units {
    Table,
    ParentId,
}

const INDEX: &str = "ix_units_parent_id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name(INDEX)
                .table(Units::Table)
                .col(Units::ParentId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name(INDEX).table(Units::Table).to_owned())
            .await
    }
}
