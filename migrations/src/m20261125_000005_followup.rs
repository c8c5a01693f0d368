//! Follow-up (tindak lanjut): individual development plans (rencana pengembangan individu) with
//! their actions, recognition and consequence flags with HR's decision, and the follow-up
//! settings (the consequence rule). Every table works on SQLite and PostgreSQL.

use sea_orm_migration::prelude::*;

use crate::columns::{fk_id, id, index, opt_id, opt_ts, short, ts, version};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DevelopmentPlans {
    Table,
    Id,
    EvaluationId,
    SkpId,
    EvaluationPeriodId,
    EmployeeId,
    AgencyId,
    UnitId,
    AssessorId,
    AssessorSuperiorId,
    Year,
    Predikat,
    Required,
    State,
    CompetencyGaps,
    EmployeeAgreedAt,
    AssessorAgreedAt,
    CompletedAt,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum DevelopmentActions {
    Table,
    Id,
    PlanId,
    Kind,
    Description,
    TargetDate,
    ProgressPercent,
    Status,
    OverdueNotifiedAt,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum FollowupFlags {
    Table,
    Id,
    Kind,
    EvaluationId,
    SkpId,
    EvaluationPeriodId,
    EmployeeId,
    AgencyId,
    UnitId,
    Year,
    Annual,
    Predikat,
    Reason,
    State,
    Outcome,
    DecisionReason,
    DecidedBy,
    DecidedAt,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum FollowupSettings {
    Table,
    Scope,
    ConsequenceYears,
    ConsequenceThreshold,
    Version,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SkpEvaluations {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use DevelopmentPlans as P;
        m.create_table(
            Table::create()
                .table(P::Table)
                .col(id(P::Id))
                .col(fk_id(P::EvaluationId))
                .col(fk_id(P::SkpId))
                .col(fk_id(P::EvaluationPeriodId))
                .col(fk_id(P::EmployeeId))
                .col(fk_id(P::AgencyId))
                .col(fk_id(P::UnitId))
                .col(opt_id(P::AssessorId))
                .col(opt_id(P::AssessorSuperiorId))
                .col(ColumnDef::new(P::Year).integer().not_null())
                .col(short(P::Predikat))
                .col(ColumnDef::new(P::Required).boolean().not_null())
                .col(short(P::State))
                .col(ColumnDef::new(P::CompetencyGaps).text().not_null())
                .col(opt_ts(P::EmployeeAgreedAt))
                .col(opt_ts(P::AssessorAgreedAt))
                .col(opt_ts(P::CompletedAt))
                .col(version(P::Version))
                .col(ts(P::CreatedAt))
                .col(ts(P::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(P::Table, P::EvaluationId)
                        .to(SkpEvaluations::Table, SkpEvaluations::Id),
                )
                .to_owned(),
        )
        .await?;
        // One plan per evaluation: opening is idempotent across replicas.
        m.create_index(index(
            "ux_development_plans_evaluation",
            P::Table,
            vec![P::EvaluationId.into_iden()],
            true,
        ))
        .await?;
        m.create_index(index(
            "ix_development_plans_employee",
            P::Table,
            vec![P::EmployeeId.into_iden(), P::Id.into_iden()],
            false,
        ))
        .await?;
        m.create_index(index(
            "ix_development_plans_unit",
            P::Table,
            vec![P::UnitId.into_iden(), P::Id.into_iden()],
            false,
        ))
        .await?;

        use DevelopmentActions as A;
        m.create_table(
            Table::create()
                .table(A::Table)
                .col(id(A::Id))
                .col(fk_id(A::PlanId))
                .col(short(A::Kind))
                .col(ColumnDef::new(A::Description).text().not_null())
                .col(ColumnDef::new(A::TargetDate).date().not_null())
                .col(ColumnDef::new(A::ProgressPercent).integer().not_null())
                .col(short(A::Status))
                .col(opt_ts(A::OverdueNotifiedAt))
                .col(version(A::Version))
                .col(ts(A::CreatedAt))
                .col(ts(A::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(A::Table, A::PlanId)
                        .to(P::Table, P::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_development_actions_plan",
            A::Table,
            vec![A::PlanId.into_iden(), A::Id.into_iden()],
            false,
        ))
        .await?;
        m.create_index(index(
            "ix_development_actions_due",
            A::Table,
            vec![A::Status.into_iden(), A::TargetDate.into_iden()],
            false,
        ))
        .await?;

        use FollowupFlags as F;
        m.create_table(
            Table::create()
                .table(F::Table)
                .col(id(F::Id))
                .col(short(F::Kind))
                .col(fk_id(F::EvaluationId))
                .col(fk_id(F::SkpId))
                .col(fk_id(F::EvaluationPeriodId))
                .col(fk_id(F::EmployeeId))
                .col(fk_id(F::AgencyId))
                .col(fk_id(F::UnitId))
                .col(ColumnDef::new(F::Year).integer().not_null())
                .col(ColumnDef::new(F::Annual).boolean().not_null())
                .col(short(F::Predikat))
                .col(ColumnDef::new(F::Reason).text().not_null())
                .col(short(F::State))
                .col(ColumnDef::new(F::Outcome).string_len(32).null())
                .col(ColumnDef::new(F::DecisionReason).text().null())
                .col(ColumnDef::new(F::DecidedBy).string_len(128).null())
                .col(opt_ts(F::DecidedAt))
                .col(version(F::Version))
                .col(ts(F::CreatedAt))
                .col(ts(F::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(F::Table, F::EvaluationId)
                        .to(SkpEvaluations::Table, SkpEvaluations::Id),
                )
                .to_owned(),
        )
        .await?;
        // One flag of a kind per triggering evaluation (and so per employee and evaluation).
        m.create_index(index(
            "ux_followup_flags_evaluation_kind",
            F::Table,
            vec![F::EvaluationId.into_iden(), F::Kind.into_iden()],
            true,
        ))
        .await?;
        m.create_index(index(
            "ix_followup_flags_unit",
            F::Table,
            vec![F::UnitId.into_iden(), F::Id.into_iden()],
            false,
        ))
        .await?;
        m.create_index(index(
            "ix_followup_flags_employee",
            F::Table,
            vec![F::EmployeeId.into_iden(), F::Id.into_iden()],
            false,
        ))
        .await?;

        use FollowupSettings as S;
        m.create_table(
            Table::create()
                .table(S::Table)
                .col(id(S::Scope))
                .col(ColumnDef::new(S::ConsequenceYears).integer().not_null())
                .col(short(S::ConsequenceThreshold))
                .col(version(S::Version))
                .col(ts(S::UpdatedAt))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            FollowupSettings::Table.into_iden(),
            FollowupFlags::Table.into_iden(),
            DevelopmentActions::Table.into_iden(),
            DevelopmentPlans::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
