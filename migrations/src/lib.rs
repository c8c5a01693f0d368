//! Database migrations of the Kinerja service. Each migration lives in its own file and works on
//! SQLite and PostgreSQL alike.

pub use sea_orm_migration::prelude::*;

mod columns;

mod m20261125_000001_master_data;
mod m20261125_000002_audit;
mod m20261125_000003_skp;
mod m20261125_000004_assessment;
mod m20261125_000005_followup;
mod m20261125_000006_report_indexes;
mod m20261125_000010_outbox;
mod m20261125_000011_export;
mod m20261203_000012_units_parent_index;
mod m20261206_000013_expired_results_index;
mod m20261207_000014_assignments_outside_agency;
mod m20261208_000015_employee_name_prefix_index;
mod m20261209_000016_skp_content;
mod m20261210_000017_realisasi_values_index;

pub use m20261125_000002_audit::AUDIT_CHAINS;

/// The ordered list of Kinerja's migrations.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_master_data::Migration),
            Box::new(m20261125_000002_audit::Migration),
            Box::new(m20261125_000003_skp::Migration),
            Box::new(m20261125_000004_assessment::Migration),
            Box::new(m20261125_000005_followup::Migration),
            Box::new(m20261125_000006_report_indexes::Migration),
            Box::new(m20261125_000010_outbox::Migration),
            Box::new(m20261125_000011_export::Migration),
            Box::new(m20261203_000012_units_parent_index::Migration),
            Box::new(m20261206_000013_expired_results_index::Migration),
            Box::new(m20261207_000014_assignments_outside_agency::Migration),
            Box::new(m20261208_000015_employee_name_prefix_index::Migration),
            Box::new(m20261209_000016_skp_content::Migration),
            Box::new(m20261210_000017_realisasi_values_index::Migration),
        ]
    }
}
