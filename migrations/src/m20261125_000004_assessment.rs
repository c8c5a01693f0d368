//! The assessment stage: action plans, realisasi with evidence, feedback, the evaluation of each
//! SKP per evaluation period (self-assessment, ratings, predikat, set, FINAL), organisation
//! ratings, distribution-curve rule sets, calibration exceptions, objections, period locks,
//! assessment settings and angka kredit coefficients.
//!
//! `skp_evaluations` (created by the planning migration with id, skp_id, evaluation_period_id,
//! state) gains its assessment columns here, all nullable so rows written before keep working.

use sea_orm_migration::prelude::*;

use crate::columns::{fk, fk_id, id, index, opt_id, opt_short, opt_ts, short, ts, version};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SkpEvaluations {
    Table,
    State,
    SelfAssessment,
    SelfResultsRating,
    SelfBehaviourRating,
    SelfAssessedAt,
    ResultsRating,
    BehaviourRating,
    RatingReason,
    Predikat,
    RatedBy,
    RatedAt,
    RuleSetVersion,
    OrgRating,
    CalibrationExceptionId,
    SetAt,
    ObjectionDeadline,
    FinalAt,
    FinalReason,
}

#[derive(DeriveIden)]
enum Skps {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Units {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum EvaluationPeriods {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ActionPlans {
    Table,
    Id,
    SkpId,
    RhkId,
    EvaluationPeriodId,
    Text,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Realisasi {
    Table,
    Id,
    SkpId,
    IndicatorId,
    EvaluationPeriodId,
    Value,
    Account,
    Evidence,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Feedback {
    Table,
    Id,
    SkpId,
    EvaluationPeriodId,
    RhkId,
    Behaviour,
    Text,
    AuthorId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OrgRatings {
    Table,
    Id,
    UnitId,
    EvaluationPeriodId,
    Rating,
    Reason,
    SetBy,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CurveRuleSets {
    Table,
    Version,
    Seq,
    Definition,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum CalibrationExceptions {
    Table,
    Id,
    UnitId,
    EvaluationPeriodId,
    Reason,
    RuleSetVersion,
    OrgRating,
    Distribution,
    Breaches,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Objections {
    Table,
    Id,
    EvaluationId,
    SkpId,
    EmployeeId,
    Reasons,
    State,
    FiledAt,
    DeciderId,
    Decision,
    DecisionReason,
    PrevResultsRating,
    PrevBehaviourRating,
    PrevPredikat,
    NewResultsRating,
    NewBehaviourRating,
    NewPredikat,
    DecidedAt,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum EvaluationPeriodLocks {
    Table,
    EvaluationPeriodId,
    Locked,
    Reason,
    ChangedBy,
    Version,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AssessmentSettings {
    Table,
    Scope,
    ObjectionWindowDays,
    Version,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SkpCreditCoefficients {
    Table,
    SkpId,
    Coefficient,
    Reason,
    SetBy,
    Version,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use SkpEvaluations as V;
        // SQLite adds one column per ALTER TABLE statement.
        for col in [
            ColumnDef::new(V::SelfAssessment).text().null().to_owned(),
            opt_short(V::SelfResultsRating),
            opt_short(V::SelfBehaviourRating),
            opt_ts(V::SelfAssessedAt),
            opt_short(V::ResultsRating),
            opt_short(V::BehaviourRating),
            ColumnDef::new(V::RatingReason).text().null().to_owned(),
            opt_short(V::Predikat),
            opt_id(V::RatedBy),
            opt_ts(V::RatedAt),
            ColumnDef::new(V::RuleSetVersion)
                .string_len(64)
                .null()
                .to_owned(),
            opt_short(V::OrgRating),
            opt_id(V::CalibrationExceptionId),
            opt_ts(V::SetAt),
            opt_ts(V::ObjectionDeadline),
            opt_ts(V::FinalAt),
            opt_short(V::FinalReason),
        ] {
            m.alter_table(Table::alter().table(V::Table).add_column(col).to_owned())
                .await?;
        }
        m.create_index(index(
            "ix_skp_evaluations_state",
            V::Table,
            vec![V::State.into_iden(), V::ObjectionDeadline.into_iden()],
            false,
        ))
        .await?;

        use ActionPlans as A;
        m.create_table(
            Table::create()
                .table(A::Table)
                .col(id(A::Id))
                .col(fk_id(A::SkpId))
                .col(fk_id(A::RhkId))
                .col(fk_id(A::EvaluationPeriodId))
                .col(ColumnDef::new(A::Text).text().not_null())
                .col(version(A::Version))
                .col(ts(A::CreatedAt))
                .col(ts(A::UpdatedAt))
                .foreign_key(&mut fk((A::Table, A::SkpId), (Skps::Table, Skps::Id)))
                .foreign_key(&mut fk(
                    (A::Table, A::EvaluationPeriodId),
                    (EvaluationPeriods::Table, EvaluationPeriods::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_action_plans_skp",
            A::Table,
            vec![A::SkpId.into_iden(), A::EvaluationPeriodId.into_iden()],
            false,
        ))
        .await?;

        use Realisasi as R;
        m.create_table(
            Table::create()
                .table(R::Table)
                .col(id(R::Id))
                .col(fk_id(R::SkpId))
                .col(fk_id(R::IndicatorId))
                .col(fk_id(R::EvaluationPeriodId))
                .col(ColumnDef::new(R::Value).double().not_null())
                .col(ColumnDef::new(R::Account).text().not_null())
                .col(ColumnDef::new(R::Evidence).text().not_null())
                .col(version(R::Version))
                .col(ts(R::CreatedAt))
                .col(ts(R::UpdatedAt))
                .foreign_key(&mut fk((R::Table, R::SkpId), (Skps::Table, Skps::Id)))
                .foreign_key(&mut fk(
                    (R::Table, R::EvaluationPeriodId),
                    (EvaluationPeriods::Table, EvaluationPeriods::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ux_realisasi_indicator_period",
            R::Table,
            vec![
                R::IndicatorId.into_iden(),
                R::EvaluationPeriodId.into_iden(),
            ],
            true,
        ))
        .await?;
        m.create_index(index(
            "ix_realisasi_skp",
            R::Table,
            vec![R::SkpId.into_iden(), R::EvaluationPeriodId.into_iden()],
            false,
        ))
        .await?;

        use Feedback as F;
        m.create_table(
            Table::create()
                .table(F::Table)
                .col(id(F::Id))
                .col(fk_id(F::SkpId))
                .col(opt_id(F::EvaluationPeriodId))
                .col(opt_id(F::RhkId))
                .col(opt_short(F::Behaviour))
                .col(ColumnDef::new(F::Text).text().not_null())
                .col(fk_id(F::AuthorId))
                .col(ts(F::CreatedAt))
                .foreign_key(&mut fk((F::Table, F::SkpId), (Skps::Table, Skps::Id)))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_feedback_skp",
            F::Table,
            vec![F::SkpId.into_iden(), F::CreatedAt.into_iden()],
            false,
        ))
        .await?;

        use OrgRatings as O;
        m.create_table(
            Table::create()
                .table(O::Table)
                .col(id(O::Id))
                .col(fk_id(O::UnitId))
                .col(fk_id(O::EvaluationPeriodId))
                .col(short(O::Rating))
                .col(ColumnDef::new(O::Reason).text().not_null())
                .col(ColumnDef::new(O::SetBy).string_len(128).not_null())
                .col(version(O::Version))
                .col(ts(O::CreatedAt))
                .col(ts(O::UpdatedAt))
                .foreign_key(&mut fk((O::Table, O::UnitId), (Units::Table, Units::Id)))
                .foreign_key(&mut fk(
                    (O::Table, O::EvaluationPeriodId),
                    (EvaluationPeriods::Table, EvaluationPeriods::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ux_org_ratings_unit_period",
            O::Table,
            vec![O::UnitId.into_iden(), O::EvaluationPeriodId.into_iden()],
            true,
        ))
        .await?;

        use CurveRuleSets as C;
        m.create_table(
            Table::create()
                .table(C::Table)
                .col(
                    ColumnDef::new(C::Version)
                        .string_len(64)
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(C::Seq).big_integer().not_null().unique_key())
                .col(ColumnDef::new(C::Definition).text().not_null())
                .col(ColumnDef::new(C::CreatedBy).string_len(128).not_null())
                .col(ts(C::CreatedAt))
                .to_owned(),
        )
        .await?;

        use CalibrationExceptions as X;
        m.create_table(
            Table::create()
                .table(X::Table)
                .col(id(X::Id))
                .col(fk_id(X::UnitId))
                .col(fk_id(X::EvaluationPeriodId))
                .col(ColumnDef::new(X::Reason).text().not_null())
                .col(ColumnDef::new(X::RuleSetVersion).string_len(64).not_null())
                .col(short(X::OrgRating))
                .col(ColumnDef::new(X::Distribution).text().not_null())
                .col(ColumnDef::new(X::Breaches).text().not_null())
                .col(ColumnDef::new(X::CreatedBy).string_len(128).not_null())
                .col(ts(X::CreatedAt))
                .foreign_key(&mut fk((X::Table, X::UnitId), (Units::Table, Units::Id)))
                .foreign_key(&mut fk(
                    (X::Table, X::EvaluationPeriodId),
                    (EvaluationPeriods::Table, EvaluationPeriods::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_calibration_exceptions_unit",
            X::Table,
            vec![X::UnitId.into_iden(), X::EvaluationPeriodId.into_iden()],
            false,
        ))
        .await?;

        use Objections as J;
        m.create_table(
            Table::create()
                .table(J::Table)
                .col(id(J::Id))
                .col(
                    ColumnDef::new(J::EvaluationId)
                        .string_len(36)
                        .not_null()
                        .unique_key(),
                )
                .col(fk_id(J::SkpId))
                .col(fk_id(J::EmployeeId))
                .col(ColumnDef::new(J::Reasons).text().not_null())
                .col(short(J::State))
                .col(ts(J::FiledAt))
                .col(opt_id(J::DeciderId))
                .col(opt_short(J::Decision))
                .col(ColumnDef::new(J::DecisionReason).text().null())
                .col(short(J::PrevResultsRating))
                .col(short(J::PrevBehaviourRating))
                .col(short(J::PrevPredikat))
                .col(opt_short(J::NewResultsRating))
                .col(opt_short(J::NewBehaviourRating))
                .col(opt_short(J::NewPredikat))
                .col(opt_ts(J::DecidedAt))
                .col(version(J::Version))
                .col(ts(J::CreatedAt))
                .col(ts(J::UpdatedAt))
                .foreign_key(&mut fk((J::Table, J::SkpId), (Skps::Table, Skps::Id)))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_objections_decider",
            J::Table,
            vec![J::DeciderId.into_iden(), J::State.into_iden()],
            false,
        ))
        .await?;
        m.create_index(index(
            "ix_objections_skp",
            J::Table,
            vec![J::SkpId.into_iden()],
            false,
        ))
        .await?;

        use EvaluationPeriodLocks as L;
        m.create_table(
            Table::create()
                .table(L::Table)
                .col(id(L::EvaluationPeriodId))
                .col(ColumnDef::new(L::Locked).boolean().not_null())
                .col(ColumnDef::new(L::Reason).text().not_null())
                .col(ColumnDef::new(L::ChangedBy).string_len(128).not_null())
                .col(version(L::Version))
                .col(ts(L::UpdatedAt))
                .foreign_key(&mut fk(
                    (L::Table, L::EvaluationPeriodId),
                    (EvaluationPeriods::Table, EvaluationPeriods::Id),
                ))
                .to_owned(),
        )
        .await?;

        use AssessmentSettings as S;
        m.create_table(
            Table::create()
                .table(S::Table)
                .col(id(S::Scope))
                .col(ColumnDef::new(S::ObjectionWindowDays).integer().not_null())
                .col(version(S::Version))
                .col(ts(S::UpdatedAt))
                .to_owned(),
        )
        .await?;

        use SkpCreditCoefficients as K;
        m.create_table(
            Table::create()
                .table(K::Table)
                .col(id(K::SkpId))
                .col(ColumnDef::new(K::Coefficient).double().not_null())
                .col(ColumnDef::new(K::Reason).text().not_null())
                .col(ColumnDef::new(K::SetBy).string_len(128).not_null())
                .col(version(K::Version))
                .col(ts(K::UpdatedAt))
                .foreign_key(&mut fk((K::Table, K::SkpId), (Skps::Table, Skps::Id)))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            SkpCreditCoefficients::Table.into_iden(),
            AssessmentSettings::Table.into_iden(),
            EvaluationPeriodLocks::Table.into_iden(),
            Objections::Table.into_iden(),
            CalibrationExceptions::Table.into_iden(),
            CurveRuleSets::Table.into_iden(),
            OrgRatings::Table.into_iden(),
            Feedback::Table.into_iden(),
            Realisasi::Table.into_iden(),
            ActionPlans::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        m.drop_index(
            Index::drop()
                .name("ix_skp_evaluations_state")
                .table(SkpEvaluations::Table)
                .to_owned(),
        )
        .await?;
        use SkpEvaluations as V;
        for col in [
            V::SelfAssessment,
            V::SelfResultsRating,
            V::SelfBehaviourRating,
            V::SelfAssessedAt,
            V::ResultsRating,
            V::BehaviourRating,
            V::RatingReason,
            V::Predikat,
            V::RatedBy,
            V::RatedAt,
            V::RuleSetVersion,
            V::OrgRating,
            V::CalibrationExceptionId,
            V::SetAt,
            V::ObjectionDeadline,
            V::FinalAt,
            V::FinalReason,
        ] {
            m.alter_table(Table::alter().table(V::Table).drop_column(col).to_owned())
                .await?;
        }
        Ok(())
    }
}
