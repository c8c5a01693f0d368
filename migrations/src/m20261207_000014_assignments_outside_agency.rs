//! `assignments.outside_agency`: true when the unit of the assignment belongs to another agency
//! than the employee (a secondment), with a partial index over those few rows.
//!
//! Listing the members of a large unit subtree walks the employees of the unit's agency in id
//! order (`ix_employees_agency`); members from other agencies are found through this index.
//! Walking every employee in id order instead cost one assignment probe per employee of the
//! agencies imported before the unit's: about half a second per page on average at 1,000,000
//! employees in 20 agencies (BENCHMARKS.md, session 11). Neither an employee's agency nor a
//! unit's changes, so the flag is set once, when the assignment is stored.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Assignments {
    Table,
    OutsideAgency,
}

const INDEX: &str = "ix_assignments_outside_agency";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Assignments::Table)
                .add_column(
                    ColumnDef::new(Assignments::OutsideAgency)
                        .boolean()
                        .not_null()
                        .default(false),
                )
                .to_owned(),
        )
        .await?;
        let db = m.get_connection();
        db.execute_unprepared(
            "UPDATE assignments SET outside_agency = TRUE WHERE EXISTS ( \
               SELECT 1 FROM employees e, units u \
               WHERE e.id = assignments.employee_id AND u.id = assignments.unit_id \
                 AND e.agency_id <> u.agency_id)",
        )
        .await?;
        // Partial: only secondments are indexed (sea-query has no partial index on SQLite).
        db.execute_unprepared(&format!(
            "CREATE INDEX {INDEX} ON assignments (employee_id, unit_id) WHERE outside_agency"
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name(INDEX)
                .table(Assignments::Table)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Assignments::Table)
                .drop_column(Assignments::OutsideAgency)
                .to_owned(),
        )
        .await
    }
}
