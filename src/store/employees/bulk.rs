//! The insert step of a bulk import, after every row has been checked: the fastest statement
//! shape each engine offers through sea-orm, with the same columns, constraints and triggers as
//! a single-row insert (foreign keys, unique NIP, `NOT NULL`, lengths are still enforced by the
//! database).
//!
//! - PostgreSQL: one `INSERT ... SELECT FROM unnest($1::text[], ...)` per table and chunk of
//!   [`PG_ROWS_PER_STATEMENT`] rows: a column is one array parameter, so the statement text is
//!   fixed (prepared once per connection, no 65,535-parameter limit) and the backend neither
//!   parses nor plans per row.
//! - SQLite: multi-row `INSERT ... VALUES (...), (...)` of [`SQLITE_ROWS_PER_STATEMENT`] rows
//!   built as text once per size (the prepared statement is reused from sqlx's cache for every
//!   full chunk), values bound directly, without building sea-query statement trees per row.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};

use super::{ImportAssignment, NewEmployee};
use crate::error::Result;
use crate::store::DbKind;

/// Rows per PostgreSQL `INSERT ... SELECT FROM unnest(...)`: bounds the size of one message
/// to the backend (about 5 MB of arrays) for imports of millions of rows.
const PG_ROWS_PER_STATEMENT: usize = 50_000;
/// Rows per SQLite multi-row `INSERT`: 12 bound columns x 2,000 rows stays below SQLite's
/// 32,766 bind parameters.
const SQLITE_ROWS_PER_STATEMENT: usize = 2_000;

/// An assignment of an import, resolved to ids.
#[derive(Debug, Clone, Copy)]
pub(super) struct AsgRow<'a> {
    /// New assignment id.
    pub id: &'a str,
    /// Id of the assigned employee.
    pub employee_id: &'a str,
    /// Id of the superior, if any.
    pub superior: Option<&'a str>,
    /// The unit belongs to another agency than the employee.
    pub outside_agency: bool,
    /// The rest of the row as imported.
    pub a: &'a ImportAssignment,
}

const EMP_COLS: &str = "id, nip, name, name_lower, status, position_type, position_name, \
                        agency_id, version, created_at, updated_at";
const ASG_COLS: &str = "id, employee_id, unit_id, superior_employee_id, position_name, \
                        position_type, kind, start_date, end_date, outside_agency, version, \
                        created_at, updated_at";

/// Inserts employees `(id, values)` created at `now`.
pub(super) async fn insert_employees<C: ConnectionTrait>(
    conn: &C,
    kind: DbKind,
    rows: &[(&str, &NewEmployee)],
    now: DateTime<Utc>,
) -> Result<()> {
    match kind {
        DbKind::Postgres => {
            for chunk in rows.chunks(PG_ROWS_PER_STATEMENT) {
                let col = |f: &dyn Fn(&(&str, &NewEmployee)) -> String| -> Value {
                    chunk.iter().map(f).collect::<Vec<String>>().into()
                };
                let values = vec![
                    col(&|r| r.0.to_owned()),
                    col(&|r| r.1.nip.clone()),
                    col(&|r| r.1.name.clone()),
                    col(&|r| r.1.name.to_lowercase()),
                    col(&|r| r.1.status.clone()),
                    col(&|r| r.1.position_type.clone()),
                    col(&|r| r.1.position_name.clone()),
                    col(&|r| r.1.agency_id.clone()),
                    now.into(),
                ];
                let sql = format!(
                    "INSERT INTO employees ({EMP_COLS}) \
                     SELECT id, nip, name, name_lower, status, position_type, position_name, \
                            agency_id, 1, $9, $9 \
                     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
                                 $6::text[], $7::text[], $8::text[]) \
                       AS u(id, nip, name, name_lower, status, position_type, position_name, \
                            agency_id)"
                );
                conn.execute_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    sql,
                    values,
                ))
                .await?;
            }
        }
        DbKind::Sqlite => {
            let now = sqlite_timestamp(now);
            for chunk in rows.chunks(SQLITE_ROWS_PER_STATEMENT) {
                let mut values = Vec::with_capacity(chunk.len() * 10);
                for (id, e) in chunk {
                    values.extend([
                        Value::from(*id),
                        Value::from(e.nip.as_str()),
                        Value::from(e.name.as_str()),
                        Value::from(e.name.to_lowercase()),
                        Value::from(e.status.as_str()),
                        Value::from(e.position_type.as_str()),
                        Value::from(e.position_name.as_str()),
                        Value::from(e.agency_id.as_str()),
                        Value::from(now.as_str()),
                        Value::from(now.as_str()),
                    ]);
                }
                let sql =
                    sqlite_insert("employees", EMP_COLS, "?,?,?,?,?,?,?,?,1,?,?", chunk.len());
                conn.execute_raw(Statement::from_sql_and_values(
                    DbBackend::Sqlite,
                    sql,
                    values,
                ))
                .await?;
            }
        }
    }
    Ok(())
}

