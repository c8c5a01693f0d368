//! Statements whose SQL sea-query renders once per engine; later calls only bind their values.
//!
//! Building a statement with sea-query (its expression tree, every column named, quoted and
//! written out) costs a point read more of the server's CPU than anything else it does besides
//! the round trip itself (BENCHMARKS.md, session 20: 9 % of GetSkp, 15 % of GetEvaluation). The
//! hot reads' statements have a fixed shape: only their values change from call to call. A
//! [`SqlTemplate`] builds its statement once per engine with a marker value in place of each
//! parameter, keeps the SQL text, and notes which of the statement's values are which
//! parameter; a call then binds its parameters there. Values the statement holds itself (a
//! state it compares with, `TRUE`) stay as they were built.
//!
//! A builder must give every call the same shape: no branch on a parameter's value, no list
//! whose length a parameter sets (a variant of another shape takes a template of its own).
//! Debug builds, which every test runs, build each statement in full as well and check that
//! both are the same SQL with the same values, so a builder that breaks this fails the tests. A
//! builder that turns a parameter into other text (a LIKE pattern, SQL written with it) fails
//! when first rendered, in any build.

use std::sync::OnceLock;

use sea_orm::{DbBackend, Statement, Value};

/// A statement rendered once per engine (see the module).
pub(crate) struct SqlTemplate {
    /// The statement as SQLite reads it, once rendered.
    sqlite: OnceLock<Rendered>,
    /// The statement as PostgreSQL reads it, once rendered.
    postgres: OnceLock<Rendered>,
}

/// A rendered statement: its text, and where each of its values comes from.
struct Rendered {
    /// The SQL text with the engine's placeholders.
    sql: String,
    /// The statement's values in placeholder order.
    values: Vec<Slot>,
}

/// Where one value of a rendered statement comes from.
enum Slot {
    /// The call's parameter at this index.
    Param(usize),
    /// A value of the statement itself.
    Fixed(Value),
}

impl SqlTemplate {
    /// A template not rendered yet (for a `static`).
    pub(crate) const fn new() -> Self {
        Self {
            sqlite: OnceLock::new(),
            postgres: OnceLock::new(),
        }
    }

    /// The statement `build` makes for `backend` and `params`, rendered by `build` only the
    /// first time for each engine. `build` must use each parameter as a value of the statement
    /// (never branch on it).
    pub(crate) fn statement<const N: usize>(
        &self,
        backend: DbBackend,
        params: [Value; N],
        build: impl Fn(DbBackend, &[Value; N]) -> Statement,
    ) -> Statement {
        let cell = match backend {
            DbBackend::Postgres => &self.postgres,
            _ => &self.sqlite,
        };
        let rendered = cell.get_or_init(|| render(backend, &build));
        let values: Vec<Value> = rendered
            .values
            .iter()
            .map(|slot| match slot {
                Slot::Param(i) => params[*i].clone(),
                Slot::Fixed(v) => v.clone(),
            })
            .collect();
        let stmt = Statement::from_sql_and_values(backend, rendered.sql.clone(), values);
        #[cfg(debug_assertions)]
        {
            let full = build(backend, &params);
            assert_eq!(
                (&stmt.sql, &stmt.values),
                (&full.sql, &full.values),
                "a template's statement differs from the one built in full: its shape depends on a parameter"
            );
        }
        stmt
    }
}

/// What every marker begins with: text no caller passes as a value.
const MARKER: &str = "\u{0}kinerja template parameter ";

/// The marker value of parameter `i`.
fn marker(i: usize) -> Value {
    Value::String(Some(format!("{MARKER}{i}\u{0}")))
}

/// Whether `v` was made from a marker without being one (a pattern built of a parameter).
fn made_of_a_marker(v: &Value) -> bool {
    matches!(v, Value::String(Some(s)) if s.contains(MARKER))
}

