//! The realisasi of an SKP by period as a covering index: `(skp_id, evaluation_period_id,
//! indicator_id, value)` in place of `(skp_id, evaluation_period_id)`.
//!
//! A page of evaluations reads the values of about 500 realisasi (each page's 50 SKPs, about ten
//! indicators each) by SKP and period. Through the narrower index each value cost a seek into the
//! table, whose rows are wide (the account and the evidence travel with the value), so the values
//! of one page were spread over hundreds of table pages; with the indicator and the value in the
//! index the read is served by the index alone (SQLite's covering index, PostgreSQL's index-only
//! scan), a few leaf pages per page of evaluations. Every query the old index served (by SKP, by
//! SKP and period) is served by the new one's prefix, so it is dropped: writes keep one index
//! for this.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const OLD: &str = "ix_realisasi_skp";
const NEW: &str = "ix_realisasi_skp_values";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared(&format!(
            "CREATE INDEX {NEW} ON realisasi (skp_id, evaluation_period_id, indicator_id, value)"
        ))
        .await?;
        db.execute_unprepared(&format!("DROP INDEX IF EXISTS {OLD}"))
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared(&format!(
            "CREATE INDEX {OLD} ON realisasi (skp_id, evaluation_period_id)"
        ))
        .await?;
        db.execute_unprepared(&format!("DROP INDEX IF EXISTS {NEW}"))
            .await?;
        Ok(())
    }
}
