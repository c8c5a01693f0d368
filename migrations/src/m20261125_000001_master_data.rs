//! Master data: agencies, work units, employees, dated assignments, and idempotency keys.

use sea_orm_migration::prelude::*;

use crate::columns::{fk_id, id, ts, version};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Agencies {
    Table,
    Id,
    Code,
    Name,
    TimeZone,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Units {
    Table,
    Id,
    AgencyId,
    ParentId,
    Code,
    Name,
    Active,
    Depth,
    Path,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Employees {
    Table,
    Id,
    Nip,
    Name,
    NameLower,
    Status,
    PositionType,
    PositionName,
    AgencyId,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Assignments {
    Table,
    Id,
    EmployeeId,
    UnitId,
    SuperiorEmployeeId,
    PositionName,
    PositionType,
    Kind,
    StartDate,
    EndDate,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    Method,
    RequestId,
    RequestDigest,
    ResourceId,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Agencies::Table)
                .col(id(Agencies::Id))
                .col(
                    ColumnDef::new(Agencies::Code)
                        .string_len(64)
                        .not_null()
                        .unique_key(),
                )
                .col(ColumnDef::new(Agencies::Name).string_len(300).not_null())
                .col(ColumnDef::new(Agencies::TimeZone).string_len(8).not_null())
                .col(version(Agencies::Version))
                .col(ts(Agencies::CreatedAt))
                .col(ts(Agencies::UpdatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Units::Table)
                .col(id(Units::Id))
                .col(fk_id(Units::AgencyId))
                .col(ColumnDef::new(Units::ParentId).string_len(36).null())
                .col(ColumnDef::new(Units::Code).string_len(64).not_null())
                .col(ColumnDef::new(Units::Name).string_len(300).not_null())
                .col(
                    ColumnDef::new(Units::Active)
                        .boolean()
                        .not_null()
                        .default(true),
                )
                .col(ColumnDef::new(Units::Depth).integer().not_null())
                .col(ColumnDef::new(Units::Path).string_len(2000).not_null())
                .col(version(Units::Version))
                .col(ts(Units::CreatedAt))
                .col(ts(Units::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Units::Table, Units::AgencyId)
                        .to(Agencies::Table, Agencies::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(Units::Table, Units::ParentId)
                        .to(Units::Table, Units::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_units_agency_code")
                .table(Units::Table)
                .col(Units::AgencyId)
                .col(Units::Code)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_units_parent")
                .table(Units::Table)
                .col(Units::AgencyId)
                .col(Units::ParentId)
                .col(Units::Code)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_units_path")
                .table(Units::Table)
                .col(Units::Path)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Employees::Table)
                .col(id(Employees::Id))
                .col(
                    ColumnDef::new(Employees::Nip)
                        .string_len(18)
                        .not_null()
                        .unique_key(),
                )
                .col(ColumnDef::new(Employees::Name).string_len(300).not_null())
                .col(
                    ColumnDef::new(Employees::NameLower)
                        .string_len(300)
                        .not_null(),
                )
                .col(ColumnDef::new(Employees::Status).string_len(16).not_null())
                .col(
                    ColumnDef::new(Employees::PositionType)
                        .string_len(16)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Employees::PositionName)
                        .string_len(300)
                        .not_null(),
                )
                .col(fk_id(Employees::AgencyId))
                .col(version(Employees::Version))
                .col(ts(Employees::CreatedAt))
                .col(ts(Employees::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Employees::Table, Employees::AgencyId)
                        .to(Agencies::Table, Agencies::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_employees_agency")
                .table(Employees::Table)
                .col(Employees::AgencyId)
                .col(Employees::Id)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_employees_name")
                .table(Employees::Table)
                .col(Employees::NameLower)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Assignments::Table)
                .col(id(Assignments::Id))
                .col(fk_id(Assignments::EmployeeId))
                .col(fk_id(Assignments::UnitId))
                .col(
                    ColumnDef::new(Assignments::SuperiorEmployeeId)
                        .string_len(36)
                        .null(),
                )
                .col(
                    ColumnDef::new(Assignments::PositionName)
                        .string_len(300)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Assignments::PositionType)
                        .string_len(16)
                        .not_null(),
                )
                .col(ColumnDef::new(Assignments::Kind).string_len(16).not_null())
                .col(ColumnDef::new(Assignments::StartDate).date().not_null())
                .col(ColumnDef::new(Assignments::EndDate).date().null())
                .col(version(Assignments::Version))
                .col(ts(Assignments::CreatedAt))
                .col(ts(Assignments::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Assignments::Table, Assignments::EmployeeId)
                        .to(Employees::Table, Employees::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(Assignments::Table, Assignments::UnitId)
                        .to(Units::Table, Units::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(Assignments::Table, Assignments::SuperiorEmployeeId)
                        .to(Employees::Table, Employees::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_assignments_employee")
                .table(Assignments::Table)
                .col(Assignments::EmployeeId)
                .col(Assignments::StartDate)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_assignments_superior")
                .table(Assignments::Table)
                .col(Assignments::SuperiorEmployeeId)
                .col(Assignments::StartDate)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_assignments_unit")
                .table(Assignments::Table)
                .col(Assignments::UnitId)
                .col(Assignments::StartDate)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(IdempotencyKeys::Table)
                .col(
                    ColumnDef::new(IdempotencyKeys::Method)
                        .string_len(128)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(IdempotencyKeys::RequestId)
                        .string_len(128)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(IdempotencyKeys::RequestDigest)
                        .string_len(64)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(IdempotencyKeys::ResourceId)
                        .string_len(36)
                        .not_null(),
                )
                .col(ts(IdempotencyKeys::CreatedAt))
                .primary_key(
                    Index::create()
                        .col(IdempotencyKeys::Method)
                        .col(IdempotencyKeys::RequestId),
                )
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            IdempotencyKeys::Table.into_iden(),
            Assignments::Table.into_iden(),
            Employees::Table.into_iden(),
            Units::Table.into_iden(),
            Agencies::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