/// Renders `build`'s statement with markers for its parameters.
fn render<const N: usize>(
    backend: DbBackend,
    build: &impl Fn(DbBackend, &[Value; N]) -> Statement,
) -> Rendered {
    let markers: [Value; N] = std::array::from_fn(marker);
    let stmt = build(backend, &markers);
    // A parameter turned into other text (a LIKE pattern, say, or SQL written with it) would
    // be bound as the marker's text at every call, in release builds too: refuse the builder.
    assert!(
        !stmt.sql.contains(MARKER),
        "a template's builder writes a parameter into its SQL text"
    );
    let values = stmt
        .values
        .map(|v| v.0)
        .unwrap_or_default()
        .into_iter()
        .map(|v| match markers.iter().position(|m| *m == v) {
            Some(i) => Slot::Param(i),
            None => {
                assert!(
                    !made_of_a_marker(&v),
                    "a template's builder binds a value made of a parameter, not the parameter"
                );
                Slot::Fixed(v)
            }
        })
        .collect();
    Rendered {
        sql: stmt.sql,
        values,
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::sea_query::{Alias, Expr, ExprTrait as _, Query};

    use super::*;

    /// `SELECT id FROM t WHERE state <> 'DRAFT' AND (owner = ? OR reader = ?) AND version = ?`,
    /// parameters owner/reader (one parameter twice) and version.
    fn build(backend: DbBackend, p: &[Value; 2]) -> Statement {
        let q = Query::select()
            .column(Alias::new("id"))
            .from(Alias::new("t"))
            .and_where(Expr::col(Alias::new("state")).ne("DRAFT"))
            .and_where(
                Expr::col(Alias::new("owner"))
                    .eq(p[0].clone())
                    .or(Expr::col(Alias::new("reader")).eq(p[0].clone())),
            )
            .and_where(Expr::col(Alias::new("version")).eq(p[1].clone()))
            .to_owned();
        backend.build(&q)
    }

    #[test]
    fn later_calls_bind_their_parameters_where_the_first_call_had_markers() {
        static T: SqlTemplate = SqlTemplate::new();
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            for (owner, version) in [("e-1", 3_i64), ("e-2", 9)] {
                let got = T.statement(backend, [owner.into(), version.into()], build);
                let full = build(backend, &[owner.into(), version.into()]);
                assert_eq!(got.sql, full.sql);
                assert_eq!(got.values, full.values);
                let values = got.values.expect("values").0;
                assert_eq!(
                    values,
                    vec!["DRAFT".into(), owner.into(), owner.into(), version.into()]
                );
            }
        }
        assert!(T.sqlite.get().is_some() && T.postgres.get().is_some());
        assert!(T.postgres.get().is_some_and(|r| r.sql.contains("$4")));
    }

    #[test]
    #[should_panic(expected = "binds a value made of a parameter")]
    fn a_builder_that_binds_a_value_made_of_a_parameter_fails_in_any_build() {
        static T: SqlTemplate = SqlTemplate::new();
        T.statement(DbBackend::Postgres, ["Budi".into()], |backend, [name]| {
            let Value::String(Some(name)) = name else {
                return backend.build(&Query::select().column(Alias::new("id")).to_owned());
            };
            let q = Query::select()
                .column(Alias::new("id"))
                .from(Alias::new("t"))
                .and_where(Expr::col(Alias::new("name")).like(format!("{name}%")))
                .to_owned();
            backend.build(&q)
        });
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "its shape depends on a parameter")]
    fn a_builder_whose_shape_depends_on_a_value_fails_in_debug_builds() {
        static T: SqlTemplate = SqlTemplate::new();
        let branchy = |backend: DbBackend, p: &[Value; 1]| {
            let mut q = Query::select()
                .column(Alias::new("id"))
                .from(Alias::new("t"))
                .to_owned();
            if p[0] == Value::String(Some("all".into())) {
                q.and_where(Expr::col(Alias::new("id")).is_not_null());
            } else {
                q.and_where(Expr::col(Alias::new("id")).eq(p[0].clone()));
            }
            backend.build(&q)
        };
        T.statement(DbBackend::Sqlite, ["e-1".into()], branchy);
        T.statement(DbBackend::Sqlite, ["all".into()], branchy);
    }
}
