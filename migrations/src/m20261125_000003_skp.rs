//! Performance planning: performance periods with their evaluation periods, SKP with RHK,
//! indicators and behaviour expectations, and the per-period evaluation record that the
//! assessment stage fills (the planning stage only reads it: an SKP with an assessed period
//! cannot be reopened).

use sea_orm_migration::prelude::*;

use crate::columns::{fk_id, id, index, opt_id, opt_ts, short, ts, version};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Agencies {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Units {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Employees {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Assignments {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum PerformancePeriods {
    Table,
    Id,
    AgencyId,
    Year,
    Schedule,
    StartDate,
    EndDate,
    PlanningDeadline,
    EvaluationDeadlineDays,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum EvaluationPeriods {
    Table,
    Id,
    PeriodId,
    Sequence,
    StartDate,
    EndDate,
    Deadline,
    Annual,
}

#[derive(DeriveIden)]
enum Skps {
    Table,
    Id,
    EmployeeId,
    PeriodId,
    AgencyId,
    Year,
    StartDate,
    EndDate,
    Approach,
    State,
    AssessorId,
    AssessorSuperiorId,
    AssessorOverridden,
    TopOfChain,
    AssignmentId,
    UnitId,
    UnitName,
    PositionName,
    PositionType,
    AnnexResourceSupport,
    AnnexAccountability,
    AnnexConsequences,
    ReturnNote,
    ReopenReason,
    CloseReason,
    SubmittedAt,
    ApprovedAt,
    ClosedAt,
    SourceSkpId,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SkpRhk {
    Table,
    Id,
    SkpId,
    Sequence,
    Kind,
    Text,
    Perspective,
    ParentRhkId,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SkpIndicators {
    Table,
    Id,
    RhkId,
    SkpId,
    Sequence,
    Aspect,
    Text,
    Target,
    Unit,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SkpBehaviours {
    Table,
    SkpId,
    Value,
    Expectation,
    Version,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SkpEvaluations {
    Table,
    Id,
    SkpId,
    EvaluationPeriodId,
    State,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use PerformancePeriods as P;
        m.create_table(
            Table::create()
                .table(P::Table)
                .col(id(P::Id))
                .col(fk_id(P::AgencyId))
                .col(ColumnDef::new(P::Year).integer().not_null())
                .col(short(P::Schedule))
                .col(ColumnDef::new(P::StartDate).date().not_null())
                .col(ColumnDef::new(P::EndDate).date().not_null())
                .col(ColumnDef::new(P::PlanningDeadline).date().not_null())
                .col(
                    ColumnDef::new(P::EvaluationDeadlineDays)
                        .integer()
                        .not_null(),
                )
                .col(version(P::Version))
                .col(ts(P::CreatedAt))
                .col(ts(P::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(P::Table, P::AgencyId)
                        .to(Agencies::Table, Agencies::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ux_periods_agency_year",
            P::Table,
            vec![P::AgencyId.into_iden(), P::Year.into_iden()],
            true,
        ))
        .await?;

        use EvaluationPeriods as E;
        m.create_table(
            Table::create()
                .table(E::Table)
                .col(id(E::Id))
                .col(fk_id(E::PeriodId))
                .col(ColumnDef::new(E::Sequence).integer().not_null())
                .col(ColumnDef::new(E::StartDate).date().not_null())
                .col(ColumnDef::new(E::EndDate).date().not_null())
                .col(ColumnDef::new(E::Deadline).date().not_null())
                .col(ColumnDef::new(E::Annual).boolean().not_null())
                .foreign_key(
                    ForeignKey::create()
                        .from(E::Table, E::PeriodId)
                        .to(P::Table, P::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ux_evaluation_periods_seq",
            E::Table,
            vec![E::PeriodId.into_iden(), E::Sequence.into_iden()],
            true,
        ))
        .await?;

        use Skps as S;
        m.create_table(
            Table::create()
                .table(S::Table)
                .col(id(S::Id))
                .col(fk_id(S::EmployeeId))
                .col(fk_id(S::PeriodId))
                .col(fk_id(S::AgencyId))
                .col(ColumnDef::new(S::Year).integer().not_null())
                .col(ColumnDef::new(S::StartDate).date().not_null())
                .col(ColumnDef::new(S::EndDate).date().not_null())
                .col(short(S::Approach))
                .col(short(S::State))
                .col(opt_id(S::AssessorId))
                .col(opt_id(S::AssessorSuperiorId))
                .col(
                    ColumnDef::new(S::AssessorOverridden)
                        .boolean()
                        .not_null()
                        .default(false),
                )
                .col(ColumnDef::new(S::TopOfChain).boolean().not_null())
                .col(opt_id(S::AssignmentId))
                .col(fk_id(S::UnitId))
                .col(ColumnDef::new(S::UnitName).string_len(300).not_null())
                .col(ColumnDef::new(S::PositionName).string_len(300).not_null())
                .col(ColumnDef::new(S::PositionType).string_len(16).not_null())
                .col(ColumnDef::new(S::AnnexResourceSupport).text().not_null())
                .col(ColumnDef::new(S::AnnexAccountability).text().not_null())
                .col(ColumnDef::new(S::AnnexConsequences).text().not_null())
                .col(ColumnDef::new(S::ReturnNote).text().null())
                .col(ColumnDef::new(S::ReopenReason).text().null())
                .col(ColumnDef::new(S::CloseReason).text().null())
                .col(opt_ts(S::SubmittedAt))
                .col(opt_ts(S::ApprovedAt))
                .col(opt_ts(S::ClosedAt))
                .col(opt_id(S::SourceSkpId))
                .col(version(S::Version))
                .col(ts(S::CreatedAt))
                .col(ts(S::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(S::Table, S::EmployeeId)
                        .to(Employees::Table, Employees::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(S::Table, S::PeriodId)
                        .to(P::Table, P::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(S::Table, S::AssessorId)
                        .to(Employees::Table, Employees::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(S::Table, S::AssessorSuperiorId)
                        .to(Employees::Table, Employees::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(S::Table, S::AssignmentId)
                        .to(Assignments::Table, Assignments::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(S::Table, S::UnitId)
                        .to(Units::Table, Units::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_skps_employee",
            S::Table,
            vec![S::EmployeeId.into_iden(), S::StartDate.into_iden()],
            false,
        ))
        .await?;
        m.create_index(index(
            "ix_skps_assessor",
            S::Table,
            vec![S::AssessorId.into_iden(), S::PeriodId.into_iden()],
            false,
        ))
        .await?;
        m.create_index(index(
            "ix_skps_period",
            S::Table,
            vec![S::PeriodId.into_iden(), S::State.into_iden()],
            false,
        ))
        .await?;
        m.create_index(index(
            "ix_skps_assignment",
            S::Table,
            vec![S::AssignmentId.into_iden()],
            false,
        ))
        .await?;

        use SkpRhk as R;
        m.create_table(
            Table::create()
                .table(R::Table)
                .col(id(R::Id))
                .col(fk_id(R::SkpId))
                .col(ColumnDef::new(R::Sequence).integer().not_null())
                .col(short(R::Kind))
                .col(ColumnDef::new(R::Text).text().not_null())
                .col(ColumnDef::new(R::Perspective).string_len(32).null())
                .col(opt_id(R::ParentRhkId))
                .col(version(R::Version))
                .col(ts(R::CreatedAt))
                .col(ts(R::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(R::Table, R::SkpId)
                        .to(S::Table, S::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(R::Table, R::ParentRhkId)
                        .to(R::Table, R::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_skp_rhk_skp",
            R::Table,
            vec![R::SkpId.into_iden(), R::Sequence.into_iden()],
            false,
        ))
        .await?;
        m.create_index(index(
            "ix_skp_rhk_parent",
            R::Table,
            vec![R::ParentRhkId.into_iden()],
            false,
        ))
        .await?;

        use SkpIndicators as I;
        m.create_table(
            Table::create()
                .table(I::Table)
                .col(id(I::Id))
                .col(fk_id(I::RhkId))
                .col(fk_id(I::SkpId))
                .col(ColumnDef::new(I::Sequence).integer().not_null())
                .col(short(I::Aspect))
                .col(ColumnDef::new(I::Text).text().not_null())
                .col(ColumnDef::new(I::Target).double().not_null())
                .col(ColumnDef::new(I::Unit).string_len(50).not_null())
                .col(version(I::Version))
                .col(ts(I::CreatedAt))
                .col(ts(I::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(I::Table, I::RhkId)
                        .to(R::Table, R::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(I::Table, I::SkpId)
                        .to(S::Table, S::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_skp_indicators_rhk",
            I::Table,
            vec![I::RhkId.into_iden(), I::Sequence.into_iden()],
            false,
        ))
        .await?;
        m.create_index(index(
            "ix_skp_indicators_skp",
            I::Table,
            vec![I::SkpId.into_iden()],
            false,
        ))
        .await?;

        use SkpBehaviours as B;
        m.create_table(
            Table::create()
                .table(B::Table)
                .col(fk_id(B::SkpId))
                .col(short(B::Value))
                .col(ColumnDef::new(B::Expectation).text().not_null())
                .col(version(B::Version))
                .col(ts(B::UpdatedAt))
                .primary_key(Index::create().col(B::SkpId).col(B::Value))
                .foreign_key(
                    ForeignKey::create()
                        .from(B::Table, B::SkpId)
                        .to(S::Table, S::Id),
                )
                .to_owned(),
        )
        .await?;

        use SkpEvaluations as V;
        m.create_table(
            Table::create()
                .table(V::Table)
                .col(id(V::Id))
                .col(fk_id(V::SkpId))
                .col(fk_id(V::EvaluationPeriodId))
                .col(short(V::State))
                .col(version(V::Version))
                .col(ts(V::CreatedAt))
                .col(ts(V::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(V::Table, V::SkpId)
                        .to(S::Table, S::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(V::Table, V::EvaluationPeriodId)
                        .to(E::Table, E::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ux_skp_evaluations_period",
            V::Table,
            vec![V::SkpId.into_iden(), V::EvaluationPeriodId.into_iden()],
            true,
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            SkpEvaluations::Table.into_iden(),
            SkpBehaviours::Table.into_iden(),
            SkpIndicators::Table.into_iden(),
            SkpRhk::Table.into_iden(),
            Skps::Table.into_iden(),
            EvaluationPeriods::Table.into_iden(),
            PerformancePeriods::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
