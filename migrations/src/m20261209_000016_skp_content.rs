//! The content of each SKP (its RHK with indicators, and its behaviour values) kept as one
//! encoded value in `skp_contents`, with the SKP version it was built at.
//!
//! Reading a page of evaluations or an SKP read that content from three tables, one row per RHK,
//! indicator and behaviour value (about 900 rows for a page of 50 evaluations): much of a page's
//! server CPU went into fetching and decoding those rows (BENCHMARKS.md, session 13). The service
//! now writes the encoded content in the same transaction as every change of it, and a read uses
//! it only when its `version` equals the SKP's; otherwise (SKPs written before this migration, or
//! by a tool that does not build it) the three tables are read as before.
//!
//! A table of its own rather than columns of `skps`: a value of a few kB in every SKP row would
//! spread the SKP rows, which most reads and writes need without their content, over many more
//! pages (measured on SQLite: the calibration check +25 %, recording a realisasi +29 %).

use sea_orm_migration::prelude::*;

use crate::columns::{fk, id};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Skps {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum SkpContents {
    Table,
    /// The SKP.
    SkpId,
    /// The SKP version the content was built at.
    Version,
    /// The encoded content.
    Content,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use SkpContents as C;
        m.create_table(
            Table::create()
                .table(C::Table)
                .col(id(C::SkpId))
                .col(ColumnDef::new(C::Version).big_integer().not_null())
                .col(ColumnDef::new(C::Content).blob().not_null())
                .foreign_key(
                    fk((C::Table, C::SkpId), (Skps::Table, Skps::Id))
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(SkpContents::Table).to_owned())
            .await
    }
}
