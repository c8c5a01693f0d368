//! The employee name index in code-point order on PostgreSQL, so that the name-prefix filter of
//! `ListEmployees` is a range of the index on both engines.
//!
//! The filter was `name_lower LIKE 'prefix%'`, which neither engine served from
//! `ix_employees_name`: SQLite uses an index for `LIKE` only under the `NOCASE` collation, and
//! PostgreSQL only with `text_pattern_ops` or the "C" collation, so a search walked every
//! employee (and read `%` and `_` in a prefix as wildcards). It is now the range
//! `prefix <= name_lower < the first string after every string with that prefix`, compared by
//! code point: SQLite's `BINARY` collation does that already, PostgreSQL compares with
//! `COLLATE "C"`, which this index serves. SQLite keeps its index as it is.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEX: &str = "ix_employees_name";

/// Builds the name index on PostgreSQL over `column` (an expression with its collation).
async fn rebuild(m: &SchemaManager<'_>, column: &str) -> Result<(), DbErr> {
    if m.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let db = m.get_connection();
    db.execute_unprepared(&format!("DROP INDEX IF EXISTS {INDEX}"))
        .await?;
    db.execute_unprepared(&format!("CREATE INDEX {INDEX} ON employees ({column})"))
        .await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        rebuild(m, "name_lower COLLATE \"C\"").await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        rebuild(m, "name_lower").await
    }
}