/// Inserts assignments created at `now`.
pub(super) async fn insert_assignments<C: ConnectionTrait>(
    conn: &C,
    kind: DbKind,
    rows: &[AsgRow<'_>],
    now: DateTime<Utc>,
) -> Result<()> {
    match kind {
        DbKind::Postgres => {
            for chunk in rows.chunks(PG_ROWS_PER_STATEMENT) {
                let col = |f: &dyn Fn(&AsgRow<'_>) -> String| -> Value {
                    chunk.iter().map(f).collect::<Vec<String>>().into()
                };
                // Array parameters cannot carry NULL elements through sea-orm, so the optional
                // columns travel as text with '' for "none" (never a valid id or date).
                let values = vec![
                    col(&|r| r.id.to_owned()),
                    col(&|r| r.employee_id.to_owned()),
                    col(&|r| r.a.unit_id.clone()),
                    col(&|r| r.superior.unwrap_or_default().to_owned()),
                    col(&|r| r.a.position_name.clone()),
                    col(&|r| r.a.position_type.clone()),
                    col(&|r| r.a.kind.clone()),
                    col(&|r| r.a.start_date.to_string()),
                    col(&|r| r.a.end_date.map(|d| d.to_string()).unwrap_or_default()),
                    chunk
                        .iter()
                        .map(|r| r.outside_agency)
                        .collect::<Vec<bool>>()
                        .into(),
                    now.into(),
                ];
                let sql = format!(
                    "INSERT INTO assignments ({ASG_COLS}) \
                     SELECT id, employee_id, unit_id, NULLIF(superior, ''), position_name, \
                            position_type, kind, start_date::date, \
                            NULLIF(end_date, '')::date, outside, 1, $11, $11 \
                     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
                                 $6::text[], $7::text[], $8::text[], $9::text[], $10::bool[]) \
                       AS u(id, employee_id, unit_id, superior, position_name, position_type, \
                            kind, start_date, end_date, outside)"
                );
                conn.execute_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    sql,
                    values,
                ))
                .await?;
            }
        }
        DbKind::Sqlite => {
            let now = sqlite_timestamp(now);
            for chunk in rows.chunks(SQLITE_ROWS_PER_STATEMENT) {
                let mut values = Vec::with_capacity(chunk.len() * 12);
                for r in chunk {
                    values.extend([
                        Value::from(r.id),
                        Value::from(r.employee_id),
                        Value::from(r.a.unit_id.as_str()),
                        Value::String(r.superior.map(str::to_owned)),
                        Value::from(r.a.position_name.as_str()),
                        Value::from(r.a.position_type.as_str()),
                        Value::from(r.a.kind.as_str()),
                        Value::from(r.a.start_date),
                        Value::ChronoDate(r.a.end_date),
                        Value::Bool(Some(r.outside_agency)),
                        Value::from(now.as_str()),
                        Value::from(now.as_str()),
                    ]);
                }
                let sql = sqlite_insert(
                    "assignments",
                    ASG_COLS,
                    "?,?,?,?,?,?,?,?,?,?,1,?,?",
                    chunk.len(),
                );
                conn.execute_raw(Statement::from_sql_and_values(
                    DbBackend::Sqlite,
                    sql,
                    values,
                ))
                .await?;
            }
        }
    }
    Ok(())
}

/// `now` as sqlx stores a `DateTime<Utc>` in SQLite (RFC 3339, `SecondsFormat::AutoSi`, `+00:00`),
/// formatted once per batch instead of once per row and column.
fn sqlite_timestamp(now: DateTime<Utc>) -> String {
    now.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)
}

/// `INSERT INTO table (cols) VALUES (row), (row), ...` with `n` copies of `row`.
fn sqlite_insert(table: &str, cols: &str, row: &str, n: usize) -> String {
    let mut sql = String::with_capacity(40 + cols.len() + n * (row.len() + 3));
    sql.push_str("INSERT INTO ");
    sql.push_str(table);
    sql.push_str(" (");
    sql.push_str(cols);
    sql.push_str(") VALUES ");
    for i in 0..n {
        if i > 0 {
            sql.push(',');
        }
        sql.push('(');
        sql.push_str(row);
        sql.push(')');
    }
    sql
}

#[cfg(test)]
mod tests {
    use sea_orm::sqlx::{Arguments, sqlite::SqliteArguments};

    /// The pre-formatted timestamp is the text sqlx binds for the `DateTime<Utc>` itself.
    #[test]
    fn sqlite_timestamp_is_what_sqlx_binds() {
        for now in [
            chrono::Utc::now(),
            chrono::DateTime::from_timestamp(1_764_000_000, 0).expect("valid"),
            chrono::DateTime::from_timestamp(1_764_000_000, 120_000_000).expect("valid"),
        ] {
            let mut a = SqliteArguments::default();
            a.add(now).expect("encodes");
            let mut b = SqliteArguments::default();
            b.add(super::sqlite_timestamp(now)).expect("encodes");
            assert_eq!(format!("{a:?}"), format!("{b:?}"), "{now}");
        }
    }
}
