//! Column and index builders shared by the migrations, so every table spells ids, times and
//! versions the same way on SQLite and PostgreSQL.

use sea_orm_migration::prelude::*;

/// A 36-character id column that is the primary key.
pub(crate) fn id(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .string_len(36)
        .not_null()
        .primary_key()
        .to_owned()
}

/// A required 36-character reference to another row.
pub(crate) fn fk_id(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).string_len(36).not_null().to_owned()
}

/// A required timestamp with time zone.
pub(crate) fn ts(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

/// The optimistic-concurrency version, starting at 1.
pub(crate) fn version(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .big_integer()
        .not_null()
        .default(1)
        .to_owned()
}

/// A required text column of at most `len` characters.
pub(crate) fn text(col: impl IntoIden, len: u32) -> ColumnDef {
    ColumnDef::new(col).string_len(len).not_null().to_owned()
}

/// An optional 36-character reference.
pub(crate) fn opt_id(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).string_len(36).null().to_owned()
}

/// A required short code (32 characters).
pub(crate) fn short(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).string_len(32).not_null().to_owned()
}

/// An optional timestamp with time zone.
pub(crate) fn opt_ts(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

/// An index named `name` on `cols` of `table`.
pub(crate) fn index(
    name: &str,
    table: impl IntoIden,
    cols: Vec<DynIden>,
    unique: bool,
) -> IndexCreateStatement {
    let mut i = Index::create();
    i.name(name).table(table);
    for c in cols {
        i.col(c);
    }
    if unique {
        i.unique();
    }
    i.to_owned()
}

/// An optional short code (32 characters).
pub(crate) fn opt_short(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).string_len(32).null().to_owned()
}

/// A foreign key from a column to another table's column.
pub(crate) fn fk(
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from.0, from.1)
        .to(to.0, to.1)
        .to_owned()
}
